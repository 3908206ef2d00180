//! The sequencer: turns accepted documents and lifecycle events into log
//! records, with group commit.
//!
//! One thread owns the tree's right edge and every archive's chain head. It
//! takes every change waiting (up to `max_batch`), checks each lifecycle
//! event against the state the batch has built so far (see
//! [`lifecycle::plan`]), appends their records, signs a checkpoint of the
//! new tree, and commits records, nodes, archives and that checkpoint in
//! one synced, atomic write. Only then is the checkpoint published and
//! anyone answered. While a batch is being written the next one queues up,
//! so one fsync serves a whole batch.
//!
//! Crash safety: a checkpoint becomes visible (to readers, in replies, on
//! disk) only together with the tree state it covers, in the same atomic
//! write. A checkpoint signed for a batch whose write failed or was cut by
//! a crash is dropped unseen, so no one can ever hold two inconsistent
//! checkpoints.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread;

use std::collections::HashMap;

use minutier_seal::certificate::{EliminatedArchive, EliminationCertificate};
use minutier_seal::checkpoint::Checkpoint;
use minutier_seal::note::Signer;
use minutier_seal::record::{Record, RecordKind, Timestamp, APPLIANCE_ID};
use minutier_seal::tree::Frontier;
use minutier_seal::{hash, Hash};
use tokio::sync::{mpsc, oneshot};

use crate::error::{Error, Result};
use crate::lifecycle::{self, Actor, Event, View};
use crate::model::{ArchiveEntry, BlobLocation, EliminationOrder, EliminationState, Metadata};
use crate::store::{CommitBatch, LogEntry, Store, TreeReader};

/// Reads the time; a trait so tests can drive it.
pub trait Clock: Send + Sync + 'static {
    fn now_millis(&self) -> u64;
}

/// The system clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_millis(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    }
}

/// A document whose content is durable, waiting for its record.
pub struct NewArchive {
    pub archive_id: String,
    pub metadata: Metadata,
    pub content_sha256: Hash,
    pub size: u64,
    pub stored_size: u64,
    pub blob: BlobLocation,
    /// Small content kept in the index, written with the record.
    pub inline: Option<Vec<u8>>,
    pub actor: String,
}

/// What the sequencer is asked to record.
pub enum Change {
    /// New archives, recorded together or not at all (a SEDA transfer).
    Ingest(Vec<NewArchive>),
    Lifecycle {
        event: Event,
        actor: Actor,
    },
    /// An event of the appliance as a whole (a scrub run): a record of the
    /// `appliance` chain committing to `report` (canonical JSON).
    Appliance {
        kind: RecordKind,
        report: Vec<u8>,
        actor: String,
    },
    /// A change of the signing key: a `key-rotation` record committing to
    /// `document`, covered by a checkpoint signed by the current key and
    /// co-signed by `signer`, which signs every later checkpoint.
    RotateKey {
        signer: Arc<dyn Signer + Send + Sync>,
        document: Vec<u8>,
        actor: String,
    },
}

/// A change's records, once durable and covered by a signed checkpoint.
#[derive(Debug, Clone)]
pub struct Sequenced {
    /// The records appended, in log order: (index, exact bytes).
    pub records: Vec<(u64, Vec<u8>)>,
    pub checkpoint: SignedCheckpoint,
    /// The archives' states after the change.
    pub archives: Vec<ArchiveEntry>,
    /// The elimination order's state after the change, if it touched one.
    pub elimination: Option<EliminationOrder>,
}

impl Sequenced {
    /// Index of the (first) record.
    pub fn log_index(&self) -> u64 {
        self.records[0].0
    }
}

/// A checkpoint as published.
#[derive(Debug, Clone)]
pub struct SignedCheckpoint {
    pub size: u64,
    pub text: Arc<str>,
}

/// The latest published checkpoint, shared with readers.
pub type Published = Arc<RwLock<Option<SignedCheckpoint>>>;

/// The content files the sequencer checks and deletes: eliminations
/// destroy content, and an ingest that found its content already stored
/// must not be sealed if an elimination destroyed it meanwhile.
pub trait ContentFiles: Send + Sync + 'static {
    fn exists(&self, sha256: &Hash, location: BlobLocation) -> bool;
    fn remove(&self, sha256: &Hash, location: BlobLocation) -> std::io::Result<()>;
}

type Reply = oneshot::Sender<Result<Sequenced>>;
type Job = (Change, Reply);

/// Handle to the sequencer thread. Dropping every handle stops it once the
/// queued documents are sealed.
#[derive(Clone)]
pub struct Sequencer {
    tx: mpsc::Sender<Job>,
    clock: Arc<ClockWatch>,
}

/// A step back of the clock up to this is absorbed (records keep the last
/// signed time); a larger one makes the sequencer refuse to sign.
pub const CLOCK_TOLERANCE_MS: u64 = 2_000;

/// The sequencer's view of the clock, for the health report: it never
/// signs a checkpoint whose time goes back before the last signed one.
#[derive(Debug, Default)]
pub struct ClockWatch {
    last_signed_ms: AtomicU64,
    refusals: AtomicU64,
    last_refusal: Mutex<Option<String>>,
}

impl ClockWatch {
    /// Time of the newest signed record, in ms since the epoch.
    pub fn last_signed_ms(&self) -> u64 {
        self.last_signed_ms.load(Ordering::Relaxed)
    }

    /// Batches refused because the clock had gone back.
    pub fn refusals(&self) -> u64 {
        self.refusals.load(Ordering::Relaxed)
    }

    /// Why the latest batch was refused, while the clock is still behind.
    pub fn last_refusal(&self) -> Option<String> {
        self.last_refusal.lock().unwrap().clone()
    }
}

struct State {
    store: Arc<dyn Store>,
    files: Arc<dyn ContentFiles>,
    signer: Arc<dyn Signer + Send + Sync>,
    clock: Arc<dyn Clock>,
    origin: String,
    frontier: Frontier,
    last_time: u64,
    published: Published,
    max_batch: usize,
    /// When replication is on: woken after each commit, whose queue items
    /// the batch carries.
    replication: Option<Arc<tokio::sync::Notify>>,
    /// Leaf hash of the appliance chain's latest record.
    appliance_head: Option<Hash>,
    watch: Arc<ClockWatch>,
}

impl Sequencer {
    /// Loads the tree's right edge, signs a checkpoint if the tree outgrew
    /// the latest one, and starts the sequencer thread.
    pub fn start(
        store: Arc<dyn Store>,
        files: Arc<dyn ContentFiles>,
        signer: Arc<dyn Signer + Send + Sync>,
        clock: Arc<dyn Clock>,
        max_batch: usize,
        replication: Option<Arc<tokio::sync::Notify>>,
    ) -> Result<(Sequencer, Published, thread::JoinHandle<()>)> {
        let log = store.log_state()?;
        let origin = signer.name().to_owned();
        let frontier = Frontier::load(&TreeReader(store.as_ref()), log.tree_size)?;
        let last_time = match log.tree_size {
            0 => 0,
            n => {
                let bytes = crate::store::record(store.as_ref(), n - 1)?;
                Record::decode(&bytes)?.time.0
            }
        };
        let published: Published = Arc::new(RwLock::new(log.checkpoint.map(|(size, text)| {
            SignedCheckpoint {
                size,
                text: text.into(),
            }
        })));
        let appliance_head = match store.history(APPLIANCE_ID)?.last() {
            Some(index) => Some(hash::leaf_hash(&crate::store::record(
                store.as_ref(),
                *index,
            )?)),
            None => None,
        };
        let watch = Arc::new(ClockWatch::default());
        watch.last_signed_ms.store(last_time, Ordering::Relaxed);
        let state = State {
            store,
            files,
            signer,
            clock,
            origin,
            frontier,
            last_time,
            watch: watch.clone(),
            published: published.clone(),
            max_batch,
            replication,
            appliance_head,
        };
        let covered = state.published.read().unwrap().as_ref().map(|c| c.size);
        match covered {
            Some(size) if size == log.tree_size => {}
            None if log.tree_size == 0 => {
                // A new log: its first checkpoint is the empty tree's.
                let checkpoint = state.sign(&state.frontier)?;
                state.store.commit(CommitBatch {
                    tree_size: 0,
                    checkpoint: checkpoint.to_string(),
                    ..Default::default()
                })?;
                state.publish(0, checkpoint);
            }
            // Tree and checkpoint are written together, so they can only
            // disagree if the index was damaged or rolled back.
            _ => {
                return Err(Error::Storage(format!(
                    "the index holds {} records but its latest checkpoint covers {}: \
                     the index is damaged or was rolled back; restore it from a replica",
                    log.tree_size,
                    covered.map_or("none".to_owned(), |c| c.to_string())
                )))
            }
        }
        let (tx, rx) = mpsc::channel(max_batch.max(1) * 2);
        let thread = thread::Builder::new()
            .name("sequencer".into())
            .spawn(move || state.run(rx))
            .map_err(|e| Error::Storage(format!("cannot start the sequencer: {e}")))?;
        Ok((Sequencer { tx, clock: watch }, published, thread))
    }

    /// The sequencer's view of the clock.
    pub fn clock_watch(&self) -> Arc<ClockWatch> {
        self.clock.clone()
    }

    /// Queues a document and waits until its record is durable and covered
    /// by a signed checkpoint.
    pub async fn ingest(&self, archive: NewArchive) -> Result<Sequenced> {
        self.submit(Change::Ingest(vec![archive])).await
    }

    /// Queues several documents that are recorded in one batch, all of them
    /// or none (a transfer's units), in the given order.
    pub async fn deposit(&self, archives: Vec<NewArchive>) -> Result<Sequenced> {
        if archives.is_empty() {
            return Err(Error::InvalidArgument(
                "a deposit needs at least one document".into(),
            ));
        }
        self.submit(Change::Ingest(archives)).await
    }

    /// Records an appliance event (see [`Change::Appliance`]).
    pub async fn appliance(
        &self,
        kind: RecordKind,
        report: Vec<u8>,
        actor: String,
    ) -> Result<Sequenced> {
        self.submit(Change::Appliance {
            kind,
            report,
            actor,
        })
        .await
    }

    /// Records a change of the signing key (see [`Change::RotateKey`]).
    pub async fn rotate_key(
        &self,
        signer: Arc<dyn Signer + Send + Sync>,
        document: Vec<u8>,
        actor: String,
    ) -> Result<Sequenced> {
        self.submit(Change::RotateKey {
            signer,
            document,
            actor,
        })
        .await
    }

    /// Queues a lifecycle event; refusals come back with their reason and
    /// record nothing.
    pub async fn lifecycle(&self, event: Event, actor: Actor) -> Result<Sequenced> {
        self.submit(Change::Lifecycle { event, actor }).await
    }

    async fn submit(&self, change: Change) -> Result<Sequenced> {
        let (reply, answer) = oneshot::channel();
        self.tx.send((change, reply)).await.map_err(|_| {
            Error::Unavailable("the sequencer has stopped; the daemon is shutting down".into())
        })?;
        answer.await.map_err(|_| {
            Error::Unavailable("the sequencer stopped before recording the change".into())
        })?
    }
}

/// A batch being built: its commit, and the state it leaves behind, which
/// later changes of the same batch see.
struct Batch<'a> {
    store: &'a dyn Store,
    commit: CommitBatch,
    frontier: Frontier,
    archives: HashMap<String, ArchiveEntry>,
    eliminations: HashMap<String, EliminationOrder>,
    /// Content destroyed in this batch, to delete if nothing holds it.
    destroyed: Vec<(Hash, BlobLocation)>,
    /// Content ingested in this batch, to replicate.
    ingested: Vec<Hash>,
    /// The appliance chain's head as this batch leaves it.
    appliance_head: Option<Hash>,
    /// The key this batch rotates to, which co-signs its checkpoint.
    next_signer: Option<Arc<dyn Signer + Send + Sync>>,
}

impl View for Batch<'_> {
    fn archive(&self, archive_id: &str) -> Result<Option<ArchiveEntry>> {
        match self.archives.get(archive_id) {
            Some(entry) => Ok(Some(entry.clone())),
            None => self.store.archive(archive_id),
        }
    }

    fn elimination(&self, elimination_id: &str) -> Result<Option<EliminationOrder>> {
        match self.eliminations.get(elimination_id) {
            Some(order) => Ok(Some(order.clone())),
            None => self.store.elimination(elimination_id),
        }
    }
}

impl Batch<'_> {
    /// Appends one record to the archive's chain and the log.
    fn append(
        &mut self,
        mut entry: ArchiveEntry,
        kind: RecordKind,
        document: Vec<u8>,
        time: u64,
        actor: &str,
    ) -> (u64, Vec<u8>, ArchiveEntry) {
        let first = kind == RecordKind::Ingest;
        let record = Record {
            kind,
            archive_id: entry.archive_id.clone(),
            time: Timestamp(time),
            actor: actor.to_owned(),
            content_sha256: entry.content_sha256,
            size: entry.size,
            metadata_sha256: hash::sha256(&document),
            previous: (!first).then_some(entry.record_hash),
        };
        let bytes = record.encode();
        let leaf = hash::leaf_hash(&bytes);
        let index = self.frontier.size();
        self.commit.nodes.extend(self.frontier.append(leaf));
        self.commit
            .documents
            .push((record.metadata_sha256, document));
        self.commit.records.push(LogEntry {
            index,
            record: bytes.clone(),
            archive_id: entry.archive_id.clone(),
            access: kind.is_access(),
        });
        entry.record_hash = leaf;
        entry.head_index = index;
        entry.record_count += 1;
        self.archives
            .insert(entry.archive_id.clone(), entry.clone());
        (index, bytes, entry)
    }
}

/// Adds the signature of the key a batch rotates to, if it does.
fn cosign(
    checkpoint: Arc<str>,
    next_signer: Option<&(dyn Signer + Send + Sync)>,
) -> Result<Arc<str>> {
    match next_signer {
        Some(signer) => Ok(minutier_seal::note::cosign_note(&checkpoint, signer)?.into()),
        None => Ok(checkpoint),
    }
}

/// The replication queue items of a batch covering log records [from, to):
/// its new content, the content it destroyed, its segment.
fn replication_items(
    from: u64,
    to: u64,
    ingested: &[Hash],
    destroyed: &[(Hash, BlobLocation)],
) -> Vec<(Vec<u8>, Vec<u8>)> {
    use crate::replication::state::Item;
    let items = ingested
        .iter()
        .map(|sha| Item::Content(*sha))
        .chain(destroyed.iter().map(|(sha, _)| Item::Forget(*sha)))
        .chain(std::iter::once(Item::Segment { from, to }));
    items.map(|item| (item.key(from), item.value())).collect()
}

/// Appends a new archive's ingest record to the batch.
fn ingest(batch: &mut Batch<'_>, new: NewArchive, time: u64) -> (u64, Vec<u8>, ArchiveEntry) {
    let entry = ArchiveEntry {
        archive_id: new.archive_id.clone(),
        metadata_sha256: new.metadata.digest(),
        metadata: new.metadata,
        content_sha256: new.content_sha256,
        size: new.size,
        stored_size: new.stored_size,
        blob: new.blob,
        log_index: batch.frontier.size(),
        ingested_at: time,
        actor: new.actor.clone(),
        record_hash: [0; 32],
        head_index: 0,
        record_count: 0,
        elimination_id: None,
        eliminated_at: None,
    };
    let document = entry.metadata.canonical_json();
    if let Some(content) = new.inline {
        batch
            .commit
            .inline_blobs
            .push((new.content_sha256, content));
    }
    batch
        .commit
        .holders_added
        .push((new.content_sha256, new.archive_id));
    batch.ingested.push(new.content_sha256);
    batch.append(entry, RecordKind::Ingest, document, time, &new.actor)
}

/// How long a small batch waits for more under a stream of documents...
const LINGER: std::time::Duration = std::time::Duration::from_micros(500);
/// ...when it holds fewer changes than this.
const LINGER_BELOW: usize = 32;

/// A change applied to the batch, waiting for the commit.
struct Done {
    sequenced_records: Vec<(u64, Vec<u8>)>,
    archives: Vec<ArchiveEntry>,
    elimination: Option<EliminationOrder>,
    reply: Reply,
}

impl State {
    fn run(mut self, mut rx: mpsc::Receiver<Job>) {
        let mut last_batch_end = std::time::Instant::now();
        while let Some(first) = rx.blocking_recv() {
            let mut jobs = vec![first];
            let drain = |jobs: &mut Vec<Job>, rx: &mut mpsc::Receiver<Job>| {
                while jobs.len() < self.max_batch {
                    match rx.try_recv() {
                        Ok(job) => jobs.push(job),
                        Err(_) => break,
                    }
                }
            };
            drain(&mut jobs, &mut rx);
            // Under a stream of documents (this one came right after the
            // last batch), a short wait lets a batch gather more of them:
            // fewer signatures, fsyncs and checkpoints for the same work,
            // and fewer distinct checkpoints for an auditor to verify. A
            // document alone never waits.
            if jobs.len() < LINGER_BELOW && last_batch_end.elapsed() < LINGER {
                thread::sleep(LINGER);
                drain(&mut jobs, &mut rx);
            }
            self.seal_batch(jobs);
            last_batch_end = std::time::Instant::now();
        }
    }

    fn seal_batch(&mut self, jobs: Vec<Job>) {
        // Never let a record's time go back, even if the clock does.
        let now = self.clock.now_millis();
        if now.saturating_add(CLOCK_TOLERANCE_MS) < self.last_time {
            let why = format!(
                "the clock reads {}, before the last signed record's time {}: the appliance \
                 refuses to sign a checkpoint that goes back in time; nothing was recorded — \
                 fix the clock (chrony) and send it again",
                Timestamp(now),
                Timestamp(self.last_time)
            );
            tracing::error!("{why}");
            self.watch.refusals.fetch_add(1, Ordering::Relaxed);
            *self.watch.last_refusal.lock().unwrap() = Some(why.clone());
            for (_, reply) in jobs {
                let _ = reply.send(Err(Error::Unavailable(why.clone())));
            }
            return;
        }
        // Small steps back are absorbed: a record's time never goes back.
        let time = now.max(self.last_time);
        let mut batch = Batch {
            store: self.store.as_ref(),
            commit: CommitBatch::default(),
            frontier: self.frontier.clone(),
            archives: HashMap::new(),
            eliminations: HashMap::new(),
            destroyed: Vec::new(),
            ingested: Vec::new(),
            appliance_head: self.appliance_head,
            next_signer: None,
        };
        let mut done = Vec::with_capacity(jobs.len());
        for (change, reply) in jobs {
            match self.apply(&mut batch, change, time) {
                Ok((records, archives, elimination)) => done.push(Done {
                    sequenced_records: records,
                    archives,
                    elimination,
                    reply,
                }),
                // A refusal touches nothing: plans are checked before any
                // of their records is appended.
                Err(e) => {
                    let _ = reply.send(Err(e));
                }
            }
        }
        if done.is_empty() {
            return;
        }
        let outcome = self
            .certify(&mut batch, &mut done)
            .and_then(|()| self.destroy_inline(&mut batch));
        let Batch {
            mut commit,
            frontier,
            destroyed,
            archives,
            eliminations,
            ingested,
            appliance_head,
            next_signer,
            ..
        } = batch;
        commit.archives.extend(archives.into_values());
        commit.eliminations.extend(eliminations.into_values());
        commit.tree_size = frontier.size();
        if self.replication.is_some() {
            commit.replica_states =
                replication_items(self.frontier.size(), frontier.size(), &ingested, &destroyed);
        }

        let failed = |done: Vec<Done>, e: &Error| {
            for d in done {
                let _ = d.reply.send(Err(Error::Storage(format!(
                    "the change could not be recorded ({e}); nothing was recorded, send it again"
                ))));
            }
        };
        let signed = outcome
            .and_then(|()| self.sign(&frontier))
            .and_then(|c| cosign(c, next_signer.as_deref()));
        let checkpoint = match signed {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "could not seal a batch; the batch was not recorded");
                return failed(done, &e);
            }
        };
        commit.checkpoint = checkpoint.to_string();
        if let Err(e) = self.store.commit(commit) {
            tracing::error!(error = %e, "could not commit a batch; nothing of it was acknowledged");
            return failed(done, &e);
        }
        self.frontier = frontier;
        self.last_time = time;
        self.watch.last_signed_ms.store(time, Ordering::Relaxed);
        *self.watch.last_refusal.lock().unwrap() = None;
        self.appliance_head = appliance_head;
        if let Some(signer) = next_signer {
            tracing::info!("the checkpoint signing key was rotated");
            self.signer = signer;
        }
        let published = self.publish(self.frontier.size(), checkpoint);
        self.destroy_files(&destroyed);
        if let Some(replication) = &self.replication {
            replication.notify_one();
        }
        for d in done {
            let _ = d.reply.send(Ok(Sequenced {
                records: d.sequenced_records,
                checkpoint: published.clone(),
                archives: d.archives,
                elimination: d.elimination,
            }));
        }
    }

    /// Checks one change against the batch's state and appends its records.
    #[allow(clippy::type_complexity)]
    fn apply(
        &self,
        batch: &mut Batch<'_>,
        change: Change,
        time: u64,
    ) -> Result<(
        Vec<(u64, Vec<u8>)>,
        Vec<ArchiveEntry>,
        Option<EliminationOrder>,
    )> {
        match change {
            Change::Ingest(archives) => {
                // Checked for all before any is appended: all or nothing.
                if archives.iter().any(|new| {
                    new.blob != BlobLocation::Inline
                        && !self.files.exists(&new.content_sha256, new.blob)
                }) {
                    return Err(Error::Unavailable(
                        "the same content was being destroyed by an elimination at that moment; \
                         nothing was recorded, send the document again"
                            .into(),
                    ));
                }
                let mut records = Vec::with_capacity(archives.len());
                let mut entries = Vec::with_capacity(archives.len());
                for new in archives {
                    let (index, bytes, entry) = ingest(batch, new, time);
                    records.push((index, bytes));
                    entries.push(entry);
                }
                Ok((records, entries, None))
            }
            Change::RotateKey {
                signer,
                document,
                actor,
            } => {
                if batch.next_signer.is_some() {
                    return Err(Error::Unavailable(
                        "another key rotation is being recorded; nothing was recorded".into(),
                    ));
                }
                if signer.name() != self.origin {
                    return Err(Error::InvalidArgument(format!(
                        "the new key is named {:?}, not after the log's origin {:?}",
                        signer.name(),
                        self.origin
                    )));
                }
                if signer.public_key() == self.signer.public_key() {
                    return Err(Error::InvalidArgument(
                        "the new key is the current key; nothing was recorded".into(),
                    ));
                }
                let appended = self.apply(
                    batch,
                    Change::Appliance {
                        kind: RecordKind::KeyRotation,
                        report: document,
                        actor,
                    },
                    time,
                )?;
                batch.next_signer = Some(signer);
                Ok(appended)
            }
            Change::Appliance {
                kind,
                report,
                actor,
            } => {
                let digest = hash::sha256(&report);
                let record = Record {
                    kind,
                    archive_id: APPLIANCE_ID.to_owned(),
                    time: Timestamp(time),
                    actor,
                    content_sha256: digest,
                    size: report.len() as u64,
                    metadata_sha256: digest,
                    previous: batch.appliance_head,
                };
                record.validate()?;
                let bytes = record.encode();
                let index = batch.frontier.size();
                let nodes = batch.frontier.append(hash::leaf_hash(&bytes));
                batch.commit.nodes.extend(nodes);
                batch.commit.documents.push((digest, report));
                batch.commit.records.push(LogEntry {
                    index,
                    record: bytes.clone(),
                    archive_id: APPLIANCE_ID.to_owned(),
                    access: false,
                });
                batch.appliance_head = Some(hash::leaf_hash(&bytes));
                Ok((vec![(index, bytes)], vec![], None))
            }
            Change::Lifecycle { event, actor } => {
                let plan = lifecycle::plan(&event, &actor, time, batch)?;
                let mut records = Vec::with_capacity(plan.records.len());
                let mut archives = Vec::with_capacity(plan.records.len());
                for planned in plan.records {
                    if planned.kind == RecordKind::EliminationExecuted {
                        let entry = &planned.entry;
                        batch
                            .commit
                            .holders_removed
                            .push((entry.content_sha256, entry.archive_id.clone()));
                    }
                    let (index, bytes, entry) = batch.append(
                        planned.entry,
                        planned.kind,
                        planned.document,
                        time,
                        &actor.actor,
                    );
                    records.push((index, bytes));
                    archives.push(entry);
                }
                batch.destroyed.extend(plan.destroyed);
                if let Some(order) = &plan.elimination {
                    batch
                        .eliminations
                        .insert(order.elimination_id.clone(), order.clone());
                }
                Ok((records, archives, plan.elimination))
            }
        }
    }

    /// Signs the certificate of every elimination executed in this batch.
    fn certify(&self, batch: &mut Batch<'_>, done: &mut [Done]) -> Result<()> {
        let log_size = batch.frontier.size();
        for d in done.iter_mut() {
            let Some(order) = d
                .elimination
                .as_mut()
                .filter(|o| o.state == EliminationState::Executed && o.certificate.is_none())
            else {
                continue;
            };
            let archives = d
                .sequenced_records
                .iter()
                .zip(&d.archives)
                .map(|((index, bytes), entry)| EliminatedArchive {
                    archive_id: entry.archive_id.clone(),
                    content_sha256: entry.content_sha256,
                    size: entry.size,
                    tombstone_index: *index,
                    tombstone_hash: hash::leaf_hash(bytes),
                })
                .collect();
            let step = |s: &Option<crate::model::Step>| {
                let s = s.as_ref().expect("an executed elimination was decided");
                (Timestamp(s.at), s.actor.clone())
            };
            let certificate = EliminationCertificate {
                origin: self.origin.clone(),
                elimination_id: order.elimination_id.clone(),
                reason: order.reason.clone(),
                proposed: (Timestamp(order.proposed.at), order.proposed.actor.clone()),
                approved: step(&order.decided),
                executed: step(&order.executed),
                log_size,
                archives,
            };
            order.certificate = Some(certificate.sign(self.signer.as_ref())?);
            batch
                .eliminations
                .insert(order.elimination_id.clone(), order.clone());
        }
        Ok(())
    }

    /// Content that no archive holds any more once this batch is applied.
    fn unheld(&self, batch: &Batch<'_>) -> Result<Vec<(Hash, BlobLocation)>> {
        let mut out: Vec<(Hash, BlobLocation)> = Vec::new();
        for (sha, location) in &batch.destroyed {
            if out.iter().any(|(s, _)| s == sha) {
                continue;
            }
            let mut holders = self.store.content_holders(sha)?;
            holders.extend(
                batch
                    .commit
                    .holders_added
                    .iter()
                    .filter(|(s, _)| s == sha)
                    .map(|(_, id)| id.clone()),
            );
            holders.retain(|id| {
                !batch
                    .commit
                    .holders_removed
                    .iter()
                    .any(|(s, removed)| s == sha && removed == id)
            });
            if holders.is_empty() {
                out.push((*sha, *location));
            }
        }
        Ok(out)
    }

    /// Destroyed small contents leave the index in the same write.
    fn destroy_inline(&self, batch: &mut Batch<'_>) -> Result<()> {
        let unheld = self.unheld(batch)?;
        batch.destroyed = unheld;
        let inline: Vec<Hash> = batch
            .destroyed
            .iter()
            .filter(|(_, l)| *l == BlobLocation::Inline)
            .map(|(s, _)| *s)
            .collect();
        batch.commit.removed_inline_blobs.extend(inline);
        Ok(())
    }

    /// Deletes destroyed content files, once the tombstones are durable. A
    /// crash before this leaves a file no archive refers to; the scrubber
    /// removes such files.
    fn destroy_files(&self, destroyed: &[(Hash, BlobLocation)]) {
        for (sha, location) in destroyed.iter().filter(|(_, l)| *l != BlobLocation::Inline) {
            if let Err(e) = self.files.remove(sha, *location) {
                tracing::error!(content = %hash::to_hex(sha), error = %e, "could not delete eliminated content");
            }
        }
    }

    /// Signs a checkpoint of the tree whose right edge is `frontier`.
    fn sign(&self, frontier: &Frontier) -> Result<Arc<str>> {
        let checkpoint = Checkpoint {
            origin: self.origin.clone(),
            size: frontier.size(),
            root: frontier.root(),
            extensions: Vec::new(),
        };
        Ok(checkpoint.sign(self.signer.as_ref())?.into())
    }

    /// Makes a durable checkpoint the one readers see.
    fn publish(&self, size: u64, text: Arc<str>) -> SignedCheckpoint {
        let signed = SignedCheckpoint { size, text };
        *self.published.write().unwrap() = Some(signed.clone());
        signed
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

    use minutier_seal::checkpoint::Checkpoint;
    use minutier_seal::note::{Ed25519Signer, VerifierKey};
    use minutier_seal::verify::SealVerifier;

    use super::*;
    use crate::store::{ListFilter, LogState, MemoryStore};

    struct FixedClock(AtomicU64);
    impl Clock for FixedClock {
        fn now_millis(&self) -> u64 {
            self.0.load(Ordering::Relaxed)
        }
    }

    /// A store whose commits can be made to fail, counting them.
    #[derive(Default)]
    struct FlakyStore {
        inner: MemoryStore,
        fail: AtomicBool,
        commits: AtomicU64,
    }
    impl Store for FlakyStore {
        fn log_state(&self) -> Result<LogState> {
            self.inner.log_state()
        }
        fn set_origin(&self, origin: &str) -> Result<()> {
            self.inner.set_origin(origin)
        }
        fn commit(&self, batch: CommitBatch) -> Result<()> {
            if self.fail.load(Ordering::Relaxed) {
                return Err(Error::Storage("disk on fire".into()));
            }
            self.commits.fetch_add(1, Ordering::Relaxed);
            self.inner.commit(batch)
        }
        fn checkpoint(&self, size: u64) -> Result<Option<String>> {
            self.inner.checkpoint(size)
        }
        fn node(&self, level: u8, index: u64) -> Result<Option<Hash>> {
            self.inner.node(level, index)
        }
        fn records(&self, start: u64, end: u64) -> Result<Vec<(u64, Vec<u8>)>> {
            self.inner.records(start, end)
        }
        fn archive(&self, id: &str) -> Result<Option<ArchiveEntry>> {
            self.inner.archive(id)
        }
        fn list_archives(
            &self,
            a: Option<&str>,
            l: usize,
            f: &ListFilter,
        ) -> Result<Vec<ArchiveEntry>> {
            self.inner.list_archives(a, l, f)
        }
        fn history(&self, id: &str) -> Result<Vec<u64>> {
            self.inner.history(id)
        }
        fn journal(&self, after: Option<u64>, limit: usize) -> Result<Vec<u64>> {
            self.inner.journal(after, limit)
        }
        fn document(&self, sha: &Hash) -> Result<Option<Vec<u8>>> {
            self.inner.document(sha)
        }
        fn elimination(&self, id: &str) -> Result<Option<EliminationOrder>> {
            self.inner.elimination(id)
        }
        fn eliminations(&self) -> Result<Vec<EliminationOrder>> {
            self.inner.eliminations()
        }
        fn content_holders(&self, sha: &Hash) -> Result<Vec<String>> {
            self.inner.content_holders(sha)
        }
        fn inline_blob(&self, sha: &Hash) -> Result<Option<Vec<u8>>> {
            self.inner.inline_blob(sha)
        }
        fn has_inline_blob(&self, sha: &Hash) -> Result<bool> {
            self.inner.has_inline_blob(sha)
        }
        fn replica_state(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
            self.inner.replica_state(key)
        }
        fn replica_states(
            &self,
            prefix: &[u8],
            after: Option<&[u8]>,
            limit: usize,
        ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
            self.inner.replica_states(prefix, after, limit)
        }
        fn update_replica_states(
            &self,
            puts: Vec<(Vec<u8>, Vec<u8>)>,
            deletes: Vec<Vec<u8>>,
        ) -> Result<()> {
            self.inner.update_replica_states(puts, deletes)
        }
        fn put_inline_blob(&self, sha: &Hash, content: &[u8]) -> Result<()> {
            self.inner.put_inline_blob(sha, content)
        }
        fn put_credentials(&self, c: &[crate::model::Credential]) -> Result<()> {
            self.inner.put_credentials(c)
        }
        fn credentials(&self) -> Result<Vec<crate::model::Credential>> {
            self.inner.credentials()
        }
        fn transfer(&self, key: &str) -> Result<Option<Vec<u8>>> {
            self.inner.transfer(key)
        }
        fn put_transfer(&self, key: &str, outcome: &[u8]) -> Result<()> {
            self.inner.put_transfer(key, outcome)
        }
        fn put_sign_in(&self, entry: &crate::model::SignIn) -> Result<u64> {
            self.inner.put_sign_in(entry)
        }
        fn sign_ins(
            &self,
            before: Option<u64>,
            limit: usize,
        ) -> Result<Vec<(u64, crate::model::SignIn)>> {
            self.inner.sign_ins(before, limit)
        }
    }

    /// Every document in these tests is kept inline.
    struct NoFiles;
    impl ContentFiles for NoFiles {
        fn exists(&self, _: &Hash, _: BlobLocation) -> bool {
            false
        }
        fn remove(&self, _: &Hash, _: BlobLocation) -> std::io::Result<()> {
            Ok(())
        }
    }

    const ORIGIN: &str = "test.example/log";

    fn setup(store: Arc<FlakyStore>, max_batch: usize) -> (Sequencer, Published, VerifierKey) {
        let signer = Ed25519Signer::from_seed(ORIGIN, &[7; 32]).unwrap();
        let key = VerifierKey::from_public_key(ORIGIN, signer.public_key()).unwrap();
        let clock = Arc::new(FixedClock(AtomicU64::new(1_764_000_000_000)));
        let (seq, published, _thread) = Sequencer::start(
            store,
            Arc::new(NoFiles),
            Arc::new(signer),
            clock,
            max_batch,
            None,
        )
        .unwrap();
        (seq, published, key)
    }

    fn doc(n: u8) -> NewArchive {
        let content = vec![n; 10];
        NewArchive {
            archive_id: format!("doc{n}"),
            metadata: Metadata {
                title: format!("document {n}"),
                ..Default::default()
            },
            content_sha256: hash::sha256(&content),
            size: 10,
            stored_size: 10,
            blob: BlobLocation::Inline,
            inline: Some(content),
            actor: "tester".into(),
        }
    }

    #[tokio::test]
    async fn a_key_rotation_is_co_signed_then_the_new_key_signs_alone() {
        let store = Arc::new(FlakyStore::default());
        let (seq, _published, old_key) = setup(store.clone(), 8);
        seq.ingest(doc(1)).await.unwrap();
        let new = Arc::new(Ed25519Signer::from_seed(ORIGIN, &[8; 32]).unwrap());
        let new_key = new.verifier_key();

        // The current key, or one named after another log, is refused.
        let same = Arc::new(Ed25519Signer::from_seed(ORIGIN, &[7; 32]).unwrap());
        let e = seq
            .rotate_key(same, b"{}".to_vec(), "t".into())
            .await
            .unwrap_err();
        assert!(
            e.to_string().contains("the new key is the current key"),
            "{e}"
        );
        let other = Arc::new(Ed25519Signer::from_seed("other/log", &[9; 32]).unwrap());
        assert!(seq
            .rotate_key(other, b"{}".to_vec(), "t".into())
            .await
            .is_err());

        let done = seq
            .rotate_key(new.clone(), b"{\"new_key\":\"n\"}".to_vec(), "t".into())
            .await
            .unwrap();
        let record = Record::decode(&done.records[0].1).unwrap();
        assert_eq!(record.kind, RecordKind::KeyRotation);
        assert_eq!(record.archive_id, APPLIANCE_ID);
        // The checkpoint covering it verifies with either key.
        let bridge = done.checkpoint.text.to_string();
        assert_eq!(done.checkpoint.size, 2);
        Checkpoint::open(&bridge, &old_key).unwrap();
        Checkpoint::open(&bridge, &new_key).unwrap();
        assert_eq!(
            store.checkpoint(2).unwrap().as_deref(),
            Some(bridge.as_str())
        );

        // Afterwards the new key signs alone.
        let after = seq.ingest(doc(2)).await.unwrap();
        let text = after.checkpoint.text.to_string();
        Checkpoint::open(&text, &new_key).unwrap();
        assert!(Checkpoint::open(&text, &old_key).is_err());
        assert_eq!(
            text.lines().filter(|l| l.starts_with('\u{2014}')).count(),
            1
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_documents_share_commits_and_every_seal_verifies() {
        let store = Arc::new(FlakyStore::default());
        let (seq, published, key) = setup(store.clone(), 64);
        assert_eq!(
            published.read().unwrap().as_ref().unwrap().size,
            0,
            "a new log starts with a checkpoint"
        );
        let commits_before = store.commits.load(Ordering::Relaxed);

        let handles: Vec<_> = (0..100u8)
            .map(|n| {
                let seq = seq.clone();
                tokio::spawn(async move { seq.ingest(doc(n)).await })
            })
            .collect();
        let mut indices = Vec::new();
        let mut verifier = SealVerifier::new(key.clone());
        for h in handles {
            let s = h.await.unwrap().unwrap();
            let proof = minutier_seal::tree::inclusion_proof(
                &TreeReader(store.as_ref()),
                s.log_index(),
                s.checkpoint.size,
            )
            .unwrap();
            let seal = minutier_seal::proof::Seal {
                record: s.records[0].1.clone(),
                index: s.log_index(),
                proof,
                checkpoint: s.checkpoint.text.to_string(),
            };
            let verified = verifier.verify(&seal.to_text()).unwrap();
            assert_eq!(verified.record.kind, RecordKind::Ingest);
            indices.push(s.log_index());
        }
        indices.sort();
        assert_eq!(indices, (0..100).collect::<Vec<_>>());
        let commits = store.commits.load(Ordering::Relaxed) - commits_before;
        assert!(
            commits < 100,
            "100 concurrent documents took {commits} commits: no group commit"
        );

        let latest = published.read().unwrap().clone().unwrap();
        assert_eq!(latest.size, 100);
        let cp = Checkpoint::open(&latest.text, &key).unwrap();
        assert_eq!(cp.size, 100);
        assert_eq!(store.log_state().unwrap().checkpoint.unwrap().0, 100);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_commit_acknowledges_nothing_and_the_log_continues() {
        let store = Arc::new(FlakyStore::default());
        let (seq, published, key) = setup(store.clone(), 8);
        seq.ingest(doc(1)).await.unwrap();

        store.fail.store(true, Ordering::Relaxed);
        let err = seq.ingest(doc(2)).await.unwrap_err();
        assert!(matches!(err, Error::Storage(_)), "{err}");
        assert_eq!(
            published.read().unwrap().as_ref().unwrap().size,
            1,
            "nothing new was published"
        );
        assert_eq!(store.log_state().unwrap().tree_size, 1);

        store.fail.store(false, Ordering::Relaxed);
        let next = seq.ingest(doc(3)).await.unwrap();
        assert_eq!(
            next.log_index(),
            1,
            "the failed document left no hole in the log"
        );
        Checkpoint::open(&next.checkpoint.text, &key).unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_restarted_sequencer_continues_the_same_tree() {
        let store = Arc::new(FlakyStore::default());
        let (seq, published, key) = setup(store.clone(), 8);
        for n in 0..5 {
            seq.ingest(doc(n)).await.unwrap();
        }
        let before = published.read().unwrap().clone().unwrap();
        drop(seq);
        let (seq, published, _) = setup(store.clone(), 8);
        assert_eq!(published.read().unwrap().as_ref().unwrap().size, 5);
        let after = seq.ingest(doc(9)).await.unwrap();
        assert_eq!(after.log_index(), 5);
        let proof =
            minutier_seal::tree::consistency_proof(&TreeReader(store.as_ref()), 5, 6).unwrap();
        SealVerifier::new(key)
            .verify_consistency(&before.text, &after.checkpoint.text, &proof)
            .unwrap();
    }

    fn actor(name: &str) -> Actor {
        Actor {
            actor: format!("{name} [archivist 01]"),
            name: name.into(),
        }
    }

    fn doc_with_rules(n: u8) -> NewArchive {
        let mut d = doc(n);
        d.metadata.rules.appraisal = Some(crate::metadata::AppraisalRule {
            rule_id: String::new(),
            duration_years: Some(1),
            start_date: Some("2000-01-01".parse().unwrap()),
            final_action: crate::metadata::FinalAction::Destroy,
        });
        d
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn lifecycle_events_chain_per_archive_and_refusals_touch_nothing() {
        let store = Arc::new(FlakyStore::default());
        let (seq, _, key) = setup(store.clone(), 64);
        // Two archives with the same content: eliminating one keeps it.
        let a = seq.ingest(doc_with_rules(1)).await.unwrap();
        let mut twin = doc_with_rules(1);
        twin.archive_id = "twin".into();
        seq.ingest(twin).await.unwrap();
        let content = hash::sha256(&[1; 10]);

        // Several events at once, one of them refused, all in a batch or two.
        let events = vec![
            Event::PlaceHold {
                archive_id: "doc1".into(),
                hold_id: "H1".into(),
                reason: "contentieux".into(),
                end_date: None,
            },
            Event::LiftHold {
                archive_id: "doc1".into(),
                hold_id: "nope".into(),
            },
            Event::Read {
                archive_id: "doc1".into(),
                what: lifecycle::Read::Metadata,
                may_read_restricted: false,
            },
            Event::LiftHold {
                archive_id: "doc1".into(),
                hold_id: "H1".into(),
            },
        ];
        let outcomes: Vec<_> =
            futures::future::join_all(events.into_iter().map(|e| seq.lifecycle(e, actor("Alice"))))
                .await;
        assert!(matches!(outcomes[1], Err(Error::NotFound(_))));
        assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 3);

        for (event, who) in [
            (
                Event::ProposeElimination {
                    elimination_id: "E1".into(),
                    archive_ids: vec!["doc1".into()],
                    reason: "fin de DUA".into(),
                },
                "Alice",
            ),
            (
                Event::DecideElimination {
                    elimination_id: "E1".into(),
                    approve: true,
                    reason: String::new(),
                },
                "Bob",
            ),
        ] {
            seq.lifecycle(event, actor(who)).await.unwrap();
        }
        let executed = seq
            .lifecycle(
                Event::ExecuteElimination {
                    elimination_id: "E1".into(),
                },
                actor("Alice"),
            )
            .await
            .unwrap();

        // The chain verifies, ends with the tombstone, and is indexed.
        let indices = store.history("doc1").unwrap();
        assert_eq!(indices[0], a.log_index());
        assert_eq!(
            indices.len(),
            7,
            "ingest, hold, read, lift, 3 elimination steps"
        );
        let mut chain = minutier_seal::chain::ChainVerifier::new("doc1");
        for i in &indices {
            chain
                .push(*i, &crate::store::record(store.as_ref(), *i).unwrap())
                .unwrap();
        }
        assert_eq!(chain.tombstone_index(), Some(executed.log_index()));
        let entry = store.archive("doc1").unwrap().unwrap();
        assert_eq!(entry.record_count, 7);
        assert_eq!(Some((entry.head_index, entry.record_hash)), chain.last());
        assert!(entry.is_eliminated());
        assert_eq!(store.journal(None, 10).unwrap().len(), 1);

        // The certificate verifies and names the tombstone; the content is
        // kept for the twin.
        let order = executed.elimination.clone().unwrap();
        let certificate = minutier_seal::certificate::EliminationCertificate::verify(
            order.certificate.as_deref().unwrap(),
            &key,
        )
        .unwrap();
        assert_eq!(
            certificate.archives[0].tombstone_index,
            executed.log_index()
        );
        assert_eq!(certificate.log_size, executed.checkpoint.size);
        assert!(store.inline_blob(&content).unwrap().is_some());
        assert_eq!(store.content_holders(&content).unwrap(), ["twin"]);
        // Every committed document is kept by digest.
        for i in &indices {
            let r = Record::decode(&crate::store::record(store.as_ref(), *i).unwrap()).unwrap();
            let doc = store.document(&r.metadata_sha256).unwrap().unwrap();
            assert_eq!(hash::sha256(&doc), r.metadata_sha256);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn eliminating_the_last_holder_deletes_small_content_in_the_same_write() {
        let store = Arc::new(FlakyStore::default());
        let (seq, _, _) = setup(store.clone(), 64);
        seq.ingest(doc_with_rules(2)).await.unwrap();
        let content = hash::sha256(&[2; 10]);
        for (event, who) in [
            (
                Event::ProposeElimination {
                    elimination_id: "E2".into(),
                    archive_ids: vec!["doc2".into()],
                    reason: "fin de DUA".into(),
                },
                "Alice",
            ),
            (
                Event::DecideElimination {
                    elimination_id: "E2".into(),
                    approve: true,
                    reason: String::new(),
                },
                "Bob",
            ),
            (
                Event::ExecuteElimination {
                    elimination_id: "E2".into(),
                },
                "Alice",
            ),
        ] {
            seq.lifecycle(event, actor(who)).await.unwrap();
        }
        assert_eq!(store.inline_blob(&content).unwrap(), None);
        assert!(store.content_holders(&content).unwrap().is_empty());
    }
}

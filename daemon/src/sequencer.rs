//! The sequencer: turns accepted documents into log records, with group
//! commit.
//!
//! One thread owns the tree's right edge. It takes every document waiting
//! (up to `max_batch`), appends their records, commits records, nodes and
//! archives in one synced write, then signs a checkpoint of the new tree and
//! stores it (synced) before answering anyone. While a batch is being
//! written, the next one queues up, so the fsync cost is shared.
//!
//! Crash safety: the tree state is durable before a checkpoint over it is
//! signed, so two inconsistent checkpoints can never be signed. A tree that
//! outgrew its latest checkpoint (crash between the two writes) gets its
//! checkpoint at the next start, before anything else.

use std::sync::{Arc, RwLock};
use std::thread;

use minutier_seal::checkpoint::Checkpoint;
use minutier_seal::note::Signer;
use minutier_seal::record::{Record, RecordKind, Timestamp};
use minutier_seal::tree::Frontier;
use minutier_seal::{hash, Hash};
use tokio::sync::{mpsc, oneshot};

use crate::error::{Error, Result};
use crate::model::{ArchiveEntry, BlobLocation, Metadata};
use crate::store::{CommitBatch, Store, TreeReader};

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
    /// Content kept in the index, written with the record.
    pub inline: Option<Vec<u8>>,
    pub actor: String,
}

/// A document's place in the log, once covered by a signed checkpoint.
#[derive(Debug, Clone)]
pub struct Sequenced {
    pub log_index: u64,
    pub record: Vec<u8>,
    pub checkpoint: SignedCheckpoint,
}

/// A checkpoint as published.
#[derive(Debug, Clone)]
pub struct SignedCheckpoint {
    pub size: u64,
    pub text: Arc<str>,
}

/// The latest published checkpoint, shared with readers.
pub type Published = Arc<RwLock<Option<SignedCheckpoint>>>;

type Job = (NewArchive, oneshot::Sender<Result<Sequenced>>);

/// Handle to the sequencer thread. Dropping every handle stops it once the
/// queued documents are sealed.
#[derive(Clone)]
pub struct Sequencer {
    tx: mpsc::Sender<Job>,
}

struct State {
    store: Arc<dyn Store>,
    signer: Arc<dyn Signer + Send + Sync>,
    clock: Arc<dyn Clock>,
    origin: String,
    frontier: Frontier,
    last_time: u64,
    published: Published,
    max_batch: usize,
}

impl Sequencer {
    /// Loads the tree's right edge, signs a checkpoint if the tree outgrew
    /// the latest one, and starts the sequencer thread.
    pub fn start(
        store: Arc<dyn Store>,
        signer: Arc<dyn Signer + Send + Sync>,
        clock: Arc<dyn Clock>,
        max_batch: usize,
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
        let mut state = State {
            store,
            signer,
            clock,
            origin,
            frontier,
            last_time,
            published: published.clone(),
            max_batch,
        };
        let covered = state.published.read().unwrap().as_ref().map(|c| c.size);
        if covered != Some(log.tree_size) {
            if covered.is_some_and(|c| c > log.tree_size) {
                return Err(Error::Storage(format!(
                    "the latest checkpoint covers {} records but the index holds {}: the index was rolled back",
                    covered.unwrap_or(0),
                    log.tree_size
                )));
            }
            tracing::info!(
                size = log.tree_size,
                "signing the checkpoint missing after a restart"
            );
            state.sign_and_publish()?;
        }
        let (tx, rx) = mpsc::channel(max_batch.max(1) * 2);
        let thread = thread::Builder::new()
            .name("sequencer".into())
            .spawn(move || state.run(rx))
            .map_err(|e| Error::Storage(format!("cannot start the sequencer: {e}")))?;
        Ok((Sequencer { tx }, published, thread))
    }

    /// Queues a document and waits until its record is durable and covered
    /// by a signed checkpoint.
    pub async fn submit(&self, archive: NewArchive) -> Result<Sequenced> {
        let (reply, answer) = oneshot::channel();
        self.tx.send((archive, reply)).await.map_err(|_| {
            Error::Unavailable("the sequencer has stopped; the daemon is shutting down".into())
        })?;
        answer.await.map_err(|_| {
            Error::Unavailable("the sequencer stopped before sealing the document".into())
        })?
    }
}

impl State {
    fn run(mut self, mut rx: mpsc::Receiver<Job>) {
        while let Some(first) = rx.blocking_recv() {
            let mut jobs = vec![first];
            while jobs.len() < self.max_batch {
                match rx.try_recv() {
                    Ok(job) => jobs.push(job),
                    Err(_) => break,
                }
            }
            self.seal_batch(jobs);
        }
    }

    fn seal_batch(&mut self, jobs: Vec<Job>) {
        // Never let a record's time go back, even if the clock does.
        let time = self.clock.now_millis().max(self.last_time);
        let mut frontier = self.frontier.clone();
        let mut batch = CommitBatch::default();
        let mut replies = Vec::with_capacity(jobs.len());
        for (new, reply) in jobs {
            let record = Record {
                kind: RecordKind::Ingest,
                archive_id: new.archive_id.clone(),
                time: Timestamp(time),
                actor: new.actor.clone(),
                content_sha256: new.content_sha256,
                size: new.size,
                metadata_sha256: new.metadata.digest(),
                previous: None,
            };
            let bytes = record.encode();
            let leaf = hash::leaf_hash(&bytes);
            let index = frontier.size();
            batch.nodes.extend(frontier.append(leaf));
            batch.archives.push(ArchiveEntry {
                archive_id: new.archive_id,
                metadata_sha256: record.metadata_sha256,
                metadata: new.metadata,
                content_sha256: new.content_sha256,
                size: new.size,
                stored_size: new.stored_size,
                blob: new.blob,
                log_index: index,
                ingested_at: time,
                actor: new.actor,
                record_hash: leaf,
            });
            if let Some(content) = new.inline {
                batch.inline_blobs.push((new.content_sha256, content));
            }
            replies.push((index, bytes.clone(), reply));
            batch.records.push((index, bytes));
        }
        batch.tree_size = frontier.size();

        if let Err(e) = self.store.commit(batch) {
            tracing::error!(error = %e, "could not commit a batch; nothing of it was acknowledged");
            for (_, _, reply) in replies {
                let _ = reply.send(Err(Error::Storage(e.to_string())));
            }
            return;
        }
        self.frontier = frontier;
        self.last_time = time;

        match self.sign_and_publish() {
            Ok(checkpoint) => {
                for (log_index, record, reply) in replies {
                    let _ = reply.send(Ok(Sequenced {
                        log_index,
                        record,
                        checkpoint: checkpoint.clone(),
                    }));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "records are durable but their checkpoint could not be signed");
                for (_, _, reply) in replies {
                    let _ = reply.send(Err(Error::Unavailable(format!(
                        "the document is stored but its checkpoint could not be signed ({e}); retry later"
                    ))));
                }
            }
        }
    }

    /// Signs a checkpoint of the (already durable) tree, stores it, then
    /// publishes it.
    fn sign_and_publish(&mut self) -> Result<SignedCheckpoint> {
        let checkpoint = Checkpoint {
            origin: self.origin.clone(),
            size: self.frontier.size(),
            root: self.frontier.root(),
            extensions: Vec::new(),
        };
        let text = checkpoint.sign(self.signer.as_ref())?;
        self.store.put_checkpoint(checkpoint.size, &text)?;
        let signed = SignedCheckpoint {
            size: checkpoint.size,
            text: text.into(),
        };
        *self.published.write().unwrap() = Some(signed.clone());
        Ok(signed)
    }
}

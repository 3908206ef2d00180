//! The sequencer: turns accepted documents into log records, with group
//! commit.
//!
//! One thread owns the tree's right edge. It takes every document waiting
//! (up to `max_batch`), appends their records, signs a checkpoint of the
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
        let state = State {
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

        let failed = |replies: Vec<(u64, Vec<u8>, oneshot::Sender<Result<Sequenced>>)>,
                      e: &Error| {
            for (_, _, reply) in replies {
                let _ = reply.send(Err(Error::Storage(format!(
                    "the document could not be sealed ({e}); nothing was recorded, send it again"
                ))));
            }
        };
        let checkpoint = match self.sign(&frontier) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "could not sign a checkpoint; the batch was not recorded");
                return failed(replies, &e);
            }
        };
        batch.checkpoint = checkpoint.to_string();
        if let Err(e) = self.store.commit(batch) {
            tracing::error!(error = %e, "could not commit a batch; nothing of it was acknowledged");
            return failed(replies, &e);
        }
        self.frontier = frontier;
        self.last_time = time;
        let published = self.publish(self.frontier.size(), checkpoint);
        for (log_index, record, reply) in replies {
            let _ = reply.send(Ok(Sequenced {
                log_index,
                record,
                checkpoint: published.clone(),
            }));
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
        fn inline_blob(&self, sha: &Hash) -> Result<Option<Vec<u8>>> {
            self.inner.inline_blob(sha)
        }
        fn has_inline_blob(&self, sha: &Hash) -> Result<bool> {
            self.inner.has_inline_blob(sha)
        }
        fn put_credentials(&self, c: &[crate::model::Credential]) -> Result<()> {
            self.inner.put_credentials(c)
        }
        fn credentials(&self) -> Result<Vec<crate::model::Credential>> {
            self.inner.credentials()
        }
    }

    const ORIGIN: &str = "test.example/log";

    fn setup(store: Arc<FlakyStore>, max_batch: usize) -> (Sequencer, Published, VerifierKey) {
        let signer = Ed25519Signer::from_seed(ORIGIN, &[7; 32]).unwrap();
        let key = VerifierKey::from_public_key(ORIGIN, signer.public_key()).unwrap();
        let clock = Arc::new(FixedClock(AtomicU64::new(1_764_000_000_000)));
        let (seq, published, _thread) =
            Sequencer::start(store, Arc::new(signer), clock, max_batch).unwrap();
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
                tokio::spawn(async move { seq.submit(doc(n)).await })
            })
            .collect();
        let mut indices = Vec::new();
        let mut verifier = SealVerifier::new(key.clone());
        for h in handles {
            let s = h.await.unwrap().unwrap();
            let proof = minutier_seal::tree::inclusion_proof(
                &TreeReader(store.as_ref()),
                s.log_index,
                s.checkpoint.size,
            )
            .unwrap();
            let seal = minutier_seal::proof::Seal {
                record: s.record.clone(),
                index: s.log_index,
                proof,
                checkpoint: s.checkpoint.text.to_string(),
            };
            let verified = verifier.verify(&seal.to_text()).unwrap();
            assert_eq!(verified.record.kind, RecordKind::Ingest);
            indices.push(s.log_index);
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
        seq.submit(doc(1)).await.unwrap();

        store.fail.store(true, Ordering::Relaxed);
        let err = seq.submit(doc(2)).await.unwrap_err();
        assert!(matches!(err, Error::Storage(_)), "{err}");
        assert_eq!(
            published.read().unwrap().as_ref().unwrap().size,
            1,
            "nothing new was published"
        );
        assert_eq!(store.log_state().unwrap().tree_size, 1);

        store.fail.store(false, Ordering::Relaxed);
        let next = seq.submit(doc(3)).await.unwrap();
        assert_eq!(
            next.log_index, 1,
            "the failed document left no hole in the log"
        );
        Checkpoint::open(&next.checkpoint.text, &key).unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_restarted_sequencer_continues_the_same_tree() {
        let store = Arc::new(FlakyStore::default());
        let (seq, published, key) = setup(store.clone(), 8);
        for n in 0..5 {
            seq.submit(doc(n)).await.unwrap();
        }
        let before = published.read().unwrap().clone().unwrap();
        drop(seq);
        let (seq, published, _) = setup(store.clone(), 8);
        assert_eq!(published.read().unwrap().as_ref().unwrap().size, 5);
        let after = seq.submit(doc(9)).await.unwrap();
        assert_eq!(after.log_index, 5);
        let proof =
            minutier_seal::tree::consistency_proof(&TreeReader(store.as_ref()), 5, 6).unwrap();
        SealVerifier::new(key)
            .verify_consistency(&before.text, &after.checkpoint.text, &proof)
            .unwrap();
    }
}

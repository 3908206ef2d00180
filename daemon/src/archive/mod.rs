//! The archive service: what the daemon does, independent of gRPC.
//! Ingest and reads are here; the lifecycle (corrections, rules, holds,
//! eliminations, history, journal) is in `lifecycle.rs`.

mod import;
mod lifecycle;
mod upkeep;

pub use import::{AgencyCheck, ImportReport, ImportedArchive, SipSource, TransferOutcome};
pub use lifecycle::{DueArchives, History, HistoryEntry, JournalEntry, JournalFilter};

use std::io::Read;
use std::sync::Arc;

use futures::{Stream, StreamExt};
use minutier_seal::note::VerifierKey;
use minutier_seal::proof::Seal;
use minutier_seal::tree;
use minutier_seal::{hash, Hash};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use crate::blobs::{BlobStore, PlacedBlob, StagedBlob};
use crate::error::{Error, Result};
use crate::model::{new_archive_id, ArchiveEntry, BlobLocation, Metadata};
use crate::replication::Replication;
use crate::sequencer::{Clock, NewArchive, Published, Sequencer, SignedCheckpoint};
use crate::store::{self, ListFilter, Store, TreeReader};
use crate::timestamping::Timestamping;

/// Chunks handed to the blob writer thread ahead of it.
const PIPELINE_DEPTH: usize = 8;
/// Size of the chunks served by [`ContentReader`].
pub const READ_CHUNK: usize = 256 << 10;
/// A long upload re-checks the space watermarks every this many bytes.
const ADMIT_EVERY: u64 = 64 << 20;
/// Most records returned by one [`ArchiveService::records`] call.
pub const MAX_RECORDS: u64 = 1000;

/// What a client declares before sending content.
#[derive(Debug, Clone, Default)]
pub struct NewDocument {
    pub metadata: Metadata,
    pub declared_sha256: Option<Hash>,
    /// The size the client announced, if any (checked against free space).
    pub declared_size: u64,
}

/// The answer to a successful ingest.
#[derive(Debug, Clone)]
pub struct IngestReceipt {
    pub archive_id: String,
    pub content_sha256: Hash,
    pub size: u64,
    pub log_index: u64,
    pub seal: String,
    pub deduplicated: bool,
}

/// Limits the service enforces.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_document_size: u64,
    pub inline_threshold: usize,
}

/// The archive service.
pub struct ArchiveService {
    store: Arc<dyn Store>,
    blobs: Arc<BlobStore>,
    sequencer: Sequencer,
    published: Published,
    verifier_key: VerifierKey,
    /// The log's earlier keys, oldest first (key rotations).
    previous_keys: Vec<VerifierKey>,
    clock: Arc<dyn Clock>,
    limits: Limits,
    replication: Option<Arc<Replication>>,
    timestamping: Option<Arc<Timestamping>>,
    /// Durations of the rules of producers' repositories (rule id to
    /// years), applied to SEDA transfers that name a rule without one.
    rule_durations: Arc<std::collections::BTreeMap<String, u32>>,
    /// Space watermarks and the appliance's health.
    health: Option<Arc<crate::health::Health>>,
}

impl ArchiveService {
    pub fn new(
        store: Arc<dyn Store>,
        blobs: Arc<BlobStore>,
        sequencer: Sequencer,
        published: Published,
        verifier_key: VerifierKey,
        clock: Arc<dyn Clock>,
        limits: Limits,
    ) -> Self {
        ArchiveService {
            store,
            blobs,
            sequencer,
            published,
            verifier_key,
            clock,
            limits,
            replication: None,
            timestamping: None,
            rule_durations: Arc::default(),
            health: None,
            previous_keys: Vec::new(),
        }
    }

    /// Turns on the space watermarks and the health report.
    pub fn with_health(mut self, health: Arc<crate::health::Health>) -> Self {
        self.health = Some(health);
        self
    }

    pub fn health(&self) -> Option<&Arc<crate::health::Health>> {
        self.health.as_ref()
    }

    /// Refuses new content below the space watermarks.
    pub fn admit(&self, incoming: u64) -> Result<()> {
        match &self.health {
            Some(h) => h.admit(incoming),
            None => Ok(()),
        }
    }

    /// Sets the rules repository applied to SEDA transfers.
    pub fn with_rule_durations(
        mut self,
        durations: std::collections::BTreeMap<String, u32>,
    ) -> Self {
        self.rule_durations = Arc::new(durations);
        self
    }

    /// Turns on replication (status, scrub repairs from replicas).
    pub fn with_replication(mut self, replication: Option<Arc<Replication>>) -> Self {
        self.replication = replication;
        self
    }

    pub fn replication(&self) -> Option<&Arc<Replication>> {
        self.replication.as_ref()
    }

    /// The log's keys before its current one, oldest first: checkpoints
    /// signed before a key rotation verify with them.
    pub fn with_previous_keys(mut self, keys: Vec<VerifierKey>) -> Self {
        self.previous_keys = keys;
        self
    }

    /// See [`ArchiveService::with_previous_keys`].
    pub fn previous_keys(&self) -> &[VerifierKey] {
        &self.previous_keys
    }

    /// Turns on the time-stamping of checkpoints (its status, for reads).
    pub fn with_timestamping(mut self, timestamping: Option<Arc<Timestamping>>) -> Self {
        self.timestamping = timestamping;
        self
    }

    pub fn timestamping(&self) -> Option<&Arc<Timestamping>> {
        self.timestamping.as_ref()
    }

    /// The key that verifies this log's checkpoints.
    pub fn verifier_key(&self) -> &VerifierKey {
        &self.verifier_key
    }

    /// Receives a document, stores it durably, seals it, and returns its
    /// seal. On any error nothing is recorded and no temporary file remains.
    pub async fn ingest<S>(
        &self,
        actor: &str,
        mut doc: NewDocument,
        mut chunks: S,
    ) -> Result<IngestReceipt>
    where
        S: Stream<Item = Result<Vec<u8>>> + Unpin,
    {
        doc.metadata.validate()?;
        // Rules without a start date start from the content's end date or
        // today; once stored, a deadline never moves.
        doc.metadata.settle(crate::metadata::Date::from_unix_millis(
            self.clock.now_millis(),
        ));
        minutier_seal::record::validate_actor(actor).map_err(|e| {
            Error::InvalidArgument(format!("the caller's identity cannot be recorded: {e}"))
        })?;
        self.admit(doc.declared_size)?;
        let too_big = |size: u64| {
            Error::ResourceExhausted(format!(
                "document exceeds the size limit of {} bytes (received {size} so far); ask the administrator to raise max_document_size",
                self.limits.max_document_size
            ))
        };

        // Small documents stay in memory and go into the index with their
        // record; a larger one spills into a blob file written on a
        // blocking thread while the network keeps receiving.
        let mut small: Vec<u8> = Vec::new();
        let mut spill: Option<BlobPipe> = None;
        let mut received: u64 = 0;
        let outcome: Result<()> = async {
            while let Some(chunk) = chunks.next().await {
                let chunk = chunk?;
                let before = received;
                received += chunk.len() as u64;
                if received / ADMIT_EVERY != before / ADMIT_EVERY {
                    self.admit(ADMIT_EVERY)?;
                }
                if received > self.limits.max_document_size {
                    return Err(too_big(received));
                }
                match &spill {
                    Some((tx, _)) => {
                        if tx.send(chunk).await.is_err() {
                            // The writer failed; its error is collected below.
                            return Ok(());
                        }
                    }
                    None => {
                        if small.is_empty() {
                            // Most documents arrive in one chunk: keep it
                            // rather than copy it.
                            small = chunk;
                        } else {
                            small.extend_from_slice(&chunk);
                        }
                        if small.len() > self.limits.inline_threshold {
                            let (tx, handle) = self.spawn_blob_writer();
                            let first = std::mem::take(&mut small);
                            let _ = tx.send(first).await;
                            spill = Some((tx, handle));
                        }
                    }
                }
            }
            Ok(())
        }
        .await;

        let (content_sha256, size, stored) = match spill {
            Some((tx, handle)) => {
                drop(tx);
                // Always wait for the writer, so that a refused document's
                // temporary file is gone before the refusal is answered.
                let staged = handle
                    .await
                    .map_err(|e| Error::Storage(format!("blob writer failed: {e}")))?;
                outcome?;
                let staged = staged?;
                check_declared_size(&doc, received)?;
                check_declared(&doc, &staged.sha256)?;
                let blobs = self.blobs.clone();
                let (sha, size) = (staged.sha256, staged.size);
                let placed = tokio::task::spawn_blocking(move || staged.place(&blobs))
                    .await
                    .map_err(|e| Error::Storage(format!("blob placement failed: {e}")))??;
                (sha, size, Stored::File(placed))
            }
            None => {
                outcome?;
                check_declared_size(&doc, received)?;
                let sha = hash::sha256(&small);
                check_declared(&doc, &sha)?;
                let size = small.len() as u64;
                let deduplicated = self.store.has_inline_blob(&sha)?;
                (
                    sha,
                    size,
                    Stored::Inline {
                        content: small,
                        deduplicated,
                    },
                )
            }
        };

        let (blob, stored_size, inline, deduplicated) = match stored {
            Stored::File(PlacedBlob {
                location,
                stored_size,
                deduplicated,
            }) => (location, stored_size, None, deduplicated),
            Stored::Inline {
                content,
                deduplicated,
            } => (
                BlobLocation::Inline,
                size,
                // Always sent along: an elimination may be destroying the
                // stored copy at this very moment.
                Some(content),
                deduplicated,
            ),
        };
        let archive_id = new_archive_id(self.clock.now_millis());
        let mut sequenced = self
            .sequencer
            .ingest(NewArchive {
                archive_id: archive_id.clone(),
                metadata: doc.metadata,
                content_sha256,
                size,
                stored_size,
                blob,
                inline,
                actor: actor.to_owned(),
            })
            .await?;
        let (log_index, record) = sequenced.records.swap_remove(0);
        let seal = self.seal_at(log_index, record, &sequenced.checkpoint)?;
        Ok(IngestReceipt {
            archive_id,
            content_sha256,
            size,
            log_index,
            seal,
            deduplicated,
        })
    }

    /// Writes the chunks into a staged blob file. Each chunk is written on
    /// a blocking thread, but no thread waits for the network between
    /// chunks: a client that stalls mid-upload holds a task, not one of the
    /// blocking pool's threads, which every other request needs.
    fn spawn_blob_writer(&self) -> BlobPipe {
        let (tx, mut rx) = mpsc::channel::<Vec<u8>>(PIPELINE_DEPTH);
        let blobs = self.blobs.clone();
        let handle = tokio::spawn(async move {
            let mut writer = on_blocking_thread(move || blobs.writer()).await?;
            while let Some(chunk) = rx.recv().await {
                writer = on_blocking_thread(move || writer.write(&chunk).map(|()| writer)).await?;
            }
            on_blocking_thread(move || writer.finish()).await
        });
        (tx, handle)
    }

    /// The largest document accepted, in bytes.
    pub fn max_document_size(&self) -> u64 {
        self.limits.max_document_size
    }

    /// An archive's index entry, or NOT_FOUND.
    pub fn archive(&self, archive_id: &str) -> Result<ArchiveEntry> {
        self.store
            .archive(archive_id)?
            .ok_or_else(|| Error::NotFound(format!("no archive with id {archive_id:?}")))
    }

    /// Opens an archive's content for reading; the reader re-hashes as it
    /// goes and fails with DATA_LOSS at the end if the bytes do not match.
    pub fn open_content(&self, archive_id: &str) -> Result<ContentReader> {
        let entry = self.archive(archive_id)?;
        let source: Box<dyn Read + Send> = match entry.blob {
            BlobLocation::Inline => {
                let bytes = self
                    .store
                    .inline_blob(&entry.content_sha256)?
                    .ok_or_else(|| {
                        Error::DataLoss(format!(
                            "the content of archive {archive_id} is missing from the index"
                        ))
                    })?;
                Box::new(std::io::Cursor::new(bytes))
            }
            location => self
                .blobs
                .reader(&entry.content_sha256, location)
                .map_err(|e| {
                    Error::DataLoss(format!(
                        "the content file of archive {archive_id} cannot be read: {e}"
                    ))
                })?,
        };
        Ok(ContentReader {
            source,
            hasher: Sha256::new(),
            read: 0,
            entry,
            done: false,
        })
    }

    /// Archives in id order after `page_token`; returns the next token.
    pub fn list(
        &self,
        page_token: Option<&str>,
        page_size: usize,
        filter: &ListFilter,
    ) -> Result<(Vec<ArchiveEntry>, Option<String>)> {
        let page_size = page_size.clamp(1, 1000);
        let mut entries = self
            .store
            .list_archives(page_token, page_size + 1, filter)?;
        let next = if entries.len() > page_size {
            entries.truncate(page_size);
            entries.last().map(|e| e.archive_id.clone())
        } else {
            None
        };
        Ok((entries, next))
    }

    /// The latest published checkpoint.
    pub fn latest_checkpoint(&self) -> Result<SignedCheckpoint> {
        self.published
            .read()
            .unwrap()
            .clone()
            .ok_or_else(|| Error::Unavailable("no checkpoint has been signed yet".into()))
    }

    /// The checkpoint signed at `size`, or the latest.
    pub fn checkpoint(&self, size: Option<u64>) -> Result<SignedCheckpoint> {
        let latest = self.latest_checkpoint()?;
        match size {
            None => Ok(latest),
            Some(s) if s == latest.size => Ok(latest),
            Some(s) => {
                let text = self.store.checkpoint(s)?.ok_or_else(|| {
                    Error::NotFound(format!(
                        "no checkpoint was signed at size {s} (the latest has size {})",
                        latest.size
                    ))
                })?;
                Ok(SignedCheckpoint {
                    size: s,
                    text: text.into(),
                })
            }
        }
    }

    /// A seal of the archive's ingest record under the latest checkpoint:
    /// the document's seal.
    pub fn seal(&self, archive_id: &str) -> Result<(String, u64)> {
        let entry = self.archive(archive_id)?;
        let checkpoint = self.latest_checkpoint()?;
        let record = store::record(self.store.as_ref(), entry.log_index)?;
        Ok((
            self.seal_at(entry.log_index, record, &checkpoint)?,
            entry.log_index,
        ))
    }

    pub(crate) fn seal_at(
        &self,
        index: u64,
        record: Vec<u8>,
        checkpoint: &SignedCheckpoint,
    ) -> Result<String> {
        let proof =
            tree::inclusion_proof(&TreeReader(self.store.as_ref()), index, checkpoint.size)?;
        Ok(Seal {
            record,
            index,
            proof,
            checkpoint: checkpoint.text.to_string(),
        }
        .to_text())
    }

    /// A consistency proof from `old_size` to `new_size` (or the latest),
    /// with the checkpoint signed at the new size.
    pub fn consistency(
        &self,
        old_size: u64,
        new_size: Option<u64>,
    ) -> Result<(Vec<Hash>, SignedCheckpoint)> {
        let new = self.checkpoint(new_size)?;
        if old_size == 0 || old_size > new.size {
            return Err(Error::InvalidArgument(format!(
                "old_size must be between 1 and the new size {}; got {old_size}",
                new.size
            )));
        }
        let proof = tree::consistency_proof(&TreeReader(self.store.as_ref()), old_size, new.size)?;
        Ok((proof, new))
    }

    /// Log records in [start, end), at most [`MAX_RECORDS`].
    pub fn records(&self, start: u64, end: u64) -> Result<Vec<(u64, Vec<u8>)>> {
        let size = self.latest_checkpoint()?.size;
        if start >= end || end - start > MAX_RECORDS {
            return Err(Error::InvalidArgument(format!(
                "ask for 1 to {MAX_RECORDS} records with start < end; got [{start}, {end})"
            )));
        }
        if start >= size {
            return Err(Error::NotFound(format!(
                "the log has {size} records; index {start} is beyond it"
            )));
        }
        self.store.records(start, end.min(size))
    }
}

/// Chunks go in through the sender; the writer task answers with the
/// staged blob once the sender is dropped.
type BlobPipe = (
    mpsc::Sender<Vec<u8>>,
    tokio::task::JoinHandle<Result<StagedBlob>>,
);

/// Runs blocking file work on the blocking pool.
async fn on_blocking_thread<T: Send + 'static>(
    work: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Error::Storage(format!("blob writer failed: {e}")))?
        .map_err(Error::from)
}

enum Stored {
    File(PlacedBlob),
    Inline {
        content: Vec<u8>,
        deduplicated: bool,
    },
}

/// A stream that ends before (or goes past) the size its header announced
/// is a cut-off or confused upload, not a document.
fn check_declared_size(doc: &NewDocument, received: u64) -> Result<()> {
    if doc.declared_size != 0 && doc.declared_size != received {
        return Err(Error::InvalidArgument(format!(
            "the header announced {} bytes but {received} arrived; nothing was stored — send the whole document again",
            doc.declared_size
        )));
    }
    Ok(())
}

fn check_declared(doc: &NewDocument, actual: &Hash) -> Result<()> {
    match doc.declared_sha256 {
        Some(declared) if &declared != actual => Err(Error::DataLoss(format!(
            "the content received has SHA-256 {} but {} was declared; nothing was stored — check the file and send it again",
            hash::to_hex(actual),
            hash::to_hex(&declared)
        ))),
        _ => Ok(()),
    }
}

/// Reads an archive's content while re-hashing it.
pub struct ContentReader {
    source: Box<dyn Read + Send>,
    hasher: Sha256,
    read: u64,
    entry: ArchiveEntry,
    done: bool,
}

impl ContentReader {
    pub fn entry(&self) -> &ArchiveEntry {
        &self.entry
    }

    /// The next chunk; `None` once all of it was read and matched its
    /// record. Blocking: call from a blocking thread.
    pub fn next_chunk(&mut self) -> Result<Option<Vec<u8>>> {
        if self.done {
            return Ok(None);
        }
        let id = &self.entry.archive_id;
        let mut buf = vec![0u8; READ_CHUNK];
        let mut filled = 0;
        while filled < buf.len() {
            match self.source.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(Error::DataLoss(format!(
                        "the content of archive {id} cannot be read: {e}"
                    )))
                }
            }
        }
        buf.truncate(filled);
        self.hasher.update(&buf);
        self.read += filled as u64;
        if self.read > self.entry.size {
            return Err(Error::DataLoss(format!(
                "the stored content of archive {id} is longer than the {} bytes sealed",
                self.entry.size
            )));
        }
        if filled == 0 {
            self.done = true;
            let actual: Hash = std::mem::take(&mut self.hasher).finalize().into();
            if actual != self.entry.content_sha256 || self.read != self.entry.size {
                return Err(Error::DataLoss(format!(
                    "the stored content of archive {id} no longer matches its seal (SHA-256 {} instead of {}); restore it from a replica",
                    hash::to_hex(&actual),
                    hash::to_hex(&self.entry.content_sha256)
                )));
            }
            return Ok(None);
        }
        Ok(Some(buf))
    }
}

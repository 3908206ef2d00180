//! The replicator: drains the durable queue into the bucket.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path as FsPath, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use age::x25519;
use futures::StreamExt;
use minutier_seal::record::{Record, RecordKind};
use minutier_seal::{hash, Hash};
use object_store::path::Path;
use object_store::{ObjectStore, PutPayload, WriteMultipart};
use sha2::{Digest, Sha256};
use tokio::sync::Notify;

use super::format::{self, Header, Secrets, Segment, SECRET_FILES};
use super::state::{self, ContentReplica, Item, SecretsReplica, SegmentReplica};
use super::ReplicationConfig;
use crate::blobs::BlobStore;
use crate::error::{Error, Result};
use crate::model::BlobLocation;
use crate::sequencer::{Clock, SystemClock};
use crate::store::Store;

/// Most records in one segment object.
const SEGMENT_RECORDS: u64 = 10_000;
/// Queue items taken per pass.
const QUEUE_PASS: usize = 512;
/// Contents uploaded at once: a request to the bucket costs more in
/// waiting than in bytes, so many small ones go together...
const CONCURRENT_UPLOADS: usize = 32;
/// ...within this much memory (MiB) for the uploads in flight: a single
/// put holds its object, a multipart upload its buffer and two parts.
const UPLOAD_MEMORY_MIB: u32 = 128;
/// Uploads recorded together.
const RECORD_EVERY: usize = 64;
/// Content up to this size is uploaded in one request; larger in parts.
const SINGLE_PUT: u64 = 16 << 20;
const PART_SIZE: usize = 8 << 20;
/// Longest wait between two attempts after a failure.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// How often the secrets (credentials) are checked for changes when idle.
const IDLE_TICK: Duration = Duration::from_secs(5);

/// Replication, shared by the replicator task, the scrubber and the RPCs.
pub struct Replication {
    pub(super) store: Arc<dyn Store>,
    pub(super) blobs: Arc<BlobStore>,
    pub(super) bucket: Arc<dyn ObjectStore>,
    pub(super) recipients: Vec<x25519::Recipient>,
    pub(super) identity: x25519::Identity,
    pub(super) data_dir: PathBuf,
    pub(super) endpoint: String,
    pub(super) bucket_name: String,
    /// Time between scheduled scrubs, if any.
    pub scrub_interval: Option<Duration>,
    notify: Arc<Notify>,
    live: Mutex<Live>,
    /// The replicator and the scrubber never touch the bucket at once.
    pub(super) exclusive: tokio::sync::Mutex<()>,
    /// The first record and object name of the log segment being
    /// uploaded, until it is done.
    pending_segment: Mutex<Option<(u64, String)>>,
    /// [`UPLOAD_MEMORY_MIB`], shared by the uploads in flight.
    upload_memory: tokio::sync::Semaphore,
}

#[derive(Debug, Default, Clone)]
struct Live {
    last_error: Option<(u64, String)>,
    last_success: Option<u64>,
    consecutive_failures: u32,
}

/// What `minutier replication status` shows.
#[derive(Debug, Clone, Default)]
pub struct ReplicationStatus {
    pub endpoint: String,
    pub bucket: String,
    pub queued: u64,
    /// Age of the oldest queued item, from the time of its batch.
    pub oldest_queued_ms: Option<u64>,
    pub log_size: u64,
    pub replicated_log_size: u64,
    pub contents_replicated: u64,
    pub last_success_at: Option<u64>,
    pub last_error: Option<(u64, String)>,
    pub archive: Option<ArchiveReplication>,
}

/// One archive's replication state.
#[derive(Debug, Clone, Default)]
pub struct ArchiveReplication {
    pub archive_id: String,
    /// Its content has an encrypted copy (false once eliminated and removed).
    pub content_replicated: bool,
    pub eliminated: bool,
    /// Its latest record is in a replicated segment.
    pub records_replicated: bool,
    pub head_index: u64,
}

impl Replication {
    /// Sets replication up for a data directory: the replica key (created
    /// on first use), the bucket client, the escrow recipients.
    pub fn open(
        config: &ReplicationConfig,
        data_dir: &FsPath,
        store: Arc<dyn Store>,
        blobs: Arc<BlobStore>,
    ) -> std::result::Result<Arc<Replication>, String> {
        config.validate()?;
        let identity = super::open_or_create_identity(&data_dir.join("keys/replica.key"))?;
        let mut recipients = vec![identity.to_public()];
        recipients.extend(config.recipients()?);
        Ok(Arc::new(Replication {
            store,
            blobs,
            bucket: config.object_store()?,
            recipients,
            identity,
            data_dir: data_dir.to_owned(),
            endpoint: config.endpoint.clone(),
            bucket_name: config.bucket.clone(),
            scrub_interval: (config.scrub_interval_hours > 0)
                .then(|| Duration::from_secs(config.scrub_interval_hours * 3600)),
            notify: Arc::new(Notify::new()),
            live: Mutex::new(Live::default()),
            exclusive: tokio::sync::Mutex::new(()),
            pending_segment: Mutex::new(None),
            upload_memory: tokio::sync::Semaphore::new(UPLOAD_MEMORY_MIB as usize),
        }))
    }

    /// Woken by the sequencer after each commit.
    pub fn notifier(&self) -> Arc<Notify> {
        self.notify.clone()
    }

    /// Drains the queue for ever: on failure, waits (doubling, at most a
    /// minute) and tries the same item again; nothing is ever dropped.
    pub async fn run(self: Arc<Self>) {
        if let Err(e) = self.catch_up() {
            tracing::error!(error = %e, "replication: cannot queue the existing log and content");
        }
        let mut backoff = Duration::from_secs(1);
        loop {
            match self.pass().await {
                Ok(true) => backoff = Duration::from_secs(1),
                Ok(false) => {
                    backoff = Duration::from_secs(1);
                    if let Err(e) = self.refresh_secrets().await {
                        self.failed(&e);
                    }
                    let _ = tokio::time::timeout(IDLE_TICK, self.notify.notified()).await;
                }
                Err(e) => {
                    self.failed(&e);
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    fn failed(&self, e: &Error) {
        let mut live = self.live.lock().unwrap();
        live.consecutive_failures += 1;
        live.last_error = Some((SystemClock.now_millis(), e.to_string()));
        // One line per failure streak, then every tenth: an outage of
        // hours must not flood the journal.
        if live.consecutive_failures == 1 || live.consecutive_failures.is_multiple_of(10) {
            tracing::warn!(error = %e, attempts = live.consecutive_failures, "replication: will retry");
        }
    }

    fn succeeded(&self) {
        let mut live = self.live.lock().unwrap();
        if live.consecutive_failures > 0 {
            tracing::info!(
                after = live.consecutive_failures,
                "replication: the bucket answers again"
            );
        }
        live.consecutive_failures = 0;
        live.last_success = Some(SystemClock.now_millis());
    }

    /// Processes what is queued; false when the queue was empty.
    ///
    /// Contents go up several at a time (their order does not matter: a
    /// removal checks, when it runs, whether anything holds the content
    /// again); consecutive log segments are merged into one object, with
    /// the checkpoint at its end.
    async fn pass(&self) -> Result<bool> {
        let items = self.store.replica_states(state::QUEUE, None, QUEUE_PASS)?;
        if items.is_empty() {
            return Ok(false);
        }
        let _guard = self.exclusive.lock().await;
        let mut contents = Vec::new();
        let mut others = Vec::new();
        for (key, value) in items {
            match Item::parse(&key, &value) {
                Some(item @ Item::Content(_)) => contents.push((key, item)),
                Some(item) => others.push((key, item)),
                None => {
                    tracing::error!(key = %hex::encode(&key), "replication: dropping an unreadable queue entry");
                    self.store.update_replica_states(vec![], vec![key])?;
                }
            }
        }
        // After the first failure no new upload starts (those in flight
        // finish): the pass ends and the backoff applies. Without this, a
        // bucket answering errors got every queued content (up to
        // QUEUE_PASS, each with the client's own retries) on every pass,
        // thousands of requests to a server asking to slow down, and each
        // answer lost after the server stored the object left one more
        // orphan for the scrub.
        let failed = std::sync::atomic::AtomicBool::new(false);
        let failed = &failed;
        let mut uploads = futures::stream::iter(contents)
            .map(|(key, item)| async move {
                if failed.load(std::sync::atomic::Ordering::SeqCst) {
                    return (key, None);
                }
                let outcome = self.process(&item).await;
                if outcome.is_err() {
                    failed.store(true, std::sync::atomic::Ordering::SeqCst);
                }
                (key, Some(outcome))
            })
            .buffer_unordered(CONCURRENT_UPLOADS);
        // Finished uploads are recorded (their state written, their queue
        // entry removed) a few dozen at a time, in one synced write: a
        // crash before it only means uploading them again.
        let (mut failure, mut puts, mut done) = (None, Vec::new(), Vec::new());
        while let Some((key, outcome)) = uploads.next().await {
            match outcome {
                Some(Ok(put)) => {
                    puts.extend(put);
                    done.push(key);
                    self.succeeded();
                }
                Some(Err(e)) => failure = Some(e),
                None => {}
            }
            if done.len() >= RECORD_EVERY {
                self.store
                    .update_replica_states(std::mem::take(&mut puts), std::mem::take(&mut done))?;
            }
        }
        drop(uploads);
        if !done.is_empty() {
            self.store.update_replica_states(puts, done)?;
        }
        if let Some(e) = failure {
            return Err(e);
        }
        let mut others = others.into_iter().peekable();
        while let Some((key, item)) = others.next() {
            let (item, keys) = match item {
                Item::Segment { from, mut to } => {
                    let mut keys = vec![key];
                    while let Some((
                        _,
                        Item::Segment {
                            from: next,
                            to: next_to,
                        },
                    )) = others.peek()
                    {
                        if *next != to || next_to - from > SEGMENT_RECORDS {
                            break;
                        }
                        to = *next_to;
                        keys.push(others.next().expect("peeked").0);
                    }
                    (Item::Segment { from, to }, keys)
                }
                item => (item, vec![key]),
            };
            let puts = self.process(&item).await?;
            self.store.update_replica_states(puts, keys)?;
            self.succeeded();
        }
        Ok(true)
    }

    /// Does one item; returns the state entries to write with its removal
    /// from the queue.
    async fn process(&self, item: &Item) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        match item {
            Item::Content(sha) => {
                if self
                    .store
                    .replica_state(&state::content_key(sha))?
                    .is_some()
                {
                    return Ok(vec![]);
                }
                match self.upload_content(sha).await? {
                    Some(replica) => Ok(vec![(state::content_key(sha), json(&replica))]),
                    None => Ok(vec![]),
                }
            }
            Item::Forget(sha) => {
                if !self.store.content_holders(sha)?.is_empty() {
                    return Ok(vec![]);
                }
                if let Some(bytes) = self.store.replica_state(&state::content_key(sha))? {
                    let replica: ContentReplica = unjson(&bytes)?;
                    self.delete(&replica.object).await?;
                    self.store
                        .update_replica_states(vec![], vec![state::content_key(sha)])?;
                }
                Ok(vec![])
            }
            Item::Segment { from, to } => {
                // A retry starting at the same record reuses the object
                // name of the attempt that failed, so that it overwrites
                // what that attempt may have stored (an answer lost after
                // the bucket stored it, or the checkpoint's upload failed
                // after it). With a new name each time, the bucket was
                // left a shorter segment from the same record: restore
                // and audit then saw two segments starting there.
                let object = {
                    let mut pending = self.pending_segment.lock().unwrap();
                    match pending.as_ref() {
                        Some((f, name)) if f == from => name.clone(),
                        _ => {
                            let name = format::object_name();
                            *pending = Some((*from, name.clone()));
                            name
                        }
                    }
                };
                let replica = self.upload_segment_as(*from, *to, object).await?;
                self.upload_checkpoint(*to).await?;
                *self.pending_segment.lock().unwrap() = None;
                let through = self.replicated_log_size()?.max(*to);
                Ok(vec![
                    (state::segment_key(*from), json(&replica)),
                    (state::THROUGH.to_vec(), through.to_be_bytes().to_vec()),
                ])
            }
        }
    }

    /// Queues what is not replicated yet: the log beyond what was
    /// replicated, and content without a replica (replication turned on
    /// for an appliance that already holds archives, or state lost).
    pub(super) fn catch_up(&self) -> Result<usize> {
        let size = self.store.log_state()?.tree_size;
        let mut puts = Vec::new();
        let queued_segments: Vec<u64> = self
            .store
            .replica_states(state::QUEUE, None, usize::MAX)?
            .iter()
            .filter_map(|(k, v)| match Item::parse(k, v) {
                Some(Item::Segment { from, .. }) => Some(from),
                _ => None,
            })
            .collect();
        let mut from = self.replicated_log_size()?;
        let first_queued = queued_segments.iter().min().copied().unwrap_or(size);
        while from < first_queued.min(size) {
            let to = (from + SEGMENT_RECORDS).min(first_queued.min(size));
            let item = Item::Segment { from, to };
            puts.push((item.key(from), item.value()));
            from = to;
        }
        let mut after: Option<String> = None;
        loop {
            let page = self.store.list_archives(
                after.as_deref(),
                1000,
                &crate::store::ListFilter::default(),
            )?;
            let Some(last) = page.last() else { break };
            after = Some(last.archive_id.clone());
            for entry in page.iter().filter(|e| !e.is_eliminated()) {
                let sha = entry.content_sha256;
                if self
                    .store
                    .replica_state(&state::content_key(&sha))?
                    .is_none()
                {
                    let item = Item::Content(sha);
                    puts.push((item.key(entry.log_index), item.value()));
                }
            }
        }
        let queued = puts.len();
        if queued > 0 {
            tracing::info!(
                items = queued,
                "replication: queued what the bucket does not hold yet"
            );
            self.store.update_replica_states(puts, vec![])?;
        }
        Ok(queued)
    }

    pub(super) fn replicated_log_size(&self) -> Result<u64> {
        Ok(match self.store.replica_state(state::THROUGH)? {
            Some(b) => u64::from_be_bytes(
                b.as_slice()
                    .try_into()
                    .map_err(|_| Error::Storage("corrupt replication state m/through".into()))?,
            ),
            None => 0,
        })
    }

    /// The content's bytes as stored locally, or None if it is gone.
    pub(super) fn local_content(&self, sha: &Hash) -> Result<Option<LocalContent>> {
        if let Some(bytes) = self.store.inline_blob(sha)? {
            return Ok(Some(LocalContent::Inline(bytes)));
        }
        Ok(self.blobs.find(sha).map(LocalContent::File))
    }

    /// Encrypts and uploads a content; None if it no longer exists locally
    /// and nothing holds it (destroyed before it could be replicated).
    pub(super) async fn upload_content(&self, sha: &Hash) -> Result<Option<ContentReplica>> {
        let Some(local) = self.local_content(sha)? else {
            if self.store.content_holders(sha)?.is_empty() {
                return Ok(None);
            }
            return Err(Error::DataLoss(format!(
                "content {} is missing locally and cannot be replicated; run a scrub to repair it",
                hash::to_hex(sha)
            )));
        };
        let tmp = self.tmp_file()?;
        let (recipients, blobs, sha_copy) = (self.recipients.clone(), self.blobs.clone(), *sha);
        let tmp_path = tmp.clone();
        let sealed = tokio::task::spawn_blocking(move || -> Result<(u64, String, u64)> {
            let mut source: Box<dyn Read> = match local {
                LocalContent::Inline(bytes) => Box::new(std::io::Cursor::new(bytes)),
                LocalContent::File(location) => blobs.reader(&sha_copy, location)?,
            };
            // Re-hash while encrypting: a corrupt local copy is never
            // replicated.
            let mut hashing = HashingReader::new(&mut source);
            let out = HashingWriter::new(std::fs::File::create(&tmp_path)?);
            let header = Header::Content {
                version: format::VERSION,
                sha256: hash::to_hex(&sha_copy),
            };
            let out = format::encrypt(&recipients, &header, &mut hashing, out)?;
            let (plain_sha, plain_len) = hashing.finish();
            if plain_sha != sha_copy {
                return Err(Error::DataLoss(format!(
                    "the local copy of content {} does not match its digest; not replicated, run a scrub",
                    hash::to_hex(&sha_copy)
                )));
            }
            // Not synced: the file only stages the upload and is removed
            // right after it; a crash leaves the content queued.
            let (_, cipher_sha, cipher_len) = out.finish();
            Ok((cipher_len, hash::to_hex(&cipher_sha), plain_len))
        })
        .await
        .map_err(|e| Error::Storage(format!("replication encryption task failed: {e}")))?;
        let (size, cipher_sha, _) = match sealed {
            Ok(v) => v,
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                return Err(e);
            }
        };
        let object = format::object_name();
        let uploaded = self.upload_file(&object, &tmp, size).await;
        let _ = std::fs::remove_file(&tmp);
        uploaded?;
        Ok(Some(ContentReplica {
            object,
            size,
            sha256: cipher_sha,
            uploaded_at: SystemClock.now_millis(),
        }))
    }

    /// Builds, encrypts and uploads the segment [from, to).
    pub(super) async fn upload_segment(&self, from: u64, to: u64) -> Result<SegmentReplica> {
        self.upload_segment_as(from, to, format::object_name())
            .await
    }

    /// [`Replication::upload_segment`] under the object name given.
    async fn upload_segment_as(
        &self,
        from: u64,
        to: u64,
        object: String,
    ) -> Result<SegmentReplica> {
        let segment = build_segment(self.store.as_ref(), from, to)?;
        let payload = serde_json::to_vec(&segment).expect("segments serialise");
        let header = Header::Segment {
            version: format::VERSION,
            from,
            to,
        };
        let sealed = format::encrypt(
            &self.recipients,
            &header,
            &mut payload.as_slice(),
            Vec::new(),
        )?;
        let size = sealed.len() as u64;
        let sha = hash::to_hex(&hash::sha256(&sealed));
        self.put(&object, sealed).await?;
        Ok(SegmentReplica {
            to,
            object,
            size,
            sha256: sha,
            uploaded_at: SystemClock.now_millis(),
        })
    }

    /// Publishes the checkpoint signed at `size`, in clear.
    pub(super) async fn upload_checkpoint(&self, size: u64) -> Result<()> {
        let text = self
            .store
            .checkpoint(size)?
            .ok_or_else(|| Error::Storage(format!("no checkpoint was signed at size {size}")))?;
        self.put(&format::checkpoint_name(size), text.into_bytes())
            .await
    }

    /// The secrets payload as it stands.
    fn secrets(&self) -> Result<Secrets> {
        let mut files = BTreeMap::new();
        for name in SECRET_FILES {
            let path = self.data_dir.join(name);
            match std::fs::read(&path) {
                Ok(bytes) => {
                    files.insert(name.to_owned(), format::b64(&bytes));
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(Secrets {
            origin: self.store.log_state()?.origin.unwrap_or_default(),
            files,
            credentials: self.store.credentials()?,
        })
    }

    /// Uploads a new copy of the secrets when they changed (new keys,
    /// credentials issued or revoked), then removes the old copy.
    pub(super) async fn refresh_secrets(&self) -> Result<()> {
        let _guard = self.exclusive.lock().await;
        self.refresh_secrets_locked(false).await
    }

    /// [`Replication::refresh_secrets`], for a caller holding the bucket;
    /// `force` uploads a new copy even if nothing changed.
    pub(super) async fn refresh_secrets_locked(&self, force: bool) -> Result<()> {
        let secrets = self.secrets()?;
        let payload = serde_json::to_vec(&secrets).expect("secrets serialise");
        let payload_sha = hash::to_hex(&hash::sha256(&payload));
        let current: Option<SecretsReplica> = self
            .store
            .replica_state(state::SECRETS)?
            .map(|b| unjson(&b))
            .transpose()?;
        if !force
            && current
                .as_ref()
                .is_some_and(|c| c.payload_sha256 == payload_sha)
        {
            return Ok(());
        }
        let generation = current.as_ref().map_or(1, |c| c.generation + 1);
        let replica = self
            .upload_secrets(generation, &payload, payload_sha)
            .await?;
        self.store
            .update_replica_states(vec![(state::SECRETS.to_vec(), json(&replica))], vec![])?;
        if let Some(old) = current {
            self.delete(&old.object).await?;
        }
        Ok(())
    }

    pub(super) async fn upload_secrets(
        &self,
        generation: u64,
        payload: &[u8],
        payload_sha256: String,
    ) -> Result<SecretsReplica> {
        let header = Header::Secrets {
            version: format::VERSION,
            generation,
        };
        let sealed = format::encrypt(&self.recipients, &header, &mut &payload[..], Vec::new())?;
        let object = format::object_name();
        let (size, sha256) = (sealed.len() as u64, hash::to_hex(&hash::sha256(&sealed)));
        self.put(&object, sealed).await?;
        Ok(SecretsReplica {
            generation,
            object,
            size,
            sha256,
            payload_sha256,
            uploaded_at: SystemClock.now_millis(),
        })
    }

    pub(super) async fn put(&self, name: &str, bytes: Vec<u8>) -> Result<()> {
        self.bucket
            .put(&Path::from(name), PutPayload::from(bytes))
            .await
            .map_err(bucket_error)?;
        Ok(())
    }

    pub(super) async fn delete(&self, name: &str) -> Result<()> {
        match self.bucket.delete(&Path::from(name)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(bucket_error(e)),
        }
    }

    /// Uploads a file, in parts when large.
    async fn upload_file(&self, name: &str, file: &FsPath, size: u64) -> Result<()> {
        // What it holds in memory: the object, or a buffer and two parts.
        let held = if size <= SINGLE_PUT {
            size
        } else {
            3 * PART_SIZE as u64
        };
        let _memory = self
            .upload_memory
            .acquire_many(held.div_ceil(1 << 20).max(1) as u32)
            .await
            .expect("never closed");
        if size <= SINGLE_PUT {
            return self.put(name, tokio::fs::read(file).await?).await;
        }
        let upload = self
            .bucket
            .put_multipart(&Path::from(name))
            .await
            .map_err(bucket_error)?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        let mut source = tokio::fs::File::open(file).await?;
        let mut buffer = vec![0u8; PART_SIZE];
        loop {
            use tokio::io::AsyncReadExt;
            let n = source.read(&mut buffer).await?;
            if n == 0 {
                break;
            }
            writer.wait_for_capacity(2).await.map_err(bucket_error)?;
            writer.write(&buffer[..n]);
        }
        writer.finish().await.map_err(bucket_error)?;
        Ok(())
    }

    /// Reads a whole object, hashing it: (size, SHA-256), or None if absent.
    pub(super) async fn fingerprint(&self, name: &str) -> Result<Option<(u64, Hash)>> {
        let result = match self.bucket.get(&Path::from(name)).await {
            Ok(r) => r,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(bucket_error(e)),
        };
        let mut stream = result.into_stream();
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(bucket_error)?;
            size += chunk.len() as u64;
            hasher.update(&chunk);
        }
        Ok(Some((size, hasher.finalize().into())))
    }

    /// Downloads an object into a temporary file.
    pub(super) async fn download(&self, name: &str) -> Result<PathBuf> {
        let result = self
            .bucket
            .get(&Path::from(name))
            .await
            .map_err(bucket_error)?;
        let tmp = self.tmp_file()?;
        let mut file = std::fs::File::create(&tmp)?;
        let mut stream = result.into_stream();
        while let Some(chunk) = stream.next().await {
            file.write_all(&chunk.map_err(bucket_error)?)?;
        }
        file.sync_all()?;
        Ok(tmp)
    }

    pub(super) fn tmp_file(&self) -> Result<PathBuf> {
        use rand::RngCore;
        let dir = self.data_dir.join("replication-tmp");
        std::fs::create_dir_all(&dir)?;
        let mut id = [0u8; 8];
        rand::rngs::OsRng.fill_bytes(&mut id);
        Ok(dir.join(hex::encode(id)))
    }

    /// Where replication stands, and optionally one archive's state.
    pub fn status(&self, archive_id: Option<&str>) -> Result<ReplicationStatus> {
        let log_size = self.store.log_state()?.tree_size;
        let replicated = self.replicated_log_size()?;
        let queue = self.store.replica_states(state::QUEUE, None, usize::MAX)?;
        let oldest_from = queue
            .iter()
            .filter_map(|(k, v)| Item::parse(k, v))
            .map(|i| match i {
                Item::Segment { from, .. } => from,
                _ => u64::MAX,
            });
        let oldest_ms = oldest_from
            .min()
            .filter(|f| *f < log_size)
            .and_then(|f| crate::store::record(self.store.as_ref(), f).ok())
            .and_then(|r| Record::decode(&r).ok())
            .map(|r| SystemClock.now_millis().saturating_sub(r.time.0));
        let contents = self
            .store
            .replica_states(state::CONTENTS, None, usize::MAX)?
            .len() as u64;
        let live = self.live.lock().unwrap().clone();
        let archive = archive_id
            .map(|id| -> Result<ArchiveReplication> {
                let entry = self
                    .store
                    .archive(id)?
                    .ok_or_else(|| Error::NotFound(format!("no archive with id {id:?}")))?;
                Ok(ArchiveReplication {
                    archive_id: id.to_owned(),
                    content_replicated: self
                        .store
                        .replica_state(&state::content_key(&entry.content_sha256))?
                        .is_some(),
                    eliminated: entry.is_eliminated(),
                    records_replicated: entry.head_index < replicated,
                    head_index: entry.head_index,
                })
            })
            .transpose()?;
        Ok(ReplicationStatus {
            endpoint: self.endpoint.clone(),
            bucket: self.bucket_name.clone(),
            queued: queue.len() as u64,
            oldest_queued_ms: oldest_ms,
            log_size,
            replicated_log_size: replicated,
            contents_replicated: contents,
            last_success_at: live.last_success,
            last_error: live.last_error,
            archive,
        })
    }
}

/// A content as stored locally.
pub(super) enum LocalContent {
    Inline(Vec<u8>),
    File(BlobLocation),
}

/// Records [from, to), the documents they commit to, and the certificates
/// of the eliminations executed among them: all immutable, so the same
/// range always gives the same segment.
pub fn build_segment(store: &dyn Store, from: u64, to: u64) -> Result<Segment> {
    let mut segment = Segment::default();
    let mut start = from;
    while start < to {
        let end = (start + 1000).min(to);
        let records = store.records(start, end)?;
        if records.len() as u64 != end - start {
            return Err(Error::Storage(format!(
                "records {start}..{end} are incomplete in the index"
            )));
        }
        for (_, bytes) in records {
            let record = Record::decode(&bytes)?;
            let digest = hash::to_hex(&record.metadata_sha256);
            if !segment.documents.contains_key(&digest) {
                if let Some(doc) = store.document(&record.metadata_sha256)? {
                    let text = String::from_utf8(doc)
                        .map_err(|_| Error::Storage(format!("document {digest} is not UTF-8")))?;
                    segment.documents.insert(digest.clone(), text);
                }
            }
            if record.kind == RecordKind::EliminationExecuted {
                if let Some(order) = segment
                    .documents
                    .get(&digest)
                    .and_then(|d| serde_json::from_str::<crate::model::EliminationOrder>(d).ok())
                {
                    if let Some(cert) = store
                        .elimination(&order.elimination_id)?
                        .and_then(|o| o.certificate)
                    {
                        segment.certificates.insert(order.elimination_id, cert);
                    }
                }
            }
            segment.records.push(format::b64(&bytes));
        }
        start = end;
    }
    Ok(segment)
}

pub(super) fn json<T: serde::Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("replication state serialises")
}

pub(super) fn unjson<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes)
        .map_err(|e| Error::Storage(format!("corrupt replication state: {e}")))
}

pub(super) fn bucket_error(e: object_store::Error) -> Error {
    Error::Unavailable(format!("the replication bucket: {e}"))
}

/// Reads through, hashing what passes.
pub(super) struct HashingReader<'a> {
    inner: &'a mut dyn Read,
    hasher: Sha256,
    len: u64,
}

impl<'a> HashingReader<'a> {
    pub(super) fn new(inner: &'a mut dyn Read) -> Self {
        HashingReader {
            inner,
            hasher: Sha256::new(),
            len: 0,
        }
    }

    pub(super) fn finish(self) -> (Hash, u64) {
        (self.hasher.finalize().into(), self.len)
    }
}

impl Read for HashingReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
}

/// Writes through, hashing what passes.
pub(super) struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    len: u64,
}

impl<W: Write> HashingWriter<W> {
    pub(super) fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            len: 0,
        }
    }

    pub(super) fn finish(self) -> (W, Hash, u64) {
        (self.inner, self.hasher.finalize().into(), self.len)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

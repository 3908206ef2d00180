//! Disaster recovery: a new data directory from the bucket alone, with an
//! escrow identity (docs/disaster-recovery.md).
//!
//! 1. Every object's header is read (the first chunk, decrypted with the
//!    escrow identity) to sort secrets, log segments and contents.
//! 2. The newest secrets give back the signing key, the replica key, the
//!    certificate authority, the administrator's credential and the
//!    credential registry.
//! 3. The segments, which must cover the log from its first record without
//!    a gap, give back the log; every archive and elimination is derived
//!    from it ([`super::rebuild`]); every checkpoint in the bucket must be a
//!    checkpoint of that log, signed by its key.
//! 4. Every live archive's content is fetched, decrypted and checked
//!    against its digest.
//! 5. Every archive's seal is checked against the restored log and the
//!    newest checkpoint, as an auditor would.
//!
//! The restored appliance knows what the bucket holds, so it continues
//! replicating where the old one stopped, and continues the same log.

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::path::Path as FsPath;
use std::sync::Arc;

use age::x25519;
use futures::{StreamExt, TryStreamExt};
use minutier_seal::checkpoint::Checkpoint;
use minutier_seal::note::{Signer, VerifierKey};
use minutier_seal::proof::Seal;
use minutier_seal::tree::{self, Frontier};
use minutier_seal::verify::SealVerifier;
use minutier_seal::{hash, Hash};
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore};
use sha2::{Digest, Sha256};

use super::format::{self, Header, Secrets, Segment};
use super::rebuild::Derived;
use super::replicator::json;
use super::state::{self, ContentReplica, SecretsReplica, SegmentReplica};
use super::ReplicationConfig;
use crate::blobs::BlobStore;
use crate::model::BlobLocation;
use crate::sequencer::{Clock, SystemClock};
use crate::store::{CommitBatch, LogEntry, RocksStore, Store, TreeReader};

/// Requests in flight at once.
const PARALLEL: usize = 64;

/// Where a content went, its stored size, its replica's (size, SHA-256),
/// and its bytes when it goes inline.
type RestoredContent = (BlobLocation, u64, (u64, Hash), Option<Vec<u8>>);

/// Enough of an object to decrypt its first chunk (age: header, then
/// 64 KiB chunks), where the header line is.
const HEAD_BYTES: u64 = 96 << 10;
/// Content up to this size goes back into the index, as the daemon's
/// default `inline_threshold` would have put it.
const INLINE: u64 = 64 << 10;
/// Objects read whole while reading headers (no larger than
/// [`HEAD_BYTES`]) are kept for the contents step, up to this many bytes in
/// all, rather than downloaded twice: most documents of a town hall are
/// that small, and a request costs more than its bytes.
const KEPT_BYTES: u64 = 256 << 20;

/// What a restore found and rebuilt.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RestoreReport {
    pub origin: String,
    pub verifier_key: String,
    pub objects: u64,
    pub records: u64,
    pub segments: u64,
    pub archives: u64,
    pub eliminated: u64,
    pub contents: u64,
    pub content_bytes: u64,
    pub checkpoints_checked: u64,
    pub checkpoint_size: u64,
    pub seals_verified: u64,
    pub secrets_generation: u64,
}

/// A step of the restore, for progress display.
pub type Progress<'a> = &'a (dyn Fn(&str) + Sync);

/// Rebuilds a data directory at `data_dir` (which must not exist or be
/// empty) from the bucket of `config`, decrypting with `escrow`.
pub async fn restore(
    config: &ReplicationConfig,
    escrow: &x25519::Identity,
    data_dir: &FsPath,
    progress: Progress<'_>,
) -> Result<RestoreReport, String> {
    if data_dir.exists()
        && std::fs::read_dir(data_dir)
            .map_err(|e| format!("cannot read {}: {e}", data_dir.display()))?
            .next()
            .is_some()
    {
        return Err(format!(
            "{} is not empty: restore into a new, empty directory",
            data_dir.display()
        ));
    }
    let bucket = config.object_store()?;
    let mut report = RestoreReport::default();

    // 1. Sort the objects by their headers.
    progress("listing the bucket");
    let listed: Vec<_> = bucket
        .list(Some(&Path::from(format::OBJECTS.trim_end_matches('/'))))
        .try_collect()
        .await
        .map_err(|e| format!("cannot list the bucket {}: {e}", config.bucket))?;
    report.objects = listed.len() as u64;
    let mut secrets: Option<(u64, String)> = None;
    let mut segments: BTreeMap<u64, (u64, String)> = BTreeMap::new();
    let mut contents: HashMap<Hash, (String, u64)> = HashMap::new();
    let mut kept: HashMap<String, Vec<u8>> = HashMap::new();
    let mut kept_bytes = 0u64;
    let mut headers = futures::stream::iter(listed.iter().map(|meta| {
        let name = meta.location.to_string();
        let bucket = bucket.clone();
        async move {
            let head = get_range(bucket.as_ref(), &name, HEAD_BYTES.min(meta.size)).await?;
            let header = format::decrypt(escrow, &head[..])
                .map(|(header, _)| header)
                .map_err(|e| {
                    format!("object {name} cannot be opened with this escrow identity: {e}")
                })?;
            Ok::<_, String>((name, meta.size, header, head))
        }
    }))
    .buffer_unordered(PARALLEL);
    let mut n = 0;
    while let Some(item) = headers.next().await {
        let (name, size, header, head) = item?;
        n += 1;
        if n % 100 == 0 {
            progress(&format!("reading headers: {n} of {} objects", listed.len()));
        }
        match header {
            Header::Secrets { generation, .. } => {
                if secrets.as_ref().is_none_or(|(g, _)| generation > *g) {
                    secrets = Some((generation, name));
                }
            }
            Header::Segment { from, to, .. } => {
                // Two segments may start at the same record: an upload cut
                // before its state was written (a crash, an answer lost)
                // left one behind, and the upload done again later covered
                // more records. Both hold the same records from there;
                // keep the longer, or the log would stop at the shorter.
                if segments.get(&from).is_none_or(|(t, _)| to > *t) {
                    segments.insert(from, (to, name));
                }
            }
            Header::Content { sha256, .. } => {
                let sha = hash::from_hex(&sha256)
                    .map_err(|_| format!("object {name} names a bad digest {sha256:?}"))?;
                if head.len() as u64 == size && kept_bytes + size <= KEPT_BYTES {
                    kept_bytes += size;
                    kept.insert(name.clone(), head);
                }
                contents.insert(sha, (name, size));
            }
        }
    }
    drop(headers);

    // 2. Secrets.
    let (generation, secrets_object) =
        secrets.ok_or("the bucket holds no secrets object: it is not a Minutier replica")?;
    report.secrets_generation = generation;
    progress("restoring keys and credentials");
    let (secrets_bytes, secrets_fingerprint) = get_all(bucket.as_ref(), &secrets_object).await?;
    let secrets: Secrets = decrypt_json(escrow, &secrets_bytes, &secrets_object)?;
    std::fs::create_dir_all(data_dir)
        .map_err(|e| format!("cannot create {}: {e}", data_dir.display()))?;
    set_private(data_dir, 0o700)?;
    for (relative, content) in &secrets.files {
        if !format::SECRET_FILES.contains(&relative.as_str()) {
            return Err(format!("the secrets name an unexpected file {relative:?}"));
        }
        let bytes = format::unb64(content)?;
        write_private(&data_dir.join(relative), &bytes)?;
    }
    let seed: [u8; 32] = secrets
        .files
        .get("keys/checkpoint.key")
        .map(|c| format::unb64(c))
        .transpose()?
        .and_then(|b| b.try_into().ok())
        .ok_or("the secrets hold no checkpoint signing key")?;
    let signer = minutier_seal::note::Ed25519Signer::from_seed(&secrets.origin, &seed)
        .map_err(|e| format!("the restored signing key is unusable: {e}"))?;
    let key = VerifierKey::from_public_key(&secrets.origin, signer.public_key())
        .map_err(|e| e.to_string())?;
    report.origin = secrets.origin.clone();
    report.verifier_key = key.to_string();
    std::fs::write(data_dir.join("verifier.key"), format!("{key}\n"))
        .map_err(|e| format!("cannot write verifier.key: {e}"))?;

    let store = Arc::new(
        RocksStore::open(&data_dir.join("index"))
            .map_err(|e| format!("cannot create the index: {e}"))?,
    );
    store
        .set_origin(&secrets.origin)
        .map_err(|e| e.to_string())?;
    store
        .put_credentials(&secrets.credentials)
        .map_err(|e| e.to_string())?;

    // 3. The log.
    let checkpoints = clear_checkpoints(bucket.as_ref()).await?;
    let mut frontier = Frontier::new();
    let mut derived = Derived::default();
    let mut documents: HashMap<Hash, Vec<u8>> = HashMap::new();
    let mut replica_states: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let mut expected_from = 0u64;
    let segment_count = segments.len();
    let mut fetched = futures::stream::iter(segments.into_iter().map(|(from, (to, name))| {
        let bucket = bucket.clone();
        async move {
            let got = get_all(bucket.as_ref(), &name).await?;
            Ok::<_, String>((from, to, name, got))
        }
    }))
    .buffered(PARALLEL);
    let mut i = 0;
    while let Some(next) = fetched.next().await {
        let (from, to, name, (bytes, fingerprint)) = next?;
        i += 1;
        if from != expected_from {
            return Err(format!(
                "the bucket's log segments leave records {expected_from} to {from} missing: \
                 the log cannot be rebuilt past record {expected_from}"
            ));
        }
        progress(&format!(
            "rebuilding the log: segment {i} of {segment_count} (records {from}..{to})"
        ));
        let segment: Segment = decrypt_json(escrow, &bytes, &name)?;
        let records = segment.record_bytes()?;
        if records.len() as u64 != to - from {
            return Err(format!(
                "segment {name} should hold records {from}..{to} but holds {}",
                records.len()
            ));
        }
        for (digest, text) in &segment.documents {
            let sha = hash::from_hex(digest).map_err(|_| format!("segment {name}: bad digest"))?;
            if hash::sha256(text.as_bytes()) != sha {
                return Err(format!(
                    "segment {name}: document {digest} does not match its digest"
                ));
            }
            documents.insert(sha, text.clone().into_bytes());
        }
        let mut batch = CommitBatch::default();
        for (offset, record) in records.into_iter().enumerate() {
            let index = from + offset as u64;
            derived.apply(index, &record, &documents)?;
            let decoded = minutier_seal::record::Record::decode(&record)
                .map_err(|e| format!("record {index}: {e}"))?;
            batch
                .nodes
                .extend(frontier.append(hash::leaf_hash(&record)));
            batch.documents.push((
                decoded.metadata_sha256,
                documents[&decoded.metadata_sha256].clone(),
            ));
            batch.records.push(LogEntry {
                index,
                record,
                archive_id: decoded.archive_id.clone(),
                access: decoded.kind.is_access(),
            });
        }
        for (id, certificate) in segment.certificates {
            minutier_seal::certificate::EliminationCertificate::verify(&certificate, &key)
                .map_err(|e| format!("the certificate of elimination {id} does not verify: {e}"))?;
            derived.certify(&id, certificate);
        }
        batch.tree_size = to;
        batch.checkpoint = match checkpoints.get(&to) {
            Some(text) => text.clone(),
            None => sign(&signer, &secrets.origin, &frontier)?,
        };
        store.commit(batch).map_err(|e| e.to_string())?;
        replica_states.push((
            state::segment_key(from),
            json(&SegmentReplica {
                to,
                object: name,
                size: fingerprint.0,
                sha256: hash::to_hex(&fingerprint.1),
                uploaded_at: SystemClock.now_millis(),
            }),
        ));
        expected_from = to;
        report.segments += 1;
    }
    drop(fetched);
    let size = expected_from;
    report.records = size;
    if size == 0 {
        return Err("the bucket holds no log segment: nothing to restore".into());
    }

    // Every clear checkpoint must be one of this log's, by its key.
    let reader = TreeReader(store.as_ref());
    for (at, text) in &checkpoints {
        let checkpoint = Checkpoint::open(text, &key)
            .map_err(|e| format!("checkpoint {at} in the bucket does not verify: {e}"))?;
        if *at > size {
            return Err(format!(
                "the bucket publishes a checkpoint of size {at}, but its segments stop at {size}: \
                 segments are missing"
            ));
        }
        let root = Frontier::load(&reader, *at)
            .map_err(|e| e.to_string())?
            .root();
        if root != checkpoint.root {
            return Err(format!(
                "checkpoint {at} in the bucket does not match the rebuilt log: history was rewritten"
            ));
        }
        report.checkpoints_checked += 1;
    }

    // 4. Contents.
    let blobs = BlobStore::open(&data_dir.join("blobs"), 3)
        .map_err(|e| format!("cannot create the blob store: {e}"))?;
    let mut placed: HashMap<Hash, (BlobLocation, u64)> = HashMap::new();
    let mut final_batch = CommitBatch::default();
    let live: Vec<_> = derived
        .archives
        .values()
        .filter(|e| !e.is_eliminated())
        .map(|e| (e.content_sha256, e.size, e.archive_id.clone()))
        .collect();
    let mut unique: HashMap<Hash, (u64, String)> = HashMap::new();
    for (sha, size, archive_id) in live {
        unique.entry(sha).or_insert((size, archive_id));
    }
    let total = unique.len();
    let mut jobs = Vec::with_capacity(total);
    for (sha, (size, archive_id)) in unique {
        let (object, _) = contents.get(&sha).ok_or_else(|| {
            format!(
                "archive {archive_id}: its content {} is not in the bucket",
                hash::to_hex(&sha)
            )
        })?;
        jobs.push((sha, size, object.clone(), kept.remove(object)));
    }
    drop(kept);
    let blobs_ref = &blobs;
    let mut restored = futures::stream::iter(jobs.into_iter().map(|(sha, size, object, kept)| {
        let bucket = bucket.clone();
        async move {
            let replica = match kept {
                Some(bytes) => Replica::Kept(bytes),
                None => Replica::InBucket(bucket.as_ref()),
            };
            let done = restore_content(replica, escrow, &object, &sha, size, blobs_ref).await?;
            Ok::<_, String>((sha, size, object, done))
        }
    }))
    .buffer_unordered(PARALLEL);
    let mut n = 0;
    while let Some(next) = restored.next().await {
        let (sha, size, object, (location, stored, fingerprint, inline)) = next?;
        n += 1;
        if n % 50 == 0 || n == total {
            progress(&format!("restoring contents: {n} of {total}"));
        }
        if let Some(content) = inline {
            final_batch.inline_blobs.push((sha, content));
        }
        replica_states.push((
            state::content_key(&sha),
            json(&ContentReplica {
                object,
                size: fingerprint.0,
                sha256: hash::to_hex(&fingerprint.1),
                uploaded_at: SystemClock.now_millis(),
            }),
        ));
        placed.insert(sha, (location, stored));
        report.contents += 1;
        report.content_bytes += size;
    }
    drop(restored);
    for entry in derived.archives.values_mut() {
        if let Some((location, stored)) = placed.get(&entry.content_sha256) {
            entry.blob = *location;
            entry.stored_size = *stored;
            final_batch
                .holders_added
                .push((entry.content_sha256, entry.archive_id.clone()));
        } else {
            report.eliminated += 1;
        }
    }
    report.archives = derived.archives.len() as u64;
    final_batch.archives = derived.archives.values().cloned().collect();
    final_batch.eliminations = derived.eliminations.values().cloned().collect();
    final_batch.tree_size = size;
    final_batch.checkpoint = store
        .checkpoint(size)
        .map_err(|e| e.to_string())?
        .ok_or("the restored log has no checkpoint")?;
    store.commit(final_batch).map_err(|e| e.to_string())?;
    replica_states.push((
        state::SECRETS.to_vec(),
        json(&SecretsReplica {
            generation,
            object: secrets_object,
            size: secrets_fingerprint.0,
            sha256: hash::to_hex(&secrets_fingerprint.1),
            payload_sha256: String::new(),
            uploaded_at: SystemClock.now_millis(),
        }),
    ));
    replica_states.push((state::THROUGH.to_vec(), size.to_be_bytes().to_vec()));
    store
        .update_replica_states(replica_states, vec![])
        .map_err(|e| e.to_string())?;

    // 5. Every seal, as an auditor would check it.
    progress("verifying every seal");
    let checkpoint = store
        .checkpoint(size)
        .map_err(|e| e.to_string())?
        .ok_or("the restored log has no checkpoint")?;
    report.checkpoint_size = size;
    let mut verifier = SealVerifier::new(key);
    for entry in derived.archives.values() {
        let record =
            crate::store::record(store.as_ref(), entry.log_index).map_err(|e| e.to_string())?;
        let proof =
            tree::inclusion_proof(&reader, entry.log_index, size).map_err(|e| e.to_string())?;
        let seal = Seal {
            record,
            index: entry.log_index,
            proof,
            checkpoint: checkpoint.clone(),
        };
        let verified = verifier.verify(&seal.to_text()).map_err(|e| {
            format!(
                "the seal of archive {} does not verify: {e}",
                entry.archive_id
            )
        })?;
        if verified.record.content_sha256 != entry.content_sha256 {
            return Err(format!(
                "archive {}: its seal names other content",
                entry.archive_id
            ));
        }
        report.seals_verified += 1;
    }
    progress("done");
    Ok(report)
}

async fn get_range(bucket: &dyn ObjectStore, name: &str, len: u64) -> Result<Vec<u8>, String> {
    let options = GetOptions {
        range: Some(GetRange::Bounded(0..len)),
        ..Default::default()
    };
    let result = bucket
        .get_opts(&Path::from(name), options)
        .await
        .map_err(|e| format!("cannot read object {name}: {e}"))?;
    Ok(result
        .bytes()
        .await
        .map_err(|e| format!("cannot read object {name}: {e}"))?
        .to_vec())
}

/// A whole (small) object, with its size and SHA-256.
async fn get_all(bucket: &dyn ObjectStore, name: &str) -> Result<(Vec<u8>, (u64, Hash)), String> {
    let bytes = bucket
        .get(&Path::from(name))
        .await
        .map_err(|e| format!("cannot read object {name}: {e}"))?
        .bytes()
        .await
        .map_err(|e| format!("cannot read object {name}: {e}"))?
        .to_vec();
    let fingerprint = (bytes.len() as u64, hash::sha256(&bytes));
    Ok((bytes, fingerprint))
}

fn decrypt_json<T: serde::de::DeserializeOwned>(
    escrow: &x25519::Identity,
    bytes: &[u8],
    name: &str,
) -> Result<T, String> {
    let (_, mut payload) =
        format::decrypt(escrow, bytes).map_err(|e| format!("object {name}: {e}"))?;
    let mut text = Vec::new();
    payload
        .read_to_end(&mut text)
        .map_err(|e| format!("object {name} is truncated or altered: {e}"))?;
    serde_json::from_slice(&text).map_err(|e| format!("object {name} is unreadable: {e}"))
}

/// The clear checkpoints, by size.
async fn clear_checkpoints(bucket: &dyn ObjectStore) -> Result<BTreeMap<u64, String>, String> {
    let listed: Vec<_> = bucket
        .list(Some(&Path::from(format::CHECKPOINTS.trim_end_matches('/'))))
        .try_collect()
        .await
        .map_err(|e| format!("cannot list checkpoints: {e}"))?;
    let names = listed.into_iter().filter_map(|meta| {
        let name = meta.location.to_string();
        let size = name
            .strip_prefix(format::CHECKPOINTS)
            .and_then(|s| s.parse::<u64>().ok())?;
        Some((size, name))
    });
    let mut fetched = futures::stream::iter(names.map(|(size, name)| async move {
        let (bytes, _) = get_all(bucket, &name).await?;
        let text =
            String::from_utf8(bytes).map_err(|_| format!("checkpoint {name} is not text"))?;
        Ok::<_, String>((size, text))
    }))
    .buffer_unordered(PARALLEL);
    let mut out = BTreeMap::new();
    while let Some(next) = fetched.next().await {
        let (size, text) = next?;
        out.insert(size, text);
    }
    Ok(out)
}

fn sign(signer: &dyn Signer, origin: &str, frontier: &Frontier) -> Result<String, String> {
    Checkpoint {
        origin: origin.to_owned(),
        size: frontier.size(),
        root: frontier.root(),
        extensions: Vec::new(),
    }
    .sign(signer)
    .map_err(|e| e.to_string())
}

/// A content's encrypted replica: already read whole, or to download.
enum Replica<'a> {
    Kept(Vec<u8>),
    InBucket(&'a dyn ObjectStore),
}

/// Decrypts and checks a content (downloading it if needed), and stores it
/// as a file, or returns it to go inline. Returns where, its stored size,
/// the ciphertext's fingerprint, and the inline bytes.
async fn restore_content(
    replica: Replica<'_>,
    escrow: &x25519::Identity,
    object: &str,
    sha: &Hash,
    size: u64,
    blobs: &BlobStore,
) -> Result<RestoredContent, String> {
    let (fingerprint, source, _tmp): (_, Box<dyn Read + Send>, _) = match replica {
        Replica::Kept(bytes) => {
            let fingerprint = (bytes.len() as u64, hash::sha256(&bytes));
            (fingerprint, Box::new(std::io::Cursor::new(bytes)), None)
        }
        Replica::InBucket(bucket) => {
            let (fingerprint, tmp) = download(bucket, object, sha, blobs).await?;
            let source = tmp.reopen().map_err(|e| e.to_string())?;
            (fingerprint, Box::new(source), Some(tmp))
        }
    };
    let (_, mut payload) =
        format::decrypt(escrow, source).map_err(|e| format!("object {object}: {e}"))?;
    let bad = || {
        format!(
            "object {object} does not hold content {}",
            hash::to_hex(sha)
        )
    };
    if size <= INLINE {
        let mut content = Vec::new();
        payload
            .read_to_end(&mut content)
            .map_err(|e| format!("object {object}: {e}"))?;
        if hash::sha256(&content) != *sha {
            return Err(bad());
        }
        return Ok((BlobLocation::Inline, size, fingerprint, Some(content)));
    }
    let mut writer = blobs.writer().map_err(|e| e.to_string())?;
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let n = payload
            .read(&mut buffer)
            .map_err(|e| format!("object {object}: {e}"))?;
        if n == 0 {
            break;
        }
        writer.write(&buffer[..n]).map_err(|e| e.to_string())?;
    }
    let staged = writer.finish().map_err(|e| e.to_string())?;
    if staged.sha256 != *sha {
        return Err(bad());
    }
    let placed = staged.place(blobs).map_err(|e| e.to_string())?;
    Ok((placed.location, placed.stored_size, fingerprint, None))
}

/// Downloads an object to a temporary file beside the blobs while hashing
/// the ciphertext: content can be far larger than memory.
async fn download(
    bucket: &dyn ObjectStore,
    object: &str,
    sha: &Hash,
    blobs: &BlobStore,
) -> Result<((u64, Hash), tempfile::NamedTempFile), String> {
    let tmp = tempfile::NamedTempFile::new_in(
        blobs
            .path(sha, BlobLocation::Raw)
            .parent()
            .unwrap_or(FsPath::new(".")),
    )
    .map_err(|e| format!("cannot create a temporary file: {e}"))?;
    let mut file = tmp.reopen().map_err(|e| e.to_string())?;
    let mut stream = bucket
        .get(&Path::from(object))
        .await
        .map_err(|e| format!("cannot read object {object}: {e}"))?
        .into_stream();
    let mut hasher = Sha256::new();
    let mut cipher_len = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| format!("cannot read object {object}: {e}"))?;
        hasher.update(&chunk);
        cipher_len += chunk.len() as u64;
        file.write_all(&chunk).map_err(|e| e.to_string())?;
    }
    Ok(((cipher_len, hasher.finalize().into()), tmp))
}

fn write_private(path: &FsPath, bytes: &[u8]) -> Result<(), String> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn set_private(dir: &FsPath, mode: u32) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode))
        .map_err(|e| format!("cannot restrict {}: {e}", dir.display()))
}

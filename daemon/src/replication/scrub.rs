//! The scrubber: fixity of every stored document and every replica, with
//! repairs both ways.
//!
//! 1. Every live content is re-hashed locally; a missing or corrupt one is
//!    restored from its replica (downloaded, decrypted with the replica
//!    key, its digest checked before it replaces anything).
//! 2. Every replica (content, segment, secrets) is fetched and its
//!    ciphertext hashed — without decrypting — against the size and digest
//!    recorded when it was uploaded; a missing or altered one is uploaded
//!    again from the local copy.
//! 3. Objects of the bucket that no state refers to (an upload cut by a
//!    crash) are removed, and so are local content files no archive holds
//!    (an elimination cut by a crash, an ingest whose commit failed) once
//!    they are an hour old.
//! 4. Anything not replicated yet is queued.
//!
//! The report's counts are recorded in the log by the caller.

use std::collections::HashSet;

use std::io::Read;
use std::time::{Duration, SystemTime};

use futures::TryStreamExt;
use minutier_seal::{hash, Hash};
use object_store::path::Path;
use serde::Serialize;

use super::format::{self, Header};
use super::replicator::{json, unjson, LocalContent};
use super::state::{self, ContentReplica, SecretsReplica, SegmentReplica};
use super::Replication;
use crate::blobs::BlobStore;
use crate::error::{Error, Result};
use crate::model::BlobLocation;
use crate::sequencer::{Clock, SystemClock};
use crate::store::{ListFilter, Store};

/// Local files no archive holds are removed only once this old: an ingest
/// places its file before its record commits.
const ORPHAN_AGE: Duration = Duration::from_secs(3600);

/// What a scrub found and did. Its canonical JSON is the scrub record's
/// document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ScrubReport {
    pub started_at: String,
    pub finished_at: String,
    /// Distinct live contents re-hashed.
    pub contents_checked: u64,
    pub contents_missing: u64,
    pub contents_corrupt: u64,
    /// Restored from their replica.
    pub contents_repaired: u64,
    /// Missing or corrupt with no usable replica (SHA-256, hex).
    pub contents_unrepairable: Vec<String>,
    /// Content, segment and secrets objects checked in the bucket.
    pub replicas_checked: u64,
    pub replicas_missing: u64,
    pub replicas_altered: u64,
    pub replicas_reuploaded: u64,
    pub bucket_orphans_removed: u64,
    pub local_orphans_removed: u64,
    /// Items queued because they were not replicated yet.
    pub queued: u64,
    /// Whether replication was configured (else only local checks ran).
    pub replication: bool,
}

/// Runs a scrub. Without replication, only the local checks run, and
/// damage can only be reported.
pub async fn scrub(
    store: &dyn Store,
    blobs: &BlobStore,
    replication: Option<&Replication>,
) -> Result<ScrubReport> {
    let started = SystemClock.now_millis();
    let mut report = ScrubReport {
        started_at: minutier_seal::record::Timestamp(started).to_string(),
        replication: replication.is_some(),
        ..Default::default()
    };
    let _guard = match replication {
        Some(r) => Some(r.exclusive.lock().await),
        None => None,
    };

    // 1. Local fixity, with repairs from replicas.
    let mut seen: HashSet<Hash> = HashSet::new();
    let mut after: Option<String> = None;
    loop {
        let page = store.list_archives(after.as_deref(), 1000, &ListFilter::default())?;
        let Some(last) = page.last() else { break };
        after = Some(last.archive_id.clone());
        for entry in page.iter().filter(|e| !e.is_eliminated()) {
            if !seen.insert(entry.content_sha256) {
                continue;
            }
            report.contents_checked += 1;
            let sha = entry.content_sha256;
            let damage = local_damage(store, blobs, &sha, entry.blob)?;
            let Some(missing) = damage else { continue };
            if missing {
                report.contents_missing += 1;
            } else {
                report.contents_corrupt += 1;
            }
            tracing::warn!(
                content = %hash::to_hex(&sha),
                archive = %entry.archive_id,
                state = if missing { "missing" } else { "corrupt" },
                "scrub: local copy damaged"
            );
            let repaired = match replication {
                Some(r) => match repair(r, store, blobs, &sha, entry.blob).await {
                    Ok(done) => done,
                    Err(e) => {
                        tracing::error!(content = %hash::to_hex(&sha), error = %e, "scrub: repair failed");
                        false
                    }
                },
                None => false,
            };
            if repaired {
                report.contents_repaired += 1;
            } else {
                report.contents_unrepairable.push(hash::to_hex(&sha));
            }
        }
    }

    // 3 (local). Files no archive holds.
    for (sha, location, modified) in blobs.files()? {
        let old = SystemTime::now()
            .duration_since(modified)
            .is_ok_and(|age| age >= ORPHAN_AGE);
        if old && store.content_holders(&sha)?.is_empty() && !seen.contains(&sha) {
            std::fs::remove_file(blobs.path(&sha, location))?;
            report.local_orphans_removed += 1;
        }
    }

    if let Some(r) = replication {
        check_replicas(r, store, &mut report).await?;
        drop(_guard);
        report.queued = r.catch_up()? as u64;
    }
    report.finished_at = minutier_seal::record::Timestamp(SystemClock.now_millis()).to_string();
    Ok(report)
}

/// None if the local copy is sound; Some(true) if missing, Some(false) if
/// corrupt.
fn local_damage(
    store: &dyn Store,
    blobs: &BlobStore,
    sha: &Hash,
    location: BlobLocation,
) -> Result<Option<bool>> {
    if location == BlobLocation::Inline {
        return Ok(match store.inline_blob(sha)? {
            None => Some(true),
            Some(bytes) => (hash::sha256(&bytes) != *sha).then_some(false),
        });
    }
    let mut reader = match blobs.reader(sha, location) {
        Ok(r) => r,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Some(true)),
        Err(_) => return Ok(Some(false)),
    };
    let mut hashing = super::replicator::HashingReader::new(&mut reader);
    if std::io::copy(&mut hashing, &mut std::io::sink()).is_err() {
        return Ok(Some(false));
    }
    let (actual, _) = hashing.finish();
    Ok((actual != *sha).then_some(false))
}

/// Restores a content from its replica; false if there is none.
async fn repair(
    r: &Replication,
    store: &dyn Store,
    blobs: &BlobStore,
    sha: &Hash,
    location: BlobLocation,
) -> Result<bool> {
    let Some(bytes) = store.replica_state(&state::content_key(sha))? else {
        return Ok(false);
    };
    let replica: ContentReplica = unjson(&bytes)?;
    let tmp = r.download(&replica.object).await?;
    let outcome = (|| -> Result<bool> {
        let file = std::fs::File::open(&tmp)?;
        let (header, mut payload) = format::decrypt(&r.identity, file).map_err(Error::DataLoss)?;
        if header
            != (Header::Content {
                version: format::VERSION,
                sha256: hash::to_hex(sha),
            })
        {
            return Err(Error::DataLoss(format!(
                "the replica of content {} holds something else",
                hash::to_hex(sha)
            )));
        }
        if location == BlobLocation::Inline {
            let mut content = Vec::new();
            payload.read_to_end(&mut content)?;
            if hash::sha256(&content) != *sha {
                return Err(Error::DataLoss(format!(
                    "the replica of content {} does not match its digest",
                    hash::to_hex(sha)
                )));
            }
            store.put_inline_blob(sha, &content)?;
            return Ok(true);
        }
        let mut writer = blobs.writer()?;
        let mut buffer = vec![0u8; 1 << 20];
        loop {
            let n = payload.read(&mut buffer)?;
            if n == 0 {
                break;
            }
            writer.write(&buffer[..n])?;
        }
        let staged = writer.finish()?;
        if staged.sha256 != *sha {
            return Err(Error::DataLoss(format!(
                "the replica of content {} does not match its digest",
                hash::to_hex(sha)
            )));
        }
        let placed = staged.replace(blobs)?;
        if placed.location != location {
            return Err(Error::Storage(format!(
                "content {} was restored as {:?} but is indexed as {location:?}",
                hash::to_hex(sha),
                placed.location
            )));
        }
        Ok(true)
    })();
    let _ = std::fs::remove_file(&tmp);
    if outcome.as_ref().is_ok_and(|done| *done) {
        tracing::info!(content = %hash::to_hex(sha), "scrub: repaired from the replica");
    }
    outcome
}

/// Checks each replica's ciphertext against what was recorded; uploads
/// again what is missing or altered; removes unreferenced objects.
async fn check_replicas(
    r: &Replication,
    store: &dyn Store,
    report: &mut ScrubReport,
) -> Result<()> {
    let mut referenced: HashSet<String> = HashSet::new();

    for (key, value) in store.replica_states(state::CONTENTS, None, usize::MAX)? {
        let replica: ContentReplica = unjson(&value)?;
        let sha: Hash = key[state::CONTENTS.len()..]
            .try_into()
            .map_err(|_| Error::Storage("corrupt replication state key".into()))?;
        report.replicas_checked += 1;
        if verdict(r, &replica.object, replica.size, &replica.sha256, report).await? {
            referenced.insert(replica.object);
            continue;
        }
        match r.local_content(&sha)? {
            Some(LocalContent::Inline(_)) | Some(LocalContent::File(_)) => {
                if let Some(new) = r.upload_content(&sha).await? {
                    referenced.insert(new.object.clone());
                    store.update_replica_states(vec![(key, json(&new))], vec![])?;
                    r.delete(&replica.object).await?;
                    report.replicas_reuploaded += 1;
                }
            }
            None => {
                referenced.insert(replica.object);
            }
        }
    }

    for (key, value) in store.replica_states(state::SEGMENTS, None, usize::MAX)? {
        let replica: SegmentReplica = unjson(&value)?;
        let from = u64::from_be_bytes(
            key[state::SEGMENTS.len()..]
                .try_into()
                .map_err(|_| Error::Storage("corrupt replication state key".into()))?,
        );
        report.replicas_checked += 1;
        if verdict(r, &replica.object, replica.size, &replica.sha256, report).await? {
            referenced.insert(replica.object);
            continue;
        }
        let new = r.upload_segment(from, replica.to).await?;
        r.upload_checkpoint(replica.to).await?;
        referenced.insert(new.object.clone());
        store.update_replica_states(vec![(key, json(&new))], vec![])?;
        r.delete(&replica.object).await?;
        report.replicas_reuploaded += 1;
    }

    if let Some(value) = store.replica_state(state::SECRETS)? {
        let replica: SecretsReplica = unjson(&value)?;
        report.replicas_checked += 1;
        if verdict(r, &replica.object, replica.size, &replica.sha256, report).await? {
            referenced.insert(replica.object);
        } else {
            // A new generation, uploaded at once.
            r.refresh_secrets_locked(true).await?;
            report.replicas_reuploaded += 1;
        }
    }
    if let Some(value) = store.replica_state(state::SECRETS)? {
        referenced.insert(unjson::<SecretsReplica>(&value)?.object);
    }

    // Unreferenced objects: uploads cut by a crash before their state was
    // written. The replicator is paused while this runs.
    let listed: Vec<_> = r
        .bucket
        .list(Some(&Path::from(format::OBJECTS.trim_end_matches('/'))))
        .try_collect()
        .await
        .map_err(super::replicator::bucket_error)?;
    for meta in listed {
        let name = meta.location.to_string();
        if !referenced.contains(&name) {
            r.delete(&name).await?;
            report.bucket_orphans_removed += 1;
        }
    }
    Ok(())
}

/// Whether the object is there with the recorded size and digest; counts
/// what is wrong.
async fn verdict(
    r: &Replication,
    object: &str,
    size: u64,
    sha256: &str,
    report: &mut ScrubReport,
) -> Result<bool> {
    match r.fingerprint(object).await? {
        None => {
            tracing::warn!(object, "scrub: replica missing from the bucket");
            report.replicas_missing += 1;
            Ok(false)
        }
        Some((actual_size, actual_sha)) => {
            if actual_size == size && hash::to_hex(&actual_sha) == sha256 {
                Ok(true)
            } else {
                tracing::warn!(object, "scrub: replica altered in the bucket");
                report.replicas_altered += 1;
                Ok(false)
            }
        }
    }
}

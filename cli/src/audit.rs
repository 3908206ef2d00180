//! The auditor's commands: `verify` (offline) and `consistency`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use minutier_proto::v1::GetConsistencyProofRequest;
use minutier_seal::checkpoint::Checkpoint;
use minutier_seal::hash::to_hex;
use minutier_seal::note::VerifierKey;
use minutier_seal::verify::SealVerifier;
use minutier_seal::Hash;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::client::{self, connect, Target};
use crate::error::{rpc, usage};
use crate::ingest::walk;
use crate::output::print_json;

/// Read size when hashing a file; memory stays constant.
const READ_SIZE: usize = 256 * 1024;

// ---------------------------------------------------------------- verify

#[derive(Serialize)]
struct VerifyJson {
    ok: bool,
    file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    details: Option<VerifiedJson>,
}

#[derive(Serialize)]
struct VerifiedJson {
    archive_id: String,
    log_index: u64,
    origin: String,
    checkpoint_size: u64,
    sealed_at: String,
    actor: String,
    content_sha256: String,
    size: u64,
}

/// Checks `file` against `seal` under `key`, with no network access at all:
/// this is what an auditor runs, possibly decades later, on another machine.
pub async fn verify(json: bool, file: &Path, seal: &Path, key: &str) -> anyhow::Result<ExitCode> {
    // Everything that is a problem with the inputs (not with the evidence)
    // is a usage error, exit 2.
    let keys = load_keys(key)?;
    let seal_bytes = std::fs::read(seal)
        .map_err(|e| usage(format!("cannot read seal {}: {e}", seal.display())))?;
    let (sha256, size) =
        hash_file(file).map_err(|e| usage(format!("cannot read {}: {e:#}", file.display())))?;

    // From here on, any problem is a verification failure, exit 1.
    let outcome = String::from_utf8(seal_bytes)
        .map_err(|_| "the seal is not UTF-8 text".to_owned())
        .and_then(|text| {
            verifier(keys)
                .verify_document(&text, &sha256, size)
                .map_err(|e| e.to_string())
        });
    let shown = file.display().to_string();
    match outcome {
        Ok(v) => {
            let details = VerifiedJson {
                archive_id: v.record.archive_id.to_string(),
                log_index: v.index,
                origin: v.checkpoint.origin.to_string(),
                checkpoint_size: v.checkpoint.size,
                sealed_at: v.record.time.to_string(),
                actor: v.record.actor.to_string(),
                content_sha256: to_hex(&sha256),
                size,
            };
            if json {
                print_json(&VerifyJson {
                    ok: true,
                    file: shown,
                    error: None,
                    details: Some(details),
                });
            } else {
                println!(
                    "OK  {shown} is archive {}, record {} of log {} (size {}), sealed {} by {}",
                    details.archive_id,
                    details.log_index,
                    details.origin,
                    details.checkpoint_size,
                    details.sealed_at,
                    details.actor
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            if json {
                print_json(&VerifyJson {
                    ok: false,
                    file: shown,
                    error: Some(error),
                    details: None,
                });
            } else {
                println!("FAILED  {shown}: {error}");
            }
            Ok(ExitCode::from(1))
        }
    }
}

#[derive(Serialize)]
struct VerifyTreeJson {
    verified: usize,
    failed: Vec<FailedJson>,
    seconds: f64,
}

#[derive(Serialize)]
struct FailedJson {
    path: String,
    error: String,
}

/// Verifies every document under `paths` against its seal under `seal_dir`
/// (the layout `ingest --seal-dir` writes), offline. Seals that share a
/// checkpoint cost one signature check between them.
pub fn verify_tree(
    json: bool,
    paths: &[PathBuf],
    seal_dir: &Path,
    key: &str,
) -> anyhow::Result<ExitCode> {
    let keys = load_keys(key)?;
    if !seal_dir.is_dir() {
        return Err(usage(format!(
            "--seal-dir {} is not a directory",
            seal_dir.display()
        )));
    }
    let started = Instant::now();
    let inputs = walk::collect(paths);
    let mut verifier = verifier(keys);
    let mut failed: Vec<FailedJson> = inputs
        .failures
        .iter()
        .map(|f| FailedJson {
            path: f.path.display().to_string(),
            error: f.error.clone(),
        })
        .collect();
    let mut verified = 0;
    let mut buf = vec![0u8; READ_SIZE];
    for file in &inputs.files {
        let seal_path = seal_dir.join(&file.seal_name);
        let outcome = std::fs::read_to_string(&seal_path)
            .map_err(|e| format!("no readable seal at {}: {e}", seal_path.display()))
            .and_then(|seal| {
                let (sha256, size) = hash_file_with(&file.path, &mut buf)
                    .map_err(|e| format!("cannot read: {e:#}"))?;
                verifier
                    .verify_document(&seal, &sha256, size)
                    .map_err(|e| e.to_string())
            });
        match outcome {
            Ok(_) => verified += 1,
            Err(error) => {
                if !json {
                    println!("FAILED  {}: {error}", file.path.display());
                }
                failed.push(FailedJson {
                    path: file.path.display().to_string(),
                    error,
                });
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let failures = failed.len();
    if json {
        print_json(&VerifyTreeJson {
            verified,
            failed,
            seconds,
        });
    } else {
        println!(
            "{verified} documents verified, {failures} failed, in {seconds:.2} s ({:.0} per second)",
            verified as f64 / seconds.max(1e-9)
        );
    }
    // Nothing verified is not a success: the auditor pointed at the wrong place.
    Ok(if failures > 0 || verified == 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// A verifier key given inline (`<origin>+<hex id>+<base64>`) or as a path
/// to a file holding it; for a file listing a log's key history, its
/// current (last) key. An unusable key is a usage error.
pub(crate) fn load_key(arg: &str) -> anyhow::Result<VerifierKey> {
    let mut keys = load_keys(arg)?;
    Ok(keys.pop().expect("load_keys returns at least one key"))
}

/// The verifier keys given inline (one key) or as a path to a file holding
/// one, or a log's key history: one key per line, oldest first, the
/// current key last (the daemon's `verifier.key` after key rotations).
pub(crate) fn load_keys(arg: &str) -> anyhow::Result<Vec<VerifierKey>> {
    if let Ok(key) = VerifierKey::parse(arg.trim()) {
        return Ok(vec![key]);
    }
    let text = std::fs::read_to_string(arg).map_err(|e| {
        usage(format!(
            "--key {arg:?} is neither a verifier key nor a readable key file: {e}"
        ))
    })?;
    minutier_seal::note::parse_verifier_keys(&text)
        .map_err(|e| usage(format!("key file {arg} does not hold verifier keys: {e}")))
}

/// A seal verifier trusting `keys` (at least one).
fn verifier(keys: Vec<VerifierKey>) -> SealVerifier {
    SealVerifier::with_keys(keys).expect("load_keys returns at least one key")
}

/// SHA-256 and size of a file, streamed.
fn hash_file(path: &Path) -> anyhow::Result<(Hash, u64)> {
    hash_file_with(path, &mut vec![0u8; READ_SIZE])
}

/// [`hash_file`] with a caller's read buffer, so that verifying thousands
/// of small documents does not allocate and zero one per file.
fn hash_file_with(path: &Path, buf: &mut [u8]) -> anyhow::Result<(Hash, u64)> {
    let mut file = std::fs::File::open(path)?;
    if file.metadata()?.is_dir() {
        anyhow::bail!("is a directory");
    }
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    loop {
        let n = match file.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((hasher.finalize().into(), size))
}

// ---------------------------------------------------------------- consistency

#[derive(Serialize)]
struct ConsistencyJson {
    consistent: bool,
    /// "argument" (the auditor's own copy) or "server".
    key_source: &'static str,
    old_size: Option<u64>,
    new_size: Option<u64>,
    origin: Option<String>,
    old_root: Option<String>,
    new_root: Option<String>,
    new_checkpoint: Option<String>,
    error: Option<String>,
}

/// Checks that the server's current log extends the one `old` describes:
/// nothing recorded then was changed or removed since.
pub async fn consistency(
    server: &Target,
    json: bool,
    old: &Path,
    key: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let old_text = std::fs::read_to_string(old)
        .map_err(|e| usage(format!("cannot read checkpoint {}: {e}", old.display())))?;
    let trusted_key = key.map(load_keys).transpose()?;

    let mut client = connect(server).await?;
    let latest = client::latest_checkpoint(&mut client).await?;
    let key_source = if trusted_key.is_some() {
        "argument"
    } else {
        "server"
    };
    let mut report = ConsistencyJson {
        consistent: false,
        key_source,
        old_size: None,
        new_size: None,
        origin: None,
        old_root: None,
        new_root: None,
        new_checkpoint: None,
        error: None,
    };
    if !json && trusted_key.is_none() {
        println!(
            "note: verifier key taken from the server; pass --key with your own copy \
             for an independent check"
        );
    }

    let result = check_consistency(&mut client, trusted_key, &latest, &old_text, &mut report).await;
    match result {
        Ok(()) => {
            report.consistent = true;
            if json {
                print_json(&report);
            } else {
                println!(
                    "consistent: {} -> {}",
                    report.old_size.unwrap_or_default(),
                    report.new_size.unwrap_or_default()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(Failure::Verification(error)) => {
            if json {
                report.error = Some(error);
                print_json(&report);
            } else {
                println!("FAILED  {}: {error}", old.display());
            }
            Ok(ExitCode::from(1))
        }
        // gRPC and connection errors are not evidence of inconsistency.
        Err(Failure::Other(e)) => Err(e),
    }
}

enum Failure {
    /// The evidence does not check out.
    Verification(String),
    /// The check could not be carried out.
    Other(anyhow::Error),
}

async fn check_consistency(
    client: &mut client::Client,
    trusted_key: Option<Vec<VerifierKey>>,
    latest: &client::ServerCheckpoint,
    old_text: &str,
    report: &mut ConsistencyJson,
) -> Result<(), Failure> {
    let failed = |msg: String| Failure::Verification(msg);
    // Without --key, the server's keys: its current one and, after key
    // rotations, the earlier ones that signed older checkpoints.
    let keys = match trusted_key {
        Some(keys) => keys,
        None => latest
            .verifier_keys()
            .into_iter()
            .map(|text| {
                VerifierKey::parse(text).map_err(|e| {
                    failed(format!(
                        "the server's verifier key {text:?} is invalid: {e}"
                    ))
                })
            })
            .collect::<Result<_, _>>()?,
    };
    let old_size = Checkpoint::parse_unverified(old_text)
        .map_err(|e| failed(format!("the old checkpoint is not a checkpoint: {e}")))?
        .size;
    report.old_size = Some(old_size);
    // A log that got shorter was rolled back or forked: that is the very
    // thing this command exists to catch, not a mere server error.
    if latest.size < old_size {
        return Err(failed(format!(
            "the server's latest checkpoint has size {}, smaller than the old checkpoint's {old_size}",
            latest.size
        )));
    }

    let resp = rpc(client
        .get_consistency_proof(GetConsistencyProofRequest {
            old_size,
            new_size: 0,
        })
        .await)
    .map_err(Failure::Other)?;
    report.new_checkpoint = Some(resp.new_checkpoint.clone());
    let proof: Vec<Hash> = resp
        .proof
        .iter()
        .enumerate()
        .map(|(i, h)| {
            <Hash>::try_from(h.as_slice())
                .map_err(|_| failed(format!("proof hash {i} is {} bytes long, not 32", h.len())))
        })
        .collect::<Result<_, _>>()?;

    let (old_cp, new_cp) = verifier(keys)
        .verify_consistency(old_text, &resp.new_checkpoint, &proof)
        .map_err(|e| failed(e.to_string()))?;
    report.old_size = Some(old_cp.size);
    report.new_size = Some(new_cp.size);
    report.origin = Some(new_cp.origin.to_string());
    report.old_root = Some(to_hex(&old_cp.root));
    report.new_root = Some(to_hex(&new_cp.root));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_hash_is_streamed_sha256() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("f");
        let content = vec![7u8; READ_SIZE + 10];
        std::fs::write(&path, &content).unwrap();
        let (sha, size) = hash_file(&path).unwrap();
        assert_eq!(size, content.len() as u64);
        assert_eq!(sha, <[u8; 32]>::from(Sha256::digest(&content)));
        assert!(hash_file(tmp.path()).is_err());
    }

    #[test]
    fn unreadable_key_is_a_usage_error() {
        let err = load_key("/nonexistent/key").unwrap_err();
        assert!(err.downcast_ref::<crate::error::Usage>().is_some());
    }
}

//! `minutier proof-report`: the probative value of archives, checked now,
//! written down for an auditor's file (JSON, and a French HTML page).
//!
//! For each archive, every check is done here, by the client, from what the
//! server serves: the content read back against the sealed record, the
//! record's inclusion in a checkpoint, the checkpoint's signature, that
//! checkpoint's consistency with the latest one (and with a checkpoint the
//! auditor kept), the replicas, and the RFC 3161 time-stamp that proves the
//! record existed at a given time.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{anyhow, Context};
use minutier_proto::v1::{
    GetCheckpointRequest, GetConsistencyProofRequest, GetMetadataRequest, GetRequest,
    GetSealRequest, ReplicationStatusRequest,
};
use minutier_seal::checkpoint::Checkpoint;
use minutier_seal::note::VerifierKey;
use minutier_seal::verify::SealVerifier;
use minutier_seal::{hash, Hash};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::audit::load_keys;
use crate::client::{self, connect, connect_replication, Client, Target};
use crate::error::rpc;
use crate::output::{print_json, table};
use crate::timestamps;

/// Outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Pass,
    Fail,
    /// Could not be checked (nothing to check against, or not allowed);
    /// the detail says why. Never counted as a pass.
    NotChecked,
}

#[derive(Debug, Serialize)]
struct Check {
    name: &'static str,
    outcome: Outcome,
    detail: String,
}

#[derive(Debug, Serialize)]
struct ArchiveReport {
    archive_id: String,
    title: String,
    originating_agency: String,
    content_sha256: String,
    size: u64,
    log_index: u64,
    ingested_at: String,
    state: String,
    seal_checkpoint_size: Option<u64>,
    checks: Vec<Check>,
}

#[derive(Debug, Serialize)]
struct Report {
    generated_at: String,
    server: String,
    origin: String,
    verifier_key: String,
    /// "argument": the auditor's own copy; "server": as the server states it.
    key_source: &'static str,
    latest_checkpoint_size: u64,
    latest_checkpoint: String,
    kept_checkpoint_size: Option<u64>,
    tsa_ca: Option<String>,
    archives: Vec<ArchiveReport>,
    passed: usize,
    failed: usize,
    not_checked: usize,
}

/// What the auditor brings.
pub struct Options<'a> {
    pub key: Option<&'a str>,
    /// A checkpoint the auditor kept from earlier.
    pub kept_checkpoint: Option<&'a Path>,
    /// The TSA's CA certificate, to verify tokens with `openssl ts -verify`.
    pub tsa_ca: Option<&'a Path>,
    pub html: Option<&'a Path>,
}

pub async fn run(
    target: &Target,
    json: bool,
    ids: &[String],
    options: Options<'_>,
) -> anyhow::Result<ExitCode> {
    let kept = options
        .kept_checkpoint
        .map(|p| std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display())))
        .transpose()?;
    let mut client = connect(target).await?;
    let stated = client::latest_checkpoint(&mut client).await?;
    // The log's key, or its key history after rotations (the current
    // key last).
    let (keys, key_source) = match options.key {
        Some(k) => (load_keys(k)?, "argument"),
        None => (stated.parsed_keys()?, "server"),
    };
    let key = keys.last().expect("at least one key").clone();
    let mut replication = connect_replication(target).await?;
    let (stamps, _) = timestamps::fetch_all(&mut replication).await?;

    let mut verifier = SealVerifier::with_keys(keys)?;
    let mut archives = Vec::with_capacity(ids.len());
    for id in ids {
        archives.push(
            check_archive(
                &mut client,
                &mut replication,
                &mut verifier,
                &stamps,
                id,
                kept.as_deref(),
                options.tsa_ca,
            )
            .await?,
        );
    }
    // Consistency with the latest checkpoint, taken after every read (the
    // reads themselves are records).
    let latest = client::latest_checkpoint(&mut client).await?;
    for a in &mut archives {
        if let Some(size) = a.seal_checkpoint_size {
            let check = consistency(&mut client, &mut verifier, size, &latest.checkpoint).await;
            a.checks.insert(4, check);
        }
    }

    let count = |o: Outcome| {
        archives
            .iter()
            .flat_map(|a| &a.checks)
            .filter(|c| c.outcome == o)
            .count()
    };
    let report = Report {
        generated_at: minutier_seal::record::Timestamp(now_millis()).to_string(),
        server: target.server.clone().unwrap_or_else(|| "(default)".into()),
        origin: key.name.clone(),
        verifier_key: key.to_string(),
        key_source,
        latest_checkpoint_size: latest.size,
        latest_checkpoint: latest.checkpoint.clone(),
        kept_checkpoint_size: kept
            .as_deref()
            .and_then(|k| Checkpoint::parse_unverified(k).ok())
            .map(|c| c.size),
        tsa_ca: options.tsa_ca.map(|p| p.display().to_string()),
        passed: count(Outcome::Pass),
        failed: count(Outcome::Fail),
        not_checked: count(Outcome::NotChecked),
        archives,
    };
    if let Some(path) = options.html {
        std::fs::write(path, html(&report))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if json {
        print_json(&report);
    } else {
        print!("{}", text(&report, options.html));
    }
    Ok(if report.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn pass(name: &'static str, detail: String) -> Check {
    Check {
        name,
        outcome: Outcome::Pass,
        detail,
    }
}

fn fail(name: &'static str, detail: String) -> Check {
    Check {
        name,
        outcome: Outcome::Fail,
        detail,
    }
}

fn not_checked(name: &'static str, detail: String) -> Check {
    Check {
        name,
        outcome: Outcome::NotChecked,
        detail,
    }
}

#[allow(clippy::too_many_arguments)]
async fn check_archive(
    client: &mut Client,
    replication: &mut minutier_proto::v1::replication_client::ReplicationClient<
        tonic::transport::Channel,
    >,
    verifier: &mut SealVerifier,
    stamps: &[minutier_proto::v1::CheckpointTimestamp],
    id: &str,
    kept: Option<&str>,
    tsa_ca: Option<&Path>,
) -> anyhow::Result<ArchiveReport> {
    let info = rpc(client
        .get_metadata(GetMetadataRequest {
            archive_id: id.to_owned(),
        })
        .await)
    .with_context(|| format!("archive {id}"))?;
    let metadata = info.metadata.clone().unwrap_or_default();
    let mut report = ArchiveReport {
        archive_id: info.archive_id.clone(),
        title: metadata.title,
        originating_agency: metadata.originating_agency,
        content_sha256: info.content_sha256.clone(),
        size: info.size,
        log_index: info.log_index,
        ingested_at: info.ingested_at.clone(),
        state: info.state.clone(),
        seal_checkpoint_size: None,
        checks: Vec::new(),
    };
    let sealed_sha: Hash = hash::from_hex(&info.content_sha256)
        .map_err(|e| anyhow!("archive {id}: the server gave a bad digest: {e}"))?;

    // 1. The content, read back and hashed here.
    report.checks.push(match read_content(client, id).await {
        Ok((sha, size)) if sha == sealed_sha && size == info.size => pass(
            "content",
            format!(
                "read back: {size} bytes, SHA-256 {}, as sealed",
                hash::to_hex(&sha)
            ),
        ),
        Ok((sha, size)) => fail(
            "content",
            format!(
                "read back {size} bytes with SHA-256 {}, but the record seals {} bytes with {}",
                hash::to_hex(&sha),
                info.size,
                info.content_sha256
            ),
        ),
        Err(e) if info.state == "eliminated" => not_checked(
            "content",
            format!("the archive was eliminated; its content is gone by law ({e})"),
        ),
        Err(e) => fail("content", format!("cannot be read back: {e}")),
    });

    // 2-3. The seal: inclusion of the record, signature of the checkpoint.
    let seal = rpc(client
        .get_seal(GetSealRequest {
            archive_id: id.to_owned(),
        })
        .await)?;
    let checkpoint_text = minutier_seal::proof::Seal::parse(&seal.seal)
        .map(|s| s.checkpoint)
        .unwrap_or_default();
    match verifier.open_checkpoint(&checkpoint_text) {
        Ok(cp) => {
            report.seal_checkpoint_size = Some(cp.size);
            report.checks.push(pass(
                "checkpoint-signature",
                format!(
                    "checkpoint of size {} signed by {}",
                    cp.size,
                    verifier.key().name
                ),
            ));
        }
        Err(e) => report.checks.push(fail(
            "checkpoint-signature",
            format!("does not verify: {e}"),
        )),
    }
    report.checks.push(match verifier.verify_document(&seal.seal, &sealed_sha, info.size) {
        Ok(v) => pass(
            "inclusion",
            format!(
                "record {} ({}, {} by {}) is in the checkpoint of size {} (Merkle audit path of {} hashes)",
                v.index,
                v.record.kind,
                v.record.time,
                v.record.actor,
                v.checkpoint.size,
                minutier_seal::proof::Seal::parse(&seal.seal)
                    .map(|s| s.proof.len())
                    .unwrap_or_default()
            ),
        ),
        Err(e) => fail("inclusion", format!("the seal does not verify: {e}")),
    });

    // 4. Consistency with a checkpoint the auditor kept.
    report
        .checks
        .push(match (kept, report.seal_checkpoint_size) {
            (None, _) => not_checked(
                "consistency-with-kept-checkpoint",
                "no checkpoint kept from earlier was given (--checkpoint)".into(),
            ),
            (Some(_), None) => fail(
                "consistency-with-kept-checkpoint",
                "the seal's checkpoint does not verify".into(),
            ),
            (Some(kept), Some(size)) => consistency_from(client, verifier, kept, size).await,
        });

    // 5. Replicas.
    report.checks.push(
        match rpc(replication
            .get_replication_status(ReplicationStatusRequest {
                archive_id: id.to_owned(),
            })
            .await)
        {
            Ok(s) if !s.enabled => not_checked(
                "replica",
                "replication is off on this appliance".into(),
            ),
            // The sealed record and the content: later records (reads,
            // this very report's) follow in their own time.
            Ok(s) => match s.archive {
                Some(a) if s.replicated_log_size > info.log_index
                    && (a.content_replicated || a.eliminated) =>
                {
                    pass(
                        "replica",
                        format!(
                            "an encrypted copy of the {} and of record {} is in bucket {} \
                             (replicated log: {} records of {})",
                            if a.eliminated { "tombstone" } else { "content" },
                            info.log_index,
                            s.bucket,
                            s.replicated_log_size,
                            s.log_size
                        ),
                    )
                }
                Some(a) => fail(
                    "replica",
                    format!(
                        "not yet fully replicated to bucket {} (content: {}, record {}: {}); {} items queued",
                        s.bucket,
                        if a.content_replicated { "yes" } else { "no" },
                        info.log_index,
                        if s.replicated_log_size > info.log_index { "yes" } else { "no" },
                        s.queued
                    ),
                ),
                None => fail("replica", "the appliance has no replication state for it".into()),
            },
            Err(e) => not_checked("replica", format!("the status could not be read: {e}")),
        },
    );

    // 6. The first time-stamp whose checkpoint holds the record.
    report.checks.push(
        timestamp(
            client,
            verifier,
            stamps,
            info.log_index,
            report.seal_checkpoint_size,
            tsa_ca,
        )
        .await,
    );
    Ok(report)
}

async fn read_content(client: &mut Client, id: &str) -> anyhow::Result<(Hash, u64)> {
    let mut stream = rpc(client
        .get(GetRequest {
            archive_id: id.to_owned(),
        })
        .await)?;
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    while let Some(message) = stream
        .message()
        .await
        .map_err(|s| anyhow!("{}", s.message()))?
    {
        hasher.update(&message.chunk);
        size += message.chunk.len() as u64;
    }
    Ok((hasher.finalize().into(), size))
}

/// Consistency of the checkpoint of size `old_size` with `latest`.
async fn consistency(
    client: &mut Client,
    verifier: &mut SealVerifier,
    old_size: u64,
    latest: &str,
) -> Check {
    const NAME: &str = "consistency-with-latest";
    let old = match rpc(client
        .get_checkpoint(GetCheckpointRequest { size: old_size })
        .await)
    {
        Ok(c) => c.checkpoint,
        Err(e) => return fail(NAME, format!("the checkpoint of size {old_size}: {e}")),
    };
    let new_size = match Checkpoint::parse_unverified(latest) {
        Ok(c) => c.size,
        Err(e) => return fail(NAME, format!("the latest checkpoint is unreadable: {e}")),
    };
    match prove(client, verifier, &old, latest, old_size, new_size).await {
        Ok(detail) => pass(NAME, detail),
        Err(e) => fail(NAME, e),
    }
}

/// Consistency of a checkpoint the auditor kept with the seal's.
async fn consistency_from(
    client: &mut Client,
    verifier: &mut SealVerifier,
    kept: &str,
    seal_size: u64,
) -> Check {
    const NAME: &str = "consistency-with-kept-checkpoint";
    let kept_size = match Checkpoint::parse_unverified(kept) {
        Ok(c) => c.size,
        Err(e) => return fail(NAME, format!("the kept checkpoint is unreadable: {e}")),
    };
    if kept_size > seal_size {
        return not_checked(
            NAME,
            format!(
                "the kept checkpoint (size {kept_size}) is newer than the seal's ({seal_size})"
            ),
        );
    }
    let new = match rpc(client
        .get_checkpoint(GetCheckpointRequest { size: seal_size })
        .await)
    {
        Ok(c) => c.checkpoint,
        Err(e) => return fail(NAME, e.to_string()),
    };
    match prove(client, verifier, kept, &new, kept_size, seal_size).await {
        Ok(detail) => pass(NAME, detail),
        Err(e) => fail(NAME, e),
    }
}

async fn prove(
    client: &mut Client,
    verifier: &mut SealVerifier,
    old: &str,
    new: &str,
    old_size: u64,
    new_size: u64,
) -> Result<String, String> {
    if old_size == new_size {
        return if old.trim() == new.trim() {
            verifier
                .open_checkpoint(new)
                .map(|_| format!("the same checkpoint (size {new_size})"))
                .map_err(|e| e.to_string())
        } else {
            Err(format!(
                "two different checkpoints of the same size {new_size}: the log was forked"
            ))
        };
    }
    if old_size == 0 {
        return Ok("the empty tree is a prefix of every tree".into());
    }
    let resp = rpc(client
        .get_consistency_proof(GetConsistencyProofRequest { old_size, new_size })
        .await)
    .map_err(|e| e.to_string())?;
    let proof: Vec<Hash> = resp
        .proof
        .iter()
        .map(|h| {
            <Hash>::try_from(h.as_slice()).map_err(|_| "a proof hash is not 32 bytes".to_owned())
        })
        .collect::<Result<_, _>>()?;
    verifier
        .verify_consistency(old, new, &proof)
        .map(|(o, n)| {
            format!(
                "the log of size {} extends the log of size {} (consistency proof of {} hashes)",
                n.size,
                o.size,
                proof.len()
            )
        })
        .map_err(|e| format!("the log was NOT only appended to: {e}"))
}

async fn timestamp(
    client: &mut Client,
    verifier: &mut SealVerifier,
    stamps: &[minutier_proto::v1::CheckpointTimestamp],
    log_index: u64,
    seal_size: Option<u64>,
    tsa_ca: Option<&Path>,
) -> Check {
    const NAME: &str = "timestamp";
    let Some(stamp) = stamps.iter().find(|t| t.checkpoint_size > log_index) else {
        return not_checked(
            NAME,
            match stamps.last() {
                None => "no RFC 3161 time-stamp was recorded (no TSA configured, or none yet)"
                    .into(),
                Some(t) => format!(
                    "no time-stamp covers record {log_index} yet (the latest covers the log up to size {}); \
                     the next one will",
                    t.checkpoint_size
                ),
            },
        );
    };
    let keys: Vec<VerifierKey> = verifier.keys().cloned().collect();
    let checked = match timestamps::check(stamp, &keys) {
        Ok(c) => c,
        Err(e) => return fail(NAME, e),
    };
    // The time-stamped log is a prefix of the seal's: the record was in it.
    let Some(seal_size) = seal_size else {
        return fail(NAME, "the seal's checkpoint does not verify".into());
    };
    let seal_checkpoint = match rpc(client
        .get_checkpoint(GetCheckpointRequest { size: seal_size })
        .await)
    {
        Ok(c) => c.checkpoint,
        Err(e) => return fail(NAME, e.to_string()),
    };
    if let Err(e) = prove(
        client,
        verifier,
        &checked.checkpoint,
        &seal_checkpoint,
        checked.checkpoint_size,
        seal_size,
    )
    .await
    {
        return fail(NAME, format!("the time-stamped checkpoint: {e}"));
    }
    let when = format!(
        "the log holding record {log_index} (size {}) was time-stamped at {} by {} (serial {})",
        checked.checkpoint_size, checked.gen_time, checked.tsa, checked.serial
    );
    let Some(ca) = tsa_ca else {
        return not_checked(
            NAME,
            format!(
                "{when}; the token's signature was not checked: give the TSA's CA with --tsa-ca"
            ),
        );
    };
    match openssl_verify(&checked, ca) {
        Ok(()) => pass(
            NAME,
            format!("{when}; `openssl ts -verify` accepts the token"),
        ),
        Err(e) => fail(
            NAME,
            format!("{when}; but `openssl ts -verify` refuses the token: {e}"),
        ),
    }
}

/// Runs `openssl ts -verify` on the checkpoint and its token.
fn openssl_verify(checked: &timestamps::Checked, ca: &Path) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let data: PathBuf = dir.path().join("checkpoint.txt");
    let token = dir.path().join("token.tst");
    std::fs::write(&data, &checked.checkpoint).map_err(|e| e.to_string())?;
    std::fs::write(&token, &checked.token).map_err(|e| e.to_string())?;
    let out = Command::new("openssl")
        .args(["ts", "-verify", "-token_in", "-in"])
        .arg(&token)
        .arg("-data")
        .arg(&data)
        .arg("-CAfile")
        .arg(ca)
        .output()
        .map_err(|e| format!("cannot run openssl: {e}"))?;
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() && all.contains("Verification: OK") {
        Ok(())
    } else {
        Err(all.trim().to_owned())
    }
}

fn mark(o: Outcome) -> &'static str {
    match o {
        Outcome::Pass => "ok",
        Outcome::Fail => "FAILED",
        Outcome::NotChecked => "not checked",
    }
}

fn text(r: &Report, html: Option<&Path>) -> String {
    let mut s = format!(
        "Probative value report, {} — log {} (latest checkpoint: size {}; key from the {})\n",
        r.generated_at,
        r.origin,
        r.latest_checkpoint_size,
        if r.key_source == "argument" {
            "auditor (--key)"
        } else {
            "server: pass --key for an independent check"
        }
    );
    for a in &r.archives {
        s.push_str(&format!(
            "\n{}  {}  ({} bytes, record {})\n",
            a.archive_id, a.title, a.size, a.log_index
        ));
        let rows: Vec<[String; 3]> = a
            .checks
            .iter()
            .map(|c| {
                [
                    c.name.to_owned(),
                    mark(c.outcome).to_owned(),
                    c.detail.clone(),
                ]
            })
            .collect();
        s.push_str(&table(None, &rows, &[], "  "));
    }
    s.push_str(&format!(
        "\n{} checks passed, {} failed, {} not checked\n",
        r.passed, r.failed, r.not_checked
    ));
    if let Some(p) = html {
        s.push_str(&format!("report written to {}\n", p.display()));
    }
    s
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The check's French name, for the HTML page.
fn label(name: &str) -> &'static str {
    match name {
        "content" => "Contenu relu et comparé à l'empreinte scellée",
        "checkpoint-signature" => "Signature du point de contrôle",
        "inclusion" => "Inclusion de l'enregistrement dans le journal (preuve de Merkle)",
        "consistency-with-kept-checkpoint" => {
            "Cohérence avec le point de contrôle conservé par l'auditeur"
        }
        "consistency-with-latest" => "Cohérence avec le dernier point de contrôle",
        "replica" => "Copie chiffrée répliquée",
        "timestamp" => "Horodatage qualifié RFC 3161",
        _ => "Vérification",
    }
}

fn html(r: &Report) -> String {
    let outcome_fr = |o: Outcome| match o {
        Outcome::Pass => ("ok", "Conforme"),
        Outcome::Fail => ("fail", "NON CONFORME"),
        Outcome::NotChecked => ("skip", "Non vérifié"),
    };
    let mut h = String::from(
        "<!DOCTYPE html>\n<html lang=\"fr\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>Rapport de valeur probante</title>\n<style>\n\
         body{font-family:sans-serif;max-width:60em;margin:2em auto;color:#161616}\n\
         table{border-collapse:collapse;width:100%;margin:.5em 0 1.5em}\n\
         th,td{border:1px solid #929292;padding:.4em;text-align:left;vertical-align:top}\n\
         th{background:#eee}.ok{color:#18753c;font-weight:bold}.fail{color:#ce0500;font-weight:bold}\n\
         .skip{color:#716043}code{word-break:break-all}\n</style>\n</head>\n<body>\n",
    );
    h.push_str("<h1>Rapport de valeur probante</h1>\n");
    h.push_str(&format!(
        "<p>Établi le {} à partir du journal <code>{}</code>. \
         Dernier point de contrôle : taille {}. Clé de vérification {} : <code>{}</code>.</p>\n",
        esc(&r.generated_at),
        esc(&r.origin),
        r.latest_checkpoint_size,
        if r.key_source == "argument" {
            "fournie par l'auditeur"
        } else {
            "déclarée par le serveur"
        },
        esc(&r.verifier_key)
    ));
    h.push_str(&format!(
        "<p><strong>{} vérifications conformes, {} non conformes, {} non vérifiées.</strong></p>\n",
        r.passed, r.failed, r.not_checked
    ));
    for a in &r.archives {
        h.push_str(&format!(
            "<h2>{} <small><code>{}</code></small></h2>\n<p>Service producteur : {} — {} octets — \
             empreinte SHA-256 <code>{}</code> — enregistrement n° {} du {} — état : {}</p>\n",
            esc(&a.title),
            esc(&a.archive_id),
            esc(&a.originating_agency),
            a.size,
            esc(&a.content_sha256),
            a.log_index,
            esc(&a.ingested_at),
            esc(&a.state)
        ));
        h.push_str("<table>\n<thead><tr><th scope=\"col\">Vérification</th><th scope=\"col\">Résultat</th><th scope=\"col\">Détail</th></tr></thead>\n<tbody>\n");
        for c in &a.checks {
            let (class, word) = outcome_fr(c.outcome);
            h.push_str(&format!(
                "<tr><td>{}</td><td class=\"{class}\">{word}</td><td>{}</td></tr>\n",
                label(c.name),
                esc(&c.detail)
            ));
        }
        h.push_str("</tbody>\n</table>\n");
    }
    h.push_str(&format!(
        "<h2>Dernier point de contrôle</h2>\n<pre>{}</pre>\n\
         <p>Chaque vérification a été faite par le poste de l'auditeur, à partir des seules \
         données servies par l'appliance : relecture du contenu, preuves cryptographiques \
         (RFC 6962) et signatures (C2SP signed note, Ed25519).</p>\n</body>\n</html>\n",
        esc(&r.latest_checkpoint)
    ));
    h
}

//! `minutier timestamps`: the RFC 3161 time-stamps of the log's checkpoints,
//! and their export for `openssl ts -verify`.
//!
//! Nothing the server says is shown before it is checked: each timestamp
//! record commits to its document; the document's checkpoint opens under
//! the verifier key and has the recorded size, below the record's own
//! index; the token's message imprint is the SHA-256 of that checkpoint,
//! and its genTime and serial are the recorded ones; each checkpoint covers
//! the previous timestamp record (the chain). The token's signature and the
//! TSA's certificate are checked by `openssl ts -verify`, independently, on
//! the exported files (docs/timestamps.md).

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use base64::Engine as _;
use minutier_proto::v1::replication_client::ReplicationClient;
use minutier_proto::v1::{CheckpointTimestamp, GetTimestampsRequest, TimestampingStatus};
use minutier_seal::hash::{sha256, to_hex};
use minutier_seal::note::VerifierKey;
use minutier_seal::record::{Record, RecordKind, APPLIANCE_ID};
use minutier_seal::verify::SealVerifier;
use serde::Serialize;
use serde_json::Value;
use tonic::transport::Channel;

use crate::audit::load_keys;
use crate::client::{self, connect, connect_replication, Target};
use crate::error::rpc;
use crate::output::{print_json, table};

/// Timestamp records asked for per call.
const PAGE: u32 = 100;

/// Every timestamp record of the log, oldest first, and the status.
pub async fn fetch_all(
    client: &mut ReplicationClient<Channel>,
) -> anyhow::Result<(Vec<CheckpointTimestamp>, Option<TimestampingStatus>)> {
    let mut all = Vec::new();
    let mut from = 0;
    loop {
        let page = rpc(client
            .get_timestamps(GetTimestampsRequest {
                from_index: from,
                limit: PAGE,
            })
            .await)?;
        all.extend(page.timestamps);
        if page.next_index == 0 || page.next_index <= from {
            return Ok((all, page.status));
        }
        from = page.next_index;
    }
}

/// A time-stamp that passed [`check`].
#[derive(Debug, Clone, Serialize)]
pub struct Checked {
    pub log_index: u64,
    pub recorded_at: String,
    pub checkpoint_size: u64,
    pub checkpoint_sha256: String,
    pub gen_time: String,
    pub serial: String,
    pub tsa: String,
    /// The TSA's own name in the token, if it gives one.
    pub tsa_name: Option<String>,
    pub policy: String,
    #[serde(skip)]
    pub checkpoint: String,
    #[serde(skip)]
    pub token: Vec<u8>,
}

/// Checks one time-stamp as the module documentation says (all but the
/// chain, which [`check_all`] checks). `keys`: the log's verifier key, or
/// its key history (a checkpoint time-stamped before a key rotation is
/// signed by an older key).
pub fn check(t: &CheckpointTimestamp, keys: &[VerifierKey]) -> Result<Checked, String> {
    let at = |what: String| format!("timestamp record {}: {what}", t.log_index);
    let record = Record::decode(&t.record).map_err(|e| at(e.to_string()))?;
    if record.kind != RecordKind::Timestamp || record.archive_id != APPLIANCE_ID {
        return Err(at(format!("is a {} record, not a timestamp", record.kind)));
    }
    if record.content_sha256 != sha256(&t.document) || record.size != t.document.len() as u64 {
        return Err(at(
            "the document served is not the one the record commits to".into(),
        ));
    }
    let document: Value = serde_json::from_slice(&t.document)
        .map_err(|e| at(format!("the document is not JSON: {e}")))?;
    let text = |field: &str| -> Result<&str, String> {
        document[field]
            .as_str()
            .ok_or_else(|| at(format!("the document has no {field}")))
    };
    let checkpoint = text("checkpoint")?;
    let token = base64::engine::general_purpose::STANDARD
        .decode(text("token")?)
        .map_err(|e| at(format!("the document's token is not base64: {e}")))?;
    if checkpoint != t.checkpoint
        || token != t.token
        || document["checkpoint_size"].as_u64() != Some(t.checkpoint_size)
        || text("gen_time")? != t.gen_time
        || text("serial")? != t.serial
        || text("tsa")? != t.tsa
    {
        return Err(at(
            "the fields served differ from the document the record commits to".into(),
        ));
    }
    let opened = SealVerifier::with_keys(keys.to_vec())
        .and_then(|mut v| v.open_checkpoint(checkpoint))
        .map_err(|e| at(format!("its checkpoint does not verify: {e}")))?;
    if opened.size != t.checkpoint_size {
        return Err(at(format!(
            "its checkpoint has size {}, the record says {}",
            opened.size, t.checkpoint_size
        )));
    }
    if opened.size > t.log_index {
        return Err(at(format!(
            "its checkpoint (size {}) already holds the record itself",
            opened.size
        )));
    }
    let digest = sha256(checkpoint.as_bytes());
    if text("checkpoint_sha256")? != to_hex(&digest) {
        return Err(at(
            "checkpoint_sha256 is not the checkpoint's SHA-256".into()
        ));
    }
    let info = minutier_timestamp::parse_token(&token)
        .map_err(|e| at(format!("its token is unreadable: {e}")))?;
    if info.hash_algorithm != minutier_timestamp::SHA256_OID
        || info.message_imprint != digest.as_slice()
    {
        return Err(at(format!(
            "its token time-stamps {}, not the checkpoint of size {} (SHA-256 {})",
            hex::encode(&info.message_imprint),
            t.checkpoint_size,
            to_hex(&digest)
        )));
    }
    if info.gen_time.to_string() != t.gen_time || info.serial_hex() != t.serial {
        return Err(at(format!(
            "its token says genTime {} and serial {}, the record {} and {}",
            info.gen_time,
            info.serial_hex(),
            t.gen_time,
            t.serial
        )));
    }
    Ok(Checked {
        log_index: t.log_index,
        recorded_at: t.recorded_at.clone(),
        checkpoint_size: t.checkpoint_size,
        checkpoint_sha256: to_hex(&digest),
        gen_time: t.gen_time.clone(),
        serial: t.serial.clone(),
        tsa: t.tsa.clone(),
        tsa_name: info.tsa,
        policy: info.policy,
        checkpoint: checkpoint.to_owned(),
        token,
    })
}

/// Checks every time-stamp and the chain: each checkpoint covers the
/// previous timestamp record, so the time-stamps are chained through the
/// log.
pub fn check_all(
    all: &[CheckpointTimestamp],
    keys: &[VerifierKey],
) -> Result<Vec<Checked>, String> {
    let mut out: Vec<Checked> = Vec::with_capacity(all.len());
    for t in all {
        let checked = check(t, keys)?;
        if let Some(previous) = out.last() {
            if checked.log_index <= previous.log_index {
                return Err(format!(
                    "timestamp record {} is listed after record {}",
                    checked.log_index, previous.log_index
                ));
            }
            if checked.checkpoint_size <= previous.log_index {
                return Err(format!(
                    "the chain is broken: the checkpoint of timestamp record {} (size {}) does \
                     not cover the previous timestamp record {}",
                    checked.log_index, checked.checkpoint_size, previous.log_index
                ));
            }
        }
        out.push(checked);
    }
    Ok(out)
}

/// The file names of a time-stamp's export: the checkpoint's exact text and
/// a granted `TimeStampResp` around its token.
pub fn export_names(size: u64) -> (String, String) {
    (
        format!("checkpoint-{size}.txt"),
        format!("checkpoint-{size}.tsr"),
    )
}

/// The `.tsr` file of a time-stamp.
pub fn tsr(checked: &Checked) -> Vec<u8> {
    minutier_timestamp::response_from_token(&checked.token)
}

/// How an auditor checks an exported time-stamp.
pub fn openssl_command(size: u64) -> String {
    let (txt, tsr) = export_names(size);
    format!("openssl ts -verify -data {txt} -in {tsr} -CAfile tsa-ca.pem")
}

#[derive(Serialize)]
struct StatusJson {
    enabled: bool,
    tsa_url: Option<String>,
    interval_seconds: u64,
    last_attempt_at: Option<String>,
    last_success_at: Option<String>,
    last_timestamped_size: Option<u64>,
    last_error: Option<String>,
    last_error_at: Option<String>,
    consecutive_failures: u32,
    next_attempt_at: Option<String>,
}

fn status_json(s: Option<TimestampingStatus>) -> StatusJson {
    let s = s.unwrap_or_default();
    let opt = |s: String| (!s.is_empty()).then_some(s);
    StatusJson {
        enabled: s.enabled,
        tsa_url: opt(s.tsa_url),
        interval_seconds: s.interval_seconds,
        last_attempt_at: opt(s.last_attempt_at),
        last_success_at: opt(s.last_success_at),
        last_timestamped_size: (s.last_timestamped_size > 0).then_some(s.last_timestamped_size),
        last_error: opt(s.last_error),
        last_error_at: opt(s.last_error_at),
        consecutive_failures: s.consecutive_failures,
        next_attempt_at: opt(s.next_attempt_at),
    }
}

#[derive(Serialize)]
struct TimestampsJson {
    verified: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    /// "argument" (the caller's own copy) or "server".
    key_source: &'static str,
    timestamps: Vec<Checked>,
    #[serde(skip_serializing_if = "Option::is_none")]
    export: Option<String>,
    status: StatusJson,
}

pub async fn run(
    server: &Target,
    json: bool,
    export: Option<&Path>,
    key: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let trusted = key.map(load_keys).transpose()?;
    let (keys, key_source) = match trusted {
        Some(keys) => (keys, "argument"),
        None => {
            let mut archive = connect(server).await?;
            let latest = client::latest_checkpoint(&mut archive).await?;
            (latest.parsed_keys()?, "server")
        }
    };
    let mut replication = connect_replication(server).await?;
    let (all, status) = fetch_all(&mut replication).await?;
    let status = status_json(status);
    let outcome = check_all(&all, &keys);
    let checked = outcome.clone().unwrap_or_default();
    if let (Some(dir), Ok(checked)) = (export, &outcome) {
        write_export(dir, checked)?;
    }
    if json {
        print_json(&TimestampsJson {
            verified: outcome.is_ok(),
            error: outcome.as_ref().err().cloned(),
            key_source,
            timestamps: checked,
            export: export
                .filter(|_| outcome.is_ok())
                .map(|d| d.display().to_string()),
            status,
        });
    } else {
        if key_source == "server" {
            println!(
                "note: verifier key taken from the server and not independently checked; pass \
                 --key with your own copy for an independent check"
            );
        }
        match &outcome {
            Ok(checked) => print!("{}", human(checked, export)),
            Err(e) => println!("time-stamps do NOT verify: {e}"),
        }
        print!("{}", status_text(&status));
    }
    Ok(if outcome.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn human(checked: &[Checked], export: Option<&Path>) -> String {
    if checked.is_empty() {
        return "no checkpoint has been time-stamped yet\n".into();
    }
    let rows: Vec<[String; 6]> = checked
        .iter()
        .map(|c| {
            [
                c.checkpoint_size.to_string(),
                c.gen_time.clone(),
                c.serial.clone(),
                c.log_index.to_string(),
                c.tsa.clone(),
                c.tsa_name.clone().unwrap_or_default(),
            ]
        })
        .collect();
    let mut text = table(
        Some([
            "size",
            "time-stamped at",
            "serial",
            "record",
            "TSA",
            "TSA name",
        ]),
        &rows,
        &[0, 3],
        "",
    );
    text.push_str(&format!(
        "{} time-stamp{}: each checkpoint is signed by the log and time-stamped by the TSA (the \
         token's imprint is the checkpoint's SHA-256), and each covers the previous time-stamp's \
         record\n",
        checked.len(),
        if checked.len() == 1 { "" } else { "s" }
    ));
    if let Some(dir) = export {
        let last = checked.last().map_or(0, |c| c.checkpoint_size);
        text.push_str(&format!(
            "exported to {}: checkpoint-<size>.txt and checkpoint-<size>.tsr; verify each \
             token's signature there with the TSA's CA certificate, e.g.\n  cd {} && {}\n",
            dir.display(),
            dir.display(),
            openssl_command(last)
        ));
    }
    text
}

fn status_text(s: &StatusJson) -> String {
    if !s.enabled {
        return "timestamping is off (no [timestamping] section in minutierd's configuration)\n"
            .into();
    }
    let mut text = format!(
        "timestamping: every {} s with {}",
        s.interval_seconds,
        s.tsa_url.as_deref().unwrap_or("?")
    );
    if let Some(at) = &s.last_success_at {
        text.push_str(&format!(", last time-stamp recorded {at}"));
    }
    if let Some(at) = &s.next_attempt_at {
        text.push_str(&format!(", next attempt {at}"));
    }
    text.push('\n');
    if let Some(e) = &s.last_error {
        text.push_str(&format!(
            "last attempt FAILED ({} in a row, at {}): {e}\n",
            s.consecutive_failures,
            s.last_error_at.as_deref().unwrap_or("?")
        ));
    }
    text
}

/// Writes each time-stamp's checkpoint and `.tsr` into `dir` (created if
/// missing), and a README with the command that checks them.
fn write_export(dir: &Path, checked: &[Checked]) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for c in checked {
        let (txt, tsr_name) = export_names(c.checkpoint_size);
        for (name, bytes) in [(txt, c.checkpoint.as_bytes().to_vec()), (tsr_name, tsr(c))] {
            let path = dir.join(&name);
            std::fs::write(&path, bytes)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
    }
    let path = dir.join("README.txt");
    std::fs::write(&path, readme(checked))
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// What the export directory holds and how to check it.
pub fn readme(checked: &[Checked]) -> String {
    let example = checked.last().map_or(0, |c| c.checkpoint_size);
    format!(
        "\
Time-stamps of a Minutier log's checkpoints (RFC 3161)

checkpoint-<size>.txt is a signed checkpoint of the log (C2SP signed note),
exactly the bytes that were time-stamped; checkpoint-<size>.tsr is the time-
stamping authority's answer for it (a TimeStampResp holding the token).

To check a time-stamp, with the certificate of the TSA's certification
authority (tsa-ca.pem, from the TSA's operator, not from this directory):

  {}

\"Verification: OK\" means that the TSA signed, at the time it states, the
SHA-256 of that exact checkpoint. Check the checkpoint itself with the
log's verifier key (minutier consistency, or any C2SP signed-note
verifier). Each checkpoint covers the previous time-stamp's record in the
log, so the time-stamps form a chain.
",
        openssl_command(example)
    )
}

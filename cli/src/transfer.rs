//! `minutier import-sip` and `minutier transfer`: SEDA ArchiveTransfer
//! packages in, their ArchiveTransferReply out.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, Context};
use futures::StreamExt;
use minutier_proto::v1::import_sip_request::Part;
use minutier_proto::v1::{GetTransferRequest, ImportSipHeader, ImportSipRequest, TransferOutcome};
use minutier_seal::hash;
use minutier_seal::note::VerifierKey;
use minutier_seal::verify::SealVerifier;
use serde::Serialize;
use tokio::io::AsyncReadExt;

use crate::client::{self, connect, connect_transfer, Target};
use crate::error::rpc;
use crate::output::{human_bytes, print_json, spinner, table};

/// Bytes per upload message.
const CHUNK: usize = 1 << 20;

#[derive(Debug, Serialize)]
struct ArchiveJson {
    archive_id: String,
    unit_id: String,
    object_id: String,
    title: String,
    content_sha256: String,
    size: u64,
    log_index: u64,
    seal_file: Option<String>,
}

#[derive(Debug, Serialize)]
struct OutcomeJson {
    message_identifier: String,
    transferring_agency: String,
    seda_version: String,
    accepted: bool,
    code: String,
    message: String,
    decided_at: String,
    replayed: bool,
    archives: Vec<ArchiveJson>,
    reply_file: Option<String>,
}

/// Where to put what the import returns.
pub struct ImportOptions<'a> {
    pub reply: Option<&'a Path>,
    pub seal_dir: Option<&'a Path>,
}

/// Sends a package; verifies every seal returned; exit 1 when the package
/// is refused, printing the reply's reason.
pub async fn import(
    target: &Target,
    json: bool,
    package: &Path,
    options: ImportOptions<'_>,
) -> anyhow::Result<ExitCode> {
    let mut file = tokio::fs::File::open(package)
        .await
        .with_context(|| format!("cannot open {}", package.display()))?;
    let size = file.metadata().await?.len();
    let mut archive = connect(target).await?;
    let key_text = client::latest_checkpoint(&mut archive).await?.verifier_key;
    let key = VerifierKey::parse(&key_text)
        .map_err(|e| anyhow!("the server's verifier key {key_text:?} is invalid: {e}"))?;
    let mut transfer = connect_transfer(target).await?;

    let file_name = package
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (tx, rx) = tokio::sync::mpsc::channel::<ImportSipRequest>(4);
    let header = ImportSipRequest {
        part: Some(Part::Header(ImportSipHeader { file_name, size })),
    };
    let reader = tokio::spawn(async move {
        if tx.send(header).await.is_err() {
            return Ok(());
        }
        loop {
            let mut buf = vec![0u8; CHUNK];
            let n = file.read(&mut buf).await?;
            if n == 0 {
                return Ok::<(), std::io::Error>(());
            }
            buf.truncate(n);
            let message = ImportSipRequest {
                part: Some(Part::Chunk(buf)),
            };
            if tx.send(message).await.is_err() {
                return Ok(());
            }
        }
    });
    let bar = spinner(&format!(
        "importing {} ({}): checking every file against the manifest, then sealing…",
        package.display(),
        human_bytes(size)
    ));
    let stream = tokio_stream::wrappers::ReceiverStream::new(rx).boxed();
    let response = rpc(transfer.import_sip(stream).await);
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    reader
        .await
        .map_err(|e| anyhow!("reading the package failed: {e}"))?
        .with_context(|| format!("cannot read {}", package.display()))?;
    let outcome = response?;

    let mut verifier = SealVerifier::new(key);
    for a in outcome.archives.iter().filter(|a| !a.seal.is_empty()) {
        let sha = hash::from_hex(&a.content_sha256)
            .map_err(|e| anyhow!("the server returned a bad digest for {}: {e}", a.archive_id))?;
        verifier
            .verify_document(&a.seal, &sha, a.size)
            .map_err(|e| {
                anyhow!(
                    "the seal returned for archive {} ({}) does not verify: {e}",
                    a.archive_id,
                    a.title
                )
            })?;
    }
    report(json, outcome, options)
}

/// The outcome of a transfer received earlier.
pub async fn show(
    target: &Target,
    json: bool,
    agency: &str,
    message_identifier: &str,
    reply: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let mut transfer = connect_transfer(target).await?;
    let outcome = rpc(transfer
        .get_transfer(GetTransferRequest {
            transferring_agency: agency.to_owned(),
            message_identifier: message_identifier.to_owned(),
        })
        .await)?;
    report(
        json,
        outcome,
        ImportOptions {
            reply,
            seal_dir: None,
        },
    )
}

fn report(
    json: bool,
    outcome: TransferOutcome,
    options: ImportOptions<'_>,
) -> anyhow::Result<ExitCode> {
    if let Some(path) = options.reply {
        std::fs::write(path, &outcome.reply)
            .with_context(|| format!("cannot write the reply to {}", path.display()))?;
    }
    if let Some(dir) = options.seal_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut archives = Vec::with_capacity(outcome.archives.len());
    for a in outcome.archives {
        let seal_file = match (options.seal_dir, a.seal.is_empty()) {
            (Some(dir), false) => {
                let path: PathBuf = dir.join(format!("{}.seal", a.archive_id));
                std::fs::write(&path, &a.seal)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                Some(path.display().to_string())
            }
            _ => None,
        };
        archives.push(ArchiveJson {
            archive_id: a.archive_id,
            unit_id: a.unit_id,
            object_id: a.object_id,
            title: a.title,
            content_sha256: a.content_sha256,
            size: a.size,
            log_index: a.log_index,
            seal_file,
        });
    }
    let out = OutcomeJson {
        message_identifier: outcome.message_identifier,
        transferring_agency: outcome.transferring_agency,
        seda_version: outcome.seda_version,
        accepted: outcome.accepted,
        code: outcome.code,
        message: outcome.message,
        decided_at: outcome.decided_at,
        replayed: outcome.replayed,
        archives,
        reply_file: options.reply.map(|p| p.display().to_string()),
    };
    if json {
        print_json(&out);
    } else {
        print!("{}", text(&out));
    }
    Ok(if out.accepted {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn text(o: &OutcomeJson) -> String {
    let transfer = if o.message_identifier.is_empty() {
        "the package".to_owned()
    } else {
        format!(
            "transfer {} from {} (SEDA {})",
            o.message_identifier,
            if o.transferring_agency.is_empty() {
                "(no agency)"
            } else {
                &o.transferring_agency
            },
            o.seda_version
        )
    };
    if !o.accepted {
        return format!(
            "REFUSED: {transfer}, nothing was stored\n  {}: {}\n",
            o.code, o.message
        );
    }
    let mut s = if o.replayed {
        format!(
            "{transfer} had already been accepted on {}; nothing new was stored\n",
            o.decided_at
        )
    } else {
        format!(
            "ACCEPTED: {transfer}: {} archives sealed (the manifest, then each unit)\n",
            o.archives.len()
        )
    };
    let rows: Vec<[String; 4]> = o
        .archives
        .iter()
        .map(|a| {
            [
                a.archive_id.clone(),
                if a.unit_id.is_empty() {
                    "(manifest)".into()
                } else {
                    a.unit_id.clone()
                },
                human_bytes(a.size),
                a.title.clone(),
            ]
        })
        .collect();
    s.push_str(&table(
        Some(["archive", "unit", "size", "title"]),
        &rows,
        &[2],
        "  ",
    ));
    if let Some(r) = &o.reply_file {
        s.push_str(&format!("ArchiveTransferReply written to {r}\n"));
    }
    s
}

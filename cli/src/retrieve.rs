//! Reading from the archive: `get`, `show`, `list`, `seal`, `checkpoint`,
//! `key`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use minutier_proto::v1::{
    ArchiveInfo, DocumentMetadata, GetMetadataRequest, GetRequest, GetResponse, GetSealRequest,
    ListRequest,
};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::client::{self, connect, Target};
use crate::error::{rpc, usage};
use crate::lifecycle::{describe_access, describe_hold, describe_retention, RulesJson};
use crate::output::{human_bytes, print_json, table, write_text};

/// Largest page the server accepts.
const MAX_PAGE_SIZE: u64 = 1000;

// ---------------------------------------------------------------- get

pub async fn get(server: &Target, json: bool, id: &str, output: &Path) -> anyhow::Result<ExitCode> {
    let to_stdout = output == Path::new("-");
    if to_stdout && json {
        return Err(usage(
            "--json cannot be combined with -o - (stdout carries the document)",
        ));
    }
    let mut client = connect(server).await?;
    // The record's digest and size, to check the bytes end to end on top of
    // the server's own re-hashing.
    let info = rpc(client
        .get_metadata(GetMetadataRequest {
            archive_id: id.to_owned(),
        })
        .await)?;
    let stream = rpc(client
        .get(GetRequest {
            archive_id: id.to_owned(),
        })
        .await)?;

    if to_stdout {
        let mut out = tokio::io::stdout();
        let got = copy_stream(stream, &mut out).await?;
        check_download(&info, &got)?;
        return Ok(ExitCode::SUCCESS);
    }

    let partial = partial_path(output);
    let download = async {
        let mut file = tokio::fs::File::create(&partial)
            .await
            .with_context(|| format!("cannot create {}", partial.display()))?;
        let got = copy_stream(stream, &mut file).await?;
        check_download(&info, &got)?;
        file.sync_all()
            .await
            .with_context(|| format!("cannot write {}", partial.display()))?;
        drop(file);
        tokio::fs::rename(&partial, output).await.with_context(|| {
            format!(
                "cannot rename {} to {}",
                partial.display(),
                output.display()
            )
        })?;
        anyhow::Ok(got)
    };
    // Whatever ends the download early (DATA_LOSS, a dropped connection,
    // Ctrl-C) must not leave a truncated file that looks like the document.
    let result = tokio::select! {
        r = download => r,
        _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
    };
    let got = match result {
        Ok(got) => got,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
    };

    if json {
        #[derive(Serialize)]
        struct GetJson<'a> {
            archive_id: &'a str,
            path: String,
            content_sha256: &'a str,
            size: u64,
        }
        print_json(&GetJson {
            archive_id: id,
            path: output.display().to_string(),
            content_sha256: &got.sha256,
            size: got.size,
        });
    } else {
        eprintln!("{}  {} ({})", id, output.display(), human_bytes(got.size));
    }
    Ok(ExitCode::SUCCESS)
}

/// What was actually received.
struct Downloaded {
    sha256: String,
    size: u64,
}

async fn copy_stream<W: AsyncWrite + Unpin>(
    mut stream: tonic::Streaming<GetResponse>,
    out: &mut W,
) -> anyhow::Result<Downloaded> {
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    while let Some(msg) = stream.message().await.map_err(crate::error::Rpc)? {
        hasher.update(&msg.chunk);
        size += msg.chunk.len() as u64;
        out.write_all(&msg.chunk).await.context("cannot write")?;
    }
    out.flush().await.context("cannot write")?;
    Ok(Downloaded {
        sha256: hex::encode(hasher.finalize()),
        size,
    })
}

fn check_download(info: &ArchiveInfo, got: &Downloaded) -> anyhow::Result<()> {
    if got.size != info.size || !got.sha256.eq_ignore_ascii_case(&info.content_sha256) {
        bail!(
            "received content does not match the archive's record: got {} bytes with SHA-256 {}, \
             record says {} bytes with SHA-256 {}",
            got.size,
            got.sha256,
            info.size,
            info.content_sha256
        );
    }
    Ok(())
}

/// `FILE.partial`: the name the download carries until it is complete.
fn partial_path(output: &Path) -> PathBuf {
    let mut name: OsString = output.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

// ---------------------------------------------------------------- show / list

/// JSON form of an archive's description; field names follow the proto,
/// with the document's metadata at the top level.
#[derive(Serialize)]
pub struct ArchiveJson {
    archive_id: String,
    #[serde(flatten)]
    metadata: MetadataJson,
    content_sha256: String,
    size: u64,
    stored_size: u64,
    log_index: u64,
    ingested_at: String,
    actor: String,
    record_hash: String,
    metadata_sha256: String,
    state: String,
    elimination_id: Option<String>,
    record_count: u64,
}

#[derive(Serialize)]
struct MetadataJson {
    title: String,
    originating_agency: String,
    submission_agency: String,
    archival_agreement: String,
    description: String,
    start_date: String,
    end_date: String,
    keywords: Vec<String>,
    document_type: String,
    language: String,
    custodial_history: String,
    file_name: String,
    media_type: String,
    rules: RulesJson,
    #[serde(skip_serializing_if = "Option::is_none")]
    transfer: Option<TransferJson>,
}

/// The SEDA transfer an archive arrived in.
#[derive(Serialize)]
struct TransferJson {
    message_identifier: String,
    transferring_agency: String,
    unit_id: String,
    parent_unit_ids: Vec<String>,
    object_id: String,
    manifest_archive_id: String,
}

impl From<ArchiveInfo> for ArchiveJson {
    fn from(a: ArchiveInfo) -> Self {
        let m = a.metadata.unwrap_or_default();
        ArchiveJson {
            archive_id: a.archive_id,
            metadata: MetadataJson::from(m),
            content_sha256: a.content_sha256,
            size: a.size,
            stored_size: a.stored_size,
            log_index: a.log_index,
            ingested_at: a.ingested_at,
            actor: a.actor,
            record_hash: a.record_hash,
            metadata_sha256: a.metadata_sha256,
            state: a.state,
            elimination_id: (!a.elimination_id.is_empty()).then_some(a.elimination_id),
            record_count: a.record_count,
        }
    }
}

impl From<DocumentMetadata> for MetadataJson {
    fn from(m: DocumentMetadata) -> Self {
        MetadataJson {
            rules: RulesJson::from(&m.rules.unwrap_or_default()),
            transfer: m.transfer.map(|t| TransferJson {
                message_identifier: t.message_identifier,
                transferring_agency: t.transferring_agency,
                unit_id: t.unit_id,
                parent_unit_ids: t.parent_unit_ids,
                object_id: t.object_id,
                manifest_archive_id: t.manifest_archive_id,
            }),
            title: m.title,
            originating_agency: m.originating_agency,
            submission_agency: m.submission_agency,
            archival_agreement: m.archival_agreement,
            description: m.description,
            start_date: m.start_date,
            end_date: m.end_date,
            keywords: m.keywords,
            document_type: m.document_type,
            language: m.language,
            custodial_history: m.custodial_history,
            file_name: m.file_name,
            media_type: m.media_type,
        }
    }
}

pub async fn show(server: &Target, json: bool, id: &str) -> anyhow::Result<ExitCode> {
    let mut client = connect(server).await?;
    let info = rpc(client
        .get_metadata(GetMetadataRequest {
            archive_id: id.to_owned(),
        })
        .await)?;
    if json {
        print_json(&ArchiveJson::from(info));
    } else {
        print!("{}", format_info(&info));
    }
    Ok(ExitCode::SUCCESS)
}

/// The `show` layout: descriptive metadata first, then the rules and the
/// archive's state, then the record facts.
fn format_info(info: &ArchiveInfo) -> String {
    let m = info.metadata.clone().unwrap_or_default();
    let rules = m.rules.clone().unwrap_or_default();
    let dates = match (m.start_date.as_str(), m.end_date.as_str()) {
        ("", "") => String::new(),
        (s, "") => format!("from {s}"),
        ("", e) => format!("until {e}"),
        (s, e) if s == e => s.to_owned(),
        (s, e) => format!("{s} to {e}"),
    };
    let mut rows: Vec<(&str, String)> = vec![
        ("archive", info.archive_id.clone()),
        ("title", m.title),
        ("agency", m.originating_agency),
        ("submission agency", m.submission_agency),
        ("archival agreement", m.archival_agreement),
        ("document type", m.document_type),
        ("description", m.description),
        ("dates", dates),
        ("keywords", m.keywords.join(", ")),
        ("language", m.language),
        ("custodial history", m.custodial_history),
        ("file name", m.file_name),
        ("media type", m.media_type),
        ("retention", describe_retention(rules.appraisal.as_ref())),
        ("access", describe_access(rules.access.as_ref())),
    ];
    rows.extend(rules.holds.iter().map(|h| ("hold", describe_hold(h))));
    if let Some(t) = &m.transfer {
        let place = match (t.unit_id.as_str(), t.object_id.as_str()) {
            ("", _) => "its manifest".to_owned(),
            (unit, "") => format!("unit {unit} (no object: the content is the manifest)"),
            (unit, object) => format!("unit {unit}, object {object}"),
        };
        rows.push((
            "SEDA transfer",
            format!(
                "{} from {}: {place}{}",
                t.message_identifier,
                t.transferring_agency,
                if t.manifest_archive_id.is_empty() {
                    String::new()
                } else {
                    format!("; manifest archived as {}", t.manifest_archive_id)
                }
            ),
        ));
    }
    rows.extend([
        ("state", info.state.clone()),
        ("elimination", info.elimination_id.clone()),
        (
            "size",
            format!("{} bytes ({})", info.size, human_bytes(info.size)),
        ),
        (
            "stored size",
            format!(
                "{} bytes ({})",
                info.stored_size,
                human_bytes(info.stored_size)
            ),
        ),
        ("content sha256", info.content_sha256.clone()),
        ("ingested at", info.ingested_at.clone()),
        ("actor", info.actor.clone()),
        ("log index", info.log_index.to_string()),
        ("record count", info.record_count.to_string()),
        ("record hash", info.record_hash.clone()),
        ("metadata sha256", info.metadata_sha256.clone()),
    ]);
    let mut text = String::new();
    for (label, value) in rows {
        if value.is_empty() {
            continue;
        }
        text.push_str(&format!(
            "{:<20}{}\n",
            format!("{label}:"),
            one_line(&value)
        ));
    }
    text
}

/// Metadata is free text; keep a table row on one line.
pub fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

pub async fn list(
    server: &Target,
    json: bool,
    agency: Option<String>,
    title: Option<String>,
    limit: Option<u64>,
) -> anyhow::Result<ExitCode> {
    let mut client = connect(server).await?;
    let mut archives: Vec<ArchiveInfo> = Vec::new();
    let mut page_token = String::new();
    loop {
        let wanted = match limit {
            Some(limit) => limit.saturating_sub(archives.len() as u64),
            None => MAX_PAGE_SIZE,
        };
        if wanted == 0 {
            break;
        }
        let page = rpc(client
            .list(ListRequest {
                page_size: wanted.min(MAX_PAGE_SIZE) as u32,
                page_token: std::mem::take(&mut page_token),
                originating_agency: agency.clone().unwrap_or_default(),
                title_contains: title.clone().unwrap_or_default(),
            })
            .await)?;
        archives.extend(page.archives);
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    if let Some(limit) = limit {
        archives.truncate(limit.try_into().unwrap_or(usize::MAX));
    }

    if json {
        #[derive(Serialize)]
        struct ListJson {
            archives: Vec<ArchiveJson>,
        }
        print_json(&ListJson {
            archives: archives.into_iter().map(ArchiveJson::from).collect(),
        });
    } else if archives.is_empty() {
        eprintln!("no documents");
    } else {
        print!("{}", format_table(&archives));
    }
    Ok(ExitCode::SUCCESS)
}

fn format_table(archives: &[ArchiveInfo]) -> String {
    let rows: Vec<[String; 4]> = archives
        .iter()
        .map(|a| {
            [
                a.archive_id.clone(),
                a.ingested_at.clone(),
                human_bytes(a.size),
                one_line(
                    &a.metadata
                        .as_ref()
                        .map(|m| m.title.clone())
                        .unwrap_or_default(),
                ),
            ]
        })
        .collect();
    table(
        Some(["ID", "INGESTED AT", "SIZE", "TITLE"]),
        &rows,
        &[2],
        "",
    )
}

// ---------------------------------------------------------------- seal / checkpoint / key

pub async fn seal(
    server: &Target,
    json: bool,
    id: &str,
    output: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let mut client = connect(server).await?;
    let resp = rpc(client
        .get_seal(GetSealRequest {
            archive_id: id.to_owned(),
        })
        .await)?;
    let file = written_file(output);
    if json {
        if let Some(path) = file {
            write_text(Some(path), &resp.seal)?;
        }
        #[derive(Serialize)]
        struct SealJson<'a> {
            archive_id: &'a str,
            log_index: u64,
            seal: &'a str,
            file: Option<String>,
        }
        print_json(&SealJson {
            archive_id: id,
            log_index: resp.log_index,
            seal: &resp.seal,
            file: file.map(|p| p.display().to_string()),
        });
    } else {
        write_text(file, &resp.seal)?;
        if let Some(path) = file {
            eprintln!(
                "seal of {id} (record {}) written to {}",
                resp.log_index,
                path.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn checkpoint(
    server: &Target,
    json: bool,
    output: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let mut client = connect(server).await?;
    let latest = client::latest_checkpoint(&mut client).await?;
    let file = written_file(output);
    if json {
        if let Some(path) = file {
            write_text(Some(path), &latest.checkpoint)?;
        }
        #[derive(Serialize)]
        struct CheckpointJson<'a> {
            checkpoint: &'a str,
            size: u64,
            verifier_key: &'a str,
            file: Option<String>,
        }
        print_json(&CheckpointJson {
            checkpoint: &latest.checkpoint,
            size: latest.size,
            verifier_key: &latest.verifier_key,
            file: file.map(|p| p.display().to_string()),
        });
    } else {
        write_text(file, &latest.checkpoint)?;
        if let Some(path) = file {
            eprintln!(
                "checkpoint of size {} written to {}",
                latest.size,
                path.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn key(server: &Target, json: bool) -> anyhow::Result<ExitCode> {
    let mut client = connect(server).await?;
    let latest = client::latest_checkpoint(&mut client).await?;
    if json {
        #[derive(Serialize)]
        struct KeyJson<'a> {
            verifier_key: &'a str,
            /// Earlier keys, oldest first (key rotations).
            previous_verifier_keys: &'a [String],
        }
        print_json(&KeyJson {
            verifier_key: &latest.verifier_key,
            previous_verifier_keys: &latest.previous_verifier_keys,
        });
    } else {
        // Oldest first, the current key last: the output is a key file
        // that `verify --key` takes whole.
        for key in latest.verifier_keys() {
            println!("{key}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `-o -` means stdout, like no `-o` at all.
fn written_file(output: Option<&Path>) -> Option<&Path> {
    output.filter(|p| *p != Path::new("-"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_name_appends_suffix() {
        assert_eq!(
            partial_path(Path::new("out/doc.pdf")),
            PathBuf::from("out/doc.pdf.partial")
        );
    }

    #[test]
    fn show_gives_rules_holds_and_state() {
        use minutier_proto::v1::{AppraisalRule, FinalAction, Hold, ManagementRules};
        let info = ArchiveInfo {
            archive_id: "A1".into(),
            metadata: Some(DocumentMetadata {
                title: "Délibération".into(),
                submission_agency: "DGS".into(),
                language: "fr".into(),
                rules: Some(ManagementRules {
                    appraisal: Some(AppraisalRule {
                        duration_years: Some(10),
                        start_date: "2026-01-01".into(),
                        end_date: "2036-01-01".into(),
                        final_action: FinalAction::Destroy as i32,
                        ..Default::default()
                    }),
                    access: None,
                    holds: vec![Hold {
                        hold_id: "H1".into(),
                        reason: "Recours".into(),
                        placed_by: "Claire".into(),
                        placed_at: "T".into(),
                        end_date: "2027-01-01".into(),
                    }],
                }),
                ..Default::default()
            }),
            state: "active".into(),
            elimination_id: "E1".into(),
            record_count: 4,
            ..Default::default()
        };
        let text = format_info(&info);
        for line in [
            "submission agency:  DGS\n",
            "language:           fr\n",
            "retention:          10 years from 2026-01-01, ends 2036-01-01, final action destroy\n",
            "access:             none: communicable at once\n",
            "hold:               H1: \"Recours\", placed by Claire at T, until 2027-01-01\n",
            "state:              active\n",
            "elimination:        E1\n",
            "record count:       4\n",
        ] {
            assert!(text.contains(line), "{line:?} not in\n{text}");
        }
        let json = serde_json::to_value(ArchiveJson::from(info)).unwrap();
        assert_eq!(json["title"], "Délibération");
        assert_eq!(json["state"], "active");
        assert_eq!(json["elimination_id"], "E1");
        assert_eq!(json["record_count"], 4);
        assert_eq!(json["rules"]["appraisal"]["final_action"], "destroy");
        assert_eq!(json["rules"]["holds"][0]["hold_id"], "H1");
        assert_eq!(json["rules"]["access"], serde_json::Value::Null);
    }

    #[test]
    fn table_aligns_columns() {
        let info = |id: &str, title: &str| ArchiveInfo {
            archive_id: id.into(),
            ingested_at: "2026-11-29T08:52:46.123Z".into(),
            size: 1500,
            metadata: Some(DocumentMetadata {
                title: title.into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let table = format_table(&[info("a1", "Délibération\n12"), info("b22", "x")]);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("ID   INGESTED AT"));
        assert!(lines[1].ends_with("1.5 kB  Délibération 12"));
    }
}

//! `minutier replication status` and `minutier scrub`: where replication
//! to the bucket stands, and a fixity check of every document and replica.

use std::process::ExitCode;

use minutier_proto::v1::{ReplicationStatusRequest, ReplicationStatusResponse, ScrubRequest};
use serde::Serialize;

use crate::client::{connect_replication, Target};
use crate::error::rpc;
use crate::output::{human_duration, print_json, spinner, table};

#[derive(Debug, Serialize)]
struct ArchiveJson {
    archive_id: String,
    content_replicated: bool,
    records_replicated: bool,
    eliminated: bool,
    head_index: u64,
}

#[derive(Debug, Serialize)]
struct StatusJson {
    enabled: bool,
    endpoint: String,
    bucket: String,
    queued: u64,
    oldest_queued_ms: u64,
    log_size: u64,
    replicated_log_size: u64,
    lag_records: u64,
    contents_replicated: u64,
    last_success_at: Option<String>,
    last_error: Option<String>,
    last_error_at: Option<String>,
    archive: Option<ArchiveJson>,
}

fn status_json(s: ReplicationStatusResponse) -> StatusJson {
    let opt = |s: String| (!s.is_empty()).then_some(s);
    StatusJson {
        enabled: s.enabled,
        endpoint: s.endpoint,
        bucket: s.bucket,
        queued: s.queued,
        oldest_queued_ms: s.oldest_queued_ms,
        log_size: s.log_size,
        replicated_log_size: s.replicated_log_size,
        lag_records: s.lag_records,
        contents_replicated: s.contents_replicated,
        last_success_at: opt(s.last_success_at),
        last_error: opt(s.last_error),
        last_error_at: opt(s.last_error_at),
        archive: s.archive.map(|a| ArchiveJson {
            archive_id: a.archive_id,
            content_replicated: a.content_replicated,
            records_replicated: a.records_replicated,
            eliminated: a.eliminated,
            head_index: a.head_index,
        }),
    }
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// The human rendering of a status.
fn status_text(s: &StatusJson) -> String {
    if !s.enabled {
        return "replication is off (no [replication] section in minutierd's configuration)\n"
            .to_owned();
    }
    let queued = match (s.queued, s.oldest_queued_ms) {
        (0, _) => "nothing".to_owned(),
        (n, 0) => format!("{n} items"),
        (n, ms) => format!("{n} items, the oldest for {}", human_duration(ms)),
    };
    let lag = match (s.lag_records, s.oldest_queued_ms) {
        (0, _) => "none: the whole log is in the bucket".to_owned(),
        (n, 0) => format!("{n} records"),
        (n, ms) => format!("{n} records (waiting for {})", human_duration(ms)),
    };
    let last_error = match (&s.last_error, &s.last_error_at) {
        (Some(e), Some(at)) => format!("{at}: {e}"),
        (Some(e), None) => e.clone(),
        (None, _) => "none".to_owned(),
    };
    let rows = [
        ("replication:", "on".to_owned()),
        ("endpoint:", s.endpoint.clone()),
        ("bucket:", s.bucket.clone()),
        ("queued:", queued),
        ("lag:", lag),
        (
            "log replicated:",
            format!("{} of {} records", s.replicated_log_size, s.log_size),
        ),
        ("contents:", format!("{} replicated", s.contents_replicated)),
        (
            "last success:",
            s.last_success_at.clone().unwrap_or_else(|| "never".into()),
        ),
        ("last error:", last_error),
    ];
    let mut text = table(None, &rows.map(|(k, v)| [k.to_owned(), v]), &[], "");
    if let Some(a) = &s.archive {
        let content = if a.eliminated {
            "no (eliminated: its replica is removed, its records stay)".to_owned()
        } else {
            yes_no(a.content_replicated).to_owned()
        };
        let rows = [
            ("content replicated:", content),
            (
                "records replicated:",
                format!(
                    "{} (latest record {})",
                    yes_no(a.records_replicated),
                    a.head_index
                ),
            ),
            ("eliminated:", yes_no(a.eliminated).to_owned()),
        ];
        text.push_str(&format!("\narchive {}:\n", a.archive_id));
        text.push_str(&table(
            None,
            &rows.map(|(k, v)| [k.to_owned(), v]),
            &[],
            "  ",
        ));
    }
    text
}

/// `minutier replication status [ID]`.
pub async fn status(target: &Target, json: bool, id: Option<&str>) -> anyhow::Result<ExitCode> {
    let mut client = connect_replication(target).await?;
    let response = rpc(client
        .get_replication_status(ReplicationStatusRequest {
            archive_id: id.unwrap_or_default().to_owned(),
        })
        .await)?;
    let status = status_json(response);
    if json {
        print_json(&status);
    } else {
        print!("{}", status_text(&status));
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Serialize)]
struct ScrubJson {
    log_index: u64,
    started_at: Option<String>,
    finished_at: Option<String>,
    replication: bool,
    contents_checked: u64,
    contents_missing: u64,
    contents_corrupt: u64,
    contents_repaired: u64,
    contents_unrepairable: Vec<String>,
    replicas_checked: u64,
    replicas_missing: u64,
    replicas_altered: u64,
    replicas_reuploaded: u64,
    bucket_orphans_removed: u64,
    local_orphans_removed: u64,
    queued: u64,
}

/// The human rendering of a scrub report.
fn scrub_text(r: &ScrubJson) -> String {
    let mut text = format!(
        "scrub recorded in the log at index {}{}\n",
        r.log_index,
        match (&r.started_at, &r.finished_at) {
            (Some(s), Some(f)) => format!(" (ran {s} to {f})"),
            _ => String::new(),
        }
    );
    if !r.replication {
        text.push_str(
            "replication is off: only the local copies were checked; damage is reported, not \
             repaired\n",
        );
    }
    let rows = [
        [
            "documents:".to_owned(),
            format!(
                "{} checked, {} missing, {} corrupt, {} repaired, {} unrepairable",
                r.contents_checked,
                r.contents_missing,
                r.contents_corrupt,
                r.contents_repaired,
                r.contents_unrepairable.len()
            ),
        ],
        [
            "replicas:".to_owned(),
            format!(
                "{} checked, {} missing, {} altered, {} uploaded again",
                r.replicas_checked, r.replicas_missing, r.replicas_altered, r.replicas_reuploaded
            ),
        ],
        [
            "orphans removed:".to_owned(),
            format!(
                "{} in the bucket, {} local files",
                r.bucket_orphans_removed, r.local_orphans_removed
            ),
        ],
        [
            "queued:".to_owned(),
            format!("{} items that were not replicated yet", r.queued),
        ],
    ];
    text.push_str(&table(None, &rows, &[], ""));
    if r.contents_unrepairable.is_empty() {
        let damage =
            r.contents_missing + r.contents_corrupt + r.replicas_missing + r.replicas_altered;
        text.push_str(match (damage, r.replication) {
            (0, true) => "OK: every document and every replica is intact\n",
            (0, false) => "OK: every document is intact\n",
            _ => "OK: the damage found was repaired\n",
        });
    } else {
        text.push_str(&format!(
            "UNREPAIRABLE: {} documents are missing or corrupt on the box and have no usable \
             replica (SHA-256):\n",
            r.contents_unrepairable.len()
        ));
        for digest in &r.contents_unrepairable {
            text.push_str(&format!("  {digest}\n"));
        }
    }
    text
}

/// `minutier scrub`: exit 1 when a document cannot be repaired.
pub async fn scrub(target: &Target, json: bool) -> anyhow::Result<ExitCode> {
    let mut client = connect_replication(target).await?;
    let spinner = spinner(
        "scrubbing… (re-hashing every document and checking every replica; this may take long)",
    );
    let response = rpc(client.scrub(ScrubRequest {}).await);
    if let Some(bar) = spinner {
        bar.finish_and_clear();
    }
    let r = response?;
    let recorded: serde_json::Value = serde_json::from_str(&r.report).unwrap_or_default();
    let field = |name: &str| {
        recorded
            .get(name)
            .and_then(|v| v.as_str())
            .map(String::from)
    };
    let report = ScrubJson {
        log_index: r.log_index,
        started_at: field("started_at"),
        finished_at: field("finished_at"),
        replication: r.replication,
        contents_checked: r.contents_checked,
        contents_missing: r.contents_missing,
        contents_corrupt: r.contents_corrupt,
        contents_repaired: r.contents_repaired,
        contents_unrepairable: r.contents_unrepairable,
        replicas_checked: r.replicas_checked,
        replicas_missing: r.replicas_missing,
        replicas_altered: r.replicas_altered,
        replicas_reuploaded: r.replicas_reuploaded,
        bucket_orphans_removed: r.bucket_orphans_removed,
        local_orphans_removed: r.local_orphans_removed,
        queued: r.queued,
    };
    if json {
        print_json(&report);
    } else {
        print!("{}", scrub_text(&report));
    }
    Ok(if report.contents_unrepairable.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use minutier_proto::v1::ArchiveReplication;

    #[test]
    fn status_reads_for_people() {
        let off = status_json(ReplicationStatusResponse::default());
        assert!(status_text(&off).starts_with("replication is off (no [replication] section"));
        let on = status_json(ReplicationStatusResponse {
            enabled: true,
            endpoint: "https://s3.example".into(),
            bucket: "b".into(),
            queued: 2,
            oldest_queued_ms: 125_000,
            log_size: 100,
            replicated_log_size: 90,
            lag_records: 10,
            contents_replicated: 40,
            last_success_at: "2026-11-29T08:52:46.123Z".into(),
            last_error: "timeout".into(),
            last_error_at: "2026-11-29T08:50:00.000Z".into(),
            archive: Some(ArchiveReplication {
                archive_id: "A1".into(),
                content_replicated: false,
                eliminated: true,
                records_replicated: true,
                head_index: 7,
            }),
        });
        let text = status_text(&on);
        for expected in [
            "queued:          2 items, the oldest for 2 min 5 s\n",
            "lag:             10 records (waiting for 2 min 5 s)\n",
            "log replicated:  90 of 100 records\n",
            "last error:      2026-11-29T08:50:00.000Z: timeout\n",
            "\narchive A1:\n",
            "  content replicated:  no (eliminated",
            "  records replicated:  yes (latest record 7)\n",
            "  eliminated:          yes\n",
        ] {
            assert!(text.contains(expected), "{expected:?} not in\n{text}");
        }
        let json = serde_json::to_value(&on).unwrap();
        assert_eq!(json["archive"]["head_index"], 7);
        assert_eq!(json["last_success_at"], "2026-11-29T08:52:46.123Z");
        assert!(serde_json::to_value(&off).unwrap()["last_error"].is_null());
    }

    #[test]
    fn scrub_reports_unrepairable_digests() {
        let mut report = ScrubJson {
            log_index: 12,
            started_at: None,
            finished_at: None,
            replication: true,
            contents_checked: 3,
            contents_missing: 1,
            contents_corrupt: 0,
            contents_repaired: 1,
            contents_unrepairable: vec![],
            replicas_checked: 5,
            replicas_missing: 0,
            replicas_altered: 0,
            replicas_reuploaded: 0,
            bucket_orphans_removed: 0,
            local_orphans_removed: 0,
            queued: 0,
        };
        let text = scrub_text(&report);
        assert!(text.contains("index 12"));
        assert!(text.contains("3 checked, 1 missing, 0 corrupt, 1 repaired, 0 unrepairable"));
        assert!(text.contains("repaired\n"));
        report.replication = false;
        report.contents_missing = 0;
        report.contents_repaired = 0;
        let text = scrub_text(&report);
        assert!(text.contains("replication is off: only the local copies were checked"));
        assert!(text.contains("OK: every document is intact\n"));
        report.contents_unrepairable = vec!["ab".repeat(32)];
        let text = scrub_text(&report);
        assert!(text.contains("UNREPAIRABLE: 1 documents"));
        assert!(text.contains(&"ab".repeat(32)));
    }
}

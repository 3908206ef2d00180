//! `minutier retention due`: documents whose retention period has ended.

use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use minutier_proto::v1::{DueArchive, RetentionDueRequest};
use minutier_seal::record::Timestamp;
use serde::Serialize;

use crate::client::{connect_lifecycle, Target};
use crate::error::rpc;
use crate::output::{print_json, table};
use crate::retrieve::one_line;

#[derive(Serialize)]
struct DueJson {
    before: String,
    keep: Vec<DueArchiveJson>,
    destroy: Vec<DueArchiveJson>,
}

#[derive(Serialize)]
struct DueArchiveJson {
    archive_id: String,
    title: String,
    originating_agency: String,
    retention_end: String,
    hold_ids: Vec<String>,
    elimination_id: Option<String>,
}

impl From<DueArchive> for DueArchiveJson {
    fn from(a: DueArchive) -> Self {
        DueArchiveJson {
            archive_id: a.archive_id,
            title: a.title,
            originating_agency: a.originating_agency,
            retention_end: a.retention_end,
            hold_ids: a.hold_ids,
            elimination_id: (!a.elimination_id.is_empty()).then_some(a.elimination_id),
        }
    }
}

/// Today's date in UTC by this machine's clock, as YYYY-MM-DD.
fn today() -> String {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    Timestamp(millis).to_string()[..10].to_owned()
}

pub async fn due(server: &Target, json: bool, before: Option<String>) -> anyhow::Result<ExitCode> {
    let (mut lifecycle, _) = connect_lifecycle(server).await?;
    // Without --before the server's own today applies.
    let resp = rpc(lifecycle
        .retention_due(RetentionDueRequest {
            before: before.clone().unwrap_or_default(),
        })
        .await)?;
    let before = before.unwrap_or_else(today);
    if json {
        print_json(&DueJson {
            before,
            keep: resp.keep.into_iter().map(DueArchiveJson::from).collect(),
            destroy: resp.destroy.into_iter().map(DueArchiveJson::from).collect(),
        });
    } else {
        print!("{}", format_due(&before, &resp.keep, &resp.destroy));
    }
    Ok(ExitCode::SUCCESS)
}

fn count(n: usize) -> String {
    format!("{n} archive{}", if n == 1 { "" } else { "s" })
}

fn format_due(before: &str, keep: &[DueArchive], destroy: &[DueArchive]) -> String {
    let mut text = format!("retention periods ended on or before {before}\n\n");
    text.push_str(&format!(
        "keep: {} (definitive archives: to keep or transfer)\n",
        count(keep.len())
    ));
    text.push_str(&format_rows(keep));
    text.push_str(&format!(
        "\ndestroy: {} (may be proposed for elimination)\n",
        count(destroy.len())
    ));
    text.push_str(&format_rows(destroy));
    text
}

fn format_rows(archives: &[DueArchive]) -> String {
    let rows: Vec<[String; 5]> = archives
        .iter()
        .map(|a| {
            let mut flags = Vec::new();
            if !a.hold_ids.is_empty() {
                flags.push(format!("on hold ({})", a.hold_ids.join(", ")));
            }
            if !a.elimination_id.is_empty() {
                flags.push(format!("in elimination {}", a.elimination_id));
            }
            [
                a.archive_id.clone(),
                a.retention_end.clone(),
                one_line(&a.title),
                one_line(&a.originating_agency),
                flags.join(", "),
            ]
        })
        .collect();
    table(None, &rows, &[], "  ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_list_ids_and_flags() {
        let a = |id: &str, title: &str| DueArchive {
            archive_id: id.into(),
            title: title.into(),
            originating_agency: "MAIRIE".into(),
            retention_end: "2005-01-01".into(),
            ..Default::default()
        };
        let mut held = a("A2", "Marché public");
        held.hold_ids = vec!["H1".into(), "H2".into()];
        held.elimination_id = "E9".into();
        let text = format_due("2026-01-01", &[a("A1", "Registre")], &[held, a("A3", "x")]);
        assert!(text.contains("keep: 1 archive (definitive"), "{text}");
        assert!(text.contains("destroy: 2 archives (may be"), "{text}");
        assert!(
            text.contains("  A1  2005-01-01  Registre  MAIRIE\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "  A2  2005-01-01  Marché public  MAIRIE  on hold (H1, H2), in elimination E9\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("  A3  2005-01-01  x              MAIRIE\n"),
            "{text}"
        );
        let empty = format_due("2026-01-01", &[], &[]);
        assert!(empty.contains("keep: 0 archives") && empty.contains("destroy: 0 archives"));
    }

    #[test]
    fn today_is_a_date() {
        let t = today();
        assert_eq!(t.len(), 10);
        assert!(crate::parse_date(&t).is_ok(), "{t}");
    }
}

//! `ArchiveTransferReply` (ATR): the answer to a transfer, in the SEDA
//! version of the package. `ReplyCode` is `OK` or `KO`; the detail is in
//! `Operation/Event`: one event per archived unit on success, one event
//! carrying the rejection code and message on failure.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::Rejection;
use crate::manifest::{SedaVersion, TransferInfo};

/// A unit the archive accepted, and the identifier it now has there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedUnit {
    /// `ArchiveUnit@id` in the manifest.
    pub unit_id: String,
    /// Identifier assigned by the archive.
    pub archive_id: String,
}

/// Replaces characters XML cannot carry and escapes markup.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// A token that is never empty once whitespace is collapsed.
fn token(s: &str, fallback: &str) -> String {
    let t = s.split_whitespace().collect::<Vec<_>>().join(" ");
    escape(if t.is_empty() { fallback } else { &t })
}

/// Current UTC time as an xsd:dateTime (`YYYY-MM-DDTHH:MM:SSZ`).
pub fn now_utc() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    format_utc(secs)
}

/// Formats seconds since the Unix epoch as an xsd:dateTime in UTC.
pub fn format_utc(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from day count (proleptic Gregorian).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Builds the reply with the current time and an identifier derived from
/// the transfer's.
pub fn reply(
    version: SedaVersion,
    transfer: &TransferInfo,
    outcome: Result<&[AcceptedUnit], &Rejection>,
) -> String {
    let id = format!("ATR-{}", transfer.message_identifier);
    reply_at(version, transfer, outcome, &id, &now_utc())
}

/// Builds the reply with an explicit identifier and date (xsd:dateTime).
pub fn reply_at(
    version: SedaVersion,
    transfer: &TransferInfo,
    outcome: Result<&[AcceptedUnit], &Rejection>,
    reply_identifier: &str,
    date: &str,
) -> String {
    let date = escape(date);
    let mut x = String::new();
    x.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    x.push_str(&format!(
        "<ArchiveTransferReply xmlns=\"{}\">\n",
        version.namespace()
    ));
    x.push_str(&format!("  <Date>{date}</Date>\n"));
    x.push_str(&format!(
        "  <MessageIdentifier>{}</MessageIdentifier>\n",
        token(reply_identifier, "ATR")
    ));
    if !transfer.archival_agreement.trim().is_empty() {
        x.push_str(&format!(
            "  <ArchivalAgreement>{}</ArchivalAgreement>\n",
            token(&transfer.archival_agreement, "")
        ));
    }
    x.push_str("  <CodeListVersions/>\n");
    x.push_str(&format!(
        "  <ReplyCode>{}</ReplyCode>\n",
        if outcome.is_ok() { "OK" } else { "KO" }
    ));
    x.push_str("  <Operation>\n");
    match outcome {
        Ok(units) => {
            for u in units {
                x.push_str("    <Event>\n");
                x.push_str(&format!(
                    "      <EventIdentifier>{}</EventIdentifier>\n",
                    token(&u.archive_id, &u.unit_id)
                ));
                x.push_str("      <EventTypeCode>ARCHIVE_UNIT_STORED</EventTypeCode>\n");
                x.push_str(&format!("      <EventDateTime>{date}</EventDateTime>\n"));
                x.push_str("      <Outcome>OK</Outcome>\n");
                x.push_str(&format!(
                    "      <EventDetailData>{}</EventDetailData>\n",
                    token(&u.unit_id, "unknown")
                ));
                x.push_str("    </Event>\n");
            }
        }
        Err(r) => {
            x.push_str("    <Event>\n");
            x.push_str("      <EventTypeCode>CHECK_TRANSFER</EventTypeCode>\n");
            x.push_str(&format!("      <EventDateTime>{date}</EventDateTime>\n"));
            x.push_str("      <Outcome>KO</Outcome>\n");
            x.push_str(&format!(
                "      <OutcomeDetail>{}</OutcomeDetail>\n",
                token(r.code, "KO")
            ));
            x.push_str(&format!(
                "      <OutcomeDetailMessage>{}</OutcomeDetailMessage>\n",
                token(&r.message, r.code)
            ));
            x.push_str("    </Event>\n");
        }
    }
    x.push_str("  </Operation>\n");
    x.push_str(&format!(
        "  <MessageRequestIdentifier>{}</MessageRequestIdentifier>\n",
        token(&transfer.message_identifier, "unknown")
    ));
    if outcome.is_ok() {
        x.push_str(&format!("  <GrantDate>{date}</GrantDate>\n"));
    }
    x.push_str(&format!(
        "  <ArchivalAgency>\n    <Identifier>{}</Identifier>\n  </ArchivalAgency>\n",
        token(&transfer.archival_agency, "unknown")
    ));
    x.push_str(&format!(
        "  <TransferringAgency>\n    <Identifier>{}</Identifier>\n  </TransferringAgency>\n",
        token(&transfer.transferring_agency, "unknown")
    ));
    x.push_str("</ArchiveTransferReply>\n");
    x
}

//! `ArchiveTransferReply` (ATR): the answer to a transfer, in the SEDA
//! version of the package. `ReplyCode` is `OK` or `KO`; the detail is in
//! `Operation/Event`: one event per archived unit on success, one event
//! carrying the rejection code and message on failure.
//!
//! [`reply_asalae_at`] words the same reply as As@lae does for its clients
//! (Pastell), and [`read_header`] reads back the header of a reply made
//! here.

use std::time::{SystemTime, UNIX_EPOCH};

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;

use crate::error::{code, Rejection};
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
    let verdict = match outcome {
        Ok(units) => Verdict::Accepted(units),
        Err(r) => Verdict::Refused(Refusal {
            code: r.code,
            message: &r.message,
        }),
    };
    render(version, transfer, &verdict, reply_identifier, date, None)
}

/// Why a transfer was refused, as kept with its outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal<'a> {
    /// A code of [`crate::code`].
    pub code: &'a str,
    pub message: &'a str,
}

/// The transfer as archived: the archive standing for the whole transfer
/// (its manifest) and the units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchivedTransfer<'a> {
    /// Identifier of the transfer's archive here.
    pub archive_id: &'a str,
    pub title: &'a str,
    pub units: &'a [AcceptedUnit],
}

/// Builds the reply as As@lae words it, for its clients (Pastell's
/// `as@lae-rest` connector), on top of the SEDA reply of [`reply_at`]:
///
/// - `Comment` carries `comment` (the outcome, shown to the user);
/// - `MessageIdentifier` is the transfer's `MessageIdentifier` (the client
///   checks it) and `MessageRequestIdentifier` the reply's own identifier;
/// - `ReplyCode` is `000` for an accepted transfer (`KO` otherwise);
/// - an accepted transfer's reply holds one archive unit whose
///   `ArchivalAgencyArchiveUnitIdentifier` is the identifier of the
///   transfer's archive here.
pub fn reply_asalae_at(
    version: SedaVersion,
    transfer: &TransferInfo,
    outcome: Result<ArchivedTransfer<'_>, Refusal<'_>>,
    comment: &str,
    reply_identifier: &str,
    date: &str,
) -> String {
    let verdict = match &outcome {
        Ok(t) => Verdict::Accepted(t.units),
        Err(r) => Verdict::Refused(*r),
    };
    let asalae = Asalae {
        comment,
        archive: outcome.ok(),
    };
    render(
        version,
        transfer,
        &verdict,
        reply_identifier,
        date,
        Some(&asalae),
    )
}

/// `ReplyCode` of an accepted transfer for As@lae clients.
pub const ASALAE_ACCEPTED: &str = "000";

enum Verdict<'a> {
    Accepted(&'a [AcceptedUnit]),
    Refused(Refusal<'a>),
}

struct Asalae<'a> {
    comment: &'a str,
    archive: Option<ArchivedTransfer<'a>>,
}

fn render(
    version: SedaVersion,
    transfer: &TransferInfo,
    verdict: &Verdict<'_>,
    reply_identifier: &str,
    date: &str,
    asalae: Option<&Asalae<'_>>,
) -> String {
    let accepted = matches!(verdict, Verdict::Accepted(_));
    let date = escape(date);
    let reply_id = token(reply_identifier, "ATR");
    let transfer_id = token(&transfer.message_identifier, "unknown");
    let (message_identifier, request_identifier) = match asalae {
        Some(_) => (&transfer_id, &reply_id),
        None => (&reply_id, &transfer_id),
    };
    let mut x = String::new();
    x.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    x.push_str(&format!(
        "<ArchiveTransferReply xmlns=\"{}\">\n",
        version.namespace()
    ));
    if let Some(a) = asalae.filter(|a| !a.comment.trim().is_empty()) {
        x.push_str(&format!("  <Comment>{}</Comment>\n", escape(a.comment)));
    }
    x.push_str(&format!("  <Date>{date}</Date>\n"));
    x.push_str(&format!(
        "  <MessageIdentifier>{message_identifier}</MessageIdentifier>\n"
    ));
    if !transfer.archival_agreement.trim().is_empty() {
        x.push_str(&format!(
            "  <ArchivalAgreement>{}</ArchivalAgreement>\n",
            token(&transfer.archival_agreement, "")
        ));
    }
    x.push_str("  <CodeListVersions/>\n");
    if let Some(archive) = asalae.and_then(|a| a.archive) {
        x.push_str("  <DataObjectPackage>\n    <DescriptiveMetadata>\n");
        x.push_str("      <ArchiveUnit id=\"transfer\">\n        <Content>\n");
        x.push_str("          <DescriptionLevel>RecordGrp</DescriptionLevel>\n");
        x.push_str(&format!(
            "          <Title>{}</Title>\n",
            escape(if archive.title.trim().is_empty() {
                archive.archive_id
            } else {
                archive.title
            })
        ));
        x.push_str(&format!(
            "          <ArchivalAgencyArchiveUnitIdentifier>{}</ArchivalAgencyArchiveUnitIdentifier>\n",
            token(archive.archive_id, "unknown")
        ));
        x.push_str("        </Content>\n      </ArchiveUnit>\n");
        x.push_str("    </DescriptiveMetadata>\n    <ManagementMetadata/>\n");
        x.push_str("  </DataObjectPackage>\n");
    }
    let reply_code = match (accepted, asalae) {
        (true, Some(_)) => ASALAE_ACCEPTED,
        (true, None) => "OK",
        (false, _) => "KO",
    };
    x.push_str(&format!("  <ReplyCode>{reply_code}</ReplyCode>\n"));
    x.push_str("  <Operation>\n");
    match verdict {
        Verdict::Accepted(units) => {
            for u in units.iter() {
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
        Verdict::Refused(r) => {
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
                token(r.message, r.code)
            ));
            x.push_str("    </Event>\n");
        }
    }
    x.push_str("  </Operation>\n");
    x.push_str(&format!(
        "  <MessageRequestIdentifier>{request_identifier}</MessageRequestIdentifier>\n"
    ));
    if accepted {
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

/// The header of a reply made by [`reply_at`], read back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplyHeader {
    pub version: Option<SedaVersion>,
    pub date: String,
    pub message_identifier: String,
    pub message_request_identifier: String,
    pub reply_code: String,
    pub archival_agreement: String,
    pub archival_agency: String,
    pub transferring_agency: String,
}

impl ReplyHeader {
    /// The transfer a reply of [`reply_at`] answers, as far as the reply
    /// names it.
    pub fn transfer(&self) -> TransferInfo {
        TransferInfo {
            message_identifier: self.message_request_identifier.clone(),
            archival_agreement: self.archival_agreement.clone(),
            archival_agency: self.archival_agency.clone(),
            transferring_agency: self.transferring_agency.clone(),
            ..TransferInfo::default()
        }
    }
}

/// Reads the header of an `ArchiveTransferReply` (no DTD allowed; only the
/// predefined entities).
pub fn read_header(xml: &str) -> Result<ReplyHeader, Rejection> {
    let malformed = |e: String| Rejection::new(code::MALFORMED_MANIFEST, format!("reply: {e}"));
    let mut reader = NsReader::from_str(xml);
    reader.config_mut().expand_empty_elements = true;
    reader.config_mut().check_end_names = true;
    let mut header = ReplyHeader::default();
    let mut stack: Vec<String> = Vec::new();
    let mut text = String::new();
    loop {
        let (ns, event) = reader
            .read_resolved_event()
            .map_err(|e| malformed(e.to_string()))?;
        match event {
            Event::DocType(_) => return Err(malformed("a DOCTYPE is not allowed".into())),
            Event::Start(e) => {
                let local = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                if stack.is_empty() {
                    if local != "ArchiveTransferReply" {
                        return Err(malformed(format!("root element {local}")));
                    }
                    if let ResolveResult::Bound(n) = ns {
                        header.version =
                            SedaVersion::from_namespace(&String::from_utf8_lossy(n.as_ref()));
                    }
                }
                stack.push(local);
                text.clear();
            }
            Event::Text(t) => text.push_str(&t.decode().map_err(|e| malformed(e.to_string()))?),
            Event::CData(t) => text.push_str(&t.decode().map_err(|e| malformed(e.to_string()))?),
            Event::GeneralRef(r) => {
                let c = match r.resolve_char_ref().map_err(|e| malformed(e.to_string()))? {
                    Some(c) => c,
                    None => match r.decode().map_err(|e| malformed(e.to_string()))?.as_ref() {
                        "lt" => '<',
                        "gt" => '>',
                        "amp" => '&',
                        "apos" => '\'',
                        "quot" => '"',
                        other => return Err(malformed(format!("undeclared entity &{other};"))),
                    },
                };
                text.push(c);
            }
            Event::End(_) => {
                let value = text.trim().to_owned();
                text.clear();
                let path: Vec<&str> = stack.iter().map(String::as_str).collect();
                let h = &mut header;
                match path.as_slice() {
                    [_, "Date"] => h.date = value,
                    [_, "MessageIdentifier"] => h.message_identifier = value,
                    [_, "MessageRequestIdentifier"] => h.message_request_identifier = value,
                    [_, "ReplyCode"] => h.reply_code = value,
                    [_, "ArchivalAgreement"] => h.archival_agreement = value,
                    [_, "ArchivalAgency", "Identifier"] => h.archival_agency = value,
                    [_, "TransferringAgency", "Identifier"] => h.transferring_agency = value,
                    _ => {}
                }
                stack.pop();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if header.version.is_none() {
        return Err(malformed(
            "not a SEDA 2.1, 2.2 or 2.3 ArchiveTransferReply".into(),
        ));
    }
    Ok(header)
}

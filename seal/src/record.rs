//! The log entry: one `minutier/record/v1` record per archival event.
//!
//! Most events concern one archive. Events that concern the appliance as a
//! whole, such as a scrub run ([`RecordKind::Scrub`]), a time-stamp of a
//! checkpoint ([`RecordKind::Timestamp`]) or a change of the log's signing
//! key ([`RecordKind::KeyRotation`]), name the reserved archive
//! [`APPLIANCE_ID`] instead ([`RecordKind::is_appliance`]).
//!
//! The encoding is a short line-oriented text, specified normatively in
//! `docs/seal-format.md`, chosen so an auditor can read a record inside a seal
//! and recompute its hash with standard tools. Exactly one byte string encodes
//! a given record, so [`Record::decode`] accepts precisely the output of
//! [`Record::encode`] for valid records.

use std::fmt;
use std::str::FromStr;

use crate::error::snippet;
use crate::hash::{from_hex, leaf_hash, to_hex};
use crate::text::parse_decimal;
use crate::{Error, Hash};

/// The header line of every version 1 record.
pub const RECORD_V1: &str = "minutier/record/v1";

/// Maximum size of an encoded record in bytes.
pub const MAX_RECORD_LEN: usize = 4096;

/// Maximum length of an archive identifier in characters.
pub const MAX_ARCHIVE_ID_LEN: usize = 128;

/// Maximum length of an actor identity in bytes of UTF-8.
pub const MAX_ACTOR_LEN: usize = 256;

/// The reserved archive identifier of appliance-level events: every record
/// of an appliance kind ([`RecordKind::is_appliance`]) names it, and no other
/// record does. Real archive identifiers are 26-character ULIDs in lowercase
/// Crockford base32, which can never be this word.
pub const APPLIANCE_ID: &str = "appliance";

/// What happened to the archive, or to the appliance for the appliance kinds
/// ([`RecordKind::is_appliance`]). Each kind is a lowercase token in the
/// encoding (`docs/seal-format.md` §2.3 gives the meaning of each, and what
/// `metadata-sha256` commits to).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordKind {
    /// `ingest`: the document entered the archive. Always, and only, the
    /// first record of an archive's chain.
    Ingest,
    /// `metadata-correction`: the descriptive metadata was corrected.
    MetadataCorrection,
    /// `rules-change`: the management rules (retention, final disposition,
    /// access restrictions) changed.
    RulesChange,
    /// `hold-placed`: a hold now prevents the archive's elimination.
    HoldPlaced,
    /// `hold-lifted`: a hold was lifted.
    HoldLifted,
    /// `read-content`: the document's content was communicated.
    ReadContent,
    /// `read-metadata`: the archive's metadata was communicated.
    ReadMetadata,
    /// `elimination-proposed`: the archive was included in a proposed
    /// elimination order.
    EliminationProposed,
    /// `elimination-approved`: the elimination order covering the archive
    /// was approved.
    EliminationApproved,
    /// `elimination-refused`: the elimination order covering the archive was
    /// refused; the archive is kept.
    EliminationRefused,
    /// `elimination-executed`: the document was destroyed. This record is the
    /// archive's tombstone; only `read-metadata` records may follow it.
    EliminationExecuted,
    /// `scrub`: a scrub run, the periodic fixity check of every stored
    /// document and every replica, was completed. An appliance event: the
    /// record names the archive [`APPLIANCE_ID`], and `content-sha256`,
    /// `size` and `metadata-sha256` commit to the scrub report.
    Scrub,
    /// `timestamp`: a time-stamping authority time-stamped a signed
    /// checkpoint of the log (RFC 3161). An appliance event, like `scrub`:
    /// `content-sha256`, `size` and `metadata-sha256` commit to the
    /// timestamp document, which holds the checkpoint and the token.
    Timestamp,
    /// `key-rotation`: the log's checkpoint signing key was replaced. An
    /// appliance event, like `scrub`: `content-sha256`, `size` and
    /// `metadata-sha256` commit to the key rotation document, which names
    /// the old and the new verifier key. The checkpoint that first covers
    /// this record is signed by both keys; later ones by the new key only.
    KeyRotation,
}

impl RecordKind {
    /// Every kind, in the order of the format specification.
    pub const ALL: [RecordKind; 14] = [
        RecordKind::Ingest,
        RecordKind::MetadataCorrection,
        RecordKind::RulesChange,
        RecordKind::HoldPlaced,
        RecordKind::HoldLifted,
        RecordKind::ReadContent,
        RecordKind::ReadMetadata,
        RecordKind::EliminationProposed,
        RecordKind::EliminationApproved,
        RecordKind::EliminationRefused,
        RecordKind::EliminationExecuted,
        RecordKind::Scrub,
        RecordKind::Timestamp,
        RecordKind::KeyRotation,
    ];

    /// The token used in the encoding, e.g. `"ingest"` or `"hold-placed"`.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Ingest => "ingest",
            RecordKind::MetadataCorrection => "metadata-correction",
            RecordKind::RulesChange => "rules-change",
            RecordKind::HoldPlaced => "hold-placed",
            RecordKind::HoldLifted => "hold-lifted",
            RecordKind::ReadContent => "read-content",
            RecordKind::ReadMetadata => "read-metadata",
            RecordKind::EliminationProposed => "elimination-proposed",
            RecordKind::EliminationApproved => "elimination-approved",
            RecordKind::EliminationRefused => "elimination-refused",
            RecordKind::EliminationExecuted => "elimination-executed",
            RecordKind::Scrub => "scrub",
            RecordKind::Timestamp => "timestamp",
            RecordKind::KeyRotation => "key-rotation",
        }
    }

    /// Whether the record logs an access: `read-content` or `read-metadata`.
    pub fn is_access(self) -> bool {
        matches!(self, RecordKind::ReadContent | RecordKind::ReadMetadata)
    }

    /// Whether the record is a step of an elimination order: proposed,
    /// approved, refused or executed. For these kinds `metadata-sha256`
    /// commits to the elimination order rather than to the archive's
    /// metadata.
    pub fn is_elimination(self) -> bool {
        matches!(
            self,
            RecordKind::EliminationProposed
                | RecordKind::EliminationApproved
                | RecordKind::EliminationRefused
                | RecordKind::EliminationExecuted
        )
    }

    /// Whether the record concerns the appliance as a whole rather than one
    /// archive: `scrub`, `timestamp` and `key-rotation`. Such a record names the archive
    /// [`APPLIANCE_ID`], belongs to the appliance's chain, and commits to
    /// its own report twice (`metadata-sha256` equals `content-sha256`).
    pub fn is_appliance(self) -> bool {
        matches!(
            self,
            RecordKind::Scrub | RecordKind::Timestamp | RecordKind::KeyRotation
        )
    }

    /// What an appliance record commits to, in the words of messages.
    fn report_name(self) -> &'static str {
        match self {
            RecordKind::Timestamp => "timestamp document",
            RecordKind::KeyRotation => "key rotation document",
            _ => "scrub report",
        }
    }
}

impl fmt::Display for RecordKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RecordKind {
    type Err = Error;

    /// Accepts exactly the lowercase tokens of [`RecordKind::as_str`].
    fn from_str(s: &str) -> Result<Self, Error> {
        RecordKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| Error::InvalidField {
                field: "kind",
                reason: format!(
                    "unknown record kind {:?} (known: {})",
                    snippet(s),
                    RecordKind::ALL.map(RecordKind::as_str).join(", ")
                ),
            })
    }
}

/// A point in time: milliseconds since the Unix epoch, UTC.
///
/// Written as RFC 3339 with exactly three fraction digits and `Z`, e.g.
/// `2026-11-29T08:52:46.123Z`. Only years 1970..=9999 are valid
/// ([`Timestamp::MAX`]); larger values still display (with a longer year) but
/// do not parse back and fail [`Record::validate`]. There are no leap seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub u64);

const MS_PER_DAY: u64 = 86_400_000;
/// Days from 0000-03-01 (the start of the proleptic civil calendar's
/// 400-year era used below) to 1970-01-01.
const EPOCH_SHIFT: u64 = 719_468;

impl Timestamp {
    /// The earliest valid timestamp, 1970-01-01T00:00:00.000Z.
    pub const MIN: Timestamp = Timestamp(0);
    /// The latest valid timestamp, 9999-12-31T23:59:59.999Z.
    pub const MAX: Timestamp = Timestamp(253_402_300_799_999);

    /// Whether the timestamp lies in 1970..=9999 and thus has an RFC 3339 form.
    pub fn is_valid(self) -> bool {
        self <= Self::MAX
    }
}

// Civil-calendar conversions after Howard Hinnant's `days_from_civil` /
// `civil_from_days`: a year is counted from March so that the leap day falls
// at its end, which turns month lengths into a linear formula. Only dates from
// 1970 on are needed, so everything stays unsigned.

/// (year, month, day) of the day `days` after 1970-01-01.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + EPOCH_SHIFT;
    let era = z / 146_097;
    let doe = z - era * 146_097; // day of era, 0..=146096
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // 0..=399
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of March-year, 0..=365
    let mp = (5 * doy + 2) / 153; // March = 0
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// Days from 1970-01-01 to the given date (year >= 1970, valid month and day).
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - EPOCH_SHIFT
}

fn is_leap(year: u64) -> bool {
    year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400))
}

fn days_in_month(year: u64, month: u64) -> u64 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 31,
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0 % 1000;
        let secs = self.0 / 1000;
        let (year, month, day) = civil_from_days(self.0 / MS_PER_DAY);
        let (h, m, s) = ((secs / 3600) % 24, (secs / 60) % 60, secs % 60);
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{ms:03}Z"
        )
    }
}

impl FromStr for Timestamp {
    type Err = Error;

    /// Parses exactly `YYYY-MM-DDTHH:MM:SS.mmmZ`: no other offsets, precisions
    /// or lowercase `t`/`z`, so that each instant has one spelling.
    fn from_str(s: &str) -> Result<Self, Error> {
        let err = |reason| Error::InvalidTimestamp {
            input: snippet(s),
            reason,
        };
        let b = s.as_bytes();
        if b.len() != 24 {
            return Err(err(
                "must be exactly 24 characters, YYYY-MM-DDTHH:MM:SS.mmmZ",
            ));
        }
        let shape_ok = b[4] == b'-'
            && b[7] == b'-'
            && b[10] == b'T'
            && b[13] == b':'
            && b[16] == b':'
            && b[19] == b'.'
            && b[23] == b'Z';
        if !shape_ok {
            return Err(err(
                "wrong separators; the form is YYYY-MM-DDTHH:MM:SS.mmmZ (UTC, uppercase T and Z)",
            ));
        }
        let num = |from: usize, to: usize| -> Result<u64, Error> {
            b[from..to].iter().try_fold(0u64, |acc, &c| {
                if c.is_ascii_digit() {
                    Ok(acc * 10 + u64::from(c - b'0'))
                } else {
                    Err(err("non-digit where a digit is expected"))
                }
            })
        };
        let (year, month, day) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
        let (hour, minute, second, milli) =
            (num(11, 13)?, num(14, 16)?, num(17, 19)?, num(20, 23)?);
        if year < 1970 {
            return Err(err("year before 1970"));
        }
        if !(1..=12).contains(&month) {
            return Err(err("month out of range 01-12"));
        }
        if day < 1 || day > days_in_month(year, month) {
            return Err(err("day out of range for the month"));
        }
        if hour > 23 || minute > 59 || second > 59 {
            return Err(err("time of day out of range (no leap seconds)"));
        }
        let days = days_from_civil(year, month, day);
        Ok(Timestamp(
            days * MS_PER_DAY + ((hour * 60 + minute) * 60 + second) * 1000 + milli,
        ))
    }
}

/// One log entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// What happened.
    pub kind: RecordKind,
    /// The archive (document) this record is about: 1..=128 characters of
    /// `[A-Za-z0-9._-]`. [`APPLIANCE_ID`] for the appliance kinds, and only
    /// for them.
    pub archive_id: String,
    /// When the appliance accepted the event.
    pub time: Timestamp,
    /// Authenticated identity that caused the event: 1..=256 bytes of UTF-8,
    /// no control characters, not starting or ending with a space.
    pub actor: String,
    /// SHA-256 of the document's bytes. The same in every record of an
    /// archive, the elimination tombstone included. For an appliance record
    /// (`scrub`, `timestamp`, `key-rotation`), SHA-256 of the canonical
    /// JSON ([`crate::metadata::canonical_json`]) of its report: the scrub
    /// report, the timestamp document or the key rotation document.
    pub content_sha256: Hash,
    /// Size of the document in bytes, likewise the same in every record.
    /// For an appliance record, the length of its report's canonical JSON.
    pub size: u64,
    /// [`crate::metadata::digest`] of what the event leaves behind: for
    /// elimination kinds ([`RecordKind::is_elimination`]) the elimination
    /// order, for an appliance record its report (so it equals
    /// `content_sha256`), for every other kind the archive's full metadata
    /// (descriptive metadata, management rules and holds), as it stands after
    /// the event.
    pub metadata_sha256: Hash,
    /// Leaf hash of the previous record of the same archive (its lifecycle
    /// hash chain, or the appliance's chain for [`APPLIANCE_ID`]), `None` for
    /// the first.
    pub previous: Option<Hash>,
}

/// Checks an archive identifier: 1..=128 characters of `[A-Za-z0-9._-]`.
pub fn validate_archive_id(id: &str) -> Result<(), Error> {
    validate_identifier("archive", "archive", id)
}

/// The identifier rules shared by archives and elimination orders; `field`
/// names the key in errors and `what` the kind of identifier.
pub(crate) fn validate_identifier(field: &'static str, what: &str, id: &str) -> Result<(), Error> {
    if id.is_empty() || id.len() > MAX_ARCHIVE_ID_LEN {
        return Err(Error::InvalidField {
            field,
            reason: format!(
                "{what} identifiers are 1 to {MAX_ARCHIVE_ID_LEN} characters, this one has {}",
                id.chars().count()
            ),
        });
    }
    if let Some(c) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(Error::InvalidField {
            field,
            reason: format!(
                "character {c:?} is not allowed; use only A-Z, a-z, 0-9, '.', '_' and '-'"
            ),
        });
    }
    Ok(())
}

/// Checks that `kind` and `archive` go together: the appliance kinds name
/// exactly [`APPLIANCE_ID`], and [`APPLIANCE_ID`] has only appliance kinds.
/// The error is about the `archive` field, the second of the pair in the
/// encoding.
pub fn validate_kind_archive(kind: RecordKind, archive: &str) -> Result<(), Error> {
    if kind.is_appliance() == (archive == APPLIANCE_ID) {
        return Ok(());
    }
    let reason = if kind.is_appliance() {
        format!(
            "kind {kind} concerns the appliance as a whole: the record names the archive \
             {APPLIANCE_ID:?}, not {:?}",
            snippet(archive)
        )
    } else {
        format!(
            "{APPLIANCE_ID:?} is reserved for appliance events ({}), and kind {kind} concerns one \
             archive, which the record must name",
            appliance_kinds()
        )
    };
    Err(Error::InvalidField {
        field: "archive",
        reason,
    })
}

/// The appliance kinds' tokens, comma-separated.
fn appliance_kinds() -> String {
    RecordKind::ALL
        .into_iter()
        .filter(|k| k.is_appliance())
        .map(RecordKind::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Checks what the digests of a record of `kind` commit to, where a rule
/// ties them together: an appliance record's `metadata-sha256` and
/// `content-sha256` are both the SHA-256 of its report (the scrub report,
/// the timestamp document, the key rotation document).
fn validate_digests(kind: RecordKind, content: &Hash, metadata: &Hash) -> Result<(), Error> {
    if kind.is_appliance() && content != metadata {
        return Err(Error::InvalidField {
            field: "metadata-sha256",
            reason: format!(
                "a {kind} record commits to its {} twice, so metadata-sha256 equals \
                 content-sha256 ({}), but it is {}",
                kind.report_name(),
                to_hex(content),
                to_hex(metadata)
            ),
        });
    }
    Ok(())
}

/// Checks an actor identity: 1..=256 bytes of UTF-8, no control characters,
/// no leading or trailing space.
///
/// The space rule keeps the encoding's "single space after the key, nothing
/// trailing" property true of every line, and stops two identities that look
/// the same on paper from hashing differently.
pub fn validate_actor(actor: &str) -> Result<(), Error> {
    let field = "actor";
    let bad = |reason: String| Err(Error::InvalidField { field, reason });
    if actor.is_empty() || actor.len() > MAX_ACTOR_LEN {
        return bad(format!(
            "actors are 1 to {MAX_ACTOR_LEN} bytes of UTF-8, this one has {}",
            actor.len()
        ));
    }
    if let Some(c) = actor.chars().find(|c| c.is_control()) {
        return bad(format!("control character {c:?} is not allowed"));
    }
    if actor.starts_with(' ') || actor.ends_with(' ') {
        return bad("leading or trailing spaces are not allowed".into());
    }
    Ok(())
}

/// The keys of a v1 record, in their mandatory order.
const KEYS: [&str; 8] = [
    "kind",
    "archive",
    "time",
    "actor",
    "content-sha256",
    "size",
    "metadata-sha256",
    "previous",
];

impl Record {
    /// Checks every field against the rules of the format. [`Record::encode`]
    /// does not validate; call this first for records built from untrusted
    /// input (the daemon does, before appending).
    pub fn validate(&self) -> Result<(), Error> {
        validate_archive_id(&self.archive_id)?;
        validate_kind_archive(self.kind, &self.archive_id)?;
        if !self.time.is_valid() {
            return Err(Error::InvalidField {
                field: "time",
                reason: "timestamps must lie in the years 1970 to 9999".into(),
            });
        }
        validate_actor(&self.actor)?;
        validate_digests(self.kind, &self.content_sha256, &self.metadata_sha256)?;
        Ok(())
    }

    /// The canonical encoding (see the module documentation). Infallible and
    /// unchecked: an invalid record encodes to bytes that
    /// [`Record::decode`] rejects.
    pub fn encode(&self) -> Vec<u8> {
        use std::fmt::Write as _;
        let mut s = String::with_capacity(320 + self.archive_id.len() + self.actor.len());
        // Writing to a String cannot fail.
        let _ = write!(
            s,
            "{RECORD_V1}\nkind {}\narchive {}\ntime {}\nactor {}\ncontent-sha256 {}\nsize {}\n\
             metadata-sha256 {}\nprevious {}\n",
            self.kind,
            self.archive_id,
            self.time,
            self.actor,
            to_hex(&self.content_sha256),
            self.size,
            to_hex(&self.metadata_sha256),
            match &self.previous {
                Some(h) => to_hex(h),
                None => "none".to_owned(),
            },
        );
        s.into_bytes()
    }

    /// Parses a canonical encoding. Strict: exact header, keys in order, one
    /// space between key and value, LF line endings including after the last
    /// line, no extra, missing or duplicate keys, decimals without leading
    /// zeros, lowercase hex, at most [`MAX_RECORD_LEN`] bytes. Succeeds only if
    /// re-encoding gives back exactly `bytes`.
    pub fn decode(bytes: &[u8]) -> Result<Record, Error> {
        let whole = |reason: &str| Error::InvalidRecord {
            line: 0,
            reason: reason.to_owned(),
        };
        if bytes.len() > MAX_RECORD_LEN {
            return Err(Error::InvalidRecord {
                line: 0,
                reason: format!(
                    "{} bytes is larger than the {MAX_RECORD_LEN}-byte maximum",
                    bytes.len()
                ),
            });
        }
        let text = std::str::from_utf8(bytes).map_err(|_| whole("not valid UTF-8"))?;
        if text.contains('\r') {
            return Err(whole(
                "contains a carriage return; records use LF line endings only (was the file \
                 converted to CRLF?)",
            ));
        }
        let Some(body) = text.strip_suffix('\n') else {
            return Err(whole("must end with a newline (LF) after the last line"));
        };
        let mut lines = body.split('\n');
        let at = |line: usize, reason: String| Error::InvalidRecord { line, reason };

        match lines.next() {
            Some(RECORD_V1) => {}
            Some(other) if other.starts_with("minutier/record/") => {
                return Err(at(
                    1,
                    format!(
                        "unsupported record version {:?}; this software reads {RECORD_V1}",
                        snippet(other)
                    ),
                ))
            }
            _ => return Err(at(1, format!("the first line must be {RECORD_V1:?}"))),
        }

        let mut values: [&str; 8] = [""; 8];
        for (i, key) in KEYS.iter().enumerate() {
            let line_no = i + 2;
            let Some(line) = lines.next() else {
                return Err(at(line_no, format!("missing key `{key}`")));
            };
            let Some((found, value)) = line.split_once(' ') else {
                return Err(at(
                    line_no,
                    format!("expected `{key} <value>` (key, one space, value)"),
                ));
            };
            if found != *key {
                let reason = if KEYS[..i].contains(&found) {
                    format!("duplicate key `{found}`")
                } else if KEYS[i..].contains(&found) {
                    format!("key `{found}` is out of order; expected `{key}` here")
                } else {
                    format!("unknown key {:?}; expected `{key}`", snippet(found))
                };
                return Err(at(line_no, reason));
            }
            if *key != "actor" && (value.starts_with(' ') || value.ends_with(' ')) {
                return Err(at(
                    line_no,
                    format!("extra space in `{key}`: use exactly one space after the key and none at the end"),
                ));
            }
            values[i] = value;
        }
        if lines.next().is_some() {
            return Err(at(10, "unexpected line after `previous`".into()));
        }

        let field = |i: usize, e: Error| match e {
            Error::InvalidField { reason, .. } | Error::InvalidHex(reason) => {
                at(i + 2, format!("`{}`: {reason}", KEYS[i]))
            }
            Error::InvalidTimestamp { reason, .. } => at(i + 2, format!("`{}`: {reason}", KEYS[i])),
            other => other,
        };
        let kind = values[0].parse::<RecordKind>().map_err(|e| field(0, e))?;
        validate_archive_id(values[1]).map_err(|e| field(1, e))?;
        validate_kind_archive(kind, values[1]).map_err(|e| field(1, e))?;
        let time = values[2].parse::<Timestamp>().map_err(|e| field(2, e))?;
        validate_actor(values[3]).map_err(|e| field(3, e))?;
        let content_sha256 = from_hex(values[4]).map_err(|e| field(4, e))?;
        let size = parse_decimal(values[5]).map_err(|r| at(7, format!("`size`: {r}")))?;
        let metadata_sha256 = from_hex(values[6]).map_err(|e| field(6, e))?;
        validate_digests(kind, &content_sha256, &metadata_sha256).map_err(|e| field(6, e))?;
        let previous = match values[7] {
            "none" => None,
            v => Some(from_hex(v).map_err(|e| field(7, e))?),
        };
        let record = Record {
            kind,
            archive_id: values[1].to_owned(),
            time,
            actor: values[3].to_owned(),
            content_sha256,
            size,
            metadata_sha256,
            previous,
        };
        // Belt and braces: the checks above are meant to make this hold; if a
        // future change breaks that, refuse rather than accept two spellings.
        if record.encode() != bytes {
            return Err(whole("not in canonical form"));
        }
        Ok(record)
    }

    /// The record's leaf hash in the log: SHA-256(0x00 || encode()).
    pub fn leaf_hash(&self) -> Hash {
        leaf_hash(&self.encode())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn timestamp_known_values() {
        assert_eq!(Timestamp(0).to_string(), "1970-01-01T00:00:00.000Z");
        assert_eq!(ts("1970-01-01T00:00:00.000Z"), Timestamp(0));
        assert_eq!(Timestamp::MAX.to_string(), "9999-12-31T23:59:59.999Z");
        assert_eq!(ts("9999-12-31T23:59:59.999Z"), Timestamp::MAX);
        // date -u -d 2026-11-29T08:52:46Z +%s  -> 1795942366
        assert_eq!(ts("2026-11-29T08:52:46.123Z"), Timestamp(1_795_942_366_123));
        assert_eq!(ts("2000-02-29T12:00:00.000Z"), Timestamp(951_825_600_000));
        assert_eq!(
            ts("2100-03-01T00:00:00.000Z").to_string(),
            "2100-03-01T00:00:00.000Z"
        );
        assert_eq!(
            Timestamp(Timestamp::MAX.0 + 1).to_string(),
            "10000-01-01T00:00:00.000Z"
        );
        // Out-of-range values still display without panicking.
        let _ = Timestamp(u64::MAX).to_string();
    }

    #[test]
    fn timestamp_rejects() {
        for bad in [
            "",
            "1969-12-31T23:59:59.999Z",
            "2026-11-29T08:52:46Z",
            "2026-11-29T08:52:46.12Z",
            "2026-11-29T08:52:46.1234Z",
            "2026-11-29t08:52:46.123Z",
            "2026-11-29T08:52:46.123z",
            "2026-11-29T08:52:46.123+00:00",
            "2026-11-29 08:52:46.123Z",
            "2026-13-29T08:52:46.123Z",
            "2026-00-29T08:52:46.123Z",
            "2026-02-29T08:52:46.123Z",
            "1900-02-29T08:52:46.123Z",
            "2026-04-31T08:52:46.123Z",
            "2026-11-00T08:52:46.123Z",
            "2026-11-29T24:00:00.000Z",
            "2026-11-29T23:60:00.000Z",
            "2026-11-29T23:59:60.000Z",
            "+026-11-29T08:52:46.123Z",
            "2026-11-29T08:52:4 .123Z",
            "2026-11-29T08:52:46.1é3Z",
            "１０２６-11-29T08:52:46.123Z",
            "10000-01-01T00:00:00.000Z",
        ] {
            assert!(bad.parse::<Timestamp>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn every_day_round_trips() {
        // Every day from 1970 to 2500 and the last days before 10000.
        let last = Timestamp::MAX.0 / MS_PER_DAY;
        for day in (0..194_000).chain(last - 1000..=last) {
            let t = Timestamp(day * MS_PER_DAY + 45_296_789);
            assert_eq!(t.to_string().parse::<Timestamp>(), Ok(t));
        }
    }

    #[test]
    fn kind_tokens() {
        assert_eq!(RecordKind::Ingest.as_str(), "ingest");
        assert_eq!("ingest".parse::<RecordKind>(), Ok(RecordKind::Ingest));
        let tokens = RecordKind::ALL.map(RecordKind::as_str);
        assert_eq!(
            tokens,
            [
                "ingest",
                "metadata-correction",
                "rules-change",
                "hold-placed",
                "hold-lifted",
                "read-content",
                "read-metadata",
                "elimination-proposed",
                "elimination-approved",
                "elimination-refused",
                "elimination-executed",
                "scrub",
                "timestamp",
                "key-rotation",
            ]
        );
        for kind in RecordKind::ALL {
            assert_eq!(kind.as_str().parse::<RecordKind>(), Ok(kind));
            assert_eq!(kind.to_string(), kind.as_str());
            assert!(kind.as_str().to_uppercase().parse::<RecordKind>().is_err());
            assert!(format!("{kind} ").parse::<RecordKind>().is_err());
            assert!(
                kind.as_str()
                    .replace('-', "_")
                    .parse::<RecordKind>()
                    .is_err()
                    || !kind.as_str().contains('-')
            );
        }
        assert!("Ingest".parse::<RecordKind>().is_err());
        assert!("".parse::<RecordKind>().is_err());
        assert!("elimination".parse::<RecordKind>().is_err());
        let msg = "hold".parse::<RecordKind>().unwrap_err().to_string();
        assert!(msg.contains("unknown record kind \"hold\""), "{msg}");
        for token in tokens {
            assert!(msg.contains(token), "{msg}");
        }
    }

    #[test]
    fn kind_classes() {
        let access: Vec<_> = RecordKind::ALL
            .into_iter()
            .filter(|k| k.is_access())
            .collect();
        assert_eq!(access, [RecordKind::ReadContent, RecordKind::ReadMetadata]);
        let elimination: Vec<_> = RecordKind::ALL
            .into_iter()
            .filter(|k| k.is_elimination())
            .collect();
        assert_eq!(
            elimination,
            [
                RecordKind::EliminationProposed,
                RecordKind::EliminationApproved,
                RecordKind::EliminationRefused,
                RecordKind::EliminationExecuted,
            ]
        );
        for kind in RecordKind::ALL {
            assert_eq!(
                kind.is_elimination(),
                kind.as_str().starts_with("elimination-")
            );
        }
        let appliance: Vec<_> = RecordKind::ALL
            .into_iter()
            .filter(|k| k.is_appliance())
            .collect();
        assert_eq!(
            appliance,
            [
                RecordKind::Scrub,
                RecordKind::Timestamp,
                RecordKind::KeyRotation
            ]
        );
        // The classes do not overlap.
        for kind in RecordKind::ALL {
            assert!(!(kind.is_appliance() && (kind.is_access() || kind.is_elimination())));
        }
    }

    /// A valid scrub record: a report of `report` bytes, chained after
    /// `previous`.
    fn scrub(report: &[u8], previous: Option<Hash>) -> Record {
        let digest = crate::hash::sha256(report);
        Record {
            kind: RecordKind::Scrub,
            archive_id: APPLIANCE_ID.into(),
            time: ts("2028-02-01T02:00:00.418Z"),
            actor: "svc-scrub@archives.mairie-exemple.fr".into(),
            content_sha256: digest,
            size: report.len() as u64,
            metadata_sha256: digest,
            previous,
        }
    }

    #[test]
    fn scrub_records_validate_and_decode() {
        let report = br#"{"documents":{"checked":3,"ok":3}}"#;
        let r = scrub(report, None);
        r.validate().unwrap();
        let bytes = r.encode();
        assert!(std::str::from_utf8(&bytes)
            .unwrap()
            .starts_with("minutier/record/v1\nkind scrub\narchive appliance\n"));
        assert_eq!(Record::decode(&bytes), Ok(r.clone()));
        let next = scrub(b"{}", Some(r.leaf_hash()));
        next.validate().unwrap();
        assert_eq!(Record::decode(&next.encode()), Ok(next));
        assert_eq!(APPLIANCE_ID, "appliance");
        assert!(validate_archive_id(APPLIANCE_ID).is_ok());
    }

    #[test]
    fn timestamp_records_validate_and_decode() {
        let scrub = scrub(b"{}", None);
        let document = br#"{"checkpoint_size":2,"token":"MIIG"}"#;
        let mut r = self::scrub(document, Some(scrub.leaf_hash()));
        r.kind = RecordKind::Timestamp;
        r.actor = "minutierd (timestamping)".into();
        r.validate().unwrap();
        let bytes = r.encode();
        assert!(std::str::from_utf8(&bytes)
            .unwrap()
            .starts_with("minutier/record/v1\nkind timestamp\narchive appliance\n"));
        assert_eq!(Record::decode(&bytes), Ok(r.clone()));
        let mut other = r.clone();
        other.archive_id = "01j9z3k8q4m7n2p5r6s8t0v1wx".into();
        assert!(other
            .validate()
            .unwrap_err()
            .to_string()
            .contains("kind timestamp concerns the appliance as a whole"));
    }

    #[test]
    fn scrub_must_name_the_appliance() {
        let mut r = scrub(b"{}", None);
        r.archive_id = "FRAD075-2027-000031".into();
        let e = r.validate().unwrap_err();
        assert_eq!(
            e,
            Error::InvalidField {
                field: "archive",
                reason: "kind scrub concerns the appliance as a whole: the record names the \
                         archive \"appliance\", not \"FRAD075-2027-000031\""
                    .into(),
            }
        );
        let e = Record::decode(&r.encode()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid record encoding at line 3: `archive`: kind scrub concerns the appliance as \
             a whole: the record names the archive \"appliance\", not \"FRAD075-2027-000031\""
        );
        // Exactly: no other spelling of the reserved id.
        for other in [
            "Appliance",
            "APPLIANCE",
            "appliance.",
            "appliances",
            "01j9z3k8q4m7n2p5r6s8t0v1wx",
        ] {
            r.archive_id = other.into();
            assert!(r.validate().is_err(), "{other}");
            assert!(
                matches!(
                    Record::decode(&r.encode()),
                    Err(Error::InvalidRecord { line: 3, .. })
                ),
                "{other}"
            );
        }
    }

    #[test]
    fn the_appliance_has_only_appliance_kinds() {
        for kind in RecordKind::ALL {
            let mut r = scrub(b"{}", None);
            r.kind = kind;
            if kind.is_appliance() {
                r.validate().unwrap();
                continue;
            }
            let e = r.validate().unwrap_err();
            let reason = format!(
                "\"appliance\" is reserved for appliance events (scrub, timestamp, key-rotation), and kind \
                 {kind} concerns one archive, which the record must name"
            );
            assert_eq!(
                e,
                Error::InvalidField {
                    field: "archive",
                    reason: reason.clone()
                },
                "{kind}"
            );
            assert_eq!(
                Record::decode(&r.encode()),
                Err(Error::InvalidRecord {
                    line: 3,
                    reason: format!("`archive`: {reason}")
                }),
                "{kind}"
            );
            // The same record about a real archive is fine.
            r.archive_id = "01j9z3k8q4m7n2p5r6s8t0v1wx".into();
            r.validate().unwrap();
            assert_eq!(Record::decode(&r.encode()), Ok(r));
        }
    }

    #[test]
    fn scrub_metadata_is_the_report_digest() {
        let mut r = scrub(b"{}", None);
        r.metadata_sha256 = [9; 32];
        let e = r.validate().unwrap_err();
        assert!(
            matches!(&e, Error::InvalidField { field: "metadata-sha256", reason } if reason.contains("equals content-sha256")),
            "{e:?}"
        );
        let e = Record::decode(&r.encode()).unwrap_err();
        assert!(matches!(e, Error::InvalidRecord { line: 8, .. }), "{e:?}");
        assert!(
            e.to_string().contains(&format!(
                "`metadata-sha256`: a scrub record commits to its scrub report twice, so \
                 metadata-sha256 equals content-sha256 ({}), but it is {}",
                to_hex(&r.content_sha256),
                "09".repeat(32)
            )),
            "{e}"
        );
        // The same rule for a timestamp record, about its document.
        r.kind = RecordKind::Timestamp;
        let e = Record::decode(&r.encode()).unwrap_err();
        assert!(
            e.to_string().contains(
                "`metadata-sha256`: a timestamp record commits to its timestamp document twice"
            ),
            "{e}"
        );
        // Other kinds have no such rule.
        r.kind = RecordKind::Ingest;
        r.archive_id = "a".into();
        r.validate().unwrap();
    }

    #[test]
    fn field_rules() {
        assert!(validate_archive_id("a").is_ok());
        assert!(validate_archive_id(&"a".repeat(128)).is_ok());
        assert!(validate_archive_id(&"a".repeat(129)).is_err());
        assert!(validate_archive_id("").is_err());
        assert!(validate_archive_id("a b").is_err());
        assert!(validate_archive_id("a/b").is_err());
        assert!(validate_archive_id("é").is_err());
        assert!(validate_actor("cn=Émilie Dupré").is_ok());
        assert!(validate_actor(&"é".repeat(128)).is_ok());
        assert!(validate_actor(&"é".repeat(129)).is_err());
        assert!(validate_actor("").is_err());
        assert!(validate_actor("a\tb").is_err());
        assert!(validate_actor("a\u{85}b").is_err());
        assert!(validate_actor(" a").is_err());
        assert!(validate_actor("a ").is_err());
    }
}

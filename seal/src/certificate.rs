//! Elimination certificates: `minutier/elimination-certificate/v1`.
//!
//! When an approved elimination order is executed, each archive it covers
//! receives an `elimination-executed` record (its tombstone) in the log, and
//! the appliance issues one certificate for the whole order. The certificate
//! is a C2SP signed note, signed by the log key, whose text names the order,
//! its reason, who proposed, approved and executed it and when, and for
//! each archive its document digest and size and the index and leaf hash of
//! its tombstone:
//!
//! ```text
//! minutier/elimination-certificate/v1
//! origin <origin>
//! elimination <elimination-id>
//! reason <text>
//! proposed <timestamp> <actor>
//! approved <timestamp> <actor>
//! executed <timestamp> <actor>
//! log-size <decimal>
//! archive <archive-id> <content-sha256> <size> <tombstone-index> <tombstone-hash>
//! …
//! ```
//!
//! The normative description is `docs/seal-format.md` §8. As with records,
//! exactly one text encodes a given certificate: [`EliminationCertificate::decode`]
//! accepts precisely the output of [`EliminationCertificate::encode`] for
//! valid certificates. The first line keeps a certificate from being taken
//! for a checkpoint and the other way round.

use std::collections::HashSet;
use std::fmt::Write as _;

use crate::chain::ChainLink;
use crate::error::snippet;
use crate::hash::{from_hex, to_hex};
use crate::note::{self, validate_key_name, Signer, VerifierKey};
use crate::record::{
    validate_actor, validate_archive_id, validate_identifier, RecordKind, Timestamp,
};
use crate::text::parse_decimal;
use crate::{Error, Hash};

/// The first line of every version 1 certificate.
pub const CERTIFICATE_V1: &str = "minutier/elimination-certificate/v1";

/// Maximum number of archive lines in one certificate.
pub const MAX_CERTIFICATE_ARCHIVES: usize = 100_000;

/// Maximum length of the reason, in bytes of UTF-8.
pub const MAX_REASON_LEN: usize = 1024;

/// Maximum size of a signed certificate note (and thus of its text), in
/// bytes: 32 MiB, room for [`MAX_CERTIFICATE_ARCHIVES`] archive lines of the
/// greatest possible length (309 bytes each). Checkpoints keep the smaller
/// [`note::MAX_NOTE_LEN`].
pub const MAX_CERTIFICATE_LEN: usize = 32 << 20;

/// One archive destroyed by the elimination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EliminatedArchive {
    /// The archive's identifier.
    pub archive_id: String,
    /// SHA-256 of the destroyed document, as in every record of the archive.
    pub content_sha256: Hash,
    /// Size of the destroyed document in bytes.
    pub size: u64,
    /// Log index of the archive's `elimination-executed` record.
    pub tombstone_index: u64,
    /// Leaf hash of that record.
    pub tombstone_hash: Hash,
}

impl EliminatedArchive {
    /// The certificate line for an archive whose chain ends in `tombstone`,
    /// an `elimination-executed` record checked by [`crate::chain`].
    pub fn from_tombstone(tombstone: &ChainLink) -> Result<Self, Error> {
        if tombstone.record.kind != RecordKind::EliminationExecuted {
            return Err(Error::InvalidField {
                field: "kind",
                reason: format!(
                    "the record at index {} ({}) is not an elimination-executed record; an \
                     eliminated archive is identified by its tombstone",
                    tombstone.index, tombstone.record.kind
                ),
            });
        }
        Ok(Self {
            archive_id: tombstone.record.archive_id.clone(),
            content_sha256: tombstone.record.content_sha256,
            size: tombstone.record.size,
            tombstone_index: tombstone.index,
            tombstone_hash: tombstone.leaf_hash,
        })
    }
}

/// A signed statement by the log that an elimination order was carried out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EliminationCertificate {
    /// The log's origin; equals the name of the key that signs the
    /// certificate.
    pub origin: String,
    /// The elimination order's identifier: 1..=128 characters of
    /// `[A-Za-z0-9._-]`, like archive identifiers.
    pub elimination_id: String,
    /// Why the archives were eliminated: 1..=1024 bytes of UTF-8, no control
    /// characters, no leading or trailing space.
    pub reason: String,
    /// When and by whom the order was proposed.
    pub proposed: (Timestamp, String),
    /// When and by whom it was approved (not before it was proposed).
    pub approved: (Timestamp, String),
    /// When and by whom it was executed (not before it was approved).
    pub executed: (Timestamp, String),
    /// The log's size once all the tombstones were appended: every
    /// tombstone index is below it.
    pub log_size: u64,
    /// The eliminated archives, by strictly increasing tombstone index; at
    /// least one, at most [`MAX_CERTIFICATE_ARCHIVES`], each archive once.
    pub archives: Vec<EliminatedArchive>,
}

/// The keys of the lines before the archive lines, in order (line 2 on).
const KEYS: [&str; 7] = [
    "origin",
    "elimination",
    "reason",
    "proposed",
    "approved",
    "executed",
    "log-size",
];

/// Line number of the first archive line.
const FIRST_ARCHIVE_LINE: usize = KEYS.len() + 2;

fn at(line: usize, reason: impl Into<String>) -> Error {
    Error::InvalidCertificate {
        line,
        reason: reason.into(),
    }
}

/// The reason carried by an error from a shared field parser or validator.
fn reason_of(e: Error) -> String {
    match e {
        Error::InvalidField { reason, .. } | Error::InvalidHex(reason) => reason,
        Error::InvalidTimestamp { reason, .. } => reason.to_owned(),
        other => other.to_string(),
    }
}

/// Rewrites a field error from a shared validator as a certificate error at
/// `line`, prefixed with the key being read.
fn at_field(line: usize, key: &str, e: Error) -> Error {
    at(line, format!("`{key}`: {}", reason_of(e)))
}

/// Checks a reason: 1..=1024 bytes of UTF-8, no control characters, no
/// leading or trailing space.
pub fn validate_reason(reason: &str) -> Result<(), Error> {
    let bad = |reason: String| {
        Err(Error::InvalidField {
            field: "reason",
            reason,
        })
    };
    if reason.is_empty() || reason.len() > MAX_REASON_LEN {
        return bad(format!(
            "a reason is 1 to {MAX_REASON_LEN} bytes of UTF-8, this one has {}",
            reason.len()
        ));
    }
    if let Some(c) = reason.chars().find(|c| c.is_control()) {
        return bad(format!("control character {c:?} is not allowed"));
    }
    if reason.starts_with(' ') || reason.ends_with(' ') {
        return bad("leading or trailing spaces are not allowed".into());
    }
    Ok(())
}

/// Checks an elimination order identifier: the rules of archive identifiers.
pub fn validate_elimination_id(id: &str) -> Result<(), Error> {
    validate_identifier("elimination", "elimination", id)
}

impl EliminationCertificate {
    /// Checks every field against the rules of the format; errors name the
    /// line of the encoding that holds the field. [`Self::encode`] does not
    /// validate; [`Self::sign`] does.
    pub fn validate(&self) -> Result<(), Error> {
        check_head(&self.origin, &self.elimination_id, &self.reason)?;
        let steps = [
            (5, "proposed", &self.proposed),
            (6, "approved", &self.approved),
            (7, "executed", &self.executed),
        ];
        for (line, key, (time, actor)) in steps {
            if !time.is_valid() {
                return Err(at(
                    line,
                    format!("`{key}`: timestamps must lie in the years 1970 to 9999"),
                ));
            }
            validate_actor(actor).map_err(|e| at_field(line, key, e))?;
        }
        if self.approved.0 < self.proposed.0 {
            return Err(at(
                6,
                format!(
                    "the order was approved at {}, before it was proposed at {}: times must not \
                     go backwards (proposed <= approved <= executed)",
                    self.approved.0, self.proposed.0
                ),
            ));
        }
        if self.executed.0 < self.approved.0 {
            return Err(at(
                7,
                format!(
                    "the order was executed at {}, before it was approved at {}: times must not \
                     go backwards (proposed <= approved <= executed)",
                    self.executed.0, self.approved.0
                ),
            ));
        }
        if self.archives.is_empty() {
            return Err(at(
                FIRST_ARCHIVE_LINE,
                "no archive line: a certificate lists at least one eliminated archive",
            ));
        }
        if self.archives.len() > MAX_CERTIFICATE_ARCHIVES {
            return Err(at(
                FIRST_ARCHIVE_LINE + MAX_CERTIFICATE_ARCHIVES,
                format!(
                    "{} archive lines; a certificate lists at most {MAX_CERTIFICATE_ARCHIVES} \
                     archives (split the elimination order)",
                    self.archives.len()
                ),
            ));
        }
        let mut seen = HashSet::with_capacity(self.archives.len());
        let mut before: Option<u64> = None;
        for (i, a) in self.archives.iter().enumerate() {
            let line = FIRST_ARCHIVE_LINE + i;
            validate_archive_id(&a.archive_id).map_err(|e| at_field(line, "archive", e))?;
            if a.tombstone_index >= self.log_size {
                return Err(at(
                    line,
                    format!(
                        "archive {}: tombstone index {} is not below the log size {}; the \
                         log-size line must count every tombstone",
                        a.archive_id, a.tombstone_index, self.log_size
                    ),
                ));
            }
            if let Some(before) = before {
                if a.tombstone_index <= before {
                    return Err(at(
                        line,
                        format!(
                            "archive {}: tombstone index {} is not greater than the previous \
                             line's {before}; archive lines are ordered by strictly increasing \
                             tombstone index",
                            a.archive_id, a.tombstone_index
                        ),
                    ));
                }
            }
            if !seen.insert(a.archive_id.as_str()) {
                return Err(at(
                    line,
                    format!(
                        "archive {} is listed twice; an archive has one tombstone",
                        a.archive_id
                    ),
                ));
            }
            before = Some(a.tombstone_index);
        }
        Ok(())
    }

    /// The canonical text (the signed body of the note), each line ending
    /// in LF. Infallible and unchecked: an invalid certificate encodes to a
    /// text that [`Self::decode`] rejects.
    pub fn encode(&self) -> String {
        let mut s = String::with_capacity(
            400 + self.origin.len() + self.reason.len() + 200 * self.archives.len(),
        );
        // Writing to a String cannot fail.
        let _ = write!(
            s,
            "{CERTIFICATE_V1}\norigin {}\nelimination {}\nreason {}\nproposed {} {}\n\
             approved {} {}\nexecuted {} {}\nlog-size {}\n",
            self.origin,
            self.elimination_id,
            self.reason,
            self.proposed.0,
            self.proposed.1,
            self.approved.0,
            self.approved.1,
            self.executed.0,
            self.executed.1,
            self.log_size,
        );
        for a in &self.archives {
            let _ = writeln!(
                s,
                "archive {} {} {} {} {}",
                a.archive_id,
                to_hex(&a.content_sha256),
                a.size,
                a.tombstone_index,
                to_hex(&a.tombstone_hash),
            );
        }
        s
    }

    /// Parses a certificate text (the body of the note, without signature
    /// lines). Strict: exact first line, keys in order, one space between
    /// fields, LF line endings including after the last line, no blank or
    /// extra lines, decimals without leading zeros, lowercase hex, and every
    /// rule of [`Self::validate`]. Succeeds only if re-encoding gives back
    /// exactly `text`.
    pub fn decode(text: &str) -> Result<Self, Error> {
        if text.len() > MAX_CERTIFICATE_LEN {
            return Err(at(
                0,
                format!(
                    "{} bytes is larger than the {MAX_CERTIFICATE_LEN}-byte maximum",
                    text.len()
                ),
            ));
        }
        if text.contains('\r') {
            return Err(at(
                0,
                "contains a carriage return; certificates use LF line endings only (was the \
                 file converted to CRLF?)",
            ));
        }
        let Some(body) = text.strip_suffix('\n') else {
            return Err(at(0, "must end with a newline (LF) after the last line"));
        };
        let mut lines = body.split('\n');
        match lines.next() {
            Some(CERTIFICATE_V1) => {}
            Some(other) if other.starts_with("minutier/elimination-certificate/") => {
                return Err(at(
                    1,
                    format!(
                        "unsupported certificate version {:?}; this software reads \
                         {CERTIFICATE_V1}",
                        snippet(other)
                    ),
                ))
            }
            _ => {
                return Err(at(
                    1,
                    format!(
                        "the first line must be {CERTIFICATE_V1:?}: this is not an elimination \
                         certificate (a checkpoint, for instance, starts with its origin)"
                    ),
                ))
            }
        }

        let mut values: [&str; 7] = [""; 7];
        for (i, key) in KEYS.iter().enumerate() {
            let line_no = i + 2;
            let Some(line) = lines.next() else {
                return Err(at(line_no, format!("missing key `{key}`")));
            };
            values[i] = split_key(line, line_no, key, i)?;
        }
        let origin = values[0];
        if origin.starts_with(' ') || origin.ends_with(' ') {
            return Err(extra_space(2, "origin"));
        }
        let elimination_id = values[1];
        if elimination_id.starts_with(' ') || elimination_id.ends_with(' ') {
            return Err(extra_space(3, "elimination"));
        }
        let reason = values[2];
        if reason.starts_with(' ') || reason.ends_with(' ') {
            return Err(extra_space(4, "reason"));
        }
        // Report problems in line order: the head now, the archive lines as
        // they are read, and the rules that relate lines at the end.
        check_head(origin, elimination_id, reason)?;
        let step = |i: usize| -> Result<(Timestamp, String), Error> {
            let (line_no, key) = (i + 2, KEYS[i]);
            let Some((time, actor)) = values[i].split_once(' ') else {
                return Err(at(line_no, format!("expected `{key} <timestamp> <actor>`")));
            };
            if time.is_empty() || actor.starts_with(' ') || actor.ends_with(' ') {
                return Err(extra_space(line_no, key));
            }
            let time = time
                .parse::<Timestamp>()
                .map_err(|e| at_field(line_no, key, e))?;
            validate_actor(actor).map_err(|e| at_field(line_no, key, e))?;
            Ok((time, actor.to_owned()))
        };
        let proposed = step(3)?;
        let approved = step(4)?;
        let executed = step(5)?;
        if values[6].starts_with(' ') || values[6].ends_with(' ') {
            return Err(extra_space(8, "log-size"));
        }
        let log_size = parse_decimal(values[6]).map_err(|r| at(8, format!("`log-size`: {r}")))?;

        let mut archives = Vec::new();
        for (i, line) in lines.enumerate() {
            let line_no = FIRST_ARCHIVE_LINE + i;
            if i == MAX_CERTIFICATE_ARCHIVES {
                return Err(at(
                    line_no,
                    format!(
                        "more than {MAX_CERTIFICATE_ARCHIVES} archive lines; a certificate lists \
                         at most {MAX_CERTIFICATE_ARCHIVES} archives"
                    ),
                ));
            }
            let value = split_key(line, line_no, "archive", KEYS.len())?;
            archives.push(parse_archive(value, line_no)?);
        }

        let certificate = EliminationCertificate {
            origin: origin.to_owned(),
            elimination_id: elimination_id.to_owned(),
            reason: reason.to_owned(),
            proposed,
            approved,
            executed,
            log_size,
            archives,
        };
        certificate.validate()?;
        // Belt and braces, as for records: refuse rather than accept a
        // second spelling if the checks above ever miss one.
        if certificate.encode() != text {
            return Err(at(0, "not in canonical form"));
        }
        Ok(certificate)
    }

    /// Signs the certificate with the log key and returns the whole signed
    /// note. The signer's name must equal [`Self::origin`], and the
    /// certificate must pass [`Self::validate`].
    pub fn sign(&self, signer: &dyn Signer) -> Result<String, Error> {
        if signer.name() != self.origin {
            return Err(Error::CertificateOriginMismatch {
                origin: snippet(&self.origin),
                key_name: snippet(signer.name()),
            });
        }
        self.validate()?;
        note::sign_note_max(&self.encode(), signer, MAX_CERTIFICATE_LEN)
    }

    /// Verifies a signed certificate note with the log's verifier key and
    /// parses it: the note must carry a valid signature by `key`, its text
    /// must be a canonical certificate, and its origin must equal the key's
    /// name. Signature lines by other keys (witnesses) are ignored.
    pub fn verify(note: &str, key: &VerifierKey) -> Result<Self, Error> {
        let vk = note::decode_verifier(key)?;
        let body = note::verify_note_max(note, key, &vk, MAX_CERTIFICATE_LEN)?;
        let certificate = Self::decode(body)?;
        if certificate.origin != key.name {
            return Err(Error::CertificateOriginMismatch {
                origin: snippet(&certificate.origin),
                key_name: key.name.clone(),
            });
        }
        Ok(certificate)
    }

    /// Parses a signed certificate note *without* verifying any signature.
    /// For display only: nothing in it can be trusted.
    pub fn parse_unverified(note: &str) -> Result<Self, Error> {
        Self::decode(note::split_note_max(note, MAX_CERTIFICATE_LEN)?.body)
    }

    /// A human-readable rendering in French, for printing or archiving
    /// alongside the signed note. Pure formatting: render a certificate
    /// returned by [`Self::verify`], the rendering itself proves nothing.
    pub fn render_fr(&self) -> String {
        let mut s = String::with_capacity(1024 + 120 * self.archives.len());
        let _ = write!(
            s,
            "Certificat d'élimination\n\
             ========================\n\
             \n\
             Journal : {origin}\n\
             Élimination n° {id}\n\
             Motif : {reason}\n\
             \n\
             Proposée par {p_actor} le {p_time}\n\
             Visée (approuvée) par {a_actor} le {a_time}\n\
             Exécutée par {e_actor} le {e_time}\n\
             \n\
             Archives éliminées : {n}\n\
             Taille du journal après l'élimination : {log_size} enregistrement{log_plural}\n\
             \n\
             | Archive | Empreinte SHA-256 | Taille (octets) | N° d'enregistrement du journal |\n\
             |---|---|---|---|\n",
            origin = self.origin,
            id = self.elimination_id,
            reason = self.reason,
            p_actor = self.proposed.1,
            p_time = date_fr(self.proposed.0),
            a_actor = self.approved.1,
            a_time = date_fr(self.approved.0),
            e_actor = self.executed.1,
            e_time = date_fr(self.executed.0),
            n = self.archives.len(),
            log_size = self.log_size,
            log_plural = if self.log_size == 1 { "" } else { "s" },
        );
        for a in &self.archives {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} |",
                a.archive_id,
                to_hex(&a.content_sha256),
                a.size,
                a.tombstone_index
            );
        }
        let _ = write!(
            s,
            "\nL'enregistrement d'élimination de chaque archive reste au journal et conserve \
             l'empreinte du document détruit. Ce certificat est signé par la clé du journal \
             {origin} ; sa signature se vérifie hors ligne avec la clé publique du journal.\n",
            origin = self.origin
        );
        s
    }
}

/// Checks the origin, elimination and reason lines' values.
fn check_head(origin: &str, elimination_id: &str, reason: &str) -> Result<(), Error> {
    validate_key_name(origin).map_err(|_| {
        at(
            2,
            format!(
                "`origin`: {:?} is not a valid log origin (non-empty, no whitespace, control \
                 characters or '+')",
                snippet(origin)
            ),
        )
    })?;
    validate_elimination_id(elimination_id).map_err(|e| at_field(3, "elimination", e))?;
    validate_reason(reason).map_err(|e| at_field(4, "reason", e))
}

fn extra_space(line: usize, key: &str) -> Error {
    at(
        line,
        format!("extra space in `{key}`: use exactly one space between fields and none at the end"),
    )
}

/// Splits `line` into its key, which must be `key` (the `i`-th expected
/// key; `KEYS.len()` for archive lines), and its value.
fn split_key<'a>(line: &'a str, line_no: usize, key: &str, i: usize) -> Result<&'a str, Error> {
    if line.is_empty() {
        return Err(at(line_no, format!("blank line where `{key}` is expected")));
    }
    let Some((found, value)) = line.split_once(' ') else {
        return Err(at(
            line_no,
            format!("expected `{key} <value>` (key, one space, value)"),
        ));
    };
    if found == key {
        return Ok(value);
    }
    let reason = if KEYS[..i.min(KEYS.len())].contains(&found) {
        format!("duplicate key `{found}`")
    } else if KEYS[i.min(KEYS.len())..].contains(&found) || found == "archive" {
        format!("key `{found}` is out of order; expected `{key}` here")
    } else {
        format!("unknown key {:?}; expected `{key}`", snippet(found))
    };
    Err(at(line_no, reason))
}

/// Parses the value of an archive line:
/// `<archive-id> <content-sha256> <size> <tombstone-index> <tombstone-hash>`.
fn parse_archive(value: &str, line_no: usize) -> Result<EliminatedArchive, Error> {
    let fields: Vec<&str> = value.split(' ').collect();
    if fields.iter().any(|f| f.is_empty()) {
        return Err(extra_space(line_no, "archive"));
    }
    let [archive_id, content, size, index, hash] = fields[..] else {
        return Err(at(
            line_no,
            format!(
                "expected `archive <archive-id> <content-sha256> <size> <tombstone-index> \
                 <tombstone-hash>` (5 fields), found {} field{}",
                fields.len(),
                if fields.len() == 1 { "" } else { "s" }
            ),
        ));
    };
    validate_archive_id(archive_id).map_err(|e| at_field(line_no, "archive", e))?;
    let content_sha256 = from_hex(content).map_err(|e| {
        at(
            line_no,
            format!("`archive` content-sha256: {}", reason_of(e)),
        )
    })?;
    let size = parse_decimal(size).map_err(|r| at(line_no, format!("`archive` size: {r}")))?;
    let tombstone_index =
        parse_decimal(index).map_err(|r| at(line_no, format!("`archive` tombstone index: {r}")))?;
    let tombstone_hash = from_hex(hash).map_err(|e| {
        at(
            line_no,
            format!("`archive` tombstone hash: {}", reason_of(e)),
        )
    })?;
    Ok(EliminatedArchive {
        archive_id: archive_id.to_owned(),
        content_sha256,
        size,
        tombstone_index,
        tombstone_hash,
    })
}

/// "29 novembre 2026 à 08:52:46 UTC (2026-11-29T08:52:46.123Z)": the French
/// long date, then the exact value as written in the certificate.
/// The months, as a French date writes them (*29 novembre 2026*).
pub const FRENCH_MONTHS: [&str; 12] = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];

fn date_fr(t: Timestamp) -> String {
    let exact = t.to_string();
    if !t.is_valid() {
        return exact;
    }
    // A valid timestamp displays as YYYY-MM-DDTHH:MM:SS.mmmZ.
    let (year, month, day, time) = (&exact[0..4], &exact[5..7], &exact[8..10], &exact[11..19]);
    let month = month
        .parse::<usize>()
        .ok()
        .and_then(|m| FRENCH_MONTHS.get(m.wrapping_sub(1)))
        .copied()
        .unwrap_or(month);
    let day = match day.trim_start_matches('0') {
        "1" => "1er",
        d => d,
    };
    format!("{day} {month} {year} à {time} UTC ({exact})")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::Checkpoint;
    use crate::note::Ed25519Signer;

    const ORIGIN: &str = "archives.mairie-exemple.fr/minutier";

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn cert() -> EliminationCertificate {
        EliminationCertificate {
            origin: ORIGIN.into(),
            elimination_id: "ELIM-2027-002".into(),
            reason: "Durée d'utilité administrative échue (10 ans), sort final : destruction"
                .into(),
            proposed: (ts("2037-01-05T09:00:00.000Z"), "cn=Émilie Dupré".into()),
            approved: (
                ts("2037-02-01T10:30:00.000Z"),
                "cn=Directeur des Archives".into(),
            ),
            executed: (ts("2037-02-01T10:30:00.000Z"), "svc-elimination".into()),
            log_size: 15,
            archives: vec![
                EliminatedArchive {
                    archive_id: "FRAD075-2026-000114".into(),
                    content_sha256: [0xba; 32],
                    size: 48,
                    tombstone_index: 13,
                    tombstone_hash: [0x13; 32],
                },
                EliminatedArchive {
                    archive_id: "FRAD075-2026-000115".into(),
                    content_sha256: [0x0f; 32],
                    size: 0,
                    tombstone_index: 14,
                    tombstone_hash: [0x14; 32],
                },
            ],
        }
    }

    fn signer() -> Ed25519Signer {
        Ed25519Signer::from_seed(ORIGIN, &[5; 32]).unwrap()
    }

    #[test]
    fn round_trip() {
        let c = cert();
        c.validate().unwrap();
        let text = c.encode();
        assert!(text.starts_with(
            "minutier/elimination-certificate/v1\norigin archives.mairie-exemple.fr/minutier\n\
             elimination ELIM-2027-002\nreason Durée"
        ));
        assert!(text.ends_with(&format!(" 14 {}\n", "14".repeat(32))));
        assert_eq!(text.lines().count(), 10);
        assert_eq!(EliminationCertificate::decode(&text), Ok(c.clone()));
        let note = c.sign(&signer()).unwrap();
        assert!(note.starts_with(&text));
        assert_eq!(
            EliminationCertificate::verify(&note, &signer().verifier_key()),
            Ok(c.clone())
        );
        assert_eq!(EliminationCertificate::parse_unverified(&note), Ok(c));
    }

    #[test]
    fn validate_rules() {
        type Change = Box<dyn Fn(&mut EliminationCertificate)>;
        let bad: Vec<(&str, usize, Change)> = vec![
            ("origin", 2, Box::new(|c| c.origin = "a b".into())),
            ("origin", 2, Box::new(|c| c.origin = String::new())),
            (
                "elimination",
                3,
                Box::new(|c| c.elimination_id = "ELIM/2".into()),
            ),
            (
                "elimination",
                3,
                Box::new(|c| c.elimination_id = "e".repeat(129)),
            ),
            ("reason", 4, Box::new(|c| c.reason = String::new())),
            ("reason", 4, Box::new(|c| c.reason = "x".repeat(1025))),
            ("reason", 4, Box::new(|c| c.reason = " lead".into())),
            ("reason", 4, Box::new(|c| c.reason = "trail ".into())),
            ("reason", 4, Box::new(|c| c.reason = "a\tb".into())),
            ("reason", 4, Box::new(|c| c.reason = "a\u{85}b".into())),
            ("proposed", 5, Box::new(|c| c.proposed.1 = String::new())),
            ("approved", 6, Box::new(|c| c.approved.1 = "x ".into())),
            (
                "executed",
                7,
                Box::new(|c| c.executed.0 = Timestamp(Timestamp::MAX.0 + 1)),
            ),
            (
                "backwards",
                6,
                Box::new(|c| c.approved.0 = Timestamp(c.proposed.0 .0 - 1)),
            ),
            (
                "backwards",
                7,
                Box::new(|c| c.executed.0 = Timestamp(c.approved.0 .0 - 1)),
            ),
            ("no archive", 9, Box::new(|c| c.archives.clear())),
            (
                "archive id",
                10,
                Box::new(|c| c.archives[1].archive_id = "a b".into()),
            ),
            (
                "index >= size",
                10,
                Box::new(|c| c.archives[1].tombstone_index = 15),
            ),
            (
                "unsorted",
                10,
                Box::new(|c| c.archives[1].tombstone_index = 12),
            ),
            (
                "same index",
                10,
                Box::new(|c| c.archives[1].tombstone_index = 13),
            ),
            (
                "duplicate",
                10,
                Box::new(|c| c.archives[1].archive_id = "FRAD075-2026-000114".into()),
            ),
        ];
        for (what, line, change) in bad {
            let mut c = cert();
            change(&mut c);
            let e = c.validate().unwrap_err();
            assert!(
                matches!(e, Error::InvalidCertificate { line: l, .. } if l == line),
                "{what}: {e:?}"
            );
            assert!(
                EliminationCertificate::decode(&c.encode()).is_err(),
                "{what}"
            );
            assert!(c.sign(&signer()).is_err(), "{what}");
        }
        let mut c = cert();
        c.reason = "é".repeat(512);
        c.validate().unwrap();
        c.reason = "x".into();
        c.proposed.0 = c.executed.0;
        c.approved.0 = c.executed.0;
        c.validate().unwrap();
    }

    #[test]
    fn archive_count_limit() {
        let mut c = cert();
        let a = c.archives[0].clone();
        c.archives = (0..=MAX_CERTIFICATE_ARCHIVES as u64)
            .map(|i| EliminatedArchive {
                archive_id: format!("A{i}"),
                tombstone_index: i,
                ..a.clone()
            })
            .collect();
        c.log_size = MAX_CERTIFICATE_ARCHIVES as u64 + 1;
        let e = c.validate().unwrap_err();
        assert!(e.to_string().contains("at most 100000"), "{e}");
        let e = EliminationCertificate::decode(&c.encode()).unwrap_err();
        assert!(
            matches!(e, Error::InvalidCertificate { line, .. } if line == 9 + MAX_CERTIFICATE_ARCHIVES),
            "{e}"
        );
        c.archives.pop();
        EliminationCertificate::decode(&c.encode()).unwrap();
    }

    #[test]
    fn largest_certificate_signs_and_verifies() {
        // 100 000 archive lines of the greatest length, and the longest
        // reason and actors: within MAX_CERTIFICATE_LEN.
        let mut c = cert();
        c.reason = "x".repeat(MAX_REASON_LEN);
        for step in [&mut c.proposed, &mut c.approved, &mut c.executed] {
            step.1 = "é".repeat(128);
        }
        c.log_size = u64::MAX;
        c.archives = (0..MAX_CERTIFICATE_ARCHIVES as u64)
            .map(|i| EliminatedArchive {
                archive_id: format!("{i:0>128}"),
                content_sha256: [0xff; 32],
                size: u64::MAX,
                tombstone_index: u64::MAX - 100_000 + i,
                tombstone_hash: [0xee; 32],
            })
            .collect();
        let note = c.sign(&signer()).unwrap();
        assert!(note.len() > note::MAX_NOTE_LEN * 20);
        assert!(note.len() < MAX_CERTIFICATE_LEN);
        assert_eq!(
            EliminationCertificate::verify(&note, &signer().verifier_key()),
            Ok(c)
        );
    }

    #[test]
    fn signer_must_be_the_origin() {
        let other = Ed25519Signer::from_seed("example.com/other", &[5; 32]).unwrap();
        assert!(matches!(
            cert().sign(&other),
            Err(Error::CertificateOriginMismatch { .. })
        ));
        // Signed by a key of another name: verification against that key
        // refuses the origin.
        let note = note::sign_note(&cert().encode(), &other).unwrap();
        let e = EliminationCertificate::verify(&note, &other.verifier_key()).unwrap_err();
        assert!(
            matches!(e, Error::CertificateOriginMismatch { .. }),
            "{e:?}"
        );
        assert!(e.to_string().contains("another log"), "{e}");
    }

    #[test]
    fn not_a_checkpoint_and_not_from_a_checkpoint() {
        let s = signer();
        let key = s.verifier_key();
        let note = cert().sign(&s).unwrap();
        assert!(matches!(
            Checkpoint::open(&note, &key),
            Err(Error::MalformedCheckpoint(_))
        ));
        assert!(Checkpoint::parse_unverified(&note).is_err());
        let cp = Checkpoint {
            origin: ORIGIN.into(),
            size: 15,
            root: [1; 32],
            extensions: vec![],
        };
        let cp_note = cp.sign(&s).unwrap();
        let e = EliminationCertificate::verify(&cp_note, &key).unwrap_err();
        assert!(
            matches!(e, Error::InvalidCertificate { line: 1, .. }),
            "{e:?}"
        );
        assert!(
            e.to_string().contains("not an elimination certificate"),
            "{e}"
        );
        assert!(EliminationCertificate::parse_unverified(&cp_note).is_err());
        // Even a log whose origin is the certificate's first line cannot
        // pass a checkpoint off as a certificate: the second lines differ.
        let odd = Ed25519Signer::from_seed(CERTIFICATE_V1, &[5; 32]).unwrap();
        let cp_note = Checkpoint {
            origin: CERTIFICATE_V1.into(),
            ..cp
        }
        .sign(&odd)
        .unwrap();
        let e = EliminationCertificate::verify(&cp_note, &odd.verifier_key()).unwrap_err();
        assert!(
            matches!(e, Error::InvalidCertificate { line: 2, .. }),
            "{e:?}"
        );
        let mut c = cert();
        c.origin = CERTIFICATE_V1.into();
        let note = c.sign(&odd).unwrap();
        assert!(Checkpoint::open(&note, &odd.verifier_key()).is_err());
        assert_eq!(
            EliminationCertificate::verify(&note, &odd.verifier_key()),
            Ok(c)
        );
    }

    #[test]
    fn from_tombstone() {
        use crate::record::Record;
        let record = Record {
            kind: RecordKind::EliminationExecuted,
            archive_id: "A".into(),
            time: Timestamp(0),
            actor: "x".into(),
            content_sha256: [1; 32],
            size: 3,
            metadata_sha256: [2; 32],
            previous: Some([3; 32]),
        };
        let mut link = ChainLink {
            index: 7,
            leaf_hash: record.leaf_hash(),
            record,
        };
        assert_eq!(
            EliminatedArchive::from_tombstone(&link),
            Ok(EliminatedArchive {
                archive_id: "A".into(),
                content_sha256: [1; 32],
                size: 3,
                tombstone_index: 7,
                tombstone_hash: link.leaf_hash,
            })
        );
        link.record.kind = RecordKind::EliminationApproved;
        let e = EliminatedArchive::from_tombstone(&link).unwrap_err();
        assert!(
            e.to_string()
                .contains("index 7 (elimination-approved) is not an elimination-executed record"),
            "{e}"
        );
    }

    #[test]
    fn french_rendering() {
        let mut c = cert();
        c.proposed.0 = ts("2037-03-01T08:05:09.000Z");
        c.approved.0 = ts("2037-03-01T08:05:09.000Z");
        let r = c.render_fr();
        assert!(r.starts_with("Certificat d'élimination\n"), "{r}");
        for needle in [
            "Élimination n° ELIM-2027-002\n",
            "Motif : Durée d'utilité administrative échue (10 ans), sort final : destruction\n",
            "Proposée par cn=Émilie Dupré le 1er mars 2037 à 08:05:09 UTC (2037-03-01T08:05:09.000Z)\n",
            "Visée (approuvée) par cn=Directeur des Archives le 1er mars 2037",
            "Exécutée par svc-elimination le 1er février 2037 à 10:30:00 UTC",
            "Archives éliminées : 2\nTaille du journal après l'élimination : 15 enregistrements\n",
            "| Archive | Empreinte SHA-256 | Taille (octets) | N° d'enregistrement du journal |\n",
            &format!("| FRAD075-2026-000114 | {} | 48 | 13 |\n", "ba".repeat(32)),
            &format!("| FRAD075-2026-000115 | {} | 0 | 14 |\n", "0f".repeat(32)),
        ] {
            assert!(r.contains(needle), "{needle:?} not in\n{r}");
        }
        c.log_size = 1;
        assert!(c
            .render_fr()
            .contains("Taille du journal après l'élimination : 1 enregistrement\n"));
        assert_eq!(
            date_fr(ts("2026-11-29T08:52:46.123Z")),
            "29 novembre 2026 à 08:52:46 UTC (2026-11-29T08:52:46.123Z)"
        );
        assert_eq!(
            date_fr(ts("1970-01-01T00:00:00.000Z")),
            "1er janvier 1970 à 00:00:00 UTC (1970-01-01T00:00:00.000Z)"
        );
        assert_eq!(
            date_fr(Timestamp(u64::MAX)),
            Timestamp(u64::MAX).to_string()
        );
    }
}

//! The daemon's domain types: what an archive is, independent of the wire
//! (protobuf) and of the storage engine.

use minutier_seal::record::Timestamp;
use minutier_seal::{hash, Hash};
use serde::{Deserialize, Serialize};

use std::fmt;

use crate::error::{Error, Result};

/// Descriptive metadata of a document, as received. Its canonical JSON is
/// what the record's `metadata-sha256` covers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    pub title: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub originating_agency: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keywords: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub file_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub media_type: String,
}

const MAX_TITLE: usize = 1024;
const MAX_TEXT: usize = 64 * 1024;
const MAX_KEYWORDS: usize = 256;
const MAX_SHORT: usize = 256;

impl Metadata {
    /// Checks the metadata a client sent; the message names the field.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidArgument(m));
        if self.title.trim().is_empty() {
            return bad("metadata.title is required (give the document a title)".into());
        }
        for (field, value, max) in [
            ("title", &self.title, MAX_TITLE),
            ("originating_agency", &self.originating_agency, MAX_SHORT),
            ("description", &self.description, MAX_TEXT),
            ("file_name", &self.file_name, MAX_SHORT * 4),
            ("media_type", &self.media_type, MAX_SHORT),
        ] {
            if value.len() > max {
                return bad(format!(
                    "metadata.{field} is {} bytes; at most {max} are accepted",
                    value.len()
                ));
            }
            if field != "description" && value.chars().any(char::is_control) {
                return bad(format!("metadata.{field} contains control characters"));
            }
        }
        if self.file_name.contains('/') || self.file_name.contains('\\') {
            return bad("metadata.file_name must be a base name, without directories".into());
        }
        if self.keywords.len() > MAX_KEYWORDS {
            return bad(format!(
                "{} keywords given; at most {MAX_KEYWORDS} are accepted",
                self.keywords.len()
            ));
        }
        if let Some(k) = self
            .keywords
            .iter()
            .find(|k| k.trim().is_empty() || k.len() > MAX_SHORT || k.chars().any(char::is_control))
        {
            return bad(format!(
                "keyword {k:?} is empty, too long or contains control characters"
            ));
        }
        for (field, date) in [
            ("start_date", &self.start_date),
            ("end_date", &self.end_date),
        ] {
            if let Some(d) = date {
                if !is_calendar_date(d) {
                    return bad(format!(
                        "metadata.{field} {d:?} is not a date of the form YYYY-MM-DD"
                    ));
                }
            }
        }
        if let (Some(s), Some(e)) = (&self.start_date, &self.end_date) {
            if s > e {
                return bad(format!("metadata.start_date {s} is after end_date {e}"));
            }
        }
        Ok(())
    }

    /// SHA-256 of the canonical JSON form (see docs/seal-format.md).
    pub fn digest(&self) -> Hash {
        let value = serde_json::to_value(self).expect("metadata always serialises");
        minutier_seal::metadata::digest(&value)
    }
}

fn is_calendar_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |acc, c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    let (Some(y), Some(m), Some(d)) = (digits(0..4), digits(5..7), digits(8..10)) else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d)
}

/// How a document's bytes are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BlobLocation {
    /// Small content, kept in the index itself (durable with its record).
    Inline,
    /// A zstd-compressed file under blobs/.
    Zstd,
    /// A file stored as is (compression did not pay).
    Raw,
}

/// One archive as the index knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveEntry {
    pub archive_id: String,
    pub metadata: Metadata,
    #[serde(with = "hex_hash")]
    pub metadata_sha256: Hash,
    #[serde(with = "hex_hash")]
    pub content_sha256: Hash,
    pub size: u64,
    pub stored_size: u64,
    pub blob: BlobLocation,
    pub log_index: u64,
    pub ingested_at: u64,
    pub actor: String,
    /// Leaf hash of the archive's latest record: the head of its chain.
    #[serde(with = "hex_hash")]
    pub record_hash: Hash,
}

impl ArchiveEntry {
    pub fn ingested_at(&self) -> Timestamp {
        Timestamp(self.ingested_at)
    }
}

mod hex_hash {
    use minutier_seal::{hash, Hash};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(h: &Hash, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hash::to_hex(h))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Hash, D::Error> {
        let s = <&str>::deserialize(d)?;
        hash::from_hex(s).map_err(serde::de::Error::custom)
    }
}

/// Parses a client-supplied SHA-256 (hex, either case).
pub fn parse_declared_sha256(s: &str) -> Result<Hash> {
    hash::from_hex(&s.to_ascii_lowercase()).map_err(|_| {
        Error::InvalidArgument(format!(
            "declared_sha256 {s:?} is not a SHA-256 digest in hex (64 hexadecimal digits)"
        ))
    })
}

/// Archive ids: 26 characters of Crockford base32, a millisecond timestamp
/// followed by 80 random bits (the ULID layout), so that ids sort by
/// arrival and never collide.
pub fn new_archive_id(now_millis: u64) -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    bytes[..6].copy_from_slice(&now_millis.to_be_bytes()[2..]);
    rand::thread_rng().fill_bytes(&mut bytes[6..]);
    let value = u128::from_be_bytes(bytes);
    const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
    (0..26)
        .rev()
        .map(|i| ALPHABET[((value >> (i * 5)) & 31) as usize] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_ids_sort_by_time_and_are_distinct() {
        let a = new_archive_id(1_700_000_000_000);
        let b = new_archive_id(1_700_000_000_001);
        let c = new_archive_id(1_700_000_000_001);
        assert_eq!(a.len(), 26);
        assert!(a < b && a < c);
        assert_ne!(b, c);
    }

    #[test]
    fn dates_are_checked() {
        assert!(is_calendar_date("2024-02-29"));
        assert!(!is_calendar_date("2023-02-29"));
        assert!(!is_calendar_date("2023-13-01"));
        assert!(!is_calendar_date("2023-1-01"));
        let mut m = Metadata {
            title: "t".into(),
            start_date: Some("2024-05-01".into()),
            end_date: Some("2024-01-01".into()),
            ..Default::default()
        };
        assert!(m.validate().is_err());
        m.end_date = None;
        m.validate().unwrap();
    }

    #[test]
    fn metadata_digest_ignores_absent_fields_and_is_stable() {
        let m = Metadata {
            title: "Délibération".into(),
            ..Default::default()
        };
        let json = serde_json::to_value(&m).unwrap();
        assert_eq!(json, serde_json::json!({"title": "Délibération"}));
        assert_eq!(m.digest(), m.clone().digest());
        let other = Metadata {
            title: "Délibération ".into(),
            ..Default::default()
        };
        assert_ne!(m.digest(), other.digest());
    }
}

/// What a credential allows; see `auth::allowed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Archivist,
    Dms,
    Auditor,
    Controller,
    Admin,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Archivist,
        Role::Dms,
        Role::Auditor,
        Role::Controller,
        Role::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Archivist => "archivist",
            Role::Dms => "dms",
            Role::Auditor => "auditor",
            Role::Controller => "controller",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A credential issued by this appliance, as its registry keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credential {
    /// Lowercase hex serial number of the certificate.
    pub serial: String,
    pub name: String,
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agency: Option<String>,
    /// Milliseconds since the Unix epoch.
    pub issued_at: u64,
    pub not_after: u64,
    pub issued_by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_by: Option<String>,
}

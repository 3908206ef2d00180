//! The daemon's domain types: what an archive is, independent of the wire
//! (protobuf) and of the storage engine.

use minutier_seal::record::Timestamp;
use minutier_seal::{hash, Hash};
use serde::{Deserialize, Serialize};

use std::fmt;

use crate::error::{Error, Result};
pub use crate::metadata::Metadata;

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
    /// Index of the ingest record.
    pub log_index: u64,
    pub ingested_at: u64,
    /// Who ingested it.
    pub actor: String,
    /// Leaf hash of the archive's latest record: the head of its chain.
    #[serde(with = "hex_hash")]
    pub record_hash: Hash,
    /// Index of that latest record.
    pub head_index: u64,
    /// Records in the archive's chain.
    pub record_count: u64,
    /// The elimination it is part of (pending or executed), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elimination_id: Option<String>,
    /// When its content was destroyed; the entry stays as a tombstone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eliminated_at: Option<u64>,
}

impl ArchiveEntry {
    pub fn ingested_at(&self) -> Timestamp {
        Timestamp(self.ingested_at)
    }

    pub fn is_eliminated(&self) -> bool {
        self.eliminated_at.is_some()
    }
}

/// Where an elimination stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EliminationState {
    Proposed,
    Approved,
    Refused,
    Executed,
}

impl EliminationState {
    pub fn as_str(self) -> &'static str {
        match self {
            EliminationState::Proposed => "proposed",
            EliminationState::Approved => "approved",
            EliminationState::Refused => "refused",
            EliminationState::Executed => "executed",
        }
    }

    /// Proposed or approved: its archives are reserved for it.
    pub fn is_pending(self) -> bool {
        matches!(
            self,
            EliminationState::Proposed | EliminationState::Approved
        )
    }
}

/// A step of an elimination: who, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// The actor as records name it.
    pub actor: String,
    /// The person's name from their credential: the proposer and the
    /// approver must be different people, whatever credentials they hold.
    pub name: String,
    /// Milliseconds since the Unix epoch.
    pub at: u64,
}

/// An elimination order: a proposal, its decision and its execution. Its
/// canonical JSON (without the certificate, which is made from the
/// records that commit to it) is what elimination records commit to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EliminationOrder {
    pub elimination_id: String,
    pub state: EliminationState,
    pub reason: String,
    pub archive_ids: Vec<String>,
    pub proposed: Step,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided: Option<Step>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub decision_reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executed: Option<Step>,
    /// The signed certificate, once executed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<String>,
}

impl EliminationOrder {
    /// The canonical JSON elimination records commit to.
    pub fn canonical_json(&self) -> Vec<u8> {
        let mut committed = serde_json::to_value(self).expect("orders always serialise");
        if let Some(object) = committed.as_object_mut() {
            object.remove("certificate");
        }
        minutier_seal::metadata::canonical_json(&committed)
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

/// Archive and elimination ids: 26 characters of Crockford base32, a millisecond timestamp
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
    /// Set for a console account that signs in with a password instead of a certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login: Option<PasswordLogin>,
}

/// How a console account signs in: its login, its password's argon2id
/// hash (PHC string) and, when required, its TOTP secret (base32).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordLogin {
    pub login: String,
    pub password_hash: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp_secret: Option<String>,
}

/// What happened at the console's door.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SignInOutcome {
    SignedIn,
    /// A known login, refused (wrong password or code, expired account).
    Failed,
    SignedOut,
    /// The session was closed because its credential was revoked or
    /// expired.
    Ended,
}

/// One line of the console's sign-in journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignIn {
    /// Milliseconds since the Unix epoch.
    pub at: u64,
    /// The login typed, or the certificate holder's name.
    pub login: String,
    /// The person as records name them, once known.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub actor: String,
    /// `password`, `password+totp` or `certificate`.
    pub method: String,
    pub outcome: SignInOutcome,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// The client's IP address.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub address: String,
}

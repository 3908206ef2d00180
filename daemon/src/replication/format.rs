//! What the bucket holds (docs/disaster-recovery.md, "Replica format"):
//!
//! - `checkpoints/<size, 20 digits>`: signed checkpoints, in clear, exactly
//!   as signed; they reveal a size and a root, so the region can watch for
//!   a rewritten history.
//! - `objects/<32 random hex digits>`: everything else, encrypted with age
//!   (X25519) to the appliance's replica key and every escrow recipient.
//!   The plaintext is one line of JSON (the [`Header`]) and a payload. Names
//!   are random: they reveal no archive id, digest or file name.
//!
//! Payloads: a document's content (raw bytes); a log segment (records of
//! an index range, the documents they commit to, the certificates of the
//! eliminations they close: all immutable, so a segment can be rebuilt
//! identically at any time); the appliance's secrets (signing key, replica
//! key, certificate authority, credential registry), for disaster recovery
//! with an escrow key.

use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Read, Write};

use age::x25519;
use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::model::Credential;

/// Prefix of encrypted objects.
pub const OBJECTS: &str = "objects/";
/// Prefix of clear checkpoints.
pub const CHECKPOINTS: &str = "checkpoints/";
/// Version of the replica format.
pub const VERSION: u32 = 1;
/// Longest header line accepted when decrypting.
const MAX_HEADER: usize = 4096;

/// The first line of every encrypted object's plaintext.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum Header {
    /// A document's content, followed by its bytes.
    Content { version: u32, sha256: String },
    /// Log records [from, to), followed by a [`Segment`] in JSON.
    Segment { version: u32, from: u64, to: u64 },
    /// The appliance's secrets, followed by [`Secrets`] in JSON. The highest
    /// generation is the current one.
    Secrets { version: u32, generation: u64 },
}

/// Log records and what they commit to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Segment {
    /// Each record's exact bytes, base64, in index order from `from`.
    pub records: Vec<String>,
    /// SHA-256 (hex) → canonical JSON committed to by a record.
    pub documents: BTreeMap<String, String>,
    /// Elimination id → signed certificate, for eliminations executed in
    /// this range.
    pub certificates: BTreeMap<String, String>,
}

impl Segment {
    pub fn record_bytes(&self) -> Result<Vec<Vec<u8>>, String> {
        self.records
            .iter()
            .enumerate()
            .map(|(i, r)| {
                base64::engine::general_purpose::STANDARD
                    .decode(r)
                    .map_err(|e| format!("record {i} of a segment is not base64: {e}"))
            })
            .collect()
    }
}

/// What rebuilding the appliance needs besides the log and the content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Secrets {
    pub origin: String,
    /// Files of the data directory (relative path → base64 contents):
    /// keys, certificate authority, the administrator's credential.
    pub files: BTreeMap<String, String>,
    /// The credential registry.
    pub credentials: Vec<Credential>,
}

/// The data directory files secrets carry.
pub const SECRET_FILES: [&str; 5] = [
    "keys/checkpoint.key",
    "keys/replica.key",
    "tls/ca.pem",
    "tls/ca.key",
    "credentials/admin.pem",
];

/// A random object name under [`OBJECTS`].
pub fn object_name() -> String {
    use rand::RngCore;
    let mut id = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut id);
    format!("{OBJECTS}{}", hex::encode(id))
}

/// The name of the checkpoint at `size`.
pub fn checkpoint_name(size: u64) -> String {
    format!("{CHECKPOINTS}{size:020}")
}

/// Encrypts `header` and `payload` to `recipients`, writing the age file to
/// `out`.
pub fn encrypt<W: Write>(
    recipients: &[x25519::Recipient],
    header: &Header,
    payload: &mut dyn Read,
    out: W,
) -> io::Result<W> {
    let encryptor =
        age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
            .map_err(|e| io::Error::other(format!("cannot encrypt: {e}")))?;
    let mut writer = encryptor.wrap_output(out)?;
    let mut line = serde_json::to_vec(header).expect("headers serialise");
    line.push(b'\n');
    writer.write_all(&line)?;
    io::copy(payload, &mut writer)?;
    writer.finish()
}

/// Opens an age file with `identity`; returns its header and a reader of
/// the payload.
pub fn decrypt<'a, R: Read + 'a>(
    identity: &x25519::Identity,
    input: R,
) -> Result<(Header, Box<dyn BufRead + 'a>), String> {
    let decryptor =
        age::Decryptor::new(BufReader::new(input)).map_err(|e| format!("not an age file: {e}"))?;
    let reader = decryptor
        .decrypt(std::iter::once(identity as &dyn age::Identity))
        .map_err(|e| format!("cannot decrypt with this identity: {e}"))?;
    let mut reader = BufReader::new(reader);
    let mut line = Vec::new();
    (&mut reader)
        .take(MAX_HEADER as u64)
        .read_until(b'\n', &mut line)
        .map_err(|e| format!("cannot read the header: {e}"))?;
    if line.last() != Some(&b'\n') {
        return Err("the header line is missing or too long".into());
    }
    let header: Header = serde_json::from_slice(&line[..line.len() - 1])
        .map_err(|e| format!("unreadable header: {e}"))?;
    let version = match &header {
        Header::Content { version, .. }
        | Header::Segment { version, .. }
        | Header::Secrets { version, .. } => *version,
    };
    if version != VERSION {
        return Err(format!(
            "replica format version {version}; this appliance reads version {VERSION}"
        ));
    }
    Ok((header, Box::new(reader)))
}

pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub fn unb64(text: &str) -> Result<Vec<u8>, String> {
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| format!("not base64: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_decrypt_with_any_recipient_and_keep_header_and_payload() {
        let box_key = x25519::Identity::generate();
        let escrow = x25519::Identity::generate();
        let stranger = x25519::Identity::generate();
        let header = Header::Content {
            version: VERSION,
            sha256: "ab".repeat(32),
        };
        let sealed = encrypt(
            &[box_key.to_public(), escrow.to_public()],
            &header,
            &mut &b"hello"[..],
            Vec::new(),
        )
        .unwrap();
        assert!(!sealed.windows(5).any(|w| w == b"hello"));
        for identity in [&box_key, &escrow] {
            let (h, mut payload) = decrypt(identity, &sealed[..]).unwrap();
            assert_eq!(h, header);
            let mut body = Vec::new();
            payload.read_to_end(&mut body).unwrap();
            assert_eq!(body, b"hello");
        }
        assert!(decrypt(&stranger, &sealed[..]).is_err());
        assert!(decrypt(&box_key, &b"garbage"[..]).is_err());
    }

    #[test]
    fn names_reveal_nothing() {
        let a = object_name();
        assert!(a.starts_with(OBJECTS) && a.len() == OBJECTS.len() + 32);
        assert_ne!(a, object_name());
        assert_eq!(checkpoint_name(42), "checkpoints/00000000000000000042");
    }
}

//! C2SP transparency-log checkpoints (<https://c2sp.org/tlog-checkpoint>).
//!
//! A checkpoint is a signed note whose text is the log's origin, its size in
//! decimal and its root hash in base64, one per line, optionally followed by
//! extension lines.

use std::fmt::Write as _;

use crate::error::snippet;
use crate::note::{self, split_note, Signer, VerifierKey};
use crate::text::{decode_b64_hash, parse_decimal, push_b64};
use crate::{Error, Hash};

/// A log head: the tree of `size` leaves with root `root`, issued by `origin`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// Unique identity of the log; equals the log key's name.
    pub origin: String,
    /// Number of leaves in the tree.
    pub size: u64,
    /// RFC 6962 root hash of the tree.
    pub root: Hash,
    /// Opaque extension lines (non-empty, without newlines); Minutier writes none.
    pub extensions: Vec<String>,
}

fn malformed(reason: impl Into<String>) -> Error {
    Error::MalformedCheckpoint(reason.into())
}

impl Checkpoint {
    /// The note text: `origin\nsize\nbase64(root)\n` followed by one line per
    /// extension.
    pub fn body(&self) -> String {
        let mut s = String::with_capacity(self.origin.len() + 80);
        s.push_str(&self.origin);
        s.push('\n');
        // Writing to a String cannot fail.
        let _ = writeln!(s, "{}", self.size);
        push_b64(&mut s, &self.root);
        s.push('\n');
        for ext in &self.extensions {
            s.push_str(ext);
            s.push('\n');
        }
        s
    }

    /// Parses a checkpoint note text (the body, without signatures).
    pub fn parse_body(body: &str) -> Result<Self, Error> {
        if body.len() > note::MAX_NOTE_LEN {
            return Err(malformed("too large"));
        }
        if body.bytes().any(|b| b < 0x20 && b != b'\n') {
            return Err(malformed(
                "contains a control character (or a CR: use LF line endings)",
            ));
        }
        let Some(body) = body.strip_suffix('\n') else {
            return Err(malformed("the text must end with a newline"));
        };
        let mut lines = body.split('\n');
        let origin = match lines.next() {
            Some(o) if !o.is_empty() => o,
            _ => return Err(malformed("the origin line is empty")),
        };
        let size = match lines.next() {
            Some(s) => parse_decimal(s).map_err(|r| malformed(format!("tree size: {r}")))?,
            None => return Err(malformed("missing the tree size line")),
        };
        let root = match lines.next() {
            Some(r) => decode_b64_hash(r).map_err(|e| malformed(format!("root hash: {e}")))?,
            None => return Err(malformed("missing the root hash line")),
        };
        let mut extensions = Vec::new();
        for ext in lines {
            if ext.is_empty() {
                return Err(malformed("extension lines must not be empty"));
            }
            extensions.push(ext.to_owned());
        }
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            extensions,
        })
    }

    /// Signs the checkpoint, returning the full signed note text.
    ///
    /// The signer's name must equal the origin, as [`Checkpoint::open`]
    /// requires, and the fields must survive a [`Checkpoint::parse_body`]
    /// round trip (no empty origin, no newline in a field, no empty
    /// extension).
    pub fn sign(&self, signer: &dyn Signer) -> Result<String, Error> {
        if signer.name() != self.origin {
            return Err(Error::OriginMismatch {
                origin: snippet(&self.origin),
                key_name: snippet(signer.name()),
            });
        }
        let body = self.body();
        if Checkpoint::parse_body(&body).as_ref() != Ok(self) {
            return Err(malformed(
                "a field contains a newline or an extension line is empty",
            ));
        }
        note::sign_note(&body, signer)
    }

    /// Verifies a signed checkpoint with `key` and parses it; the origin must
    /// equal the key's name.
    pub fn open(text: &str, key: &VerifierKey) -> Result<Self, Error> {
        let vk = note::decode_verifier(key)?;
        Self::open_with(text, key, &vk)
    }

    pub(crate) fn open_with(
        text: &str,
        key: &VerifierKey,
        vk: &ed25519_dalek::VerifyingKey,
    ) -> Result<Self, Error> {
        let body = note::verify_note_with(text, key, vk)?;
        let cp = Self::parse_body(body)?;
        if cp.origin != key.name {
            return Err(Error::OriginMismatch {
                origin: snippet(&cp.origin),
                key_name: key.name.clone(),
            });
        }
        Ok(cp)
    }

    /// Parses a signed checkpoint *without* verifying any signature. For
    /// display only: nothing in it can be trusted.
    pub fn parse_unverified(text: &str) -> Result<Self, Error> {
        Self::parse_body(split_note(text)?.body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::note::Ed25519Signer;

    fn cp() -> Checkpoint {
        Checkpoint {
            origin: "example.com/log".into(),
            size: 7,
            root: [3; 32],
            extensions: vec![],
        }
    }

    #[test]
    fn body_round_trip() {
        let mut c = cp();
        assert_eq!(Checkpoint::parse_body(&c.body()), Ok(c.clone()));
        c.extensions = vec!["ext one".into(), "x".into()];
        assert_eq!(Checkpoint::parse_body(&c.body()), Ok(c));
    }

    #[test]
    fn bad_bodies() {
        let root = crate::text::encode_b64(&[3; 32]);
        for bad in [
            String::new(),
            "\n".into(),
            "o\n".into(),
            "o\n7\n".into(),
            format!("o\n7\n{root}"),
            format!("\n7\n{root}\n"),
            format!("o\n07\n{root}\n"),
            format!("o\n-7\n{root}\n"),
            format!("o\n18446744073709551616\n{root}\n"),
            format!("o\n7\n{root}\n\n"),
            format!("o\n7\n{root}\next\n\n"),
            format!("o\r\n7\n{root}\n"),
            "o\n7\nAwMD\n".into(),
            format!("o\n7\n{}\n", &root[..43]),
        ] {
            assert!(Checkpoint::parse_body(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn sign_requires_matching_name_and_clean_fields() {
        let s = Ed25519Signer::from_seed("example.com/log", &[5; 32]).unwrap();
        let text = cp().sign(&s).unwrap();
        assert_eq!(Checkpoint::open(&text, &s.verifier_key()), Ok(cp()));
        assert_eq!(Checkpoint::parse_unverified(&text), Ok(cp()));
        let other = Ed25519Signer::from_seed("example.com/other", &[5; 32]).unwrap();
        assert!(matches!(
            cp().sign(&other),
            Err(Error::OriginMismatch { .. })
        ));
        let mut c = cp();
        c.extensions = vec![String::new()];
        assert!(c.sign(&s).is_err());
        let mut c = cp();
        c.origin = "example.com/log\n5".into();
        assert!(c.sign(&s).is_err());
    }

    #[test]
    fn open_rejects_foreign_origin() {
        // Signed by our key but claiming another origin: refuse.
        let s = Ed25519Signer::from_seed("example.com/log", &[5; 32]).unwrap();
        let mut c = cp();
        c.origin = "example.com/other".into();
        let text = note::sign_note(&c.body(), &s).unwrap();
        assert!(matches!(
            Checkpoint::open(&text, &s.verifier_key()),
            Err(Error::OriginMismatch { .. })
        ));
    }
}

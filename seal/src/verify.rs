//! Seal verification: the one implementation shared by the offline CLI and
//! the daemon.
//!
//! Order of checks, cheapest trust first: the seal is parsed, the checkpoint's
//! signature is verified (or found in the cache), the inclusion proof is
//! checked against the checkpoint root, and only then is the record decoded.
//! Nothing from the seal is believed before the proof ties it to a signed
//! tree head.

use std::collections::HashMap;

use ed25519_dalek::VerifyingKey;

use crate::checkpoint::Checkpoint;
use crate::hash::{leaf_hash, sha256, to_hex};
use crate::note::{self, VerifierKey};
use crate::proof::parse_ref;
use crate::record::Record;
use crate::{tree, Error, Hash};

/// Bound on remembered checkpoints, so a long-running process that sees many
/// tree heads does not grow without limit. When full, the cache is cleared:
/// the cost is one extra signature check per checkpoint afterwards.
const MAX_CACHED_CHECKPOINTS: usize = 1024;

/// A seal that verified: its decoded record, its position and the signed tree
/// head it is included in.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The sealed record.
    pub record: Record,
    /// The record's index in the log.
    pub index: u64,
    /// The verified checkpoint the record is included in.
    pub checkpoint: Checkpoint,
}

/// A seal whose inclusion proof and checkpoint signature verified, with the
/// record bytes left undecoded (for entries that are not Minutier records,
/// or to inspect bytes that fail to decode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedInclusion {
    /// The leaf index.
    pub index: u64,
    /// The entry's bytes (the seal's `extra` data), proven to be in the log.
    pub record: Vec<u8>,
    /// The verified checkpoint the entry is included in.
    pub checkpoint: Checkpoint,
}

/// Verifies seals against one verifier key; remembers checkpoint notes whose
/// signature already verified (keyed by SHA-256 of the note text), so a batch
/// of seals under one checkpoint costs one signature check.
pub struct SealVerifier {
    key: VerifierKey,
    /// The decoded public key, or why it cannot be used (reported on use,
    /// because `new` cannot fail).
    verifying_key: Result<VerifyingKey, Error>,
    verified: HashMap<Hash, Checkpoint>,
}

impl std::fmt::Debug for SealVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealVerifier")
            .field("key", &self.key.to_string())
            .field("cached_checkpoints", &self.verified.len())
            .finish()
    }
}

impl SealVerifier {
    /// A verifier trusting `key` (the log's verifier key).
    pub fn new(key: VerifierKey) -> Self {
        let verifying_key = note::decode_verifier(&key);
        Self {
            key,
            verifying_key,
            verified: HashMap::new(),
        }
    }

    /// The trusted key.
    pub fn key(&self) -> &VerifierKey {
        &self.key
    }

    /// How many verified checkpoint notes are remembered.
    pub fn cached_checkpoints(&self) -> usize {
        self.verified.len()
    }

    /// Verifies a signed checkpoint, consulting the cache first.
    pub fn open_checkpoint(&mut self, text: &str) -> Result<Checkpoint, Error> {
        let id = sha256(text.as_bytes());
        if let Some(cp) = self.verified.get(&id) {
            return Ok(cp.clone());
        }
        let vk = self.verifying_key.as_ref().map_err(Clone::clone)?;
        let cp = Checkpoint::open_with(text, &self.key, vk)?;
        if self.verified.len() >= MAX_CACHED_CHECKPOINTS {
            self.verified.clear();
        }
        self.verified.insert(id, cp.clone());
        Ok(cp)
    }

    /// Checks a seal's checkpoint signature and inclusion proof without
    /// interpreting the entry: returns the index, the proven entry bytes and
    /// the checkpoint.
    pub fn verify_inclusion_only(&mut self, seal_text: &str) -> Result<VerifiedInclusion, Error> {
        let seal = parse_ref(seal_text)?;
        if seal.record.is_empty() {
            return Err(Error::MalformedSeal {
                line: 2,
                reason: "the seal has no `extra` line, so it does not carry the record".into(),
            });
        }
        let checkpoint = self.open_checkpoint(seal.checkpoint)?;
        tree::verify_inclusion(
            &leaf_hash(&seal.record),
            seal.index,
            checkpoint.size,
            &seal.proof,
            &checkpoint.root,
        )?;
        Ok(VerifiedInclusion {
            index: seal.index,
            record: seal.record,
            checkpoint,
        })
    }

    /// Verifies a seal: checkpoint signature (cached), inclusion of the record
    /// at its index under the checkpoint root (which implies index < size),
    /// and finally that the record is a valid `minutier/record/v1`.
    pub fn verify(&mut self, seal_text: &str) -> Result<Verified, Error> {
        let inc = self.verify_inclusion_only(seal_text)?;
        let record = Record::decode(&inc.record)?;
        Ok(Verified {
            record,
            index: inc.index,
            checkpoint: inc.checkpoint,
        })
    }

    /// Verifies a seal and that it seals a document with the given SHA-256 and
    /// size.
    pub fn verify_document(
        &mut self,
        seal_text: &str,
        content_sha256: &Hash,
        size: u64,
    ) -> Result<Verified, Error> {
        let v = self.verify(seal_text)?;
        if v.record.content_sha256 != *content_sha256 {
            return Err(Error::ContentMismatch {
                expected: to_hex(&v.record.content_sha256),
                actual: to_hex(content_sha256),
            });
        }
        if v.record.size != size {
            return Err(Error::SizeMismatch {
                expected: v.record.size,
                actual: size,
            });
        }
        Ok(v)
    }

    /// Verifies two signed checkpoints and a consistency proof between them:
    /// the newer tree extends the older one (the log was only appended to).
    pub fn verify_consistency(
        &mut self,
        old_checkpoint: &str,
        new_checkpoint: &str,
        proof: &[Hash],
    ) -> Result<(Checkpoint, Checkpoint), Error> {
        let old = self.open_checkpoint(old_checkpoint)?;
        let new = self.open_checkpoint(new_checkpoint)?;
        tree::verify_consistency(old.size, new.size, &old.root, &new.root, proof)?;
        Ok((old, new))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_key_is_reported_on_use() {
        // The identity point: a small-order key that must never be trusted.
        let mut public_key = [0u8; 32];
        public_key[0] = 1;
        let key = VerifierKey {
            name: "x".into(),
            key_id: note::key_id("x", &public_key),
            public_key,
        };
        let mut v = SealVerifier::new(key);
        let err = v.open_checkpoint(
            "x\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n\u{2014} x AAAAAA==\n",
        );
        assert!(matches!(err, Err(Error::InvalidVerifierKey(_))), "{err:?}");
    }
}

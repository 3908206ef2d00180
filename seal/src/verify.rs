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

/// Verifies seals against a log's verifier key, or against its key history
/// when the key was rotated ([`SealVerifier::with_keys`]); remembers
/// checkpoint notes whose signature already verified (keyed by SHA-256 of
/// the note text), so a batch of seals under one checkpoint costs one
/// signature check.
pub struct SealVerifier {
    /// The trusted keys, oldest first, each with its decoded public key or
    /// why it cannot be used (reported on use, because `new` cannot fail).
    keys: Vec<(VerifierKey, Result<VerifyingKey, Error>)>,
    verified: HashMap<Hash, Checkpoint>,
}

impl std::fmt::Debug for SealVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealVerifier")
            .field(
                "keys",
                &self
                    .keys
                    .iter()
                    .map(|(k, _)| k.to_string())
                    .collect::<Vec<_>>(),
            )
            .field("cached_checkpoints", &self.verified.len())
            .finish()
    }
}

impl SealVerifier {
    /// A verifier trusting `key` (the log's verifier key).
    pub fn new(key: VerifierKey) -> Self {
        let verifying_key = note::decode_verifier(&key);
        Self {
            keys: vec![(key, verifying_key)],
            verified: HashMap::new(),
        }
    }

    /// A verifier trusting every key of a log's key history, oldest first
    /// and the current key last (docs/seal-format.md §2.8): a checkpoint
    /// verifies if one of them signed it. Seals made before a key rotation
    /// carry checkpoints signed by the old key, and keep verifying.
    /// Fails only when `keys` is empty.
    pub fn with_keys(keys: Vec<VerifierKey>) -> Result<Self, Error> {
        if keys.is_empty() {
            return Err(Error::InvalidVerifierKey("no verifier key given".into()));
        }
        Ok(Self {
            keys: keys
                .into_iter()
                .map(|k| {
                    let vk = note::decode_verifier(&k);
                    (k, vk)
                })
                .collect(),
            verified: HashMap::new(),
        })
    }

    /// The trusted key; with a key history, the current (last) one.
    pub fn key(&self) -> &VerifierKey {
        &self.keys.last().expect("at least one key").0
    }

    /// Every trusted key, oldest first.
    pub fn keys(&self) -> impl Iterator<Item = &VerifierKey> {
        self.keys.iter().map(|(k, _)| k)
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
        let cp = self.open_uncached(text)?;
        if self.verified.len() >= MAX_CACHED_CHECKPOINTS {
            self.verified.clear();
        }
        self.verified.insert(id, cp.clone());
        Ok(cp)
    }

    /// Verifies a signed checkpoint with the newest trusted key that signed
    /// it. A signature line that names a trusted key but does not verify is
    /// an error, whatever the other keys.
    fn open_uncached(&self, text: &str) -> Result<Checkpoint, Error> {
        if let [(key, vk)] = self.keys.as_slice() {
            return Checkpoint::open_with(text, key, vk.as_ref().map_err(Clone::clone)?);
        }
        let mut unusable = None;
        for (key, vk) in self.keys.iter().rev() {
            let vk = match vk {
                Ok(vk) => vk,
                Err(e) => {
                    unusable.get_or_insert_with(|| e.clone());
                    continue;
                }
            };
            match Checkpoint::open_with(text, key, vk) {
                Err(Error::NoSignatureByKey { .. }) => continue,
                other => return other,
            }
        }
        Err(unusable.unwrap_or_else(|| Error::NoSignatureByKeys {
            name: self.key().name.clone(),
            key_ids: self
                .keys
                .iter()
                .map(|(k, _)| hex::encode(k.key_id))
                .collect(),
        }))
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
    fn a_key_history_verifies_checkpoints_of_every_key() {
        use crate::note::Ed25519Signer;
        let old = Ed25519Signer::from_seed("x", &[1; 32]).unwrap();
        let new = Ed25519Signer::from_seed("x", &[2; 32]).unwrap();
        let stranger = Ed25519Signer::from_seed("x", &[3; 32]).unwrap();
        let cp = |size: u64, signer: &Ed25519Signer| {
            Checkpoint {
                origin: "x".into(),
                size,
                root: [size as u8; 32],
                extensions: vec![],
            }
            .sign(signer)
            .unwrap()
        };
        let (before, after) = (cp(1, &old), cp(2, &new));
        let bridge = note::cosign_note(&cp(3, &old), &new).unwrap();
        let mut history =
            SealVerifier::with_keys(vec![old.verifier_key(), new.verifier_key()]).unwrap();
        assert_eq!(history.key(), &new.verifier_key());
        assert_eq!(history.keys().count(), 2);
        for (text, size) in [(&before, 1), (&after, 2), (&bridge, 3)] {
            assert_eq!(history.open_checkpoint(text).unwrap().size, size);
        }
        // One key alone opens its own checkpoints, and the co-signed one.
        let mut only_new = SealVerifier::new(new.verifier_key());
        assert!(matches!(
            only_new.open_checkpoint(&before),
            Err(Error::NoSignatureByKey { .. })
        ));
        assert_eq!(only_new.open_checkpoint(&bridge).unwrap().size, 3);
        // A key outside the history: refused, naming every trusted key.
        let e = history.open_checkpoint(&cp(4, &stranger)).unwrap_err();
        assert!(matches!(&e, Error::NoSignatureByKeys { key_ids, .. } if key_ids.len() == 2));
        assert!(
            e.to_string()
                .contains(&hex::encode(old.verifier_key().key_id)),
            "{e}"
        );
        // A forged line under a trusted key fails, even if another key is fine.
        let forged = after.replacen("\n2\n", "\n5\n", 1);
        assert!(matches!(
            history.open_checkpoint(&forged),
            Err(Error::BadSignature { .. })
        ));
        assert!(SealVerifier::with_keys(vec![]).is_err());
    }

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

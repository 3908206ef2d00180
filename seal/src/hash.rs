//! SHA-256 and the RFC 6962 leaf and node hashes.

use sha2::{Digest, Sha256};

use crate::Error;

/// A SHA-256 digest.
pub type Hash = [u8; 32];

/// The root of the empty tree: SHA-256 of the empty string (RFC 6962 §2.1).
pub const EMPTY_ROOT: Hash = [
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
];

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> Hash {
    Sha256::digest(data).into()
}

/// The hash of a log entry: SHA-256(0x00 || record).
///
/// The 0x00 prefix (RFC 6962 §2.1) keeps leaf hashes and interior node hashes
/// in separate domains, so a node cannot be passed off as a leaf.
pub fn leaf_hash(record: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(record);
    h.finalize().into()
}

/// The hash of an interior node: SHA-256(0x01 || left || right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// Lowercase hex of a hash (64 characters).
pub fn to_hex(h: &Hash) -> String {
    hex::encode(h)
}

/// Parses exactly 64 lowercase hex digits.
///
/// Uppercase is rejected rather than folded so that every hash has a single
/// spelling in records and on the command line.
pub fn from_hex(s: &str) -> Result<Hash, Error> {
    if s.len() != 64 {
        return Err(Error::InvalidHex(format!(
            "expected 64 hex digits, found {} characters",
            s.chars().count()
        )));
    }
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(Error::InvalidHex(
            "uppercase hex digits; write hashes in lowercase".into(),
        ));
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out)
        .map_err(|_| Error::InvalidHex("contains a character that is not 0-9 or a-f".into()))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_root_is_sha256_of_nothing() {
        assert_eq!(sha256(b""), EMPTY_ROOT);
        assert_eq!(
            to_hex(&EMPTY_ROOT),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn hex_round_trip_and_strictness() {
        let h = sha256(b"abc");
        assert_eq!(from_hex(&to_hex(&h)), Ok(h));
        assert!(from_hex(&to_hex(&h).to_uppercase()).is_err());
        assert!(from_hex(&to_hex(&h)[..63]).is_err());
        assert!(from_hex(&format!("{}0", to_hex(&h))).is_err());
        assert!(from_hex(&"g".repeat(64)).is_err());
        assert!(from_hex(&"é".repeat(32)).is_err());
        assert!(from_hex("").is_err());
    }

    #[test]
    fn leaf_and_node_are_domain_separated() {
        // RFC 6962 vector: the leaf hash of the empty record.
        assert_eq!(
            to_hex(&leaf_hash(b"")),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
        let a = leaf_hash(b"a");
        let mut cat = a.to_vec();
        cat.extend_from_slice(&a);
        assert_ne!(node_hash(&a, &a), leaf_hash(&cat));
    }
}

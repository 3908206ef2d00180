//! Helpers shared by the fuzz targets in `fuzz_targets/`.
//!
//! The fixed key is the test vectors' one (`seal/tests/vectors/verifier.key`,
//! the RFC 8032 test-1 key), so that the seeds copied from the vectors carry
//! signatures that verify.

use minutier_seal::note::{Ed25519Signer, VerifierKey};

/// The vectors' verifier key, as written in `verifier.key`.
pub const TEST_KEY: &str = include_str!("../../seal/tests/vectors/verifier.key");

/// RFC 8032 §7.1 test 1 secret seed: the private half of [`TEST_KEY`]. A
/// published test key, never to be used for anything real.
pub const TEST_SEED: [u8; 32] = [
    0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec, 0x2c, 0xc4,
    0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19, 0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae, 0x7f, 0x60,
];

/// The parsed [`TEST_KEY`].
pub fn test_key() -> VerifierKey {
    VerifierKey::parse(TEST_KEY).expect("the vectors' verifier key parses")
}

/// A signer with the test seed under `name`, if `name` is a valid key name.
pub fn test_signer(name: &str) -> Option<Ed25519Signer> {
    Ed25519Signer::from_seed(name, &TEST_SEED).ok()
}

/// The input as UTF-8 text, or `None`: every text format here is UTF-8, and
/// the parsers take `&str`, so other bytes cannot reach them.
pub fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

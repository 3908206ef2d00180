//! `Seal::parse`, the parser of `c2sp.org/tlog-proof@v1` seal files that the
//! daemon hands out and the CLI verifies offline.
//!
//! Invariants: a seal that parses prints back (`to_text`) as exactly its
//! input, parses again to the same value, and respects the documented bounds
//! (at most 64 proof hashes, a non-empty `extra` when present, a checkpoint
//! ending in a newline).
#![no_main]

use libfuzzer_sys::fuzz_target;
use minutier_seal::proof::{Seal, MAX_PROOF_HASHES, MAX_SEAL_LEN};

fuzz_target!(|data: &[u8]| {
    let Some(s) = minutier_fuzz::text(data) else {
        return;
    };
    match Seal::parse(s) {
        Ok(seal) => {
            let text = seal.to_text();
            assert_eq!(text, s, "seal does not round-trip");
            assert_eq!(Seal::parse(&text).as_ref(), Ok(&seal));
            assert!(seal.proof.len() <= MAX_PROOF_HASHES);
            assert!(s.len() <= MAX_SEAL_LEN);
            assert!(seal.checkpoint.ends_with('\n'));
            let has_extra = s
                .split('\n')
                .nth(1)
                .is_some_and(|l| l.starts_with("extra "));
            assert_eq!(has_extra, !seal.record.is_empty());
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});

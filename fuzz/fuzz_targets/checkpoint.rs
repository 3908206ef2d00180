//! Checkpoints: `Checkpoint::parse_body`, `parse_unverified` and `open` (the
//! signed tree heads the daemon publishes and the CLI checks).
//!
//! Invariants: a body that parses re-serialises to exactly itself and, when
//! its origin is a valid key name, signs into a note that `open` and
//! `parse_unverified` give back unchanged; `parse_unverified` agrees with
//! `parse_body` on the note's text; a note that `open`s under the test key has
//! that key's name as origin and agrees with `verify_note` and
//! `parse_unverified`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use minutier_seal::checkpoint::Checkpoint;
use minutier_seal::note::{self, Signer as _};

fuzz_target!(|data: &[u8]| {
    let Some(s) = minutier_fuzz::text(data) else {
        return;
    };

    if let Ok(cp) = Checkpoint::parse_body(s) {
        assert_eq!(cp.body(), s, "body does not round-trip");
        if let Some(signer) = minutier_fuzz::test_signer(&cp.origin) {
            let signed = cp
                .sign(&signer)
                .unwrap_or_else(|e| panic!("a parsed checkpoint cannot be signed: {e}"));
            let key = signer.verifier_key();
            assert_eq!(key.name, signer.name());
            assert_eq!(Checkpoint::open(&signed, &key).as_ref(), Ok(&cp));
            assert_eq!(Checkpoint::parse_unverified(&signed).as_ref(), Ok(&cp));
        }
    }

    let unverified = Checkpoint::parse_unverified(s);
    if let Ok(cp) = &unverified {
        let split = s.rfind("\n\n").expect("a parsed note has a blank line");
        let body = &s[..=split];
        assert_eq!(cp.body(), body);
        assert_eq!(Checkpoint::parse_body(body).as_ref(), Ok(cp));
    }

    let key = minutier_fuzz::test_key();
    match Checkpoint::open(s, &key) {
        Ok(cp) => {
            assert_eq!(cp.origin, key.name);
            assert_eq!(
                unverified.as_ref(),
                Ok(&cp),
                "open and parse_unverified disagree"
            );
            assert_eq!(note::verify_note(s, &key), Ok(cp.body()));
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});

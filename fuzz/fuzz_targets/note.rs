//! Signed notes and verifier keys: `VerifierKey::parse` on the input's first
//! line, `parse_verifier_keys` on the whole input, `verify_note` on the rest
//! (with the test key and with the parsed key), and `sign_note` and
//! `cosign_note` round trips.
//!
//! Invariants: a verifier key that parses prints back as its (trimmed) input
//! and equals the key rebuilt from its name and public key; a note that
//! verifies returns a non-empty prefix of itself ending in a newline, and
//! (Ed25519 being deterministic) re-signing that body with the test key
//! reproduces a signature line present in the note; any text that `sign_note`
//! accepts verifies and gives back exactly that text; a key list that parses
//! is not empty and each of its keys parses alone; a note that `cosign_note`
//! accepts gains one line and then verifies with the co-signing key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use minutier_seal::note::{self, VerifierKey};

fuzz_target!(|data: &[u8]| {
    let Some(s) = minutier_fuzz::text(data) else {
        return;
    };
    let (first, rest) = s.split_once('\n').unwrap_or((s, ""));

    let parsed = VerifierKey::parse(first);
    if let Ok(k) = &parsed {
        let trimmed = first.trim_matches(|c: char| c.is_ascii_whitespace());
        assert_eq!(k.to_string(), trimmed, "verifier key does not round-trip");
        assert_eq!(
            VerifierKey::from_public_key(&k.name, k.public_key).as_ref(),
            Ok(k)
        );
        assert_eq!(note::key_id(&k.name, &k.public_key), k.key_id);
    }

    let key = minutier_fuzz::test_key();
    let signer = minutier_fuzz::test_signer(&key.name).unwrap();
    for k in std::iter::once(&key).chain(parsed.as_ref().ok()) {
        match note::verify_note(rest, k) {
            Ok(body) => {
                assert!(!body.is_empty() && body.ends_with('\n'));
                assert!(rest.starts_with(&body));
                assert_eq!(rest.as_bytes()[body.len()], b'\n');
                if *k == key && !body.contains("\n\n") {
                    let resigned = note::sign_note(&body, &signer).unwrap();
                    let line = &resigned[body.len() + 1..];
                    assert!(
                        rest[body.len() + 1..]
                            .split_inclusive('\n')
                            .any(|l| l == line),
                        "verified a note without the test key's signature line"
                    );
                }
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }

    if let Ok(signed) = note::sign_note(rest, &signer) {
        assert_eq!(note::verify_note(&signed, &key), Ok(rest.to_owned()));
    }

    if let Ok(keys) = note::parse_verifier_keys(s) {
        assert!(!keys.is_empty());
        for k in &keys {
            assert_eq!(VerifierKey::parse(&k.to_string()).as_ref(), Ok(k));
        }
    }

    if let Ok(cosigned) = note::cosign_note(rest, &signer) {
        assert!(cosigned.starts_with(rest));
        assert_eq!(cosigned.lines().count(), rest.lines().count() + 1);
        assert!(
            note::verify_note(&cosigned, &key).is_ok(),
            "a co-signed note does not verify with the co-signing key"
        );
    }
});

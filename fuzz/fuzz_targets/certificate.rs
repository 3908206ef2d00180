//! `EliminationCertificate::decode` and `verify`, the parsers of the signed
//! certificates the CLI checks offline.
//!
//! Invariants: a certificate body that decodes is valid and re-encodes to
//! exactly the input (one encoding per certificate); signed under its origin
//! it verifies and gives back the same certificate; any input, as a whole
//! note, either verifies under the test key with the same content as
//! `parse_unverified`, or is refused without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use minutier_seal::certificate::EliminationCertificate;
use minutier_seal::note::{Ed25519Signer, Signer, VerifierKey};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match EliminationCertificate::decode(text) {
        Ok(certificate) => {
            assert_eq!(certificate.encode(), text, "decode accepted a non-canonical body");
            assert_eq!(certificate.validate(), Ok(()));
            let signer = Ed25519Signer::from_seed(&certificate.origin, &[7; 32]).unwrap();
            let key = VerifierKey::from_public_key(&certificate.origin, signer.public_key())
                .unwrap();
            let note = certificate.sign(&signer).unwrap();
            assert_eq!(EliminationCertificate::verify(&note, &key).as_ref(), Ok(&certificate));
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
    let signer = Ed25519Signer::from_seed("example.org/log", &[7; 32]).unwrap();
    let key = VerifierKey::from_public_key("example.org/log", signer.public_key()).unwrap();
    if let Ok(verified) = EliminationCertificate::verify(text, &key) {
        assert_eq!(EliminationCertificate::parse_unverified(text).as_ref(), Ok(&verified));
    }
});

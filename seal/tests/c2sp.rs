//! C2SP vectors: the signed checkpoint, the verifier key and the
//! `record-3.tlog-proof` seal of a 5-entry log (vectors/README.md).

use minutier_seal::checkpoint::Checkpoint;
use minutier_seal::hash::leaf_hash;
use minutier_seal::note::{self, key_id, Ed25519Signer, Signer, VerifierKey};
use minutier_seal::proof::Seal;
use minutier_seal::tree::{self, MemoryTree};
use minutier_seal::verify::SealVerifier;
use minutier_seal::Error;

const CHECKPOINT: &str = include_str!("vectors/checkpoint.txt");
const VERIFIER_KEY: &str = include_str!("vectors/verifier.key");
const SEAL_3: &str = include_str!("vectors/record-3.tlog-proof");
const ORIGIN: &str = "archives.mairie-exemple.fr/minutier";
/// RFC 8032 §7.1 TEST 1 secret key. Public test vector; never use it for anything real.
const SEED: [u8; 32] = [
    0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec, 0x2c, 0xc4,
    0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19, 0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae, 0x7f, 0x60,
];

fn key() -> VerifierKey {
    VerifierKey::parse(VERIFIER_KEY).unwrap()
}

fn signer() -> Ed25519Signer {
    Ed25519Signer::from_seed(ORIGIN, &SEED).unwrap()
}

fn example_log() -> MemoryTree {
    let mut t = MemoryTree::new();
    for i in 0..5 {
        t.push(leaf_hash(format!("example record {i}\n").as_bytes()));
    }
    t
}

#[test]
fn verifier_key_parses_and_prints_back() {
    let k = key();
    assert_eq!(k.name, ORIGIN);
    assert_eq!(hex::encode(k.key_id), "d4daeb0b");
    assert_eq!(
        hex::encode(k.public_key),
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    );
    assert_eq!(k.to_string(), VERIFIER_KEY.trim_end());
    assert_eq!(
        VERIFIER_KEY.trim_end().parse::<VerifierKey>(),
        Ok(k.clone())
    );
    assert_eq!(key_id(ORIGIN, &k.public_key), k.key_id);
    assert_eq!(
        VerifierKey::from_public_key(ORIGIN, k.public_key),
        Ok(k.clone())
    );
    assert_eq!(signer().verifier_key(), k);
    assert_eq!(signer().public_key(), k.public_key);
}

#[test]
fn verifier_key_rejects() {
    let good = VERIFIER_KEY.trim_end();
    let cases = [
        String::new(),
        good.replacen("+d4daeb0b", "+d4daeb0c", 1),
        good.replacen("+d4daeb0b", "+D4DAEB0B", 1),
        good.replacen("+d4daeb0b", "+d4daeb0", 1),
        good.replacen("+d4daeb0b", "", 1),
        good.replacen("+AddamAGC", "+AtdamAGC", 1), // algorithm byte 0x02
        good.replacen("minutier+", "minutier2+", 1), // name no longer matches the ID
        good.replacen("archives.", "arch ives.", 1),
        good.replacen("B1Ea", "B1E", 1),
        good.replacen("B1Ea", "B1Ea==", 1),
        good[..good.len() - 4].to_owned(),
        format!("{good}AA"),
    ];
    for (i, bad) in cases.iter().enumerate() {
        assert!(VerifierKey::parse(bad).is_err(), "case {i}: {bad}");
    }
    // A small-order point is refused even with a consistent key ID.
    let mut weak = [0u8; 32];
    weak[0] = 1;
    assert!(VerifierKey::from_public_key("x", weak).is_err());
    let weak_str = format!(
        "x+{}+{}",
        hex::encode(key_id("x", &weak)),
        base64_of(&[&[1u8][..], &weak].concat())
    );
    assert!(matches!(
        VerifierKey::parse(&weak_str),
        Err(Error::InvalidVerifierKey(_))
    ));
}

fn base64_of(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}

#[test]
fn checkpoint_opens() {
    let cp = Checkpoint::open(CHECKPOINT, &key()).unwrap();
    assert_eq!(cp.origin, ORIGIN);
    assert_eq!(cp.size, 5);
    assert_eq!(cp.root, example_log().root());
    assert!(cp.extensions.is_empty());
    assert_eq!(Checkpoint::parse_unverified(CHECKPOINT), Ok(cp.clone()));
    assert_eq!(note::verify_note(CHECKPOINT, &key()).unwrap(), cp.body());
}

#[test]
fn resigning_reproduces_the_checkpoint() {
    // Ed25519 is deterministic: same key, same body, same bytes.
    let cp = Checkpoint::open(CHECKPOINT, &key()).unwrap();
    assert_eq!(cp.sign(&signer()).unwrap(), CHECKPOINT);
    let fresh = Checkpoint {
        origin: ORIGIN.into(),
        size: 5,
        root: example_log().root(),
        extensions: vec![],
    };
    assert_eq!(fresh.sign(&signer()).unwrap(), CHECKPOINT);
    assert_eq!(note::sign_note(&cp.body(), &signer()).unwrap(), CHECKPOINT);
}

#[test]
fn tampered_checkpoints_are_rejected() {
    let k = key();
    let sig_line = CHECKPOINT.lines().last().unwrap();
    let cases: Vec<(String, &str)> = vec![
        (CHECKPOINT.replacen("\n5\n", "\n6\n", 1), "size"),
        (CHECKPOINT.replacen("TrHT", "TrHU", 1), "root"),
        (
            CHECKPOINT.replacen("minutier\n", "minutier2\n", 1),
            "origin",
        ),
        (CHECKPOINT.replacen("1NrrC8M5", "1NrrC8M6", 1), "signature"),
        (CHECKPOINT.replace('\n', "\r\n"), "CRLF"),
        (CHECKPOINT.trim_end().to_owned(), "no final newline"),
        (CHECKPOINT.replacen("\n\n", "\n", 1), "no blank line"),
        (CHECKPOINT.replacen("\u{2014} ", "- ", 1), "ASCII dash"),
        (
            CHECKPOINT.replacen("\u{2014} ", "\u{2014}  ", 1),
            "double space",
        ),
        (format!("{CHECKPOINT}\n"), "trailing blank line"),
        (
            CHECKPOINT.replacen("\n\n", "\nextension\n\n", 1),
            "added extension",
        ),
        (
            CHECKPOINT[..CHECKPOINT.find("\n\n").unwrap() + 2].to_owned(),
            "no signatures",
        ),
        (format!("{CHECKPOINT}{}", "x".repeat(1 << 20)), "too large"),
    ];
    for (text, what) in &cases {
        assert!(Checkpoint::open(text, &k).is_err(), "{what}");
    }
    // Bad signature by our key: an explicit error, not "no signature".
    assert!(matches!(
        Checkpoint::open(&cases[0].0, &k),
        Err(Error::BadSignature { .. })
    ));
    // Too many signature lines.
    let many = format!("{CHECKPOINT}{}", format!("{sig_line}\n").repeat(100));
    assert!(matches!(
        Checkpoint::open(&many, &k),
        Err(Error::MalformedNote(_))
    ));
    let ok_many = format!("{CHECKPOINT}{}", format!("{sig_line}\n").repeat(99));
    assert!(Checkpoint::open(&ok_many, &k).is_ok());
}

#[test]
fn foreign_signatures_are_ignored() {
    let k = key();
    let witness = Ed25519Signer::from_seed("witness.example", &[7; 32]).unwrap();
    let cosigned =
        note::sign_note(&Checkpoint::open(CHECKPOINT, &k).unwrap().body(), &witness).unwrap();
    let witness_line = cosigned.lines().last().unwrap();
    // Log signature plus a witness cosignature, in either order.
    let after = format!("{CHECKPOINT}{witness_line}\n");
    let before = CHECKPOINT.replacen("\n\n", &format!("\n\n{witness_line}\n"), 1);
    for text in [&after, &before] {
        assert_eq!(Checkpoint::open(text, &k).unwrap().size, 5);
        assert_eq!(
            Checkpoint::open(text, &witness.verifier_key()).map(|_| ()),
            Err(Error::OriginMismatch {
                origin: ORIGIN.into(),
                key_name: "witness.example".into(),
            })
        );
    }
    // Only a foreign signature: no signature by our key.
    assert!(matches!(
        Checkpoint::open(&cosigned, &k),
        Err(Error::NoSignatureByKey { .. })
    ));
    // Same name, different key ID: ignored, so still no signature by our key.
    let impostor = Ed25519Signer::from_seed(ORIGIN, &[9; 32]).unwrap();
    let forged = Checkpoint::open(CHECKPOINT, &k)
        .unwrap()
        .sign(&impostor)
        .unwrap();
    assert!(matches!(
        Checkpoint::open(&forged, &k),
        Err(Error::NoSignatureByKey { .. })
    ));
}

#[test]
fn record_3_seal_verifies() {
    let mut v = SealVerifier::new(key());
    let inc = v.verify_inclusion_only(SEAL_3).unwrap();
    assert_eq!(inc.index, 3);
    assert_eq!(inc.record, b"example record 3\n");
    assert_eq!(inc.checkpoint.size, 5);
    // It is not a Minutier record, so full verification stops at decoding,
    // after the proof and signature passed.
    assert!(matches!(v.verify(SEAL_3), Err(Error::InvalidRecord { .. })));
}

#[test]
fn record_3_seal_round_trips_and_matches_generation() {
    let seal = Seal::parse(SEAL_3).unwrap();
    assert_eq!(seal.to_text(), SEAL_3);
    assert_eq!(seal.index, 3);
    assert_eq!(seal.record, b"example record 3\n");
    assert_eq!(seal.checkpoint, CHECKPOINT);
    // The same seal, generated from scratch.
    let log = example_log();
    let generated = Seal {
        record: b"example record 3\n".to_vec(),
        index: 3,
        proof: tree::inclusion_proof(&log, 3, 5).unwrap(),
        checkpoint: Checkpoint {
            origin: ORIGIN.into(),
            size: 5,
            root: log.root(),
            extensions: vec![],
        }
        .sign(&signer())
        .unwrap(),
    };
    assert_eq!(generated.to_text(), SEAL_3);
}

#[test]
fn tampered_seals_are_rejected() {
    let mut v = SealVerifier::new(key());
    let cases: Vec<(String, &str)> = vec![
        (SEAL_3.replacen("index 3", "index 2", 1), "index"),
        (
            SEAL_3.replacen("index 3", "index 5", 1),
            "index beyond size",
        ),
        (
            SEAL_3.replacen("ZXhhbXBsZSByZWNvcmQgMwo=", "ZXhhbXBsZSByZWNvcmQgNAo=", 1),
            "record",
        ),
        (SEAL_3.replacen("ll0hF731", "ll0hF732", 1), "proof hash"),
        (
            SEAL_3.replacen("BAyTG4IgQ2/mL1zlRe77RedKiYxWuZ0nvs6R3ro3ubg=\n", "", 1),
            "dropped hash",
        ),
        (SEAL_3.replacen("\nTrHT", "\nTrHU", 1), "checkpoint root"),
        (SEAL_3.replace('\n', "\r\n"), "CRLF"),
        (
            SEAL_3.replacen("extra ZXhhbXBsZSByZWNvcmQgMwo=\n", "", 1),
            "no record",
        ),
    ];
    for (text, what) in &cases {
        assert!(v.verify_inclusion_only(text).is_err(), "{what}");
    }
    assert!(matches!(
        v.verify_inclusion_only(&cases[1].0),
        Err(Error::IndexOutOfRange { index: 5, size: 5 })
    ));
    assert!(matches!(
        v.verify_inclusion_only(&cases[2].0),
        Err(Error::InclusionProofFailed(_))
    ));
    // The untouched seal still verifies with the same verifier.
    assert!(v.verify_inclusion_only(SEAL_3).is_ok());
    // And fails under another log's key.
    let other = Ed25519Signer::from_seed(ORIGIN, &[1; 32]).unwrap();
    assert!(SealVerifier::new(other.verifier_key())
        .verify_inclusion_only(SEAL_3)
        .is_err());
}

//! End to end over a small Minutier log (vectors/log/, generated
//! independently in Python): the daemon's path (append, sign, seal) must
//! reproduce the vectors byte for byte, and the verifier's path must accept
//! them and refuse their alterations.

use minutier_seal::checkpoint::Checkpoint;
use minutier_seal::hash::{from_hex, sha256, to_hex, EMPTY_ROOT};
use minutier_seal::note::{Ed25519Signer, VerifierKey};
use minutier_seal::proof::Seal;
use minutier_seal::record::Record;
use minutier_seal::tree::{self, Frontier, MemoryTree};
use minutier_seal::verify::SealVerifier;
use minutier_seal::{Error, Hash};
use serde_json::Value;

const ORIGIN: &str = "archives.mairie-exemple.fr/minutier";
const SEED: [u8; 32] = [
    0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec, 0x2c, 0xc4,
    0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19, 0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae, 0x7f, 0x60,
];
const RECORDS: [&[u8]; 4] = [
    include_bytes!("vectors/records/ingest-first.txt"),
    include_bytes!("vectors/records/ingest-chained.txt"),
    include_bytes!("vectors/records/ingest-minimal.txt"),
    include_bytes!("vectors/records/ingest-limits.txt"),
];
const SEALS: [&str; 4] = [
    include_str!("vectors/log/seal-0.tlog-proof"),
    include_str!("vectors/log/seal-1.tlog-proof"),
    include_str!("vectors/log/seal-2.tlog-proof"),
    include_str!("vectors/log/seal-3.tlog-proof"),
];
const CHECKPOINT_2: &str = include_str!("vectors/log/checkpoint-2.txt");
const CHECKPOINT_4: &str = include_str!("vectors/log/checkpoint-4.txt");

fn log_json() -> Value {
    serde_json::from_str(include_str!("vectors/log/log.json")).unwrap()
}

fn hashes(v: &Value) -> Vec<Hash> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|h| from_hex(h.as_str().unwrap()).unwrap())
        .collect()
}

fn key() -> VerifierKey {
    VerifierKey::parse(include_str!("vectors/verifier.key")).unwrap()
}

fn signer() -> Ed25519Signer {
    Ed25519Signer::from_seed(ORIGIN, &SEED).unwrap()
}

/// What the daemon does: decode-check each record, append its leaf hash,
/// keep the completed nodes, and sign the new head.
fn build() -> (MemoryTree, Vec<String>) {
    let mut store = MemoryTree::new();
    let mut frontier = Frontier::new();
    let mut checkpoints = Vec::new();
    for rec in RECORDS {
        let leaf = Record::decode(rec).unwrap().leaf_hash();
        let completed = frontier.append(leaf);
        store.push(leaf);
        // The frontier announces exactly the nodes a store must keep.
        for (level, index, hash) in completed {
            assert_eq!(tree::NodeReader::node(&store, level, index), Ok(hash));
        }
        assert_eq!(frontier, Frontier::load(&store, store.size()).unwrap());
        let cp = Checkpoint {
            origin: ORIGIN.into(),
            size: frontier.size(),
            root: frontier.root(),
            extensions: vec![],
        };
        checkpoints.push(cp.sign(&signer()).unwrap());
    }
    (store, checkpoints)
}

#[test]
fn roots_and_proofs_match_the_vectors() {
    let v = log_json();
    let (store, checkpoints) = build();
    for (i, rec) in RECORDS.iter().enumerate() {
        assert_eq!(
            to_hex(&Record::decode(rec).unwrap().leaf_hash()),
            v["leaf_hashes"][i].as_str().unwrap()
        );
    }
    for size in 0..=4u64 {
        let root = tree::root(&store, size).unwrap();
        assert_eq!(
            to_hex(&root),
            v["roots"][size.to_string()].as_str().unwrap()
        );
    }
    assert_eq!(tree::root(&store, 0).unwrap(), EMPTY_ROOT);
    for c in v["inclusion"].as_array().unwrap() {
        let index = c["index"].as_u64().unwrap();
        assert_eq!(
            tree::inclusion_proof(&store, index, 4).unwrap(),
            hashes(&c["path"])
        );
    }
    for c in v["consistency"].as_array().unwrap() {
        let old = c["old_size"].as_u64().unwrap();
        assert_eq!(
            tree::consistency_proof(&store, old, 4).unwrap(),
            hashes(&c["proof"])
        );
    }
    assert_eq!(checkpoints[1], CHECKPOINT_2);
    assert_eq!(checkpoints[3], CHECKPOINT_4);
}

#[test]
fn generated_seals_match_the_vectors() {
    let (store, checkpoints) = build();
    for (i, rec) in RECORDS.iter().enumerate() {
        let seal = Seal {
            record: rec.to_vec(),
            index: i as u64,
            proof: tree::inclusion_proof(&store, i as u64, 4).unwrap(),
            checkpoint: checkpoints[3].clone(),
        };
        assert_eq!(seal.to_text(), SEALS[i], "seal {i}");
        assert_eq!(Seal::parse(SEALS[i]), Ok(seal));
    }
}

#[test]
fn seals_verify_with_one_signature_check() {
    let mut v = SealVerifier::new(key());
    for (i, seal) in SEALS.iter().enumerate() {
        let ok = v.verify(seal).unwrap();
        assert_eq!(ok.index, i as u64);
        assert_eq!(ok.record, Record::decode(RECORDS[i]).unwrap());
        assert_eq!(ok.checkpoint.size, 4);
        assert_eq!(ok.checkpoint.origin, ORIGIN);
    }
    // All four seals share one checkpoint: one note verified and remembered.
    assert_eq!(v.cached_checkpoints(), 1);
}

#[test]
fn documents_are_checked_against_the_record() {
    let records: Value =
        serde_json::from_str(include_str!("vectors/records/records.json")).unwrap();
    let mut v = SealVerifier::new(key());
    for (i, c) in records["content"].as_array().unwrap().iter().enumerate() {
        let doc = c["text"].as_str().unwrap().as_bytes();
        let ok = v
            .verify_document(SEALS[i], &sha256(doc), doc.len() as u64)
            .unwrap();
        assert_eq!(ok.record.content_sha256, sha256(doc));
    }
    let doc = records["content"][0]["text"].as_str().unwrap().as_bytes();
    let other = sha256(b"something else");
    assert_eq!(
        v.verify_document(SEALS[0], &other, doc.len() as u64)
            .map(|_| ()),
        Err(Error::ContentMismatch {
            expected: to_hex(&sha256(doc)),
            actual: to_hex(&other),
        })
    );
    assert_eq!(
        v.verify_document(SEALS[0], &sha256(doc), 47).map(|_| ()),
        Err(Error::SizeMismatch {
            expected: 48,
            actual: 47
        })
    );
    // The empty document of ingest-minimal.txt.
    v.verify_document(SEALS[2], &sha256(b""), 0).unwrap();
}

#[test]
fn consistency_between_signed_heads() {
    let v = log_json();
    let proof = hashes(&v["consistency"][1]["proof"]);
    let mut sv = SealVerifier::new(key());
    let (old, new) = sv
        .verify_consistency(CHECKPOINT_2, CHECKPOINT_4, &proof)
        .unwrap();
    assert_eq!((old.size, new.size), (2, 4));
    assert!(matches!(
        sv.verify_consistency(CHECKPOINT_4, CHECKPOINT_2, &proof),
        Err(Error::InvalidTreeSizes { .. })
    ));
    let mut bad = proof.clone();
    bad[0][0] ^= 1;
    assert!(matches!(
        sv.verify_consistency(CHECKPOINT_2, CHECKPOINT_4, &bad),
        Err(Error::ConsistencyProofFailed(_))
    ));
    sv.verify_consistency(CHECKPOINT_4, CHECKPOINT_4, &[])
        .unwrap();
    assert_eq!(sv.cached_checkpoints(), 2);
    // A fork: a different size-4 head signed by the same key.
    let fork = Checkpoint {
        origin: ORIGIN.into(),
        size: 4,
        root: sha256(b"fork"),
        extensions: vec![],
    }
    .sign(&signer())
    .unwrap();
    assert!(sv.verify_consistency(CHECKPOINT_2, &fork, &proof).is_err());
    assert!(sv.verify_consistency(CHECKPOINT_4, &fork, &[]).is_err());
}

#[test]
fn altered_seals_fail() {
    let mut v = SealVerifier::new(key());
    // Each seal's record under another seal's index and proof.
    for (i, seal) in SEALS.iter().enumerate() {
        for (j, record) in RECORDS.iter().enumerate() {
            if i == j {
                continue;
            }
            let mut s = Seal::parse(seal).unwrap();
            s.record = record.to_vec();
            assert!(matches!(
                v.verify(&s.to_text()),
                Err(Error::InclusionProofFailed(_))
            ));
        }
    }
    // A record edited by one byte (a different actor) no longer verifies.
    let mut s = Seal::parse(SEALS[0]).unwrap();
    let text = String::from_utf8(s.record.clone()).unwrap();
    s.record = text.replacen("Émilie", "Emilie", 1).into_bytes();
    assert!(matches!(
        v.verify(&s.to_text()),
        Err(Error::InclusionProofFailed(_))
    ));
    // A seal under an older checkpoint than its index allows.
    let mut s = Seal::parse(SEALS[3]).unwrap();
    s.checkpoint = CHECKPOINT_2.into();
    assert!(matches!(
        v.verify(&s.to_text()),
        Err(Error::IndexOutOfRange { index: 3, size: 2 })
    ));
}

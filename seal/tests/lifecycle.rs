//! The lifecycle vectors (vectors/lifecycle/, generated independently in
//! Python): one record of every archive kind in two archives' chains, the
//! signed elimination certificate of the order that eliminated both, and the
//! appliance's chain of two scrub records, a timestamp record and a
//! key-rotation record appended to the same log. The Rust
//! encoders must reproduce them byte for byte, and the verifiers must accept
//! them and refuse their alterations.

use minutier_seal::certificate::{EliminatedArchive, EliminationCertificate};
use minutier_seal::chain::{verify_chain, ChainLink, ChainVerifier};
use minutier_seal::checkpoint::Checkpoint;
use minutier_seal::hash::{from_hex, leaf_hash, sha256, to_hex};
use minutier_seal::metadata;
use minutier_seal::note::{self, Ed25519Signer, VerifierKey};
use minutier_seal::proof::Seal;
use minutier_seal::record::{Record, RecordKind, APPLIANCE_ID};
use minutier_seal::tree::{self, MemoryTree};
use minutier_seal::verify::SealVerifier;
use minutier_seal::Error;
use serde_json::Value;

const ORIGIN: &str = "archives.mairie-exemple.fr/minutier";
/// RFC 8032 §7.1 TEST 1 secret key. Public test vector; never use it for anything real.
const SEED: [u8; 32] = [
    0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec, 0x2c, 0xc4,
    0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19, 0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae, 0x7f, 0x60,
];
const A: &str = "FRAD075-2027-000031";
const B: &str = "FRAD075-2027-000032";

const RECORDS: [&[u8]; 16] = [
    include_bytes!("vectors/lifecycle/00-ingest.txt"),
    include_bytes!("vectors/lifecycle/01-ingest.txt"),
    include_bytes!("vectors/lifecycle/02-metadata-correction.txt"),
    include_bytes!("vectors/lifecycle/03-rules-change.txt"),
    include_bytes!("vectors/lifecycle/04-hold-placed.txt"),
    include_bytes!("vectors/lifecycle/05-elimination-proposed.txt"),
    include_bytes!("vectors/lifecycle/06-elimination-refused.txt"),
    include_bytes!("vectors/lifecycle/07-hold-lifted.txt"),
    include_bytes!("vectors/lifecycle/08-read-content.txt"),
    include_bytes!("vectors/lifecycle/09-elimination-proposed.txt"),
    include_bytes!("vectors/lifecycle/10-elimination-proposed.txt"),
    include_bytes!("vectors/lifecycle/11-elimination-approved.txt"),
    include_bytes!("vectors/lifecycle/12-elimination-approved.txt"),
    include_bytes!("vectors/lifecycle/13-elimination-executed.txt"),
    include_bytes!("vectors/lifecycle/14-elimination-executed.txt"),
    include_bytes!("vectors/lifecycle/15-read-metadata.txt"),
];
/// The appliance's chain, appended to the log after `RECORDS`: log indices
/// 16 and 17, with the scrub reports they commit to.
const APPLIANCE_RECORDS: [(u64, &[u8], &[u8]); 2] = [
    (
        16,
        include_bytes!("vectors/lifecycle/16-scrub.txt"),
        include_bytes!("vectors/lifecycle/16-scrub-report.json"),
    ),
    (
        17,
        include_bytes!("vectors/lifecycle/17-scrub.txt"),
        include_bytes!("vectors/lifecycle/17-scrub-report.json"),
    ),
];
/// The appliance's chain continued: the timestamp record at index 18, the
/// timestamp document it commits to, and the checkpoint of the 18 records
/// before it, which the document's token time-stamps.
const TIMESTAMP_RECORD: &[u8] = include_bytes!("vectors/lifecycle/18-timestamp.txt");
const TIMESTAMP_DOCUMENT: &[u8] = include_bytes!("vectors/lifecycle/18-timestamp-document.json");
const CHECKPOINT_18: &str = include_str!("vectors/lifecycle/checkpoint-18.txt");
/// The appliance's chain continued: the key-rotation record at index 19,
/// its key rotation document, and the checkpoint of the 20 records signed
/// by the old and the new key.
const KEY_ROTATION_RECORD: &[u8] = include_bytes!("vectors/lifecycle/19-key-rotation.txt");
const KEY_ROTATION_DOCUMENT: &[u8] =
    include_bytes!("vectors/lifecycle/19-key-rotation-document.json");
const CHECKPOINT_20: &str = include_str!("vectors/lifecycle/checkpoint-20.txt");
/// RFC 8032 §7.1 TEST 2 secret key, the rotation's new key. Public test
/// vector; never use it for anything real.
const NEW_SEED: [u8; 32] = [
    0x4c, 0xcd, 0x08, 0x9b, 0x28, 0xff, 0x96, 0xda, 0x9d, 0xb6, 0xc3, 0x46, 0xec, 0x11, 0x4e, 0x0f,
    0x5b, 0x8a, 0x31, 0x9f, 0x35, 0xab, 0xa6, 0x24, 0xda, 0x8c, 0xf6, 0xed, 0x4f, 0xb8, 0xa6, 0xfb,
];
const CERTIFICATE: &str = include_str!("vectors/lifecycle/elimination-certificate.txt");
const CHECKPOINT: &str = include_str!("vectors/checkpoint.txt");
const CHECKPOINT_4: &str = include_str!("vectors/log/checkpoint-4.txt");

fn vectors() -> Value {
    serde_json::from_str(include_str!("vectors/lifecycle/lifecycle.json")).unwrap()
}

fn appliance_vectors() -> Value {
    serde_json::from_str(include_str!("vectors/lifecycle/appliance.json")).unwrap()
}

fn timestamp_vector() -> Value {
    serde_json::from_str(include_str!("vectors/lifecycle/timestamp.json")).unwrap()
}

fn key_rotation_vector() -> Value {
    serde_json::from_str(include_str!("vectors/lifecycle/key-rotation.json")).unwrap()
}

fn appliance_chain() -> Vec<(u64, Vec<u8>)> {
    APPLIANCE_RECORDS
        .iter()
        .map(|(i, b, _)| (*i, b.to_vec()))
        .collect()
}

fn key() -> VerifierKey {
    VerifierKey::parse(include_str!("vectors/verifier.key")).unwrap()
}

fn signer() -> Ed25519Signer {
    Ed25519Signer::from_seed(ORIGIN, &SEED).unwrap()
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap()
}

fn record_from_fields(f: &Value) -> Record {
    Record {
        kind: s(&f["kind"]).parse().unwrap(),
        archive_id: s(&f["archive"]).into(),
        time: s(&f["time"]).parse().unwrap(),
        actor: s(&f["actor"]).into(),
        content_sha256: from_hex(s(&f["content_sha256"])).unwrap(),
        size: f["size"].as_u64().unwrap(),
        metadata_sha256: from_hex(s(&f["metadata_sha256"])).unwrap(),
        previous: match s(&f["previous"]) {
            "none" => None,
            h => Some(from_hex(h).unwrap()),
        },
    }
}

/// The indices of an archive's records in the vector log.
fn chain_indices(archive: &str) -> Vec<u64> {
    vectors()["chains"][archive]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i.as_u64().unwrap())
        .collect()
}

fn chain_of(archive: &str) -> Vec<(u64, Vec<u8>)> {
    chain_indices(archive)
        .into_iter()
        .map(|i| (i, RECORDS[i as usize].to_vec()))
        .collect()
}

fn check(archive: &str, records: &[(u64, Vec<u8>)]) -> Result<Vec<ChainLink>, Error> {
    let refs: Vec<(u64, &[u8])> = records.iter().map(|(i, b)| (*i, b.as_slice())).collect();
    verify_chain(archive, &refs)
}

fn certificate_from_fields(f: &Value) -> EliminationCertificate {
    let step = |v: &Value| (s(&v[0]).parse().unwrap(), s(&v[1]).to_owned());
    EliminationCertificate {
        origin: s(&f["origin"]).into(),
        elimination_id: s(&f["elimination"]).into(),
        reason: s(&f["reason"]).into(),
        proposed: step(&f["proposed"]),
        approved: step(&f["approved"]),
        executed: step(&f["executed"]),
        log_size: f["log_size"].as_u64().unwrap(),
        archives: f["archives"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| EliminatedArchive {
                archive_id: s(&a["archive"]).into(),
                content_sha256: from_hex(s(&a["content_sha256"])).unwrap(),
                size: a["size"].as_u64().unwrap(),
                tombstone_index: a["tombstone_index"].as_u64().unwrap(),
                tombstone_hash: from_hex(s(&a["tombstone_hash"])).unwrap(),
            })
            .collect(),
    }
}

/// The signed text of the certificate vector.
fn body() -> &'static str {
    &CERTIFICATE[..CERTIFICATE.find("\n\n").unwrap() + 1]
}

// ---------------------------------------------------------------- records

#[test]
fn record_vectors_encode_decode_and_hash() {
    let v = vectors();
    let entries = v["entries"].as_array().unwrap();
    assert_eq!(entries.len(), RECORDS.len());
    let mut kinds = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(e["index"].as_u64(), Some(i as u64));
        let name = s(&e["file"]);
        let bytes = RECORDS[i];
        let expected = record_from_fields(&e["fields"]);
        expected.validate().unwrap();
        assert_eq!(expected.encode(), bytes, "{name}: encode");
        assert_eq!(Record::decode(bytes).as_ref(), Ok(&expected), "{name}");
        assert_eq!(to_hex(&leaf_hash(bytes)), s(&e["leaf_hash"]), "{name}");
        assert_eq!(
            String::from_utf8(metadata::canonical_json(&e["metadata"])).unwrap(),
            s(&e["metadata_canonical"]),
            "{name}"
        );
        assert_eq!(
            metadata::digest(&e["metadata"]),
            expected.metadata_sha256,
            "{name}"
        );
        assert!(name.ends_with(&format!("-{}.txt", expected.kind)), "{name}");
        kinds.push(expected.kind);
    }
    for e in appliance_vectors()["entries"].as_array().unwrap() {
        kinds.push(s(&e["fields"]["kind"]).parse().unwrap());
    }
    kinds.push(
        s(&timestamp_vector()["entry"]["fields"]["kind"])
            .parse()
            .unwrap(),
    );
    kinds.push(
        s(&key_rotation_vector()["entry"]["fields"]["kind"])
            .parse()
            .unwrap(),
    );
    // Every kind has a vector.
    for kind in RecordKind::ALL {
        assert!(kinds.contains(&kind), "no vector for {kind}");
    }
}

#[test]
fn documents_and_what_metadata_commits_to() {
    let v = vectors();
    for archive in [A, B] {
        let doc = &v["documents"][archive];
        let text = s(&doc["text"]).as_bytes();
        assert_eq!(to_hex(&sha256(text)), s(&doc["sha256"]));
        for i in chain_indices(archive) {
            let r = Record::decode(RECORDS[i as usize]).unwrap();
            assert_eq!(r.content_sha256, sha256(text), "{i}");
            assert_eq!(r.size, text.len() as u64, "{i}");
        }
    }
    let entries = v["entries"].as_array().unwrap();
    for e in entries {
        let kind: RecordKind = s(&e["fields"]["kind"]).parse().unwrap();
        // Illustrative shapes: an elimination order has an id, an archive's
        // metadata has its descriptive part.
        assert_eq!(
            kind.is_elimination(),
            e["metadata"].get("id").is_some(),
            "{kind}"
        );
        assert_eq!(
            !kind.is_elimination(),
            e["metadata"].get("descriptive").is_some(),
            "{kind}"
        );
    }
    // An access changes nothing: read-content commits to the same metadata as
    // the event before it; both archives' proposals commit to one order.
    let digest = |i: usize| Record::decode(RECORDS[i]).unwrap().metadata_sha256;
    assert_eq!(digest(8), digest(7));
    assert_eq!(digest(9), digest(10));
    assert_eq!(digest(13), digest(14));
    assert_eq!(digest(15), digest(8));
}

// ---------------------------------------------------------------- chains

#[test]
fn vector_chains_verify() {
    for archive in [A, B] {
        let records = chain_of(archive);
        let links = check(archive, &records).unwrap();
        assert_eq!(links.len(), records.len());
        for (link, (index, bytes)) in links.iter().zip(&records) {
            assert_eq!(link.index, *index);
            assert_eq!(link.leaf_hash, leaf_hash(bytes));
            assert_eq!(link.record, Record::decode(bytes).unwrap());
        }
        assert_eq!(links[0].record.kind, RecordKind::Ingest);
        let mut v = ChainVerifier::new(archive);
        for (index, bytes) in &records {
            v.push(*index, bytes).unwrap();
        }
        assert_eq!(
            v.tombstone_index(),
            Some(if archive == A { 13 } else { 14 })
        );
    }
    // A's chain ends with a read-metadata after its tombstone.
    let a = check(A, &chain_of(A)).unwrap();
    assert_eq!(a[a.len() - 2].record.kind, RecordKind::EliminationExecuted);
    assert_eq!(a[a.len() - 1].record.kind, RecordKind::ReadMetadata);
}

#[test]
fn removed_middle_record_is_named() {
    let mut records = chain_of(A);
    let removed = records.remove(3); // index 4, hold-placed
    assert_eq!(removed.0, 4);
    let e = check(A, &records).unwrap_err();
    assert_eq!(
        e,
        Error::ChainLinkMismatch {
            index: 5,
            kind: RecordKind::EliminationProposed,
            previous: to_hex(&leaf_hash(RECORDS[4])),
            before_index: 3,
            before_hash: to_hex(&leaf_hash(RECORDS[3])),
        }
    );
    assert_eq!(
        e.to_string(),
        format!(
            "record at index 5 (elimination-proposed) has previous {} but the record before it \
             in the chain, at index 3, hashes to {}: a record is missing from the chain or was \
             altered",
            to_hex(&leaf_hash(RECORDS[4])),
            to_hex(&leaf_hash(RECORDS[3]))
        )
    );
    // The last record removed: what remains is a valid (shorter) chain.
    let mut records = chain_of(A);
    records.pop();
    assert!(check(A, &records).is_ok());
}

#[test]
fn reordered_chain_fails() {
    let mut records = chain_of(A);
    records.swap(4, 5); // indices 5 and 6
    assert_eq!(
        check(A, &records),
        Err(Error::ChainOutOfOrder {
            index: 5,
            kind: RecordKind::EliminationProposed,
            after: 6
        })
    );
    // Reordered and renumbered to look increasing: the links break.
    let mut records = chain_of(A);
    records.swap(4, 5);
    records[4].0 = 5;
    records[5].0 = 6;
    assert!(matches!(
        check(A, &records),
        Err(Error::ChainLinkMismatch { index: 5, .. })
    ));
    // Streaming, the verifier refuses an index that goes back.
    let mut v = ChainVerifier::new(A);
    v.push(0, RECORDS[0]).unwrap();
    v.push(2, RECORDS[2]).unwrap();
    assert!(matches!(
        v.push(1, RECORDS[3]),
        Err(Error::ChainOutOfOrder {
            index: 1,
            after: 2,
            ..
        })
    ));
}

#[test]
fn record_of_another_archive_fails() {
    let mut records = chain_of(A);
    records.insert(9, (10, RECORDS[10].to_vec())); // B's proposal, between A's 9 and 11
    assert_eq!(
        check(A, &records),
        Err(Error::ChainWrongArchive {
            index: 10,
            kind: RecordKind::EliminationProposed,
            expected: A.into(),
            found: B.into(),
        })
    );
    // B's chain checked as A's.
    assert!(matches!(
        check(A, &chain_of(B)),
        Err(Error::ChainWrongArchive { index: 1, .. })
    ));
}

#[test]
fn first_record_must_be_the_ingest() {
    let records = chain_of(A);
    let e = check(A, &records[1..]).unwrap_err();
    assert!(
        matches!(
            e,
            Error::ChainBadStart {
                index: 2,
                kind: RecordKind::MetadataCorrection,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("is not an ingest record"), "{e}");
}

#[test]
fn only_read_metadata_after_the_tombstone() {
    let records = chain_of(A);
    let tombstone = Record::decode(RECORDS[13]).unwrap();
    for kind in RecordKind::ALL {
        // A record of `kind` right after A's tombstone, correctly linked.
        let mut r = Record::decode(RECORDS[15]).unwrap();
        r.kind = kind;
        r.previous = Some(tombstone.leaf_hash());
        let mut chain = records[..records.len() - 1].to_vec();
        chain.push((16, r.encode()));
        let result = check(A, &chain);
        match kind {
            RecordKind::ReadMetadata => assert!(result.is_ok()),
            // An appliance kind about an archive is no valid record.
            RecordKind::Scrub | RecordKind::Timestamp | RecordKind::KeyRotation => assert!(
                matches!(
                    &result,
                    Err(Error::ChainRecordInvalid { index: 16, reason })
                        if matches!(**reason, Error::InvalidRecord { line: 3, .. })
                ),
                "{result:?}"
            ),
            RecordKind::Ingest => assert!(matches!(
                result,
                Err(Error::ChainRepeatedIngest {
                    index: 16,
                    first_index: 0
                })
            )),
            _ => assert_eq!(
                result,
                Err(Error::ChainAfterElimination {
                    index: 16,
                    kind,
                    tombstone_index: 13
                }),
                "{kind}"
            ),
        }
    }
}

#[test]
fn older_ingest_vectors_are_not_a_lifecycle_chain() {
    // records/ingest-chained.txt links to ingest-first.txt, but is a second
    // ingest of another document: docs/seal-format.md §2.7 refuses it.
    let first = include_bytes!("vectors/records/ingest-first.txt");
    let chained = include_bytes!("vectors/records/ingest-chained.txt");
    assert_eq!(
        verify_chain(
            "FRAD075-2026-000114",
            &[(0, first.as_slice()), (1, chained.as_slice())]
        ),
        Err(Error::ChainRepeatedIngest {
            index: 1,
            first_index: 0
        })
    );
}

// ------------------------------------------------------ appliance chain

#[test]
fn scrub_vectors_encode_decode_and_hash() {
    let v = appliance_vectors();
    let entries = v["entries"].as_array().unwrap();
    assert_eq!(entries.len(), APPLIANCE_RECORDS.len());
    for (e, (index, bytes, report)) in entries.iter().zip(APPLIANCE_RECORDS) {
        assert_eq!(e["index"].as_u64(), Some(index));
        let name = s(&e["file"]);
        assert_eq!(name, format!("{index}-scrub.txt"));
        assert_eq!(s(&e["report_file"]), format!("{index}-scrub-report.json"));
        let expected = record_from_fields(&e["fields"]);
        expected.validate().unwrap();
        assert_eq!(expected.kind, RecordKind::Scrub);
        assert_eq!(expected.archive_id, APPLIANCE_ID);
        assert_eq!(expected.encode(), bytes, "{name}: encode");
        assert_eq!(Record::decode(bytes).as_ref(), Ok(&expected), "{name}");
        assert_eq!(to_hex(&leaf_hash(bytes)), s(&e["leaf_hash"]), "{name}");
        // The record commits to the report: its canonical JSON is the report
        // file, whose SHA-256 and length are content-sha256 and size, and
        // whose digest is metadata-sha256 too.
        assert_eq!(metadata::canonical_json(&e["report"]), report, "{name}");
        assert_eq!(s(&e["report_canonical"]).as_bytes(), report, "{name}");
        assert_eq!(expected.content_sha256, sha256(report), "{name}");
        assert_eq!(expected.size, report.len() as u64, "{name}");
        assert_eq!(expected.metadata_sha256, metadata::digest(&e["report"]));
        assert_eq!(expected.metadata_sha256, expected.content_sha256);
    }
    // The runs follow the archive events in the same log.
    assert_eq!(APPLIANCE_RECORDS[0].0, RECORDS.len() as u64);
    assert_eq!(
        v["chain"],
        serde_json::json!(APPLIANCE_RECORDS.map(|(i, _, _)| i))
    );
}

#[test]
fn appliance_vector_chain_verifies() {
    let records = appliance_chain();
    let links = check(APPLIANCE_ID, &records).unwrap();
    assert_eq!(links.len(), 2);
    assert_eq!(links[0].record.previous, None);
    assert_eq!(links[1].record.previous, Some(links[0].leaf_hash));
    // Each run commits to its own report.
    assert_ne!(
        links[0].record.content_sha256,
        links[1].record.content_sha256
    );
    let mut v = ChainVerifier::new(APPLIANCE_ID);
    assert!(v.is_appliance());
    for (index, bytes) in &records {
        v.push(*index, bytes).unwrap();
    }
    assert_eq!(v.tombstone_index(), None);
    // The second run alone is a chain whose start is missing.
    assert!(matches!(
        check(APPLIANCE_ID, &records[1..]),
        Err(Error::ChainBadStart {
            index: 17,
            kind: RecordKind::Scrub,
            ..
        })
    ));
    // A run after A's last record is not part of A's chain, nor A's records
    // of the appliance's.
    let mut a = chain_of(A);
    a.push(records[0].clone());
    assert_eq!(
        check(A, &a),
        Err(Error::ChainWrongArchive {
            index: 16,
            kind: RecordKind::Scrub,
            expected: A.into(),
            found: APPLIANCE_ID.into(),
        })
    );
    assert!(matches!(
        check(APPLIANCE_ID, &chain_of(A)),
        Err(Error::ChainWrongArchive {
            index: 0,
            kind: RecordKind::Ingest,
            ..
        })
    ));
    // The first run altered: the second no longer links to it.
    let mut altered = records.clone();
    altered[0].1 = String::from_utf8(altered[0].1.clone())
        .unwrap()
        .replace("T02:00:00.418Z", "T02:00:00.419Z")
        .into_bytes();
    assert!(matches!(
        check(APPLIANCE_ID, &altered),
        Err(Error::ChainLinkMismatch {
            index: 17,
            kind: RecordKind::Scrub,
            before_index: 16,
            ..
        })
    ));
}

#[test]
fn scrub_seal_verifies_with_its_report() {
    // The whole vector log, 18 records, and a seal for each scrub record:
    // the report plays the part of the document.
    let all: Vec<&[u8]> = RECORDS
        .iter()
        .copied()
        .chain(APPLIANCE_RECORDS.iter().map(|(_, b, _)| *b))
        .collect();
    let mut store = MemoryTree::new();
    for r in &all {
        store.push(leaf_hash(r));
    }
    let size = all.len() as u64;
    let checkpoint = Checkpoint {
        origin: ORIGIN.into(),
        size,
        root: store.root(),
        extensions: vec![],
    }
    .sign(&signer())
    .unwrap();
    let mut verifier = SealVerifier::new(key());
    for (index, bytes, report) in APPLIANCE_RECORDS {
        let seal = Seal {
            record: bytes.to_vec(),
            index,
            proof: tree::inclusion_proof(&store, index, size).unwrap(),
            checkpoint: checkpoint.clone(),
        }
        .to_text();
        let ok = verifier
            .verify_document(&seal, &sha256(report), report.len() as u64)
            .unwrap();
        assert_eq!(ok.record.kind, RecordKind::Scrub);
        assert_eq!(ok.index, index);
        let other = APPLIANCE_RECORDS[(index as usize + 1) % 2].2;
        assert!(matches!(
            verifier.verify_document(&seal, &sha256(other), other.len() as u64),
            Err(Error::ContentMismatch { .. })
        ));
    }
}

#[test]
fn timestamp_vector_encodes_decodes_and_commits_to_its_document() {
    let v = timestamp_vector();
    let e = &v["entry"];
    assert_eq!(e["index"].as_u64(), Some(18));
    assert_eq!(s(&e["file"]), "18-timestamp.txt");
    let expected = record_from_fields(&e["fields"]);
    expected.validate().unwrap();
    assert_eq!(expected.kind, RecordKind::Timestamp);
    assert_eq!(expected.archive_id, APPLIANCE_ID);
    assert_eq!(expected.encode(), TIMESTAMP_RECORD);
    assert_eq!(Record::decode(TIMESTAMP_RECORD), Ok(expected.clone()));
    assert_eq!(to_hex(&leaf_hash(TIMESTAMP_RECORD)), s(&e["leaf_hash"]));
    // The record commits to the document as a scrub record to its report.
    let document = &e["document"];
    assert_eq!(metadata::canonical_json(document), TIMESTAMP_DOCUMENT);
    assert_eq!(s(&e["document_canonical"]).as_bytes(), TIMESTAMP_DOCUMENT);
    assert_eq!(expected.content_sha256, sha256(TIMESTAMP_DOCUMENT));
    assert_eq!(expected.size, TIMESTAMP_DOCUMENT.len() as u64);
    assert_eq!(expected.metadata_sha256, expected.content_sha256);
    // The document holds, exactly, the checkpoint of the 18 records before
    // the timestamp record, with its size and SHA-256.
    assert_eq!(s(&document["checkpoint"]), CHECKPOINT_18);
    assert_eq!(document["checkpoint_size"].as_u64(), Some(18));
    assert_eq!(
        s(&document["checkpoint_sha256"]),
        to_hex(&sha256(CHECKPOINT_18.as_bytes()))
    );
    // (The token itself is checked in timestamp/tests/vectors.rs, and by
    // `openssl ts -verify`; see the vectors' README.)
    assert!(!s(&document["token"]).is_empty());
}

#[test]
fn the_timestamped_checkpoint_covers_the_log_before_the_timestamp() {
    let all: Vec<&[u8]> = RECORDS
        .iter()
        .copied()
        .chain(APPLIANCE_RECORDS.iter().map(|(_, b, _)| *b))
        .collect();
    let mut tree = MemoryTree::new();
    for r in &all {
        tree.push(leaf_hash(r));
    }
    let opened = Checkpoint::open(CHECKPOINT_18, &key()).unwrap();
    assert_eq!(opened.size, 18);
    assert_eq!(opened.root, tree.root());
    // Ed25519 is deterministic: the checkpoint is the one the log signs.
    let signed = Checkpoint {
        origin: ORIGIN.into(),
        size: 18,
        root: tree.root(),
        extensions: vec![],
    }
    .sign(&signer())
    .unwrap();
    assert_eq!(signed, CHECKPOINT_18);
}

#[test]
fn the_appliance_chain_runs_from_the_scrubs_to_the_timestamp() {
    let v = timestamp_vector();
    let mut records = appliance_chain();
    records.push((18, TIMESTAMP_RECORD.to_vec()));
    assert_eq!(
        v["chain"],
        serde_json::json!(records.iter().map(|(i, _)| *i).collect::<Vec<_>>())
    );
    let links = check(APPLIANCE_ID, &records).unwrap();
    assert_eq!(links.len(), 3);
    assert_eq!(links[2].record.kind, RecordKind::Timestamp);
    assert_eq!(links[2].record.previous, Some(links[1].leaf_hash));
    // Without the second scrub, the timestamp no longer links.
    let gapped = [records[0].clone(), records[2].clone()];
    assert!(matches!(
        check(APPLIANCE_ID, &gapped),
        Err(Error::ChainLinkMismatch {
            index: 18,
            kind: RecordKind::Timestamp,
            before_index: 16,
            ..
        })
    ));
    // A timestamp record about an archive is no valid record.
    let mut r = Record::decode(TIMESTAMP_RECORD).unwrap();
    r.archive_id = A.into();
    assert!(matches!(
        Record::decode(&r.encode()),
        Err(Error::InvalidRecord { line: 3, .. })
    ));
}

// ---------------------------------------------------------- key rotation

/// The 20 records of the vector log: the archives', the scrubs, the
/// timestamp and the key rotation.
fn log_of_twenty() -> MemoryTree {
    let mut tree = MemoryTree::new();
    let all = RECORDS
        .iter()
        .copied()
        .chain(APPLIANCE_RECORDS.iter().map(|(_, b, _)| *b))
        .chain([TIMESTAMP_RECORD, KEY_ROTATION_RECORD]);
    for r in all {
        tree.push(leaf_hash(r));
    }
    assert_eq!(tree.size(), 20);
    tree
}

fn new_signer() -> Ed25519Signer {
    Ed25519Signer::from_seed(ORIGIN, &NEW_SEED).unwrap()
}

#[test]
fn key_rotation_vector_encodes_decodes_and_commits_to_its_document() {
    let v = key_rotation_vector();
    let e = &v["entry"];
    assert_eq!(e["index"].as_u64(), Some(19));
    assert_eq!(s(&e["file"]), "19-key-rotation.txt");
    let expected = record_from_fields(&e["fields"]);
    expected.validate().unwrap();
    assert_eq!(expected.kind, RecordKind::KeyRotation);
    assert_eq!(expected.kind.as_str(), "key-rotation");
    assert!(expected.kind.is_appliance());
    assert_eq!(expected.archive_id, APPLIANCE_ID);
    assert_eq!(expected.encode(), KEY_ROTATION_RECORD);
    assert_eq!(Record::decode(KEY_ROTATION_RECORD), Ok(expected.clone()));
    assert_eq!(to_hex(&leaf_hash(KEY_ROTATION_RECORD)), s(&e["leaf_hash"]));
    // The record commits to the document as a scrub record to its report.
    let document = &e["document"];
    assert_eq!(metadata::canonical_json(document), KEY_ROTATION_DOCUMENT);
    assert_eq!(
        s(&e["document_canonical"]).as_bytes(),
        KEY_ROTATION_DOCUMENT
    );
    assert_eq!(expected.content_sha256, sha256(KEY_ROTATION_DOCUMENT));
    assert_eq!(expected.size, KEY_ROTATION_DOCUMENT.len() as u64);
    assert_eq!(expected.metadata_sha256, expected.content_sha256);
    // The document names the old key (the vectors' key) and the new one.
    assert_eq!(s(&document["old_key"]), key().to_string());
    assert_eq!(
        s(&document["new_key"]),
        new_signer().verifier_key().to_string()
    );
    assert_eq!(s(&v["old_key"]), s(&document["old_key"]));
    assert_eq!(s(&v["new_key"]), s(&document["new_key"]));
    assert_eq!(s(&document["custody"]), "pkcs11");
    // The same rule as for the other appliance kinds.
    let mut r = expected;
    r.metadata_sha256 = [9; 32];
    let e = Record::decode(&r.encode()).unwrap_err();
    assert!(
        e.to_string()
            .contains("a key-rotation record commits to its key rotation document twice"),
        "{e}"
    );
    r.metadata_sha256 = r.content_sha256;
    r.archive_id = A.into();
    assert!(matches!(
        Record::decode(&r.encode()),
        Err(Error::InvalidRecord { line: 3, .. })
    ));
}

#[test]
fn the_appliance_chain_runs_on_to_the_key_rotation() {
    let v = key_rotation_vector();
    let mut records = appliance_chain();
    records.push((18, TIMESTAMP_RECORD.to_vec()));
    records.push((19, KEY_ROTATION_RECORD.to_vec()));
    assert_eq!(
        v["chain"],
        serde_json::json!(records.iter().map(|(i, _)| *i).collect::<Vec<_>>())
    );
    let links = check(APPLIANCE_ID, &records).unwrap();
    assert_eq!(links.len(), 4);
    assert_eq!(links[3].record.kind, RecordKind::KeyRotation);
    assert_eq!(links[3].record.previous, Some(links[2].leaf_hash));
}

#[test]
fn the_rotation_checkpoint_is_signed_by_both_keys() {
    let tree = log_of_twenty();
    let (old, new) = (signer(), new_signer());
    // Ed25519 is deterministic: signed by the old key, co-signed by the
    // new one, it is the vector byte for byte.
    let signed = Checkpoint {
        origin: ORIGIN.into(),
        size: 20,
        root: tree.root(),
        extensions: vec![],
    }
    .sign(&old)
    .unwrap();
    assert_eq!(note::cosign_note(&signed, &new).unwrap(), CHECKPOINT_20);
    // Either key alone verifies it, and so does the key history.
    for k in [key(), new.verifier_key()] {
        let opened = Checkpoint::open(CHECKPOINT_20, &k).unwrap();
        assert_eq!((opened.size, opened.root), (20, tree.root()));
    }
    let mut history = SealVerifier::with_keys(
        note::parse_verifier_keys(&format!("{}\n{}\n", key(), new.verifier_key())).unwrap(),
    )
    .unwrap();
    assert_eq!(history.open_checkpoint(CHECKPOINT_20).unwrap().size, 20);
    // The chain of trust: with the old key alone, an auditor verifies the
    // seal of the rotation record, whose document names the new key…
    let seal = Seal {
        record: KEY_ROTATION_RECORD.to_vec(),
        index: 19,
        proof: tree::inclusion_proof(&tree, 19, 20).unwrap(),
        checkpoint: CHECKPOINT_20.to_owned(),
    }
    .to_text();
    let ok = SealVerifier::new(key())
        .verify_document(
            &seal,
            &sha256(KEY_ROTATION_DOCUMENT),
            KEY_ROTATION_DOCUMENT.len() as u64,
        )
        .unwrap();
    assert_eq!(ok.record.kind, RecordKind::KeyRotation);
    let document: Value = serde_json::from_slice(KEY_ROTATION_DOCUMENT).unwrap();
    assert_eq!(
        VerifierKey::parse(s(&document["new_key"])).unwrap(),
        new.verifier_key()
    );
    // …and the checkpoint the old key signed before the rotation is
    // consistent with the co-signed one.
    let old_cp = Checkpoint::open(CHECKPOINT_18, &key()).unwrap();
    let proof = tree::consistency_proof(&tree, 18, 20).unwrap();
    let (before, after) = history
        .verify_consistency(CHECKPOINT_18, CHECKPOINT_20, &proof)
        .unwrap();
    assert_eq!((before.size, after.size), (18, 20));
    assert_eq!(before.root, old_cp.root);
    // A key that is not the log's verifies neither.
    let stranger = Ed25519Signer::from_seed(ORIGIN, &[5; 32]).unwrap();
    assert!(matches!(
        Checkpoint::open(CHECKPOINT_20, &stranger.verifier_key()),
        Err(Error::NoSignatureByKey { .. })
    ));
}

// ---------------------------------------------------------- certificates

#[test]
fn certificate_vector_is_reproduced_and_verifies() {
    let v = vectors();
    let c = certificate_from_fields(&v["certificate"]["fields"]);
    c.validate().unwrap();
    assert_eq!(c.encode(), s(&v["certificate"]["body"]));
    assert_eq!(c.encode(), body());
    // Ed25519 is deterministic: the same key signs the same bytes.
    assert_eq!(c.sign(&signer()).unwrap(), CERTIFICATE);
    assert_eq!(
        EliminationCertificate::verify(CERTIFICATE, &key()),
        Ok(c.clone())
    );
    assert_eq!(EliminationCertificate::decode(body()), Ok(c.clone()));
    assert_eq!(
        EliminationCertificate::parse_unverified(CERTIFICATE),
        Ok(c.clone())
    );
    assert_eq!(note::verify_note(CERTIFICATE, &key()).unwrap(), body());
}

#[test]
fn certificate_matches_the_chains() {
    let c = EliminationCertificate::verify(CERTIFICATE, &key()).unwrap();
    let mut expected = Vec::new();
    for archive in [A, B] {
        let links = check(archive, &chain_of(archive)).unwrap();
        let tombstone = links
            .iter()
            .find(|l| l.record.kind == RecordKind::EliminationExecuted)
            .unwrap();
        expected.push(EliminatedArchive::from_tombstone(tombstone).unwrap());
        // The proposal, approval and execution times are those of the
        // archive's records.
        let time_of = |kind: RecordKind| {
            links
                .iter()
                .rev()
                .find(|l| l.record.kind == kind)
                .map(|l| (l.record.time, l.record.actor.clone()))
                .unwrap()
        };
        assert_eq!(time_of(RecordKind::EliminationProposed), c.proposed);
        assert_eq!(time_of(RecordKind::EliminationApproved), c.approved);
        assert_eq!(time_of(RecordKind::EliminationExecuted), c.executed);
    }
    assert_eq!(c.archives, expected);
    assert_eq!(c.log_size, 15);
}

#[test]
fn certificate_and_checkpoint_cannot_be_confused() {
    let k = key();
    // A certificate is not a checkpoint, though the same key signed it.
    assert!(matches!(
        Checkpoint::open(CERTIFICATE, &k),
        Err(Error::MalformedCheckpoint(_))
    ));
    assert!(Checkpoint::parse_unverified(CERTIFICATE).is_err());
    assert!(Checkpoint::parse_body(body()).is_err());
    // A checkpoint is not a certificate.
    for cp in [CHECKPOINT, CHECKPOINT_4] {
        let e = EliminationCertificate::verify(cp, &k).unwrap_err();
        assert!(
            matches!(e, Error::InvalidCertificate { line: 1, .. }),
            "{e:?}"
        );
        assert!(
            e.to_string().contains("not an elimination certificate"),
            "{e}"
        );
        assert!(EliminationCertificate::parse_unverified(cp).is_err());
        let cp_body = &cp[..cp.find("\n\n").unwrap() + 1];
        assert!(EliminationCertificate::decode(cp_body).is_err());
    }
}

#[test]
fn tampered_certificates_fail_verification() {
    let k = key();
    let cases = [
        (
            "log size",
            CERTIFICATE.replacen("log-size 15", "log-size 16", 1),
        ),
        ("reason", CERTIFICATE.replacen("(10 ans)", "(11 ans)", 1)),
        (
            "archive size",
            CERTIFICATE.replacen(" 38 13 ", " 39 13 ", 1),
        ),
        (
            "actor",
            CERTIFICATE.replacen("cn=Jean Martin", "cn=Jean Mart1n", 1),
        ),
        (
            "dropped archive",
            CERTIFICATE.replacen(&format!("{}\n", body().lines().last().unwrap()), "", 1),
        ),
    ];
    for (what, text) in &cases {
        assert_ne!(text, CERTIFICATE, "{what}");
        assert!(
            matches!(
                EliminationCertificate::verify(text, &k),
                Err(Error::BadSignature { .. })
            ),
            "{what}"
        );
    }
    // The signature itself altered (a base64 character in the middle).
    let sig_line = CERTIFICATE.lines().last().unwrap();
    let pos = sig_line.len() - 30;
    let flipped = if &sig_line[pos..=pos] == "A" {
        "B"
    } else {
        "A"
    };
    let bad_sig = CERTIFICATE.replacen(
        sig_line,
        &format!("{}{flipped}{}", &sig_line[..pos], &sig_line[pos + 1..]),
        1,
    );
    assert!(matches!(
        EliminationCertificate::verify(&bad_sig, &k),
        Err(Error::BadSignature { .. })
    ));
    // Structural damage to the note.
    for text in [
        CERTIFICATE.replace('\n', "\r\n"),
        CERTIFICATE.trim_end().to_owned(),
        CERTIFICATE[..CERTIFICATE.find("\n\n").unwrap() + 2].to_owned(),
    ] {
        assert!(EliminationCertificate::verify(&text, &k).is_err());
    }
}

#[test]
fn certificate_signed_by_another_key_fails() {
    let k = key();
    let c = EliminationCertificate::verify(CERTIFICATE, &k).unwrap();
    // Same name, another key: its signature line is not the log's.
    let impostor = Ed25519Signer::from_seed(ORIGIN, &[9; 32]).unwrap();
    let forged = c.sign(&impostor).unwrap();
    assert!(matches!(
        EliminationCertificate::verify(&forged, &k),
        Err(Error::NoSignatureByKey { .. })
    ));
    // Another log's key and origin.
    let other = Ed25519Signer::from_seed("archives.autre.fr/minutier", &[9; 32]).unwrap();
    let mut theirs = c.clone();
    theirs.origin = "archives.autre.fr/minutier".into();
    let note = theirs.sign(&other).unwrap();
    assert!(matches!(
        EliminationCertificate::verify(&note, &k),
        Err(Error::NoSignatureByKey { .. })
    ));
    assert_eq!(
        EliminationCertificate::verify(&note, &other.verifier_key()),
        Ok(theirs)
    );
    // Our text, signed by the other log's key: refused for its origin.
    let mislabelled = note::sign_note(body(), &other).unwrap();
    assert!(matches!(
        EliminationCertificate::verify(&mislabelled, &other.verifier_key()),
        Err(Error::CertificateOriginMismatch { .. })
    ));
    // A witness cosignature next to the log's is ignored.
    let witness = Ed25519Signer::from_seed("witness.example", &[7; 32]).unwrap();
    let cosigned = note::sign_note(body(), &witness).unwrap();
    let witness_line = cosigned.lines().last().unwrap();
    let both = format!("{CERTIFICATE}{witness_line}\n");
    assert_eq!(EliminationCertificate::verify(&both, &k), Ok(c));
}

/// Replaces the first occurrence of `from` in the vector's signed text.
fn mutate(from: &str, to: &str) -> String {
    let b = body();
    assert!(b.contains(from), "{from:?}");
    b.replacen(from, to, 1)
}

fn swap_lines(a: usize, b: usize) -> String {
    let mut lines: Vec<&str> = body().lines().collect();
    lines.swap(a - 1, b - 1);
    format!("{}\n", lines.join("\n"))
}

#[test]
fn certificate_decoder_rejections() {
    let b = body();
    let last_archive = b.lines().last().unwrap();
    let cases: Vec<(&str, String, usize, &str)> = vec![
        // (what, text, line, expected words in the message)
        ("key order", swap_lines(2, 3), 2, "out of order"),
        ("step order", swap_lines(5, 6), 5, "out of order"),
        ("log-size last", swap_lines(8, 9), 8, "out of order"),
        (
            "unsorted indices",
            swap_lines(9, 10),
            10,
            "strictly increasing",
        ),
        (
            "double space origin",
            mutate("origin ", "origin  "),
            2,
            "extra space",
        ),
        (
            "trailing space origin",
            mutate("minutier\n", "minutier \n"),
            2,
            "extra space",
        ),
        (
            "double space reason",
            mutate("reason ", "reason  "),
            4,
            "extra space",
        ),
        (
            "trailing space reason",
            mutate("1O-12)\n", "1O-12) \n"),
            4,
            "extra space",
        ),
        (
            "double space step",
            mutate("proposed ", "proposed  "),
            5,
            "extra space",
        ),
        (
            "double space actor",
            mutate(".000Z cn=Émilie", ".000Z  cn=Émilie"),
            5,
            "extra space",
        ),
        (
            "trailing space actor",
            mutate("fr\nlog-size", "fr \nlog-size"),
            7,
            "extra space",
        ),
        (
            "double space log-size",
            mutate("log-size 15", "log-size  15"),
            8,
            "extra space",
        ),
        (
            "double space archive",
            mutate(" 38 13", "  38 13"),
            9,
            "extra space",
        ),
        (
            "trailing space archive",
            format!("{} \n", b.trim_end()),
            10,
            "extra space",
        ),
        (
            "tab",
            mutate("log-size 15", "log-size\t15"),
            8,
            "expected `log-size <value>`",
        ),
        ("CRLF", b.replace('\n', "\r\n"), 0, "CRLF"),
        (
            "CR",
            mutate("log-size 15\n", "log-size 15\r\n"),
            0,
            "carriage return",
        ),
        (
            "uppercase content hex",
            mutate("0b625eaa", "0B625EAA"),
            9,
            "lowercase",
        ),
        (
            "uppercase tombstone hex",
            mutate("c2846cf8", "C2846CF8"),
            9,
            "lowercase",
        ),
        (
            "short hash",
            mutate("0b625eaa", "0b625ea"),
            9,
            "64 hex digits",
        ),
        (
            "index = log-size",
            mutate("log-size 15", "log-size 14"),
            10,
            "not below the log size",
        ),
        (
            "index > log-size",
            mutate("log-size 15", "log-size 2"),
            9,
            "not below the log size",
        ),
        (
            "log-size 0",
            mutate("log-size 15", "log-size 0"),
            9,
            "not below the log size",
        ),
        (
            "same index",
            mutate(" 47 14 ", " 47 13 "),
            10,
            "strictly increasing",
        ),
        (
            "approved before proposed",
            mutate("2027-09-15T17:02:03.004Z", "2027-08-31T09:00:00.000Z"),
            6,
            "before it was proposed",
        ),
        (
            "executed before approved",
            mutate("2027-10-01T06:00:00.000Z", "2027-09-15T17:02:03.003Z"),
            7,
            "before it was approved",
        ),
        (
            "empty reason",
            mutate(
                &format!(
                    "reason {}",
                    s(&vectors()["certificate"]["fields"]["reason"])
                ),
                "reason ",
            ),
            4,
            "1 to 1024 bytes",
        ),
        (
            "long reason",
            mutate("(10 ans)", &"x".repeat(1024)),
            4,
            "1 to 1024 bytes",
        ),
        (
            "control in reason",
            mutate("(10 ans)", "(10\u{7f}ans)"),
            4,
            "control character",
        ),
        (
            "C1 control in reason",
            mutate("(10 ans)", "(10\u{85}ans)"),
            4,
            "control character",
        ),
        (
            "bad elimination id",
            mutate("ELIM-2027-002", "ELIM/2027/002"),
            3,
            "not allowed",
        ),
        (
            "bad archive id",
            mutate("FRAD075-2027-000032", "FRAD075 2027"),
            10,
            "5 fields",
        ),
        (
            "archive id charset",
            mutate("FRAD075-2027-000032", "FRAD075/2027"),
            10,
            "not allowed",
        ),
        (
            "duplicate archive",
            mutate("FRAD075-2027-000032", "FRAD075-2027-000031"),
            10,
            "listed twice",
        ),
        (
            "six fields",
            format!("{} extra\n", b.trim_end()),
            10,
            "found 6 fields",
        ),
        (
            "four fields",
            mutate(" 38 13 ", " 38 "),
            9,
            "found 4 fields",
        ),
        (
            "leading zero",
            mutate("log-size 15", "log-size 015"),
            8,
            "leading zeros",
        ),
        (
            "leading zero index",
            mutate(" 38 13 ", " 38 013 "),
            9,
            "leading zeros",
        ),
        (
            "bad timestamp",
            mutate("2027-09-01T09:00:00.000Z", "2027-09-01T09:00:00Z"),
            5,
            "24 characters",
        ),
        (
            "timestamp offset",
            mutate("2027-09-01T09:00:00.000Z", "2027-09-01T09:00:00+0000"),
            5,
            "separators",
        ),
        (
            "no actor",
            mutate(
                "2027-09-01T09:00:00.000Z cn=Émilie Dupré,ou=Archives,o=Mairie d'Exemple",
                "2027-09-01T09:00:00.000Z",
            ),
            5,
            "<timestamp> <actor>",
        ),
        (
            "control in actor",
            mutate("cn=Jean", "cn=\u{1b}Jean"),
            6,
            "control character",
        ),
        (
            "bad origin",
            mutate("origin archives.mairie-exemple.fr/minutier", "origin a+b"),
            2,
            "not a valid log origin",
        ),
        (
            "missing final newline",
            b.trim_end().to_owned(),
            0,
            "newline",
        ),
        (
            "blank line",
            mutate("log-size 15\n", "log-size 15\n\n"),
            9,
            "blank line",
        ),
        ("final blank line", format!("{b}\n"), 11, "blank line"),
        (
            "duplicate key",
            mutate("log-size 15\n", "log-size 15\nlog-size 15\n"),
            9,
            "duplicate key `log-size`",
        ),
        (
            "duplicate early key",
            mutate("reason ", "origin x\nreason "),
            4,
            "duplicate key `origin`",
        ),
        (
            "unknown key",
            mutate("log-size 15\n", "log-size 15\nnote hello\n"),
            9,
            "unknown key",
        ),
        (
            "missing key",
            mutate("log-size 15\n", ""),
            8,
            "out of order",
        ),
        (
            "truncated",
            b.lines().take(5).map(|l| format!("{l}\n")).collect(),
            6,
            "missing key `approved`",
        ),
        (
            "no archive lines",
            b.replacen(&format!("{last_archive}\n"), "", 1).replacen(
                &format!("{}\n", b.lines().nth(8).unwrap()),
                "",
                1,
            ),
            9,
            "at least one",
        ),
        (
            "wrong version",
            mutate("certificate/v1", "certificate/v2"),
            1,
            "unsupported certificate version",
        ),
        (
            "no header",
            b.split_once('\n').unwrap().1.to_owned(),
            1,
            "not an elimination certificate",
        ),
        (
            "uppercase key",
            mutate("log-size 15", "Log-size 15"),
            8,
            "unknown key",
        ),
        ("empty", String::new(), 0, "newline"),
    ];
    for (what, text, line, words) in &cases {
        let e = EliminationCertificate::decode(text).unwrap_err();
        assert!(
            matches!(&e, Error::InvalidCertificate { line: l, .. } if l == line),
            "{what}: expected line {line}, got {e:?}"
        );
        let msg = e.to_string();
        assert!(msg.contains(words), "{what}: {msg:?} lacks {words:?}");
    }
    assert!(EliminationCertificate::decode(b).is_ok());
    // A valid alternative is accepted: equal times are not going backwards.
    let same_time = mutate("2027-09-15T17:02:03.004Z", "2027-09-01T09:00:00.000Z");
    assert!(EliminationCertificate::decode(&same_time).is_ok());
}

#[test]
fn french_rendering_of_the_vector() {
    let c = EliminationCertificate::verify(CERTIFICATE, &key()).unwrap();
    let r = c.render_fr();
    for needle in [
        "Certificat d'élimination\n",
        "Journal : archives.mairie-exemple.fr/minutier\n",
        "Élimination n° ELIM-2027-002\n",
        "Motif : Durée d'utilité administrative échue (10 ans) ; sort final : destruction (tableau de gestion, ligne 1O-12)\n",
        "Proposée par cn=Émilie Dupré,ou=Archives,o=Mairie d'Exemple le 1er septembre 2027 à 09:00:00 UTC (2027-09-01T09:00:00.000Z)\n",
        "Visée (approuvée) par cn=Jean Martin,ou=Direction des Archives,o=Mairie d'Exemple le 15 septembre 2027 à 17:02:03 UTC (2027-09-15T17:02:03.004Z)\n",
        "Exécutée par svc-elimination@archives.mairie-exemple.fr le 1er octobre 2027 à 06:00:00 UTC (2027-10-01T06:00:00.000Z)\n",
        "Archives éliminées : 2\n",
        "Taille du journal après l'élimination : 15 enregistrements\n",
        "| FRAD075-2027-000031 | 0b625eaa53eb2c36758dfc5497cadd33c36ce40849a8ae36e55152d8644df1b6 | 38 | 13 |\n",
        "| FRAD075-2027-000032 | 280271b266081fb842bc22be73103b8b397534f14380a7bf08871c7fee0f0cca | 47 | 14 |\n",
    ] {
        assert!(r.contains(needle), "{needle:?} not in\n{r}");
    }
}

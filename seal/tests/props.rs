//! Property tests: proofs generated from random trees verify and break under
//! any single-bit change; the frontier agrees with the store; parsers
//! round-trip and never panic on hostile input.

use minutier_seal::certificate::{EliminatedArchive, EliminationCertificate};
use minutier_seal::chain::verify_chain;
use minutier_seal::checkpoint::Checkpoint;
use minutier_seal::hash::{leaf_hash, node_hash, sha256, EMPTY_ROOT};
use minutier_seal::metadata;
use minutier_seal::note::{self, Ed25519Signer, VerifierKey};
use minutier_seal::proof::Seal;
use minutier_seal::record::{Record, RecordKind, Timestamp, APPLIANCE_ID};
use minutier_seal::tree::{self, Frontier, MemoryTree};
use minutier_seal::verify::SealVerifier;
use minutier_seal::Hash;
use proptest::prelude::*;

fn leaves(n: u64, salt: u8) -> Vec<Hash> {
    (0..n)
        .map(|i| leaf_hash(&[&i.to_le_bytes()[..], &[salt]].concat()))
        .collect()
}

fn memory_tree(leaves: &[Hash]) -> MemoryTree {
    let mut t = MemoryTree::new();
    for l in leaves {
        t.push(*l);
    }
    t
}

/// RFC 6962 MTH written straight from its recursive definition.
fn reference_root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => EMPTY_ROOT,
        1 => leaves[0],
        n => {
            // Largest power of two strictly below n.
            let mut k = 1;
            while k * 2 < n {
                k *= 2;
            }
            node_hash(&reference_root(&leaves[..k]), &reference_root(&leaves[k..]))
        }
    }
}

/// RFC 6962 PATH from its recursive definition.
fn reference_path(m: usize, leaves: &[Hash]) -> Vec<Hash> {
    let n = leaves.len();
    if n <= 1 {
        return vec![];
    }
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    if m < k {
        let mut p = reference_path(m, &leaves[..k]);
        p.push(reference_root(&leaves[k..]));
        p
    } else {
        let mut p = reference_path(m - k, &leaves[k..]);
        p.push(reference_root(&leaves[..k]));
        p
    }
}

/// RFC 9162 SUBPROOF from its recursive definition.
fn reference_subproof(m: usize, leaves: &[Hash], whole: bool) -> Vec<Hash> {
    let n = leaves.len();
    if m == n {
        return if whole {
            vec![]
        } else {
            vec![reference_root(leaves)]
        };
    }
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    if m <= k {
        let mut p = reference_subproof(m, &leaves[..k], whole);
        p.push(reference_root(&leaves[k..]));
        p
    } else {
        let mut p = reference_subproof(m - k, &leaves[k..], false);
        p.push(reference_root(&leaves[..k]));
        p
    }
}

fn flip(h: &Hash, bit: usize) -> Hash {
    let mut x = *h;
    x[bit / 8] ^= 1 << (bit % 8);
    x
}

#[test]
fn frontier_and_store_agree_for_every_size() {
    let all = leaves(1100, 0);
    let store = memory_tree(&all);
    let mut f = Frontier::new();
    for size in 0..=1100u64 {
        let expected = reference_root(&all[..size as usize]);
        assert_eq!(f.root(), expected, "frontier {size}");
        assert_eq!(tree::root(&store, size).unwrap(), expected, "store {size}");
        assert_eq!(f.size(), size);
        assert_eq!(Frontier::load(&store, size).unwrap(), f, "load {size}");
        if let Some(l) = all.get(size as usize) {
            for (level, index, hash) in f.append(*l) {
                assert_eq!(tree::NodeReader::node(&store, level, index), Ok(hash));
            }
        }
    }
    assert_eq!(store.root(), reference_root(&all));
    assert_eq!(store.size(), 1100);
}

fn size_and_index() -> impl Strategy<Value = (u64, u64)> {
    (1u64..=300).prop_flat_map(|n| (Just(n), 0..n))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn inclusion_proofs_verify((size, index) in size_and_index(), grown in 0u64..50, salt: u8, bit in 0usize..256) {
        let all = leaves(size + grown, salt);
        let store = memory_tree(&all);
        let part = &all[..size as usize];
        let root = reference_root(part);
        let proof = tree::inclusion_proof(&store, index, size).unwrap();
        prop_assert_eq!(&proof, &reference_path(index as usize, part));
        let leaf = all[index as usize];
        prop_assert!(tree::verify_inclusion(&leaf, index, size, &proof, &root).is_ok());
        prop_assert!(tree::verify_inclusion(&flip(&leaf, bit), index, size, &proof, &root).is_err());
        prop_assert!(tree::verify_inclusion(&leaf, index, size, &proof, &flip(&root, bit)).is_err());
        for i in 0..proof.len() {
            let mut bad = proof.clone();
            bad[i] = flip(&bad[i], bit);
            prop_assert!(tree::verify_inclusion(&leaf, index, size, &bad, &root).is_err());
        }
        // Another leaf of the tree cannot use this proof at this index.
        let other = all[((index + 1) % size) as usize];
        if size > 1 {
            prop_assert!(tree::verify_inclusion(&other, index, size, &proof, &root).is_err());
        }
    }

    #[test]
    fn consistency_proofs_verify((new, old) in (1u64..=300).prop_flat_map(|n| (Just(n), 1..=n)), salt: u8, bit in 0usize..256) {
        let all = leaves(new, salt);
        let store = memory_tree(&all);
        let (old_root, new_root) = (reference_root(&all[..old as usize]), reference_root(&all));
        let proof = tree::consistency_proof(&store, old, new).unwrap();
        prop_assert_eq!(&proof, &reference_subproof(old as usize, &all, true));
        prop_assert!(tree::verify_consistency(old, new, &old_root, &new_root, &proof).is_ok());
        prop_assert!(tree::verify_consistency(old, new, &flip(&old_root, bit), &new_root, &proof).is_err());
        prop_assert!(tree::verify_consistency(old, new, &old_root, &flip(&new_root, bit), &proof).is_err());
        for i in 0..proof.len() {
            let mut bad = proof.clone();
            bad[i] = flip(&bad[i], bit);
            prop_assert!(tree::verify_consistency(old, new, &old_root, &new_root, &bad).is_err());
        }
    }

    #[test]
    fn frontier_matches_store(n in 0u64..=300, salt: u8) {
        let all = leaves(n, salt);
        let store = memory_tree(&all);
        let mut f = Frontier::new();
        for l in &all {
            f.append(*l);
        }
        prop_assert_eq!(f.root(), store.root());
        prop_assert_eq!(f.root(), reference_root(&all));
        prop_assert_eq!(Frontier::load(&store, n).unwrap(), f);
    }

    #[test]
    fn timestamps_round_trip(ms in 0..=Timestamp::MAX.0) {
        let t = Timestamp(ms);
        let s = t.to_string();
        prop_assert_eq!(s.len(), 24);
        prop_assert_eq!(s.parse::<Timestamp>(), Ok(t));
    }

    #[test]
    fn timestamp_parse_never_panics(s in "\\PC{0,30}", d in "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z") {
        let _ = s.parse::<Timestamp>();
        if let Ok(t) = d.parse::<Timestamp>() {
            prop_assert_eq!(t.to_string(), d);
        }
    }
}

fn record_strategy() -> impl Strategy<Value = Record> {
    (
        "[A-Za-z0-9._-]{1,128}",
        0..=Timestamp::MAX.0,
        "[^\\p{Cc} ][^\\p{Cc}]{0,40}[^\\p{Cc} ]|[^\\p{Cc} ]",
        any::<[u8; 32]>(),
        any::<u64>(),
        any::<[u8; 32]>(),
        proptest::option::of(any::<[u8; 32]>()),
        proptest::sample::select(RecordKind::ALL.to_vec()),
    )
        .prop_filter("actor within 256 bytes", |t| t.2.len() <= 256)
        .prop_filter("the reserved archive id only with appliance kinds", |t| {
            t.0 != APPLIANCE_ID
        })
        .prop_map(
            |(archive_id, ms, actor, content_sha256, size, metadata_sha256, previous, kind)| {
                // An appliance event names the appliance, and a scrub record
                // commits to its report twice (content and metadata).
                let (archive_id, metadata_sha256) = if kind.is_appliance() {
                    (APPLIANCE_ID.to_owned(), content_sha256)
                } else {
                    (archive_id, metadata_sha256)
                };
                Record {
                    kind,
                    archive_id,
                    time: Timestamp(ms),
                    actor,
                    content_sha256,
                    size,
                    metadata_sha256,
                    previous,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn records_round_trip(r in record_strategy()) {
        prop_assert!(r.validate().is_ok());
        let bytes = r.encode();
        prop_assert_eq!(Record::decode(&bytes), Ok(r.clone()));
        prop_assert_eq!(r.leaf_hash(), leaf_hash(&bytes));
    }

    #[test]
    fn kinds_and_archives_pair_up(r in record_strategy(), kind in proptest::sample::select(RecordKind::ALL.to_vec())) {
        // Changing the kind across the appliance/archive divide, without
        // changing the archive, gives a record that fails to validate and
        // to decode.
        let mut changed = r.clone();
        changed.kind = kind;
        let crosses = kind.is_appliance() != r.kind.is_appliance();
        prop_assert_eq!(changed.validate().is_err(), crosses);
        prop_assert_eq!(Record::decode(&changed.encode()).is_err(), crosses);
    }

    #[test]
    fn record_decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = Record::decode(&bytes);
    }

    #[test]
    fn mutated_records_are_rejected_or_canonical(r in record_strategy(), pos: prop::sample::Index, byte: u8) {
        let mut bytes = r.encode();
        let i = pos.index(bytes.len());
        bytes[i] = byte;
        // Either rejected, or a different valid record whose encoding is
        // exactly these bytes: never two spellings of one record.
        if let Ok(d) = Record::decode(&bytes) {
            prop_assert_eq!(d.encode(), bytes);
        }
    }

    #[test]
    fn text_parsers_never_panic(s in "\\PC{0,200}|[\\x00-\\x7f\u{2014}]{0,200}") {
        let _ = Seal::parse(&s);
        let _ = Checkpoint::parse_body(&s);
        let _ = Checkpoint::parse_unverified(&s);
        let _ = VerifierKey::parse(&s);
        let _ = minutier_seal::hash::from_hex(&s);
        let key = Ed25519Signer::from_seed("k", &[1; 32]).unwrap().verifier_key();
        let _ = note::verify_note(&s, &key);
        let _ = EliminationCertificate::decode(&s);
        let _ = EliminationCertificate::parse_unverified(&s);
        let _ = EliminationCertificate::verify(&s, &key);
        let _ = SealVerifier::new(key).verify(&s);
    }

    #[test]
    fn certificates_round_trip(c in certificate_strategy()) {
        prop_assert!(c.validate().is_ok());
        let text = c.encode();
        prop_assert_eq!(EliminationCertificate::decode(&text), Ok(c.clone()));
        let signer = Ed25519Signer::from_seed(&c.origin, &[4; 32]).unwrap();
        let note = c.sign(&signer).unwrap();
        prop_assert_eq!(EliminationCertificate::verify(&note, &signer.verifier_key()), Ok(c));
        prop_assert!(Checkpoint::open(&note, &signer.verifier_key()).is_err());
    }

    #[test]
    fn mutated_certificates_are_rejected_or_canonical(
        c in certificate_strategy(),
        pos: prop::sample::Index,
        byte in 0x20u8..0x7f,
    ) {
        let mut bytes = c.encode().into_bytes();
        let i = pos.index(bytes.len());
        bytes[i] = byte;
        if let Ok(text) = String::from_utf8(bytes) {
            if let Ok(d) = EliminationCertificate::decode(&text) {
                prop_assert_eq!(d.encode(), text);
            }
        }
    }

    #[test]
    fn chain_check_never_panics(
        chunks in proptest::collection::vec((any::<u64>(), proptest::collection::vec(any::<u8>(), 0..300)), 0..6),
        good in record_strategy(),
    ) {
        let mut refs: Vec<(u64, Vec<u8>)> = chunks;
        refs.push((u64::MAX, good.encode()));
        let refs: Vec<(u64, &[u8])> = refs.iter().map(|(i, b)| (*i, b.as_slice())).collect();
        let _ = verify_chain(&good.archive_id, &refs);
    }

    #[test]
    fn metadata_is_canonical(v in json_value()) {
        let c = metadata::canonical_json(&v);
        // Valid JSON denoting the same value…
        let back: serde_json::Value = serde_json::from_slice(&c).unwrap();
        prop_assert_eq!(&back, &v);
        // …and a fixed point, so the digest does not depend on input formatting.
        prop_assert_eq!(metadata::canonical_json(&back), c.clone());
        prop_assert_eq!(metadata::digest(&v), sha256(&c));
    }

    #[test]
    fn metadata_strings_escape_like_serde_json(s in "\\PC{0,40}|[\\x00-\\x7f]{0,40}") {
        let c = metadata::canonical_json(&serde_json::Value::String(s.clone()));
        prop_assert_eq!(String::from_utf8(c).unwrap(), serde_json::to_string(&s).unwrap());
    }
}

fn step_strategy() -> impl Strategy<Value = (u64, String)> {
    (
        0..=Timestamp::MAX.0 / 4,
        "[^\\p{Cc} ][^\\p{Cc}]{0,20}[^\\p{Cc} ]|[^\\p{Cc} ]",
    )
}

fn certificate_strategy() -> impl Strategy<Value = EliminationCertificate> {
    (
        "[a-z0-9.]{1,20}(/[a-z0-9.]{1,10})?",
        "[A-Za-z0-9._-]{1,128}",
        "[^\\p{Cc} ][^\\p{Cc}]{0,60}[^\\p{Cc} ]|[^\\p{Cc} ]",
        step_strategy(),
        step_strategy(),
        step_strategy(),
        proptest::collection::vec(
            (
                "[A-Za-z0-9._-]{1,40}",
                any::<[u8; 32]>(),
                any::<u64>(),
                1..1000u64,
                any::<[u8; 32]>(),
            ),
            1..8,
        ),
        0..1000u64,
    )
        .prop_map(
            |(origin, elimination_id, reason, p, a, e, archives, extra)| {
                // Non-decreasing times, strictly increasing tombstone indices,
                // distinct archives, and a log size above the last tombstone.
                let mut times = [p.0, a.0, e.0];
                times.sort_unstable();
                let mut index = 0;
                let mut seen = std::collections::HashSet::new();
                let archives: Vec<EliminatedArchive> = archives
                    .into_iter()
                    .filter(|a| seen.insert(a.0.clone()))
                    .map(|(archive_id, content_sha256, size, gap, tombstone_hash)| {
                        index += gap;
                        EliminatedArchive {
                            archive_id,
                            content_sha256,
                            size,
                            tombstone_index: index,
                            tombstone_hash,
                        }
                    })
                    .collect();
                EliminationCertificate {
                    origin,
                    elimination_id,
                    reason,
                    proposed: (Timestamp(times[0]), p.1),
                    approved: (Timestamp(times[1]), a.1),
                    executed: (Timestamp(times[2]), e.1),
                    log_size: index + 1 + extra,
                    archives,
                }
            },
        )
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        "\\PC{0,12}|[\\x00-\\x1f\"\\\\]{0,4}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map("\\PC{0,8}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

#[test]
fn seal_end_to_end_with_random_tree() {
    // A seal built by the daemon's path verifies for every index of a tree.
    let signer = Ed25519Signer::from_seed("example.com/log", &[3; 32]).unwrap();
    let records: Vec<Vec<u8>> = (0..37)
        .map(|i| format!("entry {i}\n").into_bytes())
        .collect();
    let mut store = MemoryTree::new();
    for r in &records {
        store.push(leaf_hash(r));
    }
    let cp = Checkpoint {
        origin: "example.com/log".into(),
        size: 37,
        root: store.root(),
        extensions: vec![],
    }
    .sign(&signer)
    .unwrap();
    let mut v = SealVerifier::new(signer.verifier_key());
    for (i, r) in records.iter().enumerate() {
        let seal = Seal {
            record: r.clone(),
            index: i as u64,
            proof: tree::inclusion_proof(&store, i as u64, 37).unwrap(),
            checkpoint: cp.clone(),
        };
        let ok = v.verify_inclusion_only(&seal.to_text()).unwrap();
        assert_eq!(ok.index, i as u64);
        assert_eq!(&ok.record, r);
    }
    assert_eq!(v.cached_checkpoints(), 1);
}

//! `SealVerifier::verify` with the test vectors' key: the whole offline check
//! of a seal (parse, checkpoint signature, inclusion proof, record).
//!
//! Invariants: a seal that verifies parses and prints back as its input; its
//! record re-encodes to the seal's `extra` bytes; its index is below the
//! checkpoint's size; its checkpoint equals `Checkpoint::open` of the seal's
//! checkpoint note; `verify_document` with the record's own digest and size
//! succeeds. A second verification, answered from the checkpoint cache, gives
//! the same result as the first (success, or the same error).
#![no_main]

use libfuzzer_sys::fuzz_target;
use minutier_seal::checkpoint::Checkpoint;
use minutier_seal::proof::Seal;
use minutier_seal::tree;
use minutier_seal::verify::SealVerifier;

fuzz_target!(|data: &[u8]| {
    let Some(s) = minutier_fuzz::text(data) else {
        return;
    };
    let key = minutier_fuzz::test_key();
    let mut verifier = SealVerifier::new(key.clone());
    let first = verifier.verify(s);
    let second = verifier.verify(s);
    match (&first, &second) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a.record, b.record);
            assert_eq!(a.index, b.index);
            assert_eq!(a.checkpoint, b.checkpoint);
        }
        (Err(a), Err(b)) => assert_eq!(a, b, "the cache changed the error"),
        _ => panic!("the cache changed the outcome: {first:?} then {second:?}"),
    }
    let Ok(v) = first else {
        return;
    };
    let seal = Seal::parse(s).expect("a verified seal parses");
    assert_eq!(seal.to_text(), s);
    assert_eq!(v.record.encode(), seal.record);
    assert_eq!(v.index, seal.index);
    assert!(v.index < v.checkpoint.size);
    assert_eq!(
        Checkpoint::open(&seal.checkpoint, &key).as_ref(),
        Ok(&v.checkpoint)
    );
    assert_eq!(
        tree::verify_inclusion(
            &v.record.leaf_hash(),
            v.index,
            v.checkpoint.size,
            &seal.proof,
            &v.checkpoint.root
        ),
        Ok(())
    );
    let doc = verifier
        .verify_document(s, &v.record.content_sha256, v.record.size)
        .expect("verify_document with the record's own digest and size");
    assert_eq!(doc.record, v.record);
});

//! Merkle proof verification (`tree::verify_inclusion`,
//! `tree::verify_consistency`), which `SealVerifier` runs on the index and
//! proof hashes read from an untrusted seal.
//!
//! Invariants: on a tree of up to 300 leaves chosen by the input, every proof
//! the tree produces verifies against its root and fails once one bit of it
//! is flipped, or once a hash is dropped or added; and verification with
//! arbitrary sizes, indexes and proofs (up to 2^64 - 1 leaves, up to 70
//! hashes) returns an error rather than panicking or looping.
#![no_main]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use minutier_seal::hash::{leaf_hash, EMPTY_ROOT};
use minutier_seal::tree::{self, MemoryTree};
use minutier_seal::Hash;

fn hash(u: &mut Unstructured) -> Result<Hash> {
    u.arbitrary()
}

fn flip(proof: &mut [Hash], bit: usize) {
    let bit = bit % (proof.len() * 256);
    proof[bit / 256][(bit % 256) / 8] ^= 1 << (bit % 8);
}

fn real_tree(u: &mut Unstructured) -> Result<()> {
    let n: u64 = u.int_in_range(1..=300)?;
    let salt: u8 = u.arbitrary()?;
    let leaves: Vec<Hash> = (0..n)
        .map(|i| leaf_hash(&[&i.to_le_bytes()[..], &[salt]].concat()))
        .collect();
    let mut t = MemoryTree::new();
    for l in &leaves {
        t.push(*l);
    }
    let size = u.int_in_range(1..=n)?;
    let index = u.int_in_range(0..=size - 1)?;
    let root = tree::root(&t, size).unwrap();
    let mut proof = tree::inclusion_proof(&t, index, size).unwrap();
    let leaf = &leaves[index as usize];
    assert_eq!(
        tree::verify_inclusion(leaf, index, size, &proof, &root),
        Ok(())
    );
    let other = (index + 1) % size;
    if other != index {
        assert!(
            tree::verify_inclusion(&leaves[other as usize], index, size, &proof, &root).is_err()
        );
    }
    let mut longer = proof.clone();
    longer.push(hash(u)?);
    assert!(tree::verify_inclusion(leaf, index, size, &longer, &root).is_err());
    if !proof.is_empty() {
        let mut shorter = proof.clone();
        shorter.pop();
        assert!(tree::verify_inclusion(leaf, index, size, &shorter, &root).is_err());
        flip(&mut proof, u.arbitrary()?);
        assert!(tree::verify_inclusion(leaf, index, size, &proof, &root).is_err());
    }

    // The empty tree is a prefix of every tree, with an empty proof.
    assert_eq!(
        tree::verify_consistency(0, size, &EMPTY_ROOT, &root, &[]),
        Ok(())
    );
    let old = u.int_in_range(1..=size)?;
    let old_root = tree::root(&t, old).unwrap();
    let mut proof = tree::consistency_proof(&t, old, size).unwrap();
    assert_eq!(
        tree::verify_consistency(old, size, &old_root, &root, &proof),
        Ok(())
    );
    if !proof.is_empty() {
        flip(&mut proof, u.arbitrary()?);
        assert!(tree::verify_consistency(old, size, &old_root, &root, &proof).is_err());
    }
    Ok(())
}

fn arbitrary_proofs(u: &mut Unstructured) -> Result<()> {
    let (a, b): (u64, u64) = (u.arbitrary()?, u.arbitrary()?);
    let (h1, h2) = (hash(u)?, hash(u)?);
    let count = u.int_in_range(0..=70)?;
    let proof = (0..count).map(|_| hash(u)).collect::<Result<Vec<_>>>()?;
    let _ = tree::verify_inclusion(&h1, a, b, &proof, &h2);
    let _ = tree::verify_consistency(a, b, &h1, &h2, &proof);
    let _ = tree::verify_consistency(a.min(b), a.max(b), &h1, &h2, &proof);
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let real = u.arbitrary::<bool>().unwrap_or(false);
    let _ = if real {
        real_tree(&mut u)
    } else {
        arbitrary_proofs(&mut u)
    };
});

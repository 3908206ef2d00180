//! RFC 6962 vectors (vectors/rfc6962.json): roots, every inclusion path and
//! every consistency proof up to 8 leaves, generated and verified.

use minutier_seal::hash::{from_hex, leaf_hash};
use minutier_seal::tree::{self, Frontier, MemoryTree};
use minutier_seal::{Error, Hash};
use serde_json::Value;

fn vectors() -> Value {
    serde_json::from_str(include_str!("vectors/rfc6962.json")).unwrap()
}

fn h(v: &Value) -> Hash {
    from_hex(v.as_str().unwrap()).unwrap()
}

fn hashes(v: &Value) -> Vec<Hash> {
    v.as_array().unwrap().iter().map(h).collect()
}

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap()
}

fn leaves(v: &Value) -> Vec<Vec<u8>> {
    v["leaves"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| hex::decode(l.as_str().unwrap()).unwrap())
        .collect()
}

fn tree(v: &Value, size: u64) -> MemoryTree {
    let mut t = MemoryTree::new();
    for l in leaves(v).iter().take(size as usize) {
        t.push(leaf_hash(l));
    }
    t
}

/// Every variant of `hashes` with exactly one bit flipped.
fn bit_flips(hashes: &[Hash]) -> impl Iterator<Item = Vec<Hash>> + '_ {
    (0..hashes.len() * 256).map(move |bit| {
        let mut v = hashes.to_vec();
        v[bit / 256][(bit % 256) / 8] ^= 1 << (bit % 8);
        v
    })
}

/// The left/right shape of RFC 6962 `PATH(m, D[n])`, top-down: `true` where
/// the proof's sibling is on the left. Written from the RFC's recursive
/// definition, independently of the iterative RFC 9162 verifier.
fn path_shape(mut m: u64, mut n: u64) -> Vec<bool> {
    let mut shape = Vec::new();
    while n > 1 {
        let mut k = 1;
        while k * 2 < n {
            k *= 2;
        }
        shape.push(m >= k);
        if m < k {
            n = k;
        } else {
            m -= k;
            n -= k;
        }
    }
    shape
}

/// The shape of RFC 9162 `SUBPROOF(m, D[n], true)`: the sides taken, then
/// whether the recursion ends on the whole old tree (whose root the verifier
/// already has) or on a subtree of it.
fn subproof_shape(mut m: u64, mut n: u64) -> (Vec<bool>, bool) {
    let (mut shape, mut whole) = (Vec::new(), true);
    while m != n {
        let mut k = 1;
        while k * 2 < n {
            k *= 2;
        }
        shape.push(m > k);
        if m <= k {
            n = k;
        } else {
            m -= k;
            n -= k;
            whole = false;
        }
    }
    (shape, whole)
}

fn flip_bits(h: &Hash) -> impl Iterator<Item = Hash> + '_ {
    (0..256).map(move |bit| {
        let mut x = *h;
        x[bit / 8] ^= 1 << (bit % 8);
        x
    })
}

#[test]
fn roots() {
    let v = vectors();
    let all = tree(&v, 8);
    let mut frontier = Frontier::new();
    for size in 0..=8u64 {
        let expected = h(&v["roots"][size.to_string()]);
        assert_eq!(tree::root(&all, size).unwrap(), expected, "size {size}");
        assert_eq!(tree(&v, size).root(), expected, "MemoryTree size {size}");
        assert_eq!(frontier.root(), expected, "Frontier size {size}");
        assert_eq!(Frontier::load(&all, size).unwrap(), frontier, "load {size}");
        if let Some(l) = leaves(&v).get(size as usize) {
            frontier.append(leaf_hash(l));
        }
    }
}

#[test]
fn inclusion_paths() {
    let v = vectors();
    let all = tree(&v, 8);
    let cases = v["inclusion"].as_array().unwrap();
    assert_eq!(cases.len(), 36, "every index < size <= 8");
    for c in cases {
        let (index, size) = (n(&c["index"]), n(&c["size"]));
        let (leaf, root, path) = (h(&c["leaf_hash"]), h(&c["root"]), hashes(&c["path"]));
        assert_eq!(leaf, leaf_hash(&leaves(&v)[index as usize]));
        // Generated from the full tree: older tree heads stay provable.
        assert_eq!(
            tree::inclusion_proof(&all, index, size).unwrap(),
            path,
            "{index}/{size}"
        );
        assert_eq!(
            tree::inclusion_proof(&tree(&v, size), index, size).unwrap(),
            path
        );
        tree::verify_inclusion(&leaf, index, size, &path, &root).unwrap();

        for bad in bit_flips(&path) {
            assert!(tree::verify_inclusion(&leaf, index, size, &bad, &root).is_err());
        }
        for bad in flip_bits(&leaf) {
            assert!(tree::verify_inclusion(&bad, index, size, &path, &root).is_err());
        }
        for bad in flip_bits(&root) {
            assert!(tree::verify_inclusion(&leaf, index, size, &path, &bad).is_err());
        }
        // A proof does not authenticate the tree size (the signed checkpoint
        // does): another (index, size) with the same path shape computes the
        // same root, e.g. 0/3 and 0/4. Every other claim must fail.
        for i in 0..=16u64 {
            for s in 0..=16u64 {
                let same_shape = i < s && path_shape(i, s) == path_shape(index, size);
                assert_eq!(
                    tree::verify_inclusion(&leaf, i, s, &path, &root).is_ok(),
                    same_shape,
                    "vector {index}/{size} checked as {i}/{s}"
                );
            }
        }
        // Truncated and extended paths.
        if let Some((_, shorter)) = path.split_last() {
            assert!(tree::verify_inclusion(&leaf, index, size, shorter, &root).is_err());
        }
        let mut longer = path.clone();
        longer.push(root);
        assert!(tree::verify_inclusion(&leaf, index, size, &longer, &root).is_err());
    }
}

#[test]
fn consistency_proofs() {
    let v = vectors();
    let all = tree(&v, 8);
    let cases = v["consistency"].as_array().unwrap();
    assert_eq!(cases.len(), 36, "every 1 <= old <= new <= 8");
    for c in cases {
        let (old, new) = (n(&c["old_size"]), n(&c["new_size"]));
        let (old_root, new_root, proof) =
            (h(&c["old_root"]), h(&c["new_root"]), hashes(&c["proof"]));
        assert_eq!(
            tree::consistency_proof(&all, old, new).unwrap(),
            proof,
            "{old}->{new}"
        );
        assert_eq!(
            tree::consistency_proof(&tree(&v, new), old, new).unwrap(),
            proof
        );
        tree::verify_consistency(old, new, &old_root, &new_root, &proof).unwrap();

        for bad in bit_flips(&proof) {
            assert!(tree::verify_consistency(old, new, &old_root, &new_root, &bad).is_err());
        }
        for bad in flip_bits(&old_root) {
            assert!(tree::verify_consistency(old, new, &bad, &new_root, &proof).is_err());
        }
        for bad in flip_bits(&new_root) {
            assert!(tree::verify_consistency(old, new, &old_root, &bad, &proof).is_err());
        }
        // As for inclusion, only sizes with the same proof shape may verify.
        for o in 0..=16u64 {
            for s in o..=16u64 {
                let same_shape = o > 0
                    && (o == s) == (old == new)
                    && subproof_shape(o, s) == subproof_shape(old, new);
                assert_eq!(
                    tree::verify_consistency(o, s, &old_root, &new_root, &proof).is_ok(),
                    same_shape,
                    "vector {old}->{new} checked as {o}->{s}"
                );
            }
        }
        if let Some((_, shorter)) = proof.split_last() {
            assert!(tree::verify_consistency(old, new, &old_root, &new_root, shorter).is_err());
        }
        let mut longer = proof.clone();
        longer.push(new_root);
        assert!(tree::verify_consistency(old, new, &old_root, &new_root, &longer).is_err());
    }
}

#[test]
fn argument_errors() {
    let v = vectors();
    let t = tree(&v, 8);
    assert_eq!(
        tree::inclusion_proof(&t, 8, 8),
        Err(Error::IndexOutOfRange { index: 8, size: 8 })
    );
    assert_eq!(
        tree::inclusion_proof(&t, 0, 0),
        Err(Error::IndexOutOfRange { index: 0, size: 0 })
    );
    assert_eq!(
        tree::consistency_proof(&t, 0, 8),
        Err(Error::InvalidTreeSizes {
            old_size: 0,
            new_size: 8
        })
    );
    assert_eq!(
        tree::consistency_proof(&t, 5, 4),
        Err(Error::InvalidTreeSizes {
            old_size: 5,
            new_size: 4
        })
    );
    assert_eq!(tree::consistency_proof(&t, 8, 8), Ok(vec![]));
    // Asking beyond what the store holds is an error, not a wrong answer.
    assert!(matches!(tree::root(&t, 9), Err(Error::MissingNode { .. })));
    assert!(matches!(
        tree::inclusion_proof(&t, 0, 9),
        Err(Error::MissingNode { .. })
    ));
    assert!(matches!(
        tree::consistency_proof(&t, 3, 9),
        Err(Error::MissingNode { .. })
    ));
    let leaf = leaf_hash(b"");
    assert_eq!(
        tree::verify_inclusion(&leaf, 3, 3, &[], &leaf),
        Err(Error::IndexOutOfRange { index: 3, size: 3 })
    );
    assert!(matches!(
        tree::verify_consistency(4, 3, &leaf, &leaf, &[]),
        Err(Error::InvalidTreeSizes { .. })
    ));
}

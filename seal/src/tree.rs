//! The RFC 6962 / RFC 9162 §2.1 Merkle tree: roots, proofs and their verification.
//!
//! Storage is abstracted by [`NodeReader`], which only ever serves *perfect,
//! aligned* subtrees: node `(level, index)` is the hash of the `2^level`
//! leaves `[index << level, (index + 1) << level)`. Such nodes never change
//! once written, which is what makes an append-only store simple. Hashes of
//! the incomplete subtrees on the right edge of a tree are recomputed from
//! their perfect parts, right to left, so every root and proof costs
//! O(log n) node reads.

use crate::hash::{node_hash, EMPTY_ROOT};
use crate::{Error, Hash};

/// Reads hashes of perfect, aligned subtrees: node (level, index) covers leaves
/// `[index << level, (index + 1) << level)`.
///
/// Level 0 nodes are leaf hashes. A store only ever keeps such complete nodes.
pub trait NodeReader {
    /// The store's error type; every crate error converts into it.
    type Error: From<crate::Error>;
    /// Returns the hash of node `(level, index)`.
    fn node(&self, level: u8, index: u64) -> Result<Hash, Self::Error>;
}

/// Largest power of two strictly smaller than `n` (RFC 6962's `k`); `n >= 2`.
fn split_point(n: u64) -> u64 {
    1u64 << (63 - (n - 1).leading_zeros())
}

/// Mask of the bits `0..=level`.
fn low_mask(level: u32) -> u64 {
    u64::MAX >> (63 - level)
}

/// Hash of the `n >= 1` leaves starting at `start`, where `start` is aligned to
/// the largest power of two in `n` (true of every subtree RFC 6962 recursion
/// produces). The range splits into perfect subtrees, one per set bit of `n`,
/// largest first; they are combined right to left, smallest first.
fn range_hash<R: NodeReader>(r: &R, start: u64, n: u64) -> Result<Hash, R::Error> {
    let mut acc: Option<Hash> = None;
    let mut bits = n;
    while bits != 0 {
        let level = bits.trailing_zeros();
        bits &= bits - 1;
        // The perfect subtree for this bit starts after all the larger ones.
        let pos = start + (n & !low_mask(level));
        let h = r.node(level as u8, pos >> level)?;
        acc = Some(match acc {
            None => h,
            Some(right) => node_hash(&h, &right),
        });
    }
    Ok(acc.unwrap_or(EMPTY_ROOT))
}

/// Root hash of the first `size` leaves; [`EMPTY_ROOT`] for 0.
pub fn root<R: NodeReader>(r: &R, size: u64) -> Result<Hash, R::Error> {
    range_hash(r, 0, size)
}

/// Inclusion proof (RFC 6962 `PATH`) for leaf `index` in the tree of `size`
/// leaves, leaf's sibling first.
///
/// Fails with [`Error::IndexOutOfRange`] if `index >= size`.
pub fn inclusion_proof<R: NodeReader>(r: &R, index: u64, size: u64) -> Result<Vec<Hash>, R::Error> {
    if index >= size {
        return Err(Error::IndexOutOfRange { index, size }.into());
    }
    let mut proof = Vec::with_capacity(64 - size.leading_zeros() as usize);
    // Walk RFC 6962's recursion top-down over the window [start, start + n)
    // and reverse at the end, since the proof lists siblings bottom-up.
    let (mut start, mut n, mut m) = (0u64, size, index);
    while n > 1 {
        let k = split_point(n);
        if m < k {
            proof.push(range_hash(r, start + k, n - k)?);
            n = k;
        } else {
            proof.push(range_hash(r, start, k)?);
            start += k;
            m -= k;
            n -= k;
        }
    }
    proof.reverse();
    Ok(proof)
}

/// Consistency proof (RFC 9162 §2.1.4.1 `SUBPROOF(m, D[n], true)`) between the
/// tree of `old_size` leaves and the tree of `new_size` leaves.
///
/// Fails with [`Error::InvalidTreeSizes`] if `old_size == 0` (the empty tree is
/// trivially consistent with every tree and needs no proof) or
/// `old_size > new_size`; the proof is empty when the sizes are equal.
pub fn consistency_proof<R: NodeReader>(
    r: &R,
    old_size: u64,
    new_size: u64,
) -> Result<Vec<Hash>, R::Error> {
    if old_size == 0 || old_size > new_size {
        return Err(Error::InvalidTreeSizes { old_size, new_size }.into());
    }
    let mut proof = Vec::with_capacity(2 * (64 - new_size.leading_zeros() as usize));
    let (mut start, mut n, mut m, mut whole_old_tree) = (0u64, new_size, old_size, true);
    loop {
        if m == n {
            // The old tree's root is known to the verifier, so it is only sent
            // for proper subtrees of it.
            if !whole_old_tree {
                proof.push(range_hash(r, start, n)?);
            }
            break;
        }
        let k = split_point(n);
        if m <= k {
            proof.push(range_hash(r, start + k, n - k)?);
            n = k;
        } else {
            proof.push(range_hash(r, start, k)?);
            start += k;
            m -= k;
            n -= k;
            whole_old_tree = false;
        }
    }
    proof.reverse();
    Ok(proof)
}

/// Verifies an inclusion proof with the algorithm of RFC 9162 §2.1.3.2.
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), Error> {
    if index >= size {
        return Err(Error::IndexOutOfRange { index, size });
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if sn == 0 {
            return Err(Error::InclusionProofFailed(
                "the proof has more hashes than the tree size allows",
            ));
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            // Skip the levels where this node has no right sibling.
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(Error::InclusionProofFailed(
            "the proof has fewer hashes than the tree size requires",
        ));
    }
    if r != *root {
        return Err(Error::InclusionProofFailed(
            "the root computed from the leaf and the proof differs from the expected root",
        ));
    }
    Ok(())
}

/// Verifies a consistency proof with the algorithm of RFC 9162 §2.1.4.2.
///
/// Equal sizes require an empty proof and equal roots. An old size of 0
/// requires an empty proof and `old_root == EMPTY_ROOT`: the empty tree is a
/// prefix of every tree.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), Error> {
    if old_size > new_size {
        return Err(Error::InvalidTreeSizes { old_size, new_size });
    }
    if old_size == new_size || old_size == 0 {
        if !proof.is_empty() {
            return Err(Error::ConsistencyProofFailed(
                "the proof must be empty when the old tree is empty or the sizes are equal",
            ));
        }
        if old_size == 0 {
            if *old_root != EMPTY_ROOT {
                return Err(Error::ConsistencyProofFailed(
                    "the old tree is empty but its root is not the empty-tree hash",
                ));
            }
        } else if old_root != new_root {
            return Err(Error::ConsistencyProofFailed(
                "the trees have the same size but different roots",
            ));
        }
        return Ok(());
    }
    let Some((first, rest)) = proof.split_first() else {
        return Err(Error::ConsistencyProofFailed("the proof is empty"));
    };
    // When the old tree is a perfect subtree of the new one its root is the
    // proof's implicit first element.
    let (seed, rest) = if old_size.is_power_of_two() {
        (old_root, proof)
    } else {
        (first, rest)
    };
    let (mut fn_, mut sn) = (old_size - 1, new_size - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (*seed, *seed);
    for c in rest {
        if sn == 0 {
            return Err(Error::ConsistencyProofFailed(
                "the proof has more hashes than the tree sizes allow",
            ));
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(Error::ConsistencyProofFailed(
            "the proof has fewer hashes than the tree sizes require",
        ));
    }
    if fr != *old_root {
        return Err(Error::ConsistencyProofFailed(
            "the proof does not reproduce the old root",
        ));
    }
    if sr != *new_root {
        return Err(Error::ConsistencyProofFailed(
            "the proof does not reproduce the new root",
        ));
    }
    Ok(())
}

/// The right edge of the tree (hashes of the perfect subtrees of a tree of
/// `size` leaves, largest first): enough to append leaves and compute the root
/// without reading the store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    /// One peak per set bit of `size`, highest bit (leftmost subtree) first.
    peaks: Vec<Hash>,
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads the O(log n) peaks of the tree of `size` leaves from a store.
    pub fn load<R: NodeReader>(r: &R, size: u64) -> Result<Self, R::Error> {
        let mut peaks = Vec::with_capacity(size.count_ones() as usize);
        let mut pos = 0u64;
        let mut bits = size;
        while bits != 0 {
            let level = 63 - bits.leading_zeros();
            bits &= !(1u64 << level);
            peaks.push(r.node(level as u8, pos >> level)?);
            pos += 1u64 << level;
        }
        Ok(Self { size, peaks })
    }

    /// Number of leaves in the tree.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends a leaf hash; returns every perfect node completed by it as
    /// `(level, index, hash)`, level 0 (the leaf itself) first.
    ///
    /// A tree of `u64::MAX` leaves cannot grow (node indices would overflow);
    /// appending to it changes nothing and returns an empty list. No real log
    /// reaches that size.
    pub fn append(&mut self, leaf: Hash) -> Vec<(u8, u64, Hash)> {
        let Some(new_size) = self.size.checked_add(1) else {
            return Vec::new();
        };
        // Appending leaf number `size` completes one node per trailing one bit
        // of `size`, i.e. per trailing zero bit of `size + 1`.
        let completed = new_size.trailing_zeros();
        let mut out = Vec::with_capacity(completed as usize + 1);
        out.push((0u8, self.size, leaf));
        let mut h = leaf;
        for level in 1..=completed {
            let Some(left) = self.peaks.pop() else {
                // Unreachable: there is one peak per set bit of `size`.
                break;
            };
            h = node_hash(&left, &h);
            out.push((level as u8, (new_size >> level) - 1, h));
        }
        self.peaks.push(h);
        self.size = new_size;
        out
    }

    /// Root hash of the tree ([`EMPTY_ROOT`] when empty).
    pub fn root(&self) -> Hash {
        let mut iter = self.peaks.iter().rev();
        match iter.next() {
            None => EMPTY_ROOT,
            Some(last) => iter.fold(*last, |right, left| node_hash(left, &right)),
        }
    }
}

/// In-memory [`NodeReader`] (used by tests here, and by the daemon's in-memory
/// store tests). Keeps every perfect node, level by level.
#[derive(Debug, Clone, Default)]
pub struct MemoryTree {
    levels: Vec<Vec<Hash>>,
    frontier: Frontier,
}

impl MemoryTree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a leaf hash (not the record: hash it with
    /// [`crate::hash::leaf_hash`] first).
    pub fn push(&mut self, leaf: Hash) {
        for (level, _index, hash) in self.frontier.append(leaf) {
            let level = usize::from(level);
            if self.levels.len() <= level {
                self.levels.resize_with(level + 1, Vec::new);
            }
            // Nodes complete in index order, so `_index` is the next slot.
            self.levels[level].push(hash);
        }
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    /// Root hash of the whole tree.
    pub fn root(&self) -> Hash {
        self.frontier.root()
    }
}

impl NodeReader for MemoryTree {
    type Error = crate::Error;

    fn node(&self, level: u8, index: u64) -> Result<Hash, Error> {
        self.levels
            .get(usize::from(level))
            .and_then(|nodes| nodes.get(usize::try_from(index).ok()?))
            .copied()
            .ok_or(Error::MissingNode { level, index })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::leaf_hash;
    use std::cell::Cell;

    fn tree(n: u64) -> MemoryTree {
        let mut t = MemoryTree::new();
        for i in 0..n {
            t.push(leaf_hash(&i.to_be_bytes()));
        }
        t
    }

    /// Counts reads, to check the O(log n) promise.
    struct Counting<'a>(&'a MemoryTree, Cell<u32>);
    impl NodeReader for Counting<'_> {
        type Error = Error;
        fn node(&self, level: u8, index: u64) -> Result<Hash, Error> {
            self.1.set(self.1.get() + 1);
            self.0.node(level, index)
        }
    }

    #[test]
    fn split_point_is_largest_smaller_power_of_two() {
        assert_eq!(split_point(2), 1);
        assert_eq!(split_point(3), 2);
        assert_eq!(split_point(4), 2);
        assert_eq!(split_point(5), 4);
        assert_eq!(split_point(u64::MAX), 1 << 63);
    }

    #[test]
    fn reads_are_logarithmic() {
        let t = tree(1000);
        let c = Counting(&t, Cell::new(0));
        for i in [0, 1, 511, 512, 998, 999] {
            c.1.set(0);
            inclusion_proof(&c, i, 1000).unwrap();
            assert!(c.1.get() <= 2 * 10, "inclusion {i}: {} reads", c.1.get());
        }
        for old in [1, 3, 500, 512, 513, 999] {
            c.1.set(0);
            consistency_proof(&c, old, 1000).unwrap();
            assert!(
                c.1.get() <= 3 * 10,
                "consistency {old}: {} reads",
                c.1.get()
            );
        }
        c.1.set(0);
        root(&c, 1000).unwrap();
        assert_eq!(c.1.get(), 1000u32.count_ones());
    }

    #[test]
    fn errors() {
        let t = tree(5);
        assert_eq!(
            inclusion_proof(&t, 5, 5),
            Err(Error::IndexOutOfRange { index: 5, size: 5 })
        );
        assert!(matches!(
            consistency_proof(&t, 0, 5),
            Err(Error::InvalidTreeSizes { .. })
        ));
        assert!(matches!(
            consistency_proof(&t, 5, 4),
            Err(Error::InvalidTreeSizes { .. })
        ));
        assert_eq!(consistency_proof(&t, 5, 5), Ok(vec![]));
        assert_eq!(root(&t, 6), Err(Error::MissingNode { level: 1, index: 2 }));
        assert_eq!(
            t.node(200, 0),
            Err(Error::MissingNode {
                level: 200,
                index: 0
            })
        );
        assert_eq!(
            t.node(0, u64::MAX),
            Err(Error::MissingNode {
                level: 0,
                index: u64::MAX
            })
        );
    }

    #[test]
    fn empty_tree_consistency() {
        let t = tree(3);
        verify_consistency(0, 3, &EMPTY_ROOT, &t.root(), &[]).unwrap();
        verify_consistency(0, 0, &EMPTY_ROOT, &EMPTY_ROOT, &[]).unwrap();
        assert!(verify_consistency(0, 3, &t.root(), &t.root(), &[]).is_err());
        assert!(verify_consistency(0, 3, &EMPTY_ROOT, &t.root(), &[t.root()]).is_err());
    }

    #[test]
    fn huge_sizes_do_not_panic() {
        let leaf = [1u8; 32];
        assert!(verify_inclusion(&leaf, u64::MAX - 1, u64::MAX, &[leaf; 64], &leaf).is_err());
        assert!(verify_inclusion(&leaf, 0, u64::MAX, &[], &leaf).is_err());
        assert!(verify_consistency(u64::MAX - 1, u64::MAX, &leaf, &leaf, &[leaf; 70]).is_err());
        assert!(verify_consistency(1 << 63, u64::MAX, &leaf, &leaf, &[leaf; 3]).is_err());
        let mut f = Frontier {
            size: u64::MAX,
            peaks: vec![leaf; 64],
        };
        assert!(f.append(leaf).is_empty());
        assert_eq!(f.size(), u64::MAX);
        let _ = f.root();
        // Proof generation against a store that lacks the nodes fails cleanly.
        let t = tree(1);
        assert!(inclusion_proof(&t, u64::MAX - 1, u64::MAX).is_err());
        assert!(consistency_proof(&t, 1, u64::MAX).is_err());
        assert!(root(&t, u64::MAX).is_err());
        assert!(Frontier::load(&t, u64::MAX).is_err());
    }

    #[test]
    fn append_reports_completed_nodes() {
        let mut f = Frontier::new();
        let leaves: Vec<Hash> = (0u8..4).map(|i| leaf_hash(&[i])).collect();
        assert_eq!(f.append(leaves[0]), vec![(0, 0, leaves[0])]);
        let n01 = node_hash(&leaves[0], &leaves[1]);
        assert_eq!(f.append(leaves[1]), vec![(0, 1, leaves[1]), (1, 0, n01)]);
        assert_eq!(f.append(leaves[2]), vec![(0, 2, leaves[2])]);
        let n23 = node_hash(&leaves[2], &leaves[3]);
        let n03 = node_hash(&n01, &n23);
        assert_eq!(
            f.append(leaves[3]),
            vec![(0, 3, leaves[3]), (1, 1, n23), (2, 0, n03)]
        );
        assert_eq!(f.root(), n03);
    }
}

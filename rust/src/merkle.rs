//! RFC 9162 (Certificate Transparency v2) Merkle trees, generic over the hash (DESIGN §2).
//!
//! Production uses BLAKE3 with domain-separated leaves, nodes and empty root
//! ([`Blake3Tree`]); [`Sha256Tree`] is the RFC 6962 instantiation, used to replay the
//! transparency-dev test data as is. Verification never panics: malformed input (a hash of
//! the wrong length, an index past the tree) is just a proof that does not verify.

use sha2::{Digest, Sha256};

use crate::hash::{self, Domain};
use crate::{ID_LEN, Id};

/// The three hashes that define a tree.
pub trait TreeHasher: Sync {
    /// Root of the empty tree.
    fn empty_root(&self) -> Id;
    /// Hash of one leaf's data.
    fn leaf(&self, data: &[u8]) -> Id;
    /// Hash of an interior node.
    fn node(&self, left: &Id, right: &Id) -> Id;
}

/// Lattice's production tree: BLAKE3 with a domain per role.
#[derive(Clone, Copy, Debug, Default)]
pub struct Blake3Tree;

impl TreeHasher for Blake3Tree {
    fn empty_root(&self) -> Id {
        hash::hash(Domain::MerkleEmpty, b"")
    }
    fn leaf(&self, data: &[u8]) -> Id {
        hash::hash(Domain::MerkleLeaf, data)
    }
    fn node(&self, left: &Id, right: &Id) -> Id {
        hash::hash_parts(Domain::MerkleNode, &[left, right])
    }
}

/// RFC 6962 / RFC 9162 with SHA-256: leaf = H(0x00 ‖ d), node = H(0x01 ‖ l ‖ r).
#[derive(Clone, Copy, Debug, Default)]
pub struct Sha256Tree;

/// RFC 6962 leaf prefix.
const LEAF_PREFIX: u8 = 0x00;
/// RFC 6962 node prefix.
const NODE_PREFIX: u8 = 0x01;

impl TreeHasher for Sha256Tree {
    fn empty_root(&self) -> Id {
        Sha256::digest(b"").into()
    }
    fn leaf(&self, data: &[u8]) -> Id {
        let mut h = Sha256::new();
        h.update([LEAF_PREFIX]);
        h.update(data);
        h.finalize().into()
    }
    fn node(&self, left: &Id, right: &Id) -> Id {
        let mut h = Sha256::new();
        h.update([NODE_PREFIX]);
        h.update(left);
        h.update(right);
        h.finalize().into()
    }
}

/// Why a proof could not be generated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MerkleError {
    /// The leaf index is not in the tree.
    #[error("leaf index {index} is outside a tree of {size} leaves")]
    IndexOutOfRange {
        /// The index asked for.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// A consistency proof needs 1 ≤ old ≤ new.
    #[error("a consistency proof needs 1 <= old size ({old}) <= tree size ({new})")]
    SizeOutOfRange {
        /// The old size.
        old: u64,
        /// The tree size.
        new: u64,
    },
}

/// The largest power of two strictly below `n` (n ≥ 2).
fn split_point(n: usize) -> usize {
    debug_assert!(n >= 2);
    1 << (usize::BITS - 1 - (n - 1).leading_zeros())
}

/// Root over already-hashed leaves (RFC 9162 §2.1.1).
pub fn root_from_hashes<H: TreeHasher + ?Sized>(h: &H, leaves: &[Id]) -> Id {
    match leaves.len() {
        0 => h.empty_root(),
        1 => leaves[0],
        n => {
            let k = split_point(n);
            h.node(
                &root_from_hashes(h, &leaves[..k]),
                &root_from_hashes(h, &leaves[k..]),
            )
        }
    }
}

/// Root over leaf data.
pub fn root<H: TreeHasher + ?Sized>(h: &H, leaves: &[&[u8]]) -> Id {
    let hashes: Vec<Id> = leaves.iter().map(|d| h.leaf(d)).collect();
    root_from_hashes(h, &hashes)
}

/// Inclusion proof (audit path) for leaf `index` over hashed leaves (RFC 9162 §2.1.3.1).
pub fn inclusion_proof<H: TreeHasher + ?Sized>(
    h: &H,
    leaves: &[Id],
    index: u64,
) -> Result<Vec<Id>, MerkleError> {
    let size = leaves.len() as u64;
    if index >= size {
        return Err(MerkleError::IndexOutOfRange { index, size });
    }
    let mut proof = Vec::new();
    path(h, index as usize, leaves, &mut proof);
    Ok(proof)
}

fn path<H: TreeHasher + ?Sized>(h: &H, m: usize, leaves: &[Id], out: &mut Vec<Id>) {
    let n = leaves.len();
    if n <= 1 {
        return;
    }
    let k = split_point(n);
    if m < k {
        path(h, m, &leaves[..k], out);
        out.push(root_from_hashes(h, &leaves[k..]));
    } else {
        path(h, m - k, &leaves[k..], out);
        out.push(root_from_hashes(h, &leaves[..k]));
    }
}

/// Consistency proof from the first `old_size` leaves to all of them (RFC 9162 §2.1.4.1).
pub fn consistency_proof<H: TreeHasher + ?Sized>(
    h: &H,
    leaves: &[Id],
    old_size: u64,
) -> Result<Vec<Id>, MerkleError> {
    let new = leaves.len() as u64;
    if old_size == 0 || old_size > new {
        return Err(MerkleError::SizeOutOfRange { old: old_size, new });
    }
    let mut proof = Vec::new();
    if old_size < new {
        subproof(h, old_size as usize, leaves, true, &mut proof);
    }
    Ok(proof)
}

fn subproof<H: TreeHasher + ?Sized>(
    h: &H,
    m: usize,
    leaves: &[Id],
    complete: bool,
    out: &mut Vec<Id>,
) {
    let n = leaves.len();
    if m == n {
        if !complete {
            out.push(root_from_hashes(h, leaves));
        }
        return;
    }
    let k = split_point(n);
    if m <= k {
        subproof(h, m, &leaves[..k], complete, out);
        out.push(root_from_hashes(h, &leaves[k..]));
    } else {
        subproof(h, m - k, &leaves[k..], false, out);
        out.push(root_from_hashes(h, &leaves[..k]));
    }
}

/// A proof element or root of the right length, or None.
pub fn as_id(bytes: &[u8]) -> Option<Id> {
    <[u8; ID_LEN]>::try_from(bytes).ok()
}

/// Verify an inclusion proof (RFC 9162 §2.1.3.2).
pub fn verify_inclusion<H: TreeHasher + ?Sized>(
    h: &H,
    leaf_hash: &[u8],
    index: u64,
    size: u64,
    proof: &[&[u8]],
    root: &[u8],
) -> bool {
    let (Some(leaf), Some(root)) = (as_id(leaf_hash), as_id(root)) else {
        return false;
    };
    let Some(proof) = ids(proof) else {
        return false;
    };
    root_from_inclusion(h, leaf, index, size, &proof) == Some(root)
}

/// The root an inclusion proof implies, or None if it is malformed.
pub fn root_from_inclusion<H: TreeHasher + ?Sized>(
    h: &H,
    leaf: Id,
    index: u64,
    size: u64,
    proof: &[Id],
) -> Option<Id> {
    if index >= size {
        return None;
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = leaf;
    for p in proof {
        if s == 0 {
            return None;
        }
        if f & 1 == 1 || f == s {
            r = h.node(p, &r);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = h.node(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    (s == 0).then_some(r)
}

/// Verify a consistency proof (RFC 9162 §2.1.4.2, with the edge cases of
/// transparency-dev: equal sizes need an empty proof and equal roots; an empty old tree is
/// refused).
pub fn verify_consistency<H: TreeHasher + ?Sized>(
    h: &H,
    old_size: u64,
    new_size: u64,
    old_root: &[u8],
    new_root: &[u8],
    proof: &[&[u8]],
) -> bool {
    let (Some(old_root), Some(new_root)) = (as_id(old_root), as_id(new_root)) else {
        return false;
    };
    let Some(proof) = ids(proof) else {
        return false;
    };
    if old_size > new_size {
        return false;
    }
    if old_size == 0 {
        // transparency-dev (whose vectors we replay) refuses consistency with the empty
        // tree: it proves nothing, and accepting it would let any root pass.
        return false;
    }
    if old_size == new_size {
        return proof.is_empty() && old_root == new_root;
    }
    if proof.is_empty() {
        return false;
    }
    let mut path: Vec<Id> = Vec::with_capacity(proof.len() + 1);
    if old_size.is_power_of_two() {
        path.push(old_root);
    }
    path.extend_from_slice(&proof);
    let (mut f, mut s) = (old_size - 1, new_size - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (path[0], path[0]);
    for c in &path[1..] {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            fr = h.node(c, &fr);
            sr = h.node(c, &sr);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            sr = h.node(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    s == 0 && fr == old_root && sr == new_root
}

/// Bit length: 0 for 0.
fn bit_len(x: u64) -> u32 {
    u64::BITS - x.leading_zeros()
}

/// True when `[start, end)` is one node of some tree: empty, starting at 0, or aligned to
/// the next power of two of its width (docs/format.md, "Subtree proofs").
pub fn valid_subtree(start: u64, end: u64) -> bool {
    if start > end {
        return false;
    }
    if start == 0 || start == end {
        return true;
    }
    match (end - start).checked_next_power_of_two() {
        Some(width) => start.is_multiple_of(width),
        None => false,
    }
}

/// Proof elements as hashes, or None if any is not 32 bytes.
pub fn ids<B: AsRef<[u8]>>(proof: &[B]) -> Option<Vec<Id>> {
    proof.iter().map(|p| as_id(p.as_ref())).collect()
}

/// Verify that leaf `index` is in the subtree `[start, end)` whose hash is `root`.
pub fn verify_subtree_inclusion<H: TreeHasher + ?Sized>(
    h: &H,
    leaf_hash: &[u8],
    index: u64,
    start: u64,
    end: u64,
    proof: &[&[u8]],
    root: &[u8],
) -> bool {
    if !(valid_subtree(start, end) && start <= index && index < end) {
        return false;
    }
    verify_inclusion(h, leaf_hash, index - start, end - start, proof, root)
}

/// Verify that the subtree `[start, end)` with hash `subtree_root` is part of the tree of
/// `size` leaves with hash `root`.
pub fn verify_subtree_consistency<H: TreeHasher + ?Sized>(
    h: &H,
    start: u64,
    end: u64,
    size: u64,
    subtree_root: &[u8],
    root: &[u8],
    proof: &[&[u8]],
) -> bool {
    let (Some(subtree_root), Some(root), Some(proof)) =
        (as_id(subtree_root), as_id(root), ids(proof))
    else {
        return false;
    };
    if !valid_subtree(start, end) || end > size {
        return false;
    }
    if start == end {
        // The empty subtree is part of every tree; `root` is not read.
        return proof.is_empty() && subtree_root == h.empty_root();
    }
    if start == 0 && end == size {
        return proof.is_empty() && subtree_root == root;
    }
    if proof.is_empty() {
        return false;
    }
    let height = bit_len((end - 1) ^ start);
    if end == size {
        // On the right border: only left siblings above the subtree's node.
        if proof.len() as u64 != u64::from((start >> height).count_ones()) {
            return false;
        }
        let r = proof.iter().fold(subtree_root, |r, p| h.node(p, &r));
        return r == root;
    }
    let fork = bit_len((end - 1) ^ (size - 1));
    let shift = (end - start).trailing_zeros();
    let (seed, rest) = if (end - start).is_power_of_two() {
        (subtree_root, &proof[..])
    } else {
        (proof[0], &proof[1..])
    };
    // fork > shift whenever end < size; checked anyway so no input can panic.
    let Some(below_fork) = fork.checked_sub(shift) else {
        return false;
    };
    let needed = u64::from(below_fork) + u64::from(((end - 1) >> fork).count_ones());
    if rest.len() as u64 != needed {
        return false;
    }
    let (mut sub, mut grown) = (seed, seed);
    let mut i = 0;
    for level in shift..height {
        let left = (end - 1) >> level & 1 == 1;
        if !left && level >= fork {
            continue;
        }
        let Some(p) = rest.get(i) else {
            return false;
        };
        if left {
            sub = h.node(p, &sub);
            grown = h.node(p, &grown);
        } else {
            grown = h.node(&grown, p);
        }
        i += 1;
    }
    if sub != subtree_root {
        return false;
    }
    root_from_inclusion(
        h,
        grown,
        start >> height,
        ((size - 1) >> height) + 1,
        rest.get(i..).unwrap_or(&[]),
    ) == Some(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: usize) -> Vec<Id> {
        (0..n).map(|i| Sha256Tree.leaf(&[i as u8])).collect()
    }

    #[test]
    fn rfc6962_empty_and_single() {
        assert_eq!(
            hex::encode(root_from_hashes(&Sha256Tree, &[])),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        // RFC 6962 leaf hash of the empty string.
        assert_eq!(
            hex::encode(Sha256Tree.leaf(b"")),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
    }

    #[test]
    fn every_proof_verifies_and_mutations_fail() {
        for n in 1..40usize {
            let l = leaves(n);
            let root = root_from_hashes(&Sha256Tree, &l);
            for i in 0..n as u64 {
                let proof = inclusion_proof(&Sha256Tree, &l, i).unwrap();
                let refs: Vec<&[u8]> = proof.iter().map(|p| p.as_slice()).collect();
                assert!(verify_inclusion(
                    &Sha256Tree,
                    &l[i as usize],
                    i,
                    n as u64,
                    &refs,
                    &root
                ));
                let other = Sha256Tree.leaf(b"not a leaf");
                assert!(!verify_inclusion(
                    &Sha256Tree,
                    &other,
                    i,
                    n as u64,
                    &refs,
                    &root
                ));
            }
            for m in 1..=n as u64 {
                let old_root = root_from_hashes(&Sha256Tree, &l[..m as usize]);
                let proof = consistency_proof(&Sha256Tree, &l, m).unwrap();
                let refs: Vec<&[u8]> = proof.iter().map(|p| p.as_slice()).collect();
                assert!(
                    verify_consistency(&Sha256Tree, m, n as u64, &old_root, &root, &refs),
                    "{m}->{n}"
                );
                if !proof.is_empty() {
                    let mut bad = proof.clone();
                    bad[0][0] ^= 1;
                    let refs: Vec<&[u8]> = bad.iter().map(|p| p.as_slice()).collect();
                    assert!(!verify_consistency(
                        &Sha256Tree,
                        m,
                        n as u64,
                        &old_root,
                        &root,
                        &refs
                    ));
                }
            }
        }
    }

    #[test]
    fn blake3_tree_uses_domains() {
        let l = [Blake3Tree.leaf(b"a"), Blake3Tree.leaf(b"b")];
        assert_eq!(
            root_from_hashes(&Blake3Tree, &l),
            blake3::derive_key("lattice v1 merkle node", &[l[0], l[1]].concat())
        );
        assert_ne!(Blake3Tree.leaf(b"a"), Sha256Tree.leaf(b"a"));
    }
}

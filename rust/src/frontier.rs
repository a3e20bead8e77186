//! Frontier roots (DESIGN §3, §6): the Merkle tree over an author's frontier.
//!
//! A noop's `frontier_root` commits to the author's whole frontier after it — every other
//! peer's head `(peer, seq, id)`, sorted by peer — so a quorum proof can show, with one
//! inclusion proof per signer, that a peer has seen the home peer's log at least that far.

use crate::hash::{self, Domain};
use crate::merkle::{self, Blake3Tree};
use crate::{ID_LEN, Id};

/// Length of one encoded frontier item: peer, seq, id.
pub const FRONTIER_ITEM_LEN: usize = ID_LEN + 8 + ID_LEN;

/// One peer's head in a frontier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrontierItem {
    /// The peer.
    pub peer: Id,
    /// Its head seq (≥ 1).
    pub seq: u64,
    /// The id of that entry.
    pub id: Id,
}

/// Why a list of items is not a frontier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrontierError {
    /// Items must be strictly ascending by peer: one canonical tree per frontier.
    #[error("frontier items must be strictly ascending by peer (item {index})")]
    NotSorted {
        /// The first item out of order.
        index: usize,
    },
    /// A head seq of 0 means the peer is absent; it must be left out.
    #[error("frontier item {index} has seq 0")]
    ZeroSeq {
        /// The item.
        index: usize,
    },
    /// The index of an inclusion proof is past the frontier.
    #[error("item {index} is outside a frontier of {size} items")]
    OutOfRange {
        /// The index asked for.
        index: usize,
        /// The number of items.
        size: usize,
    },
}

impl FrontierItem {
    /// The canonical 72 bytes.
    pub fn encode(&self) -> [u8; FRONTIER_ITEM_LEN] {
        let mut out = [0u8; FRONTIER_ITEM_LEN];
        out[..ID_LEN].copy_from_slice(&self.peer);
        out[ID_LEN..ID_LEN + 8].copy_from_slice(&self.seq.to_be_bytes());
        out[ID_LEN + 8..].copy_from_slice(&self.id);
        out
    }

    /// The leaf hash of this item in the frontier tree.
    pub fn leaf_hash(&self) -> Id {
        hash::hash(Domain::Frontier, &self.encode())
    }
}

fn leaves(items: &[FrontierItem]) -> Result<Vec<Id>, FrontierError> {
    for (index, item) in items.iter().enumerate() {
        if item.seq == 0 {
            return Err(FrontierError::ZeroSeq { index });
        }
        if index > 0 && items[index - 1].peer >= item.peer {
            return Err(FrontierError::NotSorted { index });
        }
    }
    Ok(items.iter().map(FrontierItem::leaf_hash).collect())
}

/// The frontier root over `items` (strictly ascending by peer).
pub fn root(items: &[FrontierItem]) -> Result<Id, FrontierError> {
    Ok(merkle::root_from_hashes(&Blake3Tree, &leaves(items)?))
}

/// The inclusion proof of item `index` in the frontier tree.
pub fn inclusion_proof(items: &[FrontierItem], index: usize) -> Result<Vec<Id>, FrontierError> {
    let leaves = leaves(items)?;
    merkle::inclusion_proof(&Blake3Tree, &leaves, index as u64).map_err(|_| {
        FrontierError::OutOfRange {
            index,
            size: items.len(),
        }
    })
}

/// Check that `item` is leaf `index` of a frontier of `size` items with this `root`.
pub fn verify_inclusion(
    item: &FrontierItem,
    index: u64,
    size: u64,
    proof: &[Id],
    root: &Id,
) -> bool {
    merkle::root_from_inclusion(&Blake3Tree, item.leaf_hash(), index, size, proof) == Some(*root)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(n: u8) -> Vec<FrontierItem> {
        (1..=n)
            .map(|i| FrontierItem {
                peer: [i; 32],
                seq: u64::from(i) * 10,
                id: [i.wrapping_mul(7); 32],
            })
            .collect()
    }

    #[test]
    fn proofs_verify_for_every_item() {
        for n in 1..12 {
            let items = items(n);
            let root = root(&items).unwrap();
            for (i, item) in items.iter().enumerate() {
                let proof = inclusion_proof(&items, i).unwrap();
                assert!(verify_inclusion(
                    item,
                    i as u64,
                    items.len() as u64,
                    &proof,
                    &root
                ));
                let mut other = *item;
                other.seq += 1;
                assert!(!verify_inclusion(
                    &other,
                    i as u64,
                    items.len() as u64,
                    &proof,
                    &root
                ));
            }
        }
    }

    #[test]
    fn canonical_order_is_enforced() {
        let mut items = items(3);
        items.swap(0, 1);
        assert_eq!(root(&items), Err(FrontierError::NotSorted { index: 1 }));
        let mut items = self::items(3);
        items[2].seq = 0;
        assert_eq!(root(&items), Err(FrontierError::ZeroSeq { index: 2 }));
    }

    #[test]
    fn empty_frontier_has_the_empty_root() {
        assert_eq!(root(&[]).unwrap(), hash::hash(Domain::MerkleEmpty, b""));
    }
}

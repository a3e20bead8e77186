//! Domain-separated BLAKE3 (DESIGN §2).
//!
//! Every hash lattice computes is BLAKE3 in its standard key-derivation mode with a context
//! string per use, so a hash of one kind can never pass for another (a leaf for a node, a
//! payload for a header). The context keys are derived once per process.

use std::sync::OnceLock;

use blake3::hazmat::{ContextKey, HasherExt, hash_derive_key_context};

use crate::Id;

/// One use of the hash function; each has its own BLAKE3 key-derivation context.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Domain {
    /// Entry ids: the hash of the encoded header.
    Entry,
    /// The encoded dependency list of an entry body.
    Deps,
    /// An entry payload.
    Payload,
    /// A Merkle leaf.
    MerkleLeaf,
    /// A Merkle interior node (left ‖ right).
    MerkleNode,
    /// The root of the empty Merkle tree.
    MerkleEmpty,
    /// One frontier item (peer ‖ seq ‖ id), a leaf of the frontier tree.
    Frontier,
    /// Proof-of-work admission puzzles (DESIGN §11).
    Pow,
    /// Seed expansion for the random batch-verification coefficients.
    Batch,
    /// A client's signed op (DESIGN §6): its id, and what the client signs.
    ClientOp,
    /// What a peer signs to bind its Noise static key to its identity (DESIGN §7).
    NoiseBinding,
}

impl Domain {
    /// Every domain, in a fixed order.
    pub const ALL: [Domain; 11] = [
        Domain::Entry,
        Domain::Deps,
        Domain::Payload,
        Domain::MerkleLeaf,
        Domain::MerkleNode,
        Domain::MerkleEmpty,
        Domain::Frontier,
        Domain::Pow,
        Domain::Batch,
        Domain::ClientOp,
        Domain::NoiseBinding,
    ];

    /// The BLAKE3 context string of this domain (docs/format.md).
    pub const fn context(self) -> &'static str {
        match self {
            Domain::Entry => "lattice v1 entry",
            Domain::Deps => "lattice v1 deps",
            Domain::Payload => "lattice v1 payload",
            Domain::MerkleLeaf => "lattice v1 merkle leaf",
            Domain::MerkleNode => "lattice v1 merkle node",
            Domain::MerkleEmpty => "lattice v1 merkle empty",
            Domain::Frontier => "lattice v1 frontier",
            Domain::Pow => "lattice v1 pow",
            Domain::Batch => "lattice v1 batch coefficients",
            Domain::ClientOp => "lattice v1 client op",
            Domain::NoiseBinding => "lattice v1 noise binding",
        }
    }

    /// The short name Python uses for this domain (`"entry"`, `"merkle leaf"`, …).
    pub const fn name(self) -> &'static str {
        match self {
            Domain::Entry => "entry",
            Domain::Deps => "deps",
            Domain::Payload => "payload",
            Domain::MerkleLeaf => "merkle leaf",
            Domain::MerkleNode => "merkle node",
            Domain::MerkleEmpty => "merkle empty",
            Domain::Frontier => "frontier",
            Domain::Pow => "pow",
            Domain::Batch => "batch",
            Domain::ClientOp => "client op",
            Domain::NoiseBinding => "noise binding",
        }
    }

    /// The domain with this short name, if any.
    pub fn from_name(name: &str) -> Option<Domain> {
        Domain::ALL.into_iter().find(|d| d.name() == name)
    }

    fn context_key(self) -> &'static ContextKey {
        static KEYS: OnceLock<[ContextKey; Domain::ALL.len()]> = OnceLock::new();
        let keys = KEYS.get_or_init(|| Domain::ALL.map(|d| hash_derive_key_context(d.context())));
        &keys[self as usize]
    }

    /// A streaming hasher for this domain.
    pub fn hasher(self) -> blake3::Hasher {
        blake3::Hasher::new_from_context_key(self.context_key())
    }
}

/// Hash `data` in `domain`.
pub fn hash(domain: Domain, data: &[u8]) -> Id {
    *domain.hasher().update(data).finalize().as_bytes()
}

/// Hash the concatenation of `parts` in `domain`, without copying them together.
pub fn hash_parts(domain: Domain, parts: &[&[u8]]) -> Id {
    let mut hasher = domain.hasher();
    for part in parts {
        hasher.update(part);
    }
    *hasher.finalize().as_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_are_standard_derive_key_mode() {
        for domain in Domain::ALL {
            let expected = blake3::derive_key(domain.context(), b"material");
            assert_eq!(hash(domain, b"material"), expected, "{domain:?}");
        }
    }

    #[test]
    fn domains_differ() {
        let mut seen = std::collections::HashSet::new();
        for domain in Domain::ALL {
            assert!(seen.insert(hash(domain, b"x")));
            assert_eq!(Domain::from_name(domain.name()), Some(domain));
        }
        assert_eq!(Domain::from_name("nope"), None);
    }

    #[test]
    fn parts_equal_whole() {
        assert_eq!(
            hash_parts(Domain::MerkleNode, &[b"ab", b"", b"cd"]),
            hash(Domain::MerkleNode, b"abcd")
        );
    }
}

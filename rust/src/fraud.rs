//! Fraud proofs (DESIGN §5): two validly signed headers of one author at one seq with
//! different ids. Anyone holding the author's public key (it is in the headers) and the swarm
//! id can check one; no other state is needed.
//!
//! ```text
//! fraud_proof = version u8 (1) ‖ signed_header_a [310] ‖ signed_header_b [310]
//! ```
//! Canonical form: the header with the smaller id comes first, so one fork has exactly one
//! encoding. Only the headers are carried: the signature signs the id, the id commits to the
//! header, so the bodies add nothing to the proof.

use thiserror::Error;

use crate::codec::{DecodeError, FORMAT_VERSION, Reader, SIGNED_HEADER_LEN, SignedHeader};
use crate::sign::{self, Item};
use crate::{ID_LEN, Id};

/// Length of an encoded fraud proof.
pub const FRAUD_PROOF_LEN: usize = 1 + 2 * SIGNED_HEADER_LEN;

/// Why two signed headers do not prove a fork.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum FraudError {
    /// The bytes are not a canonical fraud proof.
    #[error("not a canonical fraud proof: {0}")]
    Decode(#[from] DecodeError),
    /// Both headers are the same entry.
    #[error("the two headers are the same entry, not two versions")]
    SameEntry,
    /// The headers have different authors.
    #[error("the two headers have different authors")]
    DifferentAuthors,
    /// The headers are at different seqs.
    #[error("the two headers are at different seqs ({0} and {1})")]
    DifferentSeqs(u64, u64),
    /// A header belongs to a swarm other than the one checked against.
    #[error("a header belongs to another swarm")]
    WrongSwarm,
    /// The author's key cannot be used (not a point, or of small order: such a key could
    /// "sign" anything).
    #[error("the author's key is not a usable Ed25519 key")]
    InvalidKey,
    /// A signature does not verify under the author's key.
    #[error("the signature of header {0} does not verify under the author's key")]
    BadSignature(usize),
}

/// Two signed headers claimed to be a fork. Construct with [`FraudProof::new`] or
/// [`FraudProof::decode`], then [`FraudProof::check`] it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FraudProof {
    headers: [SignedHeader; 2],
}

impl FraudProof {
    /// The proof made of two signed headers, in canonical order (smaller id first). No
    /// check is made here: see [`FraudProof::check`].
    pub fn new(a: SignedHeader, b: SignedHeader) -> FraudProof {
        let headers = if a.id <= b.id { [a, b] } else { [b, a] };
        FraudProof { headers }
    }

    /// Decode exactly one canonical proof (structure only; see [`FraudProof::check`]).
    pub fn decode(bytes: &[u8]) -> Result<FraudProof, DecodeError> {
        let mut r = Reader::new(bytes);
        r.version("fraud proof version")?;
        let a = SignedHeader::read(&mut r)?;
        let b = SignedHeader::read(&mut r)?;
        r.finish()?;
        if a.id > b.id {
            return Err(DecodeError::NonCanonical(
                "fraud proof headers must be ordered by id",
            ));
        }
        Ok(FraudProof { headers: [a, b] })
    }

    /// The canonical encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(FRAUD_PROOF_LEN);
        out.push(FORMAT_VERSION);
        for h in &self.headers {
            out.extend_from_slice(&h.encode());
        }
        out
    }

    /// The two signed headers, smaller id first.
    pub fn headers(&self) -> &[SignedHeader; 2] {
        &self.headers
    }

    /// The accused author (of the first header; [`FraudProof::check`] makes sure both agree).
    pub fn author(&self) -> &Id {
        &self.headers[0].header.author
    }

    /// The seq at which the author signed two versions.
    pub fn seq(&self) -> u64 {
        self.headers[0].header.seq
    }

    /// The swarm the headers claim.
    pub fn swarm(&self) -> &Id {
        &self.headers[0].header.swarm
    }

    /// Check that the proof proves a fork in `swarm`: same author, same seq, both in this
    /// swarm, different ids, a usable author key and both signatures valid (ZIP-215).
    pub fn check(&self, swarm: &[u8; ID_LEN]) -> Result<(), FraudError> {
        let [a, b] = &self.headers;
        if a.id == b.id {
            return Err(FraudError::SameEntry);
        }
        if a.header.author != b.header.author {
            return Err(FraudError::DifferentAuthors);
        }
        if a.header.seq != b.header.seq {
            return Err(FraudError::DifferentSeqs(a.header.seq, b.header.seq));
        }
        if &a.header.swarm != swarm || &b.header.swarm != swarm {
            return Err(FraudError::WrongSwarm);
        }
        sign::check_public_key(&a.header.author).map_err(|_| FraudError::InvalidKey)?;
        for (i, h) in self.headers.iter().enumerate() {
            let ok = sign::verify(&Item {
                public_key: &h.header.author,
                message: &h.id,
                signature: &h.signature,
            });
            if !ok {
                return Err(FraudError::BadSignature(i));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{Kind, UnsignedEntry};
    use crate::sign::Keypair;

    fn header(key: &Keypair, swarm: Id, seq: u64, payload: &[u8]) -> SignedHeader {
        let entry = UnsignedEntry {
            kind: Kind::Data,
            swarm,
            author: *key.public_key(),
            seq,
            lamport: seq,
            prev: if seq > 1 { [7; 32] } else { [0; 32] },
            lipmaa: if seq > 1 { [8; 32] } else { [0; 32] },
            deps: vec![],
            frontier_root: [0; 32],
            payload: payload.to_vec(),
        };
        let bytes = entry.encode(|id| key.sign(id)).unwrap();
        SignedHeader::decode(&bytes[..SIGNED_HEADER_LEN]).unwrap()
    }

    #[test]
    fn a_fork_is_proven_and_round_trips() {
        let key = Keypair::from_seed(&[1; 32]);
        let p = header(&key, [9; 32], 3, b"P");
        let q = header(&key, [9; 32], 3, b"Q");
        let proof = FraudProof::new(q.clone(), p.clone());
        assert_eq!(proof, FraudProof::new(p, q));
        proof.check(&[9; 32]).unwrap();
        let bytes = proof.encode();
        assert_eq!(bytes.len(), FRAUD_PROOF_LEN);
        assert_eq!(FraudProof::decode(&bytes).unwrap(), proof);
        assert_eq!(proof.check(&[8; 32]), Err(FraudError::WrongSwarm));
    }

    #[test]
    fn forgeries_are_refused() {
        let key = Keypair::from_seed(&[1; 32]);
        let other = Keypair::from_seed(&[2; 32]);
        let p = header(&key, [9; 32], 3, b"P");
        let swarm = [9; 32];
        let same = FraudProof::new(p.clone(), p.clone());
        assert_eq!(same.check(&swarm), Err(FraudError::SameEntry));
        let later = header(&key, swarm, 4, b"Q");
        assert!(matches!(
            FraudProof::new(p.clone(), later).check(&swarm),
            Err(FraudError::DifferentSeqs(..))
        ));
        let theirs = header(&other, swarm, 3, b"Q");
        assert_eq!(
            FraudProof::new(p.clone(), theirs).check(&swarm),
            Err(FraudError::DifferentAuthors)
        );
        let mut bad = header(&key, swarm, 3, b"Q");
        bad.signature[0] ^= 1;
        assert!(matches!(
            FraudProof::new(p, bad).check(&swarm),
            Err(FraudError::BadSignature(_))
        ));
    }

    #[test]
    fn decoding_is_canonical() {
        let key = Keypair::from_seed(&[1; 32]);
        let proof = FraudProof::new(
            header(&key, [9; 32], 3, b"P"),
            header(&key, [9; 32], 3, b"Q"),
        );
        let bytes = proof.encode();
        for cut in 0..bytes.len() {
            assert!(FraudProof::decode(&bytes[..cut]).is_err());
        }
        let mut long = bytes.clone();
        long.push(0);
        assert!(FraudProof::decode(&long).is_err());
        let mut swapped = vec![FORMAT_VERSION];
        swapped.extend_from_slice(&bytes[1 + SIGNED_HEADER_LEN..]);
        swapped.extend_from_slice(&bytes[1..1 + SIGNED_HEADER_LEN]);
        assert!(matches!(
            FraudProof::decode(&swapped),
            Err(DecodeError::NonCanonical(_))
        ));
        let mut version = bytes;
        version[0] = 2;
        assert!(matches!(
            FraudProof::decode(&version),
            Err(DecodeError::UnknownVersion(2))
        ));
    }
}

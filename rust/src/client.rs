//! Client ops (DESIGN §6): what a client signs, and its home peer wraps in a WRAP entry.
//!
//! ```text
//! client_op = version u8 (1) ‖ swarm [32] ‖ client [32] ‖ nonce u64 ‖ payload_len u32
//!             ‖ payload ‖ signature [64]
//! ```
//! The op id is the client-op-domain hash of everything before the signature; the client
//! signs the id, exactly as peers sign entry ids.

use crate::codec::{DecodeError, FORMAT_VERSION, MAX_PAYLOAD_LEN, Reader, SIGNATURE_LEN, at_most};
use crate::hash::{self, Domain};
use crate::sign::{self, Keypair};
use crate::{ID_LEN, Id};

/// Bytes before the payload.
const PREFIX_LEN: usize = 1 + ID_LEN + ID_LEN + 8 + 4;
/// Largest client payload: the op must fit in one entry's payload.
pub const MAX_CLIENT_PAYLOAD_LEN: usize = MAX_PAYLOAD_LEN - PREFIX_LEN - SIGNATURE_LEN;

/// A decoded client op.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientOp {
    /// Swarm the op is for.
    pub swarm: Id,
    /// The client's public key.
    pub client: Id,
    /// A client-chosen number making each op unique.
    pub nonce: u64,
    /// The op itself.
    pub payload: Vec<u8>,
    /// The client's signature over [`ClientOp::id`].
    pub signature: [u8; SIGNATURE_LEN],
}

impl ClientOp {
    fn signed_part(swarm: &Id, client: &Id, nonce: u64, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(PREFIX_LEN + payload.len());
        out.push(FORMAT_VERSION);
        out.extend_from_slice(swarm);
        out.extend_from_slice(client);
        out.extend_from_slice(&nonce.to_be_bytes());
        // Bounded by MAX_CLIENT_PAYLOAD_LEN before this is called.
        out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        out.extend_from_slice(payload);
        out
    }

    /// Create and sign an op.
    pub fn create(
        key: &Keypair,
        swarm: &Id,
        nonce: u64,
        payload: &[u8],
    ) -> Result<ClientOp, DecodeError> {
        at_most(
            "client payload length",
            payload.len() as u64,
            MAX_CLIENT_PAYLOAD_LEN as u64,
        )?;
        let id = hash::hash(
            Domain::ClientOp,
            &Self::signed_part(swarm, key.public_key(), nonce, payload),
        );
        Ok(ClientOp {
            swarm: *swarm,
            client: *key.public_key(),
            nonce,
            payload: payload.to_vec(),
            signature: key.sign(&id),
        })
    }

    /// The op id: what the client signed.
    pub fn id(&self) -> Id {
        hash::hash(
            Domain::ClientOp,
            &Self::signed_part(&self.swarm, &self.client, self.nonce, &self.payload),
        )
    }

    /// The canonical encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Self::signed_part(&self.swarm, &self.client, self.nonce, &self.payload);
        out.extend_from_slice(&self.signature);
        out
    }

    /// Decode exactly one op.
    pub fn decode(bytes: &[u8]) -> Result<ClientOp, DecodeError> {
        let mut r = Reader::new(bytes);
        r.version("client op version")?;
        let swarm = r.array("client op swarm")?;
        let client = r.array("client key")?;
        let nonce = r.u64("client nonce")?;
        let len = r.u32("client payload length")? as usize;
        at_most(
            "client payload length",
            len as u64,
            MAX_CLIENT_PAYLOAD_LEN as u64,
        )?;
        let payload = r.take(len, "client payload")?.to_vec();
        let signature = r.array("client signature")?;
        r.finish()?;
        Ok(ClientOp {
            swarm,
            client,
            nonce,
            payload,
            signature,
        })
    }

    /// Check the client's signature (ZIP-215).
    pub fn verify(&self) -> bool {
        sign::verify(&sign::Item {
            public_key: &self.client,
            message: &self.id(),
            signature: &self.signature,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_signature() {
        let key = Keypair::from_seed(&[5; 32]);
        let op = ClientOp::create(&key, &[1; 32], 7, b"transfer 5").unwrap();
        let bytes = op.encode();
        let back = ClientOp::decode(&bytes).unwrap();
        assert_eq!(back, op);
        assert!(back.verify());
        let mut bad = bytes.clone();
        bad[PREFIX_LEN] ^= 1;
        assert!(!ClientOp::decode(&bad).unwrap().verify());
        for cut in 0..bytes.len() {
            assert!(ClientOp::decode(&bytes[..cut]).is_err());
        }
        let mut long = bytes;
        long.push(0);
        assert!(ClientOp::decode(&long).is_err());
    }
}

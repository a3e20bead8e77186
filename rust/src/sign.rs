//! Ed25519 with the ZIP-215 validation rules, single and batch (DESIGN §2).
//!
//! Peers must agree on validity bit for bit, so [`verify_batch`] is only a speed-up over
//! [`verify`]: `ed25519-zebra` uses the cofactored equation in both, and when a batch
//! equation fails every item is verified on its own. A verdict therefore never depends on
//! the batch a signature arrived in.

use std::convert::Infallible;

use ed25519_zebra::batch;
use ed25519_zebra::{Signature, SigningKey, VerificationKey, VerificationKeyBytes};
use rand_core::{TryCryptoRng, TryRng};
use rayon::prelude::*;

use crate::codec::SIGNATURE_LEN;
use crate::hash::Domain;
use crate::{ID_LEN, Id};

/// Length of a public key.
pub const PUBLIC_KEY_LEN: usize = ID_LEN;
/// Length of a secret seed (RFC 8032).
pub const SEED_LEN: usize = 32;
/// Below this many items a batch is not split across threads: the batch equation gains
/// most from large batches, and thread hand-off costs more than it saves.
pub const MIN_ITEMS_PER_THREAD: usize = 64;

/// Why a key or signature was refused before verification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    /// An input had the wrong length.
    #[error("{what} at index {index} has {len} bytes, expected {expected}")]
    BadLength {
        /// Which input.
        what: &'static str,
        /// Its position in the batch.
        index: usize,
        /// Its length.
        len: usize,
        /// The required length.
        expected: usize,
    },
    /// The three input lists of a batch differ in length.
    #[error(
        "batch inputs differ in length: {keys} keys, {messages} messages, {signatures} signatures"
    )]
    BatchShape {
        /// Number of public keys.
        keys: usize,
        /// Number of messages.
        messages: usize,
        /// Number of signatures.
        signatures: usize,
    },
    /// The public key does not decode to a curve point.
    #[error("public key is not a point on the curve")]
    NotAPoint,
    /// The public key is of small order: anyone could forge signatures for it.
    #[error("public key has small order and cannot identify a peer")]
    SmallOrder,
    /// The operating system's random source failed.
    #[error("random source unavailable: {0}")]
    Random(String),
}

/// One signature check: key, message, signature.
#[derive(Clone, Copy, Debug)]
pub struct Item<'a> {
    /// The signer's public key.
    pub public_key: &'a [u8; PUBLIC_KEY_LEN],
    /// The signed message.
    pub message: &'a [u8],
    /// The signature.
    pub signature: &'a [u8; SIGNATURE_LEN],
}

/// A signing key.
#[derive(Clone)]
pub struct Keypair {
    secret: SigningKey,
    public: [u8; PUBLIC_KEY_LEN],
}

impl std::fmt::Debug for Keypair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret.
        f.debug_struct("Keypair")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

impl Keypair {
    /// A fresh key from the operating system's random source.
    pub fn generate() -> Result<Keypair, SignError> {
        let mut seed = [0u8; SEED_LEN];
        getrandom::getrandom(&mut seed).map_err(|e| SignError::Random(e.to_string()))?;
        Ok(Keypair::from_seed(&seed))
    }

    /// The key with this RFC 8032 seed.
    pub fn from_seed(seed: &[u8; SEED_LEN]) -> Keypair {
        let secret = SigningKey::from(*seed);
        let public = VerificationKeyBytes::from(&secret).into();
        Keypair { secret, public }
    }

    /// The seed (the secret).
    pub fn seed(&self) -> [u8; SEED_LEN] {
        self.secret.to_bytes()
    }

    /// The public key.
    pub fn public_key(&self) -> &[u8; PUBLIC_KEY_LEN] {
        &self.public
    }

    /// Sign `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; SIGNATURE_LEN] {
        self.secret.sign(message).to_bytes()
    }
}

/// Verify one signature (ZIP-215).
pub fn verify(item: &Item<'_>) -> bool {
    let Ok(key) = VerificationKey::try_from(*item.public_key) else {
        return false;
    };
    key.verify(&Signature::from_bytes(item.signature), item.message)
        .is_ok()
}

/// Refuse keys that cannot identify a peer: not a point, or of small order (DESIGN §2).
pub fn check_public_key(public_key: &[u8; PUBLIC_KEY_LEN]) -> Result<(), SignError> {
    let point = curve25519_dalek_point(public_key).ok_or(SignError::NotAPoint)?;
    if point.is_small_order() {
        return Err(SignError::SmallOrder);
    }
    Ok(())
}

fn curve25519_dalek_point(bytes: &[u8; 32]) -> Option<curve25519_dalek::edwards::EdwardsPoint> {
    curve25519_dalek::edwards::CompressedEdwardsY(*bytes).decompress()
}

/// The random 128-bit coefficients of the batch equation come from BLAKE3's extendable
/// output seeded once per batch from the OS: one system call per batch, not per item.
pub struct BatchRng(blake3::OutputReader);

impl BatchRng {
    /// A generator seeded from the operating system's random source.
    pub fn new() -> Result<BatchRng, SignError> {
        let mut seed = [0u8; 32];
        getrandom::getrandom(&mut seed).map_err(|e| SignError::Random(e.to_string()))?;
        Ok(BatchRng(
            Domain::Batch.hasher().update(&seed).finalize_xof(),
        ))
    }
}

impl TryRng for BatchRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut b = [0u8; 4];
        self.0.fill(&mut b);
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut b = [0u8; 8];
        self.0.fill(&mut b);
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        self.0.fill(dst);
        Ok(())
    }
}

impl TryCryptoRng for BatchRng {}

/// Verify one chunk on the current thread: the batch equation, then item by item if it fails.
fn verify_chunk(items: &[Item<'_>], out: &mut [bool]) -> Result<(), SignError> {
    let mut verifier = batch::Verifier::new();
    for item in items {
        verifier.queue((
            VerificationKeyBytes::from(*item.public_key),
            Signature::from_bytes(item.signature),
            item.message,
        ));
    }
    if verifier.verify(BatchRng::new()?).is_ok() {
        out.fill(true);
    } else {
        for (slot, item) in out.iter_mut().zip(items) {
            *slot = verify(item);
        }
    }
    Ok(())
}

/// Verify a batch, returning one verdict per item, on up to `threads` threads
/// (`None`: rayon's global pool, i.e. every core; `Some(1)`: the calling thread only).
pub fn verify_batch(items: &[Item<'_>], threads: Option<usize>) -> Result<Vec<bool>, SignError> {
    let mut out = vec![false; items.len()];
    let threads = threads.unwrap_or_else(rayon::current_num_threads).max(1);
    let parts = threads.min(items.len() / MIN_ITEMS_PER_THREAD).max(1);
    if parts == 1 {
        verify_chunk(items, &mut out)?;
        return Ok(out);
    }
    let chunk = items.len().div_ceil(parts);
    let mut run = || {
        items
            .par_chunks(chunk)
            .zip(out.par_chunks_mut(chunk))
            .try_for_each(|(items, out)| verify_chunk(items, out))
    };
    if threads == rayon::current_num_threads() {
        run()?;
    } else {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .map_err(|e| SignError::Random(format!("thread pool: {e}")))?
            .install(run)?;
    }
    Ok(out)
}

/// Build batch items from parallel slices, checking lengths.
pub fn items<'a>(
    public_keys: &[&'a [u8]],
    messages: &[&'a [u8]],
    signatures: &[&'a [u8]],
) -> Result<Vec<Item<'a>>, SignError> {
    if public_keys.len() != messages.len() || messages.len() != signatures.len() {
        return Err(SignError::BatchShape {
            keys: public_keys.len(),
            messages: messages.len(),
            signatures: signatures.len(),
        });
    }
    public_keys
        .iter()
        .zip(messages)
        .zip(signatures)
        .enumerate()
        .map(|(index, ((pk, msg), sig))| {
            Ok(Item {
                public_key: fixed(pk, "public key", index)?,
                message: msg,
                signature: fixed(sig, "signature", index)?,
            })
        })
        .collect()
}

fn fixed<'a, const N: usize>(
    bytes: &'a [u8],
    what: &'static str,
    index: usize,
) -> Result<&'a [u8; N], SignError> {
    bytes.try_into().map_err(|_| SignError::BadLength {
        what,
        index,
        len: bytes.len(),
        expected: N,
    })
}

/// Sign an entry id (what lattice signs: DESIGN §3).
pub fn sign_id(keypair: &Keypair, id: &Id) -> [u8; SIGNATURE_LEN] {
    keypair.sign(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(n: usize) -> (Vec<Keypair>, Vec<Vec<u8>>, Vec<[u8; 64]>) {
        let keys: Vec<Keypair> = (0..n).map(|i| Keypair::from_seed(&[i as u8; 32])).collect();
        let msgs: Vec<Vec<u8>> = (0..n)
            .map(|i| format!("message {i}").into_bytes())
            .collect();
        let sigs = keys.iter().zip(&msgs).map(|(k, m)| k.sign(m)).collect();
        (keys, msgs, sigs)
    }

    fn as_items<'a>(
        keys: &'a [Keypair],
        msgs: &'a [Vec<u8>],
        sigs: &'a [[u8; 64]],
    ) -> Vec<Item<'a>> {
        keys.iter()
            .zip(msgs)
            .zip(sigs)
            .map(|((k, m), s)| Item {
                public_key: k.public_key(),
                message: m,
                signature: s,
            })
            .collect()
    }

    #[test]
    fn rfc8032_test_1() {
        // RFC 8032 §7.1 TEST 1: empty message.
        let seed: [u8; 32] =
            hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
                .unwrap()
                .try_into()
                .unwrap();
        let k = Keypair::from_seed(&seed);
        assert_eq!(
            hex::encode(k.public_key()),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
        );
        assert_eq!(
            hex::encode(k.sign(b"")),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155\
             5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        );
    }

    #[test]
    fn batch_agrees_with_single_at_every_position() {
        let (keys, msgs, mut sigs) = signed(80);
        for bad in [0, 1, 40, 79] {
            let saved = sigs[bad];
            sigs[bad][5] ^= 1;
            let items = as_items(&keys, &msgs, &sigs);
            for threads in [Some(1), Some(2), None] {
                let verdicts = verify_batch(&items, threads).unwrap();
                for (i, v) in verdicts.iter().enumerate() {
                    assert_eq!(*v, i != bad, "item {i}, bad {bad}, threads {threads:?}");
                    assert_eq!(*v, verify(&items[i]));
                }
            }
            sigs[bad] = saved;
        }
    }

    #[test]
    fn empty_batch() {
        assert!(verify_batch(&[], None).unwrap().is_empty());
    }

    #[test]
    fn small_order_keys_refused() {
        let identity = {
            let mut b = [0u8; 32];
            b[0] = 1;
            b
        };
        assert_eq!(check_public_key(&identity), Err(SignError::SmallOrder));
        let k = Keypair::from_seed(&[3; 32]);
        assert_eq!(check_public_key(k.public_key()), Ok(()));
    }

    #[test]
    fn shape_errors() {
        let k = [0u8; 32];
        let s = [0u8; 64];
        assert!(matches!(
            items(&[&k], &[], &[&s]),
            Err(SignError::BatchShape { .. })
        ));
        assert!(matches!(
            items(&[&k[..31]], &[b"m"], &[&s]),
            Err(SignError::BadLength { index: 0, .. })
        ));
    }
}

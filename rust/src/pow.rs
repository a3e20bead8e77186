//! Proof of work for admitting open identities (DESIGN §11).
//!
//! ```text
//! H_pow = BLAKE3-derive-key("lattice v1 pow", public key [32] ‖ swarm [32] ‖ target u8
//!                           ‖ nonce u64 big-endian)
//! ```
//!
//! A proof `(target, nonce)` holds when `H_pow` has at least `target` leading zero bits; the
//! target is committed inside the hash, so a proof cannot claim more work than it did, and a
//! verifier also requires `target ≥` its own minimum. Checking is one hash. The search
//! splits the nonce space across threads (thread `i` of `n` tries `start + i`, `+ n`, …),
//! hashing from a hasher that already holds the 65-byte prefix, and stops when one thread
//! finds a nonce, when `cancel` is set, or after `attempts` tries ([`Puzzle::search`]).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use thiserror::Error;

use crate::hash::Domain;
use crate::{ID_LEN, Id};

/// The hardest target accepted (more would take longer than the universe).
pub const MAX_TARGET: u8 = 64;
/// Attempts between two looks at the cancel flag and the shared counters.
pub const CHECK_EVERY: u64 = 4096;

/// Why a proof of work does not hold.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum PowError {
    /// The committed target is below what the verifier requires.
    #[error("proof of work for {got} bits; at least {need} are required")]
    TooLow {
        /// The committed target.
        got: u8,
        /// The verifier's minimum.
        need: u8,
    },
    /// The hash has fewer leading zero bits than the committed target.
    #[error("proof of work claims {target} bits but its hash has {zeros}")]
    Insufficient {
        /// The committed target.
        target: u8,
        /// Leading zero bits the hash has.
        zeros: u32,
    },
    /// A target above [`MAX_TARGET`].
    #[error("a proof-of-work target of {0} bits (at most {MAX_TARGET})")]
    Target(u8),
}

fn prefix(public_key: &[u8; ID_LEN], swarm: &Id, target: u8) -> blake3::Hasher {
    let mut h = Domain::Pow.hasher();
    h.update(public_key).update(swarm).update(&[target]);
    h
}

/// `H_pow` of one attempt.
pub fn pow_hash(public_key: &[u8; ID_LEN], swarm: &Id, target: u8, nonce: u64) -> Id {
    let mut h = prefix(public_key, swarm, target);
    h.update(&nonce.to_be_bytes());
    *h.finalize().as_bytes()
}

/// Leading zero bits of a hash.
pub fn leading_zeros(hash: &Id) -> u32 {
    let mut zeros = 0;
    for byte in hash {
        if *byte == 0 {
            zeros += 8;
        } else {
            return zeros + byte.leading_zeros();
        }
    }
    zeros
}

/// Check a proof: its hash, if `target ≥ min_target` and the hash meets `target`.
pub fn check(
    public_key: &[u8; ID_LEN],
    swarm: &Id,
    target: u8,
    nonce: u64,
    min_target: u8,
) -> Result<Id, PowError> {
    if target > MAX_TARGET {
        return Err(PowError::Target(target));
    }
    if target < min_target {
        return Err(PowError::TooLow {
            got: target,
            need: min_target,
        });
    }
    let hash = pow_hash(public_key, swarm, target, nonce);
    let zeros = leading_zeros(&hash);
    if zeros < u32::from(target) {
        return Err(PowError::Insufficient { target, zeros });
    }
    Ok(hash)
}

/// Where a search stands: attempts made so far (all threads), shared with whoever watches.
#[derive(Debug, Default)]
pub struct Progress {
    /// Attempts made so far.
    pub attempts: AtomicU64,
}

/// What a search looks for: a nonce for this key, swarm and committed target.
#[derive(Debug, Clone, Copy)]
pub struct Puzzle {
    /// The identity being admitted.
    pub public_key: [u8; ID_LEN],
    /// The swarm it is admitted to.
    pub swarm: Id,
    /// Leading zero bits required, committed in the hash.
    pub target: u8,
}

impl Puzzle {
    /// Search nonces from `start` with `threads` threads (at least 1) for at most
    /// `attempts` tries in all; a nonce found, or None (none, or `cancel` was set).
    pub fn search(
        &self,
        start: u64,
        attempts: u64,
        threads: usize,
        cancel: &AtomicBool,
        progress: &Progress,
    ) -> Result<Option<u64>, PowError> {
        if self.target > MAX_TARGET {
            return Err(PowError::Target(self.target));
        }
        let threads = threads.max(1) as u64;
        let found = AtomicBool::new(false);
        let best = AtomicU64::new(u64::MAX);
        let base = prefix(&self.public_key, &self.swarm, self.target);
        let need = u32::from(self.target);
        std::thread::scope(|scope| {
            for lane in 0..threads {
                let (base, found, best) = (&base, &found, &best);
                scope.spawn(move || {
                    // Lane `lane` tries start + lane + k * threads, for k = 0, 1, …
                    let mine = attempts / threads + u64::from(lane < attempts % threads);
                    let mut k = 0u64;
                    while k < mine {
                        let batch = CHECK_EVERY.min(mine - k);
                        for j in 0..batch {
                            let nonce = start.wrapping_add(lane + (k + j) * threads);
                            let mut h = base.clone();
                            h.update(&nonce.to_be_bytes());
                            if leading_zeros(h.finalize().as_bytes()) >= need {
                                best.fetch_min(nonce, Ordering::Relaxed);
                                found.store(true, Ordering::Relaxed);
                                progress.attempts.fetch_add(j + 1, Ordering::Relaxed);
                                return;
                            }
                        }
                        k += batch;
                        progress.attempts.fetch_add(batch, Ordering::Relaxed);
                        if found.load(Ordering::Relaxed) || cancel.load(Ordering::Relaxed) {
                            return;
                        }
                    }
                });
            }
        });
        Ok(found
            .load(Ordering::Relaxed)
            .then(|| best.load(Ordering::Relaxed)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [7; 32];
    const SWARM: Id = [9; 32];

    fn puzzle(target: u8) -> Puzzle {
        Puzzle {
            public_key: KEY,
            swarm: SWARM,
            target,
        }
    }

    #[test]
    fn the_hash_is_the_pow_domain_over_the_committed_fields() {
        let mut material = Vec::new();
        material.extend_from_slice(&KEY);
        material.extend_from_slice(&SWARM);
        material.push(12);
        material.extend_from_slice(&42u64.to_be_bytes());
        assert_eq!(
            pow_hash(&KEY, &SWARM, 12, 42),
            blake3::derive_key("lattice v1 pow", &material)
        );
    }

    #[test]
    fn leading_zeros_counts_bits() {
        let mut h = [0u8; 32];
        assert_eq!(leading_zeros(&h), 256);
        h[1] = 0b0001_0000;
        assert_eq!(leading_zeros(&h), 11);
    }

    #[test]
    fn search_finds_what_check_accepts_on_any_thread_count() {
        for threads in [1, 2, 3] {
            let cancel = AtomicBool::new(false);
            let progress = Progress::default();
            let nonce = puzzle(12)
                .search(0, 1 << 24, threads, &cancel, &progress)
                .unwrap()
                .expect("12 bits in 16 M tries");
            check(&KEY, &SWARM, 12, nonce, 12).unwrap();
            assert!(progress.attempts.load(Ordering::Relaxed) > 0);
        }
    }

    #[test]
    fn a_low_or_lying_target_is_refused() {
        let cancel = AtomicBool::new(false);
        let nonce = puzzle(8)
            .search(0, 1 << 20, 1, &cancel, &Progress::default())
            .unwrap()
            .unwrap();
        assert_eq!(
            check(&KEY, &SWARM, 8, nonce, 10),
            Err(PowError::TooLow { got: 8, need: 10 })
        );
        // The same nonce claimed for a harder target hashes differently (committed).
        assert!(matches!(
            check(&KEY, &SWARM, 30, nonce, 10),
            Err(PowError::Insufficient { target: 30, .. })
        ));
        assert_eq!(check(&KEY, &SWARM, 65, 0, 0), Err(PowError::Target(65)));
    }

    #[test]
    fn a_cancelled_or_exhausted_search_finds_nothing() {
        let cancel = AtomicBool::new(true);
        let none = puzzle(60).search(0, 1 << 30, 2, &cancel, &Progress::default());
        assert_eq!(none, Ok(None));
        let cancel = AtomicBool::new(false);
        let none = puzzle(60).search(0, 1000, 2, &cancel, &Progress::default());
        assert_eq!(none, Ok(None));
    }
}

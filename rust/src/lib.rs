//! The pure Rust core of lattice (DESIGN §1).
//!
//! Rust computes, Python decides: this crate holds the canonical codec, the domain-separated
//! hashes, Ed25519 (single and batch, ZIP-215), hash-chain validation, lipmaa links, fraud proofs, Merkle
//! trees and the entanglement-matrix kernels. None of these modules knows about Python; the
//! only binding layer is [`py`], compiled with the `python` cargo feature, so `cargo test`
//! runs on the pure core.
#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod chain;
pub mod client;
pub mod codec;
pub mod framepool;
pub mod fraud;
pub mod frontier;
pub mod fuzzing;
pub mod hash;
pub mod lipmaa;
pub mod matrix;
pub mod merkle;
pub mod noise;
pub mod pow;
pub mod sign;
pub mod synth;
pub mod text;
pub mod thin;

#[cfg(feature = "python")]
mod py;

/// Length of every hash, entry id, public key and swarm id.
pub const ID_LEN: usize = 32;

/// A 32-byte hash, entry id, public key or swarm id.
pub type Id = [u8; ID_LEN];

/// The all-zero id, used for absent links (`prev` at seq 1, `lipmaa` equal to `prev`).
pub const ZERO_ID: Id = [0; ID_LEN];

//! Native baselines for DESIGN §15, measured with criterion; `make bench` reads the
//! estimates from target/criterion and puts them beside the Python figures.
//!
//! - `p1/zebra_batch_1024`: ed25519-zebra's own batch verifier on one thread, the "native
//!   batch speed" that P1 compares `lattice.verify_batch` against.
//! - `p1/lattice_batch_1024_t1`: the same work through lattice's core.
//! - `p3/chain_validate_t1`: segment validation without signatures, one thread.
//! - `p5/quorum_*`: the all-columns quorum query.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use ed25519_zebra::{Signature, VerificationKeyBytes, batch};
use lattice::chain::{self, Expect};
use lattice::matrix::Matrix;
use lattice::sign::{self, Keypair};

const BATCH: usize = 1024;
const CHAIN_LEN: u64 = 200_000;

/// Public keys, messages and signatures of one batch.
type Batch = (Vec<[u8; 32]>, Vec<[u8; 32]>, Vec<[u8; 64]>);

fn signed_batch() -> Batch {
    let keys: Vec<Keypair> = (0..BATCH)
        .map(|i| {
            let mut seed = [0u8; 32];
            seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
            Keypair::from_seed(&seed)
        })
        .collect();
    let msgs: Vec<[u8; 32]> = (0..BATCH)
        .map(|i| lattice::hash::hash(lattice::hash::Domain::Entry, &i.to_le_bytes()))
        .collect();
    let sigs = keys.iter().zip(&msgs).map(|(k, m)| k.sign(m)).collect();
    (keys.iter().map(|k| *k.public_key()).collect(), msgs, sigs)
}

fn p1(c: &mut Criterion) {
    let (pks, msgs, sigs) = signed_batch();
    let mut group = c.benchmark_group("p1");
    group.sample_size(30);
    group.bench_function("zebra_batch_1024", |b| {
        b.iter(|| {
            let mut v = batch::Verifier::new();
            for ((pk, m), s) in pks.iter().zip(&msgs).zip(&sigs) {
                v.queue((
                    VerificationKeyBytes::from(*pk),
                    Signature::from_bytes(s),
                    &m[..],
                ));
            }
            // The same coefficient generator lattice uses, so only the verifier differs.
            black_box(v.verify(sign::BatchRng::new().unwrap()).is_ok())
        })
    });
    let items: Vec<sign::Item<'_>> = pks
        .iter()
        .zip(&msgs)
        .zip(&sigs)
        .map(|((pk, m), s)| sign::Item {
            public_key: pk,
            message: m,
            signature: s,
        })
        .collect();
    group.bench_function("lattice_batch_1024_t1", |b| {
        b.iter(|| black_box(sign::verify_batch(&items, Some(1)).unwrap()))
    });
    group.finish();
}

fn p3(c: &mut Criterion) {
    let key = Keypair::from_seed(&[7; 32]);
    let log = lattice::synth::log(&key, &[1; 32], CHAIN_LEN, 0).unwrap();
    let refs: Vec<&[u8]> = log.iter().map(|e| e.as_slice()).collect();
    let expect = Expect {
        threads: Some(1),
        ..Expect::default()
    };
    let mut group = c.benchmark_group("p3");
    group.sample_size(10);
    group.bench_function("chain_validate_t1", |b| {
        b.iter(|| black_box(chain::validate(&refs, &expect).unwrap()))
    });
    group.finish();
}

fn p5(c: &mut Criterion) {
    let mut group = c.benchmark_group("p5");
    group.sample_size(10);
    for n in [1024usize, 4096] {
        let m = Matrix::new(n).unwrap();
        for o in 0..n {
            let delta: Vec<(usize, u64)> = (0..n)
                .map(|s| (s, ((o * 7919 + s * 104_729) % 100_000) as u64))
                .collect();
            m.update_row(o, &delta).unwrap();
        }
        let q = (n + (n - 1) / 3) / 2 + 1;
        group.bench_function(format!("quorum_{n}"), |b| {
            b.iter(|| black_box(m.known_to_quorum(q, None).unwrap()))
        });
    }
    group.finish();
}

criterion_group!(benches, p1, p3, p5);
criterion_main!(benches);

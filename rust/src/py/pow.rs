//! Proof-of-work bindings (DESIGN §11): the hash, the check, and a search on all cores with
//! the GIL released, in rounds between which Python is asked whether to go on.

use std::sync::atomic::{AtomicBool, Ordering};

use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::buf::{Buf, id_arg};
use super::errors::{At, invalid_argument, lattice_error, u64_arg};
use crate::pow::{self, MAX_TARGET, PowError, Progress, Puzzle};

/// Attempts in one round of a search (the GIL is taken back between rounds).
const ROUND: u64 = 1 << 20;

fn error(e: PowError) -> PyErr {
    match e {
        PowError::Target(_) => invalid_argument(e.to_string()),
        _ => lattice_error("InvalidProofOfWork", e.to_string(), At::default()),
    }
}

fn puzzle(public_key: &[u8], swarm: &[u8], target: u8) -> PyResult<Puzzle> {
    if target > MAX_TARGET {
        return Err(invalid_argument(format!(
            "a proof-of-work target is at most {MAX_TARGET} bits, not {target}"
        )));
    }
    Ok(Puzzle {
        public_key: id_arg(public_key, "public key")?,
        swarm: id_arg(swarm, "swarm id")?,
        target,
    })
}

/// ``H_pow(public key ‖ swarm ‖ target ‖ nonce)`` (DESIGN §11): one attempt's hash.
///
/// >>> len(pow_hash(bytes(32), bytes(32), 8, 0))
/// 32
#[pyfunction]
fn pow_hash<'py>(
    py: Python<'py>,
    public_key: Buf,
    swarm: Buf,
    target: u8,
    nonce: &Bound<'_, PyAny>,
) -> PyResult<Bound<'py, PyBytes>> {
    let p = puzzle(&public_key, &swarm, target)?;
    let hash = pow::pow_hash(&p.public_key, &p.swarm, target, u64_arg(nonce, "nonce")?);
    Ok(PyBytes::new(py, &hash))
}

/// Check a proof of work: its hash, or ``InvalidProofOfWork`` (a target below
/// ``min_target``, or a hash without ``target`` leading zero bits).
///
/// >>> nonce = pow_search(bytes(32), bytes(32), 4)
/// >>> len(pow_check(bytes(32), bytes(32), 4, nonce, 4))
/// 32
#[pyfunction]
#[pyo3(signature = (public_key, swarm, target, nonce, min_target = 0))]
fn pow_check<'py>(
    py: Python<'py>,
    public_key: Buf,
    swarm: Buf,
    target: u8,
    nonce: &Bound<'_, PyAny>,
    min_target: u8,
) -> PyResult<Bound<'py, PyBytes>> {
    let p = puzzle(&public_key, &swarm, target)?;
    let hash = pow::check(
        &p.public_key,
        &p.swarm,
        target,
        u64_arg(nonce, "nonce")?,
        min_target,
    )
    .map_err(error)?;
    Ok(PyBytes::new(py, &hash))
}

/// Search for a nonce meeting ``target`` on ``threads`` threads (0: every core), the GIL
/// released; ``progress(attempts)`` every million attempts stops it by answering false.
///
/// >>> pow_search(bytes(32), bytes(32), 60, attempts=1000) is None
/// True
#[pyfunction]
#[pyo3(signature = (public_key, swarm, target, start = 0, attempts = None, threads = 0, progress = None))]
#[allow(clippy::too_many_arguments)]
fn pow_search(
    py: Python<'_>,
    public_key: Buf,
    swarm: Buf,
    target: u8,
    start: u64,
    attempts: Option<u64>,
    threads: usize,
    progress: Option<Bound<'_, PyAny>>,
) -> PyResult<Option<u64>> {
    let p = puzzle(&public_key, &swarm, target)?;
    let threads = if threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        threads
    };
    let budget = attempts.unwrap_or(u64::MAX);
    let cancel = AtomicBool::new(false);
    let counter = Progress::default();
    let mut done = 0u64;
    while done < budget {
        let round = ROUND.min(budget - done);
        let from = start.wrapping_add(done);
        let found = py
            .detach(|| p.search(from, round, threads, &cancel, &counter))
            .map_err(error)?;
        if found.is_some() {
            return Ok(found);
        }
        done += round;
        py.check_signals()?;
        if let Some(callback) = &progress
            && !callback
                .call1((counter.attempts.load(Ordering::Relaxed),))?
                .is_truthy()?
        {
            return Ok(None);
        }
    }
    Ok(None)
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("POW_MAX_TARGET", MAX_TARGET)?;
    m.add_function(wrap_pyfunction!(pow_hash, m)?)?;
    m.add_function(wrap_pyfunction!(pow_check, m)?)?;
    m.add_function(wrap_pyfunction!(pow_search, m)?)?;
    Ok(())
}

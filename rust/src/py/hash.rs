//! Hash bindings: domain hashes, plus raw BLAKE3 modes for replaying its test vectors.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple};

use super::RELEASE_GIL_BYTES;
use super::buf::Buf;
use super::errors::{invalid_argument, u64_arg};
use crate::hash::{self, Domain};
use crate::lipmaa;

/// Largest extended output the raw BLAKE3 bindings produce.
const MAX_XOF_LEN: usize = 1 << 16;

fn with_gil_policy<T: Send>(py: Python<'_>, len: usize, f: impl FnOnce() -> T + Send) -> T {
    if len >= RELEASE_GIL_BYTES {
        py.detach(f)
    } else {
        f()
    }
}

fn xof_len(length: usize) -> PyResult<usize> {
    if length == 0 || length > MAX_XOF_LEN {
        return Err(invalid_argument(format!(
            "length must be in 1..={MAX_XOF_LEN}, got {length}"
        )));
    }
    Ok(length)
}

/// BLAKE3 in key-derivation mode under one of lattice's domains (32 bytes).
///
/// >>> from lattice import hash
/// >>> len(hash("payload", b"hello"))
/// 32
#[pyfunction]
#[pyo3(name = "hash")]
fn domain_hash<'py>(py: Python<'py>, domain: &str, data: Buf) -> PyResult<Bound<'py, PyBytes>> {
    let domain = Domain::from_name(domain).ok_or_else(|| {
        let names: Vec<&str> = Domain::ALL.iter().map(|d| d.name()).collect();
        invalid_argument(format!("unknown hash domain {domain:?}; known: {names:?}"))
    })?;
    let digest = with_gil_policy(py, data.len(), || hash::hash(domain, &data));
    Ok(PyBytes::new(py, &digest))
}

/// Plain BLAKE3 hash mode with extended output, for replaying BLAKE3's test vectors.
///
/// Lattice itself never hashes without a domain; use :func:`hash`.
///
/// >>> blake3_raw(b"").hex()[:16]
/// 'af1349b9f5f9a1a6'
#[pyfunction]
#[pyo3(signature = (data, length = 32))]
fn blake3_raw<'py>(py: Python<'py>, data: Buf, length: usize) -> PyResult<Bound<'py, PyBytes>> {
    let mut out = vec![0u8; xof_len(length)?];
    with_gil_policy(py, data.len(), || {
        blake3::Hasher::new()
            .update(&data)
            .finalize_xof()
            .fill(&mut out)
    });
    Ok(PyBytes::new(py, &out))
}

/// BLAKE3 key-derivation mode with any context string (what :func:`hash` uses).
///
/// >>> blake3_derive_key("lattice v1 payload", b"x") == hash("payload", b"x")
/// True
#[pyfunction]
#[pyo3(signature = (context, material, length = 32))]
fn blake3_derive_key<'py>(
    py: Python<'py>,
    context: &str,
    material: Buf,
    length: usize,
) -> PyResult<Bound<'py, PyBytes>> {
    let mut out = vec![0u8; xof_len(length)?];
    with_gil_policy(py, material.len(), || {
        blake3::Hasher::new_derive_key(context)
            .update(&material)
            .finalize_xof()
            .fill(&mut out)
    });
    Ok(PyBytes::new(py, &out))
}

/// The seq that entry ``n`` links to besides ``n - 1`` (DESIGN §2); 0 for n = 1.
///
/// >>> lipmaa(40)
/// 13
#[pyfunction]
#[pyo3(name = "lipmaa")]
fn lipmaa_link(n: &Bound<'_, PyAny>) -> PyResult<u64> {
    Ok(lipmaa::lipmaa(u64_arg(n, "n")?))
}

/// Shortest path of seqs from ``start`` down to ``end`` following prev/lipmaa links.
///
/// >>> lipmaa_path(40, 1)
/// [40, 13, 4, 1]
#[pyfunction]
fn lipmaa_path(start: &Bound<'_, PyAny>, end: &Bound<'_, PyAny>) -> PyResult<Vec<u64>> {
    Ok(lipmaa::shortest_path(
        u64_arg(start, "start")?,
        u64_arg(end, "end")?,
    )?)
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let names: Vec<&str> = Domain::ALL.iter().map(|d| d.name()).collect();
    m.add("DOMAINS", PyTuple::new(m.py(), names)?)?;
    m.add_function(wrap_pyfunction!(domain_hash, m)?)?;
    m.add_function(wrap_pyfunction!(blake3_raw, m)?)?;
    m.add_function(wrap_pyfunction!(blake3_derive_key, m)?)?;
    m.add_function(wrap_pyfunction!(lipmaa_link, m)?)?;
    m.add_function(wrap_pyfunction!(lipmaa_path, m)?)?;
    Ok(())
}

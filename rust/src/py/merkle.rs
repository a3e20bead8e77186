//! Merkle bindings, with the hash chosen by name (`"blake3"` or `"sha256"`).

use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::buf::{Buf, Many, id_arg};
use super::errors::invalid_argument;
use crate::Id;
use crate::merkle::{self, Blake3Tree, Sha256Tree, TreeHasher};

fn hasher(algorithm: &str) -> PyResult<&'static dyn TreeHasher> {
    match algorithm {
        "blake3" => Ok(&Blake3Tree),
        "sha256" => Ok(&Sha256Tree),
        other => Err(invalid_argument(format!(
            "unknown Merkle hash {other:?}: use \"blake3\" or \"sha256\""
        ))),
    }
}

fn leaf_hashes(h: &dyn TreeHasher, leaves: &[Buf]) -> Vec<Id> {
    leaves.iter().map(|l| h.leaf(l)).collect()
}

fn to_list<'py>(py: Python<'py>, hashes: &[Id]) -> Vec<Bound<'py, PyBytes>> {
    hashes.iter().map(|h| PyBytes::new(py, h)).collect()
}

/// Leaf hash of ``data`` (``algorithm`` is ``"blake3"`` or ``"sha256"``).
#[pyfunction]
#[pyo3(signature = (data, algorithm = "blake3"))]
fn merkle_leaf_hash<'py>(
    py: Python<'py>,
    data: Buf,
    algorithm: &str,
) -> PyResult<Bound<'py, PyBytes>> {
    Ok(PyBytes::new(py, &hasher(algorithm)?.leaf(&data)))
}

/// RFC 9162 root over the leaf data.
///
/// >>> merkle_root([b"a", b"b"], "sha256").hex()[:8]
/// 'b137985f'
#[pyfunction]
#[pyo3(signature = (leaves, algorithm = "blake3"))]
fn merkle_root<'py>(
    py: Python<'py>,
    leaves: Many<Buf>,
    algorithm: &str,
) -> PyResult<Bound<'py, PyBytes>> {
    let h = hasher(algorithm)?;
    let root = py.detach(|| merkle::root_from_hashes(h, &leaf_hashes(h, &leaves)));
    Ok(PyBytes::new(py, &root))
}

/// RFC 9162 root over already-hashed leaves.
#[pyfunction]
#[pyo3(signature = (leaf_hashes, algorithm = "blake3"))]
fn merkle_root_from_hashes<'py>(
    py: Python<'py>,
    leaf_hashes: Many<Buf>,
    algorithm: &str,
) -> PyResult<Bound<'py, PyBytes>> {
    let h = hasher(algorithm)?;
    let hashes = leaf_hashes
        .iter()
        .map(|l| id_arg(l, "leaf hash"))
        .collect::<PyResult<Vec<Id>>>()?;
    Ok(PyBytes::new(
        py,
        &py.detach(|| merkle::root_from_hashes(h, &hashes)),
    ))
}

/// Audit path for leaf ``index`` (RFC 9162 §2.1.3.1).
#[pyfunction]
#[pyo3(signature = (leaves, index, algorithm = "blake3"))]
fn merkle_inclusion_proof<'py>(
    py: Python<'py>,
    leaves: Many<Buf>,
    index: u64,
    algorithm: &str,
) -> PyResult<Vec<Bound<'py, PyBytes>>> {
    let h = hasher(algorithm)?;
    let proof = py.detach(|| merkle::inclusion_proof(h, &leaf_hashes(h, &leaves), index))?;
    Ok(to_list(py, &proof))
}

/// Check an inclusion proof (RFC 9162 §2.1.3.2); False on any mismatch or bad input.
#[pyfunction]
#[pyo3(signature = (leaf_hash, index, tree_size, proof, root, algorithm = "blake3"))]
fn merkle_verify_inclusion(
    leaf_hash: Buf,
    index: u64,
    tree_size: u64,
    proof: Many<Buf>,
    root: Buf,
    algorithm: &str,
) -> PyResult<bool> {
    let proof: Vec<&[u8]> = proof.iter().map(|p| &**p).collect();
    Ok(merkle::verify_inclusion(
        hasher(algorithm)?,
        &leaf_hash,
        index,
        tree_size,
        &proof,
        &root,
    ))
}

/// Consistency proof from the first ``old_size`` leaves to all of them (RFC 9162 §2.1.4.1).
#[pyfunction]
#[pyo3(signature = (leaves, old_size, algorithm = "blake3"))]
fn merkle_consistency_proof<'py>(
    py: Python<'py>,
    leaves: Many<Buf>,
    old_size: u64,
    algorithm: &str,
) -> PyResult<Vec<Bound<'py, PyBytes>>> {
    let h = hasher(algorithm)?;
    let proof = py.detach(|| merkle::consistency_proof(h, &leaf_hashes(h, &leaves), old_size))?;
    Ok(to_list(py, &proof))
}

/// Check a consistency proof (RFC 9162 §2.1.4.2); False on any mismatch or bad input.
#[pyfunction]
#[pyo3(signature = (old_size, new_size, old_root, new_root, proof, algorithm = "blake3"))]
fn merkle_verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: Buf,
    new_root: Buf,
    proof: Many<Buf>,
    algorithm: &str,
) -> PyResult<bool> {
    let proof: Vec<&[u8]> = proof.iter().map(|p| &**p).collect();
    Ok(merkle::verify_consistency(
        hasher(algorithm)?,
        old_size,
        new_size,
        &old_root,
        &new_root,
        &proof,
    ))
}

/// Check that leaf ``index`` is in the subtree ``[start, end)`` with hash ``root``.
#[pyfunction]
#[pyo3(signature = (leaf_hash, index, start, end, proof, root, algorithm = "blake3"))]
#[allow(clippy::too_many_arguments)]
fn merkle_verify_subtree_inclusion(
    leaf_hash: Buf,
    index: u64,
    start: u64,
    end: u64,
    proof: Many<Buf>,
    root: Buf,
    algorithm: &str,
) -> PyResult<bool> {
    let proof: Vec<&[u8]> = proof.iter().map(|p| &**p).collect();
    Ok(merkle::verify_subtree_inclusion(
        hasher(algorithm)?,
        &leaf_hash,
        index,
        start,
        end,
        &proof,
        &root,
    ))
}

/// Check that the subtree ``[start, end)`` with hash ``subtree_root`` is part of the tree
/// of ``size`` leaves with hash ``root`` (docs/format.md, "Subtree proofs").
#[pyfunction]
#[pyo3(signature = (start, end, size, subtree_root, root, proof, algorithm = "blake3"))]
#[allow(clippy::too_many_arguments)]
fn merkle_verify_subtree_consistency(
    start: u64,
    end: u64,
    size: u64,
    subtree_root: Buf,
    root: Buf,
    proof: Many<Buf>,
    algorithm: &str,
) -> PyResult<bool> {
    let proof: Vec<&[u8]> = proof.iter().map(|p| &**p).collect();
    Ok(merkle::verify_subtree_consistency(
        hasher(algorithm)?,
        start,
        end,
        size,
        &subtree_root,
        &root,
        &proof,
    ))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(merkle_leaf_hash, m)?)?;
    m.add_function(wrap_pyfunction!(merkle_root, m)?)?;
    m.add_function(wrap_pyfunction!(merkle_root_from_hashes, m)?)?;
    m.add_function(wrap_pyfunction!(merkle_inclusion_proof, m)?)?;
    m.add_function(wrap_pyfunction!(merkle_verify_inclusion, m)?)?;
    m.add_function(wrap_pyfunction!(merkle_consistency_proof, m)?)?;
    m.add_function(wrap_pyfunction!(merkle_verify_consistency, m)?)?;
    m.add_function(wrap_pyfunction!(merkle_verify_subtree_inclusion, m)?)?;
    m.add_function(wrap_pyfunction!(merkle_verify_subtree_consistency, m)?)?;
    Ok(())
}

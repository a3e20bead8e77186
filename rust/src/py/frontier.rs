//! Frontier-root bindings.

use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::buf::{Buf, Many, id_arg};
use super::errors::invalid_argument;
use crate::frontier::{self, FrontierItem};

/// `(peer, seq, id)` as Python passes it.
type ItemArg = (Buf, u64, Buf);

fn items(args: &[ItemArg]) -> PyResult<Vec<FrontierItem>> {
    args.iter()
        .map(|(peer, seq, id)| {
            Ok(FrontierItem {
                peer: id_arg(peer, "frontier peer")?,
                seq: *seq,
                id: id_arg(id, "frontier id")?,
            })
        })
        .collect()
}

/// Merkle root over a frontier: ``(peer, seq, id)`` items strictly ascending by peer.
///
/// >>> frontier_root([]) == hash("merkle empty", b"")
/// True
#[pyfunction]
fn frontier_root<'py>(py: Python<'py>, items: Many<ItemArg>) -> PyResult<Bound<'py, PyBytes>> {
    let items = self::items(&items)?;
    let root = frontier::root(&items).map_err(|e| invalid_argument(e.to_string()))?;
    Ok(PyBytes::new(py, &root))
}

/// Inclusion proof of item ``index`` in the frontier tree.
#[pyfunction]
fn frontier_inclusion_proof<'py>(
    py: Python<'py>,
    items: Many<ItemArg>,
    index: usize,
) -> PyResult<Vec<Bound<'py, PyBytes>>> {
    let items = self::items(&items)?;
    let proof =
        frontier::inclusion_proof(&items, index).map_err(|e| invalid_argument(e.to_string()))?;
    Ok(proof.iter().map(|h| PyBytes::new(py, h)).collect())
}

/// Check that ``item`` is leaf ``index`` of a frontier of ``size`` items with ``root``.
#[pyfunction]
fn frontier_verify_inclusion(
    item: ItemArg,
    index: u64,
    size: u64,
    proof: Many<Buf>,
    root: Buf,
) -> PyResult<bool> {
    let item = items(std::slice::from_ref(&item))?.remove(0);
    let (Some(root), Some(proof)) = (crate::merkle::as_id(&root), crate::merkle::ids(&proof))
    else {
        return Ok(false);
    };
    Ok(frontier::verify_inclusion(
        &item, index, size, &proof, &root,
    ))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(frontier_root, m)?)?;
    m.add_function(wrap_pyfunction!(frontier_inclusion_proof, m)?)?;
    m.add_function(wrap_pyfunction!(frontier_verify_inclusion, m)?)?;
    Ok(())
}

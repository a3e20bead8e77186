//! Bindings of the mod-2⁶⁴ thin products of Freivalds' check (DESIGN §12): numpy matrices in
//! (copied once, under the GIL, into a buffer this thread keeps for the next call: a fresh
//! allocation of a big matrix costs more in page faults than the product itself), the work
//! done on every core with the GIL released, results as little-endian bytes.

use std::cell::RefCell;
use std::thread::LocalKey;

use pyo3::buffer::{Element, PyBuffer};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::buf::Buf;
use super::errors::{invalid_argument, usize_arg};
use crate::thin::{self, ThinError};

fn error(e: ThinError) -> PyErr {
    invalid_argument(e.to_string())
}

thread_local! {
    /// The copy of the last big matrix this thread took, kept for its pages.
    static WORDS: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

fn buffer<T: Element>(obj: &Bound<'_, PyAny>, what: &str, dtype: &str) -> PyResult<PyBuffer<T>> {
    let buffer = PyBuffer::<T>::get(obj).map_err(|e| {
        invalid_argument(format!(
            "{what} must be a {dtype} matrix (a numpy array): {e}"
        ))
    })?;
    if buffer.dimensions() != 2 || !buffer.is_c_contiguous() {
        return Err(invalid_argument(format!(
            "{what} must be a C-contiguous 2-D {dtype} matrix, not {}-D",
            buffer.dimensions()
        )));
    }
    Ok(buffer)
}

/// A 2-D matrix copied into this thread's kept buffer; `work` runs on it with the GIL
/// released, and the buffer is kept again afterwards.
fn with_big<T: Element + Copy + Default + Send + Sync, R: Send>(
    py: Python<'_>,
    kept: &'static LocalKey<RefCell<Vec<T>>>,
    obj: &Bound<'_, PyAny>,
    what: &str,
    dtype: &str,
    work: impl FnOnce(&[T], usize, usize) -> R + Send,
) -> PyResult<R> {
    let buffer = buffer::<T>(obj, what, dtype)?;
    let shape = buffer.shape();
    let (rows, cols) = (shape[0], shape[1]);
    let mut scratch = kept.with(|s| std::mem::take(&mut *s.borrow_mut()));
    scratch.clear();
    scratch.resize(buffer.item_count(), T::default());
    let copied = buffer.copy_to_slice(py, &mut scratch);
    let out = copied.map(|()| py.detach(|| work(&scratch, rows, cols)));
    kept.with(|s| *s.borrow_mut() = scratch);
    out
}

fn le_bytes<'py, const N: usize>(
    py: Python<'py>,
    values: impl Iterator<Item = [u8; N]>,
) -> Bound<'py, PyBytes> {
    let raw: Vec<u8> = values.flatten().collect();
    PyBytes::new(py, &raw)
}

/// ``rows · c`` mod 2⁶⁴: ``rows`` are ``k`` rows of 0/1 bytes (``k × m``, row-major),
/// ``c`` an ``m × n`` ``uint64`` matrix; ``k × n`` little-endian ``uint64`` values.
///
/// >>> import numpy as np
/// >>> c = np.array([[1, 2], [3, 4]], dtype=np.uint64)
/// >>> np.frombuffer(thin_select_sum(bytes([1, 1]), 1, c), dtype="<u8").tolist()
/// [4, 6]
#[pyfunction]
fn thin_select_sum<'py>(
    py: Python<'py>,
    rows: Buf,
    k: &Bound<'_, PyAny>,
    c: &Bound<'_, PyAny>,
) -> PyResult<Bound<'py, PyBytes>> {
    let k = usize_arg(k, "k")?;
    let rows: Vec<u8> = rows.to_vec();
    let sum = with_big(py, &WORDS, c, "c", "uint64", |values, m, n| {
        thin::select_sum(&rows, k, values, m, n)
    })?
    .map_err(error)?;
    Ok(le_bytes(py, sum.iter().map(|v| v.to_le_bytes())))
}

/// ``x · b`` mod 2⁶⁴ for ``uint64`` matrices ``x`` (``k × n``) and ``b`` (``n × p``);
/// ``k × p`` little-endian ``uint64`` values.
///
/// >>> import numpy as np
/// >>> b = np.array([[1, 2], [3, 4]], dtype=np.uint64)
/// >>> x = np.array([[2**64 - 1, 1]], dtype=np.uint64)
/// >>> np.frombuffer(thin_product(x, b), dtype="<u8").tolist()
/// [2, 2]
#[pyfunction]
fn thin_product<'py>(
    py: Python<'py>,
    x: &Bound<'_, PyAny>,
    b: &Bound<'_, PyAny>,
) -> PyResult<Bound<'py, PyBytes>> {
    let small = buffer::<u64>(x, "x", "uint64")?;
    let (k, n) = (small.shape()[0], small.shape()[1]);
    let xs = small.to_vec(py)?;
    // (a b of other than n rows holds other than n × p values: the core refuses it)
    let product = with_big(py, &WORDS, b, "b", "uint64", |bs, _rows, p| {
        thin::thin_product(&xs, k, bs, n, p)
    })?
    .map_err(error)?;
    Ok(le_bytes(py, product.iter().map(|v| v.to_le_bytes())))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(thin_select_sum, m)?)?;
    m.add_function(wrap_pyfunction!(thin_product, m)?)?;
    Ok(())
}

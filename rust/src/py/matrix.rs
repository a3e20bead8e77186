//! The matrix kernel as a Python class, visible to numpy without a copy.

use std::ffi::{CStr, c_int};
use std::os::raw::c_void;

use pyo3::exceptions::PyBufferError;
use pyo3::ffi;
use pyo3::prelude::*;

use super::buf::Many;
use super::errors::{invalid_argument, usize_arg};
use crate::matrix::Matrix;

/// numpy format code of a native-endian u64 (struct module syntax).
const FORMAT_U64: &CStr = c"Q";
const CELL_LEN: isize = std::mem::size_of::<u64>() as isize;

/// The N×N entanglement-matrix kernel (DESIGN §4): rows observers, columns senders.
///
/// Cells only grow. numpy sees the cells without a copy: ``numpy.asarray(m)`` is a live,
/// read-only N×N ``uint64`` view indexed ``[observer, sender]``.
///
/// >>> m = Matrix(3)
/// >>> m.update_row(0, [(0, 2), (1, 1)])
/// 2
/// >>> m.known_to_quorum_indexed(2)
/// [0, 0, 0]
///
/// Its answers are lists by peer position; :class:`lattice.EntanglementMatrix` has the
/// same queries keyed by peer (``known_to_quorum`` and ``known_to_all``, dicts).
#[pyclass(frozen, module = "lattice._lattice", name = "Matrix")]
pub(crate) struct PyMatrix {
    inner: Matrix,
    // Shape and strides handed to buffer consumers; they live as long as the object, and
    // every exported view holds a reference to it.
    shape: [ffi::Py_ssize_t; 2],
    strides: [ffi::Py_ssize_t; 2],
}

#[pymethods]
impl PyMatrix {
    #[new]
    fn new(n: &Bound<'_, PyAny>) -> PyResult<Self> {
        let n = usize_arg(n, "n")?;
        let inner = Matrix::new(n)?;
        let n = n as isize;
        Ok(PyMatrix {
            inner,
            shape: [n, n],
            // Column-major cells: stepping one observer (row) is one cell, one sender
            // (column) is n cells.
            strides: [CELL_LEN, CELL_LEN * n],
        })
    }

    /// Number of peers (rows and columns).
    #[getter]
    fn n(&self) -> usize {
        self.inner.n()
    }

    /// The cell ``[observer, sender]``: the highest seq of ``sender`` that
    /// ``observer`` has provably seen.
    fn get(&self, observer: usize, sender: usize) -> PyResult<u64> {
        Ok(self.inner.get(observer, sender)?)
    }

    /// Raise cells of one row to at least the given seqs; returns how many grew. O(delta).
    // Row updates keep the GIL: they are O(delta), and holding it means no numpy reader
    // runs while a cell changes.
    fn update_row(&self, observer: usize, delta: Many<(usize, u64)>) -> PyResult<usize> {
        Ok(self.inner.update_row(observer, &delta)?)
    }

    /// Cap ``sender``'s column at ``cap`` for good (a proven fork, DESIGN §4): cells
    /// above it are lowered, later updates are capped. Returns how many cells were lowered.
    fn freeze(&self, sender: usize, cap: u64) -> PyResult<usize> {
        Ok(self.inner.freeze(sender, cap)?)
    }

    /// The cap of ``sender``'s column if it is frozen.
    fn frozen_at(&self, sender: usize) -> PyResult<Option<u64>> {
        Ok(self.inner.frozen_at(sender)?)
    }

    /// What ``observer`` has provably seen of every sender.
    fn row(&self, observer: usize) -> PyResult<Vec<u64>> {
        Ok(self.inner.row(observer)?)
    }

    /// What every observer has provably seen of ``sender``.
    fn column(&self, sender: usize) -> PyResult<Vec<u64>> {
        Ok(self.inner.column(sender)?)
    }

    /// Per sender position, the minimum over observers.
    fn known_to_all_indexed(&self, py: Python<'_>) -> Vec<u64> {
        py.detach(|| self.inner.known_to_all())
    }

    /// Per sender position, the ``q``-th largest value over observers (1 ≤ q ≤ N).
    #[pyo3(signature = (q, *, threads = None))]
    fn known_to_quorum_indexed(
        &self,
        py: Python<'_>,
        q: usize,
        threads: Option<usize>,
    ) -> PyResult<Vec<u64>> {
        Ok(py.detach(|| self.inner.known_to_quorum(q, threads))?)
    }

    /// Deprecated: :meth:`known_to_all_indexed` (lattice 0.2 removes this name).
    fn known_to_all(&self, py: Python<'_>) -> PyResult<Vec<u64>> {
        renamed(py, "known_to_all()", "known_to_all_indexed()")?;
        Ok(self.known_to_all_indexed(py))
    }

    /// Deprecated: :meth:`known_to_quorum_indexed` (lattice 0.2 removes this name).
    #[pyo3(signature = (q, *, threads = None))]
    fn known_to_quorum(
        &self,
        py: Python<'_>,
        q: usize,
        threads: Option<usize>,
    ) -> PyResult<Vec<u64>> {
        renamed(py, "known_to_quorum(q)", "known_to_quorum_indexed(q)")?;
        self.known_to_quorum_indexed(py, q, threads)
    }

    /// How many observers have seen ``sender``'s entry ``seq``.
    fn acceptance(&self, sender: usize, seq: u64) -> PyResult<usize> {
        Ok(self.inner.acceptance(sender, seq)?)
    }

    /// The live, read-only N×N ``uint64`` view (no copy), indexed ``[observer, sender]``.
    fn to_numpy<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        slf.py().import("numpy")?.call_method1("asarray", (slf,))
    }

    fn __repr__(&self) -> String {
        format!("Matrix(n={})", self.inner.n())
    }

    /// Export the cells read-only as an N×N u64 array (Fortran order).
    unsafe fn __getbuffer__(
        slf: Bound<'_, Self>,
        view: *mut ffi::Py_buffer,
        flags: c_int,
    ) -> PyResult<()> {
        if view.is_null() {
            return Err(PyBufferError::new_err("null view"));
        }
        if flags & ffi::PyBUF_WRITABLE == ffi::PyBUF_WRITABLE {
            return Err(PyBufferError::new_err(
                "the matrix is read-only: cells only grow through update_row",
            ));
        }
        if flags & ffi::PyBUF_STRIDES != ffi::PyBUF_STRIDES && slf.get().inner.n() > 1 {
            return Err(PyBufferError::new_err(
                "the matrix is column-major: the consumer must accept strides",
            ));
        }
        let this = slf.get();
        let n = this.inner.n();
        // SAFETY: `view` is non-null and points to a Py_buffer the caller owns. Every pointer
        // stored in it (cells, shape, strides, format) lives inside `this` or is static, and
        // `obj` keeps `this` alive until the view is released. The cells are AtomicU64, laid
        // out exactly as u64; they are only written by update_row, which holds the GIL, so a
        // reader holding the GIL never sees a torn or concurrent write.
        unsafe {
            (*view).buf = this.inner.as_ptr() as *mut c_void;
            (*view).obj = slf.clone().into_any().into_ptr();
            (*view).len = (n * n) as isize * CELL_LEN;
            (*view).readonly = 1;
            (*view).itemsize = CELL_LEN;
            (*view).format = if flags & ffi::PyBUF_FORMAT == ffi::PyBUF_FORMAT {
                FORMAT_U64.as_ptr() as *mut _
            } else {
                std::ptr::null_mut()
            };
            (*view).ndim = 2;
            (*view).shape = this.shape.as_ptr() as *mut _;
            (*view).strides = this.strides.as_ptr() as *mut _;
            (*view).suboffsets = std::ptr::null_mut();
            (*view).internal = std::ptr::null_mut();
        }
        Ok(())
    }

    unsafe fn __releasebuffer__(&self, _view: *mut ffi::Py_buffer) {
        // Nothing to free: every pointer in the view belongs to the matrix or is static.
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyMatrix>()
}

// The kernel's answers are lists by peer position; `EntanglementMatrix` has the methods of
// the same name, keyed by peer: one name, one contract (the old names warn until 0.2).
fn renamed(py: Python<'_>, old: &str, new: &str) -> PyResult<()> {
    let message = format!(
        "Matrix.{old} is now Matrix.{new} (a list by peer position; \
         EntanglementMatrix.{old} gives a dict by peer key); the old name goes in lattice 0.2"
    );
    let message = std::ffi::CString::new(message).map_err(|e| invalid_argument(e.to_string()))?;
    PyErr::warn(
        py,
        &py.get_type::<pyo3::exceptions::PyDeprecationWarning>(),
        &message,
        1,
    )
}

//! Bindings of the text kernel (`crate::text`): `lattice._lattice.TextKernel`.
//!
//! Elements cross as `(entry, index)` tuples; a batch of ops is converted first and then
//! applied with the GIL released.

use pyo3::exceptions::PyIndexError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple};

use super::buf::{Buf, Many, id_arg};
use super::errors::{At, invalid_argument, lattice_error};
use crate::text::{Elem, Sequence, TextError, TextOp};

/// Batches at least this long are applied with the GIL released.
const RELEASE_GIL_OPS: usize = 64;

type ElemArg = (Buf, u32);
/// The characters of `text`; ASCII (most text) widened byte by byte, which the compiler
/// vectorises, instead of decoded as UTF-8.
fn chars_of(text: &str) -> Vec<char> {
    if text.is_ascii() {
        text.bytes().map(char::from).collect()
    } else {
        text.chars().collect()
    }
}

/// An element as Python gets it.
type PyElem<'py> = (Bound<'py, PyBytes>, u32);

fn elem(arg: &ElemArg) -> PyResult<Elem> {
    Ok(Elem {
        entry: id_arg(&arg.0, "an element's entry")?,
        index: arg.1,
    })
}

fn to_py<'py>(py: Python<'py>, e: &Elem) -> PyElem<'py> {
    (PyBytes::new(py, &e.entry), e.index)
}

fn runs_to_py<'py>(py: Python<'py>, runs: &[(Elem, u32)]) -> Vec<(PyElem<'py>, u32)> {
    runs.iter().map(|(e, n)| (to_py(py, e), *n)).collect()
}

fn text_error(e: TextError, index: Option<usize>) -> PyErr {
    match e {
        TextError::OutOfRange { .. } => PyIndexError::new_err(e.to_string()),
        TextError::NotATree(_) => lattice_error("NonCanonical", e.to_string(), At::default()),
        _ => lattice_error(
            "InvalidArgument",
            e.to_string(),
            At {
                index,
                ..At::default()
            },
        ),
    }
}

/// The order of one document text (DESIGN §9): a Fugue tree kept as runs of its in-order
/// walk, with O(log n) index ↔ element maps. ``lattice.state.text.Sequence`` wraps it;
/// elements are ``(entry, index)`` tuples.
///
/// >>> k = TextKernel()
/// >>> k.insert(None, 1, (bytes(32), 0), "helo")
/// >>> parent, side = k.place(3)
/// >>> k.insert(parent, side, (bytes(32), 4), "l")
/// >>> str(k), len(k), k.index_of((bytes(32), 4))
/// ('hello', 5, 3)
#[pyclass(module = "lattice._lattice", name = "TextKernel")]
#[derive(Default)]
pub(crate) struct TextKernel {
    inner: Sequence,
}

#[pymethods]
impl TextKernel {
    #[new]
    fn new() -> Self {
        Self::default()
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    fn __str__(&self) -> String {
        self.inner.text()
    }

    /// Every element, tombstones included.
    #[getter]
    fn total(&self) -> usize {
        self.inner.total()
    }

    /// The visible characters ``start:end``.
    fn slice(&self, start: usize, end: usize) -> PyResult<String> {
        self.inner
            .slice(start, end)
            .map_err(|e| text_error(e, None))
    }

    /// Whether all of ``count`` elements from ``first`` are in this text.
    #[pyo3(signature = (first, count = 1))]
    fn contains(&self, first: ElemArg, count: u32) -> PyResult<bool> {
        Ok(self.inner.contains_run(&elem(&first)?, count))
    }

    /// Insert ``text`` as a run: ``first`` under ``parent`` (None: the root) on ``side``.
    fn insert(
        &mut self,
        parent: Option<ElemArg>,
        side: u8,
        first: ElemArg,
        text: &str,
    ) -> PyResult<()> {
        let parent = parent.as_ref().map(elem).transpose()?;
        let chars = chars_of(text);
        self.inner
            .insert(parent, side, elem(&first)?, &chars)
            .map_err(|e| text_error(e, None))
    }

    /// Type ``text`` at visible ``index`` as a run from ``first``; returns where it went,
    /// ``(parent, side)`` (:meth:`place` and :meth:`insert` in one call).
    fn type_at<'py>(
        &mut self,
        py: Python<'py>,
        index: usize,
        first: ElemArg,
        text: &str,
    ) -> PyResult<(Option<PyElem<'py>>, u8)> {
        let chars = chars_of(text);
        let (parent, side) = self
            .inner
            .type_at(index, elem(&first)?, &chars)
            .map_err(|e| text_error(e, None))?;
        Ok((parent.map(|p| to_py(py, &p)), side))
    }

    /// Delete ``count`` elements from ``first``; returns how many were still there.
    fn delete(&mut self, first: ElemArg, count: u32) -> PyResult<usize> {
        self.inner
            .delete(elem(&first)?, count)
            .map_err(|e| text_error(e, None))
    }

    /// Apply a batch: ``(0, parent, side, first, text)`` inserts and ``(1, first, count)``
    /// deletes, in one call. A refusal raises ``InvalidArgument`` with ``index`` set to
    /// the op's position (the ops before it stay applied).
    fn apply(&mut self, py: Python<'_>, ops: Many<Bound<'_, PyTuple>>) -> PyResult<()> {
        let mut batch = Vec::with_capacity(ops.len());
        for op in ops.iter() {
            let tag: u8 = op.get_item(0)?.extract()?;
            batch.push(match tag {
                0 => {
                    let (_, parent, side, first, text): (u8, Option<ElemArg>, u8, ElemArg, String) =
                        op.extract()?;
                    TextOp::Insert {
                        parent: parent.as_ref().map(elem).transpose()?,
                        side,
                        first: elem(&first)?,
                        text: chars_of(&text),
                    }
                }
                1 => {
                    let (_, first, count): (u8, ElemArg, u32) = op.extract()?;
                    TextOp::Delete {
                        first: elem(&first)?,
                        count,
                    }
                }
                other => return Err(invalid_argument(format!("unknown text op tag {other}"))),
            });
        }
        let inner = &mut self.inner;
        let result = if batch.len() >= RELEASE_GIL_OPS {
            py.detach(|| inner.apply(&batch))
        } else {
            inner.apply(&batch)
        };
        result.map_err(|(i, e)| text_error(e, Some(i)))
    }

    /// Delete the visible characters ``start:end``; returns them as ``(first element,
    /// count)`` runs (:meth:`visible_runs` and :meth:`delete` in one call).
    fn erase<'py>(
        &mut self,
        py: Python<'py>,
        start: usize,
        end: usize,
    ) -> PyResult<Vec<(PyElem<'py>, u32)>> {
        let runs = self
            .inner
            .erase(start, end)
            .map_err(|e| text_error(e, None))?;
        Ok(runs_to_py(py, &runs))
    }

    /// Where an insert at visible ``index`` goes: ``(parent, side)``.
    fn place<'py>(&self, py: Python<'py>, index: usize) -> PyResult<(Option<PyElem<'py>>, u8)> {
        let (parent, side) = self.inner.place(index).map_err(|e| text_error(e, None))?;
        Ok((parent.map(|p| to_py(py, &p)), side))
    }

    /// Where an insert right after ``left`` goes (None: the start).
    fn place_after<'py>(
        &self,
        py: Python<'py>,
        left: Option<ElemArg>,
    ) -> PyResult<(Option<PyElem<'py>>, u8)> {
        let left = left.as_ref().map(elem).transpose()?;
        let (parent, side) = self
            .inner
            .place_after(left)
            .map_err(|e| text_error(e, None))?;
        Ok((parent.map(|p| to_py(py, &p)), side))
    }

    /// The insert op that starts at ``first``: ``(parent, side, text)``, or None.
    fn insert_op<'py>(
        &self,
        py: Python<'py>,
        first: ElemArg,
    ) -> PyResult<Option<(Option<PyElem<'py>>, u8, String)>> {
        let found = self.inner.insert_op(&elem(&first)?);
        Ok(found.map(|(p, side, text)| (p.map(|p| to_py(py, &p)), side, text)))
    }

    /// ``(char, deleted)`` of ``element``, or None if it is not in this text.
    fn node(&self, element: ElemArg) -> PyResult<Option<(char, bool)>> {
        Ok(self.inner.node(&elem(&element)?))
    }

    /// The visible index of ``element`` (a deleted one: of the next character there).
    fn index_of(&self, element: ElemArg) -> PyResult<usize> {
        self.inner
            .index_of(&elem(&element)?)
            .map_err(|e| text_error(e, None))
    }

    /// The visible characters ``start:end`` as ``(first element, count)`` runs.
    fn visible_runs<'py>(
        &self,
        py: Python<'py>,
        start: usize,
        end: usize,
    ) -> PyResult<Vec<(PyElem<'py>, u32)>> {
        let runs = self
            .inner
            .visible_runs(start, end)
            .map_err(|e| text_error(e, None))?;
        Ok(runs_to_py(py, &runs))
    }

    /// Every element in text order: ``(element, char, parent, side, deleted)``.
    #[allow(clippy::type_complexity)]
    fn nodes<'py>(
        &self,
        py: Python<'py>,
    ) -> Vec<(
        (Bound<'py, PyBytes>, u32),
        char,
        Option<(Bound<'py, PyBytes>, u32)>,
        u8,
        bool,
    )> {
        self.inner
            .nodes()
            .iter()
            .map(|(e, c, p, side, deleted)| {
                (
                    to_py(py, e),
                    *c,
                    p.as_ref().map(|p| to_py(py, p)),
                    *side,
                    *deleted,
                )
            })
            .collect()
    }

    /// The nodes as the document state encodes them (docs/format.md).
    fn encode_nodes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        let mut out = Vec::with_capacity(self.inner.total() * 48);
        self.inner.encode_nodes(&mut out);
        PyBytes::new(py, &out)
    }

    /// A text from its nodes, in any order; ``NonCanonical`` unless they form one tree.
    #[staticmethod]
    #[allow(clippy::type_complexity)]
    fn from_nodes(nodes: Many<(ElemArg, char, Option<ElemArg>, u8, bool)>) -> PyResult<Self> {
        let nodes = nodes
            .iter()
            .map(|(e, c, p, side, deleted)| {
                Ok((
                    elem(e)?,
                    *c,
                    p.as_ref().map(elem).transpose()?,
                    *side,
                    *deleted,
                ))
            })
            .collect::<PyResult<Vec<_>>>()?;
        let inner = Sequence::from_nodes(&nodes).map_err(|e| text_error(e, None))?;
        Ok(Self { inner })
    }

    /// Start recording what :meth:`rollback` undoes.
    fn mark(&mut self) {
        self.inner.mark();
    }

    /// Keep everything since the mark.
    fn release(&mut self) {
        self.inner.release();
    }

    /// Undo everything since the mark.
    fn rollback(&mut self) -> PyResult<()> {
        self.inner.rollback().map_err(|e| text_error(e, None))
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<TextKernel>()?;
    Ok(())
}

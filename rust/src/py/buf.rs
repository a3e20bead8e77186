//! Bytes-like inputs: `bytes` without a copy, anything else with the buffer protocol
//! (`bytearray`, `memoryview`, numpy arrays) copied once.

use std::ops::Deref;

use pyo3::buffer::PyBuffer;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::PyBytes;

/// A bytes-like argument.
pub(crate) enum Buf {
    Bytes(PyBackedBytes),
    Copied(Vec<u8>),
}

impl Deref for Buf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Buf::Bytes(b) => b,
            Buf::Copied(v) => v,
        }
    }
}

impl AsRef<[u8]> for Buf {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl<'a, 'py> FromPyObject<'a, 'py> for Buf {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        if let Ok(bytes) = obj.cast::<PyBytes>() {
            return Ok(Buf::Bytes(PyBackedBytes::from(bytes.to_owned())));
        }
        let buffer = PyBuffer::<u8>::get(&obj).map_err(|_| {
            pyo3::exceptions::PyTypeError::new_err(format!(
                "expected a bytes-like object, got {}",
                obj.get_type()
                    .name()
                    .map_or_else(|_| "?".to_owned(), |n| n.to_string())
            ))
        })?;
        Ok(Buf::Copied(buffer.to_vec(obj.py())?))
    }
}

/// A 32-byte id, key or hash argument.
pub(crate) fn id_arg(buf: &[u8], what: &'static str) -> PyResult<crate::Id> {
    buf.try_into().map_err(|_| {
        super::errors::invalid_argument(format!(
            "{what} must be {} bytes, got {}",
            crate::ID_LEN,
            buf.len()
        ))
    })
}

/// True for an object with the buffer protocol over bytes: `bytes`, `bytearray`,
/// `memoryview`, `array.array('B')`, a numpy `uint8` array, an `mmap`.
pub(crate) fn is_bytes_like(obj: &Bound<'_, PyAny>) -> bool {
    obj.cast::<PyBytes>().is_ok() || PyBuffer::<u8>::get(obj).is_ok()
}

/// Capacity reserved up front for a `Many`: a length an object reports is only a hint.
const MANY_CAPACITY_HINT: usize = 4096;

/// A sequence argument: a list, a tuple or any other ordered iterable (a generator too).
/// Refused with `InvalidArgument` (never a bare `TypeError`): a `str` or a bytes-like
/// object (whose items are characters or integers, not items), a `set` or a `dict` (no
/// order to pair items by), and anything that is not iterable.
pub(crate) struct Many<T>(pub Vec<T>);

impl<T> Deref for Many<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.0
    }
}

impl<'py, T> FromPyObject<'_, 'py> for Many<T>
where
    T: pyo3::conversion::FromPyObjectOwned<'py>,
{
    type Error = PyErr;

    fn extract(obj: Borrowed<'_, 'py, PyAny>) -> PyResult<Self> {
        use pyo3::types::{PyDict, PyFrozenSet, PySet, PyString};
        let kind = || {
            obj.get_type()
                .name()
                .map_or_else(|_| "?".to_owned(), |n| n.to_string())
        };
        if obj.is_instance_of::<PyString>() || is_bytes_like(&obj) {
            return Err(super::errors::invalid_argument(format!(
                "expected an iterable of items, got one {}",
                kind()
            )));
        }
        if obj.is_instance_of::<PySet>()
            || obj.is_instance_of::<PyFrozenSet>()
            || obj.is_instance_of::<PyDict>()
        {
            return Err(super::errors::invalid_argument(format!(
                "expected an ordered iterable (a list, a tuple, a generator), got a {}",
                kind()
            )));
        }
        let items = obj.try_iter().map_err(|_| {
            super::errors::invalid_argument(format!("expected an iterable, got {}", kind()))
        })?;
        let hint = obj.len().unwrap_or(0).min(MANY_CAPACITY_HINT);
        let mut out = Vec::with_capacity(hint);
        for item in items {
            out.push(item?.extract::<T>().map_err(Into::into)?);
        }
        Ok(Many(out))
    }
}

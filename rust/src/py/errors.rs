//! The one place where the core's error enums become `lattice.errors` exceptions.
//!
//! The exception classes are Python classes (python/lattice/errors.py); Rust looks them up by
//! name and fills in where the failure happened (`index`, `author`, `seq`).

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyInt};

use crate::Id;
use crate::chain::{ChainError, ChainFailure};
use crate::codec::DecodeError;
use crate::lipmaa::LipmaaError;
use crate::matrix::MatrixError;
use crate::merkle::MerkleError;
use crate::sign::SignError;

/// Where a failure happened, for the exception's attributes.
#[derive(Default, Clone, Copy)]
pub(crate) struct At {
    pub index: Option<usize>,
    pub author: Option<Id>,
    pub seq: Option<u64>,
}

/// An instance of `lattice.errors.<class>` with `message` and `at`.
pub(crate) fn error_value<'py>(
    py: Python<'py>,
    class: &str,
    message: &str,
    at: At,
) -> PyResult<Bound<'py, PyAny>> {
    let kwargs = PyDict::new(py);
    kwargs.set_item("index", at.index)?;
    kwargs.set_item("author", at.author.map(|a| PyBytes::new(py, &a)))?;
    kwargs.set_item("seq", at.seq)?;
    py.import("lattice.errors")?
        .getattr(class)?
        .call((message,), Some(&kwargs))
}

/// A `PyErr` of `lattice.errors.<class>`.
pub(crate) fn lattice_error(class: &str, message: impl AsRef<str>, at: At) -> PyErr {
    Python::attach(|py| match error_value(py, class, message.as_ref(), at) {
        Ok(value) => PyErr::from_value(value),
        Err(import_failure) => PyRuntimeError::new_err(format!(
            "{} (and lattice.errors.{class} could not be raised: {import_failure})",
            message.as_ref()
        )),
    })
}

/// `lattice.errors.InvalidArgument` (a `ValueError`).
pub(crate) fn invalid_argument(message: impl AsRef<str>) -> PyErr {
    lattice_error("InvalidArgument", message, At::default())
}

/// An integer argument as `u64`: `InvalidArgument` if it is not an int, `LimitExceeded`
/// if it does not fit (never a bare `OverflowError` or `TypeError`).
pub(crate) fn u64_arg(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<u64> {
    if !obj.is_instance_of::<PyInt>() {
        return Err(invalid_argument(format!(
            "{what} must be an int, not {}",
            obj.get_type()
        )));
    }
    obj.extract::<u64>().map_err(|_| {
        lattice_error(
            "LimitExceeded",
            format!("{what} must be in 0..2^64, got {obj}"),
            At::default(),
        )
    })
}

/// An integer argument as `usize` (a count or an index), typed errors as [`u64_arg`].
pub(crate) fn usize_arg(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<usize> {
    let value = u64_arg(obj, what)?;
    usize::try_from(value).map_err(|_| {
        lattice_error(
            "LimitExceeded",
            format!("{what} {value} is too large"),
            At::default(),
        )
    })
}

pub(crate) fn decode_class(e: &DecodeError) -> &'static str {
    match e {
        DecodeError::Truncated { .. } => "Truncated",
        DecodeError::TrailingBytes { .. } => "TrailingBytes",
        DecodeError::UnknownVersion(_) => "UnknownVersion",
        DecodeError::UnknownKind(_) => "UnknownKind",
        DecodeError::LimitExceeded { .. } => "LimitExceeded",
        DecodeError::NonCanonical(_) => "NonCanonical",
        DecodeError::PayloadMismatch => "PayloadMismatch",
        DecodeError::DepsMismatch => "DepsMismatch",
    }
}

impl From<DecodeError> for PyErr {
    fn from(e: DecodeError) -> PyErr {
        lattice_error(decode_class(&e), e.to_string(), At::default())
    }
}

impl From<SignError> for PyErr {
    fn from(e: SignError) -> PyErr {
        let (class, at) = match &e {
            SignError::BadLength { index, .. } => (
                "DecodeError",
                At {
                    index: Some(*index),
                    ..At::default()
                },
            ),
            SignError::BatchShape { .. } => ("DecodeError", At::default()),
            SignError::NotAPoint | SignError::SmallOrder => ("InvalidKey", At::default()),
            SignError::Random(_) => ("LatticeError", At::default()),
        };
        lattice_error(class, e.to_string(), at)
    }
}

/// The exception class and location of a chain failure.
pub(crate) fn chain_class(e: &ChainError) -> (&'static str, At) {
    let class = match &e.failure {
        ChainFailure::Decode(d) => decode_class(d),
        ChainFailure::WrongAuthor => "WrongAuthor",
        ChainFailure::WrongSwarm => "WrongSwarm",
        ChainFailure::SeqGap { .. } => "SeqGap",
        ChainFailure::LamportNotIncreasing { .. } => "LamportNotIncreasing",
        ChainFailure::BrokenPrev { .. } => "BrokenPrev",
        ChainFailure::BrokenLipmaa { .. } => "BrokenLipmaa",
        ChainFailure::UnresolvedLink { .. } => "UnresolvedLink",
        ChainFailure::BadSignature => "InvalidSignature",
    };
    (
        class,
        At {
            index: Some(e.index),
            author: e.author,
            seq: e.seq,
        },
    )
}

impl From<MerkleError> for PyErr {
    fn from(e: MerkleError) -> PyErr {
        lattice_error("OutOfRange", e.to_string(), At::default())
    }
}

impl From<MatrixError> for PyErr {
    fn from(e: MatrixError) -> PyErr {
        let class = match &e {
            MatrixError::IndexOutOfRange { .. } => "OutOfRange",
            MatrixError::QuorumOutOfRange { .. } | MatrixError::TooLarge { .. } => {
                "InvalidArgument"
            }
        };
        lattice_error(class, e.to_string(), At::default())
    }
}

impl From<LipmaaError> for PyErr {
    fn from(e: LipmaaError) -> PyErr {
        invalid_argument(e.to_string())
    }
}

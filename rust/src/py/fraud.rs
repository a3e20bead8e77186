//! Fraud-proof bindings (DESIGN §5).

use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::buf::{Buf, id_arg};
use super::entry::PyEntry;
use super::errors::{At, lattice_error};
use crate::codec::SignedHeader;
use crate::fraud::{FRAUD_PROOF_LEN, FraudError, FraudProof};

/// Two signed headers of one author at one seq with different ids.
#[pyclass(frozen, module = "lattice._lattice", name = "FraudProof")]
pub(crate) struct PyFraudProof {
    inner: FraudProof,
}

impl From<&PyFraudProof> for At {
    fn from(p: &PyFraudProof) -> At {
        At {
            index: None,
            author: Some(*p.inner.author()),
            seq: Some(p.inner.seq()),
        }
    }
}

fn fraud_error(proof: &PyFraudProof, e: &FraudError) -> PyErr {
    lattice_error("InvalidFraudProof", e.to_string(), proof.into())
}

#[pymethods]
impl PyFraudProof {
    #[staticmethod]
    fn from_bytes(data: Buf) -> PyResult<Self> {
        Ok(PyFraudProof {
            inner: FraudProof::decode(&data)?,
        })
    }

    #[staticmethod]
    fn from_headers(a: Buf, b: Buf) -> PyResult<Self> {
        Ok(PyFraudProof {
            inner: FraudProof::new(SignedHeader::decode(&a)?, SignedHeader::decode(&b)?),
        })
    }

    #[staticmethod]
    fn from_entries(a: &PyEntry, b: &PyEntry) -> Self {
        PyFraudProof {
            inner: FraudProof::new(a.signed().clone(), b.signed().clone()),
        }
    }

    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.encode())
    }

    fn verify(&self, swarm_id: Buf) -> PyResult<bool> {
        let swarm = id_arg(&swarm_id, "swarm_id")?;
        Ok(self.inner.check(&swarm).is_ok())
    }

    fn check(&self, swarm_id: Buf) -> PyResult<()> {
        let swarm = id_arg(&swarm_id, "swarm_id")?;
        self.inner.check(&swarm).map_err(|e| fraud_error(self, &e))
    }

    #[getter]
    fn author<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.inner.author())
    }
    #[getter]
    fn seq(&self) -> u64 {
        self.inner.seq()
    }
    #[getter]
    fn swarm<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.inner.swarm())
    }
    #[getter]
    fn ids<'py>(&self, py: Python<'py>) -> (Bound<'py, PyBytes>, Bound<'py, PyBytes>) {
        let [a, b] = self.inner.headers();
        (PyBytes::new(py, &a.id), PyBytes::new(py, &b.id))
    }
    #[getter]
    fn headers<'py>(&self, py: Python<'py>) -> (Bound<'py, PyBytes>, Bound<'py, PyBytes>) {
        let [a, b] = self.inner.headers();
        (PyBytes::new(py, &a.encode()), PyBytes::new(py, &b.encode()))
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<PyFraudProof>()
            .is_ok_and(|o| o.get().inner == self.inner)
    }

    fn __hash__(&self) -> u64 {
        let mut b = [0u8; 8];
        b.copy_from_slice(&self.inner.headers()[0].id[..8]);
        u64::from_le_bytes(b)
    }

    fn __repr__(&self) -> String {
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        let [a, b] = self.inner.headers();
        format!(
            "FraudProof(author={}…, seq={}, ids=({}…, {}…))",
            hex(&self.inner.author()[..8]),
            self.inner.seq(),
            hex(&a.id[..4]),
            hex(&b.id[..4]),
        )
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyFraudProof>()?;
    m.add("FRAUD_PROOF_LEN", FRAUD_PROOF_LEN)
}

//! Client-op bindings.

use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::buf::{Buf, id_arg};
use super::sign::PySigningKey;
use crate::client::ClientOp;

/// A client's signed op (DESIGN §6).
#[pyclass(frozen, module = "lattice._lattice", name = "ClientOp")]
pub(crate) struct PyClientOp {
    inner: ClientOp,
    id: crate::Id,
}

impl PyClientOp {
    fn new(inner: ClientOp) -> Self {
        let id = inner.id();
        PyClientOp { inner, id }
    }
}

#[pymethods]
impl PyClientOp {
    #[staticmethod]
    fn create(signing_key: &PySigningKey, swarm: Buf, nonce: u64, payload: Buf) -> PyResult<Self> {
        let swarm = id_arg(&swarm, "swarm")?;
        Ok(Self::new(ClientOp::create(
            &signing_key.inner,
            &swarm,
            nonce,
            &payload,
        )?))
    }

    #[staticmethod]
    fn from_bytes(data: Buf) -> PyResult<Self> {
        Ok(Self::new(ClientOp::decode(&data)?))
    }

    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.encode())
    }

    fn verify(&self) -> bool {
        self.inner.verify()
    }

    #[getter]
    fn id<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.id)
    }
    #[getter]
    fn swarm<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.swarm)
    }
    #[getter]
    fn client<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.client)
    }
    #[getter]
    fn nonce(&self) -> u64 {
        self.inner.nonce
    }
    #[getter]
    fn payload<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.payload)
    }
    #[getter]
    fn signature<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.signature)
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<PyClientOp>()
            .is_ok_and(|o| o.get().inner == self.inner)
    }

    fn __hash__(&self) -> u64 {
        let mut b = [0u8; 8];
        b.copy_from_slice(&self.id[..8]);
        u64::from_le_bytes(b)
    }

    fn __repr__(&self) -> String {
        format!(
            "ClientOp(client={}, nonce={}, payload_len={})",
            self.inner.client[..8]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>(),
            self.inner.nonce,
            self.inner.payload.len()
        )
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyClientOp>()?;
    m.add(
        "MAX_CLIENT_PAYLOAD_LEN",
        crate::client::MAX_CLIENT_PAYLOAD_LEN,
    )
}

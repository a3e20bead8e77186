//! Client-op bindings.

use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::buf::{Buf, id_arg};
use super::sign::PySigningKey;
use crate::client::ClientOp;

/// A client's signed op (DESIGN §6), wrapped by its home peer in a WRAP entry.
///
/// >>> sk = SigningKey.generate()
/// >>> op = ClientOp.create(sk, bytes(32), 1, b"pay 5")
/// >>> ClientOp.from_bytes(op.to_bytes()).verify()
/// True
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
    /// Create and sign an op.
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

    /// Decode an op, rejecting anything non-canonical with a typed error.
    #[staticmethod]
    fn from_bytes(data: Buf) -> PyResult<Self> {
        Ok(Self::new(ClientOp::decode(&data)?))
    }

    /// The canonical encoding.
    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.encode())
    }

    /// Check the client's signature (ZIP-215).
    fn verify(&self) -> bool {
        self.inner.verify()
    }

    /// The op id: the client-op-domain hash of everything before the signature.
    #[getter]
    fn id<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.id)
    }
    /// The swarm the op is for.
    #[getter]
    fn swarm<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.swarm)
    }
    /// The client's public key.
    #[getter]
    fn client<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.client)
    }
    /// The client's number for this op (nanoseconds from the clock): a home peer
    /// wraps each once, within a window below the client's highest.
    #[getter]
    fn nonce(&self) -> u64 {
        self.inner.nonce
    }
    /// The op itself.
    #[getter]
    fn payload<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.payload)
    }
    /// The client's signature over the id.
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

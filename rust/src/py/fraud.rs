//! Fraud-proof bindings (DESIGN §5).

use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::buf::{Buf, id_arg};
use super::entry::PyEntry;
use super::errors::{At, lattice_error};
use crate::codec::SignedHeader;
use crate::fraud::{FRAUD_PROOF_LEN, FraudError, FraudProof};

/// Two validly signed headers of one author at one seq with different ids (DESIGN §5).
///
/// Anyone can check one with nothing but the swarm id: the author's key is in the
/// headers. The encoding is canonical (the smaller id first).
///
/// >>> sk = SigningKey.generate()
/// >>> p = Entry.create(sk, swarm=bytes(32), seq=1, lamport=1, payload=b"P")
/// >>> q = Entry.create(sk, swarm=bytes(32), seq=1, lamport=1, payload=b"Q")
/// >>> proof = FraudProof.from_entries(p, q)
/// >>> proof.verify(bytes(32)), proof.seq, proof.author == sk.public_key
/// (True, 1, True)
/// >>> FraudProof.from_bytes(proof.to_bytes()) == proof
/// True
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
    /// Decode a proof (structure only: :meth:`verify` says if it proves anything).
    #[staticmethod]
    fn from_bytes(data: Buf) -> PyResult<Self> {
        Ok(PyFraudProof {
            inner: FraudProof::decode(&data)?,
        })
    }

    /// The proof made of two signed headers (310 bytes each), in either order.
    #[staticmethod]
    fn from_headers(a: Buf, b: Buf) -> PyResult<Self> {
        Ok(PyFraudProof {
            inner: FraudProof::new(SignedHeader::decode(&a)?, SignedHeader::decode(&b)?),
        })
    }

    /// The proof made of two entries' signed headers, in either order.
    #[staticmethod]
    fn from_entries(a: &PyEntry, b: &PyEntry) -> Self {
        PyFraudProof {
            inner: FraudProof::new(a.signed().clone(), b.signed().clone()),
        }
    }

    /// The canonical encoding.
    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.encode())
    }

    /// True if the proof proves a fork in this swarm: same author and seq, different
    /// ids, a usable author key, both signatures valid (ZIP-215).
    fn verify(&self, swarm_id: Buf) -> PyResult<bool> {
        let swarm = id_arg(&swarm_id, "swarm_id")?;
        Ok(self.inner.check(&swarm).is_ok())
    }

    /// Like :meth:`verify`, but raise :class:`~lattice.errors.InvalidFraudProof` saying
    /// why the proof fails.
    fn check(&self, swarm_id: Buf) -> PyResult<()> {
        let swarm = id_arg(&swarm_id, "swarm_id")?;
        self.inner.check(&swarm).map_err(|e| fraud_error(self, &e))
    }

    /// The peer that signed two entries at one seq.
    #[getter]
    fn author<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.inner.author())
    }
    /// The seq at which it forked.
    #[getter]
    fn seq(&self) -> u64 {
        self.inner.seq()
    }
    /// The swarm the two headers belong to.
    #[getter]
    fn swarm<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.inner.swarm())
    }
    /// The two entry ids, smaller first.
    #[getter]
    fn ids<'py>(&self, py: Python<'py>) -> (Bound<'py, PyBytes>, Bound<'py, PyBytes>) {
        let [a, b] = self.inner.headers();
        (PyBytes::new(py, &a.id), PyBytes::new(py, &b.id))
    }
    /// The two signed headers, in the order of :attr:`ids`.
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

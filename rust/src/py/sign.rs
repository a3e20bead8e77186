//! Signature bindings: keys, single and batch verification (ZIP-215).

use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::buf::Buf;
use super::errors::{At, lattice_error};
use crate::sign::{self, Keypair, PUBLIC_KEY_LEN, SEED_LEN};

/// An Ed25519 secret key held in Rust (wrapped by `lattice.Identity`).
#[pyclass(frozen, module = "lattice._lattice", name = "SigningKey")]
pub(crate) struct PySigningKey {
    pub(crate) inner: Keypair,
}

#[pymethods]
impl PySigningKey {
    #[staticmethod]
    fn generate() -> PyResult<Self> {
        Ok(PySigningKey {
            inner: Keypair::generate()?,
        })
    }

    #[staticmethod]
    fn from_seed(seed: Buf) -> PyResult<Self> {
        let seed: &[u8; SEED_LEN] = (*seed).try_into().map_err(|_| {
            lattice_error(
                "InvalidKey",
                format!("a seed is {SEED_LEN} bytes, got {}", seed.len()),
                At::default(),
            )
        })?;
        Ok(PySigningKey {
            inner: Keypair::from_seed(seed),
        })
    }

    fn seed<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.seed())
    }

    #[getter]
    fn public_key<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.inner.public_key())
    }

    fn sign<'py>(&self, py: Python<'py>, message: Buf) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.sign(&message))
    }

    fn __repr__(&self) -> String {
        format!(
            "SigningKey(public_key={})",
            hex_prefix(self.inner.public_key())
        )
    }
}

fn hex_prefix(bytes: &[u8]) -> String {
    bytes
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect::<String>()
        + "…"
}

/// Verify one signature (ZIP-215); False for malformed keys or signatures.
#[pyfunction]
fn verify(public_key: Buf, message: Buf, signature: Buf) -> bool {
    let (Ok(pk), Ok(sig)) = (
        <&[u8; PUBLIC_KEY_LEN]>::try_from(&*public_key),
        <&[u8; 64]>::try_from(&*signature),
    ) else {
        return false;
    };
    sign::verify(&sign::Item {
        public_key: pk,
        message: &message,
        signature: sig,
    })
}

#[pyfunction]
#[pyo3(signature = (public_keys, messages, signatures, *, threads = None))]
fn verify_batch(
    py: Python<'_>,
    public_keys: Vec<Buf>,
    messages: Vec<Buf>,
    signatures: Vec<Buf>,
    threads: Option<usize>,
) -> PyResult<Vec<bool>> {
    let pks: Vec<&[u8]> = public_keys.iter().map(|b| &**b).collect();
    let msgs: Vec<&[u8]> = messages.iter().map(|b| &**b).collect();
    let sigs: Vec<&[u8]> = signatures.iter().map(|b| &**b).collect();
    let items = sign::items(&pks, &msgs, &sigs)?;
    Ok(py.detach(|| sign::verify_batch(&items, threads))?)
}

#[pyfunction]
fn check_public_key<'py>(py: Python<'py>, public_key: Buf) -> PyResult<Bound<'py, PyBytes>> {
    let pk: &[u8; PUBLIC_KEY_LEN] = (*public_key).try_into().map_err(|_| {
        lattice_error(
            "InvalidKey",
            format!(
                "a public key is {PUBLIC_KEY_LEN} bytes, got {}",
                public_key.len()
            ),
            At::default(),
        )
    })?;
    sign::check_public_key(pk)?;
    Ok(PyBytes::new(py, pk))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PySigningKey>()?;
    m.add_function(wrap_pyfunction!(verify, m)?)?;
    m.add_function(wrap_pyfunction!(verify_batch, m)?)?;
    m.add_function(wrap_pyfunction!(check_public_key, m)?)?;
    Ok(())
}

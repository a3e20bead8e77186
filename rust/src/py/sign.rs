//! Signature bindings: keys, single and batch verification (ZIP-215).

use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::buf::{Buf, Many};
use super::errors::{At, lattice_error};
use crate::sign::{self, Keypair, PUBLIC_KEY_LEN, SEED_LEN};

/// An Ed25519 secret key held in Rust. Wrapped by :class:`lattice.Identity`.
///
/// >>> sk = SigningKey.generate()
/// >>> len(sk.sign(b"msg"))
/// 64
#[pyclass(frozen, module = "lattice._lattice", name = "SigningKey")]
pub(crate) struct PySigningKey {
    pub(crate) inner: Keypair,
}

#[pymethods]
impl PySigningKey {
    /// A fresh key from the operating system's random source.
    #[staticmethod]
    fn generate() -> PyResult<Self> {
        Ok(PySigningKey {
            inner: Keypair::generate()?,
        })
    }

    /// The key with this 32-byte RFC 8032 seed (raises ``InvalidKey`` on another length).
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

    /// The 32-byte seed. Handle with care: it is the secret.
    fn seed<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.seed())
    }

    /// The 32-byte public key.
    #[getter]
    fn public_key<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.inner.public_key())
    }

    /// A 64-byte Ed25519 signature over ``message``.
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

/// Verify one Ed25519 signature under ZIP-215 rules.
///
/// >>> sk = SigningKey.generate()
/// >>> verify(sk.public_key, b"m", sk.sign(b"m"))
/// True
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

/// Verify many signatures at once (ZIP-215), returning one verdict per item.
///
/// The batch equation is only a speed-up: when a batch fails, every item is verified on
/// its own, so a verdict never depends on the batch it came in. Work is split across
/// ``threads`` worker threads (default: all cores; 1 runs on the calling thread) with the
/// GIL released. Raises ``DecodeError`` if the three sequences differ in length or an item
/// has the wrong size.
///
/// >>> sk = SigningKey.generate()
/// >>> verify_batch([sk.public_key] * 2, [b"a", b"b"], [sk.sign(b"a"), sk.sign(b"a")])
/// [True, False]
#[pyfunction]
#[pyo3(signature = (public_keys, messages, signatures, *, threads = None))]
fn verify_batch(
    py: Python<'_>,
    public_keys: Many<Buf>,
    messages: Many<Buf>,
    signatures: Many<Buf>,
    threads: Option<usize>,
) -> PyResult<Vec<bool>> {
    let pks: Vec<&[u8]> = public_keys.iter().map(|b| &**b).collect();
    let msgs: Vec<&[u8]> = messages.iter().map(|b| &**b).collect();
    let sigs: Vec<&[u8]> = signatures.iter().map(|b| &**b).collect();
    let items = sign::items(&pks, &msgs, &sigs)?;
    Ok(py.detach(|| sign::verify_batch(&items, threads))?)
}

/// Return the key if it may identify a peer, else raise ``InvalidKey``.
///
/// Refuses keys that are not 32 bytes, do not decode to a curve point, or are of small
/// order (DESIGN §2: such keys are refused at admission).
///
/// >>> check_public_key(bytes(32))
/// Traceback (most recent call last):
/// ...
/// lattice.errors.InvalidKey: ...
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

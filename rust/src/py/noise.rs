//! Noise bindings (DESIGN §7): the handshake, the hello, and the framed channel. The node's
//! asyncio loop moves the bytes; everything cryptographic stays here.

use std::sync::{Arc, Mutex};

use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::buf::{Buf, id_arg};
use super::errors::{At, decode_class, invalid_argument, lattice_error};
use super::sign::PySigningKey;
use crate::framepool::FramePool;
use crate::noise::{
    Channel, Handshake, Hello, MAX_ATTESTATION_LEN, MAX_FRAME_LEN, MAX_NOISE_MESSAGE,
    NOISE_PATTERN, NoiseError, Role, StaticKeypair,
};

impl From<NoiseError> for PyErr {
    fn from(e: NoiseError) -> PyErr {
        let class = match &e {
            NoiseError::Noise(_) => "NoiseFailure",
            NoiseError::State(_) => "ProtocolError",
            NoiseError::FrameTooLarge { .. } => "FrameTooLarge",
            NoiseError::PoolFull(_) => "BufferFull",
            NoiseError::Hello(d) => decode_class(d),
        };
        lattice_error(class, e.to_string(), At::default())
    }
}

fn poisoned() -> PyErr {
    lattice_error(
        "ProtocolError",
        "connection state lost after a panic",
        At::default(),
    )
}

fn key32(buf: &[u8], what: &'static str) -> PyResult<[u8; 32]> {
    id_arg(buf, what)
}

/// A Noise static keypair (X25519), fresh per node start.
#[pyclass(frozen, module = "lattice._lattice", name = "NoiseKeypair")]
pub(crate) struct PyNoiseKeypair {
    inner: StaticKeypair,
}

#[pymethods]
impl PyNoiseKeypair {
    #[staticmethod]
    fn generate() -> PyResult<Self> {
        Ok(PyNoiseKeypair {
            inner: StaticKeypair::generate()?,
        })
    }

    #[getter]
    fn public<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.public)
    }
}

fn role(value: u8) -> PyResult<Role> {
    Ok(Role::from_u8(value)?)
}

/// A party's hello: identity, swarm, role, binding signature, attestation.
#[pyclass(frozen, module = "lattice._lattice", name = "Hello")]
pub(crate) struct PyHello {
    inner: Hello,
}

#[pymethods]
impl PyHello {
    #[staticmethod]
    #[pyo3(signature = (signing_key, noise_static, swarm, role, attestation = None))]
    fn create(
        signing_key: &PySigningKey,
        noise_static: Buf,
        swarm: Buf,
        role: u8,
        attestation: Option<Buf>,
    ) -> PyResult<Self> {
        Ok(PyHello {
            inner: Hello::create(
                &signing_key.inner,
                &key32(&noise_static, "noise_static")?,
                &id_arg(&swarm, "swarm")?,
                self::role(role)?,
                attestation.map(|a| a.to_vec()).unwrap_or_default(),
            )?,
        })
    }

    #[staticmethod]
    fn from_bytes(data: Buf) -> PyResult<Self> {
        Ok(PyHello {
            inner: Hello::decode(&data)?,
        })
    }

    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.encode())
    }

    fn binds(&self, noise_static: Buf) -> PyResult<bool> {
        Ok(self.inner.binds(&key32(&noise_static, "noise_static")?))
    }

    #[getter]
    fn role(&self) -> u8 {
        self.inner.role as u8
    }
    #[getter]
    fn swarm<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.swarm)
    }
    #[getter]
    fn identity<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.identity)
    }
    #[getter]
    fn attestation<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.attestation)
    }

    fn __repr__(&self) -> String {
        let hex: String = self.inner.identity[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("Hello(identity={hex}…, role={:?})", self.inner.role)
    }
}

/// One side of a Noise XX handshake.
#[pyclass(frozen, module = "lattice._lattice", name = "NoiseHandshake")]
pub(crate) struct PyNoiseHandshake {
    inner: Mutex<Option<Handshake>>,
}

impl PyNoiseHandshake {
    fn with<T>(&self, f: impl FnOnce(&mut Handshake) -> PyResult<T>) -> PyResult<T> {
        let mut guard = self.inner.lock().map_err(|_| poisoned())?;
        let hs = guard.as_mut().ok_or_else(|| {
            lattice_error(
                "ProtocolError",
                "the handshake has become a channel",
                At::default(),
            )
        })?;
        f(hs)
    }
}

#[pymethods]
impl PyNoiseHandshake {
    #[staticmethod]
    fn initiator(keypair: &PyNoiseKeypair) -> PyResult<Self> {
        Ok(PyNoiseHandshake {
            inner: Mutex::new(Some(Handshake::initiator(&keypair.inner)?)),
        })
    }

    #[staticmethod]
    fn responder(keypair: &PyNoiseKeypair) -> PyResult<Self> {
        Ok(PyNoiseHandshake {
            inner: Mutex::new(Some(Handshake::responder(&keypair.inner)?)),
        })
    }

    #[pyo3(signature = (payload = None))]
    fn write<'py>(&self, py: Python<'py>, payload: Option<Buf>) -> PyResult<Bound<'py, PyBytes>> {
        let payload = payload.map(|p| p.to_vec()).unwrap_or_default();
        let out = self.with(|hs| Ok(hs.write(&payload)?))?;
        Ok(PyBytes::new(py, &out))
    }

    fn read<'py>(&self, py: Python<'py>, message: Buf) -> PyResult<Bound<'py, PyBytes>> {
        let out = self.with(|hs| Ok(hs.read(&message)?))?;
        Ok(PyBytes::new(py, &out))
    }

    #[getter]
    fn finished(&self) -> PyResult<bool> {
        self.with(|hs| Ok(hs.is_finished()))
    }

    #[getter]
    fn remote_static<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let key = self.with(|hs| Ok(hs.remote_static()))?;
        Ok(key.map(|k| PyBytes::new(py, &k)))
    }

    #[getter]
    fn handshake_hash<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let h = self.with(|hs| Ok(hs.handshake_hash()))?;
        Ok(PyBytes::new(py, &h))
    }

    #[pyo3(name = "into_channel")]
    fn take_channel(&self) -> PyResult<PyNoiseChannel> {
        let mut guard = self.inner.lock().map_err(|_| poisoned())?;
        let hs = guard.take().ok_or_else(|| {
            lattice_error(
                "ProtocolError",
                "the handshake has become a channel",
                At::default(),
            )
        })?;
        Ok(PyNoiseChannel {
            inner: Mutex::new(hs.into_channel()?),
        })
    }
}

/// A node-wide budget of bytes for partially received frames, shared by channels.
#[pyclass(frozen, module = "lattice._lattice", name = "FramePool")]
pub(crate) struct PyFramePool {
    inner: Arc<FramePool>,
}

#[pymethods]
impl PyFramePool {
    #[new]
    fn new(capacity: usize) -> Self {
        PyFramePool {
            inner: Arc::new(FramePool::new(capacity)),
        }
    }

    #[getter]
    fn capacity(&self) -> usize {
        self.inner.capacity()
    }

    #[getter]
    fn used(&self) -> usize {
        self.inner.used()
    }

    fn __repr__(&self) -> String {
        format!(
            "FramePool(used={}, capacity={})",
            self.inner.used(),
            self.inner.capacity()
        )
    }
}

/// An established encrypted channel: `seal` a frame into wire records, `open` records
/// back into frames.
#[pyclass(frozen, module = "lattice._lattice", name = "NoiseChannel")]
pub(crate) struct PyNoiseChannel {
    inner: Mutex<Channel>,
}

#[pymethods]
impl PyNoiseChannel {
    #[pyo3(signature = (max_frame, pool = None))]
    fn limit(&self, max_frame: usize, pool: Option<&PyFramePool>) -> PyResult<()> {
        if max_frame > MAX_FRAME_LEN {
            return Err(invalid_argument(format!(
                "max_frame {max_frame} is above MAX_FRAME_LEN ({MAX_FRAME_LEN})"
            )));
        }
        let mut ch = self.inner.lock().map_err(|_| poisoned())?;
        Ok(ch.limit(max_frame, pool.map(|p| Arc::clone(&p.inner)))?)
    }

    #[getter]
    fn max_frame(&self) -> PyResult<usize> {
        Ok(self.inner.lock().map_err(|_| poisoned())?.max_frame())
    }

    fn abandon(&self) -> PyResult<()> {
        self.inner.lock().map_err(|_| poisoned())?.abandon();
        Ok(())
    }

    #[getter]
    fn receiving(&self) -> PyResult<bool> {
        Ok(self.inner.lock().map_err(|_| poisoned())?.receiving())
    }

    fn seal<'py>(&self, py: Python<'py>, body: Buf) -> PyResult<Bound<'py, PyBytes>> {
        let out = py.detach(|| {
            let mut ch = self.inner.lock().map_err(|_| poisoned())?;
            Ok::<_, PyErr>(ch.seal(&body)?)
        })?;
        Ok(PyBytes::new(py, &out))
    }

    fn seal_record<'py>(&self, py: Python<'py>, plaintext: Buf) -> PyResult<Bound<'py, PyBytes>> {
        let out = {
            let mut ch = self.inner.lock().map_err(|_| poisoned())?;
            ch.seal_record(&plaintext)?
        };
        Ok(PyBytes::new(py, &out))
    }

    fn open<'py>(&self, py: Python<'py>, record: Buf) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let out = py.detach(|| {
            let mut ch = self.inner.lock().map_err(|_| poisoned())?;
            Ok::<_, PyErr>(ch.open(&record)?)
        })?;
        Ok(out.map(|frame| PyBytes::new(py, &frame)))
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyNoiseKeypair>()?;
    m.add_class::<PyHello>()?;
    m.add_class::<PyNoiseHandshake>()?;
    m.add_class::<PyNoiseChannel>()?;
    m.add_class::<PyFramePool>()?;
    m.add("NOISE_PATTERN", NOISE_PATTERN)?;
    m.add("MAX_FRAME_LEN", MAX_FRAME_LEN)?;
    m.add("MAX_NOISE_MESSAGE", MAX_NOISE_MESSAGE)?;
    m.add("MAX_ATTESTATION_LEN", MAX_ATTESTATION_LEN)?;
    m.add("ROLE_PEER", Role::Peer as u8)?;
    m.add("ROLE_CLIENT", Role::Client as u8)?;
    m.add("ROLE_GUEST", Role::Guest as u8)
}

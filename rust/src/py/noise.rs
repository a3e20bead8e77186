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

/// An X25519 static keypair for Noise, fresh per node start; a :class:`Hello` binds it
/// to the node's Ed25519 identity.
#[pyclass(frozen, module = "lattice._lattice", name = "NoiseKeypair")]
pub(crate) struct PyNoiseKeypair {
    inner: StaticKeypair,
}

#[pymethods]
impl PyNoiseKeypair {
    /// A fresh X25519 keypair.
    #[staticmethod]
    fn generate() -> PyResult<Self> {
        Ok(PyNoiseKeypair {
            inner: StaticKeypair::generate()?,
        })
    }

    /// The public half (32 bytes).
    #[getter]
    fn public<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.public)
    }
}

fn role(value: u8) -> PyResult<Role> {
    Ok(Role::from_u8(value)?)
}

/// The handshake payload: identity, swarm, role, and the identity's signature over the
/// Noise static key (the binding), plus room for a remote-attestation answer.
///
/// >>> sk, noise = SigningKey.generate(), NoiseKeypair.generate()
/// >>> hello = Hello.create(sk, noise.public, bytes(32), ROLE_PEER)
/// >>> Hello.from_bytes(hello.to_bytes()).binds(noise.public)
/// True
/// >>> hello.binds(NoiseKeypair.generate().public)
/// False
#[pyclass(frozen, module = "lattice._lattice", name = "Hello")]
pub(crate) struct PyHello {
    inner: Hello,
}

#[pymethods]
impl PyHello {
    /// The hello of the identity ``signing_key`` for one handshake: it signs the Noise
    /// static key ``noise_static`` with ``swarm`` and ``role`` (the binding), and carries
    /// ``attestation`` (at most ``MAX_ATTESTATION_LEN`` bytes).
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

    /// Decode a hello, rejecting anything non-canonical with a typed error.
    #[staticmethod]
    fn from_bytes(data: Buf) -> PyResult<Self> {
        Ok(PyHello {
            inner: Hello::decode(&data)?,
        })
    }

    /// The canonical encoding (what the handshake carries).
    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.encode())
    }

    /// True if the identity signed the binding of exactly this Noise static key.
    fn binds(&self, noise_static: Buf) -> PyResult<bool> {
        Ok(self.inner.binds(&key32(&noise_static, "noise_static")?))
    }

    /// The role the party takes (``ROLE_PEER``, ``ROLE_CLIENT``, ``ROLE_GUEST`` or
    /// ``ROLE_WORKER``).
    #[getter]
    fn role(&self) -> u8 {
        self.inner.role as u8
    }
    /// The swarm the party speaks for.
    #[getter]
    fn swarm<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.swarm)
    }
    /// The party's Ed25519 identity.
    #[getter]
    fn identity<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.identity)
    }
    /// The remote-attestation evidence (empty without one).
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

/// One side of a Noise XX handshake (three messages: ``-> e``, ``<- e, ee, s, es``,
/// ``-> s, se``); the second and third carry the parties' hellos, encrypted.
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
    /// The dialling side's handshake.
    #[staticmethod]
    fn initiator(keypair: &PyNoiseKeypair) -> PyResult<Self> {
        Ok(PyNoiseHandshake {
            inner: Mutex::new(Some(Handshake::initiator(&keypair.inner)?)),
        })
    }

    /// The listening side's handshake.
    #[staticmethod]
    fn responder(keypair: &PyNoiseKeypair) -> PyResult<Self> {
        Ok(PyNoiseHandshake {
            inner: Mutex::new(Some(Handshake::responder(&keypair.inner)?)),
        })
    }

    /// The next handshake message (without its 2-byte wire length).
    #[pyo3(signature = (payload = None))]
    fn write<'py>(&self, py: Python<'py>, payload: Option<Buf>) -> PyResult<Bound<'py, PyBytes>> {
        let payload = payload.map(|p| p.to_vec()).unwrap_or_default();
        let out = self.with(|hs| Ok(hs.write(&payload)?))?;
        Ok(PyBytes::new(py, &out))
    }

    /// Read the peer's handshake message; returns its payload.
    fn read<'py>(&self, py: Python<'py>, message: Buf) -> PyResult<Bound<'py, PyBytes>> {
        let out = self.with(|hs| Ok(hs.read(&message)?))?;
        Ok(PyBytes::new(py, &out))
    }

    /// True once all three messages are through.
    #[getter]
    fn finished(&self) -> PyResult<bool> {
        self.with(|hs| Ok(hs.is_finished()))
    }

    /// The peer's Noise static key, once the handshake has authenticated it.
    #[getter]
    fn remote_static<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let key = self.with(|hs| Ok(hs.remote_static()))?;
        Ok(key.map(|k| PyBytes::new(py, &k)))
    }

    /// The handshake hash: unique to this connection (channel binding).
    #[getter]
    fn handshake_hash<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let h = self.with(|hs| Ok(hs.handshake_hash()))?;
        Ok(PyBytes::new(py, &h))
    }

    /// The encrypted channel (the handshake object is used up).
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

/// A budget of bytes for partially received frames, shared by many channels: a frame
/// reserves its announced length when its header arrives and gives it back when it is
/// complete or its channel is gone.
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

    /// The pool's size in bytes.
    #[getter]
    fn capacity(&self) -> usize {
        self.inner.capacity()
    }

    /// Bytes reserved now.
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

/// An established channel: frames (≤ ``MAX_FRAME_LEN``) sealed into length-prefixed
/// records, and records opened back into frames.
#[pyclass(frozen, module = "lattice._lattice", name = "NoiseChannel")]
pub(crate) struct PyNoiseChannel {
    inner: Mutex<Channel>,
}

#[pymethods]
impl PyNoiseChannel {
    /// Accept frames of at most ``max_frame`` bytes (≤ ``MAX_FRAME_LEN``) from now on,
    /// each reserving its announced length from ``pool`` until it is complete. Only
    /// between frames.
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

    /// The largest frame this channel accepts.
    #[getter]
    fn max_frame(&self) -> PyResult<usize> {
        Ok(self.inner.lock().map_err(|_| poisoned())?.max_frame())
    }

    /// Drop the frame in progress and give its reservation back (on close).
    fn abandon(&self) -> PyResult<()> {
        self.inner.lock().map_err(|_| poisoned())?.abandon();
        Ok(())
    }

    /// True while a frame has begun but is not complete.
    #[getter]
    fn receiving(&self) -> PyResult<bool> {
        Ok(self.inner.lock().map_err(|_| poisoned())?.receiving())
    }

    /// The wire bytes of one frame: records, each with its 2-byte length.
    fn seal<'py>(&self, py: Python<'py>, body: Buf) -> PyResult<Bound<'py, PyBytes>> {
        let out = py.detach(|| {
            let mut ch = self.inner.lock().map_err(|_| poisoned())?;
            Ok::<_, PyErr>(ch.seal(&body)?)
        })?;
        Ok(PyBytes::new(py, &out))
    }

    /// One record of arbitrary plaintext, with its length: not a frame. For tools and
    /// tests that speak a broken protocol on purpose.
    fn seal_record<'py>(&self, py: Python<'py>, plaintext: Buf) -> PyResult<Bound<'py, PyBytes>> {
        let out = {
            let mut ch = self.inner.lock().map_err(|_| poisoned())?;
            ch.seal_record(&plaintext)?
        };
        Ok(PyBytes::new(py, &out))
    }

    /// Open one record (without its length); the frame it completes, if any. Raises
    /// :class:`~lattice.errors.ProtocolError` on tampering, :class:`FrameTooLarge` on a
    /// frame announced above ``max_frame`` and :class:`BufferFull` when the pool has no
    /// room for it.
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
    m.add("ROLE_GUEST", Role::Guest as u8)?;
    m.add("ROLE_WORKER", Role::Worker as u8)
}

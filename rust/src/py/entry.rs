//! Entry bindings: the `Entry` value type and whole-segment chain validation.

use std::collections::HashMap;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};
use rayon::prelude::*;

use super::RELEASE_GIL_BYTES;
use super::buf::{Buf, Many, id_arg, is_bytes_like};
use super::errors::{At, chain_class, decode_class, error_value, lattice_error, u64_arg};
use super::sign::PySigningKey;
use crate::chain::{self, Expect};
use crate::codec::{
    self, DEPS_COUNT_LEN, Dep, EntryView, Kind, SIGNED_HEADER_LEN, SignedHeader, UnsignedEntry,
};
use crate::{Id, ZERO_ID, sign};

/// One decoded, structurally valid entry (DESIGN §3), or a signed header alone
/// (:meth:`header_from_bytes`). Immutable.
///
/// >>> sk = SigningKey.generate()
/// >>> e = Entry.create(sk, swarm=bytes(32), seq=1, lamport=1, payload=b"hi")
/// >>> Entry.from_bytes(e.to_bytes()).id == e.id
/// True
#[pyclass(frozen, module = "lattice._lattice", name = "Entry")]
pub(crate) struct PyEntry {
    bytes: Vec<u8>,
    signed: SignedHeader,
    /// Offset of the payload in `bytes` (== len for a header-only entry).
    payload_offset: usize,
}

impl PyEntry {
    fn from_owned(bytes: Vec<u8>) -> Result<PyEntry, codec::DecodeError> {
        let view = EntryView::decode(&bytes)?;
        let signed = view.signed.clone();
        let payload_offset = SIGNED_HEADER_LEN + view.deps_raw.len();
        Ok(PyEntry {
            signed,
            payload_offset,
            bytes,
        })
    }

    /// The signed header (for fraud proofs).
    pub(crate) fn signed(&self) -> &SignedHeader {
        &self.signed
    }

    fn deps_iter(&self) -> impl Iterator<Item = Dep> + '_ {
        codec::dep_items(
            self.bytes
                .get(SIGNED_HEADER_LEN + DEPS_COUNT_LEN..self.payload_offset)
                .unwrap_or(&[]),
        )
    }
}

/// `deps` as Python passes it: peer -> (seq, id).
type DepsArg = HashMap<Vec<u8>, (u64, Vec<u8>)>;

fn opt_id(value: Option<Buf>, what: &'static str) -> PyResult<Id> {
    value.map_or(Ok(ZERO_ID), |b| id_arg(&b, what))
}

#[pymethods]
impl PyEntry {
    /// Build and sign an entry (DESIGN §3).
    ///
    /// ``seq`` is its position in the author's log (from 1) and ``lamport`` its Lamport
    /// time; ``prev`` and ``lipmaa`` are the ids of the author's entries at ``seq - 1``
    /// and ``lipmaa(seq)`` (zeros by default, as at seq 1); ``deps`` maps each other
    /// peer whose frontier advanced since the author's last entry to ``(seq, id)``;
    /// ``kind`` is a ``lattice.Kind``; ``frontier_root`` commits to the author's
    /// frontier after this entry. Chain rules are the replica's to check: this builds
    /// any structurally valid entry. Raises ``DecodeError`` if it would not decode
    /// (payload or deps over their limits, an unknown kind; ``LimitExceeded`` for a
    /// number that does not fit in 64 bits) and ``InvalidArgument`` for an id that is
    /// not 32 bytes.
    ///
    /// >>> sk = SigningKey.generate()
    /// >>> e = Entry.create(sk, swarm=bytes(32), seq=1, lamport=1, payload=b"hi")
    /// >>> (e.seq, e.author == sk.public_key, e.verify_signature())
    /// (1, True, True)
    #[staticmethod]
    #[pyo3(signature = (
        signing_key, *, swarm, seq, lamport, prev = None, lipmaa = None, deps = None,
        payload = None, kind = 1, frontier_root = None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn create(
        py: Python<'_>,
        signing_key: &PySigningKey,
        swarm: Buf,
        seq: &Bound<'_, PyAny>,
        lamport: &Bound<'_, PyAny>,
        prev: Option<Buf>,
        lipmaa: Option<Buf>,
        deps: Option<DepsArg>,
        payload: Option<Buf>,
        kind: u8,
        frontier_root: Option<Buf>,
    ) -> PyResult<Self> {
        let seq = u64_arg(seq, "seq")?;
        let lamport = u64_arg(lamport, "lamport")?;
        let deps = deps
            .unwrap_or_default()
            .into_iter()
            .map(|(peer, (seq, id))| {
                Ok(Dep {
                    peer: id_arg(&peer, "dependency peer")?,
                    seq,
                    id: id_arg(&id, "dependency id")?,
                })
            })
            .collect::<PyResult<Vec<Dep>>>()?;
        let payload = payload.map(|p| p.to_vec()).unwrap_or_default();
        let unsigned = UnsignedEntry {
            kind: Kind::from_u8(kind)?,
            swarm: id_arg(&swarm, "swarm")?,
            author: *signing_key.inner.public_key(),
            seq,
            lamport,
            prev: opt_id(prev, "prev")?,
            lipmaa: opt_id(lipmaa, "lipmaa")?,
            deps,
            frontier_root: opt_id(frontier_root, "frontier_root")?,
            payload,
        };
        let key = &signing_key.inner;
        let len = unsigned.payload.len();
        let encode = || {
            unsigned
                .encode(|id| sign::sign_id(key, id))
                .and_then(PyEntry::from_owned)
        };
        Ok(if len >= RELEASE_GIL_BYTES {
            py.detach(encode)?
        } else {
            encode()?
        })
    }

    /// Decode an entry, rejecting anything non-canonical with a typed error.
    #[staticmethod]
    fn from_bytes(py: Python<'_>, data: Buf) -> PyResult<Self> {
        let bytes = data.to_vec();
        let decode = || PyEntry::from_owned(bytes);
        Ok(if data.len() >= RELEASE_GIL_BYTES {
            py.detach(decode)?
        } else {
            decode()?
        })
    }

    /// Decode a signed header alone (310 bytes); ``payload`` and ``deps`` are empty.
    #[staticmethod]
    fn header_from_bytes(data: Buf) -> PyResult<Self> {
        let signed = SignedHeader::decode(&data)?;
        Ok(PyEntry {
            bytes: data.to_vec(),
            payload_offset: data.len(),
            signed,
        })
    }

    /// The canonical encoding (the exact bytes that were decoded).
    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.bytes)
    }

    /// Header and signature (310 bytes).
    fn signed_header<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.bytes[..SIGNED_HEADER_LEN])
    }

    /// The 246-byte header that the id hashes.
    fn header<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.bytes[..codec::HEADER_LEN])
    }

    /// Check the author's signature over the id (ZIP-215).
    fn verify_signature(&self) -> bool {
        sign::verify(&sign::Item {
            public_key: &self.signed.header.author,
            message: &self.signed.id,
            signature: &self.signed.signature,
        })
    }

    /// The entry id: the entry-domain BLAKE3 hash of its 246-byte header.
    #[getter]
    fn id<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.signed.id)
    }
    /// The format version (1).
    #[getter]
    fn version(&self) -> u8 {
        codec::FORMAT_VERSION
    }
    /// The entry kind (``lattice.Kind``: 1 DATA, 2 NOOP, …).
    #[getter]
    fn kind(&self) -> u8 {
        self.signed.header.kind as u8
    }
    /// The swarm id the entry belongs to.
    #[getter]
    fn swarm<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.signed.header.swarm)
    }
    /// The author's Ed25519 public key.
    #[getter]
    fn author<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.signed.header.author)
    }
    /// The entry's position in its author's log, from 1.
    #[getter]
    fn seq(&self) -> u64 {
        self.signed.header.seq
    }
    /// The Lamport timestamp: above every entry it depends on.
    #[getter]
    fn lamport(&self) -> u64 {
        self.signed.header.lamport
    }
    /// The id of the author's entry at ``seq - 1`` (zeros at seq 1).
    #[getter]
    fn prev<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.signed.header.prev)
    }
    /// The id of the author's entry at ``lipmaa(seq)`` (``prev`` when that is
    /// ``seq - 1``).
    #[getter]
    fn lipmaa<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.signed.header.lipmaa)
    }
    /// The hash of the dependency delta that the header commits to.
    #[getter]
    fn deps_hash<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.signed.header.deps_hash)
    }
    /// The root of the author's frontier after this entry (DESIGN §5).
    #[getter]
    fn frontier_root<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.signed.header.frontier_root)
    }
    /// Length of the payload in bytes.
    #[getter]
    fn payload_len(&self) -> u32 {
        self.signed.header.payload_len
    }
    /// The payload-domain BLAKE3 hash of the payload.
    #[getter]
    fn payload_hash<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.signed.header.payload_hash)
    }
    /// The author's Ed25519 signature over the id.
    #[getter]
    fn signature<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.signed.signature)
    }
    /// Dependency delta: peer public key -> (seq, id).
    #[getter]
    fn deps<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let out = PyDict::new(py);
        for dep in self.deps_iter() {
            let value = PyTuple::new(
                py,
                [
                    dep.seq.into_pyobject(py)?.into_any(),
                    PyBytes::new(py, &dep.id).into_any(),
                ],
            )?;
            out.set_item(PyBytes::new(py, &dep.peer), value)?;
        }
        Ok(out)
    }
    /// The payload (empty for a header decoded alone).
    #[getter]
    fn payload<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.bytes[self.payload_offset..])
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<PyEntry>()
            .is_ok_and(|o| o.get().bytes == self.bytes)
    }

    fn __hash__(&self) -> u64 {
        u64::from_le_bytes([
            self.signed.id[0],
            self.signed.id[1],
            self.signed.id[2],
            self.signed.id[3],
            self.signed.id[4],
            self.signed.id[5],
            self.signed.id[6],
            self.signed.id[7],
        ])
    }

    fn __repr__(&self) -> String {
        let h = &self.signed.header;
        format!(
            "Entry(kind={:?}, author={}, seq={}, lamport={}, deps={}, payload_len={}, id={})",
            h.kind,
            hex8(&h.author),
            h.seq,
            h.lamport,
            self.deps_iter().count(),
            h.payload_len,
            hex8(&self.signed.id)
        )
    }
}

fn hex8(bytes: &[u8]) -> String {
    bytes.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// Outcome of :func:`validate_chain`.
#[pyclass(frozen, module = "lattice._lattice", name = "ChainReport")]
pub(crate) struct PyChainReport {
    ids: Vec<Id>,
    failure: Option<(usize, Option<u64>, String)>,
    error: Option<Py<PyAny>>,
}

#[pymethods]
impl PyChainReport {
    /// True when every entry passed.
    #[getter]
    fn ok(&self) -> bool {
        self.failure.is_none()
    }
    /// Ids of the valid prefix, in order.
    #[getter]
    fn ids<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        PyList::new(py, self.ids.iter().map(|id| PyBytes::new(py, id)))
    }
    /// Index of the first entry that failed, or None.
    #[getter]
    fn failure_index(&self) -> Option<usize> {
        self.failure.as_ref().map(|f| f.0)
    }
    /// Seq of the first entry that failed, if it decoded far enough to have one.
    #[getter]
    fn failure_seq(&self) -> Option<u64> {
        self.failure.as_ref().and_then(|f| f.1)
    }
    /// Why the first failing entry failed.
    #[getter]
    fn reason(&self) -> Option<String> {
        self.failure.as_ref().map(|f| f.2.clone())
    }
    /// The typed ``lattice.errors`` exception describing the failure.
    #[getter]
    fn error(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.error.as_ref().map(|e| e.clone_ref(py))
    }
    /// Raise :attr:`error` if the segment failed.
    fn raise_for_failure(&self, py: Python<'_>) -> PyResult<()> {
        match &self.error {
            Some(e) => Err(PyErr::from_value(e.bind(py).clone())),
            None => Ok(()),
        }
    }
    fn __repr__(&self) -> String {
        match &self.failure {
            None => format!("ChainReport(ok=True, entries={})", self.ids.len()),
            Some((index, _, reason)) => {
                format!("ChainReport(ok=False, failure_index={index}, reason={reason:?})")
            }
        }
    }
}

/// Validate one author's contiguous segment of encoded entries in one call.
///
/// ``entries`` is an iterable of encoded entries (a list, a generator) or one buffer of
/// them back to back. Links that point before the segment are checked against ``prior``
/// (seq -> id).
///
/// >>> sk = SigningKey.generate()
/// >>> e = Entry.create(sk, swarm=bytes(32), seq=1, lamport=1)
/// >>> validate_chain([e.to_bytes()], verify_signatures=True).ok
/// True
#[pyfunction]
#[pyo3(signature = (
    entries, *, prior = None, author = None, swarm = None, verify_signatures = false,
    threads = None
))]
fn validate_chain(
    py: Python<'_>,
    entries: &Bound<'_, PyAny>,
    prior: Option<HashMap<u64, Vec<u8>>>,
    author: Option<Buf>,
    swarm: Option<Buf>,
    verify_signatures: bool,
    threads: Option<usize>,
) -> PyResult<PyChainReport> {
    let expect = Expect {
        author: author.map(|a| id_arg(&a, "author")).transpose()?,
        swarm: swarm.map(|s| id_arg(&s, "swarm")).transpose()?,
        prior: prior
            .unwrap_or_default()
            .into_iter()
            .map(|(seq, id)| Ok((seq, id_arg(&id, "prior id")?)))
            .collect::<PyResult<_>>()?,
        verify_signatures,
        threads,
    };
    // One buffer of back-to-back entries, or a sequence of encoded entries.
    let (single, list): (Option<Buf>, Vec<Buf>) = if is_bytes_like(entries) {
        (Some(entries.extract()?), Vec::new())
    } else {
        (None, entries.extract::<Many<Buf>>()?.0)
    };
    let report = py.detach(|| {
        let slices: Vec<&[u8]> = match &single {
            Some(buf) => chain::split(buf),
            None => list.iter().map(|b| &**b).collect(),
        };
        chain::validate(&slices, &expect)
    })?;
    let (failure, error) = match report.error {
        None => (None, None),
        Some(e) => {
            let (class, at) = chain_class(&e);
            let message = e.to_string();
            let value = error_value(py, class, &message, at)
                .map_err(|err| lattice_error("LatticeError", err.to_string(), At::default()))?;
            (
                Some((e.index, e.seq, e.failure.to_string())),
                Some(value.unbind()),
            )
        }
    };
    Ok(PyChainReport {
        ids: report.ids,
        failure,
        error,
    })
}

/// Decode a batch of entries and verify their signatures in one batch.
///
/// One result per input, in order: the :class:`Entry`, or the ``lattice.errors`` exception
/// (not raised) saying why it is not a valid entry, with ``index`` set.
///
/// >>> sk = SigningKey.generate()
/// >>> good = Entry.create(sk, swarm=bytes(32), seq=1, lamport=1).to_bytes()
/// >>> [type(r).__name__ for r in decode_entries([good, good + b"x"])]
/// ['Entry', 'TrailingBytes']
#[pyfunction]
#[pyo3(signature = (items, *, verify_signatures = true, threads = None))]
fn decode_entries(
    py: Python<'_>,
    items: Many<Buf>,
    verify_signatures: bool,
    threads: Option<usize>,
) -> PyResult<Vec<Py<PyAny>>> {
    let (decoded, verdicts) = py.detach(|| {
        let decoded: Vec<Result<PyEntry, codec::DecodeError>> = if items.len() >= 256 {
            items
                .par_iter()
                .map(|b| PyEntry::from_owned(b.to_vec()))
                .collect()
        } else {
            items
                .iter()
                .map(|b| PyEntry::from_owned(b.to_vec()))
                .collect()
        };
        let verdicts = if verify_signatures {
            let checks: Vec<sign::Item<'_>> = decoded
                .iter()
                .filter_map(|d| d.as_ref().ok())
                .map(|e| sign::Item {
                    public_key: &e.signed.header.author,
                    message: &e.signed.id,
                    signature: &e.signed.signature,
                })
                .collect();
            sign::verify_batch(&checks, threads).map(Some)
        } else {
            Ok(None)
        };
        (decoded, verdicts)
    });
    let verdicts = verdicts?;
    let mut verdict = verdicts.iter().flatten();
    let mut out = Vec::with_capacity(decoded.len());
    for (index, result) in decoded.into_iter().enumerate() {
        out.push(match result {
            Ok(entry) => {
                if verdicts.is_some() && !verdict.next().copied().unwrap_or(false) {
                    let at = At {
                        index: Some(index),
                        author: Some(entry.signed.header.author),
                        seq: Some(entry.signed.header.seq),
                    };
                    error_value(py, "InvalidSignature", "signature does not verify", at)?.unbind()
                } else {
                    Py::new(py, entry)?.into_any()
                }
            }
            Err(e) => {
                let at = At {
                    index: Some(index),
                    ..At::default()
                };
                error_value(py, decode_class(&e), &e.to_string(), at)?.unbind()
            }
        });
    }
    Ok(out)
}

/// ``count`` valid signed DATA entries of one author (seqs 1..count), for benchmarks.
///
/// >>> log = synthetic_log(SigningKey.generate(), bytes(32), 3)
/// >>> validate_chain(log, verify_signatures=True).ok
/// True
#[pyfunction]
#[pyo3(signature = (signing_key, swarm, count, payload_len = 0))]
fn synthetic_log<'py>(
    py: Python<'py>,
    signing_key: &PySigningKey,
    swarm: Buf,
    count: u64,
    payload_len: usize,
) -> PyResult<Vec<Bound<'py, PyBytes>>> {
    let swarm = id_arg(&swarm, "swarm")?;
    let key = &signing_key.inner;
    let entries = py.detach(|| crate::synth::log(key, &swarm, count, payload_len))?;
    Ok(entries.iter().map(|e| PyBytes::new(py, e)).collect())
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyEntry>()?;
    m.add_function(wrap_pyfunction!(synthetic_log, m)?)?;
    m.add_function(wrap_pyfunction!(decode_entries, m)?)?;
    m.add_class::<PyChainReport>()?;
    m.add_function(wrap_pyfunction!(validate_chain, m)?)?;
    Ok(())
}

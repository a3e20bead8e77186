//! The canonical encoding of entries (DESIGN §3; byte layout in docs/format.md).
//!
//! Parse, don't validate: [`EntryView::read`] either returns a view whose every structural
//! rule holds (lengths, version, kind, link rules, sorted deps, body matching the header's
//! hashes) or a typed [`DecodeError`]. Everything hashed or signed is produced here, so there
//! is exactly one encoding of each entry and one id.

use std::sync::OnceLock;

use crate::hash::{self, Domain};
use crate::lipmaa;
use crate::{ID_LEN, Id, ZERO_ID};

/// The entry format version this build reads and writes.
pub const FORMAT_VERSION: u8 = 1;
/// Length of an Ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;
/// Length of the encoded header (the bytes the entry id hashes).
pub const HEADER_LEN: usize = 2 + 2 * ID_LEN + 8 + 8 + 4 * ID_LEN + 4 + ID_LEN;
/// Header plus signature: what a fraud proof carries for each version.
pub const SIGNED_HEADER_LEN: usize = HEADER_LEN + SIGNATURE_LEN;
/// Length of the dependency count prefix.
pub const DEPS_COUNT_LEN: usize = 4;
/// Length of one encoded dependency item: peer, seq, id.
pub const DEP_LEN: usize = ID_LEN + 8 + ID_LEN;
/// Most dependency items one entry may carry (one per registered peer, N ≤ 4096, §4).
pub const MAX_DEPS: usize = 4096;
/// Largest seq, lamport and dependency seq: 2^63 - 1, so every counter fits the signed
/// 64-bit integers of SQLite and most other stores.
pub const MAX_SEQ: u64 = i64::MAX as u64;
/// Largest payload one entry may carry.
pub const MAX_PAYLOAD_LEN: usize = 1 << 20;
/// Largest encoded entry.
pub const MAX_ENTRY_LEN: usize =
    SIGNED_HEADER_LEN + DEPS_COUNT_LEN + MAX_DEPS * DEP_LEN + MAX_PAYLOAD_LEN;

/// Offset of the author's public key in an encoded entry (docs/format.md).
pub const OFF_AUTHOR: usize = 34;
/// Offset of the seq in an encoded entry.
pub const OFF_SEQ: usize = 66;
/// Offset of the payload length in an encoded entry.
pub const OFF_PAYLOAD_LEN: usize = 210;

/// What an entry is for. Unknown kinds are rejected at decoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Kind {
    /// Application data.
    Data = 1,
    /// No payload; advances the matrix and carries the frontier root.
    Noop = 2,
    /// A client op wrapped by its home peer (DESIGN §6, §11): the payload is the op's bytes.
    Wrap = 3,
    /// A fraud report (DESIGN §5).
    Fraud = 16,
    /// A build attestation (DESIGN §10).
    Attestation = 17,
    /// A snapshot / synthetic genesis (DESIGN §8).
    Snapshot = 18,
    /// A distributed blob such as a Wasm state machine (DESIGN §10).
    Blob = 19,
    /// An open identity's proof-of-work admission record (DESIGN §11).
    Admission = 20,
    /// A signed vouch for (or revocation of) an open identity (DESIGN §11).
    Vouch = 21,
}

impl Kind {
    /// The kind with this wire value.
    pub fn from_u8(value: u8) -> Result<Kind, DecodeError> {
        Ok(match value {
            1 => Kind::Data,
            2 => Kind::Noop,
            3 => Kind::Wrap,
            16 => Kind::Fraud,
            17 => Kind::Attestation,
            18 => Kind::Snapshot,
            19 => Kind::Blob,
            20 => Kind::Admission,
            21 => Kind::Vouch,
            other => return Err(DecodeError::UnknownKind(other)),
        })
    }
}

/// Why bytes are not a canonical entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input ended before a field was complete.
    #[error("truncated {what}: needs {needed} bytes, {available} left")]
    Truncated {
        /// The field being read.
        what: &'static str,
        /// Bytes the field needs.
        needed: usize,
        /// Bytes that were left.
        available: usize,
    },
    /// Bytes follow a complete value.
    #[error("{extra} trailing bytes after a complete value")]
    TrailingBytes {
        /// How many.
        extra: usize,
    },
    /// A format version this build does not know.
    #[error("unknown format version {0} (this build reads version {FORMAT_VERSION})")]
    UnknownVersion(u8),
    /// An entry kind this build does not know.
    #[error("unknown entry kind {0}")]
    UnknownKind(u8),
    /// A length or count above its limit.
    #[error("{what} is {value}, above the limit of {max}")]
    LimitExceeded {
        /// The bounded quantity.
        what: &'static str,
        /// Its value.
        value: u64,
        /// The limit.
        max: u64,
    },
    /// The value breaks a rule of the canonical form.
    #[error("non-canonical entry: {0}")]
    NonCanonical(&'static str),
    /// The payload does not match the header's payload hash.
    #[error("payload does not match the payload hash in the header")]
    PayloadMismatch,
    /// The dependency list does not match the header's deps hash.
    #[error("dependency list does not match the deps hash in the header")]
    DepsMismatch,
}

/// [`DecodeError::LimitExceeded`] unless `value <= max`: every length and count limit of
/// every codec goes through here.
pub fn at_most(what: &'static str, value: u64, max: u64) -> Result<(), DecodeError> {
    if value > max {
        return Err(DecodeError::LimitExceeded { what, value, max });
    }
    Ok(())
}

/// A cursor over untrusted bytes; every read is bounds-checked.
#[derive(Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Bytes not yet consumed.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.remaining() < n {
            return Err(DecodeError::Truncated {
                what,
                needed: n,
                available: self.remaining(),
            });
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    /// The next `N` bytes as an array.
    pub fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    /// A byte.
    pub fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(what)?[0])
    }

    /// A big-endian u32.
    pub fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }

    /// A big-endian u64.
    pub fn u64(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array(what)?))
    }

    /// The format version byte: [`DecodeError::UnknownVersion`] unless it is
    /// [`FORMAT_VERSION`].
    pub fn version(&mut self, what: &'static str) -> Result<(), DecodeError> {
        match self.u8(what)? {
            FORMAT_VERSION => Ok(()),
            other => Err(DecodeError::UnknownVersion(other)),
        }
    }

    /// Fail unless every byte was consumed.
    pub fn finish(&self) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            extra => Err(DecodeError::TrailingBytes { extra }),
        }
    }
}

/// The fixed-width entry header (DESIGN §3). Only constructed through [`Header::decode`] or
/// [`UnsignedEntry::encode`], so every header in memory obeys the structural rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// Entry kind.
    pub kind: Kind,
    /// Swarm id: an entry is valid in one swarm only.
    pub swarm: Id,
    /// Author's Ed25519 public key.
    pub author: Id,
    /// Position in the author's log, from 1.
    pub seq: u64,
    /// Lamport clock, above prev's and every dependency's.
    pub lamport: u64,
    /// Id of the author's entry `seq - 1` (zero at seq 1).
    pub prev: Id,
    /// Id of the author's entry `lipmaa(seq)` (zero where that equals `prev`).
    pub lipmaa: Id,
    /// Hash of the encoded dependency list.
    pub deps_hash: Id,
    /// NOOP only: Merkle root of the author's frontier after this entry.
    pub frontier_root: Id,
    /// Payload length in bytes.
    pub payload_len: u32,
    /// Hash of the payload.
    pub payload_hash: Id,
}

impl Header {
    /// Encode to the canonical 246 bytes.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        let mut w = Writer {
            out: &mut out,
            pos: 0,
        };
        w.put(&[FORMAT_VERSION, self.kind as u8]);
        w.put(&self.swarm);
        w.put(&self.author);
        w.put(&self.seq.to_be_bytes());
        w.put(&self.lamport.to_be_bytes());
        w.put(&self.prev);
        w.put(&self.lipmaa);
        w.put(&self.deps_hash);
        w.put(&self.frontier_root);
        w.put(&self.payload_len.to_be_bytes());
        w.put(&self.payload_hash);
        debug_assert_eq!(w.pos, HEADER_LEN);
        out
    }

    /// Decode and check the header's own rules (those that need no body).
    pub fn decode(bytes: &[u8; HEADER_LEN]) -> Result<Header, DecodeError> {
        HeaderRef::parse(bytes).map(|h| h.to_header())
    }

    /// The entry id: the domain-separated hash of the encoded header.
    pub fn id(&self) -> Id {
        hash::hash(Domain::Entry, &self.encode())
    }
}

/// A header checked in place: every rule of [`Header::decode`] holds, and fields are read
/// from the bytes on demand instead of being copied (the hot path of chain validation).
#[derive(Clone, Copy, Debug)]
pub struct HeaderRef<'a>(&'a [u8; HEADER_LEN]);

/// Field offsets inside the header (docs/format.md).
const OFF_KIND: usize = 1;
const OFF_SWARM: usize = 2;
const OFF_LAMPORT: usize = 74;
const OFF_PREV: usize = 82;
const OFF_LIPMAA: usize = 114;
const OFF_DEPS_HASH: usize = 146;
const OFF_FRONTIER_ROOT: usize = 178;
const OFF_PAYLOAD_HASH: usize = 214;

/// The `N` bytes at a constant offset of a fixed-size record (a header, a dependency
/// item). The offsets are constants inside the array, so the conversion cannot fail and
/// compiles to a plain load.
fn field<const N: usize, const M: usize>(raw: &[u8; M], offset: usize) -> &[u8; N] {
    match raw[offset..offset + N].try_into() {
        Ok(field) => field,
        Err(_) => unreachable!("fields lie inside their record"),
    }
}

impl<'a> HeaderRef<'a> {
    /// Check the header's own rules (those that need no body).
    pub fn parse(raw: &'a [u8; HEADER_LEN]) -> Result<HeaderRef<'a>, DecodeError> {
        use DecodeError::NonCanonical;
        if raw[0] != FORMAT_VERSION {
            return Err(DecodeError::UnknownVersion(raw[0]));
        }
        let h = HeaderRef(raw);
        let kind = h.kind()?;
        let seq = h.seq();
        if seq == 0 {
            return Err(NonCanonical("seq must be at least 1"));
        }
        if h.lamport() < seq {
            return Err(NonCanonical("lamport must be at least seq"));
        }
        at_most("lamport", h.lamport(), MAX_SEQ)?;
        if (seq == 1) != (h.prev() == &ZERO_ID) {
            return Err(NonCanonical("prev must be zero exactly at seq 1"));
        }
        if lipmaa::has_distinct_link(seq) == (h.lipmaa() == &ZERO_ID) {
            return Err(NonCanonical(
                "lipmaa must be zero exactly where lipmaa(seq) is seq - 1 or seq is 1",
            ));
        }
        at_most(
            "payload length",
            u64::from(h.payload_len()),
            MAX_PAYLOAD_LEN as u64,
        )?;
        let is_noop = kind == Kind::Noop;
        if is_noop && h.payload_len() != 0 {
            return Err(NonCanonical("a noop carries no payload"));
        }
        if is_noop == (h.frontier_root() == &ZERO_ID) {
            return Err(NonCanonical(
                "frontier root must be set on noops and only on noops",
            ));
        }
        Ok(h)
    }

    /// The encoded header.
    pub fn bytes(&self) -> &'a [u8; HEADER_LEN] {
        self.0
    }
    /// Entry kind.
    pub fn kind(&self) -> Result<Kind, DecodeError> {
        Kind::from_u8(self.0[OFF_KIND])
    }
    /// Swarm id.
    pub fn swarm(&self) -> &'a Id {
        field(self.0, OFF_SWARM)
    }
    /// Author's public key.
    pub fn author(&self) -> &'a Id {
        field(self.0, OFF_AUTHOR)
    }
    /// Position in the author's log.
    pub fn seq(&self) -> u64 {
        u64::from_be_bytes(*field(self.0, OFF_SEQ))
    }
    /// Lamport clock.
    pub fn lamport(&self) -> u64 {
        u64::from_be_bytes(*field(self.0, OFF_LAMPORT))
    }
    /// Id of entry `seq - 1`.
    pub fn prev(&self) -> &'a Id {
        field(self.0, OFF_PREV)
    }
    /// Id of entry `lipmaa(seq)`, or zero.
    pub fn lipmaa(&self) -> &'a Id {
        field(self.0, OFF_LIPMAA)
    }
    /// Hash of the dependency list.
    pub fn deps_hash(&self) -> &'a Id {
        field(self.0, OFF_DEPS_HASH)
    }
    /// NOOP only: the frontier root.
    pub fn frontier_root(&self) -> &'a Id {
        field(self.0, OFF_FRONTIER_ROOT)
    }
    /// Payload length.
    pub fn payload_len(&self) -> u32 {
        u32::from_be_bytes(*field(self.0, OFF_PAYLOAD_LEN))
    }
    /// Hash of the payload.
    pub fn payload_hash(&self) -> &'a Id {
        field(self.0, OFF_PAYLOAD_HASH)
    }

    /// An owned copy of the fields.
    pub fn to_header(&self) -> Header {
        Header {
            // parse() accepted the kind; DATA is never reached.
            kind: self.kind().unwrap_or(Kind::Data),
            swarm: *self.swarm(),
            author: *self.author(),
            seq: self.seq(),
            lamport: self.lamport(),
            prev: *self.prev(),
            lipmaa: *self.lipmaa(),
            deps_hash: *self.deps_hash(),
            frontier_root: *self.frontier_root(),
            payload_len: self.payload_len(),
            payload_hash: *self.payload_hash(),
        }
    }
}

struct Writer<'a> {
    out: &'a mut [u8],
    pos: usize,
}

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) {
        self.out[self.pos..self.pos + bytes.len()].copy_from_slice(bytes);
        self.pos += bytes.len();
    }
}

/// One dependency item: the author's frontier reached `seq` of `peer`, whose id is `id`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Dep {
    /// The peer whose head advanced.
    pub peer: Id,
    /// Its new head seq.
    pub seq: u64,
    /// The id of that entry.
    pub id: Id,
}

impl Dep {
    /// The item encoded in `chunk` (fixed offsets: peer, seq, id).
    pub fn from_chunk(chunk: &[u8; DEP_LEN]) -> Dep {
        Dep {
            peer: *field(chunk, 0),
            seq: u64::from_be_bytes(*field(chunk, ID_LEN)),
            id: *field(chunk, ID_LEN + 8),
        }
    }

    fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.peer);
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&self.id);
    }
}

/// Encode a dependency list (count prefix and items), in the given order.
pub fn encode_deps(deps: &[Dep]) -> Vec<u8> {
    let mut out = Vec::with_capacity(DEPS_COUNT_LEN + deps.len() * DEP_LEN);
    // The count is bounded by MAX_DEPS before anything is signed (UnsignedEntry::encode);
    // saturating keeps an oversized list undecodable instead of wrapping.
    let count = u32::try_from(deps.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&count.to_be_bytes());
    for dep in deps {
        dep.encode_into(&mut out);
    }
    out
}

/// Hashes of empty bodies, computed once: most noops and many entries have them.
fn empty_hashes() -> &'static (Id, Id) {
    static EMPTY: OnceLock<(Id, Id)> = OnceLock::new();
    EMPTY.get_or_init(|| {
        (
            hash::hash(Domain::Deps, &0u32.to_be_bytes()),
            hash::hash(Domain::Payload, b""),
        )
    })
}

fn deps_hash(raw: &[u8]) -> Id {
    if raw.len() == DEPS_COUNT_LEN {
        empty_hashes().0
    } else {
        hash::hash(Domain::Deps, raw)
    }
}

fn payload_hash(payload: &[u8]) -> Id {
    if payload.is_empty() {
        empty_hashes().1
    } else {
        hash::hash(Domain::Payload, payload)
    }
}

/// A header with its signature and id, decodable without the body (fraud proofs, §5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedHeader {
    /// The header.
    pub header: Header,
    /// The author's signature over [`SignedHeader::id`].
    pub signature: [u8; SIGNATURE_LEN],
    /// The entry id.
    pub id: Id,
}

impl SignedHeader {
    /// Read a signed header from the front of `r`.
    pub fn read(r: &mut Reader<'_>) -> Result<SignedHeader, DecodeError> {
        let (header, id) = read_header(r)?;
        Ok(SignedHeader {
            header: header.to_header(),
            signature: r.array("signature")?,
            id,
        })
    }

    /// Decode exactly one signed header (310 bytes).
    pub fn decode(bytes: &[u8]) -> Result<SignedHeader, DecodeError> {
        let mut r = Reader::new(bytes);
        let out = SignedHeader::read(&mut r)?;
        r.finish()?;
        Ok(out)
    }

    /// The canonical 310 bytes.
    pub fn encode(&self) -> [u8; SIGNED_HEADER_LEN] {
        let mut out = [0u8; SIGNED_HEADER_LEN];
        out[..HEADER_LEN].copy_from_slice(&self.header.encode());
        out[HEADER_LEN..].copy_from_slice(&self.signature);
        out
    }
}

/// A decoded entry borrowing the bytes it was decoded from.
#[derive(Clone, Debug)]
pub struct EntryView<'a> {
    /// Header, signature and id.
    pub signed: SignedHeader,
    /// The encoded dependency list (count and items), already checked.
    pub deps_raw: &'a [u8],
    /// The payload, already checked against its hash.
    pub payload: &'a [u8],
    /// The exact encoding of this entry.
    pub encoded: &'a [u8],
}

/// Read and check a header from the front of `r`, returning it with its id.
fn read_header<'a>(r: &mut Reader<'a>) -> Result<(HeaderRef<'a>, Id), DecodeError> {
    let raw: &[u8; HEADER_LEN] = r
        .take(HEADER_LEN, "header")?
        .try_into()
        .map_err(|_| DecodeError::NonCanonical("header length"))?;
    let header = HeaderRef::parse(raw)?;
    Ok((header, hash::hash(Domain::Entry, raw)))
}

/// An entry checked in place: header, id, and where its parts are in the input.
#[derive(Clone, Copy, Debug)]
pub struct CheckedEntry<'a> {
    /// The header, read in place.
    pub header: HeaderRef<'a>,
    /// The entry id.
    pub id: Id,
    /// The signature.
    pub signature: &'a [u8; SIGNATURE_LEN],
    /// The encoded dependency list (count and items).
    pub deps_raw: &'a [u8],
    /// The payload.
    pub payload: &'a [u8],
}

impl<'a> CheckedEntry<'a> {
    /// Read one entry from the front of `r` and check every rule of the canonical form,
    /// copying nothing. [`EntryView::read`] is this plus owned header fields.
    pub fn read(r: &mut Reader<'a>) -> Result<CheckedEntry<'a>, DecodeError> {
        let (header, id) = read_header(r)?;
        let signature: &[u8; SIGNATURE_LEN] = r
            .take(SIGNATURE_LEN, "signature")?
            .try_into()
            .map_err(|_| DecodeError::NonCanonical("signature length"))?;
        let count_bytes: [u8; DEPS_COUNT_LEN] = r.array("dependency count")?;
        let count = u32::from_be_bytes(count_bytes) as usize;
        at_most("dependency count", count as u64, MAX_DEPS as u64)?;
        let deps_start = r.position() - DEPS_COUNT_LEN;
        let items = r.take(count * DEP_LEN, "dependency list")?;
        check_deps(items, header.author())?;
        let deps_raw = &r.buf[deps_start..r.position()];
        if &deps_hash(deps_raw) != header.deps_hash() {
            return Err(DecodeError::DepsMismatch);
        }
        let payload = r.take(header.payload_len() as usize, "payload")?;
        if &payload_hash(payload) != header.payload_hash() {
            return Err(DecodeError::PayloadMismatch);
        }
        Ok(CheckedEntry {
            header,
            id,
            signature,
            deps_raw,
            payload,
        })
    }
}

impl<'a> EntryView<'a> {
    /// Read one entry from the front of `buf`, leaving any following bytes unread.
    pub fn read(r: &mut Reader<'a>) -> Result<EntryView<'a>, DecodeError> {
        let start = r.position();
        let checked = CheckedEntry::read(r)?;
        Ok(EntryView {
            signed: SignedHeader {
                header: checked.header.to_header(),
                signature: *checked.signature,
                id: checked.id,
            },
            deps_raw: checked.deps_raw,
            payload: checked.payload,
            encoded: &r.buf[start..r.position()],
        })
    }

    /// Decode exactly one entry, rejecting trailing bytes.
    pub fn decode(bytes: &'a [u8]) -> Result<EntryView<'a>, DecodeError> {
        at_most("entry length", bytes.len() as u64, MAX_ENTRY_LEN as u64)?;
        let mut r = Reader::new(bytes);
        let view = EntryView::read(&mut r)?;
        r.finish()?;
        Ok(view)
    }

    /// The dependency items, in their canonical (ascending peer) order.
    pub fn deps(&self) -> impl ExactSizeIterator<Item = Dep> + '_ {
        dep_items(self.deps_raw.get(DEPS_COUNT_LEN..).unwrap_or(&[]))
    }

    /// The entry id.
    pub fn id(&self) -> &Id {
        &self.signed.id
    }

    /// The header.
    pub fn header(&self) -> &Header {
        &self.signed.header
    }
}

/// Peek at the seq of an encoded entry without decoding it (for error reports).
pub fn peek_seq(bytes: &[u8]) -> Option<u64> {
    bytes
        .get(OFF_SEQ..OFF_SEQ + 8)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_be_bytes)
}

/// Length of the entry at the front of `bytes`, from its header and dependency count, if
/// that much is present; used to split a buffer of back-to-back entries.
pub fn peek_len(bytes: &[u8]) -> Option<usize> {
    let payload_len = bytes
        .get(OFF_PAYLOAD_LEN..OFF_PAYLOAD_LEN + 4)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_be_bytes)? as usize;
    let count = bytes
        .get(SIGNED_HEADER_LEN..SIGNED_HEADER_LEN + DEPS_COUNT_LEN)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_be_bytes)? as usize;
    SIGNED_HEADER_LEN
        .checked_add(DEPS_COUNT_LEN)?
        .checked_add(count.checked_mul(DEP_LEN)?)?
        .checked_add(payload_len)
}

/// The dependency items encoded back to back in `items` (the list without its count).
pub fn dep_items(items: &[u8]) -> impl ExactSizeIterator<Item = Dep> + '_ {
    items.as_chunks::<DEP_LEN>().0.iter().map(Dep::from_chunk)
}

fn check_deps(items: &[u8], author: &Id) -> Result<(), DecodeError> {
    let mut last_peer: Option<Id> = None;
    for Dep { peer, seq, .. } in dep_items(items) {
        if last_peer.is_some_and(|last| last >= peer) {
            return Err(DecodeError::NonCanonical(
                "dependencies must be strictly ascending by peer",
            ));
        }
        if &peer == author {
            return Err(DecodeError::NonCanonical(
                "an entry cannot depend on its own author (use prev)",
            ));
        }
        if seq == 0 {
            return Err(DecodeError::NonCanonical(
                "dependency seq must be at least 1",
            ));
        }
        at_most("dependency seq", seq, MAX_SEQ)?;
        last_peer = Some(peer);
    }
    Ok(())
}

/// Everything needed to produce a signed entry, before signing.
#[derive(Clone, Debug)]
pub struct UnsignedEntry {
    /// Entry kind.
    pub kind: Kind,
    /// Swarm id.
    pub swarm: Id,
    /// Author's public key.
    pub author: Id,
    /// Position in the author's log.
    pub seq: u64,
    /// Lamport clock.
    pub lamport: u64,
    /// Id of entry `seq - 1` (zero at seq 1).
    pub prev: Id,
    /// Id of entry `lipmaa(seq)`; ignored (encoded as zero) where that equals `prev`.
    pub lipmaa: Id,
    /// Dependency delta, in any order (encoded sorted by peer).
    pub deps: Vec<Dep>,
    /// NOOP only: the frontier root.
    pub frontier_root: Id,
    /// Payload.
    pub payload: Vec<u8>,
}

impl UnsignedEntry {
    /// Encode and sign with `sign` (which signs the 32-byte id), then decode the result so
    /// that nothing non-canonical can ever be produced.
    pub fn encode(
        &self,
        sign: impl FnOnce(&Id) -> [u8; SIGNATURE_LEN],
    ) -> Result<Vec<u8>, DecodeError> {
        at_most("dependency count", self.deps.len() as u64, MAX_DEPS as u64)?;
        let payload_len =
            u32::try_from(self.payload.len()).map_err(|_| DecodeError::LimitExceeded {
                what: "payload length",
                value: self.payload.len() as u64,
                max: MAX_PAYLOAD_LEN as u64,
            })?;
        let mut deps = self.deps.clone();
        deps.sort_by_key(|d| d.peer);
        let deps_raw = encode_deps(&deps);
        let lipmaa = if lipmaa::has_distinct_link(self.seq) {
            self.lipmaa
        } else {
            ZERO_ID
        };
        let header = Header {
            kind: self.kind,
            swarm: self.swarm,
            author: self.author,
            seq: self.seq,
            lamport: self.lamport,
            prev: self.prev,
            lipmaa,
            deps_hash: deps_hash(&deps_raw),
            frontier_root: self.frontier_root,
            payload_len,
            payload_hash: payload_hash(&self.payload),
        };
        let encoded_header = header.encode();
        HeaderRef::parse(&encoded_header)?;
        let id = hash::hash(Domain::Entry, &encoded_header);
        let signature = sign(&id);
        let mut out = Vec::with_capacity(SIGNED_HEADER_LEN + deps_raw.len() + self.payload.len());
        out.extend_from_slice(&encoded_header);
        out.extend_from_slice(&signature);
        out.extend_from_slice(&deps_raw);
        out.extend_from_slice(&self.payload);
        EntryView::decode(&out)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(seq: u64) -> UnsignedEntry {
        UnsignedEntry {
            kind: Kind::Data,
            swarm: [7; 32],
            author: [1; 32],
            seq,
            lamport: seq + 3,
            prev: if seq == 1 { ZERO_ID } else { [2; 32] },
            lipmaa: [3; 32],
            deps: vec![
                Dep {
                    peer: [9; 32],
                    seq: 4,
                    id: [5; 32],
                },
                Dep {
                    peer: [4; 32],
                    seq: 2,
                    id: [6; 32],
                },
            ],
            frontier_root: ZERO_ID,
            payload: b"hello".to_vec(),
        }
    }

    fn fake_sign(id: &Id) -> [u8; SIGNATURE_LEN] {
        let mut sig = [0u8; SIGNATURE_LEN];
        sig[..32].copy_from_slice(id);
        sig
    }

    #[test]
    fn header_len_is_documented_value() {
        assert_eq!(HEADER_LEN, 246);
        assert_eq!(SIGNED_HEADER_LEN, 310);
        assert_eq!(DEP_LEN, 72);
    }

    #[test]
    fn round_trip() {
        for seq in [1, 2, 3, 4, 13, 40] {
            let bytes = sample(seq).encode(fake_sign).unwrap();
            let view = EntryView::decode(&bytes).unwrap();
            assert_eq!(view.header().seq, seq);
            assert_eq!(view.payload, b"hello");
            let deps: Vec<Dep> = view.deps().collect();
            assert_eq!(deps.len(), 2);
            assert!(deps[0].peer < deps[1].peer, "encoded sorted");
            assert_eq!(view.encoded, &bytes[..]);
            assert_eq!(peek_len(&bytes), Some(bytes.len()));
            assert_eq!(peek_seq(&bytes), Some(seq));
            assert_eq!(view.id(), &view.header().id());
        }
    }

    #[test]
    fn rejects_trailing_and_truncated() {
        let mut bytes = sample(2).encode(fake_sign).unwrap();
        for cut in 0..bytes.len() {
            assert!(EntryView::decode(&bytes[..cut]).is_err(), "cut {cut}");
        }
        bytes.push(0);
        assert_eq!(
            EntryView::decode(&bytes).unwrap_err(),
            DecodeError::TrailingBytes { extra: 1 }
        );
    }

    #[test]
    fn rejects_version_kind_and_tampering() {
        let bytes = sample(2).encode(fake_sign).unwrap();
        let mut b = bytes.clone();
        b[0] = 2;
        assert_eq!(
            EntryView::decode(&b).unwrap_err(),
            DecodeError::UnknownVersion(2)
        );
        let mut b = bytes.clone();
        b[1] = 99;
        assert_eq!(
            EntryView::decode(&b).unwrap_err(),
            DecodeError::UnknownKind(99)
        );
        let mut b = bytes.clone();
        *b.last_mut().unwrap() ^= 1;
        assert_eq!(
            EntryView::decode(&b).unwrap_err(),
            DecodeError::PayloadMismatch
        );
        let mut b = bytes.clone();
        b[SIGNED_HEADER_LEN + DEPS_COUNT_LEN + 40] ^= 1;
        assert_eq!(
            EntryView::decode(&b).unwrap_err(),
            DecodeError::DepsMismatch
        );
    }

    #[test]
    fn builder_refuses_invalid_entries() {
        let mut e = sample(1);
        e.prev = [2; 32];
        assert!(matches!(
            e.encode(fake_sign),
            Err(DecodeError::NonCanonical(_))
        ));
        let mut e = sample(3);
        e.kind = Kind::Noop;
        assert!(e.encode(fake_sign).is_err(), "noop with payload");
        let mut e = sample(3);
        e.deps[0].peer = e.author;
        assert!(e.encode(fake_sign).is_err(), "self dependency");
        let mut e = sample(3);
        e.payload = vec![0; MAX_PAYLOAD_LEN + 1];
        assert!(matches!(
            e.encode(fake_sign),
            Err(DecodeError::LimitExceeded { .. })
        ));
    }

    #[test]
    fn duplicate_deps_are_rejected() {
        let mut e = sample(3);
        e.deps[1].peer = e.deps[0].peer;
        assert!(matches!(
            e.encode(fake_sign),
            Err(DecodeError::NonCanonical(_))
        ));
    }
}

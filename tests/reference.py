"""A slow, obviously correct pure-Python reference of lattice's formats and kernels.

Everything here is written from the documents, not from the Rust code: ``docs/format.md``
(hash domains, entry encoding, chain segments, Merkle trees, subtree proofs) and DESIGN §2-§4
(lipmaa links, the entanglement matrix). The tests compare the Rust extension with it on every
input that matters. Speed is irrelevant; each function does the plainest thing that is right.

Libraries: :mod:`hashlib` (SHA-256 for the RFC 6962 tree), the ``blake3`` PyPI package
(BLAKE3 key-derivation mode) and ``cryptography`` (Ed25519 signing and plain verification).
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, NamedTuple, Protocol

import blake3
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

# --------------------------------------------------------------------------------------------
# Hash domains (docs/format.md "Hash domains")
# --------------------------------------------------------------------------------------------

CONTEXTS: Final[dict[str, str]] = {
    "entry": "lattice v1 entry",
    "deps": "lattice v1 deps",
    "payload": "lattice v1 payload",
    "merkle leaf": "lattice v1 merkle leaf",
    "merkle node": "lattice v1 merkle node",
    "merkle empty": "lattice v1 merkle empty",
    "frontier": "lattice v1 frontier",
    "pow": "lattice v1 pow",
    "batch": "lattice v1 batch coefficients",
    "client op": "lattice v1 client op",
    "noise binding": "lattice v1 noise binding",
}
"""Domain name -> BLAKE3 key-derivation context string."""

HASH_LEN: Final = 32


def derive_key(context: str, material: bytes, length: int = HASH_LEN) -> bytes:
    """BLAKE3 in key-derivation mode: ``blake3.derive_key(context, material)``."""
    return blake3.blake3(material, derive_key_context=context).digest(length)


def domain_hash(domain: str, data: bytes) -> bytes:
    """The 32-byte hash of ``data`` under one of lattice's domains."""
    return derive_key(CONTEXTS[domain], bytes(data))


# --------------------------------------------------------------------------------------------
# Entries (docs/format.md "Entry")
# --------------------------------------------------------------------------------------------

FORMAT_VERSION: Final = 1
ID_LEN: Final = 32
SIGNATURE_LEN: Final = 64
HEADER_LEN: Final = 246
SIGNED_HEADER_LEN: Final = HEADER_LEN + SIGNATURE_LEN
DEPS_COUNT_LEN: Final = 4
DEP_LEN: Final = ID_LEN + 8 + ID_LEN
MAX_DEPS: Final = 4096
#: seq, lamport and dependency seqs fit a signed 64-bit integer (SQLite stores them).
MAX_SEQ: Final = 2**63 - 1
MAX_PAYLOAD_LEN: Final = 1 << 20
ZERO_ID: Final = bytes(ID_LEN)

KIND_DATA: Final = 1
KIND_NOOP: Final = 2
KIND_WRAP: Final = 3
KIND_FRAUD: Final = 16
KIND_ATTESTATION: Final = 17
KIND_SNAPSHOT: Final = 18
KIND_BLOB: Final = 19
KIND_ADMISSION: Final = 20
KIND_VOUCH: Final = 21
KINDS: Final = frozenset(
    {KIND_DATA, KIND_NOOP, KIND_WRAP, KIND_FRAUD, KIND_ATTESTATION, KIND_SNAPSHOT, KIND_BLOB}
    | {KIND_ADMISSION, KIND_VOUCH}
)

# Header layout: (name, offset, size); the offsets are the table of docs/format.md.
_U8, _U32, _U64 = ">B", ">I", ">Q"
HEADER_FIELDS: Final = (
    ("version", 0, 1),
    ("kind", 1, 1),
    ("swarm", 2, 32),
    ("author", 34, 32),
    ("seq", 66, 8),
    ("lamport", 74, 8),
    ("prev", 82, 32),
    ("lipmaa", 114, 32),
    ("deps_hash", 146, 32),
    ("frontier_root", 178, 32),
    ("payload_len", 210, 4),
    ("payload_hash", 214, 32),
)
OFFSET: Final = {name: off for name, off, _ in HEADER_FIELDS}

Dep = tuple[bytes, int, bytes]
"""One dependency item: (peer, seq, id)."""


class RefDecodeError(ValueError):
    """Reference decoding failed; ``reason`` names the ``lattice.errors`` class it maps to.

    Reasons: ``Truncated``, ``TrailingBytes``, ``UnknownVersion``, ``UnknownKind``,
    ``LimitExceeded``, ``NonCanonical``, ``PayloadMismatch``, ``DepsMismatch``.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason


@dataclass(frozen=True)
class RefEntry:
    """One entry, field by field. Construction does not validate; :func:`decode` does."""

    kind: int
    swarm: bytes
    author: bytes
    seq: int
    lamport: int
    prev: bytes
    lipmaa: bytes
    deps_hash: bytes
    frontier_root: bytes
    payload_len: int
    payload_hash: bytes
    signature: bytes
    deps: tuple[Dep, ...]
    payload: bytes
    version: int = FORMAT_VERSION

    def header(self) -> bytes:
        """The 246-byte header that the id hashes."""
        return encode_header(self)

    @property
    def id(self) -> bytes:
        return domain_hash("entry", self.header())

    def signed_header(self) -> bytes:
        return self.header() + self.signature

    def encode(self) -> bytes:
        return encode(self)

    def deps_dict(self) -> dict[bytes, tuple[int, bytes]]:
        return {peer: (seq, dep_id) for peer, seq, dep_id in self.deps}


def encode_header(e: RefEntry) -> bytes:
    """Big-endian, fixed width, in the order of the header table."""
    out = (
        struct.pack(_U8, e.version)
        + struct.pack(_U8, e.kind)
        + e.swarm
        + e.author
        + struct.pack(_U64, e.seq)
        + struct.pack(_U64, e.lamport)
        + e.prev
        + e.lipmaa
        + e.deps_hash
        + e.frontier_root
        + struct.pack(_U32, e.payload_len)
        + e.payload_hash
    )
    assert len(out) == HEADER_LEN, len(out)
    return out


def encode_deps(deps: Sequence[Dep]) -> bytes:
    """``count u32 ‖ count * (peer [32] ‖ seq u64 ‖ id [32])``, in the order given."""
    out = struct.pack(_U32, len(deps))
    for peer, seq, dep_id in deps:
        out += peer + struct.pack(_U64, seq) + dep_id
    return out


def encode(e: RefEntry) -> bytes:
    """``header ‖ signature ‖ deps ‖ payload``."""
    return encode_header(e) + e.signature + encode_deps(e.deps) + e.payload


def entry_id(header_or_entry: bytes) -> bytes:
    """H_entry over the first 246 bytes (a header, a signed header or a whole entry)."""
    return domain_hash("entry", header_or_entry[:HEADER_LEN])


def public_key(seed: bytes) -> bytes:
    """The Ed25519 public key of a 32-byte RFC 8032 seed."""
    return Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()


def verify_signature(author: bytes, message: bytes, signature: bytes) -> bool:
    """Plain (RFC 8032 / cryptography) verification; enough for honestly made signatures."""
    try:
        Ed25519PublicKey.from_public_bytes(author).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def _dep_items(deps: Mapping[bytes, tuple[int, bytes]] | Sequence[Dep] | None) -> tuple[Dep, ...]:
    if deps is None:
        return ()
    if isinstance(deps, Mapping):
        return tuple((peer, seq, dep_id) for peer, (seq, dep_id) in sorted(deps.items()))
    return tuple(deps)


def sign_entry(
    seed: bytes,
    *,
    swarm: bytes,
    seq: int,
    lamport: int,
    prev: bytes | None = None,
    lipmaa: bytes | None = None,
    deps: Mapping[bytes, tuple[int, bytes]] | Sequence[Dep] | None = None,
    payload: bytes = b"",
    kind: int = KIND_DATA,
    frontier_root: bytes | None = None,
    version: int = FORMAT_VERSION,
    author: bytes | None = None,
    deps_hash: bytes | None = None,
    payload_len: int | None = None,
    payload_hash: bytes | None = None,
) -> RefEntry:
    """Build and sign an entry with the key of ``seed``; mirrors ``Entry.create``.

    A mapping ``deps`` is encoded sorted by peer; a sequence of ``(peer, seq, id)`` is encoded
    in the order given (so tests can build unsorted lists). Nothing is validated, and the
    keyword-only overrides (``author``, ``deps_hash``, ``payload_len``, ``payload_hash``,
    ``version``) let tests build entries that break one rule and are still properly signed.
    """
    items = _dep_items(deps)
    key = Ed25519PrivateKey.from_private_bytes(seed)
    unsigned = RefEntry(
        kind=kind,
        swarm=bytes(swarm),
        author=public_key(seed) if author is None else author,
        seq=seq,
        lamport=lamport,
        prev=ZERO_ID if prev is None else bytes(prev),
        lipmaa=ZERO_ID if lipmaa is None else bytes(lipmaa),
        deps_hash=domain_hash("deps", encode_deps(items)) if deps_hash is None else deps_hash,
        frontier_root=ZERO_ID if frontier_root is None else bytes(frontier_root),
        payload_len=len(payload) if payload_len is None else payload_len,
        payload_hash=domain_hash("payload", payload) if payload_hash is None else payload_hash,
        signature=bytes(SIGNATURE_LEN),
        deps=items,
        payload=bytes(payload),
        version=version,
    )
    signature = key.sign(unsigned.id)
    return RefEntry(**{**unsigned.__dict__, "signature": signature})


def _take(buf: bytes, pos: int, n: int, what: str) -> bytes:
    if len(buf) - pos < n:
        raise RefDecodeError("Truncated", f"{what}: need {n} bytes at {pos}, have {len(buf) - pos}")
    return buf[pos : pos + n]


def _decode_header(buf: bytes) -> dict[str, int | bytes]:
    """Decode and check the 246-byte header (every rule of the header table)."""
    fields: dict[str, int | bytes] = {}
    for name, off, size in HEADER_FIELDS:
        raw = buf[off : off + size]
        fields[name] = raw if size == ID_LEN else int.from_bytes(raw, "big")
    version, kind = int(fields["version"]), int(fields["kind"])
    seq, lamport = int(fields["seq"]), int(fields["lamport"])
    prev, lip = fields["prev"], fields["lipmaa"]
    if version != FORMAT_VERSION:
        raise RefDecodeError("UnknownVersion", f"version {version}")
    if kind not in KINDS:
        raise RefDecodeError("UnknownKind", f"kind {kind}")
    if seq < 1:
        raise RefDecodeError("NonCanonical", "seq 0")
    if lamport < seq:
        raise RefDecodeError("NonCanonical", f"lamport {lamport} < seq {seq}")
    if lamport > MAX_SEQ:
        raise RefDecodeError("LimitExceeded", f"lamport {lamport}")
    if (prev == ZERO_ID) != (seq == 1):
        raise RefDecodeError("NonCanonical", "prev must be zero exactly at seq 1")
    lipmaa_is_prev = seq == 1 or lipmaa(seq) == seq - 1
    if (lip == ZERO_ID) != lipmaa_is_prev:
        raise RefDecodeError(
            "NonCanonical", "lipmaa must be zero exactly at seq 1 or where lipmaa(seq) = seq - 1"
        )
    payload_len = int(fields["payload_len"])
    if payload_len > MAX_PAYLOAD_LEN:
        raise RefDecodeError("LimitExceeded", f"payload_len {payload_len}")
    if kind == KIND_NOOP and payload_len != 0:
        raise RefDecodeError("NonCanonical", "noop with payload")
    if (fields["frontier_root"] != ZERO_ID) != (kind == KIND_NOOP):
        raise RefDecodeError("NonCanonical", "frontier_root set iff noop")
    return fields


def decode_signed_header(data: bytes) -> RefEntry:
    """Decode exactly ``header ‖ signature`` (310 bytes); deps and payload are empty."""
    data = bytes(data)
    _take(data, 0, SIGNED_HEADER_LEN, "signed header")
    if len(data) > SIGNED_HEADER_LEN:
        raise RefDecodeError("TrailingBytes", f"{len(data) - SIGNED_HEADER_LEN} extra bytes")
    return _make(_decode_header(data), data[HEADER_LEN:SIGNED_HEADER_LEN], (), b"")


def _make(
    f: Mapping[str, int | bytes], signature: bytes, deps: tuple[Dep, ...], payload: bytes
) -> RefEntry:
    def b(name: str) -> bytes:
        v = f[name]
        assert isinstance(v, bytes)
        return v

    def i(name: str) -> int:
        v = f[name]
        assert isinstance(v, int)
        return v

    return RefEntry(
        version=i("version"),
        kind=i("kind"),
        swarm=b("swarm"),
        author=b("author"),
        seq=i("seq"),
        lamport=i("lamport"),
        prev=b("prev"),
        lipmaa=b("lipmaa"),
        deps_hash=b("deps_hash"),
        frontier_root=b("frontier_root"),
        payload_len=i("payload_len"),
        payload_hash=b("payload_hash"),
        signature=signature,
        deps=deps,
        payload=payload,
    )


def decode(data: bytes) -> RefEntry:
    """Decode one whole entry, raising :class:`RefDecodeError` (a ValueError) on any violation.

    Check order: header present, header rules, deps count and limit, deps items present, deps
    order and content, deps hash, payload present, no trailing bytes, payload hash.
    """
    data = bytes(data)
    _take(data, 0, SIGNED_HEADER_LEN, "signed header")
    f = _decode_header(data)
    signature = data[HEADER_LEN:SIGNED_HEADER_LEN]
    pos = SIGNED_HEADER_LEN
    count = int.from_bytes(_take(data, pos, DEPS_COUNT_LEN, "deps count"), "big")
    if count > MAX_DEPS:
        raise RefDecodeError("LimitExceeded", f"{count} deps")
    raw_deps = _take(data, pos, DEPS_COUNT_LEN + count * DEP_LEN, "deps")
    pos += len(raw_deps)
    deps: list[Dep] = []
    for k in range(count):
        item = raw_deps[DEPS_COUNT_LEN + k * DEP_LEN : DEPS_COUNT_LEN + (k + 1) * DEP_LEN]
        peer, seq, dep_id = item[:32], int.from_bytes(item[32:40], "big"), item[40:]
        if deps and peer <= deps[-1][0]:
            raise RefDecodeError("NonCanonical", "deps not strictly ascending by peer")
        if peer == f["author"]:
            raise RefDecodeError("NonCanonical", "author in its own deps")
        if seq < 1:
            raise RefDecodeError("NonCanonical", "dependency seq 0")
        if seq > MAX_SEQ:
            raise RefDecodeError("LimitExceeded", f"dependency seq {seq}")
        deps.append((peer, seq, dep_id))
    if domain_hash("deps", raw_deps) != f["deps_hash"]:
        raise RefDecodeError("DepsMismatch", "deps do not match deps_hash")
    payload_len = int(f["payload_len"])
    payload = _take(data, pos, payload_len, "payload")
    pos += payload_len
    if pos != len(data):
        raise RefDecodeError("TrailingBytes", f"{len(data) - pos} extra bytes")
    if domain_hash("payload", payload) != f["payload_hash"]:
        raise RefDecodeError("PayloadMismatch", "payload does not match payload_hash")
    return _make(f, signature, tuple(deps), payload)


def entry_len(data: bytes) -> int | None:
    """The length an entry at the start of ``data`` declares, or None if it cannot say."""
    if len(data) < SIGNED_HEADER_LEN + DEPS_COUNT_LEN:
        return None
    payload_len = int.from_bytes(data[OFFSET["payload_len"] : OFFSET["payload_len"] + 4], "big")
    count = int.from_bytes(data[SIGNED_HEADER_LEN : SIGNED_HEADER_LEN + 4], "big")
    return SIGNED_HEADER_LEN + DEPS_COUNT_LEN + count * DEP_LEN + payload_len


def split_entries(buf: bytes) -> list[bytes]:
    """Split back-to-back entries; a tail that cannot be an entry is one last (bad) item."""
    out = []
    pos = 0
    while pos < len(buf):
        n = entry_len(buf[pos:])
        if n is None or n > len(buf) - pos:
            n = len(buf) - pos
        out.append(buf[pos : pos + n])
        pos += n
    return out


# --------------------------------------------------------------------------------------------
# Lipmaa links (DESIGN §2)
# --------------------------------------------------------------------------------------------


def lipmaa(n: int) -> int:
    """The iterative algorithm of DESIGN §2, line for line (integer division throughout)."""
    m, p3, x = 1, 3, n
    while m < n:
        p3 *= 3
        m = (p3 - 1) // 2
    p3 //= 3
    if m != n:
        while x != 0:
            m = (p3 - 1) // 2
            p3 //= 3
            x %= m
        if m != p3:
            p3 = m
    return n - p3


def lipmaa_path(start: int, end: int) -> list[int]:
    """Greedy shortest path: from n go to lipmaa(n) if that is >= end, else to n - 1."""
    if end < 1 or start < end:
        raise ValueError(f"need 1 <= end <= start, got start={start} end={end}")
    path = [start]
    n = start
    while n > end:
        n = lipmaa(n) if lipmaa(n) >= end else n - 1
        path.append(n)
    return path


def lipmaa_level(n: int) -> int:
    """The smallest k with (3^k - 1) / 2 >= n: the level of the lipmaa tree n lives in."""
    k = 0
    while (3**k - 1) // 2 < n:
        k += 1
    return k


def lipmaa_path_bound(n: int) -> int:
    """Most entries a shortest path from n down to 1 can have: 3(k - 1) at level k."""
    return max(1, 3 * (lipmaa_level(n) - 1))


# --------------------------------------------------------------------------------------------
# Chain segments (docs/format.md "Chain segment")
# --------------------------------------------------------------------------------------------


class ChainResult(NamedTuple):
    ok: bool
    ids: list[bytes]
    failure_index: int | None
    reason: str | None
    """A ``lattice.errors`` class name (or a decode reason), or None when ok."""


def validate_chain_result(
    entries: Sequence[bytes] | bytes,
    *,
    prior: Mapping[int, bytes] | None = None,
    author: bytes | None = None,
    swarm: bytes | None = None,
    verify_signatures: bool = False,
) -> ChainResult:
    """Validate one author's contiguous segment; see docs/format.md "Chain segment".

    Per entry, in order: decodes; author; swarm; seq = first seq + index; lamport above the
    previous entry's; prev = id of seq - 1; lipmaa = id of lipmaa(seq) where it is not prev;
    signature (if asked). A link whose target is neither in the segment nor in ``prior`` is a
    failure too (``UnresolvedLink``).
    """
    items = split_entries(bytes(entries)) if isinstance(entries, bytes | bytearray) else entries
    known: dict[int, bytes] = dict(prior or {})
    ids: list[bytes] = []
    first: RefEntry | None = None
    last: RefEntry | None = None

    def fail(index: int, reason: str) -> ChainResult:
        return ChainResult(False, ids, index, reason)

    for index, raw in enumerate(items):
        try:
            e = decode(bytes(raw))
        except RefDecodeError as err:
            return fail(index, err.reason)
        if first is None:
            first = e
        if e.author != (first.author if author is None else author):
            return fail(index, "WrongAuthor")
        if e.swarm != (first.swarm if swarm is None else swarm):
            return fail(index, "WrongSwarm")
        if e.seq != first.seq + index:
            return fail(index, "SeqGap")
        if last is not None and e.lamport <= last.lamport:
            return fail(index, "LamportNotIncreasing")
        if e.seq > 1:
            target = known.get(e.seq - 1)
            if target is None:
                return fail(index, "UnresolvedLink")
            if target != e.prev:
                return fail(index, "BrokenPrev")
            if lipmaa(e.seq) != e.seq - 1:
                target = known.get(lipmaa(e.seq))
                if target is None:
                    return fail(index, "UnresolvedLink")
                if target != e.lipmaa:
                    return fail(index, "BrokenLipmaa")
        if verify_signatures and not verify_signature(e.author, e.id, e.signature):
            return fail(index, "InvalidSignature")
        known[e.seq] = e.id
        ids.append(e.id)
        last = e
    return ChainResult(True, ids, None, None)


def validate_chain(
    entries: Sequence[bytes] | bytes,
    *,
    prior: Mapping[int, bytes] | None = None,
    author: bytes | None = None,
    swarm: bytes | None = None,
    verify_signatures: bool = False,
) -> tuple[bool, list[bytes], int | None]:
    """``(ok, ids_of_valid_prefix, failure_index)``; see :func:`validate_chain_result`."""
    r = validate_chain_result(
        entries, prior=prior, author=author, swarm=swarm, verify_signatures=verify_signatures
    )
    return r.ok, r.ids, r.failure_index


def build_chain(
    seed: bytes,
    n: int,
    *,
    swarm: bytes = ZERO_ID,
    start: int = 1,
    prior: Mapping[int, bytes] | None = None,
    payload: bytes = b"",
) -> list[RefEntry]:
    """Entries ``start .. start + n - 1`` of one author's log, properly linked and signed.

    Seqs before ``start`` are linked to ``prior`` (seq -> id); lamport is ``2 * seq``.
    """
    known = dict(prior or {})
    out = []
    for seq in range(start, start + n):
        e = sign_entry(
            seed,
            swarm=swarm,
            seq=seq,
            lamport=2 * seq,
            prev=known[seq - 1] if seq > 1 else None,
            lipmaa=known[lipmaa(seq)] if seq > 1 and lipmaa(seq) != seq - 1 else None,
            payload=payload + seq.to_bytes(8, "big") if payload else b"",
        )
        known[seq] = e.id
        out.append(e)
    return out


def fake_prior(seed: bytes, upto: int) -> dict[int, bytes]:
    """Ids of a real log's entries 1..upto (for segments that start later)."""
    return {e.seq: e.id for e in build_chain(seed, upto)}


# --------------------------------------------------------------------------------------------
# Merkle trees (RFC 9162 §2.1), generic over the hasher
# --------------------------------------------------------------------------------------------


class Hasher(Protocol):
    name: str
    size: int

    def empty_root(self) -> bytes: ...
    def hash_leaf(self, data: bytes) -> bytes: ...
    def hash_children(self, left: bytes, right: bytes) -> bytes: ...


class Sha256Hasher:
    """RFC 6962: SHA-256 with a one-byte leaf / node prefix."""

    name = "sha256"
    size = 32

    def empty_root(self) -> bytes:
        return hashlib.sha256(b"").digest()

    def hash_leaf(self, data: bytes) -> bytes:
        return hashlib.sha256(b"\x00" + bytes(data)).digest()

    def hash_children(self, left: bytes, right: bytes) -> bytes:
        return hashlib.sha256(b"\x01" + left + right).digest()


class Blake3Hasher:
    """Lattice production: BLAKE3 with the three merkle domains of docs/format.md."""

    name = "blake3"
    size = 32

    def empty_root(self) -> bytes:
        return domain_hash("merkle empty", b"")

    def hash_leaf(self, data: bytes) -> bytes:
        return domain_hash("merkle leaf", data)

    def hash_children(self, left: bytes, right: bytes) -> bytes:
        return domain_hash("merkle node", left + right)


SHA256: Final = Sha256Hasher()
BLAKE3: Final = Blake3Hasher()
HASHERS: Final[dict[str, Hasher]] = {"sha256": SHA256, "blake3": BLAKE3}


def _split(n: int) -> int:
    """k: the largest power of two smaller than n (n >= 2)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(leaf_hashes: Sequence[bytes], h: Hasher) -> bytes:
    """MTH(D_n) of RFC 9162 §2.1.1, over leaf hashes."""
    n = len(leaf_hashes)
    if n == 0:
        return h.empty_root()
    if n == 1:
        return leaf_hashes[0]
    k = _split(n)
    return h.hash_children(mth(leaf_hashes[:k], h), mth(leaf_hashes[k:], h))


def root(leaves: Sequence[bytes], h: Hasher) -> bytes:
    """MTH over leaf data."""
    return mth([h.hash_leaf(d) for d in leaves], h)


def inclusion_proof(index: int, leaf_hashes: Sequence[bytes], h: Hasher) -> list[bytes]:
    """PATH(m, D_n) of RFC 9162 §2.1.3.1 (0 <= index < n)."""
    n = len(leaf_hashes)
    if not 0 <= index < n:
        raise ValueError("index out of range")
    if n == 1:
        return []
    k = _split(n)
    if index < k:
        return [*inclusion_proof(index, leaf_hashes[:k], h), mth(leaf_hashes[k:], h)]
    return [*inclusion_proof(index - k, leaf_hashes[k:], h), mth(leaf_hashes[:k], h)]


def consistency_proof(m: int, leaf_hashes: Sequence[bytes], h: Hasher) -> list[bytes]:
    """PROOF(m, D_n) of RFC 9162 §2.1.4.1 (0 < m <= n); empty when m == n."""
    if not 0 < m <= len(leaf_hashes):
        raise ValueError("need 0 < m <= n")
    return _subproof(m, leaf_hashes, True, h)


def _subproof(m: int, d: Sequence[bytes], b: bool, h: Hasher) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [mth(d, h)]
    k = _split(n)
    if m <= k:
        return [*_subproof(m, d[:k], b, h), mth(d[k:], h)]
    return [*_subproof(m - k, d[k:], False, h), mth(d[:k], h)]


def _hashes_ok(h: Hasher, *hashes: bytes) -> bool:
    return all(isinstance(x, bytes | bytearray) and len(x) == h.size for x in hashes)


def verify_inclusion(
    leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes, h: Hasher
) -> bool:
    """RFC 9162 §2.1.3.2, step by step. Any hash of the wrong length is a failure."""
    if not _hashes_ok(h, leaf_hash, root, *proof):
        return False
    if index >= tree_size or index < 0:
        return False
    fn, sn = index, tree_size - 1
    r = bytes(leaf_hash)
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = h.hash_children(p, r)
            if not fn & 1:
                while (fn & 1) == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = h.hash_children(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    old_size: int,
    new_size: int,
    old_root: bytes,
    new_root: bytes,
    proof: Sequence[bytes],
    h: Hasher,
) -> bool:
    """RFC 9162 §2.1.4.2, with the edge cases of docs/format.md.

    ``old_size == 0`` is always a failure (a proof from the empty tree proves nothing);
    ``old_size == new_size`` needs an empty proof and equal roots. Any hash of the wrong length
    is a failure.
    """
    if not _hashes_ok(h, old_root, new_root, *proof):
        return False
    if old_size > new_size or old_size <= 0:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # an exact power of two
        path.insert(0, bytes(old_root))
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = h.hash_children(c, fr)
            sr = h.hash_children(c, sr)
            if not fn & 1:
                while (fn & 1) == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = h.hash_children(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0


# ---- Subtree proofs (docs/format.md "Subtree proofs") ------------------------------------


def is_valid_subtree(start: int, end: int) -> bool:
    """[start, end) is a subtree: start <= end, and start is a multiple of bit_ceil(end-start).

    The empty range (start == end) counts as valid; callers decide what it may prove.
    """
    if not 0 <= start <= end:
        return False
    if start == end or start == 0:
        return True
    width = 1
    while width < end - start:
        width *= 2
    return start % width == 0


def subtree_inclusion_proof(
    index: int, start: int, end: int, leaf_hashes: Sequence[bytes], h: Hasher
) -> list[bytes]:
    """The audit path of leaf ``index`` inside the subtree [start, end): PATH over D[start:end]."""
    if not is_valid_subtree(start, end) or not start <= index < end <= len(leaf_hashes):
        raise ValueError("bad subtree or index")
    return inclusion_proof(index - start, leaf_hashes[start:end], h)


def subtree_consistency_proof(
    start: int, end: int, leaf_hashes: Sequence[bytes], h: Hasher
) -> list[bytes]:
    """SUBTREE_PROOF(start, end, D_n): proves MTH(D[start:end]) is part of MTH(D_n).

    The generalisation of RFC 9162 SUBPROOF: recurse into the half that holds [start, end),
    appending the other half's hash; a subtree straddling the split (possible only when
    start = 0) continues like SUBPROOF(end, ·, false) on the right half. Empty when
    [start, end) is the whole tree.
    """
    if not is_valid_subtree(start, end) or not start < end <= len(leaf_hashes):
        raise ValueError("bad subtree")
    return _subtree_subproof(start, end, leaf_hashes, True, h)


def _subtree_subproof(start: int, end: int, d: Sequence[bytes], b: bool, h: Hasher) -> list[bytes]:
    n = len(d)
    if start == 0 and end == n:
        return [] if b else [mth(d, h)]
    k = _split(n)
    if end <= k:
        return [*_subtree_subproof(start, end, d[:k], b, h), mth(d[k:], h)]
    if start >= k:
        return [*_subtree_subproof(start - k, end - k, d[k:], b, h), mth(d[:k], h)]
    assert start == 0  # an aligned subtree straddles the split only from the left edge
    return [*_subtree_subproof(0, end - k, d[k:], False, h), mth(d[:k], h)]


def _bit_len(x: int) -> int:
    return x.bit_length()


def _trailing_zeros(x: int) -> int:
    return (x & -x).bit_length() - 1


def _popcount(x: int) -> int:
    return bin(x).count("1")


def verify_subtree_inclusion(
    leaf_hash: bytes,
    index: int,
    start: int,
    end: int,
    proof: Sequence[bytes],
    root: bytes,
    h: Hasher,
) -> bool:
    """Leaf ``index`` is in the subtree [start, end) whose hash is ``root``.

    Valid subtree, start <= index < end, then an ordinary inclusion proof for leaf
    index - start in a tree of end - start leaves.
    """
    if not is_valid_subtree(start, end) or not start <= index < end:
        return False
    return verify_inclusion(leaf_hash, index - start, end - start, proof, root, h)


def verify_subtree_consistency(
    start: int,
    end: int,
    size: int,
    subtree_root: bytes,
    root: bytes,
    proof: Sequence[bytes],
    h: Hasher,
) -> bool:
    """The subtree [start, end) with hash ``subtree_root`` is part of the tree of ``size``
    leaves with hash ``root``. See docs/format.md "Subtree proofs" for the algorithm."""
    if not _hashes_ok(h, subtree_root, root, *proof):
        return False
    if not is_valid_subtree(start, end) or end > size:
        return False
    if start == end:
        # The empty subtree is part of every tree: only its own hash can be wrong.
        return not proof and subtree_root == h.empty_root()
    if start == 0 and end == size:
        return not proof and subtree_root == root
    if not proof:
        return False
    height = _bit_len((end - 1) ^ start)  # level of the subtree's node
    if end == size:
        # The subtree node lies on the right border: one left sibling per level where an
        # ancestor of it is a right child.
        if len(proof) != _popcount(start >> height):
            return False
        r = bytes(subtree_root)
        for p in proof:
            r = h.hash_children(p, r)
        return r == root
    fork = _bit_len((end - 1) ^ (size - 1))  # where paths to end-1 and size-1 part
    shift = _trailing_zeros(end - start)  # level of the rightmost perfect node in the subtree
    perfect = end - start == 1 << shift
    seed, rest = (bytes(subtree_root), list(proof)) if perfect else (proof[0], list(proof[1:]))
    want = (fork - shift) + _popcount((end - 1) >> fork)
    if len(rest) != want:
        return False
    sub = grown = seed  # the subtree's hash at sizes end and size, rebuilt from the seed
    i = 0
    for level in range(shift, height):
        if ((end - 1) >> level) & 1:
            sub = h.hash_children(rest[i], sub)
            grown = h.hash_children(rest[i], grown)
            i += 1
        elif level < fork:
            grown = h.hash_children(grown, rest[i])
            i += 1
    if sub != subtree_root:
        return False
    # What is left proves the grown node (index start >> height on its level) in the tree.
    return verify_inclusion(grown, start >> height, ((size - 1) >> height) + 1, rest[i:], root, h)


# --------------------------------------------------------------------------------------------
# Matrix queries (DESIGN §4) on a list of rows: m[observer][sender]
# --------------------------------------------------------------------------------------------


def known_to_all(m: Sequence[Sequence[int]]) -> list[int]:
    """Per sender (column), the minimum over observers (rows)."""
    n = len(m)
    return [min(m[o][s] for o in range(n)) for s in range(n)]


def known_to_quorum(m: Sequence[Sequence[int]], q: int) -> list[int]:
    """Per sender, the q-th largest value of its column (1 <= q <= N)."""
    n = len(m)
    if not 1 <= q <= n:
        raise ValueError("need 1 <= q <= N")
    return [sorted((m[o][s] for o in range(n)), reverse=True)[q - 1] for s in range(n)]


def acceptance(m: Sequence[Sequence[int]], sender: int, seq: int) -> int:
    """How many observers have seen the sender's entry ``seq``: column values >= seq."""
    return sum(1 for row in m if row[sender] >= seq)

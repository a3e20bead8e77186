"""The canonical entry encoding (DESIGN §3, docs/format.md "Entry").

Rust's ``Entry.create`` / ``Entry.from_bytes`` are compared byte for byte with the reference
(Ed25519 is deterministic, so the same seed signs to the same bytes); every truncation and
single-byte change of an encoded entry must be rejected with a typed error or decode to a
different id, with the reference agreeing; and each decoding rule has its own rejection test.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import reference as ref
from lattice import _lattice as L
from lattice import errors

SWARM = bytes(range(32))
SEED = bytes(range(100, 132))
ALL_KINDS = sorted(ref.KINDS)
SYSTEM_KINDS = [k for k in ALL_KINDS if k not in (ref.KIND_DATA, ref.KIND_NOOP)]
PAYLOAD_SIZES = [0, 1, 2, 31, 32, 33, 63, 64, 65, 127, 1023, 1024, 1025]

nonzero_ids = st.binary(min_size=32, max_size=32).filter(lambda b: b != ref.ZERO_ID)


def _payload(tag: bytes, n: int) -> bytes:
    return hashlib.shake_256(tag).digest(n) if n else b""


@st.composite
def entry_fields(draw: st.DrawFn, max_deps: int = 6) -> dict[str, Any]:
    """Keyword arguments for ``Entry.create`` / ``reference.sign_entry``, plus ``seed``."""
    seed = draw(st.binary(min_size=32, max_size=32), label="seed")
    author = ref.public_key(seed)
    kind = draw(st.sampled_from(ALL_KINDS), label="kind")
    seq = draw(st.integers(1, 60) | st.integers(1, ref.MAX_SEQ), label="seq")
    lamport = draw(st.integers(seq, min(seq + 5, ref.MAX_SEQ)) | st.integers(seq, ref.MAX_SEQ))
    needs_lipmaa = seq > 1 and ref.lipmaa(seq) != seq - 1
    peers = draw(
        st.lists(nonzero_ids.filter(lambda p: p != author), max_size=max_deps, unique=True),
        label="peers",
    )
    deps = {
        p: (draw(st.integers(1, ref.MAX_SEQ)), draw(st.binary(min_size=32, max_size=32)))
        for p in peers
    }
    n = 0 if kind == ref.KIND_NOOP else draw(st.sampled_from(PAYLOAD_SIZES), label="payload size")
    return {
        "seed": seed,
        "kind": kind,
        "swarm": draw(st.binary(min_size=32, max_size=32), label="swarm"),
        "seq": seq,
        "lamport": lamport,
        "prev": draw(nonzero_ids) if seq > 1 else None,
        "lipmaa": draw(nonzero_ids) if needs_lipmaa else None,
        "deps": deps,
        "payload": _payload(draw(st.binary(max_size=8)), n),
        "frontier_root": draw(nonzero_ids) if kind == ref.KIND_NOOP else None,
    }


def _create(fields: dict[str, Any]) -> L.Entry:
    kwargs = dict(fields)
    key = L.SigningKey.from_seed(kwargs.pop("seed"))
    return L.Entry.create(key, **kwargs)


def _reference(fields: dict[str, Any]) -> ref.RefEntry:
    kwargs = dict(fields)
    return ref.sign_entry(kwargs.pop("seed"), **kwargs)


def _assert_same(entry: L.Entry, r: ref.RefEntry) -> None:
    assert entry.version == r.version
    assert entry.kind == r.kind
    assert entry.swarm == r.swarm
    assert entry.author == r.author
    assert entry.seq == r.seq
    assert entry.lamport == r.lamport
    assert entry.prev == r.prev
    assert entry.lipmaa == r.lipmaa
    assert entry.deps_hash == r.deps_hash
    assert entry.frontier_root == r.frontier_root
    assert entry.payload_len == r.payload_len
    assert entry.payload_hash == r.payload_hash
    assert entry.signature == r.signature
    assert entry.deps == r.deps_dict()
    assert entry.payload == r.payload
    assert entry.id == r.id
    assert entry.header() == r.header()
    assert entry.signed_header() == r.signed_header()


def test_layout_constants() -> None:
    assert L.HEADER_LEN == ref.HEADER_LEN
    assert L.SIGNATURE_LEN == ref.SIGNATURE_LEN
    assert L.SIGNED_HEADER_LEN == ref.SIGNED_HEADER_LEN
    assert L.ID_LEN == ref.ID_LEN
    assert L.DEP_LEN == ref.DEP_LEN
    assert L.MAX_DEPS == ref.MAX_DEPS
    assert L.MAX_PAYLOAD_LEN == ref.MAX_PAYLOAD_LEN
    assert L.FORMAT_VERSION == ref.FORMAT_VERSION
    kinds = (L.KIND_DATA, L.KIND_NOOP, L.KIND_FRAUD, L.KIND_ATTESTATION)
    assert kinds == (ref.KIND_DATA, ref.KIND_NOOP, ref.KIND_FRAUD, ref.KIND_ATTESTATION)
    assert (L.KIND_SNAPSHOT, L.KIND_BLOB) == (ref.KIND_SNAPSHOT, ref.KIND_BLOB)
    assert (L.KIND_WRAP, L.KIND_ADMISSION, L.KIND_VOUCH) == (
        ref.KIND_WRAP,
        ref.KIND_ADMISSION,
        ref.KIND_VOUCH,
    )
    biggest = ref.SIGNED_HEADER_LEN + 4 + ref.MAX_DEPS * ref.DEP_LEN + ref.MAX_PAYLOAD_LEN
    assert biggest == L.MAX_ENTRY_LEN


@given(fields=entry_fields())
def test_rust_and_reference_encode_identically(fields: dict[str, Any]) -> None:
    entry = _create(fields)
    r = _reference(fields)
    encoded = entry.to_bytes()
    assert encoded == r.encode()
    _assert_same(entry, r)
    assert entry.verify_signature()

    decoded = L.Entry.from_bytes(encoded)
    assert decoded == entry and hash(decoded) == hash(entry)
    assert decoded.to_bytes() == encoded
    _assert_same(decoded, r)
    assert ref.decode(encoded) == r
    for form in (bytearray(encoded), memoryview(encoded)):
        assert L.Entry.from_bytes(form).id == r.id

    header = L.Entry.header_from_bytes(entry.signed_header())
    assert header.id == r.id and header.signature == r.signature
    assert header.deps == {} and header.payload == b""
    assert ref.decode_signed_header(entry.signed_header()).id == r.id


def _rust_outcome(data: bytes) -> L.Entry | None:
    try:
        return L.Entry.from_bytes(data)
    except errors.DecodeError:
        return None


def _ref_outcome(data: bytes) -> bytes | None:
    try:
        return ref.decode(data).id
    except ref.RefDecodeError:
        return None


_SIGNATURE = range(ref.HEADER_LEN, ref.SIGNED_HEADER_LEN)


@settings(max_examples=max(5, settings().max_examples // 3))
@given(fields=entry_fields(max_deps=3), xor=st.integers(1, 255))
def test_truncations_and_byte_changes(fields: dict[str, Any], xor: int) -> None:
    fields["payload"] = fields["payload"][:40]
    original = _create(fields)
    data = original.to_bytes()

    for n in range(len(data)):
        assert _rust_outcome(data[:n]) is None, f"truncated to {n} bytes was accepted"
        assert _ref_outcome(data[:n]) is None

    for pos in range(len(data)):
        changed = bytearray(data)
        changed[pos] ^= xor
        got = _rust_outcome(bytes(changed))
        want = _ref_outcome(bytes(changed))
        assert (got.id if got else None) == want, f"byte {pos}: Rust and reference disagree"
        if got is None:
            continue
        if pos in _SIGNATURE:
            # The signature is not hashed into the id (DESIGN §3); it just stops verifying.
            assert got.id == original.id
            assert not got.verify_signature(), f"byte {pos}: changed signature verifies"
        else:
            assert got.id != original.id, f"byte {pos}: changed entry kept its id"


# ---- one test per rejection rule -----------------------------------------------------------


def _rejects(data: bytes, cls: type[errors.DecodeError]) -> None:
    """Rust raises exactly ``cls``; the reference rejects for the same reason."""
    assert issubclass(cls, errors.DecodeError)
    with pytest.raises(cls):
        L.Entry.from_bytes(data)
    with pytest.raises(ref.RefDecodeError) as info:
        ref.decode(data)
    assert info.value.reason == cls.__name__


def _entry(**overrides: Any) -> bytes:
    fields: dict[str, Any] = {"swarm": SWARM, "seq": 1, "lamport": 1, "payload": b"payload"}
    fields.update(overrides)
    return ref.sign_entry(SEED, **fields).encode()


def _valid() -> bytes:
    peer = bytes([0xAA]) * 32
    return _entry(deps={peer: (3, bytes([0xBB]) * 32)}, payload=b"some payload")


def test_error_hierarchy() -> None:
    assert issubclass(errors.DecodeError, errors.LatticeError)
    assert issubclass(errors.DecodeError, ValueError)
    for name in (
        "Truncated",
        "TrailingBytes",
        "UnknownVersion",
        "UnknownKind",
        "LimitExceeded",
        "NonCanonical",
        "PayloadMismatch",
        "DepsMismatch",
    ):
        assert issubclass(getattr(errors, name), errors.DecodeError), name
    assert issubclass(errors.BrokenChain, errors.LatticeError)
    for name in (
        "BrokenPrev",
        "BrokenLipmaa",
        "SeqGap",
        "WrongAuthor",
        "WrongSwarm",
        "LamportNotIncreasing",
    ):
        assert issubclass(getattr(errors, name), errors.BrokenChain), name
    assert issubclass(errors.InvalidSignature, errors.LatticeError)
    assert issubclass(errors.InvalidKey, errors.LatticeError)


def test_valid_entry_decodes() -> None:
    data = _valid()
    assert L.Entry.from_bytes(data).id == ref.decode(data).id


def test_trailing_bytes() -> None:
    _rejects(_valid() + b"\x00", errors.TrailingBytes)
    _rejects(_valid() + _valid(), errors.TrailingBytes)


def test_truncated() -> None:
    data = _valid()
    for n in (
        0,
        1,
        ref.HEADER_LEN,
        ref.SIGNED_HEADER_LEN,
        ref.SIGNED_HEADER_LEN + 3,
        len(data) - 1,
    ):
        _rejects(data[:n], errors.Truncated)


@pytest.mark.parametrize("version", [0, 2, 255])
def test_unknown_version(version: int) -> None:
    _rejects(_entry(version=version), errors.UnknownVersion)


@pytest.mark.parametrize("kind", [0, 4, 15, 22, 255])
def test_unknown_kind(kind: int) -> None:
    _rejects(_entry(kind=kind), errors.UnknownKind)


def test_payload_limit() -> None:
    at_limit = _entry(payload=bytes(ref.MAX_PAYLOAD_LEN))
    assert L.Entry.from_bytes(at_limit).payload_len == ref.MAX_PAYLOAD_LEN
    _rejects(_entry(payload=bytes(ref.MAX_PAYLOAD_LEN + 1)), errors.LimitExceeded)


def _many_deps(n: int) -> dict[bytes, tuple[int, bytes]]:
    return {(i + 1).to_bytes(32, "big"): (1, bytes(32)) for i in range(n)}


def test_deps_limit() -> None:
    at_limit = _entry(deps=_many_deps(ref.MAX_DEPS))
    assert len(L.Entry.from_bytes(at_limit).deps) == ref.MAX_DEPS
    _rejects(_entry(deps=_many_deps(ref.MAX_DEPS + 1)), errors.LimitExceeded)


def test_deps_unsorted() -> None:
    low, high = bytes([1]) * 32, bytes([2]) * 32
    _rejects(_entry(deps=[(high, 1, bytes(32)), (low, 1, bytes(32))]), errors.NonCanonical)


def test_deps_duplicate() -> None:
    peer = bytes([1]) * 32
    _rejects(_entry(deps=[(peer, 1, bytes(32)), (peer, 2, bytes(32))]), errors.NonCanonical)


def test_author_in_deps() -> None:
    _rejects(_entry(deps={ref.public_key(SEED): (1, bytes(32))}), errors.NonCanonical)


def test_dep_seq_zero() -> None:
    _rejects(_entry(deps={bytes([1]) * 32: (0, bytes(32))}), errors.NonCanonical)


def test_seq_zero() -> None:
    _rejects(_entry(seq=0, lamport=0), errors.NonCanonical)
    _rejects(_entry(seq=0, lamport=5), errors.NonCanonical)


def test_counters_fit_a_signed_64_bit_integer() -> None:
    """seq, lamport and dependency seqs above 2^63 - 1 are refused (SQLite stores them)."""
    with pytest.raises(errors.LimitExceeded):
        L.Entry.from_bytes(_patch_u64(_valid(), 74, 2**63))
    big = _entry(deps={bytes([9]) * 32: (2**63, bytes(32))})
    _rejects(big, errors.LimitExceeded)
    assert L.Entry.from_bytes(_patch_u64(_valid(), 74, 2**63 - 1)) is not None


def _patch_u64(data: bytes, at: int, value: int) -> bytes:
    return data[:at] + value.to_bytes(8, "big") + data[at + 8 :]


def test_lamport_below_seq() -> None:
    # seq 5: lipmaa(5) = 4 = seq - 1, so only prev is set.
    _rejects(_entry(seq=5, lamport=4, prev=bytes([9]) * 32), errors.NonCanonical)
    assert L.Entry.from_bytes(_entry(seq=5, lamport=5, prev=bytes([9]) * 32)).lamport == 5


def test_prev_zero_after_seq_one() -> None:
    _rejects(_entry(seq=2, lamport=2), errors.NonCanonical)


def test_prev_set_at_seq_one() -> None:
    _rejects(_entry(seq=1, lamport=1, prev=bytes([9]) * 32), errors.NonCanonical)


def test_lipmaa_rules() -> None:
    prev, link = bytes([9]) * 32, bytes([7]) * 32
    assert ref.lipmaa(4) == 1 and ref.lipmaa(3) == 2
    # Where lipmaa(seq) != seq - 1 the link must be set ...
    _rejects(_entry(seq=4, lamport=4, prev=prev), errors.NonCanonical)
    assert L.Entry.from_bytes(_entry(seq=4, lamport=4, prev=prev, lipmaa=link)).lipmaa == link
    # ... and where it equals prev, or at seq 1, it must be zero.
    _rejects(_entry(seq=3, lamport=3, prev=prev, lipmaa=link), errors.NonCanonical)
    _rejects(_entry(seq=1, lamport=1, lipmaa=link), errors.NonCanonical)


def test_noop_with_payload() -> None:
    root = bytes([5]) * 32
    _rejects(_entry(kind=ref.KIND_NOOP, frontier_root=root, payload=b"x"), errors.NonCanonical)
    ok = _entry(kind=ref.KIND_NOOP, frontier_root=root, payload=b"")
    assert L.Entry.from_bytes(ok).frontier_root == root


def test_noop_without_frontier_root() -> None:
    _rejects(_entry(kind=ref.KIND_NOOP, payload=b""), errors.NonCanonical)


@pytest.mark.parametrize("kind", [ref.KIND_DATA, *SYSTEM_KINDS])
def test_frontier_root_outside_noop(kind: int) -> None:
    _rejects(_entry(kind=kind, frontier_root=bytes([5]) * 32), errors.NonCanonical)


def test_tampered_payload() -> None:
    data = bytearray(_valid())
    data[-1] ^= 1
    _rejects(bytes(data), errors.PayloadMismatch)
    _rejects(_entry(payload_hash=bytes([3]) * 32), errors.PayloadMismatch)


def test_tampered_deps() -> None:
    data = bytearray(_valid())
    data[ref.SIGNED_HEADER_LEN + 4 + ref.DEP_LEN - 1] ^= 1  # last byte of the dep's id
    _rejects(bytes(data), errors.DepsMismatch)
    _rejects(_entry(deps_hash=bytes([3]) * 32), errors.DepsMismatch)


def test_signed_header_decoding() -> None:
    data = _valid()
    signed = data[: ref.SIGNED_HEADER_LEN]
    assert L.Entry.header_from_bytes(signed).id == ref.entry_id(data)
    with pytest.raises(errors.Truncated):
        L.Entry.header_from_bytes(signed[:-1])
    with pytest.raises(errors.TrailingBytes):
        L.Entry.header_from_bytes(signed + b"\x00")


def test_create_refuses_what_would_not_decode() -> None:
    key = L.SigningKey.from_seed(SEED)
    with pytest.raises(errors.DecodeError):
        L.Entry.create(key, swarm=SWARM, seq=0, lamport=0)
    with pytest.raises(errors.DecodeError):
        L.Entry.create(key, swarm=SWARM, seq=3, lamport=2, prev=bytes([1]) * 32)
    with pytest.raises(errors.DecodeError):
        L.Entry.create(key, swarm=SWARM, seq=1, lamport=1, kind=ref.KIND_NOOP, payload=b"x")
    with pytest.raises(errors.DecodeError):
        L.Entry.create(key, swarm=SWARM, seq=1, lamport=1, kind=99)
    with pytest.raises(errors.DecodeError):
        L.Entry.create(key, swarm=SWARM, seq=1, lamport=1, deps={key.public_key: (1, bytes(32))})


def test_seed_gives_reference_key() -> None:
    key = L.SigningKey.from_seed(SEED)
    assert key.public_key == ref.public_key(SEED)
    assert key.seed() == SEED
    with pytest.raises(errors.InvalidKey):
        L.SigningKey.from_seed(SEED[:31])

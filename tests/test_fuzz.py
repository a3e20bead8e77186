"""Structured fuzzing of every decoder (DESIGN §16): entry, body, signed header, fraud proof,
quorum proof, client op, chain segment, document op batch and document state, and the
Replica's ingest of all of them.

Inputs are valid encodings put through the mutations that find decoder bugs — bit flips,
byte overwrites, truncation, extension, splices of two encodings, and length and count
fields set to boundary values. The rules, for every decoder: it never crashes and never
raises anything but a typed :class:`~lattice.errors.LatticeError`; what it accepts is
canonical (it encodes back to exactly the input); and a Replica fed the results stores only
valid entries. The coverage-guided counterpart is ``make fuzz`` (``fuzz/``), whose crashes
are replayed by ``cargo test``.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from functools import cache

from hypothesis import given, settings
from hypothesis import strategies as st

import lattice
from lattice import ClientOp, Entry, FraudProof, Replica, errors
from lattice.proofs import QuorumProof
from lattice.state import Doc
from lattice.state import ops as opcodec

SWARM = bytes(range(32))
SH = lattice.SIGNED_HEADER_LEN
#: Offsets of the length and count fields a decoder trusts first.
OFF_PAYLOAD_LEN = 210
OFF_DEPS_COUNT = SH
BOUNDARIES = (0, 1, 2**31 - 1, 2**31, 2**32 - 1)


@cache
def corpus() -> dict[str, list[bytes]]:
    """Valid encodings of every kind, from a small swarm where X forked and a client op
    reached a quorum."""
    ids = [lattice.Identity.from_seed(bytes([21, i]) + bytes(30)) for i in range(4)]
    peers = [i.public_key for i in ids]
    reps = [Replica(i, peers=peers, swarm_id=SWARM) for i in ids]
    client = lattice.Identity.from_seed(bytes([22]) * 32)
    op = ClientOp.create(client.signing_key, SWARM, 1, b"pay 5")
    wrapped = reps[0].wrap_client_op(op)
    entries = [wrapped]
    for r in reps[1:]:
        r.receive([wrapped])
        entries.append(r.append(b"x" * 40))
    for r in reps:
        r.receive(entries)
    noops = [r.noop() for r in reps]
    reps[0].receive(noops)
    proof = reps[0].quorum_proof(wrapped.id)
    assert proof is not None
    x = ids[3].signing_key
    p = Entry.create(x, swarm=SWARM, seq=1, lamport=1, payload=b"P")
    q = Entry.create(x, swarm=SWARM, seq=1, lamport=1, payload=b"Q")
    all_entries = [*entries, *noops]
    doc, local = Doc(reps[1], b"fuzz"), Doc(doc_id="fuzz")
    for d in (doc, local):
        with d.transaction():
            d.text("t").insert(0, "héllo wörld")
            d.map("m")["k"] = -3
            d.set("s").add(b"\x00bytes")
            d.counter("c").increment(-(2**40))
            d.register("r").set(1.5)
        d.text("t").delete(2, 4)
        d.set("s").remove(b"\x00bytes")
        del d.map("m")["k"]
    batches = [e.payload for e in reps[1].entries(peers[1]) if opcodec.is_batch(e.payload)]
    return {
        "batch": batches,
        "state": [local.encode()],
        "entry": [e.to_bytes() for e in all_entries],
        "header": [e.signed_header() for e in all_entries],
        "fraud": [FraudProof.from_entries(p, q).to_bytes()],
        "quorum": [proof.to_bytes()],
        "client": [op.to_bytes()],
        "segment": [b"".join(e.to_bytes() for e in reps[1].entries(peers[1]))],
    }


@st.composite
def mutated(draw: st.DrawFn, kind: str) -> bytes:
    """A valid encoding of ``kind`` with a few structured mutations."""
    pool = corpus()
    data = bytearray(draw(st.sampled_from(pool[kind])))
    for _ in range(draw(st.integers(0, 4))):
        op = draw(st.sampled_from(["flip", "set", "cut", "extend", "splice", "length"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "set" and data:
            data[at] = draw(st.sampled_from([0x00, 0x01, 0x7F, 0x80, 0xFF]))
        elif op == "cut":
            data = data[:at]
        elif op == "extend":
            data += draw(st.binary(min_size=1, max_size=80))
        elif op == "splice":
            other = draw(st.sampled_from([b for bs in pool.values() for b in bs]))
            cut = draw(st.integers(0, len(other)))
            data = data[:at] + other[cut:]
        elif op == "length" and len(data) >= SH + 4:
            field = draw(st.sampled_from([OFF_PAYLOAD_LEN, OFF_DEPS_COUNT]))
            data[field : field + 4] = struct.pack(">I", draw(st.sampled_from(BOUNDARIES)))
    return bytes(data)


def _decodes_canonically(decode: Callable[[bytes], object], data: bytes) -> object | None:
    """Decode ``data``: a typed error, or a value that encodes back to ``data``."""
    try:
        value = decode(data)
    except errors.LatticeError:
        return None
    to_bytes = getattr(value, "to_bytes", None)
    if to_bytes is not None:
        assert to_bytes() == data, "accepted a non-canonical encoding"
    return value


@settings(max_examples=300)
@given(mutated("entry"))
def test_entry_and_body_decoder(data: bytes) -> None:
    entry = _decodes_canonically(Entry.from_bytes, data)
    if isinstance(entry, Entry):
        # The body is bound to the header: a decoded entry's deps and payload hash right.
        assert Entry.from_bytes(entry.to_bytes()).id == entry.id
        assert entry.signed_header() == data[:SH]


@settings(max_examples=200)
@given(mutated("header"))
def test_signed_header_decoder(data: bytes) -> None:
    _decodes_canonically(Entry.header_from_bytes, data)


@settings(max_examples=200)
@given(mutated("fraud"))
def test_fraud_proof_decoder(data: bytes) -> None:
    proof = _decodes_canonically(FraudProof.from_bytes, data)
    if isinstance(proof, FraudProof):
        assert proof.verify(SWARM) in (True, False)
        if proof.verify(SWARM):
            assert proof.ids[0] != proof.ids[1]


@settings(max_examples=150)
@given(mutated("quorum"))
def test_quorum_proof_decoder(data: bytes) -> None:
    proof = _decodes_canonically(QuorumProof.from_bytes, data)
    if isinstance(proof, QuorumProof):
        peers = [
            lattice.Identity.from_seed(bytes([21, i]) + bytes(30)).public_key for i in range(4)
        ]
        proof.verify(peers, SWARM, 3)  # a bool, never an exception


@settings(max_examples=200)
@given(mutated("client"))
def test_client_op_decoder(data: bytes) -> None:
    op = _decodes_canonically(ClientOp.from_bytes, data)
    if isinstance(op, ClientOp):
        op.verify()


@settings(max_examples=150)
@given(mutated("segment"))
def test_chain_segment_decoder(data: bytes) -> None:
    report = lattice.validate_chain(data, verify_signatures=True)
    if not report.ok:
        assert isinstance(report.error, errors.LatticeError)


@settings(max_examples=100)
@given(st.lists(mutated("entry"), min_size=1, max_size=6))
def test_replica_stores_only_valid_entries(batch: list[bytes]) -> None:
    ids = [lattice.Identity.from_seed(bytes([21, i]) + bytes(30)) for i in range(4)]
    rep = Replica(ids[2], peers=[i.public_key for i in ids], swarm_id=SWARM)
    r = rep.receive(batch)
    assert all(isinstance(e, errors.LatticeError) for _, e in r.rejected)
    valid = set(corpus()["entry"])
    for e in rep.entries():
        assert e.to_bytes() in valid or e.author == ids[2].public_key
    # The matrix counts only what is delivered here: no cell points past a held head.
    m = rep.matrix
    for sender in rep.peers:
        assert max(m.column(sender).values()) <= rep.head(sender)


@settings(max_examples=300)
@given(mutated("batch"))
def test_op_batch_decoder(data: bytes) -> None:
    try:
        batch = opcodec.decode(data)
    except errors.LatticeError:
        return
    assert opcodec.encode(batch) == data, "accepted a non-canonical encoding"


@settings(max_examples=400)
@given(mutated("state"))
def test_document_state_decoder(data: bytes) -> None:
    try:
        doc = Doc.decode(data)
    except errors.LatticeError:
        return
    assert doc.encode() == data, "accepted a non-canonical encoding"

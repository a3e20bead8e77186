"""Documents bound to a Wasm state machine (issue 13, DESIGN §10): entries wait until the
blob is admitted and then apply in order, every replica alike; refused ops are never
signed and are rejected identically; dissent stops a running machine."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import lattice
from lattice.entry import Kind
from lattice.errors import AttestationError, DecodeError, DocMismatch, InvalidArgument, OpOutOfRange
from lattice.state import machineops
from lattice.state.machineops import MachineBatch
from lattice.state.wasm import WasmStateMachine, digests
from lattice.state.wasmdoc import WasmDoc
from lattice.trust.attest import attest
from lattice.trust.build import Built, build
from lattice.trust.manifest import for_blob
from lattice.trust.policy import Policy

BUILDERS = [lattice.Identity.from_seed(bytes([0xD0 + i]) * 32) for i in range(3)]
NAMES = ["b0", "b1", "b2"]


def _policy(n: int) -> Policy:
    return Policy(dict(zip(NAMES, (b.public_key for b in BUILDERS), strict=True)), n)


@pytest.fixture(scope="module")
def counter(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return build("counter", tmp_path_factory.mktemp("w"))


def _envelope(built: Built, who: int, output: dict[str, str] | None = None) -> bytes:
    out = output or {"sha256": built.sha256, "blake3": built.blake3}
    return attest(for_blob("counter", out, NAMES[who]), BUILDERS[who])


def _pair() -> tuple[lattice.Replica, lattice.Replica]:
    a, b = lattice.Identity.generate(), lattice.Identity.generate()
    peers = [a.public_key, b.public_key]
    return lattice.Replica(a, peers=peers), lattice.Replica(b, peers=peers)


def _delta(n: int) -> bytes:
    return struct.pack("<q", n)


def _total(doc: WasmDoc) -> int:
    return int(struct.unpack("<q", doc.query(b""))[0])


def test_entries_wait_for_admission_then_apply_in_order(counter: Built) -> None:
    ra, rb = _pair()
    ra.append(counter.path.read_bytes(), Kind.BLOB)
    ra.append(_envelope(counter, 0), Kind.ATTESTATION)
    a = WasmDoc(ra, b"tally", counter.sha256, _policy(1))
    b = WasmDoc(rb, b"tally", counter.sha256, _policy(2))
    for n in (40, 2, -5):
        a.submit(_delta(n))
    rb.receive(ra.entries())
    assert a.status() == "running" and _total(a) == 37
    assert b.status().startswith("waiting:") and "pending: 1 of 2" in b.status()
    assert len(b.waiting) == 3 and b.applied == 0
    with pytest.raises(AttestationError, match="pending: 1 of 2"):
        b.submit(_delta(1))  # nothing is instantiated, nothing signed
    assert rb.head(rb.me) == 0
    rb.append(_envelope(counter, 1), Kind.ATTESTATION)  # the second builder's
    assert b.status() == "running" and b.waiting == [] and b.applied == 3
    assert _total(b) == 37
    assert b.snapshot_hash() == a.snapshot_hash() and b.fuel_used == a.fuel_used


def test_the_blob_may_arrive_last(counter: Built) -> None:
    ra, rb = _pair()
    a_doc = WasmDoc(ra, b"t", counter.sha256, _policy(1))
    assert "not in the log" in a_doc.status()
    ra.append(_envelope(counter, 0), Kind.ATTESTATION)
    assert "not in the log" in a_doc.status()
    ra.append(counter.path.read_bytes(), Kind.BLOB)
    assert a_doc.status() == "running"
    a_doc.submit(_delta(7))
    rb.receive(ra.entries())
    assert _total(WasmDoc(rb, b"t", counter.sha256, _policy(1))) == 7


def test_refused_ops_are_never_signed_and_bad_entries_are_rejected_alike(counter: Built) -> None:
    ra, rb = _pair()
    ra.append(counter.path.read_bytes(), Kind.BLOB)
    ra.append(_envelope(counter, 0), Kind.ATTESTATION)
    a = WasmDoc(ra, b"t", counter.sha256, _policy(1))
    b = WasmDoc(rb, b"t", counter.sha256, _policy(1))
    head = ra.head(ra.me)
    with pytest.raises(OpOutOfRange, match="op 1"):
        a.submit(_delta(1), b"not eight bytes")
    assert ra.head(ra.me) == head and _total(a) == 0
    # A writer that skips the check: the entry stays in the log, refused everywhere.
    sha = bytes.fromhex(counter.sha256)
    bad = machineops.encode(MachineBatch(b"t", sha, (_delta(5), b"short")))
    ra.append(bad)
    ra.append(machineops.encode(MachineBatch(b"t", bytes(32), (_delta(1),))))  # another machine
    ra.append(machineops.MAGIC + b"\x01garbage")  # malformed
    ra.append(machineops.encode(MachineBatch(b"other", sha, (b"x",))))  # another document's
    a.submit(_delta(2))
    rb.receive(ra.entries())
    for doc in (a, b):
        reasons = [type(exc) for _, exc in doc.rejected]
        assert reasons[0] is OpOutOfRange and reasons[1] is DocMismatch
        assert issubclass(reasons[2], DecodeError) and len(reasons) == 3
        assert _total(doc) == 2, "nothing of a refused entry stays"
    assert a.snapshot_hash() == b.snapshot_hash() and a.fuel_used == b.fuel_used
    assert [e for e, _ in a.rejected] == [e for e, _ in b.rejected]


def test_dissent_stops_a_running_machine(counter: Built) -> None:
    ra, _ = _pair()
    ra.append(counter.path.read_bytes(), Kind.BLOB)
    ra.append(_envelope(counter, 0), Kind.ATTESTATION)
    doc = WasmDoc(ra, b"t", counter.sha256, _policy(1))
    doc.submit(_delta(3))
    ra.append(_envelope(counter, 1, {"sha256": "66" * 32, "blake3": "77" * 32}), Kind.ATTESTATION)
    assert "quarantined" in doc.status()
    with pytest.raises(AttestationError, match="quarantined"):
        doc.query(b"")
    # Rebuilt from the log (a restart), the blob stays quarantined and nothing runs.
    again = WasmDoc(ra, b"t", counter.sha256, _policy(1))
    assert "quarantined" in again.status() and len(again.waiting) == 1


def test_an_admitted_blob_that_fails_the_gate_never_runs() -> None:
    me = lattice.Identity.generate()
    rep = lattice.Replica(me, peers=[me.public_key])
    junk = b"\x00asm\x01\x00\x00\x00"  # valid, but not ABI v0
    rep.append(junk, Kind.BLOB)
    out = digests(junk)
    rep.append(attest(for_blob("counter", out, "b0"), BUILDERS[0]), Kind.ATTESTATION)
    doc = WasmDoc(rep, b"t", out["sha256"], _policy(1))
    assert "exports" in doc.status()
    rep.append(machineops.encode(MachineBatch(b"t", bytes.fromhex(out["sha256"]), (b"x",))))
    assert len(doc.waiting) == 1


def test_a_durable_document_comes_back_the_same(counter: Built, tmp_path: Path) -> None:
    me = lattice.Identity.generate()
    path = tmp_path / "r.db"
    rep = lattice.Replica(me, peers=[me.public_key], path=path)
    rep.append(counter.path.read_bytes(), Kind.BLOB)
    rep.append(_envelope(counter, 0), Kind.ATTESTATION)
    doc = WasmDoc(rep, "t", counter.sha256, _policy(1))
    for n in range(1, 51):
        doc.submit(_delta(n))
    want = (doc.snapshot_hash(), doc.fuel_used)
    rep.close()
    rep = lattice.Replica(me, peers=[me.public_key], path=path)
    again = WasmDoc(rep, "t", counter.sha256, _policy(1))
    assert (again.snapshot_hash(), again.fuel_used) == want and _total(again) == 1275
    snap, view = again.collapse(bytes(32))
    restored = WasmStateMachine(counter.path.read_bytes())
    restored.restore(snap)
    assert restored.query(b"") == _delta(1275) and len(view) == 32
    rep.close()


def test_arguments_are_checked(counter: Built) -> None:
    me = lattice.Identity.generate()
    rep = lattice.Replica(me, peers=[me.public_key])
    for machine in ("zz", "ab" * 31, b"\x00" * 31):
        with pytest.raises(InvalidArgument):
            WasmDoc(rep, "t", machine, _policy(1))
    with pytest.raises(InvalidArgument):
        WasmDoc(rep, "x" * 65, counter.sha256, _policy(1))
    with pytest.raises(InvalidArgument):
        machineops.encode(MachineBatch(b"t", bytes(32), ()))


def test_the_batch_codec_round_trips_and_refuses_the_rest() -> None:
    batch = MachineBatch(b"doc", bytes(range(32)), (b"", b"\x01" * 300))
    data = machineops.encode(batch)
    assert machineops.decode(data) == batch
    for cut in range(len(data)):
        with pytest.raises(DecodeError):
            machineops.decode(data[:cut])
    with pytest.raises(DecodeError):
        machineops.decode(data + b"\x00")
    with pytest.raises(DecodeError, match="version"):
        machineops.decode(data[:4] + b"\x09" + data[5:])


@given(st.binary(max_size=200))
def test_the_batch_decoder_only_raises_typed_errors(data: bytes) -> None:
    for payload in (data, machineops.MAGIC + data, machineops.MAGIC + b"\x01" + data):
        try:
            batch = machineops.decode(payload)
        except DecodeError:
            continue
        assert machineops.encode(batch) == payload

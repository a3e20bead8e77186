"""Documents bound to a Wasm state machine (issue 13, DESIGN §10): entries wait until the
blob is admitted and then apply in order, every replica alike; refused ops are never
signed and are rejected identically; dissent stops a running machine."""

from __future__ import annotations

import base64
import json
import struct
from pathlib import Path

import pytest
import wasmtime
from hypothesis import given
from hypothesis import strategies as st

import lattice
from lattice.entry import Kind
from lattice.errors import AttestationError, DecodeError, InvalidArgument, OpOutOfRange
from lattice.state import machineops
from lattice.state.machineops import MachineBatch
from lattice.state.wasm import WasmStateMachine, digests
from lattice.state.wasmdoc import WasmDoc
from lattice.trust.attest import attest
from lattice.trust.build import Built, build
from lattice.trust.manifest import for_blob
from lattice.trust.policy import Policy, Trusted

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
    # Not this document's business (whoever follows that machine or id judges them): a
    # batch for another machine under this id, one that does not decode, another id's.
    ra.append(machineops.encode(MachineBatch(b"t", bytes(32), (_delta(1),))))
    ra.append(machineops.MAGIC + b"\x01garbage")
    ra.append(machineops.encode(MachineBatch(b"other", sha, (b"x",))))
    a.submit(_delta(2))
    rb.receive(ra.entries())
    for doc in (a, b):
        assert [type(exc) for _, exc in doc.rejected] == [OpOutOfRange]
        assert _total(doc) == 2, "nothing of a refused entry stays"
    assert a.snapshot_hash() == b.snapshot_hash() and a.fuel_used == b.fuel_used
    assert [e for e, _ in a.rejected] == [e for e, _ in b.rejected]
    assert rb.penalties.get(ra.me, 0) == 1, "one penalty: the refused entry, nothing else"


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
    doc.close()
    ra.append(machineops.encode(MachineBatch(b"t", bytes.fromhex(counter.sha256), (_delta(1),))))
    # Rebuilt from the log (a restart): as the live one, the entry before the dissent was
    # applied, the one after it waits, and nothing runs.
    again = WasmDoc(ra, b"t", counter.sha256, _policy(1))
    assert "quarantined" in again.status() and len(again.waiting) == 1 and again.applied == 1


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


# A machine whose state is a fold that does not commute (s = 31·s + the op's first byte):
# its final state says in which order entries were applied.
CHAIN = wasmtime.wat2wasm("""(module
  (memory (export "memory") 1 2)
  (global $s (mut i64) (i64.const 7))
  (func (export "io_ptr") (result i32) i32.const 1024)
  (func (export "io_cap") (result i32) i32.const 4096)
  (func (export "init"))
  (func (export "apply_batch") (param $n i32) (result i32) (local $p i32)
    (local.set $p (i32.const 1024))
    (block $done (loop $next
      (br_if $done (i32.eqz (local.get $n)))
      (global.set $s (i64.add (i64.mul (global.get $s) (i64.const 31))
        (i64.load8_u (i32.add (local.get $p) (i32.const 48)))))
      (local.set $p (i32.add (local.get $p) (i32.add (i32.const 4) (i32.load (local.get $p)))))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $next)))
    i32.const -1)
  (func (export "snapshot") (result i32) (i64.store (i32.const 1024) (global.get $s)) i32.const 8)
  (func (export "restore") (param i32) (result i32)
    (global.set $s (i64.load (i32.const 1024))) i32.const 0)
  (func (export "query") (param i32) (result i32)
    (i64.store (i32.const 1024) (global.get $s)) i32.const 8))""")
CHAIN_OUT = digests(CHAIN)


def _fold(ops: list[bytes]) -> int:
    s = 7
    for op in ops:
        s = (s * 31 + op[0]) % 2**64
    return s


def _chain_envelope(who: int) -> bytes:
    return attest(for_blob("counter", CHAIN_OUT, NAMES[who]), BUILDERS[who])


def _chain(doc: WasmDoc) -> int:
    return int(struct.unpack("<Q", doc.query(b""))[0])


def test_waiting_entries_apply_in_delivery_order() -> None:
    ra, rb = _pair()
    ra.append(CHAIN, Kind.BLOB)
    ra.append(_chain_envelope(0), Kind.ATTESTATION)
    a = WasmDoc(ra, b"c", CHAIN_OUT["sha256"], _policy(1))
    b = WasmDoc(rb, b"c", CHAIN_OUT["sha256"], _policy(2))
    ops = [bytes([x]) for x in (5, 200, 3, 77, 1)]
    for op in ops:
        a.submit(op)
    rb.receive(ra.entries())
    assert len(b.waiting) == len(ops)
    rb.append(_chain_envelope(1), Kind.ATTESTATION)
    assert _chain(a) == _chain(b) == _fold(ops) != _fold(sorted(ops))


def test_a_machine_admitted_again_is_rebuilt_from_the_whole_log() -> None:
    now = [0.0]
    trusted = {"b0": Trusted("b0", BUILDERS[0].public_key, until=100.0)}
    trusted |= {n: b.public_key for n, b in zip(NAMES[1:], BUILDERS[1:], strict=True)}
    rep, _ = _pair()
    rep.append(CHAIN, Kind.BLOB)
    rep.append(_chain_envelope(0), Kind.ATTESTATION)
    doc = WasmDoc(rep, b"c", CHAIN_OUT["sha256"], Policy(trusted, 1, clock=lambda: now[0]))
    doc.submit(b"\x05")
    doc.submit(b"\x09")
    now[0] = 200.0  # b0's trust ends; the next attestation the document sees drops it
    rep.append(
        attest(for_blob("counter", CHAIN_OUT, "x"), lattice.Identity.generate()), Kind.ATTESTATION
    )
    assert "pending: 0 of 1" in doc.status() and len(doc.refused) == 1
    rep.append(
        machineops.encode(MachineBatch(b"c", bytes.fromhex(CHAIN_OUT["sha256"]), (b"\x02",)))
    )
    assert len(doc.waiting) == 1
    rep.append(_chain_envelope(1), Kind.ATTESTATION)  # admitted again, by b1
    assert doc.status() == "running" and _chain(doc) == _fold([b"\x05", b"\x09", b"\x02"])
    fresh = WasmDoc(rep, b"c", CHAIN_OUT["sha256"], Policy(trusted, 1, clock=lambda: now[0]))
    assert fresh.snapshot_hash() == doc.snapshot_hash()


def _signed_statement(text: bytes, who: int) -> bytes:
    from lattice.trust.attest import PAYLOAD_TYPE, key_id, pae

    sig = BUILDERS[who].sign(pae(PAYLOAD_TYPE, text))
    return json.dumps(
        {
            "payload": base64.b64encode(text).decode(),
            "payloadType": PAYLOAD_TYPE,
            "signatures": [
                {"keyid": key_id(BUILDERS[who].public_key), "sig": base64.b64encode(sig).decode()}
            ],
        }
    ).encode()


def test_hostile_attestation_entries_are_refused_and_the_document_goes_on() -> None:
    statement = for_blob("counter", CHAIN_OUT, "b0").statement()
    statement["predicate"]["buildDefinition"]["externalParameters"]["source"]["sha256"] = "\ud800"
    hostile = [
        b"[" * 100_000,  # nested past any recursion limit
        b'{"payload": ' + b"1" * 5000 + b"}",  # an integer too long to convert
        _signed_statement(json.dumps(statement).encode(), 0),  # a lone surrogate, signed
    ]
    rep, _ = _pair()
    rep.append(CHAIN, Kind.BLOB)
    for envelope in hostile:
        rep.append(envelope, Kind.ATTESTATION)
    doc = WasmDoc(rep, b"c", CHAIN_OUT["sha256"], _policy(1))
    assert len(doc.refused) == 3 and "pending: 0 of 1" in doc.status()
    assert all(isinstance(exc, AttestationError) for _, exc in doc.refused)
    rep.append(_chain_envelope(0), Kind.ATTESTATION)
    assert doc.status() == "running"


def test_a_web_builder_s_blob_starts_with_its_vouch_and_stops_at_its_revocation(
    counter: Built,
) -> None:
    from lattice.sybil import AdmissionPolicy, Vouch

    me = lattice.Identity.generate()
    rep = lattice.Replica(me, peers=[me.public_key], admission=AdmissionPolicy(min_bits=8))
    assert rep.trust is not None
    graph = rep.trust
    policy = Policy({}, 1, web=lambda: graph.within(2))
    rep.append(counter.path.read_bytes(), Kind.BLOB)
    rep.append(_envelope(counter, 0), Kind.ATTESTATION)  # b0: nobody in the web yet
    doc = WasmDoc(rep, b"t", counter.sha256, policy)
    assert "pending" in doc.status()
    rep.append(Vouch.create(me, rep.swarm_id, BUILDERS[0].public_key).to_bytes(), Kind.VOUCH)
    doc.submit(_delta(2))  # the vouch admitted it: it runs
    assert _total(doc) == 2
    revoke = Vouch.create(me, rep.swarm_id, BUILDERS[0].public_key, revoke=True)
    rep.append(revoke.to_bytes(), Kind.VOUCH)
    with pytest.raises(AttestationError):
        doc.query(b"")  # its builder revoked: it stops
    doc.close()

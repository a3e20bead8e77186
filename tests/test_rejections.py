"""Every class of hostile input the Replica rejects (DESIGN §3 validity, §16), each with its
own error class: the entry is rejected with exactly that error, nothing is stored, nothing
is relayed, nothing waits, and the matrix does not move."""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

import pytest

import lattice
from lattice import Entry, Kind, Replica, errors
from lattice.simulation import Equivocator

SWARM = bytes(range(32))
OFF_AUTHOR = 34
OFF_PAYLOAD_LEN = 210
SH = lattice.SIGNED_HEADER_LEN
#: An Ed25519 "public key" of small order (the identity point): with R the identity and
#: s = 0, ZIP-215 accepts a signature over any message for it.
SMALL_ORDER_KEY = bytes([1]) + bytes(31)
TRIVIAL_SIGNATURE = bytes([1]) + bytes(63)


@dataclass
class World:
    """A, B and the victim V; X has forked and V knows it. A has written three entries
    (the third entangling B3, ``b1``), B a fourth (``b2``, entangling A3), all delivered
    at V."""

    ids: list[lattice.Identity]
    peers: list[bytes]
    a: Replica
    b: Replica
    v: Replica
    b1: Entry
    b2: Entry

    def next_of_a(self, **overrides: object) -> Entry:
        """A's next entry (seq 4), valid unless ``overrides`` change a field."""
        log = self.a.entries(self.peers[0])
        fields: dict[str, object] = {
            "swarm": SWARM,
            "seq": 4,
            "lamport": log[-1].lamport + 1,
            "prev": log[-1].id,
            "lipmaa": log[0].id,  # lipmaa(4) = 1
            "deps": {},
            "payload": b"A4",
        }
        fields.update(overrides)
        return Entry.create(self.ids[0].signing_key, **fields)  # type: ignore[arg-type]


def world() -> World:
    ids = [lattice.Identity.from_seed(bytes([11, i]) + bytes(30)) for i in range(4)]
    peers = [i.public_key for i in ids]
    a, b, v = (Replica(i, peers=peers, swarm_id=SWARM) for i in ids[:3])
    a_log = [a.append(b"A1"), a.append(b"A2")]
    b_log = [b.append(f"B{i}".encode()) for i in (1, 2, 3)]
    a.receive(b_log)
    a_log.append(a.append(b"A3 entangles B3"))
    b1 = b_log[-1]
    assert a_log[2].deps == {peers[1]: (3, b1.id)} and a_log[2].lamport == 4
    b.receive(a_log)
    b2 = b.append(b"B4 entangles A3")
    assert b2.lamport == 5
    liar = Equivocator(ids[3], peers, SWARM)
    p, q = liar.equivocate(b"P", b"Q")
    v.receive([*b_log, b2, *a_log, p, q])
    assert v.blocklist == {peers[3]}
    return World(ids, peers, a, b, v, b1, b2)


def flip(data: bytes, index: int) -> bytes:
    out = bytearray(data)
    out[index] ^= 0x01
    return bytes(out)


def _unregistered(w: World) -> bytes:
    outsider = lattice.Identity.from_seed(bytes([99]) * 32)
    return Entry.create(outsider.signing_key, swarm=SWARM, seq=1, lamport=1).to_bytes()


def _unusable_key(w: World) -> bytes:
    data = bytearray(Entry.create(w.ids[0].signing_key, swarm=SWARM, seq=1, lamport=1).to_bytes())
    data[OFF_AUTHOR : OFF_AUTHOR + 32] = SMALL_ORDER_KEY
    data[lattice.HEADER_LEN : SH] = TRIVIAL_SIGNATURE
    return bytes(data)


def _blocked(w: World) -> bytes:
    liar = w.v.evidence(w.peers[3])[0]
    return Entry.create(
        w.ids[3].signing_key, swarm=SWARM, seq=2, lamport=2, prev=liar.id, payload=b"X2"
    ).to_bytes()


def _other_swarm(w: World) -> bytes:
    return w.next_of_a(swarm=bytes(32)).to_bytes()


def _bad_signature(w: World) -> bytes:
    return flip(w.next_of_a().to_bytes(), SH - 1)


def _another_peers_key(w: World) -> bytes:
    # A's header, signed with B's key: the signature is B's, the author field says A.
    honest = w.next_of_a()
    data = bytearray(honest.to_bytes())
    data[lattice.HEADER_LEN : SH] = w.ids[1].sign(honest.id)
    return bytes(data)


def _tampered_payload(w: World) -> bytes:
    data = w.next_of_a().to_bytes()
    return flip(data, len(data) - 1)


def _tampered_deps(w: World) -> bytes:
    data = w.next_of_a(deps={w.peers[1]: (4, w.b2.id)}).to_bytes()
    return flip(data, SH + 4 + 40)  # inside the dependency item's id


def _non_monotonic(w: World) -> bytes:
    # A3 already entangled B3: naming it again does not advance A's frontier.
    return w.next_of_a(deps={w.peers[1]: (3, w.b1.id)}).to_bytes()


def _lamport_prev(w: World) -> bytes:
    return w.next_of_a(lamport=w.a.entries(w.peers[0])[-1].lamport).to_bytes()


def _lamport_dep(w: World) -> bytes:
    lamport = max(w.b2.lamport, w.a.entries(w.peers[0])[-1].lamport + 1)
    return w.next_of_a(lamport=lamport, deps={w.peers[1]: (4, w.b2.id)}).to_bytes()


def _broken_prev(w: World) -> bytes:
    return w.next_of_a(prev=bytes([5]) * 32).to_bytes()


def _broken_lipmaa(w: World) -> bytes:
    return w.next_of_a(lipmaa=bytes([6]) * 32).to_bytes()


def _frontier_mismatch(w: World) -> bytes:
    return w.next_of_a(kind=int(Kind.NOOP), payload=b"", frontier_root=bytes([7]) * 32).to_bytes()


def _oversized(w: World) -> bytes:
    data = bytearray(w.next_of_a().to_bytes())
    data[OFF_PAYLOAD_LEN : OFF_PAYLOAD_LEN + 4] = struct.pack(">I", lattice.MAX_PAYLOAD_LEN + 1)
    return bytes(data) + bytes(lattice.MAX_PAYLOAD_LEN)


def _truncated(w: World) -> bytes:
    return w.next_of_a().to_bytes()[:-1]


def _trailing(w: World) -> bytes:
    return w.next_of_a().to_bytes() + b"\x00"


def _unknown_version(w: World) -> bytes:
    return bytes([2]) + w.next_of_a().to_bytes()[1:]


def _unknown_kind(w: World) -> bytes:
    data = bytearray(w.next_of_a().to_bytes())
    data[1] = 0x7F
    return bytes(data)


def _forged_fraud(w: World) -> bytes:
    # A FRAUD entry whose payload is not a fraud proof.
    return w.next_of_a(kind=int(Kind.FRAUD), payload=b"trust me").to_bytes()


CASES: dict[str, tuple[Callable[[World], bytes], type[errors.LatticeError]]] = {
    "unregistered author": (_unregistered, errors.UnknownAuthor),
    "wrong key: author is not a usable key": (_unusable_key, errors.InvalidKey),
    "wrong key: signed by another peer's key": (_another_peers_key, errors.InvalidSignature),
    "blocked author": (_blocked, errors.Blocked),
    "entry of another swarm (replay)": (_other_swarm, errors.WrongSwarm),
    "bad signature": (_bad_signature, errors.InvalidSignature),
    "tampered payload": (_tampered_payload, errors.PayloadMismatch),
    "tampered deps": (_tampered_deps, errors.DepsMismatch),
    "non-monotonic frontier delta": (_non_monotonic, errors.NonMonotonicFrontier),
    "lamport not above prev": (_lamport_prev, errors.LamportNotIncreasing),
    "lamport not above a dependency": (_lamport_dep, errors.LamportNotIncreasing),
    "broken prev link": (_broken_prev, errors.BrokenPrev),
    "broken lipmaa link": (_broken_lipmaa, errors.BrokenLipmaa),
    "noop frontier root": (_frontier_mismatch, errors.FrontierMismatch),
    "invalid fraud proof": (_forged_fraud, errors.InvalidFraudProof),
    "oversized": (_oversized, errors.LimitExceeded),
    "truncated": (_truncated, errors.Truncated),
    "trailing bytes": (_trailing, errors.TrailingBytes),
    "unknown version": (_unknown_version, errors.UnknownVersion),
    "unknown kind": (_unknown_kind, errors.UnknownKind),
}


@pytest.mark.parametrize("name", list(CASES))
def test_rejected_with_its_own_error_and_nothing_changes(name: str) -> None:
    make, expected = CASES[name]
    w = world()
    data = make(w)
    stored = [e.id for e in w.v.entries()]
    evidence = [e.id for e in w.v.evidence()]
    matrix = w.v.matrix.to_numpy().copy()
    blocklist = w.v.blocklist
    r = w.v.receive([data])
    assert [type(e) for _, e in r.rejected] == [expected], r.rejected
    assert r.rejected[0][0] == data
    assert r.delivered == [] and r.to_relay == [] and r.frauds == []
    assert r.pending == 0 and w.v.pending == 0
    assert [e.id for e in w.v.entries()] == stored
    assert [e.id for e in w.v.evidence()] == evidence
    assert (w.v.matrix.to_numpy() == matrix).all()
    assert w.v.blocklist == blocklist
    # The valid entry is still accepted afterwards: a rejection poisons nothing.
    good = w.next_of_a(deps={w.peers[1]: (4, w.b2.id)}, lamport=w.b2.lamport + 1)
    assert w.v.receive([good]).delivered == [good]


def test_every_error_class_is_distinct_where_the_issue_lists_it() -> None:
    """The rejection classes of issue 4, each its own exception class (DESIGN §3)."""
    classes = {
        CASES[n][1]
        for n in CASES
        if n not in ("wrong key: signed by another peer's key", "lamport not above a dependency")
    }
    assert len(classes) == len(CASES) - 2
    assert all(issubclass(c, errors.LatticeError) for c in classes)

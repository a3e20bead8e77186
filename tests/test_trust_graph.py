"""The trust graph of DESIGN §11 (issue 15): admission records and vouches as system
entries, the k-hop rule with exact expected sets, outside vouches, revocation, the vouch
cap, and the wrap rule judged from the wrapping entry's causal past — identically on every
replica, in any delivery order."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

import lattice
from lattice import ClientOp, Kind
from lattice.errors import (
    InvalidProofOfWork,
    InvalidVouch,
    NotAdmitted,
    Truncated,
    UnknownVersion,
)
from lattice.sybil import Admission, AdmissionPolicy, TrustGraph, Vouch, admit, carry_vouch, vouch

SWARM = bytes(range(32))
BITS = 8  # cheap for tests; the default is 20
POLICY = AdmissionPolicy(min_bits=BITS)


def ident(tag: int) -> lattice.Identity:
    return lattice.Identity.from_seed(bytes([0x5B, tag]) + bytes(30))


PEERS = [ident(i) for i in range(3)]
PKS = [p.public_key for p in PEERS]


def replica(i: int, path: Path | None = None, policy: AdmissionPolicy | None = POLICY):
    return lattice.Replica(PEERS[i], peers=PKS, swarm_id=SWARM, path=path, admission=policy)


def op(client: lattice.Identity, nonce: int = 1) -> bytes:
    return ClientOp.create(client.signing_key, SWARM, nonce, b"op").to_bytes()


def graph_of(edges: list[tuple[int, int]], hops: int = 2) -> tuple[TrustGraph, list[bytes]]:
    """A graph over open identities 10.. whose vouches ``(voucher, subject)`` sit in peer 0's
    log at seqs 1, 2, … (a voucher below 3 is that registered peer)."""
    graph = TrustGraph(PKS, SWARM, AdmissionPolicy(hops=hops, min_bits=BITS))
    people = {i: (PEERS[i] if i < 3 else ident(i)) for e in edges for i in e}
    for seq, (a, b) in enumerate(edges, 1):
        v = Vouch.create(people[a], SWARM, people[b].public_key)
        graph.record(int(Kind.VOUCH), v.to_bytes(), 0, seq)
    return graph, [ident(i).public_key for i in range(40)]


# --- records ----------------------------------------------------------------------------


def test_records_round_trip_and_refuse_malformed_bytes() -> None:
    key = ident(10).public_key
    rec = Admission.make(key, SWARM, BITS)
    assert Admission.from_bytes(rec.to_bytes()) == rec and len(rec.to_bytes()) == 42
    assert rec.check(SWARM, BITS) == rec
    with pytest.raises(InvalidProofOfWork):
        rec.check(SWARM, BITS + 1)  # a target below the swarm's
    with pytest.raises(InvalidProofOfWork):
        Admission(key, BITS + 30, rec.nonce).check(SWARM, BITS)  # a lying target
    with pytest.raises(InvalidProofOfWork):
        rec.check(bytes(32), BITS)  # another swarm's work
    v = Vouch.create(PEERS[0], SWARM, key)
    assert Vouch.from_bytes(v.to_bytes()) == v and v.verify(SWARM) and not v.verify(bytes(32))
    with pytest.raises(Truncated):
        Vouch.from_bytes(v.to_bytes()[:-1])
    with pytest.raises(UnknownVersion):
        Vouch.from_bytes(b"\x02" + v.to_bytes()[1:])
    with pytest.raises(InvalidVouch):
        Vouch.from_bytes(v.to_bytes()[:1] + b"\x09" + v.to_bytes()[2:])
    forged = Vouch(v.action, ident(11).public_key, key, v.signature)
    assert not forged.verify(SWARM)
    assert not Vouch(v.action, bytes(32), key, bytes(64)).verify(SWARM)  # small-order key


# --- the k-hop rule, exactly ------------------------------------------------------------


def test_k_hop_rule_gives_exact_sets() -> None:
    # peer 0 → 10 → 11 → 12 → 13; peer 1 → 20; 20 → 21; 30 → 31 (30 is unconnected)
    edges = [(0, 10), (10, 11), (11, 12), (12, 13), (1, 20), (20, 21), (30, 31)]
    for hops, expected in {
        0: set(),
        1: {10, 20},
        2: {10, 11, 20, 21},
        3: {10, 11, 12, 20, 21},
        4: {10, 11, 12, 13, 20, 21},
    }.items():
        graph, keys = graph_of(edges, hops)
        assert graph.admitted_set() == set(PKS) | {keys[i] for i in expected}, hops
    graph, keys = graph_of(edges)
    assert [graph.distance(keys[i]) for i in (10, 11, 12, 30, 31)] == [1, 2, None, None, None]
    # The shortest path counts: 12 vouched for by a registered peer too is 1 hop away.
    graph, keys = graph_of([*edges, (2, 12)])
    assert graph.distance(keys[12]) == 1 and graph.distance(keys[13]) == 2


def test_a_cycle_of_outsiders_admits_none_of_them() -> None:
    graph, _ = graph_of([(30, 31), (31, 32), (32, 30)], hops=5)
    assert graph.admitted_set() == set(PKS)


def test_proof_of_work_admits_but_carries_no_one_within_k_hops() -> None:
    graph, keys = graph_of([(30, 31)])
    rec = Admission.make(keys[30], SWARM, BITS)
    graph.record(int(Kind.ADMISSION), rec.to_bytes(), 1, 1)
    assert graph.admitted(keys[30]) and graph.why(keys[30]) == "admitted by proof of work"
    assert not graph.admitted(keys[31])
    assert graph.admitted_set() == set(PKS) | {keys[30]}


def test_the_frontier_decides_what_is_seen() -> None:
    graph, keys = graph_of([(0, 10), (10, 11)])  # at peer 0's seqs 1 and 2
    assert graph.admitted_set([0, 0, 0]) == set(PKS)
    assert graph.admitted_set([1, 0, 0]) == set(PKS) | {keys[10]}
    assert graph.admitted_set([2, 5, 5]) == set(PKS) | {keys[10], keys[11]}


# --- entries in replicas ----------------------------------------------------------------


def test_a_vouch_from_outside_the_graph_is_rejected_and_admits_no_one() -> None:
    a, b = replica(0), replica(1)
    outsider, subject = ident(30), ident(31)
    with pytest.raises(NotAdmitted, match="not within 2 vouch hops"):
        vouch(a, subject.public_key, by=outsider)
    assert a.entries() == []  # nothing signed
    # A peer that carries it anyway (no admission checks of its own) is refused by all.
    liar = replica(2, policy=None)
    bad = carry_vouch(liar, Vouch.create(outsider, SWARM, subject.public_key))
    for r in (a, b):
        result = r.receive([bad])
        assert [type(e) for _, e in result.rejected] == [NotAdmitted]
        assert r.penalties == {PKS[2]: 1} and not r.trust.admitted(subject.public_key)


def test_vouches_admission_and_refusals_of_each_kind() -> None:
    a = replica(0)
    friend, stranger, worker = ident(10), ident(11), ident(12)
    with pytest.raises(InvalidVouch, match="itself"):
        vouch(a, friend.public_key, by=friend)
    with pytest.raises(InvalidVouch, match="registered peers"):
        vouch(a, PKS[1])
    with pytest.raises(InvalidVouch, match="only a registered peer revokes"):
        vouch(a, stranger.public_key, by=friend, revoke=True)
    with pytest.raises(InvalidProofOfWork):  # a target below the swarm's
        admit(a, Admission.make(worker.public_key, SWARM, BITS - 1))
    vouch(a, friend.public_key)
    vouch(a, stranger.public_key, by=friend)
    admit(a, Admission.make(worker.public_key, SWARM, BITS))
    assert [e.kind for e in a.entries()] == [Kind.VOUCH, Kind.VOUCH, Kind.ADMISSION]
    t = a.trust
    assert [t.distance(x.public_key) for x in (friend, stranger, worker)] == [1, 2, None]
    assert all(t.admitted(x.public_key) for x in (friend, stranger, worker))
    assert a.wrap_client_op(op(worker)).kind == Kind.WRAP
    with pytest.raises(NotAdmitted, match="not admitted"):
        a.wrap_client_op(op(ident(13)))
    assert len(a.entries()) == 4  # the refused wrap was never signed


def test_an_open_voucher_is_capped() -> None:
    a = replica(0, policy=AdmissionPolicy(min_bits=BITS, max_vouches=3))
    voucher = ident(10)
    vouch(a, voucher.public_key)
    for i in range(3):
        vouch(a, ident(20 + i).public_key, by=voucher)
    with pytest.raises(InvalidVouch, match="has given its 3 vouches"):
        vouch(a, ident(23).public_key, by=voucher)
    for i in range(3, 6):  # a registered peer is not capped
        vouch(a, ident(20 + i).public_key)
    assert len(a.trust.admitted_set()) == 3 + 1 + 6


def test_revoking_a_voucher_blocklists_it_and_cuts_its_vouches() -> None:
    a, b = replica(0), replica(1)
    voucher, vouched, worker = ident(10), ident(11), ident(12)
    vouch(a, voucher.public_key)
    vouch(a, vouched.public_key, by=voucher)
    admit(a, Admission.make(voucher.public_key, SWARM, BITS))  # work does not save it
    wrapped = a.wrap_client_op(op(vouched))
    b.receive(a.entries())
    revoke = vouch(b, voucher.public_key, revoke=True)
    for r in (a, b):
        r.receive([revoke])
        t = r.trust
        assert not t.admitted(voucher.public_key) and not t.admitted(vouched.public_key)
        assert t.why(voucher.public_key) == "revoked by a registered peer"
    # What was wrapped before the revocation stays; after it, nothing more.
    assert a.get(wrapped.id) is not None
    with pytest.raises(NotAdmitted, match="revoked"):
        a.wrap_client_op(op(voucher, 2))
    with pytest.raises(NotAdmitted, match="revoked"):
        vouch(a, worker.public_key, by=voucher)
    with pytest.raises(NotAdmitted):
        a.wrap_client_op(op(vouched, 2))


def _history() -> tuple[list[bytes], dict[str, bytes]]:
    """Three peers' logs: peer 0 vouches for a client and wraps its op; peer 1, before it
    has seen the vouch, wraps the same client's op (concurrent: invalid), then after seeing
    it, wraps another (valid); peer 2 wraps for a stranger (invalid)."""
    p0, p1, p2 = replica(0), replica(1, policy=None), replica(2, policy=None)
    client, stranger = ident(10), ident(11)
    v = vouch(p0, client.public_key)
    w0 = p0.wrap_client_op(op(client, 1))
    early = p1.wrap_client_op(op(client, 2))  # p1 has not seen v
    p1.receive(p0.entries())
    _ = p1.noop()
    late = p1.wrap_client_op(op(client, 3))
    p2.receive(p0.entries())
    odd = p2.wrap_client_op(op(stranger, 1))
    entries = [*p0.entries(), *p1.entries(), *p2.entries()]
    return [e.to_bytes() for e in entries], {
        "v": v.id,
        "w0": w0.id,
        "early": early.id,
        "late": late.id,
        "odd": odd.id,
    }


def test_the_wrap_rule_rejects_identically_on_every_replica_in_any_order() -> None:
    entries, ids = _history()
    outcomes = set()
    orders = [entries, entries[::-1]]
    rng = random.Random(15)
    for _ in range(8):
        order = list(entries)
        rng.shuffle(order)
        orders.append(order)
    for order in orders:
        r = replica(0)
        rejected, delivered = [], []
        for chunk in (order[i : i + 3] for i in range(0, len(order), 3)):
            result = r.receive(chunk)
            rejected += [(lattice.Entry.from_bytes(d).id, type(e)) for d, e in result.rejected]
            delivered += [e.id for e in result.delivered]
        outcomes.add((frozenset(rejected), frozenset(delivered), r.pending))
        assert r.penalties == {PKS[1]: 1, PKS[2]: 1}
    assert len(outcomes) == 1, outcomes
    rejected, delivered, pending = outcomes.pop()
    assert rejected == {(ids["early"], NotAdmitted), (ids["odd"], NotAdmitted)}
    assert {ids["v"], ids["w0"]} <= delivered and ids["late"] not in delivered
    assert pending == 2  # everything after `early` in peer 1's log waits on it forever


def test_the_graph_is_rebuilt_from_the_store(tmp_path: Path) -> None:
    a = replica(0, tmp_path / "a.db")
    client, worker = ident(10), ident(12)
    vouch(a, client.public_key)
    admit(a, Admission.make(worker.public_key, SWARM, BITS))
    a.close()
    a = replica(0, tmp_path / "a.db")
    assert a.trust.admitted_set() == set(PKS) | {client.public_key, worker.public_key}
    assert a.wrap_client_op(op(client)).kind == Kind.WRAP
    a.close()


def test_an_open_swarm_judges_nothing() -> None:
    a = replica(0, policy=None)
    assert a.trust is None and a.wrap_client_op(op(ident(11))).kind == Kind.WRAP


def test_lattice_admit_writes_a_record_the_graph_accepts(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from lattice.cli import main
    from lattice.net.config import Member, render

    client = ident(40)
    client.save(tmp_path / "c.key")
    text = render(
        identity="c.key",
        swarm_id=SWARM,
        members=[Member("a", PKS[0], ("127.0.0.1", 7))],
        role="client",
        home="a",
    )
    (tmp_path / "c.toml").write_text(text)
    result = CliRunner().invoke(
        main, ["admit", "--config", str(tmp_path / "c.toml"), "--bits", "12"]
    )
    assert result.exit_code == 0, result.output
    path = tmp_path / "c.admission"
    assert str(path) in result.output
    record = Admission.from_bytes(path.read_bytes())
    assert record.key == client.public_key and record.target == 12
    a = replica(0)
    admit(a, record)
    assert a.trust.why(client.public_key) == "admitted by proof of work"
    bad = CliRunner().invoke(main, ["admit", "--config", str(tmp_path / "c.toml"), "--bits", "99"])
    assert bad.exit_code != 0

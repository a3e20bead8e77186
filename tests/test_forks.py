"""Forks, fraud proofs and the blocklist (DESIGN §4, §5, §16), with exact outcomes."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

import lattice
from lattice import FraudProof, Kind, Missing, Replica
from lattice.errors import Blocked, InvalidFraudProof
from lattice.simulation import Equivocator

SWARM = bytes(range(32))


def identities(n: int, salt: int = 7) -> list[lattice.Identity]:
    return [lattice.Identity.from_seed(bytes([salt, i]) + bytes(30)) for i in range(n)]


class Swarm:
    """Honest A, B, C and the equivocating attacker X (N = 4, f = 1, q = 3)."""

    def __init__(self, tmp: Path | None = None) -> None:
        self.ids = identities(4)
        self.peers = [i.public_key for i in self.ids]
        self.x = self.peers[3]
        paths = [None] * 3 if tmp is None else [tmp / f"{n}.db" for n in "abc"]
        self.honest = [
            Replica(i, peers=self.peers, swarm_id=SWARM, path=p)
            for i, p in zip(self.ids[:3], paths, strict=True)
        ]
        self.a, self.b, self.c = self.honest
        self.liar = Equivocator(self.ids[3], self.peers, SWARM)

    def history(self, k: int) -> list[lattice.Entry]:
        """X's first k - 1 entries, delivered by everyone."""
        log = [self.liar.append(f"X{s}".encode()) for s in range(1, k)]
        for r in self.honest:
            assert r.receive(log).delivered == log
        return log

    def reopen(self, tmp: Path, which: int) -> Replica:
        self.honest[which].close()
        return Replica(
            self.ids[which], peers=self.peers, swarm_id=SWARM, path=tmp / f"{'abc'[which]}.db"
        )


def assert_frozen(r: Replica, x: bytes, k: int) -> None:
    """Every query reports X at no more than k - 1."""
    m = r.matrix
    assert m.known_to_all()[x] <= k - 1
    assert m.known_to_quorum()[x] <= k - 1
    assert m.known_to_quorum(1)[x] <= k - 1
    assert max(m.column(x).values()) <= k - 1
    assert m.acceptance(x, k) == 0
    assert int(m.to_numpy()[:, m.index(x)].max()) <= k - 1
    assert m.frozen_at(x) == k - 1
    if x in r.frontier():
        assert r.frontier()[x][0] <= k - 1


# --- path (a): the second version received directly -------------------------------------


def test_second_version_received_directly_is_proven_announced_and_persisted(
    tmp_path: Path,
) -> None:
    s = Swarm(tmp_path)
    s.history(3)
    p, q = s.liar.equivocate(b"P", b"Q")
    assert s.b.receive([p]).delivered == [p]
    # B's own entry commits to P at seq 3.
    b_p = s.b.append(b"B saw P")
    r = s.b.receive([q])
    assert r.delivered == [] and not r.rejected
    assert len(r.frauds) == 1
    proof = r.frauds[0]
    assert (proof.author, proof.seq) == (s.x, 3)
    assert set(proof.ids) == {p.id, q.id}
    assert proof.verify(SWARM) and not proof.verify(bytes(32))
    assert s.b.frauds == [proof] and s.b.blocklist == {s.x}
    # Q is kept as evidence, not delivered.
    assert r.evidence == [q] and s.b.evidence(s.x) == [q] and s.b.get(q.id) is None
    # The FRAUD entry announcing it, in B's own log, for the swarm to entangle.
    (announce,) = r.appended
    assert announce.kind == Kind.FRAUD and announce.author == s.peers[1]
    assert FraudProof.from_bytes(announce.payload) == proof
    assert s.b.entries(s.peers[1])[-1] == announce
    assert r.to_relay == [q, announce]
    assert_frozen(s.b, s.x, 3)
    assert s.b.disputed(s.x) == {s.peers[1], s.x}
    assert b_p.deps[s.x] == (3, p.id)
    # Permanent: everything survives a restart.
    b = s.reopen(tmp_path, 1)
    assert b.blocklist == {s.x} and b.frauds == [proof]
    assert b.evidence(s.x) == [q]
    assert_frozen(b, s.x, 3)
    assert b.disputed(s.x) == {s.peers[1], s.x}
    r = b.receive([s.liar.extend(0, b"later")])
    assert [type(e) for _, e in r.rejected] == [Blocked]


def test_a_blocked_author_is_refused_and_nothing_is_stored() -> None:
    s = Swarm()
    s.history(2)
    p, q = s.liar.equivocate(b"P", b"Q")
    s.a.receive([p, q])
    assert s.a.blocklist == {s.x}
    before = (len(s.a.entries()), s.a.matrix.to_numpy().copy())
    later = s.liar.extend(0, b"more")
    r = s.a.receive([later])
    assert [type(e) for _, e in r.rejected] == [Blocked]
    assert r.delivered == [] and r.evidence == [] and r.to_relay == []
    assert len(s.a.entries()) == before[0]
    assert (s.a.matrix.to_numpy() == before[1]).all()
    assert s.a.evidence(s.x) == [q]


def test_both_versions_pending_then_released_together() -> None:
    """Both versions wait for the same missing predecessor; when it arrives one is
    delivered and the other proves the fork."""
    s = Swarm()
    x1 = s.liar.append(b"X1")
    p, q = s.liar.equivocate(b"P", b"Q")
    assert s.a.receive([p, q]).pending == 2
    r = s.a.receive([x1])
    assert r.delivered[0] == x1 and len(r.delivered) == 2
    assert len(r.frauds) == 1 and s.a.blocklist == {s.x}
    assert {r.delivered[1].id, r.evidence[0].id} == {p.id, q.id}


# --- path (b): a dependency commits to the other version ---------------------------------


def test_dependency_on_the_other_version_is_fetched_then_proves_the_fork() -> None:
    s = Swarm()
    s.history(2)
    p, q = s.liar.equivocate(b"P", b"Q")
    s.b.receive([p])
    s.c.receive([q])
    c_q = s.c.append(b"C depends on Q")
    assert c_q.deps[s.x] == (2, q.id)
    before = s.b.matrix.to_numpy().copy()
    r = s.b.receive([c_q])
    assert r.delivered == [] and r.pending == 1 and not r.frauds
    assert (s.b.matrix.to_numpy() == before).all(), "the matrix does not move"
    assert s.b.missing() == [Missing(s.x, 2, 2, q.id)]
    # The request is answered by id; Q arrives as the second version of X@2.
    fetched = s.c.answer(s.b.missing())
    assert fetched == [q.to_bytes()]
    r = s.b.receive(fetched)
    assert len(r.frauds) == 1 and s.b.blocklist == {s.x}
    assert r.evidence == [q] and r.delivered == [c_q], "honest work on Q survives"
    assert s.b.missing() == []
    assert_frozen(s.b, s.x, 2)
    assert s.b.disputed(s.x) == {s.peers[2], s.x}


def test_honest_work_on_a_later_entry_of_the_other_branch_survives() -> None:
    """C depends on X@3 of branch Q; B holds branch P. B needs Q and X@3(Q) as evidence."""
    s = Swarm()
    s.history(2)
    p, q = s.liar.equivocate(b"P", b"Q")
    q3 = s.liar.extend(1, b"Q3")
    s.b.receive([p])
    s.c.receive([q, q3])
    c1 = s.c.append(b"C on Q3")
    r = s.b.receive([c1])
    assert s.b.missing() == [Missing(s.x, 3, 3)]
    r = s.b.receive(s.c.answer(s.b.missing()))
    # X@3 of branch Q names Q as prev: a broken link that is itself requested by id.
    assert [type(e).__name__ for _, e in r.rejected] == ["BrokenPrev"]
    assert Missing(s.x, 2, 2, q.id) in s.b.missing()
    r = s.b.receive(s.c.answer(s.b.missing()))
    assert len(r.frauds) == 1 and r.evidence == [q]
    # Now X is blocked, but X@3(Q) is exactly what a waiting honest entry needs.
    r = s.b.receive(s.c.answer(s.b.missing()))
    assert r.evidence == [q3] and r.delivered == [c1]
    assert s.b.missing() == [] and s.b.pending == 0


# --- path (c): frontier comparison ---------------------------------------------------------


def test_frontier_comparison_requests_the_other_version_by_id() -> None:
    s = Swarm()
    s.history(2)
    p, q = s.liar.equivocate(b"P", b"Q")
    s.b.receive([p])
    s.c.receive([q])
    a1 = s.a.append(b"a")
    s.c.receive([a1])
    wanted = s.b.compare_frontier(s.c.frontier())
    assert wanted == sorted(
        [Missing(s.x, 2, 2, q.id), Missing(s.peers[0], 1, 1)], key=lambda m: m.author
    )
    r = s.b.receive(s.c.answer(wanted))
    assert len(r.frauds) == 1 and r.delivered == [a1]
    # A frontier that agrees asks for nothing; a forked author is not asked about.
    assert s.b.compare_frontier(s.b.frontier()) == []
    assert s.b.compare_frontier({s.x: (2, q.id)}) == []


# --- proofs from others -------------------------------------------------------------------


def test_a_valid_proof_from_anyone_blocklists_without_either_version() -> None:
    s = Swarm()
    s.history(2)
    p, q = s.liar.equivocate(b"P", b"Q")
    s.b.receive([p, q])
    (announce,) = s.b.entries(s.peers[1])
    # A has seen neither version; B's FRAUD entry is enough.
    r = s.a.receive([announce])
    assert r.delivered == [announce] and r.appended == [], "A did not detect it itself"
    assert s.a.blocklist == {s.x} and [f.seq for f in r.frauds] == [2]
    assert_frozen(s.a, s.x, 2)
    # Both versions are still accepted, as evidence (they are the proof's).
    r = s.a.receive([p, q])
    assert r.delivered == [] and {e.id for e in r.evidence} == {p.id, q.id}
    # A gossiped proof works the same way, and counts as news once.
    c = s.c
    assert c.receive_fraud_proof(FraudProof.from_entries(p, q).to_bytes(), sender=s.peers[0])
    assert c.blocklist == {s.x} and c.penalties == {}
    assert not c.receive_fraud_proof(FraudProof.from_entries(q, p))


def _forgeries(s: Swarm) -> dict[str, FraudProof]:
    x2 = s.liar.append(b"X2")
    other = lattice.Identity.from_seed(bytes([9]) * 32)
    swarm = SWARM
    p, q = s.liar.equivocate(b"P", b"Q")
    bad = bytearray(q.signed_header())
    bad[-1] ^= 0x01
    impostor = lattice.Entry.create(
        s.ids[0].signing_key, swarm=swarm, seq=3, lamport=5, prev=bytes([1]) * 32, payload=b"Z"
    )
    foreign = lattice.Entry.create(
        other.signing_key, swarm=swarm, seq=3, lamport=3, prev=bytes([1]) * 32, payload=b"F"
    )
    return {
        "different seqs": FraudProof.from_entries(x2, p),
        "bad signature": FraudProof.from_headers(p.signed_header(), bytes(bad)),
        "identical headers": FraudProof.from_entries(p, p),
        "different signers": FraudProof.from_entries(p, impostor),
        "unregistered author": FraudProof.from_entries(
            foreign,
            lattice.Entry.create(
                other.signing_key, swarm=swarm, seq=3, lamport=3, prev=bytes([1]) * 32, payload=b"G"
            ),
        ),
        "another swarm": FraudProof.from_entries(
            *(
                lattice.Entry.create(
                    s.ids[3].signing_key, swarm=bytes(32), seq=1, lamport=1, payload=v
                )
                for v in (b"1", b"2")
            )
        ),
    }


def test_forged_fraud_proofs_are_rejected_and_nobody_is_blocklisted() -> None:
    s = Swarm()
    s.history(2)
    forgeries = _forgeries(s)
    for n, (name, forged) in enumerate(forgeries.items(), start=1):
        if name != "unregistered author":  # a valid fork, but of nobody in this swarm
            assert not forged.verify(SWARM), name
            with pytest.raises(InvalidFraudProof):
                forged.check(SWARM)
        with pytest.raises(InvalidFraudProof):
            s.a.receive_fraud_proof(forged, sender=s.peers[1])
        assert s.a.blocklist == set() and s.a.frauds == []
        assert s.a.penalties == {s.peers[1]: n}, "counted against the sender"
    with pytest.raises(InvalidFraudProof):
        s.a.receive_fraud_proof(b"\x01" + bytes(10), sender=s.peers[2])
    assert s.a.penalties[s.peers[2]] == 1


def test_a_fraud_entry_with_a_forged_proof_is_rejected_and_penalised(tmp_path: Path) -> None:
    s = Swarm(tmp_path)
    s.history(2)
    forged = _forgeries(s)["different seqs"]
    # B writes a FRAUD entry with a forged proof in it (B is lying this time).
    liar_b = Replica(s.ids[1], peers=s.peers, swarm_id=SWARM)
    liar_b.receive(s.a.entries())
    with pytest.raises(InvalidFraudProof):  # an honest replica never signs one
        liar_b.append(forged.to_bytes(), kind=Kind.FRAUD)
    fake = liar_b._create(Kind.FRAUD, forged.to_bytes())
    garbage = liar_b._create(Kind.FRAUD, b"not a proof")
    before = s.a.matrix.to_numpy().copy()
    r = s.a.receive([fake, garbage])
    assert [type(e) for _, e in r.rejected] == [InvalidFraudProof, InvalidFraudProof]
    assert r.delivered == [] and s.a.blocklist == set()
    assert (s.a.matrix.to_numpy() == before).all()
    assert s.a.penalties == {s.peers[1]: 2}
    a = s.reopen(tmp_path, 0)
    assert a.penalties == {s.peers[1]: 2} and a.blocklist == set()


# --- withheld entries and missing dependencies --------------------------------------------


def test_withheld_entry_leaves_later_ones_pending_until_the_gap_is_filled() -> None:
    ids = identities(2, salt=3)
    peers = [i.public_key for i in ids]
    a = Replica(ids[0], peers=peers, swarm_id=SWARM)
    b = Replica(ids[1], peers=peers, swarm_id=SWARM)
    log = [a.append(f"a{i}".encode()) for i in range(1, 9)]
    withheld = log[3]
    r = b.receive([e for e in log if e is not withheld])
    assert [e.seq for e in r.delivered] == [1, 2, 3]
    assert r.pending == 4 and b.head(peers[0]) == 3
    assert b.missing() == [Missing(peers[0], 4, 4)]
    assert b.matrix.cell(peers[0], peers[0]) == 3
    r = b.receive([withheld])
    assert [e.seq for e in r.delivered] == [4, 5, 6, 7, 8], "all of them, in order"
    assert b.missing() == [] and b.pending == 0
    assert [e.seq for e in b.entries(peers[0])] == list(range(1, 9))


def test_entry_relayed_without_its_dependency_waits_and_moves_nothing() -> None:
    s = Swarm()
    a1 = s.a.append(b"a1")
    s.b.receive([a1])
    b1 = s.b.append(b"b1 depends on a1")
    before = s.c.matrix.to_numpy().copy()
    r = s.c.receive([b1])
    assert r.delivered == [] and r.pending == 1
    assert (s.c.matrix.to_numpy() == before).all()
    assert s.c.entries() == [] and s.c.missing() == [Missing(s.peers[0], 1, 1)]
    r = s.c.receive([a1])
    assert r.delivered == [a1, b1]
    assert s.c.matrix.cell(s.peers[1], s.peers[0]) == 1


def test_dependency_flood_is_bounded_and_honest_entries_get_through() -> None:
    """A registered peer floods entries whose dependencies never arrive."""
    ids = identities(3, salt=5)
    peers = [i.public_key for i in ids]
    cap = 64 * 1024
    victim = Replica(
        ids[0],
        peers=peers,
        swarm_id=SWARM,
        max_pending_bytes=4 * cap,
        max_pending_bytes_per_author=cap,
    )
    flooder = ids[1]
    honest = Replica(ids[2], peers=peers, swarm_id=SWARM)
    peak = 0
    for round_ in range(20):
        flood = [
            lattice.Entry.create(
                flooder.signing_key,
                swarm=SWARM,
                seq=2 + round_ * 50 + i,
                lamport=10**6 + round_ * 50 + i,
                prev=bytes([1 + i % 200]) * 32,
                lipmaa=bytes([2]) * 32,
                payload=bytes(1000),
                deps={peers[2]: (10**9, bytes([3]) * 32)},
            )
            for i in range(50)
        ]
        r = victim.receive(flood)
        assert r.delivered == []
        peak = max(peak, victim.pending_bytes)
        # Honest entries, sent out of order, still get through.
        h = [honest.append(f"h{round_}.{i}".encode()) for i in range(3)]
        r = victim.receive([h[2], h[1], h[0]])
        assert r.delivered == h
    assert peak <= cap, "the flooder is held to its own share"
    assert victim.pending_bytes <= cap
    assert victim.head(peers[2]) == 60


# --- split-brain (N = 4, hypothesis over relay orders) ------------------------------------


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_split_brain_never_two_versions_at_quorum_and_everyone_ends_with_the_proof(
    data: st.DataObject,
) -> None:
    k = 3
    s = Swarm()
    s.history(k)
    p, q = s.liar.equivocate(b"P", b"Q")
    p2, q2 = s.liar.extend(0, b"P2"), s.liar.extend(1, b"Q2")
    names = "ABC"
    inbox: list[tuple[int, list[bytes]]] = [
        (1, [p.to_bytes(), p2.to_bytes()]),
        (2, [q.to_bytes(), q2.to_bytes()]),
    ]
    honest_ids: set[bytes] = set()
    at_quorum: set[bytes] = set()

    def send(frm: int, entries: list[lattice.Entry]) -> None:
        if entries:
            for to in range(3):
                if to != frm:
                    inbox.append((to, [e.to_bytes() for e in entries]))

    def check_invariant() -> None:
        for r in s.honest:
            if r.matrix.known_to_quorum()[s.x] >= k:
                version = r.id_at(s.x, k)
                assert version is not None
                at_quorum.add(version)
        assert len(at_quorum) <= 1, "two versions of X@k at quorum"

    def act(i: int, kind: int) -> None:
        r = s.honest[i]
        entry = r.append(f"{names[i]} writes".encode()) if kind == 0 else r.maybe_noop()
        if entry is not None:
            honest_ids.add(entry.id)
            send(i, [entry])

    def received(i: int, r: lattice.ReceiveResult) -> None:
        rep = s.honest[i]
        for e in r.delivered:
            dep = e.deps.get(s.x)
            if dep is not None and rep.id_at(s.x, dep[0]) != dep[1]:
                # Delivered an entry that depends on the other version: proven at once.
                assert rep.blocklist == {s.x} and rep.frauds
        honest_ids.update(e.id for e in r.appended)
        send(i, r.to_relay)

    def deliver(j: int) -> None:
        to, batch = inbox.pop(j)
        received(to, s.honest[to].receive(batch))

    def fetch(i: int, frm: int) -> None:
        received(i, s.honest[i].receive(s.honest[frm].answer(s.honest[i].missing())))

    steps = data.draw(st.integers(5, 60), label="steps")
    for _ in range(steps):
        choice = data.draw(st.integers(0, 9))
        if choice < 5 and inbox:
            deliver(data.draw(st.integers(0, len(inbox) - 1)))
        elif choice < 8:
            act(data.draw(st.integers(0, 2)), choice - 5 if choice < 7 else 1)
        else:
            fetch(data.draw(st.integers(0, 2)), data.draw(st.integers(0, 2)))
        check_invariant()

    # Then the network heals: every message arrives and every request is answered, with
    # one last round of noops (more would answer each other forever).
    def settle() -> None:
        for _ in range(50):
            while inbox:
                deliver(0)
                check_invariant()
            for i in range(3):
                for frm in range(3):
                    if frm != i and s.honest[i].missing():
                        fetch(i, frm)
            if not inbox and all(not r.missing() for r in s.honest):
                return
        pytest.fail("the swarm did not settle")

    settle()
    for i in range(3):
        act(i, 1)
    settle()
    for r in s.honest:
        assert r.blocklist == {s.x}
        assert [(f.author, f.seq) for f in r.frauds] == [(s.x, k)]
        assert set(r.frauds[0].ids) == {p.id, q.id}
        assert_frozen(r, s.x, k)
        delivered = {e.id for e in r.entries()}
        missing = honest_ids - delivered
        assert not missing, f"{len(missing)} honest entries not delivered"
        assert r.pending == 0
    event("one version reached quorum before the fork was known" if at_quorum else "none did")


def test_demo_attacker_is_caught_and_blocklisted_everywhere() -> None:
    from rich.console import Console

    from lattice.demo import run_attack_demo

    summary = run_attack_demo(Console(quiet=True))
    assert set(summary.versions.values()) == {"P", "Q"}, "both versions spread"
    assert summary.detected_at is not None and summary.detector is not None
    assert summary.proof_verified
    assert summary.blocklisted_everywhere and summary.all_frozen


def test_a_fork_found_but_not_yet_announced_is_announced_on_restart(tmp_path: Path) -> None:
    """A crash between storing the proof and storing the FRAUD entry loses nothing."""
    import sqlite3

    s = Swarm(tmp_path)
    s.history(2)
    p, q = s.liar.equivocate(b"P", b"Q")
    s.b.receive([p, q])
    (announce,) = [e for e in s.b.entries(s.peers[1]) if e.kind == Kind.FRAUD]
    s.b.close()
    with sqlite3.connect(tmp_path / "b.db") as db:  # the state just before the crash
        db.execute("DELETE FROM entries WHERE id = ?", (announce.id,))
        db.execute("UPDATE frauds SET announce = 1")
    b = s.reopen(tmp_path, 1)
    again = [e for e in b.entries(s.peers[1]) if e.kind == Kind.FRAUD]
    assert len(again) == 1 and FraudProof.from_bytes(again[0].payload) == b.frauds[0]
    b.close()
    b = s.reopen(tmp_path, 1)
    assert len([e for e in b.entries(s.peers[1]) if e.kind == Kind.FRAUD]) == 1, "once"


def test_a_format_1_store_is_upgraded_in_place(tmp_path: Path) -> None:
    import sqlite3

    s = Swarm(tmp_path)
    a1 = s.a.append(b"kept")
    s.a.close()
    with sqlite3.connect(tmp_path / "a.db") as db:  # what format 1 looked like
        for table in ("frauds", "evidence", "fork_cells", "penalties"):
            db.execute(f"DROP TABLE {table}")
        db.execute("PRAGMA user_version = 1")
    a = s.reopen(tmp_path, 0)
    assert a.entries() == [a1] and a.blocklist == set()
    with sqlite3.connect(tmp_path / "a.db") as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 3
    p, q = s.liar.equivocate(b"P", b"Q")
    assert a.receive([p, q]).frauds


# --- regressions from review -------------------------------------------------------------


def test_more_versions_at_a_known_fork_are_not_stored() -> None:
    """Proofs of other versions at the same seq add nothing: the liar cannot make a replica
    store any number of its entries."""
    s = Swarm()
    s.history(2)
    p, q = s.liar.equivocate(b"P", b"Q")
    s.a.receive([p, q])
    extra = [
        lattice.Entry.create(
            s.ids[3].signing_key, swarm=SWARM, seq=2, lamport=2, prev=p.prev, payload=bytes([i])
        )
        for i in range(6)
    ]
    for v, w in zip(extra[::2], extra[1::2], strict=True):
        assert not s.a.receive_fraud_proof(FraudProof.from_entries(v, w))
    r = s.a.receive(extra)
    assert [type(e) for _, e in r.rejected] == [Blocked] * 6
    assert s.a.evidence(s.x) == [q]


def test_evidence_naming_an_unregistered_peer_is_a_typed_rejection() -> None:
    s = Swarm()
    s.history(2)
    p, _ = s.liar.equivocate(b"P", b"Q")
    stranger = lattice.Identity.from_seed(bytes([77]) * 32).public_key
    odd = lattice.Entry.create(
        s.ids[3].signing_key, swarm=SWARM, seq=2, lamport=9, prev=p.prev,
        deps={stranger: (1, bytes(32))}, payload=b"odd",
    )  # fmt: skip
    s.a.receive([p])
    r = s.a.receive([odd])
    assert len(r.frauds) == 1, "the headers alone prove the fork"
    assert [type(e).__name__ for _, e in r.rejected] == ["UnknownAuthor"]
    assert s.a.evidence() == []


def test_relayed_evidence_before_the_entry_that_needs_it_is_kept() -> None:
    """to_relay puts evidence first; a receiver that already knows the fork keeps it for
    the honest entry later in the same batch, without another round trip."""
    s = Swarm()
    s.history(2)
    p, q = s.liar.equivocate(b"P", b"Q")
    q3 = s.liar.extend(1, b"Q3")
    s.a.receive([p, q])  # A knows the fork
    s.b.receive([q, q3])
    b1 = s.b.append(b"B on Q3")
    s.b.receive([p])  # B finds out; its relay carries the evidence first
    r = s.a.receive([q3, b1])
    assert r.evidence == [q3] and r.delivered == [b1] and not r.rejected


def test_answering_hostile_requests() -> None:
    s = Swarm()
    log = s.history(3)
    assert s.a.answer([Missing(s.x, 2**63, 2**64)]) == []
    assert s.a.answer([Missing(s.x, -5, 10**30)]) == [e.to_bytes() for e in log]
    assert s.a.answer([Missing(s.x, 1, 2)], limit=1) == [log[0].to_bytes()]
    assert s.a.answer([Missing(bytes(32), 1, 2), Missing(s.x, 1, 1, bytes(32))]) == []


def test_a_lower_fork_found_later_is_announced_and_lowers_the_cap() -> None:
    s = Swarm()
    s.history(2)
    p2, q2 = s.liar.equivocate(b"P", b"Q")
    p3, q3 = s.liar.extend(0, b"P3"), s.liar.extend(1, b"Q3")
    r = s.a.receive([p2, p3, q3])  # a fork at 3 first (q3's prev is unknown here)
    assert [f.seq for f in r.frauds] == [3]
    r = s.a.receive([q2])  # then the lower one
    assert [f.seq for f in r.frauds] == [2] and len(r.appended) == 1
    assert_frozen(s.a, s.x, 2)
    assert [f.seq for f in s.a.frauds] == [2]


def test_store_failures_leave_the_store_usable() -> None:
    from lattice.errors import StoreError
    from lattice.store import Store

    store = Store.open(None, swarm_id=SWARM, owner=bytes(32), peers=[bytes(32)])
    with pytest.raises(StoreError):
        store.add([(b"i", b"a", 1, 2**64, 1, b"x")], [])
    store.add([(b"i", b"a", 1, 1, 1, b"x")], [])
    assert store.count() == 1

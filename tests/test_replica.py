"""The Replica: causal delivery, the matrix it derives, pending and missing (DESIGN §3, §4)."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lattice
from lattice import Kind, Replica, _lattice
from lattice.errors import (
    InvalidSignature,
    PayloadMismatch,
    StoreError,
    UnknownAuthor,
    WrongSwarm,
)

SWARM = bytes(range(32))


def identities(n: int, salt: int = 0) -> list[lattice.Identity]:
    return [lattice.Identity.from_seed(bytes([salt, i]) + bytes(30)) for i in range(n)]


def swarm(n: int, **kwargs: object) -> tuple[list[lattice.Identity], list[Replica]]:
    ids = identities(n)
    peers = [i.public_key for i in ids]
    return ids, [Replica(i, peers=peers, swarm_id=SWARM, **kwargs) for i in ids]  # type: ignore[arg-type]


# --- DESIGN §4 worked example ------------------------------------------------------------


def test_line_of_four_worked_example() -> None:
    """A–B–C–D on a line, each relaying what it delivers; D's view, exactly."""
    ids, (a, b, c, d) = swarm(4)
    pa, pb, pc, pd = (i.public_key for i in ids)
    a1 = a.append(b"A1")
    assert b.receive([a1]).delivered == [a1]
    b1 = b.append(b"B1")
    assert b1.deps == {pa: (1, a1.id)}
    # C gets what B relays (A1 then B1); D gets what C relays.
    assert c.receive([a1, b1]).delivered == [a1, b1]
    c1 = c.append(b"C1")
    assert c1.deps == {pa: (1, a1.id), pb: (1, b1.id)}
    assert d.receive([a1, b1, c1]).delivered == [a1, b1, c1]
    d1 = d.append(b"D1")
    assert d1.deps == {pa: (1, a1.id), pb: (1, b1.id), pc: (1, c1.id)}
    m = d.matrix
    assert [m.cell(pa, s) for s in (pa, pb, pc, pd)] == [1, 0, 0, 0]
    assert m.row(pb) == {pa: 1, pb: 1, pc: 0, pd: 0}
    assert m.row(pc) == {pa: 1, pb: 1, pc: 1, pd: 0}
    assert m.row(pd) == {pa: 1, pb: 1, pc: 1, pd: 1}
    assert m.known_to_all() == {pa: 1, pb: 0, pc: 0, pd: 0}
    assert (m.n, m.faults, m.quorum) == (4, 1, 3)
    assert m.known_to_quorum() == {pa: 1, pb: 1, pc: 0, pd: 0}
    assert m.acceptance(pa, 1) == 4 and m.acceptance(pc, 1) == 2
    assert m.to_numpy().tolist() == [[1, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0], [1, 1, 1, 1]]


# --- causal delivery, pending and missing ---------------------------------------------------


def test_entry_waits_for_its_dependency_and_is_reported_missing() -> None:
    ids, (a, b, c) = swarm(3)
    pa = ids[0].public_key
    a1 = a.append(b"one")
    a2 = a.append(b"two")
    b.receive([a1, a2])
    b1 = b.append(b"depends on a2")
    r = c.receive([b1])
    assert r.delivered == [] and r.pending == 1 and c.pending == 1
    assert c.missing() == [lattice.Missing(pa, 1, 2)]
    assert c.matrix.to_numpy().sum() == 0, "nothing waiting moves the matrix"
    r = c.receive([a2])
    assert r.delivered == [] and r.pending == 2
    assert c.missing() == [lattice.Missing(pa, 1, 1)]
    r = c.receive([a1])
    assert r.delivered == [a1, a2, b1]
    assert r.pending == 0 and c.missing() == []
    assert [e.id for e in c.entries()] == [a1.id, a2.id, b1.id]


def test_duplicates_and_own_echoes_are_harmless() -> None:
    _, (a, b) = swarm(2)
    a1 = a.append(b"x")
    assert a.receive([a1, a1.to_bytes()]).delivered == []
    r = b.receive([a1, a1, a1.to_bytes()])
    assert r.delivered == [a1] and not r.rejected
    assert b.receive([a1]).delivered == []


def test_pending_caps_drop_and_rerequest_never_out_of_order() -> None:
    ids, (a, _b) = swarm(2)
    pa = ids[0].public_key
    log = [a.append(bytes(200)) for _ in range(30)]
    size = len(log[0].to_bytes())
    peers = [i.public_key for i in ids]
    small = Replica(
        ids[1],
        peers=peers,
        swarm_id=SWARM,
        max_pending_bytes=5 * size,
        max_pending_bytes_per_author=5 * size,
    )
    # Everything but the first entry, newest first: all must wait, most are evicted.
    r = small.receive(list(reversed(log[1:])))
    assert r.delivered == []
    assert small.pending <= 5 and small.pending_bytes <= 5 * size
    # The oldest (first received: seqs 30 down to 7) were evicted; 2..6 are held.
    assert sorted(w.seq for w in small._pending) == [2, 3, 4, 5, 6]
    assert small.missing() == [lattice.Missing(pa, 1, 1), lattice.Missing(pa, 7, 30)], (
        "evicted entries are re-requested, held ones are not"
    )
    r = small.receive([log[0]])
    delivered = [e.seq for e in r.delivered]
    assert delivered == [1, 2, 3, 4, 5, 6], "only in order"
    assert small.head(pa) == len(delivered)
    # Re-sending what was requested completes the log.
    missing = small.missing()
    assert missing and missing[0].first == len(delivered) + 1
    small.receive(log[missing[0].first - 1 :])
    assert small.head(pa) == 30 and small.pending == 0 and small.missing() == []
    assert [e.seq for e in small.entries(pa)] == list(range(1, 31))


def test_periodic_noop_only_when_the_frontier_changed() -> None:
    _, (a, b) = swarm(2)
    assert b.maybe_noop() is None
    b.receive([a.append(b"x")])
    n = b.maybe_noop()
    assert n is not None and n.kind == Kind.NOOP and n.payload == b""
    assert b.maybe_noop() is None
    # The noop's frontier root commits to the frontier, and a receiver recomputes it.
    assert a.receive([n]).delivered == [n]


def test_rejections_store_nothing() -> None:
    ids, (a, b) = swarm(2)
    outsider = lattice.Identity.generate()
    foreign = _lattice.Entry.create(outsider.signing_key, swarm=SWARM, seq=1, lamport=1)
    other_swarm = _lattice.Entry.create(ids[0].signing_key, swarm=bytes(32), seq=1, lamport=1)
    a1 = a.append(b"payload")
    bad_sig = bytearray(a1.to_bytes())
    bad_sig[_lattice.HEADER_LEN] ^= 1
    tampered = bytearray(a1.to_bytes())
    tampered[-1] ^= 1
    r = b.receive([foreign, other_swarm, bytes(bad_sig), bytes(tampered), b"garbage"])
    kinds = [type(err) for _, err in r.rejected]
    assert kinds[:4] == [UnknownAuthor, WrongSwarm, InvalidSignature, PayloadMismatch]
    assert issubclass(kinds[4], lattice.errors.DecodeError)
    assert r.delivered == [] and b.pending == 0 and b.entries() == []
    assert b.matrix.to_numpy().sum() == 0


# --- order independence (hypothesis) ---------------------------------------------------


def random_history(seed: int, peers: int = 4, steps: int = 40) -> list[_lattice.Entry]:
    """Peers append, emit noops and relay to each other at random; returns every entry."""
    rng = random.Random(seed)
    _ids, reps = swarm(peers)
    created: list[_lattice.Entry] = []
    for _ in range(steps):
        i = rng.randrange(peers)
        action = rng.random()
        if action < 0.4:
            created.append(reps[i].append(rng.randbytes(rng.randrange(8))))
        elif action < 0.55:
            if (n := reps[i].maybe_noop()) is not None:
                created.append(n)
        else:
            # Relay: j sends i a random subset of what it holds (in any order).
            j = rng.randrange(peers)
            held = reps[j].entries()
            reps[i].receive(rng.sample(held, len(held) // 2 + 1) if held else [])
    return created


def deliver_in_order(order: list[_lattice.Entry], one_at_a_time: bool) -> np.ndarray:
    ids = identities(4)
    observer = Replica(ids[0], peers=[i.public_key for i in ids], swarm_id=SWARM)
    before = observer.matrix.to_numpy().copy()
    batches = [[e] for e in order] if one_at_a_time else [order]
    for batch in batches:
        observer.receive(batch)
        now = observer.matrix.to_numpy().copy()
        assert (now >= before).all(), "a cell decreased"
        before = now
    assert observer.pending == 0 and observer.missing() == []
    return before


def causal_order(entries: list[_lattice.Entry], rng: random.Random) -> list[_lattice.Entry]:
    """A random topological order of the entries' prev/lipmaa/dependency DAG."""
    by_pos = {(e.author, e.seq): e for e in entries}
    needs = {}
    for e in entries:
        deps = {(e.author, e.seq - 1)} if e.seq > 1 else set()
        deps |= {(p, s) for p, (s, _) in e.deps.items()}
        needs[e.id] = {by_pos[d].id for d in deps}
    done: set[bytes] = set()
    out = []
    while len(out) < len(entries):
        ready = [e for e in entries if e.id not in done and needs[e.id] <= done]
        e = rng.choice(ready)
        done.add(e.id)
        out.append(e)
    return out


@settings(max_examples=5)
@given(seed=st.integers(0, 2**32))
def test_random_causal_orders_give_the_same_matrix(seed: int) -> None:
    entries = random_history(seed)
    rng = random.Random(seed)
    reference = deliver_in_order(causal_order(entries, rng), one_at_a_time=True)
    for _ in range(40):  # 5 histories × 40 orders = 200 causal orders per run
        order = causal_order(entries, rng)
        assert (deliver_in_order(order, one_at_a_time=True) == reference).all()


@settings(max_examples=5)
@given(seed=st.integers(0, 2**32))
def test_any_arrival_order_converges(seed: int) -> None:
    """Non-causal arrival orders too: the pending buffer restores causal delivery."""
    entries = random_history(seed)
    rng = random.Random(seed)
    reference = deliver_in_order(causal_order(entries, rng), one_at_a_time=False)
    for _ in range(10):
        shuffled = rng.sample(entries, len(entries))
        assert (deliver_in_order(shuffled, one_at_a_time=rng.random() < 0.5) == reference).all()


# --- durability ---------------------------------------------------------------------------


def test_close_and_reopen(tmp_path: Path) -> None:
    ids = identities(3)
    peers = [i.public_key for i in ids]
    paths = [tmp_path / f"r{i}.db" for i in range(3)]
    reps = [
        Replica(i, peers=peers, swarm_id=SWARM, path=p) for i, p in zip(ids, paths, strict=True)
    ]
    for step in range(20):
        i = step % 3
        e = reps[i].append(f"{step}".encode())
        for j in range(3):
            if j != i:
                reps[j].receive([e])
        if step % 4 == 0:
            k = (i + 1) % 3
            noop = reps[k].noop()
            for j in range(3):
                if j != k:
                    reps[j].receive([noop])
    before = [
        (r.frontier(), r.matrix.to_numpy().copy(), [e.to_bytes() for e in r.entries()])
        for r in reps
    ]
    for r in reps:
        r.close()
    again = [
        Replica(i, peers=peers, swarm_id=SWARM, path=p) for i, p in zip(ids, paths, strict=True)
    ]
    for r, (frontier, matrix, entries) in zip(again, before, strict=True):
        assert r.frontier() == frontier
        assert (r.matrix.to_numpy() == matrix).all()
        assert [e.to_bytes() for e in r.entries()] == entries
    # A reopened replica carries on where it stopped.
    e = again[0].append(b"after reopen")
    assert e.seq == again[0].head(peers[0])
    assert again[1].receive([e]).delivered == [e]


def test_store_refuses_another_swarm_owner_or_format(tmp_path: Path) -> None:
    ids = identities(2)
    peers = [i.public_key for i in ids]
    path = tmp_path / "r.db"
    Replica(ids[0], peers=peers, swarm_id=SWARM, path=path).close()
    with pytest.raises(StoreError, match="belongs to swarm"):
        Replica(ids[0], peers=peers, swarm_id=bytes(32), path=path)
    with pytest.raises(StoreError, match="another identity"):
        Replica(ids[1], peers=peers, swarm_id=SWARM, path=path)
    with pytest.raises(StoreError, match="membership"):
        Replica(ids[0], peers=list(reversed(peers)), swarm_id=SWARM, path=path)
    import sqlite3

    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version=99")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="format 99"):
        Replica(ids[0], peers=peers, swarm_id=SWARM, path=path)
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="not a lattice store"):
        Replica(ids[0], peers=peers, swarm_id=SWARM, path=other)


# --- column-only mode -----------------------------------------------------------------------


def test_column_only_mode_tracks_how_far_my_entries_spread() -> None:
    ids = identities(4)
    peers = [i.public_key for i in ids]
    full = [Replica(i, peers=peers, swarm_id=SWARM) for i in ids]
    light = Replica(ids[0], peers=peers, swarm_id=SWARM, path=None, column_only=True)
    mine = [light.append(b"1"), light.append(b"2")]
    for r in full[1:]:
        r.receive(mine)
    acks = [full[1].noop(), full[2].append(b"x")]
    light.receive(acks)
    assert light.matrix.column(peers[0]) == {peers[0]: 2, peers[1]: 2, peers[2]: 2, peers[3]: 0}
    assert light.matrix.acceptance(peers[0], 2) == 3
    assert light.matrix.known_to_quorum() == {peers[0]: 2}
    with pytest.raises(lattice.errors.InvalidArgument):
        light.matrix.column(peers[1])

"""Store commits off the event loop (DESIGN §13, lattice.writer): commits run in order on
one thread; a failed commit fails what is queued behind it and the replica recovers to
exactly what its store holds; on a node, a stalled commit stalls no other link, and an
entry is relayed only once its commit returned.

A commit is stalled for real: another SQLite connection holds the file's write lock.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import lattice
from lattice.errors import StoreError
from lattice.net.local import local_swarm
from lattice.store import Commit, Store
from lattice.writer import CommitWriter

SWARM = bytes(32)


@contextmanager
def write_locked(path: Path) -> Iterator[sqlite3.Connection]:
    """Hold the write lock of the SQLite file at ``path`` (as another process would)."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    finally:
        conn.execute("ROLLBACK")
        conn.close()


def _row(i: int) -> tuple[bytes, bytes, int, int, int, bytes]:
    return (bytes([i]) * 32, bytes(32), i, i, 1, b"entry %d" % i)


def _background_pair(
    directory: Path, count: int, busy_timeout: float
) -> tuple[lattice.Identity, lattice.Identity, list[lattice.Entry], lattice.Replica]:
    """Peer a's first ``count`` entries, and b's durable replica (``b.db`` in
    ``directory``) committing in the background."""
    a, b = lattice.Identity.generate(), lattice.Identity.generate()
    peers = [a.public_key, b.public_key]
    source = lattice.Replica(a, peers=peers)
    entries = [source.append(b"e%d" % i) for i in range(count)]
    rep = lattice.Replica(b, peers=peers, path=directory / "b.db")
    rep.commit_in_background(busy_timeout=busy_timeout)
    return a, b, entries, rep


def test_commits_run_in_order_and_a_failure_fails_what_is_queued(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    store = Store.open(path, swarm_id=SWARM, owner=bytes(32), peers=[bytes(32)])
    writer = CommitWriter(store, busy_timeout=0.2)
    try:
        first = writer.submit(Commit([_row(1)], []))
        first.result()
        assert store.count() == 1
        with write_locked(path):
            stalled = writer.submit(Commit([_row(2)], []))
            behind = writer.submit(Commit([_row(3)], []))
            with pytest.raises(StoreError, match="could not store"):
                stalled.result(timeout=30)
            # Checked against state that is now not stored: it must not land either.
            with pytest.raises(StoreError, match="an earlier commit failed"):
                behind.result(timeout=30)
            assert writer.failed is not None
        assert store.count() == 1
        writer.reset()
        assert writer.failed is None
        writer.submit(Commit([_row(2)], [])).result(timeout=30)
        assert store.count() == 2
        assert writer.queued == 0
        assert not writer.submit(Commit([_row(4)], [])).cancel(), "a commit cannot be cancelled"
    finally:
        writer.close()
        store.close()
    with pytest.raises(StoreError, match="closed"):
        writer.submit(Commit([_row(5)], []))
    assert writer.queued == 0


def test_a_replica_in_background_mode_serves_only_what_is_committed(tmp_path: Path) -> None:
    a, b, entries, rep = _background_pair(tmp_path, 3, busy_timeout=60)
    peers, path = [a.public_key, b.public_key], tmp_path / "b.db"
    try:
        with write_locked(path):
            result = rep.receive(entries[:2])
            assert [e.seq for e in result.delivered] == [1, 2]  # delivered in memory ...
            pending = rep.committed()
            assert pending is not None and not pending.done()  # ... not yet on disk
            assert rep.get(entries[0].id) is None  # so nothing of it is served
            assert list(rep.difference({})) == []
            assert rep.answer([lattice.Missing(a.public_key, 1, 2)]) == []
            # Checking the next entry needs no commit: it depends on the ones queued.
            assert [e.seq for e in rep.receive([entries[2]]).delivered] == [3]
        rep.committed().result(timeout=30)  # type: ignore[union-attr]
        assert [e.payload for e in rep.entries(a.public_key)] == [b"e0", b"e1", b"e2"]
        assert rep.get(entries[2].id) == entries[2]
    finally:
        rep.close()
    reopened = lattice.Replica(b, peers=peers, path=path)
    assert reopened.head(a.public_key) == 3
    reopened.close()


def test_a_failed_background_commit_leaves_the_replica_what_its_store_says(
    tmp_path: Path,
) -> None:
    a, _, entries, rep = _background_pair(tmp_path, 4, busy_timeout=0.2)
    b, path = rep.identity, tmp_path / "b.db"
    try:
        rep.receive(entries[:1])
        rep.committed().result(timeout=30)  # type: ignore[union-attr]
        with write_locked(path):
            rep.receive(entries[1:3])
            own = rep.append(b"mine")
            assert rep.head(a.public_key) == 3 and rep.head(b.public_key) == 1
            with pytest.raises(StoreError):
                rep.committed().result(timeout=30)  # type: ignore[union-attr]
        rep.recover()
        # Exactly what the store holds: entry 1 of a, nothing of b.
        assert rep.head(a.public_key) == 1 and rep.head(b.public_key) == 0
        assert rep.get(own.id) is None
        assert rep.matrix.cell(b.public_key, a.public_key) == 0
        # What was lost can be received again, and new entries are stored.
        assert [e.seq for e in rep.receive(entries[1:]).delivered] == [2, 3, 4]
        mine = rep.append(b"mine again")
        rep.committed().result(timeout=30)  # type: ignore[union-attr]
        assert rep.get(mine.id) == mine and mine.seq == 1
    finally:
        rep.close()


def test_a_stalled_commit_stalls_no_other_link_and_nothing_is_relayed_before_it(
    tmp_path: Path,
) -> None:
    """A line n0 ← n1 ← n2: while n1's store is locked, n1 still reads both links and
    answers (in memory), but relays nothing it has not stored; unlocked, everything
    flows, in order."""

    async def run() -> None:
        nodes = await local_swarm(3, tmp_path, noop_interval=3600)
        n0, n1, n2 = nodes
        try:
            await n1.wait_for(lambda n: len(n.links) == 2 and all(s.live for s in n.links.values()))
            release = threading.Event()
            locked = threading.Event()

            def hold() -> None:
                assert n1.config.store is not None
                with write_locked(n1.config.store):
                    locked.set()
                    release.wait(60)

            holder = threading.Thread(target=hold)
            holder.start()
            await asyncio.to_thread(locked.wait, 30)
            try:
                e0 = n0.append(b"from n0")
                e2 = n2.append(b"from n2")
                # n1 handles both links: both entries are delivered in its memory ...
                await n1.wait_for(
                    lambda n: n.replica.head(n0.me) == 1 and n.replica.head(n2.me) == 1
                )
                # ... but neither is stored, so neither is relayed, or served.
                await asyncio.sleep(0.5)
                assert n2.replica.head(n0.me) == 0 and n0.replica.head(n2.me) == 0
                assert n1.replica.get(e0.id) is None
                committed = n1.replica.committed()
                assert committed is not None and not committed.done()
                # The event loop is not blocked by the commit: status still answers.
                assert n1.status()["frontier"]
            finally:
                release.set()
                await asyncio.to_thread(holder.join, 30)
            await n2.wait_for(lambda n: n.replica.get(e0.id) is not None)
            await n0.wait_for(lambda n: n.replica.get(e2.id) is not None)
            assert n1.replica.get(e0.id) == e0 and n1.replica.get(e2.id) == e2
        finally:
            for n in nodes:
                await n.stop()

    asyncio.run(run())


def test_a_node_whose_commit_fails_loses_nothing(tmp_path: Path) -> None:
    """n1's store stays locked past its busy timeout: the commit fails, n1 goes back to
    its store and re-syncs every link, and the entry arrives, is stored and relayed."""

    async def run() -> None:
        nodes = await local_swarm(3, tmp_path, noop_interval=3600, store_busy_timeout=0.3)
        n0, n1, n2 = nodes
        try:
            await n1.wait_for(lambda n: len(n.links) == 2 and all(s.live for s in n.links.values()))
            assert n1.config.store is not None
            with write_locked(n1.config.store):
                entry = n0.append(b"survives a failed commit")
                await n1.wait_for(lambda n: any("store:" in r for r in n.closed_reasons))
            # Nothing of it was stored, so nothing was relayed; after the re-sync it is.
            await n2.wait_for(lambda n: n.replica.get(entry.id) is not None)
            assert n1.replica.get(entry.id) == entry
            assert not n1.replica.recover_needed()
        finally:
            for n in nodes:
                await n.stop()

    asyncio.run(run())


def test_after_recovery_no_stale_failure_is_reported(tmp_path: Path) -> None:
    a, b = lattice.Identity.generate(), lattice.Identity.generate()
    peers = [a.public_key, b.public_key]
    entry = lattice.Replica(a, peers=peers).append(b"x")
    path = tmp_path / "b.db"
    rep = lattice.Replica(b, peers=peers, path=path)
    rep.commit_in_background(busy_timeout=0.2)
    try:
        with write_locked(path):
            rep.receive([entry])
            with pytest.raises(StoreError):
                rep.committed().result(timeout=30)  # type: ignore[union-attr]
        assert rep.recover_needed()
        rep.recover()
        assert not rep.recover_needed()
        # Nothing new to store: no commit, and certainly not the old failed one.
        rep.receive([])
        assert rep.committed() is None
        assert rep.quorum_proof(entry.id) is None
        rep.receive([entry])
        rep.committed().result(timeout=30)  # type: ignore[union-attr]
        assert rep.get(entry.id) == entry
    finally:
        rep.close()


def test_client_ops_whose_commits_fail_can_be_sent_again(tmp_path: Path) -> None:
    """Two connections of one client each send an op while the home peer's store is
    locked: neither is stored, and both can be sent again, in order, and are wrapped."""
    from lattice.errors import LatticeError
    from lattice.net import wire
    from lattice.net.client import Client

    async def run() -> None:
        me = lattice.Identity.generate()
        (home,) = await local_swarm(
            1, tmp_path, noop_interval=3600, store_busy_timeout=0.3, clients=[me.public_key]
        )
        ops = [lattice.ClientOp.create(me.signing_key, bytes(32), n, b"op %d" % n) for n in (5, 6)]
        try:
            assert home.config.store is not None and home.listen_address is not None
            with write_locked(home.config.store):
                clients = [await Client.connect(home.listen_address, me, bytes(32)) for _ in ops]
                for client, op in zip(clients, ops, strict=True):
                    await client.conn.send(wire.Op(op.to_bytes()))
                for client in clients:
                    with pytest.raises(LatticeError):
                        await client.conn.recv()  # no ack: the node closes the connection
                    await client.close()
            assert home.replica.head(home.me) == 0
            client = await Client.connect(home.listen_address, me, bytes(32))
            acks = []
            for op in ops:
                await client.conn.send(wire.Op(op.to_bytes()))
                acks.append(await client.conn.recv())
            # And a replay of a stored op is still refused.
            await client.conn.send(wire.Op(ops[0].to_bytes()))
            refusal = await client.conn.recv()
            assert isinstance(refusal, wire.Refused) and "replay" in refusal.reason
            with pytest.raises(LatticeError):
                await client.conn.recv()
            await client.close()
            assert [a.seq for a in acks if isinstance(a, wire.OpAck)] == [1, 2]
            for ack, op in zip(acks, ops, strict=True):
                assert isinstance(ack, wire.OpAck)
                wrapped = home.replica.get(ack.entry_id)
                assert wrapped is not None and wrapped.payload == op.to_bytes()
        finally:
            await home.stop()

    asyncio.run(run())


def test_stopping_a_node_finishes_its_queued_commits(tmp_path: Path) -> None:
    async def run() -> list[bytes]:
        (node,) = await local_swarm(1, tmp_path, noop_interval=3600)
        assert node.config.store is not None
        release = threading.Event()

        def hold() -> None:
            assert node.config.store is not None
            with write_locked(node.config.store):
                release.wait(30)

        holder = threading.Thread(target=hold)
        holder.start()
        await asyncio.sleep(0.2)
        ids = [node.append(b"queued %d" % i).id for i in range(3)]
        waiter = asyncio.ensure_future(node.durable())
        await asyncio.sleep(0.2)
        assert not waiter.done()
        threading.Timer(0.5, release.set).start()
        await node.stop()  # waits for the writer, then answers whoever waited
        await asyncio.wait_for(waiter, 10)
        holder.join(10)
        return ids

    ids = asyncio.run(run())
    # Every entry appended before the stop is in the file.
    conn = sqlite3.connect(tmp_path / "n0.db")
    try:
        stored = {bytes(r[0]) for r in conn.execute("SELECT id FROM entries")}
    finally:
        conn.close()
    assert set(ids) <= stored


def test_a_fork_against_an_entry_still_in_flight_is_proven_without_waiting(
    tmp_path: Path,
) -> None:
    """The first version's commit is stalled; the second version arrives: the replica
    finds the first among the commits in flight and proves the fork at once (waiting
    for the stalled commit would hang here, the lock being held by this very thread)."""
    from lattice.simulation import Equivocator

    ids = [lattice.Identity.generate() for _ in range(4)]
    peers = [i.public_key for i in ids]
    liar = Equivocator(ids[3], peers)
    p, q = liar.equivocate(b"pay alice", b"pay bob")
    path = tmp_path / "b.db"
    rep = lattice.Replica(ids[1], peers=peers, path=path)
    rep.commit_in_background(busy_timeout=30)
    try:
        with write_locked(path):
            rep.receive([p])
            result = rep.receive([q])
            assert [f.author for f in result.frauds] == [ids[3].public_key]
            assert result.frauds[0].verify(bytes(32))
            assert rep.blocklist == {ids[3].public_key}
        rep.committed().result(timeout=30)  # type: ignore[union-attr]
    finally:
        rep.close()
    again = lattice.Replica(ids[1], peers=peers, path=path)
    assert again.blocklist == {ids[3].public_key}
    again.close()

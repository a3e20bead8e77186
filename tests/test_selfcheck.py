"""No self-forks (issue 10): a node restored from a backup does not sign its "next"
entry — which it signed already — until a peer has shown it its own log and it has
fetched its newer entries. The exact sequence: back up, append, restore, start isolated
(refused, saying why), start with a peer (recovered, appends go on, no fork anywhere)."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
from pathlib import Path

import pytest

from lattice.errors import NotSynced
from lattice.net.config import Member
from lattice.net.local import local_swarm
from lattice.net.node import Node


def test_a_restored_backup_recovers_its_own_entries_before_it_signs(tmp_path: Path) -> None:
    async def run() -> None:
        n0, n1 = await local_swarm(2, tmp_path, noop_interval=3600)
        config, identity = n1.config, n1.identity
        assert config.store is not None
        first = n1.append(b"before the backup")
        await n0.wait_for(lambda n: n.replica.get(first.id) is not None)
        await n1.stop()
        backup = tmp_path / "backup.db"
        shutil.copy(config.store, backup)

        later = Node(config, identity=identity)
        await later.start()
        await later.writable(30)
        newer = [later.append(b"after the backup %d" % i) for i in range(2)]
        await n0.wait_for(lambda n: all(n.replica.get(e.id) is not None for e in newer))
        await later.stop()

        for suffix in ("", "-wal", "-shm"):
            Path(f"{config.store}{suffix}").unlink(missing_ok=True)
        shutil.copy(backup, config.store)

        # Isolated: it knows no address of its peer, and the peer does not dial it.
        alone = dataclasses.replace(
            config, members=tuple(Member(m.name, m.public_key) for m in config.members)
        )
        isolated = Node(alone, identity=identity)
        await isolated.start()
        try:
            assert isolated.replica.head(isolated.me) == 1  # the backup's head
            with pytest.raises(NotSynced, match="not yet compared its own log"):
                isolated.append(b"would fork: seq 2 is signed already")
            with pytest.raises(NotSynced):
                await isolated.writable(0.5)
            assert isolated.status()["writable"] is False
            assert isolated.replica.head(isolated.me) == 1  # nothing signed, not even a noop
        finally:
            await isolated.stop()

        back = Node(config, identity=identity)
        await back.start()
        try:
            await back.writable(30)  # the peer showed seq 3; 2 and 3 came back first
            assert back.replica.head(back.me) == 3
            await back.durable()
            assert [e.id for e in back.replica.entries(back.me, since=1)] == [e.id for e in newer]
            after = back.append(b"and on it goes")
            assert after.seq == 4
            await n0.wait_for(lambda n: n.replica.get(after.id) is not None)
            assert not n0.replica.frauds and not back.replica.frauds
        finally:
            await back.stop()
            await n0.stop()

    asyncio.run(run())


def test_offline_is_an_explicit_choice(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    async def run() -> None:
        (node,) = await local_swarm(1, tmp_path)  # a swarm of one: nobody to ask
        config, identity = node.config, node.identity
        node.append(b"alone is fine")
        await node.stop()
        two = dataclasses.replace(
            config, members=(*config.members, Member("other", bytes(range(32))))
        )
        with pytest.raises(Exception):  # noqa: B017 - another membership: the store refuses
            Node(two, identity=identity)
        offline = dataclasses.replace(config, offline=True)
        n = Node(offline, identity=identity)
        with caplog.at_level("WARNING", logger="lattice.node"):
            await n.start()
        try:
            assert "offline" in caplog.text and "forks it" in caplog.text
            assert n.append(b"offline, on purpose").seq == 2
        finally:
            await n.stop()

    asyncio.run(run())


def test_a_fork_found_before_the_node_may_sign_is_announced_after() -> None:
    """Detecting a fork makes a replica sign a FRAUD entry: not while its node has not
    checked its own head (that entry could fork it too); once it has, it does."""
    import lattice
    from lattice.entry import Kind
    from lattice.simulation import Equivocator

    ids = [lattice.Identity.from_seed(bytes([i + 1]) * 32) for i in range(4)]
    peers = [i.public_key for i in ids]
    held = True

    def check() -> None:
        if held:
            raise NotSynced("not yet")

    rep = lattice.Replica(ids[1], peers=peers, sign_check=check)
    with pytest.raises(NotSynced):
        rep.append(b"no")
    p, q = Equivocator(ids[3], peers).equivocate(b"P", b"Q")
    rep.receive([p])
    found = rep.receive([q])
    assert [f.author for f in found.frauds] == [ids[3].public_key]
    assert found.appended == [] and rep.head(rep.me) == 0  # nothing signed
    assert rep.announce_deferred() == []  # still held
    held = False
    announced = rep.announce_deferred()
    assert [e.kind for e in announced] == [Kind.FRAUD] and rep.head(rep.me) == 1
    assert rep.announce_deferred() == []  # once


def test_a_peer_that_claims_more_than_it_sends_does_not_block_for_ever() -> None:
    from lattice.net.selfcheck import SelfCheck

    head = 3
    check = SelfCheck(lambda: head, alone=False, offline=False)
    check.peer_view(2**62, b"liar")
    check.peer_view(3, b"honest")
    assert not check.ready and check.wanted == 2**62
    check.peer_done(b"liar")  # its stream ended without our seq 4: its claim is void
    assert check.ready
    check.peer_view(2**62, b"liar")  # once ready in this run, claims no longer block
    assert check.ready


def test_a_restored_home_peer_does_not_wrap_an_op_twice(tmp_path: Path) -> None:
    import time

    import lattice
    from lattice.net import wire
    from lattice.net.client import Client

    me = lattice.Identity.generate()
    op = lattice.ClientOp.create(me.signing_key, bytes(32), time.time_ns(), b"pay once")

    async def send(node: Node) -> wire.Message:
        assert node.listen_address is not None
        async with await Client.connect(node.listen_address, me, bytes(32)) as client:
            await client.conn.send(wire.Op(op.to_bytes()))
            return await client.conn.recv()

    async def run() -> None:
        n0, n1 = await local_swarm(2, tmp_path, noop_interval=3600, clients=[me.public_key])
        config, identity = n1.config, n1.identity
        assert config.store is not None
        await n1.stop()
        shutil.copy(config.store, tmp_path / "backup.db")
        home = Node(config, identity=identity)
        await home.start()
        await home.writable(30)
        ack = await send(home)
        assert isinstance(ack, wire.OpAck)
        await n0.wait_for(lambda n: n.replica.get(ack.entry_id) is not None)
        await home.stop()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{config.store}{suffix}").unlink(missing_ok=True)
        shutil.copy(tmp_path / "backup.db", config.store)
        back = Node(config, identity=identity)
        await back.start()
        try:
            await back.writable(30)  # the wrapping entry came back from n0
            again = await send(back)
            assert isinstance(again, wire.Refused) and "used already" in again.reason
            assert back.replica.head(back.me) == 1
        finally:
            await back.stop()
            await n0.stop()

    asyncio.run(run())

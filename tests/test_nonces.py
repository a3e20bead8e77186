"""Each client op is wrapped once (lattice.net.nonces): two sessions under one key may
interleave their nonces, and a replay is refused even after the home peer restarts."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

import lattice
from lattice.errors import ProtocolError
from lattice.net import wire
from lattice.net.client import Client
from lattice.net.local import local_swarm
from lattice.net.node import Node
from lattice.net.nonces import MAX_RECENT, NONCE_WINDOW, ClientNonces

SWARM = bytes(32)


def test_the_window_takes_new_nonces_in_any_order_and_refuses_old_ones() -> None:
    n = ClientNonces()
    base = 10**18
    n.claim(b"c", base)
    n.claim(b"c", base - 5)  # older, but new and inside the window
    n.claim(b"c", base + NONCE_WINDOW)  # the window moves up ...
    with pytest.raises(ProtocolError, match="below the client's replay window"):
        n.claim(b"c", base - 1)  # ... and what fell under its floor is refused
    with pytest.raises(ProtocolError, match="used already"):
        n.claim(b"c", base + NONCE_WINDOW)
    with pytest.raises(ProtocolError, match="a replay"):
        n.claim(b"c", base)  # used, and now at the floor
    n.claim(b"other client", base - 1)  # per client
    small = ClientNonces(max_recent=3)
    for k in range(1, 6):
        small.claim(b"c", k)
    with pytest.raises(ProtocolError):
        small.claim(b"c", 2)  # forgotten, so refused: the bound only refuses more
    assert MAX_RECENT >= 600  # a minute of the default op quota


async def _send(node: Node, me: lattice.Identity, op: lattice.ClientOp) -> wire.Message:
    assert node.listen_address is not None
    async with await Client.connect(node.listen_address, me, SWARM) as client:
        await client.conn.send(wire.Op(op.to_bytes()))
        return await client.conn.recv()


def test_two_sessions_of_one_client_interleave(tmp_path: Path) -> None:
    me = lattice.Identity.generate()

    async def run() -> None:
        (home,) = await local_swarm(1, tmp_path, clients=[me.public_key])
        try:
            assert home.listen_address is not None
            a = await Client.connect(home.listen_address, me, SWARM)
            b = await Client.connect(home.listen_address, me, SWARM)
            acks = []
            for client in (a, b, a, b, b, a):
                acks.append(await client.submit(b"from one of two sessions"))
            await a.close()
            await b.close()
            assert [ack.seq for ack in acks] == [1, 2, 3, 4, 5, 6]
            # Explicit nonces out of order, from two sessions: both new, both taken.
            late, early = (
                lattice.ClientOp.create(me.signing_key, SWARM, n, b"x")
                for n in (time.time_ns(), time.time_ns() - 10**9)
            )
            assert isinstance(await _send(home, me, late), wire.OpAck)
            assert isinstance(await _send(home, me, early), wire.OpAck)
            again = await _send(home, me, early)
            assert isinstance(again, wire.Refused) and "used already" in again.reason
        finally:
            await home.stop()

    asyncio.run(run())


def test_a_replay_is_refused_after_the_home_peer_restarts(tmp_path: Path) -> None:
    me = lattice.Identity.generate()
    op = lattice.ClientOp.create(me.signing_key, SWARM, time.time_ns(), b"pay once")

    async def run() -> None:
        (home,) = await local_swarm(1, tmp_path, clients=[me.public_key])
        config, identity = home.config, home.identity
        assert isinstance(await _send(home, me, op), wire.OpAck)
        await home.stop()
        again = Node(config, identity=identity)  # the same store, a new process's state
        await again.start()
        try:
            refused = await _send(again, me, op)
            assert isinstance(refused, wire.Refused) and "used already" in refused.reason
            assert again.replica.head(again.me) == 1
        finally:
            await again.stop()

    asyncio.run(run())


def test_a_nonce_from_the_future_cannot_lock_a_client_out() -> None:
    now = 10**18
    n = ClientNonces(clock=lambda: now)
    with pytest.raises(ProtocolError, match="ahead of this home peer's clock"):
        n.claim(b"c", 2**64 - 1)
    n.claim(b"c", now - 5)  # the client's other ops still go through
    small = ClientNonces(max_clients=2, clock=lambda: now)
    small.claim(b"a", 1)
    small.claim(b"b", 1)
    with pytest.raises(ProtocolError, match="too many clients"):
        small.claim(b"c", 1)

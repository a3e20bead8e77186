"""Hostile guests on a real connection (issue 12, DESIGN §8, §16): each gets a typed
refusal and a cut connection, nothing of the deep log, and nothing invalid is stored."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

import lattice
from lattice import _lattice
from lattice.errors import GuestRefused, ProtocolError
from lattice.net import wire
from lattice.net.connection import Connection, Limits, handshake
from lattice.net.guest import GuestClient
from lattice.net.local import local_swarm
from lattice.net.node import Node
from lattice.net.sessions.guest import MAX_GUEST_FRAME
from lattice.state import guestop
from lattice.state.ops import RIGHT, TextInsert
from lattice.sync import Missing

DOC = b"notes"
OPS_PER_MINUTE = 40


async def _connect(node: Node, who: lattice.Identity, got: list[bytes]) -> Connection:
    assert node.listen_address is not None
    reader, writer = await asyncio.open_connection(*node.listen_address)
    keypair = _lattice.NoiseKeypair.generate()
    hello = _lattice.Hello.create(who.signing_key, keypair.public, bytes(32), _lattice.ROLE_GUEST)
    channel, remote, digest = await handshake(
        reader, writer, initiator=True, keypair=keypair, hello=hello, timeout=5
    )
    conn = Connection(reader, writer, channel, remote, digest, Limits(), True)
    conn.tap = got.append
    return conn


async def _refused(conn: Connection) -> str:
    """Read to the end: the last message is the refusal, then the connection closes."""
    reason = None
    with pytest.raises(ProtocolError):
        while True:
            msg = await conn.recv()
            if isinstance(msg, wire.Refused):
                reason = msg.reason
    assert reason is not None, "refused with a reason before the cut"
    return reason


def _no_deep_entries(got: list[bytes], views: set[bytes]) -> None:
    for frame in got:
        msg = wire.decode(frame)
        assert not isinstance(msg, wire.Frontier | wire.Request | wire.OpAck)
        if isinstance(msg, wire.Entries):
            assert {lattice.Entry.from_bytes(e).swarm for e in msg.entries} <= views


def _run(
    tmp_path: Path, body: Callable[[Node, lattice.Identity, lattice.Identity], Awaitable[None]]
) -> None:
    a, b = lattice.Identity.generate(), lattice.Identity.generate()

    async def main() -> None:
        (node,) = await local_swarm(
            1, tmp_path, shares={DOC: [a.public_key, b.public_key]},
            client_ops_per_minute=OPS_PER_MINUTE,
        )  # fmt: skip
        node.documents.open(DOC).text("t").insert(0, "shared text")
        try:
            await body(node, a, b)
        finally:
            await node.stop()

    asyncio.run(main())


def test_views_a_guest_may_not_open(tmp_path: Path) -> None:
    async def body(node: Node, a: lattice.Identity, b: lattice.Identity) -> None:
        async with await GuestClient.connect(node.listen_address, a, bytes(32), DOC) as ga:
            mine = ga.guest.view
        head = node.replica.head(node.me)
        cases = [
            (wire.ViewOpen(DOC, bytes([9]) * 32, 0), "no such view"),  # unknown
            (wire.ViewOpen(DOC, mine, 0), "no such view"),  # another guest's
            (wire.ViewOpen(b"secret", bytes(32), 0), "not shared"),
            (wire.ViewOpen(DOC, bytes(32), 3), "genesis"),
            (wire.Frontier.of({}), "opens a view first"),  # asks for the deep log
            (wire.Request([Missing(node.me, 1, 5, None)]), "opens a view first"),
        ]
        for msg, why in cases:
            got: list[bytes] = []
            conn = await _connect(node, b, got)
            await conn.send(msg)
            assert why in await _refused(conn)
            _no_deep_entries(got, set())
        # b's own view, resumed from a seq it has not reached.
        async with await GuestClient.connect(node.listen_address, b, bytes(32), DOC) as gb:
            view = gb.guest.view
        got = []
        conn = await _connect(node, b, got)
        await conn.send(wire.ViewOpen(DOC, view, 99))
        assert "ahead of the view" in await _refused(conn)
        assert node.replica.head(node.me) == head, "nothing was signed"

    _run(tmp_path, body)


def test_a_guest_asking_for_deep_entries_is_cut(tmp_path: Path) -> None:
    async def body(node: Node, a: lattice.Identity, b: lattice.Identity) -> None:
        for msg in (
            wire.Request([Missing(node.me, 1, 5, None)]),
            wire.Frontier.of({}),
            wire.Entries([]),
            wire.Synced(),
        ):
            got: list[bytes] = []
            conn = await _connect(node, a, got)
            await conn.send(wire.ViewOpen(DOC, bytes(32), 0))
            await conn.send(wire.Credit(1 << 20))
            await conn.send(msg)
            assert "may not send" in await _refused(conn)
            views = {wire.decode(f).view for f in got if isinstance(wire.decode(f), wire.View)}  # type: ignore[union-attr]
            _no_deep_entries(got, views)

    _run(tmp_path, body)


def test_bad_guest_ops_are_refused_and_not_stored(tmp_path: Path) -> None:
    async def body(node: Node, a: lattice.Identity, b: lattice.Identity) -> None:
        good = (TextInsert("t", None, RIGHT, "x"),)
        async with await GuestClient.connect(node.listen_address, a, bytes(32), DOC) as ga:
            view, seq = ga.guest.view, ga.guest.seq
            first = guestop.create(a.signing_key, view, 100, seq, good)
            await ga.send(first)
        head = node.replica.head(node.me)
        bad = [
            (first, "nonce"),  # replayed
            (guestop.create(a.signing_key, view, 50, seq, good), "nonce"),  # reordered
            (guestop.create(b.signing_key, view, 200, seq, good), "another key"),
            (guestop.create(a.signing_key, view, 200, 99, good), "view seq"),
            (guestop.create(a.signing_key, bytes(32), 200, 1, good), "another view"),
        ]
        for op, why in bad:
            async with await GuestClient.connect(node.listen_address, a, bytes(32), DOC) as g:
                with pytest.raises((GuestRefused, ProtocolError)) as caught:
                    await g.send(op, timeout=5)
                reason = str(caught.value)
            assert why in reason or "refused" in reason, reason
        assert node.replica.head(node.me) == head, "nothing invalid stored"
        assert str(node.documents.open(DOC).text("t")) == "xshared text"

    _run(tmp_path, body)


def test_an_oversized_frame_cuts_the_connection(tmp_path: Path) -> None:
    async def body(node: Node, a: lattice.Identity, b: lattice.Identity) -> None:
        got: list[bytes] = []
        conn = await _connect(node, a, got)
        await conn.send(wire.ViewOpen(DOC, bytes(32), 0))
        with pytest.raises((ProtocolError, OSError)):
            await conn.send(wire.Op(b"\x01" * (MAX_GUEST_FRAME + 16)))
            while True:
                await conn.recv()

    _run(tmp_path, body)


def test_a_flood_of_guest_ops_meets_the_quota(tmp_path: Path) -> None:
    async def body(node: Node, a: lattice.Identity, b: lattice.Identity) -> None:
        head = node.replica.head(node.me)
        async with await GuestClient.connect(node.listen_address, a, bytes(32), DOC) as g:
            with pytest.raises((GuestRefused, ProtocolError)) as caught:
                for i in range(OPS_PER_MINUTE + 10):
                    await g.insert(
                        "t",
                        0,
                        str(i % 10),
                    )
        assert "quota" in str(caught.value) or "refused" in str(caught.value)
        # Exactly the ops within the quota were carried out, each one entry.
        assert node.replica.head(node.me) - head == OPS_PER_MINUTE

    _run(tmp_path, body)

"""Handshake floods (issue 10): silent, reconnecting sockets from one address hold a few
handshake slots at most; a client from another address and a registered peer still
connect and sync. A real node on loopback; the flood comes from 127.0.0.2."""

from __future__ import annotations

import asyncio
import contextlib
import random
from pathlib import Path

import lattice
from lattice.net.client import Client
from lattice.net.connection import Limits
from lattice.net.local import local_swarm
from lattice.net.slots import EARLY_DROP_AT, MAX_HANDSHAKES, PER_SOURCE, HandshakeSlots, source_of

FLOODERS = 150


def test_slots_per_source_total_and_early_drop() -> None:
    slots = HandshakeSlots(rng=random.Random(7))
    assert sum(slots.take("flood") for _ in range(100)) == PER_SOURCE
    taken = sum(slots.take(f"10.0.{i // 250}.{i % 250}") for i in range(1000))
    assert slots.in_progress <= MAX_HANDSHAKES
    # Past the early-drop point some were dropped at random before the room was full.
    assert PER_SOURCE + taken < 1000 and slots.dropped > 1000 - MAX_HANDSHAKES
    for _ in range(PER_SOURCE):
        slots.release("flood")
    assert slots.take("flood") or slots.in_progress >= EARLY_DROP_AT


def test_a_flood_from_one_address_stops_nobody_else(tmp_path: Path) -> None:
    """n1 is flooded. In the line n0 ← n1 ← n2 it dials n0 itself and is dialled by n2:
    its own dial, a registered peer's dial and a client all get through."""
    me = lattice.Identity.generate()
    limits = Limits(handshake_timeout=1.0)

    async def run() -> None:
        n0, n1, n2 = await local_swarm(3, tmp_path, limits=limits, clients=[me.public_key])
        assert n1.listen_address is not None
        host, port = n1.listen_address
        stop = asyncio.Event()
        opened = 0

        async def flood() -> None:
            nonlocal opened
            while not stop.is_set():
                try:
                    reader, writer = await asyncio.open_connection(
                        host, port, local_addr=("127.0.0.2", 0)
                    )
                except OSError:
                    await asyncio.sleep(0.01)
                    continue
                opened += 1
                # Silent: say nothing, hold the slot until the node gives up on it.
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(reader.read(), 5)
                writer.close()

        tasks = [asyncio.ensure_future(flood()) for _ in range(FLOODERS)]
        try:
            await asyncio.sleep(1.0)  # the flood is on
            assert n1.slots.in_progress <= PER_SOURCE + 2
            # A client from another address connects and has its op wrapped.
            async with await Client.connect((host, port), me, bytes(32), limits) as client:
                ack = await client.submit(b"through the flood")
            # Both links cut: n1 dials n0 again (its own dial, out of the flood's way)
            # and n2 dials n1 again (a registered peer, through the flood).
            n1.disconnect(n0.me)
            n1.disconnect(n2.me)
            for other in (n0, n2):
                await other.wait_for(lambda n: n.replica.get(ack.entry_id) is not None, 30)
            entry = n1.append(b"and live pushes too")
            for other in (n0, n2):
                await other.wait_for(lambda n: n.replica.get(entry.id) is not None, 30)
            assert n1.links[n0.me].conn.initiator and not n1.links[n2.me].conn.initiator
            assert opened > FLOODERS and n1.slots.dropped > 0
        finally:
            stop.set()
            for t in tasks:
                t.cancel()
            for t in tasks:
                with contextlib.suppress(BaseException):
                    await t
            for n in (n0, n1, n2):
                await n.stop()

    asyncio.run(run())


def test_sources_group_ipv6_by_its_64_and_unmap_ipv4() -> None:
    assert source_of(("2001:db8:1:2:aaaa::1", 1, 0, 0)) == source_of(
        ("2001:db8:1:2:ffff::9", 2, 0, 0)
    )
    assert source_of(("2001:db8:1:2::1", 1, 0, 0)) != source_of(("2001:db8:1:3::1", 1, 0, 0))
    assert source_of(("::ffff:127.0.0.2", 1, 0, 0)) == source_of(("127.0.0.2", 5)) == "127.0.0.2"
    assert source_of(None) == "None"

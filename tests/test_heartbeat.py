"""The noop heartbeat backs off while nothing happens (issue 10: idle swarms do not grow
without bound), and starts again with new data."""

from __future__ import annotations

import asyncio
import math
import sqlite3
from pathlib import Path

from lattice.entry import Kind
from lattice.net.heartbeat import HEARTBEAT_BASE, HEARTBEAT_MAX, Heartbeat
from lattice.net.local import local_swarm


def test_the_gap_doubles_up_to_the_cap_and_data_restarts_it() -> None:
    beat = Heartbeat(interval=1.0)
    due = [t for t in range(1, 5000) if beat.tick(data_seen=0)]
    gaps = [b - a for a, b in zip([0, *due], due, strict=False)]
    assert gaps[:7] == [10, 20, 40, 80, 160, 320, 600]
    assert set(gaps[6:]) == {int(HEARTBEAT_MAX)}
    # New data: the schedule starts again from the base.
    assert not beat.tick(data_seen=1)
    restart = [t for t in range(1, 40) if beat.tick(data_seen=1)]
    assert restart == [HEARTBEAT_BASE, 3 * HEARTBEAT_BASE]


def test_an_idle_swarm_writes_logarithmically_few_noops(tmp_path: Path) -> None:
    interval = 0.01

    async def run() -> int:
        nodes = await local_swarm(3, tmp_path, noop_interval=interval)
        try:
            loop = asyncio.get_running_loop()
            start = loop.time()
            nodes[0].append(b"one entry, then nothing")
            await asyncio.sleep(3.0)
            return int((loop.time() - start) / interval)
        finally:
            for n in nodes:
                await n.stop()

    ticks = asyncio.run(run())
    # At most one heartbeat per node per doubling of the gap (plus the noops that follow
    # the one data entry): a fixed heartbeat would be ticks / 10 per node.
    beats = math.log2(max(2, ticks / HEARTBEAT_BASE)) + 2
    for i in range(3):
        conn = sqlite3.connect(tmp_path / f"n{i}.db")
        (noops,) = conn.execute(
            "SELECT count(*) FROM entries WHERE kind = ?", (int(Kind.NOOP),)
        ).fetchone()
        conn.close()
        assert noops <= 3 * (beats + 2), (noops, ticks)
        assert noops < 3 * ticks / HEARTBEAT_BASE / 2, "well below a fixed heartbeat"

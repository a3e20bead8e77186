"""When a node sends a noop that answers only noops: its heartbeat (DESIGN §3, issue 10).

After new data a node emits a noop at its next noop interval, so the matrix advances.
Noops answering only noops keep the matrix moving too, but in a swarm where nothing
happens they would fill every store for ever, so they back off: the first comes
``HEARTBEAT_BASE`` intervals after the last data, and each next one twice as long after
the previous, up to ``HEARTBEAT_MAX`` seconds. New data (any non-noop entry delivered
or written) starts the schedule again.

>>> beat = Heartbeat(interval=1.0)
>>> [t for t in range(1, 160) if beat.tick(data_seen=0)]
[10, 30, 70, 150]
>>> beat.tick(data_seen=1)  # data: back to the start
False
>>> [t for t in range(1, 12) if beat.tick(data_seen=1)]
[10]
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from functools import partial
from typing import Protocol

from lattice import _lattice
from lattice.errors import LatticeError
from lattice.net.config import NodeConfig
from lattice.net.selfcheck import SelfCheck
from lattice.replica import Replica

__all__ = ["HEARTBEAT_BASE", "HEARTBEAT_MAX", "Heartbeat", "NoopNode", "noops"]

log = logging.getLogger("lattice.node")

#: Noop intervals from the last data to the first heartbeat.
HEARTBEAT_BASE = 10
#: The longest gap between two heartbeats, in seconds.
HEARTBEAT_MAX = 600.0


class Heartbeat:
    """The heartbeat schedule of one node, ticked once per noop interval."""

    def __init__(
        self, interval: float, base: int = HEARTBEAT_BASE, longest: float = HEARTBEAT_MAX
    ) -> None:
        self.base = base
        self.cap = max(base, int(longest / interval))
        self._gap = base
        self._since = 0
        self._data_seen = 0

    def tick(self, data_seen: int) -> bool:
        """One noop interval passed; ``data_seen`` counts the data entries delivered so
        far. True when a heartbeat noop is due now."""
        if data_seen != self._data_seen:
            self._data_seen = data_seen
            self._gap, self._since = self.base, 0
            return False
        self._since += 1
        if self._since < self._gap:
            return False
        self._since = 0
        self._gap = min(self._gap * 2, self.cap)
        return True


class NoopNode(Protocol):
    """What the noop timer needs of its node."""

    config: NodeConfig
    replica: Replica
    selfcheck: SelfCheck

    @property
    def running(self) -> bool: ...

    def after_commit(self, then: Callable[[], None]) -> None: ...

    def relay(self, entries: Iterable[_lattice.Entry], exclude: bytes | None = None) -> None: ...


async def noops(node: NoopNode) -> None:
    """A node's noop timer: a noop after new data every interval; after noops only, on
    the backing-off :class:`Heartbeat` (so the matrix keeps advancing, but an idle swarm
    does not fill its stores)."""
    beat = Heartbeat(node.config.noop_interval)
    while node.running:
        await asyncio.sleep(node.config.noop_interval)
        heartbeat = beat.tick(node.replica.data_delivered)
        if not node.selfcheck.ready:
            continue  # not even a noop before the node knows its own head
        try:
            noop = node.replica.maybe_noop(data_only=not heartbeat)
        except LatticeError as exc:
            log.warning("noop failed: %s", exc)
            continue
        if noop is not None:
            node.after_commit(partial(node.relay, [noop]))

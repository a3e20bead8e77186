"""Slots for inbound handshakes (issue 10: handshake floods). Before a party has proven
who it is, it holds a slot: at most ``PER_SOURCE`` per source address, so one address
cannot take them all, and at most ``MAX_HANDSHAKES`` in all; past ``EARLY_DROP_AT``
new ones are dropped at random, more often the fuller it is (sshd's MaxStartups
``start:rate:full``), so a flood from many addresses shares the room fairly. A node's
own outbound dials take no slot: they never wait behind strangers.

>>> import random
>>> slots = HandshakeSlots(rng=random.Random(1))
>>> [slots.take("10.0.0.9") for _ in range(PER_SOURCE + 1)].count(True) == PER_SOURCE
True
>>> slots.take("10.0.0.8"), slots.in_progress
(True, 9)
>>> slots.release("10.0.0.9"); slots.in_progress
8
"""

from __future__ import annotations

import ipaddress
import random

__all__ = ["EARLY_DROP_AT", "MAX_HANDSHAKES", "PER_SOURCE", "HandshakeSlots", "source_of"]

#: Inbound handshakes in progress at once, in all.
MAX_HANDSHAKES = 64
#: From this many on, new ones are dropped with a probability rising to 1 at the maximum.
EARLY_DROP_AT = 32
#: Inbound handshakes in progress from one source address.
PER_SOURCE = 8
#: An IPv6 source is its /64: one host has the whole prefix to pick addresses from.
IPV6_PREFIX = 64


def source_of(peername: object) -> str:
    """The source a connection counts against: its IPv4 address (also when mapped into
    IPv6), or its IPv6 /64."""
    host = peername[0] if isinstance(peername, tuple) and peername else None
    try:
        address = ipaddress.ip_address(str(host).split("%")[0])
    except ValueError:
        return str(host)
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, IPV6_PREFIX), strict=False))
    return str(address)


class HandshakeSlots:
    """Who holds an inbound handshake slot now, by source address."""

    def __init__(
        self,
        total: int = MAX_HANDSHAKES,
        early: int = EARLY_DROP_AT,
        per_source: int = PER_SOURCE,
        rng: random.Random | None = None,
    ) -> None:
        self.total, self.early, self.per_source = total, early, per_source
        self._rng = rng or random.Random()
        self._by_source: dict[str, int] = {}
        self.in_progress = 0
        self.dropped = 0

    def take(self, source: str) -> bool:
        """A slot for a new inbound handshake from ``source``, or False: drop it."""
        held = self._by_source.get(source, 0)
        full = self.in_progress >= self.total or held >= self.per_source
        if not full and self.in_progress >= self.early:
            chance = (self.in_progress - self.early + 1) / (self.total - self.early + 1)
            full = self._rng.random() < chance
        if full:
            self.dropped += 1
            return False
        self._by_source[source] = held + 1
        self.in_progress += 1
        return True

    def release(self, source: str) -> None:
        """The handshake from ``source`` ended (done, failed or timed out)."""
        held = self._by_source.get(source, 0)
        if held <= 1:
            self._by_source.pop(source, None)
        else:
            self._by_source[source] = held - 1
        self.in_progress = max(0, self.in_progress - 1)

"""Per-connection budgets (DESIGN §11): two token buckets, entries per second and bytes per
second, sized by the identity's score band (:mod:`lattice.sybil.scores`). New identities
start small; a graylisted one gets nothing.

A bucket holds at most ``burst`` seconds of its rate and refills continuously with the
clock passed in (so the simulation and the tests get exact numbers). :meth:`Budget.take`
answers how long the caller must wait before the entry fits (0: now), or None when it will
never fit in the current band (graylisted, or a frame of more entries than the bucket
holds): a node slows a connection by that delay, and cuts it when the answer is None or the
delay too long (a frame it refuses costs nothing).

>>> b = Budget.for_band("new", now=0.0)
>>> b.take(1, 100, now=0.0), b.take(1, 100, now=0.0)
(0.0, 0.0)
>>> [b.take(1, 100, now=0.0) for _ in range(3)][-1]  # the burst of 4 entries is used
0.5
>>> Budget.for_band("graylisted", now=0.0).take(1, 1, now=0.0) is None
True
"""

from __future__ import annotations

import dataclasses
import math

from lattice.errors import InvalidArgument

__all__ = [
    "BAND_RATES",
    "BURST_SECONDS",
    "PEER_BURST_SECONDS",
    "PEER_LINK_SCALE",
    "Budget",
    "Rate",
    "TokenBucket",
    "peer_band",
]

#: Seconds of its rate a bucket can hold.
BURST_SECONDS = 2.0
#: A link from a registered peer carries its clients' ops: its band's rates this many times.
PEER_LINK_SCALE = 2.0
#: ... in a bucket of this many seconds (a peer catching up is paced, not refused).
PEER_BURST_SECONDS = 0.5


@dataclasses.dataclass(frozen=True, slots=True)
class Rate:
    """A band's budget: entries and bytes per second."""

    entries: float
    bytes: float


#: What each band gets (a graylisted identity: nothing).
BAND_RATES: dict[str, Rate] = {
    "graylisted": Rate(0.0, 0.0),
    "throttled": Rate(0.5, 4 * 1024),
    "new": Rate(2.0, 16 * 1024),
    "known": Rate(50.0, 512 * 1024),
    "good": Rate(500.0, 8 * 1024 * 1024),
}


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` seconds' worth, full at the start."""

    __slots__ = ("at", "capacity", "rate", "tokens")

    def __init__(self, rate: float, now: float, burst: float = BURST_SECONDS) -> None:
        if rate < 0 or burst <= 0:
            raise InvalidArgument(f"a bucket needs rate ≥ 0 and burst > 0, not {rate}, {burst}")
        self.rate, self.capacity = rate, rate * burst
        self.tokens, self.at = self.capacity, now

    def refill(self, now: float) -> None:
        if now > self.at:
            self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.rate)
            self.at = now

    def delay(self, n: float, now: float) -> float | None:
        """Seconds until ``n`` tokens are there (0: now); None if they never can be."""
        self.refill(now)
        if n > self.capacity:
            return None
        return 0.0 if self.tokens >= n else (n - self.tokens) / self.rate

    def take(self, n: float, now: float) -> None:
        """Take ``n`` tokens (the bucket may go below zero: a debt the refill repays)."""
        self.refill(now)
        self.tokens -= n


def peer_band(band: str) -> str:
    """The band a link from a registered peer is budgeted by: a configured peer is never
    ``new``, and volume alone never makes it ``good`` (a flooding peer would earn it)."""
    return "known" if band in ("new", "good") else band


class Budget:
    """A connection's two buckets, entries/s and bytes/s, for one band (rates times
    ``scale``, ``burst`` seconds of them)."""

    __slots__ = ("band", "burst", "bytes", "entries", "scale")

    def __init__(
        self, band: str, now: float, scale: float = 1.0, burst: float = BURST_SECONDS
    ) -> None:
        if band not in BAND_RATES:
            raise InvalidArgument(f"unknown score band {band!r}")
        rate = BAND_RATES[band]
        self.band, self.scale, self.burst = band, scale, burst
        self.entries = TokenBucket(rate.entries * scale, now, burst) if rate.entries else None
        self.bytes = TokenBucket(rate.bytes * scale, now, burst) if rate.bytes else None

    @classmethod
    def for_band(cls, band: str, now: float) -> Budget:
        """The budget of an open identity's connection in ``band``."""
        return cls(band, now)

    @classmethod
    def for_peer(cls, band: str, now: float) -> Budget:
        """The budget of a link from a registered peer whose score is in ``band``: it
        carries many clients' entries (:data:`PEER_LINK_SCALE` times the rates) but bursts
        little (:data:`PEER_BURST_SECONDS`)."""
        return cls(peer_band(band), now, PEER_LINK_SCALE, PEER_BURST_SECONDS)

    def rebanded(self, band: str, now: float) -> Budget:
        """This budget in ``band`` (itself if unchanged), its tokens — or its debt —
        carried over."""
        if self.scale != 1.0:
            band = peer_band(band)
        if band == self.band:
            return self
        new = Budget(band, now, self.scale, self.burst)
        for mine, theirs in ((self.entries, new.entries), (self.bytes, new.bytes)):
            if mine is not None and theirs is not None:
                mine.refill(now)
                theirs.tokens = min(theirs.capacity, mine.tokens)
        return new

    def take(self, entries: int, size: int, now: float, max_wait: float = math.inf) -> float | None:
        """Charge ``entries`` entries of ``size`` bytes in all; returns the seconds the
        connection must wait before they are due (0: now), or None if they never fit: a
        graylisted band, more entries than the bucket holds, or several entries bigger
        than the byte bucket. A single entry is due once the buckets are full even if it
        is larger than either (it leaves a debt the refill repays): slowed, never refused
        for its size, and a bucket of half an entry still passes one at a time. A wait
        above ``max_wait`` is returned without charging anything (the caller refuses the
        frame, so it must not pay for it)."""
        count, volume = self.entries, self.bytes
        if count is None or volume is None:
            return None
        # Both buckets refilled and charged inline: this runs once per frame.
        if now > count.at:
            tokens = count.tokens + (now - count.at) * count.rate
            count.tokens = tokens if tokens < count.capacity else count.capacity
            count.at = now
        if now > volume.at:
            tokens = volume.tokens + (now - volume.at) * volume.rate
            volume.tokens = tokens if tokens < volume.capacity else volume.capacity
            volume.at = now
        if entries > (count.capacity if count.capacity > 1.0 else 1.0):
            return None  # more entries than the bucket holds: never (a single one: when full)
        if size > volume.capacity and entries > 1:
            return None  # only one entry alone may be bigger than the byte bucket
        need = entries if entries < count.capacity else count.capacity
        wait = 0.0
        if count.tokens < need:
            wait = (need - count.tokens) / count.rate
        need = size if size < volume.capacity else volume.capacity
        if volume.tokens < need:
            by_size = (need - volume.tokens) / volume.rate
            wait = by_size if by_size > wait else wait
        if wait > max_wait:
            return wait
        count.tokens -= entries
        volume.tokens -= size
        return wait

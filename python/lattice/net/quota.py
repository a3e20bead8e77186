"""Per-client quotas of a home peer (issue 10: closed by default, bounded for everyone):
how many ops, and how many bytes of ops, one client key may have wrapped per window,
across all its connections. A later issue adds admission and reputation on top (§11).

>>> q = Quota(ops=2, bytes=100, window=60.0)
>>> q.take(40, now=0.0); q.take(40, now=1.0)
>>> q.take(1, now=2.0)
Traceback (most recent call last):
...
lattice.errors.LimitExceeded: client quota exceeded: 2 ops per 60 s
>>> q.take(90, now=61.0)  # a new window
"""

from __future__ import annotations

from collections.abc import MutableMapping

from lattice.errors import LimitExceeded

__all__ = [
    "DEFAULT_CLIENT_BYTES_PER_MINUTE",
    "DEFAULT_CLIENT_OPS_PER_MINUTE",
    "MAX_TRACKED_CLIENTS",
    "WINDOW",
    "Quota",
    "quota_for",
]

#: Seconds of one quota window.
WINDOW = 60.0
#: Ops one client may have wrapped per window, by default.
DEFAULT_CLIENT_OPS_PER_MINUTE = 600
#: Bytes of ops one client may have wrapped per window, by default.
DEFAULT_CLIENT_BYTES_PER_MINUTE = 16 * 1024 * 1024
#: Clients whose windows are remembered before the expired ones are forgotten.
MAX_TRACKED_CLIENTS = 10_000


class Quota:
    """What one client has used in its current window."""

    __slots__ = ("bytes", "opened", "ops", "used_bytes", "used_ops", "window")

    def __init__(self, ops: int, bytes: int, window: float = WINDOW) -> None:
        self.ops, self.bytes, self.window = ops, bytes, window
        self.opened = float("-inf")
        self.used_ops = self.used_bytes = 0

    def expired(self, now: float) -> bool:
        return now - self.opened >= self.window

    def take(self, size: int, now: float) -> None:
        """Count one op of ``size`` bytes, or raise :class:`LimitExceeded` (counting
        nothing) if it would go over the quota of the current window."""
        self.check(size, now)
        self.used_ops += 1
        self.used_bytes += size

    def check(self, size: int, now: float) -> None:
        """Raise :class:`LimitExceeded` if one op of ``size`` bytes would go over the quota
        of the current window (counting nothing)."""
        if self.expired(now):
            self.opened, self.used_ops, self.used_bytes = now, 0, 0
        if self.used_ops + 1 > self.ops:
            raise LimitExceeded(f"client quota exceeded: {self.ops} ops per {self.window:g} s")
        if self.used_bytes + size > self.bytes:
            raise LimitExceeded(
                f"client quota exceeded: {self.bytes} bytes of ops per {self.window:g} s"
            )


def quota_for(
    quotas: MutableMapping[bytes, Quota], client: bytes, ops: int, bytes: int, now: float
) -> Quota:
    """The quota of ``client`` in ``quotas``, made on first use. Expired windows are
    forgotten once more than ``MAX_TRACKED_CLIENTS`` are remembered, so many keys cannot
    grow the table without bound."""
    quota = quotas.get(client)
    if quota is None:
        if len(quotas) >= MAX_TRACKED_CLIENTS:
            for key in [k for k, q in quotas.items() if q.expired(now)]:
                del quotas[key]
        quota = quotas[client] = Quota(ops, bytes)
    return quota

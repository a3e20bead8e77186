"""Which client ops a home peer has wrapped (DESIGN §6, issue 10): each op once, even
from two sessions of one client at a time, and after the home peer restarts.

A client's op nonces need not arrive in order — two sessions under one key interleave
— so a home peer accepts an op whose nonce is new within a sliding window below the
highest it has seen, and refuses anything at or under the window's floor: like IPsec's
anti-replay window. Clients pick nonces from the clock (:class:`lattice.net.client.Client`),
so the window is a time: ``NONCE_WINDOW`` nanoseconds. The nonces held per client are
bounded (``MAX_RECENT``); past that the floor rises, which only refuses more. The table
is rebuilt from the home peer's own log when it starts (:meth:`ClientNonces.load`).

>>> nonces = ClientNonces()
>>> nonces.claim(b"c", 100); nonces.claim(b"c", 90)  # out of order, both new: fine
>>> nonces.claim(b"c", 100)
Traceback (most recent call last):
...
lattice.errors.ProtocolError: op nonce 100 was used already (a replay?) (author 63…)
>>> nonces.release(b"c", 90); nonces.claim(b"c", 90)  # not stored: may come again
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable

from lattice import _lattice
from lattice.errors import DecodeError, ProtocolError

__all__ = ["CLOCK_SKEW", "MAX_CLIENTS", "MAX_RECENT", "NONCE_WINDOW", "ClientNonces"]

#: Nanoseconds below a client's highest nonce within which older nonces are still taken.
NONCE_WINDOW = 600 * 10**9
#: Nonces remembered per client (a client that sends more within the window loses the
#: oldest: its floor rises to them).
MAX_RECENT = 4096
#: How far ahead of the home peer's clock a nonce may be, in nanoseconds.
CLOCK_SKEW = 300 * 10**9
#: Client keys tracked at once (with open_clients, a flood of keys is refused past it).
MAX_CLIENTS = 100_000


class _Seen:
    __slots__ = ("floor", "high", "recent")

    def __init__(self) -> None:
        self.floor = -1  # every nonce at or below is refused
        self.high = -1
        self.recent: set[int] = set()


class ClientNonces:
    """The nonces of the client ops a home peer has wrapped, per client."""

    def __init__(
        self,
        window: int = NONCE_WINDOW,
        max_recent: int = MAX_RECENT,
        max_clients: int = MAX_CLIENTS,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.window = window
        self.max_recent = max_recent
        self.max_clients = max_clients
        self._clock = clock
        self._seen: dict[bytes, _Seen] = {}

    def claim(self, client: bytes, nonce: int, *, check_clock: bool = True) -> None:
        """Take ``nonce`` for ``client``, or raise :class:`ProtocolError` if it was used
        already, is below the window, or is ahead of this node's clock by more than
        ``CLOCK_SKEW`` (it would raise the window's floor over the client's other ops)."""
        if check_clock and nonce > self._clock() + CLOCK_SKEW:
            raise ProtocolError(
                f"op nonce {nonce} is ahead of this home peer's clock (nonces are times in "
                "nanoseconds: is the client's clock right?)",
                author=client,
            )
        seen = self._seen.get(client)
        if seen is None:
            if len(self._seen) >= self.max_clients:
                raise ProtocolError("this home peer tracks too many clients", author=client)
            seen = _Seen()
        if nonce <= seen.floor:
            raise ProtocolError(
                f"op nonce {nonce} is below the client's replay window (a replay?)", author=client
            )
        if nonce in seen.recent:
            raise ProtocolError(f"op nonce {nonce} was used already (a replay?)", author=client)
        self._seen[client] = seen
        seen.recent.add(nonce)
        if nonce > seen.high:
            seen.high = nonce
            floor = nonce - self.window
            if floor > seen.floor:
                seen.floor = floor
        # Pruning is amortised: only when the set has grown to twice its bound.
        if len(seen.recent) > 2 * self.max_recent:
            kept = sorted(n for n in seen.recent if n > seen.floor)
            if len(kept) > self.max_recent:
                seen.floor = max(seen.floor, kept[-self.max_recent - 1])
                kept = kept[-self.max_recent :]
            seen.recent = set(kept)

    def release(self, client: bytes, nonce: int) -> None:
        """Give back a nonce whose op was not stored after all: it may come again."""
        seen = self._seen.get(client)
        if seen is not None:
            seen.recent.discard(nonce)

    def load(self, wrapped: Iterable[bytes]) -> None:
        """Claim the nonces of the client ops in ``wrapped`` (the payloads of the home
        peer's own WRAP entries; other payloads are skipped)."""
        for payload in wrapped:
            try:
                op = _lattice.ClientOp.from_bytes(payload)
            except DecodeError:
                continue
            with contextlib.suppress(ProtocolError):  # a duplicate in the log: one is enough
                self.claim(op.client, op.nonce, check_clock=False)

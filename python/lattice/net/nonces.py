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

from collections.abc import Iterable

from lattice import _lattice
from lattice.errors import DecodeError, ProtocolError

__all__ = ["MAX_RECENT", "NONCE_WINDOW", "ClientNonces"]

#: Nanoseconds below a client's highest nonce within which older nonces are still taken.
NONCE_WINDOW = 600 * 10**9
#: Nonces remembered per client (a client that sends more within the window loses the
#: oldest: its floor rises to them).
MAX_RECENT = 4096


class _Seen:
    __slots__ = ("floor", "recent")

    def __init__(self) -> None:
        self.floor = -1  # every nonce at or below is refused
        self.recent: set[int] = set()


class ClientNonces:
    """The nonces of the client ops a home peer has wrapped, per client."""

    def __init__(self, window: int = NONCE_WINDOW, max_recent: int = MAX_RECENT) -> None:
        self.window = window
        self.max_recent = max_recent
        self._seen: dict[bytes, _Seen] = {}
        self.loaded = False

    def claim(self, client: bytes, nonce: int) -> None:
        """Take ``nonce`` for ``client``, or raise :class:`ProtocolError` if it was used
        already or is below the window."""
        seen = self._seen.setdefault(client, _Seen())
        if nonce <= seen.floor:
            raise ProtocolError(
                f"op nonce {nonce} is below the client's replay window (a replay?)", author=client
            )
        if nonce in seen.recent:
            raise ProtocolError(f"op nonce {nonce} was used already (a replay?)", author=client)
        seen.recent.add(nonce)
        high = max(seen.recent)
        if high - self.window > seen.floor:
            seen.floor = high - self.window
            seen.recent = {n for n in seen.recent if n > seen.floor}
        while len(seen.recent) > self.max_recent:
            oldest = min(seen.recent)
            seen.recent.discard(oldest)
            seen.floor = max(seen.floor, oldest)

    def release(self, client: bytes, nonce: int) -> None:
        """Give back a nonce whose op was not stored after all: it may come again."""
        seen = self._seen.get(client)
        if seen is not None:
            seen.recent.discard(nonce)

    def load(self, wrapped: Iterable[bytes]) -> None:
        """Claim the nonces of the client ops in ``wrapped`` (the payloads of the home
        peer's own DATA entries; other payloads are skipped)."""
        for payload in wrapped:
            try:
                op = _lattice.ClientOp.from_bytes(payload)
            except DecodeError:
                continue
            seen = self._seen.setdefault(op.client, _Seen())
            if op.nonce > seen.floor and op.nonce not in seen.recent:
                self.claim(op.client, op.nonce)
        self.loaded = True

"""The connection-level proof of work of DESIGN §11: under a handshake flood a node asks each
new connection for a proof of work, its difficulty rising with the load.

:class:`ConnectionPuzzle` measures the handshakes a node spends work on (a decaying count,
per second) and, every ``interval`` seconds, raises the leading zero bits it asks of
``H_pow(client key ‖ challenge ‖ bits ‖ nonce)`` by one for each doubling of that rate above
``target_rate`` (at most ``max_bits``), and lowers them by one while the rate is under a
quarter of it. So whatever an attacker's hash power, its successful handshakes fall back
to about the target within a few intervals. The challenge is fresh per connection, so a
solution cannot be reused. The node's handshakes are also bounded by a token bucket
(:data:`HANDSHAKE_SHARE` of its time): the puzzle decides who gets those slots.

>>> p = ConnectionPuzzle(target_rate=10.0, interval=0.5)
>>> p.bits(now=0.0)
0
>>> for _ in range(80):
...     p.handshake(now=0.0)
>>> p.bits(now=0.5), p.bits(now=1.0)  # ~55/s against 10/s: 3 bits, then ~14/s: 1 more
(3, 4)
>>> p.bits(now=30.0)  # quiet again: back down
0
"""

from __future__ import annotations

import math

from lattice import _lattice
from lattice.errors import InvalidArgument

__all__ = [
    "DEFAULT_MAX_BITS",
    "DEFAULT_TARGET_RATE",
    "HANDSHAKE_BURST",
    "HANDSHAKE_SHARE",
    "ConnectionPuzzle",
]

#: Handshakes per second a node takes without asking for more work.
DEFAULT_TARGET_RATE = 50.0
#: The most a node asks of one connection (about 16 M hashes: seconds of one core).
DEFAULT_MAX_BITS = 24
#: The share of a node's time new connections' handshakes may take, under a flood.
HANDSHAKE_SHARE = 0.2
#: ... taken in bursts of at most this many seconds of that share (a burst of handshakes
#: queues every session's traffic behind it).
HANDSHAKE_BURST = 0.02


class ConnectionPuzzle:
    """The difficulty a node asks of new connections, from its handshake rate."""

    def __init__(
        self,
        target_rate: float = DEFAULT_TARGET_RATE,
        max_bits: int = DEFAULT_MAX_BITS,
        interval: float = 0.1,
        half_life: float = 0.25,
    ) -> None:
        if target_rate <= 0 or interval <= 0 or half_life <= 0:
            raise InvalidArgument("a puzzle needs target_rate, interval and half_life > 0")
        if not 0 <= max_bits <= _lattice.POW_MAX_TARGET:
            raise InvalidArgument(f"a puzzle asks 0 to {_lattice.POW_MAX_TARGET} bits")
        self.target_rate, self.max_bits = target_rate, max_bits
        self.interval, self.half_life = interval, half_life
        self._count, self._at, self._adjusted, self._bits = 0.0, 0.0, 0.0, 0

    def _decay(self, now: float) -> None:
        if now > self._at:
            self._count *= 0.5 ** ((now - self._at) / self.half_life)
            self._at = now

    def handshake(self, now: float) -> None:
        """Count one handshake the node spent work on."""
        self._decay(now)
        self._count += 1.0

    def rate(self, now: float) -> float:
        """The measured handshake rate, per second (the decaying count over its mean life)."""
        self._decay(now)
        return self._count * math.log(2) / self.half_life

    def bits(self, now: float) -> int:
        """The leading zero bits to ask of a new connection now."""
        steps = math.floor((now - self._adjusted) / self.interval)
        if steps > 0:
            self._adjusted += steps * self.interval
            over = self.rate(now) / self.target_rate
            if over > 1.0:
                self._bits = min(self.max_bits, self._bits + math.ceil(math.log2(over)))
            elif over < 0.25:
                self._bits = max(0, self._bits - steps)
        return self._bits

    @staticmethod
    def check(client: bytes, challenge: bytes, bits: int, nonce: int) -> None:
        """Raise :class:`~lattice.errors.InvalidProofOfWork` unless ``nonce`` solves the
        puzzle ``(challenge, bits)`` for ``client`` (one hash)."""
        _lattice.pow_check(client, challenge, bits, nonce, bits)

    @staticmethod
    def solve(client: bytes, challenge: bytes, bits: int) -> int:
        """A nonce that solves the puzzle (every core, the GIL released)."""
        nonce = _lattice.pow_search(client, challenge, bits)
        assert nonce is not None  # an unbounded search always ends
        return nonce

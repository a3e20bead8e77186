"""How much a node holds of frames not yet complete (DESIGN §7, "bounded before trust").

A frame announces its length in its first four bytes and may take its time to send the
rest. Two bounds keep that from costing a node more than it chose to spend:

- **per connection**, the role's largest legal message: a client may announce no more
  than one ``OP`` (:data:`lattice.net.wire.MAX_CLIENT_FRAME`, about 1 MiB), a registered
  peer no more than an ENTRIES within the credit this node grants it, or the largest
  FRONTIER (:func:`lattice.net.wire.max_peer_frame`: 8.25 MiB with the default credit);
- **node-wide**, a budget from which each frame reserves its announced length as soon as
  its header is read (the Rust channel does it, and gives the bytes back when the frame
  is complete or the connection is gone). Clients and guests share a part of it of their
  own, so strangers cannot take the room peers need to sync; the registered peers' part
  holds at least one maximal frame per member (each has one link, and a frame at a time
  on it), so no peer, however Byzantine, takes the room of another. A frame the budget
  cannot hold closes its connection with :class:`~lattice.errors.BufferFull`. A frame of
  256 KiB or more is received into a memory map of its own, unmapped when it is done, so
  the node's memory goes back down when its senders leave (a heap allocator would keep it).

>>> budget = FrameBudget(total=64 << 20, strangers=16 << 20)
>>> budget.peers.capacity >> 20, budget.strangers.capacity >> 20, budget.used
(48, 16, 0)
>>> FrameBudget(total=64 << 20, strangers=16 << 20, peers_floor=100 << 20).peers.capacity >> 20
100
"""

from __future__ import annotations

from lattice import _lattice
from lattice.errors import InvalidArgument
from lattice.net.wire import MAX_CLIENT_FRAME

__all__ = [
    "DEFAULT_MAX_PARTIAL_BYTES",
    "DEFAULT_MAX_STRANGER_PARTIAL_BYTES",
    "FrameBudget",
]

#: Bytes of partial frames a node holds at most, all connections together.
DEFAULT_MAX_PARTIAL_BYTES = 64 << 20
#: The part of it that clients and guests share (sixteen maximal client ops at once).
DEFAULT_MAX_STRANGER_PARTIAL_BYTES = 16 << 20


class FrameBudget:
    """The node's two pools for partial frames: the registered peers' and the strangers'."""

    def __init__(
        self,
        total: int = DEFAULT_MAX_PARTIAL_BYTES,
        strangers: int = DEFAULT_MAX_STRANGER_PARTIAL_BYTES,
        *,
        peers_floor: int = 0,
    ) -> None:
        """``total`` bytes, of which clients and guests share ``strangers``; the peers'
        part is the rest, or ``peers_floor`` if that is more."""
        check(total, strangers)
        self.peers = _lattice.FramePool(max(total - strangers, peers_floor))
        self.strangers = _lattice.FramePool(strangers)

    def bound(self, channel: _lattice.NoiseChannel, max_frame: int, trusted: bool) -> None:
        """Give ``channel`` its role's frame limit and the pool its frames come out of."""
        channel.limit(max_frame, self.peers if trusted else self.strangers)

    @property
    def used(self) -> int:
        """Bytes reserved now by frames in progress, all connections together."""
        return self.peers.used + self.strangers.used


def check(total: int, strangers: int) -> None:
    """:class:`InvalidArgument` unless both pools can hold one maximal frame of their
    parties (otherwise such a frame could never arrive)."""
    if strangers < MAX_CLIENT_FRAME:
        raise InvalidArgument(
            f"max_stranger_partial_bytes ({strangers}) must hold one client op "
            f"({MAX_CLIENT_FRAME} bytes)"
        )
    if total - strangers < _lattice.MAX_FRAME_LEN:
        raise InvalidArgument(
            f"max_partial_bytes ({total}) must exceed max_stranger_partial_bytes ({strangers}) "
            f"by one peer frame ({_lattice.MAX_FRAME_LEN} bytes)"
        )

"""The entanglement matrix over a swarm's peers (DESIGN §4).

``M[o][s]`` is the seq of sender ``s`` in the frontier of observer ``o``'s latest delivered
entry. Rows are observers and columns senders, in the order of the membership list. The
cells live in the Rust kernel (:class:`lattice.Matrix`); this class maps public keys to
indexes and applies the swarm's quorum rule.

>>> from lattice.matrix import EntanglementMatrix
>>> a, b, c, d = (bytes([i]) * 32 for i in range(1, 5))
>>> m = EntanglementMatrix([a, b, c, d])
>>> m.observe(b, {a: 1, b: 1})
2
>>> m.cell(b, a), m.known_to_quorum()[a]
(1, 0)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from lattice import _lattice
from lattice.errors import InvalidArgument, UnknownAuthor

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = ["ColumnMatrix", "EntanglementMatrix", "default_faults", "default_quorum"]


def default_faults(n: int) -> int:
    """f = ⌊(N − 1) / 3⌋: the most Byzantine peers N peers tolerate (DESIGN §3)."""
    return max(0, (n - 1) // 3)


def default_quorum(n: int, faults: int) -> int:
    """q = ⌊(N + f) / 2⌋ + 1: any two quorums share a correct peer (DESIGN §4)."""
    return (n + faults) // 2 + 1


class _Membership:
    """Peers in membership order, with their indexes and the quorum rule."""

    def __init__(self, peers: Sequence[bytes], faults: int | None) -> None:
        self.peers: tuple[bytes, ...] = tuple(bytes(p) for p in peers)
        if len(set(self.peers)) != len(self.peers):
            raise InvalidArgument("the membership list names a peer twice")
        if not self.peers:
            raise InvalidArgument("a swarm needs at least one peer")
        self._index = {pk: i for i, pk in enumerate(self.peers)}
        n = len(self.peers)
        self.faults = default_faults(n) if faults is None else faults
        if not 0 <= self.faults < n:
            raise InvalidArgument(f"faults must be in 0..{n - 1}, got {self.faults}")
        self.quorum = default_quorum(n, self.faults)

    @property
    def n(self) -> int:
        """Number of peers."""
        return len(self.peers)

    def index(self, peer: bytes) -> int:
        """The matrix index of ``peer``; :class:`UnknownAuthor` if it is not a member."""
        try:
            return self._index[peer]
        except KeyError:
            raise UnknownAuthor("not a registered peer of this swarm", author=peer) from None

    def __contains__(self, peer: object) -> bool:
        return peer in self._index

    def _q(self, q: int | None) -> int:
        q = self.quorum if q is None else q
        if not 1 <= q <= self.n:
            raise InvalidArgument(f"quorum size must be in 1..{self.n}, got {q}")
        return q


class EntanglementMatrix(_Membership):
    """The full N×N matrix of one replica's view."""

    def __init__(self, peers: Sequence[bytes], faults: int | None = None) -> None:
        super().__init__(peers, faults)
        self._m = _lattice.Matrix(self.n)

    def observe(self, observer: bytes, frontier_delta: Mapping[bytes, int]) -> int:
        """Raise ``observer``'s row to at least the given seqs; returns how many cells grew."""
        o = self.index(observer)
        return self._m.update_row(o, [(self.index(p), s) for p, s in frontier_delta.items()])

    def update_indexed(self, observer: int, delta: Sequence[tuple[int, int]]) -> int:
        """:meth:`observe` by matrix index (the replica's hot path)."""
        return self._m.update_row(observer, delta)

    def freeze(self, sender: bytes, cap: int) -> int:
        """Cap ``sender``'s column at ``cap`` for good (a proven fork at ``cap + 1``, DESIGN
        §4): no query reports it above ``cap`` from now on. Returns how many cells were
        lowered."""
        return self._m.freeze(self.index(sender), cap)

    def frozen_at(self, sender: bytes) -> int | None:
        """The cap of ``sender``'s column if it is frozen, else None."""
        return self._m.frozen_at(self.index(sender))

    def cell(self, observer: bytes, sender: bytes) -> int:
        """What ``observer`` has provably seen of ``sender``'s log."""
        return self._m.get(self.index(observer), self.index(sender))

    def row(self, observer: bytes) -> dict[bytes, int]:
        """``observer``'s frontier as seen here: sender -> seq."""
        return dict(zip(self.peers, self._m.row(self.index(observer)), strict=True))

    def column(self, sender: bytes) -> dict[bytes, int]:
        """How far each observer has provably seen ``sender``'s log."""
        return dict(zip(self.peers, self._m.column(self.index(sender)), strict=True))

    def to_numpy(self) -> NDArray[np.uint64]:
        """The N×N cells as a live, read-only numpy view (no copy), rows = observers."""
        return self._m.to_numpy()

    def known_to_all(self) -> dict[bytes, int]:
        """Per sender, the entries every peer has provably seen."""
        return dict(zip(self.peers, self._m.known_to_all_indexed(), strict=True))

    def known_to_quorum(self, q: int | None = None) -> dict[bytes, int]:
        """Per sender, the entries at least ``q`` peers (default: the quorum) have seen."""
        return dict(zip(self.peers, self._m.known_to_quorum_indexed(self._q(q)), strict=True))

    def acceptance(self, sender: bytes, seq: int) -> int:
        """How many observers have provably seen ``sender``'s entry ``seq``."""
        return self._m.acceptance(self.index(sender), seq)

    def __repr__(self) -> str:
        return f"EntanglementMatrix(n={self.n}, f={self.faults}, q={self.quorum})"


class ColumnMatrix(_Membership):
    """Column-only mode for light peers and clients: O(N) state (DESIGN §4).

    Keeps, for one sender (``me``), how far each observer has provably seen its log — the
    question a light peer asks ("how far have my own entries spread") — and nothing else.

    >>> a, b, c = (bytes([i]) * 32 for i in range(1, 4))
    >>> m = ColumnMatrix([a, b, c], me=a)
    >>> m.observe(b, {a: 3})
    1
    >>> m.acceptance(a, 3), m.known_to_quorum()[a]
    (1, 0)
    """

    def __init__(self, peers: Sequence[bytes], me: bytes, faults: int | None = None) -> None:
        super().__init__(peers, faults)
        self.me = bytes(me)
        self._me = self.index(self.me)
        self._column = [0] * self.n
        self._caps: dict[int, int] = {}

    def observe(self, observer: bytes, frontier_delta: Mapping[bytes, int]) -> int:
        """Take the part of ``observer``'s frontier delta about ``me``; returns 1 if it grew."""
        seq = frontier_delta.get(self.me)
        return 0 if seq is None else self.update_indexed(self.index(observer), [(self._me, seq)])

    def update_indexed(self, observer: int, delta: Sequence[tuple[int, int]]) -> int:
        """Apply the ``me`` column of a row delta given by matrix indexes."""
        grew = 0
        cap = self._caps.get(self._me)
        for sender, seq in delta:
            if cap is not None:
                seq = min(seq, cap)
            if sender == self._me and seq > self._column[observer]:
                self._column[observer] = seq
                grew = 1
        return grew

    def freeze(self, sender: bytes, cap: int) -> int:
        """Cap ``sender``'s column at ``cap`` for good (only ``me``'s column is kept)."""
        s = self.index(sender)
        cap = min(cap, self._caps.get(s, cap))
        self._caps[s] = cap
        if s != self._me:
            return 0
        lowered = sum(1 for v in self._column if v > cap)
        self._column = [min(v, cap) for v in self._column]
        return lowered

    def frozen_at(self, sender: bytes) -> int | None:
        """The cap of ``sender``'s column if it is frozen, else None."""
        return self._caps.get(self.index(sender))

    def _only_me(self, sender: bytes) -> None:
        if sender != self.me:
            raise InvalidArgument("a column-only matrix knows only its own column")

    def cell(self, observer: bytes, sender: bytes) -> int:
        self._only_me(sender)
        return self._column[self.index(observer)]

    def column(self, sender: bytes) -> dict[bytes, int]:
        self._only_me(sender)
        return dict(zip(self.peers, self._column, strict=True))

    def known_to_all(self) -> dict[bytes, int]:
        return {self.me: min(self._column)}

    def known_to_quorum(self, q: int | None = None) -> dict[bytes, int]:
        q = self._q(q)
        return {self.me: sorted(self._column, reverse=True)[q - 1]}

    def acceptance(self, sender: bytes, seq: int) -> int:
        self._only_me(sender)
        return sum(1 for v in self._column if v >= seq)

    def __repr__(self) -> str:
        return f"ColumnMatrix(n={self.n}, me={self.me[:8].hex()}…)"

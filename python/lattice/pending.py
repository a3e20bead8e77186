"""The pending buffer: entries that wait for something before they can be delivered
(DESIGN §3).

Each waiting entry names what it waits for: one position ``(author, seq)`` and the exact id
it needs there. The buffer is capped in encoded bytes, per author and in total; when a cap
is exceeded the oldest entries go first, and what was evicted is remembered as *wanted* so
that it is requested again. A flood of entries whose dependencies never arrive therefore
costs at most the caps, and mostly the flooding author's own share.

>>> from lattice.pending import PendingBuffer
>>> buf = PendingBuffer(max_bytes=1000, max_bytes_per_author=600)
>>> buf.park(b"e1", b"A", 2, b"...", size=400, key=(b"A", 1), want=b"id of A1")
>>> buf.park(b"e2", b"A", 3, b"...", size=400, key=(b"A", 2), want=b"e1")
>>> len(buf), buf.bytes, buf.wanted
(1, 400, {b'A': 2})
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from lattice.errors import PendingOverflow

__all__ = ["PendingBuffer", "Waiting"]

T = TypeVar("T")


@dataclass(frozen=True)
class Waiting(Generic[T]):
    """One parked entry: what it is, how big, and what it waits for."""

    item: T
    author: bytes
    seq: int
    size: int
    key: tuple[bytes, int]
    want: bytes


class PendingBuffer(Generic[T]):
    """Entries keyed by id, in arrival order, each waiting for one ``(author, seq)``."""

    def __init__(self, max_bytes: int, max_bytes_per_author: int) -> None:
        self.max_bytes = max_bytes
        self.max_bytes_per_author = max_bytes_per_author
        self._items: OrderedDict[bytes, Waiting[T]] = OrderedDict()
        self.bytes = 0
        self._author_bytes: dict[bytes, int] = {}
        # Per author, its entries' ids in arrival order: the oldest is found in O(1).
        self._by_author: dict[bytes, dict[bytes, None]] = {}
        self._waiting: dict[tuple[bytes, int], set[bytes]] = {}
        #: Per author, the highest seq dropped for lack of room: to be requested again.
        self.wanted: dict[bytes, int] = {}

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, entry_id: object) -> bool:
        return entry_id in self._items

    def __iter__(self) -> Iterator[Waiting[T]]:
        return iter(self._items.values())

    def park(
        self,
        entry_id: bytes,
        author: bytes,
        seq: int,
        item: T,
        *,
        size: int,
        key: tuple[bytes, int],
        want: bytes,
    ) -> None:
        """Keep ``item`` until ``key`` is delivered with id ``want``, evicting the oldest
        entries (of this author first) while a cap is exceeded."""
        if size > self.max_bytes_per_author or size > self.max_bytes:
            self.want(author, seq)
            raise PendingOverflow("entry larger than the pending buffer", author=author, seq=seq)
        self._items[entry_id] = Waiting(item, author, seq, size, key, want)
        self._by_author.setdefault(author, {})[entry_id] = None
        self._waiting.setdefault(key, set()).add(entry_id)
        self.bytes += size
        self._author_bytes[author] = self._author_bytes.get(author, 0) + size
        while self._author_bytes[author] > self.max_bytes_per_author:
            self._evict(next(iter(self._by_author[author])))
        while self.bytes > self.max_bytes:
            self._evict(next(iter(self._items)))

    def waiters(self, key: tuple[bytes, int]) -> list[Waiting[T]]:
        """The entries waiting for ``key``."""
        return [self._items[i] for i in self._waiting.get(key, ())]

    def wake(self, key: tuple[bytes, int]) -> list[T]:
        """Remove and return every entry that waited for ``key``."""
        out = []
        for entry_id in list(self._waiting.get(key, ())):
            waiting = self.remove(entry_id)
            if waiting is not None:
                out.append(waiting.item)
        return out

    def want(self, author: bytes, seq: int) -> None:
        """Remember to request ``author`` up to ``seq`` again."""
        self.wanted[author] = max(self.wanted.get(author, 0), seq)

    def satisfied(self, heads: dict[bytes, int]) -> None:
        """Forget wanted seqs that are delivered now (``heads``: author -> delivered seq)."""
        for author, seq in list(self.wanted.items()):
            if heads.get(author, 0) >= seq:
                del self.wanted[author]

    def _evict(self, entry_id: bytes) -> None:
        waiting = self.remove(entry_id)
        if waiting is not None:
            # Not stored, never delivered out of order: requested again via missing().
            self.want(waiting.author, waiting.seq)

    def remove(self, entry_id: bytes) -> Waiting[T] | None:
        """Take one entry out of the buffer."""
        waiting = self._items.pop(entry_id, None)
        if waiting is None:
            return None
        self.bytes -= waiting.size
        self._author_bytes[waiting.author] -= waiting.size
        mine = self._by_author[waiting.author]
        del mine[entry_id]
        if not mine:
            del self._author_bytes[waiting.author], self._by_author[waiting.author]
        ids = self._waiting.get(waiting.key)
        if ids is not None:
            ids.discard(entry_id)
            if not ids:
                del self._waiting[waiting.key]
        return waiting

    def keys(self) -> Iterator[tuple[bytes, int]]:
        """Every position some entry waits for."""
        return iter(self._waiting)

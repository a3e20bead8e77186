"""What a replica keeps in memory of the delivered logs (DESIGN §3, §4, §15 P7).

Per author the ids and lamports of its delivered entries (40 bytes an entry; the entries
themselves live in SQLite), and the frontier each author committed to (the raw rows of the
matrix, never frozen). The validity checks (:mod:`lattice.validity`) read it; the
:class:`~lattice.Replica` writes it as it delivers, and drafts its own next entry from it.

>>> import lattice
>>> from lattice.forks import Forks
>>> a = lattice.Identity.from_seed(bytes(32))
>>> history = History([a.public_key], Forks())
>>> e = history.draft(0, a.signing_key, bytes(32), lattice.Kind.DATA, b"x")
>>> e.seq, e.lamport
(1, 1)
>>> history.append(0, e.id, e.lamport)
>>> history.logs[a.public_key].head
1
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence

from lattice import _lattice
from lattice.entry import Kind
from lattice.forks import Forks

__all__ = ["History", "Log"]

_ID_LEN = _lattice.ID_LEN


class Log:
    """One author's delivered log, in memory: ids and lamports, O(1) by seq."""

    __slots__ = ("ids", "lamports")

    def __init__(self) -> None:
        self.ids = bytearray()
        self.lamports = array("Q")

    @property
    def head(self) -> int:
        return len(self.lamports)

    def id_at(self, seq: int) -> bytes:
        return bytes(self.ids[(seq - 1) * _ID_LEN : seq * _ID_LEN])

    def append(self, entry_id: bytes, lamport: int) -> None:
        self.ids += entry_id
        self.lamports.append(lamport)


class History:
    """The delivered logs and committed frontiers of one replica's peers (in
    ``peers`` order, the matrix's), and the forks known (for evidence and committed
    versions of forked authors)."""

    def __init__(self, peers: Sequence[bytes], forks: Forks) -> None:
        self.peers = list(peers)
        self.index = {pk: i for i, pk in enumerate(self.peers)}
        self.logs = {pk: Log() for pk in self.peers}
        # Created on an author's first entry, so a column-only replica keeps O(N) per log
        # it follows.
        self.frontiers: dict[int, list[int]] = {}
        self.forks = forks

    def row(self, author_index: int) -> list[int]:
        """The frontier author ``author_index`` committed to, as seqs by peer index."""
        row = self.frontiers.get(author_index)
        if row is None:
            row = self.frontiers[author_index] = [0] * len(self.peers)
        return row

    def append(self, author_index: int, entry_id: bytes, lamport: int) -> None:
        """Record a delivered entry of the author at ``author_index``."""
        self.logs[self.peers[author_index]].append(entry_id, lamport)

    def held_lamport(self, author: bytes, seq: int, entry_id: bytes) -> int | None:
        """The lamport of ``author``'s entry ``seq`` if held with this id (delivered, or
        kept as evidence), else None."""
        log = self.logs[author]
        if seq <= log.head and log.id_at(seq) == entry_id:
            return log.lamports[seq - 1]
        return self.forks.kept_lamport(author, seq, entry_id)

    def committed_id(self, observer: int, sender: int, seq: int) -> bytes:
        """The id of ``sender``'s entry ``seq`` in ``observer``'s frontier."""
        return self.forks.committed.get((observer, sender)) or self.logs[self.peers[sender]].id_at(
            seq
        )

    def frontier_items(
        self, author_index: int, delta: dict[bytes, tuple[int, bytes]]
    ) -> list[tuple[bytes, int, bytes]]:
        """The author's frontier after an entry with this delta, sorted by peer: what a
        noop's ``frontier_root`` commits to. The author itself is at its previous entry
        (docs/format.md, "Frontier root")."""
        row = self.row(author_index)
        items = []
        for i, pk in sorted(enumerate(self.peers), key=lambda x: x[1]):
            seq, entry_id = delta.get(pk, (row[i], b""))
            if seq:
                items.append((pk, seq, entry_id or self.committed_id(author_index, i, seq)))
        return items

    def delta(self, author_index: int) -> dict[bytes, tuple[int, bytes]]:
        """The author's frontier growth since its last entry: heads held here beyond what
        it committed to (a forked author no further than the last seq before its fork)."""
        mine = self.row(author_index)
        author = self.peers[author_index]
        delta = {}
        for i, pk in enumerate(self.peers):
            head = self.logs[pk].head
            fork = self.forks.get(pk)
            if fork is not None:
                head = min(head, fork.seq - 1)
            if pk != author and head > mine[i]:
                delta[pk] = (head, self.logs[pk].id_at(head))
        return delta

    def draft(
        self,
        author_index: int,
        signing_key: _lattice.SigningKey,
        swarm: bytes,
        kind: Kind,
        payload: bytes,
    ) -> _lattice.Entry:
        """The author's next entry, signed: it extends its log (prev, lipmaa), entangles
        everything held here that it has not committed to (its delta), has a lamport above
        all of that and, for a noop, the root of its frontier."""
        log = self.logs[self.peers[author_index]]
        seq = log.head + 1
        delta = self.delta(author_index)
        lamport = 1 + max(
            [log.lamports[-1] if log.head else 0]
            + [self.logs[pk].lamports[s - 1] for pk, (s, _) in delta.items()]
        )
        link = _lattice.lipmaa(seq)
        frontier_root = None
        if kind == Kind.NOOP:
            frontier_root = _lattice.frontier_root(self.frontier_items(author_index, delta))
        return _lattice.Entry.create(
            signing_key,
            swarm=swarm,
            seq=seq,
            lamport=lamport,
            prev=log.id_at(seq - 1) if seq > 1 else None,
            lipmaa=log.id_at(link) if link else None,
            deps=delta,
            payload=payload,
            kind=int(kind),
            frontier_root=frontier_root,
        )

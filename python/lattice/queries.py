"""What anyone may ask a replica without changing it (DESIGN §14): its frontier, heads
and delivered entries, forks, blocklist and penalties, what it is missing, and what it
can send a peer (:mod:`lattice.sync`). The :class:`~lattice.Replica` has these methods;
they read its in-memory history and its store, and write nothing.

>>> import lattice
>>> me = lattice.Identity.generate()
>>> rep = lattice.Replica(me, peers=[me.public_key])
>>> isinstance(rep, Queries), rep.head(me.public_key), rep.frontier()
(True, 0, {})
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from lattice import _lattice
from lattice.errors import InvalidArgument, UnknownAuthor
from lattice.forks import Forks
from lattice.history import History, Log
from lattice.matrix import ColumnMatrix, EntanglementMatrix
from lattice.pending import PendingBuffer
from lattice.store import Store
from lattice.sync import MAX_ANSWER_BYTES, MAX_ANSWER_ENTRIES, SYNC_BATCH, Missing
from lattice.sync import answer as _answer
from lattice.sync import compare_frontier as _compare_frontier
from lattice.sync import difference as _difference
from lattice.sync import missing as _missing

__all__ = ["Queries"]

Entry = _lattice.Entry
#: The largest seq an entry may have (DESIGN §3: counters below 2^63).
MAX_SEQ = 2**63 - 1


class Queries:
    """The read-only half of a :class:`~lattice.Replica`."""

    me: bytes
    peers: tuple[bytes, ...]
    matrix: EntanglementMatrix | ColumnMatrix
    _store: Store
    _history: History
    _logs: dict[bytes, Log]
    _frontiers: dict[int, list[int]]
    _forks: Forks
    _pending: PendingBuffer[_lattice.Entry]

    def frontier(self) -> dict[bytes, tuple[int, bytes]]:
        """Head (seq, id) of every log this replica has delivered entries of; a forked
        author at the last seq before its fork."""
        out = {}
        for pk, log in self._logs.items():
            seq = log.head
            fork = self._forks.get(pk)
            if fork is not None:
                seq = min(seq, fork.seq - 1)
            if seq:
                out[pk] = (seq, log.id_at(seq))
        return out

    def _log(self, author: bytes) -> Log:
        log = self._logs.get(author)
        if log is None:
            raise UnknownAuthor("not a registered peer of this swarm", author=bytes(author))
        return log

    def head(self, author: bytes) -> int:
        """Seq of ``author``'s latest delivered entry (0 if none); :class:`UnknownAuthor`
        if ``author`` is not a peer of this swarm."""
        return self._log(author).head

    def id_at(self, author: bytes, seq: int) -> bytes | None:
        """The id of ``author``'s delivered entry ``seq``, if delivered."""
        log = self._log(author)
        return log.id_at(seq) if 1 <= seq <= log.head else None

    def entries(self, author: bytes | None = None, since: int = 0) -> list[_lattice.Entry]:
        """Delivered entries in causal (delivery) order, optionally of one author after
        seq ``since``."""
        since = min(max(0, since), MAX_SEQ)  # seqs are below 2^63: nothing is after that
        return [Entry.from_bytes(b) for b in self._store.entries(author, since)]

    def iter_entries(self, author: bytes | None = None, since: int = 0) -> Iterator[_lattice.Entry]:
        """Like :meth:`entries`, read lazily from the store (a long log needs no list)."""
        since = min(max(0, since), MAX_SEQ)
        return (Entry.from_bytes(b) for b in self._store.entries(author, since))

    @property
    def legacy_wraps(self) -> int:
        """The last seq of this replica's own log written before store format 3, whose DATA
        entries may wrap client ops (0: none)."""
        return self._store.legacy_wraps()

    def evidence(self, author: bytes | None = None) -> list[_lattice.Entry]:
        """Entries of forked authors kept as evidence (not delivered), in arrival order."""
        return [Entry.from_bytes(data) for *_, data in self._store.evidence(author)]

    def get(self, entry_id: bytes) -> _lattice.Entry | None:
        """The delivered entry with this id, if any."""
        data = self._store.get(entry_id)
        return None if data is None else Entry.from_bytes(data)

    @property
    def frauds(self) -> list[_lattice.FraudProof]:
        """The fraud proof of every forked author (its lowest known fork)."""
        return list(self._forks.proofs.values())

    @property
    def blocklist(self) -> set[bytes]:
        """Authors blocklisted for good: every author with a proven fork."""
        return set(self._forks.proofs)

    def disputed(self, author: bytes) -> set[bytes]:
        """Observers that committed to the forked ``author`` beyond the last seq before its
        fork: their view of it is on one branch or the other, and never counted (DESIGN §4).
        Empty if ``author`` is not forked."""
        fork = self._forks.get(author)
        if fork is None:
            return set()
        s = self.matrix.index(author)
        return {self.peers[o] for o, row in self._frontiers.items() if row[s] >= fork.seq}

    @property
    def penalties(self) -> dict[bytes, int]:
        """Invalid fraud proofs sent, per peer (DESIGN §5: the sender is penalised)."""
        return self._forks.penalties

    @property
    def pending(self) -> int:
        """Number of entries waiting for dependencies."""
        return len(self._pending)

    @property
    def pending_bytes(self) -> int:
        """Encoded size of the entries waiting for dependencies."""
        return self._pending.bytes

    def missing(self) -> list[Missing]:
        """What to request so that pending entries can be delivered (see
        :func:`lattice.sync.missing`): runs of seqs per author, and exact versions by id."""
        return _missing(self._history, self._pending, self._forks)

    def answer(
        self,
        requests: Iterable[Missing],
        limit: int = MAX_ANSWER_ENTRIES,
        max_bytes: int = MAX_ANSWER_BYTES,
    ) -> list[bytes]:
        """The encoded entries this replica can send for ``requests`` (another replica's
        :meth:`missing`), at most ``limit`` of them and about ``max_bytes`` in all: by range
        from the delivered logs, by id from delivered entries and evidence."""
        requests = list(requests)
        if not all(isinstance(r, Missing) for r in requests):
            raise InvalidArgument("requests are lattice.Missing values")
        return _answer(self._store, self._history, requests, limit, max_bytes)

    def difference(
        self, remote: Mapping[bytes, int], batch: int = SYNC_BATCH
    ) -> Iterator[list[bytes]]:
        """What a peer whose frontier is ``remote`` ({author: seq}) lacks of this replica's
        delivered entries, in causal (delivery) order, ``batch`` entries at a time (DESIGN
        §7), read lazily from the store."""
        return _difference(self._store, self._history, remote, batch)

    def compare_frontier(self, remote: Mapping[bytes, tuple[int, bytes]]) -> list[Missing]:
        """Fork check and difference of a peer's frontier (DESIGN §5 path c, §7): what to
        request from a peer that reported ``remote`` ({author: (seq, id)}). A head this
        replica holds with another id is requested by id: if the peer has it, it arrives
        as the second version of a signed entry and proves the fork."""
        return _compare_frontier(self._history, self._forks, self.me, remote)

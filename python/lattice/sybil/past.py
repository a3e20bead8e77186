"""An entry's causal past as the trust graph reads it (DESIGN §11): seqs by peer index,
and, for a peer proven to have forked (DESIGN §5), which of its versions the past holds.

For a peer that has not forked a seq says which records the past holds. A forked peer
has two versions of some seqs (maybe at more than one fork, some not known here yet): the
past holds only the records on the branch the judged entry's author committed to, found
by walking ``prev`` links back from the id it committed to until the walk meets the log
this replica delivered. So a replica that delivered one branch and one that kept the
other as evidence judge the same entry alike, whenever each learned of which fork.

>>> from lattice.history import Log
>>> log = Log()
>>> log.append(b"x" * 32, 1)
>>> log.append(b"a" * 32, 2)  # this replica delivered version a of seq 2
>>> past = Past([3, 0], {0: Chain(1, frozenset({b"b" * 32}), log)})  # committed to b
>>> past.holds((0, 1, b"x" * 32)), past.holds((0, 2, b"a" * 32)), past.holds((0, 2, b"b" * 32))
(True, False, True)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

from lattice import _lattice

if TYPE_CHECKING:
    from lattice.history import History

__all__ = ["Chain", "Delivered", "Folds", "Past", "Position", "branch"]

#: Where a record sits: (index of the peer whose log carries it, seq there, entry id).
Position = tuple[int, int, bytes]
_NO_CHAINS: Mapping[int, Chain] = {}


class Delivered(Protocol):
    """A delivered log, as far as the past needs it (:class:`lattice.history.Log`)."""

    @property
    def head(self) -> int: ...

    def id_at(self, seq: int) -> bytes: ...


@dataclasses.dataclass(frozen=True, slots=True)
class Chain:
    """The branch of a forked peer an entry's author committed to: ``ids``, the versions
    above ``meet`` (kept as evidence here), and below and at ``meet`` the ``delivered`` log
    (the branch's walk back met it there)."""

    meet: int
    ids: frozenset[bytes]
    delivered: Delivered

    def holds(self, seq: int, entry_id: bytes) -> bool:
        if entry_id in self.ids:
            return True
        return seq <= self.meet and self.delivered.id_at(seq) == entry_id


@dataclasses.dataclass(frozen=True, slots=True)
class Past:
    """``seqs``: the last seq of each peer (by index) the past holds; ``chains``: for a
    forked peer, the :class:`Chain` committed to (a record of it counts only on that
    branch, whichever version of it this replica delivered)."""

    seqs: Sequence[int]
    chains: Mapping[int, Chain] = dataclasses.field(default_factory=lambda: _NO_CHAINS)

    def holds(self, position: Position) -> bool:
        """Whether the record at ``position`` lies in this past."""
        index, seq, entry_id = position
        if seq > self.seqs[index]:
            return False
        chain = self.chains.get(index)
        return chain is None or chain.holds(seq, entry_id)


def branch(
    history: History,
    author: bytes,
    tip: tuple[int, bytes],
    entry: Callable[[bytes], _lattice.Entry],
) -> Chain:
    """The branch of ``author``'s log that ends at ``tip`` (seq, id): walked back by
    ``prev`` links through the versions kept here as evidence until it meets the delivered
    log (``entry`` fetches a kept one by id). Every replica finds the same versions on it,
    whichever branch it delivered and whichever forks it knows."""
    log = history.logs[author]
    seq, entry_id = tip
    ids: set[bytes] = set()
    while seq >= 1 and not (seq <= log.head and log.id_at(seq) == entry_id):
        ids.add(entry_id)
        entry_id, seq = entry(entry_id).prev, seq - 1
    return Chain(seq, frozenset(ids), log)


#: One kept version's place: its author's frontier after it (seqs by peer index, and the
#: (seq, id) named last for each), the kept versions below it on its branch, and where
#: the branch meets the delivered log.
_Fold = tuple[list[int], dict[int, tuple[int, bytes]], frozenset[bytes], int]


class Folds:
    """The pasts of entries kept as evidence, each worked out once (DESIGN §5, §11).

    A kept version's past is what its branch committed to: the delivered log up to where
    the branch meets it, then the branch's kept versions up to it, their dependencies
    folded in seq order — as a replica that delivered that branch folds them. Each kept
    version's fold is its predecessor's plus its own dependencies, so keeping ``k``
    versions of a branch costs O(k), and the delivered prefix is read once per fork point.
    """

    def __init__(self) -> None:
        self._kept: dict[bytes, _Fold] = {}
        self._delivered: dict[tuple[int, int], tuple[list[int], dict[int, tuple[int, bytes]]]] = {}

    def past(
        self, e: _lattice.Entry, history: History, fetch: Callable[[bytes], _lattice.Entry]
    ) -> tuple[Past, dict[int, tuple[int, bytes]]]:
        """The past of ``e``, kept as evidence (its fold noted for the versions above it),
        and the (seq, id) it committed to for each peer."""
        seqs, tips, below, meet = self._fold(e, history, fetch)
        a = history.index[e.author]
        own = list(seqs)
        own[a] = e.seq - 1
        chains = {a: Chain(meet, below, history.logs[e.author])} if e.seq > 1 else {}
        return Past(own, chains), tips

    def chain(
        self,
        history: History,
        author: bytes,
        tip: tuple[int, bytes],
        fetch: Callable[[bytes], _lattice.Entry],
    ) -> Chain:
        """:func:`branch`, from the folds when the tip is a version kept here."""
        known = self._kept.get(tip[1])
        if known is not None:
            return Chain(known[3], known[2] | {tip[1]}, history.logs[author])
        return branch(history, author, tip, fetch)

    def _fold(
        self, e: _lattice.Entry, history: History, fetch: Callable[[bytes], _lattice.Entry]
    ) -> _Fold:
        known = self._kept.get(e.id)
        if known is not None:
            return known
        # The versions below it not worked out yet (kept before a restart, or in a batch
        # out of order): walked down to one that is, or to the delivered log.
        todo = [e]
        log = history.logs[e.author]
        while True:
            top = todo[-1]
            seq = top.seq - 1
            if seq < 1 or self._kept.get(top.prev) is not None:
                break
            if seq <= log.head and log.id_at(seq) == top.prev:
                break
            todo.append(fetch(top.prev))
        fold: _Fold | None = None
        for version in reversed(todo):
            fold = self._next(version, history, fetch)
        assert fold is not None
        return fold

    def _next(
        self, e: _lattice.Entry, history: History, fetch: Callable[[bytes], _lattice.Entry]
    ) -> _Fold:
        below = self._kept.get(e.prev) if e.seq > 1 else None
        if below is not None:
            seqs, tips = list(below[0]), dict(below[1])
            ids, meet = below[2] | {e.prev}, below[3]
        else:
            meet = e.seq - 1
            seqs, tips = self._delivered_fold(history, history.index[e.author], meet, fetch)
            ids = frozenset()
        for peer, dep in e.deps.items():
            x = history.index[peer]
            if dep[0] > seqs[x]:
                seqs[x], tips[x] = dep[0], dep
        fold = self._kept[e.id] = (seqs, tips, ids, meet)
        return fold

    def _delivered_fold(
        self, history: History, a: int, upto: int, fetch: Callable[[bytes], _lattice.Entry]
    ) -> tuple[list[int], dict[int, tuple[int, bytes]]]:
        key = (a, upto)
        folded = self._delivered.get(key)
        if folded is None:
            seqs = [0] * len(history.peers)
            tips: dict[int, tuple[int, bytes]] = {}
            log = history.logs[history.peers[a]]
            for seq in range(1, upto + 1):
                for peer, dep in fetch(log.id_at(seq)).deps.items():
                    x = history.index[peer]
                    if dep[0] > seqs[x]:
                        seqs[x], tips[x] = dep[0], dep
            folded = self._delivered[key] = (seqs, tips)
        return list(folded[0]), dict(folded[1])

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

__all__ = ["Chain", "Delivered", "Past", "Position", "branch"]

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

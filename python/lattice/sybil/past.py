"""An entry's causal past as the trust graph reads it (DESIGN §11): seqs by peer index,
and, for a peer proven to have forked (DESIGN §5), which of its versions the past holds.

Below a forked author's fork every branch is the same log, so a seq says which records
the past holds. From the fork on, two versions share each seq: the past holds only the
records on the branch the judged entry's author committed to, found by walking ``prev``
links back from the id it committed to. So a replica that delivered one branch and one
that kept the other as evidence judge the same entry alike, whenever each learned of
the fork.

>>> past = Past([3, 0], {0: (2, frozenset({b"b" * 32}))})
>>> past.holds((0, 1, b"x" * 32)), past.holds((0, 2, b"a" * 32)), past.holds((0, 2, b"b" * 32))
(True, False, True)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from lattice import _lattice

if TYPE_CHECKING:
    from lattice.history import History

__all__ = ["Past", "Position", "branch_ids"]

#: Where a record sits: (index of the peer whose log carries it, seq there, entry id).
Position = tuple[int, int, bytes]
_NO_CHAINS: Mapping[int, tuple[int, frozenset[bytes]]] = {}


@dataclasses.dataclass(frozen=True, slots=True)
class Past:
    """``seqs``: the last seq of each peer (by index) the past holds; ``chains``: for a
    forked peer whose records from its fork on matter, ``(fork seq, ids)`` of the versions
    on the branch committed to."""

    seqs: Sequence[int]
    chains: Mapping[int, tuple[int, frozenset[bytes]]] = dataclasses.field(
        default_factory=lambda: _NO_CHAINS
    )

    def holds(self, position: Position) -> bool:
        """Whether the record at ``position`` lies in this past."""
        index, seq, entry_id = position
        if seq > self.seqs[index]:
            return False
        chain = self.chains.get(index)
        return chain is None or seq < chain[0] or entry_id in chain[1]


def branch_ids(
    history: History,
    author: bytes,
    fork_seq: int,
    tip: tuple[int, bytes],
    entry: Callable[[bytes], _lattice.Entry],
) -> frozenset[bytes]:
    """The ids of ``author``'s versions from ``fork_seq`` up to ``tip`` (seq, id) on the
    branch that ends there: delivered ones read from the log, kept ones (evidence) by
    their ``prev`` links (``entry`` fetches one by id)."""
    log = history.logs[author]
    seq, entry_id = tip
    ids: set[bytes] = set()
    while seq >= fork_seq:
        if seq <= log.head and log.id_at(seq) == entry_id:
            ids.update(log.id_at(s) for s in range(fork_seq, seq + 1))
            break
        ids.add(entry_id)
        entry_id, seq = entry(entry_id).prev, seq - 1
    return frozenset(ids)

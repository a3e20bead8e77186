"""The validity checks of DESIGN §3: may an entry be delivered (or, for a forked author,
kept as evidence)?

:func:`check` decides for an entry of an author that is not forked: its links match, its
dependencies strictly advance its author's frontier and are held with the ids they name,
its lamport is above all of them, and a noop's frontier root recomputes. An entry whose
link or dependency is not held yet raises :class:`Wait`; an invalid one raises the
:class:`~lattice.errors.LatticeError` that names the failure. Both read only the
replica's :class:`~lattice.history.History`; the :class:`~lattice.Replica` decides what
to do with the verdict (deliver, park, reject, prove a fork).

>>> import lattice
>>> from lattice.forks import Forks
>>> from lattice.history import History
>>> a = lattice.Identity.from_seed(bytes(32))
>>> history = History([a.public_key], Forks())
>>> e = lattice.Entry.create(a.signing_key, swarm=bytes(32), seq=2, lamport=2, prev=b"p" * 32)
>>> try:
...     check(history, e)
... except Wait as wait:
...     print(wait.key[1])
1
"""

from __future__ import annotations

from lattice import _lattice
from lattice.entry import Kind
from lattice.errors import (
    BrokenLipmaa,
    BrokenPrev,
    FrontierMismatch,
    LamportNotIncreasing,
    NonMonotonicFrontier,
    UnknownAuthor,
)
from lattice.history import History

__all__ = ["Wait", "check", "check_evidence"]

_NOOP = int(Kind.NOOP)


class Wait(Exception):
    """The entry waits for ``author``'s entry ``seq`` with id ``want``."""

    def __init__(self, author: bytes, seq: int, want: bytes) -> None:
        self.key = (author, seq)
        self.want = want


def check(history: History, entry: _lattice.Entry) -> list[tuple[int, int]]:
    """Check an entry of an author that is not forked, whose log is at seq - 1 or
    behind; raise :class:`Wait` if a link or dependency is not held yet, a
    LatticeError if it is invalid. Returns the row delta (peer index, seq)."""
    author, seq, lamport = entry.author, entry.seq, entry.lamport
    log = history.logs[author]
    if seq > log.head + 1:
        raise Wait(author, seq - 1, entry.prev)
    if seq > 1:
        if entry.prev != log.id_at(seq - 1):
            # Signed by the author: if that version exists, it proves a fork.
            history.forks.suspects[author] = (seq - 1, entry.prev)
            raise BrokenPrev("prev is not the delivered entry seq - 1", author=author, seq=seq)
        link = _lattice.lipmaa(seq)
        if link != seq - 1 and entry.lipmaa != log.id_at(link):
            history.forks.suspects[author] = (link, entry.lipmaa)
            raise BrokenLipmaa("lipmaa link does not match", author=author, seq=seq)
        if lamport <= log.lamports[seq - 2]:
            raise LamportNotIncreasing("lamport not above prev's", author=author, seq=seq)
    a = history.index[author]
    row = history.row(a)
    delta = [(a, seq)]
    deps = entry.deps
    for peer, (dep_seq, dep_id) in deps.items():
        try:
            p = history.index[peer]
        except KeyError:
            raise UnknownAuthor("not a registered peer of this swarm", author=peer) from None
        if dep_seq <= row[p]:
            raise NonMonotonicFrontier(
                f"dependency on seq {dep_seq} of a peer already at {row[p]} in this "
                "author's frontier",
                author=author,
                seq=seq,
            )
        dep_log = history.logs[peer]
        if dep_seq <= dep_log.head and dep_log.id_at(dep_seq) == dep_id:
            dep_lamport: int | None = dep_log.lamports[dep_seq - 1]
        else:
            dep_lamport = history.held_lamport(peer, dep_seq, dep_id)
        if dep_lamport is None:
            # Not held yet, or held with another id (DESIGN §5 path b: fetched by id,
            # it proves a fork; until then this entry waits).
            raise Wait(peer, dep_seq, dep_id)
        if lamport <= dep_lamport:
            raise LamportNotIncreasing("lamport not above a dependency's", author=author, seq=seq)
        delta.append((p, dep_seq))
    if entry.kind == _NOOP:
        expected = _lattice.frontier_root(history.frontier_items(a, dict(deps)))
        if entry.frontier_root != expected:
            raise FrontierMismatch(
                "frontier root does not match the author's frontier", author=author, seq=seq
            )
    return delta


def check_evidence(history: History, e: _lattice.Entry) -> None:
    """The checks an entry of a forked author passes to be kept as evidence: its links
    and dependencies are held with the ids it names, and its lamport is above theirs.
    (Its frontier is not checked: its author is already proven faulty.)"""
    author, seq = e.author, e.seq
    links = []
    if seq > 1:
        links.append((author, seq - 1, e.prev))
        link = _lattice.lipmaa(seq)
        if link != seq - 1:
            links.append((author, link, e.lipmaa))
    for peer, (s, i) in e.deps.items():
        if peer not in history.logs:
            raise UnknownAuthor("dependency on an unregistered peer", author=author, seq=seq)
        links.append((peer, s, i))
    for peer, s, entry_id in links:
        lamport = history.held_lamport(peer, s, entry_id)
        if lamport is None:
            raise Wait(peer, s, entry_id)
        if e.lamport <= lamport:
            raise LamportNotIncreasing("lamport not above a link's", author=author, seq=seq)

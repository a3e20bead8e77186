"""What two replicas exchange to catch up (DESIGN §5 path c, §7): what one misses, what it
can answer, the difference against a peer's frontier, and the fork check of a peer's
heads. Pure functions of a replica's history, pending buffer, forks and store; the
:class:`~lattice.Replica` exposes them as methods, a node puts them on the wire.

>>> import lattice
>>> a, b = lattice.Identity.generate(), lattice.Identity.generate()
>>> ra = lattice.Replica(a, peers=[a.public_key, b.public_key])
>>> rb = lattice.Replica(b, peers=[a.public_key, b.public_key])
>>> _ = ra.append(b"one"); _ = ra.append(b"two")
>>> rb.compare_frontier(ra.frontier()) == [Missing(a.public_key, 1, 2)]
True
>>> batches = list(ra.difference({a.public_key: 1}))
>>> [lattice.Entry.from_bytes(d).payload for d in batches[0]]
[b'two']
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from lattice import _lattice
from lattice.forks import Forks
from lattice.history import History
from lattice.pending import PendingBuffer
from lattice.store import Store

__all__ = [
    "MAX_ANSWER_BYTES",
    "MAX_ANSWER_ENTRIES",
    "SYNC_BATCH",
    "Missing",
    "answer",
    "compare_frontier",
    "difference",
    "missing",
]

#: The most entries one answer returns (a request may name any range).
MAX_ANSWER_ENTRIES = 10_000
#: About the most bytes one answer returns.
MAX_ANSWER_BYTES = 8 * 1024 * 1024
#: Entries per step of a difference.
SYNC_BATCH = 1_000


@dataclass(frozen=True)
class Missing:
    """Entries to request: ``author``'s seqs ``first`` to ``last`` inclusive, or, when
    ``id`` is set, exactly the version of ``author``'s entry ``first`` (== ``last``) with
    that id — another version than the one held here, or one of a forked author's."""

    author: bytes
    first: int
    last: int
    id: bytes | None = None


def missing(
    history: History, pending: PendingBuffer[_lattice.Entry], forks: Forks
) -> list[Missing]:
    """What to request so that pending entries can be delivered: per author, the runs of
    seqs between its first undelivered one and the highest any pending entry needs
    (leaving out what is already pending); and, by id, versions of entries that differ
    from the ones held and entries of forked authors that honest entries need."""
    logs = history.logs
    need: dict[bytes, int] = {a: s for a, s in pending.wanted.items() if a not in forks}
    by_id: set[tuple[bytes, int, bytes]] = set()
    held: dict[bytes, list[int]] = {}
    for waiting in pending:
        held.setdefault(waiting.author, []).append(waiting.seq)
        author, seq = waiting.key
        if author in forks or seq <= logs[author].head:
            by_id.add((author, seq, waiting.want))
        else:
            need[author] = max(need.get(author, 0), seq)
    for author, (seq, entry_id) in forks.suspects.items():
        by_id.add((author, seq, entry_id))
    out = []
    for author, last in sorted(need.items()):
        first = logs[author].head + 1
        for seq in sorted(held.get(author, ())):
            if seq > last:
                break
            if seq > first:
                out.append(Missing(author, first, seq - 1))
            first = max(first, seq + 1)
        if last >= first:
            out.append(Missing(author, first, last))
    for author, seq, entry_id in sorted(by_id):
        if history.held_lamport(author, seq, entry_id) is None and entry_id not in pending:
            out.append(Missing(author, seq, seq, entry_id))
    return out


def answer(
    store: Store,
    history: History,
    requests: Iterable[Missing],
    limit: int = MAX_ANSWER_ENTRIES,
    max_bytes: int = MAX_ANSWER_BYTES,
) -> list[bytes]:
    """The encoded entries that can be sent for ``requests``, at most ``limit`` of them
    and about ``max_bytes`` in all: by range from the delivered logs, by id from
    delivered entries and evidence. Only what is committed to ``store`` is sent."""
    out: list[bytes] = []
    size = 0
    for request in requests:
        room = limit - len(out)
        if room <= 0 or size >= max_bytes:
            break
        if request.id is not None:
            data = store.get_any(request.id)
            found = [] if data is None else [data]
        elif request.author in history.logs:
            first = max(1, request.first)
            last = min(request.last, history.logs[request.author].head, first + room - 1)
            found = store.range(request.author, first, last) if first <= last else []
        else:
            found = []
        for data in found:
            out.append(data)
            size += len(data)
            if size >= max_bytes:
                break
    return out


def difference(
    store: Store, history: History, remote: Mapping[bytes, int], batch: int = SYNC_BATCH
) -> Iterator[list[bytes]]:
    """What a peer whose frontier is ``remote`` ({author: seq}) lacks of the delivered
    entries, in causal (delivery) order, ``batch`` entries at a time (DESIGN §7). The
    store is read lazily, one batch per step, so entries committed while the caller sends
    are included, and memory stays O(batch)."""
    starts = [
        position
        for author, log in history.logs.items()
        if log.head > remote.get(author, 0)
        and (position := store.ord_of(author, remote.get(author, 0) + 1)) is not None
    ]
    if not starts:
        return
    position = min(starts) - 1
    while True:
        rows = store.after(position, batch)
        if not rows:
            return
        position = rows[-1][0]
        out = [data for _, author, seq, data in rows if seq > remote.get(author, 0)]
        if out:
            yield out


def compare_frontier(
    history: History, forks: Forks, me: bytes, remote: Mapping[bytes, tuple[int, bytes]]
) -> list[Missing]:
    """Fork check and difference of a peer's frontier ``remote`` ({author: (seq, id)}):
    what to request from it. A head held here with another id is requested by id: if the
    peer has it, it arrives as the second version of a signed entry and proves the fork."""
    out = []
    for author, (seq, entry_id) in sorted(remote.items()):
        log = history.logs.get(author)
        if log is None or author == me or author in forks or seq < 1:
            continue
        if seq > log.head:
            out.append(Missing(author, log.head + 1, seq))
        elif log.id_at(seq) != entry_id:
            out.append(Missing(author, seq, seq, bytes(entry_id)))
    return out

"""Checking a store from scratch (``lattice verify``, issue 10): every author's chain (ids,
``prev`` and lipmaa links, lamports), every signature, every payload against its hash,
the index columns against the entries they index, and every matrix cell against the
frontiers the entries commit to. It reads the file only (a running node may hold it) and
reports the first bad position.

>>> import lattice, tempfile, pathlib
>>> me = lattice.Identity.generate()
>>> path = pathlib.Path(tempfile.mkdtemp()) / "a.db"
>>> rep = lattice.Replica(me, peers=[me.public_key], path=path)
>>> _ = rep.append(b"one"); _ = rep.noop(); rep.close()
>>> verify(path).ok, verify(path).entries
(True, 2)
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from lattice import _lattice
from lattice.errors import LatticeError, StoreError

__all__ = ["SEGMENT", "Verdict", "verify"]

#: Entries validated per call (links further back are checked against the ids before).
SEGMENT = 10_000
_ID = _lattice.ID_LEN


@dataclass(frozen=True)
class Verdict:
    """What :func:`verify` found: ``ok``, how many entries it checked, and where the first
    problem is (author, seq) and what it is."""

    ok: bool
    entries: int
    problem: str | None = None
    author: bytes | None = None
    seq: int | None = None

    def __str__(self) -> str:
        if self.ok:
            return f"{self.entries} entries verified: chains, signatures, payloads, cells"
        where = "" if self.author is None else f" (author {self.author[:8].hex()}…, seq {self.seq})"
        return f"{self.problem}{where}"


class _Bad(Exception):
    def __init__(self, problem: str, author: bytes | None = None, seq: int | None = None):
        self.verdict: tuple[str, bytes | None, int | None] = (problem, author, seq)


def verify(path: str | Path) -> Verdict:
    """Check the store file at ``path`` from scratch; StoreError if it cannot be read."""
    target = Path(path)
    if not target.is_file():
        raise StoreError(f"no store at {target}")
    try:
        conn = sqlite3.connect(f"file:{target}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open {target}: {exc}") from exc
    checked = 0
    try:
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        swarm, joined = bytes(meta["swarm_id"]), bytes(meta["peers"])
        peers = [joined[i : i + _ID] for i in range(0, len(joined), _ID)]
        index = {pk: i for i, pk in enumerate(peers)}
        rows = [[0] * len(peers) for _ in peers]
        for author in peers:
            checked += _chain(conn, swarm, author, index, rows)
        stored = {
            (o, s): seq for o, s, seq in conn.execute("SELECT observer, sender, seq FROM cells")
        }
        for o, row in enumerate(rows):
            for s, seq in enumerate(row):
                if stored.get((o, s), 0) != seq:
                    raise _Bad(
                        f"matrix cell ({o}, {s}) is {stored.get((o, s), 0)}, but the entries of "
                        f"observer {o} commit to {seq}",
                        peers[o],
                    )
        extra = [k for k in stored if not (0 <= k[0] < len(peers) and 0 <= k[1] < len(peers))]
        if extra:
            raise _Bad(f"matrix cell {extra[0]} names no peer")
    except _Bad as bad:
        return Verdict(False, checked, *bad.verdict)
    except (sqlite3.Error, KeyError) as exc:
        raise StoreError(f"cannot read {target} (corrupt or truncated?): {exc!r}") from exc
    finally:
        conn.close()
    return Verdict(True, checked)


def _chain(
    conn: sqlite3.Connection,
    swarm: bytes,
    author: bytes,
    index: dict[bytes, int],
    rows: list[list[int]],
) -> int:
    """Check one author's delivered log; raise _Bad at its first problem. Raises the
    author's row of ``rows`` to the frontier its entries commit to."""
    prior: dict[int, bytes] = {}
    expected = 1
    me = index[author]
    cursor = conn.execute(
        "SELECT seq, id, lamport, kind, bytes FROM entries WHERE author = ? ORDER BY seq", (author,)
    )
    count = 0
    while batch := cursor.fetchmany(SEGMENT):
        segment = []
        for seq, entry_id, lamport, kind, data in batch:
            if seq != expected:
                raise _Bad(f"seq {expected} is missing from the log", author, expected)
            expected += 1
            try:
                entry = _lattice.Entry.from_bytes(bytes(data))
            except LatticeError as exc:
                raise _Bad(f"{type(exc).__name__}: {exc}", author, seq) from None
            if (entry.id, entry.author, entry.seq, entry.lamport, entry.kind) != (
                bytes(entry_id), author, seq, lamport, kind,
            ):  # fmt: skip
                raise _Bad("the index columns do not match the stored entry", author, seq)
            for peer, (dep_seq, _) in entry.deps.items():
                p = index.get(peer)
                if p is None:
                    raise _Bad("a dependency names no peer", author, seq)
                rows[me][p] = max(rows[me][p], dep_seq)
            segment.append(bytes(data))
        report = _lattice.validate_chain(
            segment, prior=prior, author=author, swarm=swarm, verify_signatures=True
        )
        if not report.ok:
            raise _Bad(
                f"{type(report.error).__name__}: {report.reason}", author, report.failure_seq
            )
        first = batch[0][0]
        prior.update((first + i, entry_id) for i, entry_id in enumerate(report.ids))
        count += len(batch)
    rows[me][me] = expected - 1
    return count

"""Where an owner keeps its views (DESIGN §8, §13): one SQLite file per deep document.

Each step of a view — its shallow entry, the runs and set members it adds to the map,
the deep position it has taken into account, the last guest nonce it carried out — is
one durable transaction, so after a crash a view is exactly as it was after some step:
the shallow log and the map never disagree, and a guest resumes from its last view seq
with no gap and no duplicate (:class:`lattice.state.views.Views` takes the deep entries
after the step into account again).

>>> store = ViewStore.open(None, doc=b"notes", owner=bytes(32))
>>> store.load()
[]
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass

from lattice import _lattice
from lattice.errors import StoreError
from lattice.state.handover import Handover
from lattice.state.ops import Element

__all__ = ["SCHEMA_VERSION", "Pending", "StoredView", "ViewStore"]

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS views (
    ord INTEGER PRIMARY KEY, view BLOB UNIQUE NOT NULL, guest BLOB NOT NULL,
    nonce BLOB NOT NULL, root BLOB NOT NULL, position INTEGER NOT NULL,
    last_nonce INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS entries (
    view BLOB NOT NULL, seq INTEGER NOT NULL, bytes BLOB NOT NULL, PRIMARY KEY (view, seq));
CREATE TABLE IF NOT EXISTS runs (
    view BLOB NOT NULL, v_entry BLOB NOT NULL, v_index INTEGER NOT NULL,
    d_entry BLOB NOT NULL, d_index INTEGER NOT NULL, count INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS tags (
    view BLOB NOT NULL, m_entry BLOB NOT NULL, m_index INTEGER NOT NULL,
    d_entry BLOB NOT NULL, d_index INTEGER NOT NULL, seq INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS runs_by_view ON runs (view);
CREATE INDEX IF NOT EXISTS tags_by_view ON tags (view);
"""


@dataclass
class Pending:
    """One step of a view waiting for the store (``handover``: the view's first)."""

    view: bytes
    entries: list[_lattice.Entry]
    runs: list[tuple[Element, Element, int]]
    tags: list[tuple[Element, Element, int]]
    position: int
    last_nonce: int
    handover: Handover | None = None


@dataclass
class StoredView:
    """One view as its store holds it."""

    handover: Handover
    entries: list[_lattice.Entry]
    runs: list[tuple[Element, Element, int]]
    tags: list[tuple[Element, Element, int]]
    position: int
    last_nonce: int


class ViewStore:
    """The views of one deep document, durable (or in memory without a path)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    @classmethod
    def open(cls, path: str | os.PathLike[str] | None, *, doc: bytes, owner: bytes) -> ViewStore:
        """Open (or create) the store of ``doc``'s views, owned by ``owner``; a StoreError
        if the file is another document's or another owner's."""
        try:
            conn = sqlite3.connect(":memory:" if path is None else os.fspath(path))
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.executescript(_SCHEMA)
            meta = dict(conn.execute("SELECT key, value FROM meta"))
        except sqlite3.Error as exc:
            raise StoreError(f"the view store cannot be opened: {exc}") from None
        want = {"doc": doc, "owner": owner, "version": SCHEMA_VERSION.to_bytes(4, "big")}
        if not meta:
            with conn:
                conn.executemany("INSERT INTO meta VALUES (?, ?)", want.items())
        elif {k: bytes(v) for k, v in meta.items()} != want:
            conn.close()
            raise StoreError("this view store belongs to another document, owner or version")
        return cls(conn)

    def _step(
        self,
        view: bytes,
        entries: list[_lattice.Entry],
        runs: list[tuple[Element, Element, int]],
        tags: list[tuple[Element, Element, int]],
        position: int,
        last_nonce: int,
    ) -> None:
        c = self._conn
        c.executemany(
            "INSERT INTO entries VALUES (?, ?, ?)", [(view, e.seq, e.to_bytes()) for e in entries]
        )
        c.executemany(
            "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?)",
            [(view, v.entry, v.index, d.entry, d.index, n) for v, d, n in runs],
        )
        c.executemany(
            "INSERT INTO tags VALUES (?, ?, ?, ?, ?, ?)",
            [(view, m.entry, m.index, d.entry, d.index, s) for m, d, s in tags],
        )
        c.execute(
            "UPDATE views SET position = ?, last_nonce = ? WHERE view = ?",
            (position, last_nonce, view),
        )

    def save_many(self, steps: list[Pending]) -> None:
        """Several steps (and new views) in one transaction: one sync to disk for all."""
        try:
            with self._conn as c:
                for p in steps:
                    if p.handover is not None:
                        h = p.handover
                        c.execute(
                            "INSERT INTO views (view, guest, nonce, root, position, last_nonce) "
                            "VALUES (?, ?, ?, ?, ?, 0)",
                            (h.view, h.guest, h.nonce, h.frontier_root, p.position),
                        )
                    self._step(p.view, p.entries, p.runs, p.tags, p.position, p.last_nonce)
        except sqlite3.Error as exc:
            raise StoreError(f"the view store cannot be written: {exc}") from None

    def remove(self, view: bytes) -> None:
        """Forget a view (its guest must be handed a new one)."""
        with self._conn as c:
            for table in ("views", "entries", "runs", "tags"):
                c.execute(f"DELETE FROM {table} WHERE view = ?", (view,))

    def load(self) -> list[StoredView]:
        """Every view, in the order they were handed over."""
        c = self._conn
        out = []
        rows = c.execute(
            "SELECT view, guest, nonce, root, position, last_nonce FROM views ORDER BY ord"
        ).fetchall()
        for view, guest, nonce, root, position, last_nonce in rows:
            handover = Handover(bytes(view), bytes(nonce), bytes(root), bytes(guest))
            entries = [
                _lattice.Entry.from_bytes(b)
                for (b,) in c.execute(
                    "SELECT bytes FROM entries WHERE view = ? ORDER BY seq", (view,)
                )
            ]
            runs = [
                (Element(bytes(ve), vi), Element(bytes(de), di), n)
                for ve, vi, de, di, n in c.execute(
                    "SELECT v_entry, v_index, d_entry, d_index, count FROM runs "
                    "WHERE view = ? ORDER BY rowid",
                    (view,),
                )
            ]
            tags = [
                (Element(bytes(me), mi), Element(bytes(de), di), s)
                for me, mi, de, di, s in c.execute(
                    "SELECT m_entry, m_index, d_entry, d_index, seq FROM tags "
                    "WHERE view = ? ORDER BY rowid",
                    (view,),
                )
            ]
            out.append(StoredView(handover, entries, runs, tags, position, last_nonce))
        return out

    def close(self) -> None:
        self._conn.close()

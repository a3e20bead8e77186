"""Durable storage of one replica: a SQLite file (DESIGN §13).

One file per replica, WAL mode, ``synchronous=FULL``: a call that adds entries returns only
after its transaction is durably committed, so whatever a replica has acknowledged survives
``kill -9`` at any moment. Entries are kept as the exact bytes received, with their id,
author, seq and lamport indexed; the matrix cells are kept beside them so a reopened replica
has the same frontier and matrix without replaying its history.

A file records its format version and swarm id; opening a file of another swarm, or of a
newer format, fails with :class:`~lattice.errors.StoreError`.

>>> from lattice.store import Store
>>> store = Store.open(None, swarm_id=bytes(32), owner=bytes(32), peers=[bytes(32)])
>>> store.count()
0
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from lattice import _lattice
from lattice.errors import InvalidArgument, LatticeError, StoreError
from lattice.schema import LEGACY_WRAPS, STORE_FORMAT_VERSION, TABLES, UPGRADES, WRAP_FORMAT

__all__ = ["STORE_FORMAT_VERSION", "Commit", "Store", "write"]

#: WAL pages between automatic checkpoints (SQLite's default is 1,000).
WAL_CHECKPOINT_PAGES = 10_000
#: SQLite page cache, in KiB.
CACHE_KIB = 64 * 1024
#: SQLite's application_id for lattice files ("LATT").
APPLICATION_ID = 0x4C415454
#: Store files (and SQLite's -wal and -shm beside them, which take the file's mode) are
#: readable by their owner only, like keys.
FILE_MODE = 0o600
#: Beside each store file: the lock that makes its opener the only writer, holding its pid.
LOCK_SUFFIX = ".lock"
#: Attempts at a lock file that keeps being replaced under the opener.
LOCK_TRIES = 3


@dataclass(frozen=True)
class Commit:
    """The rows of one durable commit (see :meth:`Store.add` for what each holds)."""

    entries: list[tuple[bytes, bytes, int, int, int, bytes]]
    cells: list[tuple[int, int, int]]
    evidence: list[tuple[bytes, bytes, int, int, bytes]] = field(default_factory=list)
    fork_cells: list[tuple[int, int, bytes]] = field(default_factory=list)
    frauds: list[tuple[bytes, int, bytes, bool]] = field(default_factory=list)
    announced: list[bytes] = field(default_factory=list)
    penalties: list[tuple[bytes, int]] = field(default_factory=list)


def _configure(c: sqlite3.Connection) -> None:
    """The settings of every connection to a store file."""
    # FULL: a commit is on disk before the call that made it returns (DESIGN §13).
    c.execute("PRAGMA synchronous=FULL")
    # Ingest dirties index pages all over the id index (ids are random): checkpoint
    # the WAL every ~40 MB rather than every 4 MB (nearly every batch), and keep the
    # hot index pages cached. Durability is the commit's, not the checkpoint's.
    c.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
    c.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
    c.execute("PRAGMA foreign_keys=ON")


def write(c: sqlite3.Connection, rows: Commit, path: Path | None) -> None:
    """Store ``rows`` through connection ``c`` in one durable transaction; on failure
    nothing is stored, the connection stays usable and :class:`StoreError` is raised."""
    try:
        c.execute("BEGIN IMMEDIATE")
        c.executemany(
            "INSERT INTO entries (id, author, seq, lamport, kind, bytes) VALUES (?, ?, ?, ?, ?, ?)",
            rows.entries,
        )
        c.executemany(
            "INSERT INTO cells (observer, sender, seq) VALUES (?, ?, ?) "
            "ON CONFLICT (observer, sender) DO UPDATE SET seq = max(seq, excluded.seq)",
            rows.cells,
        )
        # The fork tables are empty in almost every batch: skip their statements.
        for sql, todo in (
            (
                "INSERT OR IGNORE INTO evidence (id, author, seq, lamport, bytes) "
                "VALUES (?, ?, ?, ?, ?)",
                rows.evidence,
            ),
            (
                "INSERT OR REPLACE INTO fork_cells (observer, sender, id) VALUES (?, ?, ?)",
                rows.fork_cells,
            ),
            (
                "INSERT INTO frauds (author, seq, proof, announce) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (author) DO UPDATE SET seq = excluded.seq, "
                "proof = excluded.proof, announce = excluded.announce "
                "WHERE excluded.seq < frauds.seq",
                rows.frauds,
            ),
            ("UPDATE frauds SET announce = 0 WHERE author = ?", [(a,) for a in rows.announced]),
            (
                "INSERT INTO penalties (peer, count) VALUES (?, ?) "
                "ON CONFLICT (peer) DO UPDATE SET count = excluded.count",
                rows.penalties,
            ),
        ):
            if todo:
                c.executemany(sql, todo)
        c.execute("COMMIT")
    except Exception as exc:
        # Whatever failed (SQLite, or a value SQLite cannot hold), nothing is stored
        # and the connection is left usable.
        with contextlib.suppress(sqlite3.Error):
            if c.in_transaction:
                c.execute("ROLLBACK")
        raise StoreError(f"could not store entries in {path or 'memory'}: {exc}") from exc


def _lock(path: Path) -> BinaryIO:
    """Take the exclusive lock beside ``path`` (a store has one writer: DESIGN §13);
    StoreError naming the holder's pid if another opener has it. The lock goes with the
    returned file: when it is closed, or collected with a store nobody closed."""
    try:
        real = path.resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop, say
        raise StoreError(f"cannot resolve the store path {path}: {exc}") from exc
    lock_path = real.with_name(real.name + LOCK_SUFFIX)
    for _ in range(LOCK_TRIES):
        try:
            # Never through a link: a planted symlink must not get some file emptied.
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, FILE_MODE)
        except OSError as exc:
            raise StoreError(f"cannot open the lock {lock_path}: {exc}") from exc
        lock = os.fdopen(fd, "r+b", buffering=0)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = lock.read(32).decode(errors="replace").strip() or "unknown"
            lock.close()
            raise StoreError(
                f"{path} is in use by pid {holder} (one opener per store: stop that node or "
                "close its replica first)"
            ) from None
        except OSError as exc:
            lock.close()
            raise StoreError(f"cannot lock {lock_path}: {exc}") from exc
        # Locked; but if the file was removed and made again meanwhile, another opener may
        # hold the new one: lock that instead.
        try:
            held, there = os.fstat(lock.fileno()), os.stat(lock_path)
            same = (held.st_dev, held.st_ino) == (there.st_dev, there.st_ino)
        except OSError:
            same = False
        if same:
            lock.truncate(0)
            lock.write(f"{os.getpid()}\n".encode())
            return lock
        lock.close()
    raise StoreError(f"cannot lock {lock_path}: it keeps being replaced")


def _unlock(lock: BinaryIO | None) -> None:
    if lock is not None:
        with contextlib.suppress(OSError):
            lock.close()  # closing the file releases the flock


class Store:
    """The SQLite store of one replica. Not thread-safe: one replica, one owner; its
    commits may run on one writer thread instead (:mod:`lattice.writer`)."""

    def __init__(
        self, conn: sqlite3.Connection, path: Path | None, lock: BinaryIO | None = None
    ) -> None:
        self._conn = conn
        self.path = path
        self._lock = lock

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str] | None,
        *,
        swarm_id: bytes,
        owner: bytes,
        peers: Sequence[bytes],
        faults: int | None = None,
    ) -> Store:
        """Open or create the store at ``path`` (``None``: in memory), as its only user:
        a second opener, in this process or another, gets :class:`StoreError` naming the
        pid that holds it. A new file is created readable by its owner only.

        Raises :class:`StoreError` if the file belongs to another swarm, another owner,
        another membership list or another ``faults``, is not a lattice store (corrupt,
        truncated, or something else), or has a format this build does not read.
        """
        target = None if path is None else Path(path)
        lock = None if target is None else _lock(target)
        try:
            if target is not None and not target.exists():
                with contextlib.suppress(FileExistsError):
                    os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
            conn = sqlite3.connect(
                ":memory:" if target is None else target,
                isolation_level=None,  # transactions are explicit (BEGIN/COMMIT)
                check_same_thread=False,
            )
        except (sqlite3.Error, OSError) as exc:
            _unlock(lock)
            raise StoreError(f"cannot open store {target}: {exc}") from exc
        store = cls(conn, target, lock)
        try:
            store._init(swarm_id=swarm_id, owner=owner, peers=peers, faults=faults)
        except sqlite3.Error as exc:
            store.close()
            raise StoreError(f"{target} is not a readable lattice store: {exc}") from exc
        except BaseException:
            store.close()
            raise
        return store

    def _init(
        self, *, swarm_id: bytes, owner: bytes, peers: Sequence[bytes], faults: int | None
    ) -> None:
        c = self._conn
        try:
            app_id = c.execute("PRAGMA application_id").fetchone()[0]
            version = c.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path} is not a lattice store: {exc}") from exc
        tables = c.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if tables and app_id != APPLICATION_ID:
            raise StoreError(f"{self.path} is a SQLite file but not a lattice store")
        if version > STORE_FORMAT_VERSION:
            raise StoreError(
                f"{self.path} has store format {version}; this lattice reads up to "
                f"{STORE_FORMAT_VERSION}: upgrade lattice to open it"
            )
        c.execute("PRAGMA journal_mode=WAL")
        _configure(c)
        if not tables:
            c.execute("BEGIN IMMEDIATE")
            for statement in TABLES:
                c.execute(statement)
            rows = [("swarm_id", swarm_id), ("owner", owner), ("peers", b"".join(peers))]
            if faults is not None:
                rows.append(("faults", str(faults).encode()))
            c.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", rows)
            c.execute(f"PRAGMA application_id={APPLICATION_ID}")
            c.execute(f"PRAGMA user_version={STORE_FORMAT_VERSION}")
            c.execute("COMMIT")
            return
        meta = dict(c.execute("SELECT key, value FROM meta").fetchall())
        if meta.get("swarm_id") != swarm_id:
            raise StoreError(
                f"{self.path} belongs to swarm {bytes(meta.get('swarm_id', b'')).hex()[:16]}…, "
                f"not {swarm_id.hex()[:16]}…"
            )
        if meta.get("owner") != owner:
            raise StoreError(f"{self.path} is the store of another identity")
        if meta.get("peers") != b"".join(peers):
            raise StoreError(
                f"{self.path} was created with another membership list (peers and their order "
                "must match: the matrix is indexed by them)"
            )
        if faults is not None:
            stored = meta.get("faults")
            if stored is None:  # a file from before faults were recorded: record them now
                c.execute(
                    "INSERT INTO meta (key, value) VALUES ('faults', ?)", (str(faults).encode(),)
                )
            elif bytes(stored) != str(faults).encode():
                raise StoreError(
                    f"{self.path} was created with faults = {bytes(stored).decode()}, not "
                    f"{faults} (the quorum depends on it: use the same value)"
                )
        if version < STORE_FORMAT_VERSION:
            self._upgrade(version)

    def _upgrade(self, version: int) -> None:
        """Bring an older file to the current format, in one transaction."""
        c = self._conn
        try:
            c.execute("BEGIN IMMEDIATE")
            for v in range(version, STORE_FORMAT_VERSION):
                for statement in UPGRADES[v]:
                    c.execute(statement)
            if version < WRAP_FORMAT:
                # Until format 3 a home peer wrapped client ops in DATA entries: remember
                # how far its own log went, so their nonces still refuse replays.
                c.execute(
                    "INSERT OR REPLACE INTO meta (key, value) SELECT ?, CAST(CAST(coalesce("
                    "max(seq), 0) AS TEXT) AS BLOB) FROM entries WHERE author = (SELECT value "
                    "FROM meta WHERE key = 'owner')",
                    (LEGACY_WRAPS,),
                )
            c.execute(f"PRAGMA user_version={STORE_FORMAT_VERSION}")
            c.execute("COMMIT")
        except (sqlite3.Error, KeyError) as exc:
            if c.in_transaction:
                c.execute("ROLLBACK")
            raise StoreError(f"cannot upgrade {self.path} from format {version}: {exc}") from exc

    # --- writing -------------------------------------------------------------------------

    def add(
        self,
        entries: Iterable[tuple[bytes, bytes, int, int, int, bytes]],
        cells: Iterable[tuple[int, int, int]],
        *,
        evidence: Iterable[tuple[bytes, bytes, int, int, bytes]] = (),
        fork_cells: Iterable[tuple[int, int, bytes]] = (),
        frauds: Iterable[tuple[bytes, int, bytes, bool]] = (),
        announced: Iterable[bytes] = (),
        penalties: Iterable[tuple[bytes, int]] = (),
    ) -> None:
        """Store, in one durable commit: delivered entries — (id, author, seq, lamport,
        kind, bytes) rows — and the matrix cells they raised; entries of forked authors
        kept as evidence — (id, author, seq, lamport, bytes); the ids observers committed
        to on forked authors — (observer, sender, id); fraud proofs — (author, seq, proof,
        announce); the authors whose fraud this replica has announced; penalty counts.

        On failure nothing is stored and :class:`StoreError` is raised.
        """
        self.commit(
            Commit(
                list(entries),
                list(cells),
                evidence=list(evidence),
                fork_cells=list(fork_cells),
                frauds=list(frauds),
                announced=list(announced),
                penalties=list(penalties),
            )
        )

    def commit(self, rows: Commit) -> None:
        """Store ``rows`` in one durable commit on this store's own connection (see
        :meth:`add`; a :class:`~lattice.writer.CommitWriter` runs the same on its thread)."""
        write(self._conn, rows, self.path)

    def connect_writer(self, busy_timeout: float) -> sqlite3.Connection:
        """A second connection to this store's file, for the one thread that writes
        (:mod:`lattice.writer`). In WAL mode this connection's commits and the reads on
        :attr:`_conn` do not block each other, and those reads see committed data only."""
        if self.path is None:
            raise StoreError("an in-memory store has no file for a writer thread")
        try:
            conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=busy_timeout
            )
            _configure(conn)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open a writer for {self.path}: {exc}") from exc
        return conn

    # --- reading -------------------------------------------------------------------------

    @contextlib.contextmanager
    def _reading(self) -> Iterator[None]:
        """SQLite's errors while reading, as :class:`StoreError`."""
        try:
            yield
        except sqlite3.ProgrammingError as exc:
            raise StoreError(f"the store {self.path or '(memory)'} is closed: {exc}") from exc
        except sqlite3.Error as exc:
            raise StoreError(
                f"cannot read the store {self.path or '(memory)'} (corrupt or truncated?): {exc}"
            ) from exc

    def frauds(self) -> list[tuple[bytes, int, bytes, bool]]:
        """Every stored fraud proof as (author, seq, proof, announce)."""
        with self._reading():
            rows = self._conn.execute(
                "SELECT author, seq, proof, announce FROM frauds ORDER BY rowid"
            )
            return [(bytes(a), s, bytes(p), bool(n)) for a, s, p, n in rows]

    def evidence(
        self, author: bytes | None = None
    ) -> Iterator[tuple[bytes, bytes, int, int, bytes]]:
        """Entries kept as evidence, as (id, author, seq, lamport, bytes), in arrival order."""
        with self._reading():
            if author is None:
                rows = self._conn.execute(
                    "SELECT id, author, seq, lamport, bytes FROM evidence ORDER BY ord"
                )
            else:
                rows = self._conn.execute(
                    "SELECT id, author, seq, lamport, bytes FROM evidence WHERE author = ? "
                    "ORDER BY ord",
                    (author,),
                )
            for i, a, s, lam, data in rows:
                yield bytes(i), bytes(a), s, lam, bytes(data)

    def fork_cells(self) -> list[tuple[int, int, bytes]]:
        """Every (observer, sender, id) commitment to a forked author's entry."""
        with self._reading():
            rows = self._conn.execute("SELECT observer, sender, id FROM fork_cells")
            return [(o, s, bytes(i)) for o, s, i in rows]

    def penalties(self) -> dict[bytes, int]:
        """Penalty count per peer."""
        with self._reading():
            rows = self._conn.execute("SELECT peer, count FROM penalties")
            return {bytes(p): n for p, n in rows}

    def count(self) -> int:
        """Number of stored entries."""
        with self._reading():
            return int(self._conn.execute("SELECT count(*) FROM entries").fetchone()[0])

    def cells(self) -> list[tuple[int, int, int]]:
        """Every stored matrix cell as (observer, sender, seq)."""
        with self._reading():
            return self._conn.execute("SELECT observer, sender, seq FROM cells").fetchall()

    def heads(self) -> Iterator[tuple[bytes, int, bytes, int]]:
        """(author, seq, id, lamport) of every entry, in delivery order; used at start-up to
        rebuild the in-memory id and lamport index."""
        with self._reading():
            yield from self._conn.execute(
                "SELECT author, seq, id, lamport FROM entries ORDER BY ord"
            )

    def entries(self, author: bytes | None = None, since: int = 0) -> Iterator[bytes]:
        """Encoded entries in delivery order (a causal order), optionally of one author
        with seq above ``since``."""
        with self._reading():
            if author is None:
                rows = self._conn.execute("SELECT bytes FROM entries ORDER BY ord")
            else:
                rows = self._conn.execute(
                    "SELECT bytes FROM entries WHERE author = ? AND seq > ? ORDER BY seq",
                    (author, since),
                )
            for (data,) in rows:
                yield data

    def of_kinds(self, kinds: Iterable[int]) -> Iterator[tuple[bytes, int, int, bytes]]:
        """``(author, seq, kind, bytes)`` of the delivered entries of system ``kinds`` (16 and
        up, which are indexed), in delivery order."""
        wanted = sorted(int(k) for k in kinds)
        if any(k < 16 for k in wanted):
            raise InvalidArgument("only system kinds (16 and up) are indexed")
        if not wanted:
            return
        marks = ", ".join("?" * len(wanted))
        with self._reading():
            yield from self._conn.execute(
                "SELECT author, seq, kind, bytes FROM entries "
                f"WHERE kind >= 16 AND kind IN ({marks}) ORDER BY ord",
                wanted,
            )

    def holds_kinds(self, kinds: Iterable[int]) -> bool:
        """Whether any delivered entry is of one of ``kinds`` (a scan: for rare checks such
        as a change of admission policy)."""
        wanted = [int(k) for k in kinds]
        marks = ", ".join("?" * len(wanted))
        with self._reading():
            query = f"SELECT 1 FROM entries WHERE kind IN ({marks}) LIMIT 1"
            return bool(wanted) and self._conn.execute(query, wanted).fetchone() is not None

    def meta(self, key: str) -> bytes | None:
        """The store's ``key`` setting (None when never set)."""
        with self._reading():
            row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else bytes(row[0])

    def set_meta(self, key: str, value: bytes) -> None:
        """Set ``key`` durably (a setting that must outlive the process, such as the
        admission policy the entries were judged under)."""
        with self._reading():
            self._conn.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, bytes(value))
            )

    def legacy_wraps(self) -> int:
        """The last seq of the owner's log from before format 3, in which client ops were
        wrapped in DATA entries (0: none, or a file created at format 3 or later)."""
        value = self.meta(LEGACY_WRAPS)
        return 0 if value is None else int(value)

    def check_tail(self) -> None:
        """The cheap check of opening: the entry delivered last decodes and is the one its
        row indexes (``lattice verify`` checks everything); StoreError if not."""
        with self._reading():
            row = self._conn.execute(
                "SELECT id, bytes FROM entries ORDER BY ord DESC LIMIT 1"
            ).fetchone()
        if row is None:
            return
        try:
            intact = _lattice.Entry.from_bytes(bytes(row[1])).id == bytes(row[0])
        except LatticeError:
            intact = False
        if not intact:
            raise StoreError(f"the last entry in {self.path} is damaged: run `lattice verify`")

    def get(self, entry_id: bytes) -> bytes | None:
        """The encoded delivered entry with this id, if stored."""
        with self._reading():
            row = self._conn.execute(
                "SELECT bytes FROM entries WHERE id = ?", (entry_id,)
            ).fetchone()
            return None if row is None else bytes(row[0])

    def get_any(self, entry_id: bytes) -> bytes | None:
        """The encoded entry with this id, delivered or kept as evidence."""
        with self._reading():
            data = self.get(entry_id)
            if data is not None:
                return data
            row = self._conn.execute(
                "SELECT bytes FROM evidence WHERE id = ?", (entry_id,)
            ).fetchone()
            return None if row is None else bytes(row[0])

    def ord_of(self, author: bytes, seq: int) -> int | None:
        """The delivery position of ``author``'s entry ``seq``, if stored."""
        with self._reading():
            row = self._conn.execute(
                "SELECT ord FROM entries WHERE author = ? AND seq = ?", (author, seq)
            ).fetchone()
            return None if row is None else int(row[0])

    def after(self, position: int, limit: int) -> list[tuple[int, bytes, int, bytes]]:
        """Up to ``limit`` entries delivered after position ``position``, in delivery (causal)
        order, as (position, author, seq, bytes): what a sync stream reads, a batch at a
        time."""
        with self._reading():
            rows = self._conn.execute(
                "SELECT ord, author, seq, bytes FROM entries WHERE ord > ? ORDER BY ord LIMIT ?",
                (position, limit),
            )
            return [(o, bytes(a), s, bytes(b)) for o, a, s, b in rows]

    def range(self, author: bytes, first: int, last: int) -> list[bytes]:
        """Delivered entries of ``author`` with seqs ``first`` to ``last``, in seq order."""
        with self._reading():
            rows = self._conn.execute(
                "SELECT bytes FROM entries WHERE author = ? AND seq BETWEEN ? AND ? ORDER BY seq",
                (author, first, last),
            )
            return [bytes(r[0]) for r in rows]

    def at(self, author: bytes, seq: int) -> bytes | None:
        """The encoded entry of ``author`` at ``seq``, if stored."""
        with self._reading():
            row = self._conn.execute(
                "SELECT bytes FROM entries WHERE author = ? AND seq = ?", (author, seq)
            ).fetchone()
            return None if row is None else bytes(row[0])

    def close(self) -> None:
        """Close the file (checkpointing the WAL) and let others open it."""
        try:
            self._conn.close()
        finally:
            _unlock(self._lock)
            self._lock = None

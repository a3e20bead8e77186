"""The store's writer thread (DESIGN §13): a replica's commits run, in order, on one
thread with a connection of its own, so the caller — a node's event loop — is never
stalled by an ``fsync``.

A commit is handed over as its rows (:class:`~lattice.store.Commit`) and comes back as a
:class:`concurrent.futures.Future`. Commits run strictly in the order they were
submitted; once one fails, every commit queued behind it fails too (it was checked
against state that is now not stored) until :meth:`CommitWriter.reset` — so the store
never holds an entry whose dependency was lost. Reads stay on the store's own connection:
in WAL mode they see committed data only, which is what a node may serve.

>>> import tempfile, pathlib
>>> from lattice.store import Commit, Store
>>> path = pathlib.Path(tempfile.mkdtemp()) / "w.db"
>>> store = Store.open(path, swarm_id=bytes(32), owner=bytes(32), peers=[bytes(32)])
>>> writer = CommitWriter(store)
>>> row = (bytes([1]) * 32, bytes(32), 1, 1, 1, b"bytes")
>>> writer.submit(Commit([row], [])).result()
>>> store.count()
1
>>> writer.close(); store.close()
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor

from lattice.errors import StoreError
from lattice.store import Commit, Store, write

__all__ = ["DEFAULT_BUSY_TIMEOUT", "CommitWriter"]

log = logging.getLogger("lattice.writer")

#: Seconds a commit waits for a lock held by another connection before it fails.
DEFAULT_BUSY_TIMEOUT = 30.0


class CommitWriter:
    """One thread that runs a store's commits in submission order."""

    def __init__(self, store: Store, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> None:
        self.path = store.path
        self._conn = store.connect_writer(busy_timeout)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lattice-commit")
        self._lock = threading.Lock()
        self._failed: StoreError | None = None
        self._last: Future[None] | None = None
        # Commits submitted and not finished, oldest first (read by find()).
        self._in_flight: deque[Commit] = deque()

    @property
    def failed(self) -> StoreError | None:
        """The failure that stopped this writer, until :meth:`reset`."""
        return self._failed

    @property
    def queued(self) -> int:
        """Commits submitted and not finished yet."""
        return len(self._in_flight)

    def submit(self, rows: Commit) -> Future[None]:
        """Queue one commit; the future is done once it is durable (or has failed with
        :class:`StoreError`). It cannot be cancelled: a commit, once handed over, runs."""
        done: Future[None] = Future()
        done.set_running_or_notify_cancel()
        with self._lock:
            # Appended and queued together, so _in_flight is in the thread's order.
            self._in_flight.append(rows)
            try:
                self._pool.submit(self._run, rows, done)
            except RuntimeError as exc:  # the writer is closed
                self._in_flight.pop()
                raise StoreError(f"the writer of {self.path} is closed") from exc
        self._last = done
        return done

    def _run(self, rows: Commit, done: Future[None]) -> None:
        error: StoreError | None = None
        try:
            if self._failed is not None:
                raise StoreError(
                    f"not stored in {self.path}: an earlier commit failed ({self._failed})"
                )
            write(self._conn, rows, self.path)
        except StoreError as exc:
            if self._failed is None:
                log.error("commit failed: %s", exc)
                self._failed = exc
            error = exc
        except BaseException as exc:  # never leave a waiter without an answer
            error = StoreError(f"commit to {self.path} failed: {exc!r}")
            self._failed = self._failed or error
        finally:
            # Every commit runs, in submission order: the oldest in flight is this one.
            # It leaves only now, after COMMIT, so find() never misses an entry.
            with self._lock:
                self._in_flight.popleft()
        if error is None:
            done.set_result(None)
        else:
            done.set_exception(error)

    def find(self, entry_id: bytes) -> bytes | None:
        """The bytes of the entry with this id in a commit not finished yet (delivered or
        kept as evidence), if any: a caller may need an entry it handed over before it is
        stored, and must not wait for the disk to get it."""
        with self._lock:
            commits = list(self._in_flight)
        for rows in commits:
            for row in rows.entries:
                if row[0] == entry_id:
                    return row[5]
            for ev in rows.evidence:
                if ev[0] == entry_id:
                    return ev[4]
        return None

    def last(self) -> Future[None] | None:
        """The future of the latest commit submitted (done: everything before it is too),
        or None when nothing was ever submitted."""
        return self._last

    def wait(self) -> None:
        """Block until every submitted commit has finished; raise the :class:`StoreError`
        of the latest if it failed."""
        if self._last is not None:
            self._last.result()

    def drain(self) -> None:
        """Wait until every submitted commit has finished, failed or not."""
        if self._last is not None:
            with contextlib.suppress(StoreError):
                self._last.result()

    def reset(self) -> None:
        """After a failure, once the caller has rebuilt its state from the store: accept
        commits again (call :meth:`drain` first; the queued ones fail too)."""
        self.drain()
        # Forget the failed future too: what comes next is not behind it.
        self._last = None
        self._failed = None

    def close(self) -> None:
        """Finish every queued commit, stop the thread and close its connection."""
        self._pool.shutdown(wait=True)
        self._conn.close()

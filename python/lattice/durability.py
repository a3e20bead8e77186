"""The durable half of a :class:`~lattice.Replica` (DESIGN §13): commits on the caller's
thread or on one writer thread, what to do when a background commit failed, and closing.

A replica with a ``path`` commits every delivery and append to its SQLite store before the
call returns. A node calls :meth:`Durability.commit_in_background` once, so that its event
loop never waits for ``fsync``: calls then return with their commit queued, and
:meth:`Durability.committed` says when it is durable.
"""

from __future__ import annotations

from concurrent.futures import Future

from lattice import _lattice
from lattice.store import Store
from lattice.writer import DEFAULT_BUSY_TIMEOUT, CommitWriter

__all__ = ["Durability"]


class Durability:
    """Commit mode, recovery and closing of a replica (mixed into :class:`~lattice.Replica`)."""

    _store: Store
    _writer: CommitWriter | None

    def _reset(self) -> None:
        """Rebuild the in-memory state from the store (the replica's own)."""
        raise NotImplementedError

    def _announce_stored(self) -> list[_lattice.Entry]:
        """Append the FRAUD entries of forks stored without one (the replica's own)."""
        raise NotImplementedError

    def commit_in_background(self, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> None:
        """Run this replica's commits on one writer thread (:mod:`lattice.writer`) from now
        on: calls that deliver or append return once their commit is *queued*, and
        :meth:`committed` says when it is durable — for a node, whose event loop must not
        wait for ``fsync`` and relays or acknowledges only after it. Needs a store file.

        >>> import lattice, tempfile, pathlib
        >>> me = lattice.Identity.generate()
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "r.db"
        >>> rep = lattice.Replica(me, peers=[me.public_key], path=path)
        >>> rep.commit_in_background()
        >>> e = rep.append(b"queued")
        >>> rep.committed().result()  # durable from here on
        >>> rep.close()
        """
        if self._writer is None:
            self._writer = CommitWriter(self._store, busy_timeout)

    def committed(self) -> Future[None] | None:
        """The future of the latest background commit: done once everything returned so
        far is durable (commits finish in order), or failed with :class:`StoreError` (then
        call :meth:`recover`). None when commits are synchronous or none was made."""
        return None if self._writer is None else self._writer.last()

    def recover_needed(self) -> bool:
        """True when a background commit failed and :meth:`recover` has not run since."""
        return self._writer is not None and self._writer.failed is not None

    def recover(self) -> list[_lattice.Entry]:
        """After a background commit failed: let the commits queued behind it fail too,
        rebuild the in-memory state from the store, so the replica is again exactly what
        its store holds (what was not stored can be received again), and announce any
        fork stored without its FRAUD entry. Returns the entries this appended (to relay
        once committed); does nothing when no commit failed."""
        if self._writer is None or self._writer.failed is None:
            return []
        self._writer.drain()
        self._reset()  # raises if the store cannot be read: the writer stays failed
        self._writer.reset()
        return self._announce_stored()

    def close(self) -> None:
        """Finish the queued commits and close the store."""
        try:
            if self._writer is not None:
                self._writer.close()
        finally:
            self._store.close()

"""A guest of an owner node (DESIGN §8): the guest role's side of the connection.

A guest connects to its owner in the ``guest`` role, opens a view of one document
(``VIEW_OPEN``: a new one the first time, its own again after that, from its last view
seq), grants credit for the shallow log and checks every entry it receives with the
ordinary chain validation (:class:`lattice.state.guest.Guest`). It writes with signed
guest ops; each is acknowledged once its owner has carried it out, and its effect comes
back as view entries. What it holds (the view id and its shallow log) lives in a small
SQLite file, so the next run resumes the view with no gap and no duplicate.

>>> import asyncio, tempfile, pathlib
>>> import lattice
>>> from lattice.net.local import local_swarm
>>> async def demo():
...     me = lattice.Identity.generate()
...     nodes = await local_swarm(1, pathlib.Path(tempfile.mkdtemp()),
...                               shares={b"notes": [me.public_key]})
...     nodes[0].documents.open(b"notes").text("t").insert(0, "hello")
...     async with await GuestClient.connect(
...         nodes[0].listen_address, me, bytes(32), b"notes") as g:
...         await g.insert("t", 5, " world")
...         text = str(g.guest.doc.text("t"))
...     await nodes[0].stop()
...     return text
>>> asyncio.run(demo())
'hello world'
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import time
from collections.abc import Callable

from lattice import _lattice
from lattice.errors import GuestRefused, LatticeError, ProtocolError, StoreError
from lattice.identity import Identity
from lattice.net import wire
from lattice.net.connection import Connection, Limits, dial, keep_alive
from lattice.state.guest import Guest

__all__ = ["GUEST_CREDIT", "GuestClient", "GuestStore"]

#: Bytes of view entries a guest takes before it returns credit.
GUEST_CREDIT = 8 << 20
_NEW_VIEW = bytes(_lattice.ID_LEN)


class GuestStore:
    """The guest's views, one per document: the view id, the owner, the shallow log."""

    def __init__(self, path: str | os.PathLike[str] | None) -> None:
        try:
            self._conn = sqlite3.connect(":memory:" if path is None else os.fspath(path))
            self._conn.executescript(
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                "CREATE TABLE IF NOT EXISTS views (doc BLOB PRIMARY KEY, view BLOB NOT NULL,"
                " owner BLOB NOT NULL, nonce INTEGER NOT NULL DEFAULT 0);"
                "CREATE TABLE IF NOT EXISTS entries (view BLOB NOT NULL, seq INTEGER NOT NULL,"
                " bytes BLOB NOT NULL, PRIMARY KEY (view, seq));"
            )
        except sqlite3.Error as exc:
            raise StoreError(f"the guest store cannot be opened: {exc}") from None

    def view(self, doc: bytes) -> tuple[bytes, bytes] | None:
        """``(view, owner)`` of ``doc``, if this guest holds one."""
        row = self._conn.execute("SELECT view, owner FROM views WHERE doc = ?", (doc,)).fetchone()
        return None if row is None else (bytes(row[0]), bytes(row[1]))

    def nonce(self, doc: bytes) -> int:
        """The last nonce this guest signed for its view of ``doc`` (0: none)."""
        row = self._conn.execute("SELECT nonce FROM views WHERE doc = ?", (doc,)).fetchone()
        return 0 if row is None else int(row[0])

    def signed(self, doc: bytes, nonce: int) -> None:
        """Remember the nonce of a guest op before it is sent (never signed twice)."""
        with self._conn as c:
            c.execute("UPDATE views SET nonce = max(nonce, ?) WHERE doc = ?", (nonce, doc))

    def forget(self, doc: bytes) -> None:
        """Drop this guest's view of ``doc`` (its owner closed it: a new one is asked for)."""
        with self._conn as c:
            old = self.view(doc)
            if old is not None:
                c.execute("DELETE FROM entries WHERE view = ?", (old[0],))
            c.execute("DELETE FROM views WHERE doc = ?", (doc,))

    def entries(self, view: bytes) -> list[bytes]:
        rows = self._conn.execute("SELECT bytes FROM entries WHERE view = ? ORDER BY seq", (view,))
        return [bytes(b) for (b,) in rows]

    def keep(self, doc: bytes, view: bytes, owner: bytes, entries: list[_lattice.Entry]) -> None:
        """A new view of ``doc`` (replacing an older one), or more of its entries."""
        with self._conn as c:
            old = self.view(doc)
            if old is not None and old[0] != view:
                c.execute("DELETE FROM entries WHERE view = ?", (old[0],))
            if old is None or old[0] != view:
                c.execute("INSERT OR REPLACE INTO views VALUES (?, ?, ?, 0)", (doc, view, owner))
            c.executemany(
                "INSERT OR IGNORE INTO entries VALUES (?, ?, ?)",
                [(view, e.seq, e.to_bytes()) for e in entries],
            )

    def close(self) -> None:
        self._conn.close()


class GuestClient:
    """A connection to an owner in the guest role, serving one view."""

    def __init__(self, conn: Connection, identity: Identity, doc: bytes, store: GuestStore) -> None:
        self.conn = conn
        self.identity = identity
        self.doc_id = doc
        self.store = store
        self.guest: Guest
        self._credit = 0
        self._acks: dict[int, asyncio.Future[int]] = {}
        self._changed = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None
        self._keepalive: asyncio.Task[None] | None = None
        self._failure: LatticeError | None = None

    @classmethod
    async def connect(
        cls,
        address: tuple[str, int] | None,
        identity: Identity,
        swarm_id: bytes,
        doc: bytes,
        store: GuestStore | None = None,
        limits: Limits | None = None,
        tap: Callable[[bytes], None] | None = None,
        owner: bytes | None = None,
    ) -> GuestClient:
        """Connect to the owner at ``address`` (``owner``: the key it must authenticate
        with), open this guest's view of ``doc`` (a new one unless ``store`` holds one, or
        if the owner closed it) and return once the view is synced. ``tap`` is told every
        plaintext byte string received (the owner's hello, then every frame)."""
        store = store or GuestStore(None)
        try:
            return await cls._connect(address, identity, swarm_id, doc, store, limits, tap, owner)
        except GuestRefused as exc:
            gone = "no such view" in str(exc) or "ahead of the view" in str(exc)
            if not gone or store.view(doc) is None:
                raise
            store.forget(doc)  # the owner closed the view: ask for a new one
            return await cls._connect(address, identity, swarm_id, doc, store, limits, tap, owner)

    @classmethod
    async def _connect(
        cls,
        address: tuple[str, int] | None,
        identity: Identity,
        swarm_id: bytes,
        doc: bytes,
        store: GuestStore,
        limits: Limits | None,
        tap: Callable[[bytes], None] | None,
        owner: bytes | None,
    ) -> GuestClient:
        conn = await dial(
            address, identity, swarm_id, _lattice.ROLE_GUEST, limits or Limits(),
            expect=owner, tap=tap,
        )  # fmt: skip
        client = cls(conn, identity, doc, store)
        try:
            await client._open()
        except BaseException:
            await conn.close()
            raise
        return client

    @property
    def owner(self) -> bytes:
        return self.conn.remote

    async def _open(self) -> None:
        held = self.store.view(self.doc_id)
        if held is not None and held[1] != self.owner:
            held = None  # a view of another owner: this one hands over a new one
        view = held[0] if held else _NEW_VIEW
        since = 0
        if held:
            self.guest = Guest(self.identity, self.owner, view)
            result = self.guest.receive(self.store.entries(view))
            if result.rejected:
                raise StoreError("the stored shallow log does not verify")
            since = self.guest.seq
        await self.conn.send(wire.ViewOpen(self.doc_id, view, since))
        await self.conn.send(wire.Credit(GUEST_CREDIT))
        served = await self._next()
        if not isinstance(served, wire.View) or (held and served.view != view):
            raise ProtocolError(f"the owner answered {type(served).__name__}, not the view")
        if not held:
            self.guest = Guest(self.identity, self.owner, served.view)
        while True:
            msg = await self._next()
            if isinstance(msg, wire.Synced):
                break
            await self._handle(msg)
        if self.guest.seq < served.seq:
            raise ProtocolError(f"synced at view seq {self.guest.seq}, not {served.seq}")
        self.guest.last_nonce = self.store.nonce(self.doc_id)
        self._reader = asyncio.get_running_loop().create_task(self._read())
        self._keepalive = asyncio.get_running_loop().create_task(self._keep_alive())

    async def _next(self) -> wire.Message:
        while True:
            msg = await self.conn.recv()
            if isinstance(msg, wire.Refused):
                raise GuestRefused(f"refused by the owner: {msg.reason}", author=self.owner)
            if not isinstance(msg, wire.Ping):
                return msg

    async def _handle(self, msg: wire.Message) -> None:
        if isinstance(msg, wire.Entries):
            result = self.guest.receive(list(msg.entries))
            if result.rejected:
                _, why = result.rejected[0]
                raise ProtocolError(f"a view entry that does not verify: {why}")
            self.store.keep(self.doc_id, self.guest.view, self.owner, result.delivered)
            size = sum(len(e) for e in msg.entries)
            self._credit += size
            if self._credit >= GUEST_CREDIT // 2:
                await self.conn.send(wire.Credit(self._credit))
                self._credit = 0
            self._changed.set()
        elif isinstance(msg, wire.GuestAck):
            waiter = self._acks.pop(msg.nonce, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(msg.seq)
        else:
            raise ProtocolError(f"unexpected {type(msg).__name__} from the owner")

    async def _read(self) -> None:
        try:
            while True:
                await self._handle(await self._next())
        except LatticeError as exc:
            self._failure = exc
        except OSError as exc:
            self._failure = ProtocolError(f"connection lost: {exc}")
        finally:
            for waiter in self._acks.values():
                if not waiter.done():
                    waiter.set_exception(self._failure or ProtocolError("connection closed"))
            self._changed.set()

    async def _keep_alive(self) -> None:
        await keep_alive(self.conn)

    # --- writing ----------------------------------------------------------------------

    async def send(self, op: _lattice.ClientOp, timeout: float = 30.0) -> None:
        """Send a guest op and wait until its owner has carried it out and the view shows
        it (the view entries that follow the acknowledgement)."""
        if self._failure is not None:
            raise self._failure
        waiter: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._acks[op.nonce] = waiter
        self.store.signed(self.doc_id, op.nonce)
        await self.conn.send(wire.Op(op.to_bytes()))
        shown = await asyncio.wait_for(waiter, timeout)
        # The view entries that show it follow the acknowledgement.
        deadline = time.monotonic() + timeout
        while self.guest.seq < shown and time.monotonic() < deadline:
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), 0.2)
            if self._failure is not None:
                raise self._failure

    async def insert(self, name: str, index: int, text: str) -> None:
        await self.send(self.guest.insert(name, index, text))

    async def delete(self, name: str, index: int, length: int = 1) -> None:
        await self.send(self.guest.delete(name, index, length))

    async def close(self) -> None:
        for task in (self._reader, self._keepalive):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        await self.conn.close()

    async def __aenter__(self) -> GuestClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

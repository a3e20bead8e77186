"""The session with a guest (DESIGN §8): its owner serves it one view of one document.

A guest is neither a peer nor a client: the owner admits it if its configuration shares a
document with the guest's key (``[[shares]]``), and never sends it anything of the deep
log — no FRONTIER, no deep ENTRIES, no answer to a REQUEST. The guest opens a view
(``VIEW_OPEN``: a new handover, or its view again from its last view seq), the owner
answers ``VIEW`` and streams the shallow log within the credit the guest grants, then
``SYNCED``, then every new view entry as it is made. A guest op (``OP``) is carried out
on the deep log (:meth:`lattice.state.views.Views.write`) and acknowledged with
``GUEST_ACK`` once the deep entry is durable; its effect arrives as view entries. Anything
else — a refused op, a request for deep entries, another guest's view — is a ``REFUSED``
and a cut connection.

In a swarm with an admission policy (DESIGN §11) a new view is handed over only to an
admitted guest (``NotAdmitted`` otherwise), and its ops are charged to its budget and
score as a client's are (:mod:`lattice.net.reputation`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from typing import TYPE_CHECKING

from lattice import _lattice
from lattice.errors import (
    GuestRefused,
    HandshakeRefused,
    LatticeError,
    NotAdmitted,
    OverBudget,
    ProtocolError,
)
from lattice.net import wire
from lattice.net.config import Member
from lattice.net.connection import Connection
from lattice.net.sessions.base import NodeContext, Session, refuse
from lattice.state import guestop

if TYPE_CHECKING:
    from lattice.state.view import View
    from lattice.state.views import Views

__all__ = ["MAX_GUESTS", "MAX_SESSIONS_PER_GUEST", "GuestSession"]

log = logging.getLogger("lattice.node")

#: Guest connections one owner serves at once.
MAX_GUESTS = 256
#: Connections of one guest key at once.
MAX_SESSIONS_PER_GUEST = 4
#: Largest frame a guest may send: one OP with a guest op (its largest payload and the
#: client op around it), or a VIEW_OPEN.
MAX_GUEST_FRAME = 1 + guestop.MAX_GUEST_OP_LEN + 256
#: Most entries in one ENTRIES frame to a guest.
_BATCH = 256
_NEW_VIEW = bytes(_lattice.ID_LEN)
_TICK = 1.0


class GuestSession(Session):
    """One live connection to a guest of this owner."""

    role = _lattice.ROLE_GUEST
    max_frame = MAX_GUEST_FRAME

    @classmethod
    def admit(cls, node: NodeContext, conn: Connection, member: Member | None) -> None:
        if node.config.role != "peer":
            raise HandshakeRefused("only peers own documents to share", author=conn.remote)
        if member is not None:
            raise HandshakeRefused("a registered peer is not a guest", author=conn.remote)
        if not any(conn.remote in (v.guests or ()) for v in node.shares.values()):
            raise HandshakeRefused(
                "not a guest of this node (the owner lists guests in [[shares]])",
                author=conn.remote,
            )
        if node.count(cls.role) >= MAX_GUESTS:
            raise HandshakeRefused("too many guests connected", author=conn.remote)
        if node.sessions_of(conn.remote) >= MAX_SESSIONS_PER_GUEST:
            raise HandshakeRefused(
                f"this guest has {MAX_SESSIONS_PER_GUEST} sessions already", author=conn.remote
            )
        if node.reputation is not None:
            node.reputation.admit(conn.remote)  # a graylisted guest is refused here

    def __init__(self, node: NodeContext, conn: Connection, member: Member | None) -> None:
        super().__init__(node, conn, member)
        self.view: View | None = None
        self.views: Views | None = None
        self.credit = 0
        self._out: deque[wire.Message] = deque()  # small messages, sent first
        # The view's log is the queue: the last seq sent (up to what its store holds,
        # View.stored_seq), and the seq SYNCED follows (None until the open is durable).
        self._cursor = 0
        self._synced_at: int | None = None
        self._closed: str | None = None  # why the view closed under this session
        self._synced = False
        self._wake = asyncio.Event()

    async def run(self) -> None:
        conn = self.conn
        opening = await conn.recv()
        if not isinstance(opening, wire.ViewOpen):
            raise await self._cut(f"a guest opens a view first, not {type(opening).__name__}")
        try:
            self._open(opening)
        except LatticeError as exc:
            raise await self._cut(f"view refused: {exc}") from exc
        writer = self.node.spawn(self._writer())
        try:
            while True:
                msg = await conn.recv()
                match msg:
                    case wire.Credit(n):
                        self.credit += n
                        self._wake.set()
                    case wire.Op(raw):
                        await self._write(raw)
                    case wire.Ping():
                        pass
                    case _:
                        raise await self._cut(
                            f"a guest may not send {type(msg).__name__} (it reads its own "
                            "view and writes guest ops, nothing else)"
                        )
        finally:
            writer.cancel()
            self._stop_following()

    def _open(self, msg: wire.ViewOpen) -> None:
        views = self.node.shares.get(msg.doc)
        guest = self.conn.remote
        if views is None or guest not in (views.guests or ()):
            raise GuestRefused("this document is not shared with this guest")
        trust = self.node.replica.trust
        if trust is not None and not trust.admitted(guest):  # DESIGN §11: handover or reopen
            raise NotAdmitted(f"guest {guest.hex()[:16]}…: {trust.why(guest)}", author=guest)
        if msg.view == _NEW_VIEW:
            if msg.since:
                raise GuestRefused("a new view starts at its genesis (since = 0)")
            view = views.handover(guest)
        else:
            view = views.view(msg.view, guest)
        if msg.since > view.seq:
            raise GuestRefused(f"view seq {msg.since} is ahead of the view ({view.seq})")
        self.view, self.views, self._cursor = view, views, msg.since
        views.listeners.append(self._follow)
        views.closers.append(self._view_closed)
        seq = view.seq

        def start() -> None:  # once the deep changes the view shows so far are stored
            self._out.append(wire.View(view.id, seq))
            self._synced_at = seq
            self._wake.set()

        def failed(exc: LatticeError) -> None:
            self._close_with(f"the owner could not store its log: {exc}")

        self.node.after_commit(start, failed)

    def _follow(self, view: View, entry: _lattice.Entry) -> None:
        """A new entry of a view, stored (Views tells its listeners once it is)."""
        if view is self.view:
            self._wake.set()

    def _view_closed(self, view: View) -> None:
        if view is self.view:
            self._close_with("no such view: its owner closed it (ask for a new one)")

    def _close_with(self, reason: str) -> None:
        """End the session from outside its reader: the writer sends REFUSED and closes."""
        self._closed = reason
        self._wake.set()

    def _stop_following(self) -> None:
        if self.views is not None:
            if self._follow in self.views.listeners:
                self.views.listeners.remove(self._follow)
            if self._view_closed in self.views.closers:
                self.views.closers.remove(self._view_closed)

    async def _write(self, raw: bytes) -> None:
        node, guest = self.node, self.conn.remote
        assert self.views is not None
        try:
            op = _lattice.ClientOp.from_bytes(raw)
            if op.client != guest:
                raise GuestRefused("a guest op signed by another key")
            if self.view is None or op.swarm != self.view.id:
                raise GuestRefused("a guest op for another view than this session's")
            trust = node.replica.trust
            if trust is not None and not trust.admitted(guest):  # revoked since it opened
                raise NotAdmitted(f"guest {guest.hex()[:16]}…: {trust.why(guest)}", author=guest)
            now = time.monotonic()
            quota = self.quota(now)
            quota.check(len(raw), now)
            node.selfcheck.require()  # the owner signs the deep entry
            if node.reputation is not None:
                wait = node.reputation.charge(guest, len(raw))
                if wait:
                    await asyncio.sleep(wait)  # slowed: one op at a time, nothing read meanwhile
            quota.take(len(raw), now)
            self.views.write(op)
        except LatticeError as exc:
            if node.reputation is not None and not isinstance(exc, OverBudget):
                node.reputation.invalid(guest)  # a refused guest op counts against it
            raise await self._cut(f"guest op refused: {exc}") from exc
        if node.reputation is not None:
            node.reputation.delivered(guest)
        assert self.view is not None
        seq = self.view.seq  # the view showed it at once (or never: nothing visible changed)
        await node.durable()  # the deep entry is stored (and relayed) before the ack
        self._out.append(wire.GuestAck(op.nonce, seq))
        self._wake.set()

    async def _cut(self, reason: str) -> ProtocolError:
        """Refuse and close; the error to raise (the session ends)."""
        self._stop_following()
        await refuse(self.conn, reason)
        return ProtocolError(reason, author=self.conn.remote)

    async def _writer(self) -> None:
        """Small messages first; then the view's entries after the cursor, in batches within
        the guest's credit, up to SYNCED and on; pings when idle."""
        conn = self.conn
        with contextlib.suppress(LatticeError, OSError):
            while not self.done.is_set():
                if self._closed is not None:
                    self._stop_following()
                    await refuse(conn, self._closed)
                    return
                while self._out:
                    await conn.send(self._out.popleft())
                if self._synced_at is not None and await self._send_entries():
                    continue
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), _TICK)
                except TimeoutError:
                    await conn.send(wire.Ping())

    async def _send_entries(self) -> bool:
        """One batch, or SYNCED; whether anything was sent."""
        assert self.view is not None and self._synced_at is not None
        stored = self.view.stored_seq
        end = stored if self._synced else min(stored, self._synced_at)
        if self._cursor >= end:
            if not self._synced and self._cursor >= self._synced_at:
                self._synced = True
                await self.conn.send(wire.Synced())
                return True
            return False
        batch: list[bytes] = []
        size = 0
        for entry in self.view.shallow.iter_entries(self.view.owner, self._cursor):
            data = entry.to_bytes()
            if entry.seq > end or len(batch) >= _BATCH or size + len(data) > self.credit:
                break
            batch.append(data)
            size += len(data)
        if not batch:
            return False  # out of credit: the guest grants more as it stores what it got
        self.credit -= size
        self._cursor += len(batch)
        await self.conn.send(wire.Entries(batch))
        return True

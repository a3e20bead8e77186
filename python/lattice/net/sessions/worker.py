"""The session with a grid worker (DESIGN §12): the owner hands it one task at a time.

A worker is a guest (§8) of the owner's grid: neither a registered peer nor a client,
admitted by §11 — its proof of work or a vouch, which it may have the owner carry first
(``ADMIT``, as a client does). It asks for work (``WORK``: how many tasks at once), and
gets each task as the genesis of a fresh view (``TASK``): the task's collapsed document,
signed by the owner, and nothing else of the owner's log. It answers with client ops in
that view: a commit, and once asked (``REVEAL``) the reveal; each is acknowledged
(``GRID_ACK``) once the owner's log holds what it changed, or as ignored if the task moved
on without it (``ABANDON`` says so). Anything else — an op signed by another key, for
another worker's view, a reveal that does not open the commit, a commit after the reveals
opened, a malformed or oversized result — is refused, counts against the worker's score,
and ends the session. Its ops are not charged to a budget (the owner asked for each one it
takes), and a graylisted worker is refused at the handshake. An op that comes while the
owner cannot sign (a restart, not caught up) waits for it; one that waits too long ends
the session without counting against the worker. A task's genesis is made off the event
loop, in order with what the session sends.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable

from lattice import _lattice
from lattice.errors import (
    DecodeError,
    HandshakeRefused,
    LatticeError,
    NotAdmitted,
    NotSynced,
    ProtocolError,
    ResultRefused,
)
from lattice.grid.kernels import KERNELS
from lattice.net import wire
from lattice.net.config import Member
from lattice.net.connection import Connection
from lattice.net.sessions.base import NodeContext, Session, refuse
from lattice.net.sessions.records import AlreadyCarried, carry

__all__ = ["MAX_OUTBOX", "MAX_SESSIONS_PER_WORKER", "WorkerSession"]

log = logging.getLogger("lattice.node")

#: Connections of one worker key at once.
MAX_SESSIONS_PER_WORKER = 1
#: Messages waiting to be sent to one worker; a worker that lets more pile up is cut.
MAX_OUTBOX = 256
#: Seconds a worker's op waits for an owner that cannot sign yet.
WRITABLE_WAIT = 8.0
_TICK = 1.0
_Outgoing = wire.Message | tuple[bytes, int, Callable[[], bytes]]
#: What a worker is blamed for: a refused op, bytes that are not one, a revoked admission
#: (anything else that goes wrong while its op is taken is the owner's failing).
_WORKER_FAULTS = (ResultRefused, DecodeError, NotAdmitted)


class WorkerSession(Session):
    """One live connection to a worker of this owner's grid (a scheduler Link)."""

    role = _lattice.ROLE_WORKER
    max_frame = wire.MAX_CLIENT_FRAME

    @classmethod
    def admit(cls, node: NodeContext, conn: Connection, member: Member | None) -> None:
        grid = node.config.grid
        if node.grid is None or grid is None:
            raise HandshakeRefused("this node owns no grid ([grid])", author=conn.remote)
        if member is not None:
            raise HandshakeRefused("a registered peer is not a worker", author=conn.remote)
        if node.count(cls.role) >= grid.max_workers:
            raise HandshakeRefused("too many workers connected", author=conn.remote)
        if node.sessions_of(conn.remote) >= MAX_SESSIONS_PER_WORKER:
            raise HandshakeRefused("this worker is connected already", author=conn.remote)
        if node.reputation is not None:
            node.reputation.admit(conn.remote)  # a graylisted worker is refused here

    def __init__(self, node: NodeContext, conn: Connection, member: Member | None) -> None:
        super().__init__(node, conn, member)
        self.key = conn.remote
        self._out: deque[_Outgoing] = deque()
        self._wake = asyncio.Event()
        self._working = False
        self._overflow = False
        self.kernels: frozenset[str] = frozenset()

    # --- Link: what the scheduler sends ------------------------------------------------

    def assign(self, view: bytes, deadline: float, genesis: Callable[[], bytes]) -> None:
        self._send((view, min(int(deadline * 1000), 2**32 - 1), genesis))

    def reveal_now(self, view: bytes) -> None:
        self._send(wire.Reveal(view))

    def abandon(self, view: bytes, reason: str) -> None:
        self._send(wire.Abandon(view, reason))

    def _send(self, msg: _Outgoing) -> None:
        if len(self._out) >= MAX_OUTBOX:
            self._overflow = True  # it does not read what it is sent: the writer cuts it
        else:
            self._out.append(msg)
        self._wake.set()

    # --- the connection ------------------------------------------------------------------

    async def run(self) -> None:
        grid = self.node.grid
        assert grid is not None
        writer = self.node.spawn(self._writer())
        try:
            while True:
                msg = await self.conn.recv()
                match msg:
                    case wire.Admit(kind, record):
                        await self._carry(kind, record)
                    case wire.Work(slots, kernels):
                        try:
                            self._admitted()
                        except NotAdmitted as exc:
                            raise await self._cut(f"no work: {exc}", penalise=True) from exc
                        if self._working:  # its slots are set once per connection
                            raise await self._cut("a second WORK", penalise=True)
                        self.kernels = frozenset(kernels) & KERNELS.keys()
                        if not self.kernels:
                            raise await self._cut(
                                f"a WORK for no kernel this owner knows ({', '.join(kernels)})",
                                penalise=False,
                            )
                        self._working = True
                        grid.scheduler.ready(self, slots)
                    case wire.Op(raw):
                        await self._answer(raw)
                    case wire.Ping():
                        pass
                    case _:
                        raise await self._cut(
                            f"a worker may not send {type(msg).__name__} (it asks for work "
                            "and answers its tasks, nothing else)",
                            penalise=True,
                        )
        finally:
            writer.cancel()
            if self._working:
                grid.scheduler.gone(self)

    def _admitted(self) -> None:
        trust = self.node.replica.trust
        if trust is not None and not trust.admitted(self.key):
            raise NotAdmitted(
                f"worker {self.key.hex()[:16]}…: {trust.why(self.key)}", author=self.key
            )

    async def _carry(self, kind: int, record: bytes) -> None:
        try:
            entry = carry(self.node, self.key, kind, record, self.quota)
        except AlreadyCarried:
            return  # its record at every connection: in effect already, nothing to do
        except LatticeError as exc:
            raise await self._cut(f"record refused: {exc}", penalise=True) from exc
        await self.node.durable()
        self.node.relay([entry])
        self._send(wire.OpAck(entry.id, entry.seq))

    async def _answer(self, raw: bytes) -> None:
        node, grid = self.node, self.node.grid
        assert grid is not None
        try:
            await node.writable(WRITABLE_WAIT)  # an owner that cannot sign takes nothing
        except NotSynced as exc:  # the owner's failing, not the worker's
            raise await self._cut(f"the owner cannot take grid ops now: {exc}", False) from exc
        try:
            self._admitted()  # revoked since it connected: no more
            op = _lattice.ClientOp.from_bytes(raw)
            # No budget is charged: the owner asked for each op it takes (a commit per
            # assignment, a reveal once asked), and anything else ends the session.
            taken = grid.scheduler.take(self, op)
        except _WORKER_FAULTS as exc:
            raise await self._cut(f"grid op refused: {exc}", penalise=True) from exc
        except LatticeError as exc:  # the owner's failing: the worker is not blamed
            log.error("a grid op could not be taken: %s", exc)
            raise await self._cut(f"the owner could not take the grid op: {exc}", False) from exc
        if taken:
            await node.durable()  # what it changed is in the owner's log first
        self._send(wire.GridAck(op.swarm, op.nonce, taken))

    async def _cut(self, reason: str, penalise: bool) -> ProtocolError:
        if penalise and self.node.reputation is not None:
            self.node.reputation.invalid(self.key)
        await refuse(self.conn, reason)
        return ProtocolError(reason, author=self.key)

    async def _writer(self) -> None:
        try:
            await self._write()
        except (LatticeError, OSError) as exc:  # gone, or it stopped reading: ended
            if not self.conn.closed:
                await self._cut(f"could not send: {exc}", penalise=False)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the owner's failing: the session ends, nobody blamed
            log.exception("a worker session's writer failed")
            await self._cut(f"the owner failed: {type(exc).__name__}", penalise=False)

    async def _write(self) -> None:
        conn, grid = self.conn, self.node.grid
        assert grid is not None
        while not self.done.is_set():
            while self._out and not self._overflow:
                msg = self._out.popleft()
                if isinstance(msg, tuple):  # a task: its genesis made off the loop
                    view, deadline_ms, genesis = msg
                    if view not in grid.scheduler.views:
                        continue  # over before it was sent (its ABANDON follows)
                    try:
                        msg = wire.Task(deadline_ms, await asyncio.to_thread(genesis))
                    except LatticeError as exc:  # the owner's failing: that task, not this
                        log.error("a grid task's view could not be made: %s", exc)
                        grid.scheduler.unsent(self, view, f"its view could not be made: {exc}")
                        continue
                await conn.send(msg)
            if self._overflow:
                await self._cut(f"more than {MAX_OUTBOX} messages unread", penalise=True)
                return
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), _TICK)
            except TimeoutError:
                await conn.send(wire.Ping())

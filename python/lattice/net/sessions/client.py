"""The session with a client (DESIGN §6): its home peer wraps the client's signed ops.

A client has a key but no row in the matrix. A home peer serves only the clients its
configuration lists, or, with ``open_clients``, any key. The client sends ``OP`` messages;
the home peer checks each op (signed by the key the client authenticated with, for this
swarm, its nonce above the client's last, within the client's quota of ops and bytes per
minute), wraps its exact bytes in one of its own WRAP entries, and answers ``OP_ACK`` once
that entry is durably stored and on its way to the peers.

In a swarm with an admission policy (``[admission]``, DESIGN §11) a client may also send
``ADMIT`` with its proof-of-work admission record or a vouch (it is the voucher or the
subject), carried in the home peer's log; ops of a client not admitted are refused
(``NotAdmitted``). Every op and record is charged to the client's budget
(:mod:`lattice.net.reputation`): held while it is a little over, cut when it is further
over or graylisted, the reason in ``lattice status``; a refused op or record counts
against the client's score, and a graylisted client is refused at the handshake.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import NoReturn

from lattice import _lattice
from lattice.entry import Kind
from lattice.errors import HandshakeRefused, LatticeError, OverBudget, ProtocolError
from lattice.net import wire
from lattice.net.config import Member, NodeConfig
from lattice.net.connection import Connection
from lattice.net.nonces import ClientNonces
from lattice.net.sessions.base import NodeContext, Session, refuse
from lattice.net.sessions.records import AlreadyCarried, carry
from lattice.replica import Replica

__all__ = [
    "MAX_CLIENTS",
    "MAX_HELD_BYTES",
    "MAX_HELD_OPS",
    "MAX_SESSIONS_PER_CLIENT",
    "ClientSession",
]

_WRAP, _DATA = int(Kind.WRAP), int(Kind.DATA)


def load_wrapped(nonces: ClientNonces, replica: Replica) -> None:
    """Give ``nonces`` the ops this home peer wrapped before it started (read lazily from
    its own log), so a replay across a restart is refused too: its WRAP entries, and the
    DATA entries of a store from before WRAP (docs/format.md, "Upgrading to format 3")."""
    legacy = replica.legacy_wraps
    nonces.load(
        e.payload
        for e in replica.iter_entries(replica.me)
        if e.kind == _WRAP or (e.kind == _DATA and e.seq <= legacy)
    )


log = logging.getLogger("lattice.node")

#: Client connections one home peer serves at once.
MAX_CLIENTS = 256
#: Connections of one client key at once (one key must not take every slot).
MAX_SESSIONS_PER_CLIENT = 4
#: Ops (or records) of one connection read and waiting at once (reading pauses past it).
MAX_HELD_OPS = 64
#: ... and bytes of them (one op alone may be larger: it is one frame, already read).
MAX_HELD_BYTES = 4 << 20


def _size(msg: wire.Op | wire.Admit) -> int:
    return len(msg.op) if isinstance(msg, wire.Op) else len(msg.record)


class ClientSession(Session):
    """One live connection to a client of this home peer."""

    role = _lattice.ROLE_CLIENT
    max_frame = wire.MAX_CLIENT_FRAME

    @classmethod
    def admit(cls, node: NodeContext, conn: Connection, member: Member | None) -> None:
        if node.count(cls.role) >= MAX_CLIENTS:
            raise HandshakeRefused("too many clients connected", author=conn.remote)
        if node.sessions_of(conn.remote) >= MAX_SESSIONS_PER_CLIENT:
            raise HandshakeRefused(
                f"this client has {MAX_SESSIONS_PER_CLIENT} sessions already", author=conn.remote
            )
        if node.config.role != "peer":
            raise HandshakeRefused("only peers are home peers", author=conn.remote)
        clients = node.config.clients
        if clients is None and not node.config.open_clients:
            raise HandshakeRefused(
                "this home peer serves no clients (list them in [swarm] clients, or set "
                "open_clients = true)",
                author=conn.remote,
            )
        if clients is not None and conn.remote not in clients:
            raise HandshakeRefused("not a client of this home peer", author=conn.remote)
        if node.reputation is not None:
            node.reputation.admit(conn.remote)

    @staticmethod
    def warn_if_open(config: NodeConfig) -> None:
        """Warn, at a node's start, if any key may be a client of it."""
        if config.open_clients and config.clients is None:
            log.warning(
                "open client access: any key can have ops wrapped into this node's log "
                "(within %d ops and %d bytes per minute each); list [swarm] clients to close it",
                config.client_ops_per_minute,
                config.client_bytes_per_minute,
            )

    async def run(self) -> None:
        if self.node.reputation is None:  # an open swarm: one op at a time, no budget
            while True:
                await self.serve(await self.recv())
        # Budgeted: ops are read on and held until due, so a client sending faster than
        # its band is slowed while it is a little over, and cut once it is further over
        # (what it was let through before is served first). At most MAX_HELD_OPS wait:
        # past that, reading pauses (TCP pushes back), as it does in an open swarm.
        held: asyncio.Queue[tuple[float, wire.Op | wire.Admit | str]]
        held = asyncio.Queue(MAX_HELD_OPS)
        self._held_bytes, self._room = 0, asyncio.Event()
        worker = asyncio.get_running_loop().create_task(self._serve_held(held))
        worker.add_done_callback(self._worker_done)
        try:
            while True:
                try:
                    msg = await self.recv()
                except (LatticeError, OSError):
                    failure = worker.exception() if worker.done() else None
                    if failure is not None:
                        raise failure from None  # why the worker closed the connection
                    raise
                try:
                    due = self.due(msg)
                except OverBudget as exc:
                    await self._hold(held, (0.0, exc.message), 0, worker)  # cut in its turn
                    await worker
                    raise
                await self._hold(held, (due, msg), _size(msg), worker)
        finally:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError, LatticeError, OSError):
                await worker

    async def _hold(
        self,
        held: asyncio.Queue[tuple[float, wire.Op | wire.Admit | str]],
        item: tuple[float, wire.Op | wire.Admit | str],
        size: int,
        worker: asyncio.Task[None],
    ) -> None:
        """Queue ``item`` for the worker once there is room (at most MAX_HELD_OPS, and
        MAX_HELD_BYTES unless the queue is empty); if the worker ends meanwhile, its error."""
        while held.full() or (self._held_bytes + size > MAX_HELD_BYTES and not held.empty()):
            self._room.clear()
            room = asyncio.ensure_future(self._room.wait())
            await asyncio.wait({room, worker}, return_when=asyncio.FIRST_COMPLETED)
            room.cancel()
            if worker.done():
                failure = None if worker.cancelled() else worker.exception()
                raise failure or ProtocolError("the session ended", author=self.conn.remote)
        self._held_bytes += size
        held.put_nowait(item)

    def _worker_done(self, worker: asyncio.Task[None]) -> None:
        """A worker that failed (a refusal, a store failure) ends the session: close the
        connection, so the reader's ``recv`` ends too and reports why."""
        if not worker.cancelled() and worker.exception() is not None:
            self.node.spawn(self.conn.close())

    async def recv(self) -> wire.Op | wire.Admit:
        """The next op or record (pings are skipped); anything else ends the session."""
        while True:
            msg = await self.conn.recv()
            if isinstance(msg, wire.Op | wire.Admit):
                return msg
            if not isinstance(msg, wire.Ping):
                raise ProtocolError(
                    f"unexpected {type(msg).__name__} from a client", author=self.conn.remote
                )

    async def _serve_held(
        self, held: asyncio.Queue[tuple[float, wire.Op | wire.Admit | str]]
    ) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due, msg = await held.get()
            if isinstance(msg, str):  # cut: the reason
                await refuse(self.conn, f"cut: {msg}")
                raise OverBudget(msg, author=self.conn.remote)
            if due > loop.time():
                await asyncio.sleep(due - loop.time())  # slowed
            await self.serve(msg)
            self._held_bytes -= _size(msg)
            self._room.set()

    async def serve(self, msg: wire.Op | wire.Admit) -> None:
        """Wrap an op or carry a record, store it, relay it, acknowledge it."""
        node = self.node
        if isinstance(msg, wire.Op):
            try:
                entry, nonce = self.wrap(msg.op)
            except LatticeError as exc:
                await self.refused("op", exc)
            try:
                await node.durable()  # store first, then relay and acknowledge
            except LatticeError:
                # Not stored: the client may send this op again.
                node.client_nonces.release(self.conn.remote, nonce)
                raise
        else:
            try:
                entry = self.carry(msg.kind, msg.record)
            except LatticeError as exc:
                await self.refused("record", exc)
            await node.durable()
        if node.reputation is not None and isinstance(msg, wire.Op):
            node.reputation.delivered(self.conn.remote)  # ops earn a score; records do not
        node.relay([entry])
        await self.conn.send(wire.OpAck(entry.id, entry.seq))

    def due(self, msg: wire.Op | wire.Admit) -> float:
        """When (on the loop's clock) an op or record is due under the client's budget;
        :class:`OverBudget` if it is too far over (the cut is recorded in the node's
        reputation)."""
        reputation = self.node.reputation
        assert reputation is not None
        return asyncio.get_running_loop().time() + reputation.charge(self.conn.remote, _size(msg))

    async def refused(self, what: str, exc: LatticeError) -> NoReturn:
        """Refuse an op or record: it counts against the client (not a record already in
        effect: an honest retry), and ends the session."""
        if self.node.reputation is not None and not isinstance(exc, AlreadyCarried):
            self.node.reputation.invalid(self.conn.remote)
        await refuse(self.conn, f"{what} refused: {exc}")
        raise ProtocolError(f"client {what} refused: {exc}", author=self.conn.remote) from exc

    def carry(self, kind: int, record: bytes) -> _lattice.Entry:
        """Carry a client's admission record (its own) or a vouch (it is the voucher or
        the subject) in this home peer's log (:func:`~lattice.net.sessions.records.carry`)."""
        return carry(self.node, self.conn.remote, kind, record, self.quota)

    def wrap(self, data: bytes) -> tuple[_lattice.Entry, int]:
        """Wrap a client's op: only its own ops (signed by the key it authenticated with),
        each once (:mod:`lattice.net.nonces`: two sessions of one client may interleave),
        within its quota. Returns the wrapping entry and the op's nonce."""
        client, node = self.conn.remote, self.node
        nonces, replica = node.client_nonces, node.replica
        node.selfcheck.require()  # the home peer signs the wrapping entry
        op = _lattice.ClientOp.from_bytes(data)
        if op.client != client:
            raise ProtocolError("an op signed by another client", author=client)
        replica.check_client_op(op)
        now = time.monotonic()
        quota = self.quota(now)
        quota.check(len(data), now)
        # Claimed only once the op is known good: a bad one cannot move the window.
        nonces.claim(client, op.nonce)
        try:
            quota.take(len(data), now)
            entry = replica.append(op.to_bytes(), Kind.WRAP)
        except BaseException:
            nonces.release(client, op.nonce)
            raise
        return entry, op.nonce

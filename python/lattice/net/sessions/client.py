"""The session with a client (DESIGN §6): its home peer wraps the client's signed ops.

A client has a key but no row in the matrix. A home peer serves only the clients its
configuration lists, or, with ``open_clients``, any key. The client sends ``OP`` messages;
the home peer checks each op (signed by the key the client authenticated with, for this
swarm, its nonce above the client's last, within the client's quota of ops and bytes per
minute), wraps its exact bytes in one of its own WRAP entries, and answers ``OP_ACK`` once
that entry is durably stored and on its way to the peers.
"""

from __future__ import annotations

import logging
import time

from lattice import _lattice
from lattice.entry import Kind
from lattice.errors import HandshakeRefused, LatticeError, ProtocolError
from lattice.net import wire
from lattice.net.config import Member, NodeConfig
from lattice.net.connection import Connection
from lattice.net.nonces import ClientNonces
from lattice.net.quota import quota_for
from lattice.net.sessions.base import NodeContext, Session, refuse
from lattice.replica import Replica

__all__ = ["MAX_CLIENTS", "MAX_SESSIONS_PER_CLIENT", "ClientSession"]

_WRAP = int(Kind.WRAP)


def load_wrapped(nonces: ClientNonces, replica: Replica) -> None:
    """Give ``nonces`` the ops this home peer wrapped before it started (read lazily from
    its own log), so a replay across a restart is refused too."""
    nonces.load(e.payload for e in replica.iter_entries(replica.me) if e.kind == _WRAP)


log = logging.getLogger("lattice.node")

#: Client connections one home peer serves at once.
MAX_CLIENTS = 256
#: Connections of one client key at once (one key must not take every slot).
MAX_SESSIONS_PER_CLIENT = 4


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
        conn, node = self.conn, self.node
        while True:
            msg = await conn.recv()
            match msg:
                case wire.Op(op):
                    try:
                        entry, nonce = self.wrap(op)
                    except LatticeError as exc:
                        await refuse(conn, f"op refused: {exc}")
                        raise ProtocolError(
                            f"client op refused: {exc}", author=conn.remote
                        ) from exc
                    try:
                        await node.durable()  # store first, then relay and acknowledge
                    except LatticeError:
                        # Not stored: the client may send this op again.
                        node.client_nonces.release(conn.remote, nonce)
                        raise
                    node.relay([entry])
                    await conn.send(wire.OpAck(entry.id, entry.seq))
                case wire.Ping():
                    pass
                case _:
                    raise ProtocolError(
                        f"unexpected {type(msg).__name__} from a client", author=conn.remote
                    )

    def wrap(self, data: bytes) -> tuple[_lattice.Entry, int]:
        """Wrap a client's op: only its own ops (signed by the key it authenticated with),
        each once (:mod:`lattice.net.nonces`: two sessions of one client may interleave),
        within its quota. Returns the wrapping entry and the op's nonce."""
        client, node = self.conn.remote, self.node
        nonces, config, replica = node.client_nonces, node.config, node.replica
        node.selfcheck.require()  # the home peer signs the wrapping entry
        op = _lattice.ClientOp.from_bytes(data)
        if op.client != client:
            raise ProtocolError("an op signed by another client", author=client)
        replica.check_client_op(op)
        now = time.monotonic()
        quota = quota_for(
            node.client_quotas,
            client,
            config.client_ops_per_minute,
            config.client_bytes_per_minute,
            now,
        )
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

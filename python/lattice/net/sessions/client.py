"""The session with a client (DESIGN §6): its home peer wraps the client's signed ops.

A client has a key but no row in the matrix. It sends ``OP`` messages; the home peer
checks each op (signed by the key the client authenticated with, for this swarm, its
nonce above the client's last), wraps its exact bytes in one of its own DATA entries,
and answers ``OP_ACK`` once that entry is durably stored and on its way to the peers.
"""

from __future__ import annotations

from lattice import _lattice
from lattice.errors import HandshakeRefused, LatticeError, ProtocolError
from lattice.net import wire
from lattice.net.config import Member
from lattice.net.connection import Connection
from lattice.net.sessions.base import NodeContext, Session

__all__ = ["MAX_CLIENTS", "ClientSession"]

#: Client connections one home peer serves at once.
MAX_CLIENTS = 256


class ClientSession(Session):
    """One live connection to a client of this home peer."""

    role = _lattice.ROLE_CLIENT

    @classmethod
    def admit(cls, node: NodeContext, conn: Connection, member: Member | None) -> None:
        if node.count(cls.role) >= MAX_CLIENTS:
            raise HandshakeRefused("too many clients connected", author=conn.remote)
        if node.config.role != "peer":
            raise HandshakeRefused("only peers are home peers", author=conn.remote)
        clients = node.config.clients
        if clients is not None and conn.remote not in clients:
            raise HandshakeRefused("not a client of this home peer", author=conn.remote)

    async def run(self) -> None:
        conn, node = self.conn, self.node
        while True:
            msg = await conn.recv()
            match msg:
                case wire.Op(op):
                    previous = node.client_nonces.get(conn.remote)
                    try:
                        entry = self.wrap(op)
                    except LatticeError as exc:
                        raise ProtocolError(
                            f"client op refused: {exc}", author=conn.remote
                        ) from exc
                    try:
                        await node.durable()  # store first, then relay and acknowledge
                    except LatticeError:
                        # Not stored: the client may send this op again.
                        if node.client_nonces.get(conn.remote) == op_nonce(op):
                            if previous is None:
                                node.client_nonces.pop(conn.remote, None)
                            else:
                                node.client_nonces[conn.remote] = previous
                        raise
                    node.relay([entry])
                    await conn.send(wire.OpAck(entry.id, entry.seq))
                case wire.Ping():
                    pass
                case _:
                    raise ProtocolError(
                        f"unexpected {type(msg).__name__} from a client", author=conn.remote
                    )

    def wrap(self, data: bytes) -> _lattice.Entry:
        """Wrap a client's op: only its own ops (signed by the key it authenticated with),
        each once, nonces strictly increasing (no replay of an op seen in the logs)."""
        client, nonces = self.conn.remote, self.node.client_nonces
        op = _lattice.ClientOp.from_bytes(data)
        if op.client != client:
            raise ProtocolError("an op signed by another client", author=client)
        if op.nonce <= nonces.get(client, -1):
            raise ProtocolError("op nonce not above the client's last (a replay?)", author=client)
        entry = self.node.replica.wrap_client_op(op)
        nonces[client] = op.nonce
        return entry


def op_nonce(data: bytes) -> int:
    """The nonce of an encoded client op."""
    return _lattice.ClientOp.from_bytes(data).nonce

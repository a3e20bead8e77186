"""A client of a home peer (DESIGN §6, §7): it has a key but no log and no row in the
matrix. It connects with the ``client`` role, sends signed ops, and its home peer wraps
each in one of its own entries and answers with that entry's id and seq.

>>> import asyncio, tempfile, pathlib
>>> import lattice
>>> from lattice.net.local import local_swarm
>>> async def demo():
...     me = lattice.Identity.generate()
...     nodes = await local_swarm(1, pathlib.Path(tempfile.mkdtemp()), clients=[me.public_key])
...     async with await Client.connect(nodes[0].listen_address, me, bytes(32)) as client:
...         ack = await client.submit(b"pay bob 5")
...     wrapped = nodes[0].replica.get(ack.entry_id)
...     await nodes[0].stop()
...     return ack.seq, lattice.ClientOp.from_bytes(wrapped.payload).payload
>>> asyncio.run(demo())
(1, b'pay bob 5')
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from lattice import _lattice
from lattice.entry import Kind
from lattice.errors import HandshakeRefused, ProtocolError
from lattice.identity import Identity
from lattice.net import wire
from lattice.net.connection import Connection, Limits, dial, keep_alive
from lattice.sybil.records import Admission, Vouch

__all__ = ["Client"]


class Client:
    """A connection to a home peer in the ``client`` role. While it is open it sends a
    PING whenever it has sent nothing for ``ping_interval``, so an idle client is not
    taken for a dead one."""

    def __init__(self, conn: Connection, identity: Identity, swarm_id: bytes) -> None:
        self.conn = conn
        self.identity = identity
        self.swarm_id = swarm_id
        self._nonce = time.time_ns()
        self._keepalive = asyncio.get_running_loop().create_task(self._keep_alive())

    async def _keep_alive(self) -> None:
        await keep_alive(self.conn)

    @classmethod
    async def connect(
        cls,
        address: tuple[str, int] | None,
        identity: Identity,
        swarm_id: bytes,
        limits: Limits | None = None,
    ) -> Client:
        """Connect to the home peer at ``address`` and authenticate."""
        limits = limits or Limits()
        conn = await dial(address, identity, swarm_id, _lattice.ROLE_CLIENT, limits)
        return cls(conn, identity, swarm_id)

    @property
    def home(self) -> bytes:
        """The home peer's identity, as authenticated by the handshake."""
        return self.conn.remote

    async def submit(self, payload: bytes) -> wire.OpAck:
        """Sign ``payload`` as an op and have the home peer wrap it; returns the id and seq
        of the wrapping entry once it is durably stored there."""
        await self.send_op(payload)
        return await self._ack()

    async def send_op(self, payload: bytes) -> None:
        """Sign ``payload`` as an op and send it without waiting for its acknowledgement
        (pipelining: the OP_ACKs come back in order, on :attr:`conn`)."""
        # From the clock, so two sessions of one key, or one after a restart, pick new
        # nonces (the home peer takes them within a window: lattice.net.nonces).
        self._nonce = max(self._nonce + 1, time.time_ns())
        op = _lattice.ClientOp.create(
            self.identity.signing_key, self.swarm_id, self._nonce, payload
        )
        await self.conn.send(wire.Op(op.to_bytes()))

    async def admit(self, record: Admission | Vouch) -> wire.OpAck:
        """Have the home peer carry this client's admission record (its proof of work,
        :meth:`lattice.sybil.Admission.make`) or a vouch it gave or received, in a swarm
        with an admission policy (DESIGN §11); returns once the entry is stored there."""
        kind = Kind.ADMISSION if isinstance(record, Admission) else Kind.VOUCH
        await self.conn.send(wire.Admit(int(kind), record.to_bytes()))
        return await self._ack()

    async def _ack(self) -> wire.OpAck:
        while True:
            msg = await self.conn.recv()
            if isinstance(msg, wire.OpAck):
                return msg
            if isinstance(msg, wire.Refused):
                raise HandshakeRefused(f"refused by the home peer: {msg.reason}", author=self.home)
            if not isinstance(msg, wire.Ping):
                raise ProtocolError(f"unexpected {type(msg).__name__} from the home peer")

    async def close(self) -> None:
        self._keepalive.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._keepalive
        await self.conn.close()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

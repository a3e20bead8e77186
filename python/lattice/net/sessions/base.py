"""What every session has, and what a session may use of its node.

A session is one authenticated connection in one role (DESIGN §7): the node runs the
handshake, picks the session class from the role in the peer's hello
(:data:`lattice.net.sessions.SESSIONS`), lets the class admit or refuse the party, enters
the session in its registry and runs it. Sessions never import the node: they see it
through :class:`NodeContext`, so a new role is a new module here and a line in the
table, and the peer code is not touched.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable, Coroutine, Iterable
from typing import ClassVar, Protocol

from lattice import _lattice
from lattice.batch import ReceiveResult
from lattice.errors import LatticeError
from lattice.net import wire
from lattice.net.attesting import Attesting
from lattice.net.config import Member, NodeConfig
from lattice.net.connection import Connection, Limits
from lattice.net.gridhost import GridHost
from lattice.net.nonces import ClientNonces
from lattice.net.quota import Quota, quota_for
from lattice.net.reputation import Reputation
from lattice.net.selfcheck import SelfCheck
from lattice.replica import Replica
from lattice.state.views import Views

__all__ = ["REFUSAL_TIMEOUT", "NodeContext", "Session", "refuse"]

#: Seconds a refusal may take to send before the connection is closed anyway.
REFUSAL_TIMEOUT = 1.0


class NodeContext(Protocol):
    """The node as its sessions see it."""

    config: NodeConfig
    replica: Replica
    limits: Limits
    me: bytes
    #: The nonces of the client ops wrapped (each op is wrapped once).
    client_nonces: ClientNonces
    #: Whether the node may sign yet (no self-forks).
    selfcheck: SelfCheck
    #: Per client, what it used of its quota in the current window.
    client_quotas: dict[bytes, Quota]
    #: When (wall-clock seconds) this node first held each forked author's proof.
    fork_seen: dict[bytes, float]
    closed_reasons: deque[str]
    #: The documents handed to guests, each with its views (DESIGN §8).
    shares: dict[bytes, Views]
    #: Remote attestation of its connections (DESIGN §10).
    attesting: Attesting
    #: Scores and budgets of the open identities it serves (DESIGN §11; None: open swarm).
    reputation: Reputation | None
    #: The compute grid it owns (DESIGN §12; None: no ``[grid]``).
    grid: GridHost | None

    def spawn(self, coro: Coroutine[object, object, None]) -> asyncio.Task[None]: ...

    def changed(self) -> None: ...

    def member(self, key: bytes) -> Member | None: ...

    def count(self, role: int) -> int:
        """Live sessions of ``role``."""
        ...

    def sessions_of(self, key: bytes) -> int:
        """Live client sessions of the client ``key``."""
        ...

    def relay(self, entries: Iterable[_lattice.Entry], exclude: bytes | None = None) -> None: ...

    def after_receive(self, result: ReceiveResult, source: bytes | None) -> None: ...

    def gossip_fraud(self, proof: bytes, exclude: bytes | None) -> None: ...

    def disconnect(self, remote: bytes) -> None: ...

    def after_commit(
        self,
        then: Callable[[], None],
        on_fail: Callable[[LatticeError], None] | None = None,
    ) -> None: ...

    async def durable(self) -> None: ...

    async def writable(self, timeout: float) -> None: ...


class Session:
    """One live connection of one role; subclasses serve the role."""

    #: The role this class serves, as in the hello (``lattice._lattice.ROLE_*``).
    role: ClassVar[int]
    #: The largest frame a party in this role may announce: its largest legal message
    #: (see :meth:`frame_limit`).
    max_frame: ClassVar[int] = wire.MAX_CLIENT_FRAME
    #: Whether its partial frames come out of the registered peers' share of the node's
    #: budget (:mod:`lattice.net.framebudget`) rather than the strangers' share.
    trusted: ClassVar[bool] = False

    def __init__(self, node: NodeContext, conn: Connection, member: Member | None) -> None:
        self.node = node
        self.conn = conn
        self.member = member
        #: Set once the session has ended and its connection is closed.
        self.done = asyncio.Event()

    @property
    def name(self) -> str:
        return self.member.name if self.member else self.conn.remote[:4].hex()

    def quota(self, now: float) -> Quota:
        """The quota of ops and bytes per minute of this party's key (a client's or a
        guest's), across its connections."""
        config = self.node.config
        return quota_for(
            self.node.client_quotas,
            self.conn.remote,
            config.client_ops_per_minute,
            config.client_bytes_per_minute,
            now,
        )

    @classmethod
    def admit(cls, node: NodeContext, conn: Connection, member: Member | None) -> None:
        """Raise :class:`~lattice.errors.HandshakeRefused` unless ``node`` serves this
        party in this role (called after the handshake, before anything else is read)."""

    @classmethod
    def frame_limit(cls, limits: Limits) -> int:
        """The largest frame this node accepts from a party in this role."""
        return cls.max_frame

    async def run(self) -> None:
        """Serve the connection until it ends (raises on a protocol failure)."""
        raise NotImplementedError

    def ended(self) -> None:
        """Wake everything that waits on this session: it is over."""
        self.done.set()


async def refuse(conn: Connection, reason: str, proofs: Iterable[bytes] = ()) -> None:
    """Tell an authenticated party why it is refused (``REFUSED``), after the fraud proofs
    that make it so, if any (a node blocklisted learns what others hold against it), and
    close. A party that does not read is closed all the same."""
    with contextlib.suppress(LatticeError, OSError, TimeoutError):
        for proof in proofs:
            await asyncio.wait_for(conn.send(wire.Fraud(proof)), REFUSAL_TIMEOUT)
        await asyncio.wait_for(conn.send(wire.Refused(reason)), REFUSAL_TIMEOUT)
    await conn.close()

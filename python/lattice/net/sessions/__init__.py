"""One session class per role (DESIGN §7): the node looks up the role in a party's hello
in :data:`SESSIONS`, lets that class admit or refuse the party, and runs it.

>>> from lattice import _lattice
>>> [SESSIONS[r].__name__ for r in sorted(SESSIONS)]
['PeerSession', 'ClientSession', 'GuestSession', 'WorkerSession']
"""

from __future__ import annotations

from lattice import _lattice
from lattice.net.sessions.base import NodeContext, Session
from lattice.net.sessions.client import ClientSession
from lattice.net.sessions.guest import GuestSession
from lattice.net.sessions.peer import PeerSession
from lattice.net.sessions.worker import WorkerSession

__all__ = [
    "SESSIONS",
    "ClientSession",
    "GuestSession",
    "NodeContext",
    "PeerSession",
    "Session",
    "WorkerSession",
]

#: The session class serving each role a node accepts; a role not here is refused.
SESSIONS: dict[int, type[Session]] = {
    _lattice.ROLE_PEER: PeerSession,
    _lattice.ROLE_CLIENT: ClientSession,
    _lattice.ROLE_GUEST: GuestSession,
    _lattice.ROLE_WORKER: WorkerSession,
}

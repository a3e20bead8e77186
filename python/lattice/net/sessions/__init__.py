"""One session class per role (DESIGN §7): the node looks up the role in a party's hello
in :data:`SESSIONS`, lets that class admit or refuse the party, and runs it.

>>> from lattice import _lattice
>>> [SESSIONS[r].__name__ for r in (_lattice.ROLE_PEER, _lattice.ROLE_CLIENT, _lattice.ROLE_GUEST)]
['PeerSession', 'ClientSession', 'GuestSession']
"""

from __future__ import annotations

from lattice import _lattice
from lattice.net.sessions.base import NodeContext, Session
from lattice.net.sessions.client import ClientSession
from lattice.net.sessions.guest import GuestSession
from lattice.net.sessions.peer import PeerSession

__all__ = ["SESSIONS", "ClientSession", "GuestSession", "NodeContext", "PeerSession", "Session"]

#: The session class serving each role a node accepts; a role not here is refused.
SESSIONS: dict[int, type[Session]] = {
    _lattice.ROLE_PEER: PeerSession,
    _lattice.ROLE_CLIENT: ClientSession,
    _lattice.ROLE_GUEST: GuestSession,
}

"""One session class per role (DESIGN §7): the node looks up the role in a party's hello
in :data:`SESSIONS`, lets that class admit or refuse the party, and runs it.

>>> from lattice import _lattice
>>> SESSIONS[_lattice.ROLE_PEER].__name__, SESSIONS[_lattice.ROLE_CLIENT].__name__
('PeerSession', 'ClientSession')
"""

from __future__ import annotations

from lattice import _lattice
from lattice.net.sessions.base import NodeContext, Session
from lattice.net.sessions.client import ClientSession
from lattice.net.sessions.peer import PeerSession

__all__ = ["SESSIONS", "ClientSession", "NodeContext", "PeerSession", "Session"]

#: The session class serving each role a node accepts; a role not here is refused.
SESSIONS: dict[int, type[Session]] = {
    _lattice.ROLE_PEER: PeerSession,
    _lattice.ROLE_CLIENT: ClientSession,
}

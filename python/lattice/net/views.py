"""What a node shows of itself: ``lattice status`` and ``lattice matrix`` (DESIGN §7).

The :class:`~lattice.net.node.Node` has these methods; they read its registry, its
replica and its counters, and change nothing.
"""

from __future__ import annotations

from collections import deque

from lattice import _lattice
from lattice.net.attesting import Attesting
from lattice.net.config import Member, NodeConfig
from lattice.net.framebudget import FrameBudget
from lattice.net.gridhost import GridHost
from lattice.net.reputation import Reputation
from lattice.net.selfcheck import SelfCheck
from lattice.net.sessions.client import ClientSession
from lattice.net.sessions.guest import GuestSession
from lattice.net.sessions.peer import PeerSession
from lattice.replica import Replica

__all__ = ["NodeViews"]


class NodeViews:
    """The read-only views of a node."""

    config: NodeConfig
    me: bytes
    names: dict[bytes, str]
    replica: Replica
    links: dict[bytes, PeerSession]
    client_links: set[ClientSession]
    guest_links: set[GuestSession]
    attesting: Attesting
    reputation: Reputation | None
    fork_seen: dict[bytes, float]
    refused: int
    closed_reasons: deque[str]
    listen_address: tuple[str, int] | None
    selfcheck: SelfCheck
    frames: FrameBudget

    _running: bool
    grid: GridHost | None

    @property
    def running(self) -> bool:
        """Whether the node is started and not stopped."""
        return self._running

    def member(self, key: bytes) -> Member | None:
        """The registered peer with this key, if any."""
        return next((m for m in self.config.members if m.public_key == key), None)

    def count(self, role: int) -> int:
        """Live sessions of ``role``."""
        if role == _lattice.ROLE_PEER:
            return len(self.links)
        return sum(1 for s in (*self.client_links, *self.guest_links) if s.role == role)

    def sessions_of(self, key: bytes) -> int:
        """Live client and guest sessions of the key ``key``."""
        return sum(1 for s in (*self.client_links, *self.guest_links) if s.conn.remote == key)

    def name(self, key: bytes) -> str:
        """The configured name of a member (or the first bytes of its key in hex)."""
        return self.names.get(key, key[:4].hex())

    def status(self) -> dict[str, object]:
        """What ``lattice status`` shows: peers and connections, frontier, pending,
        forks and blocklist."""
        rep = self.replica
        peers = []
        for m in self.config.members:
            if m.public_key == self.me:
                continue
            link = self.links.get(m.public_key)
            peers.append(
                {
                    "name": m.name,
                    "public_key": m.public_key.hex(),
                    "address": None if m.address is None else f"{m.address[0]}:{m.address[1]}",
                    "connected": link is not None,
                    "direction": None if link is None else ("out" if link.conn.initiator else "in"),
                    "synced_out": bool(link and link.live),
                    "synced_in": bool(link and link.synced_in),
                    "frames_sent": 0 if link is None else link.conn.frames_sent,
                    "frames_received": 0 if link is None else link.conn.frames_received,
                    "dropped": 0 if link is None else link.dropped,
                    "queued_bytes": 0 if link is None else link.queue_bytes,
                    "penalties": rep.penalties.get(m.public_key, 0),
                    "blocked": m.public_key in rep.blocklist,
                    "opening": [] if link is None else link.opening,
                    "attestation": self.attesting.results.get(m.public_key),
                }
            )
        return {
            "name": self.name(self.me),
            "identity": self.me.hex(),
            "swarm": self.config.swarm_id.hex(),
            "role": self.config.role,
            "listen": None
            if self.listen_address is None
            else f"{self.listen_address[0]}:{self.listen_address[1]}",
            "peers": peers,
            "clients": len(self.client_links),
            "reputation": None if self.reputation is None else self.reputation.status(),
            "grid": None if self.grid is None else self.grid.status(),
            "frontier": {self.name(a): [s, i.hex()] for a, (s, i) in rep.frontier().items()},
            "pending": rep.pending,
            "missing": [
                {"author": self.name(m.author), "first": m.first, "last": m.last}
                for m in rep.missing()
            ],
            "forks": [
                {
                    "author": self.name(p.author),
                    "seq": p.seq,
                    "ids": [i.hex() for i in p.ids],
                    "seen_at": self.fork_seen.get(p.author),
                }
                for p in rep.frauds
            ],
            "blocklist": sorted(self.name(a) for a in rep.blocklist),
            "writable": self.selfcheck.ready,
            "blocklisted": next(({"seq": p.seq} for p in rep.frauds if p.author == self.me), None),
            "refused": self.refused,
            "closed": list(self.closed_reasons),
            "attestation": self.attesting.status(),
            "partial_frames": {
                "peers": self.frames.peers.used,
                "strangers": self.frames.strangers.used,
            },
        }

    def matrix(self) -> dict[str, object]:
        """What ``lattice matrix`` shows."""
        m = self.replica.matrix
        names = [self.name(p) for p in m.peers]
        rows = [[m.cell(o, s) for s in m.peers] for o in m.peers] if hasattr(m, "row") else []
        return {
            "peers": names,
            "rows": rows,
            "known_to_all": [m.known_to_all().get(p, 0) for p in m.peers],
            "known_to_quorum": [m.known_to_quorum().get(p, 0) for p in m.peers],
            "quorum": m.quorum,
        }

"""No self-forks (issue 10): a node signs nothing until a peer has shown it how far its own
log goes, and it has caught up with that.

A node restored from a backup, or started on a fresh store with an existing key, is
behind its own log: the entries it signed after the backup are out there, at its peers.
Signing its "next" entry now would sign a second version of a position it already
signed — a fork of itself, and a fraud proof against it for good. So each peer's
frontier (the first message of every peer session) tells the node the peer's view of its
own log; the node fetches what it lacks of it through the ordinary sync, and it writes
only once it holds at least what one peer has seen of it. A swarm with no other peer has
nothing to check; ``offline`` skips the check (and is logged loudly).

>>> check = SelfCheck(head=lambda: 3, alone=False, offline=False)
>>> check.ready
False
>>> check.peer_view(5); check.ready   # the peer has seen seqs 4 and 5 of ours
False
>>> check = SelfCheck(head=lambda: 5, alone=False, offline=False)
>>> check.peer_view(5); check.ready
True
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from lattice.errors import NotSynced

__all__ = ["SelfCheck"]

log = logging.getLogger("lattice.node")


class SelfCheck:
    """Whether this node may sign: the peers' views of its log, and its own head."""

    def __init__(self, head: Callable[[], int], alone: bool, offline: bool) -> None:
        self._head = head
        self.offline = offline
        self.views = 0 if not alone else 1  # alone: nobody to ask, nothing to fork against
        # What each connected peer claims of this node's log, until its stream is done:
        # a peer that claims more than it sends cannot hold the node back for ever.
        self._claims: dict[bytes, int] = {}
        self._was_ready = False

    @property
    def wanted(self) -> int:
        """The furthest a connected peer, still streaming, has seen of this node's log."""
        return max(self._claims.values(), default=0)

    def peer_view(self, seq: int, peer: bytes = b"") -> None:
        """A peer's frontier holds this node's log up to ``seq``."""
        self.views += 1
        if self._was_ready:
            # Checked once already in this run: a higher claim now is a lie or a fork
            # that the fraud proofs will settle; it does not stop the node.
            if seq > self._head():
                log.warning("a peer claims this node's log reaches seq %d (a lie, or a fork)", seq)
            return
        self._claims[peer] = max(seq, self._claims.get(peer, 0))

    def peer_done(self, peer: bytes = b"") -> None:
        """That peer has streamed what it had (or is gone): its claim no longer holds."""
        self._claims.pop(peer, None)

    @property
    def ready(self) -> bool:
        if self.offline:
            return True
        wanted = self.wanted
        ok = self.views > 0 and (wanted == 0 or self._head() >= wanted)
        self._was_ready |= ok
        return ok

    def require(self) -> None:
        """Raise :class:`NotSynced` unless this node may sign now."""
        if self.ready:
            return
        if self.views == 0:
            raise NotSynced(
                "this node has not yet compared its own log with a peer's: if its store was "
                "restored from a backup, signing now would fork it. Start it with a peer "
                "reachable (or with --offline to write regardless)"
            )
        raise NotSynced(
            f"a peer has seen this node's log up to seq {self.wanted}, and this node holds "
            f"{self._head()}: it is fetching its own newer entries before it signs (a "
            "restored backup?)"
        )

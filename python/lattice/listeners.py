"""Who follows a replica's log (DESIGN §9): the layers above it — documents — hear of
every delivered entry once it is committed, and of a rebuild from the store; they can
count a penalty against an author whose entry's content they refuse.

>>> import lattice
>>> me = lattice.Identity.generate()
>>> rep = lattice.Replica(me, peers=[me.public_key])
>>> seen = []
>>> rep.delivery_listeners.append(lambda e: seen.append(e.seq))
>>> _ = rep.append(b"one"), rep.append(b"two")
>>> seen
[1, 2]
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable

from lattice import _lattice

__all__ = ["MAX_PENALISED_IDS", "Listeners"]

log = logging.getLogger("lattice.replica")

#: Entry ids remembered as penalised already (the oldest are forgotten first).
MAX_PENALISED_IDS = 1 << 16


class Listeners:
    """The listener half of a :class:`~lattice.Replica` (a mixin)."""

    delivery_listeners: list[Callable[[_lattice.Entry], None]]
    reset_listeners: list[Callable[[], None]]
    _content_penalised: OrderedDict[bytes, None]

    def _penalise(self, peer: bytes) -> None:
        raise NotImplementedError

    def _init_listeners(self) -> None:
        #: Called with every entry delivered here, own ones included, in delivery
        #: (causal) order, once its commit is stored (or queued, with background
        #: commits). A listener that raises is logged and does not disturb the replica.
        self.delivery_listeners = []
        #: Called when the replica rebuilt itself from its store (a commit failed).
        self.reset_listeners = []
        self._content_penalised = OrderedDict()

    def penalise(self, peer: bytes, entry_id: bytes) -> None:
        """Count a penalty against ``peer`` for its entry ``entry_id`` (once per entry,
        stored with the next commit): a layer above the log found the entry's content
        invalid (a document's refused ops)."""
        seen = self._content_penalised
        if entry_id in seen:
            seen.move_to_end(entry_id)
            return
        seen[entry_id] = None
        if len(seen) > MAX_PENALISED_IDS:
            seen.popitem(last=False)
        self._penalise(peer)

    def _notify(self, delivered: Iterable[tuple[_lattice.Entry, object]]) -> None:
        for e, _ in delivered:
            for listener in list(self.delivery_listeners):
                try:
                    listener(e)
                except Exception:  # a document's bug must not stop the log
                    log.exception("a delivery listener failed on %s", e.id[:8].hex())

    def _notify_reset(self) -> None:
        # The penalties of the commit that failed are gone: their entries may count again.
        self._content_penalised.clear()
        for listener in list(self.reset_listeners):
            try:
                listener()
            except Exception:
                log.exception("a reset listener failed")

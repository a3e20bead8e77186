"""The time gateway of one deep document (DESIGN §8): its owner's views, kept and persisted.

``Views(doc, path)`` follows a document on the owner's deep log. ``handover(guest)``
collapses it into a new view (:class:`~lattice.state.view.View`); from then on every
change delivered to the document is shown in every view, and ``write(op)`` carries out a
guest's signed op on the deep log. Every step is durable before it is told to anyone
(:mod:`lattice.state.viewstore`); after a restart each view resumes where its last step
left it, and the deep entries delivered after that step are taken into account again.

>>> import lattice
>>> from lattice.state.guest import Guest
>>> owner, guest = lattice.Identity.generate(), lattice.Identity.generate()
>>> rep = lattice.Replica(owner, peers=[owner.public_key])
>>> doc = lattice.Doc(rep, b"notes")
>>> doc.text("body").insert(0, "a secret draft")
>>> doc.text("body").delete(0, 14)
>>> doc.text("body").insert(0, "hello")
>>> views = Views(doc)
>>> view = views.handover(guest.public_key)
>>> g = Guest(guest, owner.public_key, view.id)
>>> _ = g.receive(view.entries())
>>> views.write(g.insert("body", 5, " world"))
>>> _ = g.receive(view.entries(since=g.seq))
>>> str(g.doc.text("body")), str(doc.text("body"))
('hello world', 'hello world')
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Iterable, Iterator

from lattice import _lattice
from lattice.errors import GuestRefused, InvalidArgument, StoreError, UnknownView
from lattice.state.doc import Change, Doc
from lattice.state.ops import GuestOp
from lattice.state.view import Step, View
from lattice.state.viewstore import Pending, StoredView, ViewStore

__all__ = ["MAX_VIEWS_PER_GUEST", "Views"]

_log = logging.getLogger(__name__)
#: Views one guest holds of one document at once: a new handover beyond closes the oldest.
MAX_VIEWS_PER_GUEST = 8


class Views:
    """Every view of one deep document, as its owner keeps them.

    - ``doc``: the deep document, bound to the owner's replica;
    - ``path``: the SQLite file the views live in (None: in memory);
    - ``guests``: the guest keys that may be handed a view (None: any);
    - ``defer``: runs a callable once the deep log's commits queued so far are durable
      (a node's ``after_commit``): a view's steps are stored, and told to listeners, only
      after the deep entries they show (default: at once, for a replica that commits on
      return).
    """

    def __init__(
        self,
        doc: Doc,
        path: str | os.PathLike[str] | None = None,
        *,
        guests: Iterable[bytes] | None = None,
        defer: Callable[[Callable[[], None]], None] | None = None,
        max_views_per_guest: int = MAX_VIEWS_PER_GUEST,
    ) -> None:
        if doc.replica is None:
            raise InvalidArgument("views are of a document on the owner's log, not a local one")
        self.doc = doc
        self.replica = doc.replica
        self.owner = self.replica.me
        self.guests = None if guests is None else frozenset(bytes(g) for g in guests)
        self._defer = defer or (lambda then: then())
        self.max_views_per_guest = max_views_per_guest
        self.store = ViewStore.open(path, doc=doc.doc_id, owner=self.owner)
        self._views: dict[bytes, View] = {}
        self._saved: dict[bytes, int] = {}  # view -> the last nonce in the store
        # Steps ready for the store, flushed together at the next turn of the event loop.
        self._ready: list[tuple[View, Pending]] = []
        self._flush_soon = False
        self._flush_loop: asyncio.AbstractEventLoop | None = None
        #: Called with each new shallow entry of a view, once it is stored.
        self.listeners: list[Callable[[View, _lattice.Entry], None]] = []
        #: Called with each view that closes (its guest must be handed a new one, or
        #: resume it as rebuilt from the store: a session serving it ends).
        self.closers: list[Callable[[View], None]] = []
        #: How many deep entries the replica has delivered (in delivery order).
        self.position = self._delivered()
        self._restore(self.store.load())
        doc.followers.append(self._follow)
        self.replica.reset_listeners.append(self._reset)

    def _delivered(self) -> int:
        """Entries the replica delivered: every log's head, a forked author's included (as
        its store lists them, and its delivery listeners were told)."""
        return sum(self.replica.head(pk) for pk in self.replica.peers)

    # --- handing over ------------------------------------------------------------------

    def handover(self, guest: bytes) -> View:
        """A new view of the document for ``guest`` (its public key)."""
        guest = bytes(guest)
        if self.guests is not None and guest not in self.guests:
            raise GuestRefused("this guest is not admitted to the document")
        held = [v for v in self._views.values() if v.guest == guest]
        for old in held[: max(0, len(held) - self.max_views_per_guest + 1)]:
            _log.info("guest %s… has %d views: the oldest closed", guest[:4].hex(), len(held))
            self._drop(old)
        handover, collapsed = self.doc.handover(guest)
        view = View(self.replica.identity, handover)
        step = view.begin(collapsed, self.position)
        (entry,), position = step.entries, self.position
        self._views[view.id] = view
        self._saved[view.id] = 0

        first = Pending(view.id, [entry], step.runs, step.tags, position, 0, handover)
        self._defer(lambda: self._queue(view, first))
        return view

    def view(self, view_id: bytes, guest: bytes) -> View:
        """``guest``'s view ``view_id``; UnknownView for any other."""
        view = self._views.get(bytes(view_id))
        if view is None or view.guest != bytes(guest):
            raise UnknownView("no such view of this guest")
        return view

    def __iter__(self) -> Iterator[View]:
        return iter(list(self._views.values()))

    def __len__(self) -> int:
        return len(self._views)

    def write(self, raw: bytes | _lattice.ClientOp) -> None:
        """Carry out a guest's signed op (see :meth:`View.write`)."""
        op = raw if isinstance(raw, _lattice.ClientOp) else _lattice.ClientOp.from_bytes(raw)
        self.view(op.swarm, op.client).write(self.doc, op)

    def close(self) -> None:
        """Stop following the document and close the store (what is ready is stored)."""
        self._flush()
        if self._follow in self.doc.followers:
            self.doc.followers.remove(self._follow)
        if self._reset in self.replica.reset_listeners:
            self.replica.reset_listeners.remove(self._reset)
        self.store.close()

    # --- following the deep document --------------------------------------------------

    def _follow(self, entry: _lattice.Entry, change: Change | None) -> None:
        self.position += 1
        for view in list(self._views.values()):
            self._advance(view, self.doc, change, self.position)

    def _advance(
        self, view: View, deep: Doc, change: Change | None, position: int, deferred: bool = True
    ) -> None:
        """Show ``change`` in ``view``, which has then taken ``position`` deep entries into
        account; queue the step for the store."""
        try:
            step = view.translate(deep, change) if change is not None else Step()
        except Exception:
            # A view that cannot follow is closed: its guest is handed a new one. The deep
            # log is never held back by a view.
            _log.exception("view %s… cannot follow its document: closed", view.id[:4].hex())
            self._drop(view)
            return
        view.position = position
        nonce = view.last_nonce
        if not (step.entries or step.runs or step.tags or nonce != self._saved.get(view.id)):
            return
        self._saved[view.id] = nonce
        pending = Pending(view.id, step.entries, step.runs, step.tags, position, nonce)
        # Stored (and sent) only once the deep entry it shows is durable.
        if deferred:
            self._defer(lambda: self._queue(view, pending))
        else:
            self._queue(view, pending)

    def _queue(self, view: View, pending: Pending) -> None:
        """A step ready for the store: stored with the others ready in this turn of the
        event loop, in one transaction (one sync to disk, however many keystrokes)."""
        self._ready.append((view, pending))
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._flush()  # no event loop: at once
            return
        if self._flush_soon and self._flush_loop is loop:
            return  # this turn's flush is scheduled already (on this very loop)
        self._flush_soon, self._flush_loop = True, loop
        loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_soon = False
        ready, self._ready = self._ready, []
        ready = [(v, p) for v, p in ready if v.id in self._views]  # not closed meanwhile
        if not ready:
            return
        try:
            self.store.save_many([p for _, p in ready])
        except Exception:
            _log.exception("the view store cannot be written: its views are closed")
            for view, _ in ready:
                self._drop(view)
            return
        for view, pending in ready:
            for entry in pending.entries:
                view.stored_seq = max(view.stored_seq, entry.seq)
                for listener in list(self.listeners):
                    try:
                        listener(view, entry)
                    except Exception:  # one listener never holds back another, or a view
                        _log.exception("a view listener failed")

    def _drop(self, view: View, forget: bool = True) -> None:
        """Close a view (``forget``: and remove it from the store for good)."""
        self._views.pop(view.id, None)
        self._saved.pop(view.id, None)
        for closer in list(self.closers):
            try:
                closer(view)
            except Exception:
                _log.exception("a view closer failed")
        if not forget:
            return
        try:
            self.store.remove(view.id)
        except Exception:  # the store is what failed: the view is gone from memory anyway
            _log.exception("view %s… could not be removed from its store", view.id[:4].hex())

    def _reset(self) -> None:
        """The replica went back to its store (a failed commit): every view is rebuilt
        from its own store, as at a restart (what it showed of the lost entries was never
        stored or sent), and caught up with the recovered log. Sessions serving the old
        ones end; their guests resume the rebuilt views."""
        self._ready = []
        for view in list(self._views.values()):
            self._drop(view, forget=False)
        self.position = self._delivered()
        self._restore(self.store.load())

    # --- after a restart ---------------------------------------------------------------

    def _restore(self, stored: list[StoredView]) -> None:
        lagging: list[View] = []
        for s in stored:
            view = View(self.replica.identity, s.handover)
            result = view.shallow.receive(s.entries)
            if result.rejected or len(result.delivered) != len(s.entries):
                raise StoreError(f"the shallow log of view {s.handover.view[:4].hex()}… is broken")
            view._learn(Step([], s.runs, s.tags))
            view.stored_seq = view.seq
            view.position, view.last_nonce = s.position, s.last_nonce
            if view.position > self.position:
                # Its deep log lost entries it showed (a store restored from a backup):
                # the guest is handed a new view.
                _log.warning("view %s… is ahead of its deep log: closed", s.handover.view[:4].hex())
                self.store.remove(s.handover.view)
                continue
            self._views[view.id] = view
            self._saved[view.id] = view.last_nonce
            if view.position < self.position:
                lagging.append(view)
        if lagging:
            self._catch_up(lagging)

    def _catch_up(self, lagging: list[View]) -> None:
        """Take the deep entries after each lagging view's last step into account: replay
        the log up to the earliest one, then go on translating (the same entries in the
        same order give the same state, so the view lands where it would have)."""
        lagging.sort(key=lambda v: v.position)
        past = Doc(doc_id=self.doc.doc_id)
        changes: list[Change | None] = []
        past.followers.append(lambda entry, change: changes.append(change))
        waiting, following = list(lagging), []
        for position, entry in enumerate(self.replica.iter_entries(), start=1):
            while waiting and waiting[0].position < position:
                following.append(waiting.pop(0))
            changes.clear()
            past._delivered(entry, replay=True)
            change = changes[-1] if changes else None
            for view in following:
                if view.id in self._views:  # else it could not follow: closed
                    self._recover_nonce(view, change)
                    self._advance(view, past, change, position, deferred=False)
        for view in lagging:
            view.position = self.position

    @staticmethod
    def _recover_nonce(view: View, change: Change | None) -> None:
        """A guest op of this view that reached the deep log before the crash: its nonce is
        spent (a replay of it is refused)."""
        if change is None or not change.ops or not isinstance(change.ops[-1], GuestOp):
            return
        try:
            op = _lattice.ClientOp.from_bytes(change.ops[-1].op)
        except Exception:
            return
        if op.swarm == view.id:
            view.last_nonce = max(view.last_nonce, op.nonce)

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

import logging
import os
from collections.abc import Callable, Iterable

from lattice import _lattice
from lattice.errors import GuestRefused, InvalidArgument, StoreError, UnknownView
from lattice.state import ops as opcodec
from lattice.state.doc import Change, Doc
from lattice.state.ops import GuestOp
from lattice.state.view import Step, View
from lattice.state.viewstore import StoredView, ViewStore

__all__ = ["Views"]

_log = logging.getLogger(__name__)
_DATA = 1


class Views:
    """Every view of one deep document, as its owner keeps them.

    - ``doc``: the deep document, bound to the owner's replica;
    - ``path``: the SQLite file the views live in (None: in memory);
    - ``guests``: the guest keys that may be handed a view (None: any).
    """

    def __init__(
        self,
        doc: Doc,
        path: str | os.PathLike[str] | None = None,
        *,
        guests: Iterable[bytes] | None = None,
    ) -> None:
        if doc.replica is None:
            raise InvalidArgument("views are of a document on the owner's log, not a local one")
        self.doc = doc
        self.replica = doc.replica
        self.owner = self.replica.me
        self.guests = None if guests is None else frozenset(bytes(g) for g in guests)
        self.store = ViewStore.open(path, doc=doc.doc_id, owner=self.owner)
        self._views: dict[bytes, View] = {}
        self._saved: dict[bytes, int] = {}  # view -> the last nonce in the store
        #: Called with each new shallow entry of a view, once it is durable.
        self.listeners: list[Callable[[View, _lattice.Entry], None]] = []
        #: How many deep entries the replica has delivered (in delivery order).
        self.position = self._delivered()
        self._restore(self.store.load())
        doc.followers.append(self._follow)
        self.replica.reset_listeners.append(self._reset)

    def _delivered(self) -> int:
        return sum(seq for seq, _ in self.replica.frontier().values())

    # --- handing over ------------------------------------------------------------------

    def handover(self, guest: bytes) -> View:
        """A new view of the document for ``guest`` (its public key)."""
        guest = bytes(guest)
        if self.guests is not None and guest not in self.guests:
            raise GuestRefused("this guest is not admitted to the document")
        handover, collapsed = self.doc.handover(guest)
        view = View(self.replica.identity, handover)
        step = view.begin(collapsed, self.position)
        assert step.entry is not None
        self.store.add(handover, step.entry, step.runs, step.tags, self.position)
        self._views[view.id] = view
        self._saved[view.id] = 0
        return view

    def view(self, view_id: bytes, guest: bytes) -> View:
        """``guest``'s view ``view_id``; UnknownView for any other."""
        view = self._views.get(bytes(view_id))
        if view is None or view.guest != bytes(guest):
            raise UnknownView("no such view of this guest")
        return view

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(list(self._views.values()))

    def __len__(self) -> int:
        return len(self._views)

    def write(self, raw: bytes | _lattice.ClientOp) -> None:
        """Carry out a guest's signed op (see :meth:`View.write`)."""
        op = raw if isinstance(raw, _lattice.ClientOp) else _lattice.ClientOp.from_bytes(raw)
        self.view(op.swarm, op.client).write(self.doc, op)

    def close(self) -> None:
        """Stop following the document and close the store."""
        if self._follow in self.doc.followers:
            self.doc.followers.remove(self._follow)
        if self._reset in self.replica.reset_listeners:
            self.replica.reset_listeners.remove(self._reset)
        self.store.close()

    # --- following the deep document --------------------------------------------------

    def _follow(self, entry: _lattice.Entry, change: Change | None) -> None:
        self.position += 1
        for view in list(self._views.values()):
            self._advance(view, self.doc, change)

    def _advance(self, view: View, deep: Doc, change: Change | None) -> None:
        try:
            step = view.translate(deep, change) if change is not None else Step()
            view.position = self.position
            if step.entry or step.runs or step.tags or view.last_nonce != self._saved[view.id]:
                self.store.save(
                    view.id, step.entry, step.runs, step.tags, view.position, view.last_nonce
                )
                self._saved[view.id] = view.last_nonce
        except Exception:
            # A view that cannot follow is closed: its guest is handed a new one. The deep
            # log is never held back by a view.
            _log.exception("view %s… cannot follow its document: closed", view.id[:4].hex())
            self._drop(view)
            return
        if step.entry is not None:
            for listener in list(self.listeners):
                listener(view, step.entry)

    def _drop(self, view: View) -> None:
        self._views.pop(view.id, None)
        self._saved.pop(view.id, None)
        try:
            self.store.remove(view.id)
        except Exception:  # the store is what failed: the view is gone from memory anyway
            _log.exception("view %s… could not be removed from its store", view.id[:4].hex())

    def _reset(self) -> None:
        """The replica went back to its store (a failed commit): views that showed more
        than the store holds are closed."""
        self.position = self._delivered()
        for view in list(self._views.values()):
            if view.position > self.position:
                _log.warning("view %s… is ahead of the recovered log: closed", view.id[:4].hex())
                self._drop(view)

    # --- after a restart ---------------------------------------------------------------

    def _restore(self, stored: list[StoredView]) -> None:
        lagging: list[View] = []
        for s in stored:
            view = View(self.replica.identity, s.handover)
            result = view.shallow.receive(s.entries)
            if result.rejected or len(result.delivered) != len(s.entries):
                raise StoreError(f"the shallow log of view {s.handover.view[:4].hex()}… is broken")
            view._learn(Step(None, s.runs, s.tags))
            view.position, view.last_nonce = s.position, s.last_nonce
            if view.position > self.position:
                raise StoreError("a view is ahead of its deep log (the log lost entries)")
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
        doc_id = self.doc.doc_id
        past: Doc | None = None
        waiting = list(lagging)
        following: list[View] = []
        position = 0
        for entry in self.replica.iter_entries():
            while waiting and waiting[0].position == position:
                following.append(waiting.pop(0))
            position += 1
            mine = entry.kind == _DATA and opcodec.doc_of(entry.payload) == doc_id
            if past is None:
                if not mine:
                    continue
                past = self._replay_to(position - 1)
            past._delivered(entry, replay=True)
            change = past._history[-1] if mine and past._history else None
            if not isinstance(change, Change) or change.entry != entry.id:
                change = None
            for view in following:
                self._recover_nonce(view, change)
                saved = self.position
                self.position = position
                try:
                    self._advance(view, past, change)
                finally:
                    self.position = saved
        for view in lagging:
            view.position = self.position

    def _replay_to(self, position: int) -> Doc:
        past = Doc(doc_id=self.doc.doc_id)
        for k, entry in enumerate(self.replica.iter_entries()):
            if k >= position:
                break
            past._delivered(entry, replay=True)
        return past

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

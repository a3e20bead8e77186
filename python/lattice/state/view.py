"""The owner's side of one view (DESIGN §8): a shallow log, and the translation both ways.

A view starts as the collapsed snapshot of a deep document, handed to one guest. The
owner keeps, per view:

- the **shallow log**: an ordinary lattice log in the view (its swarm id is the view id)
  that the owner alone writes — entry 1, kind ``SNAPSHOT``, is the synthetic genesis;
  each later ``DATA`` entry is the op batch of one translated deep change;
- the **mirror**: a document bound to that log, which is exactly the guest's document
  (the guest applies the same entries to the same snapshot);
- the **map** from view ids to deep elements (:mod:`lattice.state.viewmap`).

Deep to view: after each deep change the view shows what changed in the *visible* state
— characters that appeared (at their visible index), characters that went, values that
changed — as edits of the mirror, each new element under a fresh view id. Nothing of the
deep op goes through: not its element ids, its author, its stamps or its tree placement.

View to deep: a guest op (:mod:`lattice.state.guestop`) is checked (its view, its guest,
a nonce above the last, its view seq, its elements against the view at that seq: the
mirror's own causal-past rule), its view ids are mapped to deep elements, and it is
carried out as one deep transaction whose last op is the signed guest op itself.

:class:`lattice.state.views.Views` holds the views of one deep document and persists them.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lattice import _lattice
from lattice.entry import Kind
from lattice.errors import (
    DecodeError,
    FutureViewSeq,
    InvalidArgument,
    InvalidOp,
    InvalidSignature,
    ReplayedGuestOp,
    UnknownView,
    WrongType,
)
from lattice.replica import Replica
from lattice.state import guestop, snapshot
from lattice.state.crdt import _key
from lattice.state.doc import Change, Doc
from lattice.state.handover import Handover
from lattice.state.machine import Context
from lattice.state.ops import (
    RIGHT,
    SELF,
    CounterAdd,
    Element,
    GuestOp,
    MapDelete,
    MapSet,
    Op,
    RegisterSet,
    SetAdd,
    SetRemove,
    TextDelete,
    TextInsert,
    width,
)
from lattice.state.text import Sequence, delete_ops, deletes
from lattice.state.viewmap import ViewMap

if TYPE_CHECKING:
    from lattice.identity import Identity

__all__ = ["Step", "View"]

_MISSING = object()
_I64 = (-(2**63), 2**63 - 1)
#: A view batch is closed once its ops are estimated at this many bytes (an entry's
#: payload holds 1 MiB): one deep change may take several view entries.
_BATCH_BUDGET = 256 << 10
#: The most characters of one view insert op.
_MAX_INSERT = 1 << 16
#: The estimated bytes of an op besides its text or value (type, name, element refs).
_RUN_COST = 48


def _value_cost(value: object) -> int:
    size = len(value) if isinstance(value, str | bytes) else 8
    return _RUN_COST + (4 * size if isinstance(value, str) else size)


@dataclass
class Step:
    """What one change of a view adds, for its store: the shallow entries (none if nothing
    visible changed), the new runs and set members of the map."""

    entries: list[_lattice.Entry] = field(default_factory=list)
    runs: list[tuple[Element, Element, int]] = field(default_factory=list)
    tags: list[tuple[Element, Element, int]] = field(default_factory=list)


@dataclass
class _Chunk:
    """One view batch under way: its estimated size, and the map entries its new elements
    make (by op index, until the entry id is known)."""

    cost: int = 0
    runs: list[tuple[int, Element, int]] = field(default_factory=list)
    tags: list[tuple[int, tuple[Element, ...]]] = field(default_factory=list)


class View:
    """One view of a deep document, as its owner keeps it."""

    def __init__(self, identity: Identity, handover: Handover) -> None:
        self.handover = handover
        self.id = handover.view
        self.guest = handover.guest
        self.owner = identity.public_key
        self.shallow = Replica(identity, peers=[self.owner], swarm_id=self.id)
        self._appended: _lattice.Entry | None = None
        self.mirror = Doc(self.shallow, self.id, append=self._append)
        self.map = ViewMap()
        #: The highest nonce of a guest op this view carried out.
        self.last_nonce = 0
        #: How many deep entries (in delivery order) this view has taken into account.
        self.position = 0
        #: The last view seq its store holds (what may be sent to the guest).
        self.stored_seq = 0

    _tx: contextlib.AbstractContextManager[object]
    _chunk: _Chunk

    def _append(self, payload: bytes) -> _lattice.Entry:
        entry = self._appended = self.shallow.append(payload)
        return entry

    # --- the genesis ---------------------------------------------------------------------

    def begin(self, collapsed: snapshot.Collapsed, position: int) -> Step:
        """Entry 1 of the shallow log: the snapshot (deflated), and the map of its ids."""
        if self.shallow.head(self.owner):
            raise InvalidArgument("this view has begun already")
        entry = self.shallow.append(snapshot.pack(collapsed.snapshot), Kind.SNAPSHOT)
        if self.mirror.rejected:
            raise DecodeError(f"the view's own snapshot was refused: {self.mirror.rejected[0][1]}")
        step = Step([entry])
        for start, deep, count in collapsed.runs:
            step.runs.append((Element(self.id, start), deep, count))
        for index, deep_tags in collapsed.tags:
            step.tags += [(Element(self.id, index), tag, 1) for tag in deep_tags]
        self._learn(step)
        self.position = position
        return step

    def _learn(self, step: Step) -> None:
        for view, deep, count in step.runs:
            self.map.add(view, deep, count)
        for member, deep, seq in step.tags:
            self.map.add_tag(member, deep, seq)

    @property
    def seq(self) -> int:
        """The view's seq: the head of its shallow log."""
        return self.shallow.head(self.owner)

    def entries(self, since: int = 0) -> list[_lattice.Entry]:
        """The shallow log from seq ``since + 1`` on: all a guest ever receives."""
        return self.shallow.entries(self.owner, since)

    # --- deep to view ----------------------------------------------------------------------

    def translate(self, deep: Doc, change: Change) -> Step:
        """Show in the view what ``change`` (just applied to ``deep``) changed: one view
        entry, or several if one would not fit in an entry's payload."""
        step = Step()
        self._chunk = _Chunk()
        self._open()
        try:
            self._texts(deep, change, step)
            self._values(deep, change, step)
        except BaseException as exc:
            self._tx.__exit__(type(exc), exc, exc.__traceback__)  # the open batch: dropped
            self._learn(step)  # what earlier batches of this change showed stays true
            raise
        self._close(step)
        self._learn(step)
        return step

    def _open(self) -> None:
        self._appended = None
        self._tx = self.mirror.transaction()
        self._tx.__enter__()

    def _close(self, step: Step) -> None:
        """Commit the open view batch (nothing if empty) and note what its ids stand for."""
        tx, chunk = self._tx, self._chunk
        self._chunk = _Chunk()
        tx.__exit__(None, None, None)
        entry = self._appended
        if entry is None:
            return
        step.entries.append(entry)
        for here, first, count in chunk.runs:
            step.runs.append((Element(entry.id, here), first, count))
        for here, deep_tags in chunk.tags:
            step.tags += [(Element(entry.id, here), t, entry.seq) for t in deep_tags]

    def _room(self, step: Step, cost: int) -> None:
        """Room for ``cost`` more bytes in the open view batch: a new batch if not."""
        if self._chunk.cost and self._chunk.cost + cost > _BATCH_BUDGET:
            self._close(step)
            self._open()
        self._chunk.cost += cost

    def _texts(self, deep: Doc, change: Change, step: Step) -> None:
        mirror = self.mirror
        inserts: dict[str, list[tuple[Element, int]]] = {}
        gone: dict[str, list[tuple[Element, int]]] = {}
        here = 0
        for op in change.ops:
            if isinstance(op, TextInsert):
                inserts.setdefault(op.name, []).append((Element(change.entry, here), len(op.text)))
            elif isinstance(op, TextDelete):
                for first, count in op.runs:
                    real = Element(change.entry, first.index) if first.entry == SELF else first
                    gone.setdefault(op.name, []).extend(self.map.to_view(real, count))
            here += width(op)
        for name, runs in gone.items():
            shown = mirror.objects.texts.get(name)
            if shown is None:
                continue
            live = [
                Element(f.entry, f.index + k)
                for f, n in runs
                for k in range(n)
                if not shown.node(Element(f.entry, f.index + k))[1]
            ]
            for op in deletes(name, live):
                self._room(step, _RUN_COST * len(op.runs))
                view = mirror._text_view(name)
                for first, count in op.runs:
                    view.delete(first, count)
                mirror._op(op)
        for name, runs in inserts.items():
            seq = deep.objects.texts.get(name)
            if seq is None:
                continue
            segments = sorted(s for first, n in runs for s in _live_segments(seq, first, n))
            for at, first, count in segments:
                if self.map.to_view(first, count):
                    continue  # shown already (a deep change is shown once)
                for k in range(0, count, _MAX_INSERT):
                    piece = seq.slice(at + k, at + min(count, k + _MAX_INSERT))
                    self._room(step, len(piece.encode()) + _RUN_COST)
                    here_m = mirror._width
                    mirror.text(name).insert(at + k, piece)
                    self._chunk.runs.append(
                        (here_m, Element(first.entry, first.index + k), len(piece))
                    )

    def _values(self, deep: Doc, change: Change, step: Step) -> None:
        d, m, mirror = deep.objects, self.mirror.objects, self.mirror
        here = 0
        seen: set[tuple[object, ...]] = set()
        for op in change.ops:
            at, here = here, here + width(op)
            if isinstance(op, MapSet | MapDelete):
                if ("m", op.name, op.key) in seen:
                    continue
                seen.add(("m", op.name, op.key))
                new = d.map(op.name).get(op.key, _MISSING)
                old = m.map(op.name).get(op.key, _MISSING)
                if _differ(new, old):
                    self._room(step, _value_cost(new))
                    if new is _MISSING:
                        mirror.map(op.name).__delitem__(op.key)
                    else:
                        mirror.map(op.name)[op.key] = new  # type: ignore[assignment]
            elif isinstance(op, RegisterSet):
                if ("r", op.name) in seen:
                    continue
                seen.add(("r", op.name))
                if _differ(d.register(op.name), m.register(op.name)):
                    self._room(step, _value_cost(d.register(op.name)))
                    mirror.register(op.name).set(d.register(op.name))
            elif isinstance(op, CounterAdd):
                if ("c", op.name) in seen:
                    continue  # the change's total, once (the mirror moves at the commit)
                seen.add(("c", op.name))
                target = d.counter(op.name)
                if not _I64[0] <= target <= _I64[1]:
                    continue  # beyond i64 (concurrent increments): shown once back in range
                delta = target - m.counter(op.name)
                while delta:  # in i64 steps towards the target: every total on the way fits
                    piece = max(_I64[0] + 1, min(_I64[1], delta))
                    self._room(step, _RUN_COST)
                    mirror.counter(op.name).increment(piece)
                    delta -= piece
            elif isinstance(op, SetAdd):
                self._member(deep, op.name, op.value, Element(change.entry, at), step, seen)
            elif isinstance(op, SetRemove):
                for tag in op.tags:
                    real = Element(change.entry, tag.index) if tag.entry == SELF else tag
                    _, value = d.tags[real]
                    self._member(deep, op.name, value, None, step, seen)

    def _member(
        self,
        deep: Doc,
        name: str,
        value: object,
        added: Element | None,
        step: Step,
        seen: set[tuple[object, ...]],
    ) -> None:
        d, m, mirror = deep.objects, self.mirror.objects, self.mirror
        moved = ("s", name, _key(value))  # type: ignore[arg-type]
        if moved in seen:
            return  # shown or taken away by this change already (with all its adds)
        there, shown = d.has(name, value), m.has(name, value)  # type: ignore[arg-type]
        if there != shown:
            seen.add(moved)
        if there and not shown:
            self._room(step, _value_cost(value))
            self._chunk.tags.append((mirror._width, d.tags_of(name, value)))  # type: ignore[arg-type]
            mirror.set(name).add(value)  # type: ignore[arg-type]
        elif shown and not there:
            self._room(step, _RUN_COST)
            mirror.set(name).remove(value)  # type: ignore[arg-type]
        elif there and added is not None and self.map.member_of(added) is None:
            # One more add of a member the view shows already: a guest op made at the
            # view's seq now has not seen it; one made at any later seq has.
            (member,) = m.tags_of(name, value)[:1]  # type: ignore[arg-type]
            step.tags.append((member, added, self.seq + 1))

    # --- view to deep ------------------------------------------------------------------------

    def check(
        self, raw: bytes | _lattice.ClientOp
    ) -> tuple[_lattice.ClientOp, int, tuple[Op, ...]]:
        """A guest op of this view, decoded and checked; a typed refusal otherwise."""
        op = raw if isinstance(raw, _lattice.ClientOp) else _lattice.ClientOp.from_bytes(raw)
        if op.swarm != self.id or op.client != self.guest:
            raise UnknownView("a guest op for another view, or by another guest")
        if not op.verify():
            raise InvalidSignature("the guest op's signature does not verify")
        if op.nonce <= self.last_nonce:
            raise ReplayedGuestOp(f"nonce {op.nonce} is not above {self.last_nonce}")
        view_seq, batch = guestop.parse(op)
        if not 1 <= view_seq <= self.seq:
            raise FutureViewSeq(f"made against view seq {view_seq}; the view is at {self.seq}")
        if batch.doc != self.id:
            raise UnknownView("a guest op whose batch names another document")
        for o in batch.ops:
            if isinstance(o, GuestOp):
                raise WrongType("a guest op carries no guest op")
            if isinstance(o, TextInsert) and o.side != RIGHT:
                raise WrongType("a guest inserts after an element (its right), never before")
        # The view as it was at view_seq is the causal past the op is judged in.
        past = {self.owner: view_seq, self.id: 0}
        list(self.mirror.objects._check(batch.ops, Context(SELF, self.guest, 0, 0, past)))
        return op, view_seq, batch.ops

    def write(self, deep: Doc, raw: bytes | _lattice.ClientOp) -> None:
        """Carry out a guest op on ``deep``: one transaction (one signed DATA entry of the
        deep log, its last op the guest op), which comes back to the view as any change
        does. Nothing is appended if the op is refused."""
        op, view_seq, ops = self.check(raw)
        if deep._pending is not None:
            raise InvalidArgument("the deep document is in a transaction")
        before = self.last_nonce
        try:
            self._carry_out(deep, op, view_seq, ops)
        except BaseException:
            self.last_nonce = before
            raise

    def _carry_out(
        self, deep: Doc, op: _lattice.ClientOp, view_seq: int, ops: tuple[Op, ...]
    ) -> None:
        own: list[tuple[int, int, int]] = []  # the batch's own elements: guest, deep, count

        def own_runs(first: Element, count: int) -> list[tuple[Element, int]]:
            """A run of the batch's own elements, as deep runs (one per op it spans)."""
            out, index, end = [], first.index, first.index + count
            for g, d, n in own:
                lo, hi = max(g, index), min(g + n, end)
                if lo < hi:
                    out.append((Element(SELF, d + lo - g), hi - lo))
            if sum(k for _, k in out) != count:
                raise InvalidOp("a guest op names own elements it did not make")  # _check ran
            return out

        def real(e: Element) -> Element:
            ((found, _),) = own_runs(e, 1) if e.entry == SELF else self.map.to_deep(e, 1)
            return found

        here = 0
        with deep.transaction():
            for o in ops:
                at, here = here, here + width(o)
                if isinstance(o, TextInsert):
                    scratch: Sequence = deep._text_view(o.name)
                    parent, side = scratch.place_after(None if o.parent is None else real(o.parent))
                    d_at = deep._op(TextInsert(o.name, parent, side, o.text))
                    scratch.insert(parent, side, Element(SELF, d_at), o.text)
                    own.append((at, d_at, len(o.text)))
                elif isinstance(o, TextDelete):
                    runs = [
                        piece
                        for first, count in o.runs
                        for piece in (
                            own_runs(first, count)
                            if first.entry == SELF
                            else self.map.to_deep(first, count)
                        )
                    ]
                    scratch = deep._text_view(o.name)
                    for first, count in runs:
                        scratch.delete(first, count)
                    for d_op in delete_ops(o.name, runs):
                        deep._op(d_op)
                elif isinstance(o, SetAdd):
                    own.append((at, deep._op(o), 1))
                elif isinstance(o, SetRemove):
                    tags = sorted(
                        {
                            t
                            for tag in o.tags
                            for t in (
                                [real(tag)]
                                if tag.entry == SELF
                                else [d for d, s in self.map.tags.get(tag, []) if s <= view_seq]
                            )
                        }
                    )
                    if tags:
                        deep._op(SetRemove(o.name, tuple(tags)))
                else:
                    deep._op(o)
            deep._op(GuestOp(op.to_bytes()))
            # Taken before the entry is signed: the step its change makes in the view
            # persists it (a replay after a crash is refused).
            self.last_nonce = op.nonce


def _differ(a: object, b: object) -> bool:
    if a is _MISSING or b is _MISSING:
        return a is not b
    return _key(a) != _key(b)  # type: ignore[arg-type]


def _live_segments(seq: Sequence, first: Element, count: int) -> list[tuple[int, Element, int]]:
    """The characters of a deep run still there: (visible index, first element, count)
    pieces, consecutive in both the text and the run."""
    at = seq.index_of(first)
    whole = not seq.node(first)[1] and at + count <= len(seq)
    if whole and seq.visible_runs(at, at + count) == [(first, count)]:
        return [(at, first, count)]  # the usual case: the whole run, as it was typed
    out: list[tuple[int, Element, int]] = []
    for k in range(count):
        e = Element(first.entry, first.index + k)
        if seq.node(e)[1]:
            continue
        i = seq.index_of(e)
        if out:
            a, f, n = out[-1]
            if a + n == i and f.index + n == e.index:
                out[-1] = (a, f, n + 1)
                continue
        out.append((i, e, 1))
    return out

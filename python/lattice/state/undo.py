"""Undo and redo of the local user's own transactions (DESIGN §9: what a deep log gives its
owner), as new ops that every replica applies alike.

An undo is not a rollback: it is a new transaction that puts back what one of this user's
transactions changed, as far as it is still there — a map key's or register's value before
it, a counter's increments taken back, set values added removed and removed added back,
characters typed deleted and characters deleted typed again where they were. Concurrent
edits of others stay. A redo undoes the undo; a new transaction clears the redo stack.

>>> from lattice.state import Doc
>>> doc = Doc()
>>> undo = UndoManager(doc)
>>> t = doc.text("t")
>>> t.insert(0, "hello")
>>> t.delete(0, 1)
>>> undo.undo(), str(t)
(True, 'hello')
>>> undo.undo(), str(t)
(True, '')
>>> undo.redo(), str(t)
(True, 'hello')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lattice.state.ops import (
    CounterAdd,
    Element,
    MapDelete,
    MapSet,
    Op,
    RegisterSet,
    SetAdd,
    SetRemove,
    TextDelete,
    TextInsert,
    Value,
)
from lattice.state.text import deletes

if TYPE_CHECKING:
    from lattice.state.doc import Doc

__all__ = ["UndoManager"]

_ABSENT = object()


@dataclass
class _Before:
    """What a transaction's objects held before it."""

    maps: dict[tuple[str, str], object] = field(default_factory=dict)
    registers: dict[str, object] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    sets: dict[str, set[Element]] = field(default_factory=dict)
    texts: dict[str, set[Element]] = field(default_factory=dict)


@dataclass
class _Inverse:
    """What undoing one transaction takes: computed when it was committed."""

    maps: dict[tuple[str, str], object]
    registers: dict[str, object]
    counters: dict[str, int]
    added_tags: dict[str, set[Element]]
    removed_values: dict[str, list[Value]]
    typed: dict[str, list[Element]]
    erased: dict[str, list[Element]]


class UndoManager:
    """The undo and redo stacks of one document's local user."""

    def __init__(self, doc: Doc) -> None:
        self.doc = doc
        self._undo: list[_Inverse] = []
        self._redo: list[_Inverse] = []
        self._replaying: list[_Inverse] | None = None
        self._applying: _Inverse | None = None
        # A character deleted, then typed again by an undo: the new one stands for it.
        self._replaced: dict[Element, Element] = {}
        doc._undo = self

    # --- recording (called by the document around its own commits) --------------------

    def before(self, ops: tuple[Op, ...]) -> _Before:
        objects, b = self.doc.objects, _Before()
        for op in ops:
            match op:
                case MapSet(name, key, _) | MapDelete(name, key):
                    held = objects.maps.get(name, {}).get(key)
                    b.maps.setdefault((name, key), _ABSENT if held is None else held[0])
                case RegisterSet(name, _):
                    held = objects.registers.get(name)
                    b.registers.setdefault(name, _ABSENT if held is None else held[0])
                case CounterAdd(name, delta):
                    b.counters[name] = b.counters.get(name, 0) + delta
                case SetAdd(name, _) | SetRemove(name, _):
                    b.sets.setdefault(name, objects.live_tags(name))
                case TextInsert(name=name) | TextDelete(name=name):
                    b.texts.setdefault(name, set(objects.text(name).visible()))
        return b

    def after(self, b: _Before) -> None:
        objects = self.doc.objects
        added: dict[str, set[Element]] = {}
        removed: dict[str, list[Value]] = {}
        for name, before in b.sets.items():
            live = objects.live_tags(name)
            added[name] = live - before
            removed[name] = sorted({objects.tags[t][1] for t in before - live}, key=repr)
        typed: dict[str, list[Element]] = {}
        erased: dict[str, list[Element]] = {}
        for name, before in b.texts.items():
            seq = objects.text(name)
            now = set(seq.visible())
            typed[name] = [e for e in seq.order() if e in now - before]
            erased[name] = [e for e in seq.order() if e in before - now]
        inverse = _Inverse(b.maps, b.registers, b.counters, added, removed, typed, erased)
        if self._applying is not None:
            for name, old in self._applying.erased.items():
                new = typed.get(name, [])
                if len(new) == len(old):
                    self._replaced.update(zip(old, new, strict=True))
        if self._replaying is not None:
            self._replaying.append(inverse)
        else:
            self._undo.append(inverse)
            self._redo.clear()

    # --- undoing ---------------------------------------------------------------------

    def undo(self) -> bool:
        """Undo this user's latest transaction not undone yet; False if there is none."""
        return self._apply(self._undo, self._redo)

    def redo(self) -> bool:
        """Redo the latest undo; False if there is none."""
        return self._apply(self._redo, self._undo)

    def _apply(self, source: list[_Inverse], target: list[_Inverse]) -> bool:
        if not source:
            return False
        inverse = source.pop()
        self._replaying, self._applying = target, inverse
        try:
            with self.doc.transaction():
                for op in self._ops(inverse):
                    self.doc._op(op)
        except BaseException:
            source.append(inverse)
            raise
        finally:
            self._replaying = self._applying = None
        return True

    def _ops(self, inv: _Inverse) -> list[Op]:
        ops: list[Op] = []
        for (name, key), value in inv.maps.items():
            ops.append(MapDelete(name, key) if value is _ABSENT else MapSet(name, key, value))  # type: ignore[arg-type]
        for name, value in inv.registers.items():
            ops.append(RegisterSet(name, None if value is _ABSENT else value))  # type: ignore[arg-type]
        ops += [CounterAdd(name, -delta) for name, delta in inv.counters.items() if delta]
        for name, tags in inv.added_tags.items():
            if tags:
                ops.append(SetRemove(name, tuple(sorted(tags))))
        for name, values in inv.removed_values.items():
            ops += [SetAdd(name, v) for v in values]
        for name, elements in inv.typed.items():
            seq = self.doc.objects.text(name)
            live = []
            for e in elements:
                while e in self._replaced and seq.node(e)[1]:
                    e = self._replaced[e]
                if not seq.node(e)[1]:
                    live.append(e)
            ops += deletes(name, sorted(live))
        for name, elements in inv.erased.items():
            seq = self.doc.objects.text(name)
            for e in elements:
                parent, side = seq.place_after(e)  # where the tombstone is
                ops.append(TextInsert(name, parent, side, seq.node(e)[0]))
        return ops

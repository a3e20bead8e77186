"""The handles of a document's objects (DESIGN §9): what ``doc.text(name)``,
``doc.map(name)``, ``doc.register(name)``, ``doc.counter(name)`` and ``doc.set(name)``
return. A handle holds no state: it reads the document's objects and turns each edit into
ops of the document's current transaction (or a transaction of its own).

>>> from lattice.state import Doc
>>> doc = Doc()
>>> with doc.transaction():
...     doc.text("body").insert(0, "hi")
...     doc.counter("edits").increment()
>>> str(doc.text("body")), doc.counter("edits").value
('hi', 1)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Protocol

from lattice.errors import InvalidArgument, OutOfRange
from lattice.state.crdt import Objects
from lattice.state.ops import (
    MAX_TEXT_RUNS,
    RIGHT,
    SELF,
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
from lattice.state.text import Sequence, delete_ops

__all__ = ["Counter", "Editing", "Map", "Register", "Set", "Text"]


class Editing(Protocol):
    """What a handle needs of its document (:class:`lattice.state.Doc` is one)."""

    @property
    def objects(self) -> Objects: ...

    _pending: list[Op] | None
    _width: int

    def transaction(self) -> contextlib.AbstractContextManager[object]: ...

    _run: list[str] | None
    _views: dict[str, Sequence]

    def _op(self, op: Op) -> int: ...

    def _text_view(self, name: str) -> Sequence: ...

    def _forget_if_empty(self, name: str) -> None: ...

    def _local_edit(self) -> bool: ...

    def _local_insert(self, name: str, index: int, text: str) -> None: ...

    def _local_delete(self, name: str, index: int, length: int) -> None: ...


class _Handle:
    def __init__(self, doc: Editing, name: str) -> None:
        self.doc = doc
        self.name = name


class Map(_Handle):
    """An LWW map: the write with the highest ``(lamport, entry id, op index)`` wins.

    >>> from lattice.state import Doc
    >>> doc = Doc()
    >>> m = doc.map("meta")
    >>> m["title"] = "draft"
    >>> m["title"], "title" in m, len(m), m.get("author", "nobody")
    ('draft', True, 1, 'nobody')
    """

    def __setitem__(self, key: str, value: Value) -> None:
        self.doc._op(MapSet(self.name, key, value))

    def __delitem__(self, key: str) -> None:
        self.doc._op(MapDelete(self.name, key))

    def __getitem__(self, key: str) -> Value:
        return self.doc.objects.map(self.name)[key]

    def get(self, key: str, default: Value = None) -> Value:
        return self.doc.objects.map(self.name).get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self.doc.objects.map(self.name)

    def __len__(self) -> int:
        return len(self.doc.objects.map(self.name))

    def to_py(self) -> dict[str, Value]:
        return self.doc.objects.map(self.name)


class Register(_Handle):
    """An LWW register.

    >>> from lattice.state import Doc
    >>> r = Doc().register("status")
    >>> r.set("open")
    >>> r.value
    'open'
    """

    def set(self, value: Value) -> None:
        self.doc._op(RegisterSet(self.name, value))

    @property
    def value(self) -> Value:
        return self.doc.objects.register(self.name)


class Counter(_Handle):
    """A PN-counter of i64 increments.

    >>> from lattice.state import Doc
    >>> c = Doc().counter("likes")
    >>> c.increment(3)
    >>> c.decrement()
    >>> c.value
    2
    """

    def increment(self, delta: int = 1) -> None:
        self.doc._op(CounterAdd(self.name, delta))

    def decrement(self, delta: int = 1) -> None:
        self.doc._op(CounterAdd(self.name, -delta))

    @property
    def value(self) -> int:
        return self.doc.objects.counter(self.name)


class Set(_Handle):
    """An add-wins OR-set: a remove takes away the adds it has seen, not concurrent ones.

    >>> from lattice.state import Doc
    >>> s = Doc().set("tags")
    >>> s.add("crdt")
    >>> s.add("log")
    >>> s.remove("log")
    >>> list(s), "crdt" in s
    (['crdt'], True)
    """

    def add(self, value: Value) -> None:
        self.doc._op(SetAdd(self.name, value))

    def remove(self, value: Value) -> None:
        tags = self.doc.objects.tags_of(self.name, value)
        if not tags:
            raise InvalidArgument(f"{value!r} is not in the set {self.name!r}")
        self.doc._op(SetRemove(self.name, tags))

    def __contains__(self, value: object) -> bool:
        return self.doc.objects.has(self.name, value)  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[Value]:
        return iter(self.doc.objects.set(self.name))

    def __len__(self) -> int:
        return len(self.doc.objects.set(self.name))


class Text(_Handle):
    """A text (a Fugue sequence, :mod:`lattice.state.text`), indexed by code point.

    >>> from lattice.state import Doc
    >>> doc = Doc()
    >>> t = doc.text("body")
    >>> with doc.transaction():
    ...     t.insert(0, "hello")
    ...     t.delete(1, 2)
    ...     t.insert(1, "ipp")
    >>> str(t), len(t), t[1:4]
    ('hipplo', 6, 'ipp')
    """

    def insert(self, index: int, text: str) -> None:
        if not text:
            return
        doc = self.doc
        pending = doc._pending
        if pending is None and doc._local_edit():
            doc._local_insert(self.name, index, text)
            return
        if pending is None:  # one op, its own transaction
            seq = doc.objects.text(self.name)
            if not 0 <= index <= len(seq):
                raise OutOfRange(f"insert at {index} of a text of {len(seq)}")
            parent, side = seq.place(index)
            doc._op(TextInsert(self.name, parent, side, text))
            return
        view = doc._views.get(self.name)
        if view is None:
            view = doc._text_view(self.name)
        here = doc._width
        try:
            if index < 0:
                raise IndexError
            raw, side = view.type_at(index, SELF, text, here)
        except (IndexError, OverflowError):
            doc._forget_if_empty(self.name)
            raise OutOfRange(f"insert at {index} of a text of {len(view)}") from None
        last = pending[-1] if pending else None
        if (
            side == RIGHT
            and raw is not None
            and raw[1] == here - 1
            and isinstance(last, TextInsert)
            and last.name == self.name
            and raw[0] == SELF
        ):
            # Typing on from this transaction's last insert: one run, one op.
            if doc._run is None:
                doc._run = [last.text]
            doc._run.append(text)
            doc._width = here + len(text)
        else:
            parent = None if raw is None else Element(raw[0], raw[1])
            doc._op(TextInsert(self.name, parent, side, text))

    def delete(self, index: int, length: int = 1) -> None:
        if length <= 0:
            return
        doc = self.doc
        if doc._local_edit() and length <= MAX_TEXT_RUNS:
            doc._local_delete(self.name, index, length)
            return
        live = doc.objects.texts.get(self.name)  # in a transaction: as its ops left it
        size = 0 if live is None else len(live)
        if not 0 <= index <= index + length <= size:
            raise OutOfRange(f"delete {index}:{index + length} of a text of {size}")
        assert live is not None
        pending = doc._pending
        if pending is None:
            ops = delete_ops(self.name, live.visible_runs(index, index + length))
            with doc.transaction():
                for op in ops:
                    doc._op(op)
            return
        raw = doc._text_view(self.name).erase(index, index + length)
        last = pending[-1] if pending else None
        if (
            len(raw) == 1
            and isinstance(last, TextDelete)
            and last.name == self.name
            and len(last.runs) == 1
        ):
            # Backspacing or deleting forward on from the last delete: one run.
            ((f0, n0),), (((entry, at), n1),) = last.runs, raw
            if f0.entry == entry and at + n1 == f0.index:
                pending[-1] = TextDelete(self.name, ((Element(entry, at), n0 + n1),))
                return
            if f0.entry == entry and f0.index + n0 == at:
                pending[-1] = TextDelete(self.name, ((f0, n0 + n1),))
                return
        for op in delete_ops(self.name, [(Element(e, i), n) for (e, i), n in raw]):
            doc._op(op)

    def cursor(self, index: int) -> Element | None:
        """A position that survives concurrent edits: the character at ``index`` (None:
        the end). :meth:`position` tells where it is now.

        >>> from lattice.state import Doc
        >>> doc = Doc()
        >>> t = doc.text("t")
        >>> t.insert(0, "world")
        >>> c = t.cursor(0)
        >>> t.insert(0, "hello ")
        >>> t.position(c)
        6
        """
        seq = self.doc.objects.text(self.name)
        if not 0 <= index <= len(seq):
            raise OutOfRange(f"cursor at {index} of a text of {len(seq)}")
        return _committed(seq.element_at(index)) if index < len(seq) else None

    def position(self, cursor: Element | None) -> int:
        """Where ``cursor`` is now (a deleted character's place: where the next one is)."""
        seq = self.doc.objects.text(self.name)
        if cursor is None:
            return len(seq)
        if cursor not in seq:
            raise InvalidArgument("not a cursor of this text")
        return seq.index_of(cursor)

    def provenance(self, index: int) -> tuple[bytes, int, bytes, int]:
        """Who typed the character at ``index``: ``(entry id, op index, author, seq)`` —
        the audit trail of one character (:meth:`Doc.history` has the entry's time)."""
        seq = self.doc.objects.text(self.name)
        if not 0 <= index < len(seq):
            raise OutOfRange(f"character {index} of a text of {len(seq)}")
        element = _committed(seq.element_at(index))
        origin = self.doc.objects.origin(element.entry)
        assert origin is not None, "every character's entry was applied"
        author, at = origin
        return element.entry, element.index, author, at

    def splice(self, index: int, length: int, text: str) -> None:
        """Delete ``length`` characters at ``index`` and insert ``text`` there, as one."""
        with self.doc.transaction():
            self.delete(index, length)
            self.insert(index, text)

    def __str__(self) -> str:
        return str(self.doc.objects.text(self.name))

    def __len__(self) -> int:
        return len(self.doc.objects.text(self.name))

    def __getitem__(self, index: int | slice) -> str:
        seq = self.doc.objects.text(self.name)
        if isinstance(index, slice):
            start, stop, step = index.indices(len(seq))
            if step == 1:
                return seq.slice(start, max(start, stop))
            return str(seq)[index]
        at = index + len(seq) if index < 0 else index
        if not 0 <= at < len(seq):
            raise OutOfRange(f"character {index} of a text of {len(seq)}")
        return seq.slice(at, at + 1)

    def to_py(self) -> str:
        return str(self)


def _committed(element: Element) -> Element:
    """``element``, unless the open transaction typed it (it has no id until it commits)."""
    if element.entry == SELF:
        raise InvalidArgument("a character of the open transaction has no id until it commits")
    return element

"""The sequence type of a document: text as a Fugue tree (DESIGN §9).

Lattice's text is of the RGA–YATA–Fugue family, and follows **Fugue** (Weidner and
Kleppmann, "The Art of the Fugue", 2023): every character is a node of a tree, the left
or right child of the character it was typed next to, and the text is the tree's in-order
walk (left children, the node, right children; siblings by element id). An insert between
visible neighbours ``a`` and ``b`` becomes the right child of ``a`` if ``a`` has no right
child yet, else the left child of ``b``; a run of characters typed forward is a chain of
right children. Concurrent runs at one place are sibling subtrees, so they never
interleave character by character — neither forward nor backward typing, which YATA and
RGA can interleave. Deleted characters stay as tombstones (they order later inserts).

The order lives in the Rust kernel (``rust/src/text.rs``, ``_lattice.TextKernel``): runs
of the walk in a counted B-tree, O(log n) from a visible index to its element and back,
whole batches of ops per call. This module names elements as
:class:`~lattice.state.ops.Element`\\ s; ``tests/text_reference.py`` is the slow, plainly
correct model the kernel is property-tested against.

>>> from lattice.state.ops import RIGHT, Element
>>> seq = Sequence()
>>> e = bytes([1]) * 32
>>> seq.insert(None, RIGHT, Element(e, 0), "helo")
>>> parent, side = seq.place(3)           # between "hel" and "o"
>>> seq.insert(parent, side, Element(e, 4), "l")
>>> str(seq), seq.index_of(Element(e, 4))
('hello', 3)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from lattice import _lattice
from lattice.errors import InvalidArgument, NonCanonical
from lattice.state.ops import MAX_TEXT_RUNS, Element, TextDelete

__all__ = ["Sequence", "delete_ops", "deletes"]

_INSERT, _DELETE = 0, 1
_INDEXES = 2**32
_Insert = tuple[Element | None, int, Element, str]  # parent, side, first, text
_Delete = tuple[Element, int]  # first, count
#: A node as the state stores it: (element, character, parent, side, deleted).
Node = tuple[Element, str, Element | None, int, bool]


def _el(raw: tuple[bytes, int] | None) -> Element | None:
    return None if raw is None else Element(raw[0], raw[1])


def _raw(e: Element | None) -> tuple[bytes, int] | None:
    return None if e is None else _one(e)


def _one(e: Element) -> tuple[bytes, int]:
    if not 0 <= e.index < _INDEXES:
        raise InvalidArgument(f"an element's index is a u32, not {e.index}")
    return e.entry, e.index


_NOT_UTF8 = "text must be encodable as UTF-8 (no lone surrogates)"


class Sequence:
    """One text: a handle on its kernel."""

    __slots__ = ("_k",)

    def __init__(self) -> None:
        self._k = _lattice.TextKernel()

    @classmethod
    def from_nodes(cls, nodes: list[Node]) -> Sequence:
        """A text from its nodes, in any order (:class:`NonCanonical` unless they form
        one tree of one-character nodes)."""
        raw = []
        for element, char, parent, side, deleted in nodes:
            if len(char) != 1:
                raise NonCanonical("a text node has one character")
            raw.append(((element.entry, element.index), char, _raw(parent), side, deleted))
        seq = cls()
        try:
            seq._k = _lattice.TextKernel.from_nodes(raw)
        except InvalidArgument as exc:
            raise NonCanonical(f"text nodes: {exc}") from None
        return seq

    # --- changing ----------------------------------------------------------------------

    def insert(self, parent: Element | None, side: int, first: Element, text: str) -> None:
        """Insert ``text`` as a run: ``first`` under ``parent`` on ``side``, each next
        character (the next index) the right child of the one before."""
        try:
            self._k.insert(_raw(parent), side, _one(first), text)
        except UnicodeEncodeError:
            raise InvalidArgument(_NOT_UTF8) from None

    def type_at(
        self, index: int, entry: bytes, text: str, first: int = 0
    ) -> tuple[tuple[bytes, int] | None, int]:
        """Type ``text`` at visible ``index`` as elements ``(entry, first)`` on; returns
        where it went, ``(parent, side)``, the parent as an ``(entry, index)`` tuple
        (:meth:`place` then :meth:`insert`, in one kernel call)."""
        try:
            return self._k.type_at(index, (entry, first), text)
        except UnicodeEncodeError:
            raise InvalidArgument(_NOT_UTF8) from None

    def erase(self, start: int, end: int) -> list[tuple[tuple[bytes, int], int]]:
        """Delete the characters ``start:end``; returns them as ``((entry, index), count)``
        runs (:meth:`visible_runs` then :meth:`delete`, in one kernel call)."""
        return self._k.erase(start, end)

    def insert_op(self, first: Element) -> tuple[Element | None, int, str]:
        """The insert op that starts at ``first``: ``(parent, side, text)``."""
        found = self._k.insert_op(_one(first))
        if found is None:
            raise InvalidArgument("no insert op starts at that element")
        parent, side, text = found
        return _el(parent), side, text

    def delete(self, first: Element, count: int = 1) -> None:
        """Tombstone ``count`` elements from ``first`` (deleting twice is deleting once)."""
        self._k.delete(_one(first), count)

    def apply(self, ops: Iterable[_Insert | _Delete]) -> None:
        """A batch in one kernel call: ``(parent, side, first, text)`` inserts and
        ``(first, count)`` deletes, in order."""
        batch: list[Any] = []
        for op in ops:
            if len(op) == 4:
                parent, side, first, text = op
                batch.append((_INSERT, _raw(parent), side, (first.entry, first.index), text))
            else:
                first, count = op
                batch.append((_DELETE, (first.entry, first.index), count))
        try:
            self._k.apply(batch)
        except UnicodeEncodeError:
            raise InvalidArgument(_NOT_UTF8) from None

    def mark(self) -> None:
        """Record changes from now on, for :meth:`rollback`."""
        self._k.mark()

    def rollback(self) -> None:
        """Undo every change since :meth:`mark`."""
        self._k.rollback()

    # --- reading -----------------------------------------------------------------------

    def __contains__(self, element: object) -> bool:
        return (
            isinstance(element, Element)
            and 0 <= element.index < _INDEXES
            and self._k.contains((element.entry, element.index))
        )

    def contains_run(self, first: Element, count: int) -> bool:
        """Whether all of ``count`` elements from ``first`` are in this text."""
        if not (first.index >= 0 and count > 0 and first.index + count <= _INDEXES):
            return False
        return bool(self._k.contains((first.entry, first.index), count))

    def node(self, element: Element) -> tuple[str, bool]:
        """``(character, deleted)`` of ``element``."""
        found = self._k.node(_one(element))
        if found is None:
            raise InvalidArgument("not an element of this text")
        return found

    def place(self, index: int) -> tuple[Element | None, int]:
        """Where an insert at visible ``index`` goes: ``(parent, side)`` (Fugue's rule)."""
        parent, side = self._k.place(index)
        return _el(parent), side

    def place_after(self, left: Element | None) -> tuple[Element | None, int]:
        """Where an insert right after ``left`` (a character or a tombstone; None: the
        start) goes."""
        parent, side = self._k.place_after(_raw(left))
        return _el(parent), side

    def index_of(self, element: Element) -> int:
        """The visible index of ``element``; for a deleted one, of the next character
        still there (the end if none)."""
        return int(self._k.index_of(_one(element)))

    def element_at(self, index: int) -> Element:
        """The element of the character at visible ``index``."""
        ((entry, first), _), *_ = self._k.visible_runs(index, index + 1)
        return Element(entry, first)

    def visible_runs(self, start: int, end: int) -> list[tuple[Element, int]]:
        """The characters ``start:end`` as (first element, count) runs of consecutive
        elements."""
        return [(Element(e, i), n) for (e, i), n in self._k.visible_runs(start, end)]

    def visible(self) -> list[Element]:
        """The elements of the characters that are there, in text order."""
        return [
            Element(f.entry, f.index + k)
            for f, n in self.visible_runs(0, len(self))
            for k in range(n)
        ]

    def order(self) -> list[Element]:
        """Every element, tombstones included, in text order."""
        return [Element(*e) for e, *_ in self._k.nodes()]

    def nodes(self) -> list[Node]:
        """Every node in text order: (element, character, parent, side, deleted)."""
        return [(Element(*e), c, _el(p), s, d) for e, c, p, s, d in self._k.nodes()]

    def encode_nodes(self) -> bytes:
        """The nodes as the document state encodes them (docs/format.md)."""
        return bytes(self._k.encode_nodes())

    @property
    def total(self) -> int:
        """Every element, tombstones included."""
        return int(self._k.total)

    def slice(self, start: int, end: int) -> str:
        return str(self._k.slice(start, end))

    def __str__(self) -> str:
        return str(self._k)

    def __len__(self) -> int:
        return len(self._k)


def delete_ops(name: str, runs: list[tuple[Element, int]]) -> list[TextDelete]:
    """The ops that delete ``runs`` from text ``name``, at most ``MAX_TEXT_RUNS`` an op."""
    return [
        TextDelete(name, tuple(runs[start : start + MAX_TEXT_RUNS]))
        for start in range(0, len(runs), MAX_TEXT_RUNS)
    ]


def deletes(name: str, elements: list[Element]) -> list[TextDelete]:
    """The ops that delete ``elements`` from text ``name``: consecutive ones (one entry, the
    next index) as one run, in the order given, at most ``MAX_TEXT_RUNS`` runs an op."""
    runs: list[tuple[Element, int]] = []
    for e in elements:
        if runs:
            first, n = runs[-1]
            if first.entry == e.entry and first.index + n == e.index:
                runs[-1] = (first, n + 1)
                continue
        runs.append((e, 1))
    return delete_ops(name, runs)

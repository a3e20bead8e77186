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

This module is the semantics, in plain Python; the Rust kernel (``rust/src/text.rs``,
a later step) will hold the same order with runs and O(log n) lookups.

>>> from lattice.state.ops import RIGHT, Element
>>> seq = Sequence()
>>> e = bytes([1]) * 32
>>> seq.insert(None, RIGHT, Element(e, 0), "helo")
>>> parent, side = seq.place(3)           # between "hel" and "o"
>>> seq.insert(parent, side, Element(e, 4), "l")
>>> str(seq)
'hello'
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from lattice.errors import NonCanonical
from lattice.state.ops import LEFT, MAX_TEXT_RUNS, RIGHT, Element, TextDelete

__all__ = ["Sequence", "deletes"]


@dataclass
class _Node:
    char: str
    parent: Element | None
    side: int
    deleted: bool = False
    left: list[Element] = field(default_factory=list)
    right: list[Element] = field(default_factory=list)


class Sequence:
    """One text: its tree of characters, and the in-order walk (cached)."""

    def __init__(self) -> None:
        self.nodes: dict[Element, _Node] = {}
        self._top: list[Element] = []  # the root's children (all on its right)
        self._order: list[Element] | None = None
        self._visible: list[Element] | None = None

    @classmethod
    def from_nodes(cls, nodes: list[tuple[Element, str, Element | None, int, bool]]) -> Sequence:
        """A text from its nodes: (element, character, parent, side, deleted)."""
        seq = cls()
        for element, char, parent, side, deleted in nodes:
            if side not in (LEFT, RIGHT) or len(char) != 1 or element in seq.nodes:
                raise NonCanonical("a text node has one character, a side, and one place")
            seq.nodes[element] = _Node(char, parent, side, deleted)
        for element, _, parent, side, _ in nodes:
            if parent is None:
                seq._top.append(element)
            elif parent in seq.nodes:
                node = seq.nodes[parent]
                (node.left if side == LEFT else node.right).append(element)
            else:
                raise NonCanonical("a character whose parent is not in the text")
        seq._top.sort()
        for node in seq.nodes.values():
            node.left.sort()
            node.right.sort()
        return seq

    def __contains__(self, element: object) -> bool:
        return element in self.nodes

    def insert(self, parent: Element | None, side: int, first: Element, text: str) -> None:
        """Insert ``text`` as a run: ``first`` under ``parent`` on ``side``, each next
        character (the next index) the right child of the one before."""
        place = parent
        for k, char in enumerate(text):
            element = Element(first.entry, first.index + k)
            self.nodes[element] = _Node(char, place, side if k == 0 else RIGHT)
            if place is None:
                bisect.insort(self._top, element)
            else:
                node = self.nodes[place]
                bisect.insort(
                    node.left if (side if k == 0 else RIGHT) == LEFT else node.right, element
                )
            place = element
        self._order = self._visible = None

    def delete(self, element: Element) -> None:
        """Tombstone ``element`` (deleting twice is deleting once)."""
        node = self.nodes[element]
        if not node.deleted:
            node.deleted = True
            self._visible = None

    def order(self) -> list[Element]:
        """Every element, tombstones included, in text order."""
        if self._order is None:
            out: list[Element] = []
            # An explicit stack: a long run is a long chain, too deep to recurse.
            stack: list[tuple[Element, bool]] = [(e, False) for e in reversed(self._top)]
            while stack:
                element, expanded = stack.pop()
                if expanded:
                    out.append(element)
                    continue
                node = self.nodes[element]
                stack.extend((e, False) for e in reversed(node.right))
                stack.append((element, True))
                stack.extend((e, False) for e in reversed(node.left))
            self._order = out
        return self._order

    def visible(self) -> list[Element]:
        """The elements of the characters that are there, in text order."""
        if self._visible is None:
            self._visible = [e for e in self.order() if not self.nodes[e].deleted]
        return self._visible

    def place(self, index: int) -> tuple[Element | None, int]:
        """Where an insert at visible ``index`` goes: ``(parent, side)`` (Fugue's rule)."""
        visible = self.visible()
        return self.place_after(visible[index - 1] if index > 0 else None)

    def place_after(self, left: Element | None) -> tuple[Element | None, int]:
        """Where an insert right after ``left`` (a character or a tombstone; None: the
        start) goes: its right child if it has none, else the left child of the element
        after it."""
        if left is not None and not self.nodes[left].right:
            return left, RIGHT
        order = self.order()
        after = order.index(left) + 1 if left is not None else 0
        if after < len(order):
            return order[after], LEFT
        return None, RIGHT

    def index_of(self, element: Element) -> int:
        """The visible index of ``element``; for a deleted one, of the next character
        still there (the end if none)."""
        order = self.order()
        at = order.index(element)
        return sum(1 for e in order[:at] if not self.nodes[e].deleted)

    def __str__(self) -> str:
        return "".join(self.nodes[e].char for e in self.visible())

    def __len__(self) -> int:
        return len(self.visible())


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
    return [
        TextDelete(name, tuple(runs[start : start + MAX_TEXT_RUNS]))
        for start in range(0, len(runs), MAX_TEXT_RUNS)
    ]

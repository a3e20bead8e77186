"""The slow, plainly correct model of a document text that the Rust kernel
(``lattice.state.text.Sequence`` over ``rust/src/text.rs``) is property-tested against:
a Fugue tree of one node per character, the walk recomputed from scratch whenever it is
asked for. Same methods, same answers; nothing here is fast.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from lattice.errors import NonCanonical
from lattice.state.ops import LEFT, RIGHT, Element

__all__ = ["Reference"]


@dataclass
class _Node:
    char: str
    parent: Element | None
    side: int
    deleted: bool = False
    left: list[Element] = field(default_factory=list)
    right: list[Element] = field(default_factory=list)


class Reference:
    """One text: its tree of characters, and the in-order walk (cached)."""

    def __init__(self) -> None:
        self._nodes: dict[Element, _Node] = {}
        self._top: list[Element] = []  # the root's children (all on its right)
        self._order: list[Element] | None = None
        self._visible: list[Element] | None = None

    @classmethod
    def from_nodes(cls, nodes: list[tuple[Element, str, Element | None, int, bool]]) -> Reference:
        """A text from its nodes: (element, character, parent, side, deleted)."""
        seq = cls()
        for element, char, parent, side, deleted in nodes:
            if side not in (LEFT, RIGHT) or len(char) != 1 or element in seq._nodes:
                raise NonCanonical("a text node has one character, a side, and one place")
            seq._nodes[element] = _Node(char, parent, side, deleted)
        for element, _, parent, side, _ in nodes:
            if parent is None:
                seq._top.append(element)
            elif parent in seq._nodes:
                node = seq._nodes[parent]
                (node.left if side == LEFT else node.right).append(element)
            else:
                raise NonCanonical("a character whose parent is not in the text")
        seq._top.sort()
        for node in seq._nodes.values():
            node.left.sort()
            node.right.sort()
        return seq

    def __contains__(self, element: object) -> bool:
        return element in self._nodes

    def insert(self, parent: Element | None, side: int, first: Element, text: str) -> None:
        """Insert ``text`` as a run: ``first`` under ``parent`` on ``side``, each next
        character (the next index) the right child of the one before."""
        place = parent
        for k, char in enumerate(text):
            element = Element(first.entry, first.index + k)
            self._nodes[element] = _Node(char, place, side if k == 0 else RIGHT)
            if place is None:
                bisect.insort(self._top, element)
            else:
                node = self._nodes[place]
                bisect.insort(
                    node.left if (side if k == 0 else RIGHT) == LEFT else node.right, element
                )
            place = element
        self._order = self._visible = None

    def delete(self, first: Element, count: int = 1) -> None:
        """Tombstone ``count`` elements from ``first`` (deleting twice is deleting once)."""
        for k in range(count):
            node = self._nodes[Element(first.entry, first.index + k)]
            if not node.deleted:
                node.deleted = True
                self._visible = None

    def node(self, element: Element) -> tuple[str, bool]:
        node = self._nodes[element]
        return node.char, node.deleted

    def nodes(self) -> list[tuple[Element, str, Element | None, int, bool]]:
        return [
            (e, n.char, n.parent, n.side, n.deleted) for e in self.order() for n in [self._nodes[e]]
        ]

    def visible_runs(self, start: int, end: int) -> list[tuple[Element, int]]:
        runs: list[tuple[Element, int]] = []
        for e in self.visible()[start:end]:
            if runs and runs[-1][0].entry == e.entry and runs[-1][0].index + runs[-1][1] == e.index:
                runs[-1] = (runs[-1][0], runs[-1][1] + 1)
            else:
                runs.append((e, 1))
        return runs

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
                node = self._nodes[element]
                stack.extend((e, False) for e in reversed(node.right))
                stack.append((element, True))
                stack.extend((e, False) for e in reversed(node.left))
            self._order = out
        return self._order

    def visible(self) -> list[Element]:
        """The elements of the characters that are there, in text order."""
        if self._visible is None:
            self._visible = [e for e in self.order() if not self._nodes[e].deleted]
        return self._visible

    def place(self, index: int) -> tuple[Element | None, int]:
        """Where an insert at visible ``index`` goes: ``(parent, side)`` (Fugue's rule)."""
        visible = self.visible()
        return self.place_after(visible[index - 1] if index > 0 else None)

    def place_after(self, left: Element | None) -> tuple[Element | None, int]:
        """Where an insert right after ``left`` (a character or a tombstone; None: the
        start) goes: its right child if it has none, else the left child of the element
        after it."""
        if left is not None and not self._nodes[left].right:
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
        return sum(1 for e in order[:at] if not self._nodes[e].deleted)

    def __str__(self) -> str:
        return "".join(self._nodes[e].char for e in self.visible())

    def __len__(self) -> int:
        return len(self.visible())

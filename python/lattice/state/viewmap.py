"""The owner's map between a view's elements and the deep document's (DESIGN §8).

A view names every element it shows by a view id; the owner alone knows which deep
element each one is. Text characters map as runs, consecutive on both sides, so a whole
snapshot costs one run per run of the deep state's visible text — not per character, and
nothing per op of the history. A set member in a view stands for the deep adds that hold
it, each with the view seq from which the guest has seen it (a guest's remove takes away
the adds it could see, as an OR-set remove does).

>>> from lattice.state.ops import Element
>>> v, d = bytes([1]) * 32, bytes([2]) * 32
>>> m = ViewMap()
>>> m.add(Element(v, 0), Element(d, 10), 5)
>>> [(e.entry == d, e.index, n) for e, n in m.to_deep(Element(v, 3), 2)]
[(True, 13, 2)]
>>> [(e.entry == v, e.index, n) for e, n in m.to_view(Element(d, 12), 1)]
[(True, 2, 1)]
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator

from lattice.errors import NotInCausalPast
from lattice.state.ops import Element

__all__ = ["Run", "ViewMap"]

#: One run: (first view element, first deep element, count).
Run = tuple[Element, Element, int]


class _Side:
    """Runs keyed by the entry of one side: entry -> starts, and (start, count, other)."""

    def __init__(self) -> None:
        self.starts: dict[bytes, list[int]] = {}
        self.runs: dict[bytes, list[tuple[int, int, Element]]] = {}

    def add(self, first: Element, other: Element, count: int) -> None:
        starts = self.starts.setdefault(first.entry, [])
        runs = self.runs.setdefault(first.entry, [])
        at = bisect.bisect_right(starts, first.index)
        starts.insert(at, first.index)
        runs.insert(at, (first.index, count, other))

    def find(self, first: Element, count: int) -> Iterator[tuple[Element, int, int]]:
        """The mapped pieces of ``count`` elements from ``first``: (other, count, offset)."""
        starts = self.starts.get(first.entry)
        if starts is None:
            return
        runs = self.runs[first.entry]
        index, end = first.index, first.index + count
        at = max(0, bisect.bisect_right(starts, index) - 1)
        while at < len(runs) and index < end:
            start, n, other = runs[at]
            if start + n <= index:
                at += 1
                continue
            if start >= end:
                break
            lo, hi = max(start, index), min(start + n, end)
            if lo < hi:
                yield Element(other.entry, other.index + lo - start), hi - lo, lo - first.index
            index = hi
            at += 1


class ViewMap:
    """View id ↔ deep element, for texts (runs) and set members (tags)."""

    def __init__(self) -> None:
        self._forward = _Side()
        self._backward = _Side()
        self.count = 0  # runs
        #: A view's set member -> [(deep tag, the view seq from which the guest sees it)].
        self.tags: dict[Element, list[tuple[Element, int]]] = {}
        self._tag_of: dict[Element, Element] = {}  # deep tag -> view member

    def add(self, view: Element, deep: Element, count: int) -> None:
        """``count`` consecutive view elements from ``view`` are the deep ones from ``deep``."""
        self._forward.add(view, deep, count)
        self._backward.add(deep, view, count)
        self.count += 1

    def add_tag(self, member: Element, deep: Element, seq: int) -> None:
        """The deep add ``deep`` holds the view's set member ``member`` from view seq ``seq``."""
        self.tags.setdefault(member, []).append((deep, seq))
        self._tag_of[deep] = member

    def member_of(self, deep: Element) -> Element | None:
        return self._tag_of.get(deep)

    def to_deep(self, view: Element, count: int = 1) -> list[tuple[Element, int]]:
        """The deep runs of ``count`` view elements from ``view``; NotInCausalPast if the
        view never showed one of them."""
        out = [(other, n) for other, n, _ in self._forward.find(view, count)]
        if sum(n for _, n in out) != count:
            raise NotInCausalPast(f"view element {view.index} is not one this view showed")
        return out

    def to_view(self, deep: Element, count: int = 1) -> list[tuple[Element, int]]:
        """The view runs of those of ``count`` deep elements from ``deep`` the view shows."""
        return [(other, n) for other, n, _ in self._backward.find(deep, count)]

    def runs(self) -> Iterator[Run]:
        """Every run, for the store."""
        for entry, runs in self._forward.runs.items():
            for start, n, other in runs:
                yield Element(entry, start), other, n

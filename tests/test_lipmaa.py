"""Lipmaa links and shortest paths (DESIGN §2)."""

from __future__ import annotations

import random
from collections import deque
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

import reference as ref
from lattice import _lattice as L
from lattice import errors

KNOWN = {1: 0, 2: 1, 3: 2, 4: 1, 13: 4, 26: 13, 39: 26, 40: 13}
"""DESIGN §2's known values (plus the first few by hand)."""


def test_known_values() -> None:
    for n, want in KNOWN.items():
        assert L.lipmaa(n) == want, n
        assert ref.lipmaa(n) == want, n


def test_known_paths() -> None:
    assert L.lipmaa_path(40, 1) == [40, 13, 4, 1]
    assert L.lipmaa_path(23, 1) == [23, 22, 21, 17, 13, 4, 1]
    assert len(L.lipmaa_path(1000, 1)) <= 12
    assert ref.lipmaa_path(40, 1) == [40, 13, 4, 1]
    assert ref.lipmaa_path(23, 1) == [23, 22, 21, 17, 13, 4, 1]


def test_trivial_paths() -> None:
    assert L.lipmaa_path(1, 1) == [1]
    assert L.lipmaa_path(7, 7) == [7]
    assert L.lipmaa_path(8, 7) == [8, 7]


def _is_hop(a: int, b: int) -> bool:
    return b in (a - 1, ref.lipmaa(a))


def test_every_path_to_one_is_short_and_valid() -> None:
    for n in range(1, 3001):
        path = L.lipmaa_path(n, 1)
        assert path[0] == n and path[-1] == 1, n
        assert all(_is_hop(a, b) for a, b in pairwise(path)), (n, path)
        assert len(path) <= ref.lipmaa_path_bound(n), (n, len(path))
        assert path == ref.lipmaa_path(n, 1), n


def _bfs_len(start: int, end: int) -> int:
    """Entries on a truly shortest path, by breadth-first search over prev/lipmaa hops."""
    dist = {start: 1}
    todo = deque([start])
    while todo:
        a = todo.popleft()
        if a == end:
            return dist[a]
        for b in (a - 1, ref.lipmaa(a)):
            if b >= end and b not in dist:
                dist[b] = dist[a] + 1
                todo.append(b)
    raise AssertionError("no path")


def test_paths_are_shortest() -> None:
    for start in range(1, 120):
        for end in range(1, start + 1):
            path = L.lipmaa_path(start, end)
            assert path[0] == start and path[-1] == end
            assert all(_is_hop(a, b) for a, b in pairwise(path))
            assert len(path) == _bfs_len(start, end), (start, end)


def test_rust_matches_reference_sampled() -> None:
    rng = random.Random(20240611)
    ns = list(range(1, 3000)) + rng.sample(range(3000, 100_001), 3000)
    ns += [(3**k - 1) // 2 + d for k in range(2, 11) for d in (-1, 0, 1)]
    for n in ns:
        assert L.lipmaa(n) == ref.lipmaa(n), n


@given(start=st.integers(1, 10**6), data=st.data())
def test_paths_match_reference(start: int, data: st.DataObject) -> None:
    end = data.draw(st.integers(1, start), label="end")
    assert L.lipmaa_path(start, end) == ref.lipmaa_path(start, end)


@pytest.mark.parametrize(("start", "end"), [(1, 2), (3, 10), (0, 0), (5, 0), (0, 1)])
def test_bad_path_bounds_are_refused(start: int, end: int) -> None:
    with pytest.raises(errors.LatticeError) as info:
        L.lipmaa_path(start, end)
    assert isinstance(info.value, ValueError)

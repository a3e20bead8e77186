"""The entanglement-matrix kernel (DESIGN §4, docs/format.md "Matrix")."""

from __future__ import annotations

import random
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import reference as ref
from lattice import _lattice as L
from lattice import errors
from lattice.matrix import EntanglementMatrix

U64_MAX = 2**64 - 1


def _snapshot(m: L.Matrix) -> list[list[int]]:
    return [m.row(o) for o in range(m.n)]


@st.composite
def update_sequences(draw: st.DrawFn) -> tuple[int, list[tuple[int, list[tuple[int, int]]]]]:
    """N, and a list of (observer, delta) where delta names each sender at most once."""
    n = draw(st.integers(1, 9), label="N")
    seqs = st.integers(0, 12) | st.integers(0, U64_MAX)
    updates = draw(
        st.lists(
            st.tuples(
                st.integers(0, n - 1),
                st.dictionaries(st.integers(0, n - 1), seqs, max_size=n).map(
                    lambda d: sorted(d.items())
                ),
            ),
            max_size=25,
        ),
        label="updates",
    )
    return n, updates


def _check_queries(m: L.Matrix, model: list[list[int]]) -> None:
    n = len(model)
    assert _snapshot(m) == model
    assert [m.column(s) for s in range(n)] == [[model[o][s] for o in range(n)] for s in range(n)]
    assert m.known_to_all_indexed() == ref.known_to_all(model)
    for q in range(1, n + 1):
        assert m.known_to_quorum_indexed(q) == ref.known_to_quorum(model, q), q
    for s in range(n):
        column = {model[o][s] for o in range(n)}
        for k in {1, 2, *column, max(column) + 1} - {0}:
            if k <= U64_MAX:
                assert m.acceptance(s, k) == ref.acceptance(model, s, k), (s, k)


@given(case=update_sequences())
def test_updates_match_reference(case: tuple[int, list[tuple[int, list[tuple[int, int]]]]]) -> None:
    n, updates = case
    m = L.Matrix(n)
    assert m.n == n
    view = np.asarray(m)  # taken before any update: it must stay live
    model = [[0] * n for _ in range(n)]
    _check_queries(m, model)
    for observer, delta in updates:
        before = _snapshot(m)
        grew = m.update_row(observer, delta)
        want_grew = 0
        for sender, seq in delta:
            if seq > model[observer][sender]:
                model[observer][sender] = seq
                want_grew += 1
        assert grew == want_grew
        after = _snapshot(m)
        assert all(
            a >= b
            for ra, rb in zip(after, before, strict=True)
            for a, b in zip(ra, rb, strict=True)
        )
        assert view.tolist() == model
    _check_queries(m, model)
    for o in range(n):
        for s in range(n):
            assert m.get(o, s) == model[o][s] == int(view[o, s])


def test_numpy_view_is_live_read_only_and_column_major() -> None:
    n = 5
    m = L.Matrix(n)
    view = np.asarray(m)
    assert view.shape == (n, n)
    assert view.dtype == np.uint64
    assert not view.flags.writeable
    assert view.strides == (8, 8 * n)  # column-major: one sender's column is contiguous
    assert view.flags.f_contiguous
    assert np.shares_memory(view, np.asarray(m))

    m.update_row(3, [(1, 7)])  # observer 3 has seen sender 1 up to seq 7
    assert view[3, 1] == 7 and view[1, 3] == 0
    assert m.get(3, 1) == 7
    assert np.array_equal(view[:, 1], np.array(m.column(1), dtype=np.uint64))
    assert np.array_equal(view[3, :], np.array(m.row(3), dtype=np.uint64))

    with pytest.raises(ValueError):
        view[0, 0] = 1
    assert m.get(0, 0) == 0


def test_cells_never_decrease() -> None:
    m = L.Matrix(3)
    assert m.update_row(0, [(1, 10), (2, 4)]) == 2
    assert m.update_row(0, [(1, 3), (2, 4)]) == 0
    assert m.update_row(0, [(1, 11)]) == 1
    assert m.row(0) == [0, 11, 4]
    assert m.update_row(2, [(0, U64_MAX)]) == 1
    assert m.get(2, 0) == U64_MAX


def test_design_worked_example() -> None:
    """DESIGN §4: peers A-B-C-D on a line, D's view, indexes A=0, B=1, C=2, D=3."""
    a, b, c, d = range(4)
    m = L.Matrix(4)
    m.update_row(a, [(a, 1)])
    m.update_row(b, [(a, 1), (b, 1)])
    m.update_row(c, [(a, 1), (b, 1), (c, 1)])
    m.update_row(d, [(a, 1), (b, 1), (c, 1), (d, 1)])
    assert _snapshot(m) == [[1, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0], [1, 1, 1, 1]]
    assert m.known_to_all_indexed() == [1, 0, 0, 0]
    n, f = 4, 1
    q = (n + f) // 2 + 1
    assert q == 3
    assert m.known_to_quorum_indexed(q) == [1, 1, 0, 0]
    assert [m.acceptance(s, 1) for s in range(4)] == [4, 3, 2, 1]
    assert m.known_to_quorum_indexed(3) == ref.known_to_quorum(_snapshot(m), 3)


def test_larger_matrix_matches_numpy_and_threads_agree() -> None:
    n = 300
    rng = random.Random(4)
    m = L.Matrix(n)
    for o in range(n):
        m.update_row(o, [(s, rng.randrange(1000)) for s in rng.sample(range(n), 40)])
    view = np.asarray(m)
    cols = np.sort(view, axis=0)[::-1]  # each column sorted descending
    assert m.known_to_all_indexed() == view.min(axis=0).tolist()
    for q in (1, 2, n // 3, (n + (n - 1) // 3) // 2 + 1, n):
        want = cols[q - 1].tolist()
        assert m.known_to_quorum_indexed(q) == want
        assert m.known_to_quorum_indexed(q, threads=1) == want
        assert m.known_to_quorum_indexed(q, threads=2) == want
    model = view.tolist()
    assert m.known_to_quorum_indexed(7) == ref.known_to_quorum(model, 7)
    assert m.acceptance(5, 500) == ref.acceptance(model, 5, 500)


def _assert_index_error(exc: BaseException) -> None:
    assert isinstance(exc, errors.LatticeError)
    assert isinstance(exc, IndexError)


def test_out_of_range_indexes() -> None:
    n = 4
    m = L.Matrix(n)
    calls: list[Callable[[], object]] = [
        lambda: m.get(n, 0),
        lambda: m.get(0, n),
        lambda: m.row(n),
        lambda: m.column(n),
        lambda: m.update_row(n, []),
        lambda: m.update_row(0, [(n, 1)]),
        lambda: m.acceptance(n, 1),
    ]
    for call in calls:
        with pytest.raises(errors.LatticeError) as info:
            call()
        _assert_index_error(info.value)
    assert _snapshot(m) == [[0] * n for _ in range(n)]  # a refused update changes nothing


@pytest.mark.parametrize("q", [0, 5, 100])
def test_out_of_range_quorum(q: int) -> None:
    m = L.Matrix(4)
    with pytest.raises(errors.LatticeError) as info:
        m.known_to_quorum_indexed(q)
    assert isinstance(info.value, ValueError)


def test_one_name_one_contract() -> None:
    """The kernel answers by position (``*_indexed``, lists); EntanglementMatrix answers by
    peer key (dicts), as DESIGN §14 specifies. The kernel's old names still answer, with a
    DeprecationWarning, until lattice 0.2."""
    ids = [bytes([i]) * 32 for i in range(1, 5)]
    em = EntanglementMatrix(ids)
    em.observe(ids[1], {ids[0]: 1, ids[1]: 1})
    em.observe(ids[2], {ids[0]: 1})
    kernel = em._m
    assert kernel.known_to_quorum_indexed(2) == [1, 0, 0, 0]
    assert em.known_to_quorum(2) == dict(zip(ids, [1, 0, 0, 0], strict=True))
    assert kernel.known_to_all_indexed() == [0, 0, 0, 0] == list(em.known_to_all().values())
    with pytest.warns(DeprecationWarning, match="known_to_quorum_indexed"):
        assert kernel.known_to_quorum(2) == [1, 0, 0, 0]
    with pytest.warns(DeprecationWarning, match="known_to_all_indexed"):
        assert kernel.known_to_all() == [0, 0, 0, 0]

"""P5 (DESIGN §15): the all-columns quorum query and single-row updates.

Targets: N = 1024 ≤ 5 ms, N = 4096 ≤ 80 ms; a row update costs O(delta), not O(N) (the
same 16-cell update at N = 1024 and N = 4096). Baseline: numpy's ``partition`` over the
same cells.
"""

from __future__ import annotations

import numpy as np
import pytest

from lattice import _lattice

SIZES = (1024, 4096)
SMOKE_SIZES = (64, 128)
DELTA = 16


def filled(n: int) -> _lattice.Matrix:
    m = _lattice.Matrix(n)
    rng = np.random.default_rng(n)
    for o in range(n):
        m.update_row(o, list(enumerate(rng.integers(0, 100_000, n).tolist())))
    return m


def quorum_size(n: int) -> int:
    f = (n - 1) // 3
    return (n + f) // 2 + 1


@pytest.fixture(scope="module")
def matrices(full_size: bool) -> dict[int, _lattice.Matrix]:
    sizes = SIZES if full_size else SMOKE_SIZES
    return {n: filled(n) for n in sizes}


@pytest.mark.benchmark(group="P5 quorum query")
@pytest.mark.parametrize("size_index", [0, 1], ids=["N1024", "N4096"])
def test_p5_quorum_query(benchmark, matrices, size_index: int) -> None:  # type: ignore[no-untyped-def]
    n = sorted(matrices)[size_index]
    m = matrices[n]
    q = quorum_size(n)
    benchmark.extra_info["n"] = n
    result = benchmark(m.known_to_quorum_indexed, q)
    expected = np.partition(m.to_numpy(), n - q, axis=0)[n - q]
    assert result == expected.tolist()


@pytest.mark.benchmark(group="P5 quorum query numpy")
@pytest.mark.parametrize("size_index", [0, 1], ids=["N1024", "N4096"])
def test_p5_quorum_numpy_baseline(benchmark, matrices, size_index: int) -> None:  # type: ignore[no-untyped-def]
    n = sorted(matrices)[size_index]
    view = matrices[n].to_numpy()
    q = quorum_size(n)
    benchmark.extra_info["n"] = n
    result = benchmark(lambda: np.partition(view, n - q, axis=0)[n - q])
    assert len(result) == n


@pytest.mark.benchmark(group="P5 row update")
@pytest.mark.parametrize("size_index", [0, 1], ids=["N1024", "N4096"])
def test_p5_row_update(benchmark, matrices, size_index: int) -> None:  # type: ignore[no-untyped-def]
    n = sorted(matrices)[size_index]
    m = matrices[n]
    benchmark.extra_info["n"] = n
    benchmark.extra_info["delta"] = DELTA
    counter = iter(range(200_000, 10**12))

    def update() -> int:
        seq = next(counter)
        return m.update_row(n // 2, [(s, seq) for s in range(0, n, n // DELTA)])

    assert benchmark(update) == DELTA

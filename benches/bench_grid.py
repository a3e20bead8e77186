"""P15 (DESIGN §15): the compute grid. Freivalds' check (k = 20) against recomputing the
product, float64 and int64, n = 256 … 2048, in one run — the whole check (drawing the
rows and ``rᵀ·A·B``, once per task) and the check of one result (``rᵀ·C``) — and tasks
per second end to end with 4 worker processes on loopback at redundancy 1 and 2."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lattice.grid.freivalds import prepare
from lattice.grid.local import LocalGrid

SIZES = (256, 512, 1024, 2048)


def _best(run: Callable[[], Any], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        began = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - began)
    return best


def _inputs(dtype: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(n)
    if dtype == "float64":
        return rng.standard_normal((n, n)), rng.standard_normal((n, n))
    return (
        rng.integers(-(2**63), 2**63 - 1, (n, n), dtype=np.int64),
        rng.integers(-(2**63), 2**63 - 1, (n, n), dtype=np.int64),
    )


def _freivalds(dtype: str, n: int) -> dict[str, float]:
    a, b = _inputs(dtype, n)
    slow = dtype == "int64" and n >= 1024  # numpy's int64 product does not use BLAS
    with np.errstate(over="ignore"):
        c = a @ b
        recompute = _best(lambda: a @ b, 1 if slow else 3)
    whole = _best(lambda: prepare(a, b).check(c), 3)
    prepared = prepare(a, b)
    one = _best(lambda: prepared.check(c), 5)
    assert prepared.check(c)
    return {"recompute": recompute, "whole": whole, "check": one}


@pytest.mark.benchmark(group="P15 freivalds")
@pytest.mark.parametrize("dtype", ["float64", "int64"])
def test_p15_freivalds(benchmark, dtype: str, full_size: bool) -> None:  # type: ignore[no-untyped-def]
    sizes = SIZES if full_size else SIZES[:1]

    def run() -> dict[int, dict[str, float]]:
        return {n: _freivalds(dtype, n) for n in sizes}

    out = benchmark.pedantic(run, rounds=1, iterations=1)
    for n, times in out.items():
        for what, seconds in times.items():
            benchmark.extra_info[f"{what}_{n}"] = seconds


def _end_to_end(directory: Path, full_size: bool) -> dict[str, float]:
    tasks = 40 if full_size else 6
    rng = np.random.default_rng(15)
    a, b = rng.standard_normal((64, 64)), rng.standard_normal((64, 64))
    out: dict[str, float] = {}
    with LocalGrid.start(directory, ["honest"] * 4) as local:
        local.wait_workers()
        local.grid.submit("matmul", a, b, redundancy=1).result(timeout=60)  # warm
        for k in (1, 2):
            began = time.perf_counter()
            futures = [local.grid.submit("matmul", a, b, redundancy=k) for _ in range(tasks)]
            for future in futures:
                assert np.allclose(future.result(timeout=120), a @ b)
            out[f"tasks_per_s_{k}"] = tasks / (time.perf_counter() - began)
    out["tasks"] = tasks
    return out


@pytest.mark.benchmark(group="P15 grid")
def test_p15_end_to_end(benchmark, full_size: bool, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = benchmark.pedantic(_end_to_end, args=(tmp_path, full_size), rounds=1, iterations=1)
    benchmark.extra_info.update(out)

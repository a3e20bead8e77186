"""P3 (DESIGN §15): hash-chain and lipmaa validation of a 1M-entry segment, no signatures.

Target: ≥ 3 M entries/s per core. Measured on one thread (the per-core figure itself) and
on every core (reported divided by the thread count).
"""

from __future__ import annotations

import os

import pytest

import lattice
from lattice import _lattice

FULL_SEGMENT = 1_000_000
SMOKE_SEGMENT = 2_000


@pytest.fixture(scope="module")
def segment(full_size: bool) -> tuple[bytes, int]:
    count = FULL_SEGMENT if full_size else SMOKE_SEGMENT
    key = _lattice.SigningKey.from_seed(bytes(range(32)))
    log = _lattice.synthetic_log(key, bytes(32), count)
    return b"".join(log), count


@pytest.mark.benchmark(group="P3 chain validation")
@pytest.mark.parametrize("threads", [1, None], ids=["one-thread", "all-cores"])
def test_p3_validate_segment(benchmark, segment, threads: int | None) -> None:  # type: ignore[no-untyped-def]
    buf, count = segment
    benchmark.extra_info["entries"] = count
    benchmark.extra_info["threads"] = threads or os.cpu_count() or 1
    report = benchmark.pedantic(
        lattice.validate_chain, args=(buf,), kwargs={"threads": threads}, rounds=5, iterations=1
    )
    assert report.ok
    assert report.failure_index is None

"""P13 (DESIGN §15): proof of work for admission — the check (one hash), the search on one
and two threads, and a Python loop over the ``blake3`` package doing the same search, in
the same run. Each search runs a fixed number of attempts at an unreachable target, so
every figure is attempts per second, not luck."""

from __future__ import annotations

import blake3
import pytest

from lattice import _lattice

KEY, SWARM = bytes(range(32)), bytes(32)
UNREACHABLE = 60


def _attempts(full_size: bool) -> int:
    return 4_000_000 if full_size else 200_000


@pytest.mark.benchmark(group="P13 pow")
def test_p13_check(benchmark) -> None:  # type: ignore[no-untyped-def]
    nonce = _lattice.pow_search(KEY, SWARM, 8)
    benchmark.extra_info["attempts"] = 1
    benchmark(_lattice.pow_check, KEY, SWARM, 8, nonce, 8)


@pytest.mark.benchmark(group="P13 pow")
@pytest.mark.parametrize("threads", [1, 2])
def test_p13_search(benchmark, threads: int, full_size: bool) -> None:  # type: ignore[no-untyped-def]
    n = _attempts(full_size)
    benchmark.extra_info["attempts"] = n
    result = benchmark.pedantic(
        _lattice.pow_search, args=(KEY, SWARM, UNREACHABLE),
        kwargs={"attempts": n, "threads": threads}, rounds=3, iterations=1,
    )  # fmt: skip
    assert result is None


@pytest.mark.benchmark(group="P13 pow")
def test_p13_python_loop(benchmark, full_size: bool) -> None:  # type: ignore[no-untyped-def]
    n = _attempts(full_size) // 20
    prefix = KEY + SWARM + bytes([UNREACHABLE])

    def run() -> None:
        for nonce in range(n):
            h = blake3.blake3(
                prefix + nonce.to_bytes(8, "big"), derive_key_context="lattice v1 pow"
            )
            if int.from_bytes(h.digest()[:8], "big") >> (64 - UNREACHABLE) == 0:
                raise AssertionError("found the unreachable")

    benchmark.extra_info["attempts"] = n
    benchmark.pedantic(run, rounds=3, iterations=1)

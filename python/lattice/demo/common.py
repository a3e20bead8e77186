"""What the demo's sections share: the swarm id and small timing helpers."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from lattice import _lattice

__all__ = ["SWARM_ID", "rate", "timed"]

T = TypeVar("T")

SWARM_ID = _lattice.blake3_derive_key("lattice v1 demo swarm", b"")


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:,.0f}/s" if seconds > 0 else "∞/s"

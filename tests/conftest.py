"""Fixtures the tests share (the hypothesis profiles and the benchmark switch are in the
repository's top-level conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from netns import Net, require_netns


@pytest.fixture
def net() -> Iterator[Net]:
    """A fresh set of network namespaces (skipped, or failed in CI, where none can be
    made), removed afterwards."""
    require_netns()
    n = Net.create()
    try:
        yield n
    finally:
        n.remove()

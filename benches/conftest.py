"""Shared set-up for the DESIGN §15 benchmarks.

In ``make test`` the benchmarks run once each with ``--benchmark-disable`` as smoke tests,
on small inputs; ``make bench`` runs them for real at the sizes §15 names.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def full_size(request: pytest.FixtureRequest) -> bool:
    """True when benchmarks are measured (not smoke-run): use the §15 sizes."""
    return not request.config.getoption("benchmark_disable")

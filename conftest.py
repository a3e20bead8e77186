"""Shared pytest setup for tests/ and benches/: hypothesis profiles (STYLE.md habit 5) and
the benchmark size switch.

``HYPOTHESIS_PROFILE=ci`` (the default) keeps every property test to a modest number of
examples so the suite stays fast in a debug build; ``HYPOTHESIS_PROFILE=slow`` runs thousands of
examples per property for a deep run. Deadlines are off in both: a debug build of the extension
is slow and uneven, and timing is what ``benches/`` is for.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "slow",
    max_examples=3000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def full_size(request: pytest.FixtureRequest) -> bool:
    """True when benchmarks are measured, not smoke-run (``--benchmark-disable`` in
    ``make test``): benchmarks then use the sizes DESIGN §15 names, else small ones."""
    return not request.config.getoption("benchmark_disable")

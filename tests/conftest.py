"""Shared pytest setup: hypothesis profiles (STYLE.md habit 5).

``HYPOTHESIS_PROFILE=ci`` (the default) keeps every property test to a modest number of
examples so the suite stays fast in a debug build; ``HYPOTHESIS_PROFILE=slow`` runs thousands of
examples per property for a deep run. Deadlines are off in both: a debug build of the extension
is slow and uneven, and timing is what ``benches/`` is for.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=30,
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

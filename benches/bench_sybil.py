"""P14 (DESIGN §15), the simulation half: the §11 Sybil simulation at gossipsub's scale —
1,000 honest clients and 1,000 / 2,000 / 4,000 Sybils, 30 registered peers — every attack
with and without each defence set, in one run: its speed (events per second of the event
loop, the slowest scenario's wall time) and, with every defence on, honest delivery, p99
latency against the no-attack run and the honest share of relayed bytes. As a smoke test
(``make test``) it runs a fifth of the size."""

from __future__ import annotations

import pytest

from lattice.sybil.report import failures, sweep


@pytest.mark.benchmark(group="P14 sybil")
def test_p14_simulation(benchmark, full_size: bool) -> None:  # type: ignore[no-untyped-def]
    honest, sybils, peers = (1000, (1000, 2000, 4000), 30) if full_size else (200, (200, 800), 8)
    results = benchmark.pedantic(
        sweep, kwargs={"honest": honest, "sybils": sybils, "peers": peers}, rounds=1, iterations=1
    )
    info = benchmark.extra_info
    info["events"] = sum(r.events for r in results)
    info["loop_seconds"] = sum(r.loop for r in results)
    info["max_wall"] = max(r.wall for r in results)
    info["runs"] = len(results)
    info["missed"] = len(failures(results))
    for r in results:
        key = f"{r.config.scenario}/{r.config.sybils}/{r.defence_name}"
        info[f"{key}/delivery"] = r.honest_delivery
        info[f"{key}/p99"] = r.latency_p99
        info[f"{key}/relayed"] = r.relayed_share
        info[f"{key}/validated"] = r.validated_share
        info[f"{key}/wire"] = r.wire_share
    assert failures(results) == []

"""P14 (DESIGN §15), the simulation half: the §11 Sybil simulation at gossipsub's scale —
1,000 honest clients and 1,000 / 2,000 / 4,000 Sybils, 30 registered peers — every attack
with and without each defence set, in one run: its speed (events per second of the event
loop, the slowest scenario's wall time) and, with every defence on, honest delivery, p99
latency against the no-attack run and the honest share of relayed bytes. As a smoke test
(``make test``) it runs a fifth of the size. The real half: a node process's honest-client
throughput under a flood of Sybil connections, as a ratio of its throughput without."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from lattice.identity import Identity
from lattice.net.client import Client
from lattice.net.flood import FloodResult, flood, honest_load, start_home
from lattice.sybil import Admission, AdmissionPolicy, Vouch
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


def _flood_bench(directory: Path, full: bool) -> dict[str, float]:
    """The real half of P14: one node process, three vouched honest clients running flat
    out (warmed up to their earned band), their throughput under a flood against their
    throughput alone (measured before and after it)."""
    me = Identity.generate()
    swarm = bytes([0x14]) * 32
    policy = AdmissionPolicy(min_bits=8)
    seconds = 4.0 if full else 1.5
    spammers = [Identity.generate() for _ in range(150 if full else 40)]
    flooders = [Identity.generate() for _ in range(100 if full else 20)]
    records = [Admission.make(f.public_key, swarm, policy.min_bits, threads=1) for f in flooders]
    limits = {"idle_timeout": 60.0, "client_ops_per_minute": 1 << 30}
    node, address = start_home(directory, me, swarm, policy, limits)

    async def run() -> tuple[float, FloodResult]:
        honest = [Identity.generate() for _ in range(3)]
        clients = [await Client.connect(address, h, swarm) for h in honest]
        try:
            for h, c in zip(honest, clients, strict=True):
                await c.admit(Vouch.create(me, swarm, h.public_key))
            await honest_load(address, swarm, clients, 3.0)  # earn the good band first
            acked, _, took = await honest_load(address, swarm, clients, seconds)
            flooded = await flood(
                address, swarm, honest=clients, spammers=spammers,
                flooders=list(zip(flooders, records, strict=True)), duration=seconds,
            )  # fmt: skip
            after, _, took_after = await honest_load(address, swarm, clients, seconds)
            return (acked + after) / (took + took_after), flooded  # alone: before and after
        finally:
            for c in clients:
                await c.close()

    try:
        alone, flooded = asyncio.run(run())
    finally:
        node.stop()
    return {
        "alone": alone,
        "flooded": flooded.honest_rate,
        "ratio": flooded.honest_rate / alone,
        "sybil_connections": flooded.sybil_connections,
        "honest_refused": flooded.honest_refused,
    }


@pytest.mark.benchmark(group="P14 sybil")
def test_p14_real_node(benchmark, full_size: bool, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = benchmark.pedantic(_flood_bench, args=(tmp_path, full_size), rounds=1, iterations=1)
    benchmark.extra_info.update(out)
    assert out["honest_refused"] == 0 and out["sybil_connections"] >= 60

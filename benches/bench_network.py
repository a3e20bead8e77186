"""P6 (DESIGN §15): two node processes on loopback over Noise; one holds 200k entries, the
other starts empty. Entries per second end to end — handshake, frontier exchange, causal
streaming within credit, durable ingest — from the empty node's start until its store
holds every entry; and the messages exchanged before streaming starts (target: one round
trip).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from lattice import _lattice
from lattice.replica import Replica

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from cluster import SWARM, Cluster

P6_ENTRIES = 200_000
P6_SMOKE = 2_000
PAYLOAD = 64
BATCH = 1_000


def _prefill(cluster: Cluster, count: int) -> None:
    a = cluster["a"]
    rep = Replica(a.identity, peers=[n.key for n in cluster.nodes], swarm_id=SWARM, path=a.store)
    log = _lattice.synthetic_log(a.identity.signing_key, SWARM, count, PAYLOAD)
    for i in range(0, count, BATCH):
        rep.receive(log[i : i + BATCH])
    rep.close()


@pytest.mark.benchmark(group="P6 network")
def test_p6_two_nodes_over_noise(benchmark, full_size, tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    count = P6_ENTRIES if full_size else P6_SMOKE
    opening: list[list[object]] = []

    def setup() -> tuple[tuple[Cluster], dict[str, object]]:
        directory = tmp_path_factory.mktemp("p6")
        cluster = Cluster.create(directory, ["a", "b"], [("b", "a")], noop_interval=1.0)
        _prefill(cluster, count)
        cluster["a"].start()
        return (cluster,), {}

    def replicate(cluster: Cluster) -> float:
        b = cluster["b"]
        start = time.perf_counter()
        b.start()
        cluster.wait(lambda: b.frontier().get("a", (0, ""))[0] >= count, timeout=600)
        elapsed = time.perf_counter() - start
        benchmark.extra_info["seconds"] = elapsed
        peer = next(p for p in b.status()["peers"] if p["name"] == "a")
        opening.append(peer["opening"])
        cluster.stop()
        return elapsed

    benchmark.extra_info["entries"] = count
    benchmark.pedantic(replicate, setup=setup, rounds=1, iterations=1)
    # Before the first entries arrive: one frontier each way (and the credit grants; an
    # empty node may also say SYNCED, having nothing to send). No request, no other trip.
    before = opening[0][: opening[0].index(["in", "Entries"])]
    frontiers = [d for d, kind in before if kind == "Frontier"]
    benchmark.extra_info["messages_before_streaming"] = len(frontiers)
    assert sorted(frontiers) == ["in", "out"], before
    assert not any(kind == "Request" for _, kind in before), before

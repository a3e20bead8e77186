"""Split-brain on real networks (DESIGN §7): node processes in network namespaces joined by
veth pairs and bridges, link delays from ``tc netem``, and an equivocating peer that is a
real process too (``python -m lattice.net.adversary``).

(I) Permanent: the attacker is the only link between two groups. It relays honestly, then
tells each side a different version of its entry k and stops relaying. Each side's matrix
shows the other side's rows stop advancing, and no version of X@k ever reaches the
swarm-wide quorum.

(II) Transitory: the attacker is not the bottleneck. Its two versions spread from two
ends of a line of honest nodes and meet in the middle; every honest node ends with the
fraud proof and X blocklisted. The detection time is reported in round trips.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from cluster import Cluster, identity_of, write_config
from lattice.net.process import AdversaryProcess
from netns import Net

PORT = 7000
#: One-way delay added by each host on its link (ms): a round trip between two honest
#: neighbours costs 2 × DELAY_MS.
DELAY_MS = 40.0
RTT = 2 * DELAY_MS / 1000
FORK_SEQ = 3
RESULTS = Path(__file__).resolve().parents[1] / "target" / "partition.json"


def attacker(directory: Path, ns: str, left: Path, right: Path, bridge: bool) -> AdversaryProcess:
    """The equivocating peer: ``python -m lattice.net.adversary`` in its own namespace."""
    return AdversaryProcess(
        left, right, bridge=bridge, netns=ns, log=directory / "x.log", verbose=True
    )


def _twins(directory: Path, members: list[tuple[str, bytes, tuple[str, int] | None]],
           left: tuple[str, int], right: tuple[str, int]) -> tuple[Path, Path]:  # fmt: skip
    identity_of("x").save(directory / "x.key")
    paths = []
    for side, listen in (("xl", left), ("xr", right)):
        path = directory / f"{side}.toml"
        # No timer noops: the twins' logs must stay one log until the attacker forks it.
        write_config(
            path, identity="x.key", listen=listen, store=f"{side}.db", control=None,
            members=members, noop_interval=3600,
        )  # fmt: skip
        paths.append(path)
    return paths[0], paths[1]


def _record(key: str, value: object) -> None:
    RESULTS.parent.mkdir(exist_ok=True)
    data = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    data[key] = value
    RESULTS.write_text(json.dumps(data, indent=2))


def test_permanent_split_brain_attacker_on_the_only_link(net: Net, tmp_path: Path) -> None:
    # Left group a, b; right group c, d; the attacker's host is on both switches.
    net.switch("swl")
    net.switch("swr")
    ip = {"a": "10.77.1.1", "b": "10.77.1.2", "c": "10.77.2.1", "d": "10.77.2.2"}
    for host in "ab":
        net.host(host)
        net.plug(host, "swl", f"{ip[host]}/24")
    for host in "cd":
        net.host(host)
        net.plug(host, "swr", f"{ip[host]}/24")
    net.host("x")
    net.plug("x", "swl", "10.77.1.100/24")
    net.plug("x", "swr", "10.77.2.100/24")
    x_left, x_right = ("10.77.1.100", PORT), ("10.77.2.100", PORT)
    x_key = identity_of("x").public_key
    cluster = Cluster.create(
        tmp_path, list("abcd"), [("b", "a"), ("d", "c")],
        addresses={h: (ip[h], PORT) for h in "abcd"},
        netns={h: net.ns(h) for h in "abcd"},
        extra_members=[("x", x_key, {"a": x_left, "b": x_left, "c": x_right, "d": x_right})],
    )  # fmt: skip
    members = [(n.name, n.key, None) for n in cluster.nodes] + [("x", x_key, None)]
    left_cfg, right_cfg = _twins(tmp_path, members, x_left, x_right)
    cluster.start()
    x = attacker(tmp_path, net.ns("x"), left_cfg, right_cfg, bridge=True)
    try:
        # Honest phase: the attacker relays, everyone sees everyone.
        for i in range(1, FORK_SEQ):
            x.command(f"append x{i}")
        for n in cluster.nodes:
            n.append(f"{n.name} before")
        cluster.wait(cluster.converged, timeout=30, what="convergence through the attacker")
        assert cluster["a"].frontier()["x"][0] == FORK_SEQ - 1
        reply = x.command("fork pay-alice pay-bob")
        assert reply["seq"] == FORK_SEQ
        # Both sides keep working.
        quorum_seen: list[int] = []
        for round_ in range(8):
            for n in cluster.nodes:
                n.append(f"{n.name} after {round_}")
            for n in cluster.nodes:
                quorum_seen.append(n.matrix()["known_to_quorum"][4])
            time.sleep(0.3)
        left_view = cluster["a"].matrix()
        later = {n.name: n.frontier() for n in cluster.nodes}
        time.sleep(1.5)
        for n in cluster.nodes:
            n.append(f"{n.name} later")
        time.sleep(1.5)
        again = cluster["a"].matrix()
        # The other side's rows (and columns) stopped advancing at a; its own did not.
        for other in (2, 3):
            assert again["rows"][other] == left_view["rows"][other], "right rows frozen at a"
        assert again["rows"][0] != left_view["rows"][0], "a's own row still advances"
        assert cluster["c"].frontier()["c"][0] > later["a"]["c"][0], "c kept writing"
        # No version of X@k reaches the swarm-wide quorum (q = 4 of 5), ever.
        for n in cluster.nodes:
            quorum_seen.append(n.matrix()["known_to_quorum"][4])
        assert max(quorum_seen) <= FORK_SEQ - 1
        # Each side holds its own version only: nothing proves the fork here.
        assert cluster["a"].status()["forks"] == [] and cluster["c"].status()["forks"] == []
        assert cluster["a"].frontier()["x"][1] != cluster["c"].frontier()["x"][1]
    finally:
        x.stop()
        cluster.stop()


def test_transitory_split_brain_both_versions_meet(net: Net, tmp_path: Path) -> None:
    # A line a–b–c–d on one switch, every link DELAY_MS each way; the attacker talks to a
    # and d only (not the bottleneck: the honest line connects everyone).
    net.switch("sw0")
    netem = net.netem_available()
    host_delay = DELAY_MS if netem else 0.0
    ip = {h: f"10.77.0.{i + 1}" for i, h in enumerate("abcd")}
    for host in "abcd":
        net.host(host)
        net.plug(host, "sw0", f"{ip[host]}/24", host_delay)
    net.host("x")
    net.plug("x", "sw0", "10.77.0.100/24", host_delay)
    x_left, x_right = ("10.77.0.100", PORT), ("10.77.0.100", PORT + 1)
    dials = [("b", "a"), ("c", "b"), ("d", "c")]
    targets = {**{h: (ip[h], PORT) for h in "abcd"}}
    via: dict[tuple[str, str], tuple[str, int]] = {}
    if not netem:
        # No sch_netem in this kernel: every link's delay comes from a relay in the
        # dialling host's namespace (the same round trip, 2 × DELAY_MS).
        for i, (frm, to) in enumerate([*dials, ("a", "x"), ("d", "x")]):
            target = targets[to] if to != "x" else (x_left if frm == "a" else x_right)
            via[frm, to] = ("127.0.0.1", 9000 + i)
            net.relay(frm, via[frm, to], target, DELAY_MS)
    x_key = identity_of("x").public_key
    cluster = Cluster.create(
        tmp_path, list("abcd"), dials,
        addresses=targets,
        netns={h: net.ns(h) for h in "abcd"},
        extra_members=[("x", x_key, {"a": x_left, "d": x_right})],
        dial_via=via,
    )  # fmt: skip
    members = [(n.name, n.key, None) for n in cluster.nodes] + [("x", x_key, None)]
    left_cfg, right_cfg = _twins(tmp_path, members, x_left, x_right)
    cluster.start()
    x = attacker(tmp_path, net.ns("x"), left_cfg, right_cfg, bridge=False)
    try:
        for i in range(1, FORK_SEQ):
            x.command(f"append x{i}")
        cluster.wait(cluster.converged, timeout=30, what="honest nodes hold X's history")

        def x_linked() -> bool:
            return all(
                any(p["name"] == "x" and p["synced_in"] for p in cluster[h].status()["peers"])
                for h in "ad"
            )

        try:
            cluster.wait(x_linked, timeout=30, what="a and d connected to the attacker")
        except AssertionError:
            for h in "ad":
                print(h, [p for p in cluster[h].status()["peers"] if p["name"] == "x"])
            print((tmp_path / "x.log").read_text()[-5000:])
            raise
        start = time.time()
        x.command("fork pay-alice pay-bob")
        detected: dict[str, float] = {}
        while len(detected) < 4:
            for n in cluster.nodes:
                forks = n.status()["forks"]
                if n.name not in detected and forks:
                    # When the node itself first held the proof (same clock: one machine).
                    detected[n.name] = forks[0]["seen_at"] - start
            assert time.time() - start < 60, f"not everyone detected the fork: {detected}"
            time.sleep(0.01)
        for n in cluster.nodes:
            st = n.status()
            assert st["blocklist"] == ["x"], n.name
            assert [f["seq"] for f in st["forks"]] == [FORK_SEQ]
            assert n.matrix()["known_to_quorum"][4] <= FORK_SEQ - 1
        first, last = min(detected.values()), max(detected.values())
        _record(
            "transitory",
            {
                "delay": "tc netem" if netem else "delay relay (no sch_netem in this kernel)",
                "one_way_delay_ms": DELAY_MS,
                "rtt_s": RTT,
                "first_detection_rtt": round(first / RTT, 2),
                "all_blocklisted_rtt": round(last / RTT, 2),
                "per_node_s": detected,
            },
        )
        print(
            f"\ntransitory split-brain: first proof after {first / RTT:.1f} RTT, "
            f"all honest nodes blocklisted X after {last / RTT:.1f} RTT (RTT {RTT * 1000:.0f} ms)"
        )
    finally:
        x.stop()
        cluster.stop()

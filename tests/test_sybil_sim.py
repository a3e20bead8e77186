"""The Sybil simulation of DESIGN §11 (issue 15): deterministic, built on the node's own
policy objects, and — at a reduced size that runs in well under a minute — every attack
meets P14's targets with the defences on, and hurts without them."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from lattice.cli import main
from lattice.errors import InvalidArgument
from lattice.sybil import Scores, TrustGraph
from lattice.sybil.graph import DEFAULT_MAX_VOUCHES
from lattice.sybil.report import ATTACKS, failures, sweep, sweep_digest, write_report
from lattice.sybil.simulation import DEFENCE_SETS, SimConfig, _Swarm, run

#: The reduced size: gossipsub's ratios (1 : 1, 2, 4), a fifth of its scale.
HONEST, SYBILS, PEERS = 200, (200, 400, 800), 8


@pytest.fixture(scope="module")
def reduced() -> list:  # type: ignore[type-arg]
    return sweep(honest=HONEST, sybils=SYBILS, peers=PEERS, duration=10.0)


def test_one_seed_one_digest() -> None:
    config = SimConfig(honest=50, sybils=100, peers=5, scenario="voucher", duration=3.0)
    first, again = run(config), run(config)
    assert first.digest == again.digest and first.events == again.events
    other = run(SimConfig(honest=50, sybils=100, peers=5, scenario="voucher", duration=3.0, seed=2))
    assert other.digest != first.digest


def test_a_sweep_is_deterministic() -> None:
    kw = dict(
        honest=30, sybils=(30, 60), peers=4, duration=2.0, scenarios=("junk", "byzantine-peer")
    )
    assert sweep_digest(sweep(**kw)) == sweep_digest(sweep(**kw))  # type: ignore[arg-type]


def test_with_every_defence_each_attack_meets_its_targets(reduced: list) -> None:  # type: ignore[type-arg]
    assert failures(reduced) == []
    everything = [r for r in reduced if r.config.defences == DEFENCE_SETS["all"]]
    assert {r.config.scenario for r in everything} == {"none", *ATTACKS}
    assert all(r.honest_delivery == 1.0 for r in everything)


def test_without_defences_the_floods_hurt(reduced: list) -> None:  # type: ignore[type-arg]
    worst = {
        r.config.scenario: r
        for r in reduced
        if r.config.sybils == SYBILS[-1] and r.config.defences == DEFENCE_SETS["none"]
    }
    base = next(r for r in reduced if r.config.scenario == "none" and not r.config.defences)
    for scenario in ("cheap-pow", "voucher", "byzantine-peer"):
        assert worst[scenario].relayed_share < 0.05, scenario
        assert worst[scenario].latency_p99 > 10 * base.latency_p99, scenario
    assert worst["junk"].validated_share < 0.1  # validation spent on junk
    assert worst["connection-flood"].latency_p99 > 5 * base.latency_p99


def test_each_defence_alone_is_not_enough(reduced: list) -> None:  # type: ignore[type-arg]
    def at(scenario: str, defences: str) -> float:
        return next(
            r.relayed_share
            for r in reduced
            if r.config.scenario == scenario
            and r.config.sybils == SYBILS[-1]
            and r.defence_name == defences
        )

    # Admission alone lets the compromised voucher's capped Sybils and a registered
    # flooder through; budgets alone are what cut them.
    assert at("voucher", "admission") < 0.5 and at("byzantine-peer", "admission") < 0.05
    assert at("voucher", "budgets") == 1.0 and at("byzantine-peer", "budgets") > 0.95


def test_the_simulation_runs_the_nodes_own_policy_objects() -> None:
    swarm = _Swarm(SimConfig(honest=20, sybils=100, peers=4, scenario="voucher", duration=1.0))
    swarm.populate()
    assert isinstance(swarm.graph, TrustGraph) and all(isinstance(s, Scores) for s in swarm.scores)
    # The compromised voucher's vouches past the cap were refused by the graph's own check.
    vouchers = {v for subject in swarm.clients for _, v in swarm.graph._vouches.get(subject, ())}
    given = sorted(swarm.graph.vouches_given(v) for v in vouchers)
    assert given[-1] == DEFAULT_MAX_VOUCHES
    assert sum(swarm.graph.admitted(k) for k in swarm.clients[20:]) == DEFAULT_MAX_VOUCHES
    cheap = _Swarm(SimConfig(honest=5, sybils=20, peers=3, scenario="cheap-pow", duration=1.0))
    cheap.populate()  # 8-bit proofs below the swarm's 20: every ADMISSION refused
    assert not any(cheap.graph.admitted(k) for k in cheap.clients[5:])


def test_bad_configurations_are_refused() -> None:
    with pytest.raises(InvalidArgument, match="unknown scenario"):
        SimConfig(scenario="meteor")
    with pytest.raises(InvalidArgument, match="unknown defences"):
        SimConfig(defences=frozenset({"moat"}))
    with pytest.raises(InvalidArgument, match="unknown defence sets"):
        sweep(defence_sets=("moat",))


def test_the_report_and_the_command(tmp_path: Path, reduced: list) -> None:  # type: ignore[type-arg]
    md, png = write_report(reduced, tmp_path / "r")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    text = md.read_text()
    assert sweep_digest(reduced) in text and "Every P14 target met" in text
    assert text.count("| byzantine-peer |") == len(SYBILS) * len(DEFENCE_SETS)
    out = tmp_path / "cli"
    args = ["sybil-sim", "--honest", "30", "--sybils", "30,60", "--peers", "4"]
    args += ["--duration", "2", "--scenario", "junk", "--out", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "digest" in result.output and (out / "sybil.png").exists()
    bad = CliRunner().invoke(main, ["sybil-sim", "--scenario", "meteor"])
    assert bad.exit_code != 0 and "unknown scenarios" in bad.output

"""The command line and the demo (run small, end to end)."""

from __future__ import annotations

from click.testing import CliRunner
from rich.console import Console

from lattice.cli import main
from lattice.demo import run_demo


def test_version() -> None:
    result = CliRunner().invoke(main, ["version"])
    assert result.exit_code == 0
    assert result.output.startswith("lattice ")


def test_demo_command_runs() -> None:
    result = CliRunner().invoke(main, ["demo", "--rounds", "30"])
    assert result.exit_code == 0, result.output
    for expected in (
        "batch-verified 120 signatures",
        "entanglement matrix",
        "PayloadMismatch",
        "verified from scratch: True",
        "fork detected",
        "X blocklisted by all 5 honest peers: True",
        "all four matrices identical",
        "blocklisted everywhere: True",
    ):
        assert expected in result.output


def test_demo_summary_is_consistent() -> None:
    summary = run_demo(Console(quiet=True), rounds=40)
    assert summary.entries == 160
    assert summary.all_signatures_valid and summary.chains_valid
    # The demo's link delays are fixed (DEMO_DELAYS), so the matrix is exact: each column's
    # minimum lags the peer's own 40 by its longest delay plus the order within a round.
    assert summary.known_to_all == [37, 38, 37, 36]
    assert summary.known_to_quorum == [38, 38, 38, 37]
    assert summary.tamper_detected_at == 20
    # The five-peer swarm: the client's op reaches a quorum and its proof verifies.
    assert summary.swarm is not None
    assert summary.swarm.proof_tick is not None and summary.swarm.proof_verified
    assert min(summary.swarm.known_to_quorum.values()) >= 1


def test_demo_rejects_bad_rounds() -> None:
    result = CliRunner().invoke(main, ["demo", "--rounds", "0"])
    assert result.exit_code != 0

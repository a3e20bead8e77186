"""The command line and the demo (run small, end to end)."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner
from PIL import Image
from rich.console import Console

from lattice.cli import main
from lattice.demo import SECTIONS, run_demo


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
        "drawn as a heatmap",
        "refused alike everywhere: True",
        '"Hello, brave new world!"',
    ):
        assert expected in result.output
    # The network section says where it drew the matrix, and the picture is there.
    drawn = re.search(r"drawn as a heatmap: (\S+\.png)", result.output)
    assert drawn is not None
    assert Image.open(drawn.group(1)).format == "PNG"


def test_demo_lists_its_sections() -> None:
    result = CliRunner().invoke(main, ["demo", "--list"])
    assert result.exit_code == 0, result.output
    names = [line.split()[0] for line in result.output.splitlines()]
    sections = ["core", "swarm", "attack", "network", "docs", "guest", "trust", "attest", "sybil",
                "grid"]  # fmt: skip
    assert names == sections == list(SECTIONS)


def test_demo_runs_one_section() -> None:
    result = CliRunner().invoke(main, ["demo", "swarm"])
    assert result.exit_code == 0, result.output
    assert "verified from scratch: True" in result.output
    # Only that section: nothing of the core, the attack or the network.
    for other in ("batch-verified", "fork detected", "Noise over TCP"):
        assert other not in result.output
    summary = run_demo(Console(quiet=True), sections=["attack"])
    assert summary.ran == ("attack",) and summary.core is None and summary.swarm is None
    assert summary.attack is not None and summary.attack.blocklisted_everywhere


def test_demo_network_section_draws_where_it_is_told(tmp_path: Path) -> None:
    out = tmp_path / "matrix.png"
    result = CliRunner().invoke(main, ["demo", "network", "--png", str(out)])
    assert result.exit_code == 0, result.output
    assert f"drawn as a heatmap: {out}" in result.output
    assert "blocklisted everywhere: True" in result.output
    assert Image.open(out).size[0] > 100


def test_demo_refuses_an_unknown_section() -> None:
    result = CliRunner().invoke(main, ["demo", "nope"])
    assert result.exit_code == 2
    assert "no section 'nope'" in result.output and "core, swarm, attack, network" in result.output


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

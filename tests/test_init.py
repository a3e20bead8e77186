"""``lattice init`` (issue 10, a way in): a swarm made by one command starts as printed,
converges, and serves its client. Real node processes on loopback."""

from __future__ import annotations

import socket
import time
from pathlib import Path

from click.testing import CliRunner

from lattice.cli import main
from lattice.net.process import NodeProcess

PEERS = ["a", "b", "c"]


def _free_run(n: int) -> int:
    """A base port with ``n`` free ports after it."""
    for base in range(21000, 60000, 211):
        socks = []
        try:
            for port in range(base, base + n):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise AssertionError("no free run of ports")


def test_init_makes_a_swarm_that_runs(tmp_path: Path) -> None:
    runner = CliRunner()
    d = tmp_path / "swarm"
    base = _free_run(len(PEERS))
    made = runner.invoke(
        main,
        ["init", str(d), "--peers", ",".join(PEERS), "--clients", "1", "--base-port", str(base),
         "--no-password"],
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    for name in PEERS:
        assert f"lattice node run --config {d / f'{name}.toml'}" in made.output
    again = runner.invoke(main, ["init", str(d), "--peers", "a", "--no-password"])
    assert again.exit_code == 1 and "never overwrites" in again.output
    nodes = [NodeProcess(name=n, config=d / f"{n}.toml", control=d / f"{n}.sock") for n in PEERS]
    try:
        for node in nodes:
            node.start()
        for node in nodes:
            out = runner.invoke(
                main, ["append", "--config", str(node.config), f"{node.name} says hi"]
            )
            assert out.exit_code == 0, out.output
        deadline = time.monotonic() + 60
        while True:
            fronts = [node.frontier() for node in nodes]
            if all(sorted(f) == PEERS and f == fronts[0] for f in fronts):
                break
            assert time.monotonic() < deadline, fronts
            time.sleep(0.1)
        sent = runner.invoke(main, ["submit", "--config", str(d / "client1.toml"), "pay bob 5"])
        assert sent.exit_code == 0, sent.output
        assert "wrapped by a in its entry 2" in sent.output
    finally:
        for node in nodes:
            node.stop()

"""Remote attestation on real node processes (issue 14, DESIGN §10): a swarm of three
where one node runs a modified extension module — a real build whose file differs — and
is refused by the others for its kernel hash, with the reason in ``lattice status``,
while the two honest nodes attest each other and sync with no message added."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from cluster import Cluster
from lattice.demo.attest import modified_build
from lattice.net.process import child_env
from test_remote import BUILDERS, NAMES, wheel_attestation

#: The messages of the unattested protocol: software attestation adds none after the
#: handshake (and no record to it: tests/test_remote.py counts them).
PLAIN = {"Credit", "Frontier", "Entries", "Request", "Synced", "Ping"}


def attestation_tables(directory: Path) -> str:
    files = []
    for i in range(2):
        path = directory / f"wheel{i}.intoto.json"
        path.write_bytes(wheel_attestation(i))
        files.append(f'"{path.name}"')
    lines = ["", "[trust]", "threshold = 2"]
    for name, builder in zip(NAMES, BUILDERS, strict=True):
        lines += [
            "[[trust.builders]]",
            f'name = "{name}"',
            f'public_key = "{builder.public_key.hex()}"',
        ]
    lines += ["", "[attestation]", 'backend = "software"', 'require = "software"']
    lines.append(f"attestations = [{', '.join(files)}]")
    return "\n".join(lines) + "\n"


def test_a_node_with_another_kernel_is_refused_and_the_others_sync(tmp_path: Path) -> None:
    cluster = Cluster.create(tmp_path, ["a", "b", "c"], [("a", "b"), ("c", "a"), ("c", "b")])
    tables = attestation_tables(tmp_path)
    for node in cluster.nodes:
        with node.config.open("a") as f:
            f.write(tables)
    a, b, c = (cluster[n] for n in "abc")
    c.python_path = modified_build(tmp_path)
    cluster.start()
    try:
        seq, _ = a.append(b"honest")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            sa, sc = a.status(), c.status()
            peers = {p["name"]: p for p in sa["peers"]}
            refused = [r for r in sa["closed"] if "AttestationRefused" in r]
            if peers["b"]["synced_in"] and refused and any("refused by" in r for r in sc["closed"]):
                break
            time.sleep(0.2)
        sb = b.status()
        assert peers["b"]["connected"] and peers["b"]["attestation"].startswith("software: kernel")
        assert not peers["c"]["connected"]
        assert peers["c"]["attestation"].startswith("refused: the extension module")
        assert "pending: 0 of 2" in peers["c"]["attestation"]
        assert any("extension module" in r for r in sc["closed"]), sc["closed"]
        assert {p["name"]: p["connected"] for p in sb["peers"]}["c"] is False
        kinds = {k for _, k in peers["b"]["opening"]}
        assert kinds <= PLAIN, f"messages beyond the plain protocol: {kinds - PLAIN}"
        assert b.frontier()["a"][0] >= seq, "the honest pair synced"
        assert sc["writable"] is False, "the refused node never saw a peer: it cannot sign"
        assert sc["frontier"].get("a", [0])[0] == 0, "nothing reached the refused node"
        shown = subprocess.run(
            [sys.executable, "-m", "lattice.cli", "status", "--config", str(a.config)],
            capture_output=True, text=True, env={**child_env(), "COLUMNS": "250"}, timeout=60,
        )  # fmt: skip
        assert "software: kernel" in shown.stdout and "refused: the extension" in shown.stdout
        assert "proves software, requires software" in shown.stdout
    finally:
        cluster.stop()

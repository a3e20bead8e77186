"""Wasm state machines on real nodes (issue 13, DESIGN §10): two node processes with
different ``[trust]`` tables. Builders attest with ``lattice attest build --config``
(the blob and the attestation go into the log); a node refuses to run, or write to, a
blob its policy has not admitted, and holds the entries that need it until the N-th
attestation arrives — then applies them and ends in the same state as its peer, and
again after a restart."""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import pytest

import lattice
from cluster import Cluster, ClusterNode
from lattice.errors import InvalidArgument
from lattice.net.process import child_env
from lattice.trust.build import build

BUILDERS = {n: lattice.Identity.from_seed(bytes([0xE0 + i]) * 32) for i, n in enumerate("xy")}
DOC = "tally"


def cli(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "lattice.cli", *args],
        capture_output=True, text=True, env=child_env(), timeout=120,
    )  # fmt: skip
    assert (done.returncode == 0) == ok, done.stdout + done.stderr
    return done


def trust_table(names: str, threshold: int) -> str:
    lines = ["", "[trust]", f"threshold = {threshold}"]
    for n in names:
        lines += ["[[trust.builders]]", f'name = "{n}"']
        lines.append(f'public_key = "{BUILDERS[n].public_key.hex()}"')
    return "\n".join(lines) + "\n"


def show(node: ClusterNode, sha: str) -> dict[str, object]:
    return node.call("machine_show", doc=DOC, machine=sha)


def test_a_node_runs_a_blob_only_once_its_policy_admits_it(tmp_path: Path) -> None:
    cluster = Cluster.create(tmp_path, ["a", "b", "c"], [("a", "b"), ("b", "c")])
    a, b, c = (cluster[n] for n in "abc")
    with a.config.open("a") as f:
        f.write(trust_table("x", 1))
    with b.config.open("a") as f:
        f.write(trust_table("xy", 2))
    # c has no [trust] table: it runs no state machine at all.
    for n in "xy":
        BUILDERS[n].save(tmp_path / f"{n}.key")
    sha = build("counter", tmp_path / "w").sha256
    cluster.start()
    try:
        out = cli("attest", "build", "counter", "--identity", str(tmp_path / "x.key"),
                  "--out", str(tmp_path / "x"), "--config", str(a.config)).stdout  # fmt: skip
        assert "published the blob" in out and "published the attestation" in out
        assert show(a, sha)["status"] == "running"
        for n in (40, 2, -5):
            op = struct.pack("<q", n).hex()
            cli("machine", "submit", "--config", str(a.config), DOC, sha, op)
        cluster.wait(lambda: len(show(b, sha)["waiting"]) == 3, what="b holds the entries")  # type: ignore[arg-type]
        waiting = show(b, sha)
        assert "pending: 1 of 2" in str(waiting["status"]) and waiting["state"] is None
        refused = cli("machine", "submit", "--config", str(b.config), DOC, sha, "00" * 8, ok=False)
        assert "AttestationError" in refused.stderr and "pending: 1 of 2" in refused.stderr
        with pytest.raises(InvalidArgument, match="trusts no builders"):
            show(c, sha)
        # The second builder attests through b: now N = 2 there.
        cli("attest", "build", "counter", "--identity", str(tmp_path / "y.key"),
            "--out", str(tmp_path / "y"), "--config", str(b.config))  # fmt: skip
        there = show(b, sha)
        assert there["status"] == "running" and there["applied"] == 3 and not there["waiting"]
        here = show(a, sha)
        assert (there["state"], there["fuel"]) == (here["state"], here["fuel"])
        answer = cli("machine", "query", "--config", str(b.config), DOC, sha).stdout.strip()
        assert struct.unpack("<q", bytes.fromhex(answer))[0] == 37
        # A node stores no blob that cannot run, and no attestation it cannot read.
        with pytest.raises(InvalidArgument, match="BadBlob"):
            a.call("publish", kind="blob", payload=b"\x00asm\x01\x00\x00\x00".hex())
        with pytest.raises(InvalidArgument, match="AttestationError"):
            a.call("publish", kind="attestation", payload=b'{"payloadType": 1}'.hex())
        b.stop()
        b.start()
        again = show(b, sha)
        assert (again["status"], again["state"]) == ("running", there["state"])
    finally:
        cluster.stop()

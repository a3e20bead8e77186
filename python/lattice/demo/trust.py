"""``lattice demo trust``: a state machine that runs only after N builders agree on what it is.

Three builders compile the shipped counter from source in three directories with the
pinned ziglang and get the same bytes; each signs a build attestation (DSSE, in-toto,
SLSA provenance). With N = 2 the blob is refused after one attestation and runs after
two; then a third builder attests a different output for the same build, and the blob is
quarantined.

>>> from rich.console import Console
>>> summary = run_trust_demo(Console(quiet=True))
>>> summary.identical, summary.refused_after_one, summary.ran_after_two, summary.quarantined
(True, True, True, True)
"""

from __future__ import annotations

import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from lattice.errors import AttestationError
from lattice.identity import Identity
from lattice.state.wasm import WasmStateMachine
from lattice.trust.attest import BuildManifest, attest
from lattice.trust.build import build
from lattice.trust.manifest import for_blob
from lattice.trust.policy import Policy

__all__ = ["TrustSummary", "run_trust_demo"]


@dataclass(frozen=True)
class TrustSummary:
    """What the trust section saw."""

    digest: str
    identical: bool
    refused_after_one: bool
    ran_after_two: bool
    quarantined: bool


def _manifest(blob: bytes, builder: str, output: dict[str, str]) -> BuildManifest:
    return for_blob("counter", output, builder)


def run_trust_demo(console: Console) -> TrustSummary:
    console.rule("[bold]trust: N builders, one blob")
    builders = [Identity.from_seed(bytes([0xA0 + i]) * 32) for i in range(3)]
    names = ["alice", "bob", "carol"]
    with tempfile.TemporaryDirectory(prefix="lattice-trust-") as where:
        for n in names:
            (Path(where) / n).mkdir()
        built = [build("counter", Path(where) / n) for n in names]
        blobs = [b.path.read_bytes() for b in built]
    identical = len(set(blobs)) == 1
    blob = blobs[0]
    out = {"sha256": built[0].sha256, "blake3": built[0].blake3}
    console.print(
        f"3 builds in 3 directories: identical = {identical} (sha256 {out['sha256'][:16]}…)"
    )
    policy = Policy(dict(zip(names, (b.public_key for b in builders), strict=True)), 2)
    policy.add(attest(_manifest(blob, "alice", out), builders[0]))
    try:
        WasmStateMachine(blob, policy=policy)
        refused = False
    except AttestationError as exc:
        refused = True
        console.print(f"after alice's attestation: refused — {exc}")
    policy.add(attest(_manifest(blob, "bob", out), builders[1]))
    sm = WasmStateMachine(blob, policy=policy)
    ran = sm.apply_batch([struct.pack("<q", 40), struct.pack("<q", 2)]) == -1
    total = struct.unpack("<q", sm.query(b""))[0]
    console.print(f"after bob's: admitted, and it runs: 40 + 2 = {total}")
    lie = {"sha256": "66" * 32, "blake3": "77" * 32}
    policy.add(attest(_manifest(blob, "carol", lie), builders[2]))
    try:
        WasmStateMachine(blob, policy=policy)
        quarantined = False
    except AttestationError as exc:
        quarantined = "quarantined" in str(exc)
        console.print(f"carol attests another output for the same build: {exc}")
    return TrustSummary(out["sha256"], identical, refused, ran and total == 42, quarantined)

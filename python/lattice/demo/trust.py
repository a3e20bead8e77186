"""``lattice demo trust``: a state machine that runs only after N builders agree on what it is.

Three builders compile the shipped counter from source in three directories with the
pinned ziglang and get the same bytes; each signs a build attestation (DSSE, in-toto,
SLSA provenance). With N = 2 the blob is refused after one attestation and runs after
two; then a third builder attests a different output for the same build, and the blob is
quarantined. Last, in a log: a peer that has one attestation holds a document's entries
(pending on admission) and applies them the moment the second arrives.

>>> from rich.console import Console
>>> summary = run_trust_demo(Console(quiet=True))
>>> summary.identical, summary.refused_after_one, summary.ran_after_two, summary.quarantined
(True, True, True, True)
>>> summary.waited_then_applied
True
"""

from __future__ import annotations

import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from lattice.entry import Kind
from lattice.errors import AttestationError
from lattice.identity import Identity
from lattice.replica import Replica
from lattice.state.wasm import WasmStateMachine
from lattice.state.wasmdoc import WasmDoc
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
    waited_then_applied: bool


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
    waited = _in_the_log(console, blob, out, builders, names)
    return TrustSummary(out["sha256"], identical, refused, ran and total == 42, quarantined, waited)


def _in_the_log(
    console: Console, blob: bytes, out: dict[str, str], builders: list[Identity], names: list[str]
) -> bool:
    """Two peers; the writer trusts alice alone (N = 1), the reader wants two (N = 2)."""
    writer, reader = Identity.generate(), Identity.generate()
    peers = [writer.public_key, reader.public_key]
    w, r = Replica(writer, peers=peers), Replica(reader, peers=peers)
    keys = dict(zip(names, (b.public_key for b in builders), strict=True))
    w.append(blob, Kind.BLOB)
    w.append(attest(_manifest(blob, "alice", out), builders[0]), Kind.ATTESTATION)
    mine = WasmDoc(w, "tally", out["sha256"], Policy({"alice": keys["alice"]}, 1))
    theirs = WasmDoc(r, "tally", out["sha256"], Policy(keys, 2))
    for n in (40, 2):
        mine.submit(struct.pack("<q", n))
    r.receive(w.entries())
    console.print(f"in the log: the reader holds {len(theirs.waiting)} entries: {theirs.status()}")
    r.append(attest(_manifest(blob, "bob", out), builders[1]), Kind.ATTESTATION)
    total = struct.unpack("<q", theirs.query(b""))[0]
    console.print(
        f"bob's attestation arrives: {theirs.status()}, applied {theirs.applied}: {total}"
    )
    return theirs.applied == 2 and theirs.snapshot_hash() == mine.snapshot_hash()

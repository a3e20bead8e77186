"""``lattice demo core``: the core at work on this machine.

Four peers each write a signed, hash-chained log; every entry entangles the heads of the
other logs its author has seen (with a different delay per link, so the matrix is not
uniform). Then the demo batch-verifies every signature, validates each log as one
segment, builds the entanglement matrix from the entries' dependency deltas, shows what
is known to all and to a quorum, and catches a tampered entry.

>>> from rich.console import Console
>>> summary = run_core_demo(Console(quiet=True), rounds=20)
>>> summary.entries, summary.all_signatures_valid
(80, True)
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial

from cryptography.hazmat.primitives.asymmetric import ed25519
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from lattice import _lattice
from lattice.demo.common import SWARM_ID, rate, timed
from lattice.identity import Identity

__all__ = ["DEFAULT_ROUNDS", "CoreSummary", "run_core_demo"]

PEER_NAMES = ("A", "B", "C", "D")
#: Rounds of writing: each peer appends one entry per round (4 × 10,000 entries).
DEFAULT_ROUNDS = 10_000
#: DEMO_DELAYS[a][b]: how many rounds old peer a's view of peer b's log is.
DEMO_DELAYS = (
    (0, 1, 2, 3),
    (1, 0, 1, 2),
    (2, 1, 0, 1),
    (3, 2, 1, 0),
)
#: How many single verifications of the cryptography package the batch is compared with.
BASELINE_SAMPLE = 2_000


@dataclass(frozen=True)
class CoreSummary:
    """What the core section measured."""

    entries: int
    all_signatures_valid: bool
    chains_valid: bool
    known_to_all: list[int]
    known_to_quorum: list[int]
    tamper_detected_at: int | None


def _write_logs(console: Console, peers: list[Identity], rounds: int) -> list[list[_lattice.Entry]]:
    """Each round, every peer appends one entry entangling the heads it has seen."""
    n = len(peers)
    logs: list[list[_lattice.Entry]] = [[] for _ in peers]
    # seen[a][b]: the seq of b that a's frontier holds.
    seen = [[0] * n for _ in peers]
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("signing entries", total=rounds * n)
        for r in range(1, rounds + 1):
            for a, ident in enumerate(peers):
                deps: dict[bytes, tuple[int, bytes]] = {}
                for b in range(n):
                    visible = min(r - DEMO_DELAYS[a][b] - (1 if b >= a else 0), len(logs[b]))
                    if b != a and visible > seen[a][b]:
                        seen[a][b] = visible
                        head = logs[b][visible - 1]
                        deps[peers[b].public_key] = (head.seq, head.id)
                log = logs[a]
                seq = len(log) + 1
                lamport = 1 + max(
                    [log[-1].lamport if log else 0]
                    + [logs[b][seen[a][b] - 1].lamport for b in range(n) if seen[a][b]]
                )
                link = _lattice.lipmaa(seq)
                entry = _lattice.Entry.create(
                    ident.signing_key,
                    swarm=SWARM_ID,
                    seq=seq,
                    lamport=lamport,
                    prev=log[-1].id if log else None,
                    lipmaa=log[link - 1].id if link else None,
                    deps=deps,
                    payload=f"{PEER_NAMES[a]} says hello #{seq}".encode(),
                )
                log.append(entry)
            progress.advance(task, n)
    return logs


def _baselinerate(entries: list[_lattice.Entry]) -> float:
    """Signatures per second of a per-call ``cryptography`` Ed25519 verify loop."""
    sample = entries[:BASELINE_SAMPLE]
    keys = {e.author: ed25519.Ed25519PublicKey.from_public_bytes(e.author) for e in sample}
    start = time.perf_counter()
    for e in sample:
        keys[e.author].verify(e.signature, e.id)
    return len(sample) / (time.perf_counter() - start)


def _matrix_table(m: _lattice.Matrix) -> Table:
    table = Table(title="entanglement matrix (rows observe, columns are seen)")
    table.add_column("observer")
    for name in PEER_NAMES:
        table.add_column(name, justify="right")
    for o, name in enumerate(PEER_NAMES):
        table.add_row(name, *(f"{v:,}" for v in m.row(o)))
    return table


def run_core_demo(console: Console, rounds: int = DEFAULT_ROUNDS) -> CoreSummary:
    """Sign, entangle, batch-verify and validate ``rounds`` entries per peer, build the
    matrix, and catch a tampered entry; returns what it measured."""
    peers = [Identity.generate() for _ in PEER_NAMES]
    console.rule("[bold]the core: signed, entangled logs")
    for name, ident in zip(PEER_NAMES, peers, strict=True):
        console.print(f"peer {name}: {ident.public_key.hex()}")

    logs, seconds = timed(lambda: _write_logs(console, peers, rounds))
    entries = [e for log in logs for e in log]
    console.print(
        f"signed {len(entries):,} entangled entries in {seconds:.2f} s "
        f"({rate(len(entries), seconds)})"
    )

    keys = [e.author for e in entries]
    ids = [e.id for e in entries]
    sigs = [e.signature for e in entries]
    verdicts, seconds = timed(lambda: _lattice.verify_batch(keys, ids, sigs))
    baseline = _baselinerate(entries)
    batch_rate = len(entries) / seconds
    console.print(
        f"batch-verified {len(entries):,} signatures (ZIP-215) in {seconds * 1000:.0f} ms: "
        f"{batch_rate:,.0f}/s, {batch_rate / baseline:.1f}× a per-call cryptography loop"
    )

    chains_ok = True
    encoded = [b"".join(e.to_bytes() for e in log) for log in logs]
    for name, segment, log in zip(PEER_NAMES, encoded, logs, strict=True):
        report, seconds = timed(partial(_lattice.validate_chain, segment))
        chains_ok &= report.ok and len(report.ids) == len(log)
        console.print(
            f"log {name}: {len(log):,} entries, prev + lipmaa links valid: {report.ok} "
            f"({rate(len(log), seconds)})"
        )

    matrix = _lattice.Matrix(len(peers))
    index = {ident.public_key: i for i, ident in enumerate(peers)}
    for o, log in enumerate(logs):
        # Row o: o's frontier after its latest entry = the union of its deltas.
        for e in log:
            delta = [(index[pk], seq) for pk, (seq, _id) in e.deps.items()]
            matrix.update_row(o, [(o, e.seq), *delta])
    console.print(_matrix_table(matrix))
    n = len(peers)
    faults = (n - 1) // 3
    q = (n + faults) // 2 + 1
    known_all = matrix.known_to_all_indexed()
    known_q = matrix.known_to_quorum_indexed(q)
    for name, a, k in zip(PEER_NAMES, known_all, known_q, strict=True):
        console.print(f"{name}: known to all up to seq {a:,}; known to a quorum of {q} up to {k:,}")

    tampered = [e.to_bytes() for e in logs[0]]
    victim = len(tampered) // 2
    bad = bytearray(tampered[victim])
    bad[-1] ^= 0x01  # one bit of the payload
    tampered[victim] = bytes(bad)
    report = _lattice.validate_chain(tampered, verify_signatures=True)
    console.print(
        f"tampering with one bit of entry {victim} of log A: detected at index "
        f"{report.failure_index}: {type(report.error).__name__}: {report.reason}"
    )
    return CoreSummary(
        entries=len(entries),
        all_signatures_valid=all(verdicts),
        chains_valid=chains_ok,
        known_to_all=known_all,
        known_to_quorum=known_q,
        tamper_detected_at=report.failure_index,
    )

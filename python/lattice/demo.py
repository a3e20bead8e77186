"""``lattice demo``: the core at work, end to end, on this machine.

Four peers each write a signed, hash-chained log; every entry entangles the heads of the
other logs its author has seen (with a different delay per link, so the matrix is not
uniform). Then the demo batch-verifies every signature, validates each log as one segment,
builds the entanglement matrix from the entries' dependency deltas, shows what is known to
all and to a quorum, and catches a tampered entry. Then real Replicas on simulated links: a
five-peer swarm whose client op gets a quorum proof, and an equivocating peer whose two
versions spread from two sides until a replica holding both proves the fork, a bystander
checks the proof, and every honest peer blocklists the liar.

>>> from lattice.demo import run_demo
>>> from rich.console import Console
>>> summary = run_demo(Console(quiet=True), rounds=20, network_part=False)
>>> summary.entries, summary.all_signatures_valid
(80, True)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

from cryptography.hazmat.primitives.asymmetric import ed25519
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from lattice import _lattice
from lattice._lattice import FraudProof
from lattice.entry import Kind
from lattice.identity import Identity
from lattice.matrix import EntanglementMatrix
from lattice.netdemo import NetworkSummary, run_network_demo
from lattice.proofs import QuorumProof
from lattice.simulation import Equivocator, Simulation

__all__ = ["AttackSummary", "DemoSummary", "run_attack_demo", "run_demo", "run_swarm_demo"]

T = TypeVar("T")

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
SWARM_ID = _lattice.blake3_derive_key("lattice v1 demo swarm", b"")
#: How many single verifications of the cryptography package the batch is compared with.
BASELINE_SAMPLE = 2_000


@dataclass(frozen=True)
class DemoSummary:
    """What the demo measured (returned for tests and scripting)."""

    entries: int
    all_signatures_valid: bool
    chains_valid: bool
    known_to_all: list[int]
    known_to_quorum: list[int]
    tamper_detected_at: int | None
    swarm: SwarmSummary | None = None
    attack: AttackSummary | None = None
    network: NetworkSummary | None = None


@dataclass(frozen=True)
class SwarmSummary:
    """What the five-peer swarm part of the demo saw."""

    ticks: int
    proof_tick: int | None
    proof_verified: bool
    known_to_quorum: dict[str, int]


@dataclass(frozen=True)
class AttackSummary:
    """What the equivocation part of the demo saw."""

    versions: dict[str, str]
    detected_at: int | None
    detector: str | None
    proof_verified: bool
    blocklisted_everywhere: bool
    all_frozen: bool


def _timed(fn: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def _rate(count: int, seconds: float) -> str:
    return f"{count / seconds:,.0f}/s" if seconds > 0 else "∞/s"


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


def _baseline_rate(entries: list[_lattice.Entry]) -> float:
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


def run_demo(
    console: Console, rounds: int = DEFAULT_ROUNDS, network_part: bool = True
) -> DemoSummary:
    """Run the demo, printing to ``console``; returns what it measured."""
    peers = [Identity.generate() for _ in PEER_NAMES]
    console.rule("[bold]lattice demo")
    for name, ident in zip(PEER_NAMES, peers, strict=True):
        console.print(f"peer {name}: {ident.public_key.hex()}")

    logs, seconds = _timed(lambda: _write_logs(console, peers, rounds))
    entries = [e for log in logs for e in log]
    console.print(
        f"signed {len(entries):,} entangled entries in {seconds:.2f} s "
        f"({_rate(len(entries), seconds)})"
    )

    keys = [e.author for e in entries]
    ids = [e.id for e in entries]
    sigs = [e.signature for e in entries]
    verdicts, seconds = _timed(lambda: _lattice.verify_batch(keys, ids, sigs))
    baseline = _baseline_rate(entries)
    batch_rate = len(entries) / seconds
    console.print(
        f"batch-verified {len(entries):,} signatures (ZIP-215) in {seconds * 1000:.0f} ms: "
        f"{batch_rate:,.0f}/s, {batch_rate / baseline:.1f}× a per-call cryptography loop"
    )

    chains_ok = True
    encoded = [b"".join(e.to_bytes() for e in log) for log in logs]
    for name, segment, log in zip(PEER_NAMES, encoded, logs, strict=True):
        report, seconds = _timed(partial(_lattice.validate_chain, segment))
        chains_ok &= report.ok and len(report.ids) == len(log)
        console.print(
            f"log {name}: {len(log):,} entries, prev + lipmaa links valid: {report.ok} "
            f"({_rate(len(log), seconds)})"
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
    known_all = matrix.known_to_all()
    known_q = matrix.known_to_quorum(q)
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
    swarm = run_swarm_demo(console)
    attack = run_attack_demo(console)
    network = run_network_demo(console) if network_part else None
    console.rule()
    return DemoSummary(
        entries=len(entries),
        all_signatures_valid=all(verdicts),
        chains_valid=chains_ok,
        known_to_all=known_all,
        known_to_quorum=known_q,
        tamper_detected_at=report.failure_index,
        swarm=swarm,
        attack=attack,
        network=network,
    )


#: The five-peer swarm: a ring with different link delays (ticks), so entries reach far
#: peers through relays, and a chord A–C.
SWARM_PEERS = ("A", "B", "C", "D", "E")
SWARM_LINKS = {
    ("A", "B"): 1,
    ("B", "C"): 2,
    ("C", "D"): 1,
    ("D", "E"): 3,
    ("E", "A"): 2,
    ("A", "C"): 4,
}
SWARM_TICKS = 24
NOOP_EVERY = 3


def run_swarm_demo(console: Console, ticks: int = SWARM_TICKS) -> SwarmSummary:
    """Five replicas on simulated links: the matrix as it evolves, what reaches a quorum,
    and a client's op with its quorum proof verified from scratch."""
    console.rule("[bold]a swarm of five, simulated links")
    sim = Simulation(SWARM_PEERS, SWARM_LINKS, swarm_id=SWARM_ID)
    links = ", ".join(f"{a}–{b} {d}" for (a, b), d in SWARM_LINKS.items())
    console.print(f"links (delay in ticks): {links}")
    home = sim.replicas["A"]
    client = Identity.generate()
    op = _lattice.ClientOp.create(client.signing_key, SWARM_ID, 1, b"pay bob 5")
    wrapped: _lattice.Entry | None = None
    proof_tick: int | None = None
    proof_verified = False
    names = {sim.key(n): n for n in SWARM_PEERS}

    def tick(sim: Simulation) -> None:
        nonlocal wrapped, proof_tick, proof_verified
        t = sim.now
        if t <= 6:  # everyone writes a little at first
            for i, name in enumerate(SWARM_PEERS):
                if (t + i) % 2 == 0:
                    sim.send_from(name, [sim.replicas[name].append(f"{name}@{t}".encode())])
        if t == 2:
            wrapped = home.wrap_client_op(op)
            sim.send_from("A", [wrapped])
            console.print(
                f"t={t}: client {client.public_key[:4].hex()}… submits an op to home peer A"
            )
        if t % NOOP_EVERY == 0:
            sim.noops()
        if t in (4, 10, ticks):
            _print_view(console, sim, t)
        if wrapped is not None and proof_tick is None:
            proof = home.quorum_proof(wrapped.id)
            if proof is not None:
                proof_tick = t
                encoded = proof.to_bytes()
                # Verified from scratch: the bytes and the membership list only.
                proof_verified = QuorumProof.from_bytes(encoded).verify(
                    sim.peers, SWARM_ID, home.matrix.quorum
                )
                signers = [
                    names[_lattice.Entry.header_from_bytes(s.noop).author] for s in proof.signers
                ]
                console.print(
                    f"t={t}: quorum proof for the client op: {len(encoded):,} bytes, signers "
                    f"{', '.join(signers)}; verified from scratch: {proof_verified}"
                )

    sim.run(ticks, tick)
    view = home.matrix.known_to_quorum()
    summary = SwarmSummary(
        ticks=ticks,
        proof_tick=proof_tick,
        proof_verified=proof_verified,
        known_to_quorum={names[k]: v for k, v in view.items()},
    )
    reached = ", ".join(f"{n}: {v}" for n, v in summary.known_to_quorum.items())
    console.print(f"known to a quorum of {home.matrix.quorum} in A's view at t={ticks}: {reached}")
    return summary


def _print_view(console: Console, sim: Simulation, t: int) -> None:
    m = sim.replicas["A"].matrix
    assert isinstance(m, EntanglementMatrix)
    table = Table(title=f"A's entanglement matrix at t={t}")
    table.add_column("observer")
    for name in SWARM_PEERS:
        table.add_column(name, justify="right")
    for name in SWARM_PEERS:
        row = m.row(sim.key(name))
        table.add_row(name, *(str(row[sim.key(n)]) for n in SWARM_PEERS))
    console.print(table)


#: The equivocation demo: five honest peers on a ring, and X, a registered peer that talks
#: only to B and D — and tells each a different story.
ATTACK_PEERS = ("A", "B", "C", "D", "E")
ATTACK_LINKS = {("A", "B"): 1, ("B", "C"): 2, ("C", "D"): 2, ("D", "E"): 1, ("E", "A"): 3}
ATTACK_TICKS = 30
#: When X signs the two versions of its second entry.
EQUIVOCATE_AT = 3


def run_attack_demo(console: Console, ticks: int = ATTACK_TICKS) -> AttackSummary:
    """An equivocating peer: its two versions spread from two sides, the first replica
    that holds both proves the fork, the proof convinces a bystander, and the liar ends
    blocklisted everywhere with its column frozen."""
    console.rule("[bold]an equivocating peer")
    x = Simulation.identity("X", seed=1)
    sim = Simulation(
        ATTACK_PEERS, ATTACK_LINKS, swarm_id=SWARM_ID, seed=1, outsiders=[x.public_key]
    )
    liar = Equivocator(x, sim.peers, SWARM_ID)
    names = {sim.key(n): n for n in ATTACK_PEERS} | {x.public_key: "X"}
    links = ", ".join(f"{a}–{b} {d}" for (a, b), d in ATTACK_LINKS.items())
    console.print(f"ring (delay in ticks): {links}; X talks only to B and D")
    first = liar.append(b"X: hello")
    for victim in ("B", "D"):
        sim.inject(victim, [first])
    versions: dict[bytes, str] = {}
    seen_logged = 0
    fraud_logged = 0
    detected: tuple[int, str] | None = None

    def tick(sim: Simulation) -> None:
        nonlocal seen_logged, fraud_logged, detected
        t = sim.now
        if t == EQUIVOCATE_AT:
            p, q = liar.equivocate(b"X: pay alice 10", b"X: pay bob 10")
            versions.update({p.id: "P", q.id: "Q"})
            sim.inject("B", [p])
            sim.inject("D", [q])
            console.print(
                f"t={t}: X signs two versions of its entry 2: P ({p.id[:4].hex()}…, "
                f"'pay alice') to B, Q ({q.id[:4].hex()}…, 'pay bob') to D"
            )
        if t < 12 and t % 2 == 0:
            for name in ATTACK_PEERS:
                sim.send_from(name, [sim.replicas[name].append(f"{name}@{t}".encode())])
        if t % 3 == 0:
            sim.noops()
        for when, name, entry in sim.delivered_log[seen_logged:]:
            if entry.id in versions:
                console.print(f"t={when}: {name} delivers X@2 = {versions[entry.id]}")
        seen_logged = len(sim.delivered_log)
        for when, name, proof, here in sim.fraud_log[fraud_logged:]:
            if here and detected is None:
                detected = (when, name)
                console.print(
                    f"[bold red]t={when}: {name} holds both versions: fork detected.[/] "
                    f"Fraud proof ({len(proof.to_bytes())} bytes) stored, X blocklisted, "
                    f"{name}'s FRAUD entry relayed to the swarm"
                )
            else:
                how = "detects it too" if here else "learns of it from a FRAUD entry"
                console.print(f"t={when}: {name} {how}: X blocklisted")
        fraud_logged = len(sim.fraud_log)

    sim.run(ticks, tick)
    holders = {n: r for n, r in sim.replicas.items() if r.frauds}
    proof_verified = False
    if detected is not None:
        # A bystander outside the swarm: only the proof's bytes, as found in the
        # detector's FRAUD entry, and the swarm id.
        detector = sim.replicas[detected[1]]
        fraud_entry = next(e for e in detector.entries(detector.me) if e.kind == Kind.FRAUD)
        proof = FraudProof.from_bytes(fraud_entry.payload)
        proof_verified = proof.verify(SWARM_ID)
        console.print(
            f"a bystander verifies the proof from the bytes of {detected[1]}'s FRAUD entry and "
            f"the swarm id alone: {proof_verified} (author X: {proof.author == x.public_key}, "
            f"seq {proof.seq}; against another swarm id: {proof.verify(bytes(32))})"
        )
    table = Table(title=f"after {ticks} ticks")
    for column in ("peer", "X@2 delivered", "evidence", "X blocklisted", "X known to quorum"):
        table.add_column(column)
    frozen = True
    spread = {}
    for name, r in sim.replicas.items():
        held = r.id_at(x.public_key, 2)
        spread[name] = versions.get(held, "-") if held else "-"
        evidence = ", ".join(versions.get(e.id, "?") for e in r.evidence(x.public_key)) or "-"
        quorum = r.matrix.known_to_quorum()[x.public_key]
        frozen &= quorum <= 1 and max(r.matrix.column(x.public_key).values()) <= 1
        table.add_row(name, spread[name], evidence, str(x.public_key in r.blocklist), str(quorum))
    console.print(table)
    everywhere = len(holders) == len(ATTACK_PEERS) and all(
        r.blocklist == {x.public_key} for r in sim.replicas.values()
    )
    console.print(
        f"X blocklisted by all {len(ATTACK_PEERS)} honest peers: {everywhere}; its column is "
        f"frozen at seq 1 everywhere: {frozen}"
        + (
            f" ({', '.join(sorted(names[a] for a in holders['A'].disputed(x.public_key)))} "
            "disputed in A's view)"
            if "A" in holders
            else ""
        )
    )
    return AttackSummary(
        versions=spread,
        detected_at=None if detected is None else detected[0],
        detector=None if detected is None else detected[1],
        proof_verified=proof_verified,
        blocklisted_everywhere=everywhere,
        all_frozen=frozen,
    )

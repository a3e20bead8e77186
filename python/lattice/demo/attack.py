"""``lattice demo attack``: an equivocating peer on simulated links — its two versions
spread from two sides until a replica holding both proves the fork, a bystander checks
the proof, and every honest peer blocklists the liar.

>>> from rich.console import Console
>>> run_attack_demo(Console(quiet=True)).blocklisted_everywhere
True
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

from lattice._lattice import FraudProof
from lattice.demo.common import SWARM_ID
from lattice.entry import Kind
from lattice.simulation import Equivocator, Simulation

__all__ = ["AttackSummary", "run_attack_demo"]


@dataclass(frozen=True)
class AttackSummary:
    """What the equivocation part of the demo saw."""

    versions: dict[str, str]
    detected_at: int | None
    detector: str | None
    proof_verified: bool
    blocklisted_everywhere: bool
    all_frozen: bool


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

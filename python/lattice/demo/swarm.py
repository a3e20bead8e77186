"""``lattice demo swarm``: five real Replicas on simulated links — the matrix as it
evolves, what reaches a quorum, and a client's op with its quorum proof verified from
scratch.

>>> from rich.console import Console
>>> run_swarm_demo(Console(quiet=True)).proof_verified
True
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

from lattice import _lattice
from lattice.demo.common import SWARM_ID
from lattice.identity import Identity
from lattice.matrix import EntanglementMatrix
from lattice.proofs import QuorumProof
from lattice.simulation import Simulation

__all__ = ["SwarmSummary", "run_swarm_demo"]


@dataclass(frozen=True)
class SwarmSummary:
    """What the five-peer swarm part of the demo saw."""

    ticks: int
    proof_tick: int | None
    proof_verified: bool
    known_to_quorum: dict[str, int]


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

"""``lattice demo``: lattice at work, end to end, on this machine — one section a feature.

``core``: signed, entangled logs, batch verification, chain validation, the matrix and a
tampered entry caught; ``swarm``: five Replicas on simulated links and a client's quorum
proof; ``attack``: an equivocating peer caught, proven and blocklisted; ``network``: real
node processes over Noise, the matrix converging (and drawn to a PNG), and an
equivocating peer caught over the network; ``docs``: two peers editing one text
concurrently, a Byzantine edit refused alike everywhere, the text converging; ``guest``: an
owner with a long history hands a guest the document as it is (a collapsed snapshot over
Noise), the byte scan finds nothing of the past, and the guest's delete lands in the deep
log; ``trust``: three builders build a Wasm state machine to the same bytes and attest it,
and it runs only once two attestations agree (a dissenting one quarantines it);
``attest``: node processes prove to each other what code they run inside the handshake, a
modified build is refused for its kernel hash, and a swtpm quote is checked; ``sybil``: the
§11 simulation's five attacks without and with the defences, and its plot; ``grid``: an
owner and four worker processes, a liar caught by Freivalds' check, a copier refused, a
straggler re-dispatched, and a byte scan of what the workers received. ``lattice
demo`` runs every section in this order, ``lattice demo NAME`` one, ``lattice
demo --list`` names them. Later features add their section to :data:`SECTIONS`.

>>> from rich.console import Console
>>> summary = run_demo(Console(quiet=True), rounds=20, network_part=False)
>>> summary.entries, summary.all_signatures_valid
(80, True)
>>> list(SECTIONS)
['core', 'swarm', 'attack', 'network', 'docs', 'guest', 'trust', 'attest', 'sybil', 'grid']
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from lattice.demo.attack import AttackSummary, run_attack_demo
from lattice.demo.attest import AttestSummary, run_attest_demo
from lattice.demo.core import DEFAULT_ROUNDS, CoreSummary, run_core_demo
from lattice.demo.docs import DocsSummary, run_docs_demo
from lattice.demo.grid import GridSummary, run_grid_demo
from lattice.demo.guest import GuestSummary, run_guest_demo
from lattice.demo.network import NetworkSummary, run_network_demo
from lattice.demo.swarm import SwarmSummary, run_swarm_demo
from lattice.demo.sybil import SybilSummary, run_sybil_demo
from lattice.demo.trust import TrustSummary, run_trust_demo
from lattice.errors import InvalidArgument

__all__ = [
    "DEFAULT_ROUNDS",
    "SECTIONS",
    "AttackSummary",
    "AttestSummary",
    "CoreSummary",
    "DemoSummary",
    "DocsSummary",
    "GridSummary",
    "NetworkSummary",
    "Section",
    "SwarmSummary",
    "SybilSummary",
    "run_attack_demo",
    "run_demo",
    "run_swarm_demo",
]


@dataclass(frozen=True)
class Options:
    """What the sections may be told from the command line."""

    rounds: int = DEFAULT_ROUNDS
    png: Path | None = None


@dataclass(frozen=True)
class Section:
    """One section of the demo: its name, what it shows, and how to run it."""

    name: str
    about: str
    run: Callable[[Console, Options], object]


#: Every section, in the order ``lattice demo`` runs them.
SECTIONS: dict[str, Section] = {
    s.name: s
    for s in (
        Section(
            "core",
            "signed, entangled logs; batch verification; the matrix; a tampered entry caught",
            lambda console, o: run_core_demo(console, rounds=o.rounds),
        ),
        Section(
            "swarm",
            "five replicas on simulated links; a client's op and its quorum proof",
            lambda console, o: run_swarm_demo(console),
        ),
        Section(
            "attack",
            "an equivocating peer caught, proven and blocklisted (simulated links)",
            lambda console, o: run_attack_demo(console),
        ),
        Section(
            "network",
            "real node processes over Noise; the matrix as a PNG; a liar caught on the network",
            lambda console, o: run_network_demo(console, png=o.png),
        ),
        Section(
            "docs",
            "documents: concurrent edits converge; a Byzantine edit refused alike everywhere",
            lambda console, o: run_docs_demo(console),
        ),
        Section(
            "guest",
            "shallow logs: a guest handed the present over Noise; the byte scan; its write-back",
            lambda console, o: run_guest_demo(console),
        ),
        Section(
            "trust",
            "a Wasm state machine built by three builders, run after two attestations agree",
            lambda console, o: run_trust_demo(console),
        ),
        Section(
            "attest",
            "remote attestation in the handshake: software, a modified build refused, a TPM",
            lambda console, o: run_attest_demo(console),
        ),
        Section(
            "sybil",
            "five Sybil attacks simulated at scale, without and with the defences; the plot",
            lambda console, o: run_sybil_demo(console),
        ),
        Section(
            "grid",
            "a compute grid: four worker processes, a liar caught, a copier refused, a byte scan",
            lambda console, o: run_grid_demo(console),
        ),
    )
}


@dataclass(frozen=True)
class DemoSummary:
    """What the demo's sections measured (returned for tests and scripting); a section
    that did not run is None."""

    core: CoreSummary | None = None
    swarm: SwarmSummary | None = None
    attack: AttackSummary | None = None
    network: NetworkSummary | None = None
    docs: DocsSummary | None = None
    guest: GuestSummary | None = None
    trust: TrustSummary | None = None
    attest: AttestSummary | None = None
    sybil: SybilSummary | None = None
    grid: GridSummary | None = None
    ran: tuple[str, ...] = field(default_factory=tuple)

    def _core(self) -> CoreSummary:
        if self.core is None:
            raise InvalidArgument("the core section of the demo did not run")
        return self.core

    @property
    def entries(self) -> int:
        return self._core().entries

    @property
    def all_signatures_valid(self) -> bool:
        return self._core().all_signatures_valid

    @property
    def chains_valid(self) -> bool:
        return self._core().chains_valid

    @property
    def known_to_all(self) -> list[int]:
        return self._core().known_to_all

    @property
    def known_to_quorum(self) -> list[int]:
        return self._core().known_to_quorum

    @property
    def tamper_detected_at(self) -> int | None:
        return self._core().tamper_detected_at


def run_demo(
    console: Console,
    rounds: int = DEFAULT_ROUNDS,
    network_part: bool = True,
    sections: Sequence[str] | None = None,
    png: Path | None = None,
) -> DemoSummary:
    """Run ``sections`` (default: all, or all but ``network`` without ``network_part``),
    printing to ``console``; returns what they measured. ``png``: where the network
    section draws the matrix (default: a new temporary directory)."""
    chosen = list(sections) if sections is not None else list(SECTIONS)
    if sections is None and not network_part:
        chosen.remove("network")
    unknown = [s for s in chosen if s not in SECTIONS]
    if unknown:
        raise InvalidArgument(
            f"no demo section {', '.join(map(repr, unknown))}; sections: {', '.join(SECTIONS)}"
        )
    options = Options(rounds=rounds, png=png)
    console.rule("[bold]lattice demo")
    results = {name: SECTIONS[name].run(console, options) for name in chosen}
    console.rule()

    def get(name: str, kind: type) -> object:
        value = results.get(name)
        return value if isinstance(value, kind) else None

    return DemoSummary(
        core=get("core", CoreSummary),  # type: ignore[arg-type]
        swarm=get("swarm", SwarmSummary),  # type: ignore[arg-type]
        attack=get("attack", AttackSummary),  # type: ignore[arg-type]
        network=get("network", NetworkSummary),  # type: ignore[arg-type]
        docs=get("docs", DocsSummary),  # type: ignore[arg-type]
        guest=get("guest", GuestSummary),  # type: ignore[arg-type]
        trust=get("trust", TrustSummary),  # type: ignore[arg-type]
        attest=get("attest", AttestSummary),  # type: ignore[arg-type]
        sybil=get("sybil", SybilSummary),  # type: ignore[arg-type]
        grid=get("grid", GridSummary),  # type: ignore[arg-type]
        ran=tuple(chosen),
    )

"""``lattice demo network``: real node processes on loopback (DESIGN §7).

Four honest nodes on a line, each its own process with its own SQLite store, talking Noise
over TCP; the demo writes through their control sockets, shows the entanglement matrix
converging and draws it as a PNG. Then an equivocating peer
(``python -m lattice.net.adversary``: one key, two nodes) joins at both ends of the line,
tells each end a different version of its next entry, and the demo times how fast the
honest nodes prove the fork and blocklist it.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from lattice import _lattice, heatmap
from lattice.errors import InvalidArgument
from lattice.identity import Identity
from lattice.net.config import Member, render
from lattice.net.control import matrix_table
from lattice.net.process import AdversaryProcess, NodeProcess, free_ports

__all__ = ["NetworkSummary", "run_network_demo"]

NAMES = ("A", "B", "C", "D")
SWARM_ID = _lattice.blake3_derive_key("lattice v1 network demo swarm", b"")
#: Short deadlines and quick reconnects: the demo's nodes start together.
LIMITS = {"reconnect_min": 0.05, "reconnect_max": 0.5}
NOOP_INTERVAL = 0.2
ROUNDS = 5
TIMEOUT = 60.0


@dataclass(frozen=True)
class NetworkSummary:
    """What the network demo saw."""

    converged: bool
    detection_ms: dict[str, float]
    blocklisted_everywhere: bool
    png: Path | None = None


def _wait(condition: Callable[[], bool], what: str) -> float:
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > TIMEOUT:
            raise TimeoutError(f"the network demo timed out waiting for {what}")
        time.sleep(0.02)
    return time.monotonic() - start


def run_network_demo(console: Console, png: Path | None = None) -> NetworkSummary:
    """Run the demo in a temporary directory, printing to ``console``; the matrix picture
    goes to ``png`` (default: ``matrix.png`` in a new directory that is kept)."""
    console.rule("[bold]real nodes on loopback: Noise over TCP, one process each")
    if png is None:
        png = Path(tempfile.mkdtemp(prefix="lattice-demo-")) / "matrix.png"
    with tempfile.TemporaryDirectory(prefix="lattice-demo-") as tmp:
        return _run(console, Path(tmp), png)


def _run(console: Console, d: Path, png: Path) -> NetworkSummary:
    ids = {n: Identity.generate() for n in NAMES}
    x = Identity.generate()
    ports = free_ports(len(NAMES) + 2)
    addr = {n: ("127.0.0.1", ports[i]) for i, n in enumerate(NAMES)}
    x_addr = {"A": ("127.0.0.1", ports[-2]), "D": ("127.0.0.1", ports[-1])}
    for n, ident in ids.items():
        ident.save(d / f"{n}.key")
    x.save(d / "X.key")
    # A line A–B–C–D: each dials the previous; A and D also dial X's two nodes.
    for i, n in enumerate(NAMES):
        members = [
            Member(m, ids[m].public_key, addr[m] if j == i - 1 else None)
            for j, m in enumerate(NAMES)
        ] + [Member("X", x.public_key, x_addr.get(n))]
        (d / f"{n}.toml").write_text(
            render(
                identity=f"{n}.key",
                swarm_id=SWARM_ID,
                members=members,
                listen=addr[n],
                store=f"{n}.db",
                control=f"{n}.sock",
                noop_interval=NOOP_INTERVAL,
                limits=LIMITS,
            )
        )
    plain = [Member(m, ids[m].public_key) for m in NAMES] + [Member("X", x.public_key)]
    for side, end in (("XL", "A"), ("XR", "D")):
        (d / f"{side}.toml").write_text(
            render(
                identity="X.key",
                swarm_id=SWARM_ID,
                members=plain,
                listen=x_addr[end],
                store=f"{side}.db",
                noop_interval=3600,
                limits=LIMITS,
            )
        )
    procs = [NodeProcess(name=n, config=d / f"{n}.toml", control=d / f"{n}.sock") for n in NAMES]
    adversary: AdversaryProcess | None = None
    try:
        for p in procs:
            p.start(timeout=TIMEOUT)
        console.print(
            "four nodes up, on a line A–B–C–D: "
            + ", ".join(f"{p.name} {addr[p.name][1]}" for p in procs)
        )
        for r in range(ROUNDS):
            for p in procs:
                p.append(f"{p.name} writes #{r + 1}")
        console.print(f"each node appended {ROUNDS} entries through its control socket")
        console.print(matrix_table(procs[0].matrix(), "A's matrix, just after"))

        def settled() -> bool:
            # X has not shown up yet: its row is empty, so "known to all" waits for it;
            # what the honest nodes reach is the quorum (4 of 5).
            ms = [p.matrix() for p in procs]
            return (
                all(m["rows"] == ms[0]["rows"] for m in ms)
                and min(ms[0]["known_to_quorum"][:4]) >= ROUNDS
            )

        took = _wait(settled, "the matrices to converge")
        converged = procs[0].matrix()
        console.print(matrix_table(converged, f"A's matrix {took:.2f} s later"))
        console.print("all four matrices identical; every write known to a quorum")
        drawn: Path | None = None
        try:
            drawn = heatmap.from_reply(
                png, converged, f"A's entanglement matrix, {took:.2f} s in"
            ).path
            console.print(f"A's matrix drawn as a heatmap: {drawn}")
        except (InvalidArgument, OSError) as exc:  # e.g. matplotlib not installed
            console.print(f"[yellow]the matrix picture was not drawn: {exc}")

        adversary = AdversaryProcess(d / "XL.toml", d / "XR.toml", log=d / "X.log")
        tell = adversary.command
        tell("append X-says-hello")

        def linked() -> bool:
            return all(
                any(peer["name"] == "X" and peer["synced_in"] for peer in p.status()["peers"])
                for p in (procs[0], procs[-1])
            )

        _wait(linked, "X to connect")
        _wait(lambda: all(p.status()["frontier"].get("X") for p in procs), "X's entry")
        console.print("X, a registered peer, joins at both ends of the line (one key, two nodes)")
        start = time.time()
        fork = tell("fork pay-alice-10 pay-bob-10")
        console.print(
            f"X signs two versions of its entry {fork['seq']}: P ({fork['p'][:8]}…) to A, "
            f"Q ({fork['q'][:8]}…) to D"
        )
        detection: dict[str, float] = {}

        def all_detected() -> bool:
            for p in procs:
                forks = p.status()["forks"]
                if p.name not in detection and forks and forks[0]["seen_at"]:
                    detection[p.name] = (forks[0]["seen_at"] - start) * 1000
            return len(detection) == len(procs)

        _wait(all_detected, "every node to prove the fork")
        table = Table(title="the lie, caught")
        for col in ("node", "holds the proof after", "X blocklisted", "forks"):
            table.add_column(col)
        everywhere = True
        for p in procs:
            st = p.status()
            everywhere &= st["blocklist"] == ["X"]
            table.add_row(
                p.name, f"{detection[p.name]:.0f} ms", str("X" in st["blocklist"]),
                ", ".join(f"{f['author']}@{f['seq']}" for f in st["forks"]),
            )  # fmt: skip
        console.print(table)
        first = min(detection, key=detection.__getitem__)
        console.print(
            f"{first} held both versions first, {detection[first]:.0f} ms after the lie; its "
            "fraud proof reached every node, and X is blocklisted everywhere: "
            f"{everywhere}"
        )
        return NetworkSummary(True, detection, everywhere, drawn)
    finally:
        if adversary is not None:
            adversary.stop()
        for p in procs:
            p.stop()

"""The ``lattice admit`` and ``lattice sybil-sim`` commands (DESIGN §11): an open identity's
proof-of-work admission record, and the Sybil simulation with its report."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from lattice.cliutil import config_option
from lattice.errors import InvalidArgument
from lattice.sybil.simulation import SimResult

__all__ = ["admit", "sybil_sim", "vouch"]

#: Hashes one core does per second, roughly: the estimate before a search starts.
_HASH_RATE_GUESS = 8_000_000


@click.command()
@config_option
@click.option(
    "--bits",
    type=click.IntRange(1, 64),
    default=20,
    show_default=True,
    help="Leading zero bits: the swarm's minimum or more (each bit doubles the work).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    default=None,
    help="Where to write the record (default: beside the key, KEY.admission).",
)
@click.option(
    "--threads",
    type=click.IntRange(0),
    default=0,
    show_default=True,
    help="Threads to search on (0: every core).",
)
def admit(config: str, bits: int, out: str | None, threads: int) -> None:
    """Make an admission record (a proof of work) for the key of a client, guest or
    worker configuration CONFIG; its home peer carries it in an ADMISSION entry."""
    import os
    import tomllib

    from lattice.identity import Identity
    from lattice.net.config import load
    from lattice.sybil.records import Admission

    try:
        worker = "worker" in tomllib.loads(Path(config).read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        worker = False  # load says what is wrong with it
    if worker:  # a grid worker's file (lattice.grid.config)
        from lattice.grid.config import load as load_worker

        wcfg = load_worker(config)
        key, swarm_id, identity = wcfg.load_identity().public_key, wcfg.swarm_id, wcfg.identity
    else:
        cfg = load(config)
        key = Identity.load(cfg.identity, password=cfg.key_password()).public_key
        swarm_id, identity = cfg.swarm_id, cfg.identity
    cores = threads or os.cpu_count() or 1
    expected = 2**bits
    console = Console(stderr=True)
    console.print(
        f"searching {bits} bits for {key.hex()[:16]}…: about {expected:,} hashes, "
        f"~{expected / (_HASH_RATE_GUESS * cores):.1f} s on {cores} core(s)"
    )
    began = time.monotonic()
    with Progress(
        TextColumn("[bold]proof of work"),
        BarColumn(),
        TextColumn("{task.completed:,.0f} hashes"),
        TimeRemainingColumn(),
        console=console,
    ) as bar:
        task = bar.add_task("pow", total=expected)

        def progress(attempts: int) -> bool:
            # The expected count, not a bound: the bar may stay full while luck is bad.
            bar.update(task, completed=min(attempts, expected))
            return True

        record = Admission.make(key, swarm_id, bits, threads=threads, progress=progress)
        bar.update(task, completed=expected)
    path = Path(out) if out is not None else identity.with_suffix(".admission")
    path.write_bytes(record.to_bytes())
    click.echo(
        f"admission record for {key.hex()}: {bits} bits, nonce {record.nonce}, "
        f"{time.monotonic() - began:.1f} s; written to {path}"
    )


@click.command("sybil-sim")
@click.option("--honest", type=click.IntRange(1), default=1000, show_default=True)
@click.option(
    "--sybils", default="1000,2000,4000", show_default=True, help="Comma-separated Sybil counts."
)
@click.option("--peers", type=click.IntRange(2), default=30, show_default=True)
@click.option(
    "--duration",
    type=click.FloatRange(0.1),
    default=10.0,
    show_default=True,
    help="Seconds of simulated traffic.",
)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option(
    "--scenario",
    "scenarios",
    multiple=True,
    help="Only these scenarios (repeatable; default: every attack).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default="sybil-report",
    show_default=True,
    help="Directory for report.md and sybil.png.",
)
def sybil_sim(
    honest: int,
    sybils: str,
    peers: int,
    duration: float,
    seed: int,
    scenarios: tuple[str, ...],
    out: str,
) -> None:
    """Run the Sybil simulation (DESIGN §11): every attack against every defence set, and
    write a report with plots. Deterministic: one seed, one digest."""
    from lattice.sybil.report import ATTACKS, failures, sweep, sweep_digest, write_report

    try:
        counts = tuple(int(x) for x in sybils.split(",") if x.strip())
    except ValueError:
        raise InvalidArgument(f"--sybils is comma-separated counts, not {sybils!r}") from None
    unknown = [s for s in scenarios if s not in ATTACKS]
    if unknown:
        raise InvalidArgument(f"unknown scenarios {unknown}; known: {list(ATTACKS)}")
    console = Console()
    runs = (1 + len(scenarios or ATTACKS) * len(counts)) * 4
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("simulating", total=runs)
        results = sweep(
            honest=honest,
            sybils=counts,
            peers=peers,
            duration=duration,
            seed=seed,
            scenarios=scenarios or ATTACKS,
            progress=lambda r: bar.advance(task),
        )
    console.print(summary_table(results))
    md, png = write_report(results, out)
    missed = failures(results)
    console.print(f"digest {sweep_digest(results)}; report {md}, plot {png}")
    if missed:
        console.print("[red]P14 targets missed:[/]\n" + "\n".join(missed))
    else:
        console.print("[green]every P14 target met with all defences on[/]")


def summary_table(results: Sequence[SimResult]) -> Table:
    """The runs as a rich table."""
    table = Table(title="Sybil simulation (honest shares of bytes)")
    for name in (
        "scenario",
        "Sybils",
        "defences",
        "delivery",
        "p99 ms",
        "wire",
        "relayed",
        "validated",
        "cut",
        "events/s",
    ):
        table.add_column(name, justify="left" if name in ("scenario", "defences") else "right")
    for r in results:
        row = r.row()
        table.add_row(
            str(row["scenario"]),
            str(row["sybils"]),
            str(row["defences"]),
            f"{r.honest_delivery:.1%}",
            f"{r.latency_p99 * 1e3:.0f}",
            f"{r.wire_share:.1%}",
            f"{r.relayed_share:.1%}",
            f"{r.validated_share:.1%}",
            str(r.cut),
            f"{r.events_per_second:,.0f}",
        )
    return table


@click.command()
@config_option
@click.argument("key")
@click.option("--revoke", is_flag=True, help="Revoke the identity instead (and its vouches).")
def vouch(config: str, key: str, revoke: bool) -> None:
    """Have the running registered peer of CONFIG vouch for the open identity KEY (its
    public key in hex: a client, guest or worker), or with --revoke blocklist it, in a
    VOUCH entry of its log (DESIGN §11; the swarm needs [admission])."""
    from lattice.net.config import load
    from lattice.net.control import request

    cfg = load(config)
    if cfg.control is None:
        raise InvalidArgument(f"{config} names no control socket")
    reply = request(cfg.control, {"op": "vouch", "subject": key, "revoke": revoke})
    what = "revoked" if revoke else "vouched for"
    click.echo(f"{what} {key[:16]}… in entry {reply['seq']} ({reply['id'][:16]}…)")

"""The ``lattice`` command line.

>>> from click.testing import CliRunner
>>> from lattice.cli import main
>>> CliRunner().invoke(main, ["version"]).output.startswith("lattice ")
True
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from lattice import __version__
from lattice.errors import LatticeError

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Lattice: Byzantine-tolerant peer-to-peer replication."""


@main.command()
def version() -> None:
    """Print the version."""
    click.echo(f"lattice {__version__}")


@main.command()
@click.argument("section", required=False)
@click.option(
    "--rounds",
    default=None,
    type=click.IntRange(min=1),
    help="Entries per peer in the core section (default 10,000).",
)
@click.option("--list", "list_sections", is_flag=True, help="Name the sections and exit.")
@click.option(
    "--png",
    default=None,
    type=click.Path(dir_okay=False),
    help="Where the network section draws the matrix (default: a new temporary directory).",
)
def demo(section: str | None, rounds: int | None, list_sections: bool, png: str | None) -> None:
    """Run the demo: every section, or only SECTION (see --list)."""
    from lattice.demo import DEFAULT_ROUNDS, SECTIONS, run_demo

    if list_sections:
        for s in SECTIONS.values():
            click.echo(f"{s.name:<8} {s.about}")
        return
    if section is not None and section not in SECTIONS:
        raise click.BadParameter(
            f"no section {section!r}; sections: {', '.join(SECTIONS)}", param_hint="SECTION"
        )
    summary = run_demo(
        Console(soft_wrap=True),
        rounds=rounds or DEFAULT_ROUNDS,
        sections=None if section is None else [section],
        png=None if png is None else Path(png),
    )
    core = summary.core
    if core is not None and not (core.all_signatures_valid and core.chains_valid):
        raise click.ClickException("the demo's own entries did not verify")


def _config(path: str):  # type: ignore[no-untyped-def]
    from lattice.net.config import load

    try:
        return load(path)
    except LatticeError as exc:
        raise click.ClickException(str(exc)) from exc


def _control(path: str, req: dict[str, object]) -> dict[str, object]:
    from lattice.net.control import request

    cfg = _config(path)
    if cfg.control is None:
        raise click.ClickException(f"{path} names no control socket")
    try:
        return request(cfg.control, req)
    except LatticeError as exc:
        raise click.ClickException(str(exc)) from exc


@main.command()
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), help="Key file.")
@click.option("--password", default=None, help="Encrypt the key file with this password.")
@click.option("--force", is_flag=True, help="Overwrite an existing key file.")
def keygen(out: str, password: str | None, force: bool) -> None:
    """Create an identity (Ed25519, PKCS#8 PEM, mode 0600); print its public key."""
    from lattice.identity import Identity

    if Path(out).exists() and not force:
        raise click.ClickException(f"{out} exists (use --force to replace it)")
    ident = Identity.generate()
    ident.save(out, password=None if password is None else password.encode())
    click.echo(ident.public_key.hex())


@main.group()
def node() -> None:
    """Run a node."""


@node.command("run")
@click.option("--config", "config", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("-v", "--verbose", count=True, help="Log connections (-vv: every batch).")
def node_run(config: str, verbose: int) -> None:
    """Run a node until interrupted (SIGINT or SIGTERM stop it cleanly)."""
    from lattice.net.node import Node

    logging.basicConfig(
        level=[logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)],
        format="%(asctime)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    cfg = _config(config)

    async def run() -> None:
        try:
            n = Node(cfg)
        except LatticeError as exc:
            raise click.ClickException(str(exc)) from exc
        await n.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        listen = n.listen_address
        click.echo(
            f"node {n.name(n.me)} ({n.me.hex()[:16]}…) up"
            + (f", listening on {listen[0]}:{listen[1]}" if listen else ""),
            err=True,
        )
        try:
            await stop.wait()
        finally:
            await n.stop()

    asyncio.run(run())


@main.command()
@click.option("--config", "config", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--hex", "as_hex", is_flag=True, help="PAYLOAD is hex.")
@click.argument("payload")
def append(config: str, as_hex: bool, payload: str) -> None:
    """Append PAYLOAD to the running node's log."""
    data = bytes.fromhex(payload) if as_hex else payload.encode()
    reply = _control(config, {"op": "append", "payload": data.hex()})
    click.echo(f"appended seq {reply['seq']}, id {reply['id']}")


@main.command()
@click.option("--config", "config", required=True, type=click.Path(exists=True, dir_okay=False))
@click.argument("payload")
def submit(config: str, payload: str) -> None:
    """As a client: have the home peer (``home`` in the config) wrap PAYLOAD as an op."""
    from lattice.identity import Identity
    from lattice.net.client import Client

    cfg = _config(config)
    if cfg.home is None:
        raise click.ClickException(f"{config}: [node] home names no home peer")
    home = cfg.member(cfg.home)
    password = None if cfg.password is None else cfg.password.encode()
    identity = Identity.load(cfg.identity, password=password)

    async def run() -> None:
        async with await Client.connect(home.address, identity, cfg.swarm_id, cfg.limits) as c:
            ack = await c.submit(payload.encode())
            click.echo(f"wrapped by {cfg.home} in its entry {ack.seq}, id {ack.entry_id.hex()}")

    try:
        asyncio.run(run())
    except (LatticeError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc


def _query(config: str, op: str, as_json: bool) -> dict[str, Any] | None:
    """The ``op`` reply of the node running with ``config``; printed as JSON (and None
    returned) with ``--json``."""
    reply = _control(config, {"op": op})[op]
    assert isinstance(reply, dict)
    if as_json:
        click.echo(json.dumps(reply, indent=2))
        return None
    return reply


@main.command()
@click.option("--config", "config", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def status(config: str, as_json: bool) -> None:
    """Peers and connections, frontier, pending, forks and blocklist of a running node."""
    st = _query(config, "status", as_json)
    if st is None:
        return
    console = Console()
    console.print(
        f"node {st['name']} ({st['identity'][:16]}…) role {st['role']}, listen {st['listen']}"
    )
    peers = Table(title="peers")
    for col in ("peer", "address", "state", "synced", "frames out/in", "penalties"):
        peers.add_column(col)
    for p in st["peers"]:
        state = (
            "blocked"
            if p["blocked"]
            else (f"connected ({p['direction']})" if p["connected"] else "down")
        )
        synced = f"{'out' if p['synced_out'] else '-'}/{'in' if p['synced_in'] else '-'}"
        peers.add_row(
            p["name"], p["address"] or "-", state, synced,
            f"{p['frames_sent']}/{p['frames_received']}", str(p["penalties"]),
        )  # fmt: skip
    console.print(peers)
    frontier = ", ".join(f"{a}: {s}" for a, (s, _) in st["frontier"].items()) or "-"
    console.print(f"frontier: {frontier}")
    console.print(f"pending: {st['pending']}; clients: {st['clients']}; refused: {st['refused']}")
    for f in st["forks"]:
        console.print(f"[red]fork[/]: {f['author']} at seq {f['seq']}")
    console.print(f"blocklist: {', '.join(st['blocklist']) or '-'}")


@main.command()
@click.option("--config", "config", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option(
    "--png",
    default=None,
    type=click.Path(dir_okay=False),
    help="Also draw the matrix as a heatmap into this PNG file.",
)
def matrix(config: str, as_json: bool, png: str | None) -> None:
    """The entanglement matrix of a running node."""
    from lattice import heatmap
    from lattice.net.control import matrix_table

    m = _query(config, "matrix", False)
    assert m is not None
    if as_json:
        click.echo(json.dumps(m, indent=2))
    else:
        Console().print(matrix_table(m, "entanglement matrix (rows observe, columns are seen)"))
    if png is not None:
        try:
            picture = heatmap.from_reply(png, m, f"entanglement matrix of {config}")
        except (LatticeError, OSError) as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(f"wrote {picture.path} ({picture.size[0]}×{picture.size[1]} px)", err=as_json)


if __name__ == "__main__":
    main()

"""The ``lattice`` command line.

Every user error ends in one ``Error:`` line naming the file, key or argument, and exit
status 1: the group turns any :class:`~lattice.errors.LatticeError` or ``OSError`` into
that, so no command shows a traceback for a mistake. Commands that talk to a node take
``--config`` (default ``$LATTICE_CONFIG``) and ``--timeout``.

>>> from click.testing import CliRunner
>>> from lattice.cli import main
>>> CliRunner().invoke(main, ["version"]).output.startswith("lattice ")
True
>>> CliRunner().invoke(main, ["--version"]).output.startswith("lattice, version ")
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
from rich.markup import escape
from rich.table import Table

from lattice import __version__, _lattice
from lattice.cli_attest import attest, machine
from lattice.cli_grid import grid, worker
from lattice.cli_sybil import admit, sybil_sim, vouch
from lattice.cli_views import guest, share
from lattice.cliutil import (
    PASSWORD_ENV,
    _config,
    _control,
    _Lattice,
    _password,
    config_option,
    password_file_option,
    timeout_option,
)
from lattice.errors import InvalidArgument

__all__ = ["main"]


@click.group(cls=_Lattice, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="lattice")
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


@main.command()
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), help="Key file.")
@password_file_option(f"Encrypt the key with the password in this file (or set ${PASSWORD_ENV}).")
@click.option("--no-password", is_flag=True, help="Write the key unencrypted.")
@click.option("--force", is_flag=True, help="Overwrite an existing key file.")
def keygen(out: str, password_file: str | None, no_password: bool, force: bool) -> None:
    """Create an identity (Ed25519, PKCS#8 PEM, mode 0600); print its public key.

    The key is encrypted with a password from --password-file, $LATTICE_PASSWORD or a
    hidden, confirmed prompt; --no-password writes it unencrypted.
    """
    from lattice.identity import Identity

    if Path(out).exists() and not force:
        raise click.ClickException(f"{out} exists (use --force to replace it)")
    password = _password(password_file, no_password, confirm=True)
    ident = Identity.generate()
    ident.save(out, password=password)
    click.echo(ident.public_key.hex())


@main.command()
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--peers", required=True, help="The peers' names, comma-separated: a,b,c.")
@click.option("--clients", default=0, type=click.IntRange(min=0), help="How many clients.")
@click.option(
    "--base-port", default=7001, show_default=True, type=click.IntRange(1, 65535),
    help="The first node's port on 127.0.0.1; the others follow.",
)  # fmt: skip
@password_file_option(
    "Encrypt the keys with the password in this file (the nodes read it from there)."
)
@click.option("--no-password", is_flag=True, help="Write the keys unencrypted.")
def init(
    directory: str,
    peers: str,
    clients: int,
    base_port: int,
    password_file: str | None,
    no_password: bool,
) -> None:
    """Make a swarm in DIRECTORY: keys, a fresh swarm id, one configuration per node and
    client; print the commands that start it."""
    from lattice.net.scaffold import make_swarm

    if password_file is None and not no_password:
        raise click.ClickException(
            "the keys need a password: --password-file FILE (the nodes read it there), or "
            "--no-password"
        )
    password = _password(password_file, no_password, confirm=False)
    made = make_swarm(
        directory,
        [p.strip() for p in peers.split(",") if p.strip()],
        clients=clients,
        base_port=base_port,
        password=password,
        password_file=None if password_file is None else str(Path(password_file).resolve()),
    )
    click.echo(f"a swarm of {len(made.peers)} in {made.directory}; start each node with:")
    for command in made.commands:
        click.echo(f"  {command}")


@main.command()
@config_option
def verify(config: str) -> None:
    """Check a node's store from scratch: every chain, signature, payload and matrix cell
    (the store may be in use); report the first bad position."""
    from lattice.integrity import verify as verify_store

    cfg = _config(config)
    if cfg.store is None:
        raise InvalidArgument(f"{config} names no store")
    verdict = verify_store(cfg.store)
    if not verdict.ok:
        raise click.ClickException(f"{cfg.store}: {verdict}")
    click.echo(f"{cfg.store}: {verdict}")


@main.group(cls=_Lattice)
def key() -> None:
    """Look at identity keys."""


@key.command("show")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@password_file_option(f"The key's password is in this file (or in ${PASSWORD_ENV}).")
def key_show(file: str, password_file: str | None) -> None:
    """Print the public key of the identity in FILE (like ssh-keygen -y)."""
    from lattice.identity import Identity

    encrypted = b"ENCRYPTED" in Path(file).read_bytes()[:64]
    password = _password(password_file, not encrypted, confirm=False) if encrypted else None
    click.echo(Identity.load(file, password=password).public_key.hex())


@main.group(cls=_Lattice)
def node() -> None:
    """Run a node."""


@node.command("run")
@config_option
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
        n = Node(cfg)
        try:
            await n.start()
        except BaseException:
            await n.stop()  # nothing half-started stays: the store is closed, its lock freed
            raise
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
@config_option
@timeout_option
@click.option("--hex", "as_hex", is_flag=True, help="PAYLOAD is hex.")
@click.argument("payload")
def append(config: str, timeout: float, as_hex: bool, payload: str) -> None:
    """Append PAYLOAD to the running node's log: text, - for standard input, @FILE for the
    bytes of FILE, or hex with --hex."""
    limit = _lattice.MAX_PAYLOAD_LEN
    if payload == "-" or payload.startswith("@"):
        if payload == "-":
            data = sys.stdin.buffer.read(limit + 1)
        else:
            with open(payload[1:], "rb") as f:
                data = f.read(limit + 1)
        if len(data) > limit:
            raise click.ClickException(f"PAYLOAD is over {limit} bytes, the most an entry holds")
    elif as_hex:
        try:
            data = bytes.fromhex(payload)
        except ValueError:
            raise click.ClickException(f"PAYLOAD is not hex digits: {payload!r}") from None
    else:
        data = payload.encode()
    reply = _control(config, {"op": "append", "payload": data.hex()}, timeout)
    click.echo(f"appended seq {reply['seq']}, id {reply['id']}")


@main.command()
@config_option
@timeout_option
@click.argument("payload")
def submit(config: str, timeout: float, payload: str) -> None:
    """As a client: have the home peer (home in the config) wrap PAYLOAD as an op."""
    from lattice.identity import Identity
    from lattice.net.client import Client

    cfg = _config(config, role="client")
    if cfg.home is None:
        raise InvalidArgument(f"{config}: [node] home names no home peer")
    home = cfg.member(cfg.home)
    identity = Identity.load(cfg.identity, password=cfg.key_password())

    async def run() -> None:
        connect = Client.connect(home.address, identity, cfg.swarm_id, cfg.limits)
        async with await asyncio.wait_for(connect, timeout) as c:
            ack = await asyncio.wait_for(c.submit(payload.encode()), timeout)
            click.echo(f"wrapped by {cfg.home} in its entry {ack.seq}, id {ack.entry_id.hex()}")

    try:
        asyncio.run(run())
    except TimeoutError:
        raise click.ClickException(f"no answer from {cfg.home} within {timeout} s") from None


def _query(config: str, op: str, as_json: bool, timeout: float) -> dict[str, Any] | None:
    """The ``op`` reply of the node running with ``config``; printed as JSON (and None
    returned) with ``--json``."""
    reply = _control(config, {"op": op}, timeout)[op]
    assert isinstance(reply, dict)
    if as_json:
        click.echo(json.dumps(reply, indent=2))
        return None
    return reply


@main.command()
@config_option
@timeout_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def status(config: str, timeout: float, as_json: bool) -> None:
    """Peers and connections, frontier, pending, forks and blocklist of a running node."""
    st = _query(config, "status", as_json, timeout)
    if st is None:
        return
    console = Console()
    console.print(
        f"node {st['name']} ({st['identity'][:16]}…) role {st['role']}, listen {st['listen']}"
    )
    peers = Table(title="peers")
    attesting = st.get("attestation")
    cols = ["peer", "address", "state", "synced", "frames out/in", "penalties"]
    for col in cols + (["attestation"] if attesting else []):
        peers.add_column(col)
    for p in st["peers"]:
        state = (
            "blocked"
            if p["blocked"]
            else (f"connected ({p['direction']})" if p["connected"] else "down")
        )
        synced = f"{'out' if p['synced_out'] else '-'}/{'in' if p['synced_in'] else '-'}"
        row = [
            p["name"], p["address"] or "-", state, synced,
            f"{p['frames_sent']}/{p['frames_received']}", str(p["penalties"]),
        ]  # fmt: skip
        if attesting:
            row.append(escape(p.get("attestation") or "-"))
        peers.add_row(*row)
    console.print(peers)
    if attesting:
        kernel = attesting["kernel"]
        console.print(
            f"attestation: proves {attesting['backend']}, requires {attesting['require']} of "
            f"peers; kernel {kernel[:16] + '…' if kernel else '-'} "
            f"({attesting['measurements']} measurements)"
        )
    frontier = ", ".join(f"{a}: {s}" for a, (s, _) in st["frontier"].items()) or "-"
    console.print(f"frontier: {frontier}")
    console.print(f"pending: {st['pending']}; clients: {st['clients']}; refused: {st['refused']}")
    for f in st["forks"]:
        console.print(f"[red]fork[/]: {f['author']} at seq {f['seq']}")
    console.print(f"blocklist: {', '.join(st['blocklist']) or '-'}")
    if st.get("blocklisted"):
        console.print(
            f"[bold red]this node is blocklisted: fork at seq {st['blocklisted']['seq']}[/] "
            "(its peers hold a proof that it signed two versions; it can no longer write)"
        )


@main.command()
@config_option
@timeout_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option(
    "--png",
    default=None,
    type=click.Path(dir_okay=False),
    help="Also draw the matrix as a heatmap into this PNG file.",
)
def matrix(config: str, timeout: float, as_json: bool, png: str | None) -> None:
    """The entanglement matrix of a running node."""
    from lattice import heatmap
    from lattice.net.control import matrix_table

    m = _query(config, "matrix", False, timeout)
    assert m is not None
    if as_json:
        click.echo(json.dumps(m, indent=2))
    else:
        Console().print(matrix_table(m, "entanglement matrix (rows observe, columns are seen)"))
    if png is not None:
        picture = heatmap.from_reply(png, m, f"entanglement matrix of {config}")
        click.echo(f"wrote {picture.path} ({picture.size[0]}×{picture.size[1]} px)", err=as_json)


@main.group()
def doc() -> None:
    """Edit and read the documents of a running node (text objects, DESIGN §9). Each edit
    is one signed entry, relayed to the node's peers; every node shows the same text."""


def _doc_request(config: str, timeout: float, op: str, **fields: object) -> dict[str, Any]:
    return dict(_control(config, {"op": op, **fields}, timeout))


text_option = click.option(
    "--text", "name", default="text", show_default=True, help="The text object to use."
)


@doc.command("insert")
@config_option
@timeout_option
@text_option
@click.argument("doc_id", metavar="DOC")
@click.argument("index", type=click.IntRange(min=0))
@click.argument("value")
def doc_insert(config: str, timeout: float, name: str, doc_id: str, index: int, value: str) -> None:
    """Insert VALUE at code point INDEX of document DOC's text."""
    reply = _doc_request(
        config, timeout, "doc_insert", doc=doc_id, text=name, index=index, value=value
    )
    click.echo(f"inserted: seq {reply['seq']}, id {reply['id']}")


@doc.command("delete")
@config_option
@timeout_option
@text_option
@click.argument("doc_id", metavar="DOC")
@click.argument("index", type=click.IntRange(min=0))
@click.argument("length", type=click.IntRange(min=1))
def doc_delete(
    config: str, timeout: float, name: str, doc_id: str, index: int, length: int
) -> None:
    """Delete LENGTH code points at INDEX of document DOC's text."""
    reply = _doc_request(
        config, timeout, "doc_delete", doc=doc_id, text=name, index=index, length=length
    )
    click.echo(f"deleted: seq {reply['seq']}, id {reply['id']}")


@doc.command("show")
@config_option
@timeout_option
@text_option
@click.option("--json", "as_json", is_flag=True, help="Print the whole reply as JSON.")
@click.argument("doc_id", metavar="DOC")
def doc_show(config: str, timeout: float, name: str, as_json: bool, doc_id: str) -> None:
    """Print document DOC's text, the hash of its encoded state and what it refused."""
    reply = _doc_request(config, timeout, "doc_show", doc=doc_id, text=name)
    if as_json:
        click.echo(json.dumps(reply, indent=2))
        return
    click.echo(reply["text"])
    click.echo(f"state {reply['state'][:16]}… ({reply['state_len']} bytes)", err=True)
    for r in reply["rejected"]:
        click.echo(f"refused entry {r['entry'][:16]}…: {r['reason']}: {r['message']}", err=True)


main.add_command(share)
main.add_command(guest)
main.add_command(attest)
main.add_command(machine)
main.add_command(admit)
main.add_command(sybil_sim)
main.add_command(vouch)
main.add_command(grid)
main.add_command(worker)

if __name__ == "__main__":
    main()

"""The ``lattice share`` and ``lattice guest`` commands (DESIGN §8): an owner shares a
document with a guest key; a guest reads and edits the view its owner hands it.

A guest's configuration has ``role = "guest"``, ``home`` naming the owner (a member with
an address) and a ``store``: the file that keeps the guest's view, so the next command
resumes it rather than asking for a new one.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import click

from lattice.cliutil import _config, _Lattice, config_option, timeout_option
from lattice.errors import InvalidArgument

__all__ = ["guest", "share"]

text_option = click.option(
    "--text", "name", default="text", show_default=True, help="The text object to use."
)
doc_option = click.option("--doc", "doc_id", required=True, help="The document's id.")


def _key(value: str) -> bytes:
    try:
        key = bytes.fromhex(value)
    except ValueError:
        key = b""
    if len(key) != 32:
        raise InvalidArgument(
            f"a guest key is 64 hex digits (`lattice key show FILE`), not {value!r}"
        )
    return key


@click.command(cls=click.Command)
@config_option
@doc_option
@click.option("--guest", "guest_key", required=True, help="The guest's public key (64 hex).")
def share(config: str, doc_id: str, guest_key: str) -> None:
    """As an owner: share document DOC with a guest. Adds the key to the document's
    [[shares]] in the configuration; the node serves it from its next start."""
    from lattice.net.config import share as add_share

    _config(config)  # a node's configuration
    added = add_share(config, doc_id, _key(guest_key))
    state = "shared" if added else "already shared"
    click.echo(f"{doc_id}: {state} with {guest_key[:16]}… (restart the node to serve it)")


@click.group(cls=_Lattice)
def guest() -> None:
    """As a guest: read and edit the one view of a document its owner hands this key. A
    guest sees the document as it is, never its history."""


def _session(
    config: str, doc_id: str, timeout: float, work: Callable[[Any], Awaitable[None]]
) -> Any:
    from lattice.identity import Identity
    from lattice.net.guest import GuestClient, GuestStore

    cfg = _config(config, role="guest")
    if cfg.home is None:
        raise InvalidArgument(f"{config}: [node] home names no owner")
    owner = cfg.member(cfg.home)
    identity = Identity.load(cfg.identity, password=cfg.key_password())
    store = GuestStore(cfg.store)

    async def run() -> Any:
        connect = GuestClient.connect(
            owner.address, identity, cfg.swarm_id, doc_id.encode(), store, cfg.limits,
            owner=owner.public_key,
        )  # fmt: skip
        async with await asyncio.wait_for(connect, timeout) as g:
            await asyncio.wait_for(work(g), timeout)
            return g

    try:
        return asyncio.run(run())
    except TimeoutError:
        raise click.ClickException(f"no answer from {cfg.home} within {timeout} s") from None
    finally:
        store.close()


async def _nothing(g: Any) -> None:
    return None


@guest.command("show")
@config_option
@timeout_option
@doc_option
@text_option
@click.option("--json", "as_json", is_flag=True, help="Print the whole view as JSON.")
def guest_show(config: str, timeout: float, doc_id: str, name: str, as_json: bool) -> None:
    """Print the text of this guest's view of DOC (synced with the owner first)."""
    g = _session(config, doc_id, timeout, _nothing)
    doc = g.guest.doc
    if as_json:
        reply = {"text": str(doc.text(name)), "value": doc.to_py(), "view": g.guest.view.hex(),
                 "seq": g.guest.seq}  # fmt: skip
        click.echo(json.dumps(reply, indent=2, default=repr))
        return
    click.echo(str(doc.text(name)))
    click.echo(f"view {g.guest.view.hex()[:16]}… at seq {g.guest.seq}", err=True)


@guest.command("insert")
@config_option
@timeout_option
@doc_option
@text_option
@click.argument("index", type=click.IntRange(min=0))
@click.argument("value")
def guest_insert(
    config: str, timeout: float, doc_id: str, name: str, index: int, value: str
) -> None:
    """Insert VALUE at code point INDEX of the view's text; returns once the view shows it."""
    if not value:
        raise InvalidArgument("insert needs a non-empty VALUE")

    async def work(g: Any) -> None:
        await g.insert(name, index, value)

    g = _session(config, doc_id, timeout, work)
    click.echo(f"inserted: the view shows it at seq {g.guest.seq}")


@guest.command("delete")
@config_option
@timeout_option
@doc_option
@text_option
@click.argument("index", type=click.IntRange(min=0))
@click.argument("length", type=click.IntRange(min=1))
def guest_delete(
    config: str, timeout: float, doc_id: str, name: str, index: int, length: int
) -> None:
    """Delete LENGTH code points at INDEX of the view's text."""

    async def work(g: Any) -> None:
        await g.delete(name, index, length)

    g = _session(config, doc_id, timeout, work)
    click.echo(f"deleted: the view shows it at seq {g.guest.seq}")

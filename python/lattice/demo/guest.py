"""``lattice demo guest``: shallow logs — an owner with a long history hands a guest the
document as it is now, and nothing of how it got there.

Three nodes on loopback (Noise over TCP): the owner types a text, drafts a secret and
deletes it; two contributors add sentences and 16-byte sentinels they delete again. A
guest connects in the guest role and receives a collapsed snapshot (its shallow log's
genesis); the demo prints its size beside the deep log's, scans every plaintext byte the
guest received for the deleted past, and shows the guest's delete landing in the deep
log, signed by the owner, with the guest's own signed op riding along.

>>> from rich.console import Console
>>> summary = run_guest_demo(Console(quiet=True))
>>> summary.hits, summary.landed, summary.converged
(0, True, True)
"""

from __future__ import annotations

import asyncio
import random
import string
import tempfile
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from lattice import _lattice
from lattice.identity import Identity
from lattice.net.guest import GuestClient
from lattice.net.local import local_swarm
from lattice.net.node import Node
from lattice.state import ops as opcodec
from lattice.state.leaks import scan

__all__ = ["GuestSummary", "run_guest_demo"]

DOC = b"report"
_WORDS = [
    "the",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "the",
    "lazy",
    "dog",
    "while",
    "the",
    "log",
    "keeps",
    "every",
    "step",
]


@dataclass(frozen=True)
class GuestSummary:
    """What the guest section saw."""

    deep_bytes: int
    snapshot_bytes: int
    received_bytes: int
    hits: int
    landed: bool
    converged: bool


async def _history(nodes: list[Node], rng: random.Random) -> tuple[list[bytes], str]:
    owner, *others = nodes
    text = owner.documents.open(DOC).text("body")
    for i in range(400):  # typing, with a typo fixed now and then
        word = rng.choice(_WORDS) + " "
        text.insert(len(text), word)
        if i % 7 == 0:
            text.delete(len(text) - 2, 1)
            text.insert(len(text) - 1, word[-2])
    secret = "SECRET DRAFT: " + "".join(rng.choices(string.ascii_letters, k=24))
    text.insert(0, secret)
    text.delete(0, len(secret))
    sentinels = []
    for node in others:
        await _settle(nodes)
        t = node.documents.open(DOC).text("body")
        s = "".join(rng.choices(string.ascii_letters, k=16))
        sentinels.append(s.encode())
        t.insert(rng.randrange(len(t)), s)
        t.insert(len(t), f"(a sentence by {node.config.members[0].name}) ")
        await _settle(nodes)
        at = str(t).index(s)
        t.delete(at, len(s))
    await _settle(nodes)
    return [secret.encode(), *sentinels], str(text)


async def _settle(nodes: list[Node]) -> None:
    """Until every node holds every entry."""
    for _ in range(200):
        heads = {tuple(sorted((k, s) for k, (s, _) in n.replica.frontier().items())) for n in nodes}
        if len(heads) == 1:
            return
        await asyncio.sleep(0.02)


async def _run(console: Console, directory: Path) -> GuestSummary:
    rng = random.Random(8)
    guest = Identity.from_seed(bytes([0x6E]) * 32)
    nodes = await local_swarm(3, directory, shares={DOC: [guest.public_key]})
    try:
        past, visible = await _history(nodes, rng)
        owner = nodes[0]
        deep = list(owner.replica.iter_entries())
        deep_bytes = sum(len(e.to_bytes()) for e in deep)
        received: list[bytes] = []
        connect = GuestClient.connect(
            owner.listen_address, guest, bytes(32), DOC, tap=received.append
        )
        async with await connect as g:
            view = owner.shares[DOC].view(g.guest.view, guest.public_key)
            snapshot_bytes = len(view.entries()[0].payload)
            shown = str(g.guest.doc.text("body"))
            table = Table(title="what the guest is handed", show_edge=False)
            for col in ("", "entries", "bytes"):
                table.add_column(col, justify="right" if col else "left")
            table.add_row("deep log (3 authors)", f"{len(deep):,}", f"{deep_bytes:,}")
            table.add_row("snapshot (deflated)", "1", f"{snapshot_bytes:,}")
            console.print(table)
            needles = {
                "deleted secret and sentinels": past,
                "other contributors' keys": [n.me for n in nodes[1:]],
                "deep entry ids": [e.id for e in deep],
                "deep signatures": [e.signature for e in deep],
            }
            found = scan(received, needles)
            total = sum(map(len, received))
            for kind, hits in found.items():
                console.print(f"  scan of {total:,} received bytes for {kind}: {hits} hits")
            word = shown.index("quick")
            await g.delete("body", word, len("quick "))
            after = str(g.guest.doc.text("body"))
        await _settle(nodes)
        deep_text = str(owner.documents.open(DOC).text("body"))
        last = next(e for e in reversed(list(owner.replica.iter_entries(owner.me))) if e.payload)
        rider = opcodec.decode(last.payload).ops[-1]
        signed_by = (
            _lattice.ClientOp.from_bytes(rider.op).client
            if isinstance(rider, opcodec.GuestOp)
            else b""
        )
        landed = deep_text == after and signed_by == guest.public_key
        console.print(
            f"the guest deleted 'quick ' at {word}: the owner's deep entry {last.seq} "
            f"tombstones the original characters; the guest's signed op rides along: {landed}"
        )
        texts = {str(n.documents.open(DOC).text("body")) for n in nodes}
        return GuestSummary(
            deep_bytes=deep_bytes,
            snapshot_bytes=snapshot_bytes,
            received_bytes=total,
            hits=sum(found.values()),
            landed=landed,
            converged=len(texts) == 1 and shown == visible,
        )
    finally:
        for node in nodes:
            await node.stop()


def run_guest_demo(console: Console) -> GuestSummary:
    console.rule("[bold]shallow logs: a guest gets the present, never the past")
    with tempfile.TemporaryDirectory(prefix="lattice-guest-") as where:
        summary = asyncio.run(_run(console, Path(where)))
    console.print(
        f"received {summary.received_bytes:,} bytes in all; {summary.hits} hits of the past; "
        f"every node converged: {summary.converged}"
    )
    return summary

"""``lattice demo docs``: documents over the log — two peers edit one text concurrently, a
Byzantine peer signs an edit of a character outside its causal past, and every replica
refuses it alike while the text converges.

>>> from rich.console import Console
>>> summary = run_docs_demo(Console(quiet=True))
>>> summary.converged, summary.refused_alike, summary.text
(True, True, 'Hello, brave new world!')
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console

from lattice.demo.common import SWARM_ID
from lattice.identity import Identity
from lattice.replica import Replica
from lattice.state import Doc
from lattice.state import ops as codec
from lattice.state.ops import Batch, Element, TextDelete

__all__ = ["DocsSummary", "run_docs_demo"]

DOC_ID = b"demo"


@dataclass(frozen=True)
class DocsSummary:
    """What the documents section saw."""

    text: str
    converged: bool
    refused_alike: bool
    reason: str


def run_docs_demo(console: Console) -> DocsSummary:
    console.rule("[bold]documents: state from the log")
    names = ("A", "B", "M")
    ids = [Identity.from_seed(bytes([0xD0 + i]) * 32) for i in range(3)]
    peers = [i.public_key for i in ids]
    reps = [Replica(i, peers=peers, swarm_id=SWARM_ID) for i in ids]
    docs = [Doc(r, DOC_ID) for r in reps]
    a, b, mallory = reps
    da, db = docs[0], docs[1]

    def sync(*pairs: tuple[Replica, Replica]) -> None:
        for src, dst in pairs:
            dst.receive(e.to_bytes() for e in src.entries())

    da.text("body").insert(0, "Hello world")
    sync((a, b), (a, mallory))
    console.print(f'A writes "{da.text("body")}"; B and M have it')
    # Concurrent edits: neither has seen the other's.
    da.text("body").insert(5, ",")
    db.text("body").insert(6, "brave new ")
    db.text("body").insert(len(db.text("body")), "!")
    console.print(f'concurrently: A has "{da.text("body")}", B has "{db.text("body")}"')
    # M deletes a character A typed in an entry M has not seen (A's comma): M's document
    # would never sign that, so M signs the op batch by hand.
    comma = next(e for e in a.entries() if e.seq == 2)
    bad = mallory.append(
        codec.encode(Batch(DOC_ID, (TextDelete("body", ((Element(comma.id, 0), 1),)),)))
    )
    console.print(
        f"M signs entry {bad.seq} deleting A's comma, which its causal past does not hold"
    )
    for _ in range(2):
        sync((a, b), (b, a), (mallory, a), (mallory, b), (a, mallory), (b, mallory))
    texts = {str(d.text("body")) for d in docs}
    verdicts = {tuple((i, type(r).__name__) for i, r in d.rejected) for d in docs}
    reason = docs[0].rejected[0][1] if docs[0].rejected else None
    for name, doc, rep in zip(names, docs, reps, strict=True):
        console.print(
            f'{name}: "{doc.text("body")}"  refused: '
            f"{[type(r).__name__ for _, r in doc.rejected]}  "
            f"penalties of M: {rep.penalties.get(mallory.me, 0)}"
        )
    converged = len(texts) == 1 and len({d.encode() for d in docs}) == 1
    refused_alike = len(verdicts) == 1 and bool(docs[0].rejected)
    console.print(
        f"converged: {converged}; M's entry refused alike everywhere: {refused_alike} ({reason})"
    )
    return DocsSummary(
        text=str(da.text("body")),
        converged=converged,
        refused_alike=refused_alike,
        reason=str(reason),
    )

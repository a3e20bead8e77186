"""Replaying the editing traces of ``../shared/traces`` (MANIFEST.txt there has the
format and the replay rule) into lattice documents: shared by the trace tests and the P8 /
P9 benchmarks. Positions and lengths are Unicode code points, as Python indexes str."""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lattice
from lattice.state import Doc

TRACES = Path(__file__).resolve().parents[1].parent / "shared" / "traces"
SEQUENTIAL = sorted((TRACES / "sequential").rglob("*.json.gz"))
CONCURRENT = sorted((TRACES / "concurrent").glob("*.json.gz"))


def load(path: Path) -> dict[str, Any]:
    with gzip.open(path) as f:
        data: dict[str, Any] = json.load(f)
    return data


def edit(text: lattice.state.Text, patches: list[list[Any]]) -> None:
    """One txn's patches, in order (a multi-patch txn lists positions descending)."""
    for pos, deleted, inserted in patches:
        if deleted:
            text.delete(pos, deleted)
        if inserted:
            text.insert(pos, inserted)


def replay(doc: Doc, trace: dict[str, Any], name: str = "text") -> None:
    """Each txn of a sequential trace as its own transaction (a one-patch txn is one
    call: a transaction of its own)."""
    text = doc.text(name)
    for txn in trace["txns"]:
        patches = txn["patches"]
        if len(patches) == 1 and not (patches[0][1] and patches[0][2]):
            edit(text, patches)
        else:
            with doc.transaction():
                edit(text, patches)


def replay_as_one(doc: Doc, trace: dict[str, Any], name: str = "text") -> None:
    """A whole sequential trace as one transaction."""
    text = doc.text(name)
    with doc.transaction():
        for txn in trace["txns"]:
            edit(text, txn["patches"])


@dataclass
class Agents:
    """A concurrent trace replayed with its real branches: one replica (and document) per
    agent; before an agent makes a txn, its replica is given exactly the entries of the
    txn's parents' history, in trace order (a topological order)."""

    replicas: list[lattice.Replica]
    docs: list[Doc]
    #: Each txn's entry (None for a txn with no patch).
    entries: list[bytes | None]


def replay_concurrent(trace: dict[str, Any], name: str = "text") -> Agents:
    n = int(trace["numAgents"])
    ids = [lattice.Identity.from_seed(bytes([i + 1]) * 32) for i in range(n)]
    reps = [lattice.Replica(i, peers=[j.public_key for j in ids]) for i in ids]
    docs = [Doc(r, b"trace") for r in reps]
    txns = trace["txns"]
    # Each txn's version as per-agent counts of txns (an agent's txns form a chain).
    clock: list[list[int]] = []
    mine: list[list[int]] = [[] for _ in range(n)]  # each agent's txns, in order
    have = [[0] * n for _ in range(n)]  # what each replica was given: per-agent prefixes
    entries: list[bytes | None] = []
    for i, txn in enumerate(txns):
        agent = txn["agent"]
        need = [0] * n
        for p in txn["parents"]:
            need = [max(a, b) for a, b in zip(need, clock[p], strict=True)]
        if any(h > w for h, w in zip(have[agent], need, strict=True)):
            raise AssertionError(f"txn {i}: agent {agent} already holds more than its parents")
        if need[agent] != len(mine[agent]):
            raise AssertionError(f"txn {i}: agent {agent}'s txns are not one chain")
        missing = sorted(
            t for b in range(n) for t in mine[b][have[agent][b] : need[b]] if b != agent
        )
        reps[agent].receive([e for t in missing if (e := entries[t]) is not None])
        have[agent] = list(need)
        head = reps[agent].head(reps[agent].me)
        with docs[agent].transaction():
            edit(docs[agent].text(name), txn["patches"])
        made = reps[agent].entries(reps[agent].me, since=head)
        entries.append(made[-1].to_bytes() if made else None)
        mine[agent].append(i)
        have[agent][agent] += 1
        need[agent] += 1
        clock.append(need)
    everything = [e for e in entries if e is not None]
    for r in reps:
        r.receive(everything)
    return Agents(reps, docs, entries)

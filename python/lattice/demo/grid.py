"""``lattice demo grid`` (DESIGN §12): an owner node with a long private history and four
worker processes — one honest, one that lies (one cell off by one), one that copies the
honest one's reveal, one that is slow. The owner submits matrix products, float64 in
numpy and int64 in the attested Wasm kernel; the table shows each task's path to verified.
The liar is caught by Freivalds' check and its score falls, the copier's reveal is refused
(it does not open its own commit), the straggler gets a speculative second and is
abandoned, and a byte scan of everything the workers received finds nothing of the
owner's history.

>>> from rich.console import Console
>>> summary = run_grid_demo(Console(quiet=True), tasks=3)  # doctest: +SKIP
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from lattice import Replica
from lattice.grid.local import POLICY, SWARM, LocalGrid
from lattice.net.reputation import SCORES_SUFFIX
from lattice.state.leaks import scan
from lattice.sybil.scores import Scores

__all__ = ["GridSummary", "run_grid_demo"]


@dataclass(frozen=True)
class GridSummary:
    """What the grid section saw."""

    verified: int
    tasks: int
    liar_caught: bool
    copier_refused: bool
    straggler_redispatched: bool
    hits: int


def _path(events: list[dict[str, str]], names: dict[str, str]) -> str:
    """A task's events, condensed: its statuses in order, with what went wrong on the way
    (``names``: a worker's name by the first 8 hex digits of its key)."""
    steps: list[str] = []
    for e in events:
        status, detail = e["status"], e["detail"]
        who = names.get(detail.split(":", 1)[0].removeprefix("worker ")[:8], "")
        if status == "rejected result":
            step = f"✗ {who}'s result wrong"
        elif status == "abandoned":
            step = f"{who} abandoned"
        elif status == "dispatched" and "speculatively" in detail:
            step = "speculative"
        else:
            step = status
        if not steps or steps[-1] != step:
            steps.append(step)
    return " → ".join(steps)


def run_grid_demo(console: Console, tasks: int = 6, workdir: Path | None = None) -> GridSummary:
    console.rule("[bold]grid: four workers, one liar, one copier, one straggler")
    directory = workdir or Path(tempfile.mkdtemp(prefix="lattice-grid-"))
    tap = directory / "honest.tap"
    received = [directory / f"w{i}.received" for i in range(4)]
    behaviours = [
        ("honest", "--tap", str(tap)),
        ("off-by-one",),
        ("copy-reveal", "--copy-from", str(tap)),
        ("slow", "--delay", "8"),
    ]
    behaviours = [(*b, "--received", str(r)) for b, r in zip(behaviours, received, strict=True)]
    names = ["honest", "liar", "copier", "straggler"]
    letters = np.random.default_rng(3).integers(97, 123, (300, 10), dtype=np.uint8)
    secrets = [b"owner-private-%03d-%s" % (i, bytes(row)) for i, row in enumerate(letters)]
    rng = np.random.default_rng(12)
    with LocalGrid.start(directory, behaviours, wasm=True) as local:
        for secret in secrets:
            local.owner.append(secret)
        local.wait_workers()
        keys = {w.key: name for w, name in zip(local.workers, names, strict=True)}
        console.print(
            f"owner {local.identity.public_key.hex()[:16]}… with {len(secrets)} private "
            f"entries; workers: {', '.join(names)} (each its own process)"
        )
        futures = []
        for i in range(tasks):
            kernel = "matmul-i64" if i % 3 == 2 else "matmul"
            x: np.ndarray
            y: np.ndarray
            if kernel == "matmul-i64":
                x = rng.integers(-1000, 1000, (24, 24), dtype=np.int64)
                y = rng.integers(-1000, 1000, (24, 24), dtype=np.int64)
            else:
                x, y = rng.standard_normal((48, 64)), rng.standard_normal((64, 32))
            futures.append((kernel, local.grid.submit(kernel, x, y, deadline=3), x @ y))
        table = Table(title="each task's path")
        for column in ("task", "kernel", "path", "result from", "equals numpy"):
            table.add_column(column)
        verified = 0
        paths = []
        for kernel, future, want in futures:
            got = future.result(timeout=120)
            verified += future.status() == "verified"
            summary = future.poll()
            log = local.grid.ask({"op": "grid_status", "task": future.task.hex(), "since": 0})
            path = _path(log["task"]["log"], {k.hex()[:8]: n for k, n in keys.items()})
            paths.append(path)
            who = keys.get(bytes.fromhex(summary["worker"]), "?")
            equal = (
                bool((got == want).all())
                if kernel == "matmul-i64"
                else bool(np.allclose(got, want))
            )
            table.add_row(future.task.hex()[:12], kernel, path, who, str(equal))
        console.print(table)
        closed = " ".join(local.owner.status()["closed"])
        time.sleep(0.5)
    liar, copier = local.workers[1].key, local.workers[2].key
    saved = Scores(path=directory / ("owner.db" + SCORES_SUFFIX))
    try:
        now = time.time()
        scores = Table(title="the owner's scores of its workers (§11)")
        scores.add_column("worker")
        scores.add_column("score", justify="right")
        scores.add_column("band")
        for worker, name in zip(local.workers, names, strict=True):
            scores.add_row(name, f"{saved.score(worker.key, now):.1f}", saved.band(worker.key, now))
        liar_score = saved.score(liar, now)
        copier_score = saved.score(copier, now)
    finally:
        saved.close()
    console.print(scores)
    deep = Replica(local.identity, peers=[local.identity.public_key], swarm_id=SWARM,
                   path=directory / "owner.db", admission=POLICY)  # fmt: skip
    try:
        entries = deep.entries()
    finally:
        deep.close()
    frames = [
        bytes.fromhex(line)
        for path in received
        if path.exists()
        for line in path.read_text().split()
    ]
    found = scan(frames, {"history": secrets, "entry ids": [e.id for e in entries],
                       "signatures": [e.signature for e in entries]})  # fmt: skip
    hits = sum(found.values())
    total = sum(map(len, frames))
    console.print(
        f"byte scan of the {total:,} bytes the four workers received, against the owner's "
        f"{len(entries)} entries (its history, ids, signatures): {hits} hits"
    )
    copier_refused = "does not open" in closed and copier_score < 0
    console.print(
        f"liar caught by Freivalds' check: {liar_score < 0} (score {liar_score:.1f}); copier's "
        f"reveal refused: {copier_refused}; straggler re-dispatched: "
        f"{any('speculative' in p or 'abandoned' in p for p in paths)}"
    )
    return GridSummary(
        verified=verified,
        tasks=tasks,
        liar_caught=liar_score < 0,
        copier_refused=copier_refused,
        straggler_redispatched=any("speculative" in p for p in paths),
        hits=hits,
    )

"""The ``lattice grid`` and ``lattice worker`` commands (DESIGN §12): an owner submits
matrix products to its grid and follows them; a worker serves one owner.

``lattice grid submit --config OWNER matmul A.npy B.npy`` records the task and follows it
with a live status line until it ends (``--no-wait``: print its id and return);
``lattice grid status`` lists every task (or one, with its events); ``lattice grid
result TASK --out C.npy``; ``lattice grid cancel TASK``. ``lattice worker run --config
WORKER`` serves until stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click
import numpy as np
from rich.console import Console
from rich.live import Live
from rich.table import Table

from lattice.cliutil import _Lattice, config_option
from lattice.errors import InvalidArgument, TaskFailed

if TYPE_CHECKING:
    from lattice.grid.client import Grid

__all__ = ["grid", "worker"]


def _grid(config: str) -> Grid:
    from lattice.grid.client import Grid

    return Grid.connect(config)


def _load(path: str) -> np.ndarray:
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise InvalidArgument(f"cannot read the matrix {path}: {exc}") from exc
    if not isinstance(array, np.ndarray):
        raise InvalidArgument(f"{path} holds no single matrix")
    return array


@click.group(cls=_Lattice)
def grid() -> None:
    """Submit tasks to the compute grid this node owns, and follow them (DESIGN §12)."""


@grid.command()
@config_option
@click.argument("kernel", type=click.Choice(["matmul", "matmul-i64"]))
@click.argument("inputs", nargs=2, type=click.Path(exists=True, dir_okay=False))
@click.option("--redundancy", type=click.IntRange(1, 9), default=2, show_default=True)
@click.option(
    "--verify", type=click.Choice(["freivalds", "none"]), default="freivalds", show_default=True
)
@click.option("--deadline", type=click.FloatRange(0.001), default=30.0, show_default=True,
              help="Seconds a worker has to commit, and to reveal.")  # fmt: skip
@click.option("--timeout", type=click.FloatRange(0), default=0.0, show_default=True,
              help="Seconds for the whole task (0: none).")  # fmt: skip
@click.option("--retries", type=click.IntRange(0, 100), default=3, show_default=True)
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Write the verified result here (.npy).")  # fmt: skip
@click.option("--no-wait", is_flag=True, help="Print the task id and return at once.")
def submit(
    config: str,
    kernel: str,
    inputs: tuple[str, str],
    redundancy: int,
    verify: str,
    deadline: float,
    timeout: float,
    retries: int,
    out: str | None,
    no_wait: bool,
) -> None:
    """Submit KERNEL of two matrices (.npy files) to the grid of the node CONFIG."""
    g = _grid(config)
    a, b = (_load(p) for p in inputs)
    future = g.submit(
        kernel, a, b, redundancy=redundancy, verify=verify, deadline=deadline,
        timeout=timeout, retries=retries,
    )  # fmt: skip
    click.echo(future.task.hex())
    if no_wait:
        return
    events: list[tuple[str, str]] = []
    future.add_progress_callback(lambda status, detail: events.append((status, detail)))
    console = Console(stderr=True)
    with Live(
        _progress(future.task.hex(), "queued", events), console=console, transient=False
    ) as live:
        try:
            while True:
                status = future.status()
                live.update(_progress(future.task.hex(), status, events))
                if status in ("verified", "rejected", "timed out", "cancelled"):
                    break
                with contextlib.suppress(TimeoutError):
                    future.result(timeout=0.2)
        except TaskFailed:
            pass
    status = future.status()
    if status != "verified":
        raise click.ClickException(f"task {future.task.hex()[:16]}… {status}")
    if out is not None:
        np.save(out, future.result(timeout=10))
        click.echo(f"result written to {out}")


#: How far along each status is, for the progress bar.
_STEP = {"queued": 0, "dispatched": 1, "committed": 2, "revealed": 3}


def _progress(task: str, status: str, events: list[tuple[str, str]]) -> Table:
    done = len(_STEP) if status not in _STEP else _STEP[status]
    bar = "█" * (6 * done) + "░" * (6 * (len(_STEP) - done))
    table = Table(title=f"task {task[:16]}…  {bar}  {status}", show_header=True)
    table.add_column("event")
    table.add_column("detail")
    for what, detail in events[-12:]:
        style = {"verified": "green", "rejected result": "red", "timed out": "red"}.get(what)
        table.add_row(what, detail, style=style)
    return table


@grid.command()
@config_option
@click.argument("task", required=False)
def status(config: str, task: str | None) -> None:
    """The grid's tasks (or one TASK, with its events)."""
    g = _grid(config)
    console = Console()
    if task is not None:
        future = g.future(task)
        events: list[tuple[str, str]] = []
        future.add_progress_callback(lambda s, d: events.append((s, d)))
        console.print(_progress(task, future.status(), events))
        return
    table = Table(title="grid tasks")
    for column in ("task", "kernel", "status", "round", "workers", "wrong", "submitted"):
        table.add_column(column)
    for t in g.tasks():
        when = datetime.datetime.fromtimestamp(t["created"]).strftime("%H:%M:%S")
        table.add_row(t["task"][:16], t["kernel"], t["status"], str(t["round"]),
                      str(t["workers"]), str(len(t["wrong"])), when)  # fmt: skip
    console.print(table)


@grid.command()
@config_option
@click.argument("task")
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="The .npy file.")
def result(config: str, task: str, out: str) -> None:
    """Write the verified result of TASK to OUT."""
    g = _grid(config)
    np.save(out, _result(g, task))
    click.echo(f"result of {task[:16]}… written to {out}")


def _result(g: Grid, task: str) -> np.ndarray:
    future = g.future(task)
    status = future.status()
    if status != "verified":
        raise InvalidArgument(f"task {task[:16]}… is {status}: no result")
    return future.result(timeout=10)


@grid.command()
@config_option
@click.argument("task")
def cancel(config: str, task: str) -> None:
    """Cancel TASK: queued, it never runs; running, its workers are told to stop."""
    g = _grid(config)
    if g.future(task).cancel():
        click.echo(f"task {task[:16]}… cancelled")
    else:
        click.echo(f"task {task[:16]}… had ended already ({g.future(task).status()})")


def _recorder(path: Path) -> Callable[[bytes], None]:
    def record(data: bytes) -> None:
        with path.open("a") as out:
            out.write(data.hex() + "\n")

    return record


@click.group(cls=_Lattice)
def worker() -> None:
    """Serve an owner's compute grid as a worker (DESIGN §12)."""


@worker.command()
@config_option
@click.option("--tasks", type=click.IntRange(1), default=None, help="Stop after this many.")
@click.option("--behave", default="honest", hidden=True)
@click.option("--delay", type=float, default=0.0, hidden=True)
@click.option("--tap", type=click.Path(dir_okay=False), default=None, hidden=True)
@click.option("--copy-from", type=click.Path(dir_okay=False), default=None, hidden=True)
@click.option("--received", type=click.Path(dir_okay=False), default=None,
              help="Append each plaintext frame received here, in hex (a byte scan).")  # fmt: skip
def run(
    config: str,
    tasks: int | None,
    behave: str,
    delay: float,
    tap: str | None,
    copy_from: str | None,
    received: str | None,
) -> None:
    """Connect to the owner in CONFIG and compute its tasks until stopped.

    (--behave, --delay, --tap and --copy-from make the adversaries of the tests and the
    demo: lying, copying, slow and silent workers.)"""
    from lattice.grid.config import load
    from lattice.grid.worker import Behaviour, Worker

    cfg = load(config)
    behaviour = Behaviour(
        behave, delay, None if tap is None else Path(tap),
        None if copy_from is None else Path(copy_from),
    )  # fmt: skip
    w = Worker(
        cfg.load_identity(),
        cfg.swarm_id,
        cfg.owner,
        cfg.owner_key,
        slots=cfg.slots,
        machine=cfg.machine(),
        admission=cfg.load_admission(),
        behaviour=behaviour,
        on_event=lambda text: click.echo(text, err=True),
        tap=None if received is None else _recorder(Path(received)),
    )
    click.echo(
        f"worker {w.identity.public_key.hex()[:16]}… serving {cfg.owner[0]}:{cfg.owner[1]}",
        err=True,
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(w.run(tasks))

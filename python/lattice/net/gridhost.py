"""The compute grid a node owns (``[grid]``, DESIGN §12): its
:class:`~lattice.grid.scheduler.Scheduler` on the node's log, reputation and timer, and the
control requests ``lattice grid`` and :class:`lattice.grid.Grid` send.

Control requests (JSON, :mod:`lattice.net.control`): ``grid_submit`` (``kernel``,
``inputs``: grid arrays in hex, and optionally ``redundancy``, ``verify``, ``deadline``,
``retries``, ``timeout``) → ``task``; ``grid_status`` (``task``, ``since``: the first event
wanted) → the task and its events; ``grid_list`` → every task; ``grid_result`` (``task``)
→ ``result`` (hex) and ``worker``; ``grid_cancel`` (``task``).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Mapping
from typing import Any, Protocol

from lattice import _lattice
from lattice.entry import Kind
from lattice.errors import InvalidArgument, LatticeError
from lattice.grid import arrays
from lattice.grid.freivalds import Prepared, prepare
from lattice.grid.rounds import FINAL
from lattice.grid.scheduler import Scheduler, Task
from lattice.grid.task import TaskSpec
from lattice.identity import Identity
from lattice.net.config import NodeConfig
from lattice.net.reputation import Reputation
from lattice.net.selfcheck import SelfCheck
from lattice.replica import Replica

__all__ = ["GRID_OPS", "GridHost", "GridNode", "summary"]


class GridNode(Protocol):
    """What a grid needs of its node (a :class:`~lattice.net.node.Node` is one)."""

    config: NodeConfig
    replica: Replica
    identity: Identity
    me: bytes
    reputation: Reputation | None
    closed_reasons: deque[str]
    selfcheck: SelfCheck

    def append(self, payload: bytes, kind: Kind = ...) -> _lattice.Entry: ...

    async def writable(self, timeout: float) -> None: ...

    async def durable(self) -> None: ...


GRID_OPS = frozenset({"grid_submit", "grid_status", "grid_list", "grid_result", "grid_cancel"})
_SPEC_KEYS = ("redundancy", "verify", "deadline", "retries", "timeout")


def summary(task: Task, since: int | None = None) -> dict[str, Any]:
    """A task as ``lattice grid status`` shows it (its events from ``since``, if given)."""
    spec = task.spec
    out: dict[str, Any] = {
        "task": task.id.hex(),
        "kernel": spec.kernel,
        "status": task.status,
        "round": task.round,
        "redundancy": spec.redundancy,
        "verify": spec.verify,
        "created": task.created,
        "workers": len(task.workers),
        "wrong": sorted(w.hex() for w in task.wrong),
        "worker": None if task.worker is None else task.worker.hex(),
        "reason": task.reason,
        "events": len(task.events) + task.dropped,
    }
    if since is not None:  # event numbers are absolute: those dropped are not sent again
        start = 0 if since <= 0 else max(1, since - task.dropped)
        out["log"] = [
            {"at": at, "status": status, "detail": detail}
            for at, status, detail in task.events[start:]
        ]
    return out


class GridHost:
    """A node's grid: the scheduler's :class:`~lattice.grid.scheduler.Host`."""

    def __init__(self, node: GridNode) -> None:
        self.node = node
        self.scheduler = Scheduler(self)
        self.recovered = self.scheduler.recover(
            e for e in node.replica.entries(node.me) if e.kind == Kind.DATA
        )

    @classmethod
    def for_node(cls, node: GridNode) -> GridHost | None:
        return None if node.config.grid is None else cls(node)

    # --- Host ----------------------------------------------------------------------

    @property
    def identity(self) -> Identity:
        return self.node.identity

    @property
    def writable(self) -> bool:
        return self.node.selfcheck.ready

    def append_record(self, payload: bytes) -> _lattice.Entry:
        return self.node.append(payload)

    def frontier(self) -> Mapping[bytes, tuple[int, bytes]]:
        return self.node.replica.frontier()

    def score(self, worker: bytes, event: str) -> None:
        reputation = self.node.reputation
        if reputation is None:
            return
        if event == "valid":
            reputation.delivered(worker)
        elif event == "late":
            reputation.overrun(worker)
        else:
            reputation.invalid(worker)

    def tick(self) -> None:
        try:
            self.scheduler.tick()
        except LatticeError as exc:  # a record the node could not sign yet: next tick
            self.node.closed_reasons.append(f"grid: {exc}")

    def status(self) -> dict[str, Any]:
        """What ``lattice status`` shows: tasks by status, workers and their free slots."""
        scheduler = self.scheduler
        counts: dict[str, int] = {}
        for task in scheduler.tasks.values():
            counts[task.status] = counts.get(task.status, 0) + 1
        return {
            "tasks": counts,
            "workers": len(scheduler.links),
            "free_slots": sum(scheduler.links.values()),
        }

    # --- control requests --------------------------------------------------------------

    async def handle(self, req: dict[str, Any]) -> dict[str, Any]:
        op = req["op"]
        if op == "grid_list":
            return {"ok": True, "tasks": [summary(t) for t in self.scheduler.tasks.values()]}
        if op == "grid_submit":
            spec, payload, prepared = await asyncio.to_thread(_made, req, self.identity)
            await self.node.writable(8.0)
            task = self.scheduler.submit(spec, payload, prepared)
            await self.node.durable()  # acknowledged once the task is in the log
            return {"ok": True, "task": task.id.hex()}
        task_id = _task_id(req)
        if op == "grid_status":
            since = req.get("since", 0)
            if isinstance(since, bool) or not isinstance(since, int):
                raise InvalidArgument("since is a whole number")
            return {"ok": True, "task": summary(self.scheduler.get(task_id), since)}
        if op == "grid_cancel":
            await self.node.writable(8.0)
            live = self.scheduler.get(task_id).status not in FINAL
            task = self.scheduler.cancel(task_id)
            await self.node.durable()
            return {"ok": True, "task": summary(task), "cancelled": live}
        await self.node.durable()  # its RESULT entry may still be on its way to the store
        result, worker = self.scheduler.result(task_id, self._payload)
        return {"ok": True, "result": result.hex(), "worker": worker.hex()}

    def _payload(self, entry_id: bytes) -> bytes:
        entry = self.node.replica.get(entry_id)
        if entry is None:
            raise InvalidArgument(f"entry {entry_id.hex()[:16]}… is not in this node's log")
        return bytes(entry.payload)


def _task_id(req: dict[str, Any]) -> bytes:
    value = req.get("task")
    try:
        task = bytes.fromhex(value) if isinstance(value, str) else b""
    except ValueError:
        task = b""
    if len(task) != _lattice.ID_LEN:
        raise InvalidArgument("task is a task id: 64 hex digits")
    return task


def _made(req: dict[str, Any], owner: Identity) -> tuple[TaskSpec, bytes, Prepared | None]:
    """What a submitted task needs, made off the event loop: the spec, its entry, its
    Freivalds rows, and a check that its worker's view fits one entry."""
    spec = _spec(req)
    payload = spec.to_payload()
    spec.snapshot(owner, bytes(_lattice.ID_LEN))  # LimitExceeded now, not at dispatch
    a, b = spec.inputs
    prepared = prepare(a, b) if spec.verify == "freivalds" else None
    return spec, payload, prepared


def _spec(req: dict[str, Any]) -> TaskSpec:
    kernel, inputs = req.get("kernel"), req.get("inputs")
    if not isinstance(kernel, str):
        raise InvalidArgument("grid_submit needs a kernel name")
    if not isinstance(inputs, list) or not all(isinstance(x, str) for x in inputs):
        raise InvalidArgument("grid_submit needs inputs: a list of grid arrays in hex")
    try:
        raw = [bytes.fromhex(x) for x in inputs]
    except ValueError:
        raise InvalidArgument("inputs must be hex") from None
    options = {k: req[k] for k in _SPEC_KEYS if k in req}
    return TaskSpec.new(kernel, [arrays.decode(x) for x in raw], **options)

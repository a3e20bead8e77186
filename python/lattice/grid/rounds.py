"""What a grid owner keeps of each task while it runs (DESIGN §12): the task, its status
and events, and its rounds' assignments — one worker's view each.

>>> from lattice.grid.task import TaskSpec
>>> import numpy as np
>>> task = Task(TaskSpec.new("matmul", [np.eye(2), np.eye(2)]), created=0.0)
>>> task.note(1.0, "dispatched", "round 1"); task.status, task.events[-1]
('dispatched', (1.0, 'dispatched', 'round 1'))
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Protocol

from lattice.grid.freivalds import Prepared
from lattice.grid.task import TaskSpec

__all__ = ["FINAL", "FINISHED_EVENTS", "MAX_EVENTS", "STATUSES", "Assignment", "Link", "Task"]

#: A task's statuses, in the order a task moves through them, and how it ends.
STATUSES = (
    "queued",
    "dispatched",
    "committed",
    "revealed",
    "verified",
    "rejected",
    "timed out",
    "cancelled",
)
FINAL = frozenset({"verified", "rejected", "timed out", "cancelled"})
#: Events kept per task (the first and the latest), and once it is over.
MAX_EVENTS = 256
FINISHED_EVENTS = 32


class Link(Protocol):
    """One worker's connection, as the scheduler uses it."""

    key: bytes
    #: The kernels it computes (its WORK named them).
    kernels: frozenset[str]

    def assign(self, view: bytes, deadline: float, genesis: Callable[[], bytes]) -> None:
        """Send the task: ``genesis()`` makes its view's entry 1 (costly: a link may call
        it off the event loop, in order with what it sends next)."""
        ...

    def reveal_now(self, view: bytes) -> None: ...

    def abandon(self, view: bytes, reason: str) -> None: ...


@dataclasses.dataclass
class Assignment:
    """One worker's part in one round of a task, known by its view."""

    view: bytes
    task: bytes
    link: Link
    round: int
    sent: float
    speculative: bool = False
    state: str = "out"  # out → committed → revealed, or abandoned
    digest: bytes | None = None
    reveal: bytes | None = None  # the signed reveal op
    result: bytes | None = None
    nonce: int = 0

    @property
    def worker(self) -> bytes:
        return self.link.key

    @property
    def reveal_result(self) -> bytes:
        """The result it revealed (only once revealed)."""
        assert self.result is not None
        return self.result


@dataclasses.dataclass
class Task:
    """A task as the scheduler follows it."""

    spec: TaskSpec
    created: float
    status: str = "queued"
    events: list[tuple[float, str, str]] = dataclasses.field(default_factory=list)
    round: int = 0
    needed: int = 0
    phase: str | None = None  # "commit" or "reveal" while a round runs
    started: float = 0.0
    opened: float = 0.0
    retries_used: int = 0
    assignments: dict[bytes, Assignment] = dataclasses.field(default_factory=dict)
    workers: set[bytes] = dataclasses.field(default_factory=set)  # ever assigned
    wrong: set[bytes] = dataclasses.field(default_factory=set)
    #: Workers that let this task down (late, silent, gone): not asked for it again.
    failed: set[bytes] = dataclasses.field(default_factory=set)
    votes: dict[bytes, bytes] = dataclasses.field(default_factory=dict)  # worker → result
    speculated: bool = False
    result_entry: bytes | None = None
    worker: bytes | None = None  # whose result was taken
    reason: str = ""
    prepared: Prepared | None = None
    #: Events dropped from the middle of ``events`` (the first is kept).
    dropped: int = 0
    #: Rounds run again because the owner could not check their results.
    owner_failures: int = 0

    @property
    def id(self) -> bytes:
        return self.spec.task

    def note(self, now: float, status: str, detail: str = "") -> None:
        """An event; a status among :data:`STATUSES` is the task's status from now on."""
        if status in STATUSES:
            self.status = status
        self.events.append((now, status, detail))
        if len(self.events) > MAX_EVENTS:
            del self.events[1]
            self.dropped += 1  # event numbers stay absolute (grid_status since=…)

    def trim(self, keep: int) -> None:
        """Keep the first event and the last ``keep`` (a finished task's summary)."""
        extra = len(self.events) - 1 - keep
        if extra > 0:
            del self.events[1 : 1 + extra]
            self.dropped += extra

    def live(self) -> list[Assignment]:
        return [a for a in self.assignments.values() if a.state in ("out", "committed")]

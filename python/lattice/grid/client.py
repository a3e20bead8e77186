"""The owner's API (DESIGN §12, §14), futures-style: :class:`Grid` talks to the running
owner node through its control socket, and each submitted task is a :class:`TaskFuture`.

``grid.submit(kernel, *inputs, redundancy=2, verify="freivalds", timeout=…, retries=…)``
records the task in the owner's log and returns at once. A future's :meth:`~TaskFuture.status`
moves queued → dispatched → committed → revealed → verified (or rejected, timed out,
cancelled); :meth:`~TaskFuture.result` waits for the verified product (a numpy array)
or raises :class:`~lattice.errors.TaskRejected`, :class:`~lattice.errors.TaskTimedOut` or
:class:`~lattice.errors.TaskCancelled`; :meth:`~TaskFuture.cancel` stops it; progress
callbacks hear each event. A result is a ``DATA`` entry of the owner's log, so
``grid.future(task_id).result()`` finds it again after a restart.

Example (an owner node running with ``[grid]``, workers connected)::

    grid = Grid.connect("owner.toml")
    fut = grid.submit("matmul", a, b, redundancy=2, verify="freivalds", timeout=60)
    c = fut.result(timeout=60)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from lattice.errors import (
    InvalidArgument,
    TaskCancelled,
    TaskFailed,
    TaskRejected,
    TaskTimedOut,
)
from lattice.grid import arrays
from lattice.grid.task import DEFAULT_DEADLINE, DEFAULT_REDUNDANCY, DEFAULT_RETRIES

__all__ = ["POLL_INTERVAL", "Grid", "TaskFuture"]

#: Seconds between two looks at a task's status while waiting.
POLL_INTERVAL = 0.05
_FAILURES: dict[str, type[TaskFailed]] = {
    "rejected": TaskRejected,
    "timed out": TaskTimedOut,
    "cancelled": TaskCancelled,
}
Request = Callable[[dict[str, Any]], dict[str, Any]]


class Grid:
    """The grid of one owner node, reached by ``request`` (its control socket)."""

    def __init__(self, request: Request) -> None:
        self._request = request

    @classmethod
    def connect(cls, config: str | Path) -> Grid:
        """The grid of the node configured in ``config`` (its control socket)."""
        from lattice.net.config import load
        from lattice.net.control import request

        cfg = load(Path(config))
        if cfg.control is None:
            raise InvalidArgument(f"{config} names no control socket")
        control = cfg.control
        return cls(lambda req: request(control, req, timeout=60.0))

    def submit(
        self,
        kernel: str,
        *inputs: NDArray[Any],
        redundancy: int = DEFAULT_REDUNDANCY,
        verify: str = "freivalds",
        timeout: float = 0.0,
        retries: int = DEFAULT_RETRIES,
        deadline: float = DEFAULT_DEADLINE,
    ) -> TaskFuture:
        """Submit a task: ``kernel`` (``matmul`` or ``matmul-i64``) of ``inputs``, run on
        ``redundancy`` workers, checked by ``verify`` (``"freivalds"`` or ``"none"``: a
        majority), each worker given ``deadline`` seconds per step, the whole task
        ``timeout`` seconds (0: none) and ``retries`` more rounds."""
        reply = self._request(
            {
                "op": "grid_submit",
                "kernel": kernel,
                "inputs": [arrays.encode(np.asarray(x)).hex() for x in inputs],
                "redundancy": redundancy,
                "verify": verify,
                "timeout": timeout,
                "retries": retries,
                "deadline": deadline,
            }
        )
        return TaskFuture(self, bytes.fromhex(reply["task"]))

    def future(self, task: bytes | str) -> TaskFuture:
        """The future of a task submitted before (by id, bytes or hex)."""
        try:
            task_id = bytes.fromhex(task) if isinstance(task, str) else bytes(task)
        except ValueError:
            task_id = b""
        if len(task_id) != 32:
            raise InvalidArgument(f"a task id is 64 hex digits, not {task!r}")
        future = TaskFuture(self, task_id)
        future.status()  # InvalidArgument if the owner has no such task
        return future

    def tasks(self) -> list[dict[str, Any]]:
        """Every task the owner knows, summarised."""
        tasks: list[dict[str, Any]] = self._request({"op": "grid_list"})["tasks"]
        return tasks

    def ask(self, req: dict[str, Any]) -> dict[str, Any]:
        return self._request(req)


class TaskFuture:
    """A task submitted to a grid: its status, its result, its cancellation."""

    def __init__(self, grid: Grid, task: bytes) -> None:
        self.grid = grid
        self.task = task
        self._seen = 0  # events already told to the progress callbacks
        self._callbacks: list[Callable[[str, str], None]] = []
        self._lock = threading.Lock()
        self._last: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"TaskFuture({self.task.hex()[:16]}…, {self._last.get('status', '?')})"

    def add_progress_callback(self, callback: Callable[[str, str], None]) -> None:
        """Call ``callback(status, detail)`` for each event of the task from now on (from
        the thread that calls :meth:`status`, :meth:`result` or :meth:`poll`)."""
        self._callbacks.append(callback)

    def poll(self) -> dict[str, Any]:
        """The task's summary now; new events go to the progress callbacks."""
        with self._lock:
            reply = self.grid.ask(
                {"op": "grid_status", "task": self.task.hex(), "since": self._seen}
            )
            summary: dict[str, Any] = reply["task"]
            log = summary.pop("log", [])
            self._seen = int(summary["events"])  # absolute: what the owner has numbered
            self._last = summary
        for event in log:
            for callback in list(self._callbacks):
                callback(event["status"], event["detail"])
        return summary

    def status(self) -> str:
        """queued, dispatched, committed, revealed, verified, rejected, timed out or
        cancelled."""
        status: str = self.poll()["status"]
        return status

    def done(self) -> bool:
        return self.status() in ("verified", "rejected", "timed out", "cancelled")

    def result(self, timeout: float | None = None) -> NDArray[Any]:
        """The verified result, waiting up to ``timeout`` seconds (None: for ever);
        :class:`TimeoutError` if it is not in by then, a :class:`TaskFailed` if the task
        ended without one."""
        end = None if timeout is None else time.monotonic() + timeout
        while True:
            summary = self.poll()
            status = summary["status"]
            if status == "verified":
                reply = self.grid.ask({"op": "grid_result", "task": self.task.hex()})
                return np.array(arrays.decode(bytes.fromhex(reply["result"])))
            failure = _FAILURES.get(status)
            if failure is not None:
                raise failure(
                    f"task {self.task.hex()[:16]}… {status}: {summary['reason']}", self.task
                )
            if end is not None and time.monotonic() >= end:
                raise TimeoutError(f"task {self.task.hex()[:16]}… still {status} after {timeout} s")
            time.sleep(POLL_INTERVAL)

    def cancel(self) -> bool:
        """Cancel the task: a queued one never runs, a running one is abandoned (its late
        results ignored). Whether this call cancelled it (False: it had ended already)."""
        reply = self.grid.ask({"op": "grid_cancel", "task": self.task.hex()})
        return bool(reply["cancelled"])

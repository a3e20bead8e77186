"""The compute grid with real worker processes on loopback (issue 16, DESIGN §12): an
owner node process with ``[admission]`` and ``[grid]``, ``lattice worker run`` processes
vouched for by it, tasks submitted through the owner's control socket. Honest workers'
results equal numpy's; liars are caught (Freivalds, or outvoted), their scores drop and
their tasks are re-dispatched; copiers are refused; silent, unrevealing, slow and killed
workers are outlived by deadlines; cancellation and an owner restart keep their promises.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from lattice.errors import TaskCancelled
from lattice.grid.local import LocalGrid
from lattice.net.reputation import SCORES_SUFFIX
from lattice.sybil.scores import Scores

RNG = np.random.default_rng(16)


def floats(n: int = 24, m: int = 32, k: int = 16) -> tuple[np.ndarray, np.ndarray]:
    return RNG.standard_normal((n, m)), RNG.standard_normal((m, k))


def ints(n: int = 12) -> tuple[np.ndarray, np.ndarray]:
    return (
        RNG.integers(-(2**40), 2**40, (n, n), dtype=np.int64),
        RNG.integers(-(2**40), 2**40, (n, n), dtype=np.int64),
    )


def until(what: Callable[[], bool], timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while not what():
        assert time.monotonic() < end, "timed out waiting"
        time.sleep(0.05)


def events(local: LocalGrid, task: bytes) -> list[str]:
    reply = local.grid.ask({"op": "grid_status", "task": task.hex(), "since": 0})
    return [f"{e['status']}: {e['detail']}" for e in reply["task"]["log"]]


def scores(directory: Path) -> Scores:
    """The owner's saved scores (read after it stopped)."""
    return Scores(path=directory / ("owner.db" + SCORES_SUFFIX))


def test_honest_workers_results_equal_numpy_s(tmp_path: Path) -> None:
    with LocalGrid.start(tmp_path, ["honest", "honest"], wasm=True) as local:
        local.wait_workers()
        jobs = []
        for _ in range(3):
            a, b = floats()
            jobs.append((local.grid.submit("matmul", a, b, deadline=20), a @ b, False))
        for _ in range(2):
            a, b = ints()
            jobs.append((local.grid.submit("matmul-i64", a, b, deadline=20), a @ b, True))
        for future, want, exact in jobs:
            got = future.result(timeout=60)
            assert future.status() == "verified"
            assert (got == want).all() if exact else np.allclose(got, want, rtol=1e-12)
        assert all(t["status"] == "verified" and not t["wrong"] for t in local.grid.tasks())


@pytest.mark.parametrize("lie", ["random", "off-by-one", "perturb"])
def test_a_liar_is_caught_by_freivalds_its_score_drops_and_its_task_is_redone(
    tmp_path: Path, lie: str
) -> None:
    with LocalGrid.start(tmp_path, [lie], wasm=lie == "off-by-one") as local:
        liar = local.workers[0]
        local.wait_workers(1)
        kernel, (a, b) = ("matmul-i64", ints()) if lie == "off-by-one" else ("matmul", floats())
        future = local.grid.submit(kernel, a, b, redundancy=1, deadline=20)
        until(lambda: any("rejected result" in e for e in events(local, future.task)))
        honest = local.add_worker(("honest",))  # the retry finds an honest worker
        got = future.result(timeout=60)
        assert np.allclose(got, a @ b, rtol=1e-12)
        summary = local.grid.future(future.task).poll()
        assert summary["wrong"] == [liar.key.hex()] and summary["worker"] == honest.key.hex()
        assert summary["round"] == 2
        log = events(local, future.task)
        assert any("fails Freivalds' check" in e for e in log), log
    saved = scores(tmp_path)
    try:
        now = time.time()
        assert saved.score(liar.key, now) < 0 < saved.score(honest.key, now)
    finally:
        saved.close()


def test_without_verification_redundancy_three_outvotes_a_liar(tmp_path: Path) -> None:
    with LocalGrid.start(tmp_path, ["off-by-one", "honest", "honest"]) as local:
        local.wait_workers()
        a, b = floats()
        future = local.grid.submit("matmul", a, b, redundancy=3, verify="none", deadline=20)
        assert (future.result(timeout=60) == a @ b).all()  # byte-equal: the same numpy
        summary = future.poll()
        assert summary["wrong"] == [local.workers[0].key.hex()]
        assert any("outvoted" in e for e in events(local, future.task))


@pytest.mark.parametrize("copier", ["copy-commit", "copy-reveal"])
def test_a_copier_that_replays_another_worker_s_op_is_refused(tmp_path: Path, copier: str) -> None:
    tap = tmp_path / "victim.tap"
    behaviours = [("honest", "--tap", str(tap)), (copier, "--copy-from", str(tap))]
    with LocalGrid.start(tmp_path, behaviours) as local:
        local.wait_workers()
        a, b = floats()
        future = local.grid.submit("matmul", a, b, redundancy=2, deadline=6)
        assert np.allclose(future.result(timeout=60), a @ b, rtol=1e-12)
        assert future.poll()["worker"] == local.workers[0].key.hex()
        why = "signed by another key" if copier == "copy-commit" else "does not open"
        until(lambda: why in local.workers[1].output())
        assert why in " ".join(local.owner.status()["closed"]), local.owner.status()["closed"]
    saved = scores(tmp_path)
    try:
        assert saved.score(local.workers[1].key, time.time()) < 0
    finally:
        saved.close()


@pytest.mark.parametrize("fault", ["silent", "no-reveal", "killed"])
def test_deadlines_outlive_a_worker_that_fails_and_the_task_completes(
    tmp_path: Path, fault: str
) -> None:
    behaviour = ("slow", "--delay", "60") if fault == "killed" else (fault,)
    with LocalGrid.start(tmp_path, [behaviour]) as local:
        local.wait_workers(1)
        a, b = floats()
        future = local.grid.submit("matmul", a, b, redundancy=1, deadline=2, retries=3)
        until(lambda: future.status() in ("dispatched", "committed"))
        why = {
            "silent": "no commit within its deadline",
            "no-reveal": "did not reveal in time",
            "killed": "its worker disconnected",
        }[fault]
        if fault == "killed":
            local.workers[0].kill()  # SIGKILL mid-task
        until(lambda: any(why in e for e in events(local, future.task)))  # the deadline fired
        local.add_worker(("honest",))  # the re-dispatch finds it
        assert np.allclose(future.result(timeout=60), a @ b, rtol=1e-12)
        assert future.poll()["round"] == 2


def test_a_straggler_gets_a_speculative_second_and_is_abandoned(tmp_path: Path) -> None:
    with LocalGrid.start(tmp_path, [("slow", "--delay", "30")]) as local:
        local.wait_workers(1)
        a, b = floats()
        future = local.grid.submit("matmul", a, b, redundancy=1, deadline=4)
        until(lambda: future.status() == "dispatched")
        fast = local.add_worker(("honest",))
        assert np.allclose(future.result(timeout=30), a @ b, rtol=1e-12)
        log = events(local, future.task)
        assert any("speculatively" in e for e in log), log
        assert future.poll()["worker"] == fast.key.hex() and future.poll()["round"] == 1
        until(lambda: "abandoned" in local.workers[0].output())


def test_cancel_a_queued_task_and_a_running_one(tmp_path: Path) -> None:
    with LocalGrid.start(tmp_path, []) as local:
        a, b = floats()
        queued = local.grid.submit("matmul", a, b)
        assert queued.status() == "queued" and queued.cancel()
        with pytest.raises(TaskCancelled):
            queued.result(timeout=5)
        slow = local.add_worker(("slow", "--delay", "30"))
        local.wait_workers(1)
        running = local.grid.submit("matmul", a, b, redundancy=1)
        until(lambda: running.status() == "dispatched")
        assert running.cancel() and running.status() == "cancelled"
        until(lambda: "abandoned" in slow.output())
        assert not any("dispatched" in e for e in events(local, queued.task))  # never ran
        assert not running.cancel()  # over already


def test_an_owner_restart_keeps_results_and_finishes_what_was_in_flight(tmp_path: Path) -> None:
    with LocalGrid.start(tmp_path, ["honest"]) as local:
        local.wait_workers()
        a, b = floats()
        done = local.grid.submit("matmul", a, b, redundancy=1)
        first = done.result(timeout=60)
        local.workers[0].stop()
        pending = [local.grid.submit("matmul", *floats(), redundancy=1) for _ in range(2)]
        local.owner.stop()
        local.owner.start()  # the same store: its log holds the tasks and the result
        assert (local.grid.future(done.task).result(timeout=5) == first).all()
        assert [local.grid.future(p.task).status() for p in pending] == ["queued", "queued"]
        local.add_worker(("honest",))
        for p in pending:
            assert local.grid.future(p.task).result(timeout=60).shape == (24, 16)

"""The compute grid with real worker processes on loopback (issue 16, DESIGN §12): an
owner node process with ``[admission]`` and ``[grid]``, ``lattice worker run`` processes
vouched for by it, tasks submitted through the owner's control socket. Honest workers'
results equal numpy's; liars are caught (Freivalds, or outvoted), their scores drop and
their tasks are re-dispatched; copiers are refused; silent, unrevealing, slow and killed
workers are outlived by deadlines; cancellation and an owner restart keep their promises.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import lattice
from lattice import Identity, _lattice
from lattice.errors import ProtocolError, TaskCancelled
from lattice.grid import arrays, records
from lattice.grid.local import POLICY, SWARM, LocalGrid
from lattice.grid.worker import Worker
from lattice.net import wire
from lattice.net.connection import Connection, Limits, dial
from lattice.net.reputation import SCORES_SUFFIX
from lattice.state.leaks import scan
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


@pytest.mark.parametrize("lie", ["random", "off-by-one", "perturb"])
def test_without_verification_redundancy_three_outvotes_a_liar(tmp_path: Path, lie: str) -> None:
    with LocalGrid.start(tmp_path, [lie, "honest", "honest"]) as local:
        local.wait_workers()
        a, b = floats()
        future = local.grid.submit("matmul", a, b, redundancy=3, verify="none", deadline=20)
        assert (future.result(timeout=60) == a @ b).all()  # an honest result: the same numpy
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
        slow = local.add_worker(("slow", "--delay", "30"))
        local.wait_workers(1)
        running = local.grid.submit("matmul", *floats(), redundancy=1)
        until(lambda: running.status() == "dispatched")  # in flight on the slow worker
        pending = [running, local.grid.submit("matmul", *floats(), redundancy=1)]
        local.owner.stop()
        slow.stop()
        local.owner.start()  # the same store: its log holds the tasks and the result
        assert (local.grid.future(done.task).result(timeout=5) == first).all()
        assert [local.grid.future(p.task).status() for p in pending] == ["queued", "queued"]
        local.add_worker(("honest",))
        for p in pending:
            assert local.grid.future(p.task).result(timeout=60).shape == (24, 16)


def _raw_worker(local: LocalGrid, n: int) -> Identity:
    """A worker key the owner vouched for, to speak the worker role by hand."""
    me = Identity.from_seed(bytes([0x52, n]) + bytes(30))
    local.owner.call("vouch", subject=me.public_key.hex())
    return me


async def _next(conn: Connection, kind: type) -> object:
    while True:
        msg = await conn.recv()
        if isinstance(msg, kind):
            return msg
        if isinstance(msg, wire.Refused):
            raise ProtocolError(msg.reason)


def test_malformed_wrong_and_oversized_answers_are_refused(tmp_path: Path) -> None:
    with LocalGrid.start(tmp_path, []) as local:
        me = _raw_worker(local, 1)
        a, b = floats()

        async def answer(payload: Callable[[bytes], bytes]) -> object:
            until(lambda: local.owner.status()["grid"]["workers"] == 0)  # the last one is gone
            local.grid.submit("matmul", a, b, redundancy=1, deadline=20)  # a task of its own
            conn = await dial(local.address, me, SWARM, _lattice.ROLE_WORKER, Limits())
            try:
                await conn.send(wire.Work(1))
                task = await _next(conn, wire.Task)
                view = lattice.Entry.from_bytes(task.genesis).swarm  # type: ignore[attr-defined]
                nonce = time.time_ns()
                op = lattice.ClientOp.create(me.signing_key, view, nonce, payload(view))
                await conn.send(wire.Op(op.to_bytes()))
                return await _next(conn, wire.GridAck)
            finally:
                await conn.close()

        async def run() -> None:
            with pytest.raises(ProtocolError, match="not a grid op"):
                await answer(lambda view: b"garbage")
            big = bytes(records.MAX_RESULT_LEN + 1)
            with pytest.raises(ProtocolError, match=r"not a grid op.*at most"):
                await answer(lambda view: records.OP_MAGIC + bytes([1, records.REVEAL]) + big)

        asyncio.run(run())
        closed = " ".join(local.owner.status()["closed"])
        assert "not a grid op" in closed
        # A result of the wrong shape, committed and revealed in due form: WRONG.
        local.add_worker(("honest",))
        until(lambda: all(t["status"] == "verified" for t in local.grid.tasks()), 60)
        wrong = _raw_worker(local, 2)

        async def lie() -> None:
            conn = await dial(local.address, wrong, SWARM, _lattice.ROLE_WORKER, Limits())
            try:
                await conn.send(wire.Work(1))
                task = await _next(conn, wire.Task)
                view = lattice.Entry.from_bytes(task.genesis).swarm  # type: ignore[attr-defined]
                bad = arrays.encode(np.zeros((3, 3)))
                nonce = time.time_ns()
                for payload in (
                    records.commit_op(view, wrong.public_key, bad),
                    records.reveal_op(bad),
                ):
                    nonce += 1
                    op = lattice.ClientOp.create(wrong.signing_key, view, nonce, payload)
                    await conn.send(wire.Op(op.to_bytes()))
                    if payload[5] == records.COMMIT:
                        await _next(conn, wire.Reveal)  # asked once the commits are in
                await _next(conn, wire.GridAck)
            finally:
                await conn.close()

        second = local.grid.submit("matmul", a, b, redundancy=2, deadline=20)
        asyncio.run(lie())
        assert np.allclose(second.result(timeout=60), a @ b, rtol=1e-12)
        assert second.poll()["wrong"] == [wrong.public_key.hex()]
        assert any("a (3, 3) float64 result" in e for e in events(local, second.task))


def test_a_worker_receives_nothing_of_the_owner_s_history(tmp_path: Path) -> None:
    """Every plaintext byte a worker receives passes the §8 byte scan against the owner's
    deep log: its secrets, its entry ids and signatures, the other workers' keys."""
    secrets_ = [
        b"private-history-%04d-%s" % (i, bytes(RNG.integers(97, 123, 12, dtype=np.uint8)))
        for i in range(200)
    ]
    received: list[bytes] = []
    with LocalGrid.start(tmp_path, ["honest"]) as local:
        for secret in secrets_:
            local.owner.append(secret)
        me = _raw_worker(local, 3)
        worker = Worker(me, SWARM, local.address, local.identity.public_key, tap=received.append)
        a, b = floats()
        futures = [local.grid.submit("matmul", a, b, redundancy=2, deadline=20) for _ in range(3)]

        async def run() -> None:
            job = asyncio.ensure_future(worker.run())
            end = time.monotonic() + 120
            try:
                while not all(f.poll()["status"] == "verified" for f in futures):
                    assert time.monotonic() < end, [f.poll() for f in futures]
                    await asyncio.sleep(0.1)
            finally:
                job.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await job

        asyncio.run(run())
        assert worker.stats.reveals >= 1 and received
    deep = lattice.Replica(
        local.identity,
        peers=[local.identity.public_key],
        swarm_id=SWARM,
        path=tmp_path / "owner.db",
        admission=POLICY,
    )
    try:
        entries = deep.entries()
    finally:
        deep.close()
    others = [w.key for w in local.workers]
    found = scan(
        received,
        {
            "history": secrets_,
            "entry ids": [e.id for e in entries],
            "signatures": [e.signature for e in entries],
            "other workers' keys": others,
        },
    )
    assert found == {"history": 0, "entry ids": 0, "signatures": 0, "other workers' keys": 0}


def test_a_worker_admitted_by_its_own_proof_of_work(tmp_path: Path) -> None:
    """`lattice admit --config worker.toml` makes its record; the worker has the owner
    carry it (ADMIT) and is served, with no vouch."""
    from click.testing import CliRunner

    from lattice.cli import main

    with LocalGrid.start(tmp_path, []) as local:
        worker = local.add_worker(("honest",), vouch=False, start=False)
        done = CliRunner().invoke(main, ["admit", "--config", str(worker.config), "--bits", "8"])
        assert done.exit_code == 0, done.output
        assert worker.config.with_suffix(".admission").exists()
        worker.start()
        local.wait_workers(1)
        a, b = floats()
        assert np.allclose(local.grid.submit("matmul", a, b, redundancy=1).result(60), a @ b)


def test_the_grid_demo_shows_each_adversary_handled(tmp_path: Path) -> None:
    from rich.console import Console

    from lattice.demo.grid import run_grid_demo

    summary = run_grid_demo(Console(quiet=True), tasks=4, workdir=tmp_path)
    assert summary.verified == summary.tasks == 4
    assert summary.liar_caught and summary.copier_refused and summary.hits == 0
    assert summary.straggler_redispatched


def test_the_grid_commands_submit_follow_fetch_and_cancel(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from lattice.cli import main

    invoke = CliRunner().invoke
    with LocalGrid.start(tmp_path, ["honest"]) as local:
        local.wait_workers()
        owner = str(local.owner.config)
        a, b = floats()
        np.save(tmp_path / "a.npy", a)
        np.save(tmp_path / "b.npy", b)
        inputs = [str(tmp_path / "a.npy"), str(tmp_path / "b.npy")]
        args = ["grid", "submit", "--config", owner, "matmul", *inputs, "--redundancy", "1",
                "--out", str(tmp_path / "c.npy")]  # fmt: skip
        done = invoke(main, args)
        assert done.exit_code == 0, done.output
        task = done.output.split()[0]
        assert np.allclose(np.load(tmp_path / "c.npy"), a @ b)
        listed = invoke(main, ["grid", "status", "--config", owner])
        assert listed.exit_code == 0 and task[:16] in listed.output and "verified" in listed.output
        out = tmp_path / "again.npy"
        fetched = invoke(main, ["grid", "result", "--config", owner, task, "--out", str(out)])
        assert fetched.exit_code == 0 and np.allclose(np.load(out), a @ b)
        local.workers[0].stop()
        queued = invoke(main, [*args[:-2], "--no-wait"])
        assert queued.exit_code == 0
        waiting = queued.output.split()[0]
        cancelled = invoke(main, ["grid", "cancel", "--config", owner, waiting])
        assert cancelled.exit_code == 0 and "cancelled" in cancelled.output
        refused = invoke(main, ["grid", "result", "--config", owner, waiting, "--out", str(out)])
        assert refused.exit_code != 0 and "cancelled" in refused.output
        bad = invoke(main, ["grid", "status", "--config", owner, "zz"])
        assert bad.exit_code != 0 and "task id" in bad.output

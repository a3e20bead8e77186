"""The grid's codecs and its scheduler without a network (issue 16, DESIGN §12, §16):
every decoder refuses bad bytes with a typed error and accepts only canonical ones;
Freivalds' check catches what it must and passes honest products; the scheduler's rounds,
votes, deadlines and adaptive replication on a scripted clock."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lattice
from lattice import _lattice
from lattice.errors import DecodeError, LatticeError, NotSynced, ResultRefused
from lattice.grid import arrays, freivalds, records, verdicts
from lattice.grid.rounds import Task
from lattice.grid.scheduler import ADAPTIVE_MIN_VALID, Scheduler
from lattice.grid.task import Job, TaskSpec
from lattice.net import wire

SEEDS = {
    "array": arrays.encode(np.arange(6, dtype=np.int64).reshape(2, 3)),
    "op": records.commit_op(b"v" * 32, b"w" * 32, b"r"),
    "record": records.end_record(b"t" * 32, records.END_CANCELLED, "why"),
    "result": records.result_record(b"t" * 32, b"reveal", [b"w" * 32]),
    "task": wire.encode(wire.Task(500, b"genesis")),
    "ack": wire.encode(wire.GridAck(b"v" * 32, 7, True)),
    "abandon": wire.encode(wire.Abandon(b"v" * 32, "over")),
    "work": wire.encode(wire.Work(2, ("matmul", "matmul-i64"))),
}


@st.composite
def mutated(draw: st.DrawFn, seed: str) -> bytes:
    data = bytearray(SEEDS[seed])
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, len(data)))
        match draw(st.sampled_from(["flip", "cut", "grow"])):
            case "flip" if at < len(data):
                data[at] ^= 1 << draw(st.integers(0, 7))
            case "cut":
                del data[at:]
            case _:
                data[at:at] = draw(st.binary(max_size=24))
    return bytes(data)


@settings(max_examples=300)
@given(mutated("array"))
def test_grid_arrays_decode_canonically_or_refuse(data: bytes) -> None:
    try:
        a = arrays.decode(data)
    except DecodeError:
        return
    assert arrays.encode(a) == data


@settings(max_examples=300)
@given(st.one_of(mutated("op"), mutated("record"), mutated("result")))
def test_grid_ops_and_records_decode_or_refuse_with_a_typed_error(data: bytes) -> None:
    head = bytes([records.VERSION])
    try:
        tag, body = records.decode_op(data)
        assert records.OP_MAGIC + head + bytes([tag]) + body == data  # canonical
    except LatticeError:
        pass
    try:
        kind, task, value, reason, credited = records.decode_record(data)
    except LatticeError:
        return
    again = {
        records.RESULT: lambda: records.result_record(task, value, credited),  # type: ignore[arg-type]
        records.END: lambda: records.end_record(task, value, reason),  # type: ignore[arg-type]
        records.WRONG: lambda: records.wrong_record(task, value, reason),  # type: ignore[arg-type]
    }[kind]()
    assert again == data  # canonical


@settings(max_examples=300)
@given(st.one_of(mutated("task"), mutated("ack"), mutated("abandon"), mutated("work")))
def test_the_grid_s_wire_messages_decode_canonically_or_refuse(data: bytes) -> None:
    try:
        msg = wire.decode(data)
    except DecodeError:
        return
    if isinstance(msg, wire.Abandon) and not msg.reason.isprintable():
        raise AssertionError("a reason with control characters reached the worker")
    if isinstance(msg, wire.Abandon):  # its reason's control characters shown as "?"
        assert wire.decode(wire.encode(msg)) == msg
    else:
        assert wire.encode(msg) == data


def test_a_task_s_log_entry_and_its_genesis_are_checked() -> None:
    spec = TaskSpec.new("matmul", [np.eye(3), np.ones((3, 2))], redundancy=3, deadline=5)
    again = TaskSpec.from_payload(spec.to_payload())
    assert (again.task, again.redundancy, again.deadline) == (spec.task, 3, 5.0)
    with pytest.raises(DecodeError):
        TaskSpec.from_payload(spec.to_payload()[:-3])
    owner, worker, other = (lattice.Identity.generate() for _ in range(3))
    view, genesis = spec.genesis(owner, {}, worker.public_key)
    with pytest.raises(LatticeError):  # not the owner's signature
        Job.from_genesis(worker, other.public_key, view, genesis)
    job = Job.from_genesis(worker, owner.public_key, view, genesis)
    assert (job.view, job.kernel, job.inputs[1].shape) == (view, "matmul", (3, 2))
    seen = job_document(worker, owner, view, genesis)
    assert seen == {"kernel": "matmul"}  # not how the owner checks it, nor its retries
    with pytest.raises(lattice.errors.InvalidArgument, match="cannot multiply"):
        TaskSpec.new("matmul", [np.eye(3), np.eye(2)])


def job_document(
    worker: lattice.Identity, owner: lattice.Identity, view: bytes, genesis: _lattice.Entry
) -> dict[str, object]:
    from lattice.state.guest import Guest

    guest = Guest(worker, owner.public_key, view)
    guest.receive([genesis])
    return guest.doc.map("task").to_py()


def test_freivalds_catches_one_wrong_bit_and_passes_honest_products() -> None:
    rng = np.random.default_rng(5)
    a = rng.integers(-(2**63), 2**63 - 1, (40, 30), dtype=np.int64)
    b = rng.integers(-(2**63), 2**63 - 1, (30, 20), dtype=np.int64)
    with np.errstate(over="ignore"):
        c = a @ b  # mod 2^64
    check = freivalds.prepare(a, b)
    assert check.check(c)
    for bit in (0, 40, 63):
        bad = c.copy()
        bad.view(np.uint64)[17, 3] ^= np.uint64(1) << np.uint64(bit)
        assert not check.check(bad)
    x, y = rng.standard_normal((64, 48)), rng.standard_normal((48, 32))
    floats = freivalds.prepare(x, y)
    assert floats.check(x @ y) and floats.check((x.T @ np.eye(64)).T @ y)  # another order
    assert floats.tolerance is not None
    over = x @ y
    over[5, 7] += 1.01 * floats.tolerance[7]
    assert not floats.check(over)
    under = x @ y
    under[5, 7] += 0.5 * floats.tolerance[7]
    assert floats.check(under)  # below the stated tolerance: passes, as documented
    nan = x @ y
    nan[0, 0] = np.nan
    assert not floats.check(nan)


# --- the scheduler on a scripted clock ------------------------------------------------


class FakeLink:
    def __init__(self, n: int, kernels: frozenset[str] = frozenset({"matmul"})) -> None:
        self.identity = lattice.Identity.from_seed(bytes([0x5C, n]) + bytes(30))
        self.key = self.identity.public_key
        self.kernels = kernels
        self.sent: list[tuple[str, bytes]] = []
        self.geneses: list[bytes] = []
        self.nonce = 0

    def assign(self, view: bytes, deadline: float, genesis: Callable[[], bytes]) -> None:
        self.sent.append(("task", view))
        self.geneses.append(genesis())

    def reveal_now(self, view: bytes) -> None:
        self.sent.append(("reveal", view))

    def abandon(self, view: bytes, reason: str) -> None:
        self.sent.append(("abandon", view))

    def views(self, what: str = "task") -> list[bytes]:
        return [v for kind, v in self.sent if kind == what]

    def op(self, view: bytes, payload: bytes) -> _lattice.ClientOp:
        self.nonce += 1
        return _lattice.ClientOp.create(self.identity.signing_key, view, self.nonce, payload)


class FakeHost:
    def __init__(self) -> None:
        self.identity = lattice.Identity.from_seed(bytes([0x5D]) * 32)
        self.replica = lattice.Replica(self.identity, peers=[self.identity.public_key])
        self.scores: list[tuple[bytes, str]] = []
        self.writable = True

    def append_record(self, payload: bytes) -> _lattice.Entry:
        return self.replica.append(payload)

    def frontier(self) -> Mapping[bytes, tuple[int, bytes]]:
        return self.replica.frontier()

    def score(self, worker: bytes, event: str) -> None:
        self.scores.append((worker, event))


def grid(seed: int = 1) -> tuple[Scheduler, FakeHost, list[float]]:
    now = [1000.0]
    host = FakeHost()
    return Scheduler(host, clock=lambda: now[0], rng=random.Random(seed)), host, now


def answer(s: Scheduler, link: FakeLink, view: bytes, result: bytes) -> None:
    assert s.take(link, link.op(view, records.commit_op(view, link.key, result)))


def reveal(s: Scheduler, link: FakeLink, view: bytes, result: bytes) -> None:
    assert s.take(link, link.op(view, records.reveal_op(result)))


def one_worker() -> tuple[Scheduler, FakeHost, FakeLink, Task]:
    """A scheduler with one worker, handed one task of the 2 × 2 identity squared."""
    s, host, _ = grid()
    link = FakeLink(1)
    s.ready(link, 1)
    task = s.submit(TaskSpec.new("matmul", [np.eye(2), np.eye(2)], redundancy=1))
    return s, host, link, task


def honestly(s: Scheduler, link: FakeLink, view: bytes, result: np.ndarray) -> None:
    answer(s, link, view, arrays.encode(result))
    reveal(s, link, view, arrays.encode(result))


def test_a_round_waits_for_its_commits_before_any_reveal_and_votes_out_a_liar() -> None:
    s, host, now = grid()
    links = [FakeLink(i) for i in range(3)]
    for link in links:
        s.ready(link, 1)
    a, b = np.eye(2), np.full((2, 2), 2.0)
    task = s.submit(TaskSpec.new("matmul", [a, b], redundancy=3, verify="none"))
    views = [link.views()[0] for link in links]
    good, bad = arrays.encode(a @ b), arrays.encode(a @ b + 1)
    answer(s, links[0], views[0], good)
    with pytest.raises(ResultRefused, match="before its commit was asked"):
        reveal(s, links[0], views[0], good)  # the others have not committed yet
    answer(s, links[1], views[1], bad)
    answer(s, links[2], views[2], good)
    assert all(link.views("reveal") for link in links)  # now, and only now
    copied = links[1].op(views[1], records.reveal_op(good))
    with pytest.raises(ResultRefused, match="does not open"):
        s.take(links[1], copied)  # the liar reveals the others' result: not its commit
    with pytest.raises(ResultRefused, match="committed in this task already"):
        s.take(links[1], links[1].op(views[1], records.commit_op(views[1], links[1].key, good)))
    for link, view in zip(links, views, strict=True):
        if link is not links[1]:
            reveal(s, link, view, good)
    s.tick()
    now[0] += 31  # the liar never reveals: its reveal deadline passes
    s.tick()
    assert task.status == "verified" and task.worker in (links[0].key, links[2].key)
    assert (links[1].key, "late") in host.scores


def test_a_worker_with_a_long_valid_record_is_replicated_with_probability_one_over_it() -> None:
    s, _, _ = grid(seed=7)
    link = FakeLink(9)
    s.valid[link.key] = 4 * ADAPTIVE_MIN_VALID
    s.ready(link, 8)
    a = np.eye(2)
    alone = 0
    for _ in range(200):
        task = s.submit(TaskSpec.new("matmul", [a, a], redundancy=2))
        alone += task.needed == 1
        s.cancel(task.id)
    assert 200 * 0.9 < alone < 200  # replicated with probability 1/40, about 5 times
    s.valid[link.key] = ADAPTIVE_MIN_VALID - 1  # too short a record: always replicated
    task = s.submit(TaskSpec.new("matmul", [a, a], redundancy=2))
    assert task.needed == 2


def test_at_the_deadline_the_committed_reveal_and_a_late_commit_is_ignored() -> None:
    s, host, now = grid()
    fast, late = FakeLink(1), FakeLink(2)
    s.ready(fast, 1)
    s.ready(late, 1)
    a = np.eye(2)
    task = s.submit(TaskSpec.new("matmul", [a, a], redundancy=2, deadline=10))
    result = arrays.encode(a @ a)
    answer(s, fast, fast.views()[0], result)
    assert not fast.views("reveal")  # one commit of two: no reveal yet
    now[0] += 10
    s.tick()  # the deadline: the committed one reveals, the silent one is abandoned
    assert fast.views("reveal") and late.views("abandon")
    view = late.views()[0]
    assert not s.take(late, late.op(view, records.commit_op(view, late.key, result)))  # ignored
    reveal(s, fast, fast.views()[0], result)
    assert task.status == "verified" and (late.key, "late") in host.scores


def test_tasks_whose_result_or_tolerance_cannot_be_had_are_refused_at_submit() -> None:
    with pytest.raises(lattice.errors.InvalidArgument, match="does not fit one reveal"):
        TaskSpec.new("matmul", [np.ones((4096, 8)), np.ones((8, 4096))])
    for bad in (np.full((2, 2), np.nan), np.full((2, 2), 1e160), np.full((2, 2), 1e-170)):
        with pytest.raises(lattice.errors.InvalidArgument, match="finite inputs"):
            TaskSpec.new("matmul", [bad, np.eye(2)])


def test_a_vote_is_always_replicated_even_for_a_long_valid_record() -> None:
    s, _, _ = grid()
    link = FakeLink(8)
    s.valid[link.key] = 100 * ADAPTIVE_MIN_VALID
    s.ready(link, 8)
    a = np.eye(2)
    for _ in range(20):
        task = s.submit(TaskSpec.new("matmul", [a, a], redundancy=2, verify="none"))
        assert task.needed == 2
        s.cancel(task.id)


def test_event_numbers_stay_absolute_when_old_events_are_dropped() -> None:
    from lattice.grid.rounds import MAX_EVENTS, Task
    from lattice.net.gridhost import summary

    task = Task(TaskSpec.new("matmul", [np.eye(2), np.eye(2)]), created=0.0)
    for n in range(MAX_EVENTS + 10):
        task.note(float(n), "dispatched", f"event {n}")
    seen = summary(task, 0)["events"]
    task.note(999.0, "verified", "the last")
    news = summary(task, seen)["log"]
    assert [e["detail"] for e in news] == ["the last"]


def test_an_owner_that_cannot_sign_decides_nothing_and_records_nothing() -> None:
    s, host, now = grid()
    link = FakeLink(1)
    s.ready(link, 1)
    a = np.eye(2)
    task = s.submit(TaskSpec.new("matmul", [a, a], redundancy=1, deadline=10))
    view = link.views()[0]
    before = host.replica.head(host.identity.public_key)
    host.writable = False  # e.g. restarted and not caught up with its own log
    with pytest.raises(NotSynced):
        answer(s, link, view, arrays.encode(a @ a))
    with pytest.raises(NotSynced):
        s.submit(TaskSpec.new("matmul", [a, a]))
    with pytest.raises(NotSynced):
        s.cancel(task.id)
    now[0] += 100  # its deadline passes while it cannot sign: nobody is abandoned
    s.tick()
    assert task.status == "dispatched" and not link.views("abandon")
    assert host.replica.head(host.identity.public_key) == before
    assert not host.scores  # the worker is not blamed for the owner's state
    host.writable = True
    s.tick()
    assert link.views("abandon") and (link.key, "late") in host.scores


def test_reveals_wait_for_the_redundancy_s_commits_when_workers_are_short() -> None:
    s, _, _ = grid()
    only = FakeLink(1)
    s.ready(only, 1)
    a = np.eye(2)
    task = s.submit(TaskSpec.new("matmul", [a, a], redundancy=2, deadline=10))
    answer(s, only, only.views()[0], arrays.encode(a @ a))
    s.tick()
    assert not only.views("reveal")  # one commit of two, before the deadline: no reveal
    second = FakeLink(2)
    s.ready(second, 1)  # the round is topped up
    answer(s, second, second.views()[0], arrays.encode(a @ a))
    assert only.views("reveal") and second.views("reveal")
    assert task.status == "committed"


def test_a_copier_that_re_signs_another_s_commit_cannot_open_it() -> None:
    s, _, _ = grid()
    honest, copier = FakeLink(1), FakeLink(2)
    s.ready(honest, 1)
    s.ready(copier, 1)
    a = np.eye(2)
    task = s.submit(TaskSpec.new("matmul", [a, a], redundancy=2))
    hv, cv = honest.views()[0], copier.views()[0]
    good = arrays.encode(a @ a)
    answer(s, honest, hv, good)
    digest = records.decode_op(records.commit_op(hv, honest.key, good))[1]
    stolen = records.OP_MAGIC + bytes([records.VERSION, records.COMMIT]) + digest
    assert s.take(copier, copier.op(cv, stolen))  # its own signature over the honest digest
    reveal(s, honest, hv, good)
    with pytest.raises(ResultRefused, match="does not open"):
        s.take(copier, copier.op(cv, records.reveal_op(good)))  # bound to view and key
    assert task.status == "revealed" or task.status == "verified"


def test_a_late_answer_after_cancel_is_ignored_and_an_unknown_view_refused() -> None:
    s, _, link, task = one_worker()
    view = link.views()[0]
    assert s.cancel(task.id).status == "cancelled" and link.views("abandon") == [view]
    assert not s.take(link, link.op(view, records.commit_op(view, link.key, b"x")))
    fresh, _, _ = grid()  # the owner restarted: a view from before is no task of its
    fresh.ready(link, 1)
    with pytest.raises(ResultRefused, match="no task of this worker"):
        fresh.take(link, link.op(view, records.commit_op(view, link.key, b"x")))


def test_a_finished_task_keeps_its_summary_not_its_inputs_or_results() -> None:
    s, _, link, task = one_worker()
    a = np.eye(2)
    view = link.views()[0]
    honestly(s, link, view, a @ a)
    assert task.status == "verified"
    assert task.spec.inputs == () and not task.assignments and task.prepared is None
    assert task.spec.kernel == "matmul" and task.worker == link.key


def test_only_workers_of_a_task_s_kernel_get_it() -> None:
    s, _, _ = grid()
    numeric = FakeLink(1)
    wasm = FakeLink(2, frozenset({"matmul", "matmul-i64"}))
    s.ready(numeric, 4)
    i = np.eye(2, dtype=np.int64)
    task = s.submit(TaskSpec.new("matmul-i64", [i, i], redundancy=1))
    assert not numeric.views() and task.status == "queued"  # no worker of its kernel yet
    s.ready(wasm, 1)
    assert not numeric.views() and len(wasm.views()) == 1


def test_any_invalid_result_resets_a_long_valid_record() -> None:
    s, host, _ = grid(seed=3)
    liar = FakeLink(1)
    s.valid[liar.key] = 5 * ADAPTIVE_MIN_VALID
    s.ready(liar, 1)
    a = np.eye(2)
    task = s.submit(TaskSpec.new("matmul", [a, a], redundancy=2, retries=0))
    view = liar.views()[0]
    answer(s, liar, view, arrays.encode(a @ a + 1))
    assert task.needed == 1  # on it alone: its record was long
    reveal(s, liar, view, arrays.encode(a @ a + 1))
    assert s.valid[liar.key] == 0 and (liar.key, "wrong") in host.scores
    s.ready(liar, 0)
    nxt = s.submit(TaskSpec.new("matmul", [a, a], redundancy=2))
    assert nxt.needed == 2  # replicated again, every time, until its record is long


def test_a_restart_rebuilds_valid_counts_from_credited_results_and_retries_from_wrongs() -> None:
    s, host, _ = grid()
    links = [FakeLink(i) for i in range(3)]
    for link in links:
        s.ready(link, 1)
    a = np.eye(2)
    done = s.submit(TaskSpec.new("matmul", [a, a], redundancy=2))
    for link in links[:2]:
        answer(s, link, link.views()[0], arrays.encode(a @ a))
    for link in links[:2]:
        reveal(s, link, link.views()[0], arrays.encode(a @ a))
    assert done.status == "verified"
    wrong = s.submit(TaskSpec.new("matmul", [a, a], redundancy=1, retries=3))
    liar = next(link for link in links if link.views() and link.views()[-1] in s.views)
    view = liar.views()[-1]
    answer(s, liar, view, arrays.encode(a @ a + 1))
    reveal(s, liar, view, arrays.encode(a @ a + 1))
    assert wrong.status not in ("verified", "rejected")
    again = Scheduler(host)
    assert again.recover(host.replica.entries(host.identity.public_key)) == 1
    assert again.valid == s.valid  # both valid results credited, the liar's reset
    assert again.tasks[wrong.id].retries_used == 1 and liar.key in again.tasks[wrong.id].wrong
    assert again.tasks[done.id].spec.inputs == ()  # a finished task: its summary


def test_float_votes_agree_within_rounding_and_not_beyond() -> None:
    from lattice.grid.kernels import kernel

    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((96, 200)), rng.standard_normal((200, 64))
    k = kernel("matmul")
    reordered = np.array([[np.sum(x[i] * y[:, j]) for j in range(64)] for i in range(96)])
    assert k.agree([x, y], x @ y, reordered)  # another summation order
    off = x @ y
    off[3, 4] += 1e-9 * abs(off).max()
    assert not k.agree([x, y], x @ y, off)
    i64 = kernel("matmul-i64")
    m = np.arange(4, dtype=np.int64).reshape(2, 2)
    assert i64.agree([m, m], m @ m, m @ m) and not i64.agree([m, m], m @ m, m @ m + 1)


def test_the_float_tolerance_grows_with_both_dimensions() -> None:
    rng = np.random.default_rng(4)
    tall, thin = rng.standard_normal((4000, 4)), rng.standard_normal((4, 3))
    check = freivalds.prepare(tall, thin)
    assert check.tolerance is not None
    m, n = tall.shape
    scale = freivalds.TOLERANCE_FACTOR * (n + m) * freivalds.EPSILON * np.sqrt(m)
    want = scale * np.linalg.norm(tall) * np.linalg.norm(thin, axis=0)
    assert np.allclose(check.tolerance, want)
    reordered = np.array([[np.sum(tall[i] * thin[:, j]) for j in range(3)] for i in range(m)])
    assert check.check(reordered) and check.check(tall @ thin)


def test_a_worker_that_lets_its_messages_pile_up_is_cut() -> None:
    import asyncio
    from types import SimpleNamespace

    from lattice.net.sessions.worker import MAX_OUTBOX, WorkerSession

    sent: list[object] = []

    class Conn:
        remote = b"w" * 32

        async def send(self, msg: object) -> None:
            sent.append(msg)

        async def close(self) -> None:
            sent.append("closed")

    async def run() -> None:
        node = SimpleNamespace(reputation=None, grid=SimpleNamespace(scheduler=None))
        session = WorkerSession(node, Conn(), None)  # type: ignore[arg-type]
        for _ in range(MAX_OUTBOX + 5):
            session.abandon(b"v" * 32, "over")
        assert len(session._out) == MAX_OUTBOX  # bounded: the rest is not queued
        await session._writer()  # it cuts the worker instead of sending the pile

    asyncio.run(run())
    assert len(sent) == 2 and isinstance(sent[0], wire.Refused) and sent[1] == "closed"
    assert "unread" in sent[0].reason


def test_freivalds_takes_unaligned_int64_results_as_decoded_from_bytes() -> None:
    a = np.arange(36, dtype=np.int64).reshape(6, 6)
    c = a @ a
    raw = b"x" + c.tobytes()  # a result inside a longer byte string, at an odd offset
    unaligned = np.frombuffer(raw, dtype=np.int64, offset=1).reshape(6, 6)
    assert not unaligned.flags.aligned
    check = freivalds.prepare(a, a)
    assert check.check(unaligned) and not check.check(unaligned + 1)


def test_a_float_vote_joins_a_group_only_if_it_agrees_with_every_member() -> None:
    s, _, _ = grid()
    one = np.ones((1, 1))
    task = s.submit(TaskSpec.new("matmul", [one, one], redundancy=3, verify="none"))
    ulp = 2.0**-52  # two honest 1 × 1 products may differ by 4 · 1 · 2⁻⁵³ = 2 ulp here
    middle, low, high = 1.0 + ulp, 1.0, 1.0 + 3 * ulp  # low ~ middle ~ high, low ≁ high
    workers = [bytes([n]) * 32 for n in (1, 2, 3)]
    for worker, value in zip(workers, (middle, low, high), strict=True):
        task.votes[worker] = arrays.encode(np.full((1, 1), value))
    # Not one group through the middle result: low and high do not agree.
    assert verdicts.groups(task.spec, task.votes) == [[workers[0], workers[1]], [workers[2]]]


def test_a_check_that_fails_on_the_owner_s_side_queues_the_task_again() -> None:
    s, host, link, task = one_worker()
    a = np.eye(2)

    class Broken:
        def check(self, c: np.ndarray) -> bool:
            raise lattice.errors.InvalidArgument("the owner's check broke")

    task.prepared = Broken()  # type: ignore[assignment]
    view = link.views()[0]
    answer(s, link, view, arrays.encode(a @ a))
    reveal(s, link, view, arrays.encode(a @ a))  # taken: the worker did nothing wrong
    assert any("could not be checked" in detail for _, _, detail in task.events)
    assert task.status == "dispatched" and len(link.views()) == 2  # not stuck: round 2
    assert not task.wrong and (link.key, "wrong") not in host.scores
    task.prepared = None  # the check works again: the next round verifies it
    view = link.views()[-1]
    honestly(s, link, view, a @ a)
    assert task.status == "verified"


def test_a_late_follower_is_not_sent_the_first_event_again() -> None:
    from lattice.grid.rounds import Task
    from lattice.net.gridhost import summary

    task = Task(TaskSpec.new("matmul", [np.eye(2), np.eye(2)]), created=0.0)
    for n in range(100):
        task.note(float(n), "dispatched", f"event {n}")
    task.trim(10)  # a finished task keeps its first event and its last ten
    assert [e["detail"] for e in summary(task, 5)["log"]][:1] == ["event 90"]
    assert [e["detail"] for e in summary(task, 0)["log"]][:2] == ["event 0", "event 90"]
    assert [e["detail"] for e in summary(task, 99)["log"]] == ["event 99"]


def test_a_task_the_owner_could_not_send_is_not_held_against_the_worker() -> None:
    s, host, link, task = one_worker()
    view = link.views()[0]
    s.unsent(link, view, "its view could not be made")
    assert link.key not in task.failed and not host.scores
    assert len(link.views()) == 2  # topped up: the same worker gets a fresh view


def test_an_owner_side_check_failure_ends_the_task_after_a_few_tries() -> None:
    from lattice.grid.scheduler import MAX_OWNER_FAILURES

    s, _, link, task = one_worker()

    class Broken:
        def check(self, c: np.ndarray) -> bool:
            raise ValueError("numpy broke")  # not even a LatticeError

    for _ in range(MAX_OWNER_FAILURES + 1):
        task.prepared = Broken()  # type: ignore[assignment]
        honestly(s, link, link.views()[-1], np.eye(2))
    assert task.status == "rejected" and "could not be checked" in task.reason
    assert not task.wrong

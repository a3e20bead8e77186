"""The grid's codecs and its scheduler without a network (issue 16, DESIGN §12, §16):
every decoder refuses bad bytes with a typed error and accepts only canonical ones;
Freivalds' check catches what it must and passes honest products; the scheduler's rounds,
votes, deadlines and adaptive replication on a scripted clock."""

from __future__ import annotations

import random
from collections.abc import Mapping

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lattice
from lattice import _lattice
from lattice.errors import DecodeError, LatticeError, ResultRefused
from lattice.grid import arrays, freivalds, records
from lattice.grid.scheduler import ADAPTIVE_MIN_VALID, Scheduler
from lattice.grid.task import TaskSpec
from lattice.net import wire

SEEDS = {
    "array": arrays.encode(np.arange(6, dtype=np.int64).reshape(2, 3)),
    "op": records.commit_op(b"v" * 32, b"w" * 32, b"r"),
    "record": records.end_record(b"t" * 32, records.END_CANCELLED, "why"),
    "task": wire.encode(wire.Task(500, b"genesis")),
    "ack": wire.encode(wire.GridAck(b"v" * 32, 7, True)),
    "abandon": wire.encode(wire.Abandon(b"v" * 32, "over")),
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
@given(st.one_of(mutated("op"), mutated("record")))
def test_grid_ops_and_records_decode_or_refuse_with_a_typed_error(data: bytes) -> None:
    head = bytes([records.VERSION])
    try:
        tag, body = records.decode_op(data)
        assert records.OP_MAGIC + head + bytes([tag]) + body == data  # canonical
    except LatticeError:
        pass
    try:
        kind, task, value, reason = records.decode_record(data)
    except LatticeError:
        return
    again = {
        records.RESULT: lambda: records.result_record(task, value),  # type: ignore[arg-type]
        records.END: lambda: records.end_record(task, value, reason),  # type: ignore[arg-type]
        records.WRONG: lambda: records.wrong_record(task, value, reason),  # type: ignore[arg-type]
    }[kind]()
    assert again == data  # canonical


@settings(max_examples=300)
@given(st.one_of(mutated("task"), mutated("ack"), mutated("abandon")))
def test_the_grid_s_wire_messages_decode_canonically_or_refuse(data: bytes) -> None:
    try:
        msg = wire.decode(data)
    except DecodeError:
        return
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
        TaskSpec.from_genesis(worker, other.public_key, view, genesis)
    with pytest.raises(lattice.errors.InvalidArgument, match="cannot multiply"):
        TaskSpec.new("matmul", [np.eye(3), np.eye(2)])


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
    def __init__(self, n: int) -> None:
        self.identity = lattice.Identity.from_seed(bytes([0x5C, n]) + bytes(30))
        self.key = self.identity.public_key
        self.sent: list[tuple[str, bytes]] = []
        self.nonce = 0

    def assign(self, view: bytes, deadline: float, genesis: bytes) -> None:
        self.sent.append(("task", view))

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
    for bad in (np.full((2, 2), np.nan), np.full((2, 2), 1e160)):
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

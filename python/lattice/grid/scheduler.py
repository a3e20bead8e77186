"""The owner's scheduler (DESIGN §12): tasks dispatched to admitted workers, answered by
commit then reveal, verified, and recorded in the owner's log.

A task runs in **rounds**. A round hands ``needed`` workers a fresh view each (the task's
redundancy; BOINC-style adaptive replication runs a task on one worker alone, with
probability 1 − 1/valid-count, once that worker has :data:`ADAPTIVE_MIN_VALID` valid
results and no wrong one since). Each worker **commits** — a digest of its result
sealed with its key — within the task's deadline; a worker silent at half the deadline
gets a speculative second, and one silent at the deadline is abandoned. Once ``needed``
commits are in, or the deadline has passed with at least one, the committed workers are
asked to **reveal**; a commit after that is refused, so a result seen anywhere cannot be
committed to any more, and a reveal must open its sender's own commit. Then the round's
results are **verified**: with ``verify="freivalds"`` each by Freivalds' check (the first
good one is the task's result), with ``verify="none"`` by a strict majority of equal
results over at least ``redundancy // 2 + 1`` votes (equal as the kernel counts them:
byte-equal for int64, within rounding for float64). A wrong result lowers its worker's
score (§11), is recorded (``WRONG``) and resets its valid count; the task goes on to a
new round while ``retries`` allow. The verified result is a ``RESULT`` record (the
worker's signed reveal) in the owner's log; a task that ends otherwise gets an ``END``.

The scheduler is sans-I/O: its node gives it the time (:meth:`Scheduler.tick`), workers
(:meth:`ready`, :meth:`gone`) and their ops (:meth:`take`); it calls back through each
worker's :class:`Link` and appends through its :class:`Host`. It does nothing while its
host cannot sign (:attr:`Host.writable`: a restarted owner not caught up with its own
log), and writes each record before it changes what the record says.
"""

from __future__ import annotations

import functools
import logging
import random
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Mapping
from typing import Protocol

from lattice import _lattice
from lattice.errors import (
    InvalidArgument,
    LatticeError,
    LimitExceeded,
    NotSynced,
    ResultRefused,
)
from lattice.grid import records, recovery, verdicts
from lattice.grid.freivalds import Prepared, prepare
from lattice.grid.rounds import FINAL, FINISHED_EVENTS, STATUSES, Assignment, Link, Task
from lattice.grid.task import TaskSpec
from lattice.identity import Identity
from lattice.state.handover import Handover

__all__ = [
    "ADAPTIVE_MIN_VALID",
    "MAX_LIVE_TASKS",
    "SPECULATE_AT",
    "STATUSES",
    "Host",
    "Link",
    "Scheduler",
    "Task",
]

log = logging.getLogger("lattice.grid")

#: Valid results (none wrong since) before a worker's tasks may run on it alone.
ADAPTIVE_MIN_VALID = 10
#: The fraction of its deadline after which a silent worker gets a speculative second.
SPECULATE_AT = 0.5
#: Tasks queued or running at once; more are refused (LimitExceeded).
MAX_LIVE_TASKS = 4096
#: Times a task's round is run again because its check failed on the owner's side.
MAX_OWNER_FAILURES = 3
#: Views of abandoned assignments remembered, so a late answer is ignored, not refused.
MAX_ENDED_VIEWS = 65536


class Host(Protocol):
    """What the scheduler needs of its node."""

    @property
    def identity(self) -> Identity: ...

    @property
    def writable(self) -> bool:
        """Whether it can sign records now."""
        ...

    def append_record(self, payload: bytes) -> _lattice.Entry: ...

    def frontier(self) -> Mapping[bytes, tuple[int, bytes]]: ...

    def score(self, worker: bytes, event: str) -> None:
        """Tell the reputation (§11): ``valid``, ``wrong``, ``late`` or ``refused``."""
        ...


class Scheduler:
    """The owner's tasks and the workers that serve them."""

    def __init__(
        self,
        host: Host,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.host = host
        self.clock = clock
        self.rng = rng or random.Random()
        self.tasks: dict[bytes, Task] = {}
        #: The tasks queued or running (what each tick looks at), in submission order.
        self.live: dict[bytes, Task] = {}
        self.queue: deque[bytes] = deque()
        self.links: dict[Link, int] = {}  # worker link → free slots
        self.views: dict[bytes, Assignment] = {}
        self._ended: OrderedDict[bytes, None] = OrderedDict()
        #: Valid results per worker since its last wrong one (adaptive replication).
        self.valid: dict[bytes, int] = {}
        #: Told of every task event: (task id, status, detail).
        self.listeners: list[Callable[[bytes, str, str], None]] = []

    # --- the owner's side ----------------------------------------------------------

    def submit(
        self, spec: TaskSpec, payload: bytes | None = None, prepared: Prepared | None = None
    ) -> Task:
        """Record ``spec`` in the owner's log and queue it (``payload``, ``prepared``: its
        entry and its Freivalds rows, made beforehand off the event loop)."""
        live = len(self.live)
        if live >= MAX_LIVE_TASKS:
            raise LimitExceeded(
                f"{live} grid tasks are queued or running (at most {MAX_LIVE_TASKS})"
            )
        if spec.task in self.tasks:
            raise InvalidArgument("a task with this id exists already")
        if not self.host.writable:
            raise NotSynced("the owner cannot sign yet: no task is taken")
        self.host.append_record(spec.to_payload() if payload is None else payload)
        task = self._track(spec, self.clock())
        task.prepared = prepared
        self._dispatch()
        return task

    def _track(self, spec: TaskSpec, now: float, detail: str = "submitted") -> Task:
        task = self.tasks[spec.task] = self.live[spec.task] = Task(spec, now)
        self._event(task, "queued", detail)
        self.queue.append(spec.task)
        return task

    def cancel(self, task_id: bytes) -> Task:
        """Cancel a task: queued, it never runs; running, its workers are told to stop and
        what they send later is ignored."""
        task = self.get(task_id)
        if task.status in FINAL:
            return task
        if not self.host.writable:
            raise NotSynced("the owner cannot sign yet: nothing is cancelled")
        self._end(task, "cancelled", "cancelled by its owner")
        return task

    def get(self, task_id: bytes) -> Task:
        task = self.tasks.get(bytes(task_id))
        if task is None:
            raise InvalidArgument(f"no grid task {bytes(task_id).hex()[:16]}…")
        return task

    def result(self, task_id: bytes, fetch: Callable[[bytes], bytes]) -> tuple[bytes, bytes]:
        """The verified result of a task (grid array bytes) and the worker that gave it;
        ``fetch`` reads an entry's payload from the owner's log."""
        task = self.get(task_id)
        if task.result_entry is None:
            raise InvalidArgument(f"task {task_id.hex()[:16]}… is {task.status}: no result")
        record = records.decode_record(fetch(task.result_entry))
        assert record.tag == records.RESULT and isinstance(record.body, bytes)
        op = _lattice.ClientOp.from_bytes(record.body)
        _, result = records.decode_op(op.payload)
        return result, op.client

    # --- workers -------------------------------------------------------------------

    def ready(self, link: Link, slots: int) -> None:
        """A worker can take ``slots`` more tasks at once."""
        self.links[link] = self.links.get(link, 0) + slots
        self._dispatch()

    def gone(self, link: Link) -> None:
        """A worker's connection ended: its assignments are lost."""
        self.links.pop(link, None)
        for a in [a for a in self.views.values() if a.link is link]:
            self.tasks[a.task].failed.add(a.worker)
            self._abandon(a, "its worker disconnected", tell=False)
        self.tick()

    def unsent(self, link: Link, view: bytes, reason: str) -> None:
        """The owner could not send ``link`` the task of ``view``: that assignment is over,
        its worker not blamed (nor shunned for the task), and the round topped up."""
        a = self.views.get(view)
        if a is None or a.link is not link:
            return
        self._abandon(a, reason, tell=False)
        self._dispatch()

    def take(self, link: Link, op: _lattice.ClientOp) -> bool:
        """A worker's commit or reveal: True once taken (the caller acknowledges it once
        the owner's log is durable), False if it came for a task that is over for it
        (ignored); :class:`~lattice.errors.ResultRefused` for anything else, and
        :class:`~lattice.errors.NotSynced` (the owner's, not the worker's, failing) while
        the owner cannot sign."""
        if not self.host.writable:
            raise NotSynced("the owner cannot sign yet: a grid op waits")
        if op.client != link.key:
            raise ResultRefused("a grid op signed by another key", author=link.key)
        a = self.views.get(op.swarm)
        if a is None:
            if op.swarm in self._ended:
                return False  # late: the task moved on without it
            raise ResultRefused("no task of this worker has that view", author=link.key)
        if a.link is not link:
            raise ResultRefused("another worker's task", author=link.key)
        if not op.verify():
            raise ResultRefused("a grid op whose signature does not verify", author=link.key)
        if op.nonce <= a.nonce:
            raise ResultRefused(
                "a grid op replayed (its nonce is not above the last)", author=link.key
            )
        try:
            tag, body = records.decode_op(op.payload)
        except LatticeError as exc:
            raise ResultRefused(f"not a grid op: {exc}", author=link.key) from exc
        task = self.tasks[a.task]
        now = self.clock()
        if tag == records.COMMIT:
            if a.state != "out":  # (an "out" view is retired once the reveals open)
                raise ResultRefused("this worker committed in this task already", author=link.key)
            a.nonce, a.digest, a.state = op.nonce, body, "committed"
            self._event(task, "committed", f"worker {link.key.hex()[:8]} committed")
            self._maybe_open(task, now)
            return True
        if a.state != "committed" or task.phase != "reveal":
            raise ResultRefused(
                "a reveal before its commit was asked for (commits first, then reveals)",
                author=link.key,
            )
        if records.commit_digest(a.view, link.key, body) != a.digest:
            raise ResultRefused(
                "the reveal does not open this worker's commit (a copied result?)",
                author=link.key,
            )
        a.nonce, a.reveal, a.result, a.state = op.nonce, op.to_bytes(), body, "revealed"
        self._retire(a)  # its worker is done with it: a slot free, a repeat ignored
        self._event(task, "revealed", f"worker {link.key.hex()[:8]} revealed")
        self._maybe_verify(task, now)
        return True

    # --- time ----------------------------------------------------------------------

    def tick(self) -> None:
        """Deadlines, speculative dispatch, timeouts, and the queue."""
        if not self.host.writable:
            return  # nothing is decided that it could not record
        now = self.clock()
        for task in list(self.live.values()):
            spec = task.spec
            if spec.timeout and now >= task.created + spec.timeout:
                self._end(task, "timed out", f"its timeout of {spec.timeout:g} s passed")
                continue
            if task.phase == "commit":
                self._commit_deadlines(task, now)
            elif task.phase == "reveal":
                for a in task.live():
                    if now >= task.opened + spec.deadline:
                        self.host.score(a.worker, "late")
                        task.failed.add(a.worker)
                        self._abandon(a, "it committed but did not reveal in time")
                self._maybe_verify(task, now)
        self._dispatch()

    def _commit_deadlines(self, task: Task, now: float) -> None:
        spec = task.spec
        for a in task.live():
            if a.state == "out" and now >= a.sent + spec.deadline:
                self.host.score(a.worker, "late")
                task.failed.add(a.worker)
                self._abandon(a, f"no commit within its deadline of {spec.deadline:g} s")
        out = [a for a in task.live() if a.state == "out"]
        committed = [a for a in task.live() if a.state == "committed"]
        if (
            out
            and not task.speculated
            and any(now >= a.sent + SPECULATE_AT * spec.deadline for a in out)
            and self._dispatch_to(task, 1, speculative=True)
        ):
            task.speculated = True
        if task.phase != "commit":
            return
        if committed and now >= task.started + spec.deadline:
            self._open(task, now)  # (short of the redundancy: the round's deadline)
        elif not out and not committed:
            self._next_round(task, "no worker committed in time", timed_out=True)

    # --- rounds --------------------------------------------------------------------

    def _dispatch(self) -> None:
        """Start the first round of queued tasks, in order, while idle workers remain; a
        task no idle worker fits keeps its place and the ones behind it go on."""
        if not self.host.writable:
            return  # a recovered task waits until its owner can record what it does
        for task in list(self.live.values()):  # rounds short of their workers: topped up
            if task.phase == "commit" and self._idle():
                short = task.needed - len(task.live())
                if short > 0:
                    self._dispatch_to(task, short)
        waiting: deque[bytes] = deque()
        while self.queue and self._idle():
            task_id = self.queue.popleft()
            queued = self.tasks.get(task_id)
            if queued is None or queued.status in FINAL or queued.phase is not None:
                continue
            if not self._start_round(queued):
                waiting.append(task_id)  # no worker fit for this one now
        waiting.extend(self.queue)
        self.queue = waiting

    def _idle(self) -> list[Link]:
        return [link for link, free in self.links.items() if free > 0]

    def _candidates(self, task: Task) -> list[Link]:
        """Idle workers fit for ``task``: of its kernel, not in it now, never wrong on it
        and without a vote in it; those it has not tried first, then the freest."""
        shunned = {a.worker for a in task.live()} | task.wrong | task.failed | set(task.votes)
        name = task.spec.kernel
        idle = [link for link in self._idle() if link.key not in shunned and name in link.kernels]
        idle.sort(key=lambda link: (link.key in task.workers, -self.links[link]))
        return idle

    def _start_round(self, task: Task) -> bool:
        now = self.clock()
        fit = self._candidates(task)
        if not fit:
            return False
        needed = self._needed(task, fit[0])
        task.round += 1
        task.needed, task.phase, task.started, task.speculated = needed, "commit", now, False
        if not self._dispatch_to(task, needed):
            task.phase = None
            task.round -= 1
            return False
        return True

    def _needed(self, task: Task, first: Link) -> int:
        spec = task.spec
        if task.round > 0:  # a later round: what is missing
            if spec.verify == "freivalds":
                return 1
            return max(1, (spec.redundancy // 2 + 1) - self._best_vote(task))
        valid = self.valid.get(first.key, 0)
        # (with a vote, one result is no majority: every task is replicated)
        long_record = spec.verify == "freivalds" and spec.redundancy > 1
        long_record = long_record and valid >= ADAPTIVE_MIN_VALID
        if long_record and self.rng.random() >= 1.0 / valid:
            return 1  # replicated with probability 1/valid-count: this time on it alone
        return spec.redundancy

    def _dispatch_to(self, task: Task, count: int, speculative: bool = False) -> bool:
        """Hand ``count`` fresh views of ``task`` to idle workers (those not in it now
        first); whether any went out."""
        sent = 0
        for link in self._candidates(task)[:count]:
            view = Handover.new(self.host.frontier(), link.key).view
            a = Assignment(view, task.id, link, task.round, self.clock(), speculative)
            self.views[view] = a
            task.assignments[view] = a
            task.workers.add(link.key)
            self.links[link] -= 1
            genesis = functools.partial(_genesis, task.spec, self.host.identity, view)
            link.assign(view, task.spec.deadline, genesis)
            sent += 1
            what = "speculatively " if speculative else ""
            self._event(
                task, "dispatched", f"round {task.round}: {what}to worker {link.key.hex()[:8]}"
            )
        return sent > 0

    def _maybe_open(self, task: Task, now: float) -> None:
        committed = [a for a in task.live() if a.state == "committed"]
        if task.phase == "commit" and len(committed) >= task.needed:
            self._open(task, now)

    def _open(self, task: Task, now: float) -> None:
        """Commits are in: the committed reveal; the others are not needed."""
        task.phase, task.opened = "reveal", now
        for a in task.live():
            if a.state == "out":
                self._abandon(a, "its round has the commits it needs")
        for a in task.live():
            a.link.reveal_now(a.view)

    def _maybe_verify(self, task: Task, now: float) -> None:
        if task.phase != "reveal" or any(a.state == "committed" for a in task.live()):
            return
        revealed = [
            a for a in task.assignments.values() if a.round == task.round and a.state == "revealed"
        ]
        task.phase = None
        if not revealed:
            self._next_round(task, "no worker revealed in time", timed_out=True)
            return
        if task.spec.verify == "freivalds":
            self._verify_each(task, revealed)
        else:
            self._vote(task, revealed)

    def _owner_failed(self, task: Task, exc: Exception) -> None:
        """A check failed on the owner's side, not for a worker's result: the round is
        run again (no retry charged, nobody blamed), at most :data:`MAX_OWNER_FAILURES`
        times."""
        log.error("task %s could not be checked: %s", task.id.hex()[:8], exc)
        task.owner_failures += 1
        why = f"its results could not be checked here ({type(exc).__name__}: {exc})"
        if task.owner_failures > MAX_OWNER_FAILURES:
            self._end(task, "rejected", why)
            return
        self._event(task, "queued", why)
        if task.id not in self.queue:
            self.queue.appendleft(task.id)
        self._dispatch()

    def _verify_each(self, task: Task, revealed: list[Assignment]) -> None:
        try:
            if task.prepared is None:
                task.prepared = prepare(task.spec.inputs[0], task.spec.inputs[1])
            faults = verdicts.freivalds(
                task.spec, task.prepared, [a.reveal_result for a in revealed]
            )
        except Exception as exc:  # the owner's failing, whatever it is: nobody blamed
            self._owner_failed(task, exc)
            return
        good = [a for a, why in zip(revealed, faults, strict=True) if why is None]
        for a, why in zip(revealed, faults, strict=True):
            if why is not None:
                self._wrong(task, a, why)
        if good:
            self._verified(task, good[0], good)
        else:
            self._next_round(task, "no result passed Freivalds' check")

    def _best_vote(self, task: Task) -> int:
        return max((len(g) for g in verdicts.groups(task.spec, task.votes)), default=0)

    def _vote(self, task: Task, revealed: list[Assignment]) -> None:
        spec = task.spec
        try:
            faults = [verdicts.fault(spec, a.reveal_result) for a in revealed]
            votes = dict(task.votes)
            for a, why in zip(revealed, faults, strict=True):
                if why is None:
                    votes[a.worker] = a.reveal_result
            found = verdicts.groups(spec, votes)
        except Exception as exc:  # the owner's failing, whatever it is: nobody blamed
            self._owner_failed(task, exc)
            return
        for a, why in zip(revealed, faults, strict=True):
            if why is not None:
                self._wrong(task, a, why)
        task.votes = votes
        need = spec.redundancy // 2 + 1
        for members in found:
            if len(members) >= need and 2 * len(members) > len(votes):
                voted = [  # every round's votes, credited once
                    a
                    for a in task.assignments.values()
                    if a.state == "revealed" and a.worker in votes
                ]
                majority = sorted(
                    (a for a in voted if a.worker in members),
                    key=lambda a: members.index(a.worker),  # the most agreed-with first
                )
                for a in voted:
                    if a.worker not in members:
                        self._wrong(task, a, "outvoted by the majority")
                self._verified(task, majority[0], majority)
                return
        self._next_round(task, "no strict majority yet")

    def _next_round(self, task: Task, why: str, timed_out: bool = False) -> None:
        task.phase = None
        if task.retries_used >= task.spec.retries:
            status = "timed out" if timed_out and not task.wrong else "rejected"
            self._end(task, status, f"{why}; its {task.spec.retries} retries are used")
            return
        task.retries_used += 1
        self._event(task, "queued", f"{why}: round {task.round + 1} (retry {task.retries_used})")
        self.queue.appendleft(task.id)
        self._dispatch()

    # --- outcomes ------------------------------------------------------------------

    def _valid(self, a: Assignment) -> None:
        a.state = "valid"
        self.valid[a.worker] = self.valid.get(a.worker, 0) + 1
        self.host.score(a.worker, "valid")

    def _wrong(self, task: Task, a: Assignment, reason: str) -> None:
        self.host.append_record(records.wrong_record(task.id, a.worker, reason))
        task.wrong.add(a.worker)
        self.valid[a.worker] = 0
        self.host.score(a.worker, "wrong")
        a.state = "wrong"
        self._retire(a)
        self._event(task, "rejected result", f"worker {a.worker.hex()[:8]}: {reason}")

    def _verified(self, task: Task, a: Assignment, valid: list[Assignment]) -> None:
        """``a``'s result is the task's; every one of ``valid`` (``a`` among them) was a
        valid result, and the record credits them all."""
        assert a.reveal is not None
        others = [v.worker for v in valid if v is not a]
        entry = self.host.append_record(records.result_record(task.id, a.reveal, others))
        for v in valid:
            self._valid(v)
        task.result_entry, task.worker = entry.id, a.worker
        self._finish(task)
        self._event(task, "verified", f"result of worker {a.worker.hex()[:8]}")

    def _end(self, task: Task, status: str, reason: str) -> None:
        code = {v: k for k, v in records.END_STATUS.items()}[status]
        self.host.append_record(records.end_record(task.id, code, reason))
        task.reason = reason
        self._finish(task)
        self._event(task, status, reason)

    def _finish(self, task: Task) -> None:
        """The task is over: its workers are told, and what it no longer needs — inputs,
        results, votes, the check — is let go (its summary stays; the log keeps the rest)."""
        task.phase = None
        for a in task.live():
            self._abandon(a, "the task is over")
        for a in list(task.assignments.values()):
            self._retire(a)
        task.assignments.clear()
        task.votes.clear()
        task.prepared = None
        task.spec = task.spec.header()
        self.live.pop(task.id, None)

    def _abandon(self, a: Assignment, reason: str, tell: bool = True) -> None:
        if a.state in ("out", "committed"):
            a.state = "abandoned"
            if tell:
                a.link.abandon(a.view, reason)
            task = self.tasks.get(a.task)
            if task is not None:
                self._event(task, "abandoned", f"worker {a.worker.hex()[:8]}: {reason}")
        self._retire(a)

    def _retire(self, a: Assignment) -> None:
        """The view is over: its worker's slot is free, a late op for it is ignored."""
        if self.views.pop(a.view, None) is not None:
            if a.link in self.links:
                self.links[a.link] += 1
            self._ended[a.view] = None
            if len(self._ended) > MAX_ENDED_VIEWS:
                self._ended.popitem(last=False)

    def _event(self, task: Task, status: str, detail: str) -> None:
        task.note(self.clock(), status, detail)
        if status in FINAL:
            task.trim(FINISHED_EVENTS)  # a finished task's summary stays small
        log.info("task %s: %s %s", task.id.hex()[:8], status, detail)
        for listener in list(self.listeners):
            listener(task.id, status, detail)

    # --- after a restart -------------------------------------------------------------

    def recover(self, entries: Iterable[_lattice.Entry]) -> int:
        """Rebuild the tasks from the owner's own ``DATA`` entries (in log order): those
        with a result or an end are done; the others are queued again. Returns how many
        were queued (:mod:`lattice.grid.recovery`)."""
        now = self.clock()
        queued = recovery.replay(self.tasks, self.valid, entries, now)
        self.live.update((t.id, t) for t in queued)
        self.queue.extend(t.id for t in queued)
        return len(queued)


def _genesis(spec: TaskSpec, owner: Identity, view: bytes) -> bytes:
    return spec.snapshot(owner, view).to_bytes()

"""A grid worker (DESIGN §12): it connects to one owner as a ``worker``, takes one task at
a time as the genesis of a fresh view, computes it, and answers with a commit, then —
once the owner asks — the reveal.

A worker computes with a named numeric kernel (``matmul``: numpy, float64) or with an
admitted Wasm state machine (``matmul-i64``: the shipped ``statemachines/matmul.c``, run
only if the worker's attestation policy admits the blob, DESIGN §10). It never sees more
than the task's visible state: no entry, key or history of the owner's log.

:class:`Behaviour` names what the tests and ``lattice demo grid`` run besides an honest
worker — one that lies (a random result, one cell off by one, a float perturbation), one
that copies another worker's ops (from that worker's ``tap``), one that is slow, one that
never answers, one that commits and never reveals — so that each is a real worker
process, refused by the real owner.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from lattice import _lattice
from lattice.entry import Kind
from lattice.errors import HandshakeRefused, InvalidArgument, LatticeError, ProtocolError
from lattice.grid import arrays, records
from lattice.grid.kernels import KERNELS, kernel, reference, wasm_answer, wasm_request
from lattice.grid.task import Job
from lattice.identity import Identity
from lattice.net import wire
from lattice.net.connection import Connection, Limits, dial, keep_alive
from lattice.state.wasm import WasmStateMachine
from lattice.sybil.records import Admission

__all__ = ["BEHAVIOURS", "Behaviour", "Worker", "WorkerStats"]

log = logging.getLogger("lattice.worker")

BEHAVIOURS = (
    "honest",
    "random",
    "off-by-one",
    "perturb",
    "copy-commit",
    "copy-reveal",
    "slow",
    "silent",
    "no-reveal",
)
#: Seconds between tries to reach the owner again.
RECONNECT = 0.5


@dataclasses.dataclass(frozen=True)
class Behaviour:
    """How a worker answers: ``honest``, or an adversary of the tests and the demo.
    ``delay``: seconds a ``slow`` worker waits before it commits. ``tap``: a file an
    honest worker appends each op it sends to (hex, one a line: what a relay in the middle
    would see); ``copy_from``: the tap a copier reads."""

    name: str = "honest"
    delay: float = 0.0
    tap: Path | None = None
    copy_from: Path | None = None

    def __post_init__(self) -> None:
        if self.name not in BEHAVIOURS:
            raise InvalidArgument(f"a worker behaves as one of {', '.join(BEHAVIOURS)}")
        if self.name.startswith("copy") and self.copy_from is None:
            raise InvalidArgument("a copier needs the tap it copies from (copy_from)")

    def lie(self, result: NDArray[Any]) -> NDArray[Any]:
        """The result this worker sends for ``result``."""
        out = np.array(result, copy=True)
        if self.name == "random":
            rng = np.random.default_rng()
            if out.dtype == np.int64:
                return rng.integers(-(2**62), 2**62, size=out.shape, dtype=np.int64)
            return rng.standard_normal(out.shape)
        if self.name == "off-by-one":
            out.flat[out.size // 2] += 1
        elif self.name == "perturb":
            scale = float(np.abs(out).max()) or 1.0
            out.flat[out.size // 2] += scale * 1e-3  # far above Freivalds' float tolerance
        return out


@dataclasses.dataclass
class WorkerStats:
    """What a worker did: tasks received, committed, revealed, acknowledged, abandoned."""

    tasks: int = 0
    commits: int = 0
    reveals: int = 0
    acked: int = 0
    ignored: int = 0
    abandoned: int = 0
    refusals: list[str] = dataclasses.field(default_factory=list)


class Worker:
    """One worker of one owner's grid."""

    def __init__(
        self,
        identity: Identity,
        swarm_id: bytes,
        owner: tuple[str, int],
        owner_key: bytes | None = None,
        *,
        slots: int = 1,
        machine: WasmStateMachine | None = None,
        admission: Admission | None = None,
        behaviour: Behaviour | None = None,
        limits: Limits | None = None,
        on_event: Callable[[str], None] | None = None,
        tap: Callable[[bytes], None] | None = None,
    ) -> None:
        self.identity = identity
        self.swarm_id = swarm_id
        self.owner = owner
        self.owner_key = owner_key
        self.slots = slots
        self.machine = machine
        self.admission = admission
        self.behaviour = behaviour or Behaviour()
        self.limits = limits or Limits()
        self.on_event = on_event or (lambda text: log.info("%s", text))
        #: Told every plaintext byte string received (the owner's hello, then each frame).
        self.tap = tap
        self.stats = WorkerStats()
        self._nonce = time.time_ns()
        self._results: dict[bytes, bytes] = {}
        self._jobs: dict[bytes, asyncio.Task[None]] = {}
        self._machine_lock = asyncio.Lock()

    @property
    def kernels(self) -> tuple[str, ...]:
        """The kernels this worker computes (a Wasm one only with its machine admitted)."""
        return tuple(
            sorted(k.name for k in KERNELS.values() if not k.wasm or self.machine is not None)
        )

    # --- the connection --------------------------------------------------------------

    async def run(self, tasks: int | None = None) -> None:
        """Serve the owner until cancelled (or after ``tasks`` tasks were revealed),
        reconnecting when the connection ends; a graylisted worker stops (the owner will
        not take it back)."""
        while tasks is None or self.stats.reveals < tasks:
            try:
                await self._session(tasks)
            except HandshakeRefused as exc:
                self._refused(exc)
                if "graylisted" in str(exc):
                    raise
            except (LatticeError, OSError) as exc:
                self._refused(exc)
            if tasks is not None and self.stats.reveals >= tasks:
                return
            await asyncio.sleep(RECONNECT)

    def _refused(self, exc: Exception) -> None:
        self.stats.refusals.append(str(exc))
        self.on_event(f"connection ended: {exc}")

    async def _session(self, tasks: int | None) -> None:
        conn = await dial(
            self.owner,
            self.identity,
            self.swarm_id,
            _lattice.ROLE_WORKER,
            self.limits,
            expect=self.owner_key,
            tap=self.tap,
        )
        self.owner_key = conn.remote
        keepalive = asyncio.ensure_future(keep_alive(conn))
        try:
            if self.admission is not None:
                await conn.send(wire.Admit(int(Kind.ADMISSION), self.admission.to_bytes()))
            await conn.send(wire.Work(self.slots, self.kernels))
            while tasks is None or self.stats.reveals < tasks:
                await self._handle(conn, await conn.recv())
        finally:
            for job in self._jobs.values():
                job.cancel()
            self._jobs.clear()
            self._results.clear()
            keepalive.cancel()
            await conn.close()

    async def _handle(self, conn: Connection, msg: wire.Message) -> None:
        match msg:
            case wire.Task(_deadline_ms, genesis):
                self.stats.tasks += 1
                view = _lattice.Entry.from_bytes(genesis).swarm
                job = asyncio.ensure_future(self._work(conn, view, genesis))
                self._jobs[view] = job
                job.add_done_callback(functools.partial(self._done, view))
            case wire.Reveal(view):
                await self._reveal(conn, view)
            case wire.Abandon(view, reason):
                self.stats.abandoned += 1
                running = self._jobs.pop(view, None)
                if running is not None:
                    running.cancel()
                self._results.pop(view, None)
                self.on_event(f"task {view.hex()[:8]} abandoned: {reason}")
            case wire.GridAck(_view, _nonce, taken):
                if taken:
                    self.stats.acked += 1
                else:
                    self.stats.ignored += 1
                    self.on_event("an op came late: the owner ignored it")
            case wire.OpAck() | wire.Ping():
                pass
            case wire.Refused(reason):
                raise ProtocolError(f"refused by the owner: {reason}", author=conn.remote)
            case _:
                raise ProtocolError(f"unexpected {type(msg).__name__} from the owner")

    def _done(self, view: bytes, job: asyncio.Task[None]) -> None:
        if self._jobs.get(view) is job:
            del self._jobs[view]
        if not job.cancelled() and job.exception() is not None:
            self.on_event(f"task {view.hex()[:8]} failed here: {job.exception()}")

    # --- one task ------------------------------------------------------------------------

    async def _work(self, conn: Connection, view: bytes, genesis: bytes) -> None:
        assert self.owner_key is not None
        spec = Job.from_genesis(self.identity, self.owner_key, view, genesis)
        b = self.behaviour
        if b.name == "silent":
            return
        if b.name == "copy-commit":
            await conn.send(wire.Op(await self._copied(records.COMMIT)))
            return
        result = await self._compute(spec)
        data = arrays.encode(b.lie(result))
        if b.name == "slow":
            await asyncio.sleep(b.delay)
        if b.name == "copy-reveal":
            data = b"not computed: this worker copies"
        self._results[view] = data
        await self._send(conn, view, records.commit_op(view, self.identity.public_key, data))
        self.stats.commits += 1
        self.on_event(f"task {view.hex()[:8]} ({spec.kernel}): committed")

    async def _compute(self, spec: Job) -> NDArray[Any]:
        k = kernel(spec.kernel)
        a, b = spec.inputs
        if not k.wasm:
            return await asyncio.to_thread(reference, spec.kernel, [a, b])
        if self.machine is None:
            raise InvalidArgument(f"{spec.kernel} runs in the Wasm kernel, and none is admitted")
        raw_a, raw_b = a.astype("<i8").tobytes(), b.astype("<i8").tobytes()
        request = wasm_request(a.shape, b.shape, raw_a, raw_b)
        machine = self.machine
        async with self._machine_lock:  # one store, one call at a time
            answer = await asyncio.to_thread(machine.query, request)
        return wasm_answer(answer, k.result_shape([a, b]))

    async def _reveal(self, conn: Connection, view: bytes) -> None:
        if self.behaviour.name == "no-reveal":
            return
        if self.behaviour.name == "copy-reveal":
            stolen = _lattice.ClientOp.from_bytes(await self._copied(records.REVEAL))
            await self._send(conn, view, stolen.payload)  # another's result, as its own
            return
        data = self._results.pop(view, None)
        if data is None:
            return  # abandoned meanwhile
        await self._send(conn, view, records.reveal_op(data))
        self.stats.reveals += 1
        self.on_event(f"task {view.hex()[:8]}: revealed")

    async def _send(self, conn: Connection, view: bytes, payload: bytes) -> None:
        self._nonce = max(self._nonce + 1, time.time_ns())
        op = _lattice.ClientOp.create(self.identity.signing_key, view, self._nonce, payload)
        data = op.to_bytes()
        if self.behaviour.tap is not None:
            with self.behaviour.tap.open("a") as tap:
                tap.write(data.hex() + "\n")
        await conn.send(wire.Op(data))

    async def _copied(self, tag: int) -> bytes:
        """The latest op of kind ``tag`` on the tap it copies from (waiting for one)."""
        source = self.behaviour.copy_from
        assert source is not None
        while True:
            with contextlib.suppress(OSError):
                for line in reversed(source.read_text().split()):
                    raw = bytes.fromhex(line)
                    op = _lattice.ClientOp.from_bytes(raw)
                    if records.decode_op(op.payload)[0] == tag:
                        return raw
            await asyncio.sleep(0.05)

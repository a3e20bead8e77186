"""A grid task as a document (DESIGN §12): what the owner submits, what its deep log keeps,
and the one thing a worker sees — the synthetic genesis (§8) of that task alone.

A task is the document ``"grid:" ‖ task id`` with two maps: ``task`` (``kernel``,
``redundancy``, ``verify``, ``deadline``, ``retries``, ``timeout``) and ``inputs`` (``a``,
``b``: grid arrays, :mod:`lattice.grid.arrays`). The owner's log holds it as one ``DATA``
entry, the op batch of that document (docs/format.md "Grid tasks"). Each dispatch hands a
worker a fresh view of what it needs of it — ``task.kernel`` and the ``inputs``, not how
the owner checks it or how often it retries: a shallow log whose entry 1 (``SNAPSHOT``,
signed by the owner, swarm field the view id) carries its collapsed snapshot, the
visible state and nothing of the owner's history. A worker reads it as a :class:`Job`.

>>> import numpy as np, lattice
>>> a = np.eye(2)
>>> spec = TaskSpec.new("matmul", [a, a])
>>> owner, worker = lattice.Identity.generate(), lattice.Identity.generate()
>>> view, genesis = spec.genesis(owner, {}, worker.public_key)
>>> job = Job.from_genesis(worker, owner.public_key, view, genesis)
>>> job.kernel, bool((job.inputs[0] == a).all())
('matmul', True)
"""

from __future__ import annotations

import dataclasses
import math
import secrets
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from lattice import _lattice
from lattice.entry import Kind
from lattice.errors import DecodeError, InvalidArgument, LimitExceeded
from lattice.grid import arrays
from lattice.grid.kernels import kernel
from lattice.identity import Identity
from lattice.replica import Replica
from lattice.state import ops as opcodec
from lattice.state import snapshot
from lattice.state.doc import Doc
from lattice.state.guest import Guest
from lattice.state.handover import Handover
from lattice.state.ops import Batch, MapSet, Value

__all__ = [
    "DEFAULT_DEADLINE",
    "DEFAULT_REDUNDANCY",
    "DEFAULT_RETRIES",
    "DOC_PREFIX",
    "MAX_REDUNDANCY",
    "VERIFY_MODES",
    "Job",
    "TaskSpec",
    "task_of",
]

#: Task documents' ids: this, then the 32-byte task id.
DOC_PREFIX = b"grid:"
DEFAULT_REDUNDANCY = 2
MAX_REDUNDANCY = 9
#: Seconds a worker has to commit after a dispatch, and to reveal once asked.
DEFAULT_DEADLINE = 30.0
MAX_DEADLINE = 24 * 3600.0
#: Rounds after the first a task may take (re-dispatches and extra replicas).
DEFAULT_RETRIES = 3
MAX_RETRIES = 100
#: "freivalds": each result checked (and the redundancy's majority not needed);
#: "none": a strict majority of equal redundant results (byte-equal for int64, within
#: rounding for float64: lattice.grid.kernels.Kernel.agree).
VERIFY_MODES = ("freivalds", "none")


def task_of(doc_id: bytes) -> bytes | None:
    """The task id a document id names, or None for any other document."""
    if len(doc_id) == len(DOC_PREFIX) + _lattice.ID_LEN and doc_id.startswith(DOC_PREFIX):
        return doc_id[len(DOC_PREFIX) :]
    return None


def _number(value: object, what: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidArgument(f"a task's {what} is a number, not {value!r}")
    if not low <= value <= high:
        raise InvalidArgument(f"a task's {what} is {low:g} to {high:g}, not {value!r}")
    return float(value)


@dataclasses.dataclass(frozen=True)
class TaskSpec:
    """One task: ``inputs`` are the kernel's matrices; ``deadline`` the seconds a worker
    has for each step; ``timeout`` the seconds for the whole task (0: none)."""

    task: bytes
    kernel: str
    inputs: tuple[NDArray[Any], ...]
    redundancy: int = DEFAULT_REDUNDANCY
    verify: str = "freivalds"
    deadline: float = DEFAULT_DEADLINE
    retries: int = DEFAULT_RETRIES
    timeout: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.task, bytes) or len(self.task) != _lattice.ID_LEN:
            raise InvalidArgument("a task id is 32 bytes")
        k = kernel(self.kernel)
        k.check_inputs(self.inputs)
        for name, low, high in (("redundancy", 1, MAX_REDUNDANCY), ("retries", 0, MAX_RETRIES)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise InvalidArgument(
                    f"a task's {name} is a whole number {low} to {high}, not {value!r}"
                )
        if self.verify not in VERIFY_MODES:
            raise InvalidArgument(
                f"verify is one of {', '.join(VERIFY_MODES)}, not {self.verify!r}"
            )
        if self.verify == "freivalds" and not k.freivalds:
            raise InvalidArgument(f"{self.kernel} has no Freivalds check (use verify='none')")
        object.__setattr__(
            self, "deadline", _number(self.deadline, "deadline", 0.001, MAX_DEADLINE)
        )
        object.__setattr__(self, "timeout", _number(self.timeout, "timeout", 0.0, MAX_DEADLINE))

    @classmethod
    def new(
        cls,
        kernel_name: str,
        inputs: Sequence[NDArray[Any]],
        *,
        redundancy: int = DEFAULT_REDUNDANCY,
        verify: str = "freivalds",
        deadline: float = DEFAULT_DEADLINE,
        retries: int = DEFAULT_RETRIES,
        timeout: float = 0.0,
    ) -> TaskSpec:
        """A task with a fresh random id."""
        return cls(
            secrets.token_bytes(_lattice.ID_LEN),
            kernel_name,
            tuple(np.asarray(x) for x in inputs),
            redundancy,
            verify,
            deadline,
            retries,
            timeout,
        )

    @property
    def doc_id(self) -> bytes:
        return DOC_PREFIX + self.task

    def ops(self, worker: bool = False) -> tuple[MapSet, ...]:
        """The document's contents, as the ops of its one transaction (``worker``: only
        what a worker's view holds, the kernel and the inputs)."""
        fields: dict[str, Value] = {"kernel": self.kernel}
        if not worker:
            fields |= {
                "redundancy": self.redundancy,
                "verify": self.verify,
                "deadline": self.deadline,
                "retries": self.retries,
                "timeout": self.timeout,
            }
        return (
            *(MapSet("task", k, v) for k, v in fields.items()),
            *(
                MapSet("inputs", name, arrays.encode(x))
                for name, x in zip("ab", self.inputs, strict=True)
            ),
        )

    def to_payload(self) -> bytes:
        """The ``DATA`` payload the owner's log keeps: the document's op batch."""
        payload = opcodec.encode(Batch(self.doc_id, self.ops()))
        if len(payload) > _lattice.MAX_PAYLOAD_LEN:
            raise LimitExceeded(
                f"a task of {len(payload)} bytes: its inputs must fit one entry "
                f"({_lattice.MAX_PAYLOAD_LEN} bytes)"
            )
        return payload

    def document(self, worker: bool = False) -> Doc:
        """The task as a local document (``worker``: what a view of it collapses)."""
        doc = Doc(None, self.doc_id)
        with doc.transaction():
            for op in self.ops(worker):
                doc.map(op.name)[op.key] = op.value
        return doc

    def header(self) -> TaskSpec:
        """This task without its inputs: what the owner keeps in memory of a task that is
        over (its status and summary; its inputs stay in the log). Not a task to run."""
        brief = object.__new__(TaskSpec)
        for field in dataclasses.fields(self):
            value = () if field.name == "inputs" else getattr(self, field.name)
            object.__setattr__(brief, field.name, value)
        return brief

    @classmethod
    def from_doc(cls, task: bytes, doc: Doc) -> TaskSpec:
        """The task a document holds (a typed error if it is not a task)."""
        fields = doc.map("task").to_py()
        try:
            return cls(
                task,
                str(fields["kernel"]),
                _inputs(doc),
                fields["redundancy"],  # type: ignore[arg-type]
                str(fields["verify"]),
                fields["deadline"],  # type: ignore[arg-type]
                fields["retries"],  # type: ignore[arg-type]
                fields["timeout"],  # type: ignore[arg-type]
            )
        except KeyError as exc:
            raise DecodeError(f"a task document without {exc.args[0]!r}") from None
        except InvalidArgument as exc:
            raise DecodeError(f"not a valid task: {exc.message}") from None

    @classmethod
    def from_payload(cls, payload: bytes) -> TaskSpec:
        """The task in the owner's ``DATA`` entry (its op batch)."""
        batch = opcodec.decode(payload)
        task = task_of(batch.doc)
        if task is None:
            raise DecodeError("not a grid task's batch")
        doc = Doc(None, batch.doc)
        with doc.transaction():
            for op in batch.ops:
                if not isinstance(op, MapSet):
                    raise DecodeError("a grid task's batch holds map sets only")
                doc.map(op.name)[op.key] = op.value
        return cls.from_doc(task, doc)

    def genesis(
        self, owner: Identity, frontier: Mapping[bytes, tuple[int, bytes]], worker: bytes
    ) -> tuple[bytes, _lattice.Entry]:
        """A fresh view of this task for ``worker`` (§8: its id from a random nonce, the
        owner's frontier commitment and the worker's key) and its entry 1, the snapshot."""
        view = Handover.new(frontier, worker).view
        return view, self.snapshot(owner, view)

    def snapshot(self, owner: Identity, view: bytes) -> _lattice.Entry:
        """Entry 1 of the view ``view`` of this task: its collapsed snapshot, signed by
        ``owner`` (the costly part of a dispatch: it may run off the event loop)."""
        collapsed = snapshot.collapse(self.document(worker=True).objects, view)
        packed = snapshot.pack(collapsed.snapshot)
        if len(packed) > _lattice.MAX_PAYLOAD_LEN:
            raise LimitExceeded(f"a task whose snapshot packs to {len(packed)} bytes")
        shallow = Replica(owner, peers=[owner.public_key], swarm_id=view)
        return shallow.append(packed, Kind.SNAPSHOT)


def _inputs(doc: Doc) -> tuple[NDArray[Any], ...]:
    inputs = doc.map("inputs").to_py()
    try:
        raw = [inputs["a"], inputs["b"]]
    except KeyError as exc:
        raise DecodeError(f"a task document without input {exc.args[0]!r}") from None
    if not all(isinstance(x, bytes) for x in raw):
        raise DecodeError("a task's inputs are grid arrays")
    return tuple(arrays.decode(x) for x in raw if isinstance(x, bytes))


@dataclasses.dataclass(frozen=True)
class Job:
    """What a worker knows of a task: its view (the only id it sees), the kernel and the
    inputs, checked as the kernel takes them."""

    view: bytes
    kernel: str
    inputs: tuple[NDArray[Any], ...]

    @classmethod
    def from_genesis(
        cls, worker: Identity, owner: bytes, view: bytes, genesis: bytes | _lattice.Entry
    ) -> Job:
        """What a worker reads of the genesis it was handed: checked as any shallow log
        (owner's signature, view, kind), then its document (a typed error otherwise)."""
        guest = Guest(worker, owner, view)
        result = guest.receive([genesis])
        if result.rejected:
            raise result.rejected[0][1]
        if guest.seq != 1 or guest.doc.rejected:
            raise DecodeError("a task's genesis is the owner's snapshot, entry 1 of the view")
        name = guest.doc.map("task").to_py().get("kernel")
        if not isinstance(name, str):
            raise DecodeError("a task document without its kernel")
        inputs = _inputs(guest.doc)
        try:
            kernel(name).check_inputs(inputs)
        except InvalidArgument as exc:
            raise DecodeError(f"not a valid task: {exc.message}") from None
        return cls(view, name, inputs)

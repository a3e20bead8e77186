"""A grid owner's tasks rebuilt from its log after a restart (DESIGN §12).

The log holds each task (its document's op batch) and what became of it: a ``RESULT``
(the accepted reveal, and the other workers whose results were valid), an ``END``, and a
``WRONG`` for each result refused. A task with a result or an end is over, and only its
summary is kept in memory; any other is queued again, its retries less one for each
wrong result recorded for it (the rounds themselves are not recorded). Each worker's
valid count (adaptive replication) is the results credited to it since its last wrong
one.

>>> import lattice, numpy as np
>>> from lattice.grid.task import TaskSpec
>>> spec = TaskSpec.new("matmul", [np.eye(2), np.eye(2)])
>>> owner = lattice.Identity.generate()
>>> r = lattice.Replica(owner, peers=[owner.public_key])
>>> entry = r.append(spec.to_payload())
>>> tasks, valid = {}, {}
>>> [t.status for t in replay(tasks, valid, [entry], now=0.0)]
['queued']
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from lattice import _lattice
from lattice.errors import LatticeError
from lattice.grid import records
from lattice.grid.rounds import FINAL, Task
from lattice.grid.task import TaskSpec, task_of
from lattice.state import ops as opcodec

__all__ = ["replay"]

log = logging.getLogger("lattice.grid")


def replay(
    tasks: dict[bytes, Task],
    valid: dict[bytes, int],
    entries: Iterable[_lattice.Entry],
    now: float,
) -> list[Task]:
    """Fill ``tasks`` and ``valid`` from the owner's ``DATA`` entries (in log order); the
    tasks still open, to queue again."""
    for e in entries:
        payload = e.payload
        try:
            if opcodec.is_batch(payload):
                doc = opcodec.doc_of(payload)
                if doc is None or task_of(doc) is None:
                    continue
                spec = TaskSpec.from_payload(payload)
                task = tasks[spec.task] = Task(spec, now)
                task.note(now, "queued", "submitted before a restart")
            elif records.is_record(payload):
                _record(tasks, valid, records.decode_record(payload), e.id, now)
        except LatticeError as exc:
            log.warning("grid entry %s passed over: %s", e.id.hex()[:8], exc)
    queued = [t for t in tasks.values() if t.status not in FINAL]
    for task in queued:
        task.note(now, "queued", "queued again after a restart")
    return queued


def _record(
    tasks: dict[bytes, Task],
    valid: dict[bytes, int],
    record: records.Record,
    entry_id: bytes,
    now: float,
) -> None:
    task = tasks.get(record.task)
    if record.tag == records.WRONG:
        assert isinstance(record.body, bytes)
        valid[record.body] = 0
        if task is not None and task.status not in FINAL:
            task.wrong.add(record.body)
            task.retries_used = min(task.retries_used + 1, task.spec.retries)
        return
    if task is None or task.status in FINAL:
        return  # (a second record of one task: the first one stands)
    if record.tag == records.RESULT:
        assert isinstance(record.body, bytes)
        worker = _lattice.ClientOp.from_bytes(record.body).client
        for key in (worker, *record.credited):
            valid[key] = valid.get(key, 0) + 1
        task.result_entry, task.worker = entry_id, worker
        task.note(now, "verified", "verified before a restart")
    else:
        assert isinstance(record.body, int)
        task.reason = record.reason
        task.note(now, records.END_STATUS[record.body], record.reason)
    task.spec = task.spec.header()  # over: its inputs stay in the log

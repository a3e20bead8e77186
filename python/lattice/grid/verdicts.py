"""What the owner's checks say of a round's results (DESIGN §12), computed without
changing anything: the scheduler asks, then acts on the answer — so a check that fails on
the owner's side (not the worker's result) leaves the task as it was.

>>> import numpy as np
>>> from lattice.grid import arrays
>>> from lattice.grid.task import TaskSpec
>>> spec = TaskSpec.new("matmul-i64", [np.eye(2, dtype=np.int64)] * 2, verify="none")
>>> good, bad = arrays.encode(np.eye(2, dtype=np.int64)), arrays.encode(np.zeros((2, 2)))
>>> decode_result(spec, good).shape, fault(spec, bad)
((2, 2), 'a (2, 2) float64 result for a (2, 2) int64 product')
>>> groups(spec, {b"w1": good, b"w2": good, b"w3": arrays.encode(2 * np.eye(2, dtype=np.int64))})
[[b'w1', b'w2'], [b'w3']]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from lattice.errors import DecodeError, WrongResult
from lattice.grid import arrays
from lattice.grid.freivalds import Prepared
from lattice.grid.kernels import kernel
from lattice.grid.task import TaskSpec

__all__ = ["decode_result", "fault", "freivalds", "groups"]


def decode_result(spec: TaskSpec, result: bytes) -> NDArray[Any]:
    """A result as the task's kernel gives it (:class:`WrongResult` or a
    :class:`DecodeError` if it is not one)."""
    k = kernel(spec.kernel)
    array = arrays.decode(result)
    want = k.result_shape(spec.inputs)
    if array.dtype != k.dtype or array.shape != want:
        raise WrongResult(f"a {array.shape} {array.dtype} result for a {want} {k.dtype} product")
    return array


def fault(spec: TaskSpec, result: bytes) -> str | None:
    """Why ``result`` is not a result of the task at all, or None."""
    try:
        decode_result(spec, result)
    except (DecodeError, WrongResult) as exc:
        return str(exc)
    return None


def freivalds(spec: TaskSpec, prepared: Prepared, results: Sequence[bytes]) -> list[str | None]:
    """Each result's fault (None: it passes Freivalds' check)."""
    out: list[str | None] = []
    for result in results:
        try:
            ok = prepared.check(decode_result(spec, result))
            out.append(None if ok else "fails Freivalds' check")
        except (DecodeError, WrongResult) as exc:
            out.append(str(exc))
    return out


def groups(spec: TaskSpec, votes: Mapping[bytes, bytes]) -> list[list[bytes]]:
    """The votes (worker → result), grouped by result as the task's kernel counts results
    equal: a vote joins a group only if it agrees with every member (float agreement is
    not transitive); the workers of each group, the one agreeing with most votes first."""
    same = kernel(spec.kernel).agreement(spec.inputs)
    workers = list(votes)
    values = [arrays.decode(votes[w]) for w in workers]
    n = len(values)
    agree = np.eye(n, dtype=bool)
    for i in range(n):
        for j in range(i + 1, n):
            agree[i, j] = agree[j, i] = same(values[i], values[j])
    found: list[list[int]] = []
    for i in range(n):
        for members in found:
            if all(agree[i, j] for j in members):
                members.append(i)
                break
        else:
            found.append([i])
    score = agree.sum(axis=1)
    return [[workers[i] for i in sorted(m, key=lambda i: -int(score[i]))] for m in found]

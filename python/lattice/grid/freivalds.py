"""Freivalds' check of a matrix product (DESIGN §12): is ``C = A·B``, in O(k·n²)?

Each of ``k`` rounds draws a random vector ``r`` and compares ``(rᵀ·A)·B`` with ``rᵀ·C``;
a wrong ``C`` survives a round with probability at most ½, so all ``k`` with at most
2⁻ᵏ (default ``k`` = 20: about one in a million). The rounds run together, as products
with a ``k × m`` matrix of random rows. The owner draws them when the task is made
(:func:`prepare`, the vectors kept from the workers) and checks each result with one
product (:meth:`Prepared.check`).

- **int64** (the shipped Wasm kernel: ``C = A·B mod 2⁶⁴``): ``r`` ∈ {0, 1}ᵐ and exact
  arithmetic mod 2⁶⁴ (``rᵀ·C`` and ``(rᵀA)·B`` in the Rust core, :mod:`lattice._lattice`
  ``thin_*``: one pass over the big matrix on every core). A nonzero column ``d`` of ``A·B − C`` has
  an entry ``d_i ≠ 0``, and of the two values of ``r_i`` at most one makes ``r·d``
  vanish, so the ½ bound holds in the ring too.
- **float64** (numpy ``matmul``): ``r`` ∈ {−1, +1}ᵐ and a tolerance. An honest product
  of an ``m × n`` by an ``n × p`` matrix is off by at most γₙ·|A|·|B| entrywise (γₙ ≈
  n·2⁻⁵³, whatever the summation order), and ``1ᵀ·|A|·|B_j| ≤ √m·‖A‖_F·‖B_j‖₂``, so a
  round passes when, in each column ``j``, ``|(rᵀA)B − rᵀC|_j ≤ τ_j`` with
  ``τ_j = TOLERANCE_FACTOR · (n + m) · 2⁻⁵³ · √m · ‖A‖_F · ‖B_j‖₂``: ``n`` for the
  product checked, ``n`` and ``m`` for the check's ``(rᵀA)·B`` and ``m`` for its
  ``rᵀC`` (a tall ``A``, ``m ≫ n``, rounds mostly in the check), twice that to spare.
  **What it can miss**: a change of one cell ``(i, j)`` smaller than ``τ_j`` — for
  random normal 2048 × 2048 inputs about 2·10⁻⁷ of a typical entry, the order of what
  an honest product computed in another order may differ by; changes in many cells of
  one column whose sum, signed by ``r``, stays below ``τ_j`` in every round — with high
  probability, any set of changes whose 2-norm is below about ``τ_j / 3``, since
  ``r·d`` is then mostly that small; and, with probability ≤ 2⁻ᵏ, larger changes in one
  column that cancel in every round. A change of one cell above ``τ_j`` is caught in
  every round (``r_i = ±1`` never hides it). A result with a NaN or an infinity fails.

>>> import numpy as np
>>> a = np.arange(16, dtype=np.int64).reshape(4, 4)
>>> c = a @ a
>>> check(a, a, c), check(a, a, c + np.eye(4, dtype=np.int64))
(True, False)
>>> f = a.astype(np.float64) / 3
>>> check(f, f, f @ f), check(f, f, (f @ f) * (1 + 1e-9))
(True, False)
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from lattice import _lattice
from lattice.errors import InvalidArgument

__all__ = ["DEFAULT_ROUNDS", "EPSILON", "TOLERANCE_FACTOR", "Prepared", "check", "prepare"]

#: Rounds of Freivalds' check by default: a wrong product passes with probability ≤ 2⁻²⁰.
DEFAULT_ROUNDS = 20
#: The unit roundoff of float64.
EPSILON = 2.0**-53
#: The float64 tolerance in units of (n + m)·2⁻⁵³·√m·‖A‖_F·‖B_j‖₂: 2 for the rounding
#: of the product checked and the check's own products, and 2 to spare.
TOLERANCE_FACTOR = 4.0
_TINY = float(np.finfo(np.float64).tiny)


@dataclasses.dataclass(frozen=True)
class Prepared:
    """The check of results for ``A·B``: the random rows ``r`` (``rounds × m``: for int64
    0/1 bytes, for float64 ±1), what ``rᵀ·A·B`` is, and for float64 the tolerance of each
    column."""

    rows: NDArray[Any]
    expected: NDArray[Any]
    tolerance: NDArray[np.float64] | None
    shape: tuple[int, int]
    dtype: np.dtype[np.generic]

    def check(self, c: NDArray[Any]) -> bool:
        """Whether ``c`` passes every round (one product: ``rᵀ·C``)."""
        c = np.asarray(c)
        if c.shape != self.shape or c.dtype != self.dtype:
            return False
        if self.tolerance is None:
            return bool(np.array_equal(_select_sum(self.rows, c), self.expected))
        # r_i = ±1 never hides a NaN or an infinity of C: its column's sums are NaN or
        # infinite, and neither is within a finite tolerance.
        with np.errstate(invalid="ignore", over="ignore"):
            diff = np.abs(self.rows @ c - self.expected)
            return bool((diff <= self.tolerance).all())


def _words(x: NDArray[Any]) -> NDArray[np.uint64]:
    """``x`` as C-contiguous, 8-byte-aligned ``uint64`` (a copy only if it is not: a
    result decoded from bytes may start anywhere)."""
    return np.require(x, requirements=["C", "A"]).view(np.uint64)


def _select_sum(rows: NDArray[np.uint8], c: NDArray[Any]) -> NDArray[np.uint64]:
    """``rows @ c`` mod 2⁶⁴ for 0/1 ``rows`` and an int64 ``c``, exactly (in the Rust
    core, one pass over ``c`` on every core: numpy's int64 products use no BLAS)."""
    k = rows.shape[0]
    c = _words(c)
    raw = _lattice.thin_select_sum(np.ascontiguousarray(rows).tobytes(), k, c.data)
    return np.frombuffer(raw, dtype="<u8").reshape(k, c.shape[1])


def _product(x: NDArray[Any], b: NDArray[Any]) -> NDArray[np.uint64]:
    """``x @ b`` mod 2⁶⁴ for int64 ``x`` (a few rows) and ``b``, exactly (in the Rust
    core, one pass over ``b`` on every core)."""
    xs, bs = _words(x), _words(b)
    raw = _lattice.thin_product(xs.data, bs.data)
    return np.frombuffer(raw, dtype="<u8").reshape(x.shape[0], b.shape[1])


def _shapes(a: NDArray[Any], b: NDArray[Any]) -> None:
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
        raise InvalidArgument(f"Freivalds' check of a product of 2-D {a.shape} · {b.shape}")
    if a.dtype != b.dtype or a.dtype not in (np.int64, np.float64):
        raise InvalidArgument(f"int64 or float64 matrices of one dtype, not {a.dtype}, {b.dtype}")


def prepare(
    a: NDArray[Any],
    b: NDArray[Any],
    rounds: int = DEFAULT_ROUNDS,
    rng: np.random.Generator | None = None,
) -> Prepared:
    """Draw ``rounds`` random rows (fresh from the OS unless ``rng`` is given: a worker
    must not know them) and what ``A·B`` gives with them."""
    a, b = np.asarray(a), np.asarray(b)
    _shapes(a, b)
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise InvalidArgument(
            f"Freivalds' check takes a whole number of rounds ≥ 1, not {rounds!r}"
        )
    rng = np.random.default_rng() if rng is None else rng
    m, n = a.shape
    shape = (m, b.shape[1])
    if a.dtype == np.int64:
        rows = rng.integers(0, 2, size=(rounds, m), dtype=np.uint8)
        expected = _product(_select_sum(rows, a), b)
        return Prepared(rows, expected, None, shape, a.dtype)
    signs = rng.integers(0, 2, size=(rounds, m)).astype(np.float64) * 2.0 - 1.0
    expected = (signs @ a) @ b
    columns = np.sqrt(np.einsum("ij,ij->j", b, b))
    norm = float(np.linalg.norm(a))
    scale = TOLERANCE_FACTOR * (n + m) * EPSILON * math.sqrt(m) * norm
    return Prepared(signs, expected, scale * columns + _TINY, shape, a.dtype)


def check(
    a: NDArray[Any],
    b: NDArray[Any],
    c: NDArray[Any],
    rounds: int = DEFAULT_ROUNDS,
    rng: np.random.Generator | None = None,
) -> bool:
    """Whether ``c`` passes ``rounds`` rounds of Freivalds' check as ``a @ b``: exact for
    int64 (mod 2⁶⁴), within the tolerance above for float64."""
    return prepare(a, b, rounds, rng).check(c)

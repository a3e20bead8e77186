"""Freivalds' check of a matrix product (DESIGN §12): is ``C = A·B``, in O(k·n²)?

Each of ``k`` rounds draws a random vector ``r`` and compares ``(rᵀ·A)·B`` with ``rᵀ·C``;
a wrong ``C`` survives a round with probability at most ½, so all ``k`` with at most
2⁻ᵏ (default ``k`` = 20: about one in a million). The rounds run together, as products
with a ``k × m`` matrix of random rows. The owner draws them when the task is made
(:func:`prepare`, the vectors kept from the workers) and checks each result with one
product (:meth:`Prepared.check`).

- **int64** (the shipped Wasm kernel: ``C = A·B mod 2⁶⁴``): ``r`` ∈ {0, 1}ᵐ and exact
  arithmetic mod 2⁶⁴ (``rᵀ·C`` as sums of 32-bit halves on the float64 BLAS, exact below
  2⁵³, and ``(rᵀA)·B`` in 16-bit limbs on the same BLAS: numpy's own int64 products
  do not use it). A nonzero column ``d`` of ``A·B − C`` has
  an entry ``d_i ≠ 0``, and of the two values of ``r_i`` at most one makes ``r·d``
  vanish, so the ½ bound holds in the ring too.
- **float64** (numpy ``matmul``): ``r`` ∈ {−1, +1}ᵐ and a tolerance. An honest product
  of an ``m × n`` by an ``n × p`` matrix is off by at most γₙ·|A|·|B| entrywise (γₙ ≈
  n·2⁻⁵³, whatever the summation order), and ``1ᵀ·|A|·|B_j| ≤ √m·‖A‖_F·‖B_j‖₂``, so a
  round passes when, in each column ``j``, ``|(rᵀA)B − rᵀC|_j ≤ τ_j`` with
  ``τ_j = TOLERANCE_FACTOR · n · 2⁻⁵³ · √m · ‖A‖_F · ‖B_j‖₂`` (the factor covers the
  product checked and the check's own rounding). **What it can miss**: a change of a
  cell ``(i, j)`` smaller than ``τ_j`` — for random normal 2048 × 2048 inputs about
  2·10⁻⁷ of a typical entry, the order of what an honest product computed in another
  order may differ by; and, with probability ≤ 2⁻ᵏ, changes in several cells of one
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

from lattice.errors import InvalidArgument

__all__ = ["DEFAULT_ROUNDS", "EPSILON", "TOLERANCE_FACTOR", "Prepared", "check", "prepare"]

#: Rounds of Freivalds' check by default: a wrong product passes with probability ≤ 2⁻²⁰.
DEFAULT_ROUNDS = 20
#: The unit roundoff of float64.
EPSILON = 2.0**-53
#: The float64 tolerance in units of n·2⁻⁵³·√m·‖A‖_F·‖B_j‖₂: 2 for the product checked,
#: 2 for each of the check's own two products, and 2 to spare.
TOLERANCE_FACTOR = 8.0
_TINY = float(np.finfo(np.float64).tiny)


@dataclasses.dataclass(frozen=True)
class Prepared:
    """The check of results for ``A·B``: the random rows ``r`` (``rounds × m``), what
    ``rᵀ·A·B`` is, and for float64 the tolerance of each column."""

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
        if not np.isfinite(c).all():
            return False
        diff = np.abs(self.rows @ c - self.expected)
        return bool((diff <= self.tolerance).all())


def _select_sum(rows: NDArray[Any], c: NDArray[Any]) -> NDArray[np.uint64]:
    """``rows @ c`` mod 2⁶⁴ for 0/1 ``rows`` (float64) and an int64 ``c``, exactly, on the
    float64 BLAS: ``c`` split into 32-bit halves, whose sums over at most 2¹⁴ rows stay
    below 2⁵³ (numpy's int64 products do not use BLAS and are far slower)."""
    m, n = c.shape
    halves = np.ascontiguousarray(c).view(np.uint32).reshape(m, n, 2)  # little-endian
    low = (rows @ halves[:, :, 0].astype(np.float64)).astype(np.uint64)
    high = (rows @ halves[:, :, 1].astype(np.float64)).astype(np.uint64)
    return low + (high << np.uint64(32))  # wraps mod 2⁶⁴


def _product(x: NDArray[Any], b: NDArray[Any]) -> NDArray[np.uint64]:
    """``x @ b`` mod 2⁶⁴ for int64 ``x`` (a few rows) and ``b``, exactly, on the float64
    BLAS: both split into 16-bit limbs, the ten limb products whose weight is below 2⁶⁴
    summed (each below 2⁴⁶ over at most 2¹⁴ terms, so exact in float64)."""
    k, n = x.shape
    m = b.shape[1]
    xs = np.ascontiguousarray(x).view(np.uint16).reshape(k, n, 4)  # little-endian limbs
    bs = np.ascontiguousarray(b).view(np.uint16).reshape(n, m, 4)
    x_limbs = [xs[:, :, i].astype(np.float64) for i in range(4)]
    out = np.zeros((k, m), dtype=np.uint64)
    for j in range(4):
        b_limb = bs[:, :, j].astype(np.float64)
        for i in range(4 - j):
            out += (x_limbs[i] @ b_limb).astype(np.uint64) << np.uint64(16 * (i + j))
    return out


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
        rows = rng.integers(0, 2, size=(rounds, m)).astype(np.float64)
        expected = _product(_select_sum(rows, a).view(np.int64), b)
        return Prepared(rows, expected, None, shape, a.dtype)
    rows = rng.integers(0, 2, size=(rounds, m)).astype(np.float64) * 2.0 - 1.0
    expected = (rows @ a) @ b
    columns = np.sqrt(np.einsum("ij,ij->j", b, b))
    scale = TOLERANCE_FACTOR * n * EPSILON * math.sqrt(m) * float(np.linalg.norm(a))
    return Prepared(rows, expected, scale * columns + _TINY, shape, a.dtype)


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

"""The kernels a grid task names (DESIGN §12): what a worker computes, and what its result
must look like.

- ``matmul``: the float64 product of two matrices, computed with numpy (``A @ B``);
  checked by Freivalds' check within its stated tolerance (:mod:`lattice.grid.freivalds`).
- ``matmul-i64``: the int64 product mod 2⁶⁴, computed by the shipped Wasm state machine
  ``statemachines/matmul.c`` (a worker runs it only once its attestation policy admits
  the blob, DESIGN §10); checked exactly. Its request must fit the machine's I/O buffer
  (:data:`WASM_MAX_REQUEST`: about 180 × 180 for square inputs).

>>> import numpy as np
>>> a = np.arange(4, dtype=np.int64).reshape(2, 2)
>>> KERNELS["matmul-i64"].result_shape([a, a]), KERNELS["matmul-i64"].dtype
((2, 2), dtype('int64'))
>>> bool((reference("matmul-i64", [a, a]) == a @ a).all())
True
>>> f = np.random.default_rng(1).standard_normal((64, 64))
>>> k = KERNELS["matmul"]
>>> k.agree([f, f], f @ f, (f.T @ f.T).T), k.agree([f, f], f @ f, f @ f + 1e-6)
(True, False)
"""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from lattice.errors import InvalidArgument

__all__ = [
    "AGREE_FACTOR",
    "KERNELS",
    "WASM_MAX_REQUEST",
    "WASM_MAX_RESULT",
    "Kernel",
    "reference",
    "wasm_answer",
    "wasm_request",
]

#: The matmul state machine's I/O buffer (``IO_CAP`` in statemachines/abi.h) and the
#: largest answer it gives (``MAX_OUT``).
WASM_MAX_REQUEST = 1 << 20
WASM_MAX_RESULT = WASM_MAX_REQUEST // 2
#: The largest result one reveal carries (lattice.grid.records.MAX_RESULT_LEN).
MAX_RESULT_BYTES = (1 << 20) - 4096
#: The float64 input magnitudes: products and norms of larger ones overflow, and of
#: smaller nonzero ones underflow (a tolerance of zero would refuse honest results).
MAX_FLOAT = 1e100
MIN_FLOAT = 1e-100
#: Two float64 results agree within this many units of n·2⁻⁵³·‖A_i‖₂·‖B_j‖₂: 2 for the
#: two products' rounding, and 2 to spare.
AGREE_FACTOR = 4.0


@dataclasses.dataclass(frozen=True)
class Kernel:
    """A kernel's name, the dtype of its inputs and result, and whether Freivalds' check
    applies (both kernels are matrix products)."""

    name: str
    dtype: np.dtype[np.generic]
    wasm: bool
    freivalds: bool = True

    def check_inputs(self, inputs: Sequence[NDArray[Any]]) -> None:
        """Raise :class:`InvalidArgument` unless ``inputs`` are two matrices this kernel
        multiplies."""
        if len(inputs) != 2:
            raise InvalidArgument(f"{self.name} takes two matrices, not {len(inputs)} inputs")
        a, b = (np.asarray(x) for x in inputs)
        if a.dtype != self.dtype or b.dtype != self.dtype:
            raise InvalidArgument(
                f"{self.name} takes {self.dtype} matrices, not {a.dtype}, {b.dtype}"
            )
        if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
            raise InvalidArgument(f"{self.name} cannot multiply {a.shape} by {b.shape}")
        if 16 + 8 * a.shape[0] * b.shape[1] > MAX_RESULT_BYTES:
            raise InvalidArgument(
                f"a {a.shape[0]} × {b.shape[1]} result does not fit one reveal "
                f"({MAX_RESULT_BYTES} bytes)"
            )
        if self.dtype == np.float64 and not all(_in_range(x) for x in (a, b)):
            raise InvalidArgument(
                f"{self.name} takes finite inputs, each 0 or of magnitude {MIN_FLOAT:g} to "
                f"{MAX_FLOAT:g} (Freivalds' tolerance must neither overflow nor vanish)"
            )
        if self.wasm:
            need = len(wasm_request(a.shape, b.shape, b"", b""))
            request = need + 8 * (a.size + b.size)
            if request > WASM_MAX_REQUEST or 8 * a.shape[0] * b.shape[1] > WASM_MAX_RESULT:
                raise InvalidArgument(
                    f"{self.name} of {a.shape} by {b.shape} exceeds the Wasm kernel's 1 MiB "
                    "buffer (use matmul for larger matrices)"
                )

    def result_shape(self, inputs: Sequence[NDArray[Any]]) -> tuple[int, int]:
        return (int(inputs[0].shape[0]), int(inputs[1].shape[1]))

    def agree(self, inputs: Sequence[NDArray[Any]], x: NDArray[Any], y: NDArray[Any]) -> bool:
        """Whether two results of this kernel count as the same vote: byte-equal for the
        deterministic int64 product; for float64, equal within what two honest products
        summed in different orders (another BLAS, another thread count) may differ by —
        ``|x − y|_ij ≤ AGREE_FACTOR · n · 2⁻⁵³ · ‖A_i‖₂ · ‖B_j‖₂``, since each is within
        ``n · 2⁻⁵³ · (|A|·|B|)_ij`` of the exact product (Cauchy–Schwarz bounds that)."""
        return self.agreement(inputs)(x, y)

    def agreement(
        self, inputs: Sequence[NDArray[Any]]
    ) -> Callable[[NDArray[Any], NDArray[Any]], bool]:
        """:meth:`agree` for these inputs, its bound worked out once."""
        if self.dtype != np.float64:
            return lambda x, y: (
                x.shape == y.shape and x.dtype == y.dtype and bool(np.array_equal(x, y))
            )
        a, b = (np.asarray(v, dtype=np.float64) for v in inputs)
        rows = np.sqrt(np.einsum("ij,ij->i", a, a))
        columns = np.sqrt(np.einsum("ij,ij->j", b, b))
        bound = AGREE_FACTOR * a.shape[1] * 2.0**-53 * np.outer(rows, columns)

        def same(x: NDArray[Any], y: NDArray[Any]) -> bool:
            if x.shape != y.shape or x.dtype != y.dtype:
                return False
            with np.errstate(invalid="ignore", over="ignore"):
                return bool((np.abs(x - y) <= bound).all())  # a NaN never agrees

        return same


def _in_range(x: NDArray[Any]) -> bool:
    magnitude = np.abs(x)
    if not np.isfinite(magnitude).all():
        return False
    nonzero = magnitude[magnitude != 0]
    return nonzero.size == 0 or bool(nonzero.min() >= MIN_FLOAT and nonzero.max() < MAX_FLOAT)


KERNELS: dict[str, Kernel] = {
    "matmul": Kernel("matmul", np.dtype(np.float64), wasm=False),
    "matmul-i64": Kernel("matmul-i64", np.dtype(np.int64), wasm=True),
}


def kernel(name: str) -> Kernel:
    found = KERNELS.get(name)
    if found is None:
        raise InvalidArgument(f"unknown kernel {name!r} (known: {', '.join(sorted(KERNELS))})")
    return found


def reference(name: str, inputs: Sequence[NDArray[Any]]) -> NDArray[Any]:
    """The kernel's result computed here with numpy (for tests, and a numeric worker)."""
    a, b = (np.asarray(x) for x in inputs)
    kernel(name).check_inputs([a, b])
    with np.errstate(over="ignore"):
        out: NDArray[Any] = a @ b
    return out


def wasm_request(a_shape: tuple[int, ...], b_shape: tuple[int, ...], a: bytes, b: bytes) -> bytes:
    """The matmul state machine's request: n u32 ‖ m u32 ‖ k u32 ‖ A ‖ B (little-endian)."""
    n, m = a_shape
    _, k = b_shape
    return struct.pack("<III", n, m, k) + a + b


def wasm_answer(answer: bytes, shape: tuple[int, int]) -> NDArray[np.int64]:
    """The product in the state machine's answer."""
    if len(answer) != 8 * shape[0] * shape[1]:
        raise InvalidArgument(f"the matmul kernel answered {len(answer)} bytes for {shape}")
    return np.frombuffer(answer, dtype="<i8").reshape(shape).astype(np.int64)

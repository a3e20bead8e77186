"""Matrices as grid tasks carry them (DESIGN §12): one canonical codec, little-endian.

::

    array = "LGA" ‖ dtype u8 (1 int64, 2 float64) ‖ rows u32 ‖ cols u32 ‖ data (rows·cols·8)

Only two-dimensional int64 and float64 arrays exist here; anything else — another dtype,
a shape that does not match the data, a dimension of 0 or above :data:`MAX_DIM`, trailing
bytes — is a typed :class:`~lattice.errors.DecodeError` (or
:class:`~lattice.errors.InvalidArgument` when encoding). The layout is in docs/format.md
("Grid arrays").

>>> import numpy as np
>>> a = np.arange(6, dtype=np.int64).reshape(2, 3)
>>> data = encode(a)
>>> data[:4], len(data)
(b'LGA\\x01', 60)
>>> bool((decode(data) == a).all()), decode(data).dtype
(True, dtype('int64'))
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
from numpy.typing import NDArray

from lattice.errors import DecodeError, InvalidArgument, LimitExceeded, Truncated, UnknownKind

__all__ = ["DTYPES", "HEADER_LEN", "MAGIC", "MAX_DIM", "decode", "encode", "encoded_len"]

MAGIC = b"LGA"
#: The dtypes a grid array may have, by their code.
DTYPES: dict[int, np.dtype[np.generic]] = {1: np.dtype("<i8"), 2: np.dtype("<f8")}
_CODES = {np.dtype(np.int64): 1, np.dtype(np.float64): 2}
#: The largest number of rows or columns.
MAX_DIM = 1 << 14
_HEAD = struct.Struct("<BII")
HEADER_LEN = len(MAGIC) + _HEAD.size


def encoded_len(rows: int, cols: int) -> int:
    """The encoded length of a ``rows`` × ``cols`` array."""
    return HEADER_LEN + 8 * rows * cols


def encode(array: NDArray[Any]) -> bytes:
    """The bytes of a 2-D int64 or float64 ``array``."""
    a = np.asarray(array)
    code = _CODES.get(a.dtype)
    if code is None or a.ndim != 2:
        raise InvalidArgument(f"a grid array is 2-D int64 or float64, not {a.ndim}-D {a.dtype}")
    rows, cols = a.shape
    if not (0 < rows <= MAX_DIM and 0 < cols <= MAX_DIM):
        raise InvalidArgument(f"a grid array has 1 to {MAX_DIM} rows and columns, not {a.shape}")
    data = np.ascontiguousarray(a, dtype=DTYPES[code]).tobytes()
    return MAGIC + _HEAD.pack(code, rows, cols) + data


def decode(data: bytes) -> NDArray[Any]:
    """The array in ``data`` (read-only, no copy of the payload)."""
    if len(data) < HEADER_LEN:
        raise Truncated(f"a grid array of {len(data)} bytes (its header is {HEADER_LEN})")
    if data[: len(MAGIC)] != MAGIC:
        raise DecodeError("not a grid array (magic LGA)")
    code, rows, cols = _HEAD.unpack_from(data, len(MAGIC))
    dtype = DTYPES.get(code)
    if dtype is None:
        raise UnknownKind(f"grid array dtype {code} (1 int64, 2 float64)")
    if not (0 < rows <= MAX_DIM and 0 < cols <= MAX_DIM):
        raise LimitExceeded(f"a grid array of {rows} × {cols} (1 to {MAX_DIM} each)")
    want = encoded_len(rows, cols)
    if len(data) < want:
        raise Truncated(f"a {rows} × {cols} grid array needs {want} bytes, not {len(data)}")
    if len(data) > want:
        raise DecodeError(f"{len(data) - want} bytes after a {rows} × {cols} grid array")
    out = np.frombuffer(data, dtype=dtype, offset=HEADER_LEN).reshape(rows, cols)
    return out

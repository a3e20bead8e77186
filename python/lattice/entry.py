"""Entry kinds (DESIGN §3). The ``Entry`` value type itself is the Rust core's.

>>> from lattice import Kind
>>> Kind.NOOP.value
2
"""

from __future__ import annotations

import enum

from lattice import _lattice

__all__ = ["Kind"]


class Kind(enum.IntEnum):
    """What an entry is for; unknown kinds are rejected when decoding."""

    DATA = _lattice.KIND_DATA
    NOOP = _lattice.KIND_NOOP
    WRAP = _lattice.KIND_WRAP
    FRAUD = _lattice.KIND_FRAUD
    ATTESTATION = _lattice.KIND_ATTESTATION
    SNAPSHOT = _lattice.KIND_SNAPSHOT
    BLOB = _lattice.KIND_BLOB
    ADMISSION = _lattice.KIND_ADMISSION
    VOUCH = _lattice.KIND_VOUCH

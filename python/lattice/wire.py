"""Deprecated alias of :mod:`lattice.net.wire`, kept for one release (lattice 0.2 removes it).

Lattice's network code moved into the :mod:`lattice.net` package (DESIGN §1); import
``lattice.net.wire`` instead. Importing this module warns with :class:`DeprecationWarning`.
"""

from __future__ import annotations

import warnings

from lattice.net.wire import (
    MAX_ENTRIES_PER_FRAME,
    MAX_FRONTIER_ITEMS,
    MAX_REQUESTS,
    Credit,
    Entries,
    Fraud,
    Frontier,
    Message,
    MessageType,
    Op,
    OpAck,
    Ping,
    Request,
    Synced,
    decode,
    encode,
)

__all__ = [
    "MAX_ENTRIES_PER_FRAME",
    "MAX_FRONTIER_ITEMS",
    "MAX_REQUESTS",
    "Credit",
    "Entries",
    "Fraud",
    "Frontier",
    "Message",
    "MessageType",
    "Op",
    "OpAck",
    "Ping",
    "Request",
    "Synced",
    "decode",
    "encode",
]

warnings.warn(
    "lattice.wire moved to lattice.net.wire; the old name goes away in lattice 0.2",
    DeprecationWarning,
    stacklevel=2,
)

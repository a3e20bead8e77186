"""Deprecated alias of :mod:`lattice.net.wire`, kept for one release (lattice 0.2 removes it).

Lattice's network code moved into the :mod:`lattice.net` package (DESIGN §1); import
``lattice.net.wire`` instead. Importing this module warns with :class:`DeprecationWarning`.
"""

from __future__ import annotations

from lattice._moved import moved
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

moved("lattice.wire", "lattice.net.wire")

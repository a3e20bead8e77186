"""Deprecated alias of :mod:`lattice.net.connection`, kept for one release (lattice 0.2 removes it).

Lattice's network code moved into the :mod:`lattice.net` package (DESIGN §1); import
``lattice.net.connection`` instead. Importing this module warns with :class:`DeprecationWarning`.
"""

from __future__ import annotations

from lattice._moved import moved
from lattice.net.connection import Connection, Limits, handshake

__all__ = ["Connection", "Limits", "handshake"]

moved("lattice.connection", "lattice.net.connection")

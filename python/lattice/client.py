"""Deprecated alias of :mod:`lattice.net.client`, kept for one release (lattice 0.2 removes it).

Lattice's network code moved into the :mod:`lattice.net` package (DESIGN §1); import
``lattice.net.client`` instead. Importing this module warns with :class:`DeprecationWarning`.
"""

from __future__ import annotations

from lattice._moved import moved
from lattice.net.client import Client

__all__ = ["Client"]

moved("lattice.client", "lattice.net.client")

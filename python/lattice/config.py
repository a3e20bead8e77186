"""Deprecated alias of :mod:`lattice.net.config`, kept for one release (lattice 0.2 removes it).

Lattice's network code moved into the :mod:`lattice.net` package (DESIGN §1); import
``lattice.net.config`` instead. Importing this module warns with :class:`DeprecationWarning`.
"""

from __future__ import annotations

from lattice._moved import moved
from lattice.net.config import (
    Member,
    NodeConfig,
    load,
    render,
)

__all__ = ["Member", "NodeConfig", "load", "render"]

moved("lattice.config", "lattice.net.config")

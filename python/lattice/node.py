"""Deprecated alias of :mod:`lattice.net.node`, kept for one release (lattice 0.2 removes it).

Lattice's network code moved into the :mod:`lattice.net` package (DESIGN §1); import
``lattice.net.node`` instead. Importing this module warns with :class:`DeprecationWarning`.
"""

from __future__ import annotations

from lattice._moved import moved
from lattice.net.local import local_swarm
from lattice.net.node import Node
from lattice.net.process import child_env, free_ports

__all__ = ["Node", "child_env", "free_ports", "local_swarm"]

moved("lattice.node", "lattice.net.node")

"""Deprecated alias of :mod:`lattice.demo.network`, kept for one release (lattice 0.2 removes it).

Lattice's network code moved into the :mod:`lattice.net` package (DESIGN §1); import
``lattice.demo.network`` instead. Importing this module warns with :class:`DeprecationWarning`.
"""

from __future__ import annotations

from lattice._moved import moved
from lattice.demo.network import NetworkSummary, run_network_demo

__all__ = ["NetworkSummary", "run_network_demo"]

moved("lattice.netdemo", "lattice.demo.network")

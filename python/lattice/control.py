"""Deprecated alias of :mod:`lattice.net.control`, kept for one release (lattice 0.2 removes it).

Lattice's network code moved into the :mod:`lattice.net` package (DESIGN §1); import
``lattice.net.control`` instead. Importing this module warns with :class:`DeprecationWarning`.
"""

from __future__ import annotations

from lattice._moved import moved
from lattice.net.control import (
    MAX_REQUEST_LEN,
    matrix_table,
    request,
    serve_control,
)

__all__ = ["MAX_REQUEST_LEN", "matrix_table", "request", "serve_control"]

moved("lattice.control", "lattice.net.control")

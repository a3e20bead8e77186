"""Deprecated alias of :mod:`lattice.net.adversary`, kept for one release (lattice 0.2 removes it).

Lattice's network code moved into the :mod:`lattice.net` package (DESIGN §1); import
``lattice.net.adversary`` instead. Importing this module warns with :class:`DeprecationWarning`.
"""

from __future__ import annotations

import asyncio

from lattice._moved import moved
from lattice.net.adversary import Twin, main

__all__ = ["Twin", "main"]

moved("lattice.adversary", "lattice.net.adversary")

if __name__ == "__main__":
    asyncio.run(main())

"""Deprecated alias of :mod:`lattice.net.adversary`, kept for one release (lattice 0.2 removes it).

Lattice's network code moved into the :mod:`lattice.net` package (DESIGN §1); import
``lattice.net.adversary`` instead. Importing this module warns with :class:`DeprecationWarning`.
"""

from __future__ import annotations

import asyncio
import warnings

from lattice.net.adversary import Twin, main

__all__ = ["Twin", "main"]

warnings.warn(
    "lattice.adversary moved to lattice.net.adversary; the old name goes away in lattice 0.2",
    DeprecationWarning,
    stacklevel=2,
)

if __name__ == "__main__":
    asyncio.run(main())

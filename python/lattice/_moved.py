"""The warning of the deprecated aliases left where modules used to be (README, "Moved
modules"): one place says what moved where, and when the alias goes."""

from __future__ import annotations

import warnings

__all__ = ["REMOVED_IN", "moved"]

#: The release that removes the aliases.
REMOVED_IN = "lattice 0.2"


def moved(old: str, new: str) -> None:
    """Warn, from the alias module ``old``, that it now lives at ``new``."""
    warnings.warn(
        f"{old} moved to {new}; the old name goes away in {REMOVED_IN}",
        DeprecationWarning,
        stacklevel=3,
    )

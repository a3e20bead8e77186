"""The documents a node hands to guests (DESIGN §8): ``[[shares]]`` of its configuration,
each opened for good and followed by its :class:`~lattice.state.views.Views`, whose store
sits beside the node's.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from lattice import _lattice
from lattice.net.config import NodeConfig
from lattice.net.documents import Documents
from lattice.state.views import Views

__all__ = ["close_shares", "open_shares", "views_path"]


def views_path(config: NodeConfig, doc: bytes) -> Path | None:
    """Where the views of ``doc`` live: beside the store (in memory without one)."""
    if config.store is None:
        return None
    tag = _lattice.blake3_raw(doc, 8).hex()
    return config.store.with_name(f"{config.store.stem}.views-{tag}.db")


def open_shares(
    config: NodeConfig,
    documents: Documents,
    defer: Callable[[Callable[[], None]], None] | None = None,
) -> dict[bytes, Views]:
    """The views of every shared document (all or none: a failure closes what opened);
    ``defer`` is the node's ``after_commit`` (a view step is stored after what it shows)."""
    shares: dict[bytes, Views] = {}
    try:
        for share in config.shares:
            doc = documents.open(share.doc, pin=True)
            path = views_path(config, share.doc)
            shares[share.doc] = Views(doc, path, guests=share.guests, defer=defer)
    except BaseException:
        close_shares(shares)
        raise
    return shares


def close_shares(shares: dict[bytes, Views]) -> None:
    for views in shares.values():
        views.close()
    shares.clear()

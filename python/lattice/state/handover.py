"""The handover of a view (DESIGN §8): what names a guest's shallow log.

``view = H_view(nonce ‖ frontier commitment ‖ guest key)``: a fresh random nonce per
handover (two guests' views, or two views of one guest, cannot be linked), the Merkle root
of the owner's frontier at the collapse (the noop frontier-root construction: the causal
context the guest writes against, as a commitment the owner can open to deep peers
instead of a vector clock naming every contributor), and the guest's key.

>>> h = Handover.new({}, bytes(32), nonce=bytes(32))
>>> h.view == view_id(bytes(32), h.frontier_root, bytes(32)), len(h.view)
(True, 32)
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from lattice import _lattice
from lattice.errors import InvalidArgument

__all__ = ["NONCE_LEN", "VIEW_CONTEXT", "Handover", "frontier_commitment", "view_id"]

#: The BLAKE3 key-derivation context of view ids (docs/format.md "Views").
VIEW_CONTEXT = "lattice v1 view"
NONCE_LEN = 32


def frontier_commitment(frontier: Mapping[bytes, tuple[int, bytes]]) -> bytes:
    """The Merkle root of a frontier (peer → (seq, id)), as a noop's ``frontier_root``."""
    return _lattice.frontier_root(
        (peer, seq, entry) for peer, (seq, entry) in sorted(frontier.items()) if seq
    )


def view_id(nonce: bytes, frontier_root: bytes, guest: bytes) -> bytes:
    """``H_view(nonce ‖ frontier commitment ‖ guest key)``."""
    for what, value in (("nonce", nonce), ("frontier root", frontier_root), ("guest", guest)):
        if not isinstance(value, bytes) or len(value) != 32:
            raise InvalidArgument(f"a view's {what} is 32 bytes")
    return _lattice.blake3_derive_key(VIEW_CONTEXT, nonce + frontier_root + guest)


@dataclass(frozen=True)
class Handover:
    """One view handed over: its id and what it was derived from (the owner keeps these;
    the guest learns only the id)."""

    view: bytes
    nonce: bytes
    frontier_root: bytes
    guest: bytes

    @classmethod
    def new(
        cls,
        frontier: Mapping[bytes, tuple[int, bytes]],
        guest: bytes,
        nonce: bytes | None = None,
    ) -> Handover:
        """A handover at ``frontier`` to ``guest`` (a fresh random nonce unless given)."""
        nonce = secrets.token_bytes(NONCE_LEN) if nonce is None else bytes(nonce)
        root = frontier_commitment(frontier)
        return cls(view_id(nonce, root, bytes(guest)), nonce, root, bytes(guest))

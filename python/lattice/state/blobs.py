"""Blobs in the log (DESIGN §10): Wasm modules distributed as ``BLOB`` system entries.

A blob is the whole payload of one ``BLOB`` entry, so it is signed, entangled and relayed
like any entry, and is at most one entry's payload (1 MiB: :data:`MAX_BLOB_LEN`; a larger
module is refused with :class:`~lattice.errors.LimitExceeded` — the shipped state machines
are a few KiB). It is named by its digests, ``{"sha256": hex, "blake3": hex}``, and
:class:`Blobs` finds one by either.

>>> import lattice
>>> me = lattice.Identity.generate()
>>> rep = lattice.Replica(me, peers=[me.public_key])
>>> blobs = Blobs(rep)
>>> names = blobs.publish(b"\\x00asm\\x01\\x00\\x00\\x00")
>>> blobs.get(names["sha256"]) == blobs.get(names["blake3"]) == b"\\x00asm\\x01\\x00\\x00\\x00"
True
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lattice import _lattice
from lattice.entry import Kind
from lattice.errors import InvalidArgument, LimitExceeded
from lattice.state.wasm import digests

if TYPE_CHECKING:
    from lattice.replica import Replica

__all__ = ["MAX_BLOB_LEN", "Blobs"]

#: The largest blob: one entry's payload.
MAX_BLOB_LEN = _lattice.MAX_PAYLOAD_LEN
_BLOB = int(Kind.BLOB)


class Blobs:
    """The blobs a replica has delivered, by digest (rebuilt from its log, then followed)."""

    def __init__(self, replica: Replica) -> None:
        self.replica = replica
        self._by_digest: dict[str, bytes] = {}  # hex digest -> entry id
        for entry in replica.iter_entries():
            self._delivered(entry)
        replica.delivery_listeners.append(self._delivered)

    def _delivered(self, entry: _lattice.Entry, replay: bool = False) -> None:
        if entry.kind == _BLOB:
            for digest in digests(entry.payload).values():
                self._by_digest.setdefault(digest, entry.id)

    def publish(self, blob: bytes) -> dict[str, str]:
        """Append ``blob`` as a BLOB entry (once: one already held is not appended again);
        its digests."""
        if not isinstance(blob, bytes | bytearray | memoryview):
            raise InvalidArgument(f"a blob is bytes, not {type(blob).__name__}")
        blob = bytes(blob)
        if len(blob) > MAX_BLOB_LEN:
            raise LimitExceeded(
                f"a blob of {len(blob)} bytes: a blob is one entry's payload, at most "
                f"{MAX_BLOB_LEN} bytes"
            )
        names = digests(blob)
        if names["sha256"] not in self._by_digest:
            self.replica.append(blob, Kind.BLOB)
        return names

    def entry_of(self, digest: str) -> bytes | None:
        """The id of the entry that carries the blob with this digest (hex), if any."""
        return self._by_digest.get(digest.lower())

    def get(self, digest: str) -> bytes | None:
        """The blob with this SHA-256 or BLAKE3 digest (hex), if this replica holds it."""
        entry_id = self.entry_of(digest)
        if entry_id is None:
            return None
        entry = self.replica.get(entry_id)
        return None if entry is None else entry.payload

    def __contains__(self, digest: object) -> bool:
        return isinstance(digest, str) and digest.lower() in self._by_digest

    def close(self) -> None:
        if self._delivered in self.replica.delivery_listeners:
            self.replica.delivery_listeners.remove(self._delivered)

"""Scanning bytes for what must not be in them (DESIGN §8): the audit behind the guest
byte scan. Every plaintext a guest received is searched for each needle, raw and as
inflated from every offset (raw deflate, zlib and gzip streams that end where they
should), so a compressed copy of the past is found as surely as a plain one.

>>> import zlib
>>> hidden = zlib.compress(b"a deleted secret sentence")
>>> scan([b"header" + hidden], {"secret": [b"deleted secret"]})
{'secret': 1}
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping

__all__ = ["MAX_INFLATE", "inflated", "scan"]

#: The most bytes one stream is inflated to.
MAX_INFLATE = 1 << 24
#: Shorter inflations are noise from a random offset, not a copy of anything.
_MIN_STREAM = 16
_WBITS = (-15, 15, 31)  # raw deflate, zlib, gzip


def inflated(data: bytes) -> list[bytes]:
    """Every complete deflate, zlib or gzip stream that starts anywhere in ``data``."""
    out = []
    for offset in range(len(data)):
        for wbits in _WBITS:
            d = zlib.decompressobj(wbits)
            try:
                got = d.decompress(data[offset:], MAX_INFLATE)
            except zlib.error:
                continue
            if len(got) >= _MIN_STREAM and d.eof:
                out.append(got)
    return out


def scan(received: Iterable[bytes], needles: Mapping[str, Iterable[bytes]]) -> dict[str, int]:
    """How many of each kind of needle occur in ``received`` (each piece as it came, and
    everything inflated from it)."""
    corpus: list[bytes] = []
    for piece in received:
        corpus.append(piece)
        corpus.extend(inflated(piece))
    return {
        kind: sum(1 for n in group if n and any(n in c for c in corpus))
        for kind, group in needles.items()
    }

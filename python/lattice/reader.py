"""The bounded byte reader under Python's decoders (wire messages, document op batches,
document states): every read checks what is left, so a short input is a typed
:class:`~lattice.errors.Truncated`, never an ``IndexError`` or a silent short slice.

>>> r = Reader(b"\\x01\\x00\\x00\\x00\\x02ab")
>>> r.u8("tag"), r.u32("count"), r.take(2, "name")
(1, 2, b'ab')
>>> r.finish()
"""

from __future__ import annotations

import struct

from lattice.errors import TrailingBytes, Truncated

__all__ = ["Reader"]

_U32 = struct.Struct(">I")


class Reader:
    """Reads ``data`` from ``pos`` on; each read names ``what`` it reads, for the error."""

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = memoryview(data)
        self.pos = pos

    def take(self, n: int, what: str) -> bytes:
        if self.pos + n > len(self.data):
            raise Truncated(
                f"{what}: need {n} bytes at {self.pos}, have {len(self.data) - self.pos}"
            )
        out = bytes(self.data[self.pos : self.pos + n])
        self.pos += n
        return out

    def u8(self, what: str) -> int:
        if self.pos >= len(self.data):
            raise Truncated(f"{what}: need 1 byte at {self.pos}")
        self.pos += 1
        return self.data[self.pos - 1]

    def u32(self, what: str) -> int:
        return int(_U32.unpack(self.take(4, what))[0])

    def finish(self, after: str = "the message") -> None:
        """Raise :class:`~lattice.errors.TrailingBytes` unless everything was read."""
        if self.pos != len(self.data):
            raise TrailingBytes(f"{len(self.data) - self.pos} bytes after {after}")

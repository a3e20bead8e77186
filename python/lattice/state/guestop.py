"""Guest ops (DESIGN §8): what a guest signs to write to its view.

A guest op is a client op (DESIGN §6) whose swarm field is the view id; its payload says
which view seq it was made against and carries an op batch in view space (the batch's doc
id is the view, its elements are view ids). Its layout is in docs/format.md ("Guest
op")::

    payload = "LGOP" ‖ view_seq u64 ‖ op batch

A guest's text insert goes *after* an element (``RIGHT`` of it; ``None``: at the start):
the guest knows its view's order, not the deep tree, and its owner places the insert
right after the same deep element.

>>> from lattice import _lattice
>>> from lattice.state.ops import TextInsert
>>> key = _lattice.SigningKey.generate()
>>> op = create(key, bytes([7]) * 32, 1, 1, (TextInsert("body", None, 1, "hi"),))
>>> seq, batch = parse(op)
>>> seq, batch.ops[0].text, op.swarm == batch.doc
(1, 'hi', True)
"""

from __future__ import annotations

import struct

from lattice import _lattice
from lattice.errors import DecodeError, LimitExceeded
from lattice.state import ops as opcodec
from lattice.state.ops import Batch, Op

__all__ = ["MAGIC", "MAX_GUEST_OP_LEN", "create", "parse"]

MAGIC = b"LGOP"
#: The largest guest op an owner takes (a guest's flood of huge ops stops here).
MAX_GUEST_OP_LEN = 256 << 10
_HEAD = len(MAGIC) + 8


def create(
    signing_key: _lattice.SigningKey, view: bytes, nonce: int, view_seq: int, ops: tuple[Op, ...]
) -> _lattice.ClientOp:
    """The signed guest op of ``ops``, made against ``view_seq`` of ``view``."""
    payload = MAGIC + struct.pack(">Q", view_seq) + opcodec.encode(Batch(view, tuple(ops)))
    if len(payload) > MAX_GUEST_OP_LEN:
        raise LimitExceeded(f"a guest op of {len(payload)} bytes (limit {MAX_GUEST_OP_LEN})")
    return _lattice.ClientOp.create(signing_key, view, nonce, payload)


def parse(op: _lattice.ClientOp) -> tuple[int, Batch]:
    """``(view seq, batch)`` of a guest op; a typed DecodeError if it is not one."""
    payload = op.payload
    if len(payload) > MAX_GUEST_OP_LEN:
        raise LimitExceeded(f"a guest op of {len(payload)} bytes (limit {MAX_GUEST_OP_LEN})")
    if payload[: len(MAGIC)] != MAGIC or len(payload) < _HEAD:
        raise DecodeError("not a guest op")
    (view_seq,) = struct.unpack(">Q", payload[len(MAGIC) : _HEAD])
    return view_seq, opcodec.decode(payload[_HEAD:])

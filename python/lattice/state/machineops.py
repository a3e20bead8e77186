"""The machine batch: one transaction of a document bound to a Wasm state machine
(DESIGN §10), the payload of one DATA entry. One codec, strict both ways::

    batch = "LWSM" ‖ version u8 (1) ‖ doc_len u8 ‖ doc ‖ machine (32: the blob's SHA-256)
            ‖ count u32 ‖ (len u32 ‖ op)*                           (integers big-endian)

The ops are the module's business (it frames them in its I/O buffer, ABI v0); the batch
names the state machine they need, so a replica that has not admitted that blob knows
what the entry waits for. Every count and length is bounded by the payload; truncation,
trailing bytes, an unknown version, an empty batch and an over-long doc id are typed
:class:`~lattice.errors.DecodeError`\\ s.

>>> b = MachineBatch(b"tally", bytes(32), (b"\\x05", b"\\x07"))
>>> decode(encode(b)) == b, is_machine_batch(encode(b)), is_machine_batch(b"LDOC...")
(True, True, False)
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from lattice import _lattice
from lattice.errors import DecodeError, InvalidArgument, LimitExceeded, UnknownVersion
from lattice.reader import Reader
from lattice.state.ops import MAX_DOC_ID_LEN

__all__ = ["MAGIC", "MAX_OPS", "VERSION", "MachineBatch", "decode", "encode", "is_machine_batch"]

MAGIC = b"LWSM"
VERSION = 1
#: The most ops in one batch (each is at least its 4-byte length: an entry holds fewer).
MAX_OPS = _lattice.MAX_PAYLOAD_LEN // 4
_DIGEST_LEN = 32
_U32 = struct.Struct(">I")


@dataclass(frozen=True, slots=True)
class MachineBatch:
    """Document ``doc``'s ops for the state machine whose blob has SHA-256 ``machine``."""

    doc: bytes
    machine: bytes
    ops: tuple[bytes, ...]


def encode(batch: MachineBatch) -> bytes:
    """The batch's bytes (InvalidArgument / LimitExceeded for one that cannot be one)."""
    if len(batch.doc) > MAX_DOC_ID_LEN:
        raise InvalidArgument(f"a doc id is at most {MAX_DOC_ID_LEN} bytes")
    if len(batch.machine) != _DIGEST_LEN:
        raise InvalidArgument("a state machine is named by its blob's 32-byte SHA-256")
    if not batch.ops:
        raise InvalidArgument("a batch has at least one op")
    if len(batch.ops) > MAX_OPS:
        raise LimitExceeded(f"{len(batch.ops)} ops in one batch (limit {MAX_OPS})")
    parts = [MAGIC, bytes([VERSION, len(batch.doc)]), batch.doc, batch.machine]
    parts.append(_U32.pack(len(batch.ops)))
    for op in batch.ops:
        if not isinstance(op, bytes | bytearray | memoryview):
            raise InvalidArgument(f"an op is bytes, not {type(op).__name__}")
        parts += [_U32.pack(len(op)), bytes(op)]
    out = b"".join(parts)
    if len(out) > _lattice.MAX_PAYLOAD_LEN:
        raise LimitExceeded(
            f"a batch of {len(out)} bytes; an entry holds {_lattice.MAX_PAYLOAD_LEN}"
        )
    return out


def is_machine_batch(payload: bytes) -> bool:
    """Whether ``payload`` claims to be a machine batch (its magic)."""
    return payload[: len(MAGIC)] == MAGIC


def decode(payload: bytes) -> MachineBatch:
    """The batch in ``payload``; a typed DecodeError for anything else."""
    if not is_machine_batch(payload):
        raise DecodeError("not a machine batch")
    r = Reader(payload, len(MAGIC))
    version = r.u8("the version")
    if version != VERSION:
        raise UnknownVersion(f"machine batch version {version} (this lattice reads {VERSION})")
    size = r.u8("the doc id's length")
    if size > MAX_DOC_ID_LEN:
        raise LimitExceeded(f"a doc id of {size} bytes (limit {MAX_DOC_ID_LEN})")
    doc = r.take(size, "the doc id")
    machine = r.take(_DIGEST_LEN, "the state machine")
    count = r.u32("the op count")
    if count == 0:
        raise DecodeError("a batch has at least one op")
    if count > (len(payload) - r.pos) // 4:
        raise LimitExceeded(f"{count} ops in {len(payload) - r.pos} bytes")
    ops = tuple(r.take(r.u32("an op's length"), "an op") for _ in range(count))
    r.finish("the batch")
    return MachineBatch(doc, machine, ops)

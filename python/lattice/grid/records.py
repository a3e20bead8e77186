"""What grid workers and owners sign (DESIGN §12; docs/format.md "Grid ops and records").

A worker answers a task in two client ops (§6) whose swarm field is the task's view id:

    grid op = "LGOP" ‖ version u8 (1) ‖ tag u8 ‖ body
    COMMIT (1): digest [32] = H_commit(view ‖ worker key ‖ result)
    REVEAL (2): result (a grid array)

``H_commit`` is BLAKE3 in key-derivation mode, context ``"lattice v1 grid commit"``. The
client op's signature seals the digest with the worker's key, and the digest binds the
view and the key: a commit replayed by another worker, or in another view, opens to
nothing, and a reveal must open its sender's own commit.

The owner keeps, as ``DATA`` entries of its deep log:

    grid record = "LGRD" ‖ version u8 (1) ‖ tag u8 ‖ task id [32] ‖ body
    RESULT (1): credited u8 ‖ worker key [32] × credited ‖ the accepted worker's REVEAL
                client op, signed (the result is in it); credited: the other workers
                whose results were valid too (their valid counts, after a restart)
    END (2):    status u8 (1 rejected, 2 timed out, 3 cancelled) ‖ reason (UTF-8)
    WRONG (3):  worker key [32] ‖ reason (UTF-8): a result refused as wrong

>>> op = commit_op(b"v" * 32, b"w" * 32, b"result")
>>> decode_op(op) == (COMMIT, commit_digest(b"v" * 32, b"w" * 32, b"result"))
True
>>> record = end_record(b"t" * 32, END_CANCELLED, "cancelled by its owner")
>>> decode_record(record)[:3] == (END, b"t" * 32, END_CANCELLED)
True
>>> decode_record(result_record(b"t" * 32, b"op", [b"w" * 32])).credited == (b"w" * 32,)
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from lattice import _lattice
from lattice.errors import DecodeError, LimitExceeded, Truncated, UnknownKind, UnknownVersion

__all__ = [
    "COMMIT",
    "COMMIT_CONTEXT",
    "END",
    "END_CANCELLED",
    "END_REJECTED",
    "END_TIMED_OUT",
    "MAX_CREDITED",
    "MAX_RESULT_LEN",
    "OP_MAGIC",
    "RECORD_MAGIC",
    "RESULT",
    "REVEAL",
    "VERSION",
    "WRONG",
    "Record",
    "commit_digest",
    "commit_op",
    "decode_op",
    "decode_record",
    "end_record",
    "is_record",
    "result_record",
    "reveal_op",
    "wrong_record",
]

OP_MAGIC = b"LGOP"
RECORD_MAGIC = b"LGRD"
VERSION = 1
COMMIT, REVEAL = 1, 2
RESULT, END, WRONG = 1, 2, 3
END_REJECTED, END_TIMED_OUT, END_CANCELLED = 1, 2, 3
END_STATUS = {END_REJECTED: "rejected", END_TIMED_OUT: "timed out", END_CANCELLED: "cancelled"}
COMMIT_CONTEXT = "lattice v1 grid commit"
_ID = _lattice.ID_LEN
#: The largest result a reveal carries: its client op, inside a RESULT record, must fit
#: one entry's payload.
MAX_RESULT_LEN = _lattice.MAX_PAYLOAD_LEN - 4096
MAX_REASON_LEN = 1024
#: Other valid workers a RESULT record credits (more are not credited after a restart).
MAX_CREDITED = 64


class Record(NamedTuple):
    """A decoded grid record: ``body`` is the reveal op (RESULT), the status (END) or the
    worker key (WRONG); ``credited`` the other valid workers of a RESULT."""

    tag: int
    task: bytes
    body: int | bytes
    reason: str = ""
    credited: tuple[bytes, ...] = ()


def commit_digest(view: bytes, worker: bytes, result: bytes) -> bytes:
    """``H_commit(view ‖ worker key ‖ result)``."""
    return _lattice.blake3_derive_key(COMMIT_CONTEXT, view + worker + result)


def commit_op(view: bytes, worker: bytes, result: bytes) -> bytes:
    """The payload of a worker's commit to ``result`` in ``view``."""
    return OP_MAGIC + bytes([VERSION, COMMIT]) + commit_digest(view, worker, result)


def reveal_op(result: bytes) -> bytes:
    """The payload of a worker's reveal of ``result``."""
    if len(result) > MAX_RESULT_LEN:
        raise LimitExceeded(f"a result of {len(result)} bytes (at most {MAX_RESULT_LEN})")
    return OP_MAGIC + bytes([VERSION, REVEAL]) + result


def _head(data: bytes, magic: bytes, what: str) -> int:
    if len(data) < len(magic) + 2:
        raise Truncated(f"a {what} of {len(data)} bytes")
    if data[: len(magic)] != magic:
        raise DecodeError(f"not a {what} (magic {magic.decode()})")
    if data[len(magic)] != VERSION:
        raise UnknownVersion(f"{what} version {data[len(magic)]}")
    return data[len(magic) + 1]


def decode_op(payload: bytes) -> tuple[int, bytes]:
    """(COMMIT, digest) or (REVEAL, result) of a grid op's payload."""
    tag = _head(payload, OP_MAGIC, "grid op")
    body = payload[len(OP_MAGIC) + 2 :]
    if tag == COMMIT:
        if len(body) != _ID:
            raise DecodeError(f"a commit holds a 32-byte digest, not {len(body)} bytes")
        return COMMIT, body
    if tag == REVEAL:
        if len(body) > MAX_RESULT_LEN:
            raise LimitExceeded(f"a result of {len(body)} bytes (at most {MAX_RESULT_LEN})")
        return REVEAL, body
    raise UnknownKind(f"grid op tag {tag} (1 commit, 2 reveal)")


def is_record(payload: bytes) -> bool:
    return payload[: len(RECORD_MAGIC)] == RECORD_MAGIC


def _record(tag: int, task: bytes, body: bytes) -> bytes:
    if len(task) != _ID:
        raise DecodeError("a task id is 32 bytes")
    return RECORD_MAGIC + bytes([VERSION, tag]) + task + body


def _reason(reason: str) -> bytes:
    return reason.encode()[:MAX_REASON_LEN].decode(errors="ignore").encode()


def result_record(task: bytes, reveal: bytes, credited: Sequence[bytes] = ()) -> bytes:
    """The owner's record of ``task``'s verified result: the worker's signed reveal, and
    the other workers whose results were valid (the first :data:`MAX_CREDITED`)."""
    keys = list(credited)[:MAX_CREDITED]
    if any(len(k) != _ID for k in keys):
        raise DecodeError("a worker key is 32 bytes")
    return _record(RESULT, task, bytes([len(keys)]) + b"".join(keys) + reveal)


def end_record(task: bytes, status: int, reason: str) -> bytes:
    """The owner's record of a task that ended without a result."""
    if status not in END_STATUS:
        raise DecodeError(f"end status {status}")
    return _record(END, task, bytes([status]) + _reason(reason))


def wrong_record(task: bytes, worker: bytes, reason: str) -> bytes:
    """The owner's record of a result it refused as wrong (it resets the worker's record)."""
    if len(worker) != _ID:
        raise DecodeError("a worker key is 32 bytes")
    return _record(WRONG, task, worker + _reason(reason))


def decode_record(payload: bytes) -> Record:
    """(RESULT, task, reveal op bytes, "", credited), (END, task, status, reason) or
    (WRONG, task, worker key, reason)."""
    tag = _head(payload, RECORD_MAGIC, "grid record")
    at = len(RECORD_MAGIC) + 2
    task, body = payload[at : at + _ID], payload[at + _ID :]
    if len(task) != _ID:
        raise Truncated("a grid record without its task id")
    if len(body) > {END: 1, WRONG: _ID}.get(tag, len(body)) + MAX_REASON_LEN:
        raise LimitExceeded(f"a grid record's reason is at most {MAX_REASON_LEN} bytes")
    try:
        if tag == RESULT:
            if not body or body[0] > MAX_CREDITED:
                raise DecodeError(f"a RESULT record credits 0 to {MAX_CREDITED} workers")
            end = 1 + _ID * body[0]
            if len(body) <= end:
                raise Truncated("a RESULT record without its credited keys and reveal")
            keys = tuple(body[i : i + _ID] for i in range(1, end, _ID))
            return Record(RESULT, task, body[end:], "", keys)
        if tag == END:
            if not body or body[0] not in END_STATUS:
                raise DecodeError("an END record's status is 1, 2 or 3")
            return Record(END, task, body[0], body[1:].decode())
        if tag == WRONG:
            if len(body) < _ID:
                raise Truncated("a WRONG record without its worker key")
            return Record(WRONG, task, body[:_ID], body[_ID:].decode())
    except UnicodeDecodeError as exc:
        raise DecodeError(f"a grid record's reason is not UTF-8: {exc}") from None
    raise UnknownKind(f"grid record tag {tag} (1 result, 2 end, 3 wrong)")

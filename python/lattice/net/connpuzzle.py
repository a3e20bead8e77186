"""The connection puzzle on the wire (DESIGN §11): under a handshake flood a responder
answers the initiator's first Noise message with a puzzle instead of its second, and goes
on only once the initiator has sent a solution — before it spends its Diffie–Hellman work.

Both are plaintext handshake records (two length bytes, then the body)::

    puzzle   = "LATTPZL1" ‖ challenge [32] ‖ bits u8          (41 bytes, responder → initiator)
    solution = nonce u64                                        (8 bytes, initiator → responder)

A solution holds when ``H_pow(key ‖ challenge ‖ bits ‖ nonce)`` has ``bits`` leading zero
bits, the proof of work of admission records with the fresh challenge in the swarm's place
and, as the key, ``BLAKE3 derive-key("lattice v1 connection puzzle", message 1)``: the
work is bound to this handshake's first message (its ephemeral key), so it cannot be
reused. No Noise message is 41 bytes long, so a puzzle is never taken for one.

>>> msg1 = bytes(32)
>>> record = puzzle_record(bytes(32), 4)
>>> challenge, bits = read_puzzle(record)
>>> nonce = _lattice.pow_search(puzzle_key(msg1), challenge, bits)
>>> check_solution(msg1, challenge, bits, nonce.to_bytes(8, "big"))
"""

from __future__ import annotations

import asyncio
import struct
import threading

from lattice import _lattice
from lattice.errors import HandshakeRefused, LatticeError

__all__ = [
    "MAX_ANSWERED_BITS",
    "PUZZLE_LEN",
    "PUZZLE_MAGIC",
    "check_solution",
    "puzzle_key",
    "puzzle_record",
    "read_puzzle",
    "solve",
]

#: What a puzzle record starts with.
PUZZLE_MAGIC = b"LATTPZL1"
#: A puzzle record's length: magic, challenge, bits.
PUZZLE_LEN = len(PUZZLE_MAGIC) + 32 + 1
#: The most an initiator works for (a node asks at most 24: lattice.sybil.puzzle).
MAX_ANSWERED_BITS = 24
_U64 = struct.Struct(">Q")


def puzzle_key(message1: bytes) -> bytes:
    """What the work is bound to: the handshake's first message."""
    return _lattice.blake3_derive_key("lattice v1 connection puzzle", message1)


def puzzle_record(challenge: bytes, bits: int) -> bytes:
    return PUZZLE_MAGIC + bytes(challenge) + bytes([bits])


def read_puzzle(record: bytes) -> tuple[bytes, int] | None:
    """The (challenge, bits) of a puzzle record, or None for any other record."""
    if len(record) != PUZZLE_LEN or not record.startswith(PUZZLE_MAGIC):
        return None
    n = len(PUZZLE_MAGIC)
    bits = record[n + 32]
    if bits > _lattice.POW_MAX_TARGET:
        raise HandshakeRefused(f"a connection puzzle of {bits} bits (at most 64)")
    return record[n : n + 32], bits


def check_solution(message1: bytes, challenge: bytes, bits: int, solution: bytes) -> None:
    """Raise :class:`~lattice.errors.HandshakeRefused` unless ``solution`` solves it."""
    if len(solution) != _U64.size:
        raise HandshakeRefused("a connection puzzle's solution is a nonce u64")
    try:
        _lattice.pow_check(puzzle_key(message1), challenge, bits, _U64.unpack(solution)[0], bits)
    except LatticeError as exc:
        raise HandshakeRefused(f"connection puzzle not solved: {exc}") from exc


async def solve(message1: bytes, challenge: bytes, bits: int) -> bytes:
    """A solution, searched on every core off the event loop; a puzzle above
    :data:`MAX_ANSWERED_BITS` is refused (a hostile responder would keep the cores busy),
    and the search stops once it is cancelled or has tried 64 times the expected work."""
    if bits > MAX_ANSWERED_BITS:
        raise HandshakeRefused(
            f"a connection puzzle of {bits} bits (this side answers at most {MAX_ANSWERED_BITS})"
        )
    key = puzzle_key(message1)
    stop = threading.Event()

    def search() -> int | None:
        return _lattice.pow_search(
            key, challenge, bits, attempts=64 << bits, progress=lambda _: not stop.is_set()
        )

    try:
        nonce = await asyncio.to_thread(search)
    finally:
        stop.set()  # a cancelled handshake stops its search within a million attempts
    if nonce is None:
        raise HandshakeRefused(f"no solution found for a {bits}-bit connection puzzle")
    return _U64.pack(nonce)

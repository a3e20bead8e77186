"""A slow, obviously correct reference for Ed25519 verification under the ZIP-215 rules.

Lattice verifies signatures in Rust with ``ed25519-zebra`` (DESIGN §2). Peers must agree on
validity bit for bit, so the tests compare every Rust verdict with this independent model,
written from the rules themselves (https://zips.z.cash/zip-0215) and RFC 8032 §5.1 rather than
from any library:

1. ``A`` (the public key) and ``R`` (the first half of the signature) must each decode to a
   point of the curve. Non-canonical encodings are *accepted*: the 255-bit ``y`` is reduced
   mod p (so ``y >= p`` is fine when the reduced value is on the curve), and ``x = 0`` with the
   sign bit set ("negative zero") decodes to the point with ``x = 0``. RFC 8032 rejects both.
2. ``s`` (the second half) must be canonical: the full 256-bit little-endian integer is < l.
3. ``k = SHA-512(R_bytes || A_bytes || M)`` over the *original* 32-byte encodings, never over
   re-encoded points.
4. The cofactored equation ``[8][s]B = [8]R + [8][k]A`` must hold. Small-order ``A`` and ``R``
   are not rejected here (refusing small-order identity keys is a separate admission check).

Points are kept in extended twisted Edwards coordinates ``(X, Y, Z, T)`` with ``x = X/Z``,
``y = Y/Z``, ``x*y = T/Z`` (RFC 8032 §5.1.4). Everything uses Python integers; speed is only
good enough for a few thousand verifications per test run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Final

P: Final = 2**255 - 19
"""The field prime."""
L: Final = 2**252 + 27742317777372353535851937790883648493
"""The order of the prime-order subgroup (RFC 8032 calls it L)."""
COFACTOR: Final = 8
D: Final = (-121665 * pow(121666, P - 2, P)) % P
"""The curve constant d of -x^2 + y^2 = 1 + d x^2 y^2."""
SQRT_M1: Final = pow(2, (P - 1) // 4, P)
"""A square root of -1 mod p, used by the square-root step of decompression."""

POINT_LEN: Final = 32
SCALAR_LEN: Final = 32
PUBLIC_KEY_LEN: Final = POINT_LEN
SIGNATURE_LEN: Final = POINT_LEN + SCALAR_LEN

_Y_MASK: Final = (1 << 255) - 1
_SIGN_BIT: Final = 255

Point = tuple[int, int, int, int]
"""A point in extended coordinates (X, Y, Z, T)."""

IDENTITY: Final[Point] = (0, 1, 1, 0)


def point_add(p1: Point, p2: Point) -> Point:
    """Add two points with the unified formulas of RFC 8032 §5.1.4.

    With a = -1 a square and d a non-square mod p these formulas are complete: they hold for
    doubling, for the identity and for every small-order point, which is exactly what the
    edge-case vectors exercise.
    """
    x1, y1, z1, t1 = p1
    x2, y2, z2, t2 = p2
    a = (y1 - x1) * (y2 - x2) % P
    b = (y1 + x1) * (y2 + x2) % P
    c = 2 * t1 * t2 * D % P
    d = 2 * z1 * z2 % P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def point_neg(p1: Point) -> Point:
    """The negation -(x, y) = (-x, y)."""
    x, y, z, t = p1
    return ((-x) % P, y, z, (-t) % P)


def point_equal(p1: Point, p2: Point) -> bool:
    """Projective equality: compare x1/z1 with x2/z2 and y1/z1 with y2/z2 without inverting."""
    x1, y1, z1, _ = p1
    x2, y2, z2, _ = p2
    return (x1 * z2 - x2 * z1) % P == 0 and (y1 * z2 - y2 * z1) % P == 0


def scalar_mult(scalar: int, point: Point) -> Point:
    """``[scalar]point`` by plain double-and-add over the bits of ``scalar`` (any size >= 0)."""
    if scalar < 0:
        raise ValueError("scalar must be non-negative")
    result = IDENTITY
    for bit in reversed(range(scalar.bit_length())):
        result = point_add(result, result)
        if (scalar >> bit) & 1:
            result = point_add(result, point)
    return result


def mul_by_cofactor(point: Point) -> Point:
    """``[8]point``: three doublings, which kill any small-order component."""
    for _ in range(3):
        point = point_add(point, point)
    return point


def _recover_x(y: int, sign: int) -> int | None:
    """The x with -x^2 + y^2 = 1 + d x^2 y^2 and parity ``sign``, or None if there is none.

    Unlike RFC 8032 §5.1.3 step 4, ``x = 0`` with ``sign = 1`` is *not* an error: ZIP-215
    accepts the "negative zero" encodings and decodes them to x = 0.
    """
    u = (y * y - 1) % P
    v = (D * y * y + 1) % P  # never 0: -1/d is not a square mod p
    x2 = u * pow(v, P - 2, P) % P
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P != 0:
        x = x * SQRT_M1 % P
    if (x * x - x2) % P != 0:
        return None
    if x & 1 != sign:
        x = (P - x) % P  # for x = 0 this stays 0: negative zero decodes to zero
    return x


def decode_point(encoding: bytes) -> Point | None:
    """Decode 32 bytes to a curve point under ZIP-215 rules, or None if it is not a point.

    The 255 low bits are y *reduced mod p* (non-canonical y >= p is accepted); bit 255 is the
    parity of x.
    """
    if len(encoding) != POINT_LEN:
        return None
    n = int.from_bytes(encoding, "little")
    y = (n & _Y_MASK) % P
    x = _recover_x(y, n >> _SIGN_BIT)
    if x is None:
        return None
    return (x, y, 1, x * y % P)


def encode_point(point: Point) -> bytes:
    """The canonical encoding (y < p, sign bit = parity of x; x = 0 always has sign 0)."""
    x, y, z, _ = point
    z_inv = pow(z, P - 2, P)
    x, y = x * z_inv % P, y * z_inv % P
    return (y | ((x & 1) << _SIGN_BIT)).to_bytes(POINT_LEN, "little")


def is_canonical_encoding(encoding: bytes) -> bool:
    """True if ``encoding`` is a point and the canonical encoding of that point."""
    point = decode_point(encoding)
    return point is not None and encode_point(point) == encoding


def is_small_order(point: Point) -> bool:
    """True for the eight points of the 8-torsion subgroup (``[8]point`` is the identity)."""
    return point_equal(mul_by_cofactor(point), IDENTITY)


def is_torsion_free(point: Point) -> bool:
    """True if ``point`` lies in the prime-order subgroup (``[l]point`` is the identity)."""
    return point_equal(scalar_mult(L, point), IDENTITY)


def _base_point() -> Point:
    """B: the point with y = 4/5 and even x (RFC 8032 §5.1)."""
    y = 4 * pow(5, P - 2, P) % P
    x = _recover_x(y, 0)
    assert x is not None, "the base point must decode"
    return (x, y, 1, x * y % P)


B: Final[Point] = _base_point()


def _base_table() -> tuple[Point, ...]:
    """``[2^i]B`` for i < 256, so ``[s]B`` costs additions only (the test runs many of them)."""
    table = [B]
    for _ in range(255):
        table.append(point_add(table[-1], table[-1]))
    return tuple(table)


_B_POWERS: Final = _base_table()


def base_mult(scalar: int) -> Point:
    """``[scalar]B`` for 0 <= scalar < 2^256, from the precomputed doublings of B."""
    if not 0 <= scalar < 1 << len(_B_POWERS):
        raise ValueError("scalar out of range")
    result = IDENTITY
    for i, power in enumerate(_B_POWERS):
        if (scalar >> i) & 1:
            result = point_add(result, power)
    return result


def challenge(r_bytes: bytes, a_bytes: bytes, message: bytes) -> int:
    """k = SHA-512(R_bytes || A_bytes || M) as a little-endian integer, over the original bytes.

    Not reduced mod l: callers reduce only where it provably does not change the result.
    """
    return int.from_bytes(hashlib.sha512(r_bytes + a_bytes + message).digest(), "little")


def verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """The ZIP-215 verdict for one signature (see the module docstring for the rules).

    Wrong-length keys or signatures are simply not signatures, so the verdict is False.
    """
    if len(public_key) != PUBLIC_KEY_LEN or len(signature) != SIGNATURE_LEN:
        return False
    r_bytes, s_bytes = signature[:POINT_LEN], signature[POINT_LEN:]
    a_point = decode_point(public_key)
    r_point = decode_point(r_bytes)
    if a_point is None or r_point is None:
        return False
    s = int.from_bytes(s_bytes, "little")
    if s >= L:
        return False
    # [8][k]A == [8][k mod l]A: [8]A lies in the subgroup of order l, so reducing k first is
    # exact here (it would not be without the cofactor, when A has a torsion component).
    k = challenge(r_bytes, public_key, message) % L
    lhs = mul_by_cofactor(base_mult(s))
    rhs = mul_by_cofactor(point_add(r_point, scalar_mult(k, a_point)))
    return point_equal(lhs, rhs)


def verify_cofactorless(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Like :func:`verify` but with the cofactorless equation ``[s]B = R + [k]A``.

    Not lattice's rule: used only to check that the vectors' ``low_order_residue`` flags mean
    what their documentation says, which in turn checks this module.
    """
    if len(public_key) != PUBLIC_KEY_LEN or len(signature) != SIGNATURE_LEN:
        return False
    r_bytes = signature[:POINT_LEN]
    a_point = decode_point(public_key)
    r_point = decode_point(r_bytes)
    s = int.from_bytes(signature[POINT_LEN:], "little")
    if a_point is None or r_point is None or s >= L:
        return False
    # Reduced mod l first, as ref10, Go and dalek do; with a torsion component in A this
    # changes [k]A, and the vectors' cofactorless verdicts assume the reduction.
    k = challenge(r_bytes, public_key, message) % L
    return point_equal(base_mult(s), point_add(r_point, scalar_mult(k, a_point)))


def candidate_non_canonical_encodings() -> Iterator[bytes]:
    """Every 32-byte string that can be a non-canonical point encoding.

    Non-canonical means y >= p (only y + p for y < 19 fits in 255 bits) or x = 0 with the sign
    bit set (only y = 1 and y = p - 1 have x = 0). Some of these are not points at all.
    """
    for y in range(2**255 - P):
        for sign in (0, 1):
            yield ((y + P) | (sign << _SIGN_BIT)).to_bytes(POINT_LEN, "little")
    for y in (1, P - 1):
        yield (y | (1 << _SIGN_BIT)).to_bytes(POINT_LEN, "little")


def torsion_points() -> list[Point]:
    """The eight points of order dividing 8: the multiples of one point of order 8."""
    # x = 0 has y = +-1; y = 0 has x^2 = -1. A point of order 8 halves one of order 4.
    for y in range(2, 1000):
        for sign in (0, 1):
            x = _recover_x(y, sign)
            if x is None:
                continue
            candidate = scalar_mult(L, (x, y, 1, x * y % P))  # kill the prime-order part
            order4 = point_add(point_add(candidate, candidate), point_add(candidate, candidate))
            if not point_equal(order4, IDENTITY):
                return [scalar_mult(i, candidate) for i in range(COFACTOR)]
    raise AssertionError("no point of order 8 found")


def small_order_encodings() -> list[bytes]:
    """All encodings, canonical or not, that decode (ZIP-215) to a point of small order.

    Sorted; CCTV's ed25519 README lists the same fourteen (eight canonical plus six others).
    """
    found = {encode_point(point) for point in torsion_points()}
    for encoding in candidate_non_canonical_encodings():
        point = decode_point(encoding)
        if point is not None and is_small_order(point):
            found.add(encoding)
    return sorted(found)

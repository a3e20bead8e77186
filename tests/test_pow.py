"""Proof of work for admission (issue 15, DESIGN §11): fixed vectors, the check equal to a
pure-Python reference (the ``blake3`` package), a too-low or lying target refused, and the
search finding what the check accepts, on any number of threads, cancellable."""

from __future__ import annotations

import blake3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lattice import _lattice
from lattice.errors import InvalidArgument, InvalidProofOfWork, LimitExceeded

KEY = bytes(range(32))
SWARM = bytes(32)

#: (target, nonce) ⇒ H_pow, for KEY and SWARM (pinned: a change to the format breaks them).
VECTORS = [
    (0, 0, "266a4d7fa70023daaadfc94d70ad00f6f1a80f34479b1118d9c6244868e3f104"),
    (8, 1, "4615e8cf76855f7a711e936bb537f9150082c74f74a6e1652ab298db9abeeaab"),
    (12, 0, "b32a0e11639d5578a1bb8fa74d8d472ed229da89614d0dde3acd536003966a89"),
    (16, 72194, "0000c6abee7f46236b7410fb17c671dbb57fe115154243299fd8f1a01d77e80c"),
]


def reference(key: bytes, swarm: bytes, target: int, nonce: int) -> bytes:
    material = key + swarm + bytes([target]) + nonce.to_bytes(8, "big")
    return blake3.blake3(material, derive_key_context="lattice v1 pow").digest()


def zeros(h: bytes) -> int:
    return len(h) * 8 - int.from_bytes(h, "big").bit_length()


@pytest.mark.parametrize(("target", "nonce", "expected"), VECTORS)
def test_vectors(target: int, nonce: int, expected: str) -> None:
    assert _lattice.pow_hash(KEY, SWARM, target, nonce).hex() == expected
    assert reference(KEY, SWARM, target, nonce).hex() == expected


@settings(max_examples=200)
@given(
    st.binary(min_size=32, max_size=32), st.binary(min_size=32, max_size=32),
    st.integers(0, 12), st.integers(0, 2**64 - 1), st.integers(0, 12),
)  # fmt: skip
def test_the_check_is_the_reference(
    key: bytes, swarm: bytes, target: int, nonce: int, need: int
) -> None:
    h = reference(key, swarm, target, nonce)
    holds = target >= need and zeros(h) >= target
    if holds:
        assert _lattice.pow_check(key, swarm, target, nonce, need) == h
    else:
        with pytest.raises(InvalidProofOfWork):
            _lattice.pow_check(key, swarm, target, nonce, need)


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_search_finds_what_the_check_accepts(threads: int) -> None:
    nonce = _lattice.pow_search(KEY, SWARM, 14, threads=threads)
    assert nonce is not None
    assert zeros(reference(KEY, SWARM, 14, nonce)) >= 14
    _lattice.pow_check(KEY, SWARM, 14, nonce, 14)


def test_a_too_low_or_lying_target_is_refused() -> None:
    nonce = _lattice.pow_search(KEY, SWARM, 10)
    assert nonce is not None
    with pytest.raises(InvalidProofOfWork, match="at least 16 are required"):
        _lattice.pow_check(KEY, SWARM, 10, nonce, 16)
    # Claimed for a harder target, the same nonce is another hash: the target is committed.
    with pytest.raises(InvalidProofOfWork, match="claims 40 bits"):
        _lattice.pow_check(KEY, SWARM, 40, nonce, 16)
    with pytest.raises(InvalidProofOfWork):  # another key's work is not this key's
        _lattice.pow_check(bytes(32), SWARM, 10, nonce, 10)


def test_a_search_stops_when_asked_and_bad_arguments_are_typed() -> None:
    seen: list[int] = []
    assert (
        _lattice.pow_search(KEY, SWARM, 60, progress=lambda n: seen.append(n) or len(seen) < 2)
        is None
    )
    assert len(seen) == 2 and seen[1] > seen[0] > 0
    assert _lattice.pow_search(KEY, SWARM, 60, attempts=5000) is None
    with pytest.raises(InvalidArgument, match="at most 64"):
        _lattice.pow_hash(KEY, SWARM, 65, 0)
    with pytest.raises(InvalidArgument):
        _lattice.pow_hash(KEY[:31], SWARM, 8, 0)
    with pytest.raises(LimitExceeded):
        _lattice.pow_check(KEY, SWARM, 8, 2**64, 0)

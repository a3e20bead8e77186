"""P1 and P2 (DESIGN §15): batch signature verification.

P1: ``verify_batch`` on one thread over 1,024 signatures against a per-call
``cryptography`` Ed25519 verify loop (target ≥ 6×) and against ed25519-zebra's native
batch verifier (``cargo bench``, target ≥ 85%). P2: two threads against one (≥ 1.7×).
"""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

import lattice
from lattice import _lattice

P1_BATCH = 1024
P2_BATCH = 4096


def signed_batch(count: int) -> tuple[list[bytes], list[bytes], list[bytes]]:
    """``count`` signatures by distinct keys over 32-byte messages (entry ids)."""
    keys = [_lattice.SigningKey.from_seed(i.to_bytes(32, "little")) for i in range(count)]
    msgs = [lattice.hash("entry", i.to_bytes(8, "little")) for i in range(count)]
    sigs = [k.sign(m) for k, m in zip(keys, msgs, strict=True)]
    return [k.public_key for k in keys], msgs, sigs


@pytest.fixture(scope="module")
def p1_batch() -> tuple[list[bytes], list[bytes], list[bytes]]:
    return signed_batch(P1_BATCH)


@pytest.fixture(scope="module")
def p2_batch() -> tuple[list[bytes], list[bytes], list[bytes]]:
    return signed_batch(P2_BATCH)


@pytest.mark.benchmark(group="P1 verify 1024")
def test_p1_verify_batch_one_thread(benchmark, p1_batch) -> None:  # type: ignore[no-untyped-def]
    pks, msgs, sigs = p1_batch
    benchmark.extra_info["items"] = len(pks)
    verdicts = benchmark(lattice.verify_batch, pks, msgs, sigs, threads=1)
    assert verdicts == [True] * len(pks)


@pytest.mark.benchmark(group="P1 verify 1024")
def test_p1_cryptography_loop(benchmark, p1_batch) -> None:  # type: ignore[no-untyped-def]
    """The named baseline: the ``cryptography`` package, one call per signature."""
    pks, msgs, sigs = p1_batch
    keys = [ed25519.Ed25519PublicKey.from_public_bytes(pk) for pk in pks]
    benchmark.extra_info["items"] = len(pks)

    def loop() -> int:
        for key, msg, sig in zip(keys, msgs, sigs, strict=True):
            key.verify(sig, msg)
        return len(keys)

    assert benchmark(loop) == len(pks)


@pytest.mark.benchmark(group="P2 verify threads")
@pytest.mark.parametrize("threads", [1, 2])
def test_p2_verify_batch_threads(benchmark, p2_batch, threads: int) -> None:  # type: ignore[no-untyped-def]
    pks, msgs, sigs = p2_batch
    benchmark.extra_info["items"] = len(pks)
    benchmark.extra_info["threads"] = threads
    verdicts = benchmark(lattice.verify_batch, pks, msgs, sigs, threads=threads)
    assert all(verdicts)

"""P12, second part (DESIGN §15): remote attestation in the handshake.

A real Noise XX handshake on loopback TCP, both ends in this process, with and without
mutual software attestation, in the same run: the difference is what attestation costs
the two sides together, and the records each side sent are counted (the same three). Then
a quote by a real swtpm over PCR 16 and its check without a TPM.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

import lattice
from lattice.net.attestation import NodeAttestation
from lattice.net.local import Handshaken, loopback_handshake
from lattice.trust.remote import Level, SoftwareAttester, Verifier
from lattice.trust.swtpm import SoftwareTpm

ROUNDS = 60


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def _records(h: Handshaken) -> int:
    return h.initiator_records + h.responder_records


@pytest.mark.benchmark(group="P12 handshake")
def test_p12_handshake_plain(benchmark, loop) -> None:  # type: ignore[no-untyped-def]
    def run() -> Handshaken:
        return loop.run_until_complete(loopback_handshake())

    seen = benchmark.pedantic(run, rounds=ROUNDS, iterations=1, warmup_rounds=3)
    benchmark.extra_info["records"] = _records(seen)


@pytest.mark.benchmark(group="P12 handshake")
def test_p12_handshake_attested(benchmark, loop) -> None:  # type: ignore[no-untyped-def]
    sides = [
        NodeAttestation(
            SoftwareAttester(lattice.Identity.generate()), Verifier(Level.SOFTWARE, None)
        )
        for _ in range(2)
    ]

    def run() -> Handshaken:
        left, right = (s.exchange() for s in sides)
        seen = loop.run_until_complete(loopback_handshake(left, right))
        assert left.result is not None and right.result is not None, "both attested"
        return seen

    seen = benchmark.pedantic(run, rounds=ROUNDS, iterations=1, warmup_rounds=3)
    benchmark.extra_info["records"] = _records(seen)


def _tpm() -> Iterator[object]:
    if not SoftwareTpm.available():
        pytest.skip("P12 TPM figures need swtpm (apt install swtpm)")
    from lattice.trust.tpm import TpmAttester, TpmVerifier, activation_answer

    me = lattice.Identity.generate()
    with SoftwareTpm() as tpm:
        attester = TpmAttester.open(tpm.tcti, me)
        checker = TpmVerifier()
        verifier = Verifier(Level.TPM, None, tpm=checker)
        challenge, hh = verifier.challenge(), bytes(32)
        first = attester.evidence(challenge.nonce, hh)
        cred = checker.credential(me.public_key, first)
        secret = attester.activate(cred.blob, cred.encrypted_secret)
        checker.activated(cred, activation_answer(secret, hh), hh)
        try:
            yield attester, verifier, challenge, hh, me
        finally:
            attester.close()


@pytest.fixture
def tpm_setup() -> Iterator[object]:
    yield from _tpm()


@pytest.mark.benchmark(group="P12 tpm")
def test_p12_tpm_quote(benchmark, tpm_setup) -> None:  # type: ignore[no-untyped-def]
    attester, _, challenge, hh, _ = tpm_setup
    benchmark.pedantic(attester.evidence, args=(challenge.nonce, hh), rounds=30, iterations=1)


@pytest.mark.benchmark(group="P12 tpm")
def test_p12_tpm_check(benchmark, tpm_setup) -> None:  # type: ignore[no-untyped-def]
    attester, verifier, challenge, hh, me = tpm_setup
    evidence = attester.evidence(challenge.nonce, hh).encode()

    def run() -> object:
        return verifier.check(evidence, challenge, hh, me.public_key)

    benchmark.pedantic(run, rounds=30, iterations=1)

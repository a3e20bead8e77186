"""Remote attestation in the handshake (issue 14, DESIGN §10), software backend: real Noise
handshakes on loopback TCP carry the challenges and the evidence in their three messages;
every way the evidence can fail is refused with the right reason, on either side."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import lattice
from lattice import _lattice
from lattice.demo.attest import wheel_manifest
from lattice.errors import AttestationRefused, BrokenEvidence, InvalidArgument
from lattice.net.attestation import NodeAttestation
from lattice.net.checks import Checks
from lattice.net.local import local_swarm, loopback_handshake
from lattice.net.trustconfig import AttestationConfig, TrustConfig, parse_attestation
from lattice.state.wasm import digests
from lattice.trust.attest import WHEEL_BUILD_TYPE, BuildManifest, attest
from lattice.trust.policy import Policy, Trusted
from lattice.trust.remote import (
    AttestedKernels,
    Context,
    Evidence,
    Level,
    MeasurementLog,
    SoftwareAttester,
    Verifier,
    binding,
    module_digest,
)

BUILDERS = [lattice.Identity.from_seed(bytes([0xB0 + i]) * 32) for i in range(2)]
NAMES = ["w0", "w1"]


def wheel_attestation(who: int, module: bytes = b"") -> bytes:
    """What ``lattice attest wheel`` writes for a wheel holding this process's module."""
    return attest(wheel_manifest(NAMES[who], module or None), BUILDERS[who])


def swarm_trust(directory: Path) -> tuple[TrustConfig, tuple[Path, ...]]:
    """The [trust] table of the test builders, and their wheel attestations as files."""
    files = []
    for i in range(len(BUILDERS)):
        path = directory / f"wheel{i}.intoto.json"
        path.write_bytes(wheel_attestation(i))
        files.append(path)
    builders = tuple(Trusted(n, b.public_key) for n, b in zip(NAMES, BUILDERS, strict=True))
    return TrustConfig(2, builders), tuple(files)


def admitting_policy(*envelopes: bytes) -> Policy:
    policy = Policy(dict(zip(NAMES, (b.public_key for b in BUILDERS), strict=True)), 2)
    for env in envelopes:
        policy.add(env)
    return policy


def _node(
    attester: Any = "software", require: Level = Level.SOFTWARE, **kw: Any
) -> NodeAttestation:
    me = lattice.Identity.generate()
    chosen = SoftwareAttester(me) if attester == "software" else attester
    return NodeAttestation(chosen, Verifier(require, kw.pop("kernels", None), **kw))


def test_mutual_attestation_adds_no_message_to_the_handshake() -> None:
    plain = asyncio.run(loopback_handshake(None, None))
    left, right = _node().exchange(), _node().exchange()
    attested = asyncio.run(loopback_handshake(left, right))
    counts = [(h.initiator_records, h.responder_records) for h in (plain, attested)]
    assert counts == [(2, 1), (2, 1)], "three records either way: no round trip added"
    assert left.error is None and right.error is None
    for ex in (left, right):
        assert ex.result is not None and ex.result.level == Level.SOFTWARE
        assert ex.result.log is not None and ex.result.log.module == module_digest()


class Lying(SoftwareAttester):
    """An attester that gets one thing wrong (``how``)."""

    def __init__(self, how: str) -> None:
        super().__init__(lattice.Identity.generate())
        self.how = how

    def evidence(
        self, nonce: bytes, handshake_hash: bytes, context: Context = Context.HANDSHAKE
    ) -> Evidence:
        if self.how == "nonce":
            return super().evidence(os.urandom(32), handshake_hash, context)
        if self.how == "replayed":  # made for another handshake (another hash)
            return super().evidence(nonce, os.urandom(32), context)
        ev = super().evidence(nonce, handshake_hash, context)
        if self.how == "tampered log":  # a blob left out of the log it signed
            return replace(ev, log=MeasurementLog((*ev.log.digests, b"\x07" * 32)))
        if self.how == "foreign key":  # signed by another identity than the hello's
            message = binding(context, ev.level, nonce, handshake_hash, ev.log.kernel_hash)
            return replace(ev, proof=lattice.Identity.generate().sign(message))
        return ev


REFUSALS = [
    (lambda: _node(Lying("nonce")), lambda: _node(), BrokenEvidence, "another challenge"),
    (lambda: _node(Lying("replayed")), lambda: _node(), BrokenEvidence, "does not verify"),
    (lambda: _node(Lying("tampered log")), lambda: _node(), BrokenEvidence, "does not verify"),
    (lambda: _node(Lying("foreign key")), lambda: _node(), BrokenEvidence, "does not verify"),
    (lambda: _node(None), lambda: _node(), AttestationRefused, "no evidence"),
    (lambda: _node(), lambda: _node(require=Level.TPM), AttestationRefused, "requires tpm"),
    (
        lambda: _node(),
        lambda: _node(kernels=AttestedKernels(admitting_policy())),
        AttestationRefused,
        "extension module",
    ),
    (
        lambda: _node(),
        lambda: _node(clock=iter([0.0, 100.0]).__next__, ttl=30.0),
        BrokenEvidence,
        "expired challenge",
    ),
]


@pytest.mark.parametrize("direction", ["responder checks", "initiator checks"])
@pytest.mark.parametrize(("bad", "checker", "error", "why"), REFUSALS)
def test_bad_evidence_is_refused_with_its_reason(
    direction: str, bad: Callable[[], NodeAttestation], checker: Callable[[], NodeAttestation],
    error: type[Exception], why: str,
) -> None:  # fmt: skip
    liar, judge = bad().exchange(), checker().exchange()
    if direction == "responder checks":
        asyncio.run(loopback_handshake(liar, judge))
    else:
        asyncio.run(loopback_handshake(judge, liar))
    assert isinstance(judge.error, error) and why in str(judge.error)
    assert judge.result is None and judge.summary().startswith("refused: ")


def test_the_kernel_policy_admits_an_attested_module_and_admitted_blobs_only() -> None:
    blob = digests(b"a blob")
    policy = admitting_policy(wheel_attestation(0))
    kernels = AttestedKernels(policy)
    log = MeasurementLog.of_this_process()
    with pytest.raises(AttestationRefused, match="pending: 1 of 2"):
        kernels.check(log)
    policy.add(wheel_attestation(1))
    kernels.check(log)
    with pytest.raises(AttestationRefused, match="Wasm blob"):
        kernels.check(log.extended(bytes.fromhex(blob["sha256"])))
    # Two builders that disagree on the module inside one build: it is quarantined.
    split = admitting_policy(wheel_attestation(0), wheel_attestation(1, module=b"\x01" * 32))
    with pytest.raises(AttestationRefused, match="quarantined"):
        AttestedKernels(split).check(log)


def test_log_updates_must_extend_the_log_and_stay_admitted() -> None:
    me = lattice.Identity.generate()
    attester = SoftwareAttester(me)
    judge = NodeAttestation(None, Verifier(Level.SOFTWARE, None)).exchange()
    final = os.urandom(32)
    ours = NodeAttestation(attester, Verifier(Level.NONE, None)).exchange()
    ours.theirs = judge.mine.nonce
    judge.result = judge.node.verifier.check(
        attester.evidence(judge.mine.nonce, final).encode(), judge.mine, final, me.public_key
    )
    attester.measure(b"\x01" * 32)
    update = ours.update(final)
    assert update is not None
    assert judge.check_update(update, final, me.public_key, _lattice.ROLE_PEER).log == attester.log
    with pytest.raises(BrokenEvidence, match="does not verify"):  # a handshake update replayed
        judge.check_update(
            attester.evidence(judge.mine.nonce, final).encode(), final, me.public_key,
            _lattice.ROLE_PEER,
        )  # fmt: skip
    shrunk = SoftwareAttester(me, MeasurementLog((module_digest(), b"\x02" * 32)))
    with pytest.raises(BrokenEvidence, match="does not extend"):
        judge.check_update(
            shrunk.evidence(judge.mine.nonce, final, Context.UPDATE).encode(), final,
            me.public_key, _lattice.ROLE_PEER,
        )  # fmt: skip


def test_malformed_evidence_and_offers_are_broken_evidence() -> None:
    judge = _node().exchange()
    for field in (b"\x02", b"\x01\x05", b"\x01\x00\x00\x05abc", b"\x01\x00\x00\x03\x01ab"):
        with pytest.raises(BrokenEvidence):
            judge.read_offer(field, bytes(32), bytes(32), _lattice.ROLE_PEER)
    with pytest.raises(BrokenEvidence, match="malformed evidence"):
        Evidence.decode(b"\x01" + bytes(32) + b"\x00")  # a log of no measurement
    with pytest.raises(BrokenEvidence, match="bytes"):
        Evidence.decode(bytes(5000))


def test_the_attestation_table_is_checked() -> None:
    trust = TrustConfig(1, (Trusted("w0", BUILDERS[0].public_key),))
    ok = parse_attestation(Checks(), {"backend": "software", "require": "software"}, trust)
    assert ok == AttestationConfig(Level.SOFTWARE, Level.SOFTWARE)
    for table, why in [
        ({"backend": "sgx"}, "one of none, software, tpm"),
        ({"require": "software"}, None),  # with no [trust]
        ({"backend": "tpm"}, "needs tpm"),
        ({"challenge_ttl": 0}, "challenge_ttl"),
        ({"attestations": "x.json"}, "list of paths"),
        ({"colour": "red"}, "unknown key"),
    ]:
        with pytest.raises(InvalidArgument, match=why or "needs a \\[trust\\] table"):
            parse_attestation(Checks(), table, None if why is None else trust)


def test_nodes_attest_each_other_and_cut_a_peer_that_loads_an_unadmitted_blob(
    tmp_path: Path,
) -> None:
    trust, envelopes = swarm_trust(tmp_path)
    config = AttestationConfig(Level.SOFTWARE, Level.SOFTWARE, attestations=envelopes)

    async def scenario() -> tuple[list[Any], list[Any]]:
        nodes = await local_swarm(2, tmp_path, trust=trust, attestation=config)
        try:
            before = [n.status() for n in nodes]
            nodes[1].attesting.loaded(b"\x09" * 32)  # a blob no builder attested
            await nodes[0].wait_for(lambda n: not n.links, timeout=10)
            after = [n.status() for n in nodes]
        finally:
            for n in nodes:
                await n.stop()
        return before, after

    before, after = asyncio.run(scenario())
    for st in before:
        (peer,) = st["peers"]
        assert peer["connected"] and peer["attestation"].startswith("software: kernel")
        assert st["attestation"]["backend"] == "software"
    assert after[0]["peers"][0]["attestation"].startswith("cut off: the Wasm blob 0909")
    assert any("AttestationRefused" in r for r in after[0]["closed"])


def test_a_required_attestation_with_no_result_is_refused_after_the_handshake() -> None:
    # Whatever went wrong inside the exchange, a peer with nothing accepted is not let in.
    judge = _node().exchange()
    refusal = judge.settled(_lattice.ROLE_PEER)
    assert isinstance(refusal, AttestationRefused) and "no software attestation" in str(refusal)
    assert judge.settled(_lattice.ROLE_CLIENT) is None, "clients are held to none"


def test_only_a_wheel_part_under_the_module_prefix_admits_a_module() -> None:
    from lattice.trust.attest import BUILD_TYPE

    module = module_digest().hex()

    def envelope(who: int, **changes: Any) -> bytes:
        m = BuildManifest(
            name="x", output={"sha256": module}, source={"gitTree": "ab" * 20},
            toolchain={"package": "maturin"}, argv=["build"], profile="", builder=NAMES[who],
            build_type=WHEEL_BUILD_TYPE,
        )  # fmt: skip
        return attest(replace(m, **changes), BUILDERS[who])

    log = MeasurementLog.of_this_process()
    as_blob = admitting_policy(*(envelope(i, build_type=BUILD_TYPE) for i in range(2)))
    with pytest.raises(AttestationRefused, match="extension module"):
        AttestedKernels(as_blob).check(log)  # a Wasm build's output is no module
    elsewhere = {"lattice/other.so": {"sha256": module}}
    misplaced = admitting_policy(*(envelope(i, parts=elsewhere) for i in range(2)))
    with pytest.raises(AttestationRefused, match="extension module"):
        AttestedKernels(misplaced).check(log)  # inside the wheel, but not the module


def test_a_credential_sent_to_a_node_without_a_tpm_ends_the_link(tmp_path: Path) -> None:
    from lattice.net import wire

    trust, envelopes = swarm_trust(tmp_path)
    config = AttestationConfig(Level.SOFTWARE, Level.SOFTWARE, attestations=envelopes)

    async def scenario() -> list[str]:
        nodes = await local_swarm(2, tmp_path, trust=trust, attestation=config)
        try:
            nodes[0].links[nodes[1].me].send_soon(wire.Activate(b"\x00\x01x", b"\x00\x01y"))
            await nodes[1].wait_for(lambda n: not n.links, timeout=10)
            return list(nodes[1].closed_reasons)
        finally:
            for n in nodes:
                await n.stop()

    closed = asyncio.run(scenario())
    assert any("attests without a TPM" in r for r in closed), closed

"""The TPM 2.0 backend of remote attestation (issue 14, DESIGN §10) against a real swtpm:
quotes over PCR 16 bound to the challenge and the handshake, their check, credential
activation tying the AK to the EK, every refusal with its reason, and interop with
tpm2-tools (tpm2_checkquote verifies lattice's quotes; lattice verifies tpm2_quote's)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

import lattice
from lattice.errors import AttestationError, AttestationRefused, BrokenEvidence, NotActivated
from lattice.net import wire
from lattice.trust.policy import Policy
from lattice.trust.remote import AttestedKernels, Context, Evidence, Level, Verifier, binding
from lattice.trust.swtpm import SoftwareTpm
from lattice.trust.tpm import TpmAttester, TpmVerifier, activation_answer, parse_proof
from tpm import software_tpm, tools

ME = lattice.Identity.from_seed(b"\x51" * 32)
HH = hashlib.sha256(b"a handshake").digest()


@pytest.fixture
def tpm() -> Iterator[SoftwareTpm]:
    with software_tpm() as t:
        yield t


@pytest.fixture
def attester(tpm: SoftwareTpm) -> Iterator[TpmAttester]:
    a = TpmAttester.open(tpm.tcti, ME)
    yield a
    a.close()


def _activated(attester: TpmAttester) -> tuple[Verifier, TpmVerifier]:
    tv = TpmVerifier()
    v = Verifier(Level.TPM, None, tpm=tv)
    ev = attester.evidence(v.challenge().nonce, HH)
    cred = tv.credential(ME.public_key, ev)
    tv.activated(
        cred, activation_answer(attester.activate(cred.blob, cred.encrypted_secret), HH), HH
    )
    return v, tv


def test_a_quote_verifies_once_the_ak_is_tied_to_the_ek(attester: TpmAttester) -> None:
    assert attester.pcr16() == attester.log.kernel_hash, "the TPM holds the log's replay"
    tv = TpmVerifier()
    v = Verifier(Level.TPM, None, tpm=tv)
    ch = v.challenge()
    ev = attester.evidence(ch.nonce, HH)
    with pytest.raises(NotActivated, match="not tied to an endorsement key"):
        v.check(ev.encode(), ch, HH, ME.public_key)
    cred = tv.credential(ME.public_key, ev)
    tv.activated(
        cred, activation_answer(attester.activate(cred.blob, cred.encrypted_secret), HH), HH
    )
    assert v.check(ev.encode(), ch, HH, ME.public_key).level == Level.TPM
    attester.measure(b"\x42" * 32)  # a blob loads: PCR 16 follows the log
    assert attester.pcr16() == attester.log.kernel_hash
    got = v.check(attester.evidence(ch.nonce, HH).encode(), ch, HH, ME.public_key)
    assert got.log is not None and got.log.blobs == (b"\x42" * 32,)


def test_every_broken_quote_is_refused_with_its_reason(attester: TpmAttester) -> None:
    v, _ = _activated(attester)
    ch = v.challenge()
    good = attester.evidence(ch.nonce, HH)

    def refused(ev: Evidence, hh: bytes = HH, verifier: Verifier = v) -> str:
        with pytest.raises(AttestationError) as info:
            verifier.check(ev.encode(), ch, hh, ME.public_key)
        return f"{type(info.value).__name__}: {info.value}"

    assert "another challenge" in refused(replace(good, answers=os.urandom(32)))
    other_nonce = attester.evidence(os.urandom(32), HH)
    assert "extraData" in refused(replace(other_nonce, answers=ch.nonce))
    assert "extraData" in refused(good, hh=os.urandom(32))  # replayed in another handshake
    p = parse_proof(good.proof)
    # A log that leaves a loaded blob out, quoted as if it were the truth: the TPM's own
    # PCR 16 does not match it.
    lie = good.log.extended(b"\x01" * 32)
    claim = binding(Context.HANDSHAKE, Level.TPM, ch.nonce, HH, lie.kernel_hash)
    quoted, sig = attester.quote(claim)
    tampered = Evidence(Level.TPM, ch.nonce, lie, p.ek.marshal() + p.ak.marshal() + quoted + sig)
    assert "does not replay" in refused(tampered)
    message = binding(Context.HANDSHAKE, Level.TPM, ch.nonce, HH, good.log.kernel_hash)
    quoted, sig = attester.quote(message, selection="sha256:15,16")
    wider = replace(good, proof=p.ek.marshal() + p.ak.marshal() + quoted + sig)
    assert "another PCR selection" in refused(wider)
    expired = Verifier(Level.TPM, None, tpm=v.tpm, clock=iter([0.0, 99.0]).__next__, ttl=5)
    ch2 = expired.challenge()
    with pytest.raises(BrokenEvidence, match="expired challenge"):
        expired.check(attester.evidence(ch2.nonce, HH).encode(), ch2, HH, ME.public_key)
    strict = Verifier(Level.TPM, AttestedKernels(_empty()), tpm=v.tpm)
    ch3 = strict.challenge()
    with pytest.raises(AttestationRefused, match="extension module"):
        strict.check(attester.evidence(ch3.nonce, HH).encode(), ch3, HH, ME.public_key)
    assert v.check(good.encode(), ch, HH, ME.public_key).level == Level.TPM


def _empty() -> Policy:
    return Policy({"w": lattice.Identity.from_seed(b"\x61" * 32).public_key}, 1)


def test_a_quote_by_another_attestation_key_is_refused(attester: TpmAttester) -> None:
    v, _ = _activated(attester)
    ch = v.challenge()
    good = attester.evidence(ch.nonce, HH)
    with software_tpm() as other_tpm:
        other = TpmAttester.open(other_tpm.tcti, ME)
        try:
            theirs = parse_proof(other.evidence(ch.nonce, HH).proof)
            ours = parse_proof(good.proof)
            # Our EK and quote, their AK: the signature is not the AK's.
            swapped = (
                ours.ek.marshal()
                + theirs.ak.marshal()
                + _wrap(ours.quoted)
                + ours.signature.marshal()
            )
            with pytest.raises(BrokenEvidence, match="signature does not verify"):
                v.check(replace(good, proof=swapped).encode(), ch, HH, ME.public_key)
            # Our EK, their AK and its (valid) quote: an AK not tied to that EK. No TPM can
            # answer the credential made for the pair, so the tie is never recorded.
            message = binding(Context.HANDSHAKE, Level.TPM, ch.nonce, HH, other.log.kernel_hash)
            quoted, sig = other.quote(message)
            mixed = Evidence(
                Level.TPM,
                ch.nonce,
                other.log,
                ours.ek.marshal() + theirs.ak.marshal() + quoted + sig,
            )
            tv = TpmVerifier()
            cred = tv.credential(ME.public_key, mixed)
            for holder in (attester, other):
                with pytest.raises(AttestationError, match="cannot activate"):
                    holder.activate(cred.blob, cred.encrypted_secret)
            with pytest.raises(BrokenEvidence, match="activation failed"):
                tv.activated(cred, os.urandom(32), HH)
            with pytest.raises(BrokenEvidence, match="not tied"):
                Verifier(Level.TPM, None, tpm=tv).check(mixed.encode(), ch, HH, ME.public_key)
        finally:
            other.close()


def _wrap(quoted: bytes) -> bytes:
    return len(quoted).to_bytes(2, "big") + quoted


def test_tpm2_checkquote_verifies_lattice_quotes(
    attester: TpmAttester, tpm: SoftwareTpm, tmp_path: Path
) -> None:
    v, _ = _activated(attester)
    ch = v.challenge()
    ev = attester.evidence(ch.nonce, HH)
    p = parse_proof(ev.proof)
    (tmp_path / "ak.pub").write_bytes(p.ak.marshal())
    (tmp_path / "quote.msg").write_bytes(p.quoted)
    (tmp_path / "quote.sig").write_bytes(p.signature.marshal())
    (tmp_path / "pcr16.bin").write_bytes(ev.log.kernel_hash)
    message = binding(Context.HANDSHAKE, Level.TPM, ch.nonce, HH, ev.log.kernel_hash)
    check = ["tpm2_checkquote", "-u", "ak.pub", "-m", "quote.msg", "-s", "quote.sig",
             "-g", "sha256", "-f", "pcr16.bin", "-l", "sha256:16"]  # fmt: skip
    ok = tools(tpm, *check, "-q", message.hex(), cwd=str(tmp_path))
    assert ok.returncode == 0, ok.stderr
    wrong = tools(tpm, *check, "-q", os.urandom(32).hex(), cwd=str(tmp_path))
    assert wrong.returncode != 0, "another nonce must fail in tpm2_checkquote too"


def test_lattice_verifies_tpm2_quote_quotes(tpm: SoftwareTpm, tmp_path: Path) -> None:
    from lattice.trust.remote import MeasurementLog, module_digest

    def run(*args: str) -> None:
        done = tools(tpm, *args, cwd=str(tmp_path))
        assert done.returncode == 0, f"{args[0]}: {done.stderr}"

    run("tpm2_createek", "-c", "ek.ctx", "-G", "rsa", "-u", "ek.pub")
    run(
        "tpm2_createak",
        "-C",
        "ek.ctx",
        "-c",
        "ak.ctx",
        "-G",
        "ecc",
        "-g",
        "sha256",
        "-s",
        "ecdsa",
        "-u",
        "ak.pub",
    )
    log = MeasurementLog((module_digest(), b"\x33" * 32))
    run("tpm2_pcrreset", "16")
    for d in log.digests:
        run("tpm2_pcrextend", f"16:sha256={d.hex()}")
    tv = TpmVerifier()
    v = Verifier(Level.TPM, None, tpm=tv)
    ch = v.challenge()
    message = binding(Context.HANDSHAKE, Level.TPM, ch.nonce, HH, log.kernel_hash)

    def quoted(qualifying: bytes) -> Evidence:
        run("tpm2_quote", "-c", "ak.ctx", "-l", "sha256:16", "-q", qualifying.hex(),
            "-m", "q.msg", "-s", "q.sig", "-g", "sha256")  # fmt: skip
        proof = (
            (tmp_path / "ek.pub").read_bytes() + (tmp_path / "ak.pub").read_bytes()
            + _wrap((tmp_path / "q.msg").read_bytes()) + (tmp_path / "q.sig").read_bytes()
        )  # fmt: skip
        return Evidence(Level.TPM, ch.nonce, log, proof)

    good = quoted(message)
    p = parse_proof(good.proof)
    tv.activations.tie(ME.public_key, p.ek_name, p.ak_name)  # tools' AK: tied by hand here
    assert v.check(good.encode(), ch, HH, ME.public_key).level == Level.TPM
    with pytest.raises(BrokenEvidence, match="extraData"):
        v.check(quoted(os.urandom(32)).encode(), ch, HH, ME.public_key)


def test_two_nodes_attest_with_their_tpms_and_activate_once(tmp_path: Path) -> None:
    import asyncio

    from lattice.net.local import local_swarm
    from lattice.net.trustconfig import AttestationConfig
    from test_remote import swarm_trust

    trust, files = swarm_trust(tmp_path)
    with software_tpm() as t0, software_tpm() as t1:
        configs = [  # EK certificates required: both TPMs are certified by swtpm's CA
            AttestationConfig(
                Level.TPM, Level.TPM, tpm=t.tcti, attestations=files,
                ek_ca=tuple(t0.ca_files),
            )
            for t in (t0, t1)
        ]  # fmt: skip

        async def scenario() -> tuple[list[dict[str, object]], list[str]]:
            nodes = await local_swarm(2, tmp_path, trust=trust, attestation=configs)
            try:
                entry = nodes[0].append(b"after the quotes")
                await nodes[1].wait_for(lambda n: n.replica.get(entry.id) is not None)
                statuses = [n.status() for n in nodes]
                # A second credential on the same connection: one activation a link.
                nodes[0].links[nodes[1].me].send_soon(wire.Activate(b"\x00\x01x", b"\x00\x01y"))
                await nodes[1].wait_for(lambda n: not n.links, timeout=10)
                return statuses, list(nodes[1].closed_reasons)
            finally:
                for n in nodes:
                    await n.stop()

        statuses, closed = asyncio.run(scenario())
    for st in statuses:
        (peer,) = st["peers"]  # type: ignore[misc]
        assert peer["attestation"].startswith("tpm: kernel"), peer["attestation"]
    assert any("a second TPM credential" in r for r in closed), closed
    ties = sorted(p.name for p in tmp_path.glob("*.tpm-ties.json"))
    assert ties == ["n0.db.tpm-ties.json", "n1.db.tpm-ties.json"], "activation is kept"


def test_a_tpm_node_refuses_a_software_peer_and_keeps_serving_the_other(tmp_path: Path) -> None:
    import asyncio

    from lattice.net.local import local_swarm
    from lattice.net.trustconfig import AttestationConfig
    from test_remote import swarm_trust

    trust, files = swarm_trust(tmp_path)
    with software_tpm() as t0, software_tpm() as t1:
        configs = [
            AttestationConfig(Level.TPM, Level.TPM, tpm=t.tcti, attestations=files)
            for t in (t0, t1)
        ] + [AttestationConfig(Level.SOFTWARE, Level.SOFTWARE, attestations=files)]

        async def scenario() -> list[dict[str, object]]:
            # A line: n1 dials n0 (both with a TPM); n2, software only, dials n1.
            nodes = await local_swarm(3, tmp_path, trust=trust, attestation=configs, wait=False)
            try:
                await nodes[2].wait_for(
                    lambda n: any("requires tpm" in r for r in n.closed_reasons), timeout=20
                )
                entry = nodes[0].append(b"still served")
                await nodes[1].wait_for(lambda n: n.replica.get(entry.id) is not None)
                return [n.status() for n in nodes]
            finally:
                for n in nodes:
                    await n.stop()

        _, middle, third = asyncio.run(scenario())
    peers = {p["name"]: p for p in middle["peers"]}  # type: ignore[union-attr]
    assert peers["n0"]["connected"] and peers["n0"]["attestation"].startswith("tpm: kernel")
    assert not peers["n2"]["connected"]
    assert peers["n2"]["attestation"] == "refused: software evidence; this node requires tpm"
    assert third["frontier"].get("n0", [0])[0] == 0, "nothing reached the refused node"  # type: ignore[union-attr]


def _with(ev: Evidence, **parts: bytes) -> Evidence:
    """``ev`` with some parts of its proof replaced (ek, ak, quoted, signature: marshalled)."""
    p = parse_proof(ev.proof)
    pieces = {
        "ek": p.ek.marshal(),
        "ak": p.ak.marshal(),
        "quoted": _wrap(p.quoted),
        "signature": p.signature.marshal(),
    } | parts
    return replace(ev, proof=b"".join(pieces[k] for k in ("ek", "ak", "quoted", "signature")))


def test_hostile_tpm_structures_are_broken_evidence_never_a_crash(attester: TpmAttester) -> None:
    from lattice.trust.tpm import pytss

    t = pytss()
    v, tv = _activated(attester)
    ch = v.challenge()
    good = attester.evidence(ch.nonce, HH)
    p = parse_proof(good.proof)

    def refused(ev: Evidence) -> str:
        with pytest.raises(BrokenEvidence) as info:
            v.check(ev.encode(), ch, HH, ME.public_key)
        return str(info.value)

    ek = t.TPM2B_PUBLIC.unmarshal(p.ek.marshal())[0]
    ek.publicArea.nameAlg = t.TPM2_ALG.NULL  # its name cannot even be computed
    assert "malformed TPM proof" in refused(_with(good, ek=ek.marshal()))
    ek = t.TPM2B_PUBLIC.unmarshal(p.ek.marshal())[0]
    ek.publicArea.parameters.rsaDetail.symmetric.algorithm = t.TPM2_ALG.NULL
    assert "not the TCG default RSA 2048 EK" in refused(_with(good, ek=ek.marshal()))
    with pytest.raises(BrokenEvidence, match="RSA 2048 EK"):  # and no credential is made
        tv.credential(ME.public_key, _with(good, ek=ek.marshal()))
    ak = t.TPM2B_PUBLIC.unmarshal(p.ak.marshal())[0]
    ak.publicArea.objectAttributes &= ~t.TPMA_OBJECT.RESTRICTED  # it could sign anything
    assert "restricted ECDSA P-256" in refused(_with(good, ak=ak.marshal()))
    assert "bytes after" in refused(replace(good, proof=good.proof + b"\0"))
    # A structure the TPM did make and the AK did sign, but not a quote: a certification.
    message = binding(Context.HANDSHAKE, Level.TPM, ch.nonce, HH, good.log.kernel_hash)
    certified, sig = attester._ctx.certify(
        attester._ak, attester._ak, t.TPM2B_DATA(message), t.TPMT_SIG_SCHEME(scheme=t.TPM2_ALG.NULL)
    )
    other = _with(good, quoted=certified.marshal(), signature=sig.marshal())
    assert "not a quote" in refused(other)


def test_an_ek_certificate_must_certify_that_very_ek(
    attester: TpmAttester, tpm: SoftwareTpm
) -> None:
    from cryptography import x509

    cas = [c for f in tpm.ca_files for c in x509.load_pem_x509_certificates(f.read_bytes())]
    tv = TpmVerifier(ek_cas=cas)
    ev = attester.evidence(bytes(32), HH)
    certificate = attester.ek_certificate()
    assert certificate, "swtpm_setup stored an EK certificate"

    def activate(cert: bytes) -> None:
        cred = tv.credential(ME.public_key, ev)
        answer = activation_answer(attester.activate(cred.blob, cred.encrypted_secret), HH)
        tv.activated(cred, answer, HH, cert)

    with pytest.raises(BrokenEvidence, match="no EK certificate"):
        activate(b"")
    with software_tpm() as other_tpm:
        other = TpmAttester.open(other_tpm.tcti, ME)
        try:
            with pytest.raises(BrokenEvidence, match="another key"):
                activate(other.ek_certificate())  # a real certificate, of another TPM
        finally:
            other.close()
    stranger = TpmVerifier(ek_cas=[_self_signed()])
    cred = stranger.credential(ME.public_key, ev)
    answer = activation_answer(attester.activate(cred.blob, cred.encrypted_secret), HH)
    with pytest.raises(BrokenEvidence, match="not issued by a configured CA"):
        stranger.activated(cred, answer, HH, certificate)
    # A tie made on first use, without CAs, does not count for a verifier that has them.
    tofu = TpmVerifier()
    cred = tofu.credential(ME.public_key, ev)
    tofu.activated(
        cred, activation_answer(attester.activate(cred.blob, cred.encrypted_secret), HH), HH
    )
    strict = TpmVerifier(tofu.activations, ek_cas=cas)
    message = binding(Context.HANDSHAKE, Level.TPM, bytes(32), HH, ev.log.kernel_hash)
    assert tofu.check(ev, message, ME.public_key) and not strict.check(ev, message, ME.public_key)
    activate(certificate + b"\xff" * 64)  # TPMs pad their NV areas: the DER length rules
    p = parse_proof(ev.proof)
    assert tv.activations.tied(ME.public_key, p.ek_name, p.ak_name, certified=True)
    assert tv.check(ev, message, ME.public_key)


def _self_signed() -> object:
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "another vendor")])
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(1)
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )  # fmt: skip

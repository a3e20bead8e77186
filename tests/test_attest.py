"""Build attestations (issue 13, DESIGN §10) against the real libraries: a lattice-written
DSSE envelope verifies with securesystemslib and in-toto, its Statement validates with
in_toto_attestation, and tampering, a wrong key id and an untrusted key fail in lattice and
in those libraries alike."""

from __future__ import annotations

import base64
import json

import pytest
from google.protobuf import json_format
from in_toto.models.metadata import Envelope as InTotoEnvelope
from in_toto_attestation.v1 import statement_pb2
from in_toto_attestation.v1.statement import Statement
from securesystemslib.dsse import Envelope
from securesystemslib.exceptions import VerificationError
from securesystemslib.signer import SSlibKey

import lattice
from lattice.errors import AttestationError
from lattice.state.wasm import PROFILE_ID
from lattice.trust.attest import BuildManifest, attest, key_id, verify
from lattice.trust.build import ZIG_ARGV

BUILDER = lattice.Identity.from_seed(bytes([0xB1]) * 32)
OTHER = lattice.Identity.from_seed(bytes([0xB2]) * 32)
MANIFEST = BuildManifest(
    name="counter.wasm",
    output={"sha256": "ab" * 32, "blake3": "cd" * 32},
    source={"sha256": "ef" * 32},
    toolchain={"package": "ziglang", "version": "0.14.1", "wheel_sha256": "01" * 32},
    argv=list(ZIG_ARGV),
    profile=PROFILE_ID,
    builder="https://lattice.invalid/builders/b1",
    metadata={"startedOn": "2026-12-02T00:00:00Z"},
)


def _sslib_key(identity: lattice.Identity, keyid: str | None = None) -> SSlibKey:
    return SSlibKey(
        keyid or key_id(identity.public_key), "ed25519", "ed25519",
        {"public": identity.public_key.hex()},
    )  # fmt: skip


def test_the_key_id_is_securesystemslibs() -> None:
    from securesystemslib.formats import encode_canonical

    key = {
        "keytype": "ed25519",
        "scheme": "ed25519",
        "keyval": {"public": BUILDER.public_key.hex()},
    }
    import hashlib

    assert key_id(BUILDER.public_key) == hashlib.sha256(encode_canonical(key).encode()).hexdigest()


def test_a_lattice_envelope_verifies_with_the_real_libraries() -> None:
    raw = attest(MANIFEST, BUILDER)
    assert verify(raw, {key_id(BUILDER.public_key): BUILDER.public_key}) == MANIFEST
    env = Envelope.from_dict(json.loads(raw))
    assert env.verify([_sslib_key(BUILDER)], 1)
    InTotoEnvelope.from_dict(json.loads(raw)).verify([_sslib_key(BUILDER)], 1)
    statement = json.loads(base64.b64decode(json.loads(raw)["payload"]))
    pb = json_format.ParseDict(statement, statement_pb2.Statement())
    Statement.copy_from_pb(pb).validate()


def test_tampering_a_wrong_key_id_and_an_untrusted_key_fail_everywhere() -> None:
    raw = json.loads(attest(MANIFEST, BUILDER))
    payload = bytearray(base64.b64decode(raw["payload"]))
    payload[payload.index(b"counter")] ^= 1
    tampered = {**raw, "payload": base64.b64encode(bytes(payload)).decode()}
    wrong_id = {**raw, "signatures": [{**raw["signatures"][0], "keyid": key_id(OTHER.public_key)}]}
    keys = {key_id(BUILDER.public_key): BUILDER.public_key}
    for bad, sslib_keys in (
        (tampered, [_sslib_key(BUILDER)]),
        (wrong_id, [_sslib_key(BUILDER)]),
        (raw, [_sslib_key(OTHER)]),  # an untrusted key: the only one the verifier has
    ):
        lattice_keys = (
            keys
            if sslib_keys[0].keyval["public"] == BUILDER.public_key.hex()
            else {key_id(OTHER.public_key): OTHER.public_key}
        )
        with pytest.raises(AttestationError):
            verify(json.dumps(bad).encode(), lattice_keys)
        # (from_dict takes the dict apart: each library gets its own copy)
        with pytest.raises(VerificationError):
            Envelope.from_dict(json.loads(json.dumps(bad))).verify(sslib_keys, 1)
        with pytest.raises(VerificationError):
            InTotoEnvelope.from_dict(json.loads(json.dumps(bad))).verify(sslib_keys, 1)


def test_matching_is_the_build_definition_and_the_output() -> None:
    from dataclasses import replace

    other_builder = replace(MANIFEST, builder="https://lattice.invalid/builders/b2", metadata={})
    assert MANIFEST.matches(other_builder)
    assert not MANIFEST.matches(
        replace(MANIFEST, output={"sha256": "00" * 32, "blake3": "cd" * 32})
    )
    assert not MANIFEST.matches(replace(MANIFEST, argv=[*MANIFEST.argv, "-O3"]))

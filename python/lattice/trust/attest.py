"""Build attestations (DESIGN §10): a builder says, and signs, what it built from what.

A :class:`BuildManifest` names the source digest, the toolchain (compiler package, version,
wheel digest, the exact argv), the engine profile and the output's digests. Attested, it
becomes an **in-toto Statement v1** (subject = the output's name and ``{sha256, blake3}``,
then any :attr:`~BuildManifest.parts` of it — a wheel's extension module — by name;
predicate = **SLSA provenance v1** with the build definition and ``runDetails.builder.id``)
inside a **DSSE envelope** (payload type ``application/vnd.in-toto+json``), signed with the
builder's Ed25519 identity under its published key id (:func:`key_id`: the SHA-256 of the
canonical JSON of the key, as securesystemslib computes it). The payload is canonical JSON
(keys sorted, no whitespace), so one manifest has one envelope per key. The same envelope
verifies with the real ``securesystemslib`` and ``in-toto`` (``tests/test_attest.py``).

>>> import lattice
>>> me = lattice.Identity.generate()
>>> m = BuildManifest(
...     name="counter.wasm", output={"sha256": "ab" * 32, "blake3": "cd" * 32},
...     source={"sha256": "ef" * 32}, toolchain={"package": "ziglang", "version": "0.14.1"},
...     argv=["cc", "-O2"], profile="00" * 32, builder="https://example.org/b1")
>>> env = attest(m, me)
>>> verify(env, {key_id(me.public_key): me.public_key}) == m
True
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from lattice import _lattice
from lattice.errors import AttestationError

if TYPE_CHECKING:
    from lattice.identity import Identity

__all__ = [
    "BUILD_TYPE",
    "BUILD_TYPES",
    "MODULE_PREFIX",
    "PAYLOAD_TYPE",
    "PREDICATE_TYPE",
    "STATEMENT_TYPE",
    "WHEEL_BUILD_TYPE",
    "BuildManifest",
    "attest",
    "canonical_json",
    "claimed",
    "key_id",
    "pae",
    "parse_json",
    "verify",
    "verify_signer",
]

PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://slsa.dev/provenance/v1"
#: The build types lattice's manifests name (what the build definition's fields mean): a
#: Wasm state machine (the profile is the engine profile's id), and lattice's own wheel
#: (no engine profile: ``""``).
BUILD_TYPE = "https://lattice.invalid/build/wasm-state-machine/v1"
WHEEL_BUILD_TYPE = "https://lattice.invalid/build/python-wheel/v1"
BUILD_TYPES = (BUILD_TYPE, WHEEL_BUILD_TYPE)
#: Where lattice's extension module sits inside its wheel (a part remote attestation
#: admits as a module).
MODULE_PREFIX = "lattice/_lattice"
#: The largest envelope lattice reads.
MAX_ENVELOPE_LEN = 1 << 20


def parse_json(data: bytes | str, what: str) -> Any:
    """``data`` parsed, or AttestationError saying ``what`` is not JSON lattice reads (not
    UTF-8, malformed, a number too long to convert, nesting too deep)."""
    try:
        return json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AttestationError(f"{what} is not JSON: {exc}") from None
    except (ValueError, RecursionError) as exc:
        raise AttestationError(f"{what} is JSON lattice does not read: {exc}") from None


def canonical_json(value: object) -> bytes:
    """Keys sorted, no whitespace, UTF-8: one encoding per value (as securesystemslib's
    ``encode_canonical`` for the values lattice writes: strings, ints, lists, objects)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    try:
        return text.encode()
    except UnicodeEncodeError:
        raise AttestationError("a string that is not Unicode text (a lone surrogate)") from None


@functools.lru_cache(maxsize=4096)
def key_id(public_key: bytes) -> str:
    """The published key id of an Ed25519 key: SHA-256 of the canonical JSON of
    ``{"keytype": "ed25519", "scheme": "ed25519", "keyval": {"public": hex}}``."""
    _lattice.check_public_key(public_key)
    key = {"keytype": "ed25519", "scheme": "ed25519", "keyval": {"public": public_key.hex()}}
    return hashlib.sha256(canonical_json(key)).hexdigest()


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE's pre-authentication encoding: what a signature signs."""
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


@dataclass(frozen=True)
class BuildManifest:
    """What one builder built: from which source, with which toolchain, into what."""

    name: str
    output: Mapping[str, str]
    source: Mapping[str, str]
    toolchain: Mapping[str, str]
    argv: list[str]
    profile: str
    builder: str
    #: When and how (not part of what must match between builders).
    metadata: Mapping[str, str] = field(default_factory=dict)
    build_type: str = BUILD_TYPE
    #: Files inside the output that are attested with it (name → digests): the extension
    #: module of a wheel, which a node measures for remote attestation.
    parts: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def build_definition(self) -> dict[str, Any]:
        """What two builders must agree on for their outputs to be comparable."""
        return {
            "buildType": self.build_type,
            "externalParameters": {
                "source": dict(self.source),
                "toolchain": dict(self.toolchain),
                "argv": list(self.argv),
                "profile": self.profile,
            },
        }

    def matches(self, other: BuildManifest) -> bool:
        """The same build definition and the same output (builder and time may differ)."""
        return self.build_definition() == other.build_definition() and dict(self.output) == dict(
            other.output
        )

    def statement(self) -> dict[str, Any]:
        """The in-toto Statement v1 with its SLSA provenance v1 predicate."""
        return {
            "_type": STATEMENT_TYPE,
            "subject": [{"name": self.name, "digest": dict(self.output)}]
            + [{"name": n, "digest": dict(self.parts[n])} for n in sorted(self.parts)],
            "predicateType": PREDICATE_TYPE,
            "predicate": {
                "buildDefinition": self.build_definition(),
                "runDetails": {
                    "builder": {"id": self.builder},
                    "metadata": dict(self.metadata),
                },
            },
        }

    @classmethod
    def from_statement(cls, statement: Any) -> BuildManifest:
        """The manifest a statement carries; AttestationError if it is not one lattice
        writes (another statement type, predicate or build type, a missing field)."""
        try:
            if statement["_type"] != STATEMENT_TYPE:
                raise AttestationError(f"not an in-toto Statement v1: {statement['_type']!r}")
            if statement["predicateType"] != PREDICATE_TYPE:
                raise AttestationError(f"not SLSA provenance v1: {statement['predicateType']!r}")
            subject, *parts = statement["subject"]
            build = statement["predicate"]["buildDefinition"]
            if build["buildType"] not in BUILD_TYPES:
                raise AttestationError(f"another build type: {build['buildType']!r}")
            params = build["externalParameters"]
            run = statement["predicate"]["runDetails"]
            manifest = cls(
                name=subject["name"],
                output=dict(subject["digest"]),
                source=dict(params["source"]),
                toolchain=dict(params["toolchain"]),
                argv=list(params["argv"]),
                profile=params["profile"],
                builder=run["builder"]["id"],
                metadata=dict(run.get("metadata", {})),
                build_type=build["buildType"],
                parts={p["name"]: dict(p["digest"]) for p in parts},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise AttestationError(f"a statement lattice cannot read: {exc!r}") from None
        if manifest.statement() != statement:
            raise AttestationError("a statement with fields lattice does not write")
        return manifest

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def attest(manifest: BuildManifest, identity: Identity) -> bytes:
    """The DSSE envelope (canonical JSON bytes) of ``manifest``, signed by ``identity``."""
    payload = canonical_json(manifest.statement())
    signature = identity.sign(pae(PAYLOAD_TYPE, payload))
    envelope = {
        "payload": base64.b64encode(payload).decode(),
        "payloadType": PAYLOAD_TYPE,
        "signatures": [
            {"keyid": key_id(identity.public_key), "sig": base64.b64encode(signature).decode()}
        ],
    }
    return canonical_json(envelope)


def _b64(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise AttestationError(f"{what} is a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise AttestationError(f"{what} is not base64") from None


def claimed(envelope: bytes) -> BuildManifest:
    """The manifest ``envelope`` carries, **unverified** (what it claims: ``lattice attest
    show``, and the check a node makes before it stores one); AttestationError if it is
    not a DSSE envelope of a statement lattice reads."""
    env = _envelope(envelope)
    statement = parse_json(_b64(env.get("payload"), "the payload"), "the payload")
    if not env["signatures"]:
        raise AttestationError("an envelope with no signature")
    return BuildManifest.from_statement(statement)


def _envelope(envelope: bytes) -> dict[str, Any]:
    """The envelope's JSON object, with its payload type and a list of signatures."""
    if len(envelope) > MAX_ENVELOPE_LEN:
        raise AttestationError(f"an envelope of {len(envelope)} bytes (limit {MAX_ENVELOPE_LEN})")
    env = parse_json(envelope, "the envelope")
    if not isinstance(env, dict) or not isinstance(env.get("signatures"), list):
        raise AttestationError("not a DSSE envelope (payload, payloadType, signatures)")
    if env.get("payloadType") != PAYLOAD_TYPE:
        raise AttestationError(f"payload type {env.get('payloadType')!r}, not {PAYLOAD_TYPE}")
    return env


def verify(envelope: bytes, keys: Mapping[str, bytes]) -> BuildManifest:
    """The manifest in ``envelope`` if one of its signatures verifies under ``keys`` (key
    id → Ed25519 public key); AttestationError naming what failed otherwise: the
    encoding, the payload type, an unknown key id, a key whose id is not its own, a
    signature that does not verify, the statement."""
    return verify_signer(envelope, keys)[0]


def verify_signer(envelope: bytes, keys: Mapping[str, bytes]) -> tuple[BuildManifest, str]:
    """As :func:`verify`, with the id of the key whose signature verified."""
    env = _envelope(envelope)
    payload = _b64(env.get("payload"), "the payload")
    message = pae(PAYLOAD_TYPE, payload)
    known = False
    for sig in env["signatures"]:
        keyid = sig.get("keyid") if isinstance(sig, dict) else None
        if not isinstance(keyid, str) or keyid not in keys:
            continue
        key = keys[keyid]
        known = True
        if key_id(key) != keyid:
            raise AttestationError(f"key id {keyid[:16]}… is not the id of the key given for it")
        if _lattice.verify(key, message, _b64(sig.get("sig"), "a signature")):
            return BuildManifest.from_statement(parse_json(payload, "the payload")), keyid
        raise AttestationError(f"the signature by key {keyid[:16]}… does not verify")
    if not known:
        raise AttestationError("no signature by a known key (unknown key ids)")
    raise AttestationError("no signature verifies")

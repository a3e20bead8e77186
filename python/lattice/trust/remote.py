"""Remote attestation (DESIGN §10): before two nodes sync, each proves what code it runs,
bound to this very Noise handshake, and the other checks that against its policy.

- **Measurement log**: the lattice extension module's file first, then each Wasm blob the
  node has loaded, in load order (each once), each by SHA-256. Its PCR-style replay
  (``pcr = sha256(pcr ‖ digest)`` from 32 zero bytes) is the **kernel hash**, so a
  verifier recomputes it from the log (:class:`MeasurementLog`).
- **Challenge**: a verifier's fresh 32-byte nonce, which the evidence must answer within
  ``ttl`` seconds of its issue (:class:`Challenge`).
- **Binding**: ``SHA-256(DOMAIN ‖ context ‖ level ‖ nonce ‖ handshake hash ‖ kernel hash)``
  (:func:`binding`), what each backend signs or quotes: evidence made for one handshake
  (or one challenge) proves nothing in another.
- **Backends**: :class:`SoftwareAttester` signs the binding with the node's Ed25519
  identity key — a *signed self-report*: it binds the claim to the session and to the
  identity, so a node that lies has signed its lie, but nothing stops a modified node from
  signing a false log. The TPM 2.0 backend (:mod:`lattice.trust.tpm`) has the binding
  quoted, with PCR 16, by an attestation key tied to the TPM's (certified) endorsement
  key: the log must then replay to the PCR the TPM holds (see that module for what this
  does not prove: PCR 16 can be reset by the host).
- **Policy**: :class:`Verifier` requires a level (``none`` < ``software`` < ``tpm``) and
  accepts only kernel hashes whose every component is admitted
  (:class:`AttestedKernels`: the extension module as a part of a wheel attested by N
  builders — ``lattice attest wheel`` — and each Wasm blob by the §10 policy).

Every failure is an :class:`~lattice.errors.AttestationError`: a
:class:`~lattice.errors.BrokenEvidence` when the evidence proves nothing, an
:class:`~lattice.errors.AttestationRefused` when it holds and the policy says no.

>>> import lattice
>>> me = lattice.Identity.generate()
>>> attester = SoftwareAttester(me, MeasurementLog((b"m" * 32,)))
>>> verifier = Verifier(Level.SOFTWARE, kernels=None)
>>> challenge, hh = verifier.challenge(), bytes(32)
>>> proof = attester.evidence(challenge.nonce, hh)
>>> verifier.check(proof.encode(), challenge, hh, me.public_key).level.name
'SOFTWARE'
>>> try:
...     verifier.check(proof.encode(), challenge, b"h" * 32, me.public_key)  # another handshake
... except BrokenEvidence as exc:
...     print(exc)
the software evidence does not verify (not signed by the peer for this handshake)
"""

from __future__ import annotations

import enum
import functools
import hashlib
import os
import struct
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from lattice import _lattice
from lattice.errors import (
    AttestationRefused,
    BrokenEvidence,
    DecodeError,
    InvalidArgument,
    NotActivated,
)
from lattice.reader import Reader
from lattice.trust.attest import BUILD_TYPE, MODULE_PREFIX

if TYPE_CHECKING:
    from lattice.identity import Identity
    from lattice.trust.policy import Policy

__all__ = [
    "DOMAIN",
    "MAX_EVIDENCE_LEN",
    "MAX_MEASUREMENTS",
    "NONCE_LEN",
    "Attested",
    "AttestedKernels",
    "Attester",
    "Challenge",
    "Context",
    "Credential",
    "Evidence",
    "KernelPolicy",
    "Level",
    "MeasurementLog",
    "SoftwareAttester",
    "Verifier",
    "binding",
    "levels",
    "module_digest",
    "replay",
]

#: Domain separation of every binding.
DOMAIN = b"lattice v1 remote attestation"
NONCE_LEN = 32
DIGEST_LEN = 32
#: The most components a log holds (the module and 63 blobs).
MAX_MEASUREMENTS = 64
#: The largest evidence (it rides in a hello's attestation field with the offer header).
MAX_EVIDENCE_LEN = 4000
#: Seconds a challenge may be answered in, by default.
DEFAULT_CHALLENGE_TTL = 30.0
_U16 = struct.Struct(">H")


class Level(enum.IntEnum):
    """What a party proves, weakest first (a requirement is met by that level or above)."""

    NONE = 0
    SOFTWARE = 1
    TPM = 2


class Context(enum.IntEnum):
    """What a binding is made for: the handshake, or a log update after it."""

    HANDSHAKE = 0
    UPDATE = 1


@functools.cache
def module_digest() -> bytes:
    """SHA-256 of the lattice extension module's file, as loaded (measured once)."""
    return hashlib.sha256(Path(_lattice.__file__).read_bytes()).digest()


def replay(digests: tuple[bytes, ...] | list[bytes]) -> bytes:
    """The kernel hash of ``digests``: ``pcr = sha256(pcr ‖ digest)`` from zeros, as a TPM
    extends a PCR."""
    pcr = bytes(DIGEST_LEN)
    for d in digests:
        pcr = hashlib.sha256(pcr + d).digest()
    return pcr


def binding(
    context: Context, level: Level, nonce: bytes, handshake_hash: bytes, kernel_hash: bytes
) -> bytes:
    """The 32 bytes a backend signs or quotes (see the module doc)."""
    return hashlib.sha256(
        DOMAIN + bytes([context, level]) + nonce + handshake_hash + kernel_hash
    ).digest()


@dataclass(frozen=True)
class MeasurementLog:
    """The measured components, the extension module first (see the module doc)."""

    digests: tuple[bytes, ...]

    def __post_init__(self) -> None:
        if not 1 <= len(self.digests) <= MAX_MEASUREMENTS:
            raise InvalidArgument(f"a measurement log holds 1 to {MAX_MEASUREMENTS} digests")
        if any(len(d) != DIGEST_LEN for d in self.digests):
            raise InvalidArgument("each measurement is a 32-byte SHA-256")

    @classmethod
    def of_this_process(cls) -> MeasurementLog:
        """The log of a node that has loaded no blob yet: its extension module."""
        return cls((module_digest(),))

    @property
    def kernel_hash(self) -> bytes:
        return replay(self.digests)

    @property
    def module(self) -> bytes:
        return self.digests[0]

    @property
    def blobs(self) -> tuple[bytes, ...]:
        return self.digests[1:]

    def extended(self, digest: bytes) -> MeasurementLog:
        """This log with ``digest`` appended (itself if it holds it already)."""
        return self if digest in self.digests else MeasurementLog((*self.digests, digest))

    def extends(self, earlier: MeasurementLog) -> bool:
        """True if ``earlier`` is a prefix of this log (a log only grows)."""
        return self.digests[: len(earlier.digests)] == earlier.digests

    def encode(self) -> bytes:
        return bytes([len(self.digests)]) + b"".join(self.digests)

    @classmethod
    def read(cls, r: Reader) -> MeasurementLog:
        count = r.u8("measurement count")
        if not 1 <= count <= MAX_MEASUREMENTS:
            raise DecodeError(f"a log of {count} measurements (1 to {MAX_MEASUREMENTS})")
        return cls(tuple(r.take(DIGEST_LEN, "a measurement") for _ in range(count)))


@dataclass(frozen=True)
class Challenge:
    """A verifier's nonce and when it was issued (its own monotonic clock)."""

    nonce: bytes
    issued: float

    @classmethod
    def fresh(cls, clock: Callable[[], float] = time.monotonic) -> Challenge:
        return cls(os.urandom(NONCE_LEN), clock())


@dataclass(frozen=True)
class Evidence:
    """What an attester answers a challenge with.

    ``level u8 ‖ answers [32] ‖ log ‖ proof_len u16 ‖ proof`` (``log = count u8 ‖ digest
    [32]*``; the proof is the backend's: a 64-byte signature, or a TPM quote)."""

    level: Level
    answers: bytes
    log: MeasurementLog
    proof: bytes = field(repr=False)

    def encode(self) -> bytes:
        return (
            bytes([self.level])
            + self.answers
            + self.log.encode()
            + _U16.pack(len(self.proof))
            + self.proof
        )

    @classmethod
    def decode(cls, data: bytes) -> Evidence:
        """Strictly; BrokenEvidence for anything that is not evidence lattice writes."""
        if len(data) > MAX_EVIDENCE_LEN:
            raise BrokenEvidence(f"evidence of {len(data)} bytes (limit {MAX_EVIDENCE_LEN})")
        try:
            r = Reader(data)
            raw = r.u8("evidence level")
            if raw not in (Level.SOFTWARE, Level.TPM):
                raise DecodeError(f"unknown evidence level {raw}")
            answers = r.take(NONCE_LEN, "the nonce answered")
            log = MeasurementLog.read(r)
            (n,) = _U16.unpack(r.take(2, "proof length"))
            proof = r.take(n, "the proof")
            r.finish("the evidence")
        except (DecodeError, InvalidArgument) as exc:
            raise BrokenEvidence(f"malformed evidence: {exc}") from None
        return cls(Level(raw), answers, log, proof)


class Attester(Protocol):
    """A backend that proves what this node runs."""

    level: Level
    log: MeasurementLog

    def measure(self, digest: bytes) -> bool:
        """Record that a blob was loaded (True if it is new to the log)."""
        ...

    def evidence(
        self, nonce: bytes, handshake_hash: bytes, context: Context = Context.HANDSHAKE
    ) -> Evidence:
        """The evidence answering ``nonce`` in the session ``handshake_hash``."""
        ...


class SoftwareAttester:
    """Evidence signed by the node's identity key (a signed self-report: see the module
    doc for what it does and does not prove)."""

    level = Level.SOFTWARE

    def __init__(self, identity: Identity, log: MeasurementLog | None = None) -> None:
        self.identity = identity
        self.log = log or MeasurementLog.of_this_process()

    def measure(self, digest: bytes) -> bool:
        before = self.log
        self.log = self.log.extended(digest)
        return self.log is not before

    def evidence(
        self, nonce: bytes, handshake_hash: bytes, context: Context = Context.HANDSHAKE
    ) -> Evidence:
        log = self.log
        message = binding(context, self.level, nonce, handshake_hash, log.kernel_hash)
        return Evidence(self.level, nonce, log, self.identity.sign(message))


class KernelPolicy(Protocol):
    """What decides whether a measured kernel may sync with this node."""

    def check(self, log: MeasurementLog) -> None:
        """Raise AttestationRefused naming the component that is not admitted."""
        ...


class AttestedKernels:
    """Kernel hashes whose every component the §10 policy admits: the extension module as
    a part of an attested wheel, each blob as an attested output."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy

    def check(self, log: MeasurementLog) -> None:
        status = self.policy.status({"sha256": log.module.hex()}, part=MODULE_PREFIX)
        if status != "admitted":
            raise AttestationRefused(
                f"the extension module {log.module.hex()[:16]}… is {status} "
                "(its wheel's attestations: lattice attest wheel)"
            )
        for blob in log.blobs:
            status = self.policy.status({"sha256": blob.hex()}, build_type=BUILD_TYPE)
            if status != "admitted":
                raise AttestationRefused(f"the Wasm blob {blob.hex()[:16]}… is {status}")


@dataclass(frozen=True)
class Attested:
    """What a verifier accepted: the level and the log (with its kernel hash)."""

    level: Level
    log: MeasurementLog | None = None

    def summary(self) -> str:
        if self.log is None:
            return "not attested (none required)"
        n = len(self.log.blobs)
        return (
            f"{self.level.name.lower()}: kernel {self.log.kernel_hash.hex()[:16]}… "
            f"(the module and {n} blob{'s' if n != 1 else ''})"
        )


@dataclass(frozen=True)
class Credential:
    """A credential challenge for one peer's (EK, AK): what the attester must decrypt."""

    identity: bytes
    ek_name: bytes
    ak_name: bytes
    blob: bytes
    encrypted_secret: bytes
    secret: bytes
    ek_public: bytes = b""  # the EK's TPM2B_PUBLIC, for its certificate


class TpmCheck(Protocol):
    """The TPM backend's half of the verifier (:mod:`lattice.trust.tpm`)."""

    def check(self, evidence: Evidence, message: bytes, identity: bytes) -> bool:
        """BrokenEvidence unless the quote holds; whether its AK is tied to the EK."""
        ...

    def credential(self, identity: bytes, evidence: Evidence) -> Credential:
        """A fresh credential for the EK and AK ``evidence`` names."""
        ...

    def activated(
        self, credential: Credential, answer: bytes, handshake_hash: bytes,
        certificate: bytes = b"",
    ) -> None:  # fmt: skip
        """Tie the pair if ``answer`` (and the EK ``certificate``) are right."""
        ...


class Verifier:
    """Checks a peer's evidence: it must answer this verifier's fresh challenge for this
    handshake, verify under its backend, meet ``require``, and pass ``kernels``.

    - ``require``: the least level accepted (``Level.NONE``: evidence is not asked for,
      though a peer's is still checked if it sends some);
    - ``kernels``: the kernel policy (None: any kernel, for tests and demos of the
      mechanism alone);
    - ``ttl``: seconds a challenge may be answered in; ``tpm``: the TPM quote checker.
    """

    def __init__(
        self,
        require: Level,
        kernels: KernelPolicy | None,
        *,
        ttl: float = DEFAULT_CHALLENGE_TTL,
        clock: Callable[[], float] = time.monotonic,
        tpm: TpmCheck | None = None,
    ) -> None:
        self.require = Level(require)
        self.kernels = kernels
        self.ttl = ttl
        self.clock = clock
        self.tpm = tpm

    def challenge(self) -> Challenge:
        return Challenge.fresh(self.clock)

    def check(
        self,
        evidence: bytes | None,
        challenge: Challenge,
        handshake_hash: bytes,
        identity: bytes,
        context: Context = Context.HANDSHAKE,
        require: Level | None = None,
    ) -> Attested:
        """The accepted result, or BrokenEvidence / AttestationRefused saying why not.
        ``require`` overrides the verifier's (a role that need not attest)."""
        need = self.require if require is None else require
        if not evidence:
            if need > Level.NONE:
                raise AttestationRefused(
                    f"no evidence: this node requires {need.name.lower()} attestation"
                )
            return Attested(Level.NONE)
        ev = Evidence.decode(evidence)
        if ev.answers != challenge.nonce:
            raise BrokenEvidence("the evidence answers another challenge (a wrong nonce)")
        if context == Context.HANDSHAKE:
            age = self.clock() - challenge.issued
            if age > self.ttl:
                raise BrokenEvidence(
                    f"the evidence answers an expired challenge ({age:.1f} s old, "
                    f"ttl {self.ttl:g} s)"
                )
        message = binding(context, ev.level, ev.answers, handshake_hash, ev.log.kernel_hash)
        tied = True
        if ev.level == Level.SOFTWARE:
            if len(ev.proof) != 64 or not _lattice.verify(identity, message, ev.proof):
                raise BrokenEvidence(
                    "the software evidence does not verify (not signed by the peer for this "
                    "handshake)"
                )
        else:
            if self.tpm is None:
                raise AttestationRefused("TPM evidence, and this node checks no TPM quotes")
            tied = self.tpm.check(ev, message, identity)
        if ev.level < need:
            raise AttestationRefused(
                f"{ev.level.name.lower()} evidence; this node requires {need.name.lower()}"
            )
        if self.kernels is not None:
            self.kernels.check(ev.log)
        if not tied:
            raise NotActivated(
                "the attestation key is not tied to an endorsement key of this peer "
                "(credential activation has not succeeded)",
                ev,
            )
        return Attested(ev.level, ev.log)


def levels() -> Mapping[str, Level]:
    """The levels by their names in a configuration (``none``, ``software``, ``tpm``)."""
    return {lv.name.lower(): lv for lv in Level}

"""Remote attestation inside the Noise XX handshake (DESIGN §10): mutual, and no extra
round trip — each side's challenge rides in a message it sends anyway, and its evidence
in its next one::

    message 1  initiator → responder   payload   = challenge
    message 2  responder → initiator   hello.attestation = offer (its nonce; evidence
                                       answering the initiator's, bound to h1)
    message 3  initiator → responder   hello.attestation = offer (no nonce; evidence
                                       answering the responder's, bound to h2)

    challenge = version u8 (1) ‖ nonce [32]
    offer     = version u8 (1) ‖ has_nonce u8 (0|1) ‖ [nonce [32]]
                ‖ evidence_len u16 ‖ evidence          (lattice.trust.remote.Evidence)

``h1`` and ``h2`` are the Noise handshake hash after message 1 and after message 2, as both
sides hold it at that point: the responder's evidence is bound to the initiator's fresh
ephemeral key and nonce, the initiator's to everything of messages 1 and 2. A party with
nothing to ask sends an empty message-1 payload; one with nothing to offer an empty
attestation field (what nodes without ``[attestation]`` do, so they interoperate).

After the handshake, a node that loads a blob sends each connected peer a ``MEASURED``
message: evidence over the grown log, answering the peer's handshake nonce and bound to
the final handshake hash (context ``UPDATE``); the peer accepts only a log that extends
the last one it accepted and whose components are admitted, and cuts the link otherwise.

>>> import lattice
>>> from lattice.trust.remote import Level, SoftwareAttester, Verifier
>>> a, b = lattice.Identity.generate(), lattice.Identity.generate()
>>> left = NodeAttestation(SoftwareAttester(a), Verifier(Level.SOFTWARE, None)).exchange()
>>> right = NodeAttestation(SoftwareAttester(b), Verifier(Level.SOFTWARE, None)).exchange()
>>> right.read_challenge(left.challenge_payload())
>>> offer = right.offer_now(b"1" * 32, with_nonce=True)
>>> left.read_offer(offer, b"1" * 32, b.public_key, lattice._lattice.ROLE_PEER).summary()[:9]
'software:'
"""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass

from lattice import _lattice
from lattice.errors import (
    AttestationError,
    AttestationRefused,
    BrokenEvidence,
    DecodeError,
    NotActivated,
)
from lattice.reader import Reader
from lattice.trust.remote import (
    NONCE_LEN,
    Attested,
    Attester,
    Challenge,
    Context,
    Credential,
    Evidence,
    Level,
    MeasurementLog,
    Verifier,
)

__all__ = ["CHALLENGE_VERSION", "OFFER_VERSION", "Exchange", "NodeAttestation"]

CHALLENGE_VERSION = 1
OFFER_VERSION = 1
_U16 = struct.Struct(">H")


@dataclass
class NodeAttestation:
    """A node's part: what it presents (``attester``; None: nothing) and what it checks
    (``verifier``). Only registered peers must meet the verifier's requirement; clients
    and guests are held to none (their evidence, if any, is still checked)."""

    attester: Attester | None
    verifier: Verifier

    def exchange(self) -> Exchange:
        return Exchange(self)

    def required(self, role: int) -> Level:
        return self.verifier.require if role == _lattice.ROLE_PEER else Level.NONE


class Exchange:
    """One connection's attestation, both directions (see the module doc)."""

    def __init__(self, node: NodeAttestation) -> None:
        self.node = node
        #: The challenge this side issued, and the nonce the other side issued (if any).
        self.mine: Challenge = node.verifier.challenge()
        self.theirs: bytes | None = None
        #: What this side accepted of the other (after :meth:`read_offer`).
        self.result: Attested | None = None
        #: Why it refused the other (the connection is then refused with this).
        self.error: AttestationError | None = None
        #: A TPM peer whose AK is not yet tied to its EK: the credential to send it, and
        #: what is accepted once it answers (lattice.net.attesting runs it).
        self.activation: Credential | None = None
        self._pending: Attested | None = None
        #: Whether this side has answered the other's credential (once a connection).
        self.answered = False
        #: The log this side's evidence showed (a later one is sent as MEASURED).
        self.sent: MeasurementLog | None = None

    # --- message 1 ---------------------------------------------------------------------

    def challenge_payload(self) -> bytes:
        return bytes([CHALLENGE_VERSION]) + self.mine.nonce

    def read_challenge(self, payload: bytes) -> None:
        """The initiator's message-1 payload: empty (it asks nothing) or a challenge."""
        if not payload:
            return
        if len(payload) != 1 + NONCE_LEN or payload[0] != CHALLENGE_VERSION:
            raise DecodeError("a handshake challenge is version 1 and a 32-byte nonce")
        self.theirs = payload[1:]

    # --- messages 2 and 3 --------------------------------------------------------------

    def offer_now(self, handshake_hash: bytes, *, with_nonce: bool) -> bytes:
        """The hello's attestation field (evidence made on this thread)."""
        return self._offer(self._evidence(handshake_hash), with_nonce)

    async def offer(self, handshake_hash: bytes, *, with_nonce: bool) -> bytes:
        """As :meth:`offer_now`; a backend that blocks (a TPM) runs on a thread."""
        attester = self.node.attester
        if attester is not None and getattr(attester, "blocking", False):
            evidence = await asyncio.to_thread(self._evidence, handshake_hash)
        else:
            evidence = self._evidence(handshake_hash)
        return self._offer(evidence, with_nonce)

    def _evidence(self, handshake_hash: bytes) -> bytes:
        attester = self.node.attester
        if attester is None or self.theirs is None:
            return b""
        evidence = attester.evidence(self.theirs, handshake_hash)
        self.sent = evidence.log
        return evidence.encode()

    def _offer(self, evidence: bytes, with_nonce: bool) -> bytes:
        head = bytes([OFFER_VERSION, int(with_nonce)]) + (self.mine.nonce if with_nonce else b"")
        return head + _U16.pack(len(evidence)) + evidence

    def read_offer(
        self, field: bytes, handshake_hash: bytes, identity: bytes, role: int
    ) -> Attested:
        """Check the other side's hello attestation field against this side's challenge;
        the result, also kept in :attr:`result` (or the error, in :attr:`error`, raised)."""
        try:
            nonce, evidence = self._parse_offer(field)
            if nonce is not None:
                self.theirs = nonce
            need = self.node.required(role)
            self.result = self.node.verifier.check(
                evidence, self.mine, handshake_hash, identity, require=need
            )
        except NotActivated as exc:
            if need == Level.NONE:  # not required of this role: no activation for it
                self.result = Attested(Level.NONE)
                return self.result
            tpm = self.node.verifier.tpm
            if tpm is None or not isinstance(exc.evidence, Evidence):
                self.error = exc
                raise
            try:
                self.activation = tpm.credential(identity, exc.evidence)
            except AttestationError as failed:
                self.error = failed
                raise
            self._pending = Attested(exc.evidence.level, exc.evidence.log)
            return self._pending
        except AttestationError as exc:
            self.error = exc
            raise
        return self.result

    def activated(self, answer: bytes, final_hash: bytes, certificate: bytes = b"") -> Attested:
        """The peer answered the credential: its AK is tied to its EK from now on (for
        this verifier), and its evidence accepted; BrokenEvidence if the answer is wrong."""
        tpm, credential = self.node.verifier.tpm, self.activation
        if tpm is None or credential is None or self._pending is None:
            raise BrokenEvidence("an activation answer nobody asked for")
        try:
            tpm.activated(credential, answer, final_hash, certificate)
        except AttestationError as exc:
            self.error = exc
            raise
        self.result, self.activation = self._pending, None
        return self.result

    @staticmethod
    def _parse_offer(field: bytes) -> tuple[bytes | None, bytes]:
        if not field:
            return None, b""
        try:
            r = Reader(field)
            if r.u8("offer version") != OFFER_VERSION:
                raise DecodeError("an attestation offer of another version")
            has_nonce = r.u8("offer flags")
            if has_nonce not in (0, 1):
                raise DecodeError(f"offer flags {has_nonce}")
            nonce = r.take(NONCE_LEN, "the offer's nonce") if has_nonce else None
            (n,) = _U16.unpack(r.take(2, "evidence length"))
            evidence = r.take(n, "the evidence")
            r.finish("the attestation offer")
        except DecodeError as exc:
            raise BrokenEvidence(f"a malformed attestation offer: {exc}") from None
        return nonce, evidence

    # --- after the handshake -------------------------------------------------------------

    def update(self, final_hash: bytes) -> bytes | None:
        """Evidence of this side's grown log for the other (None: it asked for none)."""
        attester = self.node.attester
        if attester is None or self.theirs is None:
            return None
        return attester.evidence(self.theirs, final_hash, Context.UPDATE).encode()

    def check_update(
        self, evidence: bytes, final_hash: bytes, identity: bytes, role: int
    ) -> Attested:
        """A ``MEASURED`` message: the other side's log grew. Accepted only if it extends
        the log accepted so far and passes the policy (AttestationError otherwise)."""
        need = self.node.required(role)
        got = self.node.verifier.check(
            evidence, self.mine, final_hash, identity, Context.UPDATE, require=need
        )
        before = None if self.result is None else self.result.log
        if got.log is not None and before is not None and not got.log.extends(before):
            raise BrokenEvidence("a log update that does not extend the log accepted before")
        self.result = got
        return got

    def settled(self, role: int) -> AttestationError | None:
        """Why the connection must be refused after the handshake, if it must: the error,
        or — where attestation is required — no accepted result and none pending."""
        if self.error is not None:
            return self.error
        need = self.node.required(role)
        if need > Level.NONE and self.result is None and self.activation is None:
            return AttestationRefused(f"no {need.name.lower()} attestation was accepted")
        return None

    def summary(self) -> str:
        if self.error is not None:
            return f"refused: {self.error}"
        if self.activation is not None:
            return "activating its TPM's attestation key"
        return "not checked" if self.result is None else self.result.summary()

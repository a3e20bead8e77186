"""A node's remote attestation (DESIGN §10): its ``[attestation]`` table made real.

:class:`Attesting` builds what the node presents (the software backend, or a TPM's) and
what it checks — the kernel policy is the node's §10 policy, fed by every ``ATTESTATION``
entry of its log — hands each handshake an :class:`~lattice.net.attestation.Exchange`,
keeps each peer's result for ``lattice status``, and, when the node loads a Wasm blob,
measures it and sends each connected peer a ``MEASURED`` update (a peer that loads an
unadmitted blob is cut off by the peers that check it).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from lattice import _lattice
from lattice.errors import (
    AttestationError,
    BrokenEvidence,
    HandshakeRefused,
    InvalidArgument,
    ProtocolError,
)
from lattice.net import wire
from lattice.net.attestation import Exchange, NodeAttestation
from lattice.trust.policy import LogAttestations
from lattice.trust.remote import (
    Attested,
    AttestedKernels,
    Attester,
    KernelPolicy,
    Level,
    SoftwareAttester,
    Verifier,
)
from lattice.trust.tpm import Activations, TpmAttester, TpmVerifier, activation_answer

if TYPE_CHECKING:
    from lattice.identity import Identity
    from lattice.net.config import NodeConfig
    from lattice.net.connection import Connection, Limits
    from lattice.net.documents import Documents
    from lattice.net.trustconfig import AttestationConfig
    from lattice.replica import Replica

__all__ = ["Attesting"]

log = logging.getLogger("lattice.attestation")

#: Messages a peer's session may send before this node has its activation answer (its
#: opening: CREDIT, FRONTIER, REQUEST, MEASURED, FRAUD; PINGs are dropped; ENTRIES or
#: anything else ends the connection).
MAX_EARLY_MESSAGES = 16


class Linked(Protocol):
    """A live link, as attestation sees it."""

    conn: Connection

    def send_soon(self, msg: wire.Message) -> None: ...


class Node(Protocol):
    """What attestation uses of its node."""

    config: NodeConfig
    identity: Identity
    replica: Replica
    documents: Documents
    keypair: _lattice.NoiseKeypair
    hello: _lattice.Hello
    limits: Limits

    @property
    def links(self) -> Mapping[bytes, Linked]: ...

    def spawn(self, coro: Coroutine[object, object, None]) -> asyncio.Task[None]: ...


def make_attester(config: AttestationConfig, node: Node) -> Attester | None:
    """The backend the node presents (None for ``backend = "none"``)."""
    if config.backend == Level.SOFTWARE:
        return SoftwareAttester(node.identity)
    if config.backend == Level.TPM:  # tpm2-pytss: imported only where a TPM is used
        return TpmAttester.open(config.tpm or "", node.identity)
    return None


class Attesting:
    """The node's attestation state (see the module doc); inert without ``[attestation]``."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.config = node.config.attestation
        #: Each peer's last result (``lattice status``), by its key.
        self.results: dict[bytes, str] = {}
        self.attestation: NodeAttestation | None = None
        self._feed: LogAttestations | None = None
        if self.config is None:
            return
        kernels: KernelPolicy | None = None
        policy = node.documents.machines.policy
        if policy is not None:
            for path in self.config.attestations:
                try:
                    policy.add(path.read_bytes())
                except (OSError, AttestationError) as exc:
                    raise InvalidArgument(f"[attestation] attestations: {path}: {exc}") from None
            self._feed = LogAttestations(node.replica, policy)
            kernels = AttestedKernels(policy)
        # TPM evidence meets any requirement, and is checked wherever it is offered.
        store = node.config.store  # the ties activation proved, kept beside the store
        kept = None if store is None else store.with_name(store.name + ".tpm-ties.json")
        tpm = TpmVerifier(Activations(kept), self._ek_cas())
        if self.config.require == Level.TPM and not tpm.ek_cas:
            log.warning(
                "[attestation] require = 'tpm' without ek_ca: a peer's endorsement key is "
                "trusted on first activation, which proves no more than software evidence"
            )
        verifier = Verifier(self.config.require, kernels, ttl=self.config.challenge_ttl, tpm=tpm)
        self.attestation = NodeAttestation(make_attester(self.config, node), verifier)
        self._members = {m.public_key for m in node.config.members}
        self._announcing = asyncio.Lock()
        node.documents.machines.loaded = self.loaded

    def _ek_cas(self) -> list[Any]:
        from cryptography import x509

        assert self.config is not None
        cas = []
        for path in self.config.ek_ca:
            try:
                cas += x509.load_pem_x509_certificates(path.read_bytes())
            except (OSError, ValueError) as exc:
                raise InvalidArgument(f"[attestation] ek_ca: {path}: {exc}") from None
        return cas

    @property
    def attester(self) -> Attester | None:
        return None if self.attestation is None else self.attestation.attester

    def exchange(self) -> Exchange | None:
        """A fresh exchange for one handshake (None: the node neither asks nor offers)."""
        return None if self.attestation is None else self.attestation.exchange()

    def hello(self, field: bytes) -> _lattice.Hello:
        """The node's hello carrying ``field`` (its attestation offer)."""
        node = self.node
        if not field:
            return node.hello
        return _lattice.Hello.create(
            node.identity.signing_key, node.keypair.public, node.config.swarm_id,
            node.hello.role, field,
        )  # fmt: skip

    def outcome(self, conn: Connection, exchange: Exchange | None) -> AttestationError | None:
        """Record what the handshake showed of the peer; the refusal, if any."""
        conn.attestation = exchange
        if exchange is None:
            return None
        refusal = exchange.settled(conn.role)
        self._result(conn, f"refused: {refusal}" if refusal else exchange.summary())
        return refusal

    # --- after the handshake -------------------------------------------------------------

    async def settle(self, conn: Connection) -> None:
        """Before the session starts: if the peer's TPM evidence held but its AK is not yet
        tied to its EK, send it a credential and wait for the answer (once per peer: the tie
        is kept). Messages the peer's session sends meanwhile are given back to the
        connection, in order. AttestationError if the answer is wrong or late."""
        exchange = conn.attestation
        if exchange is None or exchange.activation is None:
            return
        credential = exchange.activation
        await conn.send(wire.Activate(credential.blob, credential.encrypted_secret))
        early: list[wire.Message] = []
        timeout = self.node.limits.handshake_timeout
        deadline = time.monotonic() + timeout
        while True:
            try:
                msg = await asyncio.wait_for(conn.recv(), max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                raise BrokenEvidence(
                    f"no answer to the TPM credential within {timeout} s"
                ) from None
            match msg:
                case wire.Activated(answer, certificate):
                    try:
                        got = exchange.activated(answer, conn.handshake_hash, certificate)
                    except AttestationError:
                        self._result(conn, exchange.summary())
                        raise
                    log.info("activated the TPM attestation key of %s", conn.remote[:4].hex())
                    self._result(conn, got.summary())
                    break
                case wire.Activate(blob, secret):  # it activates this node's TPM meanwhile
                    await conn.send(await self.answer(conn, blob, secret))
                case wire.Refused(reason):
                    raise HandshakeRefused(f"refused: {reason}", author=conn.remote)
                case wire.Ping():
                    pass  # keep-alive: nothing to hand on
                case (
                    wire.Credit() | wire.Frontier() | wire.Request() | wire.Measured()
                    | wire.Fraud()
                ):  # fmt: skip
                    if len(early) >= MAX_EARLY_MESSAGES:
                        raise ProtocolError("too many messages before the activation answer")
                    early.append(msg)
                case _:
                    raise ProtocolError(
                        f"{type(msg).__name__} before the activation answer", author=conn.remote
                    )
        conn.unread(early)

    async def answer(self, conn: Connection, blob: bytes, secret: bytes) -> wire.Activated:
        """The answer to a peer's credential for this node's TPM (once a connection: a
        second ACTIVATE, or one to a node without a TPM, ends it)."""
        attester, exchange = self.attester, conn.attestation
        if not isinstance(attester, TpmAttester) or exchange is None:
            raise AttestationError("a TPM credential for a node that attests without a TPM")
        if exchange.answered:
            raise ProtocolError("a second TPM credential on one connection", author=conn.remote)
        exchange.answered = True
        recovered = await asyncio.to_thread(attester.activate, blob, secret)
        certificate = await asyncio.to_thread(attester.ek_certificate)
        return wire.Activated(activation_answer(recovered, conn.handshake_hash), certificate)

    def loaded(self, digest: bytes) -> None:
        """The node instantiated a Wasm blob: measure it and tell the connected peers (on
        a thread where the backend blocks: a TPM extends and quotes)."""
        attester = self.attester
        if attester is None:
            return
        if not getattr(attester, "blocking", False):
            if attester.measure(digest):
                for session in list(self.node.links.values()):
                    self._update(session, session.conn.attestation)
            return
        self.node.spawn(self._announce(attester, digest))

    async def _announce(self, attester: Attester, digest: bytes) -> None:
        async with self._announcing:  # one at a time: each link hears its log grow in order
            if not await asyncio.to_thread(attester.measure, digest):
                return
            for session in list(self.node.links.values()):
                exchange = session.conn.attestation
                if exchange is not None:
                    hh = session.conn.handshake_hash
                    evidence = await asyncio.to_thread(exchange.update, hh)
                    if evidence is not None:
                        session.send_soon(wire.Measured(evidence))

    def started(self, session: Linked) -> None:
        """A link's session starts: if the log grew since its handshake's evidence (a blob
        loaded meanwhile), the peer hears of it now."""
        exchange, attester = session.conn.attestation, self.attester
        if exchange is None or attester is None or exchange.sent in (None, attester.log):
            return
        if getattr(attester, "blocking", False):
            self.node.spawn(self._catch_up(session, exchange))
        else:
            self._update(session, exchange)

    async def _catch_up(self, session: Linked, exchange: Exchange) -> None:
        async with self._announcing:
            evidence = await asyncio.to_thread(exchange.update, session.conn.handshake_hash)
            if evidence is not None:
                session.send_soon(wire.Measured(evidence))

    def _result(self, conn: Connection, text: str) -> None:
        if conn.role == _lattice.ROLE_PEER and conn.remote in self._members:
            self.results[conn.remote] = text

    @staticmethod
    def _update(session: Linked, exchange: Exchange | None) -> None:
        evidence = None if exchange is None else exchange.update(session.conn.handshake_hash)
        if evidence is not None:
            session.send_soon(wire.Measured(evidence))

    def measured(self, conn: Connection, evidence: bytes) -> Attested:
        """A peer's ``MEASURED``: check it (AttestationError ends the link)."""
        exchange = conn.attestation
        if exchange is None:
            raise AttestationError("a log update on a connection that attested nothing")
        try:
            got = exchange.check_update(evidence, conn.handshake_hash, conn.remote, conn.role)
        except AttestationError as exc:
            self._result(conn, f"cut off: {exc}")
            raise
        self._result(conn, got.summary())
        return got

    def status(self) -> dict[str, object] | None:
        if self.config is None:
            return None
        attester = self.attester
        return {
            "backend": self.config.backend.name.lower(),
            "require": self.config.require.name.lower(),
            "kernel": None if attester is None else attester.log.kernel_hash.hex(),
            "measurements": 0 if attester is None else len(attester.log.digests),
        }

    def close(self) -> None:
        if self._feed is not None:
            self._feed.close()
        attester = self.attester
        close = getattr(attester, "close", None)
        if close is not None:
            close()

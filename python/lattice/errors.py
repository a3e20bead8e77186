"""Exceptions raised by lattice (DESIGN §1).

Every failure lattice reports is a :class:`LatticeError`; the subclass names what failed and
the attributes say where (``index`` in a batch or segment, ``author``, ``seq``). Classes that
describe bad input also derive from :class:`ValueError` (or :class:`IndexError`), so generic
code that catches those keeps working.

The Rust core raises these same classes: it looks them up here by name, in one place
(``rust/src/py/errors.rs``).

>>> from lattice.errors import DecodeError, LatticeError
>>> issubclass(DecodeError, LatticeError) and issubclass(DecodeError, ValueError)
True
"""

from __future__ import annotations

__all__ = [
    "AdmissionError",
    "AttestationError",
    "AttestationRefused",
    "BadBlob",
    "BadGuestOp",
    "Blocked",
    "BrokenChain",
    "BrokenEvidence",
    "BrokenLipmaa",
    "BrokenPrev",
    "BufferFull",
    "CounterOverflow",
    "DecodeError",
    "DepsMismatch",
    "DocMismatch",
    "ForkDetected",
    "FrameTooLarge",
    "FrontierMismatch",
    "FutureViewSeq",
    "GridError",
    "GuestRefused",
    "HandshakeRefused",
    "HandshakeTimeout",
    "InvalidArgument",
    "InvalidFraudProof",
    "InvalidKey",
    "InvalidOp",
    "InvalidProofOfWork",
    "InvalidRecord",
    "InvalidSignature",
    "InvalidVouch",
    "LamportNotIncreasing",
    "LatticeError",
    "LimitExceeded",
    "NoiseFailure",
    "NonCanonical",
    "NonMonotonicFrontier",
    "NotActivated",
    "NotAdmitted",
    "NotInCausalPast",
    "NotSynced",
    "OpOutOfRange",
    "OutOfRange",
    "OverBudget",
    "PayloadMismatch",
    "PendingOverflow",
    "ProtocolError",
    "ReplayedGuestOp",
    "ResultRefused",
    "SeqGap",
    "StoreError",
    "TaskCancelled",
    "TaskFailed",
    "TaskRejected",
    "TaskTimedOut",
    "TrailingBytes",
    "Truncated",
    "UnknownAuthor",
    "UnknownKind",
    "UnknownVersion",
    "UnknownView",
    "UnresolvedLink",
    "WasmTrap",
    "WrongAuthor",
    "WrongResult",
    "WrongSwarm",
    "WrongType",
]


class LatticeError(Exception):
    """Base class of every lattice error.

    ``index``: position in the batch or segment being processed; ``author``: the public
    key of the log concerned; ``seq``: the position in that log. Each is ``None`` when not
    applicable.
    """

    def __init__(
        self,
        message: str,
        *,
        index: int | None = None,
        author: bytes | None = None,
        seq: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.index = index
        self.author = author
        self.seq = seq

    def __str__(self) -> str:
        where = []
        if self.index is not None:
            where.append(f"index {self.index}")
        if self.author is not None:
            where.append(f"author {self.author[:8].hex()}…")
        if self.seq is not None:
            where.append(f"seq {self.seq}")
        return f"{self.message} ({', '.join(where)})" if where else self.message

    def __reduce__(self) -> tuple[object, ...]:
        # Keep the keyword attributes across pickling (multiprocessing, node IPC).
        return (_rebuild, (type(self), self.message, self.index, self.author, self.seq))


def _rebuild(
    cls: type[LatticeError],
    message: str,
    index: int | None,
    author: bytes | None,
    seq: int | None,
) -> LatticeError:
    return cls(message, index=index, author=author, seq=seq)


class InvalidArgument(LatticeError, ValueError):
    """An argument is outside what the call accepts (a wrong length, an unknown name)."""


class OutOfRange(LatticeError, IndexError):
    """An index or size is outside the structure it refers to."""


# --- decoding (codec) -------------------------------------------------------------------


class DecodeError(LatticeError, ValueError):
    """Bytes are not the canonical encoding of the value they claim to be."""


class Truncated(DecodeError):
    """The input ended before the value was complete."""


class TrailingBytes(DecodeError):
    """Bytes follow a complete value; canonical encodings have none."""


class UnknownVersion(DecodeError):
    """A format version this build does not read."""


class UnknownKind(DecodeError):
    """An entry kind this build does not know."""


class LimitExceeded(DecodeError):
    """A length or count is above its hard limit."""


class NonCanonical(DecodeError):
    """The value breaks a rule of the canonical form (see docs/format.md)."""


class PayloadMismatch(DecodeError):
    """The payload does not match the hash its header commits to (tampered payload)."""


class DepsMismatch(DecodeError):
    """The dependency list does not match the hash its header commits to (tampered deps)."""


# --- keys and signatures ------------------------------------------------------------------


class InvalidKey(LatticeError, ValueError):
    """A key that cannot be used: wrong size, not a curve point, or of small order."""


class InvalidSignature(LatticeError):
    """A signature does not verify under the ZIP-215 rules."""


# --- chains -----------------------------------------------------------------------------


class BrokenChain(LatticeError):
    """An entry is not a valid continuation of its author's log."""


class BrokenPrev(BrokenChain):
    """``prev`` is not the id of the author's entry ``seq - 1``."""


class BrokenLipmaa(BrokenChain):
    """``lipmaa`` is not the id of the author's entry ``lipmaa(seq)``."""


class SeqGap(BrokenChain):
    """Seqs in a segment are not contiguous."""


class WrongAuthor(BrokenChain):
    """An entry of another author inside one author's segment."""


class WrongSwarm(BrokenChain):
    """An entry of another swarm (no cross-swarm replay)."""


class LamportNotIncreasing(BrokenChain):
    """A lamport clock not above its predecessor's (or its dependencies')."""


class UnresolvedLink(BrokenChain):
    """A link points before the segment to an entry whose id was not supplied."""


# --- protocol (later layers) ----------------------------------------------------------------


class UnknownAuthor(LatticeError):
    """The author is not a registered peer (or known client) of this swarm."""


class Blocked(LatticeError):
    """The author is blocklisted after a proven fork."""


class NotSynced(LatticeError):
    """A node may not sign yet: it has not compared its own log with a peer's view of it
    (a restored backup, or a fresh store for an existing key, would fork it)."""


class ForkDetected(LatticeError):
    """Two validly signed entries with the same author and seq and different ids."""


class InvalidFraudProof(LatticeError):
    """A fraud proof that does not prove a fork."""


class NonMonotonicFrontier(LatticeError):
    """A dependency delta that does not strictly advance its author's frontier."""


class FrontierMismatch(LatticeError):
    """A noop whose frontier root does not match its author's frontier."""


class StoreError(LatticeError):
    """The store cannot be opened or written (another swarm, a newer format, a full disk)."""


class PendingOverflow(LatticeError):
    """An entry was dropped from the pending buffer because it is full; it will be
    requested again once its dependencies arrive."""


class AttestationError(LatticeError):
    """A build or remote attestation does not satisfy the policy."""


class BrokenEvidence(AttestationError):
    """Remote-attestation evidence that proves nothing: malformed, answering another
    challenge or an expired one, bound to another handshake, a signature or quote that
    does not verify, a log whose replay is not what was quoted, a key not tied to its TPM."""


class NotActivated(BrokenEvidence):
    """TPM evidence that holds in every other respect, by an attestation key not yet tied
    to the peer's endorsement key: credential activation must run first (a node runs it
    on the connection, once per peer). ``evidence`` is the evidence in question."""

    def __init__(self, message: str, evidence: object = None) -> None:
        super().__init__(message)
        self.evidence = evidence


class AttestationRefused(AttestationError):
    """Remote-attestation evidence that holds but that the policy refuses: a backend below
    what is required, or a kernel hash with a component (the extension module, a Wasm
    blob) that is not admitted."""


# --- Sybil resistance (DESIGN §11) -------------------------------------------------------


class AdmissionError(LatticeError):
    """An admission record, vouch or wrapped op the trust graph refuses (DESIGN §11): judged
    from the entry's causal past alone, so every replica refuses it alike."""


class InvalidProofOfWork(AdmissionError):
    """A proof of work that does not hold (DESIGN §11): a target below what is required, or
    a hash with fewer leading zero bits than the target it commits to."""


class InvalidVouch(AdmissionError):
    """A vouch that cannot stand: its signature does not verify, it vouches for its own
    voucher or for a registered peer, a revocation not by a registered peer, or an open
    identity vouching past its cap."""


class InvalidRecord(AdmissionError):
    """A ``WRAP``, ``ADMISSION`` or ``VOUCH`` entry whose payload cannot be what its kind
    says (DESIGN §11): it does not decode, names another swarm, a key that is not usable,
    an op its client did not sign, or a target above the maximum; the cause is chained."""


class NotAdmitted(AdmissionError):
    """An identity the trust graph does not admit in the entry's causal past — neither by
    proof of work nor within k hops of the registered peers — or one a registered peer
    revoked: its ops are not wrapped and its vouches count for nothing."""


# --- documents (DESIGN §9) ---------------------------------------------------------------


class InvalidOp(LatticeError):
    """A document refused an entry's ops, all of them: judged from the entry's causal past
    alone, so every replica refuses them alike. The entry stays in the log."""


class NotInCausalPast(InvalidOp):
    """An op names an element its entry's causal past does not hold: one that exists only
    concurrently, or was never created."""


class WrongType(InvalidOp):
    """An op addresses an object as another type than it has (a counter as a map, …), or
    names as a set tag an element that is not one of that set's adds."""


class OpOutOfRange(InvalidOp, IndexError):
    """An op's index or count is outside what its causal past holds."""


class CounterOverflow(InvalidOp):
    """A counter increment would leave the i64 range of its causal past."""


class DocMismatch(InvalidOp):
    """An op names an element or a tag made by an entry of another document (one on the
    same log, in the causal past)."""


class BadGuestOp(InvalidOp):
    """A batch carries a guest op (DESIGN §8) that does not decode or whose signature does
    not verify: the owner that wrapped it cannot account for it."""


class WasmTrap(InvalidOp):
    """A Wasm state machine trapped on an entry's ops (out of fuel, unreachable, out of
    bounds) or answered outside its ABI: the ops are refused, the instance rebuilt."""


class BadBlob(LatticeError):
    """A Wasm blob refused at the gate (DESIGN §10): an import, exports other than ABI v0's,
    no memory maximum or one above the cap, or invalid under the deterministic profile."""


# --- views (DESIGN §8) -------------------------------------------------------------------


class GuestRefused(LatticeError):
    """The owner of a view will not carry out what a guest sent: nothing of it is stored,
    relayed or answered with anything from the deep log."""


class UnknownView(GuestRefused):
    """No view with that id, or another guest's: a guest reads and writes its own views
    only."""


class ReplayedGuestOp(GuestRefused):
    """A guest op whose nonce is not above the last one its view carried out (a replay or a
    reordering)."""


class FutureViewSeq(GuestRefused):
    """A guest op made against a view seq its view has not reached."""


# --- connections (DESIGN §7) -------------------------------------------------------------


class GridError(LatticeError):
    """Something of the compute grid (DESIGN §12) failed: a task, or a worker's answer."""


class ResultRefused(GridError):
    """A worker's commit or reveal the owner will not take: not its assignment, too late or
    too early, malformed or too large, or a reveal that does not open its commit (a copied
    one). Nothing of it is stored; the worker's score drops."""


class WrongResult(ResultRefused):
    """A revealed result that fails its verification (Freivalds' check) or is outvoted by
    the majority of its task's redundant results."""


class TaskFailed(GridError):
    """A grid task ended without a verified result; ``task`` is its id."""

    def __init__(self, message: str, task: bytes | None = None) -> None:
        super().__init__(message)
        self.task = task


class TaskRejected(TaskFailed):
    """Every result the task's retries allowed was wrong (or no majority was reached)."""


class TaskTimedOut(TaskFailed):
    """The task's deadlines ran out before a result was verified."""


class TaskCancelled(TaskFailed):
    """The task was cancelled: queued, it never ran; running, its late results are ignored."""


class ProtocolError(LatticeError):
    """A party broke the wire protocol; the connection is closed and nothing it sent is
    stored."""


class NoiseFailure(ProtocolError):
    """The Noise handshake or a record failed (bad key, bad tag, replay, wrong order)."""


class FrameTooLarge(ProtocolError):
    """A frame announced or sent above its limit: ``MAX_FRAME_LEN``, or the largest legal
    message of the sender's role."""


class BufferFull(ProtocolError):
    """The node-wide budget for partially received frames has no room for the frame a
    party just announced; its connection is closed."""


class OverBudget(ProtocolError):
    """A connection cut for its sender's reputation (DESIGN §11): over its budget of ops
    and bytes by more than a short hold, or a graylisted score; the reason is also in
    ``lattice status``."""


class HandshakeRefused(ProtocolError):
    """A well-formed handshake from a party this node will not talk to: another swarm, an
    unknown identity, a role it may not take, or a binding over another static key."""


class HandshakeTimeout(ProtocolError):
    """The handshake did not finish within its timeout."""

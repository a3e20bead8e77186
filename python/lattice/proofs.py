"""Client quorum proofs (DESIGN §6): self-contained evidence that a quorum saw a client op.

A :class:`QuorumProof` carries the home peer's WRAP entry wrapping the client's signed op
and, for each of at least q distinct registered peers, one of its signed noops with a
Merkle inclusion proof that the noop's ``frontier_root`` holds the home peer at a seq at or
beyond the wrapping entry, plus the home peer's signed headers along the lipmaa path from
that seq down to the wrapping entry. It verifies offline with nothing but the membership
list: size O(q·log N + q·log n).

Encoding (all integers big-endian, every count bounded)::

    proof   = version u8 (1) ‖ swarm [32] ‖ entry_len u32 ‖ wrapping entry
              ‖ signer_count u16 ‖ signer*
    signer  = noop signed header [310] ‖ seq u64 ‖ id [32] ‖ index u32 ‖ size u32
              ‖ proof_len u8 ‖ hash [32]* ‖ path_len u8 ‖ signed header [310]*

>>> import lattice
>>> from lattice.proofs import QuorumProof
>>> ids = [lattice.Identity.from_seed(bytes([i]) * 32) for i in range(4)]
>>> peers = [i.public_key for i in ids]
>>> reps = [lattice.Replica(i, peers=peers) for i in ids]
>>> client = lattice.Identity.generate()
>>> op = lattice.ClientOp.create(client.signing_key, bytes(32), 1, b"pay 5")
>>> wrapped = reps[0].wrap_client_op(op)
>>> for r in reps[1:]:
...     _ = r.receive([wrapped])
>>> acks = [r.noop() for r in reps]
>>> _ = reps[0].receive(acks)
>>> proof = reps[0].quorum_proof(wrapped.id)
>>> proof.verify(peers, bytes(32), q=3)
True
>>> QuorumProof.from_bytes(proof.to_bytes()).client_op == op
True
"""

from __future__ import annotations

import struct
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Protocol

from lattice import _lattice
from lattice.entry import Kind
from lattice.errors import (
    DecodeError,
    InvalidSignature,
    LatticeError,
    LimitExceeded,
    TrailingBytes,
    Truncated,
    UnknownAuthor,
    UnknownVersion,
    WrongSwarm,
)

__all__ = [
    "PROOF_VERSION",
    "QuorumProof",
    "ReplicaView",
    "SignerEvidence",
    "build_quorum_proof",
    "check_client_op",
]

PROOF_VERSION = 1
#: Bounds of the encoding: at most one signer per peer of the largest swarm, Merkle proofs
#: of at most 64 levels, lipmaa paths of at most 255 hops (seq < 2^64 needs far fewer).
MAX_SIGNERS = 16384
MAX_MERKLE_PROOF = 64
MAX_PATH = 255
_SH = _lattice.SIGNED_HEADER_LEN
_ID = _lattice.ID_LEN


@dataclass(frozen=True)
class SignerEvidence:
    """One signer's part of a quorum proof."""

    noop: bytes  # the signer's signed noop header
    seq: int  # the home peer's seq in the noop's frontier
    id: bytes  # the home peer's entry id at that seq
    index: int  # the item's leaf index in the frontier tree
    size: int  # number of items in the frontier tree
    merkle_proof: tuple[bytes, ...]
    path: tuple[bytes, ...]  # home's signed headers, seq down to the wrapping entry (excl.)


@dataclass(frozen=True)
class QuorumProof:
    """Evidence that at least q peers provably saw a client op (DESIGN §6)."""

    swarm_id: bytes
    entry: bytes  # the home peer's WRAP entry
    signers: tuple[SignerEvidence, ...]

    @property
    def wrapping_entry(self) -> _lattice.Entry:
        return _lattice.Entry.from_bytes(self.entry)

    @property
    def client_op(self) -> _lattice.ClientOp:
        return _lattice.ClientOp.from_bytes(self.wrapping_entry.payload)

    # --- encoding ------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """The canonical encoding."""
        out = [struct.pack(">B32sI", PROOF_VERSION, self.swarm_id, len(self.entry)), self.entry]
        out.append(struct.pack(">H", len(self.signers)))
        for s in self.signers:
            out += [
                s.noop,
                struct.pack(">Q32sIIB", s.seq, s.id, s.index, s.size, len(s.merkle_proof)),
            ]
            out += list(s.merkle_proof)
            out += [struct.pack(">B", len(s.path)), *s.path]
        return b"".join(out)

    @classmethod
    def from_bytes(cls, data: bytes) -> QuorumProof:
        """Decode, rejecting truncation, trailing bytes and anything over its bound with a
        :class:`~lattice.errors.DecodeError`. Decoding checks form only; :meth:`verify`
        checks meaning."""
        r = _Reader(bytes(data))
        version = r.u8()
        if version != PROOF_VERSION:
            raise UnknownVersion(f"quorum proof version {version} (this build reads 1)")
        swarm = r.take(_ID)
        entry = r.take(r.bounded(r.u32(), _lattice.MAX_ENTRY_LEN, "wrapping entry length"))
        signers = []
        for _ in range(r.bounded(r.u16(), MAX_SIGNERS, "signer count")):
            noop = r.take(_SH)
            seq, entry_id, index, size = r.u64(), r.take(_ID), r.u32(), r.u32()
            proof = tuple(r.take(_ID) for _ in range(r.bounded(r.u8(), MAX_MERKLE_PROOF, "proof")))
            path = tuple(r.take(_SH) for _ in range(r.bounded(r.u8(), MAX_PATH, "path length")))
            signers.append(SignerEvidence(noop, seq, entry_id, index, size, proof, path))
        r.finish()
        return cls(swarm, entry, tuple(signers))

    # --- verification --------------------------------------------------------------------

    def verify(self, peers: Sequence[bytes], swarm_id: bytes, q: int) -> bool:
        """True when the proof shows ``q`` distinct registered peers saw the client op.

        Needs nothing but the membership list. Fails on any altered link, a duplicated or
        unregistered signer, too few signers, a proof for another swarm, or a forked home
        log (two versions of one home entry inside the proof).
        """
        try:
            return self._verify(frozenset(bytes(p) for p in peers), bytes(swarm_id), q)
        except DecodeError:
            return False

    def _verify(self, peers: frozenset[bytes], swarm: bytes, q: int) -> bool:
        if self.swarm_id != swarm or q < 1 or len(self.signers) < q:
            return False
        wrapping = _lattice.Entry.from_bytes(self.entry)
        home, k = wrapping.author, wrapping.seq
        if wrapping.swarm != swarm or home not in peers or wrapping.kind != Kind.WRAP:
            return False
        op = _lattice.ClientOp.from_bytes(wrapping.payload)
        if op.swarm != swarm or not op.verify():
            return False
        # Every home header the proof shows, by seq: two versions of one is a forked log.
        home_ids = {k: wrapping.id}
        keys, messages, signatures = [wrapping.author], [wrapping.id], [wrapping.signature]
        seen_signers: set[bytes] = set()
        for s in self.signers:
            noop = _lattice.Entry.header_from_bytes(s.noop)
            if (
                noop.kind != Kind.NOOP
                or noop.swarm != swarm
                or noop.author not in peers
                or noop.author in seen_signers
                or s.seq < k
            ):
                return False
            seen_signers.add(noop.author)
            keys.append(noop.author)
            messages.append(noop.id)
            signatures.append(noop.signature)
            item = (home, s.seq, s.id)
            if not _lattice.frontier_verify_inclusion(
                item, s.index, s.size, list(s.merkle_proof), noop.frontier_root
            ):
                return False
            # The path: home's headers from s.seq down to k, each linked to the next.
            expected = _lattice.lipmaa_path(s.seq, k)
            if len(s.path) != len(expected) - 1:
                return False
            current_id = s.id
            for header_bytes, seq, below in zip(s.path, expected, expected[1:], strict=False):
                header = _lattice.Entry.header_from_bytes(header_bytes)
                if (
                    header.id != current_id
                    or header.seq != seq
                    or header.author != home
                    or header.swarm != swarm
                ):
                    return False
                if home_ids.setdefault(seq, header.id) != header.id:
                    return False  # forked home log
                keys.append(home)
                messages.append(header.id)
                signatures.append(header.signature)
                current_id = header.prev if below == seq - 1 else header.lipmaa
            if current_id != wrapping.id:
                return False
        if len(seen_signers) < q:
            return False
        return all(_lattice.verify_batch(keys, messages, signatures))


class _Reader:
    """Bounds-checked reads over untrusted bytes."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise Truncated(f"quorum proof truncated: needs {n} bytes at {self.pos}")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def _unpack(self, fmt: str) -> int:
        (value,) = struct.unpack(fmt, self.take(struct.calcsize(fmt)))
        return int(value)

    def u8(self) -> int:
        return self._unpack(">B")

    def u16(self) -> int:
        return self._unpack(">H")

    def u32(self) -> int:
        return self._unpack(">I")

    def u64(self) -> int:
        return self._unpack(">Q")

    @staticmethod
    def bounded(value: int, limit: int, what: str) -> int:
        if value > limit:
            raise LimitExceeded(f"quorum proof {what} {value} is above {limit}")
        return value

    def finish(self) -> None:
        if self.pos != len(self.data):
            raise TrailingBytes(f"{len(self.data) - self.pos} trailing bytes after a quorum proof")


class _Quorum(Protocol):
    @property
    def quorum(self) -> int: ...


class ReplicaView(Protocol):
    """What a quorum proof is built from: the read-only part of a replica's public API
    (a :class:`~lattice.Replica` is one), so proofs never reach into replica internals."""

    @property
    def peers(self) -> Sequence[bytes]: ...

    @property
    def swarm_id(self) -> bytes: ...

    @property
    def matrix(self) -> _Quorum: ...

    def get(self, entry_id: bytes) -> _lattice.Entry | None: ...

    def entries(self, author: bytes | None = None, since: int = 0) -> list[_lattice.Entry]: ...

    def id_at(self, author: bytes, seq: int) -> bytes | None: ...


def build_quorum_proof(replica: ReplicaView, entry_id: bytes) -> QuorumProof | None:
    """The quorum proof ``replica`` can give for the client op wrapped in ``entry_id`` (see
    :meth:`Replica.quorum_proof <lattice.Replica.quorum_proof>`), built from its delivered
    entries only."""
    wrapping = replica.get(entry_id)
    if wrapping is None or wrapping.kind != Kind.WRAP:
        return None
    try:
        _lattice.ClientOp.from_bytes(wrapping.payload)
    except DecodeError:
        return None
    home, k = wrapping.author, wrapping.seq
    signers = [
        evidence
        for peer in replica.peers
        if (evidence := _signer_evidence(replica, peer, home, k)) is not None
    ]
    if len(signers) < replica.matrix.quorum:
        return None
    return QuorumProof(replica.swarm_id, wrapping.to_bytes(), tuple(signers))


def _signer_evidence(
    replica: ReplicaView, peer: bytes, home: bytes, k: int
) -> SignerEvidence | None:
    """``peer``'s first noop whose frontier holds ``home`` at seq >= k, with the proofs."""
    frontier: dict[bytes, tuple[int, bytes]] = {}
    for entry in replica.entries(peer):
        frontier.update(entry.deps)
        if entry.kind != Kind.NOOP:
            continue
        own = {peer: (entry.seq - 1, entry.prev)} if entry.seq > 1 else {}
        view = {**frontier, **own}
        s = view.get(home, (0, b""))[0]
        if s < k:
            continue
        items = [(p, q, i) for p, (q, i) in sorted(view.items())]
        index = next(i for i, item in enumerate(items) if item[0] == home)
        path = [_signed_header(replica, home, seq) for seq in _lattice.lipmaa_path(s, k)[:-1]]
        return SignerEvidence(
            noop=entry.signed_header(),
            seq=s,
            id=items[index][2],
            index=index,
            size=len(items),
            merkle_proof=tuple(_lattice.frontier_inclusion_proof(items, index)),
            path=tuple(path),
        )
    return None


def _signed_header(replica: ReplicaView, author: bytes, seq: int) -> bytes:
    entry_id = replica.id_at(author, seq)
    entry = None if entry_id is None else replica.get(entry_id)
    if entry is None:
        raise LatticeError("delivered entry missing from the store", author=author, seq=seq)
    return entry.signed_header()


def check_client_op(
    op: _lattice.ClientOp | bytes, swarm_id: bytes, clients: Collection[bytes] | None
) -> _lattice.ClientOp:
    """The client's op, decoded, if a home peer of swarm ``swarm_id`` serving ``clients``
    (None: any) may wrap it: this swarm, a listed client, a usable key, a valid signature.
    Else :class:`WrongSwarm`, :class:`UnknownAuthor`, :class:`InvalidKey` or
    :class:`InvalidSignature`."""
    if not isinstance(op, _lattice.ClientOp):
        op = _lattice.ClientOp.from_bytes(op)
    if op.swarm != swarm_id:
        raise WrongSwarm("client op for another swarm", author=op.client)
    if clients is not None and op.client not in clients:
        raise UnknownAuthor("not a client of this home peer", author=op.client)
    _lattice.check_public_key(op.client)
    if not op.verify():
        raise InvalidSignature("client op signature does not verify", author=op.client)
    return op

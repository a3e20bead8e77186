"""What a replica knows of forked authors (DESIGN §4, §5): their proofs (the blocklist),
the entries of theirs kept as evidence, which version each observer committed to, the
versions suspected of existing, and the penalties of peers that sent invalid proofs.

The :class:`~lattice.Replica` decides when a fork is proven and what to deliver; this
module holds the bookkeeping, loads it from the store, and checks proofs.

>>> import lattice
>>> x = lattice.Identity.from_seed(bytes(32))
>>> p, q = (lattice.Entry.create(x.signing_key, swarm=bytes(32), seq=1, lamport=1, payload=v)
...         for v in (b"P", b"Q"))
>>> forks = Forks()
>>> forks.record(lattice.FraudProof.from_entries(p, q)), forks.cap(x.public_key)
(True, 0)
>>> x.public_key in forks, forks.is_proof_version(x.public_key, q.id)
(True, True)
"""

from __future__ import annotations

from collections.abc import Collection, Iterator

from lattice import _lattice
from lattice.errors import DecodeError, InvalidFraudProof
from lattice.store import Store

__all__ = ["Forks", "check_proof", "proof_in_payload"]

FraudProof = _lattice.FraudProof


def check_proof(proof: _lattice.FraudProof, swarm_id: bytes, members: Collection[bytes]) -> None:
    """Raise :class:`InvalidFraudProof` unless ``proof`` proves a fork of a member in this
    swarm."""
    proof.check(swarm_id)
    if proof.author not in members:
        raise InvalidFraudProof(
            "the proof accuses an author that is not a registered peer",
            author=proof.author,
            seq=proof.seq,
        )


def proof_in_payload(
    payload: bytes, swarm_id: bytes, members: Collection[bytes]
) -> _lattice.FraudProof:
    """The fraud proof a ``FRAUD`` entry carries; :class:`InvalidFraudProof` if it does not
    carry a valid one."""
    try:
        proof = FraudProof.from_bytes(payload)
    except DecodeError as exc:
        raise InvalidFraudProof(f"not a fraud proof: {exc}") from exc
    check_proof(proof, swarm_id, members)
    return proof


class Forks:
    """The fork bookkeeping of one replica."""

    def __init__(self) -> None:
        #: The lowest proven fork of every forked author (the blocklist).
        self.proofs: dict[bytes, _lattice.FraudProof] = {}
        #: Entries of forked authors kept, not delivered: id -> (author, seq, lamport).
        self.evidence: dict[bytes, tuple[bytes, int, int]] = {}
        #: (observer, forked sender) -> the id the observer's frontier holds for it.
        self.committed: dict[tuple[int, int], bytes] = {}
        #: Per author, a version some signed entry names but this replica does not hold:
        #: requested by id, since if it exists it proves a fork (bounded: one per author).
        self.suspects: dict[bytes, tuple[int, bytes]] = {}
        #: Proofs this replica detected but has not announced in its log yet.
        self.unannounced: list[_lattice.FraudProof] = []
        #: Invalid fraud proofs sent, per peer (DESIGN §5: the sender is penalised, §11).
        self.penalties: dict[bytes, int] = {}

    def load(self, store: Store) -> Iterator[_lattice.FraudProof]:
        """Read everything back from ``store``; yields each proof (its column must be
        frozen before the matrix cells are loaded)."""
        for author, _seq, proof_bytes, announce in store.frauds():
            proof = FraudProof.from_bytes(proof_bytes)
            self.proofs[author] = proof
            if announce:
                self.unannounced.append(proof)
            yield proof
        for entry_id, author, seq, lamport, _ in store.evidence():
            self.evidence[entry_id] = (author, seq, lamport)
        for observer, sender, entry_id in store.fork_cells():
            self.committed[observer, sender] = entry_id
        self.penalties = store.penalties()

    def __contains__(self, author: object) -> bool:
        return author in self.proofs

    def __bool__(self) -> bool:
        return bool(self.proofs)

    def get(self, author: bytes) -> _lattice.FraudProof | None:
        """The proof against ``author``, if any."""
        return self.proofs.get(author)

    def cap(self, author: bytes) -> int | None:
        """The last seq of ``author`` before its fork, if it forked."""
        proof = self.proofs.get(author)
        return None if proof is None else proof.seq - 1

    def record(self, proof: _lattice.FraudProof) -> bool:
        """Record a checked proof; True if it is news (a first or a lower fork)."""
        known = self.proofs.get(proof.author)
        if known is not None and known.seq <= proof.seq:
            return False
        self.proofs[proof.author] = proof
        self.suspects.pop(proof.author, None)
        return True

    def is_proof_version(self, author: bytes, entry_id: bytes) -> bool:
        """Whether ``entry_id`` is one of the two versions the proof against ``author``
        names (always kept as evidence)."""
        proof = self.proofs.get(author)
        return proof is not None and entry_id in proof.ids

    def kept_lamport(self, author: bytes, seq: int, entry_id: bytes) -> int | None:
        """The lamport of an entry kept as evidence at exactly this position, if any."""
        kept = self.evidence.get(entry_id)
        if kept is not None and kept[0] == author and kept[1] == seq:
            return kept[2]
        return None

    def keep(self, entry: _lattice.Entry) -> None:
        """Keep ``entry`` (of a forked author) as evidence."""
        self.evidence[entry.id] = (entry.author, entry.seq, entry.lamport)

    def penalise(self, peer: bytes) -> int:
        """Count one invalid proof against ``peer``; returns its total."""
        self.penalties[peer] = self.penalties.get(peer, 0) + 1
        return self.penalties[peer]

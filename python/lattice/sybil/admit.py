"""Putting §11 records into a replica's log: a registered peer vouches for (or revokes) an
open identity, carries an open identity's own vouch, or carries its proof-of-work admission.
Each is checked as every peer will check it before it is signed, so a refused record raises
its typed error and nothing is appended.

>>> import lattice
>>> from lattice.sybil import AdmissionPolicy
>>> peer, client = lattice.Identity.from_seed(bytes(32)), lattice.Identity.generate()
>>> rep = lattice.Replica(peer, peers=[peer.public_key], admission=AdmissionPolicy(min_bits=4))
>>> _ = vouch(rep, client.public_key)
>>> rep.trust.why(client.public_key)
'vouched for, 1 hop from a registered peer'
"""

from __future__ import annotations

from typing import Protocol

from lattice import _lattice
from lattice.entry import Kind
from lattice.identity import Identity
from lattice.sybil.records import Admission, Vouch

__all__ = ["Carrier", "admit", "carry_vouch", "vouch"]


class Carrier(Protocol):
    """What carries records: a :class:`~lattice.Replica` (its identity signs the entries)."""

    @property
    def identity(self) -> Identity: ...
    @property
    def swarm_id(self) -> bytes: ...
    def append(self, payload: bytes, kind: Kind = ...) -> _lattice.Entry: ...


def vouch(
    replica: Carrier, subject: bytes, *, revoke: bool = False, by: Identity | None = None
) -> _lattice.Entry:
    """Append a ``VOUCH`` entry: ``by`` (default: the replica's own identity, a registered
    peer; else an admitted open identity whose key signs here) vouches for ``subject``, or
    with ``revoke`` the replica's peer revokes it."""
    voucher = replica.identity if by is None else by
    return carry_vouch(replica, Vouch.create(voucher, replica.swarm_id, subject, revoke=revoke))


def carry_vouch(replica: Carrier, record: Vouch | bytes) -> _lattice.Entry:
    """Append a ``VOUCH`` entry carrying a vouch an open identity signed (as its home peer)."""
    data = record.to_bytes() if isinstance(record, Vouch) else Vouch.from_bytes(record).to_bytes()
    return replica.append(data, Kind.VOUCH)


def admit(replica: Carrier, record: Admission | bytes) -> _lattice.Entry:
    """Append an ``ADMISSION`` entry carrying an open identity's proof of work."""
    if not isinstance(record, Admission):
        record = Admission.from_bytes(record)
    return replica.append(record.to_bytes(), Kind.ADMISSION)

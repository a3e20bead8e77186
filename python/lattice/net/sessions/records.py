"""Admission records and vouches an open identity has its node carry (DESIGN §11): a
client through its home peer, a grid worker through its owner (``ADMIT``).

A record is carried once: one already in effect — the same proof of work, the same vouch,
a revocation already made — is refused as :class:`AlreadyCarried`, which does not count
against its sender (an honest retry); anything else wrong is a refusal that does.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from lattice import _lattice
from lattice.entry import Kind
from lattice.errors import ProtocolError
from lattice.net.quota import Quota
from lattice.net.sessions.base import NodeContext
from lattice.sybil.records import Admission, Vouch

__all__ = ["AlreadyCarried", "carry"]


class AlreadyCarried(ProtocolError):
    """An ADMIT whose record is in effect already (a retry): refused, but not held
    against the sender."""


def carry(
    node: NodeContext,
    sender: bytes,
    kind: int,
    record: bytes,
    quota: Callable[[float], Quota],
) -> _lattice.Entry:
    """Append ``sender``'s admission record (its own) or a vouch (it is the voucher or the
    subject) to ``node``'s log, within the sender's ``quota``, if the swarm has an
    admission policy; the entry (not yet durable)."""
    replica = node.replica
    trust = replica.trust
    if trust is None:
        raise ProtocolError("this swarm has no admission policy", author=sender)
    node.selfcheck.require()
    now = time.monotonic()
    used = quota(now)
    used.check(len(record), now)  # records count as ops do (once carried)
    if kind == Kind.ADMISSION:
        admission = Admission.from_bytes(record)
        if admission.key != sender:
            raise ProtocolError("an admission record of another key", author=sender)
        if trust.proved_work(sender):
            raise AlreadyCarried("this key is admitted by proof of work already", author=sender)
        used.take(len(record), now)
        return replica.append(admission.to_bytes(), Kind.ADMISSION)
    vouch = Vouch.from_bytes(record)
    if sender not in (vouch.voucher, vouch.subject):
        raise ProtocolError("a vouch the sender neither gave nor received", author=sender)
    if not vouch.revokes and vouch.subject in trust.vouched(vouch.voucher):
        raise AlreadyCarried("this vouch is in the log already", author=sender)
    if vouch.revokes and trust.revoked(vouch.subject):
        raise AlreadyCarried("this key is revoked in the log already", author=sender)
    used.take(len(record), now)
    return replica.append(vouch.to_bytes(), Kind.VOUCH)

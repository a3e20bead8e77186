"""The trust graph of DESIGN §11: who is admitted, judged from an entry's causal past.

Registered peers are admitted by configuration. An open identity (a client, a guest, a
grid worker) is admitted by a proof of work (an ``ADMISSION`` record) or by **vouches**
(``VOUCH`` records) that reach it from the registered peers in at most ``hops`` steps
(default 2: friends of friends). A registered peer's **revocation** blocklists an open
identity: it is admitted by nothing and its vouches carry no one. An identity admitted by
proof of work only may vouch, but no one is within k hops through it.

Every record sits at a position ``(author index, seq)`` of the log that carries it, and a
*frontier* (seqs by peer index) says which positions an entry's causal past holds, so the
same entry is judged the same on every replica, whatever order its past arrived in. The
rules a :class:`~lattice.Replica` with an admission policy applies (:meth:`TrustGraph.judge`):

- ``ADMISSION``: the proof holds with at least ``min_bits`` bits, else
  :class:`~lattice.errors.InvalidProofOfWork`;
- ``VOUCH``: the voucher's signature holds, the subject is an open identity other than the
  voucher, a revocation is by a registered peer, the voucher is admitted and an open voucher
  has given fewer than ``max_vouches`` vouches, else :class:`~lattice.errors.InvalidVouch`
  or :class:`~lattice.errors.NotAdmitted`;
- ``WRAP``: the wrapped client op decodes, is of this swarm and verifies, and its client is
  admitted, else :class:`~lattice.errors.NotAdmitted` (or the decoding or signature error).

>>> import lattice
>>> from lattice.sybil.records import Vouch
>>> peer, friend, stranger = (lattice.Identity.from_seed(bytes([i]) * 32) for i in (1, 2, 3))
>>> graph = TrustGraph([peer.public_key], bytes(32))
>>> graph.record(Kind.VOUCH, Vouch.create(peer, bytes(32), friend.public_key).to_bytes(), 0, 1)
>>> graph.distance(friend.public_key), graph.admitted(stranger.public_key)
(1, False)
>>> graph.admitted(friend.public_key, frontier=[0])  # a past without the vouch
False
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from lattice import _lattice
from lattice.entry import Kind
from lattice.errors import InvalidArgument, InvalidSignature, InvalidVouch, NotAdmitted, WrongSwarm
from lattice.sybil.records import Admission, Vouch

if TYPE_CHECKING:
    from lattice.store import Store

__all__ = [
    "DEFAULT_HOPS",
    "DEFAULT_MAX_VOUCHES",
    "DEFAULT_MIN_BITS",
    "JUDGED_KINDS",
    "RECORD_KINDS",
    "AdmissionPolicy",
    "TrustGraph",
]

#: Vouch steps from the registered peers that still admit (friends of friends).
DEFAULT_HOPS = 2
#: Leading zero bits an admission's proof of work needs (about a million hashes).
DEFAULT_MIN_BITS = 20
#: Vouches one open identity may give (a compromised one cannot vouch for thousands).
DEFAULT_MAX_VOUCHES = 16

_WRAP, _ADMISSION, _VOUCH = int(Kind.WRAP), int(Kind.ADMISSION), int(Kind.VOUCH)
#: The kinds whose entries the trust graph records.
RECORD_KINDS = frozenset({_ADMISSION, _VOUCH})
#: The kinds whose entries it judges.
JUDGED_KINDS = RECORD_KINDS | {_WRAP}

#: Where a record sits: (index of the peer whose log carries it, seq there).
Position = tuple[int, int]
#: Seqs by peer index (None: every position recorded).
Frontier = Sequence[int] | None


@dataclasses.dataclass(frozen=True, slots=True)
class AdmissionPolicy:
    """A swarm's admission parameters (DESIGN §11); every peer must use the same, as they
    decide which entries are valid. ``Replica(..., admission=AdmissionPolicy())``."""

    hops: int = DEFAULT_HOPS
    min_bits: int = DEFAULT_MIN_BITS
    max_vouches: int = DEFAULT_MAX_VOUCHES

    def __post_init__(self) -> None:
        for name in ("hops", "min_bits", "max_vouches"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InvalidArgument(f"admission {name} is a whole number ≥ 0, not {value!r}")
        if self.min_bits > _lattice.POW_MAX_TARGET:
            raise InvalidArgument(f"admission min_bits is at most {_lattice.POW_MAX_TARGET}")


def _seen(position: Position, frontier: Frontier) -> bool:
    return frontier is None or position[1] <= frontier[position[0]]


class TrustGraph:
    """The admission records and vouches of one swarm, by subject, with their positions."""

    def __init__(
        self,
        peers: Iterable[bytes],
        swarm: bytes,
        policy: AdmissionPolicy | None = None,
    ) -> None:
        self.peers = tuple(bytes(p) for p in peers)
        self.index = {peer: i for i, peer in enumerate(self.peers)}
        self.registered = frozenset(self.peers)
        self.swarm = bytes(swarm)
        self.policy = AdmissionPolicy() if policy is None else policy
        self.clear()

    def clear(self) -> None:
        """Forget every record (a replica rebuilding its state from its store)."""
        self._pow: dict[bytes, list[Position]] = {}
        self._vouches: dict[bytes, list[tuple[Position, bytes]]] = {}
        self._revoked: dict[bytes, list[Position]] = {}
        self._given: dict[bytes, list[Position]] = {}

    # --- records -----------------------------------------------------------------------

    def record(self, kind: int, payload: bytes, author_index: int, seq: int) -> None:
        """Take a delivered (so already judged) ``ADMISSION`` or ``VOUCH`` entry's record."""
        position = (author_index, seq)
        if kind == _ADMISSION:
            self._pow.setdefault(Admission.from_bytes(payload).key, []).append(position)
        elif kind == _VOUCH:
            vouch = Vouch.from_bytes(payload)
            if vouch.revokes:
                self._revoked.setdefault(vouch.subject, []).append(position)
            else:
                self._vouches.setdefault(vouch.subject, []).append((position, vouch.voucher))
                self._given.setdefault(vouch.voucher, []).append(position)

    @classmethod
    def of(
        cls, policy: AdmissionPolicy | None, peers: Iterable[bytes], swarm: bytes
    ) -> TrustGraph | None:
        """The graph of a swarm with admission ``policy``; None for an open swarm."""
        return None if policy is None else cls(peers, swarm, policy)

    def load(self, store: Store) -> None:
        """Take the records of the entries delivered to ``store`` (a replica opening it)."""
        for author, seq, kind, data in store.of_kinds(RECORD_KINDS):
            self.record(kind, _lattice.Entry.from_bytes(data).payload, self.index[author], seq)

    # --- queries -----------------------------------------------------------------------

    def revoked(self, identity: bytes, frontier: Frontier = None) -> bool:
        """Whether a registered peer revoked ``identity`` within ``frontier``."""
        return any(_seen(p, frontier) for p in self._revoked.get(identity, ()))

    def proved_work(self, identity: bytes, frontier: Frontier = None) -> bool:
        """Whether an admission record of ``identity`` lies within ``frontier``."""
        return any(_seen(p, frontier) for p in self._pow.get(identity, ()))

    def distance(self, identity: bytes, frontier: Frontier = None) -> int | None:
        """Vouch steps from the registered peers to ``identity`` within ``frontier`` (0 for
        a registered peer), or None beyond ``hops`` or revoked."""
        return self._distance(identity, frontier, self.policy.hops)

    def _distance(self, identity: bytes, frontier: Frontier, limit: int) -> int | None:
        if identity in self.registered:
            return 0
        if limit == 0 or self.revoked(identity, frontier):
            return None
        best = None
        for position, voucher in self._vouches.get(identity, ()):
            if not _seen(position, frontier):
                continue
            if voucher in self.registered:
                return 1
            if limit > 1 and (best is None or best > 2):
                d = self._distance(voucher, frontier, limit - 1)
                if d is not None and (best is None or d + 1 < best):
                    best = d + 1
        return best

    def admitted(self, identity: bytes, frontier: Frontier = None) -> bool:
        """Whether ``identity`` is admitted within ``frontier`` (None: everything recorded)."""
        if identity in self.registered:
            return True
        if self.revoked(identity, frontier):
            return False
        return self.proved_work(identity, frontier) or self.distance(identity, frontier) is not None

    def why(self, identity: bytes, frontier: Frontier = None) -> str:
        """In words, why ``identity`` is or is not admitted (for errors and ``status``)."""
        if identity in self.registered:
            return "a registered peer"
        if self.revoked(identity, frontier):
            return "revoked by a registered peer"
        if self.proved_work(identity, frontier):
            return "admitted by proof of work"
        d = self.distance(identity, frontier)
        if d is not None:
            return f"vouched for, {d} hop{'s' if d > 1 else ''} from a registered peer"
        return (
            f"not admitted: no proof of work and not within {self.policy.hops} vouch hops "
            "of a registered peer"
        )

    def admitted_set(self, frontier: Frontier = None) -> set[bytes]:
        """Every identity admitted within ``frontier``, the registered peers included."""
        named = set(self._pow) | set(self._vouches) | self.registered
        return {x for x in named if self.admitted(x, frontier)}

    def vouches_given(self, voucher: bytes, frontier: Frontier = None) -> int:
        """Vouches ``voucher`` gave within ``frontier``."""
        return sum(1 for p in self._given.get(voucher, ()) if _seen(p, frontier))

    # --- validity ----------------------------------------------------------------------

    def judge(
        self, entry: _lattice.Entry, row: Sequence[int], delta: Sequence[tuple[int, int]]
    ) -> None:
        """Judge ``entry`` (its author's committed frontier ``row`` grown by the validity
        check's ``delta``, whose first item is the author's own position) from its causal
        past; raise the error that makes it invalid. Kinds it does not judge pass."""
        kind = entry.kind
        if kind not in JUDGED_KINDS:
            return
        author, seq = delta[0]
        frontier = list(row)
        for index, s in delta[1:]:
            if s > frontier[index]:
                frontier[index] = s
        frontier[author] = seq - 1  # its own log before it
        self.check(kind, entry.payload, frontier, author=entry.author, seq=seq)

    def judge_draft(self, entry: _lattice.Entry, row: Sequence[int]) -> None:
        """Judge an entry its author drafted (before it is delivered): as :meth:`judge`,
        with the delta read from the entry's dependencies."""
        if entry.kind in JUDGED_KINDS:
            index = self.index
            delta = [(index[entry.author], entry.seq)]
            delta += [(index[peer], s) for peer, (s, _) in entry.deps.items()]
            self.judge(entry, row, delta)

    def check(
        self,
        kind: int,
        payload: bytes,
        frontier: Frontier,
        *,
        author: bytes | None = None,
        seq: int | None = None,
    ) -> None:
        """Raise unless an entry of ``kind`` with ``payload`` is valid in ``frontier``."""
        if kind == _WRAP:
            op = _lattice.ClientOp.from_bytes(payload)
            if op.swarm != self.swarm:
                raise WrongSwarm("wrapped client op of another swarm", author=author, seq=seq)
            if not op.verify():
                raise InvalidSignature(
                    "wrapped client op not signed by its client", author=author, seq=seq
                )
            if not self.admitted(op.client, frontier):
                why = self.why(op.client, frontier)
                raise NotAdmitted(
                    f"wrapped op of client {op.client.hex()[:16]}…: {why}",
                    author=author,
                    seq=seq,
                )
        elif kind == _ADMISSION:
            Admission.from_bytes(payload).check(self.swarm, self.policy.min_bits)
        elif kind == _VOUCH:
            self._check_vouch(Vouch.from_bytes(payload), frontier, author, seq)

    def _check_vouch(
        self, vouch: Vouch, frontier: Frontier, author: bytes | None, seq: int | None
    ) -> None:
        voucher, subject = vouch.voucher, vouch.subject
        if not vouch.verify(self.swarm):
            raise InvalidVouch("the vouch's signature does not verify", author=author, seq=seq)
        if subject == voucher:
            raise InvalidVouch("an identity cannot vouch for itself", author=author, seq=seq)
        if subject in self.registered:
            raise InvalidVouch(
                "registered peers are admitted by configuration", author=author, seq=seq
            )
        if vouch.revokes:
            if voucher not in self.registered:
                raise InvalidVouch("only a registered peer revokes", author=author, seq=seq)
            return
        if not self.admitted(voucher, frontier):
            raise NotAdmitted(
                f"voucher {voucher.hex()[:16]}…: {self.why(voucher, frontier)}",
                author=author,
                seq=seq,
            )
        cap = self.policy.max_vouches
        if voucher not in self.registered and self.vouches_given(voucher, frontier) >= cap:
            raise InvalidVouch(
                f"voucher {voucher.hex()[:16]}… has given its {cap} vouches", author=author, seq=seq
            )

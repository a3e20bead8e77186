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
- ``WRAP``: the wrapped client op decodes, is of this swarm and verifies, else
  :class:`~lattice.errors.InvalidRecord`, and its client is admitted, else
  :class:`~lattice.errors.NotAdmitted`.

A peer proven to have forked (DESIGN §5) carries two versions of each seq from its fork
on: an entry's past holds only the records on the branch its author committed to
(:mod:`lattice.sybil.past`), and records on a branch kept as evidence are judged from
that branch's own past and count for entries committed to that branch alone. A store
records the policy its entries were judged under and refuses to open under another
(:meth:`TrustGraph.open_store`).

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
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from lattice import _lattice
from lattice.entry import Kind
from lattice.errors import (
    AdmissionError,
    InvalidArgument,
    InvalidKey,
    InvalidRecord,
    InvalidVouch,
    LatticeError,
    NotAdmitted,
    StoreError,
)
from lattice.sybil.past import Folds, Past, Position
from lattice.sybil.records import Admission, Vouch

if TYPE_CHECKING:
    from lattice.history import History
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

#: An entry's causal past: a :class:`~lattice.sybil.past.Past`, or seqs by peer index
#: (None: every record).
Frontier = Past | Sequence[int] | None
#: The store setting that names the policy a store's entries were judged under.
POLICY_KEY = "admission"
#: Fetches a held entry (delivered or kept as evidence) by id.
EntryById = Callable[[bytes], _lattice.Entry]


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

    def to_bytes(self) -> bytes:
        """How a store records the policy its entries were judged under."""
        return f"hops={self.hops},min_bits={self.min_bits},max_vouches={self.max_vouches}".encode()


def _past(frontier: Frontier) -> Past | None:
    if frontier is None or isinstance(frontier, Past):
        return frontier
    return Past(frontier)


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
        self._given: dict[bytes, list[tuple[Position, bytes]]] = {}
        # The highest seq carrying a record, by carrier index (does a fork matter here?).
        self._top: dict[int, int] = {}
        # The ids of entries kept as evidence whose records were taken.
        self._kept: set[bytes] = set()
        # The pasts of the entries kept as evidence.
        self._folds = Folds()
        self._bump()

    def _bump(self) -> None:
        # The records changed: what within() answered for the delivered records is stale.
        self._within: dict[int, frozenset[bytes]] = {}

    # --- records -----------------------------------------------------------------------

    def record(
        self, kind: int, payload: bytes, author_index: int, seq: int, entry_id: bytes = b""
    ) -> None:
        """Take a delivered (so already judged) ``ADMISSION`` or ``VOUCH`` entry's record;
        ``entry_id`` tells the versions of a forked carrier apart."""
        position = (author_index, seq, bytes(entry_id))
        self._bump()
        if seq > self._top.get(author_index, 0):
            self._top[author_index] = seq
        if kind == _ADMISSION:
            self._pow.setdefault(Admission.from_bytes(payload).key, []).append(position)
        elif kind == _VOUCH:
            vouch = Vouch.from_bytes(payload)
            if vouch.revokes:
                self._revoked.setdefault(vouch.subject, []).append(position)
            else:
                self._vouches.setdefault(vouch.subject, []).append((position, vouch.voucher))
                self._given.setdefault(vouch.voucher, []).append((position, vouch.subject))

    def keep(self, entry: _lattice.Entry, history: History, fetch: EntryById) -> bool:
        """An entry of a forked author kept as evidence (not delivered), of any kind: its
        past is worked out (:class:`~lattice.sybil.past.Folds`), and a record in it is
        judged there exactly as a replica that delivered its branch judged it; if it
        holds, it is taken at its version, counting only for entries committed to that
        branch. Returns whether a record was taken."""
        past, tips = self._folds.past(entry, history, fetch)
        if entry.kind not in RECORD_KINDS:
            return False
        a = history.index[entry.author]
        chains = dict(past.chains)
        for author in history.forks.proofs:
            x = history.index[author]
            if x != a and past.seqs[x] and x in self._top and x in tips:
                chains[x] = self._folds.chain(history, author, tips[x], fetch)
        past = Past(past.seqs, chains)
        try:
            self._check(entry.kind, entry.payload, past, None, None)
        except LatticeError:
            return False
        self._kept.add(entry.id)
        self.record(entry.kind, entry.payload, a, entry.seq, entry.id)
        return True

    @classmethod
    def of(
        cls, policy: AdmissionPolicy | None, peers: Iterable[bytes], swarm: bytes
    ) -> TrustGraph | None:
        """The graph of a swarm with admission ``policy``; None for an open swarm."""
        if policy is not None and not isinstance(policy, AdmissionPolicy):
            raise InvalidArgument(f"admission is an AdmissionPolicy or None, not {policy!r}")
        return None if policy is None else cls(peers, swarm, policy)

    @staticmethod
    def open_store(
        graph: TrustGraph | None, store: Store, history: History, fetch: EntryById
    ) -> None:
        """Check that ``store``'s entries were judged under ``graph``'s policy (None: open)
        and take their records; :class:`~lattice.errors.StoreError` if not, since entries
        judged under another policy may be ones this one refuses. A store first opened
        with a policy records it, unless it already holds entries judged without one."""
        stored = store.meta(POLICY_KEY)
        wanted = None if graph is None else graph.policy.to_bytes()
        if stored is None and wanted is not None:
            if store.holds_kinds(JUDGED_KINDS):
                raise StoreError(
                    f"{store.path} holds wrapped ops or admission records delivered without "
                    f"an admission policy; {wanted.decode()} may refuse them: sync into a "
                    "new store instead"
                )
            store.set_meta(POLICY_KEY, wanted)
        elif stored != wanted:
            have = "no admission policy" if stored is None else stored.decode()
            want = "none" if wanted is None else wanted.decode()
            raise StoreError(
                f"{store.path} was judged under {have}, not {want}: every peer of a swarm "
                "uses one admission policy"
            )
        if graph is not None:
            graph.load(store, history, fetch)

    def load(self, store: Store, history: History, fetch: EntryById) -> None:
        """Take the records of the entries delivered to or kept as evidence in ``store``
        (a replica opening it, its delivered logs and forks loaded into ``history``),
        the kept ones judged again in arrival order (the order they were first judged)."""
        for author, seq, kind, data in store.of_kinds(RECORD_KINDS):
            entry = _lattice.Entry.from_bytes(data)
            self.record(kind, entry.payload, self.index[author], seq, entry.id)
        for _, _, _, _, data in store.evidence():
            self.keep(_lattice.Entry.from_bytes(data), history, fetch)

    # --- queries -----------------------------------------------------------------------

    def _seen(self, position: Position, past: Past | None) -> bool:
        # No past given: every record delivered here (not those only kept as evidence,
        # on branches of a forked carrier that no entry here may have committed to).
        return position[2] not in self._kept if past is None else past.holds(position)

    def revoked(self, identity: bytes, frontier: Frontier = None) -> bool:
        """Whether a registered peer revoked ``identity`` within ``frontier``."""
        past = _past(frontier)
        return any(self._seen(p, past) for p in self._revoked.get(identity, ()))

    def proved_work(self, identity: bytes, frontier: Frontier = None) -> bool:
        """Whether an admission record of ``identity`` lies within ``frontier``."""
        past = _past(frontier)
        return any(self._seen(p, past) for p in self._pow.get(identity, ()))

    def distance(self, identity: bytes, frontier: Frontier = None) -> int | None:
        """Vouch steps from the registered peers to ``identity`` within ``frontier`` (0 for
        a registered peer), or None beyond ``hops`` or revoked."""
        return self._distance(identity, _past(frontier), self.policy.hops)

    def _distance(self, identity: bytes, frontier: Past | None, limit: int) -> int | None:
        if identity in self.registered:
            return 0
        if limit == 0 or self.revoked(identity, frontier):
            return None
        best = None
        for position, voucher in self._vouches.get(identity, ()):
            if not self._seen(position, frontier):
                continue
            if voucher in self.registered:
                return 1
            if limit > 1 and (best is None or best > 2):
                d = self._distance(voucher, frontier, limit - 1)
                if d is not None and (best is None or d + 1 < best):
                    best = d + 1
        return best

    def admitted(self, identity: bytes, frontier: Frontier = None) -> bool:
        """Whether ``identity`` is admitted within ``frontier`` (None: every record of a
        delivered entry)."""
        frontier = _past(frontier)
        if identity in self.registered:
            return True
        if self.revoked(identity, frontier):
            return False
        return self.proved_work(identity, frontier) or self.distance(identity, frontier) is not None

    def why(self, identity: bytes, frontier: Frontier = None) -> str:
        """In words, why ``identity`` is or is not admitted (for errors and ``status``)."""
        frontier = _past(frontier)
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
        past = _past(frontier)
        return {x for x in named if self.admitted(x, past)}

    def within(self, hops: int, frontier: Frontier = None) -> set[bytes]:
        """The identities at most ``hops`` vouch steps from the registered peers within
        ``frontier``, the registered peers included (not those admitted by work alone):
        the web of trust, e.g. for the builders an attestation policy trusts (§10)."""
        past = _past(frontier)
        if past is None and hops in self._within:  # asked at every judgement (§10's web)
            return set(self._within[hops])
        found = {
            x
            for x in set(self._vouches) | self.registered
            if self._distance(x, past, hops) is not None
        }
        if past is None:
            self._within[hops] = frozenset(found)
        return found

    def vouched(self, voucher: bytes, frontier: Frontier = None) -> set[bytes]:
        """The identities ``voucher`` vouched for within ``frontier`` (a vouch given twice
        counts once)."""
        past = _past(frontier)
        return {subject for p, subject in self._given.get(voucher, ()) if self._seen(p, past)}

    def vouches_given(self, voucher: bytes, frontier: Frontier = None) -> int:
        """How many identities ``voucher`` vouched for within ``frontier``."""
        return len(self.vouched(voucher, frontier))

    # --- validity ----------------------------------------------------------------------

    def past(
        self,
        history: History,
        delta: Sequence[tuple[int, int]],
        deps: dict[bytes, tuple[int, bytes]],
        entry: EntryById,
    ) -> Past:
        """The causal past of an entry of ``history``'s author ``delta[0][0]`` at seq
        ``delta[0][1]`` with validity ``delta`` and ``deps``: its author's committed row
        grown by the delta, its own log before it, and for each forked peer whose records
        from its fork on could matter, the branch the author committed to (``entry``
        fetches a held entry by id, to walk a kept branch)."""
        a, seq = delta[0]
        seqs = list(history.row(a))
        for index, s in delta[1:]:
            if s > seqs[index]:
                seqs[index] = s
        seqs[a] = seq - 1  # its own log before it
        chains = {}
        for author in history.forks.proofs:
            x = history.index[author]
            if x == a or not seqs[x] or x not in self._top:
                continue  # its own log, nothing of it in the past, or no record to judge
            dep = deps.get(author)
            if dep is not None and dep[0] == seqs[x]:
                tip = dep[1]
            else:
                tip = history.committed_id(a, x, seqs[x])
            chains[x] = self._folds.chain(history, author, (seqs[x], tip), entry)
        return Past(seqs, chains)

    def judge(
        self,
        e: _lattice.Entry,
        history: History,
        delta: Sequence[tuple[int, int]],
        entry: EntryById,
    ) -> None:
        """Judge ``e`` (the validity check's ``delta``, whose first item is the author's
        own position) from its causal past (:meth:`past`); raise the
        :class:`~lattice.errors.AdmissionError` that makes it invalid. Kinds it does not
        judge pass."""
        kind = e.kind
        if kind in JUDGED_KINDS:
            past = self.past(history, delta, e.deps, entry)
            self.check(kind, e.payload, past, author=e.author, seq=e.seq)

    def judge_draft(self, e: _lattice.Entry, history: History, entry: EntryById) -> None:
        """Judge an entry its author drafted (before it is delivered): as :meth:`judge`,
        with the delta read from the entry's dependencies."""
        if e.kind in JUDGED_KINDS:
            index = self.index
            delta = [(index[e.author], e.seq)]
            delta += [(index[peer], s) for peer, (s, _) in e.deps.items()]
            self.judge(e, history, delta, entry)

    def check(
        self,
        kind: int,
        payload: bytes,
        frontier: Frontier,
        *,
        author: bytes | None = None,
        seq: int | None = None,
    ) -> None:
        """Raise unless an entry of ``kind`` with ``payload`` is valid in ``frontier``:
        every refusal is an :class:`~lattice.errors.AdmissionError` (a payload that is not
        what its kind says: :class:`~lattice.errors.InvalidRecord`, the cause chained)."""
        past = _past(frontier)
        try:
            self._check(kind, payload, past, author, seq)
        except AdmissionError as exc:
            if exc.seq is None:
                exc.author, exc.seq = author, seq
            raise
        except LatticeError as exc:
            name = Kind(kind).name
            raise InvalidRecord(f"{name} entry: {exc.message}", author=author, seq=seq) from exc

    def _check(
        self, kind: int, payload: bytes, past: Past | None, author: bytes | None, seq: int | None
    ) -> None:
        if kind == _WRAP:
            op = _lattice.ClientOp.from_bytes(payload)
            if op.swarm != self.swarm:
                raise InvalidRecord("wrapped client op of another swarm", author=author, seq=seq)
            if not op.verify():
                raise InvalidRecord(
                    "wrapped client op not signed by its client", author=author, seq=seq
                )
            if not self.admitted(op.client, past):
                why = self.why(op.client, past)
                raise NotAdmitted(
                    f"wrapped op of client {op.client.hex()[:16]}…: {why}",
                    author=author,
                    seq=seq,
                )
        elif kind == _ADMISSION:
            Admission.from_bytes(payload).check(self.swarm, self.policy.min_bits)
        elif kind == _VOUCH:
            self._check_vouch(Vouch.from_bytes(payload), past, author, seq)

    def _check_vouch_alone(self, vouch: Vouch, author: bytes | None, seq: int | None) -> None:
        """What a vouch must be whatever the past: signed, of a usable subject other than
        its voucher and not registered, and, to revoke, by a registered peer."""
        voucher, subject = vouch.voucher, vouch.subject
        if not vouch.verify(self.swarm):
            raise InvalidVouch("the vouch's signature does not verify", author=author, seq=seq)
        try:
            _lattice.check_public_key(subject)
        except InvalidKey as exc:
            raise InvalidVouch(
                f"the vouch's subject: {exc.message}", author=author, seq=seq
            ) from exc
        if subject == voucher:
            raise InvalidVouch("an identity cannot vouch for itself", author=author, seq=seq)
        if subject in self.registered:
            raise InvalidVouch(
                "registered peers are admitted by configuration", author=author, seq=seq
            )
        if vouch.revokes and voucher not in self.registered:
            raise InvalidVouch("only a registered peer revokes", author=author, seq=seq)

    def _check_vouch(
        self, vouch: Vouch, past: Past | None, author: bytes | None, seq: int | None
    ) -> None:
        self._check_vouch_alone(vouch, author, seq)
        voucher, subject = vouch.voucher, vouch.subject
        if vouch.revokes:
            return
        if not self.admitted(voucher, past):
            raise NotAdmitted(
                f"voucher {voucher.hex()[:16]}…: {self.why(voucher, past)}",
                author=author,
                seq=seq,
            )
        cap = self.policy.max_vouches
        if voucher in self.registered:
            return
        given = self.vouched(voucher, past)
        if subject not in given and len(given) >= cap:  # a repeated vouch adds nobody
            raise InvalidVouch(
                f"voucher {voucher.hex()[:16]}… has given its {cap} vouches", author=author, seq=seq
            )

"""The Replica: one peer's sans-I/O protocol state machine (DESIGN §3, §4, §5, §13, §14).

Entries go in (``receive``, in any order, as bytes or :class:`~lattice.Entry`), and what
happened comes out (:class:`ReceiveResult`); the replica never opens a socket or sleeps.
An entry is *delivered* — stored durably, applied to the matrix — only when its ``prev``,
its lipmaa target and every dependency are delivered with the same ids; until then it waits
in a bounded pending buffer and :meth:`Replica.missing` says what to request.

Peers are assumed hostile. Every invalid entry is rejected with a typed error and leaves
nothing behind. A peer that signs two versions of one position is caught as soon as both
meet here (DESIGN §5): the two signed headers become a :class:`~lattice.FraudProof`, which
is stored, returned, and appended to this replica's own log as a ``FRAUD`` entry so the
swarm entangles it; the liar is blocklisted for good and its column frozen at the last seq
before the fork, while honest entries that depend on either branch are still delivered
(the liar's entries they need are kept as *evidence*).

>>> import lattice
>>> a, b = lattice.Identity.generate(), lattice.Identity.generate()
>>> peers = [a.public_key, b.public_key]
>>> ra = lattice.Replica(a, peers=peers)
>>> rb = lattice.Replica(b, peers=peers)
>>> e = ra.append(b"hello")
>>> [d.payload for d in rb.receive([e.to_bytes()]).delivered]
[b'hello']
>>> rb.matrix.cell(b.public_key, a.public_key)  # b has not entangled it yet
0
>>> _ = rb.noop()
>>> rb.matrix.cell(b.public_key, a.public_key)
1
"""

from __future__ import annotations

import os
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from lattice import _lattice
from lattice.entry import Kind
from lattice.errors import (
    Blocked,
    BrokenLipmaa,
    BrokenPrev,
    DecodeError,
    FrontierMismatch,
    InvalidFraudProof,
    InvalidSignature,
    LamportNotIncreasing,
    LatticeError,
    NonMonotonicFrontier,
    StoreError,
    UnknownAuthor,
    WrongSwarm,
)
from lattice.forks import Forks, check_proof, proof_in_payload
from lattice.identity import Identity
from lattice.matrix import ColumnMatrix, EntanglementMatrix
from lattice.pending import PendingBuffer
from lattice.proofs import QuorumProof, build_quorum_proof
from lattice.store import Store

__all__ = [
    "DEFAULT_MAX_PENDING_BYTES",
    "DEFAULT_MAX_PENDING_BYTES_PER_AUTHOR",
    "MAX_ANSWER_BYTES",
    "MAX_ANSWER_ENTRIES",
    "SYNC_BATCH",
    "Missing",
    "ReceiveResult",
    "Replica",
]

Entry = _lattice.Entry
FraudProof = _lattice.FraudProof

#: Pending buffer caps (DESIGN §3): entries waiting for dependencies, in encoded bytes.
DEFAULT_MAX_PENDING_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_PENDING_BYTES_PER_AUTHOR = 16 * 1024 * 1024
#: The most entries one :meth:`Replica.answer` call returns (a request may name any range).
MAX_ANSWER_ENTRIES = 10_000
#: About the most bytes one :meth:`Replica.answer` call returns.
MAX_ANSWER_BYTES = 8 * 1024 * 1024
#: Entries per step of :meth:`Replica.difference`.
SYNC_BATCH = 1_000
_ID_LEN = _lattice.ID_LEN
_NOOP = int(Kind.NOOP)
_FRAUD = int(Kind.FRAUD)


@dataclass
class ReceiveResult:
    """What one :meth:`Replica.receive` call did.

    ``delivered``: entries delivered (and durably stored) by this call, in causal order;
    ``pending``: how many entries wait for dependencies after it; ``rejected``: inputs that
    are invalid, with the typed error saying why (nothing of them is stored or relayed);
    ``frauds``: fraud proofs this call established (DESIGN §5); ``evidence``: entries of
    forked authors kept (not delivered) because honest entries depend on them or they
    prove the fork; ``appended``: entries this replica wrote in reaction (the ``FRAUD``
    entry announcing a fork it detected). A node relays :attr:`to_relay`.
    """

    delivered: list[_lattice.Entry] = field(default_factory=list)
    pending: int = 0
    rejected: list[tuple[bytes, LatticeError]] = field(default_factory=list)
    frauds: list[_lattice.FraudProof] = field(default_factory=list)
    evidence: list[_lattice.Entry] = field(default_factory=list)
    appended: list[_lattice.Entry] = field(default_factory=list)

    @property
    def to_relay(self) -> list[_lattice.Entry]:
        """What a node forwards to its peers, in a causal order: evidence first (honest
        entries may depend on it), then what was delivered, then this replica's own."""
        return [*self.evidence, *self.delivered, *self.appended]


@dataclass(frozen=True)
class Missing:
    """Entries to request: ``author``'s seqs ``first`` to ``last`` inclusive, or, when
    ``id`` is set, exactly the version of ``author``'s entry ``first`` (== ``last``) with
    that id — another version than the one held here, or one of a forked author's."""

    author: bytes
    first: int
    last: int
    id: bytes | None = None


class _Log:
    """What the replica keeps in memory of one author's delivered log: 40 bytes an entry
    (id and lamport), so ids and lamports of any delivered position are O(1) lookups while
    the entries themselves live in SQLite (DESIGN §15 P7)."""

    __slots__ = ("ids", "lamports")

    def __init__(self) -> None:
        self.ids = bytearray()
        self.lamports = array("Q")

    @property
    def head(self) -> int:
        return len(self.lamports)

    def id_at(self, seq: int) -> bytes:
        return bytes(self.ids[(seq - 1) * _ID_LEN : seq * _ID_LEN])

    def append(self, entry_id: bytes, lamport: int) -> None:
        self.ids += entry_id
        self.lamports.append(lamport)


class _Wait(Exception):
    """Internal: the entry waits for ``author``'s entry ``seq`` with id ``want``."""

    def __init__(self, author: bytes, seq: int, want: bytes) -> None:
        self.key = (author, seq)
        self.want = want


#: A delivered entry and the matrix cells (observer, sender, seq) it raised.
_Delivered = tuple[_lattice.Entry, list[tuple[int, int, int]]]


class _Batch:
    """What one receive or append changes, until it is committed in one transaction."""

    __slots__ = (
        "delivered",
        "evidence",
        "fork_cells",
        "frauds",
        "penalised",
        "rejected",
    )

    def __init__(self) -> None:
        self.delivered: list[_Delivered] = []
        self.evidence: list[_lattice.Entry] = []
        self.fork_cells: dict[tuple[int, int], bytes] = {}
        # (proof, whether this replica detected it and must announce it)
        self.frauds: list[tuple[_lattice.FraudProof, bool]] = []
        self.penalised: set[bytes] = set()
        self.rejected: list[tuple[bytes, LatticeError]] = []

    def __bool__(self) -> bool:
        return bool(self.delivered or self.evidence or self.frauds or self.penalised)


class Replica:
    """One peer's replica of a swarm: sans-I/O, durable when given a ``path``."""

    def __init__(
        self,
        identity: Identity,
        peers: Sequence[bytes],
        swarm_id: bytes = bytes(32),
        path: str | os.PathLike[str] | None = None,
        faults: int | None = None,
        *,
        column_only: bool = False,
        max_pending_bytes: int = DEFAULT_MAX_PENDING_BYTES,
        max_pending_bytes_per_author: int = DEFAULT_MAX_PENDING_BYTES_PER_AUTHOR,
        clients: Iterable[bytes] | None = None,
    ) -> None:
        if len(swarm_id) != _ID_LEN:
            raise DecodeError(f"a swarm id is {_ID_LEN} bytes, got {len(swarm_id)}")
        for pk in peers:
            _lattice.check_public_key(pk)
        self.identity = identity
        self.me = identity.public_key
        #: Clients this replica is the home peer of (None: any client with a valid key).
        self.clients = None if clients is None else frozenset(bytes(c) for c in clients)
        self.swarm_id = bytes(swarm_id)
        self.column_only = column_only
        self._faults = faults
        self.matrix = self._new_matrix(peers, faults)
        if self.me not in self.matrix:
            raise UnknownAuthor("this identity is not in the membership list", author=self.me)
        self.peers = self.matrix.peers
        self._n = len(self.peers)
        self._me_index = self.matrix.index(self.me)
        self._pending: PendingBuffer[_lattice.Entry] = PendingBuffer(
            max_pending_bytes, max_pending_bytes_per_author
        )
        self._batch = _Batch()
        self._store = Store.open(path, swarm_id=self.swarm_id, owner=self.me, peers=self.peers)
        self._init_state()
        self._load()
        self._announce_stored()

    # --- state -------------------------------------------------------------------------

    def _new_matrix(
        self, peers: Sequence[bytes], faults: int | None
    ) -> EntanglementMatrix | ColumnMatrix:
        if self.column_only:
            return ColumnMatrix(peers, self.me, faults)
        return EntanglementMatrix(peers, faults)

    def _init_state(self) -> None:
        self.matrix = self._new_matrix(self.peers, self._faults)
        # The frontier each author committed to, by index: the raw matrix rows (never
        # frozen), needed to check that deltas advance and noop roots recompute. Created on
        # an author's first entry, so a column-only replica keeps O(N) per log it follows.
        self._frontiers: dict[int, list[int]] = {}
        self._logs = {pk: _Log() for pk in self.peers}
        # Proofs, blocklist, evidence, committed versions, suspects, penalties (DESIGN §5).
        self._forks = Forks()
        # Delivered a non-noop entry of another author since this replica's last entry.
        self._unentangled_data = False

    def _reset(self) -> None:
        self._init_state()
        self._batch = _Batch()
        self._load()

    def _load(self) -> None:
        for proof in self._forks.load(self._store):
            self.matrix.freeze(proof.author, proof.seq - 1)
        for author, seq, entry_id, lamport in self._store.heads():
            log = self._logs[author]
            if seq != log.head + 1:
                raise LatticeError(f"store out of order at seq {seq}", author=author, seq=seq)
            log.append(entry_id, lamport)
        for observer, sender, seq in self._store.cells():
            self._row(observer)[sender] = seq
            self.matrix.update_indexed(observer, [(sender, seq)])

    def _row(self, author_index: int) -> list[int]:
        row = self._frontiers.get(author_index)
        if row is None:
            row = self._frontiers[author_index] = [0] * self._n
        return row

    def frontier(self) -> dict[bytes, tuple[int, bytes]]:
        """Head (seq, id) of every log this replica has delivered entries of; a forked
        author at the last seq before its fork."""
        out = {}
        for pk, log in self._logs.items():
            seq = log.head
            fork = self._forks.get(pk)
            if fork is not None:
                seq = min(seq, fork.seq - 1)
            if seq:
                out[pk] = (seq, log.id_at(seq))
        return out

    def head(self, author: bytes) -> int:
        """Seq of ``author``'s latest delivered entry (0 if none)."""
        return self._logs[author].head

    def id_at(self, author: bytes, seq: int) -> bytes | None:
        """The id of ``author``'s delivered entry ``seq``, if delivered."""
        log = self._logs[author]
        return log.id_at(seq) if 1 <= seq <= log.head else None

    def entries(self, author: bytes | None = None, since: int = 0) -> list[_lattice.Entry]:
        """Delivered entries in causal (delivery) order, optionally of one author after
        seq ``since``."""
        return [Entry.from_bytes(b) for b in self._store.entries(author, since)]

    def evidence(self, author: bytes | None = None) -> list[_lattice.Entry]:
        """Entries of forked authors kept as evidence (not delivered), in arrival order."""
        return [Entry.from_bytes(data) for *_, data in self._store.evidence(author)]

    def get(self, entry_id: bytes) -> _lattice.Entry | None:
        """The delivered entry with this id, if any."""
        data = self._store.get(entry_id)
        return None if data is None else Entry.from_bytes(data)

    @property
    def frauds(self) -> list[_lattice.FraudProof]:
        """The fraud proof of every forked author (its lowest known fork)."""
        return list(self._forks.proofs.values())

    @property
    def blocklist(self) -> set[bytes]:
        """Authors blocklisted for good: every author with a proven fork."""
        return set(self._forks.proofs)

    def disputed(self, author: bytes) -> set[bytes]:
        """Observers that committed to the forked ``author`` beyond the last seq before its
        fork: their view of it is on one branch or the other, and never counted (DESIGN §4).
        Empty if ``author`` is not forked."""
        fork = self._forks.get(author)
        if fork is None:
            return set()
        s = self.matrix.index(author)
        return {self.peers[o] for o, row in self._frontiers.items() if row[s] >= fork.seq}

    @property
    def penalties(self) -> dict[bytes, int]:
        """Invalid fraud proofs sent, per peer (DESIGN §5: the sender is penalised)."""
        return self._forks.penalties

    @property
    def pending(self) -> int:
        """Number of entries waiting for dependencies."""
        return len(self._pending)

    @property
    def pending_bytes(self) -> int:
        """Encoded size of the entries waiting for dependencies."""
        return self._pending.bytes

    def _held_lamport(self, author: bytes, seq: int, entry_id: bytes) -> int | None:
        """The lamport of ``author``'s entry ``seq`` if held with this id (delivered, or
        kept as evidence), else None."""
        log = self._logs[author]
        if seq <= log.head and log.id_at(seq) == entry_id:
            return log.lamports[seq - 1]
        return self._forks.kept_lamport(author, seq, entry_id)

    def missing(self) -> list[Missing]:
        """What to request so that pending entries can be delivered: per author, the runs
        of seqs between its first undelivered one and the highest any pending entry needs
        (leaving out what is already pending here); and, by id, versions of entries that
        differ from the ones held and entries of forked authors that honest entries need."""
        need: dict[bytes, int] = {
            a: s for a, s in self._pending.wanted.items() if a not in self._forks
        }
        by_id: set[tuple[bytes, int, bytes]] = set()
        held: dict[bytes, list[int]] = {}
        for waiting in self._pending:
            held.setdefault(waiting.author, []).append(waiting.seq)
            author, seq = waiting.key
            if author in self._forks or seq <= self._logs[author].head:
                by_id.add((author, seq, waiting.want))
            else:
                need[author] = max(need.get(author, 0), seq)
        for author, (seq, entry_id) in self._forks.suspects.items():
            by_id.add((author, seq, entry_id))
        out = []
        for author, last in sorted(need.items()):
            first = self._logs[author].head + 1
            for seq in sorted(held.get(author, ())):
                if seq > last:
                    break
                if seq > first:
                    out.append(Missing(author, first, seq - 1))
                first = max(first, seq + 1)
            if last >= first:
                out.append(Missing(author, first, last))
        for author, seq, entry_id in sorted(by_id):
            if self._held_lamport(author, seq, entry_id) is None and entry_id not in self._pending:
                out.append(Missing(author, seq, seq, entry_id))
        return out

    def answer(
        self,
        requests: Iterable[Missing],
        limit: int = MAX_ANSWER_ENTRIES,
        max_bytes: int = MAX_ANSWER_BYTES,
    ) -> list[bytes]:
        """The encoded entries this replica can send for ``requests`` (another replica's
        :meth:`missing`), at most ``limit`` of them and about ``max_bytes`` in all: by range
        from the delivered logs, by id from delivered entries and evidence."""
        out: list[bytes] = []
        size = 0
        for request in requests:
            room = limit - len(out)
            if room <= 0 or size >= max_bytes:
                break
            if request.id is not None:
                data = self._store.get_any(request.id)
                found = [] if data is None else [data]
            elif request.author in self._logs:
                first = max(1, request.first)
                last = min(request.last, self._logs[request.author].head, first + room - 1)
                found = self._store.range(request.author, first, last) if first <= last else []
            else:
                found = []
            for data in found:
                out.append(data)
                size += len(data)
                if size >= max_bytes:
                    break
        return out

    def difference(
        self, remote: Mapping[bytes, int], batch: int = SYNC_BATCH
    ) -> Iterator[list[bytes]]:
        """What a peer whose frontier is ``remote`` ({author: seq}) lacks of this replica's
        delivered entries, in causal (delivery) order, ``batch`` entries at a time (DESIGN
        §7). The store is read lazily, one batch per step, so entries delivered while the
        caller sends are included, and memory stays O(batch)."""
        starts = [
            position
            for author, log in self._logs.items()
            if log.head > remote.get(author, 0)
            and (position := self._store.ord_of(author, remote.get(author, 0) + 1)) is not None
        ]
        if not starts:
            return
        position = min(starts) - 1
        while True:
            rows = self._store.after(position, batch)
            if not rows:
                return
            position = rows[-1][0]
            out = [data for _, author, seq, data in rows if seq > remote.get(author, 0)]
            if out:
                yield out

    def compare_frontier(self, remote: Mapping[bytes, tuple[int, bytes]]) -> list[Missing]:
        """Fork check and difference of a peer's frontier (DESIGN §5 path c, §7): what to
        request from a peer that reported ``remote`` ({author: (seq, id)}). A head this
        replica holds with another id is requested by id: if the peer has it, it arrives
        as the second version of a signed entry and proves the fork."""
        out = []
        for author, (seq, entry_id) in sorted(remote.items()):
            log = self._logs.get(author)
            if log is None or author == self.me or author in self._forks or seq < 1:
                continue
            if seq > log.head:
                out.append(Missing(author, log.head + 1, seq))
            elif log.id_at(seq) != entry_id:
                out.append(Missing(author, seq, seq, bytes(entry_id)))
        return out

    # --- writing -------------------------------------------------------------------------

    def _delta(self) -> dict[bytes, tuple[int, bytes]]:
        """My frontier growth since my last entry: heads I hold beyond what I committed (a
        forked author no further than the last seq before its fork)."""
        mine = self._row(self._me_index)
        delta = {}
        for i, pk in enumerate(self.peers):
            head = self._logs[pk].head
            fork = self._forks.get(pk)
            if fork is not None:
                head = min(head, fork.seq - 1)
            if pk != self.me and head > mine[i]:
                delta[pk] = (head, self._logs[pk].id_at(head))
        return delta

    def _committed_id(self, observer: int, sender: int, seq: int) -> bytes:
        """The id of ``sender``'s entry ``seq`` in ``observer``'s frontier."""
        return self._forks.committed.get((observer, sender)) or self._logs[
            self.peers[sender]
        ].id_at(seq)

    def _frontier_items(
        self, author_index: int, delta: dict[bytes, tuple[int, bytes]]
    ) -> list[tuple[bytes, int, bytes]]:
        """The author's frontier after an entry with this delta, sorted by peer: what a
        noop's ``frontier_root`` commits to. The author itself is at its previous entry
        (docs/format.md, "Frontier root")."""
        row = self._row(author_index)
        items = []
        for i, pk in sorted(enumerate(self.peers), key=lambda x: x[1]):
            seq, entry_id = delta.get(pk, (row[i], b""))
            if seq:
                items.append((pk, seq, entry_id or self._committed_id(author_index, i, seq)))
        return items

    def _create(self, kind: Kind, payload: bytes, announces: bytes | None = None) -> _lattice.Entry:
        log = self._logs[self.me]
        seq = log.head + 1
        delta = self._delta()
        lamport = 1 + max(
            [log.lamports[-1] if log.head else 0]
            + [self._logs[pk].lamports[s - 1] for pk, (s, _) in delta.items()]
        )
        link = _lattice.lipmaa(seq)
        frontier_root = None
        if kind == Kind.NOOP:
            frontier_root = _lattice.frontier_root(self._frontier_items(self._me_index, delta))
        entry = Entry.create(
            self.identity.signing_key,
            swarm=self.swarm_id,
            seq=seq,
            lamport=lamport,
            prev=log.id_at(seq - 1) if seq > 1 else None,
            lipmaa=log.id_at(link) if link else None,
            deps=delta,
            payload=payload,
            kind=int(kind),
            frontier_root=frontier_root,
        )
        self._deliver(entry)
        self._commit(ReceiveResult(), announced=() if announces is None else (announces,))
        return entry

    def append(self, payload: bytes, kind: Kind = Kind.DATA) -> _lattice.Entry:
        """Append a DATA entry (or another non-noop kind) entangling the current frontier;
        returns after it is durably stored."""
        if kind == Kind.NOOP:
            return self.noop()
        payload = bytes(payload)
        if kind == Kind.FRAUD:
            # Never sign a FRAUD entry that others would reject.
            proof_in_payload(payload, self.swarm_id, self._logs)
        return self._create(kind, payload)

    def noop(self) -> _lattice.Entry:
        """Append a NOOP: no payload, advances the matrix, carries the frontier root."""
        return self._create(Kind.NOOP, b"")

    def frontier_changed(self) -> bool:
        """True when this replica delivered entries its own log has not entangled yet."""
        return bool(self._delta())

    def data_changed(self) -> bool:
        """True when, since this replica's last entry, it delivered an entry of another
        author that is not a noop: the noops that advance the matrix after data are
        needed, noops answering noops are not (they would echo forever)."""
        return self._unentangled_data and self.frontier_changed()

    def maybe_noop(self, data_only: bool = False) -> _lattice.Entry | None:
        """The periodic noop (DESIGN §3): emit one only if the frontier changed since this
        replica's last entry (with ``data_only``: only if it changed by more than noops).
        A node calls this on a timer."""
        changed = self.data_changed() if data_only else self.frontier_changed()
        return self.noop() if changed else None

    def _announce_stored(self) -> None:
        """Append the FRAUD entry of every fork this replica detected but has not announced
        yet (a crash between the two commits): nothing found is lost."""
        pending, self._forks.unannounced = self._forks.unannounced, []
        for proof in pending:
            self._create(Kind.FRAUD, proof.to_bytes(), announces=proof.author)

    # --- receiving -----------------------------------------------------------------------

    def receive(self, items: Iterable[_lattice.Entry | bytes]) -> ReceiveResult:
        """Take entries in any order (bytes or Entry objects; duplicates and own echoes
        are harmless) and deliver what can be delivered. Signatures of the whole batch are
        verified at once; what is delivered is durably stored before this returns.

        A fork found here (DESIGN §5) is in ``frauds`` of the result, and this replica's
        ``FRAUD`` entry announcing it in ``appended``.
        """
        result = ReceiveResult()
        raw = [item.to_bytes() if isinstance(item, Entry) else bytes(item) for item in items]
        decoded = _lattice.decode_entries(raw, verify_signatures=True)
        # Entries of a blocklisted author are kept only if something here needs them; what
        # needs them may come later in the same batch, so those are tried again at the end.
        retry: list[tuple[bytes, _lattice.Entry]] = []
        for data, entry in zip(raw, decoded, strict=True):
            if isinstance(entry, LatticeError):
                self._batch.rejected.append((data, entry))
                continue
            try:
                self._admit(entry)
            except Blocked:
                retry.append((data, entry))
            except LatticeError as exc:
                self._reject(entry, exc, data)
        for data, entry in retry:
            try:
                self._admit(entry)
            except LatticeError as exc:
                self._reject(entry, exc, data)
        announce = [p for p, detected in self._batch.frauds if detected]
        self._commit(result)
        for proof in announce:
            result.appended.append(
                self._create(Kind.FRAUD, proof.to_bytes(), announces=proof.author)
            )
        result.pending = len(self._pending)
        return result

    def receive_fraud_proof(
        self, proof: _lattice.FraudProof | bytes, sender: bytes | None = None
    ) -> bool:
        """Take a fraud proof gossiped by ``sender`` (DESIGN §5). A valid one blocklists
        the accused author at once, whether or not this replica has seen either version;
        returns True if it was news. An invalid one raises :class:`InvalidFraudProof` and
        counts against ``sender``."""
        try:
            if not isinstance(proof, FraudProof):
                try:
                    proof = FraudProof.from_bytes(proof)
                except DecodeError as exc:
                    raise InvalidFraudProof(f"not a fraud proof: {exc}") from exc
            self._check_proof(proof)
        except InvalidFraudProof:
            if sender is not None:
                self._penalise(sender)
                self._commit(ReceiveResult())
            raise
        known = self._forks.get(proof.author)
        self._fork_found(proof, detected=False)
        self._commit(ReceiveResult())
        return known is None or proof.seq < known.seq

    def _check_proof(self, proof: _lattice.FraudProof) -> None:
        check_proof(proof, self.swarm_id, self._logs)

    def _penalise(self, peer: bytes) -> None:
        self._forks.penalise(peer)
        self._batch.penalised.add(peer)

    def _reject(self, entry: _lattice.Entry, exc: LatticeError, data: bytes | None = None) -> None:
        if isinstance(exc, InvalidFraudProof) and entry.author in self._logs:
            self._penalise(entry.author)
        self._batch.rejected.append((entry.to_bytes() if data is None else data, exc))

    def _admit(self, entry: _lattice.Entry) -> None:
        author = entry.author
        if entry.swarm != self.swarm_id:
            raise WrongSwarm("entry of another swarm", author=author, seq=entry.seq)
        log = self._logs.get(author)
        if log is None:
            # A key that is not even a usable Ed25519 key is its own class of error.
            _lattice.check_public_key(author)
            raise UnknownAuthor("author is not a registered peer", author=author, seq=entry.seq)
        seq = entry.seq
        if seq <= log.head and log.id_at(seq) == entry.id:
            return  # a duplicate or our own echo
        if entry.id in self._pending or entry.id in self._forks.evidence:
            return
        if entry.kind == _FRAUD and author not in self._forks:
            try:
                proof_in_payload(entry.payload, self.swarm_id, self._logs)
            except InvalidFraudProof as exc:
                raise InvalidFraudProof(
                    f"FRAUD entry without a valid fraud proof: {exc}", author=author, seq=seq
                ) from exc
        self._deliver(entry, first=True)

    def _deliver(self, entry: _lattice.Entry, first: bool = False) -> None:
        """Deliver ``entry`` (or keep it as evidence, or park it), then every pending entry
        that was waiting for it, transitively. Errors of ``entry`` itself are raised if
        ``first``; those of woken entries are reported in the result."""
        queue = [entry]
        while queue:
            e = queue.pop()
            try:
                try:
                    key = self._process(e)
                except _Wait as wait:
                    self._pending.park(
                        e.id,
                        e.author,
                        e.seq,
                        e,
                        size=len(e.to_bytes()),
                        key=wait.key,
                        want=wait.want,
                    )
                    continue
            except LatticeError as exc:
                if first:
                    raise
                # A pending entry that turned out invalid: dropped, and reported.
                self._reject(e, exc)
                continue
            finally:
                first = False
            if key is not None and len(self._pending):
                queue.extend(self._pending.wake(key))

    def _process(self, e: _lattice.Entry) -> tuple[bytes, int] | None:
        """Deliver ``e`` or keep it as evidence; returns the position now held, None if it
        was held already. Raises _Wait or the LatticeError that makes it invalid."""
        author, seq = e.author, e.seq
        log = self._logs[author]
        fork = self._forks.get(author)
        if seq <= log.head:
            held = log.id_at(seq)
            if held == e.id:
                return None
            if fork is None or seq < fork.seq:
                # DESIGN §5 path (a): a second signed version of a held position.
                self._fork_found(FraudProof.from_entries(self._held_entry(held), e), True)
                fork = self._forks.get(author)
        if fork is not None:
            if e.id in self._forks.evidence:
                return None
            if not self._needed(e):
                raise Blocked("author is blocklisted after a proven fork", author=author, seq=seq)
            self._check_evidence(e)
            self._forks.keep(e)
            self._batch.evidence.append(e)
            return (author, seq)
        self._apply(e, self._check(e))
        return (author, seq)

    def _held_entry(self, entry_id: bytes) -> _lattice.Entry:
        # Held but maybe not committed yet (a fork inside one batch: rare, so a scan).
        for entry in self._batch.evidence:
            if entry.id == entry_id:
                return entry
        for entry, _ in self._batch.delivered:
            if entry.id == entry_id:
                return entry
        data = self._store.get_any(entry_id)
        if data is None:
            raise StoreError(f"held entry {entry_id.hex()[:16]}… missing from the store")
        return Entry.from_bytes(data)

    def _needed(self, e: _lattice.Entry) -> bool:
        """Whether an entry of a forked author is to be kept: it is one of the versions a
        fraud proof names, or an entry waiting here needs exactly it."""
        if self._forks.is_proof_version(e.author, e.id):
            return True
        return any(w.want == e.id for w in self._pending.waiters((e.author, e.seq)))

    def _check_evidence(self, e: _lattice.Entry) -> None:
        """The checks an entry of a forked author passes to be kept: its links and
        dependencies are held with the ids it names, and its lamport is above theirs. (Its
        frontier is not checked: its author is already proven faulty.)"""
        author, seq = e.author, e.seq
        links = []
        if seq > 1:
            links.append((author, seq - 1, e.prev))
            link = _lattice.lipmaa(seq)
            if link != seq - 1:
                links.append((author, link, e.lipmaa))
        for peer, (s, i) in e.deps.items():
            if peer not in self._logs:
                raise UnknownAuthor("dependency on an unregistered peer", author=author, seq=seq)
            links.append((peer, s, i))
        for peer, s, entry_id in links:
            lamport = self._held_lamport(peer, s, entry_id)
            if lamport is None:
                raise _Wait(peer, s, entry_id)
            if e.lamport <= lamport:
                raise LamportNotIncreasing("lamport not above a link's", author=author, seq=seq)

    def _check(self, entry: _lattice.Entry) -> list[tuple[int, int]]:
        """Check an entry of an author that is not forked, whose log is at seq - 1 or
        behind; raise _Wait if a link or dependency is not held yet, a LatticeError if it
        is invalid. Returns the row delta."""
        author, seq, lamport = entry.author, entry.seq, entry.lamport
        log = self._logs[author]
        if seq > log.head + 1:
            raise _Wait(author, seq - 1, entry.prev)
        if seq > 1:
            if entry.prev != log.id_at(seq - 1):
                # Signed by the author: if that version exists, it proves a fork.
                self._forks.suspects[author] = (seq - 1, entry.prev)
                raise BrokenPrev("prev is not the delivered entry seq - 1", author=author, seq=seq)
            link = _lattice.lipmaa(seq)
            if link != seq - 1 and entry.lipmaa != log.id_at(link):
                self._forks.suspects[author] = (link, entry.lipmaa)
                raise BrokenLipmaa("lipmaa link does not match", author=author, seq=seq)
            if lamport <= log.lamports[seq - 2]:
                raise LamportNotIncreasing("lamport not above prev's", author=author, seq=seq)
        a = self.matrix.index(author)
        row = self._row(a)
        delta = [(a, seq)]
        deps = entry.deps
        for peer, (dep_seq, dep_id) in deps.items():
            p = self.matrix.index(peer)
            if dep_seq <= row[p]:
                raise NonMonotonicFrontier(
                    f"dependency on seq {dep_seq} of a peer already at {row[p]} in this "
                    "author's frontier",
                    author=author,
                    seq=seq,
                )
            dep_log = self._logs[peer]
            if dep_seq <= dep_log.head and dep_log.id_at(dep_seq) == dep_id:
                dep_lamport: int | None = dep_log.lamports[dep_seq - 1]
            else:
                dep_lamport = self._held_lamport(peer, dep_seq, dep_id)
            if dep_lamport is None:
                # Not held yet, or held with another id (DESIGN §5 path b: fetched by id,
                # it proves a fork; until then this entry waits).
                raise _Wait(peer, dep_seq, dep_id)
            if lamport <= dep_lamport:
                raise LamportNotIncreasing(
                    "lamport not above a dependency's", author=author, seq=seq
                )
            delta.append((p, dep_seq))
        if entry.kind == _NOOP:
            expected = _lattice.frontier_root(self._frontier_items(a, dict(deps)))
            if entry.frontier_root != expected:
                raise FrontierMismatch(
                    "frontier root does not match the author's frontier", author=author, seq=seq
                )
        return delta

    def _apply(self, e: _lattice.Entry, delta: list[tuple[int, int]]) -> None:
        """Deliver a checked entry: log, raw row, matrix (frozen columns capped there)."""
        a = delta[0][0]
        row = self._row(a)
        cells = []
        for col, s in delta:
            if s > row[col]:
                row[col] = s
                cells.append((a, col, s))
        self.matrix.update_indexed(a, delta)
        if self._forks:
            for peer, (_, dep_id) in e.deps.items():
                if peer in self._forks:
                    key = (a, self.matrix.index(peer))
                    self._forks.committed[key] = dep_id
                    self._batch.fork_cells[key] = dep_id
        self._logs[self.peers[a]].append(e.id, e.lamport)
        self._batch.delivered.append((e, cells))
        if a == self._me_index:
            self._unentangled_data = False
        elif e.kind != _NOOP:
            self._unentangled_data = True
        if e.kind == _FRAUD:
            # Checked on admission (own entries: made from a checked proof).
            self._fork_found(FraudProof.from_bytes(e.payload), False)

    def _fork_found(self, proof: _lattice.FraudProof, detected: bool) -> None:
        """Record a proven fork: blocklist its author for good, freeze its column at the
        last seq before the fork. ``detected``: found here (to be announced)."""
        if not self._forks.record(proof):
            return
        self.matrix.freeze(proof.author, proof.seq - 1)
        # A lower fork than the one known is news too: announced if found here.
        self._batch.frauds.append((proof, detected))

    def _commit(self, result: ReceiveResult, announced: Sequence[bytes] = ()) -> None:
        batch, self._batch = self._batch, _Batch()
        result.rejected.extend(batch.rejected)
        if not batch and not announced:
            return
        # Only each cell's final value is written: cells only grow, so the last raise of a
        # cell in the batch is its value (a batch of 1,000 entries from 8 authors touches
        # a few dozen cells, not thousands).
        cells: dict[tuple[int, int], int] = {}
        for _, raised in batch.delivered:
            for observer, sender, seq in raised:
                cells[observer, sender] = seq
        try:
            self._store.add(
                [
                    (e.id, e.author, e.seq, e.lamport, e.kind, e.to_bytes())
                    for e, _ in batch.delivered
                ],
                [(o, s, seq) for (o, s), seq in cells.items()],
                evidence=[(e.id, e.author, e.seq, e.lamport, e.to_bytes()) for e in batch.evidence],
                fork_cells=[(o, s, i) for (o, s), i in batch.fork_cells.items()],
                frauds=[(p.author, p.seq, p.to_bytes(), d) for p, d in batch.frauds],
                announced=announced,
                penalties=[(p, self._forks.penalties[p]) for p in batch.penalised],
            )
        except StoreError:
            # Nothing of this batch is stored: forget it in memory too, so the replica
            # stays exactly what its store says (the entries can be received again).
            self._reset()
            raise
        if self._pending.wanted:
            self._pending.satisfied({a: log.head for a, log in self._logs.items()})
        for author, (seq, entry_id) in list(self._forks.suspects.items()):
            if self._held_lamport(author, seq, entry_id) is not None:
                del self._forks.suspects[author]
        result.delivered.extend(e for e, _ in batch.delivered)
        result.evidence.extend(batch.evidence)
        result.frauds.extend(p for p, _ in batch.frauds)

    # --- clients and quorum proofs (DESIGN §6) ------------------------------------------

    def wrap_client_op(self, op: _lattice.ClientOp | bytes) -> _lattice.Entry:
        """As a client's home peer: check the client's signed op and wrap its exact bytes in
        one of this replica's DATA entries (returned once durably stored)."""
        if not isinstance(op, _lattice.ClientOp):
            op = _lattice.ClientOp.from_bytes(op)
        if op.swarm != self.swarm_id:
            raise WrongSwarm("client op for another swarm", author=op.client)
        if self.clients is not None and op.client not in self.clients:
            raise UnknownAuthor("not a client of this home peer", author=op.client)
        _lattice.check_public_key(op.client)
        if not op.verify():
            raise InvalidSignature("client op signature does not verify", author=op.client)
        return self.append(op.to_bytes())

    def quorum_proof(self, entry_id: bytes) -> QuorumProof | None:
        """A :class:`~lattice.proofs.QuorumProof` that a quorum saw the client op wrapped
        in entry ``entry_id``, or None if the entry is unknown, is not a wrapped client op,
        or fewer than q peers' noops have entangled it yet."""
        return build_quorum_proof(self, entry_id)

    def close(self) -> None:
        """Close the store."""
        self._store.close()

    def __enter__(self) -> Replica:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"Replica(me={self.me[:8].hex()}…, peers={self._n}, "
            f"delivered={sum(log.head for log in self._logs.values())}, pending={self.pending})"
        )

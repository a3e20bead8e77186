"""The Replica: one peer's sans-I/O protocol state machine (DESIGN §3, §4, §13, §14).

Entries go in (``receive``, in any order, as bytes or :class:`~lattice.Entry`), and what
happened comes out (:class:`ReceiveResult`); the replica never opens a socket or sleeps.
An entry is *delivered* — stored durably, applied to the matrix — only when its ``prev``,
its lipmaa target and every dependency are delivered with the same ids; until then it waits
in a bounded pending buffer and :meth:`Replica.missing` says what to request.

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
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from lattice import _lattice
from lattice.entry import Kind
from lattice.errors import (
    BrokenLipmaa,
    BrokenPrev,
    DecodeError,
    ForkDetected,
    FrontierMismatch,
    InvalidSignature,
    LamportNotIncreasing,
    LatticeError,
    NonMonotonicFrontier,
    PendingOverflow,
    StoreError,
    UnknownAuthor,
    WrongSwarm,
)
from lattice.identity import Identity
from lattice.matrix import ColumnMatrix, EntanglementMatrix
from lattice.proofs import QuorumProof, SignerEvidence
from lattice.store import Store

__all__ = [
    "DEFAULT_MAX_PENDING_BYTES",
    "DEFAULT_MAX_PENDING_BYTES_PER_AUTHOR",
    "Missing",
    "ReceiveResult",
    "Replica",
]

Entry = _lattice.Entry

#: Pending buffer caps (DESIGN §3): entries waiting for dependencies, in encoded bytes.
DEFAULT_MAX_PENDING_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_PENDING_BYTES_PER_AUTHOR = 16 * 1024 * 1024
_ID_LEN = _lattice.ID_LEN


@dataclass
class ReceiveResult:
    """What one :meth:`Replica.receive` call did.

    ``delivered``: entries delivered (and durably stored) by this call, in causal order;
    ``pending``: how many entries wait for dependencies after it; ``rejected``: inputs that
    are invalid, with the typed error saying why (nothing of them is stored or relayed);
    ``frauds``: fraud proofs found (DESIGN §5).
    """

    delivered: list[_lattice.Entry] = field(default_factory=list)
    pending: int = 0
    rejected: list[tuple[bytes, LatticeError]] = field(default_factory=list)
    frauds: list[object] = field(default_factory=list)
    dropped: int = 0


@dataclass(frozen=True)
class Missing:
    """Entries to request: ``author``'s seqs ``first`` to ``last`` inclusive."""

    author: bytes
    first: int
    last: int


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
    """Internal: the entry waits for (author, seq)."""

    def __init__(self, author: bytes, seq: int) -> None:
        self.key = (author, seq)


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
        self.matrix = self._new_matrix(peers, faults)
        if self.me not in self.matrix:
            raise UnknownAuthor("this identity is not in the membership list", author=self.me)
        self.peers = self.matrix.peers
        self._n = len(self.peers)
        self._me_index = self.matrix.index(self.me)
        # The frontier each author committed to, by index: the matrix rows, needed to check
        # that deltas advance and noop roots recompute. Created on an author's first entry,
        # so a column-only replica that follows few logs keeps O(N) per log it follows.
        self._frontiers: dict[int, list[int]] = {}
        self._logs = {pk: _Log() for pk in self.peers}
        self._max_pending = max_pending_bytes
        self._max_pending_author = max_pending_bytes_per_author
        # id -> (entry, encoded size, the (author, seq) it waits for); insertion order = age.
        self._pending: OrderedDict[bytes, tuple[_lattice.Entry, int, tuple[bytes, int]]] = (
            OrderedDict()
        )
        self._pending_bytes = 0
        self._pending_author_bytes: dict[bytes, int] = {}
        self._waiting: dict[tuple[bytes, int], set[bytes]] = {}
        self._wanted: dict[bytes, int] = {}
        self._late_rejections: list[tuple[bytes, LatticeError]] = []
        self._store = Store.open(path, swarm_id=self.swarm_id, owner=self.me, peers=self.peers)
        self._load()

    # --- state -------------------------------------------------------------------------

    def _new_matrix(
        self, peers: Sequence[bytes], faults: int | None
    ) -> EntanglementMatrix | ColumnMatrix:
        if self.column_only:
            return ColumnMatrix(peers, self.me, faults)
        return EntanglementMatrix(peers, faults)

    def _reset(self) -> None:
        self.matrix = self._new_matrix(self.peers, self.matrix.faults)
        self._frontiers = {}
        self._logs = {pk: _Log() for pk in self.peers}
        self._load()

    def _load(self) -> None:
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
        """Head (seq, id) of every log this replica has delivered entries of."""
        return {pk: (log.head, log.id_at(log.head)) for pk, log in self._logs.items() if log.head}

    def head(self, author: bytes) -> int:
        """Seq of ``author``'s latest delivered entry (0 if none)."""
        return self._logs[author].head

    def entries(self, author: bytes | None = None, since: int = 0) -> list[_lattice.Entry]:
        """Delivered entries in causal (delivery) order, optionally of one author after
        seq ``since``."""
        return [Entry.from_bytes(b) for b in self._store.entries(author, since)]

    def get(self, entry_id: bytes) -> _lattice.Entry | None:
        """The delivered entry with this id, if any."""
        data = self._store.get(entry_id)
        return None if data is None else Entry.from_bytes(data)

    @property
    def pending(self) -> int:
        """Number of entries waiting for dependencies."""
        return len(self._pending)

    @property
    def pending_bytes(self) -> int:
        """Encoded size of the entries waiting for dependencies."""
        return self._pending_bytes

    def missing(self) -> list[Missing]:
        """What to request so that pending entries can be delivered: per author, the runs
        of seqs between its first undelivered one and the highest any pending entry needs,
        leaving out what is already pending here."""
        need: dict[bytes, int] = dict(self._wanted)
        for author, seq in self._waiting:
            need[author] = max(need.get(author, 0), seq)
        held: dict[bytes, list[int]] = {}
        for entry, _, _ in self._pending.values():
            held.setdefault(entry.author, []).append(entry.seq)
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
        return out

    # --- writing -------------------------------------------------------------------------

    def _delta(self) -> dict[bytes, tuple[int, bytes]]:
        """My frontier growth since my last entry: heads I hold beyond what I committed."""
        mine = self._row(self._me_index)
        delta = {}
        for i, pk in enumerate(self.peers):
            head = self._logs[pk].head
            if pk != self.me and head > mine[i]:
                delta[pk] = (head, self._logs[pk].id_at(head))
        return delta

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
                items.append((pk, seq, entry_id or self._logs[pk].id_at(seq)))
        return items

    def _create(self, kind: Kind, payload: bytes) -> _lattice.Entry:
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
        result = ReceiveResult()
        delivered: list[tuple[_lattice.Entry, list[tuple[int, int, int]]]] = []
        self._deliver(entry, delivered)
        self._commit(delivered, result)
        return entry

    def append(self, payload: bytes, kind: Kind = Kind.DATA) -> _lattice.Entry:
        """Append a DATA entry (or another non-noop kind) entangling the current frontier;
        returns after it is durably stored."""
        if kind == Kind.NOOP:
            return self.noop()
        return self._create(kind, bytes(payload))

    def noop(self) -> _lattice.Entry:
        """Append a NOOP: no payload, advances the matrix, carries the frontier root."""
        return self._create(Kind.NOOP, b"")

    def frontier_changed(self) -> bool:
        """True when this replica delivered entries its own log has not entangled yet."""
        return bool(self._delta())

    def maybe_noop(self) -> _lattice.Entry | None:
        """The periodic noop (DESIGN §3): emit one only if the frontier changed since this
        replica's last entry. A node calls this on a timer."""
        return self.noop() if self.frontier_changed() else None

    # --- receiving -----------------------------------------------------------------------

    def receive(self, items: Iterable[_lattice.Entry | bytes]) -> ReceiveResult:
        """Take entries in any order (bytes or Entry objects; duplicates and own echoes
        are harmless) and deliver what can be delivered. Signatures of the whole batch are
        verified at once; what is delivered is durably stored before this returns."""
        result = ReceiveResult()
        raw = [item.to_bytes() if isinstance(item, Entry) else bytes(item) for item in items]
        decoded = _lattice.decode_entries(raw, verify_signatures=True)
        delivered: list[tuple[_lattice.Entry, list[tuple[int, int, int]]]] = []
        for data, entry in zip(raw, decoded, strict=True):
            if isinstance(entry, LatticeError):
                result.rejected.append((data, entry))
                continue
            try:
                self._admit(entry, delivered)
            except LatticeError as exc:
                result.rejected.append((data, exc))
        self._commit(delivered, result)
        result.rejected.extend(self._late_rejections)
        self._late_rejections.clear()
        result.pending = len(self._pending)
        return result

    def _admit(
        self,
        entry: _lattice.Entry,
        delivered: list[tuple[_lattice.Entry, list[tuple[int, int, int]]]],
    ) -> None:
        author = entry.author
        if entry.swarm != self.swarm_id:
            raise WrongSwarm("entry of another swarm", author=author, seq=entry.seq)
        log = self._logs.get(author)
        if log is None:
            raise UnknownAuthor("author is not a registered peer", author=author, seq=entry.seq)
        seq = entry.seq
        if seq <= len(log.lamports):
            if log.id_at(seq) == entry.id:
                return  # a duplicate or our own echo
            raise ForkDetected("a second version of a delivered entry", author=author, seq=seq)
        if self._pending and entry.id in self._pending:
            return
        try:
            self._deliver(entry, delivered)
        except _Wait as wait:
            self._park(entry, wait.key)

    def _check(self, entry: _lattice.Entry) -> list[tuple[int, int]]:
        """Check an entry whose author's log is at seq - 1 or behind; raise _Wait if a
        dependency is missing, a LatticeError if it is invalid. Returns the row delta."""
        author, seq, lamport = entry.author, entry.seq, entry.lamport
        log = self._logs[author]
        if seq > len(log.lamports) + 1:
            raise _Wait(author, seq - 1)
        if seq > 1:
            if entry.prev != log.id_at(seq - 1):
                raise BrokenPrev("prev is not the delivered entry seq - 1", author=author, seq=seq)
            link = _lattice.lipmaa(seq)
            if link != seq - 1 and entry.lipmaa != log.id_at(link):
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
            if dep_seq > dep_log.head:
                raise _Wait(peer, dep_seq)
            if dep_log.id_at(dep_seq) != dep_id:
                raise ForkDetected(
                    "a dependency names another version of an entry this replica holds",
                    author=peer,
                    seq=dep_seq,
                )
            if lamport <= dep_log.lamports[dep_seq - 1]:
                raise LamportNotIncreasing(
                    "lamport not above a dependency's", author=author, seq=seq
                )
            delta.append((p, dep_seq))
        if entry.kind == Kind.NOOP:
            expected = _lattice.frontier_root(
                self._frontier_items(a, {pk: v for pk, v in deps.items()})
            )
            if entry.frontier_root != expected:
                raise FrontierMismatch(
                    "frontier root does not match the author's frontier", author=author, seq=seq
                )
        return delta

    def _deliver(
        self,
        entry: _lattice.Entry,
        delivered: list[tuple[_lattice.Entry, list[tuple[int, int, int]]]],
    ) -> None:
        """Deliver ``entry`` (raising _Wait or an error if it cannot be), then every pending
        entry that was waiting for it, transitively."""
        queue = [entry]
        first = True
        while queue:
            e = queue.pop()
            try:
                delta = self._check(e)
            except _Wait as wait:
                if first:
                    raise
                self._park(e, wait.key)
                continue
            except LatticeError as exc:
                if first:
                    raise
                # A pending entry that turned out invalid: dropped, and reported.
                self._late_rejections.append((e.to_bytes(), exc))
                continue
            finally:
                first = False
            a = delta[0][0]
            row = self._row(a)
            cells = []
            for col, seq in delta:
                if seq > row[col]:
                    row[col] = seq
                    cells.append((a, col, seq))
            self.matrix.update_indexed(a, delta)
            author, seq = self.peers[a], delta[0][1]
            self._logs[author].append(e.id, e.lamport)
            delivered.append((e, cells))
            if self._waiting:
                for woken in self._waiting.pop((author, seq), ()):
                    parked = self._unpark(woken)
                    if parked is not None:
                        queue.append(parked)

    def _park(self, entry: _lattice.Entry, key: tuple[bytes, int]) -> None:
        """Keep ``entry`` until ``key`` is delivered, within the caps (oldest evicted)."""
        size = len(entry.to_bytes())
        author = entry.author
        if size > self._max_pending_author or size > self._max_pending:
            self._want(author, entry.seq)
            raise PendingOverflow("entry larger than the pending buffer", author=author)
        self._pending[entry.id] = (entry, size, key)
        self._waiting.setdefault(key, set()).add(entry.id)
        self._pending_bytes += size
        self._pending_author_bytes[author] = self._pending_author_bytes.get(author, 0) + size
        while self._pending_author_bytes[author] > self._max_pending_author:
            oldest = next(i for i, (e, _, _) in self._pending.items() if e.author == author)
            self._evict(oldest)
        while self._pending_bytes > self._max_pending:
            self._evict(next(iter(self._pending)))

    def _evict(self, entry_id: bytes) -> None:
        entry = self._unpark(entry_id)
        if entry is not None:
            # Not stored, never delivered out of order: requested again via missing().
            self._want(entry.author, entry.seq)

    def _want(self, author: bytes, seq: int) -> None:
        self._wanted[author] = max(self._wanted.get(author, 0), seq)

    def _unpark(self, entry_id: bytes) -> _lattice.Entry | None:
        item = self._pending.pop(entry_id, None)
        if item is None:
            return None
        entry, size, key = item
        self._pending_bytes -= size
        self._pending_author_bytes[entry.author] -= size
        waiting = self._waiting.get(key)
        if waiting is not None:
            waiting.discard(entry_id)
            if not waiting:
                del self._waiting[key]
        return entry

    def _commit(
        self,
        delivered: list[tuple[_lattice.Entry, list[tuple[int, int, int]]]],
        result: ReceiveResult,
    ) -> None:
        if not delivered:
            return
        # Only each cell's final value is written: cells only grow, so the last raise of a
        # cell in the batch is its value (a batch of 1,000 entries from 8 authors touches
        # a few dozen cells, not thousands).
        cells: dict[tuple[int, int], int] = {}
        for _, raised in delivered:
            for observer, sender, seq in raised:
                cells[observer, sender] = seq
        try:
            self._store.add(
                [(e.id, e.author, e.seq, e.lamport, e.kind, e.to_bytes()) for e, _ in delivered],
                [(o, s, seq) for (o, s), seq in cells.items()],
            )
        except StoreError:
            # Nothing of this batch is stored: forget it in memory too, so the replica
            # stays exactly what its store says (the entries can be received again).
            self._reset()
            raise
        for author, want in list(self._wanted.items()):
            if self._logs[author].head >= want:
                del self._wanted[author]
        result.delivered.extend(e for e, _ in delivered)

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
        data = self._store.get(entry_id)
        if data is None:
            return None
        wrapping = Entry.from_bytes(data)
        try:
            _lattice.ClientOp.from_bytes(wrapping.payload)
        except DecodeError:
            return None
        home, k = wrapping.author, wrapping.seq
        signers = [
            evidence
            for peer in self.peers
            if (evidence := self._signer_evidence(peer, home, k)) is not None
        ]
        if len(signers) < self.matrix.quorum:
            return None
        return QuorumProof(self.swarm_id, data, tuple(signers))

    def _signer_evidence(self, peer: bytes, home: bytes, k: int) -> SignerEvidence | None:
        """``peer``'s first noop whose frontier holds ``home`` at seq >= k, with the proofs."""
        frontier: dict[bytes, int] = {}
        for entry in self.entries(peer):
            for dep, (seq, _) in entry.deps.items():
                frontier[dep] = seq
            if entry.kind != Kind.NOOP:
                continue
            own = {peer: entry.seq - 1} if entry.seq > 1 else {}
            view = {**frontier, **own}
            s = view.get(home, 0)
            if s < k:
                continue
            items = [(p, q, self._logs[p].id_at(q)) for p, q in sorted(view.items()) if q]
            index = next(i for i, item in enumerate(items) if item[0] == home)
            path = [self._signed_header(home, seq) for seq in _lattice.lipmaa_path(s, k)[:-1]]
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

    def _signed_header(self, author: bytes, seq: int) -> bytes:
        data = self._store.at(author, seq)
        if data is None:
            raise LatticeError("delivered entry missing from the store", author=author, seq=seq)
        return data[: _lattice.SIGNED_HEADER_LEN]

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

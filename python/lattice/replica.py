"""The Replica: one peer's sans-I/O protocol state machine (DESIGN §3, §4, §5, §13, §14).

Entries go in (``receive``, in any order, as bytes or :class:`~lattice.Entry`), and what
happened comes out (:class:`ReceiveResult`); the replica never opens a socket or sleeps.
An entry is *delivered* — stored durably, applied to the matrix — only when its ``prev``,
its lipmaa target and every dependency are delivered with the same ids; until then it waits
in a bounded pending buffer and :meth:`Replica.missing` says what to request.

Peers are assumed hostile: every invalid entry is rejected with a typed error and leaves
nothing behind. A peer that signs two versions of one position is caught as soon as both
meet here (DESIGN §5): the :class:`~lattice.FraudProof` is stored, returned and appended
as a ``FRAUD`` entry; the liar is blocklisted for good, its column frozen before the fork,
and honest entries on either branch are still delivered (with the liar's as *evidence*).

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
from collections.abc import Callable, Iterable, Sequence

from lattice import _lattice
from lattice.batch import Batch, ReceiveResult
from lattice.durability import Durability
from lattice.entry import Kind
from lattice.errors import (
    AdmissionError,
    Blocked,
    DecodeError,
    InvalidArgument,
    InvalidFraudProof,
    LatticeError,
    NotSynced,
    StoreError,
    UnknownAuthor,
    WrongSwarm,
)
from lattice.forks import Forks, check_proof, proof_in_payload
from lattice.history import History
from lattice.identity import Identity
from lattice.listeners import Listeners
from lattice.matrix import ColumnMatrix, EntanglementMatrix
from lattice.pending import PendingBuffer
from lattice.proofs import QuorumProof, build_quorum_proof, check_client_op
from lattice.queries import Queries
from lattice.store import Store
from lattice.sybil.graph import RECORD_KINDS, AdmissionPolicy, TrustGraph
from lattice.sync import MAX_ANSWER_BYTES, MAX_ANSWER_ENTRIES, SYNC_BATCH, Missing
from lattice.validity import Wait, check, check_evidence
from lattice.writer import CommitWriter

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
_ID_LEN = _lattice.ID_LEN
_NOOP, _FRAUD = int(Kind.NOOP), int(Kind.FRAUD)


def _entry_bytes(item: object) -> bytes:
    if isinstance(item, Entry):
        return item.to_bytes()
    if isinstance(item, bytes | bytearray | memoryview):
        return bytes(item)
    raise InvalidArgument(f"entries are lattice.Entry objects or bytes, not {type(item).__name__}")


class Replica(Queries, Durability, Listeners):
    """One peer's replica of a swarm: sans-I/O, durable when given a ``path``.

    Arguments:

    - ``identity``: this peer's :class:`~lattice.Identity` (it signs every entry appended
      here); its public key must be one of ``peers``.
    - ``peers``: the public keys of the swarm's registered peers, in any iterable; the
      matrix has one row and one column per peer, in this order.
    - ``swarm_id``: the 32-byte swarm id every entry names (default: zeros).
    - ``path``: a SQLite store file, created on first use and locked against a second
      opener; without it the replica lives in memory only.
    - ``faults``: the most Byzantine peers tolerated, f (default ⌊(N − 1) / 3⌋); a
      quorum is ⌊(N + f) / 2⌋ + 1 peers. A store remembers its peers and faults and
      refuses others.
    - ``column_only``: keep only this peer's column of the matrix (O(N) state, for light
      peers that never answer quorum queries about others).
    - ``max_pending_bytes`` / ``max_pending_bytes_per_author``: the caps on entries held
      while their dependencies are missing (DESIGN §3).
    - ``clients``: the client keys whose ops this home peer may wrap (default: any key
      with a valid signature).
    - ``sign_check``: called before this replica signs; raising refuses the append (a
      node's self-check, :mod:`lattice.net.selfcheck`).
    - ``admission``: the :class:`~lattice.sybil.AdmissionPolicy` (DESIGN §11; None: open)
      under which the trust graph (``trust``) judges WRAP, ADMISSION and VOUCH entries.

    Errors are typed: ``UnknownAuthor`` when ``identity`` is not a peer, ``InvalidKey``
    for a bad peer key, ``StoreError`` for a store in use, corrupt or of another swarm.

    >>> import lattice
    >>> me, other = lattice.Identity.generate(), lattice.Identity.generate()
    >>> rep = lattice.Replica(me, peers=(k.public_key for k in (me, other)), faults=0)
    >>> rep.matrix.quorum, rep.append(b"first").seq
    (2, 1)
    """

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
        sign_check: Callable[[], None] | None = None,
        admission: AdmissionPolicy | None = None,
    ) -> None:
        if len(swarm_id) != _ID_LEN:
            raise DecodeError(f"a swarm id is {_ID_LEN} bytes, got {len(swarm_id)}")
        if faults is not None and (isinstance(faults, bool) or not isinstance(faults, int)):
            raise InvalidArgument(f"faults is a whole number or None, not {faults!r}")
        peers = [bytes(pk) for pk in peers]  # any iterable, read once
        for pk in peers:
            _lattice.check_public_key(pk)
        self.identity = identity
        self.me = identity.public_key
        #: Called before it signs; raises to refuse (lattice.net.selfcheck). FRAUD entries wait.
        self.sign_check = sign_check
        self._init_listeners()
        #: Clients this replica is the home peer of (None: any client with a valid key).
        self.clients = None if clients is None else frozenset(bytes(c) for c in clients)
        self.swarm_id = bytes(swarm_id)
        self.column_only = column_only
        self._faults = faults
        self.admission = admission
        self.matrix = self._new_matrix(peers, faults)
        if self.me not in self.matrix:
            raise UnknownAuthor("this identity is not in the membership list", author=self.me)
        self.peers = self.matrix.peers
        #: The trust graph of an admission-checking swarm (DESIGN §11), else None.
        self.trust = TrustGraph.of(admission, self.peers, self.swarm_id)
        self._n = len(self.peers)
        self._me_index = self.matrix.index(self.me)
        self._pending: PendingBuffer[_lattice.Entry] = PendingBuffer(
            max_pending_bytes, max_pending_bytes_per_author
        )
        self._batch = Batch()
        self._store = Store.open(
            path,
            swarm_id=self.swarm_id,
            owner=self.me,
            peers=self.peers,
            faults=self.matrix.faults,
        )
        # Set by commit_in_background (a node): commits then run on the writer's thread.
        self._writer: CommitWriter | None = None
        try:
            self._init_state()
            self._load()
            self._announce_stored()
        except BaseException:
            self._store.close()  # and its lock: nothing half-opened stays in use
            raise

    # --- state -------------------------------------------------------------------------

    def _new_matrix(
        self, peers: Sequence[bytes], faults: int | None
    ) -> EntanglementMatrix | ColumnMatrix:
        if self.column_only:
            return ColumnMatrix(peers, self.me, faults)
        return EntanglementMatrix(peers, faults)

    def _init_state(self) -> None:
        self.matrix = self._new_matrix(self.peers, self._faults)
        # Proofs, blocklist, evidence, committed versions, suspects, penalties (DESIGN §5).
        self._forks = Forks()
        # The delivered logs in memory and the frontiers their authors committed to.
        self._history = History(self.peers, self._forks)
        self._logs = self._history.logs
        self._frontiers = self._history.frontiers
        # Delivered a non-noop entry of another author since this replica's last entry.
        self._unentangled_data = False
        # Non-noop entries delivered (own and others') since this replica was opened.
        self._data_delivered = 0
        if self.trust is not None:
            self.trust.clear()  # the same object: whoever holds it sees the reloaded graph

    def _reset(self) -> None:
        self._init_state()
        self._batch = Batch()
        self._load()
        self._notify_reset()

    def _load(self) -> None:
        for proof in self._forks.load(self._store):
            self.matrix.freeze(proof.author, proof.seq - 1)
        for author, seq, entry_id, lamport in self._store.heads():
            log = self._logs[author]
            if seq != log.head + 1:
                raise LatticeError(f"store out of order at seq {seq}", author=author, seq=seq)
            log.append(entry_id, lamport)
        self._store.check_tail()
        TrustGraph.open_store(self.trust, self._store, self._history, self._held_entry)
        for observer, sender, seq in self._store.cells():
            self._history.row(observer)[sender] = seq
            self.matrix.update_indexed(observer, [(sender, seq)])

    # --- writing -------------------------------------------------------------------------

    def _create(self, kind: Kind, payload: bytes, announces: bytes | None = None) -> _lattice.Entry:
        own = self._forks.get(self.me)
        if own is not None:
            # Its own fork is proven: anything it signs now is rejected everywhere.
            raise Blocked(f"this node is blocklisted: fork at seq {own.seq}", author=self.me)
        if self.sign_check is not None:
            self.sign_check()  # a node: not before it knows its own head (NotSynced)
        entry = self._history.draft(
            self._me_index, self.identity.signing_key, self.swarm_id, kind, payload
        )
        if self.trust is not None:  # never sign what the trust graph refuses
            self.trust.judge_draft(entry, self._history, self._held_entry)
        self._deliver(entry)
        self._commit(ReceiveResult(), announced=() if announces is None else (announces,))
        return entry

    def append(self, payload: bytes, kind: Kind = Kind.DATA) -> _lattice.Entry:
        """Append a DATA entry (or another non-noop kind) entangling the current frontier;
        returns after it is durably stored (with :meth:`commit_in_background`: once its
        commit is queued; :meth:`committed` says when it is stored)."""
        if kind == Kind.NOOP:
            return self.noop()
        if not isinstance(payload, bytes | bytearray | memoryview):
            raise InvalidArgument(f"a payload is bytes, not {type(payload).__name__}")
        payload = bytes(payload)
        if kind == Kind.FRAUD:
            # Never sign a FRAUD entry that others would reject.
            proof_in_payload(payload, self.swarm_id, self._logs)
        return self._create(kind, payload)

    def noop(self) -> _lattice.Entry:
        """Append a NOOP: no payload, advances the matrix, carries the frontier root."""
        return self._create(Kind.NOOP, b"")

    @property
    def data_delivered(self) -> int:
        """Non-noop entries delivered since opening (a node's heartbeat restarts on it)."""
        return self._data_delivered

    def frontier_changed(self) -> bool:
        """True when this replica delivered entries its own log has not entangled yet."""
        return bool(self._history.delta(self._me_index))

    def data_changed(self) -> bool:
        """True when, since this replica's last entry, it delivered an entry of another
        author that is not a noop: the noops that advance the matrix after data are
        needed, noops answering noops are not (they would echo forever)."""
        return self._unentangled_data and self.frontier_changed()

    def maybe_noop(self, data_only: bool = False) -> _lattice.Entry | None:
        """The periodic noop (DESIGN §3): emit one only if the frontier changed since this
        replica's last entry (with ``data_only``: only if it changed by more than noops).
        A node calls this on a timer."""
        if self.me in self._forks:
            return None  # blocklisted: it signs nothing more
        changed = self.data_changed() if data_only else self.frontier_changed()
        return self.noop() if changed else None

    def _announce_stored(self) -> list[_lattice.Entry]:
        """Append the FRAUD entry of every fork this replica detected but has not announced
        yet (a crash between the two commits): nothing found is lost."""
        pending, self._forks.unannounced = self._forks.unannounced, []
        made = []
        for proof in pending:
            if proof.author == self.me:
                continue  # a node cannot announce its own fork: others do
            try:
                made.append(self._create(Kind.FRAUD, proof.to_bytes(), announces=proof.author))
            except NotSynced:  # not yet: announce_deferred() does, once it may sign
                self._forks.unannounced.append(proof)
        return made

    def announce_deferred(self) -> list[_lattice.Entry]:
        """Append (and return) the FRAUD entries ``sign_check`` held back when found."""
        return self._announce_stored() if self._forks.unannounced else []

    # --- receiving -----------------------------------------------------------------------

    def receive(self, items: Iterable[_lattice.Entry | bytes]) -> ReceiveResult:
        """Take entries in any order (bytes or Entry objects; duplicates and own echoes
        are harmless) and deliver what can be delivered. Signatures of the whole batch are
        verified at once; what is delivered is durably stored before this returns (with
        :meth:`commit_in_background`: queued to be, see :meth:`committed`).

        A fork found here (DESIGN §5) is in ``frauds`` of the result, and this replica's
        ``FRAUD`` entry announcing it in ``appended``.
        """
        result = ReceiveResult()
        raw = [_entry_bytes(item) for item in items]
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
        # A proof of this node's own fork is announced by the others (it signs no more).
        announce = [p for p, detected in self._batch.frauds if detected and p.author != self.me]
        self._commit(result)
        self._forks.unannounced.extend(announce)
        result.appended.extend(self._announce_stored())
        result.pending = len(self._pending)
        return result

    def receive_fraud_proof(
        self, proof: _lattice.FraudProof | bytes, sender: bytes | None = None
    ) -> bool:
        """Take a fraud proof gossiped by ``sender`` (DESIGN §5). A valid one blocklists
        the accused author at once, whether or not this replica has seen either version;
        returns True if it was news. An invalid one raises :class:`InvalidFraudProof` and
        counts against ``sender``."""
        if not isinstance(proof, FraudProof | bytes | bytearray | memoryview):
            raise InvalidArgument(
                f"a fraud proof is a FraudProof or bytes, not {type(proof).__name__}"
            )
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
        if isinstance(exc, InvalidFraudProof | AdmissionError) and entry.author in self._logs:
            self.penalise(entry.author, entry.id)  # once per entry, however often it comes
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
                why = f"FRAUD entry without a valid fraud proof: {exc}"
                raise InvalidFraudProof(why, author=author, seq=seq) from exc
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
                except Wait as wait:
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
        was held already. Raises Wait or the LatticeError that makes it invalid."""
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
            check_evidence(self._history, e)
            self._forks.keep(e)
            if self.trust is not None:
                self.trust.keep(e, self._history, self._held_entry)
            self._batch.evidence.append(e)
            return (author, seq)
        delta = check(self._history, e)
        if self.trust is not None:
            self.trust.judge(e, self._history, delta, self._held_entry)
        self._apply(e, delta)
        return (author, seq)

    def _held_entry(self, entry_id: bytes) -> _lattice.Entry:
        # Held but maybe not committed yet (a fork inside one batch: rare, so a scan).
        held = self._batch.find(entry_id)
        if held is not None:
            return held
        # Delivered by an earlier call whose commit may still be on its way: look there
        # first (an entry leaves the writer's queue only once it is stored).
        data = None if self._writer is None else self._writer.find(entry_id)
        if data is None:
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

    def _apply(self, e: _lattice.Entry, delta: list[tuple[int, int]]) -> None:
        """Deliver a checked entry: log, raw row, matrix (frozen columns capped there)."""
        a = delta[0][0]
        row = self._history.row(a)
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
        if e.kind != _NOOP:
            self._data_delivered += 1
        if a == self._me_index:
            self._unentangled_data = False
        elif e.kind != _NOOP:
            self._unentangled_data = True
        if self.trust is not None and e.kind in RECORD_KINDS:
            self.trust.record(e.kind, e.payload, a, e.seq, e.id)
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
        batch, self._batch = self._batch, Batch()
        result.rejected.extend(batch.rejected)
        if not batch and not announced:
            return
        rows = batch.rows(announced, self._forks.penalties)
        if self._writer is not None:
            # On the writer's thread; committed() says when it is durable, and a failure
            # is handled by recover().
            self._writer.submit(rows)
        else:
            try:
                self._store.commit(rows)
            except StoreError:
                # Nothing of this batch is stored: forget it in memory too, so the replica
                # stays exactly what its store says (the entries can be received again).
                self._reset()
                raise
        self._notify(batch.delivered)
        if self._pending.wanted:
            self._pending.satisfied({a: log.head for a, log in self._logs.items()})
        for author, (seq, entry_id) in list(self._forks.suspects.items()):
            if self._history.held_lamport(author, seq, entry_id) is not None:
                del self._forks.suspects[author]
        result.delivered.extend(e for e, _ in batch.delivered)
        result.evidence.extend(batch.evidence)
        result.frauds.extend(p for p, _ in batch.frauds)

    # --- clients and quorum proofs (DESIGN §6) ------------------------------------------

    def check_client_op(self, op: _lattice.ClientOp | bytes) -> _lattice.ClientOp:
        """The op, decoded, if this home peer may wrap it (see ``proofs.check_client_op``)."""
        return check_client_op(op, self.swarm_id, self.clients)

    def wrap_client_op(self, op: _lattice.ClientOp | bytes) -> _lattice.Entry:
        """As a client's home peer: check the client's op and wrap its exact bytes in one of
        this replica's ``WRAP`` entries (durable on return, or queued: see :meth:`append`);
        with an admission policy, only for an admitted client (else ``NotAdmitted``)."""
        return self.append(self.check_client_op(op).to_bytes(), Kind.WRAP)

    def quorum_proof(self, entry_id: bytes) -> QuorumProof | None:
        """A :class:`~lattice.proofs.QuorumProof` that a quorum saw the client op wrapped
        in entry ``entry_id``, or None if the entry is unknown, is not a wrapped client op,
        or fewer than q peers' noops have entangled it yet."""
        if self._writer is not None:
            try:
                self._writer.wait()  # built from committed entries
            except StoreError:
                return None
        return build_quorum_proof(self, entry_id)

    def __enter__(self) -> Replica:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"Replica(me={self.me[:8].hex()}…, peers={self._n}, "
            f"delivered={sum(log.head for log in self._logs.values())}, pending={self.pending})"
        )

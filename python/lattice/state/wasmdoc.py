"""A document bound to a Wasm state machine instead of the built-in types (DESIGN §10).

``WasmDoc(replica, doc_id, machine, policy)`` follows the replica's log like a
:class:`~lattice.state.Doc`: each transaction is one DATA entry (a machine batch,
:mod:`lattice.state.machineops`, naming the blob's SHA-256), applied all or none by the
module, and an entry the module refuses stays in the log, is listed in :attr:`rejected`
on every replica that follows this document and machine, and costs its author a penalty
(a batch for another document or machine, or one that does not decode, is not this
document's business and is passed over). The blob comes from the log (a
``BLOB`` entry) and runs only once the policy admits it — from the ``ATTESTATION``
entries the replica delivers. Until then the document's entries **wait** (:attr:`waiting`,
in delivery order) and nothing is instantiated; the moment the N-th matching attestation
(or the blob itself) arrives, they are applied, in that order. A blob that is later
refused (a trusted builder dissents, or the builders it counted on expire) stops: the
instance is dropped and the entries from then on wait; if it is admitted again, the
document is rebuilt from the whole log, so its state is what a replica opening it then
would compute. Waiting entries are held with their ops up to :data:`MAX_WAITING_BYTES`;
beyond that only their ids are kept and admission rebuilds from the log. Collapse
(DESIGN §8) is the module's ``snapshot``. Concurrent entries reach replicas in different
orders, so a module must give the same state whichever order it applies them in (the
shipped ones do, with the op context's Lamport time and entry id).

>>> import lattice, struct, tempfile, pathlib
>>> from lattice.trust.attest import attest
>>> from lattice.trust.build import build
>>> from lattice.trust.manifest import for_blob
>>> from lattice.trust.policy import Policy
>>> me = lattice.Identity.generate()
>>> rep = lattice.Replica(me, peers=[me.public_key])
>>> built = build("counter", pathlib.Path(tempfile.mkdtemp()))
>>> _ = rep.append(built.path.read_bytes(), lattice.Kind.BLOB)
>>> doc = WasmDoc(rep, b"tally", built.sha256, Policy({"me": me.public_key}, 1))
>>> doc.status()
'waiting: blob … is pending: 0 of 1 matching attestations'
>>> out = {"sha256": built.sha256, "blake3": built.blake3}
>>> _ = rep.append(attest(for_blob("counter", out, "me"), me), lattice.Kind.ATTESTATION)
>>> doc.status(), doc.submit(struct.pack("<q", 40), struct.pack("<q", 2)).seq
('running', 3)
>>> struct.unpack("<q", doc.query(b""))[0]
42
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from lattice import _lattice
from lattice.entry import Kind
from lattice.errors import (
    AttestationError,
    BadBlob,
    DecodeError,
    InvalidArgument,
    InvalidOp,
    LatticeError,
    OpOutOfRange,
)
from lattice.state import machineops
from lattice.state.handover import Handover
from lattice.state.machine import Context
from lattice.state.ops import MAX_DOC_ID_LEN
from lattice.state.wasm import (
    CONTEXT_LEN,
    DEFAULT_FUEL_PER_BATCH,
    DEFAULT_FUEL_PER_OP,
    MAX_MEMORY,
    AttestationSink,
    WasmStateMachine,
    digests,
)

if TYPE_CHECKING:
    from lattice.replica import Replica

__all__ = ["MAX_REFUSALS_KEPT", "MAX_WAITING_BYTES", "WasmDoc"]

#: Ops held in memory for waiting entries before the document falls back to the log.
MAX_WAITING_BYTES = 64 * 1024 * 1024
#: Refused entries and attestations listed (the newest; older ones are counted only).
MAX_REFUSALS_KEPT = 1000

_DATA, _BLOB, _ATTESTATION = int(Kind.DATA), int(Kind.BLOB), int(Kind.ATTESTATION)
_VOUCH = int(Kind.VOUCH)


class WasmDoc:
    """A document whose state is a Wasm state machine's (see the module doc).

    - ``machine``: the blob's SHA-256 (hex or 32 bytes);
    - ``policy``: what admits it, fed every ATTESTATION entry the replica delivers;
    - ``append``: how a batch is signed (a node passes its own, which relays it);
    - ``max_memory``, ``fuel_per_op``, ``fuel_per_batch``: the instance's caps;
    - ``loaded``: told the blob's SHA-256 each time it is instantiated (a node measures
      it for remote attestation).
    """

    def __init__(
        self,
        replica: Replica,
        doc_id: bytes | str,
        machine: str | bytes,
        policy: AttestationSink,
        *,
        append: Callable[[bytes], _lattice.Entry] | None = None,
        max_memory: int = MAX_MEMORY,
        fuel_per_op: int = DEFAULT_FUEL_PER_OP,
        fuel_per_batch: int = DEFAULT_FUEL_PER_BATCH,
        loaded: Callable[[bytes], None] | None = None,
    ) -> None:
        self._loaded = loaded
        self.doc_id = doc_id.encode() if isinstance(doc_id, str) else bytes(doc_id)
        if len(self.doc_id) > MAX_DOC_ID_LEN:
            raise InvalidArgument(f"a doc id is at most {MAX_DOC_ID_LEN} bytes")
        try:
            self.machine = bytes.fromhex(machine) if isinstance(machine, str) else bytes(machine)
        except ValueError:
            raise InvalidArgument("a state machine is named by its blob's SHA-256 in hex") from None
        if len(self.machine) != 32:
            raise InvalidArgument("a state machine is named by its blob's 32-byte SHA-256")
        self.replica = replica
        self.policy = policy
        self._append = append or replica.append
        self._caps = {
            "max_memory": max_memory,
            "fuel_per_op": fuel_per_op,
            "fuel_per_batch": fuel_per_batch,
        }
        self._replay()
        replica.delivery_listeners.append(self._delivered)
        replica.reset_listeners.append(self._replay)

    # --- following the log ---------------------------------------------------------------

    def _replay(self) -> None:
        """(Re)build from the replica's log: every entry again, the instance afresh."""
        pending = self.replica.committed()
        if pending is not None:  # after a failed commit the store holds all there is
            with contextlib.suppress(LatticeError):
                pending.result()
        self.machine_sm: WasmStateMachine | None = None
        self._blob: bytes | None = None
        #: Entries refused by the module: (entry id, the reason), the newest.
        self.rejected: deque[tuple[bytes, LatticeError]] = deque(maxlen=MAX_REFUSALS_KEPT)
        # Entries of this document waiting for the state machine, with their ops (kept,
        # not looked up again: a node's store commits on a thread, after delivery).
        self._waiting: list[tuple[_lattice.Entry, tuple[bytes, ...]]] = []
        self._waiting_bytes = 0
        self._waiting_ids: list[bytes] = []  # beyond MAX_WAITING_BYTES: ids only
        # Dropped after running (refused later): admission again rebuilds from the log.
        self._dropped = False
        #: Why the state machine is not running (None: it is).
        self.why: str | None = f"the blob {self.machine.hex()[:16]}… is not in the log"
        self.applied = 0
        #: Attestation entries the policy did not count: (entry id, why), the newest.
        self.refused: deque[tuple[bytes, LatticeError]] = deque(maxlen=MAX_REFUSALS_KEPT)
        self._frontiers: dict[bytes, dict[bytes, int]] = {}
        for entry in self.replica.iter_entries():
            self._delivered(entry, replay=True)
        if self.machine_sm is None:
            self._start(replay=True)

    @property
    def waiting(self) -> list[bytes]:
        """The ids of this document's entries that wait for the state machine, in order."""
        return [entry.id for entry, _ in self._waiting] + self._waiting_ids

    def _delivered(self, entry: _lattice.Entry, replay: bool = False) -> None:
        frontier = self._frontiers.setdefault(entry.author, {})
        for peer, (seq, _) in entry.deps.items():
            frontier[peer] = seq
        frontier[entry.author] = entry.seq
        if entry.kind == _ATTESTATION:
            try:
                self.policy.add(entry.payload)
            except LatticeError as exc:
                self.refused.append((entry.id, exc))
            if self.machine_sm is not None:
                self._check_still_admitted()
            else:
                self._start(replay)
        elif entry.kind == _VOUCH:
            # The web of trust changed: a revoked builder's blob stops, a new one's starts.
            if self.machine_sm is not None:
                self._check_still_admitted()
            else:
                self._start(replay)
        elif entry.kind == _BLOB:
            if self._blob is None and digests(entry.payload)["sha256"] == self.machine.hex():
                self._blob = entry.payload
                self._start(replay)
        elif entry.kind == _DATA and machineops.is_machine_batch(entry.payload):
            self._batch(entry, replay)

    def _check_still_admitted(self) -> None:
        """After an attestation or a vouch: a running blob the policy no longer admits (a
        trusted builder's dissent, expired or revoked builders) is dropped; the entries from
        now on wait."""
        assert self.machine_sm is not None
        try:
            self.policy.require(self.machine_sm.digests)
        except AttestationError as exc:
            self.machine_sm, self.why, self._dropped = None, str(exc), True

    def _batch(self, entry: _lattice.Entry, replay: bool) -> None:
        try:
            batch = machineops.decode(entry.payload)
        except DecodeError:
            return  # whose it is cannot be told: no document's to refuse
        if batch.doc != self.doc_id or batch.machine != self.machine:
            return  # another document's, or this id run by another machine
        if self.machine_sm is not None:
            self._apply(entry, batch.ops, replay)
            return
        size = sum(map(len, batch.ops))
        if self._waiting_ids or self._waiting_bytes + size > MAX_WAITING_BYTES:
            self._waiting_ids.append(entry.id)
        else:
            self._waiting.append((entry, batch.ops))
            self._waiting_bytes += size

    def _context(self, entry: _lattice.Entry) -> Context:
        frontier = dict(self._frontiers.get(entry.author, {}))
        return Context(entry.id, entry.author, entry.seq, entry.lamport, frontier)

    def _apply(self, entry: _lattice.Entry, ops: tuple[bytes, ...], replay: bool) -> None:
        assert self.machine_sm is not None
        try:
            self.machine_sm.apply(ops, self._context(entry))
        except InvalidOp as exc:
            self._reject(entry, exc, replay)
            return
        except LatticeError as exc:  # it cannot go on (restoring its own snapshot failed)
            self.machine_sm, self.why, self._dropped = None, f"it broke: {exc}", True
            self._waiting_ids.append(entry.id)
            return
        self.applied += 1

    def _reject(self, entry: _lattice.Entry, exc: LatticeError, replay: bool) -> None:
        self.rejected.append((entry.id, exc))
        if not replay:
            self.replica.penalise(entry.author, entry.id)

    def _start(self, replay: bool) -> None:
        """Instantiate the state machine if the log holds its blob and the policy admits
        it; then apply every waiting entry, in the order they arrived."""
        if self._blob is None:
            return
        if self._dropped or (self._waiting_ids and not replay):
            if replay:
                return  # dropped for the rest of this replay
            try:
                self.policy.require(digests(self._blob))
            except AttestationError as exc:
                self.why = str(exc)
                return
            self._replay()  # the whole log again: what a replica opening it now computes
            return
        try:
            sm = WasmStateMachine(self._blob, policy=self.policy, **self._caps)
        except (AttestationError, BadBlob) as exc:
            self.why = str(exc)
            return
        self.machine_sm, self.why = sm, None
        if self._loaded is not None:
            self._loaded(self.machine)
        waiting, self._waiting, self._waiting_bytes = self._waiting, [], 0
        for entry, ops in waiting:
            self._apply(entry, ops, replay)
        ids, self._waiting_ids = self._waiting_ids, []
        for entry_id in ids:  # only while replaying: the store holds them all by now
            held = self.replica.get(entry_id)
            if held is not None and self.machine_sm is not None:
                self._apply(held, machineops.decode(held.payload).ops, replay)

    # --- writing and reading ---------------------------------------------------------------

    def status(self) -> str:
        """``running``, or ``waiting: why`` (the blob missing, pending or quarantined)."""
        if self.machine_sm is not None:
            return "running"
        why = self.why or "not started"
        return "waiting: " + why.replace(self.machine.hex()[:16], "")

    def _running(self) -> WasmStateMachine:
        if self.machine_sm is None:
            raise AttestationError(f"the state machine does not run here: {self.why}")
        return self.machine_sm

    def submit(self, *ops: bytes) -> _lattice.Entry:
        """Sign ``ops`` as one entry (refused ops are never signed: the module is asked
        first, against the current state, with a placeholder context)."""
        sm = self._running()
        payload = machineops.encode(machineops.MachineBatch(self.doc_id, self.machine, ops))
        refused = sm.check(ops, [bytes(CONTEXT_LEN)] * len(ops))
        if refused >= 0:
            raise OpOutOfRange(f"the state machine refuses op {refused} of the batch")
        return self._append(payload)

    def query(self, request: bytes = b"") -> bytes:
        """Ask the module (changes nothing)."""
        return self._running().query(request)

    def snapshot_hash(self) -> str:
        """SHA-256 of the module's snapshot: equal on replicas that applied the same."""
        return self._running().snapshot_hash()

    @property
    def fuel_used(self) -> int:
        """Fuel the applied entries took (equal on replicas that applied the same)."""
        return self._running().fuel_used

    def collapse(self, guest: bytes, nonce: bytes | None = None) -> tuple[bytes, bytes]:
        """A new view for ``guest``: the module's snapshot and the view id (DESIGN §8)."""
        handover = Handover.new(self.replica.frontier(), guest, nonce)
        return self._running().collapse(handover.view), handover.view

    def close(self) -> None:
        """Stop following the replica."""
        with contextlib.suppress(ValueError):
            self.replica.delivery_listeners.remove(self._delivered)
        with contextlib.suppress(ValueError):
            self.replica.reset_listeners.remove(self._replay)

"""Documents whose state is derived from the signed, entangled log (DESIGN §9).

``Doc(replica, doc_id)`` binds a document to a replica: a transaction's ops become one DATA
entry (the op batch of :mod:`lattice.state.ops`), and every entry the replica delivers —
its own and its peers', in causal order — is applied to the document it names. Many
documents share one log; a payload that is not an op batch is not a document's. An entry
whose ops the causal past refuses stays in the log, is listed in :attr:`Doc.rejected` on
every replica alike, and costs its author a penalty. ``Doc()`` alone is a local document
(one writer, no log: its transactions are numbered).

>>> import lattice
>>> me = lattice.Identity.generate()
>>> rep = lattice.Replica(me, peers=[me.public_key])
>>> doc = Doc(rep, b"notes")
>>> with doc.transaction():
...     doc.map("meta")["title"] = "draft"
...     doc.counter("likes").increment(3)
>>> doc.to_py(), rep.head(me.public_key)
({'counter': {'likes': 3}, 'map': {'meta': {'title': 'draft'}}}, 1)
>>> Doc(rep, b"notes").to_py() == doc.to_py()   # rebuilt from the replica's log
True
"""

from __future__ import annotations

import builtins
import contextlib
import struct
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from lattice import _lattice
from lattice.entry import Kind
from lattice.errors import (
    DecodeError,
    InvalidArgument,
    InvalidOp,
    LatticeError,
    LimitExceeded,
    OutOfRange,
)
from lattice.state import ops as opcodec
from lattice.state import snapshot as snapcodec
from lattice.state.builtin import Builtins
from lattice.state.crdt import LOCAL_AUTHOR
from lattice.state.handles import Counter, Map, Register, Set, Text
from lattice.state.handover import Handover
from lattice.state.machine import Context
from lattice.state.ops import (
    SELF,
    Batch,
    Element,
    Op,
    TextDelete,
    TextInsert,
)
from lattice.state.text import Sequence

if TYPE_CHECKING:
    from lattice.replica import Replica

__all__ = ["LOCAL_AUTHOR", "Change", "Doc"]

_DATA = int(Kind.DATA)
_SNAPSHOT = int(Kind.SNAPSHOT)
_STATE_MAGIC = b"LDST"


class UndoHook(Protocol):
    """What a document tells an undo manager of each of its user's transactions: the ops,
    before they are applied (it returns what it needs to remember), and after."""

    def before(self, ops: tuple[Op, ...]) -> Any: ...

    def after(self, before: Any) -> None: ...


@dataclass(frozen=True, slots=True)
class Change:
    """One applied transaction: its entry, author, seq, lamport time and ops."""

    entry: bytes
    author: bytes
    seq: int
    lamport: int
    ops: tuple[Op, ...]


class Doc:
    """A document: registers, maps, counters, sets and texts, driven by a replica's log."""

    def __init__(
        self,
        replica: Replica | None = None,
        doc_id: bytes | str = b"",
        *,
        append: Callable[[bytes], object] | None = None,
    ) -> None:
        self.doc_id = doc_id.encode() if isinstance(doc_id, str) else bytes(doc_id)
        if len(self.doc_id) > opcodec.MAX_DOC_ID_LEN:
            raise InvalidArgument(f"a doc id is at most {opcodec.MAX_DOC_ID_LEN} bytes")
        self.replica = replica
        #: How a transaction's batch is signed into the log: the replica's append, or a
        #: node's (which also relays the entry to its peers).
        self._append = append or (replica.append if replica is not None else None)
        self.objects = Builtins()
        #: Entries whose ops were refused: (entry id, the reason), in delivery order.
        self.rejected: list[tuple[bytes, LatticeError]] = []
        # Each author's frontier after its latest entry: the fold of its deps (DESIGN §3).
        self._frontiers: dict[bytes, dict[bytes, int]] = {}
        self._pending: list[Op] | None = None
        # In a transaction: the op indexes taken so far, and the texts as its ops left them.
        self._width = 0
        # Typing on from the last pending insert: its text, in pieces (joined by _close_run).
        self._run: list[str] | None = None
        # The texts the open transaction edits in place: name -> whether it made the text.
        self._scratch: dict[str, bool] = {}
        self._views: dict[str, Sequence] = {}  # the same texts, for the handles' hot path
        self._history: list[Change | str | tuple[Any, ...]] = []
        self._observers: list[Callable[[Change], None]] = []
        #: Called with every entry the replica delivers and the change it made here (None:
        #: none), while the texts hold delivered state only (the views, DESIGN §8).
        self.followers: list[Callable[[_lattice.Entry, Change | None], None]] = []
        self._read_only = False
        #: Set by an UndoManager (lattice.state.undo): told of this user's transactions.
        self._undo: UndoHook | None = None
        if replica is None:
            self.objects.local_clock = 0  # the numbered transactions of a local document
        # A local document's history starts after what Doc.decode loaded.
        self._history_base = 0
        self._names: builtins.set[str] = set()  # text names already checked
        if replica is not None:
            self._replay()
            replica.delivery_listeners.append(self._delivered)
            replica.reset_listeners.append(self._replay)

    def _replay(self) -> None:
        """(Re)build the state from the replica's store, as it delivered it."""
        assert self.replica is not None
        pending = self.replica.committed()
        if pending is not None:
            # Queued commits first: the store must hold everything (after a failed one,
            # the replica has recovered: the store holds what is durable, all there is).
            with contextlib.suppress(LatticeError):
                pending.result()
        editing = bool(self._scratch)
        self._drop_scratch()
        self.objects, self.rejected, self._frontiers = Builtins(), [], {}
        self._history = []
        for entry in self.replica.iter_entries():
            self._deliver(entry, replay=True)
        if editing:
            self._redo_scratch()

    # --- the objects -----------------------------------------------------------------

    def text(self, name: str) -> Text:
        return Text(self, name)

    def map(self, name: str) -> Map:
        return Map(self, name)

    def register(self, name: str) -> Register:
        return Register(self, name)

    def counter(self, name: str) -> Counter:
        return Counter(self, name)

    def set(self, name: str) -> Set:
        return Set(self, name)

    def to_py(self) -> dict[str, dict[str, object]]:
        """Every object's value, by type and name."""
        return self.objects.to_py()

    def encode(self) -> bytes:
        """The state's canonical bytes: equal on every replica that delivered the same
        entries, in whatever causal order (rejections included). Between transactions
        only (inside one, the texts hold its uncommitted edits)."""
        if self._pending is not None:
            raise InvalidArgument("a document is encoded between transactions, not in one")
        rejected = b"".join(entry for entry, _ in sorted(self.rejected, key=lambda r: r[0]))
        head = _STATE_MAGIC + bytes([len(self.doc_id)]) + self.doc_id
        # A local document's clock (0 for one on a log): the next transaction's number.
        head += struct.pack(">QI", self._local_seq, len(self.rejected))
        return head + rejected + self.objects.encode()

    @classmethod
    def decode(cls, data: bytes) -> Doc:
        """A local document from its :meth:`encode` bytes (save and load; a document
        bound to a replica is rebuilt from its log instead).

        >>> doc = Doc(doc_id="notes")
        >>> doc.text("t").insert(0, "saved")
        >>> doc.counter("c").increment(2)
        >>> again = Doc.decode(doc.encode())
        >>> again.to_py() == doc.to_py() and again.encode() == doc.encode()
        True
        >>> again.text("t").insert(5, "!")   # and it goes on
        >>> str(again.text("t"))
        'saved!'
        """
        if data[: len(_STATE_MAGIC)] != _STATE_MAGIC or len(data) < len(_STATE_MAGIC) + 1:
            raise DecodeError("not an encoded document")
        size = data[len(_STATE_MAGIC)]
        at = len(_STATE_MAGIC) + 1
        if size > opcodec.MAX_DOC_ID_LEN:
            raise LimitExceeded(f"a doc id of {size} bytes (limit {opcodec.MAX_DOC_ID_LEN})")
        if len(data) < at + size + 12:
            raise DecodeError("an encoded document cut short")
        doc = cls(doc_id=data[at : at + size])
        at += size
        clock, rejected = struct.unpack(">QI", data[at : at + 12])
        if rejected:
            raise DecodeError("a document that refused entries belongs to a replica's log")
        local = (LOCAL_AUTHOR, 0)

        def author_of(entry: bytes) -> tuple[bytes, int]:
            return (LOCAL_AUTHOR, int.from_bytes(entry, "big")) if entry else local

        doc.objects = Builtins.decode(data[at + 12 :], author_of)
        if any(seq > clock for _, seq in doc.objects.entries.values()):
            raise DecodeError("an element from after the document's clock")
        doc._local_seq = doc._history_base = clock
        return doc

    # --- views (DESIGN §8) ---------------------------------------------------------------

    def collapse(self, guest: bytes, nonce: bytes | None = None) -> tuple[bytes, bytes]:
        """Hand ``guest`` (its public key) a new view of this document: the collapsed
        snapshot (the visible state only, docs/format.md) and the view id. The owner's
        side of a view — its shallow log, the translation of later ops, the guest's
        writes — is :class:`lattice.state.view.View`.

        >>> doc = Doc()
        >>> doc.text("t").insert(0, "a secret, then the text")
        >>> doc.text("t").delete(0, 10)
        >>> snap, view = doc.collapse(bytes(32))
        >>> str(Doc.from_snapshot(snap).text("t")), b"secret" in snap
        ('then the text', False)
        """
        handover, collapsed = self.handover(guest, nonce)
        return collapsed.snapshot, handover.view

    def handover(
        self, guest: bytes, nonce: bytes | None = None
    ) -> tuple[Handover, snapcodec.Collapsed]:
        """A new view for ``guest`` at this document's frontier, and its collapse (with the
        owner's map from view ids to this document's elements)."""
        if self._pending is not None:
            raise InvalidArgument("a document is handed over between transactions, not in one")
        if self.replica is not None:
            frontier = self.replica.frontier()
        else:
            n = self._local_seq
            frontier = {LOCAL_AUTHOR: (n, n.to_bytes(32, "big"))} if n else {}
        handover = Handover.new(frontier, guest, nonce)
        return handover, snapcodec.collapse(self.objects, handover.view)

    @classmethod
    def from_snapshot(cls, snapshot: bytes) -> Doc:
        """A guest's shallow document: a local document that starts from a collapsed
        snapshot (packed or plain), its id the view's. A guest that follows its owner's
        shallow log binds a document to it instead (:class:`lattice.state.guest.Guest`)."""
        plain = snapcodec.unpack(snapshot)
        doc = cls(doc_id=snapcodec.view_of(plain))
        doc.objects.restore(plain)
        doc.objects.local_clock = 0
        return doc

    # --- transactions ----------------------------------------------------------------

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Doc]:
        """Collect ops into one batch: one signed DATA entry (nothing if it raises)."""
        if self._pending is not None:  # nested: part of the outer one
            yield self
            return
        self._pending = []
        try:
            yield self
            self._close_run()
            ops = tuple(self._pending)
        finally:
            self._pending = self._run = None
            self._width = 0
            # The texts go back as they were: the batch is applied as every replica does.
            self._drop_scratch()
        if ops:
            self._commit(ops)

    def _op(self, op: Op) -> int:
        """Queue ``op`` (or commit it alone); returns its first op index in the entry."""
        if self._pending is not None:
            self._close_run()
            self._pending.append(op)
            here, self._width = self._width, self._width + opcodec.width(op)
            return here
        self._commit((op,))
        return 0

    def _close_run(self) -> None:
        """The last pending insert as one op again, with all it was extended by."""
        if self._run is not None:
            assert self._pending
            last = self._pending[-1]
            assert isinstance(last, TextInsert)
            self._pending[-1] = TextInsert(last.name, last.parent, last.side, "".join(self._run))
            self._run = None

    def _text_view(self, name: str) -> Sequence:
        """Text ``name`` as the current transaction's ops leave it: edited in place from
        a mark, and rolled back at the end (read-your-writes until then)."""
        if name not in self._scratch:
            seq = self.objects.texts.get(name)
            existed = seq is not None
            if seq is None:
                seq = self.objects.texts[name] = Sequence()
            seq.mark()
            self._scratch[name] = existed
            self._views[name] = seq
        return self.objects.texts[name]

    def _forget_if_empty(self, name: str) -> None:
        """Drop the view of text ``name`` if this transaction made it and nothing is in it
        (an edit of it was refused): no empty text appears in the meantime."""
        seq = self.objects.texts.get(name)
        if self._scratch.get(name) is False and seq is not None and seq.total == 0:
            del self.objects.texts[name], self._scratch[name]
            self._views.pop(name, None)

    def _drop_scratch(self) -> None:
        """Put the texts the open transaction edited back as they were."""
        for name, existed in self._scratch.items():
            seq = self.objects.texts.get(name)
            if seq is None:
                continue
            if existed:
                seq.rollback()
            else:
                del self.objects.texts[name]
        self._scratch = {}
        self._views = {}

    def _redo_scratch(self) -> None:
        """Edit the texts again as the open transaction's ops say (after an entry was
        delivered in the middle of it: its ops name elements, so they still apply)."""
        if self._pending is None:
            return
        self._drop_scratch()  # from a clean mark, whatever happened in between
        self._close_run()
        here = 0
        for op in self._pending:
            if isinstance(op, TextInsert):
                self._text_view(op.name).insert(op.parent, op.side, Element(SELF, here), op.text)
            elif isinstance(op, TextDelete):
                view = self._text_view(op.name)
                for first, count in op.runs:
                    view.delete(first, count)
            here += opcodec.width(op)

    def _local_edit(self) -> bool:
        """Whether a text edit may take the local fast path: a local document, outside a
        transaction, with no undo manager to tell (the result is the same as the batch
        path's, byte for byte: tests/test_text.py)."""
        return self.replica is None and self._pending is None and self._undo is None

    @property
    def _local_seq(self) -> int:
        """A local document's transaction count (0 on a log)."""
        return self.objects.local_clock or 0

    @_local_seq.setter
    def _local_seq(self, n: int) -> None:
        self.objects.local_clock = n

    def _local_text(self, name: str) -> Sequence:
        """Text ``name`` of a local document for a fast-path edit (a new one is stored
        once the edit succeeds)."""
        if self._read_only:
            raise InvalidArgument("a document at a past frontier is read-only")
        if name not in self._names:
            opcodec.check_name(name)
            self._names.add(name)
        seq = self.objects.texts.get(name)
        return Sequence() if seq is None else seq

    def _local_done(self, name: str, seq: Sequence, n: int, record: str | tuple[Any, ...]) -> None:
        if name not in self.objects.texts:
            self.objects.texts[name] = seq
        self.objects.local_clock = n
        # Kept compact, a name or a tuple of plain values, not a Change: a local document
        # records every edit, and its entry ids are its transaction numbers (history()).
        self._history.append(record)
        if self._observers:
            self._notify(self._change(len(self._history) - 1))

    def _local_insert(self, name: str, index: int, text: str) -> None:
        """Type ``text`` at ``index`` of a local document's text ``name``, as its own
        transaction, straight into the kernel (the hot path of local editing)."""
        seq = self._local_text(name)
        n = (self.objects.local_clock or 0) + 1
        try:
            if index < 0:
                raise IndexError
            seq.type_at(index, n.to_bytes(32, "big"), text)
        except (IndexError, OverflowError):
            raise OutOfRange(f"insert at {index} of a text of {len(seq)}") from None
        self._local_done(name, seq, n, name)

    def _local_delete(self, name: str, index: int, length: int) -> None:
        """Delete ``length`` characters at ``index`` (at most ``MAX_TEXT_RUNS`` runs: the
        caller's bound) as a local document's own transaction."""
        seq = self._local_text(name)
        try:
            if index < 0:
                raise IndexError
            runs = seq.erase(index, index + length)
        except (IndexError, OverflowError):
            raise OutOfRange(f"delete {index}:{index + length} of a text of {len(seq)}") from None
        n = (self.objects.local_clock or 0) + 1
        self._local_done(name, seq, n, (name, *[x for (e, i), k in runs for x in (e, i, k)]))

    def _commit(self, ops: tuple[Op, ...]) -> None:
        if self._read_only:
            raise InvalidArgument("a document at a past frontier is read-only")
        before = None if self._undo is None else self._undo.before(ops)
        self._apply_own(ops)
        if before is not None and self._undo is not None:
            self._undo.after(before)

    def _apply_own(self, ops: tuple[Op, ...]) -> None:
        payload = opcodec.encode(Batch(self.doc_id, ops))
        if self.replica is None:
            self._local_seq += 1
            seq = self._local_seq
            ctx = Context(seq.to_bytes(32, "big"), LOCAL_AUTHOR, seq, seq, {LOCAL_AUTHOR: seq})
            # Exactly as a replica would apply them: the decoded ops (a bytearray value
            # comes back as bytes). Text ops hold nothing that decoding would change.
            texts_only = all(isinstance(op, TextInsert | TextDelete) for op in ops)
            decoded = ops if texts_only else opcodec.decode(payload).ops
            try:
                self.objects.apply(decoded, ctx)
            except LatticeError:
                self._local_seq -= 1
                raise
            self._record(Change(ctx.entry, LOCAL_AUTHOR, seq, seq, decoded))
            return
        # Refused ops are never signed: check them against what the entry will entangle
        # (what its author committed to, and every head held here beyond that).
        me = self.replica.me
        future = dict(self._frontiers.get(me, {}))
        for pk, (seq, _) in self.replica.frontier().items():
            future[pk] = max(seq, future.get(pk, 0))
        future[me] = self.replica.head(me) + 1
        list(self.objects._check(ops, Context(opcodec.SELF, me, future[me], 0, future)))
        assert self._append is not None
        self._append(payload)

    # --- entries from the log ----------------------------------------------------------

    def _delivered(self, entry: _lattice.Entry, replay: bool = False) -> None:
        mine = (
            self._scratch
            and entry.kind == _DATA
            and opcodec.doc_of(entry.payload) in (self.doc_id, None)
        )
        if not mine:
            change = self._deliver(entry, replay)
            self._follow(entry, change)
        else:
            # In the middle of a transaction: the entry goes into the texts as they were,
            # and the transaction's edits on top of them again.
            self._drop_scratch()
            try:
                change = self._deliver(entry, replay)
                self._follow(entry, change)
            finally:
                self._redo_scratch()
        if change is not None:  # observers see the texts as the user does
            self._notify(change)

    def _follow(self, entry: _lattice.Entry, change: Change | None) -> None:
        for follower in list(self.followers):
            follower(entry, change)

    def _deliver(self, entry: _lattice.Entry, replay: bool) -> Change | None:
        """Apply ``entry`` (or refuse it); the change it made, into the history."""
        author = entry.author
        frontier = self._frontiers.setdefault(author, {})
        for peer, (seq, _) in entry.deps.items():
            frontier[peer] = seq
        frontier[author] = entry.seq
        if entry.kind == _SNAPSHOT:
            self._genesis(entry, replay)
            return None
        if entry.kind != _DATA or not opcodec.is_batch(entry.payload):
            return None
        named = opcodec.doc_of(entry.payload)
        if named is not None and named != self.doc_id:
            # Another document's (malformed or not: that one judges it); remembered, so
            # an op here naming its elements is refused as a DocMismatch.
            self.objects.foreign[entry.id] = (author, entry.seq)
            return None
        try:
            batch = opcodec.decode(entry.payload)
        except DecodeError as exc:
            self._reject(entry, exc, replay)
            return None
        ctx = Context(entry.id, author, entry.seq, entry.lamport, dict(frontier))
        try:
            self.objects.apply(batch.ops, ctx)
        except InvalidOp as exc:
            self._reject(entry, exc, replay)
            return None
        change = Change(entry.id, author, entry.seq, entry.lamport, batch.ops)
        self._history.append(change)
        return change

    def _genesis(self, entry: _lattice.Entry, replay: bool) -> None:
        """A shallow log's synthetic genesis (DESIGN §8): entry 1 of a log whose swarm is
        this document's view carries its snapshot. Anywhere else a SNAPSHOT entry is not
        a document's."""
        shallow = self.replica is not None and self.replica.swarm_id == self.doc_id
        if not shallow or entry.seq != 1 or self.objects.entries:
            return
        try:
            plain = snapcodec.unpack(entry.payload)
            if snapcodec.view_of(plain) != self.doc_id:
                raise DecodeError("a snapshot of another view")
            self.objects.restore(plain)
        except DecodeError as exc:
            self._reject(entry, exc, replay)

    def _record(self, change: Change) -> None:
        """An applied transaction: into the history, and to the observers."""
        self._history.append(change)
        self._notify(change)

    def _notify(self, change: Change) -> None:
        for callback in list(self._observers):
            callback(change)

    # --- the owner's view of a deep log: audit trail, time travel -----------------------

    def history(self) -> list[Change]:
        """Every applied transaction, in delivery (causal) order: who, when, what."""
        return [self._change(i) for i in range(len(self._history))]

    def _change(self, i: int) -> Change:
        """History record ``i`` as a Change (a local edit's is rebuilt: its entry is its
        transaction number, an insert's op is the kernel's)."""
        record = self._history[i]
        if isinstance(record, Change):
            return record
        n = self._history_base + i + 1
        entry = n.to_bytes(32, "big")
        op: Op
        if isinstance(record, str):
            op = TextInsert(record, *self.objects.texts[record].insert_op(Element(entry, 0)))
        else:
            name, *flat = record
            runs = [(Element(flat[k], flat[k + 1]), flat[k + 2]) for k in range(0, len(flat), 3)]
            op = TextDelete(name, tuple(runs))
        return Change(entry, LOCAL_AUTHOR, n, n, (op,))

    def observe(self, callback: Callable[[Change], None]) -> Callable[[], None]:
        """Call ``callback`` with each transaction applied from now on (own and peers');
        returns a function that stops it."""
        self._observers.append(callback)
        return lambda: self._observers.remove(callback)

    def at(self, frontier: Mapping[bytes, int | tuple[int, bytes]]) -> Doc:
        """The document as it was at ``frontier`` (peer → seq, or a
        :meth:`~lattice.Replica.frontier`): a read-only copy rebuilt from the log."""
        if self.replica is None:
            raise InvalidArgument("time travel needs the log: a local document has none")
        seqs = {p: (s if isinstance(s, int) else s[0]) for p, s in frontier.items()}
        past = Doc(doc_id=self.doc_id)
        for entry in self.replica.iter_entries():
            if entry.seq <= seqs.get(entry.author, 0):
                past._delivered(entry, replay=True)
        past._read_only = True
        return past

    def _reject(self, entry: _lattice.Entry, exc: LatticeError, replay: bool) -> None:
        self.rejected.append((entry.id, exc))
        if not replay and self.replica is not None:
            self.replica.penalise(entry.author, entry.id)

    def close(self) -> None:
        """Stop following the replica."""
        if self.replica is not None and self._delivered in self.replica.delivery_listeners:
            self.replica.delivery_listeners.remove(self._delivered)
            self.replica.reset_listeners.remove(self._replay)

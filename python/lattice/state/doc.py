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
from lattice.state.crdt import Objects
from lattice.state.machine import Context
from lattice.state.ops import (
    MAX_TEXT_RUNS,
    RIGHT,
    SELF,
    Batch,
    CounterAdd,
    Element,
    MapDelete,
    MapSet,
    Op,
    RegisterSet,
    SetAdd,
    SetRemove,
    TextDelete,
    TextInsert,
    Value,
)
from lattice.state.text import Sequence, delete_ops

if TYPE_CHECKING:
    from lattice.replica import Replica

__all__ = ["LOCAL_AUTHOR", "Change", "Counter", "Doc", "Map", "Register", "Set", "Text"]

#: The author of a local document's transactions.
LOCAL_AUTHOR = bytes(_lattice.ID_LEN)
_DATA = int(Kind.DATA)
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
        self.objects = Objects()
        #: Entries whose ops were refused: (entry id, the reason), in delivery order.
        self.rejected: list[tuple[bytes, LatticeError]] = []
        # Each author's frontier after its latest entry: the fold of its deps (DESIGN §3).
        self._frontiers: dict[bytes, dict[bytes, int]] = {}
        self._pending: list[Op] | None = None
        # In a transaction: the op indexes taken so far, and the texts as its ops left them.
        self._width = 0
        self._scratch: dict[str, Sequence] = {}
        self._history: list[Change | tuple[bytes, Op]] = []
        self._observers: list[Callable[[Change], None]] = []
        self._read_only = False
        #: Set by an UndoManager (lattice.state.undo): told of this user's transactions.
        self._undo: UndoHook | None = None
        self._local_seq = 0
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
            pending.result()  # queued commits first: the store must hold everything
        self.objects, self.rejected, self._frontiers = Objects(), [], {}
        self._history = []
        for entry in self.replica.iter_entries():
            self._delivered(entry, replay=True)

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
        entries, in whatever causal order (rejections included)."""
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

        doc.objects = Objects.decode(data[at + 12 :], author_of)
        if any(seq > clock for _, seq in doc.objects.entries.values()):
            raise DecodeError("an element from after the document's clock")
        doc._local_seq = clock
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
            ops = tuple(self._pending)
        finally:
            self._pending = None
            self._width = 0
            # The texts go back as they were: the batch is applied as every replica does.
            for name, view in self._scratch.items():
                if self.objects.texts.get(name) is view:
                    view.rollback()
            self._scratch = {}
        if ops:
            self._commit(ops)

    def _op(self, op: Op) -> int:
        """Queue ``op`` (or commit it alone); returns its first op index in the entry."""
        if self._pending is not None:
            self._pending.append(op)
            here, self._width = self._width, self._width + opcodec.width(op)
            return here
        self._commit((op,))
        return 0

    def _text_view(self, name: str) -> Sequence:
        """Text ``name`` as the current transaction's ops leave it."""
        view = self._scratch.get(name)
        if view is None:
            # Edited in place and rolled back at the end (a text not there yet: a new one
            # that is simply dropped).
            view = self._scratch[name] = self.objects.text(name)
            view.mark()
        return view

    def _local_edit(self) -> bool:
        """Whether a text edit may take the local fast path: a local document, outside a
        transaction, with no undo manager to tell (the result is the same as the batch
        path's, byte for byte: tests/test_text.py)."""
        return self.replica is None and self._pending is None and self._undo is None

    def _local_text(self, name: str, edit: Callable[[Sequence, bytes], Op]) -> None:
        """One text edit of a local document as its own transaction, straight into the
        kernel: ``edit`` applies it to the text as entry ``entry`` and returns its op."""
        if self._read_only:
            raise InvalidArgument("a document at a past frontier is read-only")
        if name not in self._names:
            opcodec.check_name(name)
            self._names.add(name)
        seq = self.objects.texts.get(name)
        fresh = seq is None
        if seq is None:
            seq = Sequence()
        n = self._local_seq + 1
        entry = n.to_bytes(32, "big")
        op = edit(seq, entry)
        if fresh:
            self.objects.texts[name] = seq
        self._local_seq = n
        self.objects.entries[entry] = (LOCAL_AUTHOR, n)
        # Kept compact (one tuple, not a Change): a local document records every edit.
        self._history.append((entry, op))
        if self._observers:
            self._notify(Change(entry, LOCAL_AUTHOR, n, n, (op,)))

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
        author = entry.author
        frontier = self._frontiers.setdefault(author, {})
        for peer, (seq, _) in entry.deps.items():
            frontier[peer] = seq
        frontier[author] = entry.seq
        if entry.kind != _DATA or not opcodec.is_batch(entry.payload):
            return
        named = opcodec.doc_of(entry.payload)
        if named is not None and named != self.doc_id:
            return  # another document's (malformed or not: that one judges it)
        try:
            batch = opcodec.decode(entry.payload)
        except DecodeError as exc:
            self._reject(entry, exc, replay)
            return
        ctx = Context(entry.id, author, entry.seq, entry.lamport, dict(frontier))
        try:
            self.objects.apply(batch.ops, ctx)
        except InvalidOp as exc:
            self._reject(entry, exc, replay)
            return
        self._record(Change(entry.id, author, entry.seq, entry.lamport, batch.ops))

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
        out = []
        for record in self._history:
            if isinstance(record, Change):
                out.append(record)
            else:  # a local edit's (entry, op)
                entry, op = record
                n = int.from_bytes(entry, "big")
                out.append(Change(entry, LOCAL_AUTHOR, n, n, (op,)))
        return out

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


class _Handle:
    def __init__(self, doc: Doc, name: str) -> None:
        self.doc = doc
        self.name = name


class Map(_Handle):
    """An LWW map: the write with the highest ``(lamport, entry id, op index)`` wins."""

    def __setitem__(self, key: str, value: Value) -> None:
        self.doc._op(MapSet(self.name, key, value))

    def __delitem__(self, key: str) -> None:
        self.doc._op(MapDelete(self.name, key))

    def __getitem__(self, key: str) -> Value:
        return self.doc.objects.map(self.name)[key]

    def get(self, key: str, default: Value = None) -> Value:
        return self.doc.objects.map(self.name).get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self.doc.objects.map(self.name)

    def __len__(self) -> int:
        return len(self.doc.objects.map(self.name))

    def to_py(self) -> dict[str, Value]:
        return self.doc.objects.map(self.name)


class Register(_Handle):
    """An LWW register."""

    def set(self, value: Value) -> None:
        self.doc._op(RegisterSet(self.name, value))

    @property
    def value(self) -> Value:
        return self.doc.objects.register(self.name)


class Counter(_Handle):
    """A PN-counter of i64 increments."""

    def increment(self, delta: int = 1) -> None:
        self.doc._op(CounterAdd(self.name, delta))

    def decrement(self, delta: int = 1) -> None:
        self.doc._op(CounterAdd(self.name, -delta))

    @property
    def value(self) -> int:
        return self.doc.objects.counter(self.name)


class Set(_Handle):
    """An add-wins OR-set: a remove takes away the adds it has seen, not concurrent ones."""

    def add(self, value: Value) -> None:
        self.doc._op(SetAdd(self.name, value))

    def remove(self, value: Value) -> None:
        tags = self.doc.objects.tags_of(self.name, value)
        if not tags:
            raise InvalidArgument(f"{value!r} is not in the set {self.name!r}")
        self.doc._op(SetRemove(self.name, tags))

    def __contains__(self, value: object) -> bool:
        return self.doc.objects.has(self.name, value)  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[Value]:
        return iter(self.doc.objects.set(self.name))

    def __len__(self) -> int:
        return len(self.doc.objects.set(self.name))


class Text(_Handle):
    """A text (a Fugue sequence, :mod:`lattice.state.text`), indexed by code point.

    >>> doc = Doc()
    >>> t = doc.text("body")
    >>> with doc.transaction():
    ...     t.insert(0, "hello")
    ...     t.delete(1, 2)
    ...     t.insert(1, "ipp")
    >>> str(t), len(t), t[1:4]
    ('hipplo', 6, 'ipp')
    """

    def _view(self) -> Sequence:
        """The text as this moment's ops see it (in a transaction: as its ops left it)."""
        if self.doc._pending is None:
            return self.doc.objects.text(self.name)
        return self.doc._text_view(self.name)

    def insert(self, index: int, text: str) -> None:
        if not text:
            return
        if self.doc._local_edit():
            self.doc._local_text(
                self.name, lambda seq, entry: _typed(seq, entry, self.name, index, text)
            )
            return
        doc = self.doc
        if doc._pending is None:  # one op, its own transaction
            seq = doc.objects.text(self.name)
            if not 0 <= index <= len(seq):
                raise OutOfRange(f"insert at {index} of a text of {len(seq)}")
            parent, side = seq.place(index)
            doc._op(TextInsert(self.name, parent, side, text))
            return
        view = doc._text_view(self.name)
        if not 0 <= index <= len(view):
            raise OutOfRange(f"insert at {index} of a text of {len(view)}")
        here = doc._width
        parent, side = view.type_at(index, SELF, text, here)
        pending = doc._pending
        last = pending[-1] if pending else None
        if (
            isinstance(last, TextInsert)
            and last.name == self.name
            and side == RIGHT
            and parent == Element(SELF, here - 1)
        ):
            # Typing on from this transaction's last insert: one run, one op.
            pending[-1] = TextInsert(self.name, last.parent, last.side, last.text + text)
            doc._width = here + len(text)
        else:
            doc._op(TextInsert(self.name, parent, side, text))

    def delete(self, index: int, length: int = 1) -> None:
        if length <= 0:
            return
        doc = self.doc
        if doc._local_edit() and length <= MAX_TEXT_RUNS:
            doc._local_text(self.name, lambda seq, _: _erased(seq, self.name, index, length))
            return
        view = self._view()
        if not 0 <= index <= index + length <= len(view):
            raise OutOfRange(f"delete {index}:{index + length} of a text of {len(view)}")
        runs = view.visible_runs(index, index + length)
        ops = delete_ops(self.name, runs)
        pending = doc._pending
        if pending is None:
            with doc.transaction():
                for op in ops:
                    doc._op(op)
            return
        for first, count in runs:
            view.delete(first, count)
        last = pending[-1] if pending else None
        if (
            len(runs) == 1
            and isinstance(last, TextDelete)
            and last.name == self.name
            and len(last.runs) == 1
        ):
            # Backspacing or deleting forward on from the last delete: one run.
            ((f0, n0),), ((f1, n1),) = last.runs, runs
            if f0.entry == f1.entry and f1.index + n1 == f0.index:
                pending[-1] = TextDelete(self.name, ((f1, n0 + n1),))
                return
            if f0.entry == f1.entry and f0.index + n0 == f1.index:
                pending[-1] = TextDelete(self.name, ((f0, n0 + n1),))
                return
        for op in ops:
            doc._op(op)

    def cursor(self, index: int) -> Element | None:
        """A position that survives concurrent edits: the character at ``index`` (None:
        the end). :meth:`position` tells where it is now.

        >>> doc = Doc()
        >>> t = doc.text("t")
        >>> t.insert(0, "world")
        >>> c = t.cursor(0)
        >>> t.insert(0, "hello ")
        >>> t.position(c)
        6
        """
        seq = self.doc.objects.text(self.name)
        if not 0 <= index <= len(seq):
            raise OutOfRange(f"cursor at {index} of a text of {len(seq)}")
        return seq.element_at(index) if index < len(seq) else None

    def position(self, cursor: Element | None) -> int:
        """Where ``cursor`` is now (a deleted character's place: where the next one is)."""
        seq = self.doc.objects.text(self.name)
        if cursor is None:
            return len(seq)
        if cursor not in seq:
            raise InvalidArgument("not a cursor of this text")
        return seq.index_of(cursor)

    def provenance(self, index: int) -> tuple[bytes, int, bytes, int]:
        """Who typed the character at ``index``: ``(entry id, op index, author, seq)`` —
        the audit trail of one character (:meth:`Doc.history` has the entry's time)."""
        seq = self.doc.objects.text(self.name)
        if not 0 <= index < len(seq):
            raise OutOfRange(f"character {index} of a text of {len(seq)}")
        element = seq.element_at(index)
        author, at = self.doc.objects.entries[element.entry]
        return element.entry, element.index, author, at

    def splice(self, index: int, length: int, text: str) -> None:
        """Delete ``length`` characters at ``index`` and insert ``text`` there, as one."""
        with self.doc.transaction():
            self.delete(index, length)
            self.insert(index, text)

    def __str__(self) -> str:
        return str(self.doc.objects.text(self.name))

    def __len__(self) -> int:
        return len(self.doc.objects.text(self.name))

    def __getitem__(self, index: int | slice) -> str:
        seq = self.doc.objects.text(self.name)
        if isinstance(index, slice):
            start, stop, step = index.indices(len(seq))
            if step == 1:
                return seq.slice(start, max(start, stop))
            return str(seq)[index]
        at = index + len(seq) if index < 0 else index
        if not 0 <= at < len(seq):
            raise OutOfRange(f"character {index} of a text of {len(seq)}")
        return seq.slice(at, at + 1)

    def to_py(self) -> str:
        return str(self)


def _typed(seq: Sequence, entry: bytes, name: str, index: int, text: str) -> TextInsert:
    """Type ``text`` at ``index`` of ``seq`` as entry ``entry``'s op 0."""
    if not 0 <= index <= len(seq):
        raise OutOfRange(f"insert at {index} of a text of {len(seq)}")
    parent, side = seq.type_at(index, entry, text)
    return TextInsert(name, parent, side, text)


def _erased(seq: Sequence, name: str, index: int, length: int) -> TextDelete:
    """Delete ``length`` characters at ``index`` of ``seq`` (one op: at most
    ``MAX_TEXT_RUNS`` runs, else the batch path)."""
    if not 0 <= index <= index + length <= len(seq):
        raise OutOfRange(f"delete {index}:{index + length} of a text of {len(seq)}")
    runs = seq.visible_runs(index, index + length)
    (op,) = delete_ops(name, runs)
    for first, count in runs:
        seq.delete(first, count)
    return op

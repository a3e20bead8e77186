"""The built-in types of a document (DESIGN §9): LWW registers and maps, PN-counters and
OR-sets, as one :class:`~lattice.state.machine.StateMachine`.

Every identity comes from the log, never from the payload: an LWW write is stamped with its
entry's ``(lamport, entry id)`` and its op index; an OR-set tag is the element id of its add
(the entry id and the op's index). An object is named by its type and its name, so
``counter("x")`` and ``map("x")`` are two objects and no delivery order decides a type.

A batch is judged against its entry's causal past only, all ops or none: a set remove may
name only tags its causal past holds (added by an entry in it, or earlier in this batch),
and a counter must stay within i64 over the increments of its causal past (concurrent
increments may together pass it: the value is then the exact sum).

>>> from lattice.state.machine import Context
>>> from lattice.state.ops import CounterAdd, MapSet
>>> objects = Objects()
>>> me = bytes([1]) * 32
>>> ctx = Context(entry=bytes([9]) * 32, author=me, seq=1, lamport=1, frontier={me: 1})
>>> objects.apply((MapSet("meta", "title", "draft"), CounterAdd("likes", 2)), ctx)
>>> objects.to_py()
{'counter': {'likes': 2}, 'map': {'meta': {'title': 'draft'}}}
"""

from __future__ import annotations

import bisect
import builtins
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Self

from lattice import _lattice
from lattice.errors import (
    BadGuestOp,
    CounterOverflow,
    DecodeError,
    DocMismatch,
    NonCanonical,
    NotInCausalPast,
    OpOutOfRange,
    UnknownKind,
    WrongType,
)
from lattice.state.machine import Context
from lattice.state.ops import (
    SELF,
    CounterAdd,
    Element,
    GuestOp,
    MapDelete,
    MapSet,
    Op,
    RegisterSet,
    SetAdd,
    SetRemove,
    TextDelete,
    TextInsert,
    Value,
    _Reader,
    _value,
    width,
)
from lattice.state.text import Sequence

#: The author of a local document's transactions.
LOCAL_AUTHOR = bytes(_lattice.ID_LEN)
_LOCAL_PREFIX = bytes(_lattice.ID_LEN - 8)

__all__ = ["LOCAL_AUTHOR", "Objects", "Stamp"]

_I64_MIN, _I64_MAX = -(2**63), 2**63 - 1
#: An LWW write's place in time: the entry's lamport, its id, the op's index.
Stamp = tuple[int, bytes, int]
_DELETED = object()


@dataclass
class _Counter:
    total: int = 0
    # Per author: seqs ascending and the author's running sum after each.
    seqs: dict[bytes, list[int]] = field(default_factory=dict)
    sums: dict[bytes, list[int]] = field(default_factory=dict)

    def past(self, ctx: Context) -> int:
        """The counter as the causal past of ``ctx`` has it."""
        total = 0
        for author, seqs in self.seqs.items():
            i = bisect.bisect_right(seqs, ctx.frontier.get(author, 0))
            if i:
                total += self.sums[author][i - 1]
        return total


@dataclass
class _OrSet:
    # A value's canonical bytes -> the value and its live tags (1, 1.0 and True are three
    # values, 0.0 and -0.0 two: Python's equality would merge them by delivery order).
    live: dict[bytes, tuple[Value, set[Element]]] = field(default_factory=dict)


class Objects:
    """The registers, maps, counters and sets of one document."""

    def __init__(self) -> None:
        self.registers: dict[str, tuple[Value, Stamp]] = {}
        self.maps: dict[str, dict[str, tuple[object, Stamp]]] = {}
        self.counters: dict[str, _Counter] = {}
        self.sets: dict[str, _OrSet] = {}
        #: Every OR-set tag ever added: tag -> (set, value); with the entry it came from.
        self.tags: dict[Element, tuple[str, Value]] = {}
        #: Entries whose ops were applied: id -> (author, seq).
        self.entries: dict[bytes, tuple[bytes, int]] = {}
        #: Entries of other documents on the same log: id -> (author, seq). Not state (an
        #: op naming one of their elements is refused as a DocMismatch).
        self.foreign: dict[bytes, tuple[bytes, int]] = {}
        #: A local document's transaction count (None on a log): its entries are the
        #: numbers 1..local_clock as 32-byte ids, authored by LOCAL_AUTHOR.
        self.local_clock: int | None = None
        self.texts: dict[str, Sequence] = {}

    # --- applying ---------------------------------------------------------------------

    def apply(self, ops: tuple[Op, ...], ctx: Context) -> None:
        """Apply all of ``ops`` or, raising the reason, none of them."""
        changes = list(self._check(ops, ctx))
        self.entries[ctx.entry] = (ctx.author, ctx.seq)
        texts: dict[str, list[Any]] = {}
        for change in changes:
            if isinstance(change, _Insert | _Delete):
                texts.setdefault(change.name, []).append(change.op)
            else:
                change()
        # Each text's inserts and deletes in one kernel call (texts are independent).
        for name, batch in texts.items():
            self.texts.setdefault(name, Sequence()).apply(batch)

    def _known(
        self, tag: Element, ctx: Context, index: int, own: dict[Element, tuple[str, Value]]
    ) -> tuple[str, Value]:
        if tag.entry == SELF:
            found = own.get(tag)
            if found is None or tag.index >= index:
                raise NotInCausalPast(f"no add at index {tag.index} earlier in this entry")
            return found
        origin = self.origin(tag.entry)
        found = self.tags.get(tag)
        if origin is None:
            self._elsewhere(tag.entry, ctx)
        if origin is None or found is None:
            raise NotInCausalPast(f"tag {tag.entry[:4].hex()}…/{tag.index} was never added here")
        author, seq = origin
        if not ctx.knows(author, seq):
            raise NotInCausalPast(
                f"tag {tag.entry[:4].hex()}…/{tag.index} is not in the causal past of this entry"
            )
        return found

    def origin(self, entry: bytes) -> tuple[bytes, int] | None:
        """The (author, seq) of an applied entry (a local document's without a record)."""
        found = self.entries.get(entry)
        if found is None and self.local_clock is not None and entry[:24] == _LOCAL_PREFIX:
            n = int.from_bytes(entry, "big")
            if 0 < n <= self.local_clock:
                return LOCAL_AUTHOR, n
        return found

    def _elsewhere(self, entry: bytes, ctx: Context) -> None:
        """Raise DocMismatch if ``entry`` is another document's and in the causal past
        (so every replica has it, and says so alike)."""
        origin = self.foreign.get(entry)
        if origin is not None and ctx.knows(*origin):
            raise DocMismatch(f"entry {entry[:4].hex()}… is another document's")

    @staticmethod
    def _real(element: Element, ctx: Context) -> Element:
        return Element(ctx.entry, element.index) if element.entry == SELF else element

    def _char(
        self,
        name: str,
        first: Element,
        count: int,
        ctx: Context,
        here: int,
        own: dict[int, str],
    ) -> None:
        """Raise unless ``count`` characters from ``first`` are in text ``name`` and in the
        causal past (or typed into it earlier in this batch)."""
        if first.entry == SELF:
            if first.index + count > here:
                raise OpOutOfRange("a run past the characters typed so far in this entry")
            if any(own.get(first.index + k) != name for k in range(count)):
                raise NotInCausalPast(f"no characters of {name!r} at that index in this entry")
            return
        origin = self.origin(first.entry)
        if origin is None:
            self._elsewhere(first.entry, ctx)
        if origin is None or not ctx.knows(*origin):
            raise NotInCausalPast(
                f"entry {first.entry[:4].hex()}… is not in the causal past of this entry"
            )
        seq = self.texts.get(name)
        if seq is None or first not in seq:
            raise NotInCausalPast(f"{first.entry[:4].hex()}…/{first.index} is not in {name!r}")
        if count > 1 and not seq.contains_run(first, count):
            if Element(first.entry, first.index + count - 1) not in seq:
                raise OpOutOfRange(f"a run of {count} past what {first.entry[:4].hex()}… typed")
            raise NotInCausalPast(f"a run from {first.entry[:4].hex()}… that is not all text")

    def _check(self, ops: tuple[Op, ...], ctx: Context) -> Iterator[Any]:
        """Validate every op first (nothing changes if one fails), yielding the changes."""
        own_tags: dict[Element, tuple[str, Value]] = {}
        own_chars: dict[int, str] = {}  # index in this batch -> the text it was typed into
        counter_delta: dict[str, int] = {}
        changes: list[_Write | _Add | _Remove | _Increment | _Insert | _Delete] = []
        index = 0
        for op in ops:
            stamp: Stamp = (ctx.lamport, ctx.entry, index)
            here, index = index, index + width(op)
            match op:
                case RegisterSet(name, value):
                    changes.append(_Write(self.registers, name, value, stamp))
                case MapSet(name, key, value):
                    changes.append(_Write(self.maps, key, value, stamp, name))
                case MapDelete(name, key):
                    changes.append(_Write(self.maps, key, _DELETED, stamp, name))
                case CounterAdd(name, delta):
                    counter = self.counters.get(name) or _Counter()
                    running = counter.past(ctx) + counter_delta.get(name, 0) + delta
                    if not _I64_MIN <= running <= _I64_MAX:
                        raise CounterOverflow(
                            f"counter {name!r} would be {running}, outside the i64 range",
                            seq=ctx.seq,
                        )
                    counter_delta[name] = counter_delta.get(name, 0) + delta
                case SetAdd(name, value):
                    tag = Element(SELF, here)
                    own_tags[tag] = (name, value)
                    changes.append(_Add(self, name, value, Element(ctx.entry, here)))
                case TextInsert(name, parent, side, text):
                    if parent is not None:
                        self._char(name, parent, 1, ctx, here, own_chars)
                    own_chars.update(dict.fromkeys(range(here, index), name))
                    real = None if parent is None else self._real(parent, ctx)
                    changes.append(_Insert(name, (real, side, Element(ctx.entry, here), text)))
                case TextDelete(name, runs):
                    for first, count in runs:
                        self._char(name, first, count, ctx, here, own_chars)
                        changes.append(_Delete(name, (self._real(first, ctx), count)))
                case GuestOp(signed):
                    _check_guest_op(signed)
                case SetRemove(name, tags):
                    for tag in tags:
                        set_name, value = self._known(tag, ctx, here, own_tags)
                        if set_name != name:
                            raise WrongType(f"tag {tag.index} is an add of set {set_name!r}")
                        real = Element(ctx.entry, tag.index) if tag.entry == SELF else tag
                        changes.append(_Remove(self, name, value, real))
        for name, delta in counter_delta.items():
            changes.append(_Increment(self, name, ctx, delta))
        yield from changes

    # --- reading ---------------------------------------------------------------------

    def register(self, name: str) -> Value:
        return self.registers.get(name, (None, (0, b"", 0)))[0]

    def map(self, name: str) -> dict[str, Value]:
        return {
            k: v  # type: ignore[misc]
            for k, (v, _) in sorted(self.maps.get(name, {}).items())
            if v is not _DELETED
        }

    def counter(self, name: str) -> int:
        c = self.counters.get(name)
        return 0 if c is None else c.total

    def set(self, name: str) -> list[Value]:
        """The values in set ``name``, in the order of their canonical bytes."""
        s = self.sets.get(name)
        return [] if s is None else [v for _, (v, tags) in sorted(s.live.items()) if tags]

    def has(self, name: str, value: Value) -> bool:
        s = self.sets.get(name)
        return s is not None and bool(s.live.get(_key(value), (None, ()))[1])

    def live_tags(self, name: str) -> builtins.set[Element]:
        """Every live tag of set ``name``."""
        s = self.sets.get(name)
        return set() if s is None else {t for _, tags in s.live.values() for t in tags}

    def tags_of(self, name: str, value: Value) -> tuple[Element, ...]:
        """The live tags of ``value`` in set ``name`` (what a remove of it observes)."""
        s = self.sets.get(name)
        return tuple(sorted(s.live.get(_key(value), (None, set()))[1])) if s else ()

    def text(self, name: str) -> Sequence:
        # Not `or`: a text whose characters are all deleted is empty, and still this text.
        seq = self.texts.get(name)
        return Sequence() if seq is None else seq

    def to_py(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        if self.texts:
            out["text"] = {n: str(t) for n, t in sorted(self.texts.items())}
        if self.counters:
            out["counter"] = {n: c.total for n, c in sorted(self.counters.items())}
        if self.maps:
            out["map"] = {n: self.map(n) for n in sorted(self.maps)}
        if self.registers:
            out["register"] = {n: v for n, (v, _) in sorted(self.registers.items())}
        if self.sets:
            out["set"] = {n: self.set(n) for n in sorted(self.sets)}
        return out

    def encode(self) -> bytes:
        """Canonical bytes of the state: equal on replicas that applied the same entries."""
        out: list[bytes] = []

        def stamp(s: Stamp) -> bytes:
            return struct.pack(">Q", s[0]) + s[1].ljust(32, b"\0") + struct.pack(">I", s[2])

        def text(value: str) -> bytes:
            data = value.encode()
            return struct.pack(">I", len(data)) + data

        for name, (value, when) in sorted(self.registers.items()):
            out.append(b"R" + text(name))
            _value(out, value)
            out.append(stamp(when))
        for name, entries in sorted(self.maps.items()):
            for key, (held, when) in sorted(entries.items()):
                out.append(b"M" + text(name) + text(key))
                _value(out, None if held is _DELETED else held)  # type: ignore[arg-type]
                out.append((b"D" if held is _DELETED else b"V") + stamp(when))
        for name, c in sorted(self.counters.items()):
            records = sum(len(s) for s in c.seqs.values())
            out.append(b"C" + text(name) + text(str(c.total)) + struct.pack(">I", records))
            for author in sorted(c.seqs):
                for seq, total in zip(c.seqs[author], c.sums[author], strict=True):
                    out.append(author + struct.pack(">Q", seq) + text(str(total)))
        for name, orset in sorted(self.sets.items()):
            for canonical, (_, tags) in sorted(orset.live.items()):
                out.append(b"S" + text(name) + struct.pack(">I", len(tags)) + canonical)
                out += [t.entry + struct.pack(">I", t.index) for t in sorted(tags)]
        for name, sequence in sorted(self.texts.items()):
            out.append(b"T" + text(name) + struct.pack(">I", sequence.total))
            out.append(sequence.encode_nodes())
        return b"".join(out)

    @classmethod
    def decode(cls, data: bytes, author_of: Callable[[bytes], tuple[bytes, int]]) -> Self:
        """The objects :meth:`encode` wrote (``author_of`` names each entry's author and
        seq); a typed :class:`~lattice.errors.DecodeError` for anything else."""
        r = _Reader(data)
        objects = cls()

        def text() -> str:
            raw = r.take(r.u32("length"), "text")
            try:
                return raw.decode()
            except UnicodeDecodeError:
                raise NonCanonical("state text is not UTF-8") from None

        def stamp() -> Stamp:
            lamport = int(struct.unpack(">Q", r.take(8, "lamport"))[0])
            return lamport, r.take(32, "stamp entry"), r.u32("op index")

        def element() -> Element:
            return Element(r.take(32, "entry"), r.u32("index"))

        def number() -> int:
            try:
                return int(text())
            except ValueError:
                raise NonCanonical("a counter total is not a number") from None

        entries: set[bytes] = set()
        while r.pos < len(r.data):
            kind = r.take(1, "record")
            name = text()
            if kind == b"R":
                value = r.value()
                objects.registers[name] = (value, stamp())
            elif kind == b"M":
                key, value = text(), r.value()
                flag = r.take(1, "flag")
                if flag not in (b"D", b"V"):
                    raise NonCanonical("a map entry is D or V")
                held: object = _DELETED if flag == b"D" else value
                objects.maps.setdefault(name, {})[key] = (held, stamp())
            elif kind == b"C":
                c = objects.counters[name] = _Counter(total=number())
                for _ in range(r.u32("records")):
                    author = r.take(32, "author")
                    seq = int(struct.unpack(">Q", r.take(8, "seq"))[0])
                    c.seqs.setdefault(author, []).append(seq)
                    c.sums.setdefault(author, []).append(number())
            elif kind == b"S":
                count = r.u32("tags")
                value = r.value()
                tags = {element() for _ in range(count)}
                s = objects.sets.setdefault(name, _OrSet())
                s.live[_key(value)] = (value, tags)
                for tag in tags:
                    objects.tags[tag] = (name, value)
                    entries.add(tag.entry)
            elif kind == b"T":
                nodes = []
                count = r.u32("nodes")
                start = r.pos
                for _ in range(count):
                    e = element()
                    deleted = r.take(1, "deleted") == b"\x01"
                    char = text()
                    parent = element() if r.u8("parent flag") else None
                    nodes.append((e, char, parent, r.u8("side"), deleted))
                    entries.add(e.entry)
                sequence = objects.texts[name] = Sequence.from_nodes(nodes)
                # One encoding: the nodes in the tree's own order, each flag 0 or 1.
                if sequence.encode_nodes() != bytes(r.data[start : r.pos]):
                    raise NonCanonical(f"the nodes of text {name!r} are not in text order")
            else:
                raise UnknownKind(f"unknown state record {kind!r}")
        for entry in entries:
            objects.entries[entry] = author_of(entry)
        return objects


def _check_guest_op(signed: bytes) -> None:
    """Raise BadGuestOp unless ``signed`` is a client op whose signature verifies (the
    same answer on every replica: decoding and ZIP-215 are deterministic)."""
    try:
        op = _lattice.ClientOp.from_bytes(signed)
    except DecodeError as exc:
        raise BadGuestOp(f"the guest op does not decode: {exc}") from None
    if not op.verify():
        raise BadGuestOp("the guest op's signature does not verify")


def _key(value: Value) -> bytes:
    """A value's canonical bytes (its op-batch encoding): what a set tells values apart by."""
    out: list[bytes] = []
    _value(out, value)
    return b"".join(out)


@dataclass
class _Write:
    table: dict[str, Any]
    key: str
    value: object
    stamp: Stamp
    #: For a map: its name in ``table`` (created only once a write is applied).
    map_name: str | None = None

    def __call__(self) -> None:
        table = self.table if self.map_name is None else self.table.setdefault(self.map_name, {})
        old = table.get(self.key)
        if old is None or old[1] < self.stamp:
            table[self.key] = (self.value, self.stamp)


@dataclass
class _Add:
    objects: Objects
    name: str
    value: Value
    tag: Element

    def __call__(self) -> None:
        self.objects.tags[self.tag] = (self.name, self.value)
        s = self.objects.sets.setdefault(self.name, _OrSet())
        s.live.setdefault(_key(self.value), (self.value, set()))[1].add(self.tag)


@dataclass
class _Remove:
    objects: Objects
    name: str
    value: Value
    tag: Element

    def __call__(self) -> None:
        s = self.objects.sets.setdefault(self.name, _OrSet())
        s.live.get(_key(self.value), (None, set()))[1].discard(self.tag)


@dataclass
class _Insert:
    name: str
    op: tuple[Element | None, int, Element, str]  # parent, side, first, text


@dataclass
class _Delete:
    name: str
    op: tuple[Element, int]  # first, count


@dataclass
class _Increment:
    objects: Objects
    name: str
    ctx: Context
    delta: int

    def __call__(self) -> None:
        c = self.objects.counters.setdefault(self.name, _Counter())
        seqs = c.seqs.setdefault(self.ctx.author, [])
        sums = c.sums.setdefault(self.ctx.author, [])
        seqs.append(self.ctx.seq)
        sums.append((sums[-1] if sums else 0) + self.delta)
        c.total += self.delta

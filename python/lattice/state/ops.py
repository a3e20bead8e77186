"""The op batch: what one transaction of a document puts in one DATA entry (DESIGN §9).

One codec, strict both ways. A batch names its document and carries ops in order; every
length and count is bounded, and decoding refuses truncation, trailing bytes, unknown
versions and op types, and non-canonical values with typed
:class:`~lattice.errors.DecodeError`\\ s. A batch is compact: its object names and the
entry ids its elements name are listed once each, up front, and referred to by number;
numbers are varints. The layout is in docs/format.md ("Document op batch")::

    batch   = "LDOC" ‖ version u8 (2) ‖ doc_len u8 ‖ doc ‖ names ‖ entries ‖ count ‖ op*
    op      = type u8 ‖ name (its number in names) ‖ fields
    element = ref (0: this batch's own entry, k: entries[k-1]) ‖ index

>>> batch = Batch(b"notes", (MapSet("meta", "title", "draft"), CounterAdd("likes", 3)))
>>> decode(encode(batch)) == batch
True
>>> is_batch(encode(batch)), is_batch(b"an opaque payload")
(True, False)
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from enum import IntEnum

from lattice import _lattice
from lattice.errors import (
    DecodeError,
    InvalidArgument,
    LimitExceeded,
    NonCanonical,
    UnknownKind,
    UnknownVersion,
)
from lattice.reader import Reader

__all__ = [
    "LEFT",
    "MAGIC",
    "MAX_DOC_ID_LEN",
    "MAX_ENTRIES",
    "MAX_NAMES",
    "MAX_NAME_LEN",
    "MAX_OPS",
    "MAX_SET_REMOVE_TAGS",
    "MAX_TEXT_RUNS",
    "RIGHT",
    "SELF",
    "VERSION",
    "Batch",
    "CounterAdd",
    "Element",
    "GuestOp",
    "MapDelete",
    "MapSet",
    "Op",
    "OpType",
    "RegisterSet",
    "SetAdd",
    "SetRemove",
    "TextDelete",
    "TextInsert",
    "Value",
    "check_name",
    "decode",
    "doc_of",
    "encode",
    "is_batch",
    "width",
]

#: The first bytes of every op batch: a payload without them is not a document's.
MAGIC = b"LDOC"
VERSION = 2
#: Bounds (the whole batch must also fit in one entry's payload, 1 MiB).
MAX_DOC_ID_LEN = 64
MAX_NAME_LEN = 255
MAX_OPS = 1 << 20
MAX_SET_REMOVE_TAGS = 65535
#: The most names (object names and map keys) and entry ids one batch lists.
MAX_NAMES = 1 << 16
MAX_ENTRIES = 1 << 16
#: The entry id an element of the batch's own entry is named by (its id is not known
#: until the entry is signed).
SELF = bytes(_lattice.ID_LEN)
_I64 = (-(2**63), 2**63 - 1)
#: Op indexes are u32: an element's index is below this, a run ends at it at most.
_INDEXES = 2**32

#: A value in a register, a map or a set.
Value = None | bool | int | float | str | bytes


@dataclass(frozen=True, order=True, slots=True)
class Element:
    """An element id (DESIGN §9): the entry that created it and the op's index there."""

    entry: bytes
    index: int


class OpType(IntEnum):
    REGISTER_SET = 1
    MAP_SET = 2
    MAP_DELETE = 3
    COUNTER_ADD = 4
    SET_ADD = 5
    SET_REMOVE = 6
    TEXT_INSERT = 7
    TEXT_DELETE = 8
    GUEST_OP = 9


@dataclass(frozen=True, slots=True)
class RegisterSet:
    """Set the LWW register ``name``."""

    name: str
    value: Value


@dataclass(frozen=True, slots=True)
class MapSet:
    """Set ``key`` of the LWW map ``name``."""

    name: str
    key: str
    value: Value


@dataclass(frozen=True, slots=True)
class MapDelete:
    """Delete ``key`` of the LWW map ``name`` (a later set brings it back)."""

    name: str
    key: str


@dataclass(frozen=True, slots=True)
class CounterAdd:
    """Add ``delta`` (an i64) to the PN-counter ``name``."""

    name: str
    delta: int


@dataclass(frozen=True, slots=True)
class SetAdd:
    """Add ``value`` to the OR-set ``name``; the op's element id is its tag."""

    name: str
    value: Value


@dataclass(frozen=True, slots=True)
class SetRemove:
    """Remove from the OR-set ``name`` the adds whose tags are listed (those observed)."""

    name: str
    tags: tuple[Element, ...]


@dataclass(frozen=True, slots=True)
class TextInsert:
    """Insert ``text`` into the sequence ``name`` as a run: its first character a child of
    ``parent`` (``None``: the root) on ``side`` (``LEFT`` or ``RIGHT``), each next one the
    right child of the one before (DESIGN §9; docs/format.md "Text"). A run of n
    characters takes n op indexes: character k is element ``(entry, index + k)``."""

    name: str
    parent: Element | None
    side: int
    text: str


@dataclass(frozen=True, slots=True)
class TextDelete:
    """Delete the elements of ``runs`` — (first element, count) each, consecutive indexes
    of one entry — from the sequence ``name``."""

    name: str
    runs: tuple[tuple[Element, int], ...]


@dataclass(frozen=True, slots=True)
class GuestOp:
    """The signed guest op (a client op in a view, DESIGN §8) that the ops before it in
    this batch carry out on the deep log, for accountability: no state of its own. A
    replica applies the batch only if it decodes and its signature verifies."""

    op: bytes


#: Sides of a text element's parent.
LEFT, RIGHT = 0, 1
#: Bounds of one text op.
MAX_TEXT_RUNS = 65535

Op = (
    RegisterSet
    | MapSet
    | MapDelete
    | CounterAdd
    | SetAdd
    | SetRemove
    | TextInsert
    | TextDelete
    | GuestOp
)


def width(op: Op) -> int:
    """How many op indexes ``op`` takes in its entry: a run insert one per character."""
    return len(op.text) if isinstance(op, TextInsert) else 1


@dataclass(frozen=True, slots=True)
class Batch:
    """A transaction's ops for the document ``doc``."""

    doc: bytes
    ops: tuple[Op, ...]


class _ValueTag(IntEnum):
    NONE = 0
    FALSE = 1
    TRUE = 2
    INT = 3
    FLOAT = 4
    STR = 5
    BYTES = 6


def _uvar(n: int) -> bytes:
    """``n`` (≥ 0) as an unsigned LEB128 varint, minimal."""
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _svar(n: int) -> bytes:
    """An i64 as a zigzag varint (small magnitudes, either sign, in few bytes)."""
    return _uvar((n << 1) ^ (n >> 63))


def _value(out: list[bytes], v: Value) -> None:
    if v is None:
        out.append(bytes([_ValueTag.NONE]))
    elif v is True or v is False:
        out.append(bytes([_ValueTag.TRUE if v else _ValueTag.FALSE]))
    elif isinstance(v, int):
        if not _I64[0] <= v <= _I64[1]:
            raise LimitExceeded(f"integer {v} is outside the i64 range")
        out.append(bytes([_ValueTag.INT]) + _svar(v))
    elif isinstance(v, float):
        if math.isnan(v):
            raise NonCanonical("NaN is not a value (it equals nothing, itself included)")
        out.append(bytes([_ValueTag.FLOAT]) + struct.pack(">d", v))
    elif isinstance(v, str):
        data = _utf8(v, "a string value")
        out.append(bytes([_ValueTag.STR]) + _uvar(len(data)) + data)
    elif isinstance(v, bytes | bytearray | memoryview):
        data = bytes(v)
        out.append(bytes([_ValueTag.BYTES]) + _uvar(len(data)) + data)
    else:
        raise DecodeError(f"not a document value: {type(v).__name__}")


def _utf8(text: str, what: str) -> bytes:
    try:
        return text.encode()
    except UnicodeEncodeError:
        raise InvalidArgument(f"{what} must be encodable as UTF-8 (no lone surrogates)") from None


def _name_bytes(name: str, what: str = "name") -> bytes:
    if not isinstance(name, str):
        raise InvalidArgument(f"a {what} is a str, not {type(name).__name__}")
    try:
        data = name.encode()
    except UnicodeEncodeError:
        raise InvalidArgument(f"a {what} must be encodable as UTF-8") from None
    if len(data) > MAX_NAME_LEN:
        raise LimitExceeded(f"{what} of {len(data)} bytes (limit {MAX_NAME_LEN})")
    return data


def check_name(name: str) -> None:
    """Raise unless ``name`` can name an object in a batch (a str of at most
    ``MAX_NAME_LEN`` UTF-8 bytes)."""
    _name_bytes(name)


class _Tables:
    """A batch's names and entry ids, numbered in order of first use."""

    def __init__(self) -> None:
        self.names: dict[str, int] = {}
        self.entries: dict[bytes, int] = {}

    def name(self, name: str, what: str = "name") -> bytes:
        at = self.names.get(name)
        if at is None:
            _name_bytes(name, what)
            at = self.names[name] = len(self.names)
        return _uvar(at)

    def element(self, e: Element) -> bytes:
        if not isinstance(e, Element) or len(e.entry) != len(SELF) or not 0 <= e.index < 2**32:
            raise InvalidArgument(f"an element is a 32-byte entry id and a u32 index, not {e!r}")
        if e.entry == SELF:
            return b"\x00" + _uvar(e.index)
        at = self.entries.get(e.entry)
        if at is None:
            at = self.entries[e.entry] = len(self.entries)
        return _uvar(at + 1) + _uvar(e.index)


def encode(batch: Batch) -> bytes:
    """The canonical bytes of ``batch``."""
    if len(batch.doc) > MAX_DOC_ID_LEN:
        raise LimitExceeded(f"doc id of {len(batch.doc)} bytes (limit {MAX_DOC_ID_LEN})")
    if len(batch.ops) > MAX_OPS:
        raise LimitExceeded(f"{len(batch.ops)} ops in one batch (limit {MAX_OPS})")
    t = _Tables()
    out: list[bytes] = []
    for op in batch.ops:
        match op:
            case RegisterSet(name, value):
                out += [bytes([OpType.REGISTER_SET]), t.name(name)]
                _value(out, value)
            case MapSet(name, key, value):
                out += [bytes([OpType.MAP_SET]), t.name(name), t.name(key, "map key")]
                _value(out, value)
            case MapDelete(name, key):
                out += [bytes([OpType.MAP_DELETE]), t.name(name), t.name(key, "map key")]
            case CounterAdd(name, delta):
                if not _I64[0] <= delta <= _I64[1]:
                    raise LimitExceeded(f"counter delta {delta} is outside the i64 range")
                out += [bytes([OpType.COUNTER_ADD]), t.name(name), _svar(delta)]
            case SetAdd(name, value):
                out += [bytes([OpType.SET_ADD]), t.name(name)]
                _value(out, value)
            case SetRemove(name, tags):
                if len(tags) > MAX_SET_REMOVE_TAGS:
                    raise LimitExceeded(f"{len(tags)} tags in one remove")
                if list(tags) != sorted(set(tags)):
                    raise NonCanonical("a remove lists its tags once each, in ascending order")
                out += [bytes([OpType.SET_REMOVE]), t.name(name), _uvar(len(tags))]
                out += [t.element(tag) for tag in tags]
            case TextInsert(name, parent, side, text):
                if side not in (LEFT, RIGHT) or not text:
                    raise NonCanonical("a text insert has a side and at least one character")
                if parent is None and side != RIGHT:
                    raise NonCanonical("a child of the root is on its right")
                data = _utf8(text, "inserted text")
                out += [bytes([OpType.TEXT_INSERT]), t.name(name)]
                if parent is None:
                    out.append(bytes([side]))
                else:
                    out += [bytes([2 | side]), t.element(parent)]
                out += [_uvar(len(data)), data]
            case TextDelete(name, runs):
                if not runs or len(runs) > MAX_TEXT_RUNS or any(n < 1 for _, n in runs):
                    raise NonCanonical("a text delete has 1 to 65535 runs of at least one")
                if any(e.index + n > _INDEXES for e, n in runs):
                    raise NonCanonical("a run past the last op index an entry can have")
                out += [bytes([OpType.TEXT_DELETE]), t.name(name), _uvar(len(runs))]
                out += [t.element(e) + _uvar(n) for e, n in runs]
            case GuestOp(signed):
                if not isinstance(signed, bytes) or len(signed) > _lattice.MAX_PAYLOAD_LEN:
                    raise LimitExceeded("a guest op is bytes within one entry's payload")
                out += [bytes([OpType.GUEST_OP]), _uvar(len(signed)), signed]
            case _:
                raise DecodeError(f"not an op: {op!r}")
    if len(t.names) > MAX_NAMES or len(t.entries) > MAX_ENTRIES:
        raise LimitExceeded(f"{len(t.names)} names and {len(t.entries)} entries in one batch")
    head = [MAGIC, bytes([VERSION, len(batch.doc)]), batch.doc, _uvar(len(t.names))]
    head += [bytes([len(n)]) + n for n in (k.encode() for k in t.names)]
    head += [_uvar(len(t.entries)), *t.entries, _uvar(len(batch.ops))]
    return b"".join(head + out)


def doc_of(payload: bytes) -> bytes | None:
    """The doc id a batch's header names, if the header is readable (the rest may not be).
    The header up to the doc id is the same in every version, so a document can tell
    another's batch from its own whatever version it is in."""
    start = len(MAGIC) + 2
    if payload[: len(MAGIC)] != MAGIC or len(payload) < start:
        return None
    size = payload[len(MAGIC) + 1]
    return payload[start : start + size] if len(payload) >= start + size else None


def is_batch(payload: bytes) -> bool:
    """Whether a payload claims to be an op batch (it may still fail to decode)."""
    return payload[: len(MAGIC)] == MAGIC


class _Reader(Reader):
    """The shared byte reader, with the batch's varints, tables and values."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.names: list[str] = []
        self.entries: list[bytes] = []
        self.names_used = 0  # names and entries are numbered in order of first use
        self.entries_used = 0

    def uvar(self, what: str, limit: int = 2**64 - 1) -> int:
        """A minimal unsigned LEB128 varint of at most ``limit``."""
        n = shift = 0
        while True:
            byte = self.u8(what)
            n |= (byte & 0x7F) << shift
            if byte < 0x80:
                if byte == 0 and shift:
                    raise NonCanonical(f"{what}: a varint with a trailing zero byte")
                break
            shift += 7
            if shift > 63:
                raise NonCanonical(f"{what}: a varint longer than 64 bits")
        if n > limit:
            raise LimitExceeded(f"{what}: {n} (limit {limit})")
        return n

    def svar(self, what: str) -> int:
        z = self.uvar(what)
        return (z >> 1) ^ -(z & 1)

    def name(self, what: str = "name") -> str:
        at = self.uvar(what, len(self.names))
        if at > self.names_used or at == len(self.names):
            raise NonCanonical(f"{what}: names are numbered in order of first use")
        self.names_used += at == self.names_used
        return self.names[at]

    def element(self, what: str) -> Element:
        ref = self.uvar(f"{what} entry", len(self.entries))
        if ref == 0:
            return Element(SELF, self.uvar(f"{what} index", 2**32 - 1))
        if ref > self.entries_used + 1:
            raise NonCanonical(f"{what}: entries are numbered in order of first use")
        self.entries_used += ref == self.entries_used + 1
        return Element(self.entries[ref - 1], self.uvar(f"{what} index", 2**32 - 1))

    def utf8(self, raw: bytes, what: str) -> str:
        try:
            return raw.decode()
        except UnicodeDecodeError:
            raise NonCanonical(f"{what} is not UTF-8") from None

    def value(self) -> Value:
        tag = self.u8("value tag")
        if tag == _ValueTag.NONE:
            return None
        if tag in (_ValueTag.FALSE, _ValueTag.TRUE):
            return tag == _ValueTag.TRUE
        if tag == _ValueTag.INT:
            v = self.svar("integer")
            if not _I64[0] <= v <= _I64[1]:
                raise NonCanonical("an integer outside the i64 range")
            return v
        if tag == _ValueTag.FLOAT:
            f = float(struct.unpack(">d", self.take(8, "float"))[0])
            if math.isnan(f):
                raise NonCanonical("NaN is not a value")
            return f
        if tag in (_ValueTag.STR, _ValueTag.BYTES):
            raw = self.take(self.uvar("value length", len(self.data)), "value")
            return raw if tag == _ValueTag.BYTES else self.utf8(raw, "a string value")
        raise UnknownKind(f"unknown value tag {tag}")

    def tables(self) -> None:
        for _ in range(self.uvar("name count", MAX_NAMES)):
            self.names.append(self.utf8(self.take(self.u8("name length"), "name"), "a name"))
        for _ in range(self.uvar("entry count", MAX_ENTRIES)):
            entry = self.take(32, "entry id")
            if entry == SELF:
                raise NonCanonical("the batch's own entry is ref 0, never listed")
            self.entries.append(entry)
        if len(set(self.names)) != len(self.names) or len(set(self.entries)) != len(self.entries):
            raise NonCanonical("a batch lists each name and each entry once")


def decode(payload: bytes) -> Batch:
    """The batch in ``payload``; a typed :class:`~lattice.errors.DecodeError` if it is not
    exactly one."""
    r = _Reader(payload)
    if r.take(len(MAGIC), "magic") != MAGIC:
        raise DecodeError("not a document op batch")
    version = r.u8("version")
    if version != VERSION:
        raise UnknownVersion(f"op batch version {version}")
    doc = r.take(r.u8("doc id length"), "doc id")
    if len(doc) > MAX_DOC_ID_LEN:
        raise LimitExceeded(f"doc id of {len(doc)} bytes (limit {MAX_DOC_ID_LEN})")
    r.tables()
    count = r.uvar("op count", MAX_OPS)
    ops: list[Op] = []
    for _ in range(count):
        kind = r.u8("op type")
        try:
            op_type = OpType(kind)
        except ValueError:
            raise UnknownKind(f"unknown op type {kind}") from None
        if op_type == OpType.GUEST_OP:  # the one op without a name
            ops.append(GuestOp(r.take(r.uvar("guest op length", len(r.data)), "guest op")))
            continue
        name = r.name()
        if op_type == OpType.REGISTER_SET:
            ops.append(RegisterSet(name, r.value()))
        elif op_type == OpType.MAP_SET:
            ops.append(MapSet(name, r.name("map key"), r.value()))
        elif op_type == OpType.MAP_DELETE:
            ops.append(MapDelete(name, r.name("map key")))
        elif op_type == OpType.COUNTER_ADD:
            delta = r.svar("delta")
            if not _I64[0] <= delta <= _I64[1]:
                raise NonCanonical("a counter delta outside the i64 range")
            ops.append(CounterAdd(name, delta))
        elif op_type == OpType.SET_ADD:
            ops.append(SetAdd(name, r.value()))
        elif op_type == OpType.TEXT_INSERT:
            place = r.u8("place")
            if place not in (1, 2, 3):
                raise NonCanonical(
                    "a text insert's place is 2 · has_parent + side (a root child: 1)"
                )
            parent = r.element("parent") if place & 2 else None
            text = r.utf8(r.take(r.uvar("text length", len(r.data)), "text"), "inserted text")
            if not text:
                raise NonCanonical("a text insert has at least one character")
            ops.append(TextInsert(name, parent, place & 1, text))
        elif op_type == OpType.TEXT_DELETE:
            n = r.uvar("run count", MAX_TEXT_RUNS)
            runs = tuple((r.element("run"), r.uvar("run length", 2**32 - 1)) for _ in range(n))
            if not runs or any(k < 1 for _, k in runs):
                raise NonCanonical("a text delete has 1 to 65535 runs of at least one")
            if any(e.index + k > _INDEXES for e, k in runs):
                raise NonCanonical("a run past the last op index an entry can have")
            ops.append(TextDelete(name, runs))
        else:
            n = r.uvar("tag count", MAX_SET_REMOVE_TAGS)
            tags = tuple(r.element("tag") for _ in range(n))
            if list(tags) != sorted(set(tags)):
                raise NonCanonical("a remove lists its tags once each, in ascending order")
            ops.append(SetRemove(name, tags))
    r.finish("the last op")
    if r.names_used != len(r.names) or r.entries_used != len(r.entries):
        raise NonCanonical("a batch lists only the names and entries its ops use")
    return Batch(doc, tuple(ops))

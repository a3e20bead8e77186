"""The op batch: what one transaction of a document puts in one DATA entry (DESIGN §9).

One codec, strict both ways. A batch names its document and carries ops in order; every
length and count is bounded, and decoding refuses truncation, trailing bytes, unknown
versions and op types, and non-canonical values with typed
:class:`~lattice.errors.DecodeError`\\ s. The layout is in docs/format.md ("Document op
batch")::

    batch   = magic "LDOC" ‖ version u8 (1) ‖ doc_len u8 ‖ doc ‖ count u32 ‖ op*
    op      = type u8 ‖ name_len u8 ‖ name ‖ fields
    element = entry [32] ‖ index u32        (entry all zero: this batch's own entry)

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
    TrailingBytes,
    Truncated,
    UnknownKind,
    UnknownVersion,
)

__all__ = [
    "LEFT",
    "MAGIC",
    "MAX_DOC_ID_LEN",
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
VERSION = 1
#: Bounds (the whole batch must also fit in one entry's payload, 1 MiB).
MAX_DOC_ID_LEN = 64
MAX_NAME_LEN = 255
MAX_OPS = 1 << 20
MAX_SET_REMOVE_TAGS = 65535
#: The entry id an element of the batch's own entry is named by (its id is not known
#: until the entry is signed).
SELF = bytes(_lattice.ID_LEN)
_I64 = (-(2**63), 2**63 - 1)

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


#: Sides of a text element's parent.
LEFT, RIGHT = 0, 1
#: Bounds of one text op.
MAX_TEXT_RUNS = 65535

Op = RegisterSet | MapSet | MapDelete | CounterAdd | SetAdd | SetRemove | TextInsert | TextDelete


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


def _value(out: list[bytes], v: Value) -> None:
    if v is None:
        out.append(bytes([_ValueTag.NONE]))
    elif v is True or v is False:
        out.append(bytes([_ValueTag.TRUE if v else _ValueTag.FALSE]))
    elif isinstance(v, int):
        if not _I64[0] <= v <= _I64[1]:
            raise LimitExceeded(f"integer {v} is outside the i64 range")
        out.append(bytes([_ValueTag.INT]) + struct.pack(">q", v))
    elif isinstance(v, float):
        if math.isnan(v):
            raise NonCanonical("NaN is not a value (it equals nothing, itself included)")
        out.append(bytes([_ValueTag.FLOAT]) + struct.pack(">d", v))
    elif isinstance(v, str):
        data = v.encode()
        out.append(bytes([_ValueTag.STR]) + struct.pack(">I", len(data)) + data)
    elif isinstance(v, bytes | bytearray | memoryview):
        data = bytes(v)
        out.append(bytes([_ValueTag.BYTES]) + struct.pack(">I", len(data)) + data)
    else:
        raise DecodeError(f"not a document value: {type(v).__name__}")


def _element(e: Element) -> bytes:
    if not isinstance(e, Element) or len(e.entry) != len(SELF) or not 0 <= e.index < 2**32:
        raise InvalidArgument(f"an element is a 32-byte entry id and a u32 index, not {e!r}")
    return e.entry + struct.pack(">I", e.index)


def _name(out: list[bytes], name: str, what: str = "name") -> None:
    if not isinstance(name, str):
        raise InvalidArgument(f"a {what} is a str, not {type(name).__name__}")
    try:
        data = name.encode()
    except UnicodeEncodeError:
        raise InvalidArgument(f"a {what} must be encodable as UTF-8") from None
    if len(data) > MAX_NAME_LEN:
        raise LimitExceeded(f"{what} of {len(data)} bytes (limit {MAX_NAME_LEN})")
    out.append(bytes([len(data)]) + data)


def check_name(name: str) -> None:
    """Raise unless ``name`` can name an object in a batch (a str of at most
    ``MAX_NAME_LEN`` UTF-8 bytes)."""
    _name([], name)


def encode(batch: Batch) -> bytes:
    """The canonical bytes of ``batch``."""
    if len(batch.doc) > MAX_DOC_ID_LEN:
        raise LimitExceeded(f"doc id of {len(batch.doc)} bytes (limit {MAX_DOC_ID_LEN})")
    if len(batch.ops) > MAX_OPS:
        raise LimitExceeded(f"{len(batch.ops)} ops in one batch (limit {MAX_OPS})")
    out = [MAGIC, bytes([VERSION, len(batch.doc)]), batch.doc, struct.pack(">I", len(batch.ops))]
    for op in batch.ops:
        match op:
            case RegisterSet(name, value):
                out.append(bytes([OpType.REGISTER_SET]))
                _name(out, name)
                _value(out, value)
            case MapSet(name, key, value):
                out.append(bytes([OpType.MAP_SET]))
                _name(out, name)
                _name(out, key, "map key")
                _value(out, value)
            case MapDelete(name, key):
                out.append(bytes([OpType.MAP_DELETE]))
                _name(out, name)
                _name(out, key, "map key")
            case CounterAdd(name, delta):
                if not _I64[0] <= delta <= _I64[1]:
                    raise LimitExceeded(f"counter delta {delta} is outside the i64 range")
                out.append(bytes([OpType.COUNTER_ADD]))
                _name(out, name)
                out.append(struct.pack(">q", delta))
            case SetAdd(name, value):
                out.append(bytes([OpType.SET_ADD]))
                _name(out, name)
                _value(out, value)
            case SetRemove(name, tags):
                if len(tags) > MAX_SET_REMOVE_TAGS:
                    raise LimitExceeded(f"{len(tags)} tags in one remove")
                if list(tags) != sorted(set(tags)):
                    raise NonCanonical("a remove lists its tags once each, in ascending order")
                out.append(bytes([OpType.SET_REMOVE]))
                _name(out, name)
                out.append(struct.pack(">H", len(tags)))
                out += [_element(t) for t in tags]
            case TextInsert(name, parent, side, text):
                if side not in (LEFT, RIGHT) or not text:
                    raise NonCanonical("a text insert has a side and at least one character")
                data = text.encode()
                out.append(bytes([OpType.TEXT_INSERT]))
                _name(out, name)
                if parent is None:
                    out.append(bytes([0, side]))
                else:
                    out.append(bytes([1]) + _element(parent) + bytes([side]))
                out.append(struct.pack(">I", len(data)) + data)
            case TextDelete(name, runs):
                if not runs or len(runs) > MAX_TEXT_RUNS or any(n < 1 for _, n in runs):
                    raise NonCanonical("a text delete has 1 to 65535 runs of at least one")
                out.append(bytes([OpType.TEXT_DELETE]))
                _name(out, name)
                out.append(struct.pack(">H", len(runs)))
                out += [_element(e) + struct.pack(">I", n) for e, n in runs]
            case _:
                raise DecodeError(f"not an op: {op!r}")
    return b"".join(out)


def doc_of(payload: bytes) -> bytes | None:
    """The doc id a batch's header names, if the header is readable (the rest may not be)."""
    if len(payload) < len(MAGIC) + 2 or payload[len(MAGIC)] != VERSION:
        return None
    size = payload[len(MAGIC) + 1]
    start = len(MAGIC) + 2
    return payload[start : start + size] if len(payload) >= start + size else None


def is_batch(payload: bytes) -> bool:
    """Whether a payload claims to be an op batch (it may still fail to decode)."""
    return payload[: len(MAGIC)] == MAGIC


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = memoryview(data)
        self.pos = 0

    def take(self, n: int, what: str) -> bytes:
        if self.pos + n > len(self.data):
            raise Truncated(
                f"{what}: need {n} bytes at {self.pos}, have {len(self.data) - self.pos}"
            )
        out = bytes(self.data[self.pos : self.pos + n])
        self.pos += n
        return out

    def u8(self, what: str) -> int:
        return self.take(1, what)[0]

    def u32(self, what: str) -> int:
        return int(struct.unpack(">I", self.take(4, what))[0])

    def name(self, what: str = "name") -> str:
        raw = self.take(self.u8(f"{what} length"), what)
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
            return int(struct.unpack(">q", self.take(8, "integer"))[0])
        if tag == _ValueTag.FLOAT:
            f = float(struct.unpack(">d", self.take(8, "float"))[0])
            if math.isnan(f):
                raise NonCanonical("NaN is not a value")
            return f
        if tag in (_ValueTag.STR, _ValueTag.BYTES):
            raw = self.take(self.u32("value length"), "value")
            if tag == _ValueTag.BYTES:
                return raw
            try:
                return raw.decode()
            except UnicodeDecodeError:
                raise NonCanonical("a string value is not UTF-8") from None
        raise UnknownKind(f"unknown value tag {tag}")


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
    count = r.u32("op count")
    if count > MAX_OPS:
        raise LimitExceeded(f"{count} ops (limit {MAX_OPS})")
    ops: list[Op] = []
    for _ in range(count):
        kind = r.u8("op type")
        try:
            op_type = OpType(kind)
        except ValueError:
            raise UnknownKind(f"unknown op type {kind}") from None
        name = r.name()
        if op_type == OpType.REGISTER_SET:
            ops.append(RegisterSet(name, r.value()))
        elif op_type == OpType.MAP_SET:
            ops.append(MapSet(name, r.name("map key"), r.value()))
        elif op_type == OpType.MAP_DELETE:
            ops.append(MapDelete(name, r.name("map key")))
        elif op_type == OpType.COUNTER_ADD:
            ops.append(CounterAdd(name, int(struct.unpack(">q", r.take(8, "delta"))[0])))
        elif op_type == OpType.SET_ADD:
            ops.append(SetAdd(name, r.value()))
        elif op_type == OpType.TEXT_INSERT:
            has_parent = r.u8("parent flag")
            if has_parent > 1:
                raise NonCanonical("the parent flag is 0 or 1")
            parent = (
                Element(r.take(32, "parent entry"), r.u32("parent index")) if has_parent else None
            )
            side = r.u8("side")
            raw = r.take(r.u32("text length"), "text")
            try:
                text = raw.decode()
            except UnicodeDecodeError:
                raise NonCanonical("inserted text is not UTF-8") from None
            if side not in (LEFT, RIGHT) or not text:
                raise NonCanonical("a text insert has a side and at least one character")
            ops.append(TextInsert(name, parent, side, text))
        elif op_type == OpType.TEXT_DELETE:
            (n,) = struct.unpack(">H", r.take(2, "run count"))
            runs = tuple(
                (Element(r.take(32, "run entry"), r.u32("run index")), r.u32("run length"))
                for _ in range(n)
            )
            if not runs or any(k < 1 for _, k in runs):
                raise NonCanonical("a text delete has 1 to 65535 runs of at least one")
            ops.append(TextDelete(name, runs))
        else:
            (n,) = struct.unpack(">H", r.take(2, "tag count"))
            tags = tuple(Element(r.take(32, "tag entry"), r.u32("tag index")) for _ in range(n))
            if list(tags) != sorted(set(tags)):
                raise NonCanonical("a remove lists its tags once each, in ascending order")
            ops.append(SetRemove(name, tags))
    if r.pos != len(r.data):
        raise TrailingBytes(f"{len(r.data) - r.pos} bytes after the last op")
    return Batch(doc, tuple(ops))

"""Collapsed snapshots (DESIGN §8): a document's visible state, and nothing of its past.

A snapshot holds what a reader of the document sees, in a canonical order, and nothing of
how it came to be: no author, key, signature, lamport, seq, time, entry id or op count, no
deleted content, no object that shows nothing. Its live elements (text characters and
set members) are named by **view ids** ``(view, index)``, numbered consecutively in the
snapshot's order, so a whole text is one run. Its bytes are a function of the visible
state and the view id alone: two documents that show the same give the same snapshot for
one view (the history-independence test, ``tests/test_snapshot.py``), and two views of one
document share no id bytes. The layout is in docs/format.md ("Collapsed snapshot")::

    snapshot = "LSNP" ‖ version u8 (1) ‖ view [32] ‖ count ‖ object*
    object   = type u8 ‖ name_len u8 ‖ name ‖ body      (ascending by type, then name)

What goes to a guest is the snapshot deflated (:func:`pack`): text compresses well, and a
guest unpacks it within a hard bound (:func:`unpack`).

>>> from lattice.state import Doc
>>> doc = Doc()
>>> doc.text("body").insert(0, "hello world")
>>> doc.text("body").delete(5, 6)
>>> snap = collapse(doc.objects, bytes(32)).snapshot
>>> restored = restore(unpack(pack(snap)))
>>> str(restored.texts["body"]), restored.texts["body"].visible_runs(0, 5)[0][1]
('hello', 5)
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from lattice.errors import DecodeError, LimitExceeded, NonCanonical, UnknownKind, UnknownVersion
from lattice.state.crdt import Objects, _Counter, _key, _OrSet
from lattice.state.ops import RIGHT, Element, _Reader, _uvar, _value
from lattice.state.text import Sequence

__all__ = [
    "MAGIC",
    "MAX_SNAPSHOT_LEN",
    "PACKED_MAGIC",
    "VERSION",
    "Collapsed",
    "ObjectType",
    "collapse",
    "pack",
    "restore",
    "unpack",
    "view_of",
]

MAGIC = b"LSNP"
#: A snapshot deflated for the wire (what a shallow log's SNAPSHOT entry carries).
PACKED_MAGIC = b"LSNZ"
VERSION = 1
#: The largest snapshot a guest unpacks (a deflate bomb stops here).
MAX_SNAPSHOT_LEN = 64 << 20
_DEFLATE_LEVEL = 9
_RAW_DEFLATE = -15  # zlib window bits for a raw deflate stream: no header to fingerprint
_I64 = (-(2**63), 2**63 - 1)
#: The stamp of a value the snapshot brings: before every write of the shallow log.
_BEFORE_ALL = 0


class ObjectType(IntEnum):
    """Object records of a snapshot, in their canonical order."""

    TEXT = 1
    MAP = 2
    REGISTER = 3
    COUNTER = 4
    SET = 5


@dataclass
class Collapsed:
    """A collapse: the snapshot, and (for the owner only) where each view id came from."""

    snapshot: bytes
    #: Text characters: (first view index, first deep element, count): consecutive on both sides.
    runs: list[tuple[int, Element, int]] = field(default_factory=list)
    #: Set members: (view index, the deep tags that hold the member).
    tags: list[tuple[int, tuple[Element, ...]]] = field(default_factory=list)


def _zigzag(n: int) -> bytes:
    return _uvar((n << 1) ^ (n >> 63))


def _name(out: list[bytes], name: str) -> None:
    data = name.encode()
    out.append(bytes([len(data)]) + data)


def collapse(objects: Objects, view: bytes) -> Collapsed:
    """The visible state of ``objects`` as a snapshot in ``view`` (32 bytes)."""
    if len(view) != 32:
        raise DecodeError(f"a view id is 32 bytes, not {len(view)}")
    result = Collapsed(b"")
    # (type, name, body): each object that shows something, with what it shows.
    pieces: list[tuple[int, str, Any]] = []
    for name, seq in objects.texts.items():
        if len(seq):
            pieces.append((ObjectType.TEXT, name, seq))
    for name in objects.maps:
        shown = objects.map(name)
        if shown:
            pieces.append((ObjectType.MAP, name, shown))
    for name, (value, _) in objects.registers.items():
        if value is not None:
            pieces.append((ObjectType.REGISTER, name, value))
    for name, counter in objects.counters.items():
        if counter.total:
            if not _I64[0] <= counter.total <= _I64[1]:
                raise LimitExceeded(f"counter {name!r} is beyond i64: it cannot be handed over")
            pieces.append((ObjectType.COUNTER, name, counter.total))
    for name, orset in objects.sets.items():
        members = sorted((k, v, tags) for k, (v, tags) in orset.live.items() if tags)
        if members:
            pieces.append((ObjectType.SET, name, members))
    pieces.sort(key=lambda p: (p[0], p[1].encode()))
    index = 0
    out: list[bytes] = [MAGIC, bytes([VERSION]), view, _uvar(len(pieces))]
    for kind, name, body in pieces:
        out.append(bytes([kind]))
        _name(out, name)
        if kind == ObjectType.TEXT:
            data = str(body).encode()
            out += [_uvar(len(data)), data]
            for first, count in body.visible_runs(0, len(body)):
                result.runs.append((index, first, count))
                index += count
        elif kind == ObjectType.MAP:
            keys = sorted(body, key=str.encode)
            out.append(_uvar(len(keys)))
            for key in keys:
                _name(out, key)
                _value(out, body[key])
        elif kind == ObjectType.REGISTER:
            _value(out, body)
        elif kind == ObjectType.COUNTER:
            out.append(_zigzag(body))
        else:
            out.append(_uvar(len(body)))
            for _, value, tags in body:
                _value(out, value)
                result.tags.append((index, tuple(sorted(tags))))
                index += 1
    if index >= 2**32:
        raise LimitExceeded("more live elements than a view's u32 indexes")
    result.snapshot = b"".join(out)
    return result


def view_of(snapshot: bytes) -> bytes:
    """The view a snapshot names (its header only is read)."""
    if snapshot[: len(MAGIC)] != MAGIC or len(snapshot) < len(MAGIC) + 33:
        raise DecodeError("not a collapsed snapshot")
    return snapshot[len(MAGIC) + 1 : len(MAGIC) + 33]


def restore(snapshot: bytes) -> Objects:
    """The objects a snapshot shows, their live elements named by view id; a typed
    :class:`~lattice.errors.DecodeError` for anything but one canonical snapshot."""
    r = _Reader(snapshot)
    if r.take(len(MAGIC), "magic") != MAGIC:
        raise DecodeError("not a collapsed snapshot")
    version = r.u8("version")
    if version != VERSION:
        raise UnknownVersion(f"snapshot version {version}")
    view = r.take(32, "view")
    objects = Objects()
    # The snapshot's elements come from the view itself, at seq 0 of no one: every entry
    # after it has them in its causal past.
    objects.entries[view] = (view, 0)
    stamp = (_BEFORE_ALL, view, 0)
    index = 0
    last: tuple[int, bytes] | None = None
    for _ in range(r.uvar("object count", len(snapshot))):
        kind = r.u8("object type")
        if kind not in ObjectType.__members__.values():
            raise UnknownKind(f"unknown snapshot object type {kind}")
        raw = r.take(r.u8("name length"), "name")
        name = r.utf8(raw, "a name")
        if last is not None and (kind, raw) <= last:
            raise NonCanonical("snapshot objects are listed once each, by type, then name")
        last = (kind, raw)
        if kind == ObjectType.TEXT:
            text = r.utf8(r.take(r.uvar("text length", len(snapshot)), "text"), "text")
            if not text:
                raise NonCanonical("a snapshot lists no empty text")
            seq = objects.texts[name] = Sequence()
            seq.insert(None, RIGHT, Element(view, index), text)
            index += len(text)
        elif kind == ObjectType.MAP:
            entries: dict[str, tuple[object, tuple[int, bytes, int]]] = {}
            previous = None
            count = r.uvar("key count", len(snapshot))
            if not count:
                raise NonCanonical("a snapshot lists no empty map")
            for _ in range(count):
                key_raw = r.take(r.u8("key length"), "key")
                if previous is not None and key_raw <= previous:
                    raise NonCanonical("a snapshot map's keys ascend, once each")
                previous = key_raw
                entries[r.utf8(key_raw, "a key")] = (r.value(), stamp)
            objects.maps[name] = entries
        elif kind == ObjectType.REGISTER:
            value = r.value()
            if value is None:
                raise NonCanonical("a snapshot lists no unset register")
            objects.registers[name] = (value, stamp)
        elif kind == ObjectType.COUNTER:
            total = r.svar("counter")
            if total == 0 or not _I64[0] <= total <= _I64[1]:
                raise NonCanonical("a snapshot counter is a non-zero i64")
            objects.counters[name] = _Counter(total, {view: [0]}, {view: [total]})
        else:
            count = r.uvar("member count", len(snapshot))
            if not count:
                raise NonCanonical("a snapshot lists no empty set")
            orset = objects.sets[name] = _OrSet()
            previous = None
            for _ in range(count):
                value = r.value()
                canonical = _key(value)
                if previous is not None and canonical <= previous:
                    raise NonCanonical("a snapshot set's members ascend, once each")
                previous = canonical
                tag = Element(view, index)
                orset.live[canonical] = (value, {tag})
                objects.tags[tag] = (name, value)
                index += 1
        if index >= 2**32:
            raise LimitExceeded("more live elements than a view's u32 indexes")
    r.finish("the last object")
    return objects


def pack(snapshot: bytes) -> bytes:
    """The snapshot as a guest receives it: a raw deflate stream behind ``LSNZ``."""
    c = zlib.compressobj(_DEFLATE_LEVEL, zlib.DEFLATED, _RAW_DEFLATE)
    return PACKED_MAGIC + c.compress(snapshot) + c.flush()


def unpack(payload: bytes) -> bytes:
    """The snapshot in ``payload`` (packed or not), inflated at most to
    ``MAX_SNAPSHOT_LEN``; a typed :class:`~lattice.errors.DecodeError` otherwise."""
    if payload[: len(MAGIC)] == MAGIC:
        return bytes(payload)
    if payload[: len(PACKED_MAGIC)] != PACKED_MAGIC:
        raise DecodeError("not a snapshot, packed or plain")
    d = zlib.decompressobj(_RAW_DEFLATE)
    try:
        out = d.decompress(payload[len(PACKED_MAGIC) :], MAX_SNAPSHOT_LEN)
    except zlib.error as exc:
        raise DecodeError(f"a packed snapshot that does not inflate: {exc}") from None
    if d.unconsumed_tail:
        raise LimitExceeded(f"a snapshot above {MAX_SNAPSHOT_LEN} bytes")
    if not d.eof or d.unused_data:
        raise DecodeError("a packed snapshot cut short, or with bytes after its stream")
    return out

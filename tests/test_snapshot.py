"""Collapsed snapshots (issue 12, DESIGN §8): the visible state only, history independent,
unlinkable across views, and a strict decoder."""

from __future__ import annotations

import contextlib
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lattice
from lattice import errors
from lattice.state import Doc
from lattice.state import snapshot as snap
from lattice.state.builtin import Builtins

VIEW = bytes(range(32))
OTHER_VIEW = bytes(range(32, 64))


def _sync(*reps: lattice.Replica) -> None:
    for a in reps:
        for b in reps:
            if a is not b:
                b.receive(a.entries())


def _random_history(seed: int, n_authors: int = 3, rounds: int = 6) -> Doc:
    """A document built by several authors, concurrently, with deletions and overwrites."""
    rng = random.Random(seed)
    ids = [lattice.Identity.generate() for _ in range(n_authors)]
    peers = [i.public_key for i in ids]
    reps = [lattice.Replica(i, peers=peers) for i in ids]
    docs = [Doc(r, b"d") for r in reps]
    for _ in range(rounds):
        for doc in docs:
            with doc.transaction():
                t = doc.text("body")
                for _ in range(rng.randint(1, 4)):
                    if len(t) and rng.random() < 0.4:
                        at = rng.randrange(len(t))
                        t.delete(at, rng.randint(1, min(5, len(t) - at)))
                    else:
                        t.insert(rng.randint(0, len(t)), rng.choice(["ab", "xyz", "é", "🙂q"]))
                doc.map("meta")[rng.choice("kl")] = rng.choice([1, "v", None, 2.5, b"\x00"])
                if rng.random() < 0.3:
                    del doc.map("meta")[rng.choice("kl")]
                doc.counter("c").increment(rng.randint(-3, 3))
                s = doc.set("tags")
                if len(s) and rng.random() < 0.4:
                    s.remove(rng.choice(list(s)))
                else:
                    s.add(rng.choice(["a", "b", 3, True]))
                doc.register("r").set(rng.choice(["x", None, 7]))
        _sync(*reps)
    assert len({d.encode() for d in docs}) == 1
    return docs[0]


def _straight(doc: Doc) -> Doc:
    """The same visible state, written by one author in one go (no deletions, no history)."""
    me = lattice.Identity.generate()
    clean = Doc(lattice.Replica(me, peers=[me.public_key]), b"other")
    py = doc.to_py()
    with clean.transaction():
        for name, value in py.get("text", {}).items():
            if value:
                clean.text(name).insert(0, value)
        for name, value in py.get("map", {}).items():
            for k in sorted(value, reverse=True):
                clean.map(name)[k] = value[k]
        for name, total in py.get("counter", {}).items():
            if total:
                clean.counter(name).increment(total)
        for name, values in py.get("set", {}).items():
            for v in values:
                clean.set(name).add(v)
        for name, value in py.get("register", {}).items():
            if value is not None:
                clean.register(name).set(value)
    return clean


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32))
def test_same_visible_state_same_snapshot_bytes(seed: int) -> None:
    deep = _random_history(seed)
    clean = _straight(deep)
    a = snap.collapse(deep.objects, VIEW).snapshot
    b = snap.collapse(clean.objects, VIEW).snapshot
    assert a == b
    # And nothing of either history is in it: no author key, no entry id.
    for rep in (deep.replica, clean.replica):
        assert rep is not None
        for entry in rep.entries():
            assert entry.id not in a and entry.author not in a


def test_two_histories_of_one_text_one_snapshot() -> None:
    typed = Doc()
    typed.text("t").insert(0, "hello world")
    edited = Doc()
    t = edited.text("t")
    t.insert(0, "a secret: world")
    t.delete(0, 10)
    t.insert(0, "hello ")
    t.insert(5, "XX")
    t.delete(5, 2)
    assert str(t) == str(typed.text("t"))
    assert (
        snap.collapse(typed.objects, VIEW).snapshot == snap.collapse(edited.objects, VIEW).snapshot
    )


def test_views_are_unlinkable() -> None:
    doc = _random_history(7)
    me = lattice.Identity.generate().public_key
    s1, v1 = doc.collapse(me)
    s2, v2 = doc.collapse(me)
    assert v1 != v2
    assert v1 not in s2 and v2 not in s1
    # The two differ in the view field only: the rest is the visible state.
    assert s1[:5] + s1[37:] == s2[:5] + s2[37:]
    # No 8-byte window of one view id shows up in the other snapshot.
    assert not any(v1[i : i + 8] in s2 for i in range(25))


def test_whole_text_is_one_run_of_view_ids() -> None:
    doc = Doc()
    t = doc.text("t")
    for i, ch in enumerate("interleaved typing"):
        t.insert(i, ch)
    t.delete(3, 4)
    collapsed = snap.collapse(doc.objects, VIEW)
    restored = snap.restore(collapsed.snapshot)
    seq = restored.texts["t"]
    assert seq.visible_runs(0, len(seq)) == [(lattice.state.ops.Element(VIEW, 0), len(seq))]
    # The owner's side: the deep runs behind it, consecutive on both sides.
    assert sum(n for _, _, n in collapsed.runs) == len(seq)


def test_every_type_round_trips() -> None:
    doc = _random_history(11)
    guest = Doc.from_snapshot(snap.pack(doc.collapse(bytes(32))[0]))
    py, want = guest.to_py(), doc.to_py()
    assert py.get("text", {}) == {k: v for k, v in want.get("text", {}).items() if v}
    assert py.get("map", {}) == {k: v for k, v in want.get("map", {}).items() if v}
    assert py.get("counter", {}) == {k: v for k, v in want.get("counter", {}).items() if v}
    assert py.get("set", {}) == {k: v for k, v in want.get("set", {}).items() if v}
    # A restored document goes on: a guest may edit it as a local document.
    guest.text("body").insert(0, "x")
    guest.counter("c").increment()
    assert str(guest.text("body")).startswith("x")


def test_machine_protocol() -> None:
    machine = Builtins()
    doc = _random_history(3)
    data = doc.objects.collapse(VIEW)
    machine.restore(data)
    assert machine.collapse(VIEW) == data
    assert machine.query(("counter", "c")) == doc.counter("c").value
    with pytest.raises(errors.InvalidArgument):
        machine.query("everything")


def test_packed_snapshot_is_deflated_and_bounded() -> None:
    doc = Doc()
    doc.text("t").insert(0, "abc " * 5000)
    plain = doc.collapse(bytes(32))[0]
    packed = snap.pack(plain)
    assert len(packed) < len(plain) // 10
    assert snap.unpack(packed) == plain
    with pytest.raises(errors.DecodeError):
        snap.unpack(packed[:-3])
    with pytest.raises(errors.DecodeError):
        snap.unpack(packed + b"x")
    with pytest.raises(errors.DecodeError):
        snap.unpack(b"LSNZ" + b"\xff" * 40)
    import zlib

    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    bomb = b"LSNZ" + c.compress(b"LSNP" + bytes(snap.MAX_SNAPSHOT_LEN + 10)) + c.flush()
    with pytest.raises(errors.LimitExceeded):
        snap.unpack(bomb)


def _objects_record(kind: int, name: bytes, body: bytes) -> bytes:
    return bytes([kind, len(name)]) + name + body


@pytest.mark.parametrize(
    ("records", "error"),
    [
        ([_objects_record(1, b"t", b"\x00")], errors.NonCanonical),  # an empty text
        (
            [_objects_record(1, b"b", b"\x01b"), _objects_record(1, b"a", b"\x01a")],
            errors.NonCanonical,
        ),
        (
            [_objects_record(1, b"a", b"\x01a"), _objects_record(1, b"a", b"\x01a")],
            errors.NonCanonical,
        ),
        ([_objects_record(3, b"r", b"\x00")], errors.NonCanonical),  # an unset register
        ([_objects_record(4, b"c", b"\x00")], errors.NonCanonical),  # a zero counter
        ([_objects_record(2, b"m", b"\x02\x01b\x00\x01a\x00")], errors.NonCanonical),
        ([_objects_record(5, b"s", b"\x02\x05\x01b\x05\x01a")], errors.NonCanonical),
        ([_objects_record(9, b"x", b"")], errors.UnknownKind),
        ([_objects_record(1, b"t", b"\x05ab")], errors.Truncated),
    ],
)
def test_decoder_refuses_what_is_not_canonical(records: list[bytes], error: type) -> None:
    data = b"LSNP\x01" + VIEW + bytes([len(records)]) + b"".join(records)
    with pytest.raises(error):
        snap.restore(data)


def test_decoder_refuses_trailing_bytes_and_versions() -> None:
    good = Doc()
    good.text("t").insert(0, "x")
    data = good.collapse(bytes(32))[0]
    snap.restore(data)
    with pytest.raises(errors.TrailingBytes):
        snap.restore(data + b"\x00")
    with pytest.raises(errors.UnknownVersion):
        snap.restore(data[:4] + b"\x02" + data[5:])


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_decoder_never_crashes(data: bytes) -> None:
    for candidate in (data, b"LSNP\x01" + VIEW + data, b"LSNZ" + data):
        with contextlib.suppress(errors.DecodeError):
            snap.restore(snap.unpack(candidate))

"""Documents over the log (DESIGN §9, issue 11, first part): the op codec is strict, states
converge whatever the causal delivery order, and invalid ops are refused from the causal
past alone — identically on every replica, all or nothing, with a penalty."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lattice
from lattice.errors import (
    CounterOverflow,
    DecodeError,
    DocMismatch,
    InvalidArgument,
    NonCanonical,
    NotInCausalPast,
    OpOutOfRange,
    TrailingBytes,
    Truncated,
    UnknownKind,
    UnknownVersion,
    WrongType,
)
from lattice.state import Doc
from lattice.state import ops as codec
from lattice.state.ops import (
    RIGHT,
    Batch,
    CounterAdd,
    Element,
    MapDelete,
    MapSet,
    RegisterSet,
    SetAdd,
    SetRemove,
    TextDelete,
    TextInsert,
)

DOC = b"doc"
ALL_OPS = Batch(
    DOC,
    (
        RegisterSet("r", None),
        RegisterSet("r", 2.5),
        MapSet("m", "k", "text"),
        MapSet("m", "b", b"\x00\x01"),
        MapDelete("m", "k"),
        CounterAdd("c", -(2**63)),
        SetAdd("s", True),
        SetRemove("s", (Element(bytes(32), 0), Element(bytes([1]) * 32, 7))),
    ),
)


def swarm(n: int) -> list[lattice.Replica]:
    ids = [lattice.Identity.from_seed(bytes([i + 1]) * 32) for i in range(n)]
    return [lattice.Replica(i, peers=[j.public_key for j in ids]) for i in ids]


def exchange(reps: list[lattice.Replica], rng: random.Random) -> None:
    """Everyone gets everything, in a random order with duplicates."""
    everything = [e.to_bytes() for r in reps for e in r.entries()]
    for r in reps:
        items = everything + rng.sample(everything, k=len(everything) // 3)
        rng.shuffle(items)
        for i in range(0, len(items), 3):
            r.receive(items[i : i + 3])


# --- the codec ------------------------------------------------------------------------


def test_every_op_round_trips_and_every_cut_is_refused() -> None:
    data = codec.encode(ALL_OPS)
    assert codec.decode(data) == ALL_OPS
    for cut in range(len(data)):
        with pytest.raises(DecodeError):
            codec.decode(data[:cut])
    with pytest.raises(TrailingBytes):
        codec.decode(data + b"\x00")
    with pytest.raises(UnknownVersion):
        codec.decode(codec.MAGIC + b"\x01" + data[5:])
    # No names, no entries, one op of type 99.
    unknown_op = codec.MAGIC + b"\x02\x03doc" + b"\x00\x00\x01" + b"\x63\x00"
    with pytest.raises(UnknownKind, match="op type 99"):
        codec.decode(unknown_op)


def test_names_and_entries_are_listed_once_in_order_of_first_use() -> None:
    e1, e2 = Element(b"\x01" * 32, 7), Element(b"\x02" * 32, 300)
    batch = Batch(DOC, (TextDelete("t", ((e2, 1), (e1, 2), (e2, 1))), MapSet("m", "t", 1)))
    data = codec.encode(batch)
    assert codec.decode(data) == batch
    assert data.count(e1.entry) == data.count(e2.entry) == 1 and data.count(b"\x01t") == 1
    assert data.index(e2.entry) < data.index(e1.entry)
    # One delete of (e2, 7) then (e1, 7); its entries listed in the order of first use
    # (e2 first) is its encoding; listed e1 first, with the refs to match, is refused.
    head = codec.MAGIC + b"\x02\x03doc" + b"\x01\x01t" + b"\x02"
    ops = b"\x01" + b"\x08\x00\x02"
    one = Batch(DOC, (TextDelete("t", ((Element(e2.entry, 7), 1), (Element(e1.entry, 7), 1))),))
    assert codec.encode(one) == head + e2.entry + e1.entry + ops + b"\x01\x07\x01\x02\x07\x01"
    with pytest.raises(NonCanonical):
        codec.decode(head + e1.entry + e2.entry + ops + b"\x02\x07\x01\x01\x07\x01")
    with pytest.raises(NonCanonical):  # a varint with a needless zero byte
        codec.decode(codec.MAGIC + b"\x02\x03doc" + b"\x80\x00\x00\x00")


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0), st.integers(min_value=0, max_value=255))
def test_a_mutated_batch_is_refused_or_another_valid_batch(position: int, byte: int) -> None:
    data = bytearray(codec.encode(ALL_OPS))
    data[position % len(data)] = byte
    try:
        batch = codec.decode(bytes(data))
    except DecodeError:
        return
    assert codec.encode(batch) == bytes(data), "decoding is canonical: one batch, one encoding"


# --- convergence -------------------------------------------------------------------------


_op = st.one_of(
    st.tuples(st.just("map"), st.sampled_from("ab"), st.integers(-3, 3)),
    st.tuples(st.just("del"), st.sampled_from("ab"), st.none()),
    st.tuples(st.just("reg"), st.none(), st.text(max_size=3)),
    st.tuples(st.just("count"), st.none(), st.integers(-5, 5)),
    # 1, 1.0 and True are three values, 0.0 and -0.0 two: never merged by Python equality.
    st.tuples(st.just("add"), st.none(), st.sampled_from(["x", 1, 1.0, True, 0.0, -0.0])),
    st.tuples(st.just("remove"), st.none(), st.sampled_from(["x", 1, 1.0, True, 0.0, -0.0])),
    st.tuples(st.just("type"), st.none(), st.tuples(st.integers(0, 40), st.text("ab", min_size=1))),
    st.tuples(st.just("cut"), st.none(), st.tuples(st.integers(0, 40), st.integers(1, 3))),
)


def _do(doc: Doc, op: tuple[str, str | None, object]) -> None:
    kind, key, value = op
    if kind == "map":
        doc.map("m")[key] = value  # type: ignore[index,assignment]
    elif kind == "del":
        del doc.map("m")[key]  # type: ignore[arg-type]
    elif kind == "reg":
        doc.register("r").set(value)  # type: ignore[arg-type]
    elif kind == "count":
        doc.counter("c").increment(value)  # type: ignore[arg-type]
    elif kind == "add":
        doc.set("s").add(value)  # type: ignore[arg-type]
    elif kind in ("type", "cut"):
        at, arg = value  # type: ignore[misc]
        size = len(doc._text_view("t"))  # as this transaction's ops left the text
        if kind == "type":
            doc.text("t").insert(at % (size + 1), arg)
        elif size:
            doc.text("t").delete(at % size, min(arg, size - at % size))
    elif value in doc.set("s"):
        doc.set("s").remove(value)  # type: ignore[arg-type]


@settings(max_examples=40, deadline=None)
@given(
    st.integers(3, 5),
    st.lists(st.tuples(st.integers(0, 4), st.lists(_op, min_size=1, max_size=3)), max_size=14),
    st.integers(0, 2**32),
)
def test_replicas_converge_whatever_the_delivery_order(n: int, steps: list, seed: int) -> None:  # type: ignore[type-arg]
    converge(n, steps, seed, _do, sync=0.3)


def converge(
    n: int,
    steps: list[tuple[int, list[Any]]],
    seed: int,
    edit: Callable[[Doc, Any], None],
    sync: float,
) -> list[Doc]:
    """``n`` replicas; each step is one transaction of replica ``who % n`` doing ``edit``
    for each of its items, with partial syncs in between (real concurrency); then everyone
    gets everything, in a random order with duplicates. All must hold the same state."""
    rng = random.Random(seed)
    reps = swarm(n)
    docs = [Doc(r, DOC) for r in reps]
    for who, items in steps:
        doc = docs[who % n]
        with doc.transaction():
            for item in items:
                edit(doc, item)
        if rng.random() < sync:
            a, b = rng.sample(reps, 2)
            b.receive(e.to_bytes() for e in a.entries())
    exchange(reps, rng)
    assert len({d.encode() for d in docs}) == 1
    assert all(d.to_py() == docs[0].to_py() for d in docs)
    assert not docs[0].rejected
    return docs


def test_lww_and_add_wins() -> None:
    a, b = swarm(2)
    da, db = Doc(a, DOC), Doc(b, DOC)
    da.set("s").add("x")
    b.receive(e.to_bytes() for e in a.entries())
    db.set("s").remove("x")  # b saw a's add
    da.set("s").add("x")  # concurrently, a adds x again: that add survives b's remove
    da.map("m")["k"] = "a"
    db.map("m")["k"] = "b"
    exchange([a, b], random.Random(1))
    assert da.to_py() == db.to_py()
    assert "x" in da.set("s")
    # The write with the higher (lamport, entry id) wins, on both.
    writes = [
        e for r in (a, b) for e in r.entries() if b'"k"' in e.payload or b"\x01k" in e.payload
    ]
    winner = max(writes, key=lambda e: (e.lamport, e.id))
    assert da.map("m")["k"] == ("a" if winner.author == a.me else "b")
    with pytest.raises(InvalidArgument):
        Doc().set("s").remove("never added")


# --- refusals from the causal past ---------------------------------------------------


def _byzantine(rep: lattice.Replica, *ops: codec.Op) -> lattice.Entry:
    """An entry whose ops its author's own document would not have signed."""
    return rep.append(codec.encode(Batch(DOC, ops)))


@pytest.mark.parametrize(
    "case",
    [
        "concurrent tag", "never created", "wrong set", "overflow", "malformed", "unknown op",
        "concurrent char", "out of range", "truncated", "doc id mismatch", "index overflow",
    ],
)  # fmt: skip
def test_an_invalid_entry_is_refused_alike_everywhere(case: str) -> None:
    a, b, c = swarm(3)
    da = Doc(a, DOC)
    da.set("s").add("x")
    da.set("t").add("y")
    da.counter("c").increment(2**63 - 2)
    a_add = Element(a.entries()[0].id, 0)
    da.text("x").insert(0, "abc")
    a_text = a.entries()[-1].id
    Doc(a, b"another").text("x").insert(0, "zz")
    elsewhere = a.entries()[-1].id
    if case not in ("concurrent tag", "concurrent char"):  # b has seen a's entries
        b.receive(e.to_bytes() for e in a.entries())
    bad = {
        "concurrent tag": lambda: _byzantine(b, SetRemove("s", (a_add,))),
        "never created": lambda: _byzantine(b, SetRemove("s", (Element(b"\x07" * 32, 0),))),
        "wrong set": lambda: _byzantine(b, SetRemove("t", (a_add,))),
        "overflow": lambda: _byzantine(b, CounterAdd("c", 1), CounterAdd("c", 1)),
        "malformed": lambda: b.append(codec.MAGIC + b"\x02\x03doc\xff"),
        "unknown op": lambda: b.append(codec.MAGIC + b"\x02\x03doc\x00\x00\x01\x63\x00"),
        "concurrent char": lambda: _byzantine(b, TextDelete("x", ((Element(a_text, 0), 1),))),
        "out of range": lambda: _byzantine(b, TextDelete("x", ((Element(a_text, 1), 5),))),
        "truncated": lambda: b.append(codec.encode(Batch(DOC, (CounterAdd("c", 1),)))[:-3]),
        "doc id mismatch": lambda: _byzantine(
            b, TextInsert("x", Element(elsewhere, 0), RIGHT, "!")
        ),
        # A run from index 2 of a_text, 2^32 - 1 long: past any op index (hand-made: the
        # encoder refuses it).
        "index overflow": lambda: b.append(
            codec.MAGIC
            + b"\x02\x03doc"
            + b"\x01\x01x"
            + b"\x01"
            + a_text
            + b"\x01"
            + b"\x08\x00\x01"
            + b"\x01\x02"
            + b"\xff\xff\xff\xff\x0f"
        ),
    }[case]()
    want = {
        "concurrent tag": NotInCausalPast,
        "never created": NotInCausalPast,
        "wrong set": WrongType,
        "overflow": CounterOverflow,
        "malformed": DecodeError,
        "unknown op": UnknownKind,
        "concurrent char": NotInCausalPast,
        "out of range": OpOutOfRange,
        "truncated": Truncated,
        "doc id mismatch": DocMismatch,
        "index overflow": NonCanonical,
    }[case]
    verdicts = []
    for order in range(4):
        rep = swarm(3)[2] if order else c
        doc = Doc(rep, DOC)
        items = [e.to_bytes() for r in (a, b) for e in r.entries()]
        random.Random(order).shuffle(items)
        rep.receive(items)
        assert [i for i, _ in doc.rejected] == [bad.id]
        assert isinstance(doc.rejected[0][1], want)
        assert rep.penalties.get(b.me, 0) == 1
        assert doc.to_py() == da.to_py(), "none of the entry's ops took effect"
        verdicts.append(doc.encode())
    assert len(set(verdicts)) == 1
    # The entry itself is delivered: validly signed and entangled.
    assert c.get(bad.id) is not None


def test_own_invalid_ops_are_never_signed() -> None:
    (a,) = swarm(1)
    doc = Doc(a, DOC)
    doc.counter("c").increment(2**63 - 1)
    with pytest.raises(CounterOverflow):
        doc.counter("c").increment(1)
    assert a.head(a.me) == 1 and doc.counter("c").value == 2**63 - 1


# --- documents and logs ----------------------------------------------------------------


def test_documents_share_a_log_and_rebuild_from_the_store(tmp_path: Path) -> None:
    me = lattice.Identity.generate()
    path = tmp_path / "r.db"
    rep = lattice.Replica(me, peers=[me.public_key], path=path)
    notes, other = Doc(rep, "notes"), Doc(rep, "other")
    with notes.transaction():
        notes.map("m")["title"] = "draft"
        notes.set("tags").add("a")
    other.counter("c").increment(5)
    rep.append(b"an opaque payload, no document's")
    assert notes.to_py() == {"map": {"m": {"title": "draft"}}, "set": {"tags": ["a"]}}
    assert other.to_py() == {"counter": {"c": 5}}
    before = notes.encode()
    rep.close()
    rep = lattice.Replica(me, peers=[me.public_key], path=path)
    assert Doc(rep, "notes").encode() == before
    rep.close()


def test_a_local_document() -> None:
    doc = Doc()
    with doc.transaction():
        doc.register("r").set("v")
        doc.counter("c").increment(2)
        doc.counter("c").decrement()
    doc.set("s").add("x")
    doc.set("s").remove("x")
    assert doc.to_py() == {"counter": {"c": 1}, "register": {"r": "v"}, "set": {"s": []}}
    with pytest.raises(InvalidArgument):
        Doc(doc_id=b"x" * 65)


def test_one_penalty_per_entry_however_many_documents_follow_the_log() -> None:
    a, b = swarm(2)
    docs = [Doc(b, DOC), Doc(b, DOC), Doc(b, "other")]
    a.append(codec.MAGIC + b"\x02\x03doc\xff")  # malformed, for DOC
    a.append(codec.encode(Batch(DOC, (SetRemove("s", (Element(b"\x07" * 32, 0),)),))))
    b.receive(e.to_bytes() for e in a.entries())
    assert b.penalties[a.me] == 2
    assert len(docs[0].rejected) == len(docs[1].rejected) == 2 and not docs[2].rejected


def test_a_failing_listener_does_not_disturb_the_replica() -> None:
    a, b = swarm(2)
    doc = Doc(b, DOC)

    def broken(entry: lattice.Entry) -> None:
        raise RuntimeError("a bug in someone's listener")

    b.delivery_listeners.insert(0, broken)
    Doc(a, DOC).counter("c").increment(3)
    Doc(a, DOC).counter("c").increment(4)
    result = b.receive(reversed([e.to_bytes() for e in a.entries()]))
    assert len(result.delivered) == 2 and not result.rejected and not b.pending
    assert doc.counter("c").value == 7


def test_a_failed_commit_is_not_applied_twice(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from lattice.errors import StoreError

    ids = [lattice.Identity.from_seed(bytes([1]) * 32), lattice.Identity.from_seed(bytes([2]) * 32)]
    a, _ = swarm(2)  # the same identities: b below is the second, durable
    b = lattice.Replica(ids[1], peers=[i.public_key for i in ids], path=tmp_path / "b.db")
    doc = Doc(b, DOC)
    Doc(a, DOC).counter("c").increment(5)
    real = b._store.commit
    calls = []

    def fail_once(rows):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 1:
            raise StoreError("disk full, once")
        return real(rows)

    monkeypatch.setattr(b._store, "commit", fail_once)
    with pytest.raises(StoreError):
        b.receive(e.to_bytes() for e in a.entries())
    assert doc.counter("c").value == 0, "nothing stored, nothing applied"
    b.receive(e.to_bytes() for e in a.entries())
    assert doc.counter("c").value == 5
    b.close()


def test_a_document_opened_behind_queued_commits_sees_them(tmp_path: Path) -> None:
    me = lattice.Identity.generate()
    rep = lattice.Replica(me, peers=[me.public_key], path=tmp_path / "r.db")
    rep.commit_in_background()
    first = Doc(rep, DOC)
    for _ in range(50):
        first.counter("c").increment()
    assert Doc(rep, DOC).counter("c").value == 50
    rep.close()


def test_the_owner_sees_history_changes_and_the_past() -> None:
    a, b = swarm(2)
    da, db = Doc(a, DOC), Doc(b, DOC)
    seen: list[object] = []
    stop = db.observe(seen.append)
    da.text("t").insert(0, "first")
    then = dict(a.frontier())
    with da.transaction():
        da.text("t").insert(5, " draft")
        da.counter("c").increment()
    b.receive(e.to_bytes() for e in a.entries())
    assert [c.seq for c in seen] == [1, 2] and seen[0].author == a.me  # type: ignore[attr-defined]
    stop()
    db.counter("c").increment()
    assert len(seen) == 2, "stopped"
    history = db.history()
    assert [(c.author, c.seq) for c in history] == [(a.me, 1), (a.me, 2), (b.me, 1)]
    assert isinstance(history[1].ops[0], codec.TextInsert)
    past = db.at(then)
    assert str(past.text("t")) == "first" and past.counter("c").value == 0
    assert str(db.text("t")) == "first draft" and db.counter("c").value == 2
    with pytest.raises(InvalidArgument, match="read-only"):
        past.counter("c").increment()
    with pytest.raises(InvalidArgument):
        Doc().at({})


def test_undo_and_redo_of_the_users_own_transactions() -> None:
    from lattice.state import UndoManager

    doc = Doc()
    undo = UndoManager(doc)
    m, c, s, t = doc.map("m"), doc.counter("c"), doc.set("s"), doc.text("t")
    m["k"] = "first"
    with doc.transaction():
        m["k"] = "second"
        c.increment(5)
        s.add("x")
        t.insert(0, "abc")
    t.delete(1, 1)
    assert doc.to_py() == {
        "counter": {"c": 5}, "map": {"m": {"k": "second"}}, "set": {"s": ["x"]}, "text": {"t": "ac"}
    }  # fmt: skip
    assert undo.undo() and str(t) == "abc"
    assert undo.undo()
    assert doc.to_py() == {
        "counter": {"c": 0}, "map": {"m": {"k": "first"}}, "set": {"s": []}, "text": {"t": ""}
    }  # fmt: skip
    assert undo.redo() and m["k"] == "second" and c.value == 5 and str(t) == "abc"
    assert undo.undo() and undo.undo() and not m and not undo.undo()
    m["k"] = "new"  # a new transaction clears what could be redone
    assert not undo.redo()


def test_an_undo_is_new_ops_every_replica_applies_alike() -> None:
    from lattice.state import UndoManager

    a, b = swarm(2)
    da, db = Doc(a, DOC), Doc(b, DOC)
    undo = UndoManager(da)
    da.text("t").insert(0, "hello")
    exchange([a, b], random.Random(0))
    db.text("t").insert(5, " world")  # concurrently with the undo below
    assert undo.undo()
    exchange([a, b], random.Random(1))
    assert str(da.text("t")) == str(db.text("t")) == " world"
    assert da.encode() == db.encode() and not da.rejected


def test_a_local_document_saves_and_loads_its_state() -> None:
    doc = Doc(doc_id="saved")
    with doc.transaction():
        doc.map("m")["k"] = 1.5
        del doc.map("m")["gone"]
        doc.register("r").set(b"\x00raw")
        doc.counter("c").increment(-4)
        doc.set("s").add(True)
        doc.set("s").add(1)
    doc.text("t").insert(0, "héllo wörld")
    doc.text("t").delete(2, 3)
    doc.set("s").remove(1)
    again = Doc.decode(doc.encode())
    assert again.to_py() == doc.to_py() and again.encode() == doc.encode()
    assert again.doc_id == b"saved"
    # It goes on where it stopped: new ops, new ids, and old elements still known.
    again.text("t").insert(1, "X")
    doc.text("t").insert(1, "X")
    again.set("s").remove(True)
    doc.set("s").remove(True)
    again.map("m")["k"] = 2
    doc.map("m")["k"] = 2
    assert again.encode() == doc.encode()
    for bad in (b"", b"LDST", doc.encode()[:-3], doc.encode() + b"Z", b"LDST\xff" + bytes(300)):
        with pytest.raises(DecodeError):
            Doc.decode(bad)


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0), st.integers(min_value=0, max_value=255))
def test_a_mutated_saved_document_is_refused_or_loads(position: int, byte: int) -> None:
    doc = Doc(doc_id="d")
    doc.text("t").insert(0, "abc")
    doc.set("s").add("x")
    doc.counter("c").increment()
    data = bytearray(doc.encode())
    data[position % len(data)] = byte
    try:
        loaded = Doc.decode(bytes(data))
    except DecodeError:
        return
    # What loads is a document: it reads and encodes without error.
    assert isinstance(loaded.to_py(), dict) and loaded.encode()[:4] == b"LDST"

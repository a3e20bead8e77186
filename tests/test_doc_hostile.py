"""Documents against what a hostile peer, client or caller can send, and against entries
arriving in the middle of a transaction (issue 11, from the internal review): every
refusal typed, nothing half-applied, nothing lost."""

from __future__ import annotations

import random

import pytest

import lattice
from lattice.errors import InvalidArgument, NonCanonical, OutOfRange, UnknownVersion
from lattice.net import documents
from lattice.net.documents import Documents
from lattice.state import Doc
from lattice.state import ops as codec
from lattice.state.ops import LEFT, RIGHT, Batch, Element, MapSet, TextInsert
from lattice.state.text import Sequence
from test_docs import DOC, swarm
from test_text_kernel import apply, same
from text_reference import Reference


def test_an_entry_delivered_in_the_middle_of_a_transaction_is_kept() -> None:
    a, b = swarm(2)
    da, db = Doc(a, DOC), Doc(b, DOC)
    db.text("t").insert(0, "BBB")
    da.text("t").insert(0, "AAA")
    with da.transaction():
        da.text("t").insert(0, "x")
        a.receive(e.to_bytes() for e in b.entries())
        assert "BBB" in str(da.text("t")) and "xAAA" in str(da.text("t"))
        with pytest.raises(InvalidArgument):
            da.encode()  # its uncommitted edits are in the texts
        x = str(da.text("t")).index("x")
        with pytest.raises(InvalidArgument):
            da.text("t").cursor(x)  # "x" has no id yet
        with pytest.raises(InvalidArgument):
            da.text("t").provenance(x)
        da.text("t").insert(len(da.text("t")), "!")
    assert str(da.text("t")) in ("xAAABBB!", "BBBxAAA!")
    assert da.encode() == Doc(a, DOC).encode(), "the same as the document rebuilt from the log"
    b.receive(e.to_bytes() for e in a.entries())
    assert db.encode() == da.encode()


def test_a_transaction_that_fails_after_a_delivery_leaves_only_the_delivery() -> None:
    a, b = swarm(2)
    da, db = Doc(a, DOC), Doc(b, DOC)
    db.text("new").insert(0, "theirs")
    with pytest.raises(RuntimeError), da.transaction():
        da.text("new").insert(0, "mine")
        a.receive(e.to_bytes() for e in b.entries())
        raise RuntimeError("the user gives up")
    assert str(da.text("new")) == "theirs" and da.encode() == Doc(a, DOC).encode()


def test_text_that_is_not_utf8_is_refused_typed_everywhere() -> None:
    lone = "\ud800"
    with pytest.raises(InvalidArgument):
        Doc().text("t").insert(0, lone)  # the local fast path
    doc = Doc()
    with pytest.raises(InvalidArgument), doc.transaction():
        doc.text("t").insert(0, "ok" + lone)
    assert doc.to_py() == {}
    with pytest.raises(InvalidArgument):
        codec.encode(Batch(DOC, (MapSet("m", "k", lone),)))
    me = lattice.Identity.generate()
    rep = lattice.Replica(me, peers=[me.public_key])
    docs = Documents(rep)
    for req in (
        {"op": "doc_insert", "doc": lone, "index": 0, "value": "x"},
        {"op": "doc_insert", "doc": "d", "index": 0, "value": lone},
        {"op": "doc_show", "doc": "d", "text": lone},
    ):
        with pytest.raises(InvalidArgument):
            docs.handle(req)
    assert rep.head(me.public_key) == 0, "nothing was signed"


def test_one_meaning_one_encoding_for_a_root_child() -> None:
    with pytest.raises(NonCanonical):
        codec.encode(Batch(DOC, (TextInsert("t", None, LEFT, "x"),)))
    good = codec.encode(Batch(DOC, (TextInsert("t", None, RIGHT, "x"),)))
    with pytest.raises(NonCanonical):  # place 0: a root child on the left
        codec.decode(good.replace(b"\x07\x00\x01", b"\x07\x00\x00"))
    with pytest.raises(InvalidArgument):
        Sequence().insert(None, LEFT, Element(bytes(32), 0), "x")


def test_indexes_past_u32_are_refused_not_overflowed() -> None:
    seq = Sequence()
    e = bytes([1]) * 32
    seq.insert(None, RIGHT, Element(e, 0), "ab")
    assert Element(e, 2**32) not in seq and Element(e, -1) not in seq
    assert not seq.contains_run(Element(e, 1), 2**32)
    with pytest.raises(InvalidArgument):
        seq.index_of(Element(e, 2**40))
    doc = Doc()
    doc.text("t").insert(0, "ab")
    with pytest.raises(InvalidArgument):
        doc.text("t").position(Element(e, 2**33))


def test_other_versions_of_another_documents_batch_are_not_this_ones() -> None:
    (a,) = swarm(1)
    doc = Doc(a, DOC)
    other = codec.MAGIC + b"\x01\x05other" + b"\x00\x00\x00\x01"  # a version-1 batch
    mine = codec.MAGIC + b"\x01\x03doc" + b"\x00\x00\x00\x01"
    a.append(other)
    assert doc.rejected == []
    bad = a.append(mine)
    assert [(e, type(r)) for e, r in doc.rejected] == [(bad.id, UnknownVersion)]
    assert a.penalties.get(a.me, 0) == 1


def test_a_node_keeps_its_most_recent_documents_open(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(documents, "MAX_OPEN_DOCS", 3)
    me = lattice.Identity.generate()
    rep = lattice.Replica(me, peers=[me.public_key])
    docs = Documents(rep)
    for i in range(5):
        docs.handle({"op": "doc_insert", "doc": f"d{i}", "index": 0, "value": f"v{i}"})
    assert list(docs.open_docs) == [b"d2", b"d3", b"d4"]
    assert docs.handle({"op": "doc_show", "doc": "d0"})["text"] == "v0"  # reopened
    assert len(docs.open_docs) == 3 and len(rep.delivery_listeners) == 3


def _hostile_history(rng: random.Random, steps: int) -> list[tuple[str, tuple]]:  # type: ignore[type-arg]
    """Ops a Byzantine author could sign: any parent on any side (not Fugue's rule), three
    entries with dense, interleaved indexes, deletes of runs across op boundaries."""
    model = Reference()
    entries = [bytes([b]) * 32 for b in (1, 2, 3)]
    taken: dict[bytes, set[int]] = {e: set() for e in entries}
    elements: list[Element] = []
    log: list[tuple[str, tuple]] = []  # type: ignore[type-arg]
    for _ in range(steps):
        if elements and rng.random() < 0.25:
            first, n = rng.choice(elements), 1
            while Element(first.entry, first.index + n) in model._nodes and rng.random() < 0.6:
                n += 1
            op: tuple[str, tuple] = ("delete", (first, n))  # type: ignore[type-arg]
        else:
            parent = rng.choice(elements) if elements and rng.random() < 0.9 else None
            side = RIGHT if parent is None else rng.choice((LEFT, RIGHT))
            entry, n = rng.choice(entries), rng.randint(1, 5)
            index = rng.randint(0, 30)
            while any(index + k in taken[entry] for k in range(n)):
                index += 1
            taken[entry].update(range(index, index + n))
            text = "".join(rng.choice("abcdefgh") for _ in range(n))
            op = ("insert", (parent, side, Element(entry, index), text))
            elements += [Element(entry, index + k) for k in range(n)]
        apply(model, op)
        log.append(op)
    return log


@pytest.mark.parametrize("seed", range(12))
def test_the_kernel_is_the_model_on_byzantine_tree_shapes(seed: int) -> None:
    rng = random.Random(seed)
    log = _hostile_history(rng, rng.choice([40, 300, 1200]))
    model = Reference()
    for op in log:
        apply(model, op)
    kernel = Sequence()
    cut = rng.randint(0, len(log))
    for op in log[:cut]:
        apply(kernel, op)
    before = kernel.encode_nodes()
    kernel.mark()
    for op in log[cut:]:
        apply(kernel, op)
    assert kernel.nodes() == model.nodes()
    kernel.rollback()
    assert kernel.encode_nodes() == before
    for op in log[cut:]:
        apply(kernel, op)
    same(kernel, model, rng)
    shuffled = kernel.nodes()
    rng.shuffle(shuffled)
    assert Sequence.from_nodes(shuffled).nodes() == kernel.nodes()
    batched = Sequence()
    batched.apply(args for _, args in log)
    assert batched.nodes() == model.nodes()


@pytest.mark.parametrize("side", [LEFT, RIGHT])
@pytest.mark.parametrize("greater", [False, True])
def test_deep_chains_with_a_conflict_at_every_link_match_the_model(
    side: int, greater: bool
) -> None:
    """The shapes that made placement quadratic before it searched up and down in step: a
    chain of explicit children on one side, then a sibling at every link (greater or
    smaller than the link's own child). Same walk as the model's."""
    kernel, model = Sequence(), Reference()
    root = Element(b"\x80" * 32, 0)
    chain = [root] + [Element(b"\x80" + i.to_bytes(31, "big"), 0) for i in range(300)]
    ops: list[tuple[str, tuple]] = [("insert", (None, RIGHT, root, "r"))]  # type: ignore[type-arg]
    ops += [("insert", (chain[i], side, chain[i + 1], "c")) for i in range(300)]
    mark = b"\xff" if greater else b"\x00"
    ops += [
        ("insert", (chain[i], side, Element(mark + i.to_bytes(31, "big"), 0), "xy"))
        for i in range(300)
    ]
    for op in ops:
        apply(kernel, op)
        apply(model, op)
    same(kernel, model, random.Random(side * 2 + greater))


def test_a_local_edit_out_of_range_is_refused_and_leaves_no_trace() -> None:
    doc = Doc()
    doc.text("t").insert(0, "abc")
    before = doc.encode()
    for edit in (
        lambda t: t.insert(-1, "x"),
        lambda t: t.insert(4, "x"),
        lambda t: t.delete(-1, 1),
        lambda t: t.delete(2, 2),
        lambda t: doc.text("new").delete(0, 1),
    ):
        with pytest.raises(OutOfRange):
            edit(doc.text("t"))
    assert (
        doc.encode() == before
        and len(doc.history()) == 1
        and "new" not in doc.to_py().get("text", {})
    )


def test_indexes_too_big_for_a_machine_word_are_out_of_range() -> None:
    (a,) = swarm(1)
    for doc in (Doc(), Doc(a, DOC)):
        doc.text("t").insert(0, "abc")
        for edit in (lambda t: t.insert(2**64, "x"), lambda t: t.delete(2**64, 1)):
            with pytest.raises(OutOfRange):
                edit(doc.text("t"))
            with pytest.raises(OutOfRange), doc.transaction():
                edit(doc.text("t"))
        assert str(doc.text("t")) == "abc"


def test_observers_of_a_delivery_mid_transaction_see_what_the_user_sees() -> None:
    a, b = swarm(2)
    da, db = Doc(a, DOC), Doc(b, DOC)
    db.text("t").insert(0, "B")
    seen: list[str] = []

    def watch(change: object) -> None:
        seen.append(str(da.text("t")))
        if len(seen) == 1:
            da.text("t").insert(0, "o")  # an observer that edits: part of the transaction

    with da.transaction():
        da.text("t").insert(0, "xy")
        da.observe(watch)
        a.receive(e.to_bytes() for e in b.entries())
    assert seen[0] in ("xyB", "Bxy"), seen
    assert str(da.text("t")).count("o") == 1 and da.encode() == Doc(a, DOC).encode()


def test_a_refused_edit_in_a_transaction_makes_no_empty_text() -> None:
    doc = Doc()
    with pytest.raises(OutOfRange), doc.transaction():
        doc.text("nope").delete(0, 1)
    with doc.transaction():
        with pytest.raises(OutOfRange):
            doc.text("nope").insert(3, "x")
        assert "text" not in doc.to_py()
    assert doc.to_py() == {}

"""Text in documents (DESIGN §9, issue 11): a Fugue sequence. Concurrent runs typed at one
place — forwards or backwards, by two or three writers — never interleave; replicas
converge whatever the delivery order; ops naming characters outside their causal past are
refused alike everywhere."""

from __future__ import annotations

import contextlib
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lattice.errors import NotInCausalPast, OpOutOfRange
from lattice.state import Doc
from lattice.state import ops as codec
from lattice.state.ops import RIGHT, Batch, Element, TextDelete, TextInsert
from test_docs import DOC, converge, exchange, swarm

WORDS = ["alpha", "BRAVO", "charlie"]


@pytest.mark.parametrize("writers", [2, 3])
@pytest.mark.parametrize("backwards", [False, True], ids=["forwards", "backwards"])
def test_concurrent_runs_at_one_place_never_interleave(writers: int, backwards: bool) -> None:
    reps = swarm(writers)
    docs = [Doc(r, DOC) for r in reps]
    docs[0].text("t").insert(0, "[]")
    exchange(reps, random.Random(0))
    for doc, word in zip(docs, WORDS, strict=False):
        t = doc.text("t")
        # One character per transaction: one entry each, as a user types.
        if backwards:
            for ch in reversed(word):
                t.insert(1, ch)
        else:
            for i, ch in enumerate(word):
                t.insert(1 + i, ch)
        assert str(t) == f"[{word}]"
    exchange(reps, random.Random(writers))
    texts = {str(d.text("t")) for d in docs}
    assert len(texts) == 1 and len({d.encode() for d in docs}) == 1
    (text,) = texts
    assert text[0] == "[" and text[-1] == "]"
    for word in WORDS[:writers]:
        assert word in text, f"{word!r} interleaved in {text!r}"


_edit = st.tuples(st.booleans(), st.integers(0, 50), st.text("xyz", min_size=1, max_size=4))


@settings(max_examples=40, deadline=None)
@given(
    st.integers(2, 4),
    st.lists(st.tuples(st.integers(0, 3), st.lists(_edit, min_size=1, max_size=3)), max_size=12),
    st.integers(0, 2**32),
)
def test_texts_converge_whatever_the_delivery_order(n: int, steps: list, seed: int) -> None:  # type: ignore[type-arg]
    docs = converge(n, steps, seed, _edit_text, sync=0.4)
    assert len({str(d.text("t")) for d in docs}) == 1


def _edit_text(doc: Doc, edit: tuple[bool, int, str]) -> None:
    insert, at, chars = edit
    t = doc.text("t")
    size = len(doc._text_view("t"))  # as this transaction's ops left the text
    if insert or size == 0:
        t.insert(at % (size + 1), chars)
    else:
        start = at % size
        t.delete(start, min(len(chars), size - start))


def test_a_local_text_follows_every_edit() -> None:
    doc, model = Doc(), ""
    t = doc.text("t")
    rng = random.Random(5)
    for step in range(300):
        if model and rng.random() < 0.4:
            at = rng.randrange(len(model))
            n = rng.randint(1, min(4, len(model) - at))
            t.delete(at, n)
            model = model[:at] + model[at + n :]
        else:
            at = rng.randint(0, len(model))
            chars = rng.choice(["a", "bc", "déf", "🙂"]) * rng.randint(1, 2)
            t.insert(at, chars)
            model = model[:at] + chars + model[at:]
        assert str(t) == model, step
    assert len(t) == len(model) and t[2:5] == model[2:5]
    with pytest.raises(IndexError):
        t.insert(len(model) + 1, "x")


@pytest.mark.parametrize("case", ["concurrent parent", "concurrent delete", "run too long"])
def test_an_edit_outside_the_causal_past_is_refused_alike(case: str) -> None:
    a, b, c = swarm(3)
    da = Doc(a, DOC)
    da.text("t").insert(0, "abc")
    first = Element(a.entries()[0].id, 0)
    if case == "run too long":
        b.receive(e.to_bytes() for e in a.entries())
    op = {
        "concurrent parent": TextInsert("t", first, RIGHT, "x"),
        "concurrent delete": TextDelete("t", ((first, 1),)),
        "run too long": TextDelete("t", ((first, 4),)),
    }[case]
    bad = b.append(codec.encode(Batch(DOC, (op,))))
    want = OpOutOfRange if case == "run too long" else NotInCausalPast
    for order in range(3):
        rep = swarm(3)[2] if order else c
        doc = Doc(rep, DOC)
        items = [e.to_bytes() for r in (a, b) for e in r.entries()]
        random.Random(order).shuffle(items)
        rep.receive(items)
        assert [i for i, _ in doc.rejected] == [bad.id]
        assert isinstance(doc.rejected[0][1], want)
        assert str(doc.text("t")) == "abc"


def test_cursors_survive_concurrent_edits_and_characters_know_their_author() -> None:
    a, b = swarm(2)
    da, db = Doc(a, DOC), Doc(b, DOC)
    da.text("t").insert(0, "world")
    exchange([a, b], random.Random(0))
    cursor = db.text("t").cursor(0)  # at "w"
    end = db.text("t").cursor(5)
    da.text("t").insert(0, "hello ")  # before it, concurrently
    db.text("t").delete(0, 1)  # the character itself goes: the cursor stays in place
    exchange([a, b], random.Random(1))
    assert str(db.text("t")) == "hello orld"
    assert db.text("t").position(cursor) == 6 and db.text("t").position(end) == 10
    entry, index, author, seq = db.text("t").provenance(0)
    assert (author, seq, index) == (a.me, 2, 0) and a.get(entry) is not None
    assert db.text("t").provenance(6)[2:] == (a.me, 1)


def test_the_local_fast_path_is_the_batch_path_byte_for_byte() -> None:
    """A local document's lone edits go straight into the kernel (Doc._local_text); the
    same edits, each in a transaction of its own, go through the batch path. Same bytes."""
    from traces import SEQUENTIAL, load

    (path,) = [p for p in SEQUENTIAL if p.name == "sveltecomponent.json.gz"]
    txns = load(path)["txns"][:3000]
    fast, batch = Doc(doc_id="d"), Doc(doc_id="d")
    for txn in txns:
        for pos, deleted, inserted in txn["patches"]:
            for doc in (fast, batch):
                edits = [("delete", deleted)] if deleted else []
                edits += [("insert", inserted)] if inserted else []
                for kind, arg in edits:
                    with contextlib.ExitStack() as stack:
                        if doc is batch:
                            stack.enter_context(doc.transaction())
                        getattr(doc.text("t"), kind)(pos, arg)
    assert str(fast.text("t")) == str(batch.text("t"))
    assert fast.encode() == batch.encode()
    assert [c.ops for c in fast.history()] == [c.ops for c in batch.history()]

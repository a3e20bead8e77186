"""The Rust text kernel (``rust/src/text.rs`` through ``lattice.state.text.Sequence``)
against the slow, plainly correct model in ``text_reference.py``: random concurrent
histories of several writers, applied in random causal orders, give the same walk, the
same places, the same indexes and the same runs; a rollback restores the text exactly."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lattice.errors import InvalidArgument, NonCanonical
from lattice.state.ops import LEFT, RIGHT, Element
from lattice.state.text import Sequence
from text_reference import Reference

Op = tuple[str, tuple]  # type: ignore[type-arg]


@dataclass
class Writer:
    kernel: Sequence = field(default_factory=Sequence)
    model: Reference = field(default_factory=Reference)
    seen: set[int] = field(default_factory=set)
    entry: bytes = b""
    next_index: int = 0


def apply(seq: Sequence | Reference, op: Op) -> None:
    kind, args = op
    if kind == "insert":
        seq.insert(*args)
    else:
        seq.delete(*args)


def same(kernel: Sequence, model: Reference, rng: random.Random) -> None:
    """Everything the kernel answers, the model answers alike."""
    assert kernel.nodes() == model.nodes()
    assert str(kernel) == str(model) and len(kernel) == len(model)
    assert kernel.total == len(model.order())
    for i in range(len(model) + 1):
        assert kernel.place(i) == model.place(i), i
    for e in model.order():
        assert kernel.index_of(e) == model.index_of(e)
        assert kernel.place_after(e) == model.place_after(e)
        assert kernel.node(e) == model.node(e)
    assert kernel.place_after(None) == model.place_after(None)
    for _ in range(5):
        a, b = sorted(rng.randint(0, len(model)) for _ in range(2))
        assert kernel.visible_runs(a, b) == model.visible_runs(a, b)
        assert kernel.slice(a, b) == str(model)[a:b]


def history(rng: random.Random, writers: int, steps: int) -> tuple[list[Op], list[set[int]]]:
    """Ops of ``writers`` writers who each edit their own copy and now and then take in
    another's ops: each op with the ops its writer had seen (its causal past)."""
    ws = [Writer() for _ in range(writers)]
    log: list[Op] = []
    deps: list[set[int]] = []
    for _ in range(steps):
        w = rng.choice(ws)
        if rng.random() < 0.25:  # take in everything another writer has, in causal order
            other = rng.choice(ws)
            for i in sorted(other.seen - w.seen):
                apply(w.kernel, log[i])
                apply(w.model, log[i])
                w.seen.add(i)
            continue
        size = len(w.model)
        if size and rng.random() < 0.3:
            start = rng.randrange(size)
            end = min(size, start + rng.randint(1, 4))
            runs = w.model.visible_runs(start, end)
            assert w.kernel.visible_runs(start, end) == runs
            for first, count in runs:
                op = ("delete", (first, count))
                deps.append(set(w.seen))
                log.append(op)
                apply(w.kernel, op)
                apply(w.model, op)
                w.seen.add(len(log) - 1)
            continue
        at = rng.randint(0, size)
        parent, side = w.model.place(at)
        assert w.kernel.place(at) == (parent, side)
        if not w.entry or rng.random() < 0.4:
            w.entry, w.next_index = rng.randbytes(32), 0
        text = "".join(rng.choice("abcdefgh") for _ in range(rng.randint(1, 4)))
        first = Element(w.entry, w.next_index)
        w.next_index += len(text)
        op = ("insert", (parent, side, first, text))
        deps.append(set(w.seen))
        log.append(op)
        apply(w.kernel, op)
        apply(w.model, op)
        w.seen.add(len(log) - 1)
        assert str(w.kernel) == str(w.model)
    return log, deps


def causal_order(rng: random.Random, deps: list[set[int]]) -> list[int]:
    """A random order of the ops in which each comes after its causal past."""
    done: set[int] = set()
    left = list(range(len(deps)))
    order = []
    while left:
        ready = [i for i in left if deps[i] <= done]
        i = rng.choice(ready)
        left.remove(i)
        done.add(i)
        order.append(i)
    return order


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 5), st.integers(1, 80), st.integers(0, 2**32))
def test_the_kernel_is_the_model_on_random_concurrent_histories(
    writers: int, steps: int, seed: int
) -> None:
    rng = random.Random(seed)
    log, deps = history(rng, writers, steps)
    model = Reference()
    for op in log:
        apply(model, op)
    for _ in range(2):
        kernel = Sequence()
        for i in causal_order(rng, deps):
            apply(kernel, log[i])
        same(kernel, model, rng)
    batched = Sequence()
    batched.apply(args for _, args in log)
    assert batched.nodes() == model.nodes()


def test_a_long_history_splits_the_tree_many_times() -> None:
    rng = random.Random(7)
    log, deps = history(rng, 3, 1500)
    model, kernel = Reference(), Sequence()
    for i in causal_order(rng, deps):
        apply(model, log[i])
        apply(kernel, log[i])
    same(kernel, model, rng)
    again = Sequence.from_nodes(list(reversed(kernel.nodes())))
    assert again.nodes() == kernel.nodes()


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 60), st.integers(1, 40), st.integers(0, 2**32))
def test_a_rollback_restores_the_text_exactly(before: int, during: int, seed: int) -> None:
    rng = random.Random(seed)
    log, _ = history(rng, 1, before + during)
    kernel = Sequence()
    for op in log[:before]:
        apply(kernel, op)
    nodes, encoded = kernel.nodes(), kernel.encode_nodes()
    kernel.mark()
    for op in log[before:]:
        apply(kernel, op)
    kernel.rollback()
    assert kernel.nodes() == nodes and kernel.encode_nodes() == encoded
    for op in log[before:]:  # and it goes on as if nothing had happened
        apply(kernel, op)
    model = Reference()
    for op in log:
        apply(model, op)
    same(kernel, model, rng)


def test_refusals_are_typed() -> None:
    seq = Sequence()
    e = Element(bytes([1]) * 32, 0)
    seq.insert(None, RIGHT, e, "ab")
    with pytest.raises(InvalidArgument):
        seq.insert(None, RIGHT, Element(e.entry, 1), "x")  # an element twice
    with pytest.raises(InvalidArgument):
        seq.insert(Element(bytes(32), 0), LEFT, Element(bytes(32), 9), "x")  # no parent
    with pytest.raises(InvalidArgument):
        seq.insert(None, 2, Element(bytes(32), 0), "x")
    with pytest.raises(InvalidArgument):
        seq.delete(Element(e.entry, 1), 2)  # past the run
    with pytest.raises(IndexError):
        seq.place(3)
    with pytest.raises(InvalidArgument):
        seq.rollback()
    with pytest.raises(NonCanonical):
        Sequence.from_nodes(
            [
                (e, "a", Element(e.entry, 1), RIGHT, False),
                (Element(e.entry, 1), "b", e, RIGHT, False),
            ]
        )  # a cycle
    assert str(seq) == "ab"

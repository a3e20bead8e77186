"""The real editing traces of ``../shared/traces`` (issue 11): every sequential trace
replays through a local ``Doc`` to exactly its ``endContent`` — one transaction per txn
and all as one — and the two concurrent traces replay with their real branches and merges
(one replica per agent, each given its txn's parents' history first) and converge, on
every replica, to ``endContent`` with identical encoded state."""

from __future__ import annotations

from pathlib import Path

import pytest

from lattice.state import Doc
from traces import CONCURRENT, SEQUENTIAL, TRACES, load, replay, replay_as_one, replay_concurrent


def _name(path: Path) -> str:
    return str(path.relative_to(TRACES)).removesuffix(".json.gz")


def test_the_shared_traces_are_there() -> None:
    assert len(AS_ONE) == 2
    names = {_name(p) for p in SEQUENTIAL + CONCURRENT}
    assert {"sequential/automerge-paper", "sequential/seph-blog1"} <= names
    assert {"concurrent/friendsforever", "concurrent/clownschool"} <= names
    assert len(SEQUENTIAL) >= 8


@pytest.mark.parametrize("path", SEQUENTIAL, ids=_name)
def test_a_sequential_trace_replays_to_its_end_content(path: Path) -> None:
    trace = load(path)
    doc = Doc()
    replay(doc, trace)
    assert str(doc.text("text")) == trace["endContent"]
    assert len(doc.history()) == sum(1 for t in trace["txns"] if t["patches"])


AS_ONE = [
    p for p in SEQUENTIAL if _name(p).split("/")[-1] in ("automerge-paper", "sveltecomponent")
]


@pytest.mark.parametrize("path", AS_ONE, ids=_name)
def test_one_transaction_gives_the_same_document_as_one_per_txn(path: Path) -> None:
    trace = load(path)
    whole, each = Doc(), Doc()
    replay_as_one(whole, trace)
    replay(each, trace)
    assert str(whole.text("text")) == trace["endContent"] == str(each.text("text"))
    again = Doc.decode(whole.encode())
    assert str(again.text("text")) == trace["endContent"]


@pytest.mark.parametrize("path", CONCURRENT, ids=_name)
def test_a_concurrent_trace_converges_to_its_end_content(path: Path) -> None:
    trace = load(path)
    agents = replay_concurrent(trace)
    assert len(agents.docs) == trace["numAgents"] >= 2
    for doc in agents.docs:
        assert str(doc.text("text")) == trace["endContent"]
        assert not doc.rejected
    assert len({doc.encode() for doc in agents.docs}) == 1
    heads = {tuple(sorted(r.frontier().items())) for r in agents.replicas}
    assert len(heads) == 1
    # The branches were real: some txn was made without an entry of another agent that
    # came before it in the trace.
    assert any(len(t["parents"]) > 1 for t in trace["txns"])

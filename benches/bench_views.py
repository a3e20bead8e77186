"""P10 (DESIGN §15): collapse ``automerge-paper``'s final state and load it as a guest.

Lattice: ``Doc.collapse`` (the visible state only) and its deflated form, the payload of
the shallow log's SNAPSHOT entry — what a guest is sent — then ``Doc.from_snapshot``: on
the snapshot as exported (as loro's import takes its export) and on the packed bytes
(inflating included). Beside it in the same run, loro's shallow
snapshot of the same document: ``export(ShallowSnapshot)`` and ``import_`` on a fresh doc.
"""

from __future__ import annotations

import sys
import zlib
from pathlib import Path

import loro
import pytest

from lattice.state import Doc
from lattice.state import snapshot as snap

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_docs import loro_replay_doc, trace
from traces import replay_as_one

GUEST = bytes([0x6E]) * 32


def _lattice_doc(full_size: bool) -> tuple[Doc, str]:
    data = trace("automerge-paper", full_size)
    doc = Doc()
    replay_as_one(doc, data)
    return doc, data["endContent"] if full_size else str(doc.text("text"))


@pytest.mark.benchmark(group="P10 collapse")
def test_p10_lattice_collapse(benchmark, full_size: bool) -> None:  # type: ignore[no-untyped-def]
    doc, want = _lattice_doc(full_size)

    def run() -> tuple[bytes, bytes]:
        plain, _ = doc.collapse(GUEST)
        return plain, snap.pack(plain)

    plain, packed = benchmark.pedantic(run, rounds=5, iterations=1)
    benchmark.extra_info["raw_bytes"] = len(plain)
    benchmark.extra_info["sent_bytes"] = len(packed)
    benchmark.extra_info["text_deflated"] = len(zlib.compress(want.encode(), 9))
    assert str(Doc.from_snapshot(packed).text("text")) == want


@pytest.mark.benchmark(group="P10 load")
def test_p10_lattice_load(benchmark, full_size: bool) -> None:  # type: ignore[no-untyped-def]
    """The snapshot as exported (like loro's, before any compression) to a guest's
    document."""
    doc, want = _lattice_doc(full_size)
    plain = doc.collapse(GUEST)[0]
    guest = benchmark.pedantic(Doc.from_snapshot, args=(plain,), rounds=50, iterations=1)
    assert str(guest.text("text")) == want


@pytest.mark.benchmark(group="P10 load")
def test_p10_lattice_load_packed(benchmark, full_size: bool) -> None:  # type: ignore[no-untyped-def]
    """The same from what a guest is sent: inflating the deflated snapshot first."""
    doc, want = _lattice_doc(full_size)
    packed = snap.pack(doc.collapse(GUEST)[0])
    guest = benchmark.pedantic(Doc.from_snapshot, args=(packed,), rounds=50, iterations=1)
    assert str(guest.text("text")) == want


@pytest.mark.benchmark(group="P10 collapse")
def test_p10_loro_shallow_export(benchmark, full_size: bool) -> None:  # type: ignore[no-untyped-def]
    doc = loro_replay_doc(trace("automerge-paper", full_size))

    def run() -> bytes:
        return bytes(doc.export(loro.ExportMode.ShallowSnapshot(doc.oplog_frontiers)))

    data = benchmark.pedantic(run, rounds=5, iterations=1)
    benchmark.extra_info["raw_bytes"] = len(data)
    benchmark.extra_info["deflated_bytes"] = len(zlib.compress(data, 9))


@pytest.mark.benchmark(group="P10 load")
def test_p10_loro_shallow_import(benchmark, full_size: bool) -> None:  # type: ignore[no-untyped-def]
    doc = loro_replay_doc(trace("automerge-paper", full_size))
    data = doc.export(loro.ExportMode.ShallowSnapshot(doc.oplog_frontiers))
    want = doc.get_text("text").to_string()

    def run() -> loro.LoroDoc:
        fresh = loro.LoroDoc()
        fresh.import_(data)
        return fresh

    fresh = benchmark.pedantic(run, rounds=50, iterations=1)
    assert fresh.get_text("text").to_string() == want

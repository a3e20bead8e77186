"""P8 and P9 (DESIGN §15): text documents on the real editing traces.

P8: ``automerge-paper`` and ``seph-blog1`` replayed into a local ``Doc`` text, one
transaction per txn and all as one, beside ``loro`` and ``pycrdt`` on the same traces in
the same run (pycrdt indexes UTF-8 bytes, so it gets the ``ascii_only`` variant where
there is one); also each engine's peak memory growth, in a fresh process.
P9: ``automerge-paper`` through the whole stack: transactions of at most 1,000 patches,
signed entries in a durable replica, received by a second durable replica and applied to
its document there; and the size of the deep history (every entry's bytes).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import loro
import pycrdt
import pytest

import lattice
from lattice.state import Doc

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from traces import TRACES, edit, load, replay, replay_as_one

P8_TRACES = ["automerge-paper", "seph-blog1"]
SMOKE_TXNS = 1_500
P9_TX_OPS = 1_000
P9_BATCH = 256  # entries per receive, as a peer relays them


def trace(name: str, full_size: bool, ascii_only: bool = False) -> dict[str, Any]:
    path = TRACES / "sequential" / f"{name}.json.gz"
    if ascii_only and (TRACES / "sequential" / "ascii_only" / path.name).exists():
        path = TRACES / "sequential" / "ascii_only" / path.name
    data = load(path)
    if not full_size:
        data["txns"] = data["txns"][:SMOKE_TXNS]
    return data


def _ends(text: str, data: dict[str, Any], full_size: bool) -> None:
    if full_size:
        assert text == data["endContent"]


def loro_replay(data: dict[str, Any], one: bool) -> str:
    return str(loro_replay_doc(data, one).get_text("text").to_string())


def loro_replay_doc(data: dict[str, Any], one: bool = True) -> loro.LoroDoc:
    doc = loro.LoroDoc()
    text = doc.get_text("text")
    for txn in data["txns"]:
        for pos, deleted, inserted in txn["patches"]:
            if deleted:
                text.delete(pos, deleted)
            if inserted:
                text.insert(pos, inserted)
        if not one:
            doc.commit()
    doc.commit()
    return doc


def pycrdt_replay(data: dict[str, Any]) -> str:
    doc = pycrdt.Doc()
    text = doc.get("text", type=pycrdt.Text)
    for txn in data["txns"]:
        with doc.transaction():
            for pos, deleted, inserted in txn["patches"]:
                if deleted:
                    del text[pos : pos + deleted]
                if inserted:
                    text.insert(pos, inserted)
    return str(text)


def lattice_replay(data: dict[str, Any], one: bool) -> str:
    doc = Doc()
    (replay_as_one if one else replay)(doc, data)
    return str(doc.text("text"))


@pytest.mark.benchmark(group="P8 text")
@pytest.mark.parametrize("name", P8_TRACES)
@pytest.mark.parametrize("engine", ["lattice", "loro"])
@pytest.mark.parametrize("mode", ["per_edit", "one_tx"])
def test_p8_replay(benchmark, full_size: bool, name: str, engine: str, mode: str) -> None:  # type: ignore[no-untyped-def]
    data = trace(name, full_size)
    run = lattice_replay if engine == "lattice" else loro_replay
    benchmark.extra_info["edits"] = len(data["txns"])
    text = benchmark.pedantic(run, args=(data, mode == "one_tx"), rounds=3, iterations=1)
    _ends(text, data, full_size)


@pytest.mark.benchmark(group="P8 text")
@pytest.mark.parametrize("name", P8_TRACES)
def test_p8_pycrdt_per_edit(benchmark, full_size: bool, name: str) -> None:  # type: ignore[no-untyped-def]
    data = trace(name, full_size, ascii_only=True)
    benchmark.extra_info["edits"] = len(data["txns"])
    text = benchmark.pedantic(pycrdt_replay, args=(data,), rounds=1, iterations=1)
    _ends(text, data, full_size)


MEMORY_SCRIPT = textwrap.dedent(
    """
    import json, sys
    sys.path.insert(0, {benches!r})
    import bench_docs as b
    engine, name, full = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
    data = b.trace(name, full)
    def rss(field):
        status = open("/proc/self/status").read()
        return int(next(l for l in status.splitlines() if l.startswith(field)).split()[1]) * 1024
    before = rss("VmRSS:")
    keep = (b.lattice_replay if engine == "lattice" else b.loro_replay)(data, False)
    print(json.dumps({{"growth": rss("VmHWM:") - before, "chars": len(keep)}}))
    """
)


@pytest.mark.benchmark(group="P8 memory")
@pytest.mark.parametrize("engine", ["lattice", "loro"])
def test_p8_memory_growth(benchmark, full_size: bool, engine: str) -> None:  # type: ignore[no-untyped-def]
    """Peak RSS growth of a fresh process replaying automerge-paper one edit at a time
    (the trace itself is loaded before the first reading)."""
    script = MEMORY_SCRIPT.format(benches=str(Path(__file__).parent))

    def run() -> dict[str, int]:
        out = subprocess.run(
            [sys.executable, "-c", script, engine, "automerge-paper", "1" if full_size else "0"],
            check=True,
            capture_output=True,
            text=True,
        )
        return dict(json.loads(out.stdout.strip().splitlines()[-1]))

    result = benchmark.pedantic(run, rounds=1, iterations=1)
    benchmark.extra_info["growth"] = result["growth"]
    assert result["growth"] > 0


def transactions(data: dict[str, Any], size: int) -> list[list[list[Any]]]:
    """The trace's patches in transactions of at most ``size`` (txns kept whole)."""
    out: list[list[list[Any]]] = [[]]
    for txn in data["txns"]:
        if out[-1] and len(out[-1]) + len(txn["patches"]) > size:
            out.append([])
        out[-1].extend(txn["patches"])
    return out


@pytest.mark.benchmark(group="P9 whole stack")
def test_p9_whole_stack(benchmark, full_size: bool, tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    data = trace("automerge-paper", full_size)
    txs = transactions(data, P9_TX_OPS)
    writer_id, reader_id = (lattice.Identity.from_seed(bytes([b]) * 32) for b in (0xD1, 0xD2))
    peers = [writer_id.public_key, reader_id.public_key]
    sizes: dict[str, int] = {}

    def setup() -> tuple[tuple[lattice.Replica, lattice.Replica], dict[str, object]]:
        where = tmp_path_factory.mktemp("p9")
        writer = lattice.Replica(writer_id, peers=peers, path=where / "writer.db")
        reader = lattice.Replica(reader_id, peers=peers, path=where / "reader.db")
        return (writer, reader), {}

    def run(writer: lattice.Replica, reader: lattice.Replica) -> str:
        doc, copy = Doc(writer, b"paper"), Doc(reader, b"paper")
        text = doc.text("text")
        for patches in txs:
            with doc.transaction():
                edit(text, patches)
        entries = [e.to_bytes() for e in writer.iter_entries()]
        for i in range(0, len(entries), P9_BATCH):
            reader.receive(entries[i : i + P9_BATCH])
        done = reader.committed()
        if done is not None:
            done.result()
        sizes["entries"], sizes["history_bytes"] = len(entries), sum(map(len, entries))
        result = str(copy.text("text"))
        assert result == str(text) and not copy.rejected
        writer.close()
        reader.close()
        return result

    benchmark.extra_info["edits"] = len(data["txns"])
    text = benchmark.pedantic(run, setup=setup, rounds=1, iterations=1)
    benchmark.extra_info.update(sizes)
    _ends(text, data, full_size)

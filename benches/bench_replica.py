"""P4, P5 and P7 (DESIGN §15) through the Replica API.

P4: ``Replica.receive`` of 200k entries from 8 authors into a durable SQLite store
(target ≥ 40k entries/s, and ≥ 5× a pure-Python reference pipeline built on
``cryptography`` + ``blake3`` + ``sqlite3`` doing the same checks and writes).
P5: the quorum query over all columns through ``replica.matrix`` (N = 1024 and 4096).
P7: peak RSS of a fresh process ingesting 1M entries (target ≤ 600 MB: entries live in
SQLite, not in RAM).
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

import lattice
from lattice import Replica, _lattice

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import reference

SWARM = bytes([5]) * 32
AUTHORS = 8
P4_ENTRIES = 200_000
P4_SMOKE = 2_000
REFERENCE_SHARE = 10  # the reference pipeline runs on 1/10 of the entries: it is slow
BATCH = 1_000
P7_ENTRIES = 1_000_000
P7_SMOKE = 8_000
PAYLOAD = 64


def authors() -> list[lattice.Identity]:
    return [lattice.Identity.from_seed(bytes([0xB0, i]) + bytes(30)) for i in range(AUTHORS)]


def interleaved_logs(total: int) -> list[bytes]:
    """``total`` entries from 8 authors, interleaved in batches as a peer would relay them."""
    logs = [
        _lattice.synthetic_log(a.signing_key, SWARM, total // AUTHORS, PAYLOAD) for a in authors()
    ]
    step = BATCH // AUTHORS
    out: list[bytes] = []
    for start in range(0, total // AUTHORS, step):
        for log in logs:
            out += log[start : start + step]
    return out


@pytest.fixture(scope="module")
def p4_entries(full_size: bool) -> list[bytes]:
    return interleaved_logs(P4_ENTRIES if full_size else P4_SMOKE)


def receiver(path: Path) -> Replica:
    observer = lattice.Identity.from_seed(bytes([0xB1]) * 32)
    peers = [a.public_key for a in authors()] + [observer.public_key]
    return Replica(observer, peers=peers, swarm_id=SWARM, path=path)


@pytest.mark.benchmark(group="P4 ingest")
def test_p4_replica_receive(benchmark, p4_entries, tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    def setup() -> tuple[tuple[Replica], dict[str, object]]:
        return (receiver(tmp_path_factory.mktemp("p4") / "replica.db"),), {}

    def ingest(rep: Replica) -> int:
        delivered = 0
        for i in range(0, len(p4_entries), BATCH):
            delivered += len(rep.receive(p4_entries[i : i + BATCH]).delivered)
        rep.close()
        return delivered

    benchmark.extra_info["entries"] = len(p4_entries)
    delivered = benchmark.pedantic(ingest, setup=setup, rounds=3, iterations=1)
    assert delivered == len(p4_entries)


def reference_ingest(entries: list[bytes], path: Path) -> int:
    """The same pipeline in pure Python: decode and check every rule, verify each signature
    with ``cryptography``, check prev/lipmaa links, store the bytes durably in batches."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute(
        "CREATE TABLE entries (ord INTEGER PRIMARY KEY, id BLOB UNIQUE, author BLOB, "
        "seq INTEGER, lamport INTEGER, bytes BLOB, UNIQUE (author, seq))"
    )
    keys: dict[bytes, ed25519.Ed25519PublicKey] = {}
    heads: dict[bytes, list[bytes]] = {}
    stored = 0
    for i in range(0, len(entries), BATCH):
        rows = []
        for data in entries[i : i + BATCH]:
            e = reference.decode(data)
            entry_id = reference.entry_id(data)
            key = keys.get(e.author) or keys.setdefault(
                e.author, ed25519.Ed25519PublicKey.from_public_bytes(e.author)
            )
            key.verify(e.signature, entry_id)
            log = heads.setdefault(e.author, [])
            assert e.seq == len(log) + 1
            if e.seq > 1:
                assert e.prev == log[-1]
                link = reference.lipmaa(e.seq)
                assert link == e.seq - 1 or e.lipmaa == log[link - 1]
            log.append(entry_id)
            rows.append((entry_id, e.author, e.seq, e.lamport, data))
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT INTO entries (id, author, seq, lamport, bytes) VALUES (?, ?, ?, ?, ?)", rows
        )
        conn.execute("COMMIT")
        stored += len(rows)
    conn.close()
    return stored


@pytest.mark.benchmark(group="P4 ingest")
def test_p4_reference_pipeline(benchmark, p4_entries, tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    """The named baseline, on the first tenth of the same stream (it is slow; the first
    tenth keeps every author's log contiguous from seq 1). Compared as entries/s."""
    share = p4_entries[: max(BATCH, len(p4_entries) // REFERENCE_SHARE)]

    def setup() -> tuple[tuple[list[bytes], Path], dict[str, object]]:
        return (share, tmp_path_factory.mktemp("p4ref") / "ref.db"), {}

    benchmark.extra_info["entries"] = len(share)
    assert benchmark.pedantic(reference_ingest, setup=setup, rounds=1, iterations=1) == len(share)


@pytest.mark.benchmark(group="P5 replica quorum")
@pytest.mark.parametrize("n", [1024, 4096], ids=["N1024", "N4096"])
def test_p5_replica_quorum_query(benchmark, full_size: bool, n: int) -> None:  # type: ignore[no-untyped-def]
    n = n if full_size else n // 32
    ids = [lattice.Identity.from_seed(i.to_bytes(4, "big") + bytes(28)) for i in range(n)]
    peers = [i.public_key for i in ids]
    rep = Replica(ids[0], peers=peers, swarm_id=SWARM)
    rng = np.random.default_rng(n)
    for o in peers:
        rep.matrix.observe(o, dict(zip(peers, rng.integers(1, 100_000, n).tolist(), strict=True)))
    benchmark.extra_info["n"] = n
    result = benchmark(rep.matrix.known_to_quorum)
    q = rep.matrix.quorum
    expected = np.sort(rep.matrix.to_numpy(), axis=0)[n - q]
    assert list(result.values()) == expected.tolist()


P7_SCRIPT = textwrap.dedent(
    """
    import json, sys
    sys.path.insert(0, {benches!r})
    import bench_replica as b
    from lattice import _lattice
    total, path = int(sys.argv[1]), sys.argv[2]
    rep = b.receiver(path)
    per_author = total // b.AUTHORS
    delivered = 0
    for author in b.authors():
        # One author's log at a time: the generator's own memory is not what P7 measures.
        log = _lattice.synthetic_log(author.signing_key, b.SWARM, per_author, b.PAYLOAD)
        for i in range(0, len(log), b.BATCH):
            delivered += len(rep.receive(log[i : i + b.BATCH]).delivered)
        del log
    rep.close()
    # VmHWM, not ru_maxrss: Linux carries the parent's RSS at fork into the child's
    # ru_maxrss across exec, so the benchmark process's own size would be counted.
    status = open("/proc/self/status").read()
    peak = int(next(l for l in status.splitlines() if l.startswith("VmHWM:")).split()[1]) * 1024
    print(json.dumps({{"delivered": delivered, "peak_rss": peak}}))
    """
)


@pytest.mark.benchmark(group="P7 memory")
def test_p7_peak_rss_ingesting(benchmark, full_size: bool, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    total = P7_ENTRIES if full_size else P7_SMOKE
    script = P7_SCRIPT.format(benches=str(Path(__file__).parent))

    def run() -> dict[str, int]:
        db = tmp_path / "p7.db"
        for leftover in tmp_path.glob("p7.db*"):
            leftover.unlink()
        out = subprocess.run(
            [sys.executable, "-c", script, str(total), str(db)],
            check=True,
            capture_output=True,
            text=True,
        )
        return dict(json.loads(out.stdout.strip().splitlines()[-1]))

    result = benchmark.pedantic(run, rounds=1, iterations=1)
    benchmark.extra_info["entries"] = total
    benchmark.extra_info["peak_rss"] = result["peak_rss"]
    assert result["delivered"] == total

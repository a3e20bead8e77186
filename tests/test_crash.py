"""Crash safety (DESIGN §13, §16): SIGKILL during append and ingest, many times.

A separate process appends and ingests in a loop and prints each acknowledged id; the test
kills it at random moments, reopens the store each time, and finds every acknowledged entry
present and the whole store verifying.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import lattice
from lattice import Replica

sys.path.insert(0, str(Path(__file__).parent))
import crash_worker

KILLS = 20
WORKER = Path(__file__).with_name("crash_worker.py")


def run_and_kill(store: Path, rng: random.Random) -> list[bytes]:
    """Start the worker, let it work until a random moment, SIGKILL it; return the ids it
    acknowledged."""
    proc = subprocess.Popen(
        [sys.executable, "-u", str(WORKER), str(store)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    # Wait for the first acknowledgement, then kill at a random moment after it.
    first = proc.stdout.readline()
    assert first, proc.stderr.read().decode() if proc.stderr else "worker died"
    time.sleep(rng.uniform(0.0, 0.4))
    os.kill(proc.pid, signal.SIGKILL)
    rest, err = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL, err.decode()
    acked = []
    for line in [first, *rest.splitlines()]:
        # Every id on a line was durably stored before the line was printed; the kill may
        # cut the last line, leaving a partial id, which is not counted.
        _kind, *ids = line.decode(errors="replace").split() or ["?"]
        acked += [bytes.fromhex(i) for i in ids if len(i) == 64]
    return acked


def verify_store(store: Path) -> Replica:
    ids = crash_worker.identities()
    peers = [i.public_key for i in ids]
    rep = Replica(ids[0], peers=peers, swarm_id=crash_worker.SWARM, path=store)
    for pk in peers:
        log = [e.to_bytes() for e in rep.entries(pk)]
        report = lattice.validate_chain(log, verify_signatures=True) if log else None
        assert report is None or report.ok, report
        assert len(log) == rep.head(pk)
    return rep


def test_sigkill_during_append_and_ingest(tmp_path: Path) -> None:
    store = tmp_path / "crash.db"
    rng = random.Random(20)
    acknowledged: list[bytes] = []
    for _ in range(KILLS):
        acknowledged += run_and_kill(store, rng)
        rep = verify_store(store)
        missing = [i.hex()[:16] for i in acknowledged if rep.get(i) is None]
        assert not missing, f"acknowledged but lost after SIGKILL: {missing}"
        rep.close()
    assert len(acknowledged) > KILLS, "the worker made progress"

"""The store file (DESIGN §13, issue 10's data safety): one opener at a time, created for
its owner only, a corrupt, truncated or closed store a typed StoreError (never a raw
sqlite3 error), and ``faults`` recorded with the membership."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import lattice
from lattice.errors import StoreError
from lattice.net.process import child_env

N = 4


@pytest.fixture
def ids() -> list[lattice.Identity]:
    return [lattice.Identity.from_seed(bytes([i + 1]) * 32) for i in range(N)]


def _filled(path: Path, ids: list[lattice.Identity], count: int = 300) -> None:
    peers = [i.public_key for i in ids]
    rep = lattice.Replica(ids[0], peers=peers, path=path)
    for k in range(count):
        rep.append(b"entry %d " % k + bytes(200))
    rep.close()


def test_a_second_opener_in_this_process_is_refused(tmp_path: Path, ids) -> None:  # type: ignore[no-untyped-def]
    peers = [i.public_key for i in ids]
    path = tmp_path / "a.db"
    first = lattice.Replica(ids[0], peers=peers, path=path)
    with pytest.raises(StoreError, match=f"in use by pid {os.getpid()}"):
        lattice.Replica(ids[0], peers=peers, path=path)
    first.append(b"still mine")
    first.close()
    again = lattice.Replica(ids[0], peers=peers, path=path)  # free once closed
    assert again.head(ids[0].public_key) == 1
    again.close()


@pytest.fixture
def holder(tmp_path: Path, ids) -> Iterator[tuple[Path, subprocess.Popen[str]]]:  # type: ignore[no-untyped-def]
    """Another process holding the store open."""
    path = tmp_path / "held.db"
    code = (
        "import sys, lattice\n"
        "ids = [lattice.Identity.from_seed(bytes([i + 1]) * 32) for i in range(4)]\n"
        "rep = lattice.Replica(ids[0], peers=[i.public_key for i in ids], path=sys.argv[1])\n"
        "print('open', flush=True)\n"
        "sys.stdin.readline()\n"
        "rep.close()\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "open"
    try:
        yield path, proc
    finally:
        assert proc.stdin is not None
        proc.stdin.write("\n")
        proc.stdin.flush()
        proc.wait(30)


def test_a_second_opener_in_another_process_is_told_the_pid(holder, ids) -> None:  # type: ignore[no-untyped-def]
    path, proc = holder
    with pytest.raises(StoreError, match=f"in use by pid {proc.pid}"):
        lattice.Replica(ids[0], peers=[i.public_key for i in ids], path=path)


def test_store_files_are_for_their_owner_only(tmp_path: Path, ids) -> None:  # type: ignore[no-untyped-def]
    old = os.umask(0o022)
    try:
        path = tmp_path / "a.db"
        rep = lattice.Replica(ids[0], peers=[i.public_key for i in ids], path=path)
        rep.append(b"x")
        files = [path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}.lock")]
        for f in files:
            assert f.exists(), f
            assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
        rep.close()
    finally:
        os.umask(old)


@pytest.mark.parametrize("damage", ["truncated", "page overwritten", "not sqlite"])
def test_a_damaged_store_is_a_store_error(tmp_path: Path, ids, damage: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "a.db"
    _filled(path, ids)
    data = bytearray(path.read_bytes())
    assert len(data) > 16 * 4096
    if damage == "truncated":
        data = data[: len(data) // 2 + 100]
    elif damage == "page overwritten":
        for page in range(2, len(data) // 4096):
            data[page * 4096 : page * 4096 + 64] = b"\xa5" * 64
    else:
        data = bytearray(b"this is not a database " * 500)
    path.write_bytes(bytes(data))
    peers = [i.public_key for i in ids]
    with pytest.raises(StoreError) as caught:
        rep = lattice.Replica(ids[0], peers=peers, path=path)
        try:  # some damage only shows when the entries are read
            list(rep.entries())
        finally:
            rep.close()
    assert not isinstance(caught.value, sqlite3.Error)
    # Whatever failed, the store was closed and its lock released: it fails again for
    # what it is, not because it is still in use.
    with pytest.raises(StoreError) as again:
        rep = lattice.Replica(ids[0], peers=peers, path=path)
        try:
            list(rep.entries())
        finally:
            rep.close()
    assert "in use" not in str(again.value)


def test_a_closed_replica_says_so(tmp_path: Path, ids) -> None:  # type: ignore[no-untyped-def]
    rep = lattice.Replica(ids[0], peers=[i.public_key for i in ids], path=tmp_path / "a.db")
    e = rep.append(b"x")
    rep.close()
    with pytest.raises(StoreError, match="closed"):
        rep.entries()
    with pytest.raises(StoreError, match="closed"):
        rep.get(e.id)
    with pytest.raises(StoreError):
        rep.append(b"after close")


def test_faults_are_part_of_the_membership(tmp_path: Path, ids) -> None:  # type: ignore[no-untyped-def]
    peers = [i.public_key for i in ids]
    path = tmp_path / "a.db"
    lattice.Replica(ids[0], peers=peers, path=path, faults=0).close()
    with pytest.raises(StoreError, match="faults = 0, not 1"):
        lattice.Replica(ids[0], peers=peers, path=path)  # the default for 4 peers is 1
    lattice.Replica(ids[0], peers=peers, path=path, faults=0).close()
    # A file from before faults were recorded takes the value it is next opened with.
    conn = sqlite3.connect(path)
    conn.execute("DELETE FROM meta WHERE key = 'faults'")
    conn.commit()
    conn.close()
    lattice.Replica(ids[0], peers=peers, path=path).close()
    with pytest.raises(StoreError, match="faults = 1, not 0"):
        lattice.Replica(ids[0], peers=peers, path=path, faults=0)


def test_the_lock_follows_no_link_and_one_file_has_one_lock(tmp_path: Path, ids) -> None:  # type: ignore[no-untyped-def]
    peers = [i.public_key for i in ids]
    victim = tmp_path / "precious.txt"
    victim.write_text("keep me")
    (tmp_path / "a.db.lock").symlink_to(victim)
    with pytest.raises(StoreError, match="cannot open the lock"):
        lattice.Replica(ids[0], peers=peers, path=tmp_path / "a.db")
    assert victim.read_text() == "keep me"
    (tmp_path / "a.db.lock").unlink()
    real = lattice.Replica(ids[0], peers=peers, path=tmp_path / "a.db")
    (tmp_path / "alias.db").symlink_to(tmp_path / "a.db")
    with pytest.raises(StoreError, match="in use"):
        lattice.Replica(ids[0], peers=peers, path=tmp_path / "alias.db")
    real.close()

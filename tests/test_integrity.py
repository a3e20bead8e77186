# ruff: noqa: E501 - the damage cases read best one statement a line
"""``lattice verify`` and ``lattice.integrity.verify`` (issue 10): a store checked from
scratch reports the first bad position for each kind of damage; opening a store checks
its last entry cheaply."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

import lattice
from lattice.cli import main
from lattice.errors import StoreError
from lattice.integrity import verify
from lattice.net.config import Member, render

N = 3


def _swarm(path: Path) -> tuple[list[lattice.Identity], list[lattice.Entry]]:
    """A store at ``path`` (peer 0's) holding entangled entries of all three peers."""
    ids = [lattice.Identity.from_seed(bytes([i + 1]) * 32) for i in range(N)]
    peers = [i.public_key for i in ids]
    reps = [lattice.Replica(ids[0], peers=peers, path=path)] + [
        lattice.Replica(i, peers=peers) for i in ids[1:]
    ]
    made = []
    for r in range(20):
        for rep in reps:
            e = rep.append(b"round %d" % r) if r % 3 else rep.noop()
            made.append(e)
            for other in reps:
                other.receive([e])
    reps[0].close()
    return ids, made


def _sql(path: Path, statement: str, *args: object) -> None:
    conn = sqlite3.connect(path)
    conn.execute(statement, args)
    conn.commit()
    conn.close()


def _flip_payload(path: Path, author: bytes) -> int:
    conn = sqlite3.connect(path)
    seq, data = conn.execute(
        "SELECT seq, bytes FROM entries WHERE author = ? AND kind = 1 ORDER BY seq LIMIT 1 OFFSET 3",
        (author,),
    ).fetchone()
    bad = bytearray(data)
    bad[-1] ^= 1
    conn.execute(
        "UPDATE entries SET bytes = ? WHERE author = ? AND seq = ?", (bytes(bad), author, seq)
    )
    conn.commit()
    conn.close()
    return int(seq)


def test_an_intact_store_verifies(tmp_path: Path) -> None:
    _, made = _swarm(tmp_path / "a.db")
    verdict = verify(tmp_path / "a.db")
    assert verdict.ok and verdict.entries == len(made), verdict


Damage = Callable[[Path, list[lattice.Identity]], tuple[str, bytes | None, int | None]]


def tampered_payload(
    path: Path, ids: list[lattice.Identity]
) -> tuple[str, bytes | None, int | None]:
    seq = _flip_payload(path, ids[1].public_key)
    return "PayloadMismatch", ids[1].public_key, seq


def missing_entry(path: Path, ids: list[lattice.Identity]) -> tuple[str, bytes | None, int | None]:
    _sql(path, "DELETE FROM entries WHERE author = ? AND seq = 7", ids[2].public_key)
    return "seq 7 is missing", ids[2].public_key, 7


def wrong_index(path: Path, ids: list[lattice.Identity]) -> tuple[str, bytes | None, int | None]:
    _sql(
        path,
        "UPDATE entries SET lamport = lamport + 1 WHERE author = ? AND seq = 5",
        ids[0].public_key,
    )
    return "index columns", ids[0].public_key, 5


def wrong_cell(path: Path, ids: list[lattice.Identity]) -> tuple[str, bytes | None, int | None]:
    _sql(path, "UPDATE cells SET seq = seq + 3 WHERE observer = 1 AND sender = 2")
    return "matrix cell (1, 2)", ids[1].public_key, None


def forged_signature(
    path: Path, ids: list[lattice.Identity]
) -> tuple[str, bytes | None, int | None]:
    conn = sqlite3.connect(path)
    (data,) = conn.execute(
        "SELECT bytes FROM entries WHERE author = ? AND seq = 4", (ids[1].public_key,)
    ).fetchone()
    bad = bytearray(data)
    bad[lattice.HEADER_LEN + 5] ^= 0xFF  # inside the signature
    conn.execute(
        "UPDATE entries SET bytes = ? WHERE author = ? AND seq = 4", (bytes(bad), ids[1].public_key)
    )
    conn.commit()
    conn.close()
    return "InvalidSignature", ids[1].public_key, 4


DAMAGE = {
    f.__name__.replace("_", " "): f
    for f in (tampered_payload, missing_entry, wrong_index, wrong_cell, forged_signature)
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_damage_is_found_at_its_position(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "a.db"
    ids, _ = _swarm(path)
    problem, author, seq = DAMAGE[damage](path, ids)
    verdict = verify(path)
    assert not verdict.ok
    assert problem in (verdict.problem or ""), verdict
    assert verdict.author == author, verdict
    if seq is not None:
        assert verdict.seq == seq, verdict


def test_lattice_verify_on_the_command_line(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    ids, made = _swarm(path)
    ids[0].save(tmp_path / "a.key")
    cfg = tmp_path / "a.toml"
    cfg.write_text(
        render(
            identity="a.key",
            swarm_id=bytes(32),
            members=[Member(f"p{i}", k.public_key) for i, k in enumerate(ids)],
            store="a.db",
        )
    )
    ok = CliRunner().invoke(main, ["verify", "--config", str(cfg)])
    assert ok.exit_code == 0 and f"{len(made)} entries verified" in ok.output, ok.output
    seq = _flip_payload(path, ids[1].public_key)
    bad = CliRunner().invoke(main, ["verify", "--config", str(cfg)])
    assert bad.exit_code == 1 and "Traceback" not in bad.output
    assert f"seq {seq}" in bad.output and "PayloadMismatch" in bad.output


def test_opening_checks_the_last_entry(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    ids, _ = _swarm(path)
    conn = sqlite3.connect(path)
    ord_, data = conn.execute("SELECT ord, bytes FROM entries ORDER BY ord DESC LIMIT 1").fetchone()
    conn.execute("UPDATE entries SET bytes = ? WHERE ord = ?", (bytes(data)[:-1] + b"\x00", ord_))
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match=r"last entry .* is damaged"):
        lattice.Replica(ids[0], peers=[i.public_key for i in ids], path=path)

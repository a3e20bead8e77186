"""The control socket and configuration files: what they refuse, and how."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import pytest

import lattice
from lattice.errors import InvalidArgument
from lattice.net.config import Member, load, render
from lattice.net.control import request, serve_control


class _Dummy:
    def status(self) -> dict[str, object]:
        return {"ok": 1}


def test_stale_live_and_foreign_control_paths(tmp_path: Path) -> None:
    stale = tmp_path / "stale.sock"
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(stale))
    s.close()  # left behind, nobody listening

    async def run() -> None:
        server = await serve_control(_Dummy(), stale)  # type: ignore[arg-type]
        assert stale.stat().st_mode & 0o777 == 0o600
        with pytest.raises(InvalidArgument, match="another node"):
            await serve_control(_Dummy(), stale)  # type: ignore[arg-type]
        reply = await asyncio.to_thread(request, stale, {"op": "status"})
        assert reply["status"] == {"ok": 1}
        with pytest.raises(InvalidArgument, match="unknown control op"):
            await asyncio.to_thread(request, stale, {"op": "nope"})
        # A request that is not an object gets an error reply, not a dead connection.
        with socket.socket(socket.AF_UNIX) as c:
            c.connect(str(stale))
            c.sendall(b"[1, 2]\n")
            answer = json.loads(await asyncio.to_thread(c.recv, 4096))
            assert answer["ok"] is False and answer["error"] == "InvalidArgument"
        server.close()

    asyncio.run(run())
    foreign = tmp_path / "store.db"
    foreign.write_bytes(b"not a socket")
    with pytest.raises(InvalidArgument, match="not a socket"):
        asyncio.run(serve_control(_Dummy(), foreign))  # type: ignore[arg-type]
    assert foreign.read_bytes() == b"not a socket", "never unlinked"


def _write(path: Path, **changes: object) -> Path:
    members = [Member('a "quoted"', bytes([1]) * 32), Member("b", bytes([2]) * 32, ("h", 1))]
    text = render(identity="a.key", swarm_id=bytes(32), members=members)
    for key, value in changes.items():
        text += f"{key}\n" if value is None else ""
    path.write_text(text + "".join(str(v) for v in changes.values() if v is not None))
    return path


def test_config_round_trip_and_refusals(tmp_path: Path) -> None:
    cfg = load(_write(tmp_path / "ok.toml"))
    assert [m.name for m in cfg.members] == ['a "quoted"', "b"]
    assert cfg.store == tmp_path / "a.db" and cfg.control == tmp_path / "a.sock"
    bad = {
        "credit below one entry": "[limits]\ncredit = 1000\n",
        "non-positive limit": "[limits]\nidle_timeout = 0\n",
        "unknown limit": "[limits]\nspeed = 3\n",
    }
    for name, extra in bad.items():
        with pytest.raises(InvalidArgument):
            load(_write(tmp_path / f"{len(name)}.toml", extra=extra))
    dup = render(
        identity="a.key",
        swarm_id=bytes(32),
        members=[Member("a", bytes([1]) * 32), Member("a", bytes([2]) * 32)],
    )
    (tmp_path / "dup.toml").write_text(dup)
    with pytest.raises(InvalidArgument, match="twice"):
        load(tmp_path / "dup.toml")
    zero = render(identity="a.key", swarm_id=bytes(32), members=[Member("a", bytes(32))],
                  noop_interval=0)  # fmt: skip
    (tmp_path / "zero.toml").write_text(zero)
    with pytest.raises(InvalidArgument, match="noop_interval"):
        load(tmp_path / "zero.toml")
    assert lattice.MAX_ENTRY_LEN > 1000

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
from lattice.net.control import MAX_REQUEST_LEN, request, serve_control


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


class _Appender(_Dummy):
    """A control target that records appends (status, matrix and append are all real
    control ops; only the node behind them is left out)."""

    def __init__(self) -> None:
        self.appended: list[bytes] = []

    def matrix(self) -> dict[str, object]:
        return {}

    def append(self, payload: bytes) -> lattice.Entry:
        self.appended.append(payload)
        key = lattice.Identity.from_seed(bytes(32)).signing_key
        return lattice.Entry.create(key, swarm=bytes(32), seq=1, lamport=1, payload=payload)

    async def durable(self) -> None:
        return None

    async def writable(self, timeout: float) -> None:
        return None


@pytest.mark.parametrize(
    ("line", "error", "message"),
    [
        (b"\xff\xfe{}\n", "InvalidArgument", "UTF-8"),
        (b"[" * 100_000 + b"\n", "InvalidArgument", "nests at most"),
        (b'{"op": "append", "x": {"a": {"b": {"c": {"d": 1}}}}}\n', "InvalidArgument", "nests"),
        (b'{"op": "append"}\n', "InvalidArgument", "needs a payload"),
        (b'{"op": "append", "payload": 5}\n', "InvalidArgument", "needs a payload"),
        (b'{"op": "append", "payload": "zz"}\n', "InvalidArgument", "hex"),
        (b"not json\n", "InvalidArgument", "one JSON object"),
        (b'{"op": 1}\n', "InvalidArgument", "unknown control op"),
        (b"x" * (MAX_REQUEST_LEN + 10) + b"\n", "LimitExceeded", "at most"),
    ],
    ids=["bad utf-8", "deep list", "deep object", "no payload", "payload not text",
         "payload not hex", "not json", "op not text", "too long"],
)  # fmt: skip
def test_malformed_requests_get_typed_answers(
    tmp_path: Path, line: bytes, error: str, message: str
) -> None:
    path = tmp_path / "c.sock"
    target = _Appender()

    async def run() -> None:
        server = await serve_control(target, path)  # type: ignore[arg-type]
        try:
            reader, writer = await asyncio.open_unix_connection(str(path))
            writer.write(line)
            await writer.drain()
            reply = json.loads(await asyncio.wait_for(reader.readline(), 30))
            assert reply["ok"] is False and reply["error"] == error, reply
            assert message in reply["message"], reply
            assert hasattr(lattice.errors, reply["error"])
            writer.close()
            # The server is still there, and nothing was appended.
            ok = await asyncio.to_thread(request, path, {"op": "status"})
            assert ok["status"] == {"ok": 1}
            assert target.appended == []
            done = await asyncio.to_thread(request, path, {"op": "append", "payload": "6869"})
            assert done["seq"] == 1 and target.appended == [b"hi"]
        finally:
            server.close()

    asyncio.run(run())


def test_a_refusal_reason_carries_no_control_characters() -> None:
    from lattice.net import wire

    body = wire.encode(wire.Refused("bad \x1b[31mred\x1b[0m\nnews"))
    decoded = wire.decode(body)
    assert isinstance(decoded, wire.Refused)
    assert decoded.reason == "bad ?[31mred?[0m?news"

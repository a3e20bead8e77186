"""The local control interface of a running node (``lattice status``, ``append``,
``matrix``): a Unix socket next to the store, one JSON object per line each way. Only the
node's own user can use it (the socket is created mode 0600).

Requests: ``{"op": "status"}``, ``{"op": "matrix"}``,
``{"op": "append", "payload": "<hex>"}``. Every reply has ``"ok"``; failures carry
``"error"`` (the exception class) and ``"message"``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lattice.errors import InvalidArgument, LatticeError

if TYPE_CHECKING:
    from lattice.node import Node

__all__ = ["MAX_REQUEST_LEN", "request", "serve_control"]

#: Longest request line accepted (an append of up to 1 MiB, hex-encoded).
MAX_REQUEST_LEN = 3 * 1024 * 1024


def _handle(node: Node, req: dict[str, Any]) -> dict[str, Any]:
    op = req.get("op")
    if op == "status":
        return {"ok": True, "status": node.status()}
    if op == "matrix":
        return {"ok": True, "matrix": node.matrix()}
    if op == "append":
        try:
            payload = bytes.fromhex(str(req.get("payload", "")))
        except ValueError:
            raise InvalidArgument("payload must be hex") from None
        entry = node.append(payload)
        return {"ok": True, "id": entry.id.hex(), "seq": entry.seq}
    raise InvalidArgument(f"unknown control op {op!r}")


async def serve_control(node: Node, path: Path) -> asyncio.Server:
    """Serve the control socket of ``node`` at ``path``."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                try:
                    reply = _handle(node, json.loads(line))
                except (LatticeError, ValueError) as exc:
                    reply = {"ok": False, "error": type(exc).__name__, "message": str(exc)}
                writer.write(json.dumps(reply).encode() + b"\n")
                await writer.drain()
        except (ConnectionError, asyncio.LimitOverrunError, ValueError):
            pass
        finally:
            writer.close()

    old = os.umask(0o177)
    try:
        server = await asyncio.start_unix_server(client, path, limit=MAX_REQUEST_LEN)
    finally:
        os.umask(old)
    return server


def request(path: Path, req: dict[str, Any], timeout: float = 30.0) -> dict[str, Any]:
    """Send one request to the node whose control socket is ``path``; returns the reply
    (raises :class:`InvalidArgument` if no node is running there, or on a failure)."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(str(path))
            s.sendall(json.dumps(req).encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = s.recv(1 << 16)
                if not chunk:
                    break
                data += chunk
    except OSError as exc:
        raise InvalidArgument(
            f"no node answers on {path}: {exc} (is `lattice node run` up?)"
        ) from exc
    reply: dict[str, Any] = json.loads(data)
    if not reply.get("ok"):
        raise InvalidArgument(f"{reply.get('error')}: {reply.get('message')}")
    return reply

"""The local control interface of a running node (``lattice status``, ``append``,
``matrix``): a Unix socket next to the store, one JSON object per line each way. Only the
node's own user can use it (the socket is created mode 0600).

Requests: ``{"op": "status"}``, ``{"op": "matrix"}``,
``{"op": "append", "payload": "<hex>"}``, ``{"op": "vouch", "subject": "<hex key>",
"revoke": false}`` (a VOUCH entry by this registered peer, DESIGN §11), and the document
ops ``doc_show``, ``doc_insert`` and ``doc_delete`` (:mod:`lattice.net.documents`,
``lattice doc``), and the state machine ops ``publish``, ``machine_show``, ``machine_submit`` and
``machine_query`` (:mod:`lattice.net.machines`, ``lattice attest``, ``lattice machine``), and
the grid ops ``grid_submit``, ``grid_status``, ``grid_list``, ``grid_result`` and
``grid_cancel`` (:mod:`lattice.net.gridhost`, ``lattice grid``). Every
reply has ``"ok"``; failures carry ``"error"`` (the exception class) and ``"message"``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import stat
from pathlib import Path
from typing import Any, Protocol

from rich.table import Table

from lattice import _lattice
from lattice.entry import Kind
from lattice.errors import InvalidArgument, LatticeError, LimitExceeded
from lattice.identity import Identity
from lattice.net.documents import DOC_OPS, EDIT_OPS, Documents
from lattice.net.gridhost import GRID_OPS, GridHost
from lattice.net.machines import MACHINE_OPS
from lattice.replica import Replica
from lattice.sybil.records import Vouch

__all__ = [
    "MAX_REQUEST_DEPTH",
    "MAX_REQUEST_LEN",
    "ControlTarget",
    "matrix_table",
    "request",
    "serve_control",
]

log = logging.getLogger("lattice.control")

#: Longest request line accepted (an append of up to 1 MiB, hex-encoded).
MAX_REQUEST_LEN = 3 * 1024 * 1024
#: Seconds an append waits for a node that may not sign yet (it is comparing its own log
#: with a peer's) before it is refused.
APPEND_WAIT = 8.0
#: Deepest nesting of a request (they are flat objects; the margin is for later ones).
MAX_REQUEST_DEPTH = 4


def matrix_table(matrix: dict[str, Any], title: str) -> Table:
    """A ``matrix`` reply as a table: rows observe, columns are seen, then what is known
    to all and to a quorum."""
    table = Table(title=title)
    table.add_column("observer")
    for name in matrix["peers"]:
        table.add_column(name, justify="right")
    for name, row in zip(matrix["peers"], matrix["rows"], strict=True):
        table.add_row(name, *(str(v) for v in row))
    table.add_row("known to all", *(str(v) for v in matrix["known_to_all"]))
    table.add_row(
        f"known to q={matrix['quorum']}", *(str(v) for v in matrix["known_to_quorum"]), style="bold"
    )
    return table


class ControlTarget(Protocol):
    """What the control socket serves: a :class:`~lattice.net.node.Node` is one."""

    documents: Documents
    grid: GridHost | None

    def status(self) -> dict[str, object]: ...

    def matrix(self) -> dict[str, object]: ...

    def append(self, payload: bytes, kind: Kind = ...) -> _lattice.Entry: ...

    @property
    def identity(self) -> Identity: ...

    @property
    def replica(self) -> Replica: ...

    async def writable(self, timeout: float) -> None: ...

    async def durable(self) -> None: ...


async def _handle(node: ControlTarget, req: object) -> dict[str, Any]:
    if not isinstance(req, dict):
        raise InvalidArgument("a request is a JSON object")
    op = req.get("op")
    if op == "status":
        return {"ok": True, "status": node.status()}
    if op == "matrix":
        return {"ok": True, "matrix": node.matrix()}
    if op == "append":
        hex_payload = req.get("payload")
        if not isinstance(hex_payload, str):
            raise InvalidArgument("append needs a payload: a string of hex digits")
        try:
            payload = bytes.fromhex(hex_payload)
        except ValueError:
            raise InvalidArgument("payload must be hex") from None
        await node.writable(APPEND_WAIT)  # a node just started may still check its head
        entry = node.append(payload)
        await node.durable()  # acknowledged once stored
        return {"ok": True, "id": entry.id.hex(), "seq": entry.seq}
    if op == "vouch":
        return await _vouch(node, req)
    if op in GRID_OPS:
        if node.grid is None:
            raise InvalidArgument("this node owns no grid: add a [grid] table to its config")
        return await node.grid.handle(req)
    if op in DOC_OPS or op in MACHINE_OPS:
        edits = op in EDIT_OPS
        if edits:
            await node.writable(APPEND_WAIT)
        reply = node.documents.handle(req)
        if edits:
            await node.durable()  # acknowledged once stored
        return reply
    raise InvalidArgument(f"unknown control op {op!r}")


async def _vouch(node: ControlTarget, req: dict[str, Any]) -> dict[str, Any]:
    """This registered peer vouches for (or revokes) an open identity: a VOUCH entry."""
    subject, revoke = req.get("subject"), req.get("revoke", False)
    if not isinstance(subject, str) or not isinstance(revoke, bool):
        raise InvalidArgument("vouch needs a subject (a key in hex) and revoke (true or false)")
    try:
        key = bytes.fromhex(subject)
    except ValueError:
        raise InvalidArgument("subject must be hex") from None
    if node.replica.trust is None:
        raise InvalidArgument("this swarm has no admission policy ([admission]): no vouches")
    await node.writable(APPEND_WAIT)
    vouch = Vouch.create(node.identity, node.replica.swarm_id, key, revoke=revoke)
    entry = node.append(vouch.to_bytes(), Kind.VOUCH)
    await node.durable()
    return {"ok": True, "id": entry.id.hex(), "seq": entry.seq}


def _parse(line: bytes) -> object:
    """One request line as JSON, or a typed error: bytes that are not UTF-8, text that is
    not JSON, or nesting beyond ``MAX_REQUEST_DEPTH`` (requests are flat objects)."""
    try:
        text = line.decode()
    except UnicodeDecodeError as exc:
        raise InvalidArgument(f"a control request is UTF-8 JSON: {exc}") from None
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_REQUEST_DEPTH:
                raise InvalidArgument(
                    f"a control request nests at most {MAX_REQUEST_DEPTH} levels deep"
                )
        elif ch in "]}":
            depth -= 1
    try:
        return json.loads(text)
    except ValueError as exc:
        raise InvalidArgument(f"a control request is one JSON object per line: {exc}") from None


def _failure(exc: LatticeError) -> dict[str, Any]:
    return {"ok": False, "error": type(exc).__name__, "message": str(exc)}


def _answer(writer: asyncio.StreamWriter, reply: dict[str, Any]) -> None:
    writer.write(json.dumps(reply).encode() + b"\n")


def _clear_stale(path: Path) -> None:
    """Remove a socket left behind by a node that died; refuse to touch anything else."""
    if not path.exists() and not path.is_symlink():
        return
    if not stat.S_ISSOCK(path.lstat().st_mode):
        raise InvalidArgument(f"control path {path} exists and is not a socket")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(str(path))
        except OSError:
            path.unlink()  # nobody listens: stale
            return
    raise InvalidArgument(f"another node is running with control socket {path}")


async def serve_control(node: ControlTarget, path: Path) -> asyncio.Server:
    """Serve the control socket of ``node`` at ``path`` (mode 0600)."""
    _clear_stale(path)

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    line = await reader.readline()
                except ValueError:  # longer than the limit: answered, then closed
                    _answer(writer, _failure(LimitExceeded(
                        f"a control request is at most {MAX_REQUEST_LEN} bytes"
                    )))  # fmt: skip
                    await writer.drain()
                    return
                if not line:
                    return
                try:
                    reply = await _handle(node, _parse(line))
                except LatticeError as exc:
                    reply = _failure(exc)
                except Exception as exc:  # a bug: answered and logged, the node goes on
                    log.exception("control request failed")
                    reply = {"ok": False, "error": type(exc).__name__, "message": str(exc)}
                _answer(writer, reply)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    try:
        server = await asyncio.start_unix_server(client, path, limit=MAX_REQUEST_LEN)
    except OSError as exc:
        raise InvalidArgument(
            f"cannot serve the control socket {path}: {exc.strerror or exc}"
        ) from exc
    os.chmod(path, 0o600)
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
    try:
        reply: dict[str, Any] = json.loads(data)
    except ValueError:
        raise InvalidArgument(f"the node on {path} gave no valid reply") from None
    if not isinstance(reply, dict) or not reply.get("ok"):
        raise InvalidArgument(f"{reply.get('error')}: {reply.get('message')}")
    return reply

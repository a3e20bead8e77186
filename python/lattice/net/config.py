"""Node configuration in TOML (DESIGN §7).

Relative paths are relative to the configuration file. Every field but the identity,
the swarm and its members has a default::

    [node]
    identity = "a.key"            # lattice keygen --out a.key
    listen = "127.0.0.1:7001"
    store = "a.db"                # SQLite, created on first start
    role = "peer"                 # peer | client | guest
    noop_interval = 1.0           # seconds between periodic noops (if anything changed)
    control = "a.sock"            # local control socket (default: next to the store)
    home = "b"                    # clients: the member whose node they talk to

    [swarm]
    id = "00…00"                  # 64 hex digits
    faults = 1                    # optional; default ⌊(N − 1) / 3⌋
    clients = ["…"]               # the clients this node is the home peer of (default: none)
    open_clients = false          # true: any key may be a client (quotas still apply; warned)

    [[swarm.members]]
    name = "a"
    public_key = "…"              # 64 hex digits
    address = "127.0.0.1:7001"    # optional: where to dial it

    [limits]                      # optional: lattice.net.connection.Limits, pending caps
    handshake_timeout = 5.0
    idle_timeout = 30.0
    write_timeout = 10.0
    ping_interval = 5.0
    credit = 8388608
    max_queue_bytes = 33554432
    max_pending_bytes = 67108864
    store_busy_timeout = 30.0     # seconds a commit waits for a lock held by another process
    client_ops_per_minute = 600   # per client key, across its connections
    client_bytes_per_minute = 16777216
    reconnect_min = 0.2
    reconnect_max = 10.0

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "n.toml").write_text('''
... [node]
... identity = "n.key"
... [swarm]
... id = "''' + "00" * 32 + '''"
... [[swarm.members]]
... name = "n"
... public_key = "''' + "11" * 32 + '''"
... ''')
>>> cfg = load(d / "n.toml")
>>> cfg.store == d / "n.db", cfg.members[0].name, cfg.limits.idle_timeout
(True, 'n', 30.0)
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from lattice import _lattice
from lattice.errors import InvalidArgument
from lattice.net.connection import Limits
from lattice.net.quota import DEFAULT_CLIENT_BYTES_PER_MINUTE, DEFAULT_CLIENT_OPS_PER_MINUTE
from lattice.writer import DEFAULT_BUSY_TIMEOUT

__all__ = ["Member", "NodeConfig", "load", "render"]

ROLES = {"peer": _lattice.ROLE_PEER, "client": _lattice.ROLE_CLIENT, "guest": _lattice.ROLE_GUEST}
DEFAULT_NOOP_INTERVAL = 1.0
DEFAULT_RECONNECT_MIN = 0.2
DEFAULT_RECONNECT_MAX = 10.0


@dataclass(frozen=True)
class Member:
    """A registered peer of the swarm."""

    name: str
    public_key: bytes
    address: tuple[str, int] | None = None


@dataclass(frozen=True)
class NodeConfig:
    """Everything a node needs to run."""

    identity: Path
    swarm_id: bytes
    members: tuple[Member, ...]
    listen: tuple[str, int] | None = None
    store: Path | None = None
    role: str = "peer"
    noop_interval: float = DEFAULT_NOOP_INTERVAL
    control: Path | None = None
    faults: int | None = None
    clients: tuple[bytes, ...] | None = None
    #: Any key may be a client (with no ``clients`` list). Off by default: closed.
    open_clients: bool = False
    home: str | None = None
    limits: Limits = field(default_factory=Limits)
    max_pending_bytes: int | None = None
    #: Seconds a store commit waits for a lock held by another connection before it fails.
    store_busy_timeout: float = DEFAULT_BUSY_TIMEOUT
    #: Per-client quotas of a home peer, per minute, across a client's connections.
    client_ops_per_minute: int = DEFAULT_CLIENT_OPS_PER_MINUTE
    client_bytes_per_minute: int = DEFAULT_CLIENT_BYTES_PER_MINUTE
    reconnect_min: float = DEFAULT_RECONNECT_MIN
    reconnect_max: float = DEFAULT_RECONNECT_MAX
    password: str | None = None

    @property
    def peers(self) -> list[bytes]:
        """The membership list, in order: the matrix is indexed by it."""
        return [m.public_key for m in self.members]

    def member(self, name: str) -> Member:
        for m in self.members:
            if m.name == name:
                return m
        raise InvalidArgument(f"no member named {name!r}")


def _address(value: Any, what: str) -> tuple[str, int]:
    if not isinstance(value, str) or ":" not in value:
        raise InvalidArgument(f"{what} must be 'host:port', got {value!r}")
    host, _, port = value.rpartition(":")
    try:
        return host.strip("[]"), int(port)
    except ValueError:
        raise InvalidArgument(f"{what}: bad port in {value!r}") from None


def _hex32(value: Any, what: str) -> bytes:
    try:
        out = bytes.fromhex(value)
    except (TypeError, ValueError):
        raise InvalidArgument(f"{what} must be 64 hex digits") from None
    if len(out) != 32:
        raise InvalidArgument(f"{what} must be 32 bytes (64 hex digits), got {len(out)}")
    return out


def load(path: str | os.PathLike[str]) -> NodeConfig:
    """Read and check a node configuration file (:class:`InvalidArgument` says what is
    wrong, and where)."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InvalidArgument(f"cannot read {path}: {exc}") from exc
    base = path.parent
    node = raw.get("node", {})
    swarm = raw.get("swarm", {})
    if "identity" not in node:
        raise InvalidArgument(f"{path}: [node] identity is required")
    members = tuple(
        Member(
            name=str(m.get("name", i)),
            public_key=_hex32(m.get("public_key"), f"{path}: members[{i}].public_key"),
            address=_address(m["address"], f"{path}: members[{i}].address")
            if "address" in m
            else None,
        )
        for i, m in enumerate(swarm.get("members", []))
    )
    if not members:
        raise InvalidArgument(f"{path}: [[swarm.members]] must list the swarm's peers")
    role = node.get("role", "peer")
    if role not in ROLES:
        raise InvalidArgument(f"{path}: role must be one of {sorted(ROLES)}, got {role!r}")
    limit_names = {f.name for f in fields(Limits)}
    limits_raw = raw.get("limits", {})
    unknown = (
        set(limits_raw)
        - limit_names
        - {
            "max_pending_bytes",
            "store_busy_timeout",
            "client_ops_per_minute",
            "client_bytes_per_minute",
            "reconnect_min",
            "reconnect_max",
        }
    )
    if unknown:
        raise InvalidArgument(f"{path}: unknown [limits] keys {sorted(unknown)}")
    for key, value in limits_raw.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise InvalidArgument(f"{path}: [limits] {key} must be a positive number")
    limits = Limits(**{k: v for k, v in limits_raw.items() if k in limit_names})
    if not _lattice.MAX_ENTRY_LEN <= limits.credit < 2**32:
        raise InvalidArgument(
            f"{path}: [limits] credit must be at least one entry ({_lattice.MAX_ENTRY_LEN} "
            f"bytes) and below 2^32"
        )
    names = [m.name for m in members]
    keys = [m.public_key for m in members]
    if len(set(names)) != len(names) or len(set(keys)) != len(keys):
        raise InvalidArgument(f"{path}: a member name or key appears twice")
    try:
        noop_interval = float(node.get("noop_interval", DEFAULT_NOOP_INTERVAL))
    except (TypeError, ValueError):
        raise InvalidArgument(f"{path}: noop_interval must be a number") from None
    if noop_interval <= 0:
        raise InvalidArgument(f"{path}: noop_interval must be positive")

    def rel(value: str | None, default: str | None = None) -> Path | None:
        chosen = value if value is not None else default
        return None if chosen is None else (base / chosen)

    identity = rel(node["identity"])
    assert identity is not None
    stem = Path(node["identity"]).stem
    # The control socket sits next to the store: two nodes of one identity (the
    # adversary's twins) have two stores, and so two sockets.
    store_name = node.get("store", f"{stem}.db")
    return NodeConfig(
        identity=identity,
        swarm_id=_hex32(swarm.get("id"), f"{path}: [swarm] id"),
        members=members,
        listen=_address(node["listen"], f"{path}: listen") if "listen" in node else None,
        store=rel(store_name),
        role=role,
        noop_interval=noop_interval,
        control=rel(node.get("control"), f"{Path(store_name).stem}.sock"),
        faults=swarm.get("faults"),
        clients=tuple(_hex32(c, f"{path}: clients") for c in swarm["clients"])
        if "clients" in swarm
        else None,
        open_clients=_flag(swarm, "open_clients", path),
        home=node.get("home"),
        limits=limits,
        max_pending_bytes=limits_raw.get("max_pending_bytes"),
        store_busy_timeout=float(limits_raw.get("store_busy_timeout", DEFAULT_BUSY_TIMEOUT)),
        client_ops_per_minute=int(
            limits_raw.get("client_ops_per_minute", DEFAULT_CLIENT_OPS_PER_MINUTE)
        ),
        client_bytes_per_minute=int(
            limits_raw.get("client_bytes_per_minute", DEFAULT_CLIENT_BYTES_PER_MINUTE)
        ),
        reconnect_min=float(limits_raw.get("reconnect_min", DEFAULT_RECONNECT_MIN)),
        reconnect_max=float(limits_raw.get("reconnect_max", DEFAULT_RECONNECT_MAX)),
        password=node.get("password"),
    )


def _flag(table: dict[str, Any], key: str, path: object) -> bool:
    value = table.get(key, False)
    if not isinstance(value, bool):
        raise InvalidArgument(f"{path}: {key} must be true or false, got {value!r}")
    return value


def render(
    *,
    identity: str,
    swarm_id: bytes,
    members: Sequence[Member],
    listen: tuple[str, int] | None = None,
    store: str | None = None,
    control: str | None = None,
    role: str = "peer",
    home: str | None = None,
    noop_interval: float | None = None,
    limits: dict[str, float] | None = None,
    clients: Sequence[bytes] | None = None,
    open_clients: bool = False,
) -> str:
    """The TOML text of a configuration (what :func:`load` reads back).

    >>> text = render(identity="a.key", swarm_id=bytes(32), members=[Member("a", bytes(32))])
    >>> "[[swarm.members]]" in text and 'identity = "a.key"' in text
    True
    """
    # JSON string literals are valid TOML basic strings: quotes and controls escaped.
    q = json.dumps
    lines = ["[node]", f"identity = {q(identity)}", f"role = {q(role)}"]
    for key, value in (("store", store), ("control", control), ("home", home)):
        if value is not None:
            lines.append(f"{key} = {q(value)}")
    if listen is not None:
        lines.append(f"listen = {q(f'{listen[0]}:{listen[1]}')}")
    if noop_interval is not None:
        lines.append(f"noop_interval = {noop_interval}")
    lines += ["", "[swarm]", f'id = "{swarm_id.hex()}"']
    if clients is not None:
        lines.append("clients = [" + ", ".join(f'"{c.hex()}"' for c in clients) + "]")
    if open_clients:
        lines.append("open_clients = true")
    lines.append("")
    for m in members:
        lines += [
            "[[swarm.members]]",
            f"name = {q(m.name)}",
            f'public_key = "{m.public_key.hex()}"',
        ]
        if m.address is not None:
            lines.append(f"address = {q(f'{m.address[0]}:{m.address[1]}')}")
        lines.append("")
    if limits:
        lines.append("[limits]")
        lines += [f"{k} = {v}" for k, v in limits.items()]
    return "\n".join(lines) + "\n"

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
    password_file = "a.pass"      # the key's password, if it has one (first line)
    offline = false               # true: sign before a peer has confirmed this node's head

    [swarm]
    id = "00…00"                  # 64 hex digits
    faults = 1                    # optional; default ⌊(N − 1) / 3⌋
    clients = ["…"]               # the clients this node is the home peer of (default: none)
    open_clients = false          # true: any key may be a client (quotas still apply; warned)

    [[swarm.members]]
    name = "a"
    public_key = "…"              # 64 hex digits
    address = "127.0.0.1:7001"    # optional: where to dial it

    [[shares]]                    # documents this node hands to guests (DESIGN §8)
    doc = "notes"                 # a doc id (at most 64 UTF-8 bytes)
    guests = ["…"]                # the guests' public keys (64 hex digits each)

    [trust]                       # optional: builders of Wasm state machines (DESIGN §10)
    threshold = 2                 # lattice.net.trustconfig
    [[trust.builders]]
    name = "alice"
    public_key = "…"

    [attestation]                 # optional: remote attestation in handshakes (§10)
    backend = "software"          # what it proves: none, software or tpm
    require = "software"          # what registered peers must prove (needs [trust])

    [admission]                   # optional: Sybil resistance (DESIGN §11), every peer alike
    min_bits = 20                 # an open identity's proof of work, or …
    hops = 2                      # … vouches within this many hops of the registered peers
    max_vouches = 16              # vouches one open identity may give

    [grid]                        # optional: own a compute grid (DESIGN §12; needs
    max_workers = 64              # [admission]): workers connected at once

    [limits]                      # optional: lattice.net.connection.Limits, pending caps
    handshake_timeout = 5.0
    idle_timeout = 30.0
    write_timeout = 10.0
    ping_interval = 5.0
    frame_timeout = 60.0          # a frame that has begun must be complete within this
    credit = 8388608
    max_queue_bytes = 33554432
    max_pending_bytes = 67108864
    store_busy_timeout = 30.0     # seconds a commit waits for a lock held by another process
    client_ops_per_minute = 600   # per client key, across its connections
    client_bytes_per_minute = 16777216
    reconnect_min = 0.2
    reconnect_max = 10.0
    max_partial_bytes = 67108864  # partially received frames, all connections together
    max_stranger_partial_bytes = 16777216   # the part clients and guests share

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

import difflib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from lattice import _lattice
from lattice.errors import InvalidArgument
from lattice.net import framebudget
from lattice.net.checks import ConfigFile
from lattice.net.connection import Limits
from lattice.net.quota import DEFAULT_CLIENT_BYTES_PER_MINUTE, DEFAULT_CLIENT_OPS_PER_MINUTE
from lattice.net.trustconfig import AttestationConfig, TrustConfig, parse_attestation
from lattice.net.trustconfig import parse as parse_trust
from lattice.sybil.graph import AdmissionPolicy
from lattice.writer import DEFAULT_BUSY_TIMEOUT

__all__ = ["GridConfig", "Member", "NodeConfig", "Share", "load", "render", "share"]

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
class Share:
    """A document this node hands to guests, and who they are."""

    doc: bytes
    guests: tuple[bytes, ...]


#: Workers an owner serves at once, by default and at most.
DEFAULT_MAX_WORKERS = 64
MAX_WORKERS = 1024


@dataclass(frozen=True)
class GridConfig:
    """The ``[grid]`` table: the compute grid a node owns (DESIGN §12)."""

    max_workers: int = DEFAULT_MAX_WORKERS


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
    #: Bytes of partially received frames the node holds, all connections together, and
    #: the part of it clients and guests share (:mod:`lattice.net.framebudget`).
    max_partial_bytes: int = framebudget.DEFAULT_MAX_PARTIAL_BYTES
    max_stranger_partial_bytes: int = framebudget.DEFAULT_MAX_STRANGER_PARTIAL_BYTES
    password: str | None = None
    #: A file holding the key's password (its first line), instead of ``password``.
    password_file: Path | None = None
    #: Sign without first comparing this node's own log with a peer's view of it (a
    #: restored backup then forks the node: an explicit, loudly logged choice).
    offline: bool = False
    #: Documents handed to guests (``[[shares]]``).
    shares: tuple[Share, ...] = ()
    #: The builders trusted to attest Wasm state machines (``[trust]``; None: none).
    trust: TrustConfig | None = None
    #: Remote attestation in handshakes (``[attestation]``; None: none offered or asked).
    attestation: AttestationConfig | None = None
    #: The swarm's admission policy (``[admission]``, DESIGN §11; None: an open swarm, with
    #: no scores or budgets either). Every peer of a swarm must set the same.
    admission: AdmissionPolicy | None = None
    #: The compute grid this node owns (``[grid]``, DESIGN §12; None: it takes no workers).
    grid: GridConfig | None = None

    def key_password(self) -> bytes | None:
        """The identity key's password: from ``password_file`` or ``password``, if any."""
        if self.password_file is not None:
            text = read_password_file(self.password_file)
            if not text:
                raise InvalidArgument(f"the password file {self.password_file} is empty")
            return text.encode()
        return None if self.password is None else self.password.encode()

    @property
    def peers(self) -> list[bytes]:
        """The membership list, in order: the matrix is indexed by it."""
        return [m.public_key for m in self.members]

    def member(self, name: str) -> Member:
        for m in self.members:
            if m.name == name:
                return m
        raise InvalidArgument(f"no member named {name!r}")


def read_password_file(path: Path) -> str:
    """The password in a password file: its first line (UTF-8, without the line end)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidArgument(f"cannot read the password file {path}: {exc.strerror}") from exc
    try:
        text = data.decode()
    except UnicodeDecodeError:
        raise InvalidArgument(f"the password file {path} is not UTF-8 text") from None
    # The first line, ended by \n or \r\n only (a password may hold other characters).
    return text.split("\n", 1)[0].removesuffix("\r")


#: The keys each table of a configuration file may have (anything else is a mistake).
NODE_KEYS = frozenset(
    {
        "identity",
        "listen",
        "store",
        "role",
        "noop_interval",
        "control",
        "home",
        "password",
        "password_file",
        "offline",
    }
)
SWARM_KEYS = frozenset({"id", "faults", "clients", "open_clients", "members"})
MEMBER_KEYS = frozenset({"name", "public_key", "address"})
#: [limits] keys beyond :class:`Limits`' own fields.
NODE_LIMIT_KEYS = frozenset(
    {
        "max_pending_bytes",
        "store_busy_timeout",
        "client_ops_per_minute",
        "client_bytes_per_minute",
        "reconnect_min",
        "reconnect_max",
        "max_partial_bytes",
        "max_stranger_partial_bytes",
    }
)
#: [limits] keys that count bytes or ops: whole numbers.
INTEGER_LIMITS = frozenset(
    {"credit", "max_queue_bytes", "max_pending_bytes", "client_ops_per_minute",
     "client_bytes_per_minute", "max_partial_bytes", "max_stranger_partial_bytes"}
)  # fmt: skip
TABLES = frozenset(
    {"node", "swarm", "limits", "shares", "trust", "attestation", "admission", "grid"}
)
#: [admission] keys (DESIGN §11): the fields of :class:`~lattice.sybil.AdmissionPolicy`.
ADMISSION_KEYS = frozenset({"hops", "min_bits", "max_vouches"})
GRID_KEYS = frozenset({"max_workers"})
SHARE_KEYS = frozenset({"doc", "guests"})
#: The longest doc id (as in an op batch).
MAX_DOC_ID_LEN = 64


def load(path: str | os.PathLike[str]) -> NodeConfig:
    """Read and check a node configuration file: every table's keys, types and ranges
    (:class:`InvalidArgument` names the file and the key, with a hint for a typo)."""
    path = Path(path)
    f = ConfigFile(path)
    raw = f.read()
    f.known(
        raw, TABLES, "the file (tables: [node], [swarm], [limits], [[shares]], [trust], "
        "[attestation], [admission])",
    )  # fmt: skip
    base = path.parent
    node = f.table(raw, "node", "[node]")
    swarm = f.table(raw, "swarm", "[swarm]")
    limits_raw = f.table(raw, "limits", "[limits]")
    f.known(node, NODE_KEYS, "[node]")
    f.known(swarm, SWARM_KEYS, "[swarm]")
    limit_names = {fl.name for fl in fields(Limits)}
    f.known(limits_raw, frozenset(limit_names) | NODE_LIMIT_KEYS, "[limits]")
    identity_name = f.string(node, "identity", "[node]")
    if identity_name is None:
        raise f.error("[node] identity is required")
    members = []
    for i, (where, m) in enumerate(f.tables(swarm, "members", "[[swarm.members]]", MEMBER_KEYS)):
        name = m.get("name", str(i))
        if not isinstance(name, str):
            raise f.error(f"{where} name must be a string, got {name!r}")
        members.append(
            Member(
                name=name,
                public_key=f.hex32(m.get("public_key"), f"{where} public_key"),
                address=f.address(m["address"], f"{where} address") if "address" in m else None,
            )
        )
    if not members:
        raise f.error("[[swarm.members]] must list the swarm's peers")
    names = [m.name for m in members]
    keys = [m.public_key for m in members]
    if len(set(names)) != len(names) or len(set(keys)) != len(keys):
        raise f.error("a member name or key appears twice")
    role = f.string(node, "role", "[node]") or "peer"
    if role not in ROLES:
        raise f.error(f"[node] role must be one of {sorted(ROLES)}, got {role!r}")
    numbers = {
        key: f.number(limits_raw, key, "[limits]", 1, whole=key in INTEGER_LIMITS)
        for key in limits_raw
    }
    limits = Limits(**{k: v for k, v in numbers.items() if k in limit_names})  # type: ignore[arg-type]
    if not _lattice.MAX_ENTRY_LEN <= limits.credit < 2**32:
        raise f.error(
            f"[limits] credit must be at least one entry ({_lattice.MAX_ENTRY_LEN} "
            f"bytes) and below 2^32"
        )
    reconnect_min = numbers.get("reconnect_min", DEFAULT_RECONNECT_MIN)
    reconnect_max = numbers.get("reconnect_max", DEFAULT_RECONNECT_MAX)
    if reconnect_min > reconnect_max:
        raise f.error(
            f"[limits] reconnect_min ({reconnect_min}) is above reconnect_max ({reconnect_max})"
        )
    partial = int(numbers.get("max_partial_bytes", framebudget.DEFAULT_MAX_PARTIAL_BYTES))
    stranger_partial = int(
        numbers.get("max_stranger_partial_bytes", framebudget.DEFAULT_MAX_STRANGER_PARTIAL_BYTES)
    )
    try:
        framebudget.check(partial, stranger_partial)
    except InvalidArgument as exc:
        raise f.error(f"[limits] {exc}") from None
    noop_interval = f.number(node, "noop_interval", "[node]", DEFAULT_NOOP_INTERVAL)
    faults = swarm.get("faults")
    if faults is not None and (
        isinstance(faults, bool) or not isinstance(faults, int) or not 0 <= faults < len(members)
    ):
        raise f.error(
            f"[swarm] faults must be a whole number in 0–{len(members) - 1}, got {faults!r}"
        )
    clients = swarm.get("clients")
    if clients is not None and not isinstance(clients, list):
        raise f.error(f"[swarm] clients must be a list of public keys, got {clients!r}")
    home = f.string(node, "home", "[node]")
    if home is not None and home not in names:
        hint = difflib.get_close_matches(home, names, n=1)
        raise f.error(
            f"[node] home names no member: {home!r}"
            + (f" (did you mean {hint[0]!r}?)" if hint else f"; members are {', '.join(names)}")
        )

    shares = _shares(f, raw.get("shares", []))
    trust = None if "trust" not in raw else parse_trust(f, raw["trust"])
    admission = None if "admission" not in raw else _admission(f, raw)
    if trust is not None and trust.web_hops is not None:
        if admission is None:
            raise f.error("[trust] web_of_trust_hops needs [admission]: the trust graph it reads")
        if trust.web_hops > admission.hops:
            raise f.error(
                f"[trust] web_of_trust_hops {trust.web_hops} is beyond [admission] hops "
                f"{admission.hops}: a builder the swarm does not admit would be trusted"
            )

    grid = None if "grid" not in raw else _grid(f, raw, admission, role)

    def rel(value: str | None, default: str | None = None) -> Path | None:
        chosen = value if value is not None else default
        return None if chosen is None else (base / chosen)

    identity = base / identity_name
    stem = Path(identity_name).stem
    # The control socket sits next to the store: two nodes of one identity (the
    # adversary's twins) have two stores, and so two sockets.
    store_name = f.string(node, "store", "[node]") or f"{stem}.db"
    listen = f.string(node, "listen", "[node]")
    return NodeConfig(
        identity=identity,
        swarm_id=f.hex32(swarm.get("id"), "[swarm] id"),
        members=tuple(members),
        listen=None if listen is None else f.address(listen, "[node] listen"),
        store=rel(store_name),
        role=role,
        noop_interval=noop_interval,
        control=rel(f.string(node, "control", "[node]"), f"{Path(store_name).stem}.sock"),
        faults=faults,
        clients=None
        if clients is None
        else tuple(f.hex32(c, f"[swarm] clients #{i + 1}") for i, c in enumerate(clients)),
        open_clients=f.flag(swarm, "open_clients", "[swarm]"),
        home=home,
        limits=limits,
        max_pending_bytes=None
        if "max_pending_bytes" not in numbers
        else int(numbers["max_pending_bytes"]),
        store_busy_timeout=numbers.get("store_busy_timeout", DEFAULT_BUSY_TIMEOUT),
        client_ops_per_minute=int(
            numbers.get("client_ops_per_minute", DEFAULT_CLIENT_OPS_PER_MINUTE)
        ),
        client_bytes_per_minute=int(
            numbers.get("client_bytes_per_minute", DEFAULT_CLIENT_BYTES_PER_MINUTE)
        ),
        reconnect_min=reconnect_min,
        reconnect_max=reconnect_max,
        max_partial_bytes=partial,
        max_stranger_partial_bytes=stranger_partial,
        password=f.string(node, "password", "[node]"),
        password_file=rel(f.string(node, "password_file", "[node]")),
        offline=f.flag(node, "offline", "[node]"),
        shares=shares,
        trust=trust,
        attestation=None
        if "attestation" not in raw
        else parse_attestation(f, raw["attestation"], trust, base),
        admission=admission,
        grid=grid,
    )


def _grid(
    f: ConfigFile, raw: dict[str, Any], admission: AdmissionPolicy | None, role: str
) -> GridConfig:
    table = f.table(raw, "grid", "[grid]")
    f.known(table, GRID_KEYS, "[grid]")
    if admission is None:
        raise f.error("[grid] needs [admission]: workers are admitted by proof of work or vouch")
    if role != "peer":
        raise f.error("[grid] is a registered peer's: its tasks are entries of its log")
    workers = table.get("max_workers", DEFAULT_MAX_WORKERS)
    if isinstance(workers, bool) or not isinstance(workers, int) or not 0 < workers <= MAX_WORKERS:
        raise f.error(f"[grid] max_workers is a whole number 1 to {MAX_WORKERS}, not {workers!r}")
    return GridConfig(workers)


def _admission(f: ConfigFile, raw: dict[str, Any]) -> AdmissionPolicy:
    table = f.table(raw, "admission", "[admission]")
    f.known(table, ADMISSION_KEYS, "[admission]")
    try:
        return AdmissionPolicy(**table)  # it checks each value (whole numbers ≥ 0)
    except InvalidArgument as exc:
        raise f.error(f"[admission] {exc}") from None


def _shares(f: ConfigFile, listed: Any) -> tuple[Share, ...]:
    if not isinstance(listed, list) or not all(isinstance(s, dict) for s in listed):
        raise f.error("[[shares]] must be tables")
    out: list[Share] = []
    for i, s in enumerate(listed):
        where = f"[[shares]] #{i + 1}"
        f.known(s, SHARE_KEYS, where)
        doc = f.string(s, "doc", where)
        if doc is None or not doc or len(doc.encode()) > MAX_DOC_ID_LEN:
            raise f.error(f"{where} doc must be a doc id of 1 to {MAX_DOC_ID_LEN} UTF-8 bytes")
        guests = s.get("guests", [])
        if not isinstance(guests, list):
            raise f.error(f"{where} guests must be a list of public keys")
        keys = tuple(f.hex32(g, f"{where} guests #{k + 1}") for k, g in enumerate(guests))
        if len(set(keys)) != len(keys):
            raise f.error(f"{where} lists a guest twice")
        out.append(Share(doc.encode(), keys))
    if len({s.doc for s in out}) != len(out):
        raise f.error("[[shares]] lists a document twice")
    return tuple(out)


def share(path: str | os.PathLike[str], doc: str, guest: bytes) -> bool:
    """Add ``guest`` to the guests of document ``doc`` in the configuration file at
    ``path`` (``lattice share``); False if it was there already. The file is checked
    before and after, and written whole (a temporary file, then a rename)."""
    path = Path(path)
    config = load(path)
    current = {s.doc: s.guests for s in config.shares}
    doc_id = doc.encode()
    if guest in current.get(doc_id, ()):
        return False
    text = path.read_text().rstrip("\n") + "\n"
    if doc_id in current:
        # Rewrite the shares tables: the rest of the file stays as it is.
        keep = _without_shares(text)
        current[doc_id] = (*current[doc_id], guest)
        text = keep + "".join(_share_table(d, g) for d, g in current.items())
    else:
        text += _share_table(doc_id, (guest,))
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    try:
        load(tmp)
    except InvalidArgument:
        tmp.unlink()
        raise
    os.replace(tmp, path)
    return True


def _share_table(doc: bytes, guests: Sequence[bytes]) -> str:
    keys = ", ".join(f'"{g.hex()}"' for g in guests)
    return (
        f"\n[[shares]]\ndoc = {json.dumps(doc.decode(), ensure_ascii=False)}\nguests = [{keys}]\n"
    )


def _without_shares(text: str) -> str:
    """The file's text without its ``[[shares]]`` tables (each runs to the next header)."""
    out: list[str] = []
    skipping = False
    for line in text.splitlines(keepends=True):
        stripped = line.strip()
        if stripped.startswith("["):
            skipping = stripped == "[[shares]]"
        if not skipping:
            out.append(line)
    return "".join(out).rstrip("\n") + "\n"


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
    password_file: str | None = None,
    offline: bool = False,
    admission: AdmissionPolicy | None = None,
    grid: GridConfig | None = None,
) -> str:
    """The TOML text of a configuration (what :func:`load` reads back).

    >>> text = render(identity="a.key", swarm_id=bytes(32), members=[Member("a", bytes(32))])
    >>> "[[swarm.members]]" in text and 'identity = "a.key"' in text
    True
    """

    # JSON string literals are valid TOML basic strings: quotes and controls escaped.
    def q(value: str) -> str:
        return json.dumps(value, ensure_ascii=False)

    lines = ["[node]", f"identity = {q(identity)}", f"role = {q(role)}"]
    for key, value in (
        ("store", store),
        ("control", control),
        ("home", home),
        ("password_file", password_file),
    ):
        if value is not None:
            lines.append(f"{key} = {q(value)}")
    if listen is not None:
        lines.append(f"listen = {q(f'{listen[0]}:{listen[1]}')}")
    if noop_interval is not None:
        lines.append(f"noop_interval = {noop_interval}")
    if offline:
        lines.append("offline = true")
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
    if admission is not None:
        lines += ["[admission]"]
        lines += [f"{k} = {getattr(admission, k)}" for k in sorted(ADMISSION_KEYS)]
        lines.append("")
    if grid is not None:
        lines += ["[grid]", f"max_workers = {grid.max_workers}", ""]
    if limits:
        lines.append("[limits]")
        lines += [f"{k} = {v}" for k, v in limits.items()]
    return "\n".join(lines) + "\n"

"""``lattice init``: a ready swarm in one directory — a way in for a newcomer.

For each peer a key, a store path, a control socket and a configuration that listens on
loopback and dials the peers before it; for each client a key and a configuration with
its home peer (the peers take turns); one fresh swarm id. Nothing is overwritten.

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp()) / "swarm"
>>> made = make_swarm(d, ["a", "b"], clients=1, base_port=7101, password=None)
>>> sorted(p.name for p in d.iterdir())
['a.key', 'a.toml', 'b.key', 'b.toml', 'client1.key', 'client1.toml']
>>> made.commands[0] == f"lattice node run --config {d / 'a.toml'}"
True
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from lattice.errors import InvalidArgument
from lattice.identity import Identity
from lattice.net.checks import MAX_PORT
from lattice.net.config import Member, load, render

__all__ = ["DEFAULT_BASE_PORT", "Scaffold", "make_swarm"]

#: The first node's port; the others follow.
DEFAULT_BASE_PORT = 7001
#: What a member name may be: it names files.
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")
LOOPBACK = "127.0.0.1"


@dataclass
class Scaffold:
    """What ``make_swarm`` wrote, and how to start it."""

    directory: Path
    peers: list[Path] = field(default_factory=list)
    clients: list[Path] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)


def make_swarm(
    directory: str | os.PathLike[str],
    peers: list[str],
    *,
    clients: int = 0,
    base_port: int = DEFAULT_BASE_PORT,
    password: bytes | None,
    password_file: str | None = None,
) -> Scaffold:
    """Write keys and configurations for ``peers`` (names) and ``clients`` (a count) into
    ``directory`` (created; it must not hold any of those files). Keys are encrypted with
    ``password`` (the configurations then name ``password_file``), or not if None."""
    d = Path(directory)
    if not peers:
        raise InvalidArgument("a swarm needs at least one peer (--peers a,b,c)")
    names = [*peers, *(f"client{i + 1}" for i in range(clients))]
    bad = [n for n in names if not NAME.fullmatch(n)]
    if bad:
        raise InvalidArgument(f"a name is letters, digits, - and _ (at most 32): {bad[0]!r}")
    if len(set(names)) != len(names):
        raise InvalidArgument("a name appears twice")
    if clients < 0:
        raise InvalidArgument(f"--clients must be 0 or more, got {clients}")
    if not 1 <= base_port <= MAX_PORT - len(peers) + 1:
        raise InvalidArgument(f"--base-port {base_port}: the ports must fit in 1–{MAX_PORT}")
    if password is not None and password_file is None:
        raise InvalidArgument("an encrypted swarm needs the password file the nodes read")
    d.mkdir(parents=True, exist_ok=True)
    clash = [p for n in names for p in (d / f"{n}.key", d / f"{n}.toml") if p.exists()]
    if clash:
        raise InvalidArgument(f"{clash[0]} exists: lattice init never overwrites")
    ids = {n: Identity.generate() for n in names}
    swarm_id = os.urandom(32)
    ports = {n: base_port + i for i, n in enumerate(peers)}
    client_keys = [ids[n].public_key for n in names[len(peers) :]]
    made = Scaffold(d)
    for i, n in enumerate(peers):
        members = [
            Member(m, ids[m].public_key, (LOOPBACK, ports[m]) if j < i else None)
            for j, m in enumerate(peers)
        ]
        path = d / f"{n}.toml"
        _write(ids[n], d / f"{n}.key", password)
        path.write_text(
            render(
                identity=f"{n}.key",
                swarm_id=swarm_id,
                members=members,
                listen=(LOOPBACK, ports[n]),
                store=f"{n}.db",
                control=f"{n}.sock",
                clients=client_keys,
                password_file=password_file,
            )
        )
        made.peers.append(path)
        made.commands.append(f"lattice node run --config {path}")
    for k, n in enumerate(names[len(peers) :]):
        home = peers[k % len(peers)]
        path = d / f"{n}.toml"
        _write(ids[n], d / f"{n}.key", password)
        path.write_text(
            render(
                identity=f"{n}.key",
                swarm_id=swarm_id,
                members=[Member(m, ids[m].public_key, (LOOPBACK, ports[m])) for m in peers],
                role="client",
                home=home,
                password_file=password_file,
            )
        )
        made.clients.append(path)
    for path in [*made.peers, *made.clients]:
        load(path)  # what was written reads back
    made.commands.append(f'lattice append --config {made.peers[0]} "hello"')
    made.commands.append(f"lattice status --config {made.peers[-1]}")
    if made.clients:
        made.commands.append(f'lattice submit --config {made.clients[0]} "pay bob 5"')
    return made


def _write(identity: Identity, path: Path, password: bytes | None) -> None:
    identity.save(path, password=password)

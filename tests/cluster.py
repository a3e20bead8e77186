"""Real node processes for the network tests: identities and TOML configs on disk,
``lattice node run`` subprocesses on loopback (or inside network namespaces), driven by
:class:`lattice.net.process.NodeProcess` through their control sockets. Nothing here is
mocked: every node is its own process with its own SQLite store, talking Noise over TCP.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import lattice
from lattice import _lattice
from lattice.net.config import Member, render
from lattice.net.process import NodeProcess, free_ports

SWARM = bytes([0x5A]) * 32
#: Short deadlines, so hostile-connection tests finish quickly.
FAST_LIMITS = {
    "handshake_timeout": 1.5,
    "idle_timeout": 4.0,
    "write_timeout": 2.0,
    "ping_interval": 1.0,
    "reconnect_min": 0.05,
    "reconnect_max": 0.5,
}


@dataclass(kw_only=True)
class ClusterNode(NodeProcess):
    """A test node process (:class:`lattice.net.process.NodeProcess`) with what the tests
    know of it: its identity, store file and address. Logs every batch (``-vv``)."""

    identity: lattice.Identity
    store: Path
    address: tuple[str, int]
    verbose: int = 2

    @property
    def key(self) -> bytes:
        return self.identity.public_key


def identity_of(name: str) -> lattice.Identity:
    """The deterministic identity of test node ``name``."""
    return lattice.Identity.from_seed(
        _lattice.blake3_derive_key("lattice test cluster", name.encode())
    )


def write_config(
    path: Path,
    *,
    identity: str,
    listen: tuple[str, int] | None,
    store: str,
    control: str | None,
    members: Sequence[tuple[str, bytes, tuple[str, int] | None]],
    limits: dict[str, float] | None = None,
    noop_interval: float = 0.2,
    clients: Sequence[bytes] | None = None,
    open_clients: bool = False,
    offline: bool = False,
) -> None:
    """A node configuration file (see :mod:`lattice.net.config`), with the tests' short
    deadlines."""
    path.write_text(
        render(
            identity=identity,
            swarm_id=SWARM,
            members=[Member(n, k, a) for n, k, a in members],
            listen=listen,
            store=store,
            control=control,
            noop_interval=noop_interval,
            limits={**FAST_LIMITS, **(limits or {})},
            clients=clients,
            open_clients=open_clients,
            offline=offline,
        )
    )


@dataclass
class Cluster:
    """Nodes with configs under ``directory``; ``links`` says who dials whom."""

    directory: Path
    nodes: list[ClusterNode] = field(default_factory=list)

    @classmethod
    def create(
        cls,
        directory: Path,
        names: Sequence[str],
        links: Sequence[tuple[str, str]],
        *,
        addresses: dict[str, tuple[str, int]] | None = None,
        netns: dict[str, str] | None = None,
        limits: dict[str, float] | None = None,
        noop_interval: float = 0.2,
        extra_members: Sequence[tuple[str, bytes, dict[str, tuple[str, int]]]] = (),
        dial_via: dict[tuple[str, str], tuple[str, int]] | None = None,
        clients: Sequence[bytes] | None = None,
        open_clients: bool = False,
        offline: bool = False,
    ) -> Cluster:
        """Nodes ``names``; ``(a, b)`` in ``links`` makes a dial b. ``extra_members`` are
        registered peers run by someone else (name, key, {node: the address that node
        dials for it}). ``dial_via[(a, b)]`` is the address a dials to reach b (a relay)."""
        ports = free_ports(len(names))
        idents = {n: identity_of(n) for n in names}
        addr = {n: (addresses or {}).get(n, ("127.0.0.1", ports[i])) for i, n in enumerate(names)}
        dials: dict[str, set[str]] = {n: set() for n in names}
        for a, b in links:
            dials[a].add(b)
        cluster = cls(directory)
        for n in names:
            idents[n].save(directory / f"{n}.key")
            via = dial_via or {}
            members = [
                (m, idents[m].public_key, via.get((n, m), addr[m]) if m in dials[n] else None)
                for m in names
            ] + [(m, key, via.get((n, m), where.get(n))) for m, key, where in extra_members]
            config = directory / f"{n}.toml"
            write_config(
                config,
                identity=f"{n}.key",
                listen=addr[n],
                store=f"{n}.db",
                control=f"{n}.sock",
                members=members,
                limits=limits,
                noop_interval=noop_interval,
                clients=clients,
                open_clients=open_clients,
                offline=offline,
            )
            cluster.nodes.append(
                ClusterNode(
                    name=n,
                    identity=idents[n],
                    config=config,
                    store=directory / f"{n}.db",
                    control=directory / f"{n}.sock",
                    address=addr[n],
                    netns=(netns or {}).get(n),
                )
            )
        return cluster

    def __getitem__(self, name: str) -> ClusterNode:
        return next(n for n in self.nodes if n.name == name)

    def start(self) -> None:
        for n in self.nodes:
            n.start()

    def stop(self) -> None:
        for n in self.nodes:
            n.stop()

    def wait(self, condition: Callable[[], bool], timeout: float = 30.0, what: str = "") -> float:
        """Poll ``condition`` until it holds; returns the seconds it took."""
        start = time.monotonic()
        while not condition():
            if time.monotonic() - start > timeout:
                raise AssertionError(f"timed out after {timeout} s waiting for {what or condition}")
            time.sleep(0.05)
        return time.monotonic() - start

    def converged(self, names: Sequence[str] | None = None) -> bool:
        chosen = [self[n] for n in names] if names else self.nodes
        fronts = [n.frontier() for n in chosen]
        return all(f == fronts[0] for f in fronts)

    def matrices_equal(self, names: Sequence[str] | None = None) -> bool:
        chosen = [self[n] for n in names] if names else self.nodes
        rows = [n.matrix()["rows"] for n in chosen]
        return all(r == rows[0] for r in rows)

"""Nodes in one process, for examples and tests: ``n`` real nodes on loopback, with
fresh identities and stores, started and connected in a line.

>>> import asyncio, tempfile, pathlib
>>> async def demo():
...     nodes = await local_swarm(2, pathlib.Path(tempfile.mkdtemp()))
...     await nodes[1].wait_for(lambda n: len(n.links) == 1)
...     for n in nodes:
...         await n.stop()
...     return [n.name(n.me) for n in nodes]
>>> asyncio.run(demo())
['n0', 'n1']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from lattice.identity import Identity
from lattice.net.config import Member, NodeConfig, Share
from lattice.net.connection import Limits
from lattice.net.node import Node
from lattice.net.process import free_ports
from lattice.net.quota import DEFAULT_CLIENT_OPS_PER_MINUTE
from lattice.net.trustconfig import AttestationConfig, TrustConfig
from lattice.writer import DEFAULT_BUSY_TIMEOUT

__all__ = ["local_swarm"]


async def local_swarm(
    n: int,
    directory: Path,
    *,
    noop_interval: float = 0.2,
    limits: Limits | None = None,
    store_busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
    clients: Sequence[bytes] | None = None,
    open_clients: bool = False,
    shares: Mapping[bytes, Sequence[bytes]] | None = None,
    client_ops_per_minute: int | None = None,
    trust: TrustConfig | None = None,
    attestation: AttestationConfig | Sequence[AttestationConfig] | None = None,
    identities: Sequence[Identity] | None = None,
) -> list[Node]:
    """``n`` nodes on loopback with fresh identities and stores under ``directory``, in a
    line (each dials the previous one), started. For examples and tests. Like any node,
    they serve no clients unless given ``clients`` (keys) or ``open_clients``, and no
    guests unless ``shares`` maps doc ids to guest keys (every node shares them); ``trust``
    and ``attestation`` are every node's ``[trust]`` and ``[attestation]`` tables (or one
    ``[attestation]`` per node)."""
    ids = list(identities) if identities is not None else [Identity.generate() for _ in range(n)]
    swarm_id = bytes(32)
    ports = free_ports(n)
    members = tuple(
        Member(f"n{i}", ident.public_key, ("127.0.0.1", ports[i])) for i, ident in enumerate(ids)
    )
    nodes = []
    for i, ident in enumerate(ids):
        visible = tuple(
            m if j == i - 1 else Member(m.name, m.public_key) for j, m in enumerate(members)
        )
        config = NodeConfig(
            identity=directory / f"n{i}.key",
            swarm_id=swarm_id,
            members=visible,
            listen=("127.0.0.1", ports[i]),
            store=directory / f"n{i}.db",
            noop_interval=noop_interval,
            control=None,
            limits=limits or Limits(),
            reconnect_min=0.05,
            reconnect_max=0.5,
            store_busy_timeout=store_busy_timeout,
            clients=None if clients is None else tuple(clients),
            open_clients=open_clients,
            shares=tuple(Share(d, tuple(g)) for d, g in (shares or {}).items()),
            client_ops_per_minute=client_ops_per_minute or DEFAULT_CLIENT_OPS_PER_MINUTE,
            trust=trust,
            attestation=attestation
            if attestation is None or isinstance(attestation, AttestationConfig)
            else attestation[i],
        )
        node = Node(config, identity=ident)
        await node.start()
        nodes.append(node)
    for node in nodes:  # connected, and each has seen a peer's view of its own log
        await node.writable(30.0)
    return nodes

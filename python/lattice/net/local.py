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

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from lattice import _lattice
from lattice.identity import Identity
from lattice.net.attestation import Exchange
from lattice.net.config import GridConfig, Member, NodeConfig, Share
from lattice.net.connection import Limits, handshake
from lattice.net.node import Node
from lattice.net.process import free_ports
from lattice.net.quota import DEFAULT_CLIENT_OPS_PER_MINUTE
from lattice.net.trustconfig import AttestationConfig, TrustConfig
from lattice.sybil.graph import AdmissionPolicy
from lattice.writer import DEFAULT_BUSY_TIMEOUT

__all__ = ["Handshaken", "local_swarm", "loopback_handshake"]


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
    wait: bool = True,
    admission: AdmissionPolicy | None = None,
    grid: GridConfig | None = None,
) -> list[Node]:
    """``n`` nodes on loopback with fresh identities and stores under ``directory``, in a
        line (each dials the previous one), started. For examples and tests. Like any node,
        they serve no clients unless given ``clients`` (keys) or ``open_clients``, and no
        guests unless ``shares`` maps doc ids to guest keys (every node shares them); ``trust``
        and ``attestation`` are every node's ``[trust]`` and ``[attestation]`` tables (or one
        ``[attestation]`` per node), ``admission`` their ``[admission]`` policy, ``grid`` their
    ``[grid]`` (it needs ``admission``). With ``wait``
        (the default) it returns once every node may write (it has seen a peer); without, at
        once (a node may never connect)."""
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
            admission=admission,
            grid=grid,
        )
        node = Node(config, identity=ident)
        await node.start()
        nodes.append(node)
    for node in nodes if wait else ():  # connected; each has seen a peer's view of its log
        await node.writable(30.0)
    return nodes


class _Counting:
    """A StreamWriter that counts the records (writes) a party sends."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer, self.writes = writer, 0

    def write(self, data: bytes) -> None:
        self.writes += 1
        self.writer.write(data)

    async def drain(self) -> None:
        await self.writer.drain()


@dataclass(frozen=True)
class Handshaken:
    """What :func:`loopback_handshake` saw: each side's view of the other's hello, and
    the records each sent."""

    remote_of_initiator: _lattice.Hello
    remote_of_responder: _lattice.Hello
    initiator_records: int
    responder_records: int


async def loopback_handshake(
    initiator: Exchange | None = None, responder: Exchange | None = None
) -> Handshaken:
    """One real Noise XX handshake on loopback TCP, with remote attestation where an
    exchange is given (its attester's identity signs that side's hello). For tests and
    benchmarks; what each exchange accepted is left in it."""

    def identity(ex: Exchange | None) -> Identity:
        own = None if ex is None else getattr(ex.node.attester, "identity", None)
        return own if isinstance(own, Identity) else Identity.generate()

    def hello_of(who: Identity, key: _lattice.NoiseKeypair) -> Callable[[bytes], _lattice.Hello]:
        return lambda field: _lattice.Hello.create(
            who.signing_key, key.public, bytes(32), _lattice.ROLE_PEER, field or None
        )

    async def side(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, ex: Exchange | None,
        dials: bool,
    ) -> tuple[_lattice.Hello, int]:  # fmt: skip
        key, counted = _lattice.NoiseKeypair.generate(), _Counting(writer)
        try:
            _, remote, _ = await handshake(
                reader, counted, initiator=dials, keypair=key,  # type: ignore[arg-type]
                hello=hello_of(identity(ex), key), timeout=5.0, attestation=ex,
            )  # fmt: skip
            return remote, counted.writes
        finally:
            writer.close()

    done: asyncio.Future[tuple[_lattice.Hello, int]] = asyncio.get_running_loop().create_future()

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            done.set_result(await side(reader, writer, responder, dials=False))
        except Exception as exc:
            done.set_exception(exc)

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    try:
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        remote_b, writes_a = await side(reader, writer, initiator, dials=True)
        remote_a, writes_b = await done
    finally:
        server.close()
    return Handshaken(remote_b, remote_a, writes_a, writes_b)

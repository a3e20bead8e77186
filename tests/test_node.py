"""Nodes as real processes on loopback (DESIGN §7): convergence, restart, kill -9, one
round trip to find the difference, clients, and the command line against a running node."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import lattice
from cluster import SWARM, Cluster
from lattice.cli import main
from lattice.replica import Replica

LINE = ["a", "b", "c", "d", "e"]


def line(tmp_path: Path, **kwargs: object) -> Cluster:
    links = [(LINE[i + 1], LINE[i]) for i in range(len(LINE) - 1)]
    return Cluster.create(tmp_path, LINE, links, **kwargs)  # type: ignore[arg-type]


#: The clients the test swarm's home peers serve (closed by default: DESIGN §6).
CLIENTS = [lattice.Identity.from_seed(bytes([b]) * 32).public_key for b in (0x44, 0x45)]


@pytest.fixture
def five(tmp_path: Path):  # type: ignore[no-untyped-def]
    cluster = line(tmp_path, clients=CLIENTS)
    cluster.start()
    yield cluster
    cluster.stop()


def test_five_nodes_in_a_line_converge(five: Cluster) -> None:
    for r in range(5):
        for n in five.nodes:
            n.append(f"{n.name}{r}")
    five.wait(five.converged, what="identical frontiers")
    front = five["a"].frontier()
    assert sorted(front) == LINE and all(seq >= 5 for seq, _ in front.values())

    def settled() -> bool:
        quorum = five["c"].matrix()["known_to_quorum"]
        return all(v >= 5 for v in quorum) and five.matrices_equal()

    five.wait(settled, what="identical matrices, every log at quorum")
    assert five["c"].matrix()["peers"] == LINE


def test_a_stopped_node_catches_up_after_restart(five: Cluster) -> None:
    five["e"].append("before")
    five.wait(five.converged)
    five["c"].stop()  # the middle of the line: d and e are cut off from a and b
    for i in range(20):
        five["a"].append(f"a while c is down {i}")
        five["e"].append(f"e while c is down {i}")
    five.wait(lambda: five["b"].frontier()["a"][0] >= 20, what="b has a's writes")
    assert five["e"].frontier().get("a", (0, ""))[0] < 20, "e is cut off while c is down"
    five["c"].start()
    five.wait(five.converged, what="everyone caught up through c")
    # (Heartbeat noops may have added a seq or two since.)
    assert five["e"].frontier()["a"][0] >= 20 and five["a"].frontier()["e"][0] >= 21


def test_sigkill_under_load_loses_nothing_acknowledged(tmp_path: Path) -> None:
    cluster = Cluster.create(tmp_path, ["a", "b"], [("b", "a")])
    cluster.start()
    a = cluster["a"]
    acked: list[tuple[int, bytes]] = []
    stop = threading.Event()

    def writer() -> None:
        i = 0
        while not stop.is_set():
            try:
                acked.append(a.append(f"load {i}"))
            except Exception:
                return
            i += 1

    for _ in range(3):
        t = threading.Thread(target=writer)
        t.start()
        time.sleep(0.4)
        a.kill()
        stop.set()
        t.join()
        stop.clear()
        # Every acknowledged entry is in the store, and the store verifies.
        rep = Replica(
            a.identity, peers=[n.key for n in cluster.nodes], swarm_id=SWARM, path=a.store
        )
        for seq, entry_id in acked:
            assert rep.id_at(a.key, seq) == entry_id
        entries = rep.entries(a.key)
        assert lattice.validate_chain([e.to_bytes() for e in entries], verify_signatures=True).ok
        rep.close()
        a.start()
    assert len(acked) > 10
    cluster.wait(cluster.converged, what="b has everything a acknowledged")
    cluster.stop()


def test_the_difference_is_found_in_one_round_trip(tmp_path: Path) -> None:
    # Offline: each writes alone on purpose (no peer confirms its head first).
    cluster = Cluster.create(tmp_path, ["a", "b"], [("b", "a")], offline=True)
    a, b = cluster.nodes
    # Diverge: each writes alone.
    a.start()
    for i in range(30):
        a.append(f"a{i}")
    a.stop()
    b.start()
    for i in range(40):
        b.append(f"b{i}")
    a.start()
    cluster.wait(cluster.converged, what="convergence")
    for node, other in ((a, "b"), (b, "a")):
        peer = next(p for p in node.status()["peers"] if p["name"] == other)
        opening = [tuple(x) for x in peer["opening"]]
        first_entries = next(i for i, (_, kind) in enumerate(opening) if kind == "Entries")
        before = opening[:first_entries]
        # Exactly one frontier each way (plus the credit grant) before streaming starts.
        assert sorted(before) == sorted(
            [("out", "Credit"), ("out", "Frontier"), ("in", "Credit"), ("in", "Frontier")]
        ), opening
    cluster.stop()


def test_cli_against_a_running_node(five: Cluster) -> None:
    runner = CliRunner()
    cfg = str(five["b"].config)
    out = runner.invoke(main, ["append", "--config", cfg, "hello from the cli"])
    assert out.exit_code == 0 and "appended seq 1" in out.output, out.output
    five.wait(lambda: five["e"].frontier().get("b", (0, ""))[0] == 1)
    out = runner.invoke(main, ["status", "--config", cfg])
    assert out.exit_code == 0 and "connected" in out.output and "blocklist" in out.output
    out = runner.invoke(main, ["matrix", "--config", cfg])
    assert out.exit_code == 0 and "known to all" in out.output
    out = runner.invoke(main, ["status", "--config", cfg, "--json"])
    assert '"pending": 0' in out.output


def test_keygen(tmp_path: Path) -> None:
    out = CliRunner().invoke(main, ["keygen", "--out", str(tmp_path / "k.key"), "--no-password"])
    assert out.exit_code == 0
    ident = lattice.Identity.load(tmp_path / "k.key")
    assert ident.public_key.hex() == out.output.strip()
    again = CliRunner().invoke(main, ["keygen", "--out", str(tmp_path / "k.key"), "--no-password"])
    assert again.exit_code != 0 and "exists" in again.output


def test_a_client_has_its_op_wrapped_by_its_home_peer(five: Cluster, tmp_path: Path) -> None:
    client = lattice.Identity.from_seed(bytes([0x44]) * 32)
    client.save(tmp_path / "client.key")
    home = five["c"]
    (tmp_path / "client.toml").write_text(
        '[node]\nidentity = "client.key"\nrole = "client"\nhome = "c"\n'
        f'[swarm]\nid = "{SWARM.hex()}"\n'
        + "".join(
            f'[[swarm.members]]\nname = "{n.name}"\npublic_key = "{n.key.hex()}"\n'
            + (f'address = "{n.address[0]}:{n.address[1]}"\n' if n is home else "")
            for n in five.nodes
        )
    )
    out = CliRunner().invoke(main, ["submit", "--config", str(tmp_path / "client.toml"), "pay 5"])
    assert out.exit_code == 0, out.output
    assert "wrapped by c in its entry 1" in out.output
    # The wrapped op spreads like any entry of c.
    five.wait(lambda: five["a"].frontier().get("c", (0, ""))[0] >= 1)


def test_frontier_comparison_finds_a_fork_at_the_handshake(tmp_path: Path) -> None:
    """Path (c) of DESIGN §5 over the network: a and b each hold a different version of
    X@1 before they ever talk; the frontier exchange requests the other version by id and
    both hold the proof."""
    x = lattice.Identity.from_seed(bytes([0x58]) * 32)
    cluster = Cluster.create(
        tmp_path, ["a", "b"], [("b", "a")], extra_members=[("x", x.public_key, {})]
    )
    peers = [n.key for n in cluster.nodes] + [x.public_key]
    for node, payload in zip(cluster.nodes, (b"P", b"Q"), strict=True):
        version = lattice.Entry.create(
            x.signing_key, swarm=SWARM, seq=1, lamport=1, payload=payload
        )
        rep = Replica(node.identity, peers=peers, swarm_id=SWARM, path=node.store)
        assert rep.receive([version]).delivered
        rep.close()
    cluster.start()
    try:
        for node in cluster.nodes:
            cluster.wait(
                lambda n=node: n.status()["blocklist"] == ["x"], what=f"{node.name} proves it"
            )
            assert [f["seq"] for f in node.status()["forks"]] == [1]
    finally:
        cluster.stop()


def test_a_dialler_survives_connections_reset_during_the_handshake(tmp_path: Path) -> None:
    """Whatever one attempt does (here: the far end resets it mid-handshake), the node
    keeps dialling with backoff and connects once a real peer answers."""
    import socket
    import struct

    cluster = Cluster.create(tmp_path, ["a", "b"], [("b", "a")])
    a, b = cluster.nodes
    fake = socket.socket()
    fake.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    fake.bind(a.address)
    fake.listen()
    fake.settimeout(10)  # a dialler that gave up would leave accept() waiting
    b.start()
    try:
        for _ in range(3):  # accept b's dial, read its first message, reset
            conn, _ = fake.accept()
            conn.recv(64)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()
        fake.close()
        a.start()
        a.append("after the resets")
        cluster.wait(cluster.converged, what="b reconnected to the real a")
        assert b.frontier()["a"][0] >= 1
    finally:
        fake.close()
        cluster.stop()


def test_a_client_cannot_replay_or_forward_ops(five: Cluster) -> None:
    """A home peer wraps a client's own ops only, each once, nonces increasing."""
    import asyncio

    from lattice.errors import ProtocolError
    from lattice.net import wire
    from lattice.net.client import Client

    me = lattice.Identity.from_seed(bytes([0x45]) * 32)
    other = lattice.Identity.from_seed(bytes([0x46]) * 32)

    async def attempt(op: lattice.ClientOp) -> None:
        async with await Client.connect(five["b"].address, me, SWARM) as client:
            assert (await client.submit(b"honest")).seq >= 1
            await client.conn.send(wire.Op(op.to_bytes()))
            refusal = await client.conn.recv()  # the home peer says why ...
            assert isinstance(refusal, wire.Refused) and "op refused" in refusal.reason
            with pytest.raises(ProtocolError):
                await client.conn.recv()  # ... and closes the connection

    replay = lattice.ClientOp.create(me.signing_key, SWARM, 1, b"an old nonce")
    asyncio.run(attempt(replay))
    forwarded = lattice.ClientOp.create(other.signing_key, SWARM, 2**62, b"not mine")
    asyncio.run(attempt(forwarded))
    reasons = " ".join(five["b"].status()["closed"])
    assert "replay" in reasons and "another client" in reasons

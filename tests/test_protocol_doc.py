"""docs/protocol.md is enough to interoperate (issue 10). ``independent_peer`` is a small
peer written from that document alone — BLAKE3, ``cryptography`` and the standard library,
no lattice code — and these tests hold lattice to it:

- a log with data, noops, a wrapped client op and entries of four peers entangled in every
  order decodes there, and every id, signature, link, dependency and frontier root checks;
- it dials a real node process, completes the Noise handshake as a registered peer, and
  receives the node's frontier (whose root it recomputes) and its whole log, which checks
  the same way.
"""

from __future__ import annotations

import ast
import random
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import independent_peer as outsider
import lattice
from cluster import SWARM, Cluster
from lattice import _lattice

#: The outsider's key: a registered peer of the cluster that runs no lattice code.
OUTSIDER_SEED = bytes([0x0D]) * 32
OUTSIDER = lattice.Identity.from_seed(OUTSIDER_SEED)


def _entangled_logs(rounds: int = 40) -> tuple[list[lattice.Replica], list[bytes]]:
    """Four replicas that exchange entries at random, append data and noops, and wrap a
    client op; every entry of every log, encoded."""
    rng = random.Random(10)
    ids = [lattice.Identity.from_seed(bytes([i + 1]) * 32) for i in range(4)]
    peers = [i.public_key for i in ids]
    reps = [lattice.Replica(i, peers=peers, swarm_id=SWARM) for i in ids]
    client = _lattice.SigningKey.from_seed(bytes([0x77]) * 32)
    reps[0].wrap_client_op(_lattice.ClientOp.create(client, SWARM, 1, b"from a client"))
    for step in range(rounds):
        me = rng.randrange(4)
        if rng.random() < 0.5:
            reps[me].append(f"data {step}".encode() * rng.randint(1, 50))
        else:
            reps[me].noop()
        other = rng.randrange(4)
        if other != me:
            reps[other].receive(e.to_bytes() for e in reps[me].entries())
    for r in reps:  # everyone sees everything, then entangles it
        for s in reps:
            r.receive(e.to_bytes() for e in s.entries())
        r.noop()
    everything = {e.id: e.to_bytes() for r in reps for e in r.entries()}
    return reps, list(everything.values())


def test_the_protocol_text_alone_decodes_and_checks_a_log() -> None:
    outsider.self_test()
    reps, encoded = _entangled_logs()
    report = outsider.check_logs(encoded, SWARM, list(reps[0].peers))
    assert report.entries == len(encoded) and report.authors == 4
    assert report.signatures == len(encoded)
    noops = [e for e in map(lattice.Entry.from_bytes, encoded) if e.kind == lattice.Kind.NOOP]
    assert report.noops == report.frontier_roots == len(noops) > 8
    for data in encoded:
        theirs, ours = outsider.decode_entry(data), lattice.Entry.from_bytes(data)
        assert (theirs.id, theirs.seq, theirs.lamport, theirs.payload) == (
            ours.id, ours.seq, ours.lamport, ours.payload
        )  # fmt: skip
        assert dict((p, (s, i)) for p, s, i in theirs.deps) == ours.deps
    for n in [*range(1, 200), 3**20, 2**40 + 5, 2**63 - 1]:
        assert outsider.lipmaa(n) == lattice.lipmaa(n), n
    heads = reps[0].frontier()
    items = [(p, s, i) for p, (s, i) in heads.items()]
    assert outsider.frontier_root(items) == _lattice.frontier_root(sorted(items))


def test_the_independent_peer_uses_no_lattice_code() -> None:
    source = Path(outsider.__file__).read_text()
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    allowed = {"blake3", "cryptography", "__future__"} | set(sys.stdlib_module_names)
    assert imported <= allowed, f"imports beyond the document's tools: {imported - allowed}"
    assert "lattice" not in imported


def test_what_the_independent_decoder_refuses() -> None:
    reps, encoded = _entangled_logs(rounds=6)
    data = bytearray(encoded[0])
    data[1] = 99  # an unknown kind
    with pytest.raises(ValueError):
        outsider.decode_entry(bytes(data))
    with pytest.raises(ValueError):
        outsider.decode_entry(encoded[0] + b"\x00")  # trailing bytes
    log = [e for e in encoded if lattice.Entry.from_bytes(e).seq != 1]
    with pytest.raises(AssertionError):
        outsider.check_logs(log, SWARM, list(reps[0].peers))  # every log lost its seq 1


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = Cluster.create(
        tmp_path_factory.mktemp("protocol"),
        ["a", "b"],
        [("b", "a")],
        extra_members=[("outsider", OUTSIDER.public_key, {})],
    )
    c.start()
    a, b = c["a"], c["b"]
    for i in range(30):
        (a if i % 2 else b).append(f"entry {i}")
    c.wait(c.converged, timeout=30, what="a and b converged")
    # Noops entangle the data both ways (the heartbeat runs every 0.2 s here).
    c.wait(lambda: min(s for s, _ in a.frontier().values()) > 16, timeout=30, what="noops")
    yield c
    c.stop()


def test_an_outsider_dials_a_real_node_and_syncs_its_log(cluster: Cluster) -> None:
    a = cluster["a"]
    conn = outsider.Connection.dial(a.address, OUTSIDER_SEED, SWARM)
    try:
        assert conn.remote_identity == a.key and conn.remote_role == 1
        assert conn.remote_swarm == SWARM
        conn.send(outsider.encode_message("CREDIT", bytes=1 << 30))
        conn.send(outsider.encode_message("FRONTIER", heads={}))
        frontier: dict[str, object] | None = None
        entries: list[bytes] = []
        deadline = time.monotonic() + 30
        while True:
            assert time.monotonic() < deadline, "no SYNCED from the node"
            name, fields = outsider.decode_message(conn.recv())
            if name == "FRONTIER":
                frontier = fields
            elif name == "ENTRIES":
                entries += fields["entries"]  # type: ignore[arg-type]
            elif name == "SYNCED":
                break
    finally:
        conn.close()
    assert frontier is not None
    heads: dict[bytes, tuple[int, bytes]] = frontier["heads"]  # type: ignore[assignment]
    items = [(p, s, i) for p, (s, i) in heads.items()]
    assert frontier["root"] == outsider.frontier_root(items)
    report = outsider.check_logs(
        entries, SWARM, [n.key for n in cluster.nodes] + [OUTSIDER.public_key]
    )
    # An entry may come twice (the stream and a live push overlap): counted once.
    assert report.entries == len(set(entries)) >= 30 and report.noops >= 1
    # Everything the frontier announced came, with those ids (and perhaps newer entries
    # the node delivered while it streamed).
    streamed = {(e.author, e.seq): e.id for e in map(outsider.decode_entry, entries)}
    for author, (seq, entry_id) in heads.items():
        assert streamed.get((author, seq)) == entry_id
        assert all((author, s) in streamed for s in range(1, seq + 1))

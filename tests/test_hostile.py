"""Hostile connections against a real node process (DESIGN §7, §16): each is cut off within
its timeout, nothing it sent is stored, and the node keeps serving an honest peer.

The hostile side is written with lattice's own Noise primitives over a raw socket, so it
can break the protocol at exactly one point each time.
"""

from __future__ import annotations

import os
import socket
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import lattice
from cluster import SWARM, Cluster
from lattice import _lattice, wire
from lattice.replica import Replica

#: The hostile party is a registered member, so it gets past admission when it wants to.
MALLORY = lattice.Identity.from_seed(bytes([0x66]) * 32)
TIMEOUT_MARGIN = 3.0
#: The per-link live queue cap of the node under attack (small, so floods hit it).
QUEUE_CAP = 4 * 1024 * 1024


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    directory = tmp_path_factory.mktemp("hostile")
    c = Cluster.create(
        directory,
        ["a", "b"],
        [("b", "a")],
        extra_members=[("mallory", MALLORY.public_key, {})],
        limits={"max_queue_bytes": QUEUE_CAP},
    )
    # a holds enough entries that streaming them fills any socket buffer.
    a = c["a"]
    peers = [n.key for n in c.nodes] + [MALLORY.public_key]
    rep = Replica(a.identity, peers=peers, swarm_id=SWARM, path=a.store)
    log = _lattice.synthetic_log(a.identity.signing_key, SWARM, 20_000, 400)
    for i in range(0, len(log), 1000):
        rep.receive(log[i : i + 1000])
    rep.close()
    c.start()
    c.wait(c.converged, timeout=60, what="b synced with a")
    yield c
    c.stop()


def _connect(node_address: tuple[str, int], rcvbuf: int | None = None) -> socket.socket:
    s = socket.socket()
    if rcvbuf is not None:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.connect(node_address)
    s.settimeout(10)
    return s


def _record(data: bytes) -> bytes:
    return struct.pack(">H", len(data)) + data


def _recv_record(s: socket.socket) -> bytes:
    head = _recv_exactly(s, 2)
    return _recv_exactly(s, struct.unpack(">H", head)[0])


def _recv_exactly(s: socket.socket, n: int) -> bytes:
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        if not chunk:
            raise ConnectionError("closed")
        out += chunk
    return out


def _handshake(
    s: socket.socket,
    *,
    swarm: bytes = SWARM,
    role: int = _lattice.ROLE_PEER,
    identity: lattice.Identity = MALLORY,
    bind_other_key: bool = False,
) -> _lattice.NoiseChannel:
    kp = _lattice.NoiseKeypair.generate()
    hs = _lattice.NoiseHandshake.initiator(kp)
    s.sendall(_record(hs.write()))
    remote = _lattice.Hello.from_bytes(hs.read(_recv_record(s)))
    assert remote.binds(hs.remote_static)
    static = _lattice.NoiseKeypair.generate().public if bind_other_key else kp.public
    hello = _lattice.Hello.create(identity.signing_key, static, swarm, role)
    s.sendall(_record(hs.write(hello.to_bytes())))
    return hs.into_channel()


def _closed_within(s: socket.socket, seconds: float) -> float:
    """Seconds until the node closed the connection (reading and discarding)."""
    start = time.monotonic()
    s.settimeout(0.2)
    while time.monotonic() - start < seconds:
        try:
            if not s.recv(1 << 16):
                return time.monotonic() - start
        except TimeoutError:
            continue
        except ConnectionError:
            return time.monotonic() - start
    raise AssertionError(f"connection still open after {seconds} s")


def _still_serving(c: Cluster, tag: str) -> None:
    """Nothing hostile was stored, and an honest peer still gets new entries."""
    a, b = c["a"], c["b"]
    assert set(a.frontier()) <= {"a", "b"}, "nothing of mallory's is stored"
    seq, _ = a.append(f"still serving after {tag}")
    c.wait(lambda: b.frontier()["a"][0] >= seq, timeout=15, what="b gets a's new entry")


def _refused_or_closed(c: Cluster, before: int) -> None:
    st = c["a"].status()
    assert st["refused"] > before or not any(
        p["name"] == "mallory" and p["connected"] for p in st["peers"]
    )


LIMITS = {"handshake": 1.5, "idle": 4.0, "write": 2.0}


def test_random_bytes(cluster: Cluster) -> None:
    before = cluster["a"].status()["refused"]
    s = _connect(cluster["a"].address)
    s.sendall(os.urandom(4096))
    _closed_within(s, LIMITS["handshake"] + TIMEOUT_MARGIN)
    _refused_or_closed(cluster, before)
    _still_serving(cluster, "random bytes")


def test_truncated_handshake(cluster: Cluster) -> None:
    before = cluster["a"].status()["refused"]
    s = _connect(cluster["a"].address)
    hs = _lattice.NoiseHandshake.initiator(_lattice.NoiseKeypair.generate())
    message = _record(hs.write())
    s.sendall(message[: len(message) // 2])  # and then nothing more
    took = _closed_within(s, LIMITS["handshake"] + TIMEOUT_MARGIN)
    assert took >= LIMITS["handshake"] * 0.8, "cut off by the handshake timeout"
    assert cluster["a"].status()["refused"] > before
    _still_serving(cluster, "a truncated handshake")


def test_silent_peer(cluster: Cluster) -> None:
    before = cluster["a"].status()["refused"]
    s = _connect(cluster["a"].address)
    _closed_within(s, LIMITS["handshake"] + TIMEOUT_MARGIN)
    assert cluster["a"].status()["refused"] > before
    _still_serving(cluster, "a silent peer")


def test_valid_handshake_for_another_swarm(cluster: Cluster) -> None:
    before = cluster["a"].status()["refused"]
    s = _connect(cluster["a"].address)
    _handshake(s, swarm=bytes(32))
    _closed_within(s, TIMEOUT_MARGIN)
    assert cluster["a"].status()["refused"] > before
    _still_serving(cluster, "another swarm")


def test_identity_signature_over_another_static_key(cluster: Cluster) -> None:
    before = cluster["a"].status()["refused"]
    s = _connect(cluster["a"].address)
    _handshake(s, bind_other_key=True)
    _closed_within(s, TIMEOUT_MARGIN)
    assert cluster["a"].status()["refused"] > before
    _still_serving(cluster, "a binding over another key")


def test_unknown_identity(cluster: Cluster) -> None:
    before = cluster["a"].status()["refused"]
    s = _connect(cluster["a"].address)
    _handshake(s, identity=lattice.Identity.from_seed(bytes([0x67]) * 32))
    _closed_within(s, TIMEOUT_MARGIN)
    assert cluster["a"].status()["refused"] > before
    _still_serving(cluster, "an unknown identity")


def test_oversized_frame(cluster: Cluster) -> None:
    s = _connect(cluster["a"].address)
    channel = _handshake(s)
    # A frame header announcing more than MAX_FRAME_LEN: cut off before it is buffered.
    s.sendall(channel.seal_record(struct.pack(">I", _lattice.MAX_FRAME_LEN + 1) + b"x"))
    _closed_within(s, TIMEOUT_MARGIN)
    reasons = " ".join(cluster["a"].status().get("closed", []))
    assert "frame" in reasons.lower()
    _still_serving(cluster, "an oversized frame")


def test_garbage_inside_a_valid_channel(cluster: Cluster) -> None:
    s = _connect(cluster["a"].address)
    channel = _handshake(s)
    s.sendall(channel.seal(bytes([wire.MessageType.ENTRIES]) + struct.pack(">I", 1) + b"\xff"))
    _closed_within(s, TIMEOUT_MARGIN)
    _still_serving(cluster, "a malformed message")


def test_peer_that_stays_silent_after_the_handshake(cluster: Cluster) -> None:
    s = _connect(cluster["a"].address)
    _handshake(s)
    took = _closed_within(s, LIMITS["idle"] + TIMEOUT_MARGIN)
    assert took >= LIMITS["idle"] * 0.8, "cut off by the idle timeout"
    _still_serving(cluster, "a silent peer after the handshake")


def test_peer_that_reads_nothing(cluster: Cluster) -> None:
    s = _connect(cluster["a"].address, rcvbuf=4096)
    channel = _handshake(s)
    # Ask for everything (an empty frontier), grant all the credit there is, then never
    # read: the node's writes stop draining and it must give up after its write timeout.
    s.sendall(channel.seal(wire.encode(wire.Credit(2**32 - 1))))
    s.sendall(channel.seal(wire.encode(wire.Frontier.of({}))))
    start = time.monotonic()

    def gone() -> bool:
        peers = cluster["a"].status()["peers"]
        return not any(p["name"] == "mallory" and p["connected"] for p in peers)

    # Mallory keeps pinging (it is not silent), it just never reads.
    deadline = time.monotonic() + LIMITS["write"] + LIMITS["idle"] + TIMEOUT_MARGIN
    while not gone():
        assert time.monotonic() < deadline, "a peer that reads nothing was never cut off"
        try:
            s.sendall(channel.seal(wire.encode(wire.Ping())))
        except OSError:
            break
        time.sleep(0.3)
    cluster.wait(gone, timeout=TIMEOUT_MARGIN)
    assert time.monotonic() - start >= LIMITS["write"] * 0.8
    reasons = " ".join(cluster["a"].status().get("closed", []))
    assert "did not read" in reasons
    s.close()
    _still_serving(cluster, "a peer that reads nothing")


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_slow_reader_cannot_grow_the_senders_memory(cluster: Cluster) -> None:
    """A registered peer asks for everything (14 MB) and then reads at 256 KiB/s, granting
    credit only for what it has taken: the node's queue for it stays about one batch, and
    its memory does not grow with what it has yet to send."""
    a = cluster["a"]
    assert a.proc is not None
    s = _connect(a.address, rcvbuf=65536)
    channel = _handshake(s)
    s.sendall(channel.seal(wire.encode(wire.Credit(1 << 20))))
    s.sendall(channel.seal(wire.encode(wire.Frontier.of({}))))
    rss_before = _rss_kb(a.proc.pid)
    queued: list[int] = []
    received = 0
    start = time.monotonic()
    s.settimeout(5)
    last_ping = time.monotonic()
    while time.monotonic() - start < 6:
        if time.monotonic() - last_ping > 1:  # slow, not silent
            s.sendall(channel.seal(wire.encode(wire.Ping())))
            last_ping = time.monotonic()
        record = _recv_record(s)
        frame = channel.open(record)
        if frame is not None:
            msg = wire.decode(frame)
            if isinstance(msg, wire.Entries):
                received += len(msg.entries)
                s.sendall(channel.seal(wire.encode(wire.Credit(sum(map(len, msg.entries))))))
        time.sleep(len(record) / (256 * 1024))
        peers = a.status()["peers"]
        queued += [p["queued_bytes"] for p in peers if p["name"] == "mallory"]
    rss_after = _rss_kb(a.proc.pid)
    s.close()
    grew = rss_after - rss_before
    print(f"\nslow reader: {received} entries, max queued {max(queued)} B, RSS +{grew} kB")
    assert received > 0, "the slow reader got entries"
    assert received < 20_000, "it is slow: most are still unsent"
    assert max(queued) <= 3 * (1 << 20), f"queue grew to {max(queued)} bytes"
    assert rss_after - rss_before < 32 * 1024, f"RSS grew by {rss_after - rss_before} kB"
    _still_serving(cluster, "a slow reader")


def test_request_flood_without_credit_is_bounded(cluster: Cluster) -> None:
    """Asking for everything again and again, granting no credit: answers queue only up
    to the link's cap (they used to queue without bound)."""
    a = cluster["a"]
    s = _connect(a.address)
    channel = _handshake(s)
    s.sendall(channel.seal(wire.encode(wire.Frontier.of(dict(a_heads(cluster))))))
    everything = wire.Request([lattice.Missing(cluster["a"].key, 1, 20_000)])
    for _ in range(40):
        s.sendall(channel.seal(wire.encode(everything)))
    time.sleep(1.0)
    peers = a.status()["peers"]
    queued = next(p["queued_bytes"] for p in peers if p["name"] == "mallory")
    assert queued <= QUEUE_CAP + _lattice.MAX_ENTRY_LEN, queued
    s.close()
    _still_serving(cluster, "a request flood")


def a_heads(cluster: Cluster) -> dict[bytes, tuple[int, bytes]]:
    """a's frontier as a peer would report it (so a streams nothing on connect)."""
    front = cluster["a"].frontier()
    keys = {n.name: n.key for n in cluster.nodes}
    return {keys[name]: (seq, bytes.fromhex(i)) for name, (seq, i) in front.items()}


def test_a_small_window_is_respected_not_starved(cluster: Cluster) -> None:
    """A peer granting less than one batch still gets entries, in frames that fit."""
    s = _connect(cluster["a"].address)
    channel = _handshake(s)
    window = 600 * 1024
    s.sendall(channel.seal(wire.encode(wire.Credit(window))))
    s.sendall(channel.seal(wire.encode(wire.Frontier.of({}))))
    got = 0
    s.settimeout(10)
    while got < 3000:
        frame = channel.open(_recv_record(s))
        if frame is None:
            continue
        msg = wire.decode(frame)
        if isinstance(msg, wire.Entries):
            size = sum(map(len, msg.entries))
            assert size <= window
            got += len(msg.entries)
            s.sendall(channel.seal(wire.encode(wire.Credit(size))))
    s.close()

"""Bounded before trust (issue 10): the frame a party may announce depends on its role,
and the bytes of partial frames are capped node-wide. Strangers each holding an almost
complete maximal frame leave a real node process's memory bounded, and it returns near its
baseline once they are gone; a registered peer keeps syncing all along."""

from __future__ import annotations

import contextlib
import socket
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import lattice
from cluster import Cluster
from lattice import _lattice
from lattice.errors import BufferFull, FrameTooLarge, InvalidArgument
from lattice.net.connection import Limits
from lattice.net.framebudget import FrameBudget
from lattice.net.sessions.peer import PeerSession
from lattice.net.wire import MAX_CLIENT_FRAME, max_peer_frame
from test_hostile import _closed_within, _connect, _handshake, _rss_kb

#: Maximal client frames the strangers' share holds at once.
HOLDERS = 12
STRANGER_POOL = HOLDERS * MAX_CLIENT_FRAME + 1024
#: Strangers that try: without a node-wide cap they would hold STRANGERS MiB.
STRANGERS = 40
#: What the strangers' connections cost the node beyond their frames (sockets, session
#: objects, stream buffers) and what an allocator keeps back: generous, and far below
#: what STRANGERS uncapped frames would take (pool + slack = 20 MiB < 40 MiB).
SLACK_KB = 8 * 1024
#: Back near the baseline: well below the HOLDERS MiB that were held.
AFTER_SLACK_KB = 4 * 1024
FRAME_TIMEOUT = 3.0
RECORD = 65535 - 16
#: A registered peer that speaks the protocol by hand.
MALLORY = lattice.Identity.from_seed(bytes([0x66]) * 32)


def _cluster(directory: Path, frame_timeout: float) -> Cluster:
    c = Cluster.create(
        directory,
        ["a", "b"],
        [("b", "a")],
        open_clients=True,
        extra_members=[("mallory", MALLORY.public_key, {})],
        limits={
            "max_stranger_partial_bytes": STRANGER_POOL,
            "max_partial_bytes": STRANGER_POOL + _lattice.MAX_FRAME_LEN,
            "frame_timeout": frame_timeout,
            "idle_timeout": 30.0,
        },
    )
    c.start()
    c.wait(lambda: c["a"].status()["peers"][0]["synced_in"], timeout=30, what="b linked")
    return c


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Frames may take a minute: the memory test's strangers hold theirs while it runs."""
    c = _cluster(tmp_path_factory.mktemp("framebudget"), frame_timeout=60.0)
    yield c
    c.stop()


@pytest.fixture(scope="module")
def hasty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A frame must be complete within FRAME_TIMEOUT."""
    c = _cluster(tmp_path_factory.mktemp("hasty"), frame_timeout=FRAME_TIMEOUT)
    yield c
    c.stop()


def _stranger(cluster: Cluster) -> tuple[socket.socket, _lattice.NoiseChannel]:
    s = _connect(cluster["a"].address)
    identity = lattice.Identity.generate()
    return s, _handshake(s, identity=identity, role=_lattice.ROLE_CLIENT)


def _almost_a_frame(channel: _lattice.NoiseChannel, announced: int) -> bytes:
    """Records of a frame announcing ``announced`` bytes, all but its last byte."""
    plain = struct.pack(">I", announced) + bytes(announced - 1)
    return b"".join(
        channel.seal_record(plain[i : i + RECORD]) for i in range(0, len(plain), RECORD)
    )


def _partial(cluster: Cluster) -> dict[str, int]:
    return cluster["a"].status()["partial_frames"]  # type: ignore[no-any-return]


def _closed(s: socket.socket) -> bool:
    s.settimeout(0.05)
    try:
        return s.recv(1 << 16) == b""
    except TimeoutError:
        return False
    except ConnectionError:
        return True


def test_channels_take_their_role_limit_and_share_one_pool() -> None:
    def pair() -> tuple[_lattice.NoiseChannel, _lattice.NoiseChannel]:
        i = _lattice.NoiseHandshake.initiator(_lattice.NoiseKeypair.generate())
        r = _lattice.NoiseHandshake.responder(_lattice.NoiseKeypair.generate())
        r.read(i.write())
        i.read(r.write())
        r.read(i.write())
        return i.into_channel(), r.into_channel()

    budget = FrameBudget(total=_lattice.MAX_FRAME_LEN + 2 * MAX_CLIENT_FRAME,
                         strangers=2 * MAX_CLIENT_FRAME)  # fmt: skip
    (a, b), (c, d), (e, f) = pair(), pair(), pair()
    for ch in (b, d, f):
        budget.bound(ch, MAX_CLIENT_FRAME, trusted=False)
    with pytest.raises(FrameTooLarge, match=str(MAX_CLIENT_FRAME)):
        b.open(a.seal_record(struct.pack(">I", MAX_CLIENT_FRAME + 1))[2:])
    (a, b) = pair()
    budget.bound(b, MAX_CLIENT_FRAME, trusted=False)
    for sender, receiver in ((a, b), (c, d)):
        record = sender.seal_record(struct.pack(">I", MAX_CLIENT_FRAME))
        assert receiver.open(record[2:]) is None and receiver.receiving
    assert budget.strangers.used == 2 * MAX_CLIENT_FRAME and budget.peers.used == 0
    with pytest.raises(BufferFull, match="partial frames"):
        f.open(e.seal_record(struct.pack(">I", 10))[2:])
    # A registered peer's frame comes out of the other share, up to MAX_FRAME_LEN.
    (g, h) = pair()
    budget.bound(h, _lattice.MAX_FRAME_LEN, trusted=True)
    assert h.open(g.seal_record(struct.pack(">I", _lattice.MAX_FRAME_LEN))[2:]) is None
    assert budget.used == _lattice.MAX_FRAME_LEN + 2 * MAX_CLIENT_FRAME
    b.abandon()
    del d, receiver  # the last references: dropping the channel gives its bytes back
    assert budget.used == _lattice.MAX_FRAME_LEN
    with pytest.raises(InvalidArgument):
        FrameBudget(total=2 * MAX_CLIENT_FRAME, strangers=MAX_CLIENT_FRAME)
    with pytest.raises(InvalidArgument):
        FrameBudget(strangers=MAX_CLIENT_FRAME - 1)


def test_a_client_may_announce_no_more_than_one_op(cluster: Cluster) -> None:
    s, channel = _stranger(cluster)
    s.sendall(channel.seal_record(struct.pack(">I", MAX_CLIENT_FRAME + 1)))
    _closed_within(s, 3.0)
    closed = " ".join(cluster["a"].status()["closed"])  # type: ignore[arg-type]
    assert f"above the limit of {MAX_CLIENT_FRAME}" in closed
    assert _partial(cluster)["strangers"] == 0


def test_a_registered_peer_may_announce_no_more_than_its_credit_allows(cluster: Cluster) -> None:
    limit = max_peer_frame(Limits().credit)
    assert PeerSession.frame_limit(Limits()) == limit < _lattice.MAX_FRAME_LEN
    s = _connect(cluster["a"].address)
    channel = _handshake(s, identity=MALLORY)
    s.sendall(channel.seal_record(struct.pack(">I", limit + 1)))
    _closed_within(s, 3.0)
    closed = " ".join(cluster["a"].status()["closed"])  # type: ignore[arg-type]
    assert f"above the limit of {limit}" in closed
    # Its share holds one such frame per member, whatever the configured total says.
    assert FrameBudget(peers_floor=10 * limit).peers.capacity == 10 * limit


def test_a_trickled_frame_is_cut_at_the_frame_timeout(hasty: Cluster) -> None:
    cluster = hasty
    s, channel = _stranger(cluster)
    s.sendall(channel.seal_record(struct.pack(">I", 1000)))
    start = time.monotonic()
    # One byte a second: never silent, never complete.
    while not _closed(s):
        assert time.monotonic() - start < FRAME_TIMEOUT + 5, "a trickled frame was never cut"
        try:
            s.sendall(channel.seal_record(b"x"))
        except OSError:
            break
        time.sleep(0.5)
    assert time.monotonic() - start >= FRAME_TIMEOUT * 0.8
    closed = " ".join(cluster["a"].status()["closed"])  # type: ignore[arg-type]
    assert f"frame not complete within {FRAME_TIMEOUT}" in closed


def test_strangers_holding_partial_frames_leave_memory_bounded(cluster: Cluster) -> None:
    a, b = cluster["a"], cluster["b"]
    assert a.proc is not None
    # Warm up: one stranger's frame, taken and dropped, so the baseline includes what a
    # first connection allocates once.
    s, channel = _stranger(cluster)
    s.sendall(_almost_a_frame(channel, MAX_CLIENT_FRAME))
    cluster.wait(lambda: _partial(cluster)["strangers"] == MAX_CLIENT_FRAME, what="warm-up")
    s.close()
    cluster.wait(lambda: _partial(cluster)["strangers"] == 0, what="warm-up released")
    baseline = _rss_kb(a.proc.pid)

    held: list[socket.socket] = []
    cut = 0
    peak = baseline
    for _ in range(STRANGERS):
        s, channel = _stranger(cluster)
        with contextlib.suppress(OSError):  # a stranger cut early may see a reset
            s.sendall(_almost_a_frame(channel, MAX_CLIENT_FRAME))
        want = min(len(held) + 1, HOLDERS) * MAX_CLIENT_FRAME
        cluster.wait(
            lambda s=s, want=want: _partial(cluster)["strangers"] == want or _closed(s),  # type: ignore[misc]
            what="the node took the frame or cut the stranger",
        )
        if _closed(s):
            cut += 1
            s.close()
        else:
            held.append(s)
        peak = max(peak, _rss_kb(a.proc.pid))
    assert len(held) == HOLDERS and cut == STRANGERS - HOLDERS
    assert _partial(cluster)["strangers"] == HOLDERS * MAX_CLIENT_FRAME
    closed = " ".join(a.status()["closed"])  # type: ignore[arg-type]
    assert "no room for a frame" in closed
    # The registered peer's share is untouched: b still gets a's new entries.
    seq, _ = a.append("while strangers hold the strangers' share")
    cluster.wait(lambda: b.frontier()["a"][0] >= seq, timeout=15, what="b syncs")
    grew = peak - baseline
    print(f"\n{STRANGERS} strangers: RSS {baseline} kB, peak +{grew} kB", end="")
    assert grew < STRANGER_POOL // 1024 + SLACK_KB, f"RSS grew by {grew} kB"

    for s in held:
        s.close()
    cluster.wait(lambda: _partial(cluster)["strangers"] == 0, what="the frames were released")
    time.sleep(0.5)
    after = _rss_kb(a.proc.pid)
    print(f", after they closed +{after - baseline} kB")
    assert after - baseline < AFTER_SLACK_KB, f"RSS stayed {after - baseline} kB above baseline"

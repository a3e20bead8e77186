"""Client access of a home peer (issue 10, closed by default): no clients unless listed,
open access only when asked for (and warned about), and per-client quotas of ops and
bytes for every client, across its connections. Real nodes on loopback, real clients."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

import lattice
from lattice.errors import LatticeError, LimitExceeded
from lattice.net.client import Client
from lattice.net.config import Member, load, render
from lattice.net.local import local_swarm
from lattice.net.quota import MAX_TRACKED_CLIENTS, Quota, quota_for

SWARM = bytes(32)


async def _submit(node: lattice.net.Node, me: lattice.Identity, payloads: list[bytes]) -> int:
    """Submit ``payloads`` on one connection; how many were acknowledged before the node
    refused one (or all)."""
    assert node.listen_address is not None
    acked = 0
    async with await Client.connect(node.listen_address, me, SWARM) as client:
        try:
            for payload in payloads:
                await client.submit(payload)
                acked += 1
        except LatticeError:
            pass
    return acked


def test_with_no_clients_list_a_home_peer_serves_no_client(tmp_path: Path) -> None:
    async def run() -> None:
        (home,) = await local_swarm(1, tmp_path)
        try:
            assert await _submit(home, lattice.Identity.generate(), [b"op"]) == 0
            await home.wait_for(lambda n: n.refused >= 1)
            assert "serves no clients" in home.closed_reasons[-1]
            assert home.replica.head(home.me) == 0
        finally:
            await home.stop()

    asyncio.run(run())


def test_listed_clients_only(tmp_path: Path) -> None:
    listed, stranger = lattice.Identity.generate(), lattice.Identity.generate()

    async def run() -> None:
        (home,) = await local_swarm(1, tmp_path, clients=[listed.public_key])
        try:
            assert await _submit(home, listed, [b"mine"]) == 1
            assert await _submit(home, stranger, [b"not mine"]) == 0
            await home.wait_for(lambda n: n.refused >= 1)
            assert "not a client of this home peer" in home.closed_reasons[-1]
            assert home.replica.head(home.me) == 1
        finally:
            await home.stop()

    asyncio.run(run())


def test_open_access_is_explicit_and_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def run() -> None:
        with caplog.at_level(logging.WARNING, logger="lattice.node"):
            (home,) = await local_swarm(1, tmp_path, open_clients=True)
        try:
            assert "open client access" in caplog.text
            assert await _submit(home, lattice.Identity.generate(), [b"anyone"]) == 1
        finally:
            await home.stop()

    asyncio.run(run())
    # In a configuration file: a flag, typed.
    text = render(identity="a.key", swarm_id=SWARM, members=[Member("a", bytes(32))])
    (tmp_path / "closed.toml").write_text(text)
    assert load(tmp_path / "closed.toml").open_clients is False
    (tmp_path / "open.toml").write_text(text.replace("[swarm]", "[swarm]\nopen_clients = true"))
    assert load(tmp_path / "open.toml").open_clients is True
    (tmp_path / "bad.toml").write_text(text.replace("[swarm]", '[swarm]\nopen_clients = "yes"'))
    with pytest.raises(lattice.errors.InvalidArgument, match="open_clients must be true or false"):
        load(tmp_path / "bad.toml")


@pytest.mark.parametrize("kind", ["ops", "bytes"])
def test_a_client_over_its_quota_is_refused_across_connections(tmp_path: Path, kind: str) -> None:
    me = lattice.Identity.generate()
    payload = b"x" * 100

    async def run() -> None:
        (home,) = await local_swarm(1, tmp_path, clients=[me.public_key])
        if kind == "ops":
            home.config = _with(home.config, client_ops_per_minute=3)
        else:
            size = len(lattice.ClientOp.create(me.signing_key, SWARM, 1, payload).to_bytes())
            home.config = _with(home.config, client_bytes_per_minute=3 * size + size // 2)
        try:
            # Two on one connection, then a second connection: the quota is the key's.
            assert await _submit(home, me, [payload, payload]) == 2
            assert await _submit(home, me, [payload, payload, payload]) == 1
            await home.wait_for(lambda n: any("quota exceeded" in r for r in n.closed_reasons))
            assert home.replica.head(home.me) == 3  # the refused op was not wrapped
        finally:
            await home.stop()

    asyncio.run(run())


def _with(config: lattice.net.NodeConfig, **changes: int) -> lattice.net.NodeConfig:
    import dataclasses

    return dataclasses.replace(config, **changes)


def test_quotas_are_windows_and_the_table_stays_bounded() -> None:
    q = Quota(ops=1, bytes=10, window=60.0)
    q.take(10, now=0.0)
    with pytest.raises(LimitExceeded):
        q.take(1, now=59.0)
    q.take(10, now=60.0)
    table: dict[bytes, Quota] = {}
    for i in range(MAX_TRACKED_CLIENTS):
        quota_for(table, i.to_bytes(32, "big"), 5, 100, now=0.0).take(1, now=0.0)
    # All live: none is forgotten, so nobody escapes their window by being crowded out.
    quota_for(table, b"one more", 5, 100, now=1.0).take(1, now=1.0)
    assert len(table) == MAX_TRACKED_CLIENTS + 1
    assert table[(0).to_bytes(32, "big")].used_ops == 1
    # Once their windows have expired, they are forgotten when the table is full.
    quota_for(table, b"later", 5, 100, now=200.0).take(1, now=200.0)
    assert len(table) <= 3 and b"later" in table


def test_a_refused_client_is_told_why(tmp_path: Path) -> None:
    from lattice.errors import HandshakeRefused

    listed, stranger = lattice.Identity.generate(), lattice.Identity.generate()

    async def run() -> None:
        (home,) = await local_swarm(1, tmp_path, clients=[listed.public_key])
        try:
            assert home.listen_address is not None
            async with await Client.connect(home.listen_address, stranger, SWARM) as client:
                with pytest.raises(HandshakeRefused, match="not a client of this home peer"):
                    await client.submit(b"op")
            home.config = _with(home.config, client_ops_per_minute=1)
            async with await Client.connect(home.listen_address, listed, SWARM) as client:
                await client.submit(b"one")
                with pytest.raises(HandshakeRefused, match="op refused: client quota exceeded"):
                    await client.submit(b"two")
        finally:
            await home.stop()

    asyncio.run(run())


def test_one_client_key_cannot_take_every_session(tmp_path: Path) -> None:
    from lattice.errors import HandshakeRefused
    from lattice.net.sessions.client import MAX_SESSIONS_PER_CLIENT

    me = lattice.Identity.generate()

    async def run() -> None:
        (home,) = await local_swarm(1, tmp_path, clients=[me.public_key])
        assert home.listen_address is not None
        held = [
            await Client.connect(home.listen_address, me, SWARM)
            for _ in range(MAX_SESSIONS_PER_CLIENT)
        ]
        try:
            await home.wait_for(lambda n: len(n.client_links) == MAX_SESSIONS_PER_CLIENT)
            async with await Client.connect(home.listen_address, me, SWARM) as extra:
                with pytest.raises(HandshakeRefused, match="sessions already"):
                    await extra.submit(b"one too many")
            assert (await held[0].submit(b"the others still work")).seq == 1
        finally:
            for c in held:
                await c.close()
            await home.stop()

    asyncio.run(run())


def test_an_idle_client_keeps_its_connection(tmp_path: Path) -> None:
    """The client pings while idle, so the home peer's idle timeout does not cut it."""
    from lattice.net.connection import Limits

    me = lattice.Identity.generate()
    limits = Limits(idle_timeout=1.5, ping_interval=0.3)

    async def run() -> None:
        (home,) = await local_swarm(1, tmp_path, clients=[me.public_key], limits=limits)
        try:
            async with await Client.connect(home.listen_address, me, bytes(32), limits) as c:
                await asyncio.sleep(3 * limits.idle_timeout)  # idle, twice past the timeout
                ack = await c.submit(b"still here")
                assert ack.seq >= 1 and len(home.client_links) == 1
                assert c.conn.frames_sent > 3, "it pinged while idle"
        finally:
            await home.stop()

    asyncio.run(run())

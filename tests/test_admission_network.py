"""Admission, scores and budgets on a real node's client connections (issue 15, DESIGN
§11): with ``[admission]`` a home peer wraps ops only of admitted clients, carries their
admission records and vouches (``ADMIT``), slows a client a little over its budget, cuts
one further over, refuses a graylisted one at the handshake, says why in its status, and
keeps the scores across a restart."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

import pytest

import lattice
from lattice.errors import HandshakeRefused, ProtocolError
from lattice.net import wire
from lattice.net.client import Client
from lattice.net.config import load, render
from lattice.net.local import local_swarm
from lattice.net.reputation import SCORES_SUFFIX
from lattice.net.sessions.client import MAX_HELD_OPS
from lattice.sybil import Admission, AdmissionPolicy, Vouch

SWARM = bytes(32)  # local_swarm's
POLICY = AdmissionPolicy(min_bits=8)


def ident(tag: int) -> lattice.Identity:
    return lattice.Identity.from_seed(bytes([0xAD, tag]) + bytes(30))


async def refused(client: Client) -> str:
    """The reason of the refusal that ends the client's connection."""
    while True:
        msg = await client.conn.recv()
        if isinstance(msg, wire.Refused):
            return msg.reason


def test_only_admitted_clients_have_ops_wrapped(tmp_path: Path) -> None:
    stranger, worker, friend = ident(1), ident(2), ident(3)

    async def run() -> None:
        (home,) = await local_swarm(1, tmp_path, open_clients=True, admission=POLICY)
        try:
            assert home.listen_address is not None and home.replica.trust is not None
            async with await Client.connect(home.listen_address, stranger, SWARM) as client:
                with pytest.raises(HandshakeRefused, match="not admitted"):
                    await client.submit(b"spam")
            async with await Client.connect(home.listen_address, worker, SWARM) as client:
                await client.admit(Admission.make(worker.public_key, SWARM, 8))
                ack = await client.submit(b"work")
            assert home.replica.get(ack.entry_id).kind == lattice.Kind.WRAP
            async with await Client.connect(home.listen_address, friend, SWARM) as client:
                await client.admit(Vouch.create(home.identity, SWARM, friend.public_key))
                await client.submit(b"hello")
                with pytest.raises(HandshakeRefused, match="admission record of another key"):
                    await client.admit(Admission.make(stranger.public_key, SWARM, 8))
            trust = home.replica.trust
            assert trust.why(worker.public_key) == "admitted by proof of work"
            assert trust.distance(friend.public_key) == 1 and not trust.admitted(
                stranger.public_key
            )
            status = home.status()["reputation"]
            assert isinstance(status, dict) and status["scored"] == 3
        finally:
            await home.stop()

    asyncio.run(run())


def test_a_client_over_budget_is_slowed_then_cut_and_a_graylisted_one_refused(
    tmp_path: Path,
) -> None:
    flooder, stranger = ident(4), ident(5)

    async def run() -> None:
        (home,) = await local_swarm(1, tmp_path, open_clients=True, admission=POLICY)
        try:
            assert home.listen_address is not None
            async with await Client.connect(home.listen_address, flooder, SWARM) as client:
                await client.admit(Admission.make(flooder.public_key, SWARM, 8))
                with contextlib.suppress(ProtocolError):  # cut while it still sends
                    for _ in range(1, 3 * MAX_HELD_OPS):  # pipelined, never waiting for acks
                        await client.send_op(b"x")
                    reason = await refused(client)
                    assert reason.startswith("cut: ")
            wrapped = [e for e in home.replica.entries(home.me) if e.kind == lattice.Kind.WRAP]
            assert 0 < len(wrapped) < 3 * MAX_HELD_OPS  # the burst went through, slowed after
            cuts = home.status()["reputation"]["cuts"]  # type: ignore[index]
            assert cuts and cuts[-1]["identity"] == flooder.public_key.hex()
            assert "over budget" in cuts[-1]["reason"]
            # A stranger's refused ops graylist it: then it is refused at the handshake.
            for n in range(3):
                async with await Client.connect(home.listen_address, stranger, SWARM) as client:
                    with pytest.raises(HandshakeRefused, match="not admitted"):
                        await client.submit(b"spam %d" % n)
            async with await Client.connect(home.listen_address, stranger, SWARM) as client:
                with pytest.raises(HandshakeRefused, match="graylisted"):
                    await client.submit(b"again")
            assert any("graylisted" in r for r in home.closed_reasons)
        finally:
            await home.stop()
        # The scores outlive the node: beside its store.
        assert Path(str(home.config.store) + SCORES_SUFFIX).exists()
        (again,) = await local_swarm(
            1, tmp_path, open_clients=True, admission=POLICY, identities=[home.identity]
        )
        try:
            assert again.reputation is not None
            assert again.reputation.band(stranger.public_key) == "graylisted"
        finally:
            await again.stop()

    asyncio.run(run())


def test_the_admission_table_of_a_config_file(tmp_path: Path) -> None:
    from lattice.errors import InvalidArgument
    from lattice.net.config import Member

    members = [Member("a", ident(9).public_key)]
    text = render(identity="a.key", swarm_id=SWARM, members=members, admission=POLICY)
    (tmp_path / "a.toml").write_text(text)
    assert load(tmp_path / "a.toml").admission == POLICY
    (tmp_path / "b.toml").write_text(text.replace("min_bits = 8", "min_bits = 99"))
    with pytest.raises(InvalidArgument, match=r"\[admission\] admission min_bits is at most"):
        load(tmp_path / "b.toml")
    (tmp_path / "c.toml").write_text(text.replace("hops = 2", "hopz = 2"))
    with pytest.raises(InvalidArgument, match="hops"):
        load(tmp_path / "c.toml")
    plain = render(identity="a.key", swarm_id=SWARM, members=members)
    (tmp_path / "d.toml").write_text(plain)
    assert load(tmp_path / "d.toml").admission is None


def test_a_guest_is_handed_a_view_only_once_admitted(tmp_path: Path) -> None:
    from lattice.errors import GuestRefused
    from lattice.net.guest import GuestClient, GuestStore

    guest = ident(6)

    async def run() -> None:
        (owner,) = await local_swarm(
            1, tmp_path, shares={b"doc": [guest.public_key]}, admission=POLICY
        )
        try:
            owner.documents.open(b"doc").text("t").insert(0, "shared")
            address = owner.listen_address
            with pytest.raises(GuestRefused, match="not admitted"):
                await GuestClient.connect(address, guest, SWARM, b"doc")
            owner.append(Vouch.create(owner.identity, SWARM, guest.public_key).to_bytes(),
                         lattice.Kind.VOUCH)  # fmt: skip
            await owner.durable()
            store = GuestStore(None)  # the guest keeps its view, to reopen it
            async with await GuestClient.connect(address, guest, SWARM, b"doc", store) as g:
                await g.insert("t", 6, "!")
                assert str(g.guest.doc.text("t")) == "shared!"
                # Revoked while its session is open: its next op is refused, and so is the
                # view when it comes back for it.
                revoke = Vouch.create(owner.identity, SWARM, guest.public_key, revoke=True)
                owner.append(revoke.to_bytes(), lattice.Kind.VOUCH)
                await owner.durable()
                with pytest.raises(GuestRefused, match="revoked"):
                    await g.insert("t", 7, "?")
            assert store.view(b"doc") is not None
            with pytest.raises(GuestRefused, match="revoked"):
                await GuestClient.connect(address, guest, SWARM, b"doc", store)
            assert str(owner.documents.open(b"doc").text("t")) == "shared!"
            assert owner.reputation is not None
            assert owner.reputation.scores.record(guest.public_key) is not None
        finally:
            await owner.stop()

    asyncio.run(run())


def test_lattice_vouch_asks_the_running_node(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from lattice.cli import main
    from lattice.net.control import serve_control

    friend = ident(7)

    async def run() -> None:
        (home,) = await local_swarm(1, tmp_path, open_clients=True, admission=POLICY)
        sock = tmp_path / "home.sock"
        server = await serve_control(home, sock)
        try:
            text = render(identity="n0.key", swarm_id=SWARM, members=home.config.members,
                          control="home.sock")  # fmt: skip
            (tmp_path / "home.toml").write_text(text)
            invoke = CliRunner().invoke
            args = ["vouch", "--config", str(tmp_path / "home.toml"), friend.public_key.hex()]
            result = await asyncio.to_thread(invoke, main, args)
            assert result.exit_code == 0 and "vouched for" in result.output, result.output
            assert home.replica.trust is not None
            assert home.replica.trust.distance(friend.public_key) == 1
            result = await asyncio.to_thread(invoke, main, [*args, "--revoke"])
            assert result.exit_code == 0, result.output
            assert home.replica.trust.why(friend.public_key) == "revoked by a registered peer"
            bad = await asyncio.to_thread(invoke, main, [*args[:3], "zz"])
            assert bad.exit_code != 0 and "hex" in bad.output
        finally:
            server.close()
            await home.stop()

    asyncio.run(run())


def test_a_replica_s_penalties_are_score_inputs() -> None:
    from lattice.net.reputation import Reputation

    a, b, c, d = ident(20), ident(21), ident(24), ident(26)
    peers = [a.public_key, b.public_key, c.public_key, d.public_key]
    sender = lattice.Replica(b, peers=peers, admission=None)
    good = sender.append(b"data")
    bad = sender.wrap_client_op(lattice.ClientOp.create(ident(22).signing_key, SWARM, 1, b"x"))
    r = lattice.Replica(a, peers=peers, admission=POLICY)
    rep = Reputation.beside(None, r.penalties)  # as a node opens it: before any receive
    result = r.receive([good, bad])
    r.receive([bad])  # sent again: refused again, penalised once
    assert r.penalties == {b.public_key: 1}
    rep.took(result, b.public_key, 1)
    rep.follow(r.penalties)  # as a node's timer does: b's refused wrap counted (once)
    rep.follow(r.penalties)
    record = rep.scores.record(b.public_key)
    assert record is not None and record.first == 1 and record.invalid == 1
    other = lattice.Replica(c, peers=peers, admission=None)
    stranger_op = lattice.ClientOp.create(ident(23).signing_key, SWARM, 1, b"y")
    r.receive([other.wrap_client_op(stranger_op)])
    rep.follow(r.penalties)
    rep.follow(r.penalties)
    assert rep.scores.record(c.public_key).invalid == 1  # type: ignore[union-attr]
    # A fork proven: its author to the floor, for good.
    twin = lattice.Replica(b, peers=peers, admission=None)
    result = r.receive([twin.append(b"another first entry")])
    assert result.frauds
    rep.took(result, a.public_key, 0)
    assert rep.band(b.public_key) == "graylisted"
    # The penalties a replica counts after the last tick are taken at close.
    last = lattice.Replica(d, peers=peers, admission=None)
    r.receive([last.wrap_client_op(lattice.ClientOp.create(ident(25).signing_key, SWARM, 1, b"z"))])
    rep.close(r.penalties)
    assert rep.scores.record(d.public_key).invalid == 1  # type: ignore[union-attr]


def test_under_a_handshake_flood_new_connections_must_solve_a_puzzle(tmp_path: Path) -> None:
    from lattice.net import connpuzzle
    from lattice.net.connection import _read_record, _record
    from lattice.sybil.puzzle import ConnectionPuzzle

    worker = ident(30)

    async def run() -> None:
        (home,) = await local_swarm(1, tmp_path, open_clients=True, admission=POLICY)
        try:
            assert home.listen_address is not None and home.reputation is not None
            # A node that takes 1 handshake a second, flooded with 80: it asks for work.
            home.reputation.puzzle = puzzle = ConnectionPuzzle(target_rate=1.0, max_bits=10)
            for _ in range(80):
                puzzle.handshake(time.monotonic())
            await asyncio.sleep(0.15)
            assert home.reputation.bits() > 0
            counted: list[float] = []  # the handshakes that drive the difficulty
            count_one = puzzle.handshake

            def counting(now: float) -> None:
                counted.append(now)
                count_one(now)

            puzzle.handshake = counting  # type: ignore[method-assign]
            async with await Client.connect(home.listen_address, worker, SWARM) as client:
                await client.admit(Admission.make(worker.public_key, SWARM, 8))
                await client.submit(b"solved its way in")
            assert len(counted) == 1  # it got past the puzzle
            assert home.status()["reputation"]["puzzle_bits"] > 0  # type: ignore[index]
            # An initiator that answers with a wrong nonce is refused before any DH work.
            reader, writer = await asyncio.open_connection(*home.listen_address)
            hs = lattice._lattice.NoiseHandshake.initiator(lattice._lattice.NoiseKeypair.generate())
            message1 = hs.write(b"")
            writer.write(_record(message1))
            asked = connpuzzle.read_puzzle(await _read_record(reader))
            assert asked is not None and asked[1] > 0
            wrong = 0
            while True:  # a nonce that does not solve it (most do not)
                try:
                    connpuzzle.check_solution(message1, *asked, wrong.to_bytes(8, "big"))
                except lattice.errors.HandshakeRefused:
                    break
                wrong += 1
            writer.write(_record(wrong.to_bytes(8, "big")))
            await writer.drain()
            with pytest.raises(asyncio.IncompleteReadError):
                await asyncio.wait_for(_read_record(reader), 5.0)
            writer.close()
            await asyncio.sleep(0.05)
            assert any("puzzle not solved" in r for r in home.closed_reasons)
            assert len(counted) == 1  # an unsolved attempt does not raise the difficulty
            # An initiator works for at most 24 bits (a hostile responder asks for more).
            with pytest.raises(lattice.errors.HandshakeRefused, match="at most 24"):
                await connpuzzle.solve(message1, bytes(32), 25)
        finally:
            await home.stop()

    asyncio.run(run())


def test_what_the_budget_allows_is_served_and_never_cut(tmp_path: Path) -> None:
    """A known client pipelining within its burst is served in full (reading pauses while
    the home peer works); a new client's op larger than its byte bucket is held, and the
    next one too while that debt is repaid, not cut; a record already in the log is not
    carried twice."""
    from lattice.errors import StoreError

    known, big = ident(40), ident(41)

    async def run() -> None:
        (home,) = await local_swarm(1, tmp_path, open_clients=True, admission=POLICY)
        try:
            assert home.listen_address is not None
            async with await Client.connect(home.listen_address, known, SWARM) as client:
                record = Admission.make(known.public_key, SWARM, 8)
                await client.admit(record)
                for n in range(12):  # earns the known band: 50 ops/s, a burst of 100
                    await client.submit(b"warm %d" % n)
                for _ in range(90):
                    await client.send_op(b"p")
                acks = [await client.conn.recv() for _ in range(90)]
                assert all(isinstance(a, wire.OpAck) for a in acks)
                with pytest.raises(HandshakeRefused, match="admitted by proof of work already"):
                    await client.admit(record)  # a retry: refused, not held against it
            assert home.reputation is not None
            assert home.reputation.scores.record(known.public_key).invalid == 0  # type: ignore[union-attr]
            async with await Client.connect(home.listen_address, big, SWARM) as client:
                await client.admit(Admission.make(big.public_key, SWARM, 8))
                await client.submit(bytes(100_000))  # 3 times the new band's byte bucket
                await client.submit(b"and one more")  # held while the debt is repaid

            # A store failure under a held op ends the session (no hang).
            async def broken() -> None:
                raise StoreError("disk gone")

            home.durable = broken  # type: ignore[method-assign]
            async with await Client.connect(home.listen_address, known, SWARM) as client:
                with pytest.raises((HandshakeRefused, ProtocolError)):
                    await asyncio.wait_for(client.submit(b"lost"), 10.0)
        finally:
            await home.stop()

    asyncio.run(run())


def test_a_registered_peer_is_paced_once_throttled_and_cut_once_graylisted() -> None:
    from lattice.errors import OverBudget
    from lattice.net.reputation import Reputation

    peer = ident(50)
    rep = Reputation(None, clock=lambda: 0.0)
    assert rep.peer_hold(peer.public_key, 1000, 1 << 20) == 0.0  # good standing: credit only
    rep.invalid(peer.public_key)
    rep.invalid(peer.public_key)  # -40: throttled (1 entry/s, 8 KiB/s on a peer link)
    # Its link's clock: 4 entries cost 4 s, less the half-second burst of an idle link;
    # the next frame, 16 KiB (2 s), is due after those.
    assert rep.peer_hold(peer.public_key, 4, 1024) == 3.5
    assert rep.peer_hold(peer.public_key, 1, 16 * 1024) == 5.5
    rep.invalid(peer.public_key)  # -90: graylisted
    with pytest.raises(OverBudget, match="graylisted peer"):
        rep.peer_hold(peer.public_key, 1, 1)
    with pytest.raises(OverBudget, match="graylisted"):
        rep.admit(peer.public_key)  # and refused at the handshake


def test_registered_peers_in_good_standing_sync_unhindered(tmp_path: Path) -> None:
    async def run() -> None:
        nodes = await local_swarm(2, tmp_path, admission=POLICY)
        try:
            for n in range(300):
                nodes[0].append(b"entry %d" % n)
            await nodes[0].durable()
            for _ in range(200):
                if nodes[1].replica.head(nodes[0].me) >= 300:
                    break
                await asyncio.sleep(0.05)
            assert nodes[1].replica.head(nodes[0].me) >= 300
            assert nodes[1].reputation is not None
            assert nodes[1].reputation.band(nodes[0].me) in ("known", "good")
        finally:
            for node in nodes:
                await node.stop()

    asyncio.run(run())


def test_a_revoked_client_cannot_have_its_revocation_carried_again(tmp_path: Path) -> None:
    friend = ident(60)

    async def run() -> None:
        (home,) = await local_swarm(1, tmp_path, open_clients=True, admission=POLICY)
        try:
            assert home.listen_address is not None and home.reputation is not None
            revoke = Vouch.create(home.identity, SWARM, friend.public_key, revoke=True)
            for vouch in (Vouch.create(home.identity, SWARM, friend.public_key), revoke):
                home.append(vouch.to_bytes(), lattice.Kind.VOUCH)
            await home.durable()
            before = len(home.replica.entries(home.me))
            async with await Client.connect(home.listen_address, friend, SWARM) as client:
                with pytest.raises(HandshakeRefused, match="revoked in the log already"):
                    await client.admit(revoke)  # relayed to every peer, if it were carried
            assert len(home.replica.entries(home.me)) == before
            record = home.reputation.scores.record(friend.public_key)
            assert record is None or record.invalid == 0
        finally:
            await home.stop()

    asyncio.run(run())


def test_a_throttled_peer_s_entries_are_taken_at_once_and_its_credit_returned_late(
    tmp_path: Path,
) -> None:
    """Pacing a throttled registered peer holds back the credit of what it sent, not its
    frames: the reader goes on (its credit, requests and fraud proofs are read), and what
    came is delivered at once."""

    async def run() -> None:
        nodes = await local_swarm(2, tmp_path, admission=POLICY)
        try:
            sender, taker = nodes
            assert taker.reputation is not None
            for _ in range(2):
                taker.reputation.invalid(sender.me)  # -40: throttled (1 entry/s on its link)
            assert taker.reputation.band(sender.me) == "throttled"
            for n in range(20):
                sender.append(b"paced %d" % n)
            await sender.durable()
            start = time.monotonic()
            while taker.replica.head(sender.me) < 20 and time.monotonic() - start < 20:
                await asyncio.sleep(0.05)
            assert taker.replica.head(sender.me) >= 20  # taken, though ~20 s of credit is due
            link = taker.links[sender.me]
            assert link.live and link.granted < taker.limits.credit  # its credit: held back
            # A new link does not start afresh: its credit waits for what the old one owes.
            await link.conn.close()
            start = time.monotonic()
            while taker.links.get(sender.me) in (None, link) and time.monotonic() - start < 20:
                await asyncio.sleep(0.05)
            again = taker.links[sender.me]
            assert again is not link and again.granted == 0
        finally:
            for node in nodes:
                await node.stop()

    asyncio.run(run())


def test_penalised_entry_ids_are_bounded_and_forgotten_on_a_reset(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from lattice import listeners

    monkeypatch.setattr(listeners, "MAX_PENALISED_IDS", 2)
    a, b = ident(70), ident(71)
    r = lattice.Replica(a, peers=[a.public_key, b.public_key])
    for n in range(3):
        r.penalise(b.public_key, bytes([n]) * 32)
    r.penalise(b.public_key, bytes([2]) * 32)  # once per entry
    assert r.penalties == {b.public_key: 3} and len(r._content_penalised) == 2
    r._notify_reset()  # the commit that held them failed: they may count again
    assert not r._content_penalised


def test_a_throttled_peer_owes_its_pace_across_links_and_is_cut_far_beyond_it() -> None:
    from lattice.errors import OverBudget
    from lattice.net.reputation import MAX_PEER_HOLD, Reputation

    now = [0.0]
    rep = Reputation(None, clock=lambda: now[0])
    peer = ident(72).public_key
    rep.invalid(peer)
    rep.invalid(peer)  # throttled: 1 entry/s on its link
    assert rep.peer_hold(peer, 20, 1024) == 19.5
    assert rep.peer_wait(peer) == 19.5  # a new link waits for what the old one owes
    with pytest.raises(OverBudget, match="over its link's rate"):
        rep.peer_hold(peer, int(MAX_PEER_HOLD), 1024)
    assert rep.peer_wait(peer) == 19.5  # the refused frame cost nothing
    now[0] = 30.0
    assert rep.peer_wait(peer) == 0.0

"""A lattice node: a :class:`~lattice.Replica` with a durable store, on the network
(DESIGN §7).

The node listens, dials its configured peers (reconnecting with backoff), and on every
connection runs the same protocol:

1. the Noise XX handshake, whose hellos bind each side's Noise key to its Ed25519
   identity, swarm and role — anything else is refused and closed;
2. both sides send their frontier at once (one round trip finds the difference, and
   :meth:`Replica.compare_frontier` turns any head held with another id into a request
   for it: DESIGN §5 path c);
3. each side streams what the other lacks, in causal order and in batches, within the
   credit the receiver grants (flow control: a slow reader cannot make the sender buffer
   without bound), then says ``SYNCED``;
4. from then on, what either side delivers is pushed live: store first, relay second, in
   the same order. Missing entries are requested, fraud proofs gossiped, noops emitted on
   a timer, and clients' ops wrapped by their home peer.

>>> import asyncio, tempfile, pathlib
>>> from lattice.node import local_swarm
>>> async def demo():
...     nodes = await local_swarm(2, pathlib.Path(tempfile.mkdtemp()))
...     entry = nodes[0].append(b"hello")
...     await nodes[1].wait_for(lambda n: n.replica.get(entry.id) is not None)
...     payload = nodes[1].replica.get(entry.id).payload
...     for n in nodes:
...         await n.stop()
...     return payload
>>> asyncio.run(demo())
b'hello'
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import time
from collections import deque
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from lattice import _lattice, wire
from lattice.config import ROLES, Member, NodeConfig
from lattice.connection import Connection, Limits, handshake
from lattice.errors import (
    HandshakeRefused,
    InvalidFraudProof,
    LatticeError,
    ProtocolError,
)
from lattice.identity import Identity
from lattice.replica import DEFAULT_MAX_PENDING_BYTES, ReceiveResult, Replica

__all__ = ["Node", "child_env", "free_ports", "local_swarm"]

log = logging.getLogger("lattice.node")

#: Largest ENTRIES frame a node sends (it is also bounded by the peer's credit).
MAX_BATCH_BYTES = 1024 * 1024
#: Seconds between two requests for missing entries on one link.
REQUEST_INTERVAL = 0.5
#: Invalid fraud proofs from one peer before its connection is cut.
MAX_PENALTIES = 3
#: Seconds between maintenance rounds (missing entries, keep-alive).
TICK = 0.25
#: A noop answering only noops goes out every this many noop intervals.
NOOP_HEARTBEAT = 10
#: Small messages queued for one link before it counts as not reading.
MAX_CONTROL = 1024
#: Concurrent connections still in their handshake (unauthenticated).
MAX_HANDSHAKES = 64
#: Client connections one home peer serves at once.
MAX_CLIENTS = 256
#: How many opening messages of a connection are recorded (see ``_Link.opening``).
OPENING_LOG = 16


@dataclass(eq=False)
class _Link:
    """One live connection and its sync state."""

    conn: Connection
    member: Member | None
    credit: int = 0
    credit_event: asyncio.Event = field(default_factory=asyncio.Event)
    granted: int = 0  # ENTRIES bytes we allow the peer to have in flight
    live: bool = False  # the initial difference is sent; push new entries
    synced_in: bool = False  # the peer has sent us its difference
    queue: deque[bytes] = field(default_factory=deque)
    queue_bytes: int = 0
    # Small messages (credit, requests, proofs) the writer sends before any entries; the
    # reader only ever enqueues, so it never blocks on a peer that is not reading.
    control: deque[wire.Message] = field(default_factory=deque)
    queue_event: asyncio.Event = field(default_factory=asyncio.Event)
    dropped: int = 0
    last_request: float = 0.0
    last_sent: float = field(default_factory=time.monotonic)
    frontiers_received: int = 0
    window: int = 0  # the peer's first grant: no batch is larger
    credit_owed: int = 0  # credit to return, coalesced into one CREDIT
    synced_pending: bool = False  # SYNCED goes out once the queue is empty
    sent_event: asyncio.Event = field(default_factory=asyncio.Event)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    #: The first messages of the connection, as ("in" | "out", type): what the tests of
    #: "one round trip to find the difference" read.
    opening: list[tuple[str, str]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.member.name if self.member else self.conn.remote[:4].hex()


class Node:
    """A node: replica, listener, dialers, per-connection sync, control socket."""

    def __init__(self, config: NodeConfig, identity: Identity | None = None) -> None:
        self.config = config
        password = None if config.password is None else config.password.encode()
        self.identity = identity or Identity.load(config.identity, password=password)
        self.me = self.identity.public_key
        self.limits: Limits = config.limits
        self.replica = Replica(
            self.identity,
            peers=config.peers,
            swarm_id=config.swarm_id,
            path=config.store,
            faults=config.faults,
            clients=config.clients,
            max_pending_bytes=config.max_pending_bytes or DEFAULT_MAX_PENDING_BYTES,
        )
        self.names = {m.public_key: m.name for m in config.members}
        self.keypair = _lattice.NoiseKeypair.generate()
        self.hello = _lattice.Hello.create(
            self.identity.signing_key, self.keypair.public, config.swarm_id, ROLES[config.role]
        )
        self.links: dict[bytes, _Link] = {}
        self.client_links: set[_Link] = set()
        self.refused = 0
        self._handshaking = 0
        # Per client, the highest op nonce wrapped: ops are wrapped once, in order.
        self._client_nonces: dict[bytes, int] = {}
        #: When (wall-clock seconds) this node first held each forked author's proof.
        self.fork_seen: dict[bytes, float] = {}
        self.closed_reasons: deque[str] = deque(maxlen=50)
        self._server: asyncio.Server | None = None
        self._control: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._running = False
        self._changed = asyncio.Event()
        self.listen_address: tuple[str, int] | None = None

    # --- life cycle ------------------------------------------------------------------

    async def start(self) -> None:
        """Listen, dial, and start the timers."""
        self._running = True
        if self.config.listen is not None:
            host, port = self.config.listen
            self._server = await asyncio.start_server(self._accept, host, port)
            sock = self._server.sockets[0].getsockname()
            self.listen_address = (sock[0], sock[1])
        if self.config.control is not None:
            from lattice.control import serve_control

            self._control = await serve_control(self, self.config.control)
        for member in self.config.members:
            if member.public_key != self.me and member.address is not None:
                self._spawn(self._dial_loop(member))
        self._spawn(self._noop_loop())
        self._spawn(self._maintenance_loop())

    async def stop(self) -> None:
        """Close every connection and the store."""
        self._running = False
        for server in (self._server, self._control):
            if server is not None:
                server.close()
        for link in [*self.links.values(), *self.client_links]:
            await link.conn.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
        if self._control is not None and self.config.control is not None:
            with contextlib.suppress(OSError):
                self.config.control.unlink()
        self.replica.close()

    async def serve_forever(self) -> None:
        """Run until cancelled."""
        await self.start()
        try:
            await asyncio.Event().wait()
        finally:
            await self.stop()

    def _spawn(self, coro: Coroutine[object, object, None]) -> asyncio.Task[None]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def wait_for(self, condition: Callable[[Node], bool], timeout: float = 30.0) -> None:
        """Wait until ``condition(self)`` holds (re-checked whenever the node changes)."""
        deadline = time.monotonic() + timeout
        while not condition(self):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("condition not met in time")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, TICK))

    # --- writing ---------------------------------------------------------------------

    def append(self, payload: bytes) -> _lattice.Entry:
        """Append to this node's log (durably) and push it to every peer."""
        entry = self.replica.append(payload)
        self._push([entry])
        return entry

    def _push(self, entries: Iterable[_lattice.Entry], exclude: bytes | None = None) -> None:
        """Relay delivered entries to every live peer link but ``exclude``."""
        data = [e.to_bytes() for e in entries]
        if not data:
            return
        self._changed.set()
        for remote, link in self.links.items():
            if remote == exclude or not link.live:
                continue
            for item in data:
                link.queue.append(item)
                link.queue_bytes += len(item)
            if link.queue_bytes > self.limits.max_queue_bytes:
                # A peer that cannot keep up: forget the queue; it re-requests what it
                # misses, so nothing buffers here without bound.
                link.dropped += len(link.queue)
                link.queue.clear()
                link.queue_bytes = 0
            link.queue_event.set()

    # --- connections -----------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:  # stop() ends accepted sessions too
            self._tasks.add(task)
        try:
            if self._handshaking >= MAX_HANDSHAKES:
                self.refused += 1
                writer.transport.abort()
                return
            await self._session(reader, writer, initiator=False, member=None)
        except Exception:  # a listener must outlive any one connection
            log.exception("accepted connection failed")
        finally:
            if task is not None:
                self._tasks.discard(task)

    async def _dial_loop(self, member: Member) -> None:
        backoff = self.config.reconnect_min
        assert member.address is not None
        while self._running:
            existing = self.links.get(member.public_key)
            if existing is not None:
                await existing.done.wait()
                continue
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(*member.address), self.limits.handshake_timeout
                )
            except (OSError, TimeoutError):
                await asyncio.sleep(backoff * random.uniform(0.5, 1.0))
                backoff = min(backoff * 2, self.config.reconnect_max)
                continue
            started = time.monotonic()
            try:
                await self._session(reader, writer, initiator=True, member=member)
            except Exception:  # a dialler must outlive any one connection
                log.exception("connection to %s failed", member.name)
            if time.monotonic() - started > self.limits.handshake_timeout:
                backoff = self.config.reconnect_min
            await asyncio.sleep(backoff * random.uniform(0.5, 1.0))
            backoff = min(backoff * 2, self.config.reconnect_max)

    async def _session(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        initiator: bool,
        member: Member | None,
    ) -> None:
        self._handshaking += 1
        try:
            channel, remote, digest = await handshake(
                reader,
                writer,
                initiator=initiator,
                keypair=self.keypair,
                hello=self.hello,
                timeout=self.limits.handshake_timeout,
            )
            conn = Connection(reader, writer, channel, remote, digest, self.limits, initiator)
            self._admit(conn, member)
        except (LatticeError, OSError) as exc:
            self.refused += 1
            self.closed_reasons.append(f"refused: {type(exc).__name__}: {exc}")
            log.info("connection refused: %s", exc)
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)
            return
        finally:
            self._handshaking -= 1
        link = _Link(conn, member or self._member(conn.remote))
        log.info(
            "%s %s (%s)",
            "dialled" if initiator else "accepted",
            link.name,
            {1: "peer", 2: "client", 3: "guest"}.get(conn.role, "?"),
        )
        if conn.role == _lattice.ROLE_CLIENT:
            self.client_links.add(link)
        elif not self._register(link):
            await conn.close()
            return
        try:
            await self._serve(link)
        except (LatticeError, OSError) as exc:
            self.closed_reasons.append(f"{link.name}: {type(exc).__name__}: {exc}")
            log.info("link %s closed: %s", link.name, exc)
        finally:
            await conn.close()
            if self.links.get(conn.remote) is link:
                del self.links[conn.remote]
            self.client_links.discard(link)
            link.done.set()
            link.credit_event.set()
            link.queue_event.set()
            self._changed.set()

    def _member(self, key: bytes) -> Member | None:
        return next((m for m in self.config.members if m.public_key == key), None)

    def _admit(self, conn: Connection, member: Member | None) -> None:
        """Who may talk to this node, in which role (DESIGN §7)."""
        hello = conn.hello
        if hello.swarm != self.config.swarm_id:
            raise HandshakeRefused("hello for another swarm", author=conn.remote)
        if conn.remote == self.me:
            raise HandshakeRefused("a connection to itself", author=conn.remote)
        if conn.role == _lattice.ROLE_PEER:
            if self._member(conn.remote) is None:
                raise HandshakeRefused("not a registered peer of this swarm", author=conn.remote)
            if member is not None and member.public_key != conn.remote:
                raise HandshakeRefused("dialled one peer, reached another", author=conn.remote)
            if conn.remote in self.replica.blocklist:
                raise HandshakeRefused("peer is blocklisted (proven fork)", author=conn.remote)
        elif conn.role == _lattice.ROLE_CLIENT:
            if len(self.client_links) >= MAX_CLIENTS:
                raise HandshakeRefused("too many clients connected", author=conn.remote)
            if self.config.role != "peer":
                raise HandshakeRefused("only peers are home peers", author=conn.remote)
            clients = self.config.clients
            if clients is not None and conn.remote not in clients:
                raise HandshakeRefused("not a client of this home peer", author=conn.remote)
        else:
            raise HandshakeRefused("guests are not served by this node", author=conn.remote)

    def _register(self, link: _Link) -> bool:
        """Keep one link per peer: when both dialled, the one the smaller key initiated."""
        remote = link.conn.remote
        existing = self.links.get(remote)
        if existing is not None and not existing.done.is_set():

            def initiated_by(lk: _Link) -> bytes:
                return self.me if lk.conn.initiator else remote

            same_side = link.conn.initiator == existing.conn.initiator
            # Both dialled: the link the smaller key started wins. A redial from the same
            # side replaces a link that may be half-open.
            if not same_side and initiated_by(link) >= initiated_by(existing):
                return False
            self._spawn(existing.conn.close())
        self.links[remote] = link
        self._changed.set()
        return True

    # --- the protocol on one link ----------------------------------------------------

    async def _send(self, link: _Link, msg: wire.Message) -> None:
        if len(link.opening) < OPENING_LOG:
            link.opening.append(("out", type(msg).__name__))
        await link.conn.send(msg)

    def _send_soon(self, link: _Link, msg: wire.Message) -> None:
        """Queue a small message for the link's writer (never blocks). A peer that lets
        more than ``MAX_CONTROL`` pile up is not reading: it is cut off."""
        if len(link.control) >= MAX_CONTROL:
            self._spawn(link.conn.close())
            return
        link.control.append(msg)
        link.queue_event.set()

    async def _serve(self, link: _Link) -> None:
        conn = link.conn
        if conn.role == _lattice.ROLE_CLIENT:
            await self._serve_client(link)
            return
        link.granted = self.limits.credit
        self._send_soon(link, wire.Credit(self.limits.credit))
        self._send_soon(link, wire.Frontier.of(self.replica.frontier()))
        writer = self._spawn(self._writer(link))
        try:
            while True:
                msg = await conn.recv()
                if len(link.opening) < OPENING_LOG:
                    link.opening.append(("in", type(msg).__name__))
                await self._handle(link, msg)
        finally:
            writer.cancel()

    async def _handle(self, link: _Link, msg: wire.Message) -> None:
        conn = link.conn
        match msg:
            case wire.Frontier(heads, _root):
                link.frontiers_received += 1
                if link.frontiers_received > 1:
                    raise ProtocolError("a second frontier on one connection", author=conn.remote)
                requests = [m for m in self.replica.compare_frontier(heads) if m.id is not None]
                if requests:
                    self._send_soon(link, wire.Request(requests[: wire.MAX_REQUESTS]))
                self._spawn(self._stream(link, {a: s for a, (s, _) in heads.items()}))
            case wire.Entries(entries):
                size = sum(len(e) for e in entries)
                link.granted -= size
                if link.granted < 0:
                    raise ProtocolError("entries beyond the granted credit", author=conn.remote)
                result = self.replica.receive(entries)
                self._after_receive(result, source=conn.remote)
                link.granted += size
                if size:
                    link.credit_owed += size
                    link.queue_event.set()
                self._request_missing(link)
            case wire.Request(missing):
                # Answered only while this link's queue has room; a peer that asks and
                # does not read is ignored until it drains (it asks again later).
                room = self.limits.max_queue_bytes - link.queue_bytes
                if room > 0:
                    answer = self.replica.answer(missing, max_bytes=room)
                    if answer:
                        self._enqueue(link, answer, front=True)
            case wire.Fraud(proof):
                try:
                    news = self.replica.receive_fraud_proof(proof, sender=conn.remote)
                except InvalidFraudProof:
                    if self.replica.penalties.get(conn.remote, 0) >= MAX_PENALTIES:
                        raise ProtocolError(
                            "too many invalid fraud proofs", author=conn.remote
                        ) from None
                    return
                if news:
                    accused = _lattice.FraudProof.from_bytes(proof).author
                    self.fork_seen.setdefault(accused, time.time())
                    self._gossip_fraud(proof, exclude=conn.remote)
                    self._disconnect(accused)
            case wire.Credit(n):
                if not link.window:
                    link.window = n
                link.credit += n
                link.credit_event.set()
            case wire.Synced():
                link.synced_in = True
                log.info("synced from %s", link.name)
                self._changed.set()
            case wire.Ping():
                pass
            case _:
                raise ProtocolError(
                    f"unexpected {type(msg).__name__} from a peer", author=conn.remote
                )

    def _after_receive(self, result: ReceiveResult, source: bytes | None) -> None:
        """Store first (done by ``receive``), relay second, in the same order."""
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "from %s: %d delivered, %d evidence, %d frauds, %d pending",
                self.name(source) if source else "-",
                len(result.delivered),
                len(result.evidence),
                len(result.frauds),
                result.pending,
            )
        self._push(result.to_relay, exclude=source)
        for proof in result.frauds:
            self.fork_seen.setdefault(proof.author, time.time())
            self._gossip_fraud(proof.to_bytes(), exclude=source)
            self._disconnect(proof.author)
        if result.delivered or result.frauds:
            self._changed.set()

    def _disconnect(self, remote: bytes) -> None:
        """Close the link to a peer just blocklisted."""
        link = self.links.get(remote)
        if link is not None:
            self._spawn(link.conn.close())

    def _gossip_fraud(self, proof: bytes, exclude: bytes | None) -> None:
        for remote, link in list(self.links.items()):
            if remote != exclude:
                self._send_soon(link, wire.Fraud(proof))

    def _request_missing(self, link: _Link) -> None:
        now = time.monotonic()
        if now - link.last_request < REQUEST_INTERVAL:
            return
        missing = self.replica.missing()
        if missing:
            link.last_request = now
            self._send_soon(link, wire.Request(missing[: wire.MAX_REQUESTS]))

    async def _stream(self, link: _Link, remote: dict[bytes, int]) -> None:
        """Send the peer what it lacks, in causal order within its credit, then go live."""
        try:
            for batch in self.replica.difference(remote):
                if link.done.is_set():
                    return
                self._enqueue(link, batch)
                await self._drained(link)
                await asyncio.sleep(0)
            link.live = True
            link.synced_pending = True
            link.queue_event.set()
            log.info("difference for %s queued; live from now on", link.name)
        except (LatticeError, OSError) as exc:
            self.closed_reasons.append(f"{link.name} stream: {exc}")
            await link.conn.close()

    def _enqueue(self, link: _Link, items: list[bytes], front: bool = False) -> None:
        if front:
            link.queue.extendleft(reversed(items))
        else:
            link.queue.extend(items)
        link.queue_bytes += sum(len(i) for i in items)
        link.queue_event.set()

    async def _drained(self, link: _Link) -> None:
        """Wait until the link's queue is down to one batch: the stream reads the store no
        faster than the peer takes entries (its credit), so memory stays bounded."""
        while link.queue_bytes > MAX_BATCH_BYTES and not link.done.is_set():
            link.sent_event.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(link.sent_event.wait(), TICK)

    async def _writer(self, link: _Link) -> None:
        """Send control messages first, then queued entries in batches that fit the peer's
        window, never beyond its credit; SYNCED once the stream's entries are all out;
        pings when idle or starved of credit."""
        conn = link.conn
        try:
            while not link.done.is_set():
                if link.control or link.credit_owed:
                    await self._flush_control(link)
                    continue
                if not link.queue:
                    if link.synced_pending:
                        link.synced_pending = False
                        await self._send(link, wire.Synced())
                        continue
                    link.queue_event.clear()
                    try:
                        await asyncio.wait_for(link.queue_event.wait(), self.limits.ping_interval)
                    except TimeoutError:
                        await self._send(link, wire.Ping())
                    continue
                limit = min(MAX_BATCH_BYTES, max(1, link.window))
                batch: list[bytes] = []
                size = 0
                while link.queue and (not batch or size + len(link.queue[0]) <= limit):
                    item = link.queue.popleft()
                    batch.append(item)
                    size += len(item)
                link.queue_bytes -= size
                waited = 0.0
                while link.credit < size and not link.done.is_set():
                    # Starved of credit: control messages still go out, and pings, so a
                    # peer that grants little is slow, not silent.
                    await self._flush_control(link)
                    link.credit_event.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(link.credit_event.wait(), TICK)
                    waited += TICK
                    if waited >= self.limits.ping_interval:
                        waited = 0.0
                        await self._send(link, wire.Ping())
                link.credit -= size
                await self._send(link, wire.Entries(batch))
                link.sent_event.set()
        except (LatticeError, OSError, ValueError) as exc:
            self.closed_reasons.append(f"{link.name} writer: {exc}")
            await conn.close()

    async def _flush_control(self, link: _Link) -> None:
        if link.credit_owed:
            owed, link.credit_owed = link.credit_owed, 0
            await self._send(link, wire.Credit(owed))
        while link.control:
            await self._send(link, link.control.popleft())

    # --- clients (DESIGN §6) ---------------------------------------------------------

    async def _serve_client(self, link: _Link) -> None:
        conn = link.conn
        while True:
            msg = await conn.recv()
            match msg:
                case wire.Op(op):
                    try:
                        entry = self._wrap(conn.remote, op)
                    except LatticeError as exc:
                        raise ProtocolError(
                            f"client op refused: {exc}", author=conn.remote
                        ) from exc
                    self._push([entry])
                    await conn.send(wire.OpAck(entry.id, entry.seq))
                case wire.Ping():
                    pass
                case _:
                    raise ProtocolError(
                        f"unexpected {type(msg).__name__} from a client", author=conn.remote
                    )

    def _wrap(self, client: bytes, data: bytes) -> _lattice.Entry:
        """Wrap a client's op: only its own ops (signed by the key it authenticated with),
        each once, nonces strictly increasing (no replay of an op seen in the logs)."""
        op = _lattice.ClientOp.from_bytes(data)
        if op.client != client:
            raise ProtocolError("an op signed by another client", author=client)
        if op.nonce <= self._client_nonces.get(client, -1):
            raise ProtocolError("op nonce not above the client's last (a replay?)", author=client)
        entry = self.replica.wrap_client_op(op)
        self._client_nonces[client] = op.nonce
        return entry

    # --- timers ----------------------------------------------------------------------

    async def _noop_loop(self) -> None:
        """Noops after new data every interval; after noops only, every
        ``NOOP_HEARTBEAT`` intervals (so the matrix keeps advancing, but noops do not
        answer each other forever)."""
        ticks = 0
        while self._running:
            await asyncio.sleep(self.config.noop_interval)
            ticks += 1
            heartbeat = ticks % NOOP_HEARTBEAT == 0
            try:
                noop = self.replica.maybe_noop(data_only=not heartbeat)
            except LatticeError as exc:
                log.warning("noop failed: %s", exc)
                continue
            if noop is not None:
                self._push([noop])

    async def _maintenance_loop(self) -> None:
        """Ask for what is missing: one peer per round, in turn, so the same entries are
        not requested from every peer at once."""
        turn = 0
        while self._running:
            await asyncio.sleep(TICK)
            if not (self.replica.pending or self.replica.missing()):
                continue
            live = [link for link in self.links.values() if link.live]
            if live:
                turn += 1
                self._request_missing(live[turn % len(live)])

    # --- views -----------------------------------------------------------------------

    def name(self, key: bytes) -> str:
        return self.names.get(key, key[:4].hex())

    def status(self) -> dict[str, object]:
        """What ``lattice status`` shows: peers and connections, frontier, pending,
        forks and blocklist."""
        rep = self.replica
        peers = []
        for m in self.config.members:
            if m.public_key == self.me:
                continue
            link = self.links.get(m.public_key)
            peers.append(
                {
                    "name": m.name,
                    "public_key": m.public_key.hex(),
                    "address": None if m.address is None else f"{m.address[0]}:{m.address[1]}",
                    "connected": link is not None,
                    "direction": None if link is None else ("out" if link.conn.initiator else "in"),
                    "synced_out": bool(link and link.live),
                    "synced_in": bool(link and link.synced_in),
                    "frames_sent": 0 if link is None else link.conn.frames_sent,
                    "frames_received": 0 if link is None else link.conn.frames_received,
                    "dropped": 0 if link is None else link.dropped,
                    "queued_bytes": 0 if link is None else link.queue_bytes,
                    "penalties": rep.penalties.get(m.public_key, 0),
                    "blocked": m.public_key in rep.blocklist,
                    "opening": [] if link is None else link.opening,
                }
            )
        return {
            "name": self.name(self.me),
            "identity": self.me.hex(),
            "swarm": self.config.swarm_id.hex(),
            "role": self.config.role,
            "listen": None
            if self.listen_address is None
            else f"{self.listen_address[0]}:{self.listen_address[1]}",
            "peers": peers,
            "clients": len(self.client_links),
            "frontier": {self.name(a): [s, i.hex()] for a, (s, i) in rep.frontier().items()},
            "pending": rep.pending,
            "missing": [
                {"author": self.name(m.author), "first": m.first, "last": m.last}
                for m in rep.missing()
            ],
            "forks": [
                {
                    "author": self.name(p.author),
                    "seq": p.seq,
                    "ids": [i.hex() for i in p.ids],
                    "seen_at": self.fork_seen.get(p.author),
                }
                for p in rep.frauds
            ],
            "blocklist": sorted(self.name(a) for a in rep.blocklist),
            "refused": self.refused,
            "closed": list(self.closed_reasons),
        }

    def matrix(self) -> dict[str, object]:
        """What ``lattice matrix`` shows."""
        m = self.replica.matrix
        names = [self.name(p) for p in m.peers]
        rows = [[m.cell(o, s) for s in m.peers] for o in m.peers] if hasattr(m, "row") else []
        return {
            "peers": names,
            "rows": rows,
            "known_to_all": [m.known_to_all().get(p, 0) for p in m.peers],
            "known_to_quorum": [m.known_to_quorum().get(p, 0) for p in m.peers],
            "quorum": m.quorum,
        }


def free_ports(n: int, host: str = "127.0.0.1") -> list[int]:
    """``n`` TCP ports free on ``host`` right now (for tests and demos that start nodes)."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind((host, 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def child_env() -> dict[str, str]:
    """The environment for a child process (a node, the adversary) that must import this
    very ``lattice`` package."""
    env = dict(os.environ)
    package_root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = package_root + os.pathsep + env.get("PYTHONPATH", "")
    return env


async def local_swarm(
    n: int,
    directory: Path,
    *,
    noop_interval: float = 0.2,
    limits: Limits | None = None,
) -> list[Node]:
    """``n`` nodes on loopback with fresh identities and stores under ``directory``, in a
    line (each dials the previous one), started. For examples and tests."""
    from lattice.config import NodeConfig

    ids = [Identity.generate() for _ in range(n)]
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
        )
        node = Node(config, identity=ident)
        await node.start()
        nodes.append(node)
    return nodes

"""The session with a registered peer (DESIGN §7): frontier exchange, streaming with
credit, requests, fraud gossip and live push.

1. Both sides send their frontier at once (one round trip finds the difference;
   :meth:`Replica.compare_frontier <lattice.Replica.compare_frontier>` turns any head
   held with another id into a request for it: DESIGN §5 path c).
2. Each side streams what the other lacks, in causal order and in batches, within the
   credit the receiver grants (a slow reader cannot make the sender buffer without
   bound), then says ``SYNCED``.
3. From then on, what either side delivers is pushed live, store first, relay second:
   a received batch is relayed, and its credit returned, only once its commit is durable.
   Missing entries are requested and fraud proofs gossiped.

The reader only ever enqueues; one writer task per session sends control messages
first, then entries, so a peer that does not read never blocks this node.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Iterable, Sequence

from lattice import _lattice
from lattice.entry import Kind
from lattice.errors import HandshakeRefused, InvalidFraudProof, LatticeError, ProtocolError
from lattice.net import wire
from lattice.net.config import Member
from lattice.net.connection import Connection, Limits
from lattice.net.sessions.base import NodeContext, Session

__all__ = [
    "MAX_BATCH_BYTES",
    "MAX_CONTROL",
    "MAX_PENALTIES",
    "OPENING_LOG",
    "REQUEST_INTERVAL",
    "TICK",
    "PeerSession",
]

log = logging.getLogger("lattice.node")

_WRAP = int(Kind.WRAP)

#: Largest ENTRIES frame a node sends (it is also bounded by the peer's credit).
MAX_BATCH_BYTES = 1024 * 1024
#: Seconds between two requests for missing entries on one link.
REQUEST_INTERVAL = 0.5
#: Invalid fraud proofs from one peer before its connection is cut.
MAX_PENALTIES = 3
#: Seconds a starved writer waits before it looks again (and of the stream's pacing).
TICK = 0.25
#: Small messages queued for one link before it counts as not reading.
MAX_CONTROL = 1024
#: How many opening messages of a connection are recorded (see ``PeerSession.opening``).
OPENING_LOG = 16


class PeerSession(Session):
    """One live connection to a registered peer, and its sync state."""

    role = _lattice.ROLE_PEER
    trusted = True

    @classmethod
    def frame_limit(cls, limits: Limits) -> int:
        # ENTRIES within the credit this node grants, or the largest FRONTIER.
        return wire.max_peer_frame(limits.credit)

    def __init__(self, node: NodeContext, conn: Connection, member: Member | None) -> None:
        super().__init__(node, conn, member)
        self.credit = 0
        self.credit_event = asyncio.Event()
        self.granted = 0  # ENTRIES bytes we allow the peer to have in flight
        self.live = False  # the initial difference is sent; push new entries
        self.synced_in = False  # the peer has sent us its difference
        self.queue: deque[bytes] = deque()
        self.queue_bytes = 0
        # Small messages (credit, requests, proofs) the writer sends before any entries.
        self.control: deque[wire.Message] = deque()
        self.queue_event = asyncio.Event()
        self.dropped = 0
        self.last_request = 0.0
        self.frontiers_received = 0
        # Credit held back from a throttled peer (DESIGN §11), cancelled when the link ends.
        self._holds: set[asyncio.TimerHandle] = set()
        self.window = 0  # the peer's first grant: no batch is larger
        self.credit_owed = 0  # credit to return, coalesced into one CREDIT
        self.synced_pending = False  # SYNCED goes out once the queue is empty
        self.sent_event = asyncio.Event()
        #: The first messages of the connection, as ("in" | "out", type): what the tests
        #: of "one round trip to find the difference" read.
        self.opening: list[tuple[str, str]] = []

    # --- admission ----------------------------------------------------------------

    @classmethod
    def admit(cls, node: NodeContext, conn: Connection, member: Member | None) -> None:
        if node.member(conn.remote) is None:
            raise HandshakeRefused("not a registered peer of this swarm", author=conn.remote)
        if member is not None and member.public_key != conn.remote:
            raise HandshakeRefused("dialled one peer, reached another", author=conn.remote)
        if conn.remote in node.replica.blocklist:
            raise HandshakeRefused("peer is blocklisted (proven fork)", author=conn.remote)
        if node.reputation is not None:
            node.reputation.admit(conn.remote)  # graylisted: refused until its score decays

    def ended(self) -> None:
        super().ended()
        for held in self._holds:  # credit held back for a link that is gone
            held.cancel()
        self._holds.clear()
        self.node.selfcheck.peer_done(self.conn.remote)
        self.credit_event.set()
        self.queue_event.set()

    # --- sending -----------------------------------------------------------------------

    def push(self, items: Iterable[bytes]) -> None:
        """Queue live entries for this peer. A peer that cannot keep up loses the queue
        (it re-requests what it misses), so nothing buffers here without bound."""
        for item in items:
            self.queue.append(item)
            self.queue_bytes += len(item)
        if self.queue_bytes > self.node.limits.max_queue_bytes:
            self.dropped += len(self.queue)
            self.queue.clear()
            self.queue_bytes = 0
        self.queue_event.set()

    def send_soon(self, msg: wire.Message) -> None:
        """Queue a small message for the writer (never blocks). A peer that lets more than
        ``MAX_CONTROL`` pile up is not reading: it is cut off."""
        if len(self.control) >= MAX_CONTROL:
            self.node.spawn(self.conn.close())
            return
        self.control.append(msg)
        self.queue_event.set()

    async def _send(self, msg: wire.Message) -> None:
        if len(self.opening) < OPENING_LOG:
            self.opening.append(("out", type(msg).__name__))
        await self.conn.send(msg)

    def _enqueue(self, items: list[bytes], front: bool = False) -> None:
        if front:
            self.queue.extendleft(reversed(items))
        else:
            self.queue.extend(items)
        self.queue_bytes += sum(len(i) for i in items)
        self.queue_event.set()

    # --- the protocol ------------------------------------------------------------------

    async def run(self) -> None:
        limits = self.node.limits
        self.granted = limits.credit
        owed = (
            0.0
            if self.node.reputation is None
            else self.node.reputation.peer_wait(self.conn.remote)
        )
        if owed:  # a throttled peer that reconnects gets its credit when its pace allows
            self.granted = 0

            def grant() -> None:
                self.granted += limits.credit
                self.credit_owed += limits.credit
                self.queue_event.set()

            self._holds.add(asyncio.get_running_loop().call_later(owed, grant))
        else:
            self.send_soon(wire.Credit(limits.credit))
        self.send_soon(wire.Frontier.of(self.node.replica.frontier()))
        self.node.attesting.started(self)  # a blob loaded since its handshake: MEASURED
        writer = self.node.spawn(self._writer())
        try:
            while True:
                msg = await self.conn.recv()
                if len(self.opening) < OPENING_LOG:
                    self.opening.append(("in", type(msg).__name__))
                await self._handle(msg)
        finally:
            writer.cancel()

    async def _handle(self, msg: wire.Message) -> None:
        node, remote = self.node, self.conn.remote
        match msg:
            case wire.Frontier(heads, _root):
                self.frontiers_received += 1
                if self.frontiers_received > 1:
                    raise ProtocolError("a second frontier on one connection", author=remote)
                # The peer's view of this node's own log: it signs nothing until it holds
                # at least that (its newer entries arrive in the peer's stream).
                node.selfcheck.peer_view(heads.get(node.me, (0, b""))[0], remote)
                node.changed()
                requests = [m for m in node.replica.compare_frontier(heads) if m.id is not None]
                if requests:
                    self.send_soon(wire.Request(requests[: wire.MAX_REQUESTS]))
                node.spawn(self._stream({a: s for a, (s, _) in heads.items()}))
            case wire.Entries(entries):
                self._received(entries)
            case wire.Request(missing):
                # Answered only while this link's queue has room; a peer that asks and
                # does not read is ignored until it drains (it asks again later).
                room = node.limits.max_queue_bytes - self.queue_bytes
                if room > 0:
                    answer = node.replica.answer(missing, max_bytes=room)
                    if answer:
                        self._enqueue(answer, front=True)
            case wire.Fraud(proof):
                try:
                    news = node.replica.receive_fraud_proof(proof, sender=remote)
                except InvalidFraudProof:
                    if node.replica.penalties.get(remote, 0) >= MAX_PENALTIES:
                        raise ProtocolError(
                            "too many invalid fraud proofs", author=remote
                        ) from None
                    return
                if news:
                    accused = _lattice.FraudProof.from_bytes(proof).author
                    node.fork_seen.setdefault(accused, time.time())
                    if node.reputation is not None:
                        node.reputation.forked(accused)

                    def stored() -> None:  # store first, gossip second
                        node.gossip_fraud(proof, exclude=remote)
                        node.disconnect(accused)

                    node.after_commit(stored)
            case wire.Credit(n):
                if not self.window:
                    self.window = n
                self.credit += n
                self.credit_event.set()
            case wire.Synced():
                self.synced_in = True
                node.selfcheck.peer_done(remote)  # what it had of this node's log is here
                log.info("synced from %s", self.name)
                node.changed()
            case wire.Ping():
                pass
            case wire.Measured(evidence):  # it loaded a blob: checked, or the link ends
                node.attesting.measured(self.conn, evidence)
            case wire.Activate(blob, secret):  # it ties this node's TPM keys (once)
                self.send_soon(await node.attesting.answer(self.conn, blob, secret))
            case wire.Refused(reason):
                raise HandshakeRefused(f"refused by {self.name}: {reason}", author=remote)
            case _:
                raise ProtocolError(f"unexpected {type(msg).__name__} from a peer", author=remote)

    def _received(self, entries: Sequence[bytes]) -> None:
        """Ingest a batch within the granted credit. What it delivered is relayed, and its
        credit returned, once its commit is durable (store first, relay second); until
        then the credit stays used, which bounds what waits for the writer thread."""
        node, remote = self.node, self.conn.remote
        size = sum(len(e) for e in entries)
        self.granted -= size
        if self.granted < 0:
            raise ProtocolError("entries beyond the granted credit", author=remote)
        reputation, hold, firsts = node.reputation, 0.0, 0
        if reputation is not None:  # a throttled peer's credit comes back late (DESIGN §11)
            hold = reputation.peer_hold(remote, len(entries), size)  # before: it may cut
        own_head = node.replica.head(node.me)
        result = node.replica.receive(entries)
        if reputation is not None and result.delivered:  # what it brought, not what it woke
            frame = set(entries)
            firsts = sum(e.to_bytes() in frame for e in result.delivered)
        if node.replica.head(node.me) > own_head:
            # This node's own entries coming back (a restored store catching up): the
            # client ops they wrap are wrapped already. Rare, so the scan is only then.
            node.client_nonces.load(
                e.payload for e in result.delivered if e.author == node.me and e.kind == _WRAP
            )
        for proof in result.frauds:  # when this node first held the proof (in memory)
            node.fork_seen.setdefault(proof.author, time.time())

        def durable() -> None:
            node.after_receive(result, source=remote)
            if reputation is not None:  # scores: first deliveries, proven forks
                reputation.took(result, remote, firsts)
            if hold:
                self._holds.add(asyncio.get_running_loop().call_later(hold, give_back))
            else:
                give_back()

        def give_back() -> None:
            self.granted += size
            if size:
                self.credit_owed += size
                self.queue_event.set()

        def failed(exc: LatticeError) -> None:
            node.closed_reasons.append(f"{self.name}: not stored: {exc}")
            node.spawn(self.conn.close())

        node.after_commit(durable, failed)
        self.request_missing()

    def request_missing(self) -> None:
        """Ask this peer for what is missing here (at most every ``REQUEST_INTERVAL``)."""
        now = time.monotonic()
        if now - self.last_request < REQUEST_INTERVAL:
            return
        missing = self.node.replica.missing()
        if missing:
            self.last_request = now
            self.send_soon(wire.Request(missing[: wire.MAX_REQUESTS]))

    async def _stream(self, remote: dict[bytes, int]) -> None:
        """Send the peer what it lacks, in causal order within its credit, then go live."""
        try:
            for batch in self.node.replica.difference(remote):
                if self.done.is_set():
                    return
                self._enqueue(batch)
                await self._drained()
                await asyncio.sleep(0)
            self.live = True
            self.synced_pending = True
            self.queue_event.set()
            log.info("difference for %s queued; live from now on", self.name)
        except (LatticeError, OSError) as exc:
            self.node.closed_reasons.append(f"{self.name} stream: {exc}")
            await self.conn.close()

    async def _drained(self) -> None:
        """Wait until the queue is down to one batch: the stream reads the store no faster
        than the peer takes entries (its credit), so memory stays bounded."""
        while self.queue_bytes > MAX_BATCH_BYTES and not self.done.is_set():
            self.sent_event.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.sent_event.wait(), TICK)

    async def _writer(self) -> None:
        """Send control messages first, then queued entries in batches that fit the peer's
        window, never beyond its credit; SYNCED once the stream's entries are all out;
        pings when idle or starved of credit."""
        limits = self.node.limits
        try:
            while not self.done.is_set():
                if self.control or self.credit_owed:
                    await self._flush_control()
                    continue
                if not self.queue:
                    if self.synced_pending:
                        self.synced_pending = False
                        await self._send(wire.Synced())
                        continue
                    self.queue_event.clear()
                    try:
                        await asyncio.wait_for(self.queue_event.wait(), limits.ping_interval)
                    except TimeoutError:
                        await self._send(wire.Ping())
                    continue
                limit = min(MAX_BATCH_BYTES, max(1, self.window))
                batch: list[bytes] = []
                size = 0
                while self.queue and (not batch or size + len(self.queue[0]) <= limit):
                    item = self.queue.popleft()
                    batch.append(item)
                    size += len(item)
                self.queue_bytes -= size
                waited = 0.0
                while self.credit < size and not self.done.is_set():
                    # Starved of credit: control messages still go out, and pings, so a
                    # peer that grants little is slow, not silent.
                    await self._flush_control()
                    self.credit_event.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.credit_event.wait(), TICK)
                    waited += TICK
                    if waited >= limits.ping_interval:
                        waited = 0.0
                        await self._send(wire.Ping())
                self.credit -= size
                await self._send(wire.Entries(batch))
                self.sent_event.set()
        except (LatticeError, OSError, ValueError) as exc:
            self.node.closed_reasons.append(f"{self.name} writer: {exc}")
            await self.conn.close()

    async def _flush_control(self) -> None:
        if self.credit_owed:
            owed, self.credit_owed = self.credit_owed, 0
            await self._send(wire.Credit(owed))
        while self.control:
            await self._send(self.control.popleft())

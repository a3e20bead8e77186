"""A lattice node: a :class:`~lattice.Replica` with a durable store, on the network
(DESIGN §7).

The node listens, dials its configured peers (reconnecting with backoff), runs the Noise
XX handshake on every connection — whose hellos bind each side's Noise key to its Ed25519
identity, swarm and role — and admits the party by role: the session class for the role
(:data:`~lattice.net.sessions.SESSIONS`) decides who it serves, then runs the protocol of
that role (:mod:`lattice.net.sessions.peer`, :mod:`lattice.net.sessions.client`). The
node keeps the link registry (one link per peer), relays what is delivered, gossips fraud
proofs, and runs the timers (noops, requests for missing entries).

Its store commits run on one writer thread (:mod:`lattice.writer`), so an ``fsync`` never
stalls the other links; what a commit stores is relayed, or acknowledged, only after the
commit returned (store first, relay second), in the order the commits were made.

>>> import asyncio, tempfile, pathlib
>>> from lattice.net.local import local_swarm
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
import random
import time
from collections import deque
from collections.abc import Callable, Coroutine, Iterable
from concurrent.futures import Future
from functools import partial
from typing import Any

from lattice import _lattice
from lattice.batch import ReceiveResult
from lattice.entry import Kind
from lattice.errors import HandshakeRefused, InvalidArgument, LatticeError, StoreError
from lattice.identity import Identity
from lattice.net import wire
from lattice.net.attesting import Attesting
from lattice.net.config import ROLES, Member, NodeConfig
from lattice.net.connection import Connection, Limits, handshake
from lattice.net.documents import Documents
from lattice.net.framebudget import FrameBudget
from lattice.net.gridhost import GridHost
from lattice.net.heartbeat import noops
from lattice.net.nonces import ClientNonces
from lattice.net.quota import Quota
from lattice.net.reputation import Reputation
from lattice.net.selfcheck import SelfCheck
from lattice.net.sessions import SESSIONS, ClientSession, GuestSession, PeerSession, Session
from lattice.net.sessions.base import refuse
from lattice.net.sessions.client import load_wrapped
from lattice.net.shares import close_shares, open_shares
from lattice.net.slots import HandshakeSlots, source_of
from lattice.net.views import NodeViews
from lattice.net.wire import max_peer_frame
from lattice.replica import DEFAULT_MAX_PENDING_BYTES, Replica
from lattice.state.views import Views

__all__ = ["TICK", "Node"]

log = logging.getLogger("lattice.node")

#: Seconds between maintenance rounds (missing entries, keep-alive).
TICK = 0.25
#: The name of each role, for logs and refusals.
ROLE_NAMES = {code: name for name, code in ROLES.items()} | {_lattice.ROLE_WORKER: "worker"}

#: Work that waits for a commit: (its future, what to do once durable, what on failure).
_AfterCommit = tuple[
    "Future[None] | None", Callable[[], None], Callable[[LatticeError], None] | None
]


class Node(NodeViews):
    """A node: replica, listener, dialers, one session per connection, control socket."""

    def __init__(self, config: NodeConfig, identity: Identity | None = None) -> None:
        self.config = config
        self.identity = identity or Identity.load(config.identity, password=config.key_password())
        self.me = self.identity.public_key
        self.limits: Limits = config.limits
        # One maximal frame for every registered peer at least: no peer takes another's.
        self.frames = FrameBudget(
            config.max_partial_bytes,
            config.max_stranger_partial_bytes,
            peers_floor=len(config.members) * max_peer_frame(config.limits.credit),
        )
        # May this node sign yet? Not before a peer has shown it its own log (no self-forks).
        alone = all(m.public_key == self.me for m in config.members)
        self.selfcheck = SelfCheck(lambda: self.replica.head(self.me), alone, config.offline)
        self.replica = Replica(
            self.identity,
            peers=config.peers,
            swarm_id=config.swarm_id,
            path=config.store,
            faults=config.faults,
            clients=config.clients,
            max_pending_bytes=config.max_pending_bytes or DEFAULT_MAX_PENDING_BYTES,
            sign_check=self.selfcheck.require,
            admission=config.admission,
        )
        if config.store is not None:
            try:
                self.replica.commit_in_background(config.store_busy_timeout)
            except BaseException:
                self.replica.close()
                raise
        self.documents = Documents(self.replica, self.append, config.trust)  # lattice doc
        #: The documents handed to guests, each with its views (DESIGN §8).
        try:
            self.shares: dict[bytes, Views] = open_shares(
                config, self.documents, lambda then: self.after_commit(then)
            )
        except BaseException:
            self.replica.close()
            raise
        self.names = {m.public_key: m.name for m in config.members}
        self.keypair = _lattice.NoiseKeypair.generate()
        self.hello = _lattice.Hello.create(
            self.identity.signing_key, self.keypair.public, config.swarm_id, ROLES[config.role]
        )
        #: Remote attestation in this node's handshakes (``[attestation]``, DESIGN §10).
        self.attesting = Attesting(self)
        self.grid = GridHost.for_node(self)  # the compute grid it owns ([grid], DESIGN §12)
        #: The link registry: one live session per registered peer.
        self.links: dict[bytes, PeerSession] = {}
        self.client_links: set[ClientSession] = set()
        self.guest_links: set[GuestSession] = set()
        self.refused = 0
        #: Inbound handshakes in progress, by source address (floods: lattice.net.slots).
        self.slots = HandshakeSlots()
        self.client_nonces = ClientNonces()
        self.client_quotas: dict[bytes, Quota] = {}
        self.reputation = Reputation.for_node(config, self.replica.penalties)
        self.fork_seen: dict[bytes, float] = {}
        self.closed_reasons: deque[str] = deque(maxlen=50)
        self._server: asyncio.Server | None = None
        self._control: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._running = False
        self._changed = asyncio.Event()
        self._after: deque[_AfterCommit] = deque()  # waits for commits, in order (after_commit)
        self._after_event = asyncio.Event()
        self.listen_address: tuple[str, int] | None = None

    # --- life cycle ------------------------------------------------------------------

    async def start(self) -> None:
        """Listen, dial, and start the timers."""
        ClientSession.warn_if_open(self.config)
        if self.config.clients is not None or self.config.open_clients:
            load_wrapped(self.client_nonces, self.replica)
        if self.config.offline:
            log.warning(
                "offline: this node signs without comparing its own log with a peer's; if "
                "its store is a restored backup, its next entry forks it for good"
            )
        self._running = True
        if self.config.listen is not None:
            host, port = self.config.listen
            try:
                self._server = await asyncio.start_server(self._accept, host, port)
            except OSError as exc:
                why = exc.strerror or exc
                raise InvalidArgument(f"cannot listen on {host}:{port}: {why}") from exc
            sock = self._server.sockets[0].getsockname()
            self.listen_address = (sock[0], sock[1])
        if self.config.control is not None:
            from lattice.net.control import serve_control

            self._control = await serve_control(self, self.config.control)
        for member in self.config.members:
            if member.public_key != self.me and member.address is not None:
                self.spawn(self._dial_loop(member))
        self.spawn(self._commit_loop())
        self.spawn(noops(self))
        self.spawn(self._maintenance_loop())

    async def stop(self) -> None:
        """Close every connection, finish the queued commits and close the store."""
        self._running = False
        for server in (self._server, self._control):
            if server is not None:
                server.close()
        for link in [*self.links.values(), *self.client_links, *self.guest_links]:
            await link.conn.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
        if self._control is not None and self.config.control is not None:
            with contextlib.suppress(OSError):
                self.config.control.unlink()
        await asyncio.to_thread(self.replica.close)  # every queued commit finishes
        self._run_after_commits()  # and whoever waits for one hears how it ended
        close_shares(self.shares)
        self.attesting.close()
        if self.reputation is not None:
            self.reputation.close(self.replica.penalties)

    async def serve_forever(self) -> None:
        """Run until cancelled."""
        await self.start()
        try:
            await asyncio.Event().wait()
        finally:
            await self.stop()

    def spawn(self, coro: Coroutine[object, object, None]) -> asyncio.Task[None]:
        """Run ``coro`` as a task of this node (cancelled by :meth:`stop`)."""
        self._tasks.add(task := asyncio.ensure_future(coro))
        task.add_done_callback(self._tasks.discard)
        return task

    def changed(self) -> None:
        """Wake :meth:`wait_for`: something a condition may read has changed."""
        self._changed.set()

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

    # --- commits: store first, relay second -------------------------------------------

    def after_commit(
        self, then: Callable[[], None], on_fail: Callable[[LatticeError], None] | None = None
    ) -> None:
        """Run ``then`` once everything the replica did so far is durably stored (at once
        if it already is), after whatever waited for earlier commits; ``on_fail`` instead
        if that commit failed (the replica has then recovered from its store)."""
        future = self.replica.committed()
        if not self._after and (future is None or (future.done() and not future.exception())):
            then()
            return
        self._after.append((future, then, on_fail))
        self._after_event.set()

    async def durable(self) -> None:
        """Wait until everything the replica did so far is durably stored; raises the
        :class:`StoreError` if that commit failed. On a node that is not running (nobody
        runs the queue of :meth:`after_commit`) this waits for the latest commit itself."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def ok() -> None:
            if not done.done():
                done.set_result(None)

        def failed(exc: LatticeError) -> None:
            if not done.done():
                done.set_exception(exc)

        if not self._running:  # nobody runs the queue: wait for the commit itself
            future = self.replica.committed()
            if future is not None:
                await asyncio.shield(asyncio.wrap_future(future))
            return
        self.after_commit(ok, failed)
        await done

    def _run_after_commits(self) -> None:
        """Run what waits for commits that have all finished (at stop)."""
        while self._after:
            future, then, on_fail = self._after.popleft()
            error: BaseException | None = None
            if future is not None:
                error = future.exception() if future.done() else StoreError("not committed")
            try:
                if error is None:
                    then()
                elif on_fail is not None:
                    on_fail(error if isinstance(error, LatticeError) else StoreError(str(error)))
            except Exception:
                log.exception("after a commit")

    async def _commit_loop(self) -> None:
        """Run what waits for commits, in order, as the writer thread finishes them."""
        while True:
            while not self._after:
                self._after_event.clear()
                await self._after_event.wait()
            future, then, on_fail = self._after[0]
            error: LatticeError | None = None
            if future is not None:
                try:
                    # Shielded: stopping the node must not cancel a queued commit.
                    await asyncio.shield(asyncio.wrap_future(future))
                except StoreError as exc:
                    error = exc
            self._after.popleft()
            try:
                if error is None:
                    then()
                else:
                    try:
                        self._commit_failed(error)
                    finally:
                        if on_fail is not None:
                            on_fail(error)
            except Exception:  # one failing callback must not stop the others
                log.exception("after a commit")

    def _commit_failed(self, error: LatticeError) -> None:
        """A commit failed (the commits queued behind it fail too): the replica goes back
        to what its store holds, and every peer link is closed, so that the frontier
        exchange of the next connection finds and re-sends what was lost (a peer may have
        been shown a frontier with entries that are now gone)."""
        if not self.replica.recover_needed():
            return  # one of the commits queued behind the failed one: recovered already
        log.error("a commit failed; recovering from the store: %s", error)
        self.closed_reasons.append(f"store: {error}")
        try:
            announced = self.replica.recover()
        except Exception as exc:  # the store cannot even be read: retried at the next failure
            log.error("recovering from the store failed too: %s", exc)
            self.closed_reasons.append(f"store: recovery failed: {exc}")
            announced = []
        if announced:
            self.after_commit(partial(self.relay, announced))
        for link in list(self.links.values()):
            self.spawn(link.conn.close())

    # --- writing and relaying ----------------------------------------------------------

    def append(self, payload: bytes, kind: Kind = Kind.DATA) -> _lattice.Entry:
        """Append to this node's log; the entry is pushed to every peer once its commit is
        durable (``await node.durable()`` to wait for that)."""
        self.selfcheck.require()
        entry = self.replica.append(payload, kind)
        self.after_commit(partial(self.relay, [entry]))
        return entry

    async def writable(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds until this node may sign (a peer has shown it
        its own log, and it has caught up); :class:`NotSynced` says why if not."""
        with contextlib.suppress(TimeoutError):
            await self.wait_for(lambda n: n.selfcheck.ready, timeout)
        self.selfcheck.require()

    def relay(self, entries: Iterable[_lattice.Entry], exclude: bytes | None = None) -> None:
        """Push durably stored entries to every live peer link but ``exclude``."""
        data = [e.to_bytes() for e in entries]
        if not data:
            return
        self._changed.set()
        for remote, link in self.links.items():
            if remote != exclude and link.live:
                link.push(data)

    def after_receive(self, result: ReceiveResult, source: bytes | None) -> None:
        """Once a receive is durable: relay what it delivered and the proofs it found."""
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "from %s: %d delivered, %d evidence, %d frauds, %d pending",
                self.name(source) if source else "-",
                len(result.delivered),
                len(result.evidence),
                len(result.frauds),
                result.pending,
            )
        self.relay(result.to_relay, exclude=source)
        for proof in result.frauds:
            self.fork_seen.setdefault(proof.author, time.time())
            self.gossip_fraud(proof.to_bytes(), exclude=source)
            self.disconnect(proof.author)
        if result.delivered or result.frauds:
            self._changed.set()

    def disconnect(self, remote: bytes) -> None:
        """Close the link to a peer just blocklisted."""
        link = self.links.get(remote)
        if link is not None:
            self.spawn(link.conn.close())

    def gossip_fraud(self, proof: bytes, exclude: bytes | None) -> None:
        """Send a fraud proof to every peer link but ``exclude``."""
        for remote, link in list(self.links.items()):
            if remote != exclude:
                link.send_soon(wire.Fraud(proof))

    # --- connections -----------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:  # stop() ends accepted sessions too
            self._tasks.add(task)
        source = source_of(writer.get_extra_info("peername"))
        if not self.slots.take(source):
            self.refused += 1
            writer.transport.abort()
            if task is not None:
                self._tasks.discard(task)
            return
        try:
            await self._connection(
                reader,
                writer,
                initiator=False,
                member=None,
                release=lambda: self.slots.release(source),
            )
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
                await self._connection(reader, writer, initiator=True, member=member)
            except Exception:  # a dialler must outlive any one connection
                log.exception("connection to %s failed", member.name)
            if time.monotonic() - started > self.limits.handshake_timeout:
                backoff = self.config.reconnect_min
            await asyncio.sleep(backoff * random.uniform(0.5, 1.0))
            backoff = min(backoff * 2, self.config.reconnect_max)

    async def _connection(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        initiator: bool,
        member: Member | None,
        release: Callable[[], None] | None = None,
    ) -> None:
        """Handshake (with the connection puzzle, under a flood), admission by role, then
        the role's session until it ends; ``release`` gives back the handshake's slot."""
        exchange = self.attesting.exchange()  # remote attestation rides in the handshake
        try:
            channel, remote, digest = await handshake(
                reader, writer, initiator=initiator, keypair=self.keypair,
                hello=self.attesting.hello if exchange else self.hello,
                timeout=self.limits.handshake_timeout, attestation=exchange,
                **({} if initiator or not self.reputation else self.reputation.puzzle_args()),
            )  # fmt: skip
            conn = Connection(reader, writer, channel, remote, digest, self.limits, initiator)
        except (LatticeError, OSError) as exc:
            self.refused += 1
            self.closed_reasons.append(f"refused: {type(exc).__name__}: {exc}")
            log.info("connection refused: %s", exc)
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)
            return
        finally:
            if release is not None:
                release()
        try:
            if (refusal := self.attesting.outcome(conn, exchange)) is not None:
                raise refusal
            session_class = self._admit(conn, member)
            limit = session_class.frame_limit(self.limits)
            self.frames.bound(conn.channel, limit, session_class.trusted)
            await self.attesting.settle(conn)  # a TPM's first contact: its activation
        except LatticeError as exc:  # authenticated: told why, and shown any proof
            self.refused += 1
            self.closed_reasons.append(f"refused: {type(exc).__name__}: {exc}")
            log.info("connection refused: %s", exc)
            proofs = [p.to_bytes() for p in self.replica.frauds if p.author == conn.remote]
            await refuse(conn, str(exc), proofs)
            return
        session = session_class(self, conn, member or self.member(conn.remote))
        log.info(
            "%s %s (%s)",
            "dialled" if initiator else "accepted",
            session.name,
            ROLE_NAMES.get(conn.role, "?"),
        )
        if not self._register(session):
            await conn.close()
            return
        try:
            await session.run()
        except (LatticeError, OSError) as exc:
            self.closed_reasons.append(f"{session.name}: {type(exc).__name__}: {exc}")
            log.info("link %s closed: %s", session.name, exc)
        finally:
            await conn.close()
            self._unregister(session)
            session.ended()
            self._changed.set()

    def _admit(self, conn: Connection, member: Member | None) -> type[Session]:
        """Who may talk to this node, in which role (DESIGN §7): the session class that
        serves the party's role, once it has admitted the party."""
        if conn.hello.swarm != self.config.swarm_id:
            raise HandshakeRefused("hello for another swarm", author=conn.remote)
        if conn.remote == self.me:
            raise HandshakeRefused("a connection to itself", author=conn.remote)
        session_class = SESSIONS.get(conn.role)
        if session_class is None:
            role = ROLE_NAMES.get(conn.role, str(conn.role))
            raise HandshakeRefused(f"{role}s are not served by this node", author=conn.remote)
        session_class.admit(self, conn, member)
        return session_class

    def _register(self, session: Session) -> bool:
        """Enter a session in the registry. One link per peer: when both dialled, the one
        the smaller key initiated wins; a redial from the same side replaces a link that
        may be half-open. False: this session is to be dropped."""
        if not isinstance(session, PeerSession):
            self._links_of(session).add(session)
            return True
        remote = session.conn.remote
        existing = self.links.get(remote)
        if existing is not None and not existing.done.is_set():

            def initiated_by(s: Session) -> bytes:
                return self.me if s.conn.initiator else remote

            same_side = session.conn.initiator == existing.conn.initiator
            if not same_side and initiated_by(session) >= initiated_by(existing):
                return False
            self.spawn(existing.conn.close())
        self.links[remote] = session
        self._changed.set()
        return True

    def _links_of(self, session: Session) -> set[Any]:
        return self.guest_links if isinstance(session, GuestSession) else self.client_links

    def _unregister(self, session: Session) -> None:
        if not isinstance(session, PeerSession):
            self._links_of(session).discard(session)
        elif self.links.get(session.conn.remote) is session:
            del self.links[session.conn.remote]

    # --- timers ----------------------------------------------------------------------

    async def _maintenance_loop(self) -> None:
        """Ask for what is missing: one peer per round, in turn, so the same entries are
        not requested from every peer at once."""
        turn = 0
        while self._running:
            await asyncio.sleep(TICK)
            if self.reputation is not None:
                self.reputation.tick(self.replica.penalties)
            if self.grid is not None:
                self.grid.tick()  # its deadlines and queue (DESIGN §12)
            if self.selfcheck.ready:  # FRAUD entries found before it might sign
                announced = self.replica.announce_deferred()
                if announced:
                    self.after_commit(partial(self.relay, announced))
            if not (self.replica.pending or self.replica.missing()):
                continue
            live = [link for link in self.links.values() if link.live]
            if live:
                turn += 1
                live[turn % len(live)].request_missing()

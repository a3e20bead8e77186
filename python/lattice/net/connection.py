"""One encrypted, authenticated connection between two parties (DESIGN §7).

TCP carries length-prefixed records (``len u16 ‖ noise message``). The first three are
the Noise XX handshake, whose encrypted payloads are the parties' hellos: each names its
Ed25519 identity, swarm and role, and signs the Noise static key it just proved it holds.
After that, records carry frames of :mod:`lattice.net.wire` messages. Everything here has a
deadline: a party that stays silent, reads nothing or sends garbage is cut off with a typed
:class:`~lattice.errors.ProtocolError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import struct
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lattice import _lattice
from lattice.errors import (
    AttestationError,
    DecodeError,
    HandshakeRefused,
    HandshakeTimeout,
    LatticeError,
    ProtocolError,
)
from lattice.net import connpuzzle, wire

if TYPE_CHECKING:
    from lattice.identity import Identity
    from lattice.net.attestation import Exchange

__all__ = ["Connection", "Limits", "handshake"]

_LEN = struct.Struct(">H")


@dataclass(frozen=True)
class Limits:
    """Deadlines and budgets of one connection (seconds and bytes)."""

    #: The whole handshake must finish within this.
    handshake_timeout: float = 5.0
    #: A connection that sends nothing (not even a ping) for this long is closed.
    idle_timeout: float = 30.0
    #: A write that the peer does not drain within this is fatal (a peer that reads nothing).
    write_timeout: float = 10.0
    #: Keep-alive interval on an otherwise idle connection.
    ping_interval: float = 5.0
    #: A frame that has begun must be complete within this: a sender that trickles it
    #: holds its share of the node's frame budget no longer.
    frame_timeout: float = 60.0
    #: Flow control: ENTRIES bytes a peer may have in flight to us.
    credit: int = 8 * 1024 * 1024
    #: Live entries queued for one slow peer before the queue is dropped (it re-requests).
    max_queue_bytes: int = 32 * 1024 * 1024


async def _read_record(reader: asyncio.StreamReader) -> bytes:
    (n,) = _LEN.unpack(await reader.readexactly(2))
    if n == 0:
        raise ProtocolError("empty record")
    return await reader.readexactly(n)


def _record(message: bytes) -> bytes:
    return _LEN.pack(len(message)) + message


async def handshake(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    *,
    initiator: bool,
    keypair: _lattice.NoiseKeypair,
    hello: _lattice.Hello | Callable[[bytes], _lattice.Hello],
    timeout: float,
    attestation: Exchange | None = None,
    puzzle_bits: int = 0,
    solved: Callable[[], None] | None = None,
) -> tuple[_lattice.NoiseChannel, _lattice.Hello, bytes]:
    """Run the XX handshake; returns the channel, the peer's verified hello and the
    handshake hash. Raises :class:`ProtocolError` (timeout, malformed message, a hello that
    does not bind the static key the peer proved it holds).

    With ``attestation`` (:mod:`lattice.net.attestation`), the challenges and evidence of
    remote attestation ride in the three messages, and ``hello`` makes the hello for an
    attestation field; the outcome is left in the exchange (``error``: the caller refuses
    the connection with it, over the channel, so the other side learns why).

    A responder with ``puzzle_bits`` asks the initiator for a connection-level proof of
    work first (:mod:`lattice.net.connpuzzle`), and calls ``solved`` once a handshake got
    past it (or was asked nothing); an initiator answers a puzzle of up to 24 bits."""

    def make(field: bytes) -> _lattice.Hello:
        return hello(field) if callable(hello) else hello

    def check(remote: _lattice.Hello, hs: _lattice.NoiseHandshake, at: bytes) -> None:
        static = hs.remote_static
        if static is None or not remote.binds(static):
            raise HandshakeRefused(
                "the hello does not bind the Noise static key", author=remote.identity
            )
        if attestation is not None:
            with contextlib.suppress(AttestationError):  # kept in attestation.error
                attestation.read_offer(remote.attestation, at, remote.identity, remote.role)

    async def run() -> tuple[_lattice.NoiseChannel, _lattice.Hello, bytes]:
        ex = attestation
        if initiator:
            hs = _lattice.NoiseHandshake.initiator(keypair)
            message1 = hs.write(ex.challenge_payload() if ex else b"")
            writer.write(_record(message1))
            await writer.drain()
            h1 = hs.handshake_hash
            message2 = await _read_record(reader)
            asked = connpuzzle.read_puzzle(message2)
            if asked is not None:  # the responder is under a flood: work first
                writer.write(_record(await connpuzzle.solve(message1, *asked)))
                await writer.drain()
                message2 = await _read_record(reader)
            remote = _lattice.Hello.from_bytes(hs.read(message2))
            h2 = hs.handshake_hash
            check(remote, hs, h1)
            field = await ex.offer(h2, with_nonce=False) if ex else b""
            writer.write(_record(hs.write(make(field).to_bytes())))
            await writer.drain()
        else:
            hs = _lattice.NoiseHandshake.responder(keypair)
            message1 = await _read_record(reader)
            if puzzle_bits:  # before any Diffie-Hellman work of this side
                fresh = os.urandom(32)
                writer.write(_record(connpuzzle.puzzle_record(fresh, puzzle_bits)))
                await writer.drain()
                solution = await _read_record(reader)
                connpuzzle.check_solution(message1, fresh, puzzle_bits, solution)
            if solved is not None:
                solved()  # counted only now: unsolved attempts cost the flood, not the rate
            challenge = hs.read(message1)
            if ex is not None:
                ex.read_challenge(challenge)
            h1 = hs.handshake_hash
            field = await ex.offer(h1, with_nonce=True) if ex else b""
            writer.write(_record(hs.write(make(field).to_bytes())))
            await writer.drain()
            h2 = hs.handshake_hash
            remote = _lattice.Hello.from_bytes(hs.read(await _read_record(reader)))
            check(remote, hs, h2)
        digest = hs.handshake_hash
        return hs.into_channel(), remote, digest

    try:
        return await asyncio.wait_for(run(), timeout)
    except TimeoutError:
        raise HandshakeTimeout(f"handshake not finished within {timeout} s") from None
    except (asyncio.IncompleteReadError, ConnectionError) as exc:
        raise ProtocolError("connection closed during the handshake") from exc
    except OSError as exc:
        raise ProtocolError(f"connection failed during the handshake: {exc}") from exc
    except DecodeError as exc:
        raise ProtocolError(f"malformed hello: {exc}") from exc
    except LatticeError:
        raise
    except Exception as exc:  # a stranger's bytes some library could not take: typed here
        raise ProtocolError(f"the handshake failed: {exc!r}") from exc


class Connection:
    """An established connection: send and receive :mod:`lattice.net.wire` messages."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        channel: _lattice.NoiseChannel,
        hello: _lattice.Hello,
        handshake_hash: bytes,
        limits: Limits,
        initiator: bool,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.channel = channel
        self.hello = hello
        self.remote = hello.identity
        self.role = hello.role
        #: Its remote attestation (lattice.net.attestation; None: none was exchanged).
        self.attestation: Exchange | None = None
        self._unread: deque[wire.Message] = deque()
        self.handshake_hash = handshake_hash
        self.limits = limits
        self.initiator = initiator
        self.frames_sent = 0
        self.frames_received = 0
        #: Told every frame body received, decrypted, before it is decoded (an audit tap:
        #: the guest byte scan of tests/test_guest_network.py reads what a guest got).
        self.tap: Callable[[bytes], None] | None = None
        self.bytes_sent = 0
        #: When the last message went out (monotonic): keep-alives are sent after silence.
        self.last_sent = time.monotonic()
        self.closed = False
        self._send_lock = asyncio.Lock()
        # When the frame now arriving began (monotonic), if one is.
        self._frame_started: float | None = None

    async def send(self, msg: wire.Message) -> None:
        """Send one message; waits (up to ``write_timeout``) until the peer has taken it."""
        body = wire.encode(msg)
        data = self.channel.seal(body)
        async with self._send_lock:
            if self.closed:
                raise ProtocolError("connection closed")
            self.writer.write(data)
            try:
                await asyncio.wait_for(self.writer.drain(), self.limits.write_timeout)
            except TimeoutError:
                raise ProtocolError(
                    f"peer did not read for {self.limits.write_timeout} s", author=self.remote
                ) from None
            except (ConnectionError, RuntimeError) as exc:
                raise ProtocolError(f"connection lost: {exc}", author=self.remote) from exc
        self.frames_sent += 1
        self.bytes_sent += len(data)
        self.last_sent = time.monotonic()

    def unread(self, messages: Iterable[wire.Message]) -> None:
        """Give back messages read early (while activation ran): :meth:`recv` returns them
        first, in order."""
        self._unread.extend(messages)

    async def recv(self) -> wire.Message:
        """The next message; :class:`ProtocolError` on anything malformed, on silence past
        ``idle_timeout``, on a frame not complete within ``frame_timeout``, or when the
        connection closes."""
        if self._unread:
            return self._unread.popleft()
        while True:
            timeout = self.limits.idle_timeout
            if self._frame_started is not None:
                left = self._frame_started + self.limits.frame_timeout - time.monotonic()
                timeout = max(0.0, min(timeout, left))
            try:
                record = await asyncio.wait_for(_read_record(self.reader), timeout)
            except TimeoutError:
                if self._frame_started is not None and timeout < self.limits.idle_timeout:
                    raise ProtocolError(
                        f"frame not complete within {self.limits.frame_timeout} s",
                        author=self.remote,
                    ) from None
                raise ProtocolError(
                    f"peer silent for {self.limits.idle_timeout} s", author=self.remote
                ) from None
            except (asyncio.IncompleteReadError, ConnectionError) as exc:
                raise ProtocolError("connection closed by the peer", author=self.remote) from exc
            if self.closed:  # closed by another task: what is still buffered is not read
                raise ProtocolError("connection closed", author=self.remote)
            frame = self.channel.open(record)
            if frame is None:
                if self._frame_started is None and self.channel.receiving:
                    self._frame_started = time.monotonic()
                continue
            self._frame_started = None
            self.frames_received += 1
            if self.tap is not None:
                self.tap(bytes(frame))
            try:
                return wire.decode(frame)
            except LatticeError as exc:
                raise ProtocolError(f"malformed message: {exc}", author=self.remote) from exc

    async def close(self) -> None:
        """Close the socket (idempotent). Anything still unsent is discarded: a peer that
        stopped reading must not keep the socket, or this connection, alive."""
        if self.closed:
            return
        self.closed = True
        self.channel.abandon()
        transport = self.writer.transport
        if transport.get_write_buffer_size():
            transport.abort()
        else:
            self.writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.writer.wait_closed(), 1.0)


async def dial(
    address: tuple[str, int] | None,
    identity: Identity,
    swarm_id: bytes,
    role: int,
    limits: Limits,
    *,
    expect: bytes | None = None,
    tap: Callable[[bytes], None] | None = None,
) -> Connection:
    """Dial a peer's node as a client or a guest (``role``): TCP, the XX handshake, and a
    check that a peer of ``swarm_id`` answered (``expect``: with that key). ``tap`` is told
    the peer's hello, then every frame body received (:attr:`Connection.tap`)."""
    what = "home peer" if role == _lattice.ROLE_CLIENT else "owner"
    if address is None:
        raise ProtocolError(f"the {what} has no address")
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(*address), limits.handshake_timeout
    )
    keypair = _lattice.NoiseKeypair.generate()
    hello = _lattice.Hello.create(identity.signing_key, keypair.public, swarm_id, role)
    try:
        channel, remote, digest = await handshake(
            reader, writer, initiator=True, keypair=keypair, hello=hello,
            timeout=limits.handshake_timeout,
        )  # fmt: skip
    except BaseException:
        writer.close()
        raise
    if remote.swarm != swarm_id or remote.role != _lattice.ROLE_PEER:
        writer.close()
        raise ProtocolError(f"the {what} is not a peer of this swarm", author=remote.identity)
    if expect is not None and remote.identity != expect:
        writer.close()
        raise ProtocolError(f"another key answered for the {what}", author=remote.identity)
    if tap is not None:
        tap(remote.to_bytes())
    conn = Connection(reader, writer, channel, remote, digest, limits, True)
    conn.tap = tap
    return conn


async def keep_alive(conn: Connection) -> None:
    """Send a PING whenever ``conn`` has sent nothing for ``ping_interval``, until it
    closes (so an idle client or guest is not taken for a dead one)."""
    interval = conn.limits.ping_interval
    with contextlib.suppress(LatticeError, OSError):
        while not conn.closed:
            idle = time.monotonic() - conn.last_sent
            if idle >= interval:
                await conn.send(wire.Ping())
                idle = 0.0
            await asyncio.sleep(interval - idle)

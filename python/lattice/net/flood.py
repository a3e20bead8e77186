"""A Sybil flood against a real node (DESIGN §11, §15 P14): honest clients submit ops in a
closed loop while waves of Sybil client connections — *spammers*, not admitted, sending
ops anyway, and *flooders*, admitted by a cheap proof of work, pipelining ops without
waiting — hit the same home peer over loopback. What comes back says whether the honest
ops kept flowing (how many were acknowledged, how many refused) and why each Sybil
connection ended (the home peer's refusal reasons). Bounded in count (the Sybils given, at
most ``lanes`` connected at once) and in time (a timeout on every wait).

For tests and ``make bench``; the node is any node reachable at ``address`` (a real
``lattice node run`` process in both)::

    result = asyncio.run(flood(address, swarm, honest=clients, spammers=s, flooders=f))
    result.honest_acked, result.reasons.most_common(3)
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections import Counter
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lattice.errors import HandshakeRefused, LatticeError
from lattice.identity import Identity
from lattice.net import wire
from lattice.net.client import Client
from lattice.net.config import Member, render
from lattice.net.process import NodeProcess, free_ports
from lattice.sybil.graph import AdmissionPolicy
from lattice.sybil.records import Admission

__all__ = ["DEFAULT_LANES", "FLOOD_OPS", "FloodResult", "flood", "honest_load", "start_home"]

#: Sybil connections open at once (a node takes 8 handshakes at a time per source address:
#: more would be refused there, and the flood would test the handshake slots instead).
DEFAULT_LANES = 8
#: Ops a flooder pipelines on one connection.
FLOOD_OPS = 64
#: Seconds a Sybil waits for its refusal before it gives up on the connection.
SYBIL_TIMEOUT = 5.0


@dataclass
class FloodResult:
    """What a flood did: the honest side's acknowledged and refused ops and its seconds,
    the Sybil connections made, and why each ended (by reason, shortened)."""

    honest_acked: int = 0
    honest_refused: int = 0
    seconds: float = 0.0
    sybil_connections: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    #: Sybils done (all of them, once :func:`flood` returns).
    spammers_run: int = 0
    flooders_run: int = 0
    #: The spammers' keys refused at least once as graylisted.
    graylisted: set[bytes] = field(default_factory=set)

    @property
    def honest_rate(self) -> float:
        """Honest ops acknowledged per second."""
        return self.honest_acked / self.seconds if self.seconds else 0.0


def start_home(
    directory: Path,
    identity: Identity,
    swarm: bytes,
    policy: AdmissionPolicy,
    limits: dict[str, float] | None = None,
) -> tuple[NodeProcess, tuple[str, int]]:
    """Start a one-peer swarm's node (``lattice node run``, its own process) under
    ``directory`` with ``[admission]`` ``policy`` and open client access: the home peer
    a flood is aimed at. Returns it, started, and its address."""
    identity.save(directory / "home.key")
    address = ("127.0.0.1", free_ports(1)[0])
    text = render(
        identity="home.key",
        swarm_id=swarm,
        members=[Member("home", identity.public_key)],
        listen=address,
        store="home.db",
        control="home.sock",
        limits=limits,
        open_clients=True,
        admission=policy,
    )
    (directory / "home.toml").write_text(text)
    node = NodeProcess(name="home", config=directory / "home.toml", control=directory / "home.sock")
    node.start()
    return node, address


def _reason(exc: BaseException) -> str:
    text = str(exc).split("refused by the home peer: ", 1)[-1]
    for known in ("not admitted", "graylisted", "over budget", "too many clients",
                  "sessions already"):  # fmt: skip
        if known in text:
            return known
    return f"{type(exc).__name__}: {text[:60]}"


async def honest_load(
    address: tuple[str, int],
    swarm: bytes,
    clients: Sequence[Client],
    duration: float,
    until: asyncio.Future[object] | None = None,
) -> tuple[int, int, float]:
    """Each connected client submits ops one after another for ``duration`` seconds (and,
    given ``until``, for as long as it is not done); returns (acknowledged, refused,
    seconds)."""
    acked = refused = 0
    start = time.monotonic()
    stop = start + duration

    def going() -> bool:
        return time.monotonic() < stop or (until is not None and not until.done())

    async def one(client: Client) -> None:
        nonlocal acked, refused
        n = 0
        while going():
            n += 1
            try:
                await client.submit(b"honest op %d" % n)
                acked += 1
            except LatticeError:
                refused += 1
                return

    await asyncio.gather(*(one(c) for c in clients))
    return acked, refused, time.monotonic() - start


async def _spam(address: tuple[str, int], swarm: bytes, who: Identity, tries: int) -> list[str]:
    reasons = []
    for n in range(tries):
        try:
            client = await Client.connect(address, who, swarm)
        except (LatticeError, OSError) as exc:
            reasons.append(_reason(exc))
            continue
        try:
            await asyncio.wait_for(client.submit(b"spam %d" % n), SYBIL_TIMEOUT)
            reasons.append("accepted")
        except (LatticeError, OSError, TimeoutError) as exc:
            reasons.append(_reason(exc))
        finally:
            with contextlib.suppress(LatticeError, OSError):
                await client.close()
    return reasons


async def _flood(
    address: tuple[str, int], swarm: bytes, who: Identity, record: Admission
) -> list[str]:
    try:
        client = await Client.connect(address, who, swarm)
    except (LatticeError, OSError) as exc:
        return [_reason(exc)]
    try:
        await asyncio.wait_for(client.admit(record), SYBIL_TIMEOUT)
        for _ in range(FLOOD_OPS):  # pipelined: never waits for an ack
            await client.send_op(b"flood")
        while True:
            msg = await asyncio.wait_for(client.conn.recv(), SYBIL_TIMEOUT)
            if isinstance(msg, wire.Refused):
                return [_reason(HandshakeRefused(msg.reason))]
    except (LatticeError, OSError, TimeoutError) as exc:
        return [_reason(exc)]
    finally:
        with contextlib.suppress(LatticeError, OSError):
            await client.close()


async def flood(
    address: tuple[str, int],
    swarm: bytes,
    *,
    honest: Sequence[Client],
    spammers: Sequence[Identity] = (),
    flooders: Sequence[tuple[Identity, Admission]] = (),
    duration: float = 5.0,
    lanes: int = DEFAULT_LANES,
    tries: int = 4,
) -> FloodResult:
    """Run the honest clients' load while the Sybils connect, ``lanes`` at a time — each
    spammer ``tries`` times, each flooder once — for at least ``duration`` seconds and
    until every Sybil is done (bounded: each waits at most :data:`SYBIL_TIMEOUT` for an
    answer)."""
    result = FloodResult()
    gate = asyncio.Semaphore(lanes)

    async def lane(job: Coroutine[object, object, list[str]], who: Identity | None) -> None:
        async with gate:
            got = await job
        result.sybil_connections += len(got)
        result.reasons.update(got)
        if who is not None:
            result.spammers_run += 1
            if "graylisted" in got:
                result.graylisted.add(who.public_key)
        else:
            result.flooders_run += 1

    # Spammers and flooders interleaved, as they would arrive.
    spam = [lane(_spam(address, swarm, who, tries), who) for who in spammers]
    floods = [lane(_flood(address, swarm, who, record), None) for who, record in flooders]
    jobs = [j for pair in itertools.zip_longest(spam, floods) for j in pair if j is not None]
    sybils: asyncio.Future[object] = asyncio.ensure_future(asyncio.gather(*jobs))
    try:
        acked, refused, seconds = await honest_load(address, swarm, honest, duration, sybils)
        await sybils
    finally:
        sybils.cancel()
    result.honest_acked, result.honest_refused, result.seconds = acked, refused, seconds
    return result

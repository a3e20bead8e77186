"""A deterministic, in-process swarm: replicas joined by links with delays (simulated time).

Each replica is the real sans-I/O :class:`~lattice.Replica`; the simulation only carries
entries along links. A peer relays everything it delivers to its neighbours (store first,
relay second, same order: DESIGN §7), so entries reach distant peers through relay paths,
each hop adding its link's delay. Nothing here sleeps or opens a socket, so a run is exactly
repeatable.

>>> from lattice.simulation import Simulation
>>> sim = Simulation.ring(["A", "B", "C"], delays=[1, 2, 1])
>>> e = sim.replicas["A"].append(b"hello")
>>> sim.send_from("A", [e])
>>> sim.run(until=3)
>>> [sim.replicas[p].head(sim.key("A")) for p in "ABC"]
[1, 1, 1]
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from lattice import _lattice
from lattice.identity import Identity
from lattice.replica import Missing, Replica

__all__ = ["Equivocator", "Simulation"]


@dataclass(order=True)
class _Message:
    arrival: int
    order: int
    to: str = field(compare=False)
    frm: str = field(compare=False)
    entries: list[bytes] = field(compare=False)
    requests: list[Missing] | None = field(compare=False, default=None)


#: Ticks a replica waits before asking its neighbours again for what it misses.
REQUEST_INTERVAL = 4


class Simulation:
    """Named replicas, undirected links with integer delays, and a clock.

    What a replica receives it stores, then relays to its neighbours (``to_relay``: what it
    delivered, evidence of forks, its own FRAUD entries). A replica that misses entries
    asks its neighbours every :data:`REQUEST_INTERVAL` ticks, and they answer from their
    stores. Members named in ``outsiders`` are registered peers with no replica here (an
    attacker that talks through :meth:`inject`).
    """

    def __init__(
        self,
        names: Sequence[str],
        links: dict[tuple[str, str], int],
        swarm_id: bytes = bytes(32),
        seed: int = 0,
        outsiders: Sequence[bytes] = (),
    ) -> None:
        self.names = list(names)
        self.identities = {n: self.identity(n, seed) for n in names}
        self.peers = [self.identities[n].public_key for n in names] + list(outsiders)
        self.swarm_id = swarm_id
        self.replicas = {
            n: Replica(self.identities[n], peers=self.peers, swarm_id=swarm_id) for n in names
        }
        self.neighbours: dict[str, list[tuple[str, int]]] = {n: [] for n in names}
        self._delay: dict[tuple[str, str], int] = {}
        for (a, b), delay in sorted(links.items()):
            self.neighbours[a].append((b, delay))
            self.neighbours[b].append((a, delay))
            self._delay[a, b] = self._delay[b, a] = delay
        self.now = 0
        self._queue: list[_Message] = []
        self._order = 0
        self._asked: dict[str, int] = {}
        self.delivered_log: list[tuple[int, str, _lattice.Entry]] = []
        #: (tick, replica, proof, detected here) for every fraud proof a replica took.
        self.fraud_log: list[tuple[int, str, _lattice.FraudProof, bool]] = []

    @staticmethod
    def identity(name: str, seed: int = 0) -> Identity:
        """The deterministic identity of peer ``name`` in a simulation with ``seed``."""
        return Identity.from_seed(
            _lattice.blake3_derive_key("lattice sim", f"{seed}/{name}".encode())
        )

    @classmethod
    def ring(cls, names: Sequence[str], delays: Sequence[int], **kwargs: object) -> Simulation:
        """Peers on a ring: names[i] linked to names[i+1] with delays[i]."""
        links = {(names[i], names[(i + 1) % len(names)]): delays[i] for i in range(len(names))}
        return cls(names, links, **kwargs)  # type: ignore[arg-type]

    def key(self, name: str) -> bytes:
        """The public key of a named peer."""
        return self.identities[name].public_key

    def name_of(self, key: bytes) -> str:
        return next((n for n, i in self.identities.items() if i.public_key == key), "?")

    def _push(
        self,
        frm: str,
        to: str,
        delay: int,
        data: list[bytes],
        requests: list[Missing] | None = None,
    ) -> None:
        self._order += 1
        heapq.heappush(
            self._queue, _Message(self.now + delay, self._order, to, frm, data, requests)
        )

    def send_from(self, name: str, entries: Sequence[_lattice.Entry]) -> None:
        """``name`` sends ``entries`` to each neighbour; they arrive after the link delay."""
        if not entries:
            return
        data = [e.to_bytes() for e in entries]
        for neighbour, delay in self.neighbours[name]:
            self._push(name, neighbour, delay, data)

    def inject(self, to: str, entries: Sequence[_lattice.Entry], delay: int = 1) -> None:
        """Entries from outside the simulated links (an attacker) arrive at ``to``."""
        self._push("outside", to, delay, [e.to_bytes() for e in entries])

    def step(self) -> None:
        """Advance the clock by one tick: deliver what arrives and relay it, answer
        requests, and let replicas that miss entries ask their neighbours."""
        self.now += 1
        while self._queue and self._queue[0].arrival <= self.now:
            message = heapq.heappop(self._queue)
            replica = self.replicas[message.to]
            if message.requests is not None:
                answer = replica.answer(message.requests)
                if answer:
                    self._push(
                        message.to, message.frm, self._delay[message.to, message.frm], answer
                    )
                continue
            result = replica.receive(message.entries)
            for entry in result.delivered:
                self.delivered_log.append((self.now, message.to, entry))
            for proof in result.frauds:
                self.fraud_log.append((self.now, message.to, proof, bool(result.appended)))
            self.send_from(message.to, result.to_relay)
        for name, replica in self.replicas.items():
            if self.now - self._asked.get(name, -REQUEST_INTERVAL) < REQUEST_INTERVAL:
                continue
            missing = replica.missing()
            if missing:
                self._asked[name] = self.now
                for neighbour, delay in self.neighbours[name]:
                    self._push(name, neighbour, delay, [], missing)

    def run(self, until: int, each_tick: Callable[[Simulation], None] | None = None) -> None:
        """Step until the clock reads ``until``, calling ``each_tick`` after every tick."""
        while self.now < until:
            self.step()
            if each_tick is not None:
                each_tick(self)

    def noops(self) -> None:
        """Every peer emits its periodic noop if its frontier changed, and sends it."""
        for name, replica in self.replicas.items():
            noop = replica.maybe_noop()
            if noop is not None:
                self.send_from(name, [noop])

    def idle(self) -> bool:
        """True when nothing is in flight."""
        return not self._queue


class Equivocator:
    """A Byzantine peer for tests and the demo: one identity running two replicas, so it
    can sign two versions of its log and tell each part of the swarm a different story.

    >>> import lattice
    >>> x = lattice.Identity.from_seed(bytes(32))
    >>> liar = Equivocator(x, peers=[x.public_key])
    >>> x1 = liar.append(b"honest so far")
    >>> p, q = liar.equivocate(b"pay alice", b"pay bob")
    >>> (p.seq, q.seq, p.prev == q.prev == x1.id, p.id != q.id)
    (2, 2, True, True)
    """

    def __init__(self, identity: Identity, peers: Sequence[bytes], swarm_id: bytes = bytes(32)):
        self.identity = identity
        self.branches = (
            Replica(identity, peers=peers, swarm_id=swarm_id),
            Replica(identity, peers=peers, swarm_id=swarm_id),
        )

    def receive(self, entries: Sequence[_lattice.Entry | bytes]) -> None:
        """Both branches see what the attacker is sent."""
        for branch in self.branches:
            branch.receive(entries)

    def append(self, payload: bytes) -> _lattice.Entry:
        """One entry on both branches (before the fork, or to extend both alike)."""
        entry = self.branches[0].append(payload)
        self.branches[1].receive([entry])
        return entry

    def equivocate(self, first: bytes, second: bytes) -> tuple[_lattice.Entry, _lattice.Entry]:
        """Two validly signed versions of the next position, one per branch."""
        return self.branches[0].append(first), self.branches[1].append(second)

    def extend(self, branch: int, payload: bytes) -> _lattice.Entry:
        """Continue one branch only."""
        return self.branches[branch].append(payload)

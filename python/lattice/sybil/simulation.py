"""The Sybil simulation of DESIGN §11: a deterministic, simulated-time model of a swarm under
attack, in one process, run with the *same* policy objects a node runs — the
:class:`~lattice.sybil.TrustGraph` with real admission records and vouches, the
:class:`~lattice.sybil.Scores` of each registered peer, the :class:`~lattice.sybil.Budget`
of each connection and the :class:`~lattice.sybil.puzzle.ConnectionPuzzle` — at the scale of
gossipsub v1.1's evaluation (1,000 honest identities against up to 4,000 Sybils).

The model: ``peers`` registered peers, fully linked; every open identity has a home peer.
Honest clients (each vouched for by its home peer) submit one op every ``1 / honest_rate``
seconds. A home peer takes a frame of ops from a client through, in order, the defences
switched on — its connection budget (``budgets``: slowed when over, cut when a frame can
never fit or the wait passes ``MAX_WAIT``, an overrun counted against the score), the
trust graph (``admission``: a client it does not admit is refused before validation) —
then validates it (costing ``validate_cost`` per op of its one validation queue), and wraps
a valid op and relays it to every other peer, which validates it in turn behind its own
peer-link budget. Each op is delivered when the last peer has validated it. Scenarios:

- ``none``: honest traffic only (the baseline for latency);
- ``junk``: Sybils flood invalid ops;
- ``cheap-pow``: Sybils with proofs of work below the swarm's minimum flood valid ops;
- ``voucher``: a compromised admitted identity vouches for every Sybil, which flood valid ops;
- ``byzantine-peer``: a registered peer floods its own log with valid entries;
- ``connection-flood``: Sybils open connections as fast as their hash power allows
  (``conn-pow``: the puzzle's difficulty rises with load; each handshake costs
  ``handshake_cost``).

A run reports honest delivery, latency percentiles and the honest share of wire, relayed
and validated bytes, and a digest of everything it measured: one seed, one digest.

>>> r = run(SimConfig(honest=20, sybils=20, peers=4, scenario="junk", duration=2.0, seed=1))
>>> r.honest_delivery, r.digest == run(SimConfig(honest=20, sybils=20, peers=4,
...     scenario="junk", duration=2.0, seed=1)).digest
(1.0, True)
"""

from __future__ import annotations

import dataclasses
import gc
import hashlib
import heapq
import random
import time
from collections.abc import Callable

import numpy as np

from lattice.entry import Kind
from lattice.errors import AdmissionError, InvalidArgument
from lattice.identity import Identity
from lattice.sybil.budget import Budget, TokenBucket, peer_band
from lattice.sybil.graph import AdmissionPolicy, TrustGraph
from lattice.sybil.puzzle import HANDSHAKE_BURST, HANDSHAKE_SHARE, ConnectionPuzzle
from lattice.sybil.records import Admission, Vouch
from lattice.sybil.scores import Scores

__all__ = [
    "ALL_DEFENCES",
    "DEFENCE_SETS",
    "MAX_WAIT",
    "SCENARIOS",
    "SimConfig",
    "SimResult",
    "run",
]

SCENARIOS = ("none", "junk", "cheap-pow", "voucher", "byzantine-peer", "connection-flood")
ALL_DEFENCES = frozenset({"admission", "budgets", "conn-pow"})
#: The defence sets a report compares, by name.
DEFENCE_SETS: dict[str, frozenset[str]] = {
    "none": frozenset(),
    "admission": frozenset({"admission"}),
    "budgets": frozenset({"budgets"}),
    "all": ALL_DEFENCES,
}
#: The longest a node holds a frame back to fit a connection's budget; past it, the frame
#: is refused as an overrun.
MAX_WAIT = 0.25

_SWARM = bytes(32)
# Event kinds.
_CLIENT, _RELAY, _FLOOD, _CONNECT, _CLIENT_HELD, _RELAY_HELD = range(6)


@dataclasses.dataclass(frozen=True)
class SimConfig:
    """One run's parameters (seconds of simulated time, bytes)."""

    honest: int = 1000
    sybils: int = 4000
    peers: int = 30
    scenario: str = "junk"
    defences: frozenset[str] = ALL_DEFENCES
    seed: int = 1
    duration: float = 10.0
    drain: float = 5.0
    honest_rate: float = 1.0
    op_size: int = 256
    sybil_rate: float = 2.0
    byzantine_rate: float = 2.0
    frame_ops: int = 16
    latency: float = 0.02
    jitter: float = 0.01
    validate_cost: float = 50e-6
    check_cost: float = 2e-6
    handshake_cost: float = 1e-3
    connect_rate: float = 10.0
    attacker_hashes: float = 2e8
    min_bits: int = 20
    sybil_bits: int = 8

    def __post_init__(self) -> None:
        if self.scenario not in SCENARIOS:
            raise InvalidArgument(f"unknown scenario {self.scenario!r}; one of {SCENARIOS}")
        unknown = set(self.defences) - ALL_DEFENCES
        if unknown:
            raise InvalidArgument(f"unknown defences {sorted(unknown)}")
        if self.honest < 1 or self.peers < 2 or self.sybils < 0 or self.duration <= 0:
            raise InvalidArgument("a run needs ≥ 1 honest client, ≥ 2 peers, a duration > 0")


@dataclasses.dataclass
class SimResult:
    """What one run measured."""

    config: SimConfig
    honest_ops: int
    honest_delivery: float
    latency_p50: float
    latency_p99: float
    wire_share: float
    relayed_share: float
    validated_share: float
    cut: int
    events: int
    wall: float
    loop: float
    digest: str

    @property
    def events_per_second(self) -> float:
        """Events the loop processed per second of wall time (set-up — keys, proofs of
        work, vouches — not counted: it is in ``wall``)."""
        return self.events / self.loop if self.loop else 0.0

    @property
    def defence_name(self) -> str:
        """The name of the run's defence set in :data:`DEFENCE_SETS` (else its members)."""
        for name, defences in DEFENCE_SETS.items():
            if defences == self.config.defences:
                return name
        return "+".join(sorted(self.config.defences))

    def row(self) -> dict[str, object]:
        """The figures as a flat dict (a report's table row)."""
        c = self.config
        return {
            "scenario": c.scenario,
            "sybils": c.sybils,
            "defences": self.defence_name,
            "delivery": self.honest_delivery,
            "p50_ms": self.latency_p50 * 1e3,
            "p99_ms": self.latency_p99 * 1e3,
            "wire": self.wire_share,
            "relayed": self.relayed_share,
            "validated": self.validated_share,
            "cut": self.cut,
            "events_per_s": self.events_per_second,
        }


def _share(counts: list[int]) -> float:
    """The honest share of a ``[sybil, honest]`` byte count (1 when nothing moved)."""
    total = counts[0] + counts[1]
    return counts[1] / total if total else 1.0


def _key(seed: int, role: bytes, i: int) -> Identity:
    return Identity.from_seed(
        hashlib.blake2b(
            role + i.to_bytes(4, "big"), key=seed.to_bytes(8, "big"), digest_size=32
        ).digest()
    )


class _Swarm:
    """One run's state."""

    def __init__(self, c: SimConfig) -> None:
        self.c = c
        self.rng = random.Random(c.seed)
        self.on = c.defences
        self.budgets_on = "budgets" in c.defences
        self.peers = [_key(c.seed, b"peer", i) for i in range(c.peers)]
        pks = self.pks = [p.public_key for p in self.peers]
        self.registered = frozenset(pks)
        policy = AdmissionPolicy(min_bits=c.min_bits)
        self.graph = TrustGraph(pks, _SWARM, policy)
        self.scores = [Scores() for _ in self.peers]
        self.busy = [0.0] * c.peers
        self.puzzles = [ConnectionPuzzle() for _ in self.peers]
        self.handshakes = [
            TokenBucket(HANDSHAKE_SHARE / c.handshake_cost, 0.0, burst=HANDSHAKE_BURST)
            for _ in self.peers
        ]
        self.budgets: list[dict[bytes, Budget]] = [{} for _ in self.peers]
        self.bands: list[dict[bytes, tuple[str, float]]] = [{} for _ in self.peers]
        self.firsts: list[dict[bytes, int]] = [{} for _ in self.peers]
        self.interval = self.scores[0].params.decay_interval
        #: Per peer, the identities whose connection it cut.
        self.cut: list[set[bytes]] = [set() for _ in self.peers]
        #: Bytes [Sybil, honest] received, accepted over peer links, validated.
        self.wire, self.relayed, self.validated = [0, 0], [0, 0], [0, 0]
        self.queue: list[tuple[float, int, int, int, int]] = []
        self.order = 0
        self.positions = [0] * c.peers  # seqs used in each peer's log, for the records
        self.submitted: list[float] = []
        self.reached: list[int] = []
        self.done: list[float] = []
        self.op_home: list[int] = []
        self.hashes_at, self.hash_pool = 0.0, 0.0
        self.clients: list[bytes] = []
        self.homes: list[int] = []

    # --- set-up (real records, checked by the real graph) ------------------------------

    def _carry(self, peer: int, kind: Kind, payload: bytes) -> bool:
        """Peer ``peer`` carries a record: judged by the graph, recorded if valid."""
        try:
            self.graph.check(int(kind), payload, None)
        except AdmissionError:
            return False
        self.positions[peer] += 1
        self.graph.record(int(kind), payload, peer, self.positions[peer])
        return True

    def populate(self) -> None:
        c, rng = self.c, self.rng
        # In byzantine-peer, peer 0 floods: its clients would have moved to another home.
        first = 1 if c.scenario == "byzantine-peer" else 0
        for i in range(c.honest):
            who, home = _key(c.seed, b"honest", i), rng.randrange(first, c.peers)
            self.clients.append(who.public_key)
            self.homes.append(home)
            self._carry(
                home, Kind.VOUCH, Vouch.create(self.peers[home], _SWARM, who.public_key).to_bytes()
            )
        if c.scenario in ("none", "byzantine-peer", "connection-flood"):
            return
        sybils = [_key(c.seed, b"sybil", i) for i in range(c.sybils)]
        if c.scenario == "cheap-pow":
            for s in sybils:
                record = Admission.make(s.public_key, _SWARM, c.sybil_bits, threads=1)
                self._carry(rng.randrange(c.peers), Kind.ADMISSION, record.to_bytes())
        elif c.scenario == "voucher":
            voucher = _key(c.seed, b"voucher", 0)
            self._carry(
                0, Kind.VOUCH, Vouch.create(self.peers[0], _SWARM, voucher.public_key).to_bytes()
            )
            for s in sybils:
                v = Vouch.create(voucher, _SWARM, s.public_key)
                self._carry(rng.randrange(c.peers), Kind.VOUCH, v.to_bytes())
        for s in sybils:
            self.clients.append(s.public_key)
            self.homes.append(rng.randrange(c.peers))

    # --- events ------------------------------------------------------------------------

    def push(self, t: float, kind: int, a: int, b: int) -> None:
        self.order += 1
        heapq.heappush(self.queue, (t, self.order, kind, a, b))

    def start(self) -> None:
        c, rng = self.c, self.rng
        for i in range(c.honest):
            self.push(rng.random() / c.honest_rate, _CLIENT, i, 0)
        n = len(self.clients)
        if c.scenario in ("junk", "cheap-pow", "voucher"):
            for i in range(c.honest, n):
                self.push(rng.random() / c.sybil_rate, _CLIENT, i, 0)
        elif c.scenario == "byzantine-peer":
            rate = max(1, c.sybils) * c.byzantine_rate  # frames per second from one peer
            self.flood_period = 1.0 / rate
            self.push(0.0, _FLOOD, 0, 0)
        elif c.scenario == "connection-flood":
            for i in range(c.sybils):
                self.push(rng.random() / c.connect_rate, _CONNECT, i, rng.randrange(c.peers))

    def flush(self, node: int, who: bytes, now: float) -> None:
        """Report the first deliveries ``node`` counted for ``who`` to its scores (a node
        adds them up between reading a band, once per decay interval)."""
        n = self.firsts[node].pop(who, 0)
        if n:
            self.scores[node].first_delivery(who, now, n)

    def penalised(self, node: int, who: bytes, now: float) -> None:
        """After a penalty: re-read the band, and cut ``who`` if it is graylisted."""
        self.flush(node, who, now)
        band = self.scores[node].band(who, now)
        self.bands[node][who] = (
            peer_band(band) if who in self.registered else band,
            now + self.interval,
        )
        if band == "graylisted":
            self.cut[node].add(who)

    def charge(
        self, node: int, who: bytes, ops: int, size: int, now: float, peer: bool = False
    ) -> float | None:
        """The budget defence: when the frame may be taken (None: refused, maybe cut). The
        band is read from the node's scores at most once per decay interval, and again
        after each penalty."""
        bands = self.bands[node]
        cached = bands.get(who)
        if cached is None or now >= cached[1]:
            self.flush(node, who, now)
            band = self.scores[node].band(who, now)
            if peer:
                band = peer_band(band)  # what a peer link's budget is set by
            bands[who] = (band, now + self.interval)
        else:
            band = cached[0]
        budgets = self.budgets[node]
        b = budgets.get(who)
        if b is None:
            b = budgets[who] = Budget.for_peer(band, now) if peer else Budget.for_band(band, now)
        elif b.band != band:
            b = budgets[who] = b.rebanded(band, now)
        wait = b.take(ops, size, now, MAX_WAIT)
        if wait is None or wait > MAX_WAIT:
            self.scores[node].overrun(who, now)
            if wait is None:
                self.cut[node].add(who)
            self.penalised(node, who, now)
            return None
        return now + wait

    def validate(self, node: int, start: float, ops: int) -> float:
        done = max(start, self.busy[node]) + ops * self.c.validate_cost
        self.busy[node] = done
        return done

    def refuse(self, node: int, now: float) -> None:
        self.busy[node] = max(now, self.busy[node]) + self.c.check_cost

    def client_frame(self, t: float, i: int) -> None:
        c = self.c
        honest = i < c.honest
        who, home = self.clients[i], self.homes[i]
        ops = 1 if honest else c.frame_ops
        size = ops * c.op_size
        if who in self.cut[home]:
            return  # its connection is closed: a Sybil must reconnect (connection-flood)
        period = 1.0 / (c.honest_rate if honest else c.sybil_rate)
        if t + period < c.duration:
            self.push(t + period, _CLIENT, i, 0)
        self.wire[honest] += size
        op = -1
        if honest:
            op = len(self.submitted)
            self.submitted.append(t)
            self.reached.append(0)
            self.done.append(0.0)
            self.op_home.append(home)
        if "budgets" in self.on:
            due = self.charge(home, who, ops, size, t)
            if due is None:
                self.refuse(home, t)
            elif due > t:
                self.push(due, _CLIENT_HELD, i, op)  # slowed: taken when its budget allows
            else:
                self.client_take(t, i, op)
        else:
            self.client_take(t, i, op)

    def client_take(self, t: float, i: int, op: int) -> None:
        """The home peer takes client ``i``'s frame (honest op ``op``) within its budget."""
        c = self.c
        honest = i < c.honest
        who, home = self.clients[i], self.homes[i]
        ops = 1 if honest else c.frame_ops
        size = ops * c.op_size
        if "admission" in self.on and not self.graph.admitted(who):
            self.refuse(home, t)
            if "budgets" in self.on:
                self.scores[home].invalid(who, t, ops)
                self.penalised(home, who, t)
            return
        done = self.validate(home, t, ops)
        self.validated[honest] += size
        if c.scenario == "junk" and not honest:
            if "budgets" in self.on:
                self.scores[home].invalid(who, t, ops)
                self.penalised(home, who, t)
            return
        if "budgets" in self.on:
            self.firsts[home][who] = self.firsts[home].get(who, 0) + ops
        self.deliver(op, done)
        self.relay(home, done, op, size, honest)

    def relay(self, origin: int, t: float, op: int, size: int, honest: bool) -> None:
        """``origin`` wrapped the frame (op ``op``, -1 for a Sybil's) and sends it on, to
        every peer that has not cut it off."""
        sender, cut, c = self.pks[origin], self.cut, self.c
        # b: the op index (≥ 0 honest) or -(origin + 2) for a Sybil's
        b = op if op >= 0 else -(origin + 2)
        random, queue, push = self.rng.random, self.queue, heapq.heappush
        base, jitter, order = t + c.latency, c.jitter, self.order
        for p in range(c.peers):
            if p != origin and sender not in cut[p]:
                order += 1
                push(queue, (base + random() * jitter, order, _RELAY, p, b))
        self.order = order

    def relay_arrival(self, t: float, p: int, op: int) -> None:
        c = self.c
        honest = op >= 0
        if honest:
            origin, ops = self.op_home[op], 1
        else:
            origin, ops = -op - 2, c.frame_ops
        size = ops * c.op_size
        sender = self.pks[origin]
        if sender in self.cut[p]:
            return
        self.wire[honest] += size
        if self.budgets_on:
            due = self.charge(p, sender, ops, size, t, peer=True)
            if due is None:
                self.refuse(p, t)
                return
            if due > t:
                self.push(due, _RELAY_HELD, p, op)
                return
        self.relay_take(t, p, op)

    def relay_take(self, t: float, p: int, op: int) -> None:
        """Peer ``p`` validates a relayed frame (honest op ``op``, or a Sybil's)."""
        honest = op >= 0
        origin, ops = (self.op_home[op], 1) if honest else (-op - 2, self.c.frame_ops)
        size = ops * self.c.op_size
        busy = self.busy
        done = busy[p] = (t if t > busy[p] else busy[p]) + ops * self.c.validate_cost
        self.validated[honest] += size
        self.relayed[honest] += size
        if self.budgets_on:
            sender = self.pks[origin]
            self.firsts[p][sender] = self.firsts[p].get(sender, 0) + ops
        if honest:
            reached = self.reached[op] = self.reached[op] + 1
            if reached == self.c.peers:
                self.done[op] = done

    def deliver(self, op: int, t: float) -> None:
        if op >= 0:
            self.reached[op] += 1
            if self.reached[op] == self.c.peers:
                self.done[op] = t

    def flood(self, t: float) -> None:
        """The Byzantine peer 0 sends one more frame of its own log's entries."""
        c = self.c
        if t + self.flood_period < c.duration:
            self.push(t + self.flood_period, _FLOOD, 0, 0)
        self.relay(0, t, -1, c.frame_ops * c.op_size, False)

    def connect(self, t: float, i: int, node: int) -> None:
        c = self.c
        if t + 1.0 / c.connect_rate < c.duration:
            self.push(t + 1.0 / c.connect_rate, _CONNECT, i, self.rng.randrange(c.peers))
        self.wire[False] += 512  # the handshake's messages
        if "conn-pow" in self.on:
            bits = self.puzzles[node].bits(t)
            if bits:
                # The attacker's hash power is a pool refilling at attacker_hashes per second.
                self.hash_pool = min(
                    c.attacker_hashes, self.hash_pool + (t - self.hashes_at) * c.attacker_hashes
                )
                self.hashes_at = t
                cost = float(1 << bits)
                if self.hash_pool < cost:
                    self.refuse(node, t)  # an unsolved puzzle: refused for one hash
                    return
                self.hash_pool -= cost
            if self.handshakes[node].delay(1, t) != 0.0:
                self.refuse(node, t)  # past the handshake budget: refused, not served
                return
            self.handshakes[node].take(1, t)
        self.puzzles[node].handshake(t)
        self.busy[node] = max(t, self.busy[node]) + c.handshake_cost

    def run(self) -> int:
        handlers: dict[int, Callable[[float, int, int], None]] = {
            _CLIENT: lambda t, a, b: self.client_frame(t, a),
            _RELAY: self.relay_arrival,
            _FLOOD: lambda t, a, b: self.flood(t),
            _CONNECT: self.connect,
            _CLIENT_HELD: self.client_take,
            _RELAY_HELD: self.relay_take,
        }
        end = self.c.duration + self.c.drain
        queue, pop, events = self.queue, heapq.heappop, 0
        relay = self.relay_arrival
        collecting = gc.isenabled()
        gc.disable()  # the loop makes millions of short-lived tuples and no cycles
        try:
            while queue and queue[0][0] <= end:
                t, _, kind, a, b = pop(queue)
                if kind == _RELAY:
                    relay(t, a, b)
                else:
                    handlers[kind](t, a, b)
                events += 1
        finally:
            if collecting:
                gc.enable()
        return events


def run(config: SimConfig) -> SimResult:
    """Run one scenario; deterministic for one ``config`` (its seed included)."""
    began = time.perf_counter()
    swarm = _Swarm(config)
    swarm.populate()
    swarm.start()
    looped = time.perf_counter()
    events = swarm.run()
    done = time.perf_counter()
    wall, loop = done - began, done - looped
    submitted = len(swarm.submitted)
    latencies = np.array(
        [
            d - s
            for s, d, n in zip(swarm.submitted, swarm.done, swarm.reached, strict=True)
            if n == config.peers
        ]
    )
    delivered = len(latencies)
    p50, p99 = (
        (float(np.percentile(latencies, q)) for q in (50, 99)) if delivered else (float("inf"),) * 2
    )
    digest = hashlib.blake2b(digest_size=16)
    digest.update(repr((events, submitted, delivered, sum(map(len, swarm.cut)))).encode())
    digest.update(np.asarray(swarm.done, dtype=np.float64).tobytes())
    for b in (swarm.wire, swarm.relayed, swarm.validated):
        digest.update(repr(b).encode())
    return SimResult(
        config=config,
        honest_ops=submitted,
        honest_delivery=delivered / submitted if submitted else 1.0,
        latency_p50=p50,
        latency_p99=p99,
        wire_share=_share(swarm.wire),
        relayed_share=_share(swarm.relayed),
        validated_share=_share(swarm.validated),
        cut=sum(map(len, swarm.cut)),
        events=events,
        wall=wall,
        loop=loop,
        digest=digest.hexdigest(),
    )

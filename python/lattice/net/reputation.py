"""A node's reputation of the open identities it serves (DESIGN §11): the scores of
:mod:`lattice.sybil.scores`, kept in a file beside the store, and the token buckets of
:mod:`lattice.sybil.budget` their bands buy, charged for every op and record a client
sends. Within budget an op goes through at once; a little over, it is held until its
tokens are back (the client is *slowed*); further over, or graylisted, the connection is
*cut* (:class:`~lattice.errors.OverBudget`) and the reason kept for ``lattice status``.
A refused op counts against its sender's score, a first valid one for it; a graylisted
identity is refused at the handshake. The penalties a replica already counts — entries
refused for admission, fraud proofs that prove nothing, a document's refused ops — are
score inputs too (:meth:`Reputation.follow`), as are proven forks and first deliveries
from peers (:meth:`Reputation.took`) and a guest's refused ops. Under a handshake flood the
node asks new connections for a proof of work (:meth:`Reputation.bits`,
:mod:`lattice.net.connpuzzle`).

>>> rep = Reputation(None, clock=lambda: 0.0)
>>> key = bytes(32)
>>> [rep.charge(key, 100) for _ in range(4)], rep.band(key)  # the burst of a new identity
([0.0, 0.0, 0.0, 0.0], 'new')
>>> rep.charge(key, 100)  # slowed: the next token is half a second away
0.5
>>> for _ in range(20):
...     rep.invalid(key)
>>> rep.charge(key, 100)
Traceback (most recent call last):
...
lattice.errors.OverBudget: graylisted: score -4000.0 (author 0000000000000000…)
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lattice.batch import ReceiveResult
from lattice.errors import OverBudget
from lattice.sybil.budget import BAND_RATES, PEER_BURST_SECONDS, PEER_LINK_SCALE, Budget
from lattice.sybil.puzzle import ConnectionPuzzle
from lattice.sybil.scores import Scores

if TYPE_CHECKING:
    from lattice.net.config import NodeConfig

__all__ = [
    "MAX_BUDGETS",
    "MAX_CUTS",
    "MAX_DELAY",
    "MAX_PEER_HOLD",
    "SAVE_INTERVAL",
    "SCORES_SUFFIX",
    "Reputation",
]

#: Seconds an op may be held for its budget; a longer wait cuts the connection.
MAX_DELAY = 2.0
#: Seconds a throttled registered peer's credit may be held back; a frame that would owe
#: more cuts its link (it was sent beyond the throttled rate, whatever its credit).
MAX_PEER_HOLD = 30.0
#: Identities whose buckets are kept (the least recently charged are forgotten first; a
#: forgotten one starts again from a full bucket of its band, which its score still sets).
MAX_BUDGETS = 4096
#: Cuts remembered for ``lattice status``.
MAX_CUTS = 100
#: Seconds between saves of the score file while the node runs.
SAVE_INTERVAL = 5.0
#: The score file sits beside the store: ``STORE`` + this.
SCORES_SUFFIX = ".scores"


def _rates(band: str, budget: Budget, size: int) -> str:
    count, volume = budget.entries, budget.bytes
    ops = f"{count.rate:g} ops/s" if count else "no ops"
    kib = f"{volume.rate / 1024:g} KiB/s" if volume else "no bytes"
    return f"{band} band: {ops}, {kib}; this one {size} bytes"


class Reputation:
    """Scores (persisted at ``path``, or in memory) and per-identity budgets."""

    def __init__(self, path: Path | None, clock: Callable[[], float] | None = None) -> None:
        self.scores = Scores(path=path)
        # Scores outlive the process, so they decay by the wall clock; buckets and the
        # puzzle run on a clock that never steps back (one clock for both, if given).
        self._clock = time.time if clock is None else clock
        self._tick = time.monotonic if clock is None else clock
        #: Per identity: its budget, and until when its debt from an oversized op is held.
        self._budgets: OrderedDict[bytes, tuple[Budget, float]] = OrderedDict()
        #: The latest cuts: (wall-clock time, identity, reason).
        self.cuts: deque[tuple[float, bytes, str]] = deque(maxlen=MAX_CUTS)
        self.cut_total = 0
        self._penalties: dict[bytes, int] | None = None  # the replica's, as last followed
        # Per throttled registered peer: when its link's next frame is due (peer_hold).
        self._peer_due: dict[bytes, float] = {}
        #: The connection-level proof of work asked under a handshake flood.
        self.puzzle = ConnectionPuzzle()
        self._saved = self._clock()

    @classmethod
    def beside(cls, store: Path | None, penalties: Mapping[bytes, int] | None = None) -> Reputation:
        """The reputation of a node whose store is ``store`` (None: in memory), whose
        replica has counted ``penalties`` so far (they are scored already, if at all)."""
        made = cls(None if store is None else store.with_name(store.name + SCORES_SUFFIX))
        if penalties is not None:
            made.follow(penalties)  # where they stand: what it counts from now on is new
        return made

    @classmethod
    def for_node(cls, config: NodeConfig, penalties: Mapping[bytes, int]) -> Reputation | None:
        """A node's reputation: beside its store if it has an ``[admission]`` policy."""
        return None if config.admission is None else cls.beside(config.store, penalties)

    def band(self, who: bytes) -> str:
        return self.scores.band(who, self._clock())

    def admit(self, who: bytes) -> None:
        """Refuse (:class:`OverBudget`) a connection of a graylisted identity."""
        now = self._clock()
        self._refuse_graylisted(who, now, self.scores.band(who, now))

    def charge(self, who: bytes, size: int, entries: int = 1) -> float:
        """Charge ``who`` for ``entries`` of ``size`` bytes; returns the seconds to hold
        them (0: go), or raises :class:`OverBudget` (the connection is to be cut). The debt
        a single op larger than the byte bucket leaves is repaid by holding what follows,
        never by a cut."""
        now, tick = self._clock(), self._tick()
        band = self.scores.band(who, now)
        self._refuse_graylisted(who, now, band)
        budget, grace = self._budgets.pop(who, (None, 0.0))
        budget = Budget.for_band(band, tick) if budget is None else budget.rebanded(band, tick)
        self._budgets[who] = (budget, grace)
        if len(self._budgets) > MAX_BUDGETS:
            self._budgets.popitem(last=False)
        allowed = MAX_DELAY + max(0.0, grace - tick)
        wait = budget.take(entries, size, tick, allowed)
        if wait is None or wait > allowed:
            self.scores.overrun(who, now)
            raise self._cut(who, f"over budget ({_rates(band, budget, size)})")
        volume = budget.bytes
        if volume is not None and size > volume.capacity and grace <= tick:
            # Its debt is held, not cut, while it is repaid: one such op at a time.
            repay = tick + wait + (size - volume.capacity) / volume.rate
            self._budgets[who] = (budget, repay)
        return wait

    def peer_hold(self, who: bytes, entries: int, size: int) -> float:
        """The seconds to hold back the credit of a frame of ``entries`` entries (``size``
        bytes) from the registered peer ``who`` (the frame itself is taken at once): none
        in a good standing (credit paces it, §7); once its score is throttled (it carries
        invalid wraps, bad fraud proofs …) its link is paced at the throttled band's rate,
        with a burst of :data:`~lattice.sybil.budget.PEER_BURST_SECONDS`; and
        :class:`OverBudget` once graylisted."""
        now, tick = self._clock(), self._tick()
        band = self.scores.band(who, now)
        self._refuse_graylisted(who, now, band, "graylisted peer")
        if band != "throttled":
            self._peer_due.pop(who, None)
            return 0.0
        rate, scale = BAND_RATES["throttled"], PEER_LINK_SCALE
        cost = max(entries / (rate.entries * scale), size / (rate.bytes * scale))
        # The link's virtual clock: each frame is due `cost` after the last one, and a
        # link idle for a while may be ahead of it by the burst at most.
        due = max(self._peer_due.get(who, -math.inf), tick - PEER_BURST_SECONDS) + cost
        if due - tick > MAX_PEER_HOLD:  # refused, so not charged
            self.scores.overrun(who, now)
            raise self._cut(who, f"throttled peer over its link's rate by {due - tick:.0f} s")
        self._peer_due[who] = due
        return max(0.0, due - tick)

    def peer_wait(self, who: bytes) -> float:
        """Seconds before a new link of the registered peer ``who`` may be given credit:
        what its earlier links still owe (a reconnect does not reset its pace)."""
        return max(0.0, self._peer_due.get(who, -math.inf) - self._tick())

    def forked(self, who: bytes) -> None:
        """``who`` is proven to have forked its log (a fraud proof came in)."""
        self.scores.forked(who, self._clock())

    def invalid(self, who: bytes) -> None:
        """``who`` sent an op or record that was refused."""
        self.scores.invalid(who, self._clock())

    def overrun(self, who: bytes) -> None:
        """``who`` ran over what it was given: its budget, or a grid task's deadline."""
        self.scores.overrun(who, self._clock())

    def delivered(self, who: bytes) -> None:
        """``who`` was first to bring a valid op."""
        self.scores.first_delivery(who, self._clock())

    def cut(self, who: bytes, reason: str) -> None:
        """Record that a connection of ``who`` was cut, and why (for ``lattice status``)."""
        self.cuts.append((self._clock(), who, reason))
        self.cut_total += 1

    def took(self, result: ReceiveResult, source: bytes | None, firsts: int) -> None:
        """What a receive from peer ``source`` says: the ``firsts`` entries it was first
        to bring (in its frame and delivered by it, not woken from waiting by it) count for
        it, and a proven fork sends its author to the floor."""
        now = self._clock()
        if source is not None and firsts > 0:
            self.scores.first_delivery(source, now, firsts)
        for proof in result.frauds:
            self.scores.forked(proof.author, now)

    def follow(self, penalties: Mapping[bytes, int]) -> None:
        """Take the penalties a replica counted since the last call as invalid data of
        each peer (DESIGN §11): entries refused for admission, fraud proofs that prove
        nothing, a document's refused ops. The first call only notes where they stand."""
        if self._penalties is None:
            self._penalties = dict(penalties)
            return
        now = self._clock()
        for peer, count in penalties.items():
            new = count - self._penalties.get(peer, 0)
            if new > 0:
                self.scores.invalid(peer, now, new)
                self._penalties[peer] = count

    def bits(self) -> int:
        """The connection puzzle to ask of a new connection now (DESIGN §11: its bits rise
        with the rate of handshakes that got past it; 0 asks nothing)."""
        return self.puzzle.bits(self._tick())

    def puzzle_args(self) -> dict[str, Any]:
        """What an inbound handshake needs of the puzzle (``handshake(**…)``)."""
        return {"puzzle_bits": self.bits(), "solved": self.handshaken}

    def handshaken(self) -> None:
        """A new connection got past the puzzle: the node spends its handshake on it."""
        self.puzzle.handshake(self._tick())

    def _refuse_graylisted(
        self, who: bytes, now: float, band: str, what: str = "graylisted"
    ) -> None:
        if band == "graylisted":
            raise self._cut(who, f"{what}: score {self.scores.score(who, now):.1f}")

    def _cut(self, who: bytes, reason: str) -> OverBudget:
        self.cut(who, reason)
        return OverBudget(reason, author=who)

    def tick(self, penalties: Mapping[bytes, int] | None = None) -> None:
        """A node's timer: follow its replica's ``penalties``, and save the scores if
        :data:`SAVE_INTERVAL` has passed."""
        if penalties is not None:
            self.follow(penalties)
        now = self._clock()
        if now - self._saved >= SAVE_INTERVAL:
            self._saved = now
            self.scores.save()

    def status(self) -> dict[str, object]:
        """What ``lattice status`` shows: identities scored, by band, and the last cuts."""
        now = self._clock()
        bands: dict[str, int] = {}
        for who in self.scores:
            band = self.scores.band(who, now)
            bands[band] = bands.get(band, 0) + 1
        return {
            "puzzle_bits": self.puzzle.bits(self._tick()),  # (it adjusts on being read)
            "scored": len(self.scores),
            "bands": bands,
            "cuts": [
                {"at": round(at, 3), "identity": who.hex(), "reason": reason}
                for at, who, reason in list(self.cuts)[-20:]
            ],
            "cut_total": self.cut_total,
        }

    def close(self, penalties: Mapping[bytes, int] | None = None) -> None:
        """Take the replica's last ``penalties`` into account, and save the scores."""
        if penalties is not None:
            self.follow(penalties)
        self.scores.close()

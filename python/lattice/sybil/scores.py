"""Per-identity scores (DESIGN §11), shaped like gossipsub v1.1's peer score: local to one
node, kept across restarts, never gossiped.

An identity's score is built from counters that decay over time:

- **first deliveries** (gossipsub's P2): each valid entry or op it was first to bring adds
  ``first_weight``, the counter capped at ``first_cap``;
- **invalid data** (P4): each invalid entry, op or frame counts, and the score falls by
  ``invalid_weight`` × count² — quadratically, so a burst of junk sinks an identity fast;
- **budget overruns** (like P7, behaviour): each time it goes over its token bucket,
  ``overrun_weight`` × count²;
- **bad fraud proofs**: ``fraud_weight`` × count;
- a **proven fork** puts it at ``FORK_FLOOR`` for good.

Every ``decay_interval`` seconds of the clock passed in, each counter is multiplied by its
decay (and a counter below ``DECAY_TO_ZERO`` becomes 0). Time is always given (``now``), so
a simulation and a test get exact, repeatable numbers. :meth:`Scores.band` names what the
score buys (:mod:`lattice.sybil.budget` turns a band into token buckets): ``graylisted``
below ``graylist``, ``throttled`` below ``throttle``, ``new`` until ``known_after`` first
deliveries, ``good`` from ``good``, else ``known``.

>>> s = Scores()
>>> s.first_delivery(b"honest", now=0, count=3)
>>> s.score(b"honest", now=0), s.score(b"honest", now=100)  # decays by 0.99 a second
(3.0, 1.098...)
>>> s.invalid(b"junk", now=0, count=3)
>>> s.score(b"junk", now=0), s.band(b"junk", now=0)
(-90.0, 'graylisted')
"""

from __future__ import annotations

import dataclasses
import math
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from lattice.errors import InvalidArgument, StoreError

__all__ = [
    "BANDS",
    "DECAY_TO_ZERO",
    "FORK_FLOOR",
    "MAX_TRACKED",
    "Record",
    "ScoreParams",
    "Scores",
]

#: A decayed counter below this is zero (gossipsub's DecayToZero).
DECAY_TO_ZERO = 0.01
#: The score of an identity whose fork is proven, for good.
FORK_FLOOR = -1e9
#: Identities a node keeps scores of; past it, the oldest neutral ones are forgotten first.
MAX_TRACKED = 200_000
#: The bands, worst first.
BANDS = ("graylisted", "throttled", "new", "known", "good")


@dataclasses.dataclass(frozen=True, slots=True)
class ScoreParams:
    """The weights, caps, decays and thresholds of :class:`Scores` (defaults shown)."""

    first_weight: float = 1.0
    first_cap: float = 100.0
    first_decay: float = 0.99
    invalid_weight: float = 10.0
    invalid_decay: float = 0.999
    overrun_weight: float = 2.0
    overrun_decay: float = 0.99
    fraud_weight: float = 50.0
    fraud_decay: float = 0.999
    decay_interval: float = 1.0
    throttle: float = -10.0
    graylist: float = -80.0
    known_after: float = 10.0
    good: float = 50.0

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise InvalidArgument(f"score parameter {f.name} is a number, not {value!r}")
            if f.name.endswith("_decay") and not 0 < value <= 1:
                raise InvalidArgument(f"score parameter {f.name} is in (0, 1], not {value}")
        if not self.graylist < self.throttle <= 0 < self.decay_interval:
            raise InvalidArgument("score thresholds need graylist < throttle ≤ 0 < decay_interval")


@dataclasses.dataclass(slots=True)
class Record:
    """One identity's counters, as of ``at`` (the clock of its last decay)."""

    first: float = 0.0
    invalid: float = 0.0
    overruns: float = 0.0
    frauds: float = 0.0
    forked: bool = False
    at: float = 0.0
    seen: float = 0.0

    def decay(self, p: ScoreParams, now: float) -> None:
        steps = math.floor((now - self.at) / p.decay_interval)
        if steps <= 0:
            return
        self.at += steps * p.decay_interval
        self.first = _decayed(self.first, p.first_decay, steps)
        self.invalid = _decayed(self.invalid, p.invalid_decay, steps)
        self.overruns = _decayed(self.overruns, p.overrun_decay, steps)
        self.frauds = _decayed(self.frauds, p.fraud_decay, steps)

    def score(self, p: ScoreParams) -> float:
        if self.forked:
            return FORK_FLOOR
        return (
            p.first_weight * min(self.first, p.first_cap)
            - p.invalid_weight * self.invalid**2
            - p.overrun_weight * self.overruns**2
            - p.fraud_weight * self.frauds
        )


def _decayed(value: float, decay: float, steps: int) -> float:
    if value == 0.0:
        return 0.0
    value *= decay**steps
    return 0.0 if value < DECAY_TO_ZERO else value


_SCHEMA = """
CREATE TABLE IF NOT EXISTS scores (
    identity BLOB PRIMARY KEY,
    first    REAL NOT NULL,
    invalid  REAL NOT NULL,
    overruns REAL NOT NULL,
    frauds   REAL NOT NULL,
    forked   INTEGER NOT NULL,
    at       REAL NOT NULL,
    seen     REAL NOT NULL
) STRICT"""


class Scores:
    """The scores one node keeps, by identity key; in memory, or in the SQLite file
    ``path`` with :meth:`save` (a node saves on a timer and on closing)."""

    def __init__(
        self,
        params: ScoreParams | None = None,
        path: str | Path | None = None,
        max_tracked: int = MAX_TRACKED,
    ) -> None:
        self.params = ScoreParams() if params is None else params
        self.max_tracked = max_tracked
        self._records: dict[bytes, Record] = {}
        self._dirty: set[bytes] = set()
        self._conn: sqlite3.Connection | None = None
        if path is not None:
            try:
                self._conn = sqlite3.connect(path, isolation_level=None)
                self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.execute(_SCHEMA)
                for identity, *fields in self._conn.execute("SELECT * FROM scores"):
                    first, invalid, overruns, frauds, forked, at, seen = fields
                    self._records[bytes(identity)] = Record(
                        first, invalid, overruns, frauds, bool(forked), at, seen
                    )
            except sqlite3.Error as exc:
                raise StoreError(f"cannot open the score file {path}: {exc}") from exc

    # --- inputs ------------------------------------------------------------------------

    def _at(self, identity: bytes, now: float) -> Record:
        record = self._records.get(identity)
        if record is None:
            if len(self._records) >= self.max_tracked:
                self._forget_one()
            record = self._records[identity] = Record(at=now, seen=now)
        if now - record.at >= self.params.decay_interval:
            record.decay(self.params, now)
        if now > record.seen:
            record.seen = now
        self._dirty.add(identity)
        return record

    def first_delivery(self, identity: bytes, now: float, count: int = 1) -> None:
        """``identity`` was first to bring ``count`` valid entries or ops."""
        self._at(identity, now).first += count

    def invalid(self, identity: bytes, now: float, count: int = 1) -> None:
        """``identity`` sent ``count`` invalid entries, ops or frames."""
        self._at(identity, now).invalid += count

    def overrun(self, identity: bytes, now: float, count: int = 1) -> None:
        """``identity`` went over its budget ``count`` times."""
        self._at(identity, now).overruns += count

    def bad_fraud_proof(self, identity: bytes, now: float, count: int = 1) -> None:
        """``identity`` sent ``count`` fraud proofs that prove nothing."""
        self._at(identity, now).frauds += count

    def forked(self, identity: bytes, now: float) -> None:
        """``identity``'s fork is proven: the floor, for good."""
        self._at(identity, now).forked = True

    # --- reading -----------------------------------------------------------------------

    def score(self, identity: bytes, now: float) -> float:
        """The score of ``identity`` at ``now`` (0 for one never seen)."""
        record = self._records.get(identity)
        if record is None:
            return 0.0
        record.decay(self.params, now)
        return record.score(self.params)

    def band(self, identity: bytes, now: float) -> str:
        """What the score buys: one of :data:`BANDS`."""
        p, score = self.params, self.score(identity, now)
        if score < p.graylist:
            return "graylisted"
        if score < p.throttle:
            return "throttled"
        if score >= p.good:
            return "good"
        record = self._records.get(identity)
        return "known" if record is not None and record.first >= p.known_after else "new"

    def record(self, identity: bytes) -> Record | None:
        """The counters of ``identity`` as last decayed (None if never seen)."""
        return self._records.get(identity)

    def __len__(self) -> int:
        return len(self._records)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._records)

    def _forget_one(self) -> None:
        """Make room (a tenth of the table at once, so a flood of new keys costs little):
        forget the scores nearest zero first, whatever their sign (the oldest first among
        equals), and graylisted and forked ones last — so a flood of new or mildly
        penalised keys evicts neither an earned reputation nor a score bad enough to
        graylist (which it would wash away)."""
        p = self.params
        ranked = sorted(
            (r.forked, score < p.graylist, abs(score), r.seen, k)
            for k, r in self._records.items()
            for score in (r.score(p),)
        )
        gone = [key for *_, key in ranked[: max(1, self.max_tracked // 10)]]
        for key in gone:
            del self._records[key]
            self._dirty.discard(key)
        if self._conn is not None:
            try:
                with self._conn:
                    self._conn.execute("BEGIN")
                    self._conn.executemany(
                        "DELETE FROM scores WHERE identity = ?", [(k,) for k in gone]
                    )
            except sqlite3.Error as exc:
                raise StoreError(f"cannot forget scores: {exc}") from exc

    # --- persistence -------------------------------------------------------------------

    def save(self) -> int:
        """Write what changed since the last save, in one transaction; returns the count."""
        if self._conn is None or not self._dirty:
            return 0
        rows = []
        for key in self._dirty:
            r = self._records[key]
            rows.append(
                (key, r.first, r.invalid, r.overruns, r.frauds, int(r.forked), r.at, r.seen)
            )
        try:
            with self._conn:
                self._conn.execute("BEGIN")
                self._conn.executemany(
                    "INSERT OR REPLACE INTO scores VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows
                )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot save scores: {exc}") from exc
        self._dirty.clear()
        return len(rows)

    def close(self) -> None:
        """Save and close the file."""
        if self._conn is not None:
            self.save()
            self._conn.close()
            self._conn = None

"""Scores and budgets of DESIGN §11 (issue 15): exact numbers on a scripted sequence of
events, the bands they give, the buckets those bands buy, and persistence across a restart."""

from __future__ import annotations

from pathlib import Path

import pytest

from lattice.errors import InvalidArgument
from lattice.sybil.budget import BAND_RATES, Budget, TokenBucket
from lattice.sybil.scores import FORK_FLOOR, ScoreParams, Scores

A, B, C = b"a" * 32, b"b" * 32, b"c" * 32


def scripted(scores: Scores) -> None:
    """A's 120 first deliveries (capped at 100), one invalid entry, two overruns; B's junk;
    C's bad fraud proof, then its fork."""
    scores.first_delivery(A, now=0.0, count=120)
    scores.invalid(A, now=1.0)
    scores.overrun(A, now=1.5, count=2)
    scores.invalid(B, now=0.0, count=2)
    scores.bad_fraud_proof(C, now=0.0)


def test_a_scripted_sequence_gives_exact_scores() -> None:
    s = Scores()
    scripted(s)
    # At t = 1.5: one decay step since 0 (first: 120 × 0.99 = 118.8, capped at 100).
    assert s.score(A, now=1.5) == pytest.approx(100 - 10 * 1**2 - 2 * 2**2)  # 82
    assert s.band(A, now=1.5) == "good"
    assert s.score(B, now=0.0) == -40.0 and s.band(B, now=0.0) == "throttled"
    s.invalid(B, now=0.0)
    assert s.score(B, now=0.0) == -90.0 and s.band(B, now=0.0) == "graylisted"  # quadratic
    assert s.score(C, now=0.0) == -50.0 and s.band(C, now=0.0) == "throttled"
    s.forked(C, now=0.0)
    assert s.score(C, now=10**6) == FORK_FLOOR and s.band(C, now=10**6) == "graylisted"
    # 100 s on: A's counters decayed by 0.99¹⁰⁰ (first, overruns) and 0.999¹⁰⁰ (invalid).
    r = s.record(A)
    assert r is not None
    first = 120 * 0.99 * 0.99**100  # the step at 1.0 was taken already, then 100 more
    expected = min(first, 100) - 10 * (0.999**100) ** 2 - 2 * (2 * 0.99**100) ** 2
    assert s.score(A, now=101.5) == pytest.approx(expected)
    assert r.first == pytest.approx(first) and r.at == 101.0
    # An identity never seen is 0 and new.
    assert s.score(b"n" * 32, now=5.0) == 0.0 and s.band(b"n" * 32, now=5.0) == "new"


def test_counters_decay_to_zero_and_bands_follow() -> None:
    s = Scores(ScoreParams(invalid_decay=0.5))
    s.invalid(B, now=0.0, count=3)  # -90
    assert s.band(B, now=0.0) == "graylisted"
    assert s.score(B, now=1.0) == pytest.approx(-10 * 1.5**2)  # one step: -22.5
    assert s.band(B, now=1.0) == "throttled"
    assert s.score(B, now=2.0) == pytest.approx(-10 * 0.75**2) and s.band(B, now=2.0) == "new"
    assert s.score(B, now=20.0) == 0.0  # 3 × 0.5¹⁹ < 0.01: zero
    s.first_delivery(A, now=0.0, count=10)
    assert s.band(A, now=0.0) == "known"


def test_params_are_checked() -> None:
    with pytest.raises(InvalidArgument):
        ScoreParams(first_decay=1.5)
    with pytest.raises(InvalidArgument):
        ScoreParams(graylist=0.0, throttle=-10.0)


def test_scores_persist_across_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "scores.db"
    s = Scores(path=path)
    scripted(s)
    s.forked(C, now=2.0)
    assert s.save() == 3
    before = {k: s.score(k, now=50.0) for k in (A, B, C)}
    s.close()
    again = Scores(path=path)
    assert len(again) == 3
    assert {k: again.score(k, now=50.0) for k in (A, B, C)} == before
    again.invalid(A, now=60.0)
    again.close()
    third = Scores(path=path)
    assert third.record(A).invalid == pytest.approx(1 * 0.999**59 + 1)  # type: ignore[union-attr]
    third.close()


def test_a_flood_of_new_keys_does_not_wash_a_bad_score_away() -> None:
    s = Scores(max_tracked=100)
    s.invalid(B, now=0.0, count=3)
    for i in range(500):
        s.first_delivery(i.to_bytes(32, "big"), now=1.0)
    assert len(s) <= 100 and s.score(B, now=1.0) < -80


def test_a_flood_of_new_keys_does_not_evict_an_earned_reputation(tmp_path: Path) -> None:
    s = Scores(max_tracked=100, path=tmp_path / "s.db")
    s.first_delivery(A, now=0.0, count=50)  # an honest client, seen long ago
    s.save()
    for i in range(500):  # earning a little, or refused once (a score of -10)
        key = i.to_bytes(32, "big")
        (s.first_delivery if i % 2 else s.invalid)(key, now=1.0 + i)
    s.save()
    assert len(s) <= 100 and s.record(A) is not None  # the oldest, but the best earned
    s.close()
    again = Scores(path=tmp_path / "s.db")  # the forgotten rows were deleted on disk too
    assert len(again) <= 100 and again.record(A) is not None
    again.close()


def test_buckets_give_exact_delays() -> None:
    bucket = TokenBucket(rate=10.0, now=0.0, burst=2.0)  # 20 tokens
    assert bucket.delay(20, now=0.0) == 0.0 and bucket.delay(21, now=0.0) is None
    bucket.take(20, now=0.0)
    assert bucket.delay(5, now=0.0) == 0.5
    assert bucket.delay(5, now=0.25) == 0.25  # 2.5 tokens back
    bucket.take(5, now=0.25)  # a debt of 2.5
    assert bucket.delay(1, now=0.25) == pytest.approx(0.35)
    assert bucket.delay(20, now=100.0) == 0.0  # full again, never above capacity
    assert bucket.tokens == 20.0


def test_budgets_by_band() -> None:
    new = Budget.for_band("new", now=0.0)  # 2 entries/s, 16 KiB/s, 2 s of burst
    assert [new.take(1, 1000, now=0.0) for _ in range(5)] == [0.0, 0.0, 0.0, 0.0, 0.5]
    # A frame bigger than the byte bucket (32 KiB) is due once it is full, leaving a debt.
    assert new.take(1, 40 * 1024, now=10.0) == 0.0
    assert new.take(1, 1024, now=10.0) == pytest.approx((8 + 1) * 1024 / (16 * 1024))
    # A wait the caller will not accept costs nothing: the next frame waits no longer.
    assert new.take(1, 1024, now=10.0, max_wait=0.1) == pytest.approx(10 / 16)
    assert new.take(1, 1024, now=10.0, max_wait=0.1) == pytest.approx(10 / 16)
    # A throttled registered peer's link holds half an entry: paced, never cut.
    peer = Budget.for_peer("throttled", now=0.0)
    assert peer.take(1, 100, now=0.0) == 0.0 and peer.take(1, 100, now=0.0) == 1.0
    assert Budget.for_band("graylisted", now=0.0).take(1, 1, now=0.0) is None
    good = new.rebanded("good", now=0.0)
    assert good.band == "good" and good.take(100, 1000, now=0.0) > 0  # the debt carried
    assert good.take(1, 1, now=5.0) == 0.0
    assert BAND_RATES["good"].entries > BAND_RATES["known"].entries > BAND_RATES["new"].entries
    with pytest.raises(InvalidArgument):
        Budget.for_band("royal", now=0.0)

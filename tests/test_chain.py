"""Chain-segment validation (DESIGN §3, docs/format.md "Chain segment").

Chains are built with the reference; ``validate_chain`` must accept them in both input forms
(a list of entries, one concatenated buffer), with and without signatures, and with ``prior``
for segments that start later. Each kind of break is reported at the right index with the right
error class, and ``ids`` is exactly the valid prefix. A property test checks that Rust and
``reference.validate_chain`` agree on random segments with one random corruption.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import reference as ref
from lattice import _lattice as L
from lattice import errors

SEED = bytes(range(1, 33))
OTHER_SEED = bytes(range(33, 65))
SWARM = bytes([0x5A]) * 32
OTHER_SWARM = bytes([0xA5]) * 32
LENGTH = 30


def _chain(n: int = LENGTH, payload: bytes = b"") -> list[ref.RefEntry]:
    return ref.build_chain(SEED, n, swarm=SWARM, payload=payload)


def _encoded(entries: Sequence[ref.RefEntry]) -> list[bytes]:
    return [e.encode() for e in entries]


def _forms(encoded: list[bytes]) -> dict[str, Any]:
    return {"list": encoded, "buffer": b"".join(encoded)}


def _resign(e: ref.RefEntry, seed: bytes = SEED, **changes: Any) -> bytes:
    """Entry ``e`` with some fields changed, signed again (so only the change is wrong)."""
    fields: dict[str, Any] = {
        "swarm": e.swarm,
        "seq": e.seq,
        "lamport": e.lamport,
        "prev": e.prev if e.seq > 1 else None,
        "lipmaa": e.lipmaa if e.lipmaa != ref.ZERO_ID else None,
        "deps": list(e.deps),
        "payload": e.payload,
        "kind": e.kind,
        "frontier_root": e.frontier_root if e.frontier_root != ref.ZERO_ID else None,
    }
    fields.update(changes)
    return ref.sign_entry(seed, **fields).encode()


def _check_ok(report: L.ChainReport, entries: Sequence[ref.RefEntry]) -> None:
    assert report.ok
    assert report.ids == [e.id for e in entries]
    assert report.failure_index is None
    assert report.failure_seq is None
    assert report.error is None
    assert report.reason is None
    report.raise_for_failure()


@pytest.mark.parametrize("verify", [False, True])
@pytest.mark.parametrize("form", ["list", "buffer"])
def test_valid_chain(form: str, verify: bool) -> None:
    chain = _chain(payload=b"data")
    entries = _forms(_encoded(chain))[form]
    _check_ok(L.validate_chain(entries, verify_signatures=verify), chain)
    _check_ok(L.validate_chain(entries, author=chain[0].author, swarm=SWARM), chain)
    assert ref.validate_chain(entries, verify_signatures=verify) == (
        True,
        [e.id for e in chain],
        None,
    )


def test_buffer_like_inputs() -> None:
    chain = _chain(5)
    buf = b"".join(_encoded(chain))
    _check_ok(L.validate_chain(bytearray(buf)), chain)
    _check_ok(L.validate_chain(memoryview(buf)), chain)
    _check_ok(L.validate_chain([memoryview(e.encode()) for e in chain]), chain)


def test_empty_segment() -> None:
    empty: list[Any] = [[], b""]
    for entries in empty:
        report = L.validate_chain(entries)
        assert report.ok and report.ids == [] and report.failure_index is None


@pytest.mark.parametrize("form", ["list", "buffer"])
@pytest.mark.parametrize("start", [2, 4, 13, 14, 27])
def test_segment_with_prior(form: str, start: int) -> None:
    chain = _chain()
    prior = {e.seq: e.id for e in chain[: start - 1]}
    segment = chain[start - 1 :]
    entries = _forms(_encoded(segment))[form]
    _check_ok(L.validate_chain(entries, prior=prior, verify_signatures=True), segment)
    assert ref.validate_chain(entries, prior=prior)[0]

    # Without prior the first link cannot be checked; with a wrong prior it is broken.
    report = L.validate_chain(entries)
    assert not report.ok and report.failure_index == 0 and report.ids == []
    assert isinstance(report.error, errors.BrokenChain)
    wrong = {**prior, start - 1: bytes(32)}
    report = L.validate_chain(entries, prior=wrong)
    assert report.failure_index == 0 and isinstance(report.error, errors.BrokenPrev)


# ---- each kind of break, at several positions, in both forms --------------------------------

Corrupt = Callable[[list[ref.RefEntry], list[bytes], int], list[bytes]]


def _wrong_prev(chain: list[ref.RefEntry], enc: list[bytes], k: int) -> list[bytes]:
    return [*enc[:k], _resign(chain[k], prev=bytes([0xEE]) * 32), *enc[k + 1 :]]


def _wrong_lipmaa(chain: list[ref.RefEntry], enc: list[bytes], k: int) -> list[bytes]:
    assert chain[k].lipmaa != ref.ZERO_ID, "pick a seq whose lipmaa link is not prev"
    return [*enc[:k], _resign(chain[k], lipmaa=bytes([0xEE]) * 32), *enc[k + 1 :]]


def _seq_gap(chain: list[ref.RefEntry], enc: list[bytes], k: int) -> list[bytes]:
    return [*enc[:k], *enc[k + 1 :]]


def _other_author(chain: list[ref.RefEntry], enc: list[bytes], k: int) -> list[bytes]:
    return [*enc[:k], _resign(chain[k], seed=OTHER_SEED), *enc[k + 1 :]]


def _other_swarm(chain: list[ref.RefEntry], enc: list[bytes], k: int) -> list[bytes]:
    return [*enc[:k], _resign(chain[k], swarm=OTHER_SWARM), *enc[k + 1 :]]


def _lamport_not_increasing(chain: list[ref.RefEntry], enc: list[bytes], k: int) -> list[bytes]:
    # Still >= seq (valid on its own), but not above the previous entry's lamport.
    return [*enc[:k], _resign(chain[k], lamport=chain[k - 1].lamport), *enc[k + 1 :]]


def _bad_signature(chain: list[ref.RefEntry], enc: list[bytes], k: int) -> list[bytes]:
    bad = bytearray(enc[k])
    bad[ref.HEADER_LEN + 40] ^= 0x01  # inside s: the id is unchanged, the signature is not
    return [*enc[:k], bytes(bad), *enc[k + 1 :]]


def _undecodable(chain: list[ref.RefEntry], enc: list[bytes], k: int) -> list[bytes]:
    bad = bytearray(enc[k])
    bad[0] = 2  # version 2; the length is unchanged, so the buffer form still splits right
    return [*enc[:k], bytes(bad), *enc[k + 1 :]]


BREAKS: dict[str, tuple[Corrupt, type[Exception], bool]] = {
    "wrong prev": (_wrong_prev, errors.BrokenPrev, False),
    "wrong lipmaa": (_wrong_lipmaa, errors.BrokenLipmaa, False),
    "seq gap": (_seq_gap, errors.SeqGap, False),
    "other author": (_other_author, errors.WrongAuthor, False),
    "other swarm": (_other_swarm, errors.WrongSwarm, False),
    "lamport not increasing": (_lamport_not_increasing, errors.LamportNotIncreasing, False),
    "bad signature": (_bad_signature, errors.InvalidSignature, True),
    "undecodable": (_undecodable, errors.UnknownVersion, False),
}
"""name -> (corruption, expected error class, needs verify_signatures)."""

POSITIONS = [1, 3, 12, 25]
"""Indexes of the broken entry: seqs 2, 4, 13, 26 (4, 13 and 26 have a lipmaa link)."""


@pytest.mark.parametrize("form", ["list", "buffer"])
@pytest.mark.parametrize("k", POSITIONS)
@pytest.mark.parametrize("name", sorted(BREAKS))
def test_break_is_located(name: str, k: int, form: str) -> None:
    corrupt, cls, needs_signatures = BREAKS[name]
    chain = _chain()
    if name == "wrong lipmaa" and chain[k].lipmaa == ref.ZERO_ID:
        k = next(i for i in range(k, LENGTH) if chain[i].lipmaa != ref.ZERO_ID)
    entries = _forms(corrupt(chain, _encoded(chain), k))[form]

    report = L.validate_chain(entries, verify_signatures=True)
    assert not report.ok
    assert report.failure_index == k
    assert report.ids == [e.id for e in chain[:k]]
    assert isinstance(report.error, cls), repr(report.error)
    assert isinstance(report.error, errors.LatticeError)
    assert getattr(report.error, "index", k) == k
    assert report.reason
    if name != "seq gap":
        assert report.failure_seq == k + 1
    with pytest.raises(cls):
        report.raise_for_failure()

    result = ref.validate_chain_result(entries, verify_signatures=True)
    assert (result.ok, result.ids, result.failure_index) == (False, report.ids, k)
    assert result.reason == cls.__name__

    if needs_signatures:  # structurally fine: only signature checking finds it
        _check_ok(L.validate_chain(entries, verify_signatures=False), chain)


def test_break_at_first_entry() -> None:
    chain = _chain(5)
    enc = _encoded(chain)
    for author, swarm, cls in (
        (ref.public_key(OTHER_SEED), None, errors.WrongAuthor),
        (None, OTHER_SWARM, errors.WrongSwarm),
    ):
        report = L.validate_chain(enc, author=author, swarm=swarm)
        assert report.failure_index == 0 and report.ids == []
        assert isinstance(report.error, cls)
        r = ref.validate_chain(enc, author=author, swarm=swarm)
        assert r == (False, [], 0)

    bad = _bad_signature(chain, enc, 0)
    report = L.validate_chain(bad, verify_signatures=True)
    assert report.failure_index == 0 and isinstance(report.error, errors.InvalidSignature)


def test_truncated_last_entry() -> None:
    chain = _chain(6)
    enc = _encoded(chain)
    for entries in ([*enc[:-1], enc[-1][:-1]], b"".join(enc)[:-1]):
        report = L.validate_chain(entries)
        assert report.failure_index == 5 and report.ids == [e.id for e in chain[:5]]
        assert isinstance(report.error, errors.DecodeError)
        assert ref.validate_chain(entries) == (False, report.ids, 5)


# ---- agreement with the reference on random corruptions -------------------------------------


@st.composite
def corrupted_segments(draw: st.DrawFn) -> tuple[Any, dict[int, bytes], bool]:
    """A segment of a reference chain (list or buffer), its prior, and verify_signatures."""
    n = draw(st.integers(1, 24), label="length")
    payload = draw(st.sampled_from([b"", b"p", b"payload bytes"]), label="payload")
    chain = ref.build_chain(SEED, n, swarm=SWARM, payload=payload)
    start = draw(st.integers(1, n), label="first seq")
    prior = {e.seq: e.id for e in chain[: start - 1]}
    segment = [e.encode() for e in chain[start - 1 :]]
    m = len(segment)
    how = draw(
        st.sampled_from(
            ["none", "flip", "drop", "swap", "duplicate", "foreign", "truncate", "resign"]
        ),
        label="corruption",
    )
    k = draw(st.integers(0, m - 1), label="index")
    if how == "flip":
        pos = draw(st.integers(0, len(segment[k]) - 1), label="byte")
        bad = bytearray(segment[k])
        bad[pos] ^= draw(st.integers(1, 255), label="xor")
        segment[k] = bytes(bad)
    elif how == "drop":
        del segment[k]
    elif how == "swap" and k + 1 < m:
        segment[k], segment[k + 1] = segment[k + 1], segment[k]
    elif how == "duplicate":
        segment.insert(k, segment[k])
    elif how == "foreign":
        segment[k] = ref.build_chain(OTHER_SEED, k + start, swarm=SWARM)[-1].encode()
    elif how == "truncate":
        segment[k] = segment[k][: draw(st.integers(0, len(segment[k]) - 1), label="cut")]
    elif how == "resign":
        e = chain[start - 1 + k]
        field = draw(st.sampled_from(["lamport", "prev", "lipmaa", "swarm"]), label="field")
        changes: dict[str, dict[str, Any]] = {
            "lamport": {"lamport": e.seq},
            "prev": {"prev": bytes([1]) * 32 if e.seq > 1 else None},
            "lipmaa": {"lipmaa": bytes([1]) * 32 if e.lipmaa != ref.ZERO_ID else None},
            "swarm": {"swarm": OTHER_SWARM},
        }
        change = changes[field]
        segment[k] = _resign(e, **change)
    form = draw(st.sampled_from(["list", "buffer"]), label="form")
    entries: Any = segment if form == "list" else b"".join(segment)
    return entries, prior, draw(st.booleans(), label="verify_signatures")


CHAIN_REASONS = frozenset(
    {
        "WrongAuthor",
        "WrongSwarm",
        "SeqGap",
        "LamportNotIncreasing",
        "BrokenPrev",
        "BrokenLipmaa",
        "InvalidSignature",
    }
)


@given(case=corrupted_segments())
def test_agrees_with_reference(case: tuple[Any, dict[int, bytes], bool]) -> None:
    entries, prior, verify = case
    report = L.validate_chain(entries, prior=prior, verify_signatures=verify)
    want = ref.validate_chain_result(entries, prior=prior, verify_signatures=verify)
    assert (report.ok, report.ids, report.failure_index) == (want.ok, want.ids, want.failure_index)
    if not report.ok:
        assert isinstance(report.error, errors.LatticeError)
        if want.reason in CHAIN_REASONS:
            # Both follow the order of docs/format.md: author, swarm, seq, lamport, prev,
            # lipmaa, signature. (Which rule a garbled entry breaks first is not specified.)
            assert type(report.error).__name__ == want.reason, (report.error, want.reason)
        elif want.reason != "UnresolvedLink":
            assert isinstance(report.error, errors.DecodeError), (report.error, want.reason)

"""Replay every shared Ed25519 vector through lattice's verification (DESIGN §2).

Peers must agree on signature validity bit for bit, so this module checks, for every case of
every file under ``shared/vectors/ed25519/``:

* the Rust verdict (``verify`` and ``verify_batch``, on 1 and 2 threads, in chunks, and with a
  bad signature at every position of a batch of good ones) equals the ZIP-215 verdict computed
  independently in pure Python by :mod:`zip215`;
* where ZIP-215 differs from what the file itself expects, the case is listed, with a reason,
  in that file's disagreement table below, and the set of disagreeing cases is *exactly* that
  table. A new disagreement, or a documented one that disappears, fails the test.

It also checks key admission (``check_public_key``) on every small-order, non-point, prime-order
and mixed-order encoding the vectors contain, and the typed errors of ``verify_batch`` on
malformed input.

Case ids are stable and readable: ``line<n>`` (1-based line of ``TESTVECTORS``), ``tc<n>``
(Wycheproof ``tcId``), ``n<n>`` (CCTV ``number``), ``case<n>`` (0-based speccheck index, as in
its README).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import pytest

import zip215
from lattice import _lattice as native
from lattice.errors import DecodeError, InvalidKey, LatticeError
from vectors import load_json, load_lines

PUBLIC_KEY_LEN: Final = 32
SIGNATURE_LEN: Final = 64
BATCH_CHUNK: Final = 128
"""Items per ``verify_batch`` call when replaying a whole file: big enough for the batch
equation to matter, small enough that a failing chunk's per-item fallback stays cheap."""
MIXED_GOODS: Final = 16
"""Good signatures around each bad one in the mixed-batch test."""
MIXED_BAD_PER_FILE: Final = MIXED_GOODS + 1
"""Bad cases per file, spread over the file, that the mixed-batch test places one per position
(so each of the 17 positions gets one). Every bad case also meets goods in the chunked replay;
this cap keeps the test fast in a debug build, where a failing batch re-verifies every item."""
THREAD_COUNTS: Final = (1, 2)
"""``verify_batch`` thread settings for the full replay; the default (``None``: all cores) is
used by :func:`test_batch_of_accepted_cases_is_all_true`."""


@dataclass(frozen=True)
class Case:
    """One signature-verification case of a vector file."""

    case_id: str
    public_key: bytes
    message: bytes
    signature: bytes
    expected: bool
    """What the file itself says (see each loader for how that is derived)."""
    note: str
    """The file's own description: flags, comment."""

    @property
    def well_formed(self) -> bool:
        """True when key and signature have the sizes ``verify_batch`` accepts."""
        return len(self.public_key) == PUBLIC_KEY_LEN and len(self.signature) == SIGNATURE_LEN


# --- loaders -----------------------------------------------------------------------------------


def _load_dalek_testvectors() -> list[Case]:
    """RFC 8032 / SUPERCOP ``sign.input``: ``sk||pk : pk : msg : sig||msg :`` per line.

    Every line is a valid signature, so the expectation is True throughout.
    """
    cases = []
    for number, line in enumerate(load_lines("ed25519/dalek/TESTVECTORS"), start=1):
        secret_and_public, public, message, signed, _ = line.split(":")
        public_key = bytes.fromhex(public)
        message_bytes = bytes.fromhex(message)
        signed_bytes = bytes.fromhex(signed)
        assert bytes.fromhex(secret_and_public)[32:] == public_key, f"line {number}: pk"
        assert signed_bytes[SIGNATURE_LEN:] == message_bytes, f"line {number}: sig||msg"
        cases.append(
            Case(
                f"line{number}",
                public_key,
                message_bytes,
                signed_bytes[:SIGNATURE_LEN],
                expected=True,
                note="RFC 8032 / SUPERCOP sign.input",
            )
        )
    return cases


def _load_wycheproof(relpath: str) -> list[Case]:
    """Wycheproof EdDSA verify groups; the expectation is ``result == "valid"``.

    Both schema generations are read: ``publicKey.pk`` (v1) and ``key.pk`` (the older file).
    """
    data = load_json(relpath)
    cases = []
    for group in data["testGroups"]:
        key_info = group.get("publicKey") or group["key"]
        public_key = bytes.fromhex(key_info["pk"])
        for test in group["tests"]:
            result = test["result"]
            assert result in ("valid", "invalid"), f"tc{test['tcId']}: result {result!r}"
            cases.append(
                Case(
                    f"tc{test['tcId']}",
                    public_key,
                    bytes.fromhex(test["msg"]),
                    bytes.fromhex(test["sig"]),
                    expected=result == "valid",
                    note=f"{test['flags']} {test['comment']}".strip(),
                )
            )
    assert len(cases) == data["numberOfTests"], f"{relpath}: numberOfTests"
    return cases


def _load_cctv_format(relpath: str) -> list[Case]:
    """CCTV ``ed25519vectors.json`` (also the format of dalek's ``VALIDATIONVECTORS``).

    The file has flags but no verdicts. Its README states "ZIP215 rules require accepting all
    vectors", so that is the expectation; :data:`CCTV_DISAGREEMENTS` lists where the actual
    ZIP-215 rules say otherwise. ``msg`` is plain text.
    """
    cases = []
    for vector in load_json(relpath):
        cases.append(
            Case(
                f"n{vector['number']}",
                bytes.fromhex(vector["key"]),
                vector["msg"].encode(),
                bytes.fromhex(vector["sig"]),
                expected=True,
                note=" ".join(vector["flags"] or ()),
            )
        )
    return cases


@dataclass(frozen=True)
class SpeccheckRow:
    """One row of the condition table in ed25519-speccheck's README (at the vendored commit)."""

    s_range: str
    a_order: str
    r_order: str
    cofactored: bool
    cofactorless: bool
    comment: str


SPECCHECK_TABLE: Final = (
    SpeccheckRow("S = 0", "small", "small", True, True, "small A and R"),
    SpeccheckRow("0 < S < L", "small", "mixed", True, True, "small A only"),
    SpeccheckRow("0 < S < L", "mixed", "small", True, True, "small R only"),
    SpeccheckRow("0 < S < L", "mixed", "mixed", True, True, "succeeds unless full-order checked"),
    SpeccheckRow("0 < S < L", "mixed", "mixed", True, False, "cofactored passes, cofactorless not"),
    SpeccheckRow("0 < S < L", "mixed", "L", True, False, "fails cofactored iff (8h) prereduced"),
    SpeccheckRow("S > L", "L", "L", True, True, "S out of bounds"),
    SpeccheckRow("S >> L", "L", "L", True, True, "S out of bounds"),
    SpeccheckRow("0 < S < L", "mixed", "small*", True, True, "non-canonical R, reduced for hash"),
    SpeccheckRow("0 < S < L", "mixed", "small*", True, True, "non-canonical R, not reduced"),
    SpeccheckRow("0 < S < L", "small*", "mixed", True, True, "non-canonical A, reduced for hash"),
    SpeccheckRow("0 < S < L", "small*", "mixed", True, True, "non-canonical A, not reduced"),
)
"""Which rule each speccheck case exercises and the verdicts the README gives it under the
cofactored and cofactorless equations ("small*": a non-canonical encoding of a small-order
point; "mixed": a torsion component and a prime-order one; "L": prime order)."""

SPECCHECK_ZEBRA_ROW: Final = "VVVVVVXXXVVV"
"""The README's results row for Zebra (``ed25519-zebra``, the ZIP-215 crate lattice uses)."""


def _load_speccheck() -> list[Case]:
    """ed25519-speccheck ``cases.json``; the expectation is the README's cofactored column.

    ZIP-215 is a cofactored rule, so that column is the file's own prediction for it.
    """
    raw = load_json("ed25519/speccheck/cases.json")
    assert len(raw) == len(SPECCHECK_TABLE), "speccheck: case count changed"
    return [
        Case(
            f"case{index}",
            bytes.fromhex(item["pub_key"]),
            bytes.fromhex(item["message"]),
            bytes.fromhex(item["signature"]),
            expected=row.cofactored,
            note=f"{row.s_range}, A {row.a_order}, R {row.r_order}: {row.comment}",
        )
        for index, (item, row) in enumerate(zip(raw, SPECCHECK_TABLE, strict=True))
    ]


# --- documented disagreements between ZIP-215 and each file's expectation ---------------------

_REENCODED_K_R: Final = (
    "reencoded_k with non_canonical_R: the signer computed k over the canonical re-encoding "
    "of R, ZIP-215 hashes the original R bytes, and A has a prime-order component, so [8][k]A "
    "changes with k and the cofactored equation fails (CCTV README: 'No known validators "
    "re-encode k'; its 'ZIP215 accepts all vectors' does not hold for these)"
)

CCTV_DISAGREEMENTS: Final[Mapping[str, str]] = dict.fromkeys(
    (
        *("n18", "n19", "n40", "n41", "n62", "n63", "n68", "n69", "n74", "n75"),
        *("n128", "n129", "n150", "n151", "n172", "n173", "n194", "n195", "n200", "n201"),
        *("n206", "n207", "n260", "n261", "n279", "n298", "n317", "n320", "n323", "n400"),
        *("n416", "n417", "n430", "n431", "n444", "n445", "n450", "n451", "n456", "n457"),
        *("n502", "n503", "n516", "n517", "n530", "n531", "n544", "n545", "n550", "n551"),
        *("n556", "n557", "n602", "n603", "n616", "n617", "n630", "n631", "n644", "n645"),
        *("n650", "n651", "n656", "n657", "n702", "n703", "n716", "n717", "n730", "n731"),
        *("n744", "n745", "n750", "n751", "n756", "n757", "n802", "n803", "n813", "n824"),
        *("n844", "n845", "n850", "n851", "n856", "n857", "n910", "n911"),
    ),
    _REENCODED_K_R,
)
"""CCTV cases ZIP-215 rejects although the CCTV README expects every vector accepted.

All 88 carry ``reencoded_k`` and ``non_canonical_R`` with an A of large order. The other 58
``reencoded_k`` vectors only re-encode a (small-order) A: [8][k]A is the identity whatever k
is, so ZIP-215 accepts them and they are not listed."""

DALEK_VALIDATION_DISAGREEMENTS: Final[Mapping[str, str]] = CCTV_DISAGREEMENTS
"""``VALIDATIONVECTORS`` is CCTV's file with a provenance comment added (checked by
:func:`test_validationvectors_are_the_cctv_vectors`), so the same cases disagree."""

WYCHEPROOF_ED25519_DISAGREEMENTS: Final[Mapping[str, str]] = {
    "tc151": (
        "R = 01..00 80 is y = 1 with the sign bit of x set ('negative zero'). Wycheproof follows "
        "RFC 8032 §5.1.3, which rejects it; ZIP-215 decodes it to x = 0 (the identity), and "
        "the signature then satisfies the cofactored equation"
    ),
}
"""Wycheproof ``ed25519_test.json``: the only case ZIP-215 and Wycheproof judge differently.

Its other ``InvalidEncoding`` cases (R with bits flipped) are rejected by ZIP-215 too: the
modified bytes change k, or do not decode at all."""

WYCHEPROOF_EDDSA_DISAGREEMENTS: Final[Mapping[str, str]] = {}
"""The older Wycheproof ``eddsa_test.json`` has no non-canonical or small-order points."""

DALEK_TESTVECTORS_DISAGREEMENTS: Final[Mapping[str, str]] = {}
"""RFC 8032 signatures from honest signers: every rule set accepts them."""

SPECCHECK_DISAGREEMENTS: Final[Mapping[str, str]] = {
    "case6": "S > L: the equation holds, but ZIP-215 requires a canonical s < l",
    "case7": "S >> L (high bit set): the equation holds, but ZIP-215 requires s < l",
    "case8": (
        "non-canonical R whose k the generator computed over the reduced (canonical) R; "
        "ZIP-215 hashes the original R bytes, and A is mixed, so [8][k]A differs"
    ),
}
"""speccheck cases whose README cofactored verdict ZIP-215 does not give. These are exactly
the three X in the README's Zebra row (:data:`SPECCHECK_ZEBRA_ROW`)."""


@dataclass(frozen=True)
class Source:
    """One vector file: how to load it and which cases are documented to disagree."""

    name: str
    load: Callable[[], list[Case]]
    disagreements: Mapping[str, str]


SOURCES: Final = {
    source.name: source
    for source in (
        Source("dalek-TESTVECTORS", _load_dalek_testvectors, DALEK_TESTVECTORS_DISAGREEMENTS),
        Source(
            "dalek-VALIDATIONVECTORS",
            lambda: _load_cctv_format("ed25519/dalek/VALIDATIONVECTORS"),
            DALEK_VALIDATION_DISAGREEMENTS,
        ),
        Source(
            "wycheproof-ed25519_test",
            lambda: _load_wycheproof("ed25519/wycheproof/ed25519_test.json"),
            WYCHEPROOF_ED25519_DISAGREEMENTS,
        ),
        Source(
            "wycheproof-eddsa_test",
            lambda: _load_wycheproof("ed25519/wycheproof/eddsa_test.json"),
            WYCHEPROOF_EDDSA_DISAGREEMENTS,
        ),
        Source(
            "cctv-ed25519vectors",
            lambda: _load_cctv_format("ed25519/cctv/ed25519vectors.json"),
            CCTV_DISAGREEMENTS,
        ),
        Source("speccheck-cases", _load_speccheck, SPECCHECK_DISAGREEMENTS),
    )
}
SOURCE_NAMES: Final = tuple(SOURCES)


@functools.cache
def cases_of(source: str) -> tuple[Case, ...]:
    """The cases of one file, loaded once per session; case ids must be unique."""
    cases = tuple(SOURCES[source].load())
    ids = [case.case_id for case in cases]
    assert len(set(ids)) == len(ids), f"{source}: duplicate case ids"
    return cases


@functools.cache
def reference_verdict(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """The ZIP-215 verdict from :mod:`zip215`, memoised (files share many cases)."""
    return zip215.verify(public_key, message, signature)


def reference(case: Case) -> bool:
    """The ZIP-215 verdict for one case."""
    return reference_verdict(case.public_key, case.message, case.signature)


def native_single(case: Case) -> bool:
    """``lattice._lattice.verify`` on one case.

    For a wrong-size key or signature the contract only promises "not valid", so either
    False or ``DecodeError`` counts as a rejection; anything else propagates and fails.
    """
    try:
        return native.verify(case.public_key, case.message, case.signature)
    except DecodeError:
        if case.well_formed:
            raise
        return False


def native_batch(cases: Sequence[Case], threads: int | None) -> list[bool]:
    """``verify_batch`` over ``cases`` in chunks of :data:`BATCH_CHUNK`."""
    verdicts: list[bool] = []
    for start in range(0, len(cases), BATCH_CHUNK):
        chunk = cases[start : start + BATCH_CHUNK]
        result = native.verify_batch(
            [case.public_key for case in chunk],
            [case.message for case in chunk],
            [case.signature for case in chunk],
            threads=threads,
        )
        assert len(result) == len(chunk), "verify_batch returned the wrong number of verdicts"
        verdicts.extend(result)
    return verdicts


def _mismatches(cases: Sequence[Case], got: Sequence[bool], label: str) -> list[str]:
    """Readable lines for every case whose verdict differs from the ZIP-215 reference."""
    return [
        f"{case.case_id}: ZIP-215 says {reference(case)}, {label} said {verdict} ({case.note})"
        for case, verdict in zip(cases, got, strict=True)
        if verdict != reference(case)
    ]


def _fail_on(problems: Sequence[str], what: str) -> None:
    """Fail with every problem listed (not just the first), so one run shows the whole picture."""
    if problems:
        pytest.fail(f"{len(problems)} {what}:\n" + "\n".join(problems), pytrace=False)


# --- the reference against the files themselves (no extension involved) ----------------------


@pytest.mark.parametrize("source", SOURCE_NAMES)
def test_documented_disagreements_are_exact(source: str) -> None:
    """ZIP-215 differs from the file's own expectation on exactly the documented cases."""
    disagreeing = {
        case.case_id: case.note for case in cases_of(source) if reference(case) != case.expected
    }
    documented = SOURCES[source].disagreements
    undocumented = sorted(set(disagreeing) - set(documented))
    vanished = sorted(set(documented) - set(disagreeing))
    _fail_on(
        [
            f"{case_id}: undocumented disagreement ({disagreeing[case_id]})"
            for case_id in undocumented
        ]
        + [f"{case_id}: documented but no longer disagrees" for case_id in vanished],
        f"{source}: disagreement table out of date",
    )


def test_reference_matches_speccheck_zebra_row() -> None:
    """The speccheck README's results for Zebra are the ZIP-215 verdicts, case by case."""
    row = "".join("V" if reference(case) else "X" for case in cases_of("speccheck-cases"))
    assert row == SPECCHECK_ZEBRA_ROW


def test_reference_matches_speccheck_cofactorless_column() -> None:
    """The cofactorless variant of the reference agrees with the README's cofactorless column.

    This checks :mod:`zip215`'s arithmetic on the small-order and mixed cases from another
    angle. The README's verdicts ignore the range of s (cases 6, 7) and, for the "reduced for
    hash" cases (8, 10), assume k over the canonical encoding; those are excluded.
    """
    excluded = {"case6", "case7", "case8", "case10"}
    for case, row in zip(cases_of("speccheck-cases"), SPECCHECK_TABLE, strict=True):
        if case.case_id not in excluded:
            got = zip215.verify_cofactorless(case.public_key, case.message, case.signature)
            assert got == row.cofactorless, case.case_id


def test_speccheck_txt_matches_json() -> None:
    """``cases.txt`` holds the same cases as ``cases.json`` (so replaying one replays both)."""
    lines = load_lines("ed25519/speccheck/cases.txt")
    count, fields = int(lines[0]), lines[1:]
    assert count == len(fields) // 3 == len(cases_of("speccheck-cases"))
    for case, index in zip(cases_of("speccheck-cases"), range(0, len(fields), 3), strict=True):
        message, public_key, signature = (
            line.split("=", 1)[1] for line in fields[index : index + 3]
        )
        assert bytes.fromhex(message) == case.message, case.case_id
        assert bytes.fromhex(public_key) == case.public_key, case.case_id
        assert bytes.fromhex(signature) == case.signature, case.case_id


def test_validationvectors_are_the_cctv_vectors() -> None:
    """dalek's ``VALIDATIONVECTORS`` is CCTV's ``ed25519vectors.json`` (plus a comment)."""
    assert cases_of("dalek-VALIDATIONVECTORS") == cases_of("cctv-ed25519vectors")


_CCTV_LOW_ORDER_ENCODINGS: Final = (
    "0000000000000000000000000000000000000000000000000000000000000000",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "0000000000000000000000000000000000000000000000000000000000000080",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    "0100000000000000000000000000000000000000000000000000000000000000",
    "0100000000000000000000000000000000000000000000000000000000000080",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
)
"""The fourteen encodings of low-order points listed in CCTV's ed25519 README."""


def test_reference_small_order_encodings_match_cctv_list() -> None:
    """:func:`zip215.small_order_encodings` finds exactly the fourteen CCTV lists."""
    found = {encoding.hex() for encoding in zip215.small_order_encodings()}
    assert found == set(_CCTV_LOW_ORDER_ENCODINGS)


@functools.cache
def _point_facts(encoding: bytes) -> tuple[bool, bool, bool]:
    """(small order, canonical, torsion-free) of a decodable encoding, memoised."""
    point = zip215.decode_point(encoding)
    assert point is not None, encoding.hex()
    return (
        zip215.is_small_order(point),
        zip215.is_canonical_encoding(encoding),
        zip215.is_torsion_free(point),
    )


def test_reference_explains_cctv_flags() -> None:
    """Every CCTV flag holds in the reference's arithmetic, so the flags can be trusted as
    documentation of the cases (and the reference is checked against them).

    ``low_order_residue`` means the cofactorless equation (with k reduced mod l, as common
    implementations do) fails; ``reencoded_k`` vectors verify once k is taken over the
    canonical encodings, which is how they were made.
    """
    problems = []
    for case in cases_of("cctv-ed25519vectors"):
        flags = set(case.note.split())
        r_bytes = case.signature[:32]
        a_small, a_canonical, a_torsion_free = _point_facts(case.public_key)
        r_small, r_canonical, r_torsion_free = _point_facts(r_bytes)
        facts = {
            "low_order_A": a_small,
            "low_order_R": r_small,
            "non_canonical_A": not a_canonical,
            "non_canonical_R": not r_canonical,
            "low_order_component_A": not a_torsion_free,
            "low_order_component_R": not r_torsion_free,
        }
        problems += [
            f"{case.case_id}: {flag} is {flag in flags}, reference says {fact}"
            for flag, fact in facts.items()
            if (flag in flags) != fact
        ]
        if "reencoded_k" in flags:
            a_point = zip215.decode_point(case.public_key)
            r_point = zip215.decode_point(r_bytes)
            assert a_point is not None and r_point is not None
            k = zip215.challenge(
                zip215.encode_point(r_point), zip215.encode_point(a_point), case.message
            )
            s = int.from_bytes(case.signature[32:], "little")
            rhs = zip215.point_add(r_point, zip215.scalar_mult(k % zip215.L, a_point))
            if not zip215.point_equal(
                zip215.mul_by_cofactor(zip215.base_mult(s)), zip215.mul_by_cofactor(rhs)
            ):
                problems.append(f"{case.case_id}: does not verify with re-encoded k")
        else:
            cofactorless = zip215.verify_cofactorless(case.public_key, case.message, case.signature)
            if cofactorless == ("low_order_residue" in flags):
                problems.append(f"{case.case_id}: low_order_residue vs cofactorless mismatch")
    _fail_on(problems, "CCTV flags contradicted by the reference")


# --- lattice's verification against the reference ---------------------------------------------


@pytest.mark.parametrize("source", SOURCE_NAMES)
def test_verify_matches_zip215(source: str) -> None:
    """Single verification gives the ZIP-215 verdict on every case of the file."""
    cases = cases_of(source)
    _fail_on(_mismatches(cases, [native_single(case) for case in cases], "verify"), source)


@pytest.mark.parametrize("threads", THREAD_COUNTS, ids=lambda t: f"threads={t}")
@pytest.mark.parametrize("source", SOURCE_NAMES)
def test_verify_batch_matches_zip215(source: str, threads: int | None) -> None:
    """Batch verification, in chunks that mix accepted and rejected cases, gives the ZIP-215
    verdict for every well-formed case (the wrong-size ones are tested for ``DecodeError``)."""
    cases = [case for case in cases_of(source) if case.well_formed]
    got = native_batch(cases, threads)
    _fail_on(_mismatches(cases, got, f"verify_batch(threads={threads})"), source)


@pytest.mark.parametrize("source", SOURCE_NAMES)
def test_batch_of_accepted_cases_is_all_true(source: str) -> None:
    """Batches made only of ZIP-215-valid cases (for CCTV: small-order and non-canonical points
    throughout) are all True, on the default thread count. With the chunked replay, whose
    chunks mostly mix accepted and rejected cases, this covers both a batch that passes as a
    whole and one that fails and is re-verified item by item."""
    accepted = [case for case in cases_of(source) if case.well_formed and reference(case)]
    assert accepted, f"{source}: no accepted cases"
    assert native_batch(accepted, None) == [True] * len(accepted)


def _good_cases(source: str) -> list[Case]:
    """:data:`MIXED_GOODS` accepted signatures: the file's own accepted cases first (so edge
    cases such as small-order keys sit next to the bad one), topped up with RFC 8032 ones."""
    own = [case for case in cases_of(source) if case.well_formed and reference(case)]
    rfc = list(cases_of("dalek-TESTVECTORS"))
    goods = (own[: MIXED_GOODS // 2] + rfc)[:MIXED_GOODS]
    assert len(goods) == MIXED_GOODS and all(reference(case) for case in goods)
    return goods


def _bad_cases(source: str) -> list[Case]:
    """The file's well-formed cases that ZIP-215 rejects; for a file without any (RFC 8032),
    the signatures of its first few cases over a message with one extra byte, enough to put one
    at every position of the batch."""
    bad = [case for case in cases_of(source) if case.well_formed and not reference(case)]
    if not bad:
        bad = [
            Case(
                f"{case.case_id}+byte",
                case.public_key,
                case.message + b"\x00",
                case.signature,
                expected=False,
                note="message extended by one byte",
            )
            for case in cases_of(source)[: MIXED_GOODS + 1]
        ]
    assert bad and not any(reference(case) for case in bad)
    return bad


def _mixed_batches(source: str) -> Iterator[tuple[Case, int, int]]:
    """(bad case, position, threads) for the mixed-batch test.

    The file's first bad case goes to every position; then :data:`MIXED_BAD_PER_FILE` bad cases
    taken evenly across the file go to one position each, covering every position again.
    Threads alternate between 1 and 2.
    """
    bads = _bad_cases(source)
    positions = range(MIXED_GOODS + 1)
    for position in positions:
        yield bads[0], position, 1 + position % 2
    count = min(len(bads), MIXED_BAD_PER_FILE)
    for index in range(count):
        position = positions[index % len(positions)]
        yield bads[index * len(bads) // count], position, 2 - position % 2


@pytest.mark.parametrize("source", SOURCE_NAMES)
def test_one_bad_signature_among_goods(source: str) -> None:
    """A rejected case inside a batch of good ones is reported at its index, and only there:
    the verdict of each item never depends on the batch it came in (DESIGN §2)."""
    goods = _good_cases(source)
    problems = []
    for bad, position, threads in _mixed_batches(source):
        batch = [*goods[:position], bad, *goods[position:]]
        got = native.verify_batch(
            [case.public_key for case in batch],
            [case.message for case in batch],
            [case.signature for case in batch],
            threads=threads,
        )
        assert len(got) == len(batch), "verify_batch returned the wrong number of verdicts"
        expected = [index != position for index in range(len(batch))]
        if got != expected:
            wrong = [i for i, (g, e) in enumerate(zip(got, expected, strict=True)) if g != e]
            problems.append(
                f"{bad.case_id} at position {position} (threads={threads}): "
                f"wrong verdicts at indices {wrong} ({bad.note})"
            )
    _fail_on(problems, f"{source}: mixed batches with wrong verdicts")


# --- key admission -----------------------------------------------------------------------------


def _all_keys_and_points() -> dict[bytes, str]:
    """Every distinct 32-byte public key and R in the vectors, with a case naming it."""
    found: dict[bytes, str] = {}
    for source in SOURCE_NAMES:
        for case in cases_of(source):
            for encoding in (case.public_key, case.signature[:32]):
                if len(encoding) == PUBLIC_KEY_LEN:
                    found.setdefault(encoding, f"{source}/{case.case_id}")
    return found


def _classify(encoding: bytes) -> str:
    """``"non-point"``, ``"small"``, ``"non-canonical"`` (other), ``"mixed"`` or ``"prime"``."""
    point = zip215.decode_point(encoding)
    if point is None:
        return "non-point"
    if zip215.is_small_order(point):
        return "small"
    if not zip215.is_canonical_encoding(encoding):
        return "non-canonical"
    return "prime" if zip215.is_torsion_free(point) else "mixed"


@functools.cache
def _encodings_by_class() -> Mapping[str, tuple[bytes, ...]]:
    """The vectors' keys and R values grouped by :func:`_classify`.

    The ``"non-canonical"`` group (non-canonical encodings of points of large order: only
    Wycheproof tc61's R = ff..ff, which is y = 18 reduced) is deliberately not asserted on:
    neither DESIGN §2 nor ``_lattice.pyi`` says whether admission refuses such encodings.
    """
    groups: dict[str, list[bytes]] = {}
    for encoding in _all_keys_and_points():
        groups.setdefault(_classify(encoding), []).append(encoding)
    return {name: tuple(sorted(group)) for name, group in groups.items()}


def test_vectors_small_order_points_are_the_fourteen() -> None:
    """Every small-order point the vectors use is one of the enumerated fourteen encodings, so
    refusing those fourteen covers the vectors (and the vectors use all of them)."""
    assert set(_encodings_by_class()["small"]) == set(zip215.small_order_encodings())


@pytest.mark.parametrize("encoding", zip215.small_order_encodings(), ids=lambda b: b.hex()[:8])
def test_check_public_key_refuses_small_order(encoding: bytes) -> None:
    """Small-order keys, canonical or not, are refused at admission (DESIGN §2)."""
    with pytest.raises(InvalidKey):
        native.check_public_key(encoding)


def _non_point_encodings() -> list[bytes]:
    """Non-points: those in the vectors, and the non-canonical y >= p that are not on the curve."""
    constructed = [
        encoding
        for encoding in zip215.candidate_non_canonical_encodings()
        if zip215.decode_point(encoding) is None
    ]
    return sorted({*_encodings_by_class().get("non-point", ()), *constructed})


def test_check_public_key_refuses_non_points() -> None:
    """Encodings that are not curve points are refused with ``InvalidKey``."""
    encodings = _non_point_encodings()
    assert len(encodings) >= 10
    accepted = []
    for encoding in encodings:
        try:
            native.check_public_key(encoding)
        except InvalidKey:
            continue
        accepted.append(encoding.hex())
    assert not accepted, f"non-points accepted: {accepted}"


@pytest.mark.parametrize("length", [0, 1, 31, 33, 64])
def test_check_public_key_refuses_wrong_length(length: int) -> None:
    """Only 32-byte keys exist; anything else is ``InvalidKey``, not a crash or a truncation."""
    key = (bytes(cases_of("dalek-TESTVECTORS")[0].public_key) * 3)[:length]
    with pytest.raises(InvalidKey):
        native.check_public_key(key)


def test_check_public_key_accepts_prime_order_keys() -> None:
    """Every ordinary (canonical, prime-order) key and R in the vectors is admitted unchanged."""
    keys = _encodings_by_class()["prime"]
    assert len(keys) > 100
    assert [native.check_public_key(key) for key in keys] == list(keys)


def test_check_public_key_accepts_mixed_order_keys() -> None:
    """Keys with a torsion component but not of small order are admitted: the contract refuses
    small order only (``_lattice.pyi``), and ZIP-215's cofactored check makes the torsion part
    irrelevant to every signature verdict."""
    keys = _encodings_by_class()["mixed"]
    assert keys
    assert [native.check_public_key(key) for key in keys] == list(keys)


def test_check_public_key_error_is_a_lattice_error() -> None:
    """``InvalidKey`` belongs to lattice's exception hierarchy."""
    assert issubclass(InvalidKey, LatticeError)


# --- malformed batches ------------------------------------------------------------------------


def _wrong_size_cases() -> list[Case]:
    """Every case in the vectors whose key or signature has the wrong size (Wycheproof's
    truncated, padded and compressed signatures)."""
    return [case for source in SOURCE_NAMES for case in cases_of(source) if not case.well_formed]


def test_decode_error_is_a_lattice_error() -> None:
    """``DecodeError`` belongs to lattice's exception hierarchy."""
    assert issubclass(DecodeError, LatticeError)


@pytest.mark.parametrize("threads", [1, 2], ids=lambda t: f"threads={t}")
def test_verify_batch_wrong_size_signature_raises(threads: int) -> None:
    """A wrong-size signature anywhere in a batch raises ``DecodeError`` (it is not a signature
    that could be judged valid or invalid)."""
    wrong = _wrong_size_cases()
    assert len(wrong) >= 10
    goods = _good_cases("dalek-TESTVECTORS")[:4]
    for index, bad in enumerate(wrong):
        batch = [*goods[: index % 5], bad, *goods[index % 5 :]]
        with pytest.raises(DecodeError):
            native.verify_batch(
                [case.public_key for case in batch],
                [case.message for case in batch],
                [case.signature for case in batch],
                threads=threads,
            )


@pytest.mark.parametrize("length", [0, 31, 33, 64])
def test_verify_batch_wrong_size_key_raises(length: int) -> None:
    """A wrong-size public key in a batch raises ``DecodeError``."""
    good = cases_of("dalek-TESTVECTORS")[:2]
    keys = [good[0].public_key, (good[1].public_key * 2)[:length]]
    with pytest.raises(DecodeError):
        native.verify_batch(keys, [case.message for case in good], [c.signature for c in good])


@pytest.mark.parametrize(
    ("n_keys", "n_messages", "n_signatures"),
    [(2, 1, 2), (1, 2, 2), (2, 2, 1), (0, 1, 1), (3, 3, 0)],
)
def test_verify_batch_mismatched_lengths_raise(
    n_keys: int, n_messages: int, n_signatures: int
) -> None:
    """The three sequences must have the same length; otherwise ``DecodeError``."""
    good = cases_of("dalek-TESTVECTORS")[:3]
    with pytest.raises(DecodeError):
        native.verify_batch(
            [case.public_key for case in good[:n_keys]],
            [case.message for case in good[:n_messages]],
            [case.signature for case in good[:n_signatures]],
        )


def test_verify_batch_empty() -> None:
    """An empty batch is a valid batch with no verdicts."""
    assert native.verify_batch([], [], []) == []


def test_buffer_inputs_give_the_same_verdicts() -> None:
    """``bytearray`` and ``memoryview`` inputs are read as their bytes (the stub's contract)."""
    cases = [*cases_of("speccheck-cases"), *cases_of("dalek-TESTVECTORS")[:4]]
    views: list[Any] = [
        (bytearray(case.public_key), memoryview(case.message), bytearray(case.signature))
        for case in cases
    ]
    singles = [native.verify(*view) for view in views]
    batch = native.verify_batch(
        [view[0] for view in views], [view[1] for view in views], [view[2] for view in views]
    )
    expected = [reference(case) for case in cases]
    assert singles == expected
    assert batch == expected

"""Hashing (DESIGN §2, docs/format.md "Hash domains").

BLAKE3's own test vectors are replayed through the Rust core's plain hash mode and its
key-derivation mode; every lattice domain is checked against the reference (the ``blake3``
PyPI package with the context string of docs/format.md).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import reference as ref
from lattice import _lattice as L
from lattice import errors
from vectors import load_json

BLAKE3_VECTORS = "blake3/test_vectors.json"


def _input(length: int) -> bytes:
    """The BLAKE3 test input: bytes 0, 1, ..., 250, 0, 1, ... (i % 251)."""
    return bytes(i % 251 for i in range(length))


def _cases() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    doc = load_json(BLAKE3_VECTORS)
    cases = doc["cases"]
    assert len(cases) == 35, "the BLAKE3 vector file changed"
    return doc, cases


def test_blake3_hash_mode_vectors() -> None:
    _, cases = _cases()
    for case in cases:
        want = bytes.fromhex(case["hash"])
        data = _input(case["input_len"])
        assert L.blake3_raw(data, len(want)) == want, case["input_len"]
        # The default length is the first 32 bytes of the extended output.
        assert L.blake3_raw(data) == want[:32], case["input_len"]


def test_blake3_derive_key_mode_vectors() -> None:
    doc, cases = _cases()
    context = doc["context_string"]
    for case in cases:
        want = bytes.fromhex(case["derive_key"])
        data = _input(case["input_len"])
        assert L.blake3_derive_key(context, data, len(want)) == want, case["input_len"]
        assert L.blake3_derive_key(context, data) == want[:32], case["input_len"]


def test_buffer_inputs_are_accepted() -> None:
    data = _input(1025)
    want = L.blake3_raw(data)
    assert L.blake3_raw(bytearray(data)) == want
    assert L.blake3_raw(memoryview(data)) == want
    assert L.hash("payload", memoryview(data)) == ref.domain_hash("payload", data)


def test_domain_names_are_the_documented_ones() -> None:
    assert set(L.DOMAINS) == set(ref.CONTEXTS)
    assert len(L.DOMAINS) == len(set(L.DOMAINS))


@pytest.mark.parametrize("domain", sorted(ref.CONTEXTS))
@pytest.mark.parametrize("length", [0, 1, 63, 64, 65, 1023, 1024, 1025, 4097])
def test_domains_match_reference(domain: str, length: int) -> None:
    data = _input(length)
    want = ref.derive_key(ref.CONTEXTS[domain], data)
    assert L.hash(domain, data) == want
    assert L.blake3_derive_key(ref.CONTEXTS[domain], data) == want


@given(domain=st.sampled_from(sorted(ref.CONTEXTS)), data=st.binary(max_size=3000))
def test_domains_match_reference_on_random_input(domain: str, data: bytes) -> None:
    assert L.hash(domain, data) == ref.domain_hash(domain, data)


def test_domains_are_separated() -> None:
    digests = {L.hash(domain, b"same input") for domain in L.DOMAINS}
    assert len(digests) == len(L.DOMAINS)
    assert L.hash("payload", b"") != L.blake3_raw(b"")


@pytest.mark.parametrize("name", ["", "Entry", "merkle", "lattice v1 entry", "entry ", "unknown"])
def test_unknown_domain_is_refused(name: str) -> None:
    with pytest.raises(errors.LatticeError) as info:
        L.hash(name, b"x")
    assert isinstance(info.value, ValueError)

"""The real rebuilderd attestation (issue 13, DESIGN §10): reproducible-archlinux's in-toto
Link verifies with lattice's verifier, quirks and all; a tampered byte makes it fail."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

import lattice
from lattice.errors import AttestationError
from lattice.trust.link import legacy_key_id, public_key_from_pem, verify_link

VECTORS = Path(__file__).resolve().parents[2] / "shared" / "vectors" / "attestation"
LINK = (VECTORS / "filesystem-2025.10.12-1-any.in-toto.link").read_bytes()
PEM = (VECTORS / "reproducible-archlinux.pub").read_text()


def test_the_real_link_verifies() -> None:
    signed = verify_link(LINK, PEM)
    assert signed["_type"] == "link" and signed["environment"] is None
    product = signed["products"]["filesystem-2025.10.12-1-any.pkg.tar.zst"]
    assert product["sha256"] == "6b6c3fee7432204840d3b6afc9bc1a68c28f591a47fb220071715c40cca956df"
    # The quirks: a NULL parameter in the SPKI, the legacy key id.
    assert base64.b64decode(PEM.splitlines()[1])[9:11] == b"\x05\x00"
    assert legacy_key_id(public_key_from_pem(PEM)).startswith("1ae6d32c")


@pytest.mark.parametrize("where", [b"6b6c3fee", b"filesystem-2025", b'"command":[]', b"5125ba1d"])
def test_a_tampered_byte_fails(where: bytes) -> None:
    at = LINK.index(where) + len(where) - 1
    flipped = LINK[:at] + bytes([LINK[at] ^ 0x01]) + LINK[at + 1 :]
    with pytest.raises(AttestationError):
        verify_link(flipped, PEM)


def test_another_key_or_a_broken_pem_fails() -> None:
    other = lattice.Identity.generate().public_key
    spki = bytes.fromhex("302a300506032b6570032100") + other  # RFC 8410, no NULL
    pem = (
        "-----BEGIN PUBLIC KEY-----\n"
        + base64.b64encode(spki).decode()
        + "\n-----END PUBLIC KEY-----\n"
    )
    assert public_key_from_pem(pem) == other
    with pytest.raises(AttestationError, match="no signature"):
        verify_link(LINK, pem)
    for broken in (
        "",
        "-----BEGIN PUBLIC KEY-----\n!!\n-----END PUBLIC KEY-----",
        PEM.replace("MCww", "MCwx"),
    ):
        with pytest.raises(AttestationError):
            public_key_from_pem(broken)

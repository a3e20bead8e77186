"""in-toto Links as rebuilders publish them (DESIGN §10): reading the real rebuilderd
attestation (``shared/vectors/attestation``: a Link by reproducible-archlinux).

This is in-toto metadata v0.9 (``{"signatures": [...], "signed": {"_type": "link", …}}``),
signed with Ed25519 over the OLPC canonical JSON of ``signed``. Three quirks of the real
vector are handled on purpose:

- **The public key's SPKI carries a NULL algorithm parameter** (``05 00`` after the
  Ed25519 OID, which RFC 8410 says must be absent, and strict parsers refuse). The PEM
  is read by hand: exactly ``SEQUENCE { SEQUENCE { OID 1.3.101.112 [, NULL] } BIT STRING
  (32 bytes) }``, nothing else.
- **The key id is the old securesystemslib one**: the SHA-256 of the canonical JSON of the
  key *with* ``"keyid_hash_algorithms": ["sha256", "sha512"]``. Both that id and the
  current one (:func:`lattice.trust.attest.key_id`) are accepted for the key given.
- **``"environment": null``** is kept as it is: canonical JSON encodes null, and the
  signature covers it.

>>> from pathlib import Path
>>> vectors = Path(__file__).resolve().parents[4] / "shared" / "vectors" / "attestation"
>>> if vectors.exists():
...     signed = verify_link((vectors / "filesystem-2025.10.12-1-any.in-toto.link").read_bytes(),
...                          (vectors / "reproducible-archlinux.pub").read_text())
...     print(signed["_type"])
... else:
...     print("link")
link
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

from lattice import _lattice
from lattice.errors import AttestationError
from lattice.trust.attest import key_id

__all__ = ["ED25519_OID", "legacy_key_id", "olpc_canonical", "public_key_from_pem", "verify_link"]

#: The DER of OID 1.3.101.112 (Ed25519).
ED25519_OID = bytes.fromhex("06032b6570")
_NULL = bytes.fromhex("0500")


def public_key_from_pem(pem: str) -> bytes:
    """The raw Ed25519 key of a PEM ``PUBLIC KEY`` (its SPKI with or without the NULL
    parameter); AttestationError for anything else."""
    lines = [line.strip() for line in pem.strip().splitlines()]
    if (
        len(lines) < 3
        or lines[0] != "-----BEGIN PUBLIC KEY-----"
        or lines[-1] != "-----END PUBLIC KEY-----"
    ):
        raise AttestationError("not a PEM public key")
    try:
        der = base64.b64decode("".join(lines[1:-1]), validate=True)
    except (binascii.Error, ValueError):
        raise AttestationError("the PEM body is not base64") from None
    for algorithm in (ED25519_OID, ED25519_OID + _NULL):
        ident = bytes([0x30, len(algorithm)]) + algorithm
        body = ident + bytes([0x03, 33, 0x00])
        if (
            der[:2] == bytes([0x30, len(body) + 32])
            and der[2:-32] == body
            and len(der) == len(body) + 34
        ):
            key = der[-32:]
            _lattice.check_public_key(key)
            return key
    raise AttestationError("not an Ed25519 SubjectPublicKeyInfo")


def olpc_canonical(value: Any) -> bytes:
    """securesystemslib's canonical JSON: sorted keys, no whitespace, strings escaping only
    ``\\`` and ``"``, integers, true / false / null; no floats. Reading others' signed
    metadata needs exactly these bytes; what lattice writes itself uses
    :func:`lattice.trust.attest.canonical_json` (the same bytes for the values it writes,
    and control characters escaped, so ``json`` reads them back)."""
    if value is None:
        return b"null"
    if value is True:
        return b"true"
    if value is False:
        return b"false"
    if isinstance(value, int):
        return str(value).encode()
    if isinstance(value, str):
        return b'"' + value.replace("\\", "\\\\").replace('"', '\\"').encode() + b'"'
    if isinstance(value, list):
        return b"[" + b",".join(olpc_canonical(v) for v in value) + b"]"
    if isinstance(value, dict):
        items = sorted(value.items())
        return (
            b"{" + b",".join(olpc_canonical(k) + b":" + olpc_canonical(v) for k, v in items) + b"}"
        )
    raise AttestationError(f"canonical JSON has no {type(value).__name__}")


def legacy_key_id(public_key: bytes) -> str:
    """The key id older securesystemslib computed (with ``keyid_hash_algorithms``)."""
    key = {
        "keyid_hash_algorithms": ["sha256", "sha512"],
        "keytype": "ed25519",
        "keyval": {"public": public_key.hex()},
        "scheme": "ed25519",
    }
    return hashlib.sha256(olpc_canonical(key)).hexdigest()


def verify_link(link: bytes, pem: str) -> dict[str, Any]:
    """The ``signed`` part of an in-toto Link if a signature by the key in ``pem`` (under
    its legacy or current key id) verifies; AttestationError saying what failed."""
    key = public_key_from_pem(pem)
    try:
        doc = json.loads(link)
        signed, signatures = doc["signed"], doc["signatures"]
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise AttestationError(f"not in-toto metadata: {exc!r}") from None
    if not isinstance(signed, dict) or signed.get("_type") != "link":
        raise AttestationError("not an in-toto Link")
    ids = {legacy_key_id(key), key_id(key)}
    message = olpc_canonical(signed)
    mine = [s for s in signatures if isinstance(s, dict) and s.get("keyid") in ids]
    if not mine:
        raise AttestationError("no signature under this key's id (legacy or current)")
    for sig in mine:
        try:
            raw = bytes.fromhex(sig.get("sig", ""))
        except ValueError:
            raise AttestationError("a signature is not hex") from None
        if _lattice.verify(key, message, raw):
            return signed
    raise AttestationError("the signature under this key's id does not verify")

"""lattice.Identity: generation, signing, key files (DESIGN §14), small-order refusal."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

import lattice
from lattice import _lattice
from lattice.errors import InvalidKey, LatticeError

# RFC 8032 §7.1 TEST 1.
RFC8032_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC8032_PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")


def test_generate_sign_verify() -> None:
    ident = lattice.Identity.generate()
    sig = ident.sign(b"hello")
    assert len(ident.public_key) == 32 and len(sig) == 64
    assert ident.verify(b"hello", sig)
    assert not ident.verify(b"hellO", sig)
    assert lattice.verify(ident.public_key, b"hello", sig)
    assert lattice.Identity.generate().public_key != ident.public_key


def test_seed_matches_rfc8032_and_cryptography() -> None:
    ident = lattice.Identity.from_seed(RFC8032_SEED)
    assert ident.public_key == RFC8032_PUBLIC
    theirs = ed25519.Ed25519PrivateKey.from_private_bytes(RFC8032_SEED)
    # Ed25519 is deterministic: the same seed gives the same signature in both libraries.
    assert ident.sign(b"abc") == theirs.sign(b"abc")


@pytest.mark.parametrize("password", [None, b"correct horse battery staple"])
def test_save_load_round_trip(tmp_path: Path, password: bytes | None) -> None:
    ident = lattice.Identity.generate()
    path = tmp_path / "peer.pem"
    ident.save(path, password=password)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    loaded = lattice.Identity.load(path, password=password)
    assert loaded == ident and loaded.sign(b"x") == ident.sign(b"x")
    # The file is a standard PKCS#8 PEM that other tools read.
    text = path.read_bytes()
    assert text.startswith(
        b"-----BEGIN ENCRYPTED PRIVATE KEY-----" if password else b"-----BEGIN PRIVATE KEY-----"
    )
    key = serialization.load_pem_private_key(text, password=password)
    assert isinstance(key, ed25519.Ed25519PrivateKey)
    assert key.public_key().public_bytes_raw() == ident.public_key
    assert not list(tmp_path.glob(".*tmp*")), "no temporary file left behind"


def test_save_overwrites_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "peer.pem"
    path.write_bytes(b"old")
    path.chmod(0o644)
    lattice.Identity.generate().save(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_encrypted_key_needs_the_right_password(tmp_path: Path) -> None:
    path = tmp_path / "peer.pem"
    lattice.Identity.generate().save(path, password=b"secret")
    with pytest.raises(InvalidKey):
        lattice.Identity.load(path, password=b"wrong")
    with pytest.raises(InvalidKey):
        lattice.Identity.load(path)


def test_load_refuses_other_key_types(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    path = tmp_path / "ec.pem"
    path.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(InvalidKey, match="not Ed25519"):
        lattice.Identity.load(path)
    garbage = tmp_path / "garbage.pem"
    garbage.write_bytes(b"not a key")
    with pytest.raises(InvalidKey):
        lattice.Identity.load(garbage)


def test_small_order_public_keys_are_refused() -> None:
    identity_point = bytes([1]) + bytes(31)
    with pytest.raises(InvalidKey, match="small order"):
        lattice.check_public_key(identity_point)
    with pytest.raises(InvalidKey):
        lattice.check_public_key(b"\x00" * 31)
    good = lattice.Identity.generate().public_key
    assert lattice.check_public_key(good) == good


def test_seed_of_wrong_length_is_refused() -> None:
    with pytest.raises(InvalidKey):
        lattice.Identity.from_seed(b"short")
    with pytest.raises(LatticeError):
        _lattice.SigningKey.from_seed(bytes(33))


def test_repr_never_shows_the_secret() -> None:
    ident = lattice.Identity.from_seed(RFC8032_SEED)
    assert RFC8032_SEED.hex()[:16] not in repr(ident)
    assert RFC8032_SEED.hex()[:16] not in repr(ident.signing_key)

"""Peer identities: an Ed25519 key pair that signs entries (DESIGN §2, §14).

Keys live in the Rust core; files use the ``cryptography`` package's standard formats
(PKCS#8 PEM, encrypted with the best available scheme when a password is given) so that
other tools can read them, and are written with mode 0600.

>>> import tempfile, os
>>> from lattice import Identity
>>> ident = Identity.generate()
>>> path = os.path.join(tempfile.mkdtemp(), "peer.pem")
>>> ident.save(path, password=b"correct horse")
>>> Identity.load(path, password=b"correct horse").public_key == ident.public_key
True
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from lattice import _lattice
from lattice.errors import InvalidArgument, InvalidKey

if TYPE_CHECKING:
    from typing_extensions import Buffer

__all__ = ["Identity"]

#: Files holding secret keys are readable by their owner only.
KEY_FILE_MODE = 0o600


def _password(password: bytes | str | None) -> bytes | None:
    """A key file's password as bytes (text as UTF-8); an empty one is refused."""
    if password is None:
        return None
    if isinstance(password, str):
        password = password.encode()
    if not isinstance(password, bytes | bytearray | memoryview):
        raise InvalidArgument(f"a password is bytes or str, not {type(password).__name__}")
    if not password:
        raise InvalidArgument("an empty password (pass None for a key file without one)")
    return bytes(password)


class Identity:
    """A peer's or client's signing identity.

    >>> ident = Identity.generate()
    >>> len(ident.public_key), len(ident.sign(b"hello"))
    (32, 64)
    """

    __slots__ = ("_key",)

    def __init__(self, signing_key: _lattice.SigningKey) -> None:
        public_key = signing_key.public_key
        # A key derived from a seed is never of small order, but a key may come from
        # anywhere; refuse anything that could not identify a peer (DESIGN §2).
        _lattice.check_public_key(public_key)
        self._key = signing_key

    @classmethod
    def generate(cls) -> Identity:
        """A fresh identity from the operating system's random source."""
        return cls(_lattice.SigningKey.generate())

    @classmethod
    def from_seed(cls, seed: Buffer) -> Identity:
        """The identity with this 32-byte RFC 8032 seed (deterministic; for tests and tools).

        >>> Identity.from_seed(bytes(32)).public_key.hex()[:16]
        '3b6a27bcceb6a42d'
        """
        return cls(_lattice.SigningKey.from_seed(seed))

    @property
    def public_key(self) -> bytes:
        """The 32-byte Ed25519 public key: this identity's name in a swarm."""
        return self._key.public_key

    @property
    def signing_key(self) -> _lattice.SigningKey:
        """The Rust signing key, for the core's entry builder."""
        return self._key

    def sign(self, message: Buffer) -> bytes:
        """A 64-byte Ed25519 signature over ``message``."""
        return self._key.sign(message)

    def verify(self, message: Buffer, signature: Buffer) -> bool:
        """Check a signature by this identity (ZIP-215 rules)."""
        return _lattice.verify(self.public_key, message, signature)

    def save(self, path: str | os.PathLike[str], password: bytes | str | None = None) -> None:
        """Write the key as PKCS#8 PEM, encrypted if ``password`` is given (bytes, or text
        as UTF-8; never empty: None writes it unencrypted), mode 0600.

        The file is created with its final mode before any secret is written, and replaced
        atomically, so a crash never leaves a readable or half-written key behind.
        """
        password = _password(password)
        private = ed25519.Ed25519PrivateKey.from_private_bytes(self._key.seed())
        encryption: serialization.KeySerializationEncryption = (
            serialization.NoEncryption()
            if password is None
            else serialization.BestAvailableEncryption(password)
        )
        pem = private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )
        target = Path(path)
        tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, KEY_FILE_MODE)
        except OSError as exc:
            raise InvalidArgument(f"cannot write the key file {target}: {exc.strerror}") from exc
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(pem)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, KEY_FILE_MODE)
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: str | os.PathLike[str], password: bytes | str | None = None) -> Identity:
        """Read a key written by :meth:`save` (or any PKCS#8 Ed25519 PEM).

        Raises :class:`~lattice.errors.InvalidKey` if the file is not an Ed25519 key, the
        password is wrong or missing, or the key may not identify a peer.
        """
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise InvalidArgument(f"cannot read the key file {path}: {exc.strerror}") from exc
        try:
            private = serialization.load_pem_private_key(data, password=_password(password))
        except (ValueError, TypeError) as exc:
            raise InvalidKey(f"cannot load identity from {os.fspath(path)!r}: {exc}") from exc
        if not isinstance(private, ed25519.Ed25519PrivateKey):
            raise InvalidKey(f"{os.fspath(path)!r} holds a {type(private).__name__}, not Ed25519")
        seed = private.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        return cls.from_seed(seed)

    def __repr__(self) -> str:
        return f"Identity(public_key={self.public_key[:8].hex()}…)"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Identity) and other.public_key == self.public_key

    def __hash__(self) -> int:
        return hash(self.public_key)

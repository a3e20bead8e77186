"""The two records of DESIGN §11, as system entries' payloads: an open identity's
proof-of-work **admission** (``ADMISSION`` entries) and a signed **vouch** for an open
identity, or a registered peer's revocation of one (``VOUCH`` entries).

Both are self-contained: an admission record carries the key, the committed target and the
nonce (the swarm is the entry's), a vouch the voucher's signature over the swarm, the
action and both keys. Any registered peer may carry either in its log; the trust graph
(:mod:`lattice.sybil.graph`) decides what they are worth.

>>> import lattice
>>> from lattice import _lattice
>>> swarm, who = bytes(32), lattice.Identity.from_seed(bytes(32))
>>> nonce = _lattice.pow_search(who.public_key, swarm, 8)
>>> record = Admission(who.public_key, 8, nonce)
>>> Admission.from_bytes(record.to_bytes()).check(swarm, min_bits=8) == record
True
>>> peer = lattice.Identity.from_seed(bytes([1]) * 32)
>>> vouch = Vouch.create(peer, swarm, who.public_key)
>>> Vouch.from_bytes(vouch.to_bytes()).verify(swarm), vouch.revokes
(True, False)
"""

from __future__ import annotations

import dataclasses
import struct

from lattice import _lattice
from lattice.errors import InvalidKey, InvalidProofOfWork, InvalidVouch, UnknownVersion
from lattice.identity import Identity
from lattice.reader import Reader

__all__ = [
    "ADMISSION_LEN",
    "RECORD_VERSION",
    "REVOKE",
    "VOUCH",
    "VOUCH_DOMAIN",
    "VOUCH_LEN",
    "Admission",
    "Vouch",
]

#: The version byte both records start with.
RECORD_VERSION = 1
#: A vouch's action byte: the voucher stands for the subject.
VOUCH = 1
#: A vouch's action byte: a registered peer revokes the subject (and so its vouches).
REVOKE = 2
#: What a vouch's signature covers starts with this (never 32 bytes long, so it can never
#: be taken for an entry id, which is what entries sign).
VOUCH_DOMAIN = b"lattice vouch v1"

_KEY = 32
_U64 = struct.Struct(">Q")
#: version ‖ key ‖ target ‖ nonce.
ADMISSION_LEN = 1 + _KEY + 1 + 8
#: version ‖ action ‖ voucher ‖ subject ‖ signature.
VOUCH_LEN = 1 + 1 + _KEY + _KEY + _lattice.SIGNATURE_LEN


def _version(r: Reader, what: str) -> None:
    version = r.u8("version")
    if version != RECORD_VERSION:
        raise UnknownVersion(f"{what} version {version}, this build reads {RECORD_VERSION}")


@dataclasses.dataclass(frozen=True, slots=True)
class Admission:
    """A proof of work admitting ``key`` to a swarm: ``H_pow(key ‖ swarm ‖ target ‖
    nonce)`` has at least ``target`` leading zero bits."""

    key: bytes
    target: int
    nonce: int

    def to_bytes(self) -> bytes:
        return bytes([RECORD_VERSION]) + self.key + bytes([self.target]) + _U64.pack(self.nonce)

    @classmethod
    def from_bytes(cls, data: bytes) -> Admission:
        """Decode a record (``DecodeError`` subclasses for anything malformed)."""
        r = Reader(bytes(data))
        _version(r, "admission record")
        key, target = r.take(_KEY, "key"), r.u8("target")
        nonce = _U64.unpack(r.take(8, "nonce"))[0]
        r.finish("the admission record")
        return cls(key, target, nonce)

    def check(self, swarm: bytes, min_bits: int) -> Admission:
        """This record, if its proof holds in ``swarm`` with a target of at least
        ``min_bits``; else :class:`~lattice.errors.InvalidProofOfWork` (a bad key is
        :class:`~lattice.errors.InvalidKey`)."""
        _lattice.check_public_key(self.key)
        _lattice.pow_check(self.key, swarm, self.target, self.nonce, min_bits)
        return self

    @classmethod
    def make(cls, key: bytes, swarm: bytes, bits: int, **search: object) -> Admission:
        """Search a nonce on every core (``search``: ``threads``, ``progress``, … as
        :func:`lattice._lattice.pow_search` takes them) and return the record."""
        nonce = _lattice.pow_search(key, swarm, bits, **search)  # type: ignore[arg-type]
        if nonce is None:
            raise InvalidProofOfWork(f"no nonce found for {bits} bits", author=key)
        return cls(key, bits, nonce)


@dataclasses.dataclass(frozen=True, slots=True)
class Vouch:
    """``voucher`` stands for (``action`` = :data:`VOUCH`) or revokes (:data:`REVOKE`)
    ``subject``, signed by the voucher over the swarm, the action and both keys."""

    action: int
    voucher: bytes
    subject: bytes
    signature: bytes

    @property
    def revokes(self) -> bool:
        return self.action == REVOKE

    @staticmethod
    def message(swarm: bytes, action: int, voucher: bytes, subject: bytes) -> bytes:
        """The bytes a vouch's signature covers."""
        return VOUCH_DOMAIN + swarm + bytes([action]) + voucher + subject

    @classmethod
    def create(
        cls, voucher: Identity, swarm: bytes, subject: bytes, *, revoke: bool = False
    ) -> Vouch:
        """A vouch (or, with ``revoke``, a revocation) signed by ``voucher``."""
        if len(subject) != _KEY:
            raise InvalidVouch(f"a subject is a {_KEY}-byte key, got {len(subject)} bytes")
        action = REVOKE if revoke else VOUCH
        me = voucher.public_key
        return cls(
            action, me, bytes(subject), voucher.sign(cls.message(swarm, action, me, subject))
        )

    def to_bytes(self) -> bytes:
        return bytes([RECORD_VERSION, self.action]) + self.voucher + self.subject + self.signature

    @classmethod
    def from_bytes(cls, data: bytes) -> Vouch:
        """Decode a vouch (``DecodeError`` subclasses for anything malformed, an unknown
        action :class:`~lattice.errors.InvalidVouch`)."""
        r = Reader(bytes(data))
        _version(r, "vouch")
        action = r.u8("action")
        voucher, subject = r.take(_KEY, "voucher"), r.take(_KEY, "subject")
        signature = r.take(_lattice.SIGNATURE_LEN, "signature")
        r.finish("the vouch")
        if action not in (VOUCH, REVOKE):
            raise InvalidVouch(f"unknown vouch action {action}", author=voucher)
        return cls(action, voucher, subject, signature)

    def verify(self, swarm: bytes) -> bool:
        """Whether the signature holds for ``swarm`` (ZIP-215) under a usable key (one of
        small order is refused: it would verify forgeries)."""
        try:
            _lattice.check_public_key(self.voucher)
        except InvalidKey:
            return False
        message = self.message(swarm, self.action, self.voucher, self.subject)
        return _lattice.verify(self.voucher, message, self.signature)

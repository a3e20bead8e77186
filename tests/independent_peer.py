"""An independent lattice v1 peer, written from docs/protocol.md alone (no lattice code).

It implements the hashes (§1), signature checks (§2, RFC 8032 via `cryptography`), Lipmaa
links (§3), strict entry decoding (§4), log validity as far as logs alone show it (§5),
frontier roots (§6), the messages of §9, and the initiator side of a §9 connection: the
Noise_XX_25519_ChaChaPoly_BLAKE2s handshake (Noise revision 34) carrying the hellos, then
frames cut into records. `self_test()` checks it against the vectors of §3 and §6; the
Noise side is checked against a real node (tests/test_protocol_doc.py).
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass
from itertools import pairwise
from typing import cast

import blake3
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ZEROS = bytes(32)
MAX_I63 = 2**63 - 1
KINDS = {1: "DATA", 2: "NOOP", 3: "WRAP", 16: "FRAUD", 17: "ATTESTATION", 18: "SNAPSHOT"}
KINDS |= {19: "BLOB", 20: "ADMISSION", 21: "VOUCH"}
NOOP = 2
HEADER = struct.Struct(">BB32s32sQQ32s32s32s32sI32s")  # §4, 246 bytes
MAX_PAYLOAD, MAX_DEPS, MAX_ENTRY = 1_048_576, 4_096, 1_343_802
PROLOGUE = b"lattice v1 noise xx"
MAX_PLAIN = 65_535 - 16
PEER_FRAME_LIMIT, OTHER_FRAME_LIMIT = 16_777_216, 1_048_577
MESSAGES = ["FRONTIER", "ENTRIES", "REQUEST", "FRAUD", "CREDIT", "SYNCED", "OP", "OP_ACK"]
MESSAGES += ["PING", "REFUSED"]  # §9: types 1..10 in order


def blake3_derive(context: str, data: bytes) -> bytes:
    """H_d of §1: BLAKE3 in key-derivation mode with the context `lattice v1 <d>`."""
    return blake3.blake3(data, derive_key_context=context).digest()


def lipmaa(n: int) -> int:
    """§3, transcribed literally (Python integers are arbitrary precision)."""
    m, p3, x = 1, 3, n
    while m < n:
        p3 *= 3
        m = (p3 - 1) // 2
    p3 //= 3
    if m != n:
        while x != 0:
            m = (p3 - 1) // 2
            p3 //= 3
            x %= m
        if m != p3:
            p3 = m
    return n - p3


def verify_signature(public_key: bytes, message: bytes, signature: bytes) -> bool:
    # RFC 8032 verification (OpenSSL): canonical A and R, cofactorless equation. This is
    # stricter than the ZIP-215 rules of §2 (it refuses some crafted signatures lattice
    # accepts) but agrees with them on every signature an honest signer makes, which is
    # all that checking honest logs needs.
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


_P = 2**255 - 19
_Y8 = int.from_bytes(
    bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"), "little"
)


def is_small_order(key: bytes) -> bool:
    """§2: [8]A is the identity. The 8 torsion points have y in {1, -1, 0, ±y8} (mod p);
    each such y decodes (ZIP-215: y >= p reduced, x = 0 with the sign bit accepted)."""
    y = (int.from_bytes(key, "little") & (2**255 - 1)) % _P
    return y in (0, 1, _P - 1, _Y8, _P - _Y8)


def _leaf(peer: bytes, seq: int, id_: bytes) -> bytes:
    return blake3_derive("lattice v1 frontier", peer + seq.to_bytes(8, "big") + id_)


def _mth(leaves: list[bytes]) -> bytes:
    if not leaves:
        return blake3_derive("lattice v1 merkle empty", b"")
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return blake3_derive("lattice v1 merkle node", _mth(leaves[:k]) + _mth(leaves[k:]))


def frontier_root(items: list[tuple[bytes, int, bytes]]) -> bytes:
    """§6: RFC 9162 tree over the frontier leaf hashes, items sorted by peer, seq 0 left out."""
    return _mth([_leaf(p, s, i) for p, s, i in sorted(items) if s != 0])


class _Reader:
    """Strict cursor over a byte string: ValueError on truncation or trailing bytes."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ValueError(f"truncated: need {n} bytes at offset {self.pos}")
        self.pos += n
        return self.data[self.pos - n : self.pos]

    def int(self, size: int) -> int:
        return int.from_bytes(self.take(size), "big")

    def end(self) -> None:
        if self.pos != len(self.data):
            raise ValueError(f"{len(self.data) - self.pos} trailing bytes")


@dataclass(frozen=True)
class Entry:
    version: int
    kind: int
    swarm: bytes
    author: bytes
    seq: int
    lamport: int
    prev: bytes
    lipmaa: bytes
    deps_hash: bytes
    frontier_root: bytes
    payload_len: int
    payload_hash: bytes
    signature: bytes
    deps: tuple[tuple[bytes, int, bytes], ...]
    payload: bytes
    id: bytes
    raw: bytes


def _check(cond: bool, reason: str) -> None:
    if not cond:
        raise ValueError(reason)


def decode_entry(data: bytes) -> Entry:
    """§4, strict: any violation raises ValueError with the reason."""
    _check(len(data) <= MAX_ENTRY, "entry longer than 1,343,802 bytes")
    r = _Reader(data)
    header = r.take(HEADER.size)
    v, kind, swarm, author, seq, lamport, prev, lip, dh, fr, plen, ph = HEADER.unpack(header)
    signature = r.take(64)
    _check(v == 1, f"unknown version {v}")
    _check(kind in KINDS, f"unknown kind {kind}")
    _check(seq >= 1, "seq 0")
    _check(seq <= lamport <= MAX_I63, "lamport not in [seq, 2^63-1]")
    _check((prev == ZEROS) == (seq == 1), "prev zero iff seq = 1 violated")
    _check((lip == ZEROS) == (lipmaa(seq) == seq - 1), "lipmaa zero rule violated")
    _check((fr != ZEROS) == (kind == NOOP), "frontier_root non-zero iff NOOP violated")
    _check(plen <= MAX_PAYLOAD, "payload_len above 1,048,576")
    _check(kind != NOOP or plen == 0, "NOOP with a payload")
    deps_start = r.pos
    count = r.int(4)
    _check(count <= MAX_DEPS, f"{count} deps, above 4,096")
    deps = tuple((r.take(32), r.int(8), r.take(32)) for _ in range(count))
    for i, (peer, dseq, _) in enumerate(deps):
        _check(1 <= dseq <= MAX_I63, f"dep {i}: seq {dseq} out of range")
        _check(peer != author, f"dep {i} names the author")
        _check(i == 0 or deps[i - 1][0] < peer, f"dep {i}: peers not strictly ascending")
    _check(blake3_derive("lattice v1 deps", data[deps_start : r.pos]) == dh, "deps_hash mismatch")
    payload = r.take(plen)
    r.end()
    _check(blake3_derive("lattice v1 payload", payload) == ph, "payload_hash mismatch")
    id_ = blake3_derive("lattice v1 entry", header)
    fields = (v, kind, swarm, author, seq, lamport, prev, lip, dh, fr, plen, ph, signature)
    return Entry(*fields, deps, payload, id_, data)


@dataclass
class LogReport:
    entries: int
    noops: int
    signatures: int
    frontier_roots: int
    authors: int


def check_logs(entries: list[bytes], swarm: bytes, peers: list[bytes]) -> LogReport:
    """§5 items 1-5 (and §6 on NOOPs) over whole logs; AssertionError on the first failure."""
    registered = set(peers)
    logs: dict[bytes, dict[int, Entry]] = {}
    for n, raw in enumerate(entries):
        try:
            e = decode_entry(raw)
        except ValueError as err:
            raise AssertionError(f"entry #{n} does not decode: {err}") from err
        held = logs.setdefault(e.author, {}).get(e.seq)
        if held is not None and held.id != e.id:
            raise AssertionError(f"{e.author.hex()[:16]} seq {e.seq}: fork (two ids)")
        logs[e.author][e.seq] = e
    report = LogReport(0, 0, 0, 0, len(logs))
    for author, log in sorted(logs.items()):
        frontier: dict[bytes, tuple[int, bytes]] = {}  # A's frontier after entry k - 1
        for k in range(1, len(log) + 1):
            try:
                _check(k in log, "seqs not contiguous from 1")
                e = log[k]
                _check(e.swarm == swarm, "another swarm")
                _check(author in registered and not is_small_order(author), "unregistered author")
                _check(verify_signature(author, e.id, e.signature), "bad signature")
                report.signatures += 1
                if k > 1:
                    _check(e.prev == log[k - 1].id, "prev is not the id of entry k-1")
                    _check(e.lamport > log[k - 1].lamport, "lamport not above entry k-1")
                if lipmaa(k) != k - 1:
                    _check(e.lipmaa == log[lipmaa(k)].id, f"lipmaa is not the id of {lipmaa(k)}")
                for peer, s, dep_id in e.deps:
                    name = f"dep {peer.hex()[:16]}@{s}"
                    _check(peer in registered, f"{name}: not a registered peer")
                    _check(s > frontier.get(peer, (0, ZEROS))[0], f"{name}: does not advance")
                    target = logs.get(peer, {}).get(s)
                    if target is None or target.id != dep_id:
                        raise ValueError(f"{name}: not in the logs")
                    _check(e.lamport > target.lamport, f"lamport not above {name}")
                frontier.update((peer, (s, dep_id)) for peer, s, dep_id in e.deps)
                if e.kind == NOOP:
                    items = [(p, s, i) for p, (s, i) in frontier.items()]
                    items += [(author, k - 1, e.prev)] if k > 1 else []
                    _check(e.frontier_root == frontier_root(items), "NOOP frontier_root mismatch")
                    report.noops += 1
                    report.frontier_roots += 1
            except ValueError as err:
                raise AssertionError(f"{author.hex()[:16]} seq {k}: {err}") from err
            report.entries += 1
    return report


def _u(n: int, size: int) -> bytes:
    return n.to_bytes(size, "big")


def decode_message(body: bytes) -> tuple[str, dict[str, object]]:
    """§9 "Messages", strict: ValueError on anything that does not decode exactly."""
    r = _Reader(body)
    t = r.int(1)
    _check(1 <= t <= len(MESSAGES), f"unknown message type {t}")
    name, fields = MESSAGES[t - 1], dict[str, object]()
    if name == "FRONTIER":
        count = r.int(4)
        _check(count <= 16_384, f"FRONTIER count {count} above 16,384")
        items = [(r.take(32), r.int(8), r.take(32)) for _ in range(count)]
        _check(all(a[0] < b[0] for a, b in pairwise(items)), "peers not ascending")
        fields["heads"] = {p: (s, i) for p, s, i in items}
        fields["root"] = r.take(32)
        _check(fields["root"] == frontier_root(items), "FRONTIER root mismatch")
    elif name == "ENTRIES":
        count = r.int(4)
        _check(count <= 65_536, f"ENTRIES count {count} above 65,536")
        entries = []
        for _ in range(count):
            n = r.int(4)
            _check(n <= MAX_ENTRY, f"entry length {n} above 1,343,802")
            entries.append(r.take(n))
        fields["entries"] = entries
    elif name == "REQUEST":
        count = r.int(4)
        _check(count <= 4_096, f"REQUEST count {count} above 4,096")
        requests: list[tuple[bytes, int, int, bytes | None]] = []
        for _ in range(count):
            author, first, last, has_id = r.take(32), r.int(8), r.int(8), r.int(1)
            _check(has_id in (0, 1), f"has_id {has_id}")
            requests.append((author, first, last, r.take(32) if has_id else None))
        fields["requests"] = requests
    elif name == "FRAUD":
        fields["proof"] = r.take(621)
        _check(body[1] == 1, "fraud proof version not 1")
    elif name == "CREDIT":
        fields["bytes"] = r.int(4)
    elif name == "OP":
        start = r.pos
        _check(r.int(1) == 1, "client op version not 1")
        fields.update(swarm=r.take(32), client=r.take(32), nonce=r.int(8))
        fields["payload"] = r.take(r.int(4))
        op_id = blake3_derive("lattice v1 client op", body[start : r.pos])
        fields.update(signature=r.take(64), id=op_id, op=body[start:])
        _check(len(body) - start <= MAX_PAYLOAD, "client op above 1,048,576 bytes")
    elif name == "OP_ACK":
        fields.update(entry_id=r.take(32), seq=r.int(8))
    elif name == "REFUSED":
        n = r.int(2)
        _check(n <= 1_024, f"REFUSED reason length {n} above 1,024")
        fields["reason"] = r.take(n).decode("utf-8")  # UnicodeDecodeError is a ValueError
    r.end()
    return name, fields


def encode_message(name: str, **fields: object) -> bytes:
    """Encode a §9 message; FRONTIER takes `heads` ({peer: (seq, id)}) and computes its root."""
    out = _u(MESSAGES.index(name) + 1, 1)
    if name == "FRONTIER":
        heads = cast(dict[bytes, tuple[int, bytes]], fields["heads"])
        items = sorted((p, s, i) for p, (s, i) in heads.items())
        out += _u(len(items), 4) + b"".join(p + _u(s, 8) + i for p, s, i in items)
        out += frontier_root(items)
    elif name == "ENTRIES":
        blobs = cast(list[bytes], fields["entries"])
        out += _u(len(blobs), 4) + b"".join(_u(len(b), 4) + b for b in blobs)
    elif name == "REQUEST":
        reqs = cast(list[tuple[bytes, int, int, bytes | None]], fields["requests"])
        out += _u(len(reqs), 4)
        for author, first, last, id_ in reqs:
            out += author + _u(first, 8) + _u(last, 8) + (b"\x00" if id_ is None else b"\x01" + id_)
    elif name in ("FRAUD", "OP"):
        out += cast(bytes, fields["proof" if name == "FRAUD" else "op"])
    elif name == "CREDIT":
        out += _u(cast(int, fields["bytes"]), 4)
    elif name == "OP_ACK":
        out += cast(bytes, fields["entry_id"]) + _u(cast(int, fields["seq"]), 8)
    elif name == "REFUSED":
        reason = cast(str, fields["reason"]).encode()
        out += _u(len(reason), 2) + reason
    return out


# --- Noise (revision 34): Noise_XX_25519_ChaChaPoly_BLAKE2s -----------------------------------


def _blake2s(data: bytes) -> bytes:
    h = hashes.Hash(hashes.BLAKE2s(32))
    h.update(data)
    return h.finalize()


def _hmac(key: bytes, data: bytes) -> bytes:
    h = hmac.HMAC(key, hashes.BLAKE2s(32))
    h.update(data)
    return h.finalize()


def _hkdf(ck: bytes, ikm: bytes) -> tuple[bytes, bytes]:
    temp = _hmac(ck, ikm)
    out1 = _hmac(temp, b"\x01")
    return out1, _hmac(temp, out1 + b"\x02")


def _pub(key: X25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


class _Cipher:
    """Noise CipherState: ChaChaPoly, nonce = 4 zero bytes || n u64 little-endian."""

    def __init__(self, key: bytes | None) -> None:
        self.key, self.n = key, 0

    def _nonce(self) -> bytes:
        self.n += 1
        return bytes(4) + (self.n - 1).to_bytes(8, "little")

    def encrypt(self, ad: bytes, plaintext: bytes) -> bytes:
        if self.key is None:
            return plaintext
        return ChaCha20Poly1305(self.key).encrypt(self._nonce(), plaintext, ad)

    def decrypt(self, ad: bytes, ciphertext: bytes) -> bytes:
        if self.key is None:
            return ciphertext
        try:
            return ChaCha20Poly1305(self.key).decrypt(self._nonce(), ciphertext, ad)
        except InvalidTag as err:
            raise ValueError("Noise message fails authentication") from err


class _XXInitiator:
    """The initiator's HandshakeState for XX: -> e; <- e, ee, s, es; -> s, se."""

    def __init__(self, prologue: bytes, e: X25519PrivateKey, s: X25519PrivateKey) -> None:
        self.h = self.ck = _blake2s(b"Noise_XX_25519_ChaChaPoly_BLAKE2s")  # 33 bytes > HASHLEN
        self.cipher, self.e, self.s = _Cipher(None), e, s
        self._mix_hash(prologue)
        self.re = self.rs = b""

    def _mix_hash(self, data: bytes) -> None:
        self.h = _blake2s(self.h + data)

    def _mix_key(self, ikm: bytes) -> None:
        self.ck, key = _hkdf(self.ck, ikm)
        self.cipher = _Cipher(key)

    def _encrypt_and_hash(self, plaintext: bytes) -> bytes:
        ciphertext = self.cipher.encrypt(self.h, plaintext)
        self._mix_hash(ciphertext)
        return ciphertext

    def _decrypt_and_hash(self, ciphertext: bytes) -> bytes:
        plaintext = self.cipher.decrypt(self.h, ciphertext)
        self._mix_hash(ciphertext)
        return plaintext

    def _dh(self, key: X25519PrivateKey, public: bytes) -> bytes:
        return key.exchange(X25519PublicKey.from_public_bytes(public))

    def write1(self, payload: bytes) -> bytes:
        self._mix_hash(_pub(self.e))
        return _pub(self.e) + self._encrypt_and_hash(payload)

    def read2(self, message: bytes) -> bytes:
        _check(len(message) >= 32 + 48 + 16, "handshake message 2 too short")
        self.re = message[:32]
        self._mix_hash(self.re)
        self._mix_key(self._dh(self.e, self.re))
        self.rs = self._decrypt_and_hash(message[32:80])
        self._mix_key(self._dh(self.e, self.rs))
        return self._decrypt_and_hash(message[80:])

    def write3(self, payload: bytes) -> bytes:
        static = self._encrypt_and_hash(_pub(self.s))
        self._mix_key(self._dh(self.s, self.re))
        return static + self._encrypt_and_hash(payload)

    def split(self) -> tuple[_Cipher, _Cipher]:
        k1, k2 = _hkdf(self.ck, b"")
        return _Cipher(k1), _Cipher(k2)  # (initiator -> responder, responder -> initiator)


def _binding_hash(static: bytes, swarm: bytes, role: int) -> bytes:
    return blake3_derive("lattice v1 noise binding", static + swarm + _u(role, 1))


class Connection:
    """A Noise_XX_25519_ChaChaPoly_BLAKE2s connection over a blocking socket (initiator side),
    per §9, implemented with cryptography's X25519, ChaCha20Poly1305 and hashes.BLAKE2s
    (HMAC/HKDF per the Noise spec)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.remote_identity, self.remote_role, self.remote_swarm = b"", 0, b""
        self._send, self._recv = _Cipher(None), _Cipher(None)

    @classmethod
    def dial(
        cls,
        address: tuple[str, int],
        identity_seed: bytes,
        swarm: bytes,
        role: int = 1,
        timeout: float = 10.0,
    ) -> Connection:
        conn = cls(socket.create_connection(address, timeout=timeout))
        try:
            conn._handshake(Ed25519PrivateKey.from_private_bytes(identity_seed), swarm, role)
        except BaseException:
            conn.close()
            raise
        return conn

    def _handshake(self, identity: Ed25519PrivateKey, swarm: bytes, role: int) -> None:
        static = X25519PrivateKey.generate()  # fresh at every start (§9)
        hs = _XXInitiator(PROLOGUE, X25519PrivateKey.generate(), static)
        self._write_record(hs.write1(b""))
        r = _Reader(hs.read2(self._read_record()))
        _check(r.int(1) == 1, "hello version not 1")
        self.remote_role = r.int(1)
        _check(self.remote_role in (1, 2, 3), f"hello role {self.remote_role}")
        self.remote_swarm, self.remote_identity, binding = r.take(32), r.take(32), r.take(64)
        attestation_len = r.int(2)
        _check(attestation_len <= 4_096, "attestation above 4,096 bytes")
        r.take(attestation_len)
        r.end()
        _check(not is_small_order(self.remote_identity), "remote identity of small order")
        bound = _binding_hash(hs.rs, self.remote_swarm, self.remote_role)
        _check(verify_signature(self.remote_identity, bound, binding), "bad hello binding")
        me = identity.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        sig = identity.sign(_binding_hash(_pub(static), swarm, role))
        hello = _u(1, 1) + _u(role, 1) + swarm + me + sig + _u(0, 2)
        self._write_record(hs.write3(hello))
        self._send, self._recv = hs.split()

    def _write_record(self, message: bytes) -> None:
        _check(1 <= len(message) <= 65_535, "record length out of range")
        self.sock.sendall(_u(len(message), 2) + message)

    def _read_exact(self, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("connection closed by the peer")
            buf += chunk
        return bytes(buf)

    def _read_record(self) -> bytes:
        n = int.from_bytes(self._read_exact(2), "big")
        _check(n >= 1, "record of length 0")
        return self._read_exact(n)

    def send(self, body: bytes) -> None:
        """Send one frame (len u32 || body), cut into records of at most 65,519 plaintext bytes."""
        frame = _u(len(body), 4) + body
        for i in range(0, len(frame), MAX_PLAIN):
            self._write_record(self._send.encrypt(b"", frame[i : i + MAX_PLAIN]))

    def recv(self) -> bytes:
        """The next frame's body: records reassembled until 4 + len bytes, strictly."""
        limit = PEER_FRAME_LIMIT if self.remote_role == 1 else OTHER_FRAME_LIMIT
        buf, need = bytearray(), -1
        while need < 0 or len(buf) < need:
            buf += self._recv.decrypt(b"", self._read_record())
            if need < 0 and len(buf) >= 4:
                need = 4 + int.from_bytes(buf[:4], "big")
                _check(need - 4 <= limit, f"frame of {need - 4} bytes above the limit")
        _check(len(buf) == need, "record runs past the end of its frame")
        return bytes(buf[4:])

    def close(self) -> None:
        self.sock.close()


def self_test() -> None:
    """The vectors of §3 and §6, and a FRONTIER round trip."""
    want = "1 2 1 4 5 6 4 8 9 10 8 4 13 14 15 13 17 18 19 17 21 22 23 21 13 26 27 28 26 30 31 32"
    want += " 30 34 35 36 34 26 13"
    assert lipmaa(1) == 0 and [lipmaa(n) for n in range(2, 41)] == [int(x) for x in want.split()]
    assert lipmaa(2**63 - 1) < 2**63 - 1
    items = [(b"\x02" * 32, 1, b"\xbb" * 32), (b"\x01" * 32, 3, b"\xaa" * 32)]
    items.append((b"\x03" * 32, 7, b"\xcc" * 32))
    root = "dc03749ff31abf97e6b463369b08d6b367a436beeb1e2b719d41ebbd225db777"
    assert frontier_root(items).hex() == root
    leaf = "f9c99250e33b8a5548518053d2644ae1ef0a86bbd79172439bed69dcecbc2a80"
    assert frontier_root(items[1:2]).hex() == leaf
    empty = "a30488624d347278bc957330fd329d9f10f261cba6a336f66bf63160ca94c4d0"
    assert frontier_root([]).hex() == empty
    heads = {p: (s, i) for p, s, i in items}
    assert decode_message(encode_message("FRONTIER", heads=heads)) == (
        "FRONTIER",
        {"heads": dict(sorted(heads.items())), "root": bytes.fromhex(root)},
    )

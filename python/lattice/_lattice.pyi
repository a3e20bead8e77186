"""Type stubs for lattice's Rust core (``lattice._lattice``).

Users import from :mod:`lattice`; this module is private. Every byte string argument
takes any bytes-like object (``bytes``, ``bytearray``, ``memoryview``, ``array('B')``, a
numpy ``uint8`` array), every sequence argument any ordered iterable (a list, a tuple, a
generator), and long work releases the GIL.
"""

from collections.abc import Callable, Iterable, Mapping
from typing import final

import numpy as np
from numpy.typing import NDArray
from typing_extensions import Buffer, deprecated

from lattice.errors import LatticeError

__version__: str

HEADER_LEN: int
"""Length of an encoded entry header (246)."""
SIGNATURE_LEN: int
"""Length of an Ed25519 signature (64)."""
SIGNED_HEADER_LEN: int
"""Header plus signature (310): what a fraud proof carries per version."""
ID_LEN: int
"""Length of an entry id, a public key, a swarm id and every hash (32)."""
DEP_LEN: int
"""Length of one encoded dependency item: peer, seq, id (72)."""
MAX_DEPS: int
"""Most dependency items one entry may carry (4096)."""
MAX_PAYLOAD_LEN: int
"""Largest payload one entry may carry (1 MiB)."""
MAX_ENTRY_LEN: int
"""Largest encoded entry."""
FORMAT_VERSION: int
"""The entry format version this build reads and writes (1)."""
KIND_DATA: int
KIND_NOOP: int
KIND_WRAP: int
KIND_FRAUD: int
KIND_ATTESTATION: int
KIND_SNAPSHOT: int
KIND_BLOB: int
KIND_ADMISSION: int
KIND_VOUCH: int
DOMAINS: tuple[str, ...]
"""Names of the hash domains accepted by :func:`hash` (see docs/format.md)."""

def hash(domain: str, data: Buffer) -> bytes:
    """BLAKE3 in key-derivation mode under one of lattice's domains (32 bytes).

    >>> from lattice import hash
    >>> len(hash("payload", b"hello"))
    32
    """

def blake3_raw(data: Buffer, length: int = 32) -> bytes:
    """Plain BLAKE3 hash mode with extended output, for replaying BLAKE3's test vectors.

    Lattice itself never hashes without a domain; use :func:`hash`.

    >>> blake3_raw(b"").hex()[:16]
    'af1349b9f5f9a1a6'
    """

def blake3_derive_key(context: str, material: Buffer, length: int = 32) -> bytes:
    """BLAKE3 key-derivation mode with any context string (what :func:`hash` uses).

    >>> blake3_derive_key("lattice v1 payload", b"x") == hash("payload", b"x")
    True
    """

POW_MAX_TARGET: int

def pow_hash(public_key: Buffer, swarm: Buffer, target: int, nonce: int) -> bytes:
    """``H_pow(public key ‖ swarm ‖ target ‖ nonce)`` (DESIGN §11): one attempt's hash.

    >>> len(pow_hash(bytes(32), bytes(32), 8, 0))
    32
    """

def pow_check(
    public_key: Buffer, swarm: Buffer, target: int, nonce: int, min_target: int = 0
) -> bytes:
    """Check a proof of work: its hash, or ``InvalidProofOfWork`` (a target below
    ``min_target``, or a hash without ``target`` leading zero bits).

    >>> nonce = pow_search(bytes(32), bytes(32), 4)
    >>> len(pow_check(bytes(32), bytes(32), 4, nonce, 4))
    32
    """

def pow_search(
    public_key: Buffer,
    swarm: Buffer,
    target: int,
    start: int = 0,
    attempts: int | None = None,
    threads: int = 0,
    progress: Callable[[int], object] | None = None,
) -> int | None:
    """Search for a nonce meeting ``target`` on ``threads`` threads (0: every core), the GIL
    released; ``progress(attempts)`` every million attempts stops it by answering false.

    >>> pow_search(bytes(32), bytes(32), 60, attempts=1000) is None
    True
    """

def thin_select_sum(rows: Buffer, k: int, c: Buffer) -> bytes:
    """``rows · c`` mod 2⁶⁴: ``rows`` are ``k`` rows of 0/1 bytes (``k × m``, row-major),
    ``c`` an ``m × n`` ``uint64`` matrix; ``k × n`` little-endian ``uint64`` values.

    >>> import numpy as np
    >>> c = np.array([[1, 2], [3, 4]], dtype=np.uint64)
    >>> np.frombuffer(thin_select_sum(bytes([1, 1]), 1, c), dtype="<u8").tolist()
    [4, 6]
    """

def thin_product(x: Buffer, b: Buffer) -> bytes:
    """``x · b`` mod 2⁶⁴ for ``uint64`` matrices ``x`` (``k × n``) and ``b`` (``n × p``);
    ``k × p`` little-endian ``uint64`` values.

    >>> import numpy as np
    >>> b = np.array([[1, 2], [3, 4]], dtype=np.uint64)
    >>> x = np.array([[2**64 - 1, 1]], dtype=np.uint64)
    >>> np.frombuffer(thin_product(x, b), dtype="<u8").tolist()
    [2, 2]
    """

@final
class SigningKey:
    """An Ed25519 secret key held in Rust. Wrapped by :class:`lattice.Identity`.

    >>> sk = SigningKey.generate()
    >>> len(sk.sign(b"msg"))
    64
    """

    @staticmethod
    def generate() -> SigningKey:
        """A fresh key from the operating system's random source."""
    @staticmethod
    def from_seed(seed: Buffer) -> SigningKey:
        """The key with this 32-byte RFC 8032 seed (raises ``InvalidKey`` on another length)."""
    def seed(self) -> bytes:
        """The 32-byte seed. Handle with care: it is the secret."""
    @property
    def public_key(self) -> bytes:
        """The 32-byte public key."""
    def sign(self, message: Buffer) -> bytes:
        """A 64-byte Ed25519 signature over ``message``."""

def verify(public_key: Buffer, message: Buffer, signature: Buffer) -> bool:
    """Verify one Ed25519 signature under ZIP-215 rules.

    >>> sk = SigningKey.generate()
    >>> verify(sk.public_key, b"m", sk.sign(b"m"))
    True
    """

def verify_batch(
    public_keys: Iterable[Buffer],
    messages: Iterable[Buffer],
    signatures: Iterable[Buffer],
    *,
    threads: int | None = None,
) -> list[bool]:
    """Verify many signatures at once (ZIP-215), returning one verdict per item.

    The batch equation is only a speed-up: when a batch fails, every item is verified on
    its own, so a verdict never depends on the batch it came in. Work is split across
    ``threads`` worker threads (default: all cores; 1 runs on the calling thread) with the
    GIL released. Raises ``DecodeError`` if the three sequences differ in length or an item
    has the wrong size.

    >>> sk = SigningKey.generate()
    >>> verify_batch([sk.public_key] * 2, [b"a", b"b"], [sk.sign(b"a"), sk.sign(b"a")])
    [True, False]
    """

def check_public_key(public_key: Buffer) -> bytes:
    """Return the key if it may identify a peer, else raise ``InvalidKey``.

    Refuses keys that are not 32 bytes, do not decode to a curve point, or are of small
    order (DESIGN §2: such keys are refused at admission).

    >>> check_public_key(bytes(32))
    Traceback (most recent call last):
    ...
    lattice.errors.InvalidKey: ...
    """

@final
class Entry:
    """One decoded, structurally valid entry (DESIGN §3), or a signed header alone
    (:meth:`header_from_bytes`). Immutable.

    >>> sk = SigningKey.generate()
    >>> e = Entry.create(sk, swarm=bytes(32), seq=1, lamport=1, payload=b"hi")
    >>> Entry.from_bytes(e.to_bytes()).id == e.id
    True
    """

    @staticmethod
    def create(
        signing_key: SigningKey,
        *,
        swarm: Buffer,
        seq: int,
        lamport: int,
        prev: Buffer | None = None,
        lipmaa: Buffer | None = None,
        deps: Mapping[bytes, tuple[int, bytes]] | None = None,
        payload: Buffer | None = None,
        kind: int = 1,
        frontier_root: Buffer | None = None,
    ) -> Entry:
        """Build and sign an entry (DESIGN §3).

        ``seq`` is its position in the author's log (from 1) and ``lamport`` its Lamport
        time; ``prev`` and ``lipmaa`` are the ids of the author's entries at ``seq - 1``
        and ``lipmaa(seq)`` (zeros by default, as at seq 1); ``deps`` maps each other
        peer whose frontier advanced since the author's last entry to ``(seq, id)``;
        ``kind`` is a ``lattice.Kind``; ``frontier_root`` commits to the author's
        frontier after this entry. Chain rules are the replica's to check: this builds
        any structurally valid entry. Raises ``DecodeError`` if it would not decode
        (payload or deps over their limits, an unknown kind; ``LimitExceeded`` for a
        number that does not fit in 64 bits) and ``InvalidArgument`` for an id that is
        not 32 bytes.

        >>> sk = SigningKey.generate()
        >>> e = Entry.create(sk, swarm=bytes(32), seq=1, lamport=1, payload=b"hi")
        >>> (e.seq, e.author == sk.public_key, e.verify_signature())
        (1, True, True)
        """
    @staticmethod
    def from_bytes(data: Buffer) -> Entry:
        """Decode an entry, rejecting anything non-canonical with a typed error."""
    @staticmethod
    def header_from_bytes(data: Buffer) -> Entry:
        """Decode a signed header alone (310 bytes); ``payload`` and ``deps`` are empty."""
    def to_bytes(self) -> bytes:
        """The canonical encoding (the exact bytes that were decoded)."""
    def signed_header(self) -> bytes:
        """Header and signature (310 bytes)."""
    def header(self) -> bytes:
        """The 246-byte header that the id hashes."""
    def verify_signature(self) -> bool:
        """Check the author's signature over the id (ZIP-215)."""
    @property
    def id(self) -> bytes:
        """The entry id: the entry-domain BLAKE3 hash of its 246-byte header."""
    @property
    def version(self) -> int:
        """The format version (1)."""
    @property
    def kind(self) -> int:
        """The entry kind (``lattice.Kind``: 1 DATA, 2 NOOP, …)."""
    @property
    def swarm(self) -> bytes:
        """The swarm id the entry belongs to."""
    @property
    def author(self) -> bytes:
        """The author's Ed25519 public key."""
    @property
    def seq(self) -> int:
        """The entry's position in its author's log, from 1."""
    @property
    def lamport(self) -> int:
        """The Lamport timestamp: above every entry it depends on."""
    @property
    def prev(self) -> bytes:
        """The id of the author's entry at ``seq - 1`` (zeros at seq 1)."""
    @property
    def lipmaa(self) -> bytes:
        """The id of the author's entry at ``lipmaa(seq)`` (``prev`` when that is
        ``seq - 1``)."""
    @property
    def deps_hash(self) -> bytes:
        """The hash of the dependency delta that the header commits to."""
    @property
    def frontier_root(self) -> bytes:
        """The root of the author's frontier after this entry (DESIGN §5)."""
    @property
    def payload_len(self) -> int:
        """Length of the payload in bytes."""
    @property
    def payload_hash(self) -> bytes:
        """The payload-domain BLAKE3 hash of the payload."""
    @property
    def signature(self) -> bytes:
        """The author's Ed25519 signature over the id."""
    @property
    def deps(self) -> dict[bytes, tuple[int, bytes]]:
        """Dependency delta: peer public key -> (seq, id)."""
    @property
    def payload(self) -> bytes:
        """The payload (empty for a header decoded alone)."""
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class ChainReport:
    """Outcome of :func:`validate_chain`."""

    @property
    def ok(self) -> bool:
        """True when every entry passed."""
    @property
    def ids(self) -> list[bytes]:
        """Ids of the valid prefix, in order."""
    @property
    def failure_index(self) -> int | None:
        """Index of the first entry that failed, or None."""
    @property
    def failure_seq(self) -> int | None:
        """Seq of the first entry that failed, if it decoded far enough to have one."""
    @property
    def reason(self) -> str | None:
        """Why the first failing entry failed."""
    @property
    def error(self) -> Exception | None:
        """The typed ``lattice.errors`` exception describing the failure."""
    def raise_for_failure(self) -> None:
        """Raise :attr:`error` if the segment failed."""

def validate_chain(
    entries: Iterable[Buffer] | Buffer,
    *,
    prior: Mapping[int, bytes] | None = None,
    author: Buffer | None = None,
    swarm: Buffer | None = None,
    verify_signatures: bool = False,
    threads: int | None = None,
) -> ChainReport:
    """Validate one author's contiguous segment of encoded entries in one call.

    ``entries`` is an iterable of encoded entries (a list, a generator) or one buffer of
    them back to back. Links that point before the segment are checked against ``prior``
    (seq -> id).

    >>> sk = SigningKey.generate()
    >>> e = Entry.create(sk, swarm=bytes(32), seq=1, lamport=1)
    >>> validate_chain([e.to_bytes()], verify_signatures=True).ok
    True
    """

def lipmaa(n: int) -> int:
    """The seq that entry ``n`` links to besides ``n - 1`` (DESIGN §2); 0 for n = 1.

    >>> lipmaa(40)
    13
    """

def lipmaa_path(start: int, end: int) -> list[int]:
    """Shortest path of seqs from ``start`` down to ``end`` following prev/lipmaa links.

    >>> lipmaa_path(40, 1)
    [40, 13, 4, 1]
    """

def merkle_leaf_hash(data: Buffer, algorithm: str = "blake3") -> bytes:
    """Leaf hash of ``data`` (``algorithm`` is ``"blake3"`` or ``"sha256"``)."""

def merkle_root(leaves: Iterable[Buffer], algorithm: str = "blake3") -> bytes:
    """RFC 9162 root over the leaf data.

    >>> merkle_root([b"a", b"b"], "sha256").hex()[:8]
    'b137985f'
    """

def merkle_root_from_hashes(leaf_hashes: Iterable[Buffer], algorithm: str = "blake3") -> bytes:
    """RFC 9162 root over already-hashed leaves."""

def merkle_inclusion_proof(
    leaves: Iterable[Buffer], index: int, algorithm: str = "blake3"
) -> list[bytes]:
    """Audit path for leaf ``index`` (RFC 9162 §2.1.3.1)."""

def merkle_verify_inclusion(
    leaf_hash: Buffer,
    index: int,
    tree_size: int,
    proof: Iterable[Buffer],
    root: Buffer,
    algorithm: str = "blake3",
) -> bool:
    """Check an inclusion proof (RFC 9162 §2.1.3.2); False on any mismatch or bad input."""

def merkle_consistency_proof(
    leaves: Iterable[Buffer], old_size: int, algorithm: str = "blake3"
) -> list[bytes]:
    """Consistency proof from the first ``old_size`` leaves to all of them (RFC 9162 §2.1.4.1)."""

def merkle_verify_consistency(
    old_size: int,
    new_size: int,
    old_root: Buffer,
    new_root: Buffer,
    proof: Iterable[Buffer],
    algorithm: str = "blake3",
) -> bool:
    """Check a consistency proof (RFC 9162 §2.1.4.2); False on any mismatch or bad input."""

@final
class Matrix:
    """The N×N entanglement-matrix kernel (DESIGN §4): rows observers, columns senders.

    Cells only grow. numpy sees the cells without a copy: ``numpy.asarray(m)`` is a live,
    read-only N×N ``uint64`` view indexed ``[observer, sender]``.

    >>> m = Matrix(3)
    >>> m.update_row(0, [(0, 2), (1, 1)])
    2
    >>> m.known_to_quorum_indexed(2)
    [0, 0, 0]

    Its answers are lists by peer position; :class:`lattice.EntanglementMatrix` has the
    same queries keyed by peer (``known_to_quorum`` and ``known_to_all``, dicts).
    """

    def __new__(cls, n: int) -> Matrix: ...
    @property
    def n(self) -> int:
        """Number of peers (rows and columns)."""
    def get(self, observer: int, sender: int) -> int:
        """The cell ``[observer, sender]``: the highest seq of ``sender`` that
        ``observer`` has provably seen."""
    def update_row(self, observer: int, delta: Iterable[tuple[int, int]]) -> int:
        """Raise cells of one row to at least the given seqs; returns how many grew. O(delta)."""
    def freeze(self, sender: int, cap: int) -> int:
        """Cap ``sender``'s column at ``cap`` for good (a proven fork, DESIGN §4): cells
        above it are lowered, later updates are capped. Returns how many cells were lowered."""
    def frozen_at(self, sender: int) -> int | None:
        """The cap of ``sender``'s column if it is frozen."""
    def row(self, observer: int) -> list[int]:
        """What ``observer`` has provably seen of every sender."""
    def column(self, sender: int) -> list[int]:
        """What every observer has provably seen of ``sender``."""
    def known_to_all_indexed(self) -> list[int]:
        """Per sender position, the minimum over observers."""
    def known_to_quorum_indexed(self, q: int, *, threads: int | None = None) -> list[int]:
        """Per sender position, the ``q``-th largest value over observers (1 ≤ q ≤ N)."""
    @deprecated("Matrix.known_to_all() is now known_to_all_indexed(); removed in lattice 0.2")
    def known_to_all(self) -> list[int]:
        """Deprecated: :meth:`known_to_all_indexed` (lattice 0.2 removes this name)."""
    @deprecated("Matrix.known_to_quorum(q) is now known_to_quorum_indexed(q); removed in 0.2")
    def known_to_quorum(self, q: int, *, threads: int | None = None) -> list[int]:
        """Deprecated: :meth:`known_to_quorum_indexed` (lattice 0.2 removes this name)."""
    def acceptance(self, sender: int, seq: int) -> int:
        """How many observers have seen ``sender``'s entry ``seq``."""
    def to_numpy(self) -> NDArray[np.uint64]:
        """The live, read-only N×N ``uint64`` view (no copy), indexed ``[observer, sender]``."""
    def __buffer__(self, flags: int, /) -> memoryview: ...
    def __release_buffer__(self, view: memoryview, /) -> None: ...

def synthetic_log(
    signing_key: SigningKey, swarm: Buffer, count: int, payload_len: int = 0
) -> list[bytes]:
    """``count`` valid signed DATA entries of one author (seqs 1..count), for benchmarks.

    >>> log = synthetic_log(SigningKey.generate(), bytes(32), 3)
    >>> validate_chain(log, verify_signatures=True).ok
    True
    """

def merkle_verify_subtree_inclusion(
    leaf_hash: Buffer,
    index: int,
    start: int,
    end: int,
    proof: Iterable[Buffer],
    root: Buffer,
    algorithm: str = "blake3",
) -> bool:
    """Check that leaf ``index`` is in the subtree ``[start, end)`` with hash ``root``."""

def merkle_verify_subtree_consistency(
    start: int,
    end: int,
    size: int,
    subtree_root: Buffer,
    root: Buffer,
    proof: Iterable[Buffer],
    algorithm: str = "blake3",
) -> bool:
    """Check that the subtree ``[start, end)`` with hash ``subtree_root`` is part of the tree
    of ``size`` leaves with hash ``root`` (docs/format.md, "Subtree proofs")."""

def decode_entries(
    items: Iterable[Buffer], *, verify_signatures: bool = True, threads: int | None = None
) -> list[Entry | LatticeError]:
    """Decode a batch of entries and verify their signatures in one batch.

    One result per input, in order: the :class:`Entry`, or the ``lattice.errors`` exception
    (not raised) saying why it is not a valid entry, with ``index`` set.

    >>> sk = SigningKey.generate()
    >>> good = Entry.create(sk, swarm=bytes(32), seq=1, lamport=1).to_bytes()
    >>> [type(r).__name__ for r in decode_entries([good, good + b"x"])]
    ['Entry', 'TrailingBytes']
    """

def frontier_root(items: Iterable[tuple[Buffer, int, Buffer]]) -> bytes:
    """Merkle root over a frontier: ``(peer, seq, id)`` items strictly ascending by peer.

    >>> frontier_root([]) == hash("merkle empty", b"")
    True
    """

def frontier_inclusion_proof(
    items: Iterable[tuple[Buffer, int, Buffer]], index: int
) -> list[bytes]:
    """Inclusion proof of item ``index`` in the frontier tree."""

def frontier_verify_inclusion(
    item: tuple[Buffer, int, Buffer],
    index: int,
    size: int,
    proof: Iterable[Buffer],
    root: Buffer,
) -> bool:
    """Check that ``item`` is leaf ``index`` of a frontier of ``size`` items with ``root``."""

MAX_CLIENT_PAYLOAD_LEN: int
"""Largest client op payload (an op must fit in one entry)."""

@final
class ClientOp:
    """A client's signed op (DESIGN §6), wrapped by its home peer in a WRAP entry.

    >>> sk = SigningKey.generate()
    >>> op = ClientOp.create(sk, bytes(32), 1, b"pay 5")
    >>> ClientOp.from_bytes(op.to_bytes()).verify()
    True
    """

    @staticmethod
    def create(signing_key: SigningKey, swarm: Buffer, nonce: int, payload: Buffer) -> ClientOp:
        """Create and sign an op."""
    @staticmethod
    def from_bytes(data: Buffer) -> ClientOp:
        """Decode an op, rejecting anything non-canonical with a typed error."""
    def to_bytes(self) -> bytes:
        """The canonical encoding."""
    def verify(self) -> bool:
        """Check the client's signature (ZIP-215)."""
    @property
    def id(self) -> bytes:
        """The op id: the client-op-domain hash of everything before the signature."""
    @property
    def swarm(self) -> bytes:
        """The swarm the op is for."""
    @property
    def client(self) -> bytes:
        """The client's public key."""
    @property
    def nonce(self) -> int:
        """The client's number for this op (nanoseconds from the clock): a home peer
        wraps each once, within a window below the client's highest."""
    @property
    def payload(self) -> bytes:
        """The op itself."""
    @property
    def signature(self) -> bytes:
        """The client's signature over the id."""
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

FRAUD_PROOF_LEN: int
"""Length of an encoded fraud proof (1 + 2 × 310)."""

@final
class FraudProof:
    """Two validly signed headers of one author at one seq with different ids (DESIGN §5).

    Anyone can check one with nothing but the swarm id: the author's key is in the
    headers. The encoding is canonical (the smaller id first).

    >>> sk = SigningKey.generate()
    >>> p = Entry.create(sk, swarm=bytes(32), seq=1, lamport=1, payload=b"P")
    >>> q = Entry.create(sk, swarm=bytes(32), seq=1, lamport=1, payload=b"Q")
    >>> proof = FraudProof.from_entries(p, q)
    >>> proof.verify(bytes(32)), proof.seq, proof.author == sk.public_key
    (True, 1, True)
    >>> FraudProof.from_bytes(proof.to_bytes()) == proof
    True
    """

    @staticmethod
    def from_bytes(data: Buffer) -> FraudProof:
        """Decode a proof (structure only: :meth:`verify` says if it proves anything)."""
    @staticmethod
    def from_headers(a: Buffer, b: Buffer) -> FraudProof:
        """The proof made of two signed headers (310 bytes each), in either order."""
    @staticmethod
    def from_entries(a: Entry, b: Entry) -> FraudProof:
        """The proof made of two entries' signed headers, in either order."""
    def to_bytes(self) -> bytes:
        """The canonical encoding."""
    def verify(self, swarm_id: Buffer) -> bool:
        """True if the proof proves a fork in this swarm: same author and seq, different
        ids, a usable author key, both signatures valid (ZIP-215)."""
    def check(self, swarm_id: Buffer) -> None:
        """Like :meth:`verify`, but raise :class:`~lattice.errors.InvalidFraudProof` saying
        why the proof fails."""
    @property
    def author(self) -> bytes:
        """The peer that signed two entries at one seq."""
    @property
    def seq(self) -> int:
        """The seq at which it forked."""
    @property
    def swarm(self) -> bytes:
        """The swarm the two headers belong to."""
    @property
    def ids(self) -> tuple[bytes, bytes]:
        """The two entry ids, smaller first."""
    @property
    def headers(self) -> tuple[bytes, bytes]:
        """The two signed headers, in the order of :attr:`ids`."""
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

NOISE_PATTERN: str
"""``Noise_XX_25519_ChaChaPoly_BLAKE2s`` (DESIGN §7)."""
MAX_FRAME_LEN: int
"""Largest frame body one connection accepts (16 MiB); anything larger closes it."""
MAX_NOISE_MESSAGE: int
"""Largest Noise message, and so largest wire record (65535)."""
MAX_ATTESTATION_LEN: int
"""Largest remote-attestation answer a hello may carry."""
ROLE_PEER: int
ROLE_CLIENT: int
ROLE_GUEST: int
ROLE_WORKER: int

@final
class NoiseKeypair:
    """An X25519 static keypair for Noise, fresh per node start; a :class:`Hello` binds it
    to the node's Ed25519 identity."""

    @staticmethod
    def generate() -> NoiseKeypair:
        """A fresh X25519 keypair."""
    @property
    def public(self) -> bytes:
        """The public half (32 bytes)."""

@final
class Hello:
    """The handshake payload: identity, swarm, role, and the identity's signature over the
    Noise static key (the binding), plus room for a remote-attestation answer.

    >>> sk, noise = SigningKey.generate(), NoiseKeypair.generate()
    >>> hello = Hello.create(sk, noise.public, bytes(32), ROLE_PEER)
    >>> Hello.from_bytes(hello.to_bytes()).binds(noise.public)
    True
    >>> hello.binds(NoiseKeypair.generate().public)
    False
    """

    @staticmethod
    def create(
        signing_key: SigningKey,
        noise_static: Buffer,
        swarm: Buffer,
        role: int,
        attestation: Buffer | None = None,
    ) -> Hello:
        """The hello of the identity ``signing_key`` for one handshake: it signs the Noise
        static key ``noise_static`` with ``swarm`` and ``role`` (the binding), and carries
        ``attestation`` (at most ``MAX_ATTESTATION_LEN`` bytes)."""
    @staticmethod
    def from_bytes(data: Buffer) -> Hello:
        """Decode a hello, rejecting anything non-canonical with a typed error."""
    def to_bytes(self) -> bytes:
        """The canonical encoding (what the handshake carries)."""
    def binds(self, noise_static: Buffer) -> bool:
        """True if the identity signed the binding of exactly this Noise static key."""
    @property
    def role(self) -> int:
        """The role the party takes (``ROLE_PEER``, ``ROLE_CLIENT``, ``ROLE_GUEST`` or
        ``ROLE_WORKER``)."""
    @property
    def swarm(self) -> bytes:
        """The swarm the party speaks for."""
    @property
    def identity(self) -> bytes:
        """The party's Ed25519 identity."""
    @property
    def attestation(self) -> bytes:
        """The remote-attestation evidence (empty without one)."""

@final
class NoiseHandshake:
    """One side of a Noise XX handshake (three messages: ``-> e``, ``<- e, ee, s, es``,
    ``-> s, se``); the second and third carry the parties' hellos, encrypted."""

    @staticmethod
    def initiator(keypair: NoiseKeypair) -> NoiseHandshake:
        """The dialling side's handshake."""
    @staticmethod
    def responder(keypair: NoiseKeypair) -> NoiseHandshake:
        """The listening side's handshake."""
    def write(self, payload: Buffer | None = None) -> bytes:
        """The next handshake message (without its 2-byte wire length)."""
    def read(self, message: Buffer) -> bytes:
        """Read the peer's handshake message; returns its payload."""
    @property
    def finished(self) -> bool:
        """True once all three messages are through."""
    @property
    def remote_static(self) -> bytes | None:
        """The peer's Noise static key, once the handshake has authenticated it."""
    @property
    def handshake_hash(self) -> bytes:
        """The handshake hash: unique to this connection (channel binding)."""
    def into_channel(self) -> NoiseChannel:
        """The encrypted channel (the handshake object is used up)."""

@final
class NoiseChannel:
    """An established channel: frames (≤ ``MAX_FRAME_LEN``) sealed into length-prefixed
    records, and records opened back into frames."""

    def seal(self, body: Buffer) -> bytes:
        """The wire bytes of one frame: records, each with its 2-byte length."""
    def seal_record(self, plaintext: Buffer) -> bytes:
        """One record of arbitrary plaintext, with its length: not a frame. For tools and
        tests that speak a broken protocol on purpose."""
    def open(self, record: Buffer) -> bytes | None:
        """Open one record (without its length); the frame it completes, if any. Raises
        :class:`~lattice.errors.ProtocolError` on tampering, :class:`FrameTooLarge` on a
        frame announced above ``max_frame`` and :class:`BufferFull` when the pool has no
        room for it."""
    def limit(self, max_frame: int, pool: FramePool | None = None) -> None:
        """Accept frames of at most ``max_frame`` bytes (≤ ``MAX_FRAME_LEN``) from now on,
        each reserving its announced length from ``pool`` until it is complete. Only
        between frames."""
    def abandon(self) -> None:
        """Drop the frame in progress and give its reservation back (on close)."""
    @property
    def max_frame(self) -> int:
        """The largest frame this channel accepts."""
    @property
    def receiving(self) -> bool:
        """True while a frame has begun but is not complete."""

@final
class FramePool:
    """A budget of bytes for partially received frames, shared by many channels: a frame
    reserves its announced length when its header arrives and gives it back when it is
    complete or its channel is gone."""

    def __new__(cls, capacity: int) -> FramePool: ...
    @property
    def capacity(self) -> int:
        """The pool's size in bytes."""
    @property
    def used(self) -> int:
        """Bytes reserved now."""

_ElemArg = tuple[bytes, int]
_TextOp = tuple[int, _ElemArg | None, int, _ElemArg, str] | tuple[int, _ElemArg, int]

@final
class TextKernel:
    """The order of one document text (DESIGN §9): a Fugue tree kept as runs of its in-order
    walk, with O(log n) index ↔ element maps. ``lattice.state.text.Sequence`` wraps it;
    elements are ``(entry, index)`` tuples.

    >>> k = TextKernel()
    >>> k.insert(None, 1, (bytes(32), 0), "helo")
    >>> parent, side = k.place(3)
    >>> k.insert(parent, side, (bytes(32), 4), "l")
    >>> str(k), len(k), k.index_of((bytes(32), 4))
    ('hello', 5, 3)
    """

    def __new__(cls) -> TextKernel: ...
    def __len__(self) -> int: ...
    @property
    def total(self) -> int:
        """Every element, tombstones included."""
    def slice(self, start: int, end: int) -> str:
        """The visible characters ``start:end``."""
    def contains(self, first: _ElemArg, count: int = 1) -> bool:
        """Whether all of ``count`` elements from ``first`` are in this text."""
    def insert(self, parent: _ElemArg | None, side: int, first: _ElemArg, text: str) -> None:
        """Insert ``text`` as a run: ``first`` under ``parent`` (None: the root) on ``side``."""
    def type_at(
        self, index: int, first: _ElemArg, text: str
    ) -> tuple[tuple[bytes, int] | None, int]:
        """Type ``text`` at visible ``index`` as a run from ``first``; returns where it went,
        ``(parent, side)`` (:meth:`place` and :meth:`insert` in one call)."""
    def delete(self, first: _ElemArg, count: int) -> int:
        """Delete ``count`` elements from ``first``; returns how many were still there."""
    def apply(self, ops: Iterable[_TextOp]) -> None:
        """Apply a batch: ``(0, parent, side, first, text)`` inserts and ``(1, first, count)``
        deletes, in one call. A refusal raises ``InvalidArgument`` with ``index`` set to
        the op's position (the ops before it stay applied)."""
    def erase(self, start: int, end: int) -> list[tuple[tuple[bytes, int], int]]:
        """Delete the visible characters ``start:end``; returns them as ``(first element,
        count)`` runs (:meth:`visible_runs` and :meth:`delete` in one call)."""
    def place(self, index: int) -> tuple[tuple[bytes, int] | None, int]:
        """Where an insert at visible ``index`` goes: ``(parent, side)``."""
    def place_after(self, left: _ElemArg | None) -> tuple[tuple[bytes, int] | None, int]:
        """Where an insert right after ``left`` goes (None: the start)."""
    def insert_op(self, first: _ElemArg) -> tuple[tuple[bytes, int] | None, int, str] | None:
        """The insert op that starts at ``first``: ``(parent, side, text)``, or None."""
    def node(self, element: _ElemArg) -> tuple[str, bool] | None:
        """``(char, deleted)`` of ``element``, or None if it is not in this text."""
    def index_of(self, element: _ElemArg) -> int:
        """The visible index of ``element`` (a deleted one: of the next character there)."""
    def visible_runs(self, start: int, end: int) -> list[tuple[tuple[bytes, int], int]]:
        """The visible characters ``start:end`` as ``(first element, count)`` runs."""
    def nodes(
        self,
    ) -> list[tuple[tuple[bytes, int], str, tuple[bytes, int] | None, int, bool]]:
        """Every element in text order: ``(element, char, parent, side, deleted)``."""
    def encode_nodes(self) -> bytes:
        """The nodes as the document state encodes them (docs/format.md)."""
    @staticmethod
    def from_nodes(
        nodes: Iterable[tuple[_ElemArg, str, _ElemArg | None, int, bool]],
    ) -> TextKernel:
        """A text from its nodes, in any order; ``NonCanonical`` unless they form one tree."""
    def mark(self) -> None:
        """Start recording what :meth:`rollback` undoes."""
    def release(self) -> None:
        """Keep everything since the mark."""
    def rollback(self) -> None:
        """Undo everything since the mark."""

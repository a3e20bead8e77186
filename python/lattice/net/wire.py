"""The messages two nodes exchange inside encrypted frames (DESIGN §7).

Every frame body is one message: a type byte, then its fields (integers big-endian, every
count bounded). Decoding is strict — unknown types, truncation, trailing bytes and counts
over their limits are typed :class:`~lattice.errors.DecodeError`\\ s — and a node closes a
connection that sends one.

::

    FRONTIER  1  count u32 ‖ (peer [32] ‖ seq u64 ‖ id [32])* ‖ root [32]
    ENTRIES   2  count u32 ‖ (len u32 ‖ entry)*
    REQUEST   3  count u32 ‖ (author [32] ‖ first u64 ‖ last u64 ‖ has_id u8 ‖ [id [32]])*
    FRAUD     4  fraud proof
    CREDIT    5  bytes u32          (flow control: the sender may send this many more)
    SYNCED    6                     (the initial difference is streamed; live from here)
    OP        7  client op          (client → home peer)
    OP_ACK    8  entry id [32] ‖ seq u64
    PING      9                     (keep-alive on an idle connection)
    REFUSED  10  len u16 ‖ reason       (why the sender closes the connection)
    VIEW_OPEN 11 doc_len u8 ‖ doc ‖ view [32] ‖ since u64
                                    (guest → owner: a new view of doc if view is zeros,
                                    else resume that view after view seq ``since``)
    VIEW     12  view [32] ‖ seq u64    (owner → guest: the view served, and its seq now)
    GUEST_ACK 13 nonce u64 ‖ seq u64 (owner → guest: that guest op is carried out; the
                                    view shows it from view seq ``seq``)
    MEASURED 14  evidence           (peer → peer: its measurement log grew, evidence of it:
                                    lattice.net.attestation; at most 4000 bytes)
    ACTIVATE 15  blob_len u16 ‖ blob ‖ secret_len u16 ‖ secret
                                    (a credential for the receiver's TPM: its AK's tie to
                                    its EK, checked once per peer; each ≤ 1024 bytes)
    ACTIVATED 16 answer [32] ‖ cert_len u16 ‖ cert
                                    (the credential's secret, bound to the connection, and
                                    the EK certificate, DER, ≤ 4096 bytes; may be empty)
    ADMIT    17  kind u8 ‖ record   (client → home peer: an admission record, kind 20, or a
                                    vouch, kind 21, for its log: DESIGN §11; OP_ACK)
    WORK     18  slots u8 ‖ count u8 ‖ (len u8 ‖ kernel name)*count
                                    (worker → owner: it takes this many more tasks, 1–8,
                                    of these kernels: 1–16 names of 1–32 printable ASCII
                                    bytes, each once, in sorted order)
    TASK     19  deadline_ms u32 ‖ genesis
                                    (owner → worker: entry 1 of a task's view, §12)
    REVEAL   20  view [32]          (owner → worker: the commits are in; reveal)
    ABANDON  21  view [32] ‖ len u16 ‖ reason
                                    (owner → worker: that task is over for it)
    GRID_ACK 22  view [32] ‖ nonce u64 ‖ taken u8
                                    (owner → worker: its commit or reveal is stored, 1, or
                                    came late and is ignored, 0)

>>> from lattice.net import wire
>>> msg = wire.Credit(4096)
>>> wire.decode(wire.encode(msg)) == msg
True
"""

from __future__ import annotations

import struct

from lattice import _lattice
from lattice.errors import DecodeError, LimitExceeded, Truncated, UnknownKind
from lattice.net.messages import (
    Abandon,
    Activate,
    Activated,
    Admit,
    Credit,
    Entries,
    Fraud,
    Frontier,
    GridAck,
    GuestAck,
    Measured,
    Message,
    MessageType,
    Op,
    OpAck,
    Ping,
    Refused,
    Request,
    Reveal,
    Synced,
    Task,
    View,
    ViewOpen,
    Work,
)
from lattice.reader import Reader
from lattice.sync import Missing

__all__ = [
    "ADMIT_KINDS",
    "ENTRIES_OVERHEAD",
    "MAX_CLIENT_FRAME",
    "MAX_CREDENTIAL_PART",
    "MAX_EK_CERT_LEN",
    "MAX_ENTRIES_PER_FRAME",
    "MAX_FRONTIER_FRAME",
    "MAX_FRONTIER_ITEMS",
    "MAX_KERNEL_NAME",
    "MAX_MEASURED_LEN",
    "MAX_REASON_LEN",
    "MAX_RECORD_LEN",
    "MAX_REQUESTS",
    "MAX_WORK_KERNELS",
    "MAX_WORK_SLOTS",
    "Abandon",
    "Activate",
    "Activated",
    "Admit",
    "Credit",
    "Entries",
    "Fraud",
    "Frontier",
    "GridAck",
    "GuestAck",
    "Measured",
    "Message",
    "MessageType",
    "Op",
    "OpAck",
    "Ping",
    "Refused",
    "Request",
    "Reveal",
    "Synced",
    "Task",
    "View",
    "ViewOpen",
    "Work",
    "decode",
    "encode",
    "max_peer_frame",
]

_ID = _lattice.ID_LEN
#: The longest doc id (as in an op batch, lattice.state.ops.MAX_DOC_ID_LEN).
MAX_DOC_ID_LEN = 64
#: Bounds of the counts (a frontier names each peer once; 16384 is the matrix limit).
MAX_FRONTIER_ITEMS = 16384
MAX_ENTRIES_PER_FRAME = 65536
MAX_REQUESTS = 4096
#: The largest evidence a MEASURED carries (lattice.trust.remote.MAX_EVIDENCE_LEN).
MAX_MEASURED_LEN = 4000
#: The largest EK certificate an ACTIVATED carries.
MAX_EK_CERT_LEN = 4096
#: The largest part of an ACTIVATE (a TPM credential blob or encrypted secret).
MAX_CREDENTIAL_PART = 1024
#: Longest refusal reason, in UTF-8 bytes.
MAX_REASON_LEN = 1024
#: The record kinds an ADMIT carries (ADMISSION, VOUCH) and the longest such record.
ADMIT_KINDS = frozenset({20, 21})
MAX_RECORD_LEN = 256
#: Most tasks a worker asks for at once (WORK), the kernels it names and their length.
MAX_WORK_SLOTS = 8
MAX_WORK_KERNELS = 16
MAX_KERNEL_NAME = 32
#: The largest frame a client may send: one ``OP`` (type byte ‖ a client op, which must
#: fit in one entry's payload).
MAX_CLIENT_FRAME = 1 + _lattice.MAX_PAYLOAD_LEN
#: The largest FRONTIER: type, count, every item, root.
MAX_FRONTIER_FRAME = 1 + 4 + MAX_FRONTIER_ITEMS * (_ID + 8 + _ID) + _ID
#: What an ENTRIES frame adds to the entries' own bytes at most: type, count, lengths.
ENTRIES_OVERHEAD = 1 + 4 + 4 * MAX_ENTRIES_PER_FRAME


def max_peer_frame(credit: int) -> int:
    """The largest frame a registered peer may send a node that grants ``credit`` bytes
    of ENTRIES: an ENTRIES within that credit, or the largest FRONTIER, whichever is more
    (and never above ``MAX_FRAME_LEN``).

    >>> max_peer_frame(8 << 20)
    8650757
    """
    return min(_lattice.MAX_FRAME_LEN, max(MAX_FRONTIER_FRAME, ENTRIES_OVERHEAD + credit))


_ITEM = struct.Struct(">32sQ32s")
_REQ = struct.Struct(">32sQQB")
_U32 = struct.Struct(">I")


def _reason(reason: str) -> bytes:
    return reason.encode()[:MAX_REASON_LEN].decode(errors="ignore").encode()


def _kernel_name(name: str) -> bytes:
    raw = name.encode("ascii", errors="replace")
    if not 0 < len(raw) <= MAX_KERNEL_NAME or not name.isascii() or not name.isprintable():
        raise LimitExceeded(f"a kernel name is 1 to {MAX_KERNEL_NAME} printable ASCII bytes")
    return raw


def _view(view: bytes) -> bytes:
    if len(view) != _ID:
        raise LimitExceeded("a view id is 32 bytes")
    return view


def encode(msg: Message) -> bytes:
    """The frame body of ``msg``."""
    match msg:
        case Frontier(heads, root):
            items = sorted(heads.items())
            if len(items) > MAX_FRONTIER_ITEMS:
                raise LimitExceeded(f"{len(items)} frontier items")
            body = b"".join(_ITEM.pack(p, s, i) for p, (s, i) in items)
            return bytes([MessageType.FRONTIER]) + _U32.pack(len(items)) + body + root
        case Entries(entries):
            if len(entries) > MAX_ENTRIES_PER_FRAME:
                raise LimitExceeded(f"{len(entries)} entries in one frame")
            parts = [bytes([MessageType.ENTRIES]), _U32.pack(len(entries))]
            for e in entries:
                parts += (_U32.pack(len(e)), e)
            return b"".join(parts)
        case Request(missing):
            if len(missing) > MAX_REQUESTS:
                raise LimitExceeded(f"{len(missing)} requests")
            parts = [bytes([MessageType.REQUEST]), _U32.pack(len(missing))]
            for m in missing:
                parts.append(_REQ.pack(m.author, m.first, m.last, m.id is not None))
                if m.id is not None:
                    parts.append(m.id)
            return b"".join(parts)
        case Fraud(proof):
            return bytes([MessageType.FRAUD]) + proof
        case Credit(n):
            return bytes([MessageType.CREDIT]) + _U32.pack(n)
        case Synced():
            return bytes([MessageType.SYNCED])
        case Op(op):
            return bytes([MessageType.OP]) + op
        case OpAck(entry_id, seq):
            return bytes([MessageType.OP_ACK]) + entry_id + struct.pack(">Q", seq)
        case Ping():
            return bytes([MessageType.PING])
        case Refused(reason):
            text = _reason(reason)
            return bytes([MessageType.REFUSED]) + struct.pack(">H", len(text)) + text
        case ViewOpen(doc, view, since):
            if len(doc) > MAX_DOC_ID_LEN or len(view) != _ID:
                raise LimitExceeded("a doc id of at most 64 bytes and a 32-byte view")
            head = bytes([MessageType.VIEW_OPEN, len(doc)]) + doc + view
            return head + struct.pack(">Q", since)
        case View(view, seq):
            return bytes([MessageType.VIEW]) + view + struct.pack(">Q", seq)
        case GuestAck(nonce, seq):
            return bytes([MessageType.GUEST_ACK]) + struct.pack(">QQ", nonce, seq)
        case Measured(evidence):
            return bytes([MessageType.MEASURED]) + evidence
        case Activate(blob, secret):
            return (
                bytes([MessageType.ACTIVATE]) + struct.pack(">H", len(blob)) + blob
                + struct.pack(">H", len(secret)) + secret
            )  # fmt: skip
        case Activated(answer, certificate):
            return (
                bytes([MessageType.ACTIVATED]) + answer
                + struct.pack(">H", len(certificate)) + certificate
            )  # fmt: skip
        case Admit(kind, record):
            if kind not in ADMIT_KINDS or len(record) > MAX_RECORD_LEN:
                raise LimitExceeded(f"an ADMIT of kind {kind} and {len(record)} bytes")
            return bytes([MessageType.ADMIT, kind]) + record
        case Work(slots, kernels):
            if not 0 < slots <= MAX_WORK_SLOTS:
                raise LimitExceeded(f"WORK for {slots} slots (1 to {MAX_WORK_SLOTS})")
            if isinstance(kernels, str) or list(kernels) != sorted(set(kernels)):
                raise LimitExceeded("WORK names its kernels once each, in sorted order")
            names = [_kernel_name(k) for k in kernels]
            if not 0 < len(names) <= MAX_WORK_KERNELS:
                raise LimitExceeded(f"WORK names 1 to {MAX_WORK_KERNELS} kernels")
            return bytes([MessageType.WORK, slots, len(names)]) + b"".join(
                bytes([len(n)]) + n for n in names
            )
        case Task(deadline_ms, genesis):
            return bytes([MessageType.TASK]) + _U32.pack(deadline_ms) + genesis
        case Reveal(view):
            return bytes([MessageType.REVEAL]) + _view(view)
        case Abandon(view, reason):
            text = _reason(reason)
            return bytes([MessageType.ABANDON]) + _view(view) + struct.pack(">H", len(text)) + text
        case GridAck(view, nonce, taken):
            return bytes([MessageType.GRID_ACK]) + _view(view) + struct.pack(">QB", nonce, taken)
    raise TypeError(f"not a wire message: {msg!r}")


class _Reader(Reader):
    def __init__(self, body: bytes) -> None:
        super().__init__(body, pos=1)  # after the message type

    def count(self, limit: int, what: str) -> int:
        n = self.u32(what)
        if n > limit:
            raise LimitExceeded(f"{n} {what} (limit {limit})")
        return n

    def rest(self) -> bytes:
        out = bytes(self.data[self.pos :])
        self.pos = len(self.data)
        return out


def decode(body: bytes) -> Message:
    """The message in a frame body; a typed :class:`DecodeError` if it is not one."""
    if not body:
        raise Truncated("empty frame")
    try:
        kind = MessageType(body[0])
    except ValueError:
        raise UnknownKind(f"unknown message type {body[0]}") from None
    r = _Reader(body)
    msg: Message
    if kind == MessageType.FRONTIER:
        n = r.count(MAX_FRONTIER_ITEMS, "frontier items")
        heads: dict[bytes, tuple[int, bytes]] = {}
        last = b""
        for _ in range(n):
            peer, seq, entry_id = _ITEM.unpack(r.take(_ITEM.size, "frontier item"))
            if peer <= last:
                raise DecodeError("frontier items must be strictly ascending by peer")
            last = peer
            heads[peer] = (seq, entry_id)
        msg = Frontier(heads, r.take(_ID, "frontier root"))
    elif kind == MessageType.ENTRIES:
        n = r.count(MAX_ENTRIES_PER_FRAME, "entries")
        entries = []
        for _ in range(n):
            (size,) = _U32.unpack(r.take(4, "entry length"))
            if size > _lattice.MAX_ENTRY_LEN:
                raise LimitExceeded(f"entry of {size} bytes")
            entries.append(r.take(size, "entry"))
        msg = Entries(entries)
    elif kind == MessageType.REQUEST:
        n = r.count(MAX_REQUESTS, "requests")
        missing = []
        for _ in range(n):
            author, first, last_seq, has_id = _REQ.unpack(r.take(_REQ.size, "request"))
            if has_id > 1:
                raise DecodeError("request id flag must be 0 or 1")
            missing.append(
                Missing(author, first, last_seq, r.take(_ID, "request id") if has_id else None)
            )
        msg = Request(missing)
    elif kind == MessageType.FRAUD:
        msg = Fraud(r.rest())
    elif kind == MessageType.CREDIT:
        msg = Credit(int(_U32.unpack(r.take(4, "credit"))[0]))
    elif kind == MessageType.SYNCED:
        msg = Synced()
    elif kind == MessageType.OP:
        msg = Op(r.rest())
    elif kind == MessageType.OP_ACK:
        entry_id = r.take(_ID, "entry id")
        msg = OpAck(entry_id, int(struct.unpack(">Q", r.take(8, "seq"))[0]))
    elif kind == MessageType.REFUSED:
        msg = Refused(_read_reason(r))
    elif kind == MessageType.VIEW_OPEN:
        size = r.u8("doc id length")
        if size > MAX_DOC_ID_LEN:
            raise LimitExceeded(f"a doc id of {size} bytes (limit {MAX_DOC_ID_LEN})")
        doc = r.take(size, "doc id")
        view = r.take(_ID, "view")
        msg = ViewOpen(doc, view, int(struct.unpack(">Q", r.take(8, "since"))[0]))
    elif kind == MessageType.VIEW:
        view = r.take(_ID, "view")
        msg = View(view, int(struct.unpack(">Q", r.take(8, "seq"))[0]))
    elif kind == MessageType.GUEST_ACK:
        nonce, seq = struct.unpack(">QQ", r.take(16, "guest ack"))
        msg = GuestAck(int(nonce), int(seq))
    elif kind == MessageType.MEASURED:
        evidence = r.rest()
        if not 0 < len(evidence) <= MAX_MEASURED_LEN:
            raise LimitExceeded(f"evidence of {len(evidence)} bytes (1 to {MAX_MEASURED_LEN})")
        msg = Measured(evidence)
    elif kind == MessageType.ACTIVATE:
        parts = []
        for what in ("credential blob", "encrypted secret"):
            (size,) = struct.unpack(">H", r.take(2, f"{what} length"))
            if not 0 < size <= MAX_CREDENTIAL_PART:
                raise LimitExceeded(f"a {what} of {size} bytes (1 to {MAX_CREDENTIAL_PART})")
            parts.append(r.take(size, what))
        msg = Activate(parts[0], parts[1])
    elif kind == MessageType.ACTIVATED:
        answer = r.take(_ID, "activation answer")
        (size,) = struct.unpack(">H", r.take(2, "certificate length"))
        if size > MAX_EK_CERT_LEN:
            raise LimitExceeded(f"an EK certificate of {size} bytes (limit {MAX_EK_CERT_LEN})")
        msg = Activated(answer, r.take(size, "EK certificate"))
    elif kind == MessageType.ADMIT:
        record_kind, record = r.u8("record kind"), r.rest()
        if record_kind not in ADMIT_KINDS:
            raise DecodeError(f"ADMIT of kind {record_kind}: only 20 (admission) or 21 (vouch)")
        if len(record) > MAX_RECORD_LEN:
            raise LimitExceeded(f"a record of {len(record)} bytes (limit {MAX_RECORD_LEN})")
        msg = Admit(record_kind, record)
    elif kind == MessageType.WORK:
        slots = r.u8("slots")
        if not 0 < slots <= MAX_WORK_SLOTS:
            raise LimitExceeded(f"WORK for {slots} slots (1 to {MAX_WORK_SLOTS})")
        count = r.u8("kernels")
        if not 0 < count <= MAX_WORK_KERNELS:
            raise LimitExceeded(f"WORK naming {count} kernels (1 to {MAX_WORK_KERNELS})")
        names = []
        for _ in range(count):
            raw = r.take(r.u8("kernel name length"), "kernel name")
            try:
                names.append(raw.decode("ascii"))
                _kernel_name(names[-1])
            except (UnicodeDecodeError, LimitExceeded):
                raise DecodeError("a kernel name is 1 to 32 printable ASCII bytes") from None
        if names != sorted(set(names)):
            raise DecodeError("WORK names its kernels once each, in sorted order")
        msg = Work(slots, tuple(names))
    elif kind == MessageType.TASK:
        deadline_ms = int(_U32.unpack(r.take(4, "deadline"))[0])
        genesis = r.rest()
        if not 0 < len(genesis) <= _lattice.MAX_ENTRY_LEN:
            raise LimitExceeded(f"a task's genesis of {len(genesis)} bytes")
        msg = Task(deadline_ms, genesis)
    elif kind == MessageType.REVEAL:
        msg = Reveal(r.take(_ID, "view"))
    elif kind == MessageType.ABANDON:
        view = r.take(_ID, "view")
        msg = Abandon(view, _read_reason(r))
    elif kind == MessageType.GRID_ACK:
        view = r.take(_ID, "view")
        nonce, taken = struct.unpack(">QB", r.take(9, "grid ack"))
        if taken > 1:
            raise DecodeError("a grid ack's taken flag is 0 or 1")
        msg = GridAck(view, int(nonce), bool(taken))
    else:
        msg = Ping()
    r.finish()
    return msg


def _read_reason(r: _Reader) -> str:
    (size,) = struct.unpack(">H", r.take(2, "reason length"))
    if size > MAX_REASON_LEN:
        raise LimitExceeded(f"a reason of {size} bytes (limit {MAX_REASON_LEN})")
    try:
        text = r.take(size, "reason").decode()
    except UnicodeDecodeError as exc:
        raise DecodeError(f"a reason that is not UTF-8: {exc}") from None
    # Printed to logs and terminals: no control characters (escapes) from a stranger.
    return "".join(c if c.isprintable() else "?" for c in text)

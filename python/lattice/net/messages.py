"""The messages of the wire protocol (DESIGN §7), as values: what :mod:`lattice.net.wire`
encodes and decodes (its docstring has the layout of each).

>>> from lattice.net.messages import Credit, MessageType
>>> Credit(4096).bytes, int(MessageType.CREDIT)
(4096, 5)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum

from lattice import _lattice
from lattice.sync import Missing

__all__ = [
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
]


class MessageType(IntEnum):
    FRONTIER = 1
    ENTRIES = 2
    REQUEST = 3
    FRAUD = 4
    CREDIT = 5
    SYNCED = 6
    OP = 7
    OP_ACK = 8
    PING = 9
    REFUSED = 10
    VIEW_OPEN = 11
    VIEW = 12
    GUEST_ACK = 13
    MEASURED = 14
    ACTIVATE = 15
    ACTIVATED = 16
    ADMIT = 17
    WORK = 18
    TASK = 19
    REVEAL = 20
    ABANDON = 21
    GRID_ACK = 22


@dataclass(frozen=True)
class Frontier:
    """A node's frontier: every log's head (seq, id), and the frontier root over them."""

    heads: Mapping[bytes, tuple[int, bytes]]
    root: bytes

    @classmethod
    def of(cls, heads: Mapping[bytes, tuple[int, bytes]]) -> Frontier:
        """The message for ``heads`` with its root computed."""
        items = [(p, s, i) for p, (s, i) in sorted(heads.items())]
        return cls(dict(heads), _lattice.frontier_root(items))


@dataclass(frozen=True)
class Entries:
    """A batch of encoded entries, in causal order."""

    entries: Sequence[bytes]


@dataclass(frozen=True)
class Request:
    """Entries a node misses (:meth:`Replica.missing <lattice.Replica.missing>`)."""

    missing: Sequence[Missing]


@dataclass(frozen=True)
class Fraud:
    """A fraud proof, gossiped on its own."""

    proof: bytes


@dataclass(frozen=True)
class Credit:
    """Flow control: the receiver has room for this many more bytes of ENTRIES."""

    bytes: int


@dataclass(frozen=True)
class Synced:
    """The initial difference has been streamed; entries from here on are live."""


@dataclass(frozen=True)
class Op:
    """A client's signed op for its home peer."""

    op: bytes


@dataclass(frozen=True)
class OpAck:
    """The home peer wrapped the op in its entry ``seq`` with id ``entry_id``."""

    entry_id: bytes
    seq: int


@dataclass(frozen=True)
class Admit:
    """A client's admission record (``kind`` 20) or a vouch it holds (21), for its home
    peer to carry in its log (DESIGN §11); answered with ``OP_ACK``."""

    kind: int
    record: bytes


@dataclass(frozen=True)
class Ping:
    """Keep-alive."""


@dataclass(frozen=True)
class Refused:
    """Why the sender closes the connection (after the handshake: not a member, not a
    client, blocklisted, an op refused …): the last message it sends."""

    reason: str


@dataclass(frozen=True)
class ViewOpen:
    """A guest asks its owner for a view of ``doc``: a new one (``view`` all zeros) or
    its view ``view`` again, from the entry after view seq ``since``."""

    doc: bytes
    view: bytes
    since: int


@dataclass(frozen=True)
class View:
    """The owner serves view ``view``, now at view seq ``seq``; its entries follow."""

    view: bytes
    seq: int


@dataclass(frozen=True)
class Activate:
    """A credential for the receiver's TPM (TPM2B_ID_OBJECT, TPM2B_ENCRYPTED_SECRET)."""

    blob: bytes
    secret: bytes


@dataclass(frozen=True)
class Activated:
    """The answer to an :class:`Activate` (lattice.trust.tpm.activation_answer) and the
    answering TPM's EK certificate."""

    answer: bytes
    certificate: bytes = b""


@dataclass(frozen=True)
class Measured:
    """The sender loaded a blob: evidence of its grown measurement log (DESIGN §10)."""

    evidence: bytes


@dataclass(frozen=True)
class GuestAck:
    """The owner carried out the guest op with this nonce; the view shows it from view
    seq ``seq`` (its entries follow)."""

    nonce: int
    seq: int


@dataclass(frozen=True)
class Work:
    """A worker can take ``slots`` more tasks at once, of the ``kernels`` it names (DESIGN
    §12)."""

    slots: int
    kernels: tuple[str, ...] = ("matmul",)


@dataclass(frozen=True)
class Task:
    """A task handed to a worker: the genesis entry of its view (the view id is its swarm
    field), and the seconds the worker has to commit."""

    deadline_ms: int
    genesis: bytes


@dataclass(frozen=True)
class Reveal:
    """The commits of the task known by ``view`` are in: reveal the result."""

    view: bytes


@dataclass(frozen=True)
class Abandon:
    """Stop working on ``view`` (done, cancelled or out of time); anything sent for it
    later is ignored."""

    view: bytes
    reason: str


@dataclass(frozen=True)
class GridAck:
    """The owner took (``taken``) or ignored as late the grid op with this nonce."""

    view: bytes
    nonce: int
    taken: bool


Message = (
    Frontier
    | Entries
    | Request
    | Fraud
    | Credit
    | Synced
    | Op
    | OpAck
    | Ping
    | Refused
    | ViewOpen
    | View
    | GuestAck
    | Measured
    | Activate
    | Activated
    | Admit
    | Work
    | Task
    | Reveal
    | Abandon
    | GridAck
)

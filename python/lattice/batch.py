"""What one :meth:`Replica.receive <lattice.Replica.receive>` (or append) changes: the
:class:`Batch` collected while entries are checked, turned into the rows of one durable
commit (:class:`~lattice.store.Commit`), and the :class:`ReceiveResult` handed back.

>>> batch = Batch()
>>> bool(batch), batch.rows((), {}).entries
(False, [])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from lattice import _lattice
from lattice.errors import LatticeError
from lattice.store import Commit

__all__ = ["Batch", "ReceiveResult"]


@dataclass
class ReceiveResult:
    """What one :meth:`Replica.receive <lattice.Replica.receive>` call did.

    ``delivered``: entries delivered (and durably stored, or with background commits
    queued to be) by this call, in causal order;
    ``pending``: how many entries wait for dependencies after it; ``rejected``: inputs that
    are invalid, with the typed error saying why (nothing of them is stored or relayed);
    ``frauds``: fraud proofs this call established (DESIGN §5); ``evidence``: entries of
    forked authors kept (not delivered) because honest entries depend on them or they
    prove the fork; ``appended``: entries this replica wrote in reaction (the ``FRAUD``
    entry announcing a fork it detected). A node relays :attr:`to_relay`.
    """

    delivered: list[_lattice.Entry] = field(default_factory=list)
    pending: int = 0
    rejected: list[tuple[bytes, LatticeError]] = field(default_factory=list)
    frauds: list[_lattice.FraudProof] = field(default_factory=list)
    evidence: list[_lattice.Entry] = field(default_factory=list)
    appended: list[_lattice.Entry] = field(default_factory=list)

    @property
    def to_relay(self) -> list[_lattice.Entry]:
        """What a node forwards to its peers, in a causal order: evidence first (honest
        entries may depend on it), then what was delivered, then this replica's own."""
        return [*self.evidence, *self.delivered, *self.appended]


#: A delivered entry and the matrix cells (observer, sender, seq) it raised.
Delivered = tuple[_lattice.Entry, list[tuple[int, int, int]]]


class Batch:
    """What one receive or append changes, until it is committed in one transaction."""

    __slots__ = (
        "delivered",
        "evidence",
        "fork_cells",
        "frauds",
        "penalised",
        "rejected",
    )

    def __init__(self) -> None:
        self.delivered: list[Delivered] = []
        self.evidence: list[_lattice.Entry] = []
        self.fork_cells: dict[tuple[int, int], bytes] = {}
        # (proof, whether this replica detected it and must announce it)
        self.frauds: list[tuple[_lattice.FraudProof, bool]] = []
        self.penalised: set[bytes] = set()
        self.rejected: list[tuple[bytes, LatticeError]] = []

    def __bool__(self) -> bool:
        return bool(self.delivered or self.evidence or self.frauds or self.penalised)

    def find(self, entry_id: bytes) -> _lattice.Entry | None:
        """The entry with this id delivered or kept in this batch, if any (a scan)."""
        for entry in self.evidence:
            if entry.id == entry_id:
                return entry
        return next((e for e, _ in self.delivered if e.id == entry_id), None)

    def rows(self, announced: Sequence[bytes], penalties: Mapping[bytes, int]) -> Commit:
        """The rows that store this batch; ``announced``: authors whose FRAUD entry this
        commit stores; ``penalties``: the current count of every peer."""
        # Only each cell's final value is written: cells only grow, so the last raise of a
        # cell in the batch is its value (a batch of 1,000 entries from 8 authors touches
        # a few dozen cells, not thousands).
        cells: dict[tuple[int, int], int] = {}
        for _, raised in self.delivered:
            for observer, sender, seq in raised:
                cells[observer, sender] = seq
        return Commit(
            [(e.id, e.author, e.seq, e.lamport, e.kind, e.to_bytes()) for e, _ in self.delivered],
            [(o, s, seq) for (o, s), seq in cells.items()],
            evidence=[(e.id, e.author, e.seq, e.lamport, e.to_bytes()) for e in self.evidence],
            fork_cells=[(o, s, i) for (o, s), i in self.fork_cells.items()],
            frauds=[(p.author, p.seq, p.to_bytes(), d) for p, d in self.frauds],
            announced=list(announced),
            penalties=[(p, penalties[p]) for p in self.penalised],
        )

"""The one interface of documents and Wasm modules (DESIGN §9, §10): a state machine that
applies an entry's ops, judged from the entry's causal past alone.

>>> ctx = Context(entry=bytes(32), author=bytes(32), seq=1, lamport=1, frontier={bytes(32): 1})
>>> ctx.knows(bytes(32), 1), ctx.knows(bytes(32), 2)
(True, False)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from lattice.state.ops import Op

__all__ = ["Context", "StateMachine"]


@dataclass(frozen=True)
class Context:
    """Where a batch of ops comes from: its entry, and that entry's causal past — the
    author's frontier after it (peer → seq, the author at this entry's own seq)."""

    entry: bytes
    author: bytes
    seq: int
    lamport: int
    frontier: Mapping[bytes, int]

    def knows(self, author: bytes, seq: int) -> bool:
        """Whether ``author``'s entry ``seq`` is in this entry's causal past (or is it)."""
        return self.frontier.get(author, 0) >= seq


class StateMachine(Protocol):
    """What a document's state is driven by. ``apply`` takes all of an entry's ops or none
    (raising the :class:`~lattice.errors.InvalidOp` that says why), the same on every
    replica; ``collapse`` / ``restore`` hand over and take back a snapshot of the visible
    state (DESIGN §8: shallow logs; :class:`NotImplementedError` until then); ``query``
    reads without changing anything."""

    def apply(self, ops: tuple[Op, ...], context: Context) -> None: ...

    def collapse(self, view: bytes) -> bytes: ...

    def restore(self, snapshot: bytes) -> None: ...

    def query(self, request: object) -> object: ...

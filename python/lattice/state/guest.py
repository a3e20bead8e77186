"""A guest's side of a view (DESIGN §8): its shallow log, its document, its signed writes.

A guest holds one view of one document: the shallow log its owner writes (entry 1 the
snapshot, then view ops), checked by the ordinary chain validation of a
:class:`~lattice.Replica` in the view's swarm, and a document bound to that log (read
only: a guest changes it by sending guest ops, which come back as view ops once the owner
has carried them out on the deep log).

>>> import lattice
>>> from lattice.state.views import Views
>>> owner, me = lattice.Identity.generate(), lattice.Identity.generate()
>>> rep = lattice.Replica(owner, peers=[owner.public_key])
>>> doc = lattice.Doc(rep, b"notes")
>>> doc.map("meta")["title"] = "draft"
>>> view = Views(doc).handover(me.public_key)
>>> g = Guest(me, owner.public_key, view.id)
>>> g.receive(view.entries()).delivered[0].kind == lattice.Kind.SNAPSHOT
True
>>> g.doc.map("meta")["title"], g.seq
('draft', 1)
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from lattice import _lattice
from lattice.errors import InvalidArgument, OutOfRange
from lattice.replica import Replica
from lattice.state import guestop
from lattice.state.doc import Doc
from lattice.state.ops import (
    RIGHT,
    CounterAdd,
    MapDelete,
    MapSet,
    Op,
    RegisterSet,
    SetAdd,
    SetRemove,
    TextInsert,
    Value,
)
from lattice.state.text import delete_ops

if TYPE_CHECKING:
    from lattice.batch import ReceiveResult
    from lattice.identity import Identity

__all__ = ["Guest"]


class Guest:
    """One guest's view: ``identity`` is the guest's, ``owner`` the owner's public key."""

    def __init__(self, identity: Identity, owner: bytes, view: bytes) -> None:
        self.identity = identity
        self.owner = bytes(owner)
        self.view = bytes(view)
        # The guest is a silent member of its view's swarm: it checks, never signs.
        self.shallow = Replica(identity, peers=[self.owner, identity.public_key], swarm_id=view)
        self.doc = Doc(self.shallow, self.view)
        self.doc._read_only = True
        #: The last nonce signed: each guest op's is above it (and above the clock's).
        self.last_nonce = 0

    @property
    def seq(self) -> int:
        """The last view seq this guest holds (0 before the snapshot)."""
        return self.shallow.head(self.owner)

    def receive(self, entries: Iterable[_lattice.Entry | bytes]) -> ReceiveResult:
        """Entries of the shallow log, checked as any log's (links, signatures, swarm)."""
        return self.shallow.receive(entries)

    # --- writing ----------------------------------------------------------------------

    def write(self, ops: tuple[Op, ...] | list[Op]) -> _lattice.ClientOp:
        """The signed guest op of ``ops`` (view ids, made against this guest's view seq)."""
        if not self.seq:
            raise InvalidArgument("a guest writes once it holds its snapshot")
        self.last_nonce = max(self.last_nonce + 1, time.time_ns())
        return guestop.create(
            self.identity.signing_key, self.view, self.last_nonce, self.seq, tuple(ops)
        )

    def insert(self, name: str, index: int, text: str) -> _lattice.ClientOp:
        """Insert ``text`` at visible ``index`` of text ``name``: after the character
        before it."""
        seq = self.doc.objects.text(name)
        if not 0 <= index <= len(seq):
            raise OutOfRange(f"insert at {index} of a text of {len(seq)}")
        left = seq.element_at(index - 1) if index else None
        return self.write((TextInsert(name, left, RIGHT, text),))

    def delete(self, name: str, index: int, length: int = 1) -> _lattice.ClientOp:
        """Delete ``length`` characters at ``index`` of text ``name``."""
        seq = self.doc.objects.text(name)
        if length < 1 or not 0 <= index <= index + length <= len(seq):
            raise OutOfRange(f"delete {index}:{index + length} of a text of {len(seq)}")
        return self.write(tuple(delete_ops(name, seq.visible_runs(index, index + length))))

    def set_key(self, name: str, key: str, value: Value) -> _lattice.ClientOp:
        return self.write((MapSet(name, key, value),))

    def delete_key(self, name: str, key: str) -> _lattice.ClientOp:
        return self.write((MapDelete(name, key),))

    def set_register(self, name: str, value: Value) -> _lattice.ClientOp:
        return self.write((RegisterSet(name, value),))

    def increment(self, name: str, delta: int = 1) -> _lattice.ClientOp:
        return self.write((CounterAdd(name, delta),))

    def add(self, name: str, value: Value) -> _lattice.ClientOp:
        return self.write((SetAdd(name, value),))

    def remove(self, name: str, value: Value) -> _lattice.ClientOp:
        tags = self.doc.objects.tags_of(name, value)
        if not tags:
            raise InvalidArgument(f"{value!r} is not in the set {name!r}")
        return self.write((SetRemove(name, tags),))

"""The built-in types of a document as one :class:`~lattice.state.machine.StateMachine`
(DESIGN §9, §8): :class:`~lattice.state.crdt.Objects` that also collapse to a snapshot
and restore from one (:mod:`lattice.state.snapshot`), and answer queries.

>>> from lattice.state.machine import Context
>>> from lattice.state.ops import MapSet
>>> machine = Builtins()
>>> ctx = Context(entry=bytes([9]) * 32, author=bytes(32), seq=1, lamport=1, frontier={})
>>> machine.apply((MapSet("meta", "title", "draft"),), ctx)
>>> guest = Builtins()
>>> guest.restore(machine.collapse(bytes([7]) * 32))
>>> guest.query(("map", "meta"))
{'title': 'draft'}
"""

from __future__ import annotations

from lattice.errors import InvalidArgument
from lattice.state import snapshot
from lattice.state.crdt import Objects

__all__ = ["Builtins"]


class Builtins(Objects):
    """Registers, maps, counters, sets and texts: the state machine of a document."""

    def collapse(self, view: bytes) -> bytes:
        """The visible state as a snapshot in ``view`` (docs/format.md)."""
        return snapshot.collapse(self, view).snapshot

    def restore(self, data: bytes) -> None:
        """Become what the snapshot ``data`` (packed or plain) shows."""
        self.__dict__.update(snapshot.restore(snapshot.unpack(data)).__dict__)

    def query(self, request: object) -> object:
        """``None``: every value (:meth:`to_py`); ``(type, name)``: one object's value."""
        if request is None:
            return self.to_py()
        if isinstance(request, tuple) and len(request) == 2:
            kind, name = request
            readers = {
                "text": lambda n: str(self.text(n)),
                "map": self.map,
                "register": self.register,
                "counter": self.counter,
                "set": self.set,
            }
            if kind in readers and isinstance(name, str):
                return readers[kind](name)
        raise InvalidArgument(f"a query is None or (type, name), not {request!r}")

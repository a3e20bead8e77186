"""State derived from the log (DESIGN §9): documents and the state machines behind them.

- :mod:`~lattice.state.ops`: the op batch, one canonical codec;
- :mod:`~lattice.state.machine`: the :class:`StateMachine` protocol and the causal
  :class:`Context` an entry's ops are judged in;
- :mod:`~lattice.state.crdt`: LWW registers and maps, PN-counters, OR-sets;
- :mod:`~lattice.state.doc`: :class:`Doc`, bound to a replica or local.
"""

from __future__ import annotations

from lattice.state.doc import Counter, Doc, Map, Register, Set, Text
from lattice.state.machine import Context, StateMachine
from lattice.state.undo import UndoManager

__all__ = [
    "Context",
    "Counter",
    "Doc",
    "Map",
    "Register",
    "Set",
    "StateMachine",
    "Text",
    "UndoManager",
]

"""State derived from the log (DESIGN §9): documents and the state machines behind them.

- :mod:`~lattice.state.ops`: the op batch, one canonical codec;
- :mod:`~lattice.state.machine`: the :class:`StateMachine` protocol and the causal
  :class:`Context` an entry's ops are judged in;
- :mod:`~lattice.state.crdt`: LWW registers and maps, PN-counters, OR-sets;
- :mod:`~lattice.state.text`: the sequence type, over the Rust kernel;
- :mod:`~lattice.state.doc`: :class:`Doc`, bound to a replica or local;
- :mod:`~lattice.state.handles`: :class:`Text`, :class:`Map` and the other handles.
"""

from __future__ import annotations

from lattice.state.doc import Doc
from lattice.state.handles import Counter, Map, Register, Set, Text
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

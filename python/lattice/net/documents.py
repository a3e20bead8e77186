"""The documents a running node serves on its control socket (``lattice doc``, DESIGN §9).

A node opens a :class:`~lattice.state.Doc` on its replica the first time a request names
it; its state is the log's, so every node of the swarm that delivered the same entries
shows the same text and the same encoded state. An edit is one transaction: one signed
DATA entry, relayed to the node's peers once it is durable. Requests (one JSON object a
line, :mod:`lattice.net.control`)::

    {"op": "doc_show",   "doc": ID, "text": NAME}
    {"op": "doc_insert", "doc": ID, "text": NAME, "index": I, "value": STR}
    {"op": "doc_delete", "doc": ID, "text": NAME, "index": I, "length": N}

``doc`` is a string of at most 64 UTF-8 bytes, ``text`` the text object's name (default
``"text"``), ``index`` and ``length`` count code points. ``doc_show`` answers the text,
the whole document (``to_py``), the BLAKE3 hash and length of its encoded state, and the
entries it refused (id and reason); an edit answers the seq and id of its entry.

>>> import lattice
>>> me = lattice.Identity.generate()
>>> docs = Documents(lattice.Replica(me, peers=[me.public_key]))
>>> docs.handle({"op": "doc_insert", "doc": "notes", "index": 0, "value": "hi"})["seq"]
1
>>> docs.handle({"op": "doc_show", "doc": "notes"})["text"]
'hi'
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lattice import _lattice
from lattice.errors import InvalidArgument
from lattice.net.machines import MACHINE_OPS, Machines
from lattice.state import Doc
from lattice.state.ops import MAX_DOC_ID_LEN

if TYPE_CHECKING:
    from lattice.net.trustconfig import TrustConfig
    from lattice.replica import Replica

__all__ = ["DEFAULT_TEXT", "DOC_OPS", "EDIT_OPS", "MAX_OPEN_DOCS", "Documents"]

#: The control ops served here (and the machine ops, lattice.net.machines).
DOC_OPS = frozenset({"doc_show", "doc_insert", "doc_delete"})
#: Those that sign an entry (the control socket waits until they are durable).
EDIT_OPS = frozenset({"doc_insert", "doc_delete", "publish", "machine_submit"})
#: The text object a request edits when it names none.
DEFAULT_TEXT = "text"
#: Documents a node keeps open at once (each follows every entry the replica delivers);
#: beyond them the least recently used is closed.
MAX_OPEN_DOCS = 64


def _field(req: dict[str, Any], name: str, kind: type, default: object = None) -> Any:
    value = req.get(name, default)
    # bool is an int to Python, never an index or a length here.
    if value is None or not isinstance(value, kind) or isinstance(value, bool):
        raise InvalidArgument(f"{req.get('op')} needs {name!r}: a {kind.__name__}")
    if isinstance(value, str):
        try:
            value.encode()
        except UnicodeEncodeError:
            raise InvalidArgument(f"{name!r} is not UTF-8 (a lone surrogate)") from None
    return value


class Documents:
    """The documents of one replica, opened on demand; ``append`` signs a batch (a node
    passes its own, which relays the entry)."""

    def __init__(
        self,
        replica: Replica,
        append: Callable[..., _lattice.Entry] | None = None,
        trust: TrustConfig | None = None,
    ) -> None:
        self.replica = replica
        self.append = append or replica.append
        #: The Wasm state machines (DESIGN §10), under the node's [trust].
        self.machines = Machines(replica, trust, self.append)
        self.open_docs: dict[bytes, Doc] = {}
        #: Documents kept open whatever the limit (those handed to guests follow the log).
        self.pinned: set[bytes] = set()
        self._signed: list[_lattice.Entry] = []  # the entries of the edit under way

    def _sign(self, payload: bytes) -> _lattice.Entry:
        entry = self.append(payload)
        self._signed.append(entry)
        return entry

    def open(self, doc_id: bytes, pin: bool = False) -> Doc:
        """The document ``doc_id``, rebuilt from the log the first time (``pin``: never
        closed to make room)."""
        if pin:
            self.pinned.add(doc_id)
        doc = self.open_docs.pop(doc_id, None)
        if doc is None:
            unpinned = [d for d in self.open_docs if d not in self.pinned]
            if unpinned and len(self.open_docs) >= MAX_OPEN_DOCS + len(self.pinned):
                # The least recently used one is closed (reopened from the log if asked).
                self.open_docs.pop(unpinned[0]).close()
            doc = Doc(self.replica, doc_id, append=self._sign)
        self.open_docs[doc_id] = doc  # the most recently used last
        return doc

    def close(self) -> None:
        self.machines.close()
        for doc in self.open_docs.values():
            doc.close()
        self.open_docs.clear()

    def handle(self, req: dict[str, Any]) -> dict[str, Any]:
        """Answer one ``doc_*`` request (typed errors for bad ones; nothing is signed)."""
        op = req.get("op")
        if op in MACHINE_OPS:
            return self.machines.handle(req)
        if op not in DOC_OPS:
            raise InvalidArgument(f"not a document op: {op!r}")
        doc_id = _field(req, "doc", str).encode()
        if len(doc_id) > MAX_DOC_ID_LEN:
            raise InvalidArgument(f"a doc id is at most {MAX_DOC_ID_LEN} bytes")
        name = _field(req, "text", str, DEFAULT_TEXT)
        doc = self.open(doc_id)
        text = doc.text(name)
        if op == "doc_show":
            state = doc.encode()
            return {
                "ok": True,
                "text": str(text),
                "value": doc.to_py(),
                "state": _lattice.blake3_raw(state).hex(),
                "state_len": len(state),
                "rejected": [
                    {"entry": e.hex(), "reason": type(r).__name__, "message": str(r)}
                    for e, r in doc.rejected
                ],
            }
        index = _field(req, "index", int)
        self._signed = []
        if op == "doc_insert":
            value = _field(req, "value", str)
            if not value:
                raise InvalidArgument("doc_insert needs a non-empty 'value'")
            text.insert(index, value)
        else:
            length = _field(req, "length", int)
            if length < 1:
                raise InvalidArgument("doc_delete needs a 'length' of at least 1")
            text.delete(index, length)
        (entry,) = self._signed  # one edit, one transaction, one entry
        return {"ok": True, "seq": entry.seq, "id": entry.id.hex()}

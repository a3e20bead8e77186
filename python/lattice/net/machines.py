"""The Wasm state machines a running node serves on its control socket (DESIGN §10), and
the blobs and attestations it publishes (``lattice attest build --config``,
``lattice machine``).

A node runs a state machine only if its ``[trust]`` table admits the blob: N matching
attestations by N distinct trusted builders, read from the ``ATTESTATION`` entries of
the log (:class:`~lattice.state.wasmdoc.WasmDoc`). Until then a machine document's
entries wait, and a request to write to it is refused with the policy's reason.
Requests (one JSON object a line, :mod:`lattice.net.control`)::

    {"op": "publish", "kind": "blob" | "attestation", "payload": HEX}
    {"op": "machine_show",   "doc": ID, "machine": SHA256}
    {"op": "machine_submit", "doc": ID, "machine": SHA256, "ops": [HEX, …]}
    {"op": "machine_query",  "doc": ID, "machine": SHA256, "request": HEX}

A published blob must pass the gate (a module that can never run is not stored), an
attestation must be a DSSE envelope of an in-toto statement lattice reads; anything else
is refused and nothing is signed. ``publish`` of a blob the log holds already answers
that entry.

>>> import lattice, tempfile, pathlib
>>> from lattice.trust.build import build
>>> me = lattice.Identity.generate()
>>> m = Machines(lattice.Replica(me, peers=[me.public_key]), None)
>>> blob = build("counter", pathlib.Path(tempfile.mkdtemp())).path.read_bytes()
>>> m.handle({"op": "publish", "kind": "blob", "payload": blob.hex()})["seq"]
1
>>> m.handle({"op": "machine_show", "doc": "t", "machine": "00" * 32})
Traceback (most recent call last):
lattice.errors.AttestationError: this node trusts no builders: a [trust] table names them
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lattice import _lattice
from lattice.entry import Kind
from lattice.errors import AttestationError, InvalidArgument
from lattice.state.blobs import MAX_BLOB_LEN, Blobs
from lattice.state.ops import MAX_DOC_ID_LEN
from lattice.state.wasm import digests, gate
from lattice.state.wasmdoc import WasmDoc
from lattice.trust.attest import claimed

if TYPE_CHECKING:
    from lattice.net.trustconfig import TrustConfig
    from lattice.replica import Replica
    from lattice.trust.policy import Policy

__all__ = ["MACHINE_OPS", "MAX_OPEN_MACHINES", "Machines"]

MACHINE_OPS = frozenset({"publish", "machine_show", "machine_submit", "machine_query"})
#: Machine documents a node keeps open at once (each holds an instance).
MAX_OPEN_MACHINES = 16


def _hex(req: dict[str, Any], name: str) -> bytes:
    value = req.get(name)
    if not isinstance(value, str):
        raise InvalidArgument(f"{req.get('op')} needs {name!r}: a string of hex digits")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise InvalidArgument(f"{name!r} must be hex digits") from None


class Machines:
    """The machine documents of one replica, opened on demand, under ``trust``."""

    def __init__(
        self,
        replica: Replica,
        trust: TrustConfig | None,
        append: Callable[..., _lattice.Entry] | None = None,
    ) -> None:
        self.replica = replica
        self.trust = trust
        self.append = append or replica.append
        self._blobs: Blobs | None = None  # followed from the first publish on
        #: One policy for the node, fed by the log's attestations (through each document).
        graph = replica.trust  # the web of trust's builders, if [trust] asks for them
        web = None if graph is None else (lambda k: graph.within(k) - replica.blocklist)
        self.policy: Policy | None = None if trust is None else trust.policy(web)
        self.open_docs: dict[tuple[bytes, bytes], WasmDoc] = {}
        #: Told the SHA-256 of each blob a document instantiates (remote attestation
        #: measures it: lattice.net.attesting).
        self.loaded: Callable[[bytes], None] | None = None

    def open(self, doc_id: bytes, machine: bytes) -> WasmDoc:
        """The machine document ``doc_id`` of blob ``machine`` (its SHA-256)."""
        if self.policy is None:
            raise AttestationError("this node trusts no builders: a [trust] table names them")
        key = (doc_id, machine)
        doc = self.open_docs.pop(key, None)
        if doc is None:
            if len(self.open_docs) >= MAX_OPEN_MACHINES:
                self.open_docs.pop(next(iter(self.open_docs))).close()
            doc = WasmDoc(
                self.replica, doc_id, machine, self.policy, append=self.append,
                loaded=self._loaded,
            )  # fmt: skip
        self.open_docs[key] = doc  # the most recently used last
        return doc

    def _loaded(self, digest: bytes) -> None:
        if self.loaded is not None:
            self.loaded(digest)

    @property
    def blobs(self) -> Blobs:
        """The log's blobs by digest (what ``publish`` does not append twice)."""
        if self._blobs is None:
            self._blobs = Blobs(self.replica)
        return self._blobs

    def close(self) -> None:
        for doc in self.open_docs.values():
            doc.close()
        self.open_docs.clear()
        if self._blobs is not None:
            self._blobs.close()

    def publish(self, kind: str, payload: bytes) -> _lattice.Entry:
        """Append a checked blob or attestation (a blob already held: its entry)."""
        if kind == "blob":
            if len(payload) > MAX_BLOB_LEN:
                raise InvalidArgument(f"a blob is at most {MAX_BLOB_LEN} bytes")
            gate(payload)
            held = self.blobs.entry_of(digests(payload)["sha256"])
            if held is not None:
                entry = self.replica.get(held)
                if entry is not None:
                    return entry
            return self.append(payload, Kind.BLOB)
        if kind == "attestation":
            claimed(payload)
            return self.append(payload, Kind.ATTESTATION)
        raise InvalidArgument(f"publish a 'blob' or an 'attestation', not {kind!r}")

    def handle(self, req: dict[str, Any]) -> dict[str, Any]:
        """Answer one request (typed errors for bad ones; nothing is signed then)."""
        op = req.get("op")
        if op == "publish":
            entry = self.publish(str(req.get("kind")), _hex(req, "payload"))
            return {"ok": True, "seq": entry.seq, "id": entry.id.hex(), "kind": entry.kind}
        doc_id = req.get("doc")
        if not isinstance(doc_id, str) or len(doc_id.encode("utf-8", "replace")) > MAX_DOC_ID_LEN:
            raise InvalidArgument(f"{op} needs 'doc': a doc id of at most {MAX_DOC_ID_LEN} bytes")
        try:
            name = doc_id.encode()
        except UnicodeEncodeError:
            raise InvalidArgument("'doc' is not UTF-8 (a lone surrogate)") from None
        machine = _hex(req, "machine")
        if len(machine) != 32:
            raise InvalidArgument("'machine' is the blob's SHA-256: 64 hex digits")
        doc = self.open(name, machine)
        if op == "machine_show":
            running = doc.machine_sm is not None
            return {
                "ok": True,
                "status": doc.status(),
                "applied": doc.applied,
                "waiting": [e.hex() for e in doc.waiting],
                "state": doc.snapshot_hash() if running else None,
                "fuel": doc.fuel_used if running else None,
                "rejected": [
                    {"entry": e.hex(), "reason": type(r).__name__, "message": str(r)}
                    for e, r in doc.rejected
                ],
            }
        if op == "machine_submit":
            ops = req.get("ops")
            if not isinstance(ops, list) or not ops or not all(isinstance(o, str) for o in ops):
                raise InvalidArgument("machine_submit needs 'ops': a list of hex strings")
            try:
                payloads = [bytes.fromhex(o) for o in ops]
            except ValueError:
                raise InvalidArgument("'ops' must be hex digits") from None
            entry = doc.submit(*payloads)
            return {"ok": True, "seq": entry.seq, "id": entry.id.hex()}
        if op == "machine_query":
            return {"ok": True, "answer": doc.query(_hex(req, "request")).hex()}
        raise InvalidArgument(f"not a machine op: {op!r}")

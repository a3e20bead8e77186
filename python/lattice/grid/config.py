"""A grid worker's configuration (``lattice worker run --config FILE``, DESIGN §12)::

    [worker]
    identity = "w1.key"            # its Ed25519 identity (lattice init / Identity.save)
    swarm_id = "…"                 # 64 hex digits: the owner's swarm
    owner = "127.0.0.1:7000"       # the owner node's address
    owner_key = "…"                # optional: the owner's key, checked at the handshake
    slots = 1                      # tasks at once (1 to 8)
    admission = "w1.admission"     # optional: its proof of work (`lattice admit --config
                                   # this file`); by default w1.admission beside the key
    wasm = "matmul.wasm"           # optional: the shipped integer kernel (make wasm) …
    attestations = ["matmul.att"]  # … and its attestations: run only if [trust] admits it

    [trust]                        # the builders it trusts to attest the blob (as a node's)
    threshold = 1
    [[trust.builders]]
    name = "ci"
    public_key = "…"

Paths are relative to the file. Without ``wasm`` the worker computes ``matmul`` (float64)
only; with it, ``matmul-i64`` too, in the blob its policy admitted.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from lattice.errors import InvalidArgument, LatticeError
from lattice.identity import Identity
from lattice.net.checks import ConfigFile
from lattice.net.trustconfig import TrustConfig
from lattice.net.trustconfig import parse as parse_trust
from lattice.state.wasm import WasmStateMachine
from lattice.sybil.records import Admission

__all__ = ["WORKER_KEYS", "WorkerConfig", "load", "render"]

WORKER_KEYS = frozenset(
    {"identity", "swarm_id", "owner", "owner_key", "slots", "admission", "wasm", "attestations"}
)


@dataclasses.dataclass(frozen=True)
class WorkerConfig:
    """A worker's configuration, checked."""

    identity: Path
    swarm_id: bytes
    owner: tuple[str, int]
    owner_key: bytes | None = None
    slots: int = 1
    admission: Path | None = None
    wasm: Path | None = None
    attestations: tuple[Path, ...] = ()
    trust: TrustConfig | None = None

    def load_identity(self) -> Identity:
        return Identity.load(self.identity)

    def load_admission(self) -> Admission | None:
        """Its proof-of-work record, if it has one."""
        path = self.admission
        if path is None:
            beside = self.identity.with_suffix(".admission")  # where `lattice admit` puts it
            path = beside if beside.exists() else None
        if path is None:
            return None
        try:
            return Admission.from_bytes(path.read_bytes())
        except OSError as exc:
            raise InvalidArgument(f"cannot read the admission record {path}: {exc}") from exc

    def machine(self) -> WasmStateMachine | None:
        """The Wasm kernel, admitted by the attestation policy (None without one);
        :class:`~lattice.errors.AttestationError` if the policy does not admit it."""
        if self.wasm is None:
            return None
        if self.trust is None:
            raise InvalidArgument("a worker's wasm kernel needs [trust]: who attests it")
        policy = self.trust.policy()
        for path in self.attestations:
            try:
                policy.add(path.read_bytes())
            except OSError as exc:
                raise InvalidArgument(f"cannot read the attestation {path}: {exc}") from exc
            except LatticeError:
                continue  # the policy says below whether enough of them count
        try:
            blob = self.wasm.read_bytes()
        except OSError as exc:
            raise InvalidArgument(f"cannot read the wasm kernel {self.wasm}: {exc}") from exc
        return WasmStateMachine(blob, policy=policy)


def load(path: str | os.PathLike[str]) -> WorkerConfig:
    """Read and check a worker's configuration file."""
    path = Path(path)
    f = ConfigFile(path)
    raw = f.read()
    f.known(raw, frozenset({"worker", "trust"}), "the file (its tables are [worker], [trust])")
    w = f.table(raw, "worker", "[worker]")
    f.known(w, WORKER_KEYS, "[worker]")
    base = path.parent

    def rel(key: str) -> Path | None:
        value = f.string(w, key, "[worker]")
        return None if value is None else base / value

    identity = rel("identity")
    if identity is None:
        raise f.error("[worker] identity is required")
    owner = w.get("owner")
    if owner is None:
        raise f.error("[worker] owner (the owner node's address) is required")
    slots = w.get("slots", 1)
    if isinstance(slots, bool) or not isinstance(slots, int) or not 0 < slots <= 8:
        raise f.error(f"[worker] slots is a whole number 1 to 8, not {slots!r}")
    listed: Any = w.get("attestations", [])
    if not isinstance(listed, list) or not all(isinstance(x, str) for x in listed):
        raise f.error("[worker] attestations is a list of file names")
    key = w.get("owner_key")
    return WorkerConfig(
        identity=identity,
        swarm_id=f.hex32(w.get("swarm_id"), "[worker] swarm_id"),
        owner=f.address(owner, "[worker] owner"),
        owner_key=None if key is None else f.hex32(key, "[worker] owner_key"),
        slots=slots,
        admission=rel("admission"),
        wasm=rel("wasm"),
        attestations=tuple(base / x for x in listed),
        trust=None if "trust" not in raw else parse_trust(f, raw["trust"]),
    )


def render(
    identity: str,
    swarm_id: bytes,
    owner: tuple[str, int],
    owner_key: bytes | None = None,
    slots: int = 1,
    wasm: str | None = None,
    attestations: tuple[str, ...] = (),
    builders: tuple[tuple[str, bytes], ...] = (),
) -> str:
    """The TOML text of a worker's configuration (what :func:`load` reads back).

    >>> text = render("w.key", bytes(32), ("127.0.0.1", 7000))
    >>> 'owner = "127.0.0.1:7000"' in text
    True
    """
    lines = [
        "[worker]",
        f'identity = "{identity}"',
        f'swarm_id = "{swarm_id.hex()}"',
        f'owner = "{owner[0]}:{owner[1]}"',
        f"slots = {slots}",
    ]
    if owner_key is not None:
        lines.append(f'owner_key = "{owner_key.hex()}"')
    if wasm is not None:
        lines.append(f'wasm = "{wasm}"')
        lines.append("attestations = [" + ", ".join(f'"{a}"' for a in attestations) + "]")
    if builders:
        lines += ["", "[trust]", "threshold = 1"]
        for name, key in builders:
            lines += ["[[trust.builders]]", f'name = "{name}"', f'public_key = "{key.hex()}"']
    return "\n".join(lines) + "\n"

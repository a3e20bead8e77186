"""Wasm state machines (DESIGN §10): application state as a WebAssembly module, the same on
every replica.

A :class:`WasmStateMachine` runs a core Wasm module with the pinned ``wasmtime`` under the
**deterministic profile** (:data:`PROFILE`: fuel metering, NaN canonicalisation, and
threads, shared memory, SIMD, relaxed SIMD, memory64, multi-memory, GC, exceptions, stack
switching and the component model off), hashed into :data:`PROFILE_ID`. A blob passes the
**gate** only with no imports, exactly the exports of ABI v0 (``statemachines/abi.h``:
``memory``, ``io_ptr``, ``io_cap``, ``init``, ``apply_batch(n)``, ``snapshot``,
``restore(len)``, ``query(len)``, with those signatures), a memory maximum within the
cap, and validity under the profile. Each store's memory is capped, and each batch gets
fuel for its ops (``fuel_per_op`` each, at most ``fuel_per_batch``), set after
instantiation.

An entry's ops are applied all or none (:meth:`apply`, the StateMachine protocol): one
``apply_batch`` call; if the module refuses an op, traps (out of fuel, unreachable, out of
bounds) or answers outside the ABI, the entry is refused (:class:`~lattice.errors.InvalidOp`)
and the instance is rebuilt from the snapshot it had before — every replica alike.

>>> from lattice.trust.build import SOURCES, build
>>> import struct, tempfile, pathlib
>>> blob = build("counter", pathlib.Path(tempfile.mkdtemp())).path.read_bytes()
>>> sm = WasmStateMachine(blob)
>>> sm.apply_batch([struct.pack("<q", 5), struct.pack("<q", -2)])
-1
>>> struct.unpack("<q", sm.query(b""))[0]
3
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import json
import struct
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

import wasmtime

from lattice import _lattice
from lattice.errors import BadBlob, DecodeError, LimitExceeded, OpOutOfRange, WasmTrap
from lattice.state.machine import Context

__all__ = [
    "ABI",
    "CONTEXT_LEN",
    "DEFAULT_FUEL_PER_BATCH",
    "DEFAULT_FUEL_PER_OP",
    "MAX_MEMORY",
    "PROFILE",
    "PROFILE_ID",
    "Admission",
    "AttestationSink",
    "WasmStateMachine",
    "digests",
]

#: ABI v0: every export, and its (params, results) in Wasm value types.
ABI: dict[str, tuple[tuple[str, ...], tuple[str, ...]] | None] = {
    "memory": None,
    "io_ptr": ((), ("i32",)),
    "io_cap": ((), ("i32",)),
    "init": ((), ()),
    "apply_batch": (("i32",), ("i32",)),
    "snapshot": ((), ("i32",)),
    "restore": (("i32",), ("i32",)),
    "query": (("i32",), ("i32",)),
}
#: What precedes each op's payload in the I/O buffer: lamport u64 ‖ entry id ‖ op index u32.
CONTEXT_LEN = 8 + 32 + 4
#: The most linear memory a state machine may have (declared maximum and store cap).
MAX_MEMORY = 16 << 20
DEFAULT_FUEL_PER_OP = 1_000_000
DEFAULT_FUEL_PER_BATCH = 1_000_000_000
_PAGE = 65536

#: The deterministic engine profile: every wasmtime flag lattice sets, and the version.
PROFILE: dict[str, Any] = {
    "wasmtime": importlib.metadata.version("wasmtime"),
    "consume_fuel": True,
    "cranelift_nan_canonicalization": True,
    "wasm_threads": False,
    "shared_memory": False,
    "wasm_simd": False,
    "wasm_relaxed_simd": False,
    "wasm_memory64": False,
    "wasm_multi_memory": False,
    "wasm_gc": False,
    "wasm_function_references": False,
    "wasm_exceptions": False,
    "wasm_stack_switching": False,
    "wasm_component_model": False,
    "wasm_tail_call": False,
    "wasm_wide_arithmetic": False,
    "wasm_custom_page_sizes": False,
}
#: The profile's id: SHA-256 of its canonical JSON (named in every build manifest).
PROFILE_ID = hashlib.sha256(
    json.dumps(PROFILE, sort_keys=True, separators=(",", ":")).encode()
).hexdigest()


def _engine() -> wasmtime.Engine:
    config = wasmtime.Config()
    for flag, value in PROFILE.items():
        if flag != "wasmtime":
            setattr(config, flag, value)
    return wasmtime.Engine(config)


_ENGINE: wasmtime.Engine | None = None


def engine() -> wasmtime.Engine:
    """The one engine of the profile (compiled modules are shared through it)."""
    global _ENGINE
    if _ENGINE is None:
        _ENGINE = _engine()
    return _ENGINE


def digests(blob: bytes) -> dict[str, str]:
    """A blob's names: ``{"sha256": hex, "blake3": hex}``."""
    return {"sha256": hashlib.sha256(blob).hexdigest(), "blake3": _lattice.blake3_raw(blob).hex()}


class Admission(Protocol):
    """What decides whether a blob may run (lattice.trust.policy): raises
    :class:`~lattice.errors.AttestationError` naming the rule if not."""

    def require(self, blob_digests: dict[str, str]) -> None: ...


class AttestationSink(Admission, Protocol):
    """An admission that learns from attestations as they arrive (a
    :class:`~lattice.trust.policy.Policy`): ``add`` takes one DSSE envelope, raising
    AttestationError if it does not count."""

    def add(self, envelope: bytes) -> object: ...


def _valtypes(types: Sequence[Any]) -> tuple[str, ...]:
    return tuple(str(t) for t in types)


def gate(blob: bytes, max_memory: int = MAX_MEMORY) -> wasmtime.Module:
    """The compiled module, if ``blob`` may run at all (DESIGN §10); BadBlob otherwise."""
    if not isinstance(blob, bytes | bytearray | memoryview):
        raise BadBlob(f"a blob is bytes, not {type(blob).__name__}")
    try:
        module = wasmtime.Module(engine(), bytes(blob))
    except wasmtime.WasmtimeError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "invalid"
        raise BadBlob(f"not a valid module under the deterministic profile: {first}") from None
    if module.imports:
        names = ", ".join(f"{i.module}.{i.name}" for i in module.imports)
        raise BadBlob(f"a state machine imports nothing; this one imports {names}")
    exports = {e.name: e.type for e in module.exports}
    if set(exports) != set(ABI):
        extra, missing = set(exports) - set(ABI), set(ABI) - set(exports)
        raise BadBlob(
            f"exports are ABI v0's exactly (extra {sorted(extra)}, missing {sorted(missing)})"
        )
    for name, sig in ABI.items():
        ty = exports[name]
        if sig is None:
            if not isinstance(ty, wasmtime.MemoryType):
                raise BadBlob("'memory' is a memory")
            if ty.is_64 or ty.is_shared:
                raise BadBlob("the memory is 32-bit and not shared")
            top = ty.limits.max
            if top is None or top * _PAGE > max_memory:
                raise BadBlob(f"the memory needs a maximum of at most {max_memory} bytes")
            continue
        if not isinstance(ty, wasmtime.FuncType):
            raise BadBlob(f"{name!r} is a function")
        if (_valtypes(ty.params), _valtypes(ty.results)) != sig:
            raise BadBlob(f"{name!r} has the signature {sig}")
    return module


class WasmStateMachine:
    """A state machine in a Wasm blob (see the module doc).

    - ``blob``: the module's bytes;
    - ``policy``: what must admit the blob before it runs (None: no check — for blobs
      this process built itself);
    - ``max_memory``, ``fuel_per_op``, ``fuel_per_batch``: the caps.
    """

    def __init__(
        self,
        blob: bytes,
        policy: Admission | None = None,
        *,
        max_memory: int = MAX_MEMORY,
        fuel_per_op: int = DEFAULT_FUEL_PER_OP,
        fuel_per_batch: int = DEFAULT_FUEL_PER_BATCH,
    ) -> None:
        self.blob = bytes(blob)
        self.digests = digests(self.blob)
        if policy is not None:
            policy.require(self.digests)
        self.module = gate(self.blob, max_memory)
        self.max_memory = max_memory
        self.fuel_per_op = fuel_per_op
        self.fuel_per_batch = fuel_per_batch
        #: Fuel the ops applied so far took (the same on every replica).
        self.fuel_used = 0
        self._build(None)
        try:
            #: The module's snapshot, taken after init and after each accepted batch (the
            #: same points on every replica): queries, hashes and collapse read this, so
            #: nothing but applied ops ever runs the live instance.
            self._state = self._snapshot()
        except (wasmtime.WasmtimeError, wasmtime.Trap, WasmTrap) as exc:
            raise BadBlob(f"the blob traps on its first snapshot: {exc}") from None

    # --- the instance ------------------------------------------------------------------

    def _build(self, state: bytes | None) -> None:
        """A fresh instance, initialised, and restored to ``state`` if given."""
        store = wasmtime.Store(engine())
        store.set_limits(memory_size=self.max_memory)
        store.set_fuel(self.fuel_per_batch)
        try:
            instance = wasmtime.Instance(store, self.module, [])
        except (wasmtime.WasmtimeError, wasmtime.Trap) as exc:
            raise BadBlob(f"the blob does not instantiate: {exc}") from None
        self._store = store
        ex = instance.exports(store)
        self._memory: wasmtime.Memory = ex["memory"]  # type: ignore[assignment]
        self._fn = {name: ex[name] for name in ABI if name != "memory"}
        try:
            self._io = int(self._fn["io_ptr"](store))  # type: ignore[operator]
            self._cap = int(self._fn["io_cap"](store))  # type: ignore[operator]
            self._fn["init"](store)  # type: ignore[operator]
        except (wasmtime.WasmtimeError, wasmtime.Trap) as exc:
            raise BadBlob(f"the blob traps as it starts: {exc}") from None
        size = self._memory.data_len(store)
        if self._io < 0 or self._cap <= 0 or self._io + self._cap > size:
            raise BadBlob("its I/O buffer is not inside its memory")
        if state is not None:
            try:
                self._restore(state)
            except (wasmtime.WasmtimeError, wasmtime.Trap, DecodeError) as exc:
                raise BadBlob(f"the state machine cannot restore its own snapshot: {exc}") from None

    def _call(self, name: str, *args: int, fuel: int) -> int:
        self._store.set_fuel(fuel)
        try:
            result = int(self._fn[name](self._store, *args))  # type: ignore[operator]
        finally:
            self.fuel_spent = fuel - self._store.get_fuel()
        return result

    def _write(self, data: bytes) -> None:
        if len(data) > self._cap:
            raise LimitExceeded(f"{len(data)} bytes for an I/O buffer of {self._cap}")
        self._memory.write(self._store, data, self._io)

    def _read(self, n: int, what: str) -> bytes:
        if not 0 <= n <= self._cap:
            raise WasmTrap(f"{what}: the module answered {n} bytes (its buffer holds {self._cap})")
        return bytes(self._memory.read(self._store, self._io, self._io + n))

    def _snapshot(self) -> bytes:
        return self._read(self._call("snapshot", fuel=self.fuel_per_batch), "snapshot")

    def _restore(self, state: bytes) -> None:
        self._write(state)
        if self._call("restore", len(state), fuel=self.fuel_per_batch) != 0:
            raise DecodeError("the state machine refused the state it was given")

    # --- the StateMachine protocol -------------------------------------------------------

    def apply_batch(
        self, payloads: Sequence[bytes], contexts: Sequence[bytes] | None = None
    ) -> int:
        """Hand ``payloads`` (each after its 44-byte context; zeros if none) to the module in
        one call: the index of the first op it refused, or -1. A trap is refused op 0 and a
        rebuilt instance (nothing of the batch stays)."""
        ctx = contexts or [bytes(CONTEXT_LEN)] * len(payloads)
        if len(ctx) != len(payloads) or any(len(c) != CONTEXT_LEN for c in ctx):
            raise LimitExceeded("one 44-byte context per op")
        frames = b"".join(
            struct.pack("<I", CONTEXT_LEN + len(p)) + c + bytes(p)
            for p, c in zip(payloads, ctx, strict=True)
        )
        before = self._state
        fuel = min(self.fuel_per_batch, self.fuel_per_op * max(1, len(payloads)))
        try:
            self._write(frames)
            refused = self._call("apply_batch", len(payloads), fuel=fuel)
        except (wasmtime.WasmtimeError, wasmtime.Trap, LimitExceeded):
            self.fuel_used += self.fuel_spent
            self._build(before)  # the instance is discarded: back to the last snapshot
            return 0
        self.fuel_used += self.fuel_spent
        if not -1 <= refused < len(payloads):
            self._build(before)
            return 0
        if refused >= 0:
            self._build(before)  # all or none: the ops before the refused one go too
            return refused
        try:
            self._state = self._snapshot()
        except (wasmtime.WasmtimeError, wasmtime.Trap, WasmTrap):
            self._build(before)  # a batch whose state cannot be taken is refused whole
            return 0
        return -1

    def check(self, payloads: Sequence[bytes], contexts: Sequence[bytes] | None = None) -> int:
        """What :meth:`apply_batch` would answer now, changing nothing (state and fuel
        count alike): a writer's test before it signs, run on a throwaway instance."""
        with self._throwaway():
            return self.apply_batch(payloads, contexts)

    @contextlib.contextmanager
    def _throwaway(self) -> Iterator[None]:
        """Run the block on a fresh instance restored from the last snapshot, then go back
        to the live one as it was (state, snapshot and fuel count)."""
        kept = self._store, self._memory, self._fn, self._io, self._cap
        state, used = self._state, self.fuel_used
        try:
            self._build(state)
            yield
        finally:
            self._store, self._memory, self._fn, self._io, self._cap = kept
            self._state, self.fuel_used = state, used

    def apply(self, ops: Sequence[bytes], context: Context) -> None:
        """An entry's ops, all or none (InvalidOp says which was refused)."""
        stamps = [
            struct.pack("<Q", context.lamport) + context.entry + struct.pack("<I", i)
            for i in range(len(ops))
        ]
        refused = self.apply_batch(ops, stamps)
        if refused >= 0:
            raise OpOutOfRange(f"the state machine refused op {refused} of the entry")

    def collapse(self, view: bytes) -> bytes:
        """The module's snapshot (its state, as it encodes it)."""
        return self._state

    def restore(self, snapshot: bytes) -> None:
        """Become the state ``snapshot`` (DecodeError if the module refuses it)."""
        before = self._state
        try:
            self._restore(snapshot)
            self._state = self._snapshot()
        except (wasmtime.WasmtimeError, wasmtime.Trap, WasmTrap) as exc:
            self._build(before)
            raise DecodeError(f"the state machine trapped on a state: {exc}") from None
        except DecodeError:
            self._build(before)
            raise

    def query(self, request: object) -> bytes:
        """Ask the module (its answer, or WasmTrap / LimitExceeded for none). A query
        changes nothing: whatever the module does to its memory meanwhile, the instance
        asked is a fresh instance restored from the last snapshot, discarded after (a
        hostile module that counts queries would otherwise make replicas that were asked
        differently diverge). Hashes and collapse read that snapshot too."""
        data = bytes(request) if isinstance(request, bytes | bytearray | memoryview) else b""
        with self._throwaway():
            try:
                self._write(data)
                n = self._call("query", len(data), fuel=self.fuel_per_batch)
                return self._read(n, "query")
            except (wasmtime.WasmtimeError, wasmtime.Trap) as exc:
                raise WasmTrap(f"the state machine trapped on a query: {exc}") from None

    def snapshot_hash(self) -> str:
        """SHA-256 of the current snapshot (replicas compare these)."""
        return hashlib.sha256(self._state).hexdigest()

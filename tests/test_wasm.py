"""Wasm state machines (issue 13, DESIGN §10, §16): the gate, traps, fuel, caps and
determinism, with the real wasmtime and hostile blobs written in WAT."""

from __future__ import annotations

import random
import struct
from pathlib import Path

import pytest
import wasmtime

from lattice import errors
from lattice.state.wasm import MAX_MEMORY, PROFILE, PROFILE_ID, WasmStateMachine, gate
from lattice.trust.build import build

#: The exports of ABI v0 around a body of hostile functions (each may be replaced).
ABI_FUNCS = {
    "io_ptr": '(func (export "io_ptr") (result i32) i32.const 1024)',
    "io_cap": '(func (export "io_cap") (result i32) i32.const 4096)',
    "init": '(func (export "init"))',
    "apply_batch": '(func (export "apply_batch") (param i32) (result i32) i32.const -1)',
    "snapshot": '(func (export "snapshot") (result i32) i32.const 0)',
    "restore": '(func (export "restore") (param i32) (result i32) i32.const 0)',
    "query": '(func (export "query") (param i32) (result i32) i32.const 0)',
}


def wat(
    memory: str = '(memory (export "memory") 1 2)', extra: str = "", imports: str = "", **funcs: str
) -> bytes:
    body = "\n".join(funcs.get(k, v) for k, v in ABI_FUNCS.items())
    return wasmtime.wat2wasm(f"(module {imports} {memory} {extra} {body})")


@pytest.fixture(scope="module")
def counter(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return build("counter", tmp_path_factory.mktemp("w")).path.read_bytes()


def test_the_profile_names_every_flag() -> None:
    assert PROFILE["consume_fuel"] and PROFILE["cranelift_nan_canonicalization"]
    off = ("wasm_threads", "shared_memory", "wasm_simd", "wasm_relaxed_simd", "wasm_memory64")
    off += ("wasm_multi_memory", "wasm_gc", "wasm_exceptions", "wasm_stack_switching")
    for flag in off:
        assert PROFILE[flag] is False, flag
    assert len(PROFILE_ID) == 64


@pytest.mark.parametrize(
    ("blob", "why"),
    [
        (lambda: wat(imports='(import "env" "f" (func))'), "imports"),
        (lambda: wat(extra='(func (export "extra"))'), "exports"),
        (lambda: wat(memory='(memory (export "memory") 1)'), "maximum"),
        (lambda: wat(memory=f'(memory (export "memory") 1 {MAX_MEMORY // 65536 + 1})'), "maximum"),
        (lambda: wat(memory='(memory (export "memory") 1 2 shared)'), "valid"),
        (lambda: wat(extra="(func (result v128) v128.const i64x2 0 0)"), "valid"),
        (lambda: wat(init='(func (export "init") (param i32))'), "signature"),
        (lambda: b"\x00asm\x01\x00\x00\x00garbage", "valid"),
        (lambda: b"not wasm", "valid"),
    ],
)
def test_the_gate_refuses(blob, why: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(errors.BadBlob, match=why):
        gate(blob())


def test_a_buffer_outside_memory_is_refused() -> None:
    with pytest.raises(errors.BadBlob, match="I/O buffer"):
        WasmStateMachine(wat(io_cap='(func (export "io_cap") (result i32) i32.const 1000000)'))


def test_traps_refuse_the_batch_and_the_machine_goes_on(counter: bytes) -> None:
    state = "(global $n (mut i32) (i32.const 0))"
    funcs = {
        # op payload byte: 0 add one, 1 loop forever, 2 unreachable, 3 read out of bounds
        "apply_batch": """(func (export "apply_batch") (param $k i32) (result i32)
            (local $op i32)
            (local.set $op (i32.load8_u (i32.const 1072)))
            (if (i32.eq (local.get $op) (i32.const 1)) (then (loop $l (br $l))))
            (if (i32.eq (local.get $op) (i32.const 2)) (then unreachable))
            (if (i32.eq (local.get $op) (i32.const 3)) (then (drop (i32.load (i32.const 200000)))))
            (global.set $n (i32.add (global.get $n) (i32.const 1)))
            i32.const -1)""",
        "snapshot": """(func (export "snapshot") (result i32)
            (i32.store (i32.const 1024) (global.get $n)) i32.const 4)""",
        "restore": """(func (export "restore") (param i32) (result i32)
            (global.set $n (i32.load (i32.const 1024))) i32.const 0)""",
    }
    sm = WasmStateMachine(wat(extra=state, **funcs), fuel_per_op=100_000)
    assert sm.apply_batch([b"\x00"]) == -1
    for hostile in (b"\x01", b"\x02", b"\x03"):
        assert sm.apply_batch([hostile]) == 0, hostile
        assert sm.collapse(b"") == struct.pack("<i", 1), "the state is as before the batch"
    assert sm.apply_batch([b"\x00"]) == -1 and sm.collapse(b"") == struct.pack("<i", 2)


def test_a_memory_bomb_stops_at_the_cap() -> None:
    bomb = """(func (export "apply_batch") (param i32) (result i32)
        (loop $l (br_if $l (i32.ne (memory.grow (i32.const 1)) (i32.const -1))))
        unreachable)"""
    sm = WasmStateMachine(wat(memory='(memory (export "memory") 1 256)', apply_batch=bomb))
    assert sm.apply_batch([b"x"]) == 0
    assert sm._memory.data_len(sm._store) <= MAX_MEMORY


def test_absurd_lengths_are_refused() -> None:
    liar = {
        "query": '(func (export "query") (param i32) (result i32) i32.const 2000000000)',
        "apply_batch": '(func (export "apply_batch") (param i32) (result i32) i32.const 77)',
    }
    sm = WasmStateMachine(wat(**liar))
    with pytest.raises(errors.WasmTrap):
        sm.query(b"")
    assert sm.apply_batch([b"a", b"b"]) == 0, "an index past the batch is a refusal"


def test_nan_bits_are_canonical() -> None:
    nan = """(func (export "query") (param i32) (result i32)
        (f64.store (i32.const 1024)
            (f64.div (f64.reinterpret_i64 (i64.const 0xfff0000000000001)) (f64.const 1)))
        i32.const 8)"""
    sm = WasmStateMachine(wat(query=nan))
    assert sm.query(b"") == struct.pack("<Q", 0x7FF8000000000000)


def test_two_replicas_replay_10000_ops_alike(counter: bytes) -> None:
    rng = random.Random(13)
    ops = [struct.pack("<q", rng.randint(-(10**6), 10**6)) for _ in range(10_000)]
    ops[5000] = struct.pack("<q", 2**63 - 1)  # refused: overflow
    machines = [WasmStateMachine(counter), WasmStateMachine(counter)]
    for sm, size in zip(machines, (100, 250), strict=True):
        for start in range(0, len(ops), size):
            sm.apply_batch(ops[start : start + size])
    a, b = machines
    assert a.snapshot_hash() == b.snapshot_hash()
    # Fuel is a function of the ops: the same batches take the same fuel.
    c = WasmStateMachine(counter)
    for start in range(0, len(ops), 100):
        c.apply_batch(ops[start : start + 100])
    assert c.fuel_used == a.fuel_used and c.snapshot_hash() == a.snapshot_hash()


def test_a_policy_that_refuses_stops_the_blob(counter: bytes) -> None:
    class Refuse:
        def require(self, blob_digests: dict[str, str]) -> None:
            raise errors.AttestationError(f"not admitted: {blob_digests['sha256'][:8]}")

    with pytest.raises(errors.AttestationError, match="not admitted"):
        WasmStateMachine(counter, policy=Refuse())


def test_shipped_blobs_pass_the_gate(tmp_path: Path) -> None:
    for name in ("counter", "kv", "matmul"):
        WasmStateMachine(build(name, tmp_path).path.read_bytes())


def test_a_query_changes_nothing_even_in_a_hostile_module() -> None:
    # The module counts queries in a global and lets the count leak into its next op:
    # a replica that answered queries must still end as one that did not.
    counting = {
        "query": """(func (export "query") (param i32) (result i32)
            (global.set $n (i32.add (global.get $n) (i32.const 1)))
            (i32.store (i32.const 1024) (global.get $n)) i32.const 4)""",
        "apply_batch": """(func (export "apply_batch") (param i32) (result i32)
            (i32.store (i32.const 2048) (global.get $n)) i32.const -1)""",
        "snapshot": """(func (export "snapshot") (result i32)
            (i32.store (i32.const 1024) (i32.load (i32.const 2048))) i32.const 4)""",
    }
    extra = "(global $n (mut i32) (i32.const 0))"
    asked = WasmStateMachine(wat(extra=extra, **counting))
    quiet = WasmStateMachine(wat(extra=extra, **counting))
    answers = [asked.query(b"") for _ in range(3)]
    assert answers == [struct.pack("<I", 1)] * 3, "each query sees the state, not the last"
    assert asked.apply_batch([b"op"]) == quiet.apply_batch([b"op"]) == -1
    assert asked.snapshot_hash() == quiet.snapshot_hash()


def test_nothing_but_applied_ops_runs_the_live_instance() -> None:
    # The module counts the calls into its snapshot and lets the count into its state: a
    # replica asked for hashes, collapses, checks and queries must end as one never asked.
    counting = {
        "snapshot": """(func (export "snapshot") (result i32)
            (global.set $n (i32.add (global.get $n) (i32.const 1)))
            (i32.store (i32.const 1024) (global.get $n)) i32.const 4)""",
    }
    extra = "(global $n (mut i32) (i32.const 0))"
    asked = WasmStateMachine(wat(extra=extra, **counting))
    quiet = WasmStateMachine(wat(extra=extra, **counting))
    first = asked.snapshot_hash()
    for _ in range(3):
        assert asked.snapshot_hash() == first and asked.collapse(b"v") == struct.pack("<I", 1)
        asked.query(b"")
        assert asked.check([b"op"]) == -1
    assert asked.fuel_used == quiet.fuel_used == 0
    assert asked.apply_batch([b"op"]) == quiet.apply_batch([b"op"]) == -1
    assert asked.snapshot_hash() == quiet.snapshot_hash()
    assert asked.collapse(b"v") == struct.pack("<I", 2)

"""The shipped Wasm state machines (issue 13, DESIGN §10): built from source by the pinned
ziglang, byte-identical twice, ABI v0 exactly (no imports), and doing what their sources
say, run by the real wasmtime."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import wasmtime

from lattice.trust.build import MACHINES, MAX_MEMORY, build_all, reproduce

ABI = {"memory", "io_ptr", "io_cap", "init", "apply_batch", "snapshot", "restore", "query"}
CONTEXT = bytes(44)


@pytest.fixture(scope="module")
def blobs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return {b.name: b.path for b in build_all(tmp_path_factory.mktemp("wasm"))}


class Raw:
    """A blob instantiated by hand: the ABI calls, without lattice's host."""

    def __init__(self, path: Path) -> None:
        self.store = wasmtime.Store()
        module = wasmtime.Module.from_file(self.store.engine, str(path))
        self.instance = wasmtime.Instance(self.store, module, [])
        self.ex = self.instance.exports(self.store)
        self.memory = self.ex["memory"]
        self.io = self.ex["io_ptr"](self.store)
        self.ex["init"](self.store)

    def write(self, data: bytes) -> None:
        self.memory.write(self.store, data, self.io)

    def read(self, n: int) -> bytes:
        return bytes(self.memory.read(self.store, self.io, self.io + n))

    def apply(self, payloads: list[bytes], contexts: list[bytes] | None = None) -> int:
        ctx = contexts or [CONTEXT] * len(payloads)
        self.write(
            b"".join(
                struct.pack("<I", 44 + len(p)) + c + p for p, c in zip(payloads, ctx, strict=True)
            )
        )
        return int(self.ex["apply_batch"](self.store, len(payloads)))

    def call(self, name: str, data: bytes = b"") -> bytes:
        self.write(data)
        args = () if name == "snapshot" else (len(data),)
        n = int(self.ex[name](self.store, *args))
        return b"" if n < 0 else self.read(n)

    def restore(self, state: bytes) -> int:
        self.write(state)
        return int(self.ex["restore"](self.store, len(state)))


def test_every_blob_builds_twice_to_the_same_bytes() -> None:
    reproduced = reproduce()
    assert [b.name for b in reproduced] == list(MACHINES)


def test_the_blobs_are_abi_v0_exactly(blobs: dict[str, Path]) -> None:
    engine = wasmtime.Engine()
    for name, path in blobs.items():
        module = wasmtime.Module.from_file(engine, str(path))
        assert not module.imports, name
        assert {e.name for e in module.exports} == ABI, name
        (memory,) = [e.type for e in module.exports if e.name == "memory"]
        assert memory.limits.max is not None and memory.limits.max * 65536 <= MAX_MEMORY


def test_counter(blobs: dict[str, Path]) -> None:
    c = Raw(blobs["counter"])
    assert c.apply([struct.pack("<q", 5), struct.pack("<q", -2)]) == -1
    assert struct.unpack("<q", c.call("query"))[0] == 3
    assert c.apply([struct.pack("<q", 2**63 - 1)]) == 0, "overflow is refused"
    assert c.apply([b"\x01\x02"]) == 0, "a malformed op is refused"
    snap = c.call("snapshot")
    again = Raw(blobs["counter"])
    assert again.restore(snap) == 0 and again.restore(snap + b"x") == -1
    assert struct.unpack("<q", again.call("query"))[0] == 3


def test_kv_last_writer_wins_by_stamp(blobs: dict[str, Path]) -> None:
    def ctx(lamport: int) -> bytes:
        return struct.pack("<Q", lamport) + bytes(32) + struct.pack("<I", 0)

    def put(key: bytes, value: bytes) -> bytes:
        return b"\x01" + bytes([len(key)]) + key + struct.pack("<H", len(value)) + value

    for order in ([0, 1], [1, 0]):
        kv = Raw(blobs["kv"])
        ops = [put(b"title", b"first"), put(b"title", b"second")]
        stamps = [ctx(1), ctx(2)]
        assert kv.apply([ops[i] for i in order], [stamps[i] for i in order]) == -1
        assert kv.call("query", b"\x05title") == b"\x01\x06\x00second"
    assert kv.apply([b"\x01\x00"]) == 0, "an empty key is refused"
    assert kv.call("query", b"\x03abc") == b"\x00\x00\x00"


def test_matmul_is_the_product_mod_2_64(blobs: dict[str, Path]) -> None:
    rng = np.random.default_rng(5)
    a = rng.integers(-(2**62), 2**62, size=(7, 5), dtype=np.int64)
    b = rng.integers(-(2**62), 2**62, size=(5, 3), dtype=np.int64)
    request = struct.pack("<III", 7, 5, 3) + a.astype("<i8").tobytes() + b.astype("<i8").tobytes()
    got = np.frombuffer(Raw(blobs["matmul"]).call("query", request), dtype="<i8").reshape(7, 3)
    with np.errstate(over="ignore"):
        want = (a.astype(np.uint64) @ b.astype(np.uint64)).astype(np.int64)
    assert (got == want).all()
    assert Raw(blobs["matmul"]).call("query", request[:-1]) == b"", "a short request is refused"

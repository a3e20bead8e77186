"""P11 and the first part of P12 (DESIGN §15): Wasm state machines and attestations.

P11: the shipped counter through WasmStateMachine: 10,000 ops in batches of 500 and one op
a call, and the time to build an instance with the compiled module cached.
P12: the policy check of 3 DSSE envelopes (lattice: verify and count) beside
securesystemslib verifying the same 3 envelopes, in the same run.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
from securesystemslib.dsse import Envelope
from securesystemslib.signer import SSlibKey

import lattice
from lattice.state.wasm import PROFILE_ID, WasmStateMachine
from lattice.trust.attest import BuildManifest, attest, key_id
from lattice.trust.build import ZIG_ARGV, build
from lattice.trust.policy import Policy

OPS = 10_000
BATCH = 500
BUILDERS = [lattice.Identity.from_seed(bytes([0xE0 + i]) * 32) for i in range(3)]


@pytest.fixture(scope="module")
def counter(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return build("counter", tmp_path_factory.mktemp("p11")).path.read_bytes()


def _ops(full_size: bool) -> list[bytes]:
    return [struct.pack("<q", 1)] * (OPS if full_size else 1000)


@pytest.mark.benchmark(group="P11 wasm")
def test_p11_batched(benchmark, counter: bytes, full_size: bool) -> None:  # type: ignore[no-untyped-def]
    ops = _ops(full_size)
    sm = WasmStateMachine(counter)

    def run() -> None:
        for start in range(0, len(ops), BATCH):
            assert sm.apply_batch(ops[start : start + BATCH]) == -1

    benchmark.extra_info["ops"] = len(ops)
    benchmark.pedantic(run, rounds=5, iterations=1)


@pytest.mark.benchmark(group="P11 wasm")
def test_p11_single_calls(benchmark, counter: bytes, full_size: bool) -> None:  # type: ignore[no-untyped-def]
    ops = _ops(full_size)[: (OPS if full_size else 1000) // 10]
    sm = WasmStateMachine(counter)

    def run() -> None:
        for op in ops:
            assert sm.apply_batch([op]) == -1

    benchmark.extra_info["ops"] = len(ops)
    benchmark.pedantic(run, rounds=3, iterations=1)


@pytest.mark.benchmark(group="P11 wasm")
def test_p11_instance_build(benchmark, counter: bytes) -> None:  # type: ignore[no-untyped-def]
    sm = WasmStateMachine(counter)
    benchmark.pedantic(sm._build, args=(None,), rounds=50, iterations=1)


def _envelopes() -> list[bytes]:
    out = []
    for i, b in enumerate(BUILDERS):
        m = BuildManifest(
            name="counter.wasm", output={"sha256": "ab" * 32, "blake3": "cd" * 32},
            source={"sha256": "ef" * 32}, toolchain={"package": "ziglang", "version": "0.14.1"},
            argv=list(ZIG_ARGV), profile=PROFILE_ID, builder=f"b{i}",
        )  # fmt: skip
        out.append(attest(m, b))
    return out


@pytest.mark.benchmark(group="P12 attestations")
def test_p12_lattice_policy(benchmark) -> None:  # type: ignore[no-untyped-def]
    envelopes = _envelopes()
    keys = {f"b{i}": b.public_key for i, b in enumerate(BUILDERS)}

    def run() -> str:
        policy = Policy(keys, 3)
        for env in envelopes:
            policy.add(env)
        return policy.status({"sha256": "ab" * 32})

    assert benchmark.pedantic(run, rounds=200, iterations=1) == "admitted"


@pytest.mark.benchmark(group="P12 attestations")
def test_p12_securesystemslib(benchmark) -> None:  # type: ignore[no-untyped-def]
    envelopes = _envelopes()
    keys = [
        SSlibKey(key_id(b.public_key), "ed25519", "ed25519", {"public": b.public_key.hex()})
        for b in BUILDERS
    ]

    def run() -> int:
        for raw in envelopes:
            Envelope.from_dict(json.loads(raw)).verify(keys, 1)
        return len(envelopes)

    assert benchmark.pedantic(run, rounds=200, iterations=1) == 3


if __name__ == "__main__":  # pragma: no cover
    print(Path(__file__).name)

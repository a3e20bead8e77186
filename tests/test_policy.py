"""The attestation policy (issue 13, DESIGN §10): N matching attestations by N distinct
trusted keys admit a blob; dissent quarantines it; every refusal names its rule."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

import lattice
from lattice.errors import AttestationError, InvalidArgument
from lattice.state.wasm import PROFILE_ID, WasmStateMachine, digests
from lattice.trust.attest import BuildManifest, attest
from lattice.trust.build import ZIG_ARGV, build
from lattice.trust.policy import Policy, Trusted

BUILDERS = [lattice.Identity.from_seed(bytes([0xC0 + i]) * 32) for i in range(4)]
NAMES = [f"b{i}" for i in range(4)]


def _manifest(output: dict[str, str], builder: str = "b0", **changes: object) -> BuildManifest:
    m = BuildManifest(
        name="counter.wasm", output=output, source={"sha256": "ef" * 32},
        toolchain={"package": "ziglang", "version": "0.14.1"}, argv=list(ZIG_ARGV),
        profile=PROFILE_ID, builder=builder,
    )  # fmt: skip
    return replace(m, **changes)  # type: ignore[arg-type]


def _policy(n: int = 3, **kw: object) -> Policy:
    return Policy(dict(zip(NAMES, (b.public_key for b in BUILDERS), strict=True)), n, **kw)  # type: ignore[arg-type]


OUT = {"sha256": "ab" * 32, "blake3": "cd" * 32}


@pytest.mark.parametrize("given", [0, 1, 2, 3])
def test_zero_one_n_minus_one_and_n(given: int) -> None:
    policy = _policy(3)
    for i in range(given):
        policy.add(attest(_manifest(OUT, NAMES[i]), BUILDERS[i]))
    if given >= 3:
        policy.require(OUT)
    else:
        with pytest.raises(AttestationError, match=f"pending: {given} of 3"):
            policy.require(OUT)


def test_one_key_counts_once_however_many_envelopes() -> None:
    policy = _policy(2)
    for when in ("a", "b", "c"):
        policy.add(attest(_manifest(OUT, "b0", metadata={"startedOn": when}), BUILDERS[0]))
    assert policy.status(OUT) == "pending: 1 of 2 matching attestations"
    policy.add(attest(_manifest(OUT, "b0"), BUILDERS[0]))  # the very same envelope again
    assert policy.status(OUT) == "pending: 1 of 2 matching attestations"


def test_dissent_quarantines() -> None:
    policy = _policy(2)
    policy.add(attest(_manifest(OUT, "b0"), BUILDERS[0]))
    policy.add(attest(_manifest(OUT, "b1"), BUILDERS[1]))
    assert policy.status(OUT) == "admitted"
    other = {"sha256": "99" * 32, "blake3": "88" * 32}
    policy.add(attest(_manifest(other, "b2"), BUILDERS[2]))
    with pytest.raises(AttestationError, match="quarantined: b2"):
        policy.require(OUT)


def test_only_matching_attestations_count_together() -> None:
    # The same output under two build definitions is two claims, not one claim twice.
    policy = _policy(2)
    policy.add(attest(_manifest(OUT, "b0"), BUILDERS[0]))
    policy.add(attest(_manifest(OUT, "b1", argv=[*ZIG_ARGV, "-g0"]), BUILDERS[1]))
    assert policy.status(OUT) == "pending: 1 of 2 matching attestations"
    policy.add(attest(_manifest(OUT, "b1"), BUILDERS[1]))
    assert policy.status(OUT) == "admitted"


def test_one_key_under_two_names_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="one key"):
        Policy({"a": BUILDERS[0].public_key, "b": BUILDERS[0].public_key}, 1)


def test_another_toolchain_or_argv_does_not_count() -> None:
    policy = _policy(
        1, expect={"argv": list(ZIG_ARGV), "toolchain": {"package": "ziglang", "version": "0.14.1"}}
    )
    with pytest.raises(AttestationError, match="another argv"):
        policy.add(attest(_manifest(OUT, argv=[*ZIG_ARGV, "-O3"]), BUILDERS[0]))
    with pytest.raises(AttestationError, match="another toolchain"):
        policy.add(
            attest(
                _manifest(OUT, toolchain={"package": "ziglang", "version": "0.13.0"}), BUILDERS[0]
            )
        )
    assert policy.status(OUT).startswith("pending: 0")


def test_unknown_and_expired_builders() -> None:
    now = [1000.0]
    builders = {
        "b0": Trusted("b0", BUILDERS[0].public_key, until=1500.0),
        "b1": BUILDERS[1].public_key,
    }
    policy = Policy(builders, 1, clock=lambda: now[0])
    stranger = lattice.Identity.generate()
    with pytest.raises(AttestationError, match="untrusted"):
        policy.add(attest(_manifest(OUT), stranger))
    policy.add(attest(_manifest(OUT), BUILDERS[0]))
    assert policy.status(OUT) == "admitted"
    now[0] = 2000.0  # b0's trust has ended: its attestation no longer counts
    assert policy.status(OUT).startswith("pending: 0")
    with pytest.raises(AttestationError, match="expired: b0"):
        policy.add(attest(_manifest(OUT, metadata={"x": "y"}), BUILDERS[0]))


def test_a_state_machine_runs_only_once_admitted(tmp_path: Path) -> None:
    blob = build("counter", tmp_path).path.read_bytes()
    out = digests(blob)
    policy = _policy(2)
    policy.add(attest(_manifest(out, "b0"), BUILDERS[0]))
    with pytest.raises(AttestationError, match="pending: 1 of 2"):
        WasmStateMachine(blob, policy=policy)
    policy.add(attest(_manifest(out, "b1"), BUILDERS[1]))
    WasmStateMachine(blob, policy=policy)


def test_attestations_travel_in_the_log_and_admit_where_they_arrive(tmp_path: Path) -> None:
    from lattice.trust.policy import LogAttestations

    peers = [b.public_key for b in BUILDERS[:3]]
    reps = [lattice.Replica(b, peers=peers) for b in BUILDERS[:3]]
    blob = build("counter", tmp_path).path.read_bytes()
    out = digests(blob)
    logs = [LogAttestations(r, _policy(2)) for r in reps]
    logs[0].publish(attest(_manifest(out, "b0"), BUILDERS[0]))
    reps[2].receive(reps[0].entries())
    assert logs[2].policy.status(out).startswith("pending: 1")
    logs[1].publish(attest(_manifest(out, "b1"), BUILDERS[1]))
    reps[2].receive(reps[1].entries())
    WasmStateMachine(blob, policy=logs[2].policy)  # admitted at the third peer
    stranger = lattice.Identity.generate()
    logs[2].publish(attest(_manifest(out, "x"), stranger))
    assert logs[2].refused and "untrusted" in str(logs[2].refused[0][1])
    with pytest.raises(AttestationError):
        logs[2].publish(b"not an envelope")

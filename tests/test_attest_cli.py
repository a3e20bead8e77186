"""``lattice attest`` (issue 13): build, sign, verify and show attestations of the shipped
state machines and of a wheel, as a user runs them."""

from __future__ import annotations

import json
import subprocess
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

import lattice
from lattice.cli import main
from lattice.state.wasm import digests
from lattice.trust.attest import WHEEL_BUILD_TYPE, key_id, verify


def run(*args: str, ok: bool = True) -> str:
    result = CliRunner().invoke(main, list(args))
    assert (result.exit_code == 0) == ok, result.output
    return result.output


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    where = tmp_path_factory.mktemp("keys")
    out = {}
    for i, name in enumerate(("b1", "b2")):
        path = where / f"{name}.key"
        lattice.Identity.from_seed(bytes([0xB0 + i]) * 32).save(path)
        out[name] = path
    return out


def _trust(keys: dict[str, Path]) -> list[str]:
    args = []
    for name, path in keys.items():
        args += ["--trust", f"{name}={lattice.Identity.load(path).public_key.hex()}"]
    return args


def test_two_builders_build_attest_and_admit(keys: dict[str, Path], tmp_path: Path) -> None:
    for name in keys:
        where = str(tmp_path / name)
        builder = f"https://{name}.example"
        out = run("attest", "build", "counter", "--identity", str(keys[name]), "--out", where,
                  "--builder", builder)  # fmt: skip
        assert f"attestation {where}/counter.wasm.intoto.json" in out
    blobs = [(tmp_path / n / "counter.wasm").read_bytes() for n in keys]
    assert blobs[0] == blobs[1], "two directories, identical bytes"
    envs = [str(tmp_path / n / "counter.wasm.intoto.json") for n in keys]
    blob = str(tmp_path / "b1" / "counter.wasm")
    out = run("attest", "verify", *envs, *_trust(keys), "--blob", blob)
    assert out.count(": ok, signed by ") == 2 and "counter.wasm: admitted" in out
    # One builder's envelope twice is one key: not N = 2.
    out = run("attest", "verify", envs[0], envs[0], *_trust(keys), "--blob", blob, ok=False)
    assert "pending: 1 of 2" in out
    shown = json.loads(run("attest", "show", envs[1]))
    assert shown["builder"] == "https://b2.example" and shown["name"] == "counter.wasm"
    assert shown["keyids"] == [key_id(lattice.Identity.load(keys["b2"]).public_key)]
    assert shown["toolchain"]["wheel"].startswith("sha256:")


def test_tampered_unknown_and_malformed_envelopes_are_refused(
    keys: dict[str, Path], tmp_path: Path
) -> None:
    run("attest", "build", "kv", "--identity", str(keys["b1"]), "--out", str(tmp_path))
    env_path = tmp_path / "kv.wasm.intoto.json"
    env = json.loads(env_path.read_bytes())
    env["payload"] = env["payload"][:-8] + ("A" * 8 if env["payload"][-8] != "A" else "B" * 8)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(env))
    out = run("attest", "verify", str(bad), *_trust(keys), ok=False)
    assert "REFUSED" in out
    only_b2 = ["--trust", f"b2={lattice.Identity.load(keys['b2']).public_key.hex()}"]
    assert "unknown key ids" in run("attest", "verify", str(env_path), *only_b2, ok=False)
    junk = tmp_path / "junk.json"
    junk.write_text("[1, 2")
    assert "the envelope is not JSON" in run("attest", "show", str(junk), ok=False)
    assert "no trusted keys" in run("attest", "verify", str(env_path), ok=False)
    assert "not a shipped state machine" in run(
        "attest", "build", "nosuch", "--identity", str(keys["b1"]), "--out", str(tmp_path), ok=False
    )


def _git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t", *args],
        check=True, capture_output=True,
    )  # fmt: skip


def test_a_wheel_is_attested_from_a_clean_checkout_only(
    keys: dict[str, Path], tmp_path: Path
) -> None:
    root = tmp_path / "src"
    root.mkdir()
    (root / "rust-toolchain.toml").write_text('[toolchain]\nchannel = "1.95.0"\n')
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "x")
    wheel = tmp_path / "lattice-0.1.0-cp311-abi3-manylinux_2_28_x86_64.whl"
    module = b"\x7fELF an extension module"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("lattice/_lattice.abi3.so", module)
        z.writestr("lattice/__init__.py", "")
    run("attest", "wheel", str(wheel), "--identity", str(keys["b1"]), "--root", str(root))
    me = lattice.Identity.load(keys["b1"])
    manifest = verify(
        Path(str(wheel) + ".intoto.json").read_bytes(), {key_id(me.public_key): me.public_key}
    )
    assert manifest.build_type == WHEEL_BUILD_TYPE and manifest.name == wheel.name
    assert manifest.toolchain["rust"] == "1.95.0" and len(manifest.source["gitTree"]) == 40
    # The module inside is attested with it: what a node that installs the wheel measures.
    assert manifest.parts == {"lattice/_lattice.abi3.so": digests(module)}
    (root / "rust-toolchain.toml").write_text("changed\n")
    out = run(
        "attest", "wheel", str(wheel), "--identity", str(keys["b1"]), "--root", str(root), ok=False
    )
    assert "uncommitted changes" in out

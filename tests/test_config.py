# ruff: noqa: E501 - the table of cases reads best one case a line
"""Strict node configuration (issue 10): an unknown key anywhere is refused with a hint,
every value is type- and range-checked, and each error names the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from lattice.errors import InvalidArgument
from lattice.net.config import load

KEY_A, KEY_B = "11" * 32, "22" * 32


def _text(
    node: str = "", swarm: str = "", member: str = "", limits: str = "", extra: str = ""
) -> str:
    return (
        f'[node]\nidentity = "a.key"\n{node}'
        f'[swarm]\nid = "{"00" * 32}"\n{swarm}'
        f'[[swarm.members]]\nname = "a"\npublic_key = "{KEY_A}"\n{member}'
        f'[[swarm.members]]\nname = "b"\npublic_key = "{KEY_B}"\naddress = "127.0.0.1:7002"\n'
        + (f"[limits]\n{limits}" if limits else "")
        + extra
    )


CASES = {
    # unknown keys, with a hint
    "typo in [node]": (_text(node='lisen = "127.0.0.1:7001"\n'), "unknown key 'lisen' in [node] (did you mean 'listen'?)"),
    "typo in [swarm]": (_text(swarm="fault = 1\n"), "unknown key 'fault' in [swarm] (did you mean 'faults'?)"),
    "typo in a member": (_text(member='adress = "h:1"\n'), "unknown key 'adress' in [[swarm.members]] #1 (did you mean 'address'?)"),
    "typo in [limits]": (_text(limits="idle_timout = 3\n"), "(did you mean 'idle_timeout'?)"),
    "unknown table": (_text(extra="[limit]\ncredit = 1\n"), "unknown key 'limit' in the file"),
    # types
    "identity not a string": (_text().replace('identity = "a.key"', "identity = 5"), "[node] identity must be a string"),
    "role not a string": (_text(node="role = 1\n"), "[node] role must be a string"),
    "noop interval not a number": (_text(node='noop_interval = "1"\n'), "[node] noop_interval must be a number"),
    "public key not hex": (_text().replace(f'"{KEY_A}"', "5"), "[[swarm.members]] #1 public_key must be 64 hex digits"),
    "clients not a list": (_text(swarm='clients = "x"\n'), "[swarm] clients must be a list"),
    "a client not hex": (_text(swarm='clients = ["zz"]\n'), "[swarm] clients #1 must be 64 hex digits"),
    "open_clients not a flag": (_text(swarm='open_clients = "yes"\n'), "[swarm] open_clients must be true or false"),
    "credit not whole": (_text(limits="credit = 2000000.5\n"), "[limits] credit must be a whole number"),
    "timeout a string": (_text(limits='idle_timeout = "3"\n'), "[limits] idle_timeout must be a number"),
    "limits not a table": (_text().replace('[[swarm.members]]\nname = "a"', 'limits = 3\n[[swarm.members]]\nname = "a"', 1), "unknown key 'limits' in [swarm]"),
    # ranges
    "listen port 0": (_text(node='listen = "127.0.0.1:0"\n'), "[node] listen: port 0 is outside 1–65535"),
    "listen port too high": (_text(node='listen = "127.0.0.1:70000"\n'), "port 70000 is outside 1–65535"),
    "member port too high": (_text(member='address = "127.0.0.1:65536"\n'), "[[swarm.members]] #1 address: port 65536 is outside"),
    "no host": (_text(node='listen = ":7001"\n'), "no host"),
    "faults too high": (_text(swarm="faults = 2\n"), "[swarm] faults must be a whole number in 0–1, got 2"),
    "faults negative": (_text(swarm="faults = -1\n"), "[swarm] faults must be a whole number in 0–1"),
    "noop interval zero": (_text(node="noop_interval = 0\n"), "[node] noop_interval must be positive"),
    "timeout negative": (_text(limits="idle_timeout = -1\n"), "[limits] idle_timeout must be positive"),
    "reconnect bounds crossed": (_text(limits="reconnect_min = 5\nreconnect_max = 1\n"), "reconnect_min (5) is above reconnect_max (1)"),
    "stranger budget below one op": (_text(limits="max_stranger_partial_bytes = 1000\n"), "[limits] max_stranger_partial_bytes (1000) must hold one client op"),
    "no room left for a peer frame": (_text(limits="max_partial_bytes = 20000000\n"), "[limits] max_partial_bytes (20000000) must exceed"),
    "unknown home": (_text(node='home = "c"\n'), "[node] home names no member: 'c'"),
    "home typo": (_text(node='home = "bb"\n'), "(did you mean 'b'?)"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_bad_configuration_names_the_file_and_the_key(tmp_path: Path, case: str) -> None:
    text, message = CASES[case]
    path = tmp_path / "n.toml"
    path.write_text(text)
    with pytest.raises(InvalidArgument) as caught:
        load(path)
    assert str(caught.value).startswith(f"{path}: ") or str(path) in str(caught.value)
    assert message in str(caught.value), str(caught.value)


def test_the_good_configuration_loads(tmp_path: Path) -> None:
    path = tmp_path / "n.toml"
    path.write_text(
        _text(
            node='listen = "127.0.0.1:7001"\nhome = "b"\nnoop_interval = 0.5\n',
            swarm=f'faults = 0\nclients = ["{KEY_B}"]\n',
            limits="credit = 2000000\nidle_timeout = 3\nreconnect_min = 1\nreconnect_max = 2\n",
        )
    )
    cfg = load(path)
    assert cfg.listen == ("127.0.0.1", 7001) and cfg.home == "b" and cfg.faults == 0
    assert cfg.clients == (bytes.fromhex(KEY_B),) and cfg.limits.credit == 2_000_000
    assert cfg.members[1].address == ("127.0.0.1", 7002)
    assert (cfg.reconnect_min, cfg.reconnect_max, cfg.noop_interval) == (1, 2, 0.5)

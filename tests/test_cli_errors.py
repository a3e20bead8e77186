"""No traceback for a user error anywhere in the command line (issue 10): each mistake
below, made through the real CLI, ends in exactly one ``Error:`` line that names the
file, key or argument, and exit status 1."""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

import lattice
from cluster import Cluster, ClusterNode
from lattice.cli import main
from lattice.net.config import Member, render
from lattice.net.process import free_ports

KEY = lattice.Identity.from_seed(bytes([7]) * 32)
PEER = lattice.Identity.from_seed(bytes([8]) * 32).public_key


def _node(d: Path, **node: object) -> Path:
    """A node configuration in ``d``, with ``node`` keys replacing the defaults."""
    KEY.save(d / "a.key")
    port = free_ports(1)[0]
    text = render(
        identity=str(node.pop("identity", "a.key")),
        swarm_id=bytes(32),
        members=[Member("a", KEY.public_key), Member("b", PEER, ("127.0.0.1", 7))],
        listen=node.pop("listen", ("127.0.0.1", port)),  # type: ignore[arg-type]
        store=str(node.pop("store", "a.db")),
        control=str(node.pop("control", "a.sock")),
    )
    for key, value in node.items():
        text = text.replace("[swarm]", f"{key} = {value}\n\n[swarm]", 1)
    (d / "a.toml").write_text(text)
    return d / "a.toml"


def _client(d: Path, home: str) -> Path:
    KEY.save(d / "c.key")
    text = render(
        identity="c.key",
        swarm_id=bytes(32),
        members=[Member("a", PEER, ("127.0.0.1", 7))],
        role="client",
        home=home,
    )
    (d / "c.toml").write_text(text)
    return d / "c.toml"


def _busy_port() -> tuple[socket.socket, int]:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    return s, s.getsockname()[1]


Case = Callable[[Path], tuple[list[str], str]]


def missing_key(d: Path) -> tuple[list[str], str]:
    return ["node", "run", "--config", str(_node(d, identity="nokey.key"))], "nokey.key"


def key_is_a_directory(d: Path) -> tuple[list[str], str]:
    (d / "keydir").mkdir()
    return ["node", "run", "--config", str(_node(d, identity="keydir"))], "Is a directory"


_held: list[socket.socket] = []


def listen_in_use(d: Path) -> tuple[list[str], str]:
    s, port = _busy_port()
    _held.append(s)
    cfg = _node(d, listen=("127.0.0.1", port))
    return ["node", "run", "--config", str(cfg)], f"cannot listen on 127.0.0.1:{port}"


def listen_not_local(d: Path) -> tuple[list[str], str]:
    cfg = _node(d, listen=("192.0.2.1", 7001))
    return ["node", "run", "--config", str(cfg)], "cannot listen on 192.0.2.1:7001"


def listen_port_out_of_range(d: Path) -> tuple[list[str], str]:
    cfg = _node(d)
    cfg.write_text(cfg.read_text().replace('listen = "127.0.0.1:', 'listen = "127.0.0.1:9'))
    return ["node", "run", "--config", str(cfg)], "is outside 1–65535"


def member_port_out_of_range(d: Path) -> tuple[list[str], str]:
    cfg = _node(d)
    cfg.write_text(cfg.read_text().replace('"127.0.0.1:7"', '"127.0.0.1:0"'))
    return ["node", "run", "--config", str(cfg)], "address: port 0 is outside"


def control_path_too_long(d: Path) -> tuple[list[str], str]:
    cfg = _node(d, control="c" * 120 + ".sock")
    return ["node", "run", "--config", str(cfg)], "cannot serve the control socket"


def control_in_missing_directory(d: Path) -> tuple[list[str], str]:
    cfg = _node(d, control="nodir/a.sock")
    return ["node", "run", "--config", str(cfg)], "nodir/a.sock"


def corrupt_store(d: Path) -> tuple[list[str], str]:
    cfg = _node(d)
    (d / "a.db").write_bytes(b"not a database at all " * 300)
    return ["node", "run", "--config", str(cfg)], "a.db is not a"


def wrong_toml_type(d: Path) -> tuple[list[str], str]:
    cfg = _node(d)
    cfg.write_text(cfg.read_text().replace('role = "peer"', "role = 3"))
    return ["node", "run", "--config", str(cfg)], "[node] role must be a string"


def broken_toml(d: Path) -> tuple[list[str], str]:
    (d / "bad.toml").write_text("[node\nidentity = ")
    return ["status", "--config", str(d / "bad.toml")], "cannot read"


def bad_hex(d: Path) -> tuple[list[str], str]:
    return ["append", "--config", str(_node(d)), "--hex", "zz"], "PAYLOAD is not hex"


def payload_file_missing(d: Path) -> tuple[list[str], str]:
    return ["append", "--config", str(_node(d)), "@nofile.bin"], "nofile.bin"


def no_node_running(d: Path) -> tuple[list[str], str]:
    return ["status", "--config", str(_node(d)), "--timeout", "2"], "no node answers"


def unknown_home(d: Path) -> tuple[list[str], str]:
    return ["submit", "--config", str(_client(d, home="zz")), "op"], "home names no member"


def client_config_to_a_node_command(d: Path) -> tuple[list[str], str]:
    return ["status", "--config", str(_client(d, home="a"))], "is a client's configuration"


def node_config_to_submit(d: Path) -> tuple[list[str], str]:
    return ["submit", "--config", str(_node(d)), "op"], "is not a client's configuration"


def keygen_into_missing_directory(d: Path) -> tuple[list[str], str]:
    return ["keygen", "--out", str(d / "nodir" / "k.key"), "--no-password"], "cannot write"


def keygen_without_a_password(d: Path) -> tuple[list[str], str]:
    return ["keygen", "--out", str(d / "k.key")], "a key needs a password"


def keygen_empty_password_file(d: Path) -> tuple[list[str], str]:
    (d / "pw").write_text("\n")
    return ["keygen", "--out", str(d / "k.key"), "--password-file", str(d / "pw")], "is empty"


def key_show_wrong_password(d: Path) -> tuple[list[str], str]:
    KEY.save(d / "k.key", password=b"right")
    (d / "pw").write_text("wrong\n")
    return ["key", "show", str(d / "k.key"), "--password-file", str(d / "pw")], "k.key"


def binary_password_file(d: Path) -> tuple[list[str], str]:
    (d / "pw").write_bytes(b"\xff\xfe\x00binary")
    return ["keygen", "--out", str(d / "k.key"), "--password-file", str(d / "pw")], "not UTF-8"


def payload_file_too_big(d: Path) -> tuple[list[str], str]:
    (d / "big.bin").write_bytes(b"x" * (lattice.MAX_PAYLOAD_LEN + 1))
    return ["append", "--config", str(_node(d)), f"@{d / 'big.bin'}"], "is over"


CASES: dict[str, Case] = {
    f.__name__.replace("_", " "): f
    for f in (
        missing_key, key_is_a_directory, listen_in_use, listen_not_local,
        listen_port_out_of_range, member_port_out_of_range, control_path_too_long,
        control_in_missing_directory, corrupt_store, wrong_toml_type, broken_toml, bad_hex,
        payload_file_missing, no_node_running, unknown_home, client_config_to_a_node_command,
        node_config_to_submit, keygen_into_missing_directory, keygen_without_a_password,
        keygen_empty_password_file, key_show_wrong_password, binary_password_file,
        payload_file_too_big,
    )
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_user_error_is_one_line_not_a_traceback(
    tmp_path: Path, case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LATTICE_PASSWORD", raising=False)
    args, expected = CASES[case](tmp_path)
    try:
        result = CliRunner().invoke(main, args)
    finally:
        while _held:
            _held.pop().close()
    assert isinstance(result.exception, SystemExit), result.exception  # not a crash
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    assert expected in errors[0], result.output


def test_passwords_from_a_file_the_environment_or_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    (tmp_path / "pw").write_text("correct horse\n")
    made = runner.invoke(
        main, ["keygen", "--out", str(tmp_path / "a.key"), "--password-file", str(tmp_path / "pw")]
    )
    assert made.exit_code == 0, made.output
    assert b"ENCRYPTED" in (tmp_path / "a.key").read_bytes()
    assert lattice.Identity.load(tmp_path / "a.key", password=b"correct horse")
    shown = runner.invoke(
        main, ["key", "show", str(tmp_path / "a.key"), "--password-file", str(tmp_path / "pw")]
    )
    assert shown.output.strip() == made.output.strip()
    monkeypatch.setenv("LATTICE_PASSWORD", "from the environment")
    env = runner.invoke(main, ["keygen", "--out", str(tmp_path / "b.key")])
    assert env.exit_code == 0, env.output
    assert lattice.Identity.load(tmp_path / "b.key", password="from the environment")
    monkeypatch.delenv("LATTICE_PASSWORD")
    plain = runner.invoke(main, ["keygen", "--out", str(tmp_path / "c.key"), "--no-password"])
    assert plain.exit_code == 0 and b"ENCRYPTED" not in (tmp_path / "c.key").read_bytes()
    shown = runner.invoke(main, ["key", "show", str(tmp_path / "c.key")])
    assert shown.output.strip() == plain.output.strip()


def test_the_config_comes_from_the_environment_and_payloads_from_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``LATTICE_CONFIG``, ``append -`` and ``append @FILE`` against a real node."""
    import sys

    sys.path.insert(0, str(Path(__file__).parent))

    cluster = Cluster.create(tmp_path, ["a", "b"], [("b", "a")])
    cluster.start()
    try:
        monkeypatch.setenv("LATTICE_CONFIG", str(cluster["a"].config))
        runner = CliRunner()
        (tmp_path / "payload.bin").write_bytes(b"\x00\x01 from a file")
        done = runner.invoke(main, ["append", f"@{tmp_path / 'payload.bin'}"])
        assert done.exit_code == 0, done.output
        piped = runner.invoke(main, ["append", "-"], input=b"from stdin")
        assert piped.exit_code == 0, piped.output
        status = runner.invoke(main, ["status", "--json", "--timeout", "5"])
        assert status.exit_code == 0 and '"pending"' in status.output
        payloads = {e.payload for e in _entries(cluster["a"])}
        assert {b"\x00\x01 from a file", b"from stdin"} <= payloads
    finally:
        cluster.stop()


def _entries(node: ClusterNode) -> list[lattice.Entry]:
    """The entries in a running node's store, read without opening it as a replica."""
    conn = sqlite3.connect(f"file:{node.store}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT bytes FROM entries").fetchall()
    finally:
        conn.close()
    return [lattice.Entry.from_bytes(bytes(b)) for (b,) in rows]


def test_help_texts_have_no_raw_markup() -> None:
    import click

    runner = CliRunner()

    def commands(group: click.Group, prefix: list[str]) -> list[list[str]]:
        out = [prefix]
        for name, cmd in group.commands.items():
            if isinstance(cmd, click.Group):
                out += commands(cmd, [*prefix, name])
            else:
                out.append([*prefix, name])
        return out

    for path in commands(main, []):
        text = runner.invoke(main, [*path, "--help"]).output
        assert "Usage:" in text, path
        for markup in ("``", ":class:", ":meth:", ":mod:", ":func:"):
            assert markup not in text, (path, markup)

"""Nodes and adversaries as real processes: one driver for each, used by ``lattice demo``,
the tests and the benchmarks.

:class:`NodeProcess` starts ``lattice node run --config …`` (optionally inside a network
namespace), waits until its control socket answers, talks to it through that socket
(:mod:`lattice.net.control`) and stops it (SIGTERM, then SIGKILL). :class:`AdversaryProcess`
does the same for the equivocating peer (``python -m lattice.net.adversary``) and its
command protocol on stdin and stdout.

>>> ports = free_ports(2)
>>> len(set(ports)) == 2, all(1024 <= p < 65536 for p in ports)
(True, True)
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from lattice.errors import InvalidArgument
from lattice.net.control import request

__all__ = [
    "START_TIMEOUT",
    "STOP_TIMEOUT",
    "AdversaryProcess",
    "NodeProcess",
    "child_env",
    "free_ports",
]

#: Seconds a node process has to answer on its control socket after it is started.
START_TIMEOUT = 30.0
#: Seconds a process has to exit after SIGTERM (or ``quit``) before it is killed.
STOP_TIMEOUT = 10.0
#: Seconds one control request may take.
CALL_TIMEOUT = 10.0
#: How much of a log is quoted when a process dies on start.
LOG_TAIL = 2000


def free_ports(n: int, host: str = "127.0.0.1") -> list[int]:
    """``n`` TCP ports free on ``host`` right now (for tests and demos that start nodes)."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind((host, 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def child_env() -> dict[str, str]:
    """The environment for a child process (a node, the adversary) that must import this
    very ``lattice`` package."""
    env = dict(os.environ)
    package_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = package_root + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _in_netns(netns: str | None, cmd: list[str]) -> list[str]:
    return cmd if netns is None else ["ip", "netns", "exec", netns, *cmd]


def _stop(proc: subprocess.Popen[bytes], timeout: float) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass(kw_only=True)
class NodeProcess:
    """A node in its own process, driven through its control socket.

    ``config`` is its TOML file (:mod:`lattice.net.config`), ``control`` the socket that
    file names; its output goes to ``log`` (default: the config with ``.log``), appended
    across restarts. ``netns`` runs it inside that network namespace; ``python_path``
    puts a directory first on its module path (another build of ``lattice``).
    """

    name: str
    config: Path
    control: Path
    netns: str | None = None
    verbose: int = 0
    log: Path | None = None
    python_path: Path | None = None
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Start the process and wait until its control socket answers; RuntimeError
        (with the end of its log) if it exits first."""
        if self.running:
            raise InvalidArgument(f"node {self.name} is already running")
        cmd = [sys.executable, "-m", "lattice.cli", "node", "run", "--config", str(self.config)]
        if self.verbose:
            cmd.append("-" + "v" * self.verbose)
        self.log = self.log or self.config.with_suffix(".log")
        env = child_env()
        if self.python_path is not None:
            env["PYTHONPATH"] = str(self.python_path) + os.pathsep + env["PYTHONPATH"]
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                _in_netns(self.netns, cmd), stdout=out, stderr=out, env=env
            )
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.status()
                return
            except InvalidArgument:
                if self.proc.poll() is not None:
                    tail = self.log.read_text(errors="replace")[-LOG_TAIL:]
                    raise RuntimeError(f"node {self.name} exited: {tail}") from None
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM (a clean stop), SIGKILL if it does not exit within ``timeout``."""
        if self.proc is not None:
            _stop(self.proc, timeout)

    def kill(self) -> None:
        """SIGKILL, at once (crash tests)."""
        if self.running:
            assert self.proc is not None
            self.proc.kill()
            self.proc.wait()

    def call(self, op: str, **fields: Any) -> dict[str, Any]:
        """One control request (``status``, ``matrix``, ``append``, …); its reply."""
        return request(self.control, {"op": op, **fields}, timeout=CALL_TIMEOUT)

    def status(self) -> dict[str, Any]:
        st: dict[str, Any] = self.call("status")["status"]
        return st

    def matrix(self) -> dict[str, Any]:
        m: dict[str, Any] = self.call("matrix")["matrix"]
        return m

    def append(self, payload: bytes | str) -> tuple[int, bytes]:
        """Append through the node (durable when this returns); (seq, id)."""
        data = payload.encode() if isinstance(payload, str) else payload
        reply = self.call("append", payload=data.hex())
        return int(reply["seq"]), bytes.fromhex(reply["id"])

    def frontier(self) -> dict[str, tuple[int, str]]:
        """The node's frontier by member name: (seq, id hex)."""
        return {k: (v[0], v[1]) for k, v in self.status()["frontier"].items()}

    def __enter__(self) -> NodeProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class AdversaryProcess:
    """The equivocating peer (:mod:`lattice.net.adversary`) in its own process: one key,
    two twin nodes configured by ``left`` and ``right``; ``command`` sends one line of its
    protocol (``append TEXT``, ``fork TEXT_LEFT TEXT_RIGHT``, ``status``) and returns the
    JSON reply."""

    def __init__(
        self,
        left: Path,
        right: Path,
        *,
        bridge: bool = False,
        netns: str | None = None,
        log: Path | None = None,
        verbose: bool = False,
    ) -> None:
        cmd = [sys.executable, "-m", "lattice.net.adversary", "--left", str(left)]
        cmd += ["--right", str(right)]
        cmd += ["--bridge"] if bridge else []
        cmd += ["-v"] if verbose else []
        self._log: IO[bytes] | None = open(log, "wb") if log else None  # noqa: SIM115 - stop()
        self.proc = subprocess.Popen(
            _in_netns(netns, cmd),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log if self._log else subprocess.DEVNULL,
            env=child_env(),
        )
        try:
            ready = self._read()
        except BaseException:
            self.stop()
            raise
        if not ready.get("ready"):
            self.stop()
            raise RuntimeError(f"the adversary did not start: {ready}")

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the adversary exited with {self.proc.wait()}")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def command(self, text: str) -> dict[str, Any]:
        """Send one command line; its JSON reply (``ok`` False for an unknown command)."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(text.encode() + b"\n")
        self.proc.stdin.flush()
        return self._read()

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """``quit``, then SIGTERM / SIGKILL if it lingers."""
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write(b"quit\n")
                self.proc.stdin.flush()
                self.proc.wait(timeout)
            except (OSError, subprocess.TimeoutExpired):
                _stop(self.proc, timeout)
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                pipe.close()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> AdversaryProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

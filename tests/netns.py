"""Network namespaces for the partition tests (DESIGN §7): one namespace per host, Linux
bridges as switches, veth pairs as cables, ``tc netem`` for link delays. Everything is
created by the test and removed afterwards, under a prefix unique to the run.

Where namespaces cannot be created (not root, no CAP_NET_ADMIN, no ``ip``), the tests skip
with a loud reason — except under CI (``CI=true``), where that is a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

__all__ = ["Net", "require_netns"]


def _run(*cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, check=check)


def require_netns() -> None:
    """Skip (or, in CI, fail) unless network namespaces can be made here."""
    probe = f"latprobe{os.getpid() % 100000}"
    reason = None
    if shutil.which("ip") is None or shutil.which("tc") is None:
        reason = "the ip and tc commands (iproute2) are not installed"
    else:
        made = _run("ip", "netns", "add", probe, check=False)
        if made.returncode != 0:
            reason = f"cannot create a network namespace: {made.stderr.strip()}"
        else:
            _run("ip", "netns", "del", probe, check=False)
    if reason is not None:
        not_here("PARTITION", reason)


def not_here(what: str, reason: str) -> None:
    """Skip loudly the tests that need what this machine lacks — or fail them in CI."""
    message = f"{what} TESTS NOT RUN: {reason}"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message + " (CI must run them)")
    pytest.skip(message)


@dataclass
class Net:
    """Hosts (namespaces) on switches (bridges in a switch namespace)."""

    prefix: str
    hosts: list[str] = field(default_factory=list)
    switches: list[str] = field(default_factory=list)
    relays: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _links: int = 0

    @classmethod
    def create(cls) -> Net:
        return cls(prefix=f"lt{os.getpid() % 10000}")

    def ns(self, host: str) -> str:
        return f"{self.prefix}-{host}"

    @property
    def switch_ns(self) -> str:
        return f"{self.prefix}-sw"

    def host(self, name: str) -> str:
        ns = self.ns(name)
        _run("ip", "netns", "add", ns)
        _run("ip", "-n", ns, "link", "set", "lo", "up")
        self.hosts.append(name)
        return ns

    def switch(self, name: str) -> None:
        if not self.switches:
            _run("ip", "netns", "add", self.switch_ns)
            _run("ip", "-n", self.switch_ns, "link", "set", "lo", "up")
        _run("ip", "-n", self.switch_ns, "link", "add", "name", name, "type", "bridge")
        _run("ip", "-n", self.switch_ns, "link", "set", name, "up")
        self.switches.append(name)

    def plug(self, host: str, switch: str, address: str, delay_ms: float = 0.0) -> str:
        """Cable ``host`` to ``switch`` with ``address`` (CIDR); ``delay_ms`` is added to
        every packet the host sends on it (so a round trip between two hosts with delay d
        each costs 2·(d + d))."""
        self._links += 1
        inside, outside = f"v{self._links}h", f"v{self._links}s"
        _run("ip", "link", "add", inside, "type", "veth", "peer", "name", outside)
        _run("ip", "link", "set", inside, "netns", self.ns(host))
        _run("ip", "link", "set", outside, "netns", self.switch_ns)
        _run("ip", "-n", self.switch_ns, "link", "set", outside, "master", switch)
        _run("ip", "-n", self.switch_ns, "link", "set", outside, "up")
        _run("ip", "-n", self.ns(host), "addr", "add", address, "dev", inside)
        _run("ip", "-n", self.ns(host), "link", "set", inside, "up")
        if delay_ms:
            _run(
                "ip", "netns", "exec", self.ns(host),
                "tc", "qdisc", "add", "dev", inside, "root", "netem", "delay", f"{delay_ms}ms",
            )  # fmt: skip
        return inside

    def netem_available(self) -> bool:
        """Whether this kernel has ``sch_netem`` (some VM kernels are built without it)."""
        probe = self.host("netemprobe")
        _run("ip", "-n", probe, "link", "add", "dummy0", "type", "dummy", check=False)
        made = _run(
            "ip", "netns", "exec", probe, "tc", "qdisc", "add", "dev", "dummy0", "root",
            "netem", "delay", "1ms", check=False,
        )  # fmt: skip
        _run("ip", "netns", "del", probe, check=False)
        self.hosts.remove("netemprobe")
        return made.returncode == 0

    def relay(
        self, host: str, listen: tuple[str, int], target: tuple[str, int], delay_ms: float
    ) -> None:
        """A delay relay (``tests/delay_relay.py``) in ``host``'s namespace: connections to
        ``listen`` reach ``target`` with ``delay_ms`` added each way (netem's stand-in)."""
        script = Path(__file__).with_name("delay_relay.py")
        proc = subprocess.Popen(
            [
                "ip", "netns", "exec", self.ns(host), sys.executable, str(script),
                f"{listen[0]}:{listen[1]}", f"{target[0]}:{target[1]}", str(delay_ms),
            ],
            stdout=subprocess.PIPE,
        )  # fmt: skip
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
        self.relays.append(proc)

    def cut(self, host: str, interface: str) -> None:
        """Unplug a cable (the link goes down)."""
        _run("ip", "-n", self.ns(host), "link", "set", interface, "down")

    def reconnect(self, host: str, interface: str) -> None:
        """Plug a cable back in (the link comes up again)."""
        _run("ip", "-n", self.ns(host), "link", "set", interface, "up")

    def remove(self) -> None:
        for proc in self.relays:
            proc.kill()
            proc.wait()
        self.relays.clear()
        for name in self.hosts:
            _run("ip", "netns", "del", self.ns(name), check=False)
        if self.switches:
            _run("ip", "netns", "del", self.switch_ns, check=False)
        self.hosts.clear()
        self.switches.clear()

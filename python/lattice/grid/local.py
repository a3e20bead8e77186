"""A grid on one machine (DESIGN §12): an owner node process with ``[admission]`` and
``[grid]``, and worker processes (``lattice worker run``), each vouched for by the owner —
for the tests, ``lattice demo grid`` and the P15 benchmark. Everything is real: separate
processes, TCP on loopback with the Noise handshake, SQLite on disk::

    with LocalGrid.start(directory, ["honest", "honest", "random"]) as local:
        local.wait_workers()
        c = local.grid.submit("matmul", a, b).result(timeout=60)
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from lattice.errors import InvalidArgument
from lattice.grid.client import Grid
from lattice.grid.config import render as render_worker
from lattice.identity import Identity
from lattice.net.config import GridConfig, Member, render
from lattice.net.control import request
from lattice.net.process import STOP_TIMEOUT, NodeProcess, child_env, free_ports
from lattice.sybil.graph import AdmissionPolicy

__all__ = ["LocalGrid", "WorkerProcess", "wasm_kernel"]

#: The owner's swarm in a local grid.
SWARM = bytes([0x6C]) * 32
POLICY = AdmissionPolicy(min_bits=8)
#: Limits that make a local grid quick to notice a dead connection.
LIMITS = {"idle_timeout": 10.0, "ping_interval": 1.0, "client_ops_per_minute": 1 << 20,
          "client_bytes_per_minute": 1 << 40}  # fmt: skip


@dataclasses.dataclass(kw_only=True)
class WorkerProcess:
    """``lattice worker run`` in its own process; ``args`` are extra options (``--behave
    random`` …); its output goes to ``log``."""

    name: str
    config: Path
    key: bytes
    args: tuple[str, ...] = ()
    log: Path | None = None
    proc: subprocess.Popen[bytes] | None = dataclasses.field(default=None, repr=False)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        cmd = [sys.executable, "-m", "lattice.cli", "worker", "run", "--config", str(self.config)]
        self.log = self.log or self.config.with_suffix(".log")
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [*cmd, *self.args], stdout=out, stderr=out, env=child_env()
            )

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill(self) -> None:
        """SIGKILL, at once (a worker dying mid-task)."""
        if self.running:
            assert self.proc is not None
            self.proc.kill()
            self.proc.wait()

    def output(self) -> str:
        return (
            ""
            if self.log is None or not self.log.exists()
            else self.log.read_text(errors="replace")
        )


def wasm_kernel(directory: Path, builder: Identity) -> tuple[Path, Path]:
    """The shipped integer kernel built into ``directory`` (the pinned ziglang, as ``make
    wasm`` builds it) and ``builder``'s attestation of it: (blob, envelope)."""
    from lattice.state.wasm import digests
    from lattice.trust.attest import attest
    from lattice.trust.build import build
    from lattice.trust.manifest import for_blob

    blob = build("matmul", directory).path
    manifest = for_blob("matmul", digests(blob.read_bytes()), "https://lattice.invalid/local-grid")
    envelope = directory / "matmul.att"
    envelope.write_bytes(attest(manifest, builder))
    return blob, envelope


class LocalGrid:
    """An owner node and its workers, each its own process."""

    def __init__(self, directory: Path, owner: NodeProcess, identity: Identity) -> None:
        self.directory = directory
        self.owner = owner
        self.identity = identity
        self.address: tuple[str, int] = ("127.0.0.1", 0)
        self.workers: list[WorkerProcess] = []
        self.grid = Grid(lambda req: request(owner.control, req, timeout=60.0))
        self._kernel: tuple[Path, Path, Identity] | None = None

    @classmethod
    def start(
        cls,
        directory: Path,
        behaviours: Sequence[str | tuple[str, ...]] = (),
        *,
        wasm: bool = False,
        max_workers: int = 64,
    ) -> LocalGrid:
        """Start the owner, then one worker per entry of ``behaviours`` (a behaviour name,
        or the extra options of ``lattice worker run``); ``wasm``: workers run the
        integer kernel too (built and attested here)."""
        directory.mkdir(parents=True, exist_ok=True)
        identity = Identity.from_seed(bytes([0x6F]) * 32)
        identity.save(directory / "owner.key")
        port = free_ports(1)[0]
        text = render(
            identity="owner.key", swarm_id=SWARM, members=[Member("owner", identity.public_key)],
            listen=("127.0.0.1", port), store="owner.db", control="owner.sock",
            limits=LIMITS, admission=POLICY, grid=GridConfig(max_workers),
        )  # fmt: skip
        (directory / "owner.toml").write_text(text)
        owner = NodeProcess(
            name="owner", config=directory / "owner.toml", control=directory / "owner.sock"
        )
        owner.start()
        made = cls(directory, owner, identity)
        made.address = ("127.0.0.1", port)
        try:
            if wasm:
                builder = Identity.from_seed(bytes([0x6B]) * 32)
                blob, envelope = wasm_kernel(directory, builder)
                made._kernel = (blob, envelope, builder)
            for behaviour in behaviours:
                args = (behaviour,) if isinstance(behaviour, str) else tuple(behaviour)
                made.add_worker(args)
        except BaseException:
            made.stop()
            raise
        return made

    def add_worker(
        self, args: Sequence[str] = ("honest",), vouch: bool = True, start: bool = True
    ) -> WorkerProcess:
        """One more worker (``args``: a behaviour name, then options), vouched for by the
        owner unless ``vouch`` is False, started unless ``start`` is False."""
        n = len(self.workers)
        name = f"w{n}"
        identity = Identity.from_seed(bytes([0x77, n]) + bytes(30))
        identity.save(self.directory / f"{name}.key")
        if vouch:
            request(self.owner.control, {"op": "vouch", "subject": identity.public_key.hex()})
        kernel = self._kernel
        text = render_worker(
            f"{name}.key", SWARM, self.address, self.identity.public_key,
            wasm=None if kernel is None else kernel[0].name,
            attestations=() if kernel is None else (kernel[1].name,),
            builders=() if kernel is None else (("local", kernel[2].public_key),),
        )  # fmt: skip
        config = self.directory / f"{name}.toml"
        config.write_text(text)
        behave, *rest = args or ("honest",)
        extra = ("--behave", behave, *rest)
        worker = WorkerProcess(name=name, config=config, key=identity.public_key, args=extra)
        if start:
            worker.start()
        self.workers.append(worker)
        return worker

    def wait_workers(self, count: int | None = None, timeout: float = 30.0) -> None:
        """Wait until ``count`` workers (default: all started) are connected to the owner."""
        want = len(self.workers) if count is None else count
        end = time.monotonic() + timeout
        while True:
            grid = self.owner.status().get("grid") or {}
            if grid.get("workers", 0) >= want:
                return
            if time.monotonic() > end:
                logs = "; ".join(f"{w.name}: {w.output()[-300:]}" for w in self.workers)
                raise InvalidArgument(
                    f"{grid.get('workers', 0)} of {want} workers connected: {logs}"
                )
            time.sleep(0.05)

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()
        self.owner.stop()

    def __enter__(self) -> LocalGrid:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

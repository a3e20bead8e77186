"""Reproducible builds of the shipped Wasm state machines (DESIGN §10).

Each state machine in ``statemachines/`` (one C file, linked with ``abi.c``) is compiled
by the pinned ``ziglang`` package with one exact argv (:data:`ZIG_ARGV`), so anyone with
the same source and toolchain gets the same bytes: stripping removes build paths, ``-mcpu=mvp``
keeps bulk-memory ops out, and the memory maximum is fixed so the blob gate can check it.
:func:`reproduce` builds every blob twice, in two directories (sources by absolute path in
one, by relative path from a copy in the other), and raises unless the bytes are identical.

>>> MACHINES
('counter', 'kv', 'matmul')
>>> ZIG_ARGV[:4]
('-m', 'ziglang', 'cc', '-target')
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from lattice.errors import AttestationError, InvalidArgument
from lattice.state.wasm import digests

__all__ = [
    "MACHINES",
    "MAX_MEMORY",
    "SOURCES",
    "ZIG_ARGV",
    "Built",
    "build",
    "build_all",
    "reproduce",
]

#: The shipped state machines, by name: statemachines/NAME.c, linked with abi.c.
MACHINES = ("counter", "kv", "matmul")
#: Where the sources are (beside the package in a checkout).
SOURCES = Path(__file__).resolve().parents[3] / "statemachines"
#: The largest linear memory a shipped blob declares (64 KiB pages: 64).
MAX_MEMORY = 4 << 20
#: The compiler's argv after ``python``, as DESIGN §10 pins it, plus the memory maximum;
#: the output and the sources follow (``-o OUT abi.c NAME.c``).
ZIG_ARGV = (
    "-m", "ziglang", "cc", "-target", "wasm32-freestanding", "-O2", "-nostdlib",
    "-ffreestanding", "-mcpu=mvp", "-Wl,--no-entry", "-Wl,--strip-all",
    f"-Wl,--max-memory={MAX_MEMORY}",
)  # fmt: skip


@dataclass(frozen=True)
class Built:
    """One blob: its name, its file, and its digests (SHA-256 and BLAKE3, hex)."""

    name: str
    path: Path
    sha256: str
    blake3: str

    @classmethod
    def of(cls, name: str, path: Path) -> Built:
        names = digests(path.read_bytes())
        return cls(name, path, names["sha256"], names["blake3"])


def build(name: str, out_dir: Path, sources: Path = SOURCES, relative: bool = False) -> Built:
    """Compile state machine ``name`` into ``out_dir/NAME.wasm`` (``relative``: from
    inside ``sources``, naming the files by relative path)."""
    if name not in MACHINES:
        raise InvalidArgument(f"no shipped state machine {name!r}; they are {', '.join(MACHINES)}")
    out = (out_dir / f"{name}.wasm").resolve()
    files = ["abi.c", f"{name}.c"]
    argv = [sys.executable, *ZIG_ARGV, "-o", str(out)]
    if relative:
        argv += files
        cwd: Path | None = sources
    else:
        argv += [str((sources / f).resolve()) for f in files]
        cwd = None
    env = {**os.environ, "ZIG_GLOBAL_CACHE_DIR": str(out_dir / ".zig-cache")}
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise AttestationError(f"building {name} failed: {done.stderr.strip()[-2000:]}")
    return Built.of(name, out)


def build_all(out_dir: Path, sources: Path = SOURCES, relative: bool = False) -> list[Built]:
    """Every shipped state machine into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    return [build(name, out_dir, sources, relative) for name in MACHINES]


def reproduce(sources: Path = SOURCES) -> list[Built]:
    """Build every blob twice — in one temporary directory with the sources by absolute
    path, in another from a copy of the sources by relative path — and return the blobs
    if every pair is byte-identical; AttestationError naming the first that is not."""
    with (
        tempfile.TemporaryDirectory(prefix="lattice-wasm-a-") as a,
        tempfile.TemporaryDirectory(prefix="lattice-wasm-b-") as b,
    ):
        first = build_all(Path(a) / "out", sources)
        copy = Path(b) / "src"
        shutil.copytree(sources, copy)
        second = build_all(Path(b) / "out", copy, relative=True)
        for x, y in zip(first, second, strict=True):
            if x.path.read_bytes() != y.path.read_bytes():
                raise AttestationError(
                    f"{x.name}: two builds differ (sha256 {x.sha256} and {y.sha256})"
                )
        return [Built(x.name, Path(f"{x.name}.wasm"), x.sha256, x.blake3) for x in first]


def main() -> int:
    """``python -m lattice.trust.build [OUT_DIR | --repro]``."""
    args = sys.argv[1:]
    if args == ["--repro"]:
        for blob in reproduce():
            print(f"repro: {blob.name}.wasm identical twice: sha256 {blob.sha256}")
        return 0
    out = Path(args[0]) if args else Path("target/wasm")
    for blob in build_all(out):
        print(f"built {blob.path} sha256 {blob.sha256} blake3 {blob.blake3}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

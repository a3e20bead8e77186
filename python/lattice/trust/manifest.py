"""What a builder writes in a build manifest (DESIGN §10): the source digest, the
toolchain and the output, for a shipped state machine or for lattice's own wheel.

- **Source**: a state machine's files (``abi.h``, ``abi.c``, ``NAME.c``) digested with
  :func:`files_digest` — SHA-256 over each file's name and bytes, in name order, so a
  renamed or moved file changes it and a different checkout path does not; a wheel's
  source is the git tree of the commit it was built from (a checkout with uncommitted
  changes has none: :class:`~lattice.errors.AttestationError`).
- **Toolchain**: the compiler package, its version, and its wheel's digest. pip keeps no
  wheel file after installing, so the digest is of the wheel's own file list — its
  ``RECORD`` (each file's path and SHA-256, as the wheel shipped them), without the lines
  the installer adds — which is the same on every machine that installed that wheel
  (:func:`wheel_digest`).
- **Argv**: the exact compiler arguments (:data:`lattice.trust.build.ZIG_ARGV`); for the
  wheel, the build script, which the source digest covers.

>>> m = for_blob("counter", {"sha256": "ab" * 32, "blake3": "cd" * 32}, "https://b1.example")
>>> m.toolchain["package"], m.argv[:3], len(m.source["sha256"])
('ziglang', ['-m', 'ziglang', 'cc'], 64)
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import subprocess
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from lattice.errors import AttestationError, InvalidArgument
from lattice.state.wasm import PROFILE_ID, digests
from lattice.trust.attest import MODULE_PREFIX, WHEEL_BUILD_TYPE, BuildManifest
from lattice.trust.build import MACHINES, SOURCES, ZIG_ARGV

__all__ = [
    "COMPILER",
    "MODULE_PREFIX",
    "WHEEL_ARGV",
    "extension_modules",
    "files_digest",
    "for_blob",
    "for_wheel",
    "machine_files",
    "toolchain",
    "wheel_digest",
]

#: The package that compiles the shipped state machines.
COMPILER = "ziglang"
#: How lattice's wheel is built (the script is part of the source the digest covers).
WHEEL_ARGV = ("scripts/build-wheel.sh", "SOURCE_DIR", "OUT_DIR")
#: RECORD lines an installer writes (not part of the wheel as published).
_INSTALLER_FILES = ("INSTALLER", "REQUESTED", "RECORD", "direct_url.json")


def files_digest(files: Iterable[Path]) -> dict[str, str]:
    """``{"sha256": hex}`` over each file's name, length and bytes, in name order."""
    h = hashlib.sha256()
    for path in sorted(files, key=lambda p: p.name):
        data = path.read_bytes()
        name = path.name.encode()
        h.update(len(name).to_bytes(2, "big") + name + len(data).to_bytes(8, "big") + data)
    return {"sha256": h.hexdigest()}


def machine_files(name: str, sources: Path = SOURCES) -> list[Path]:
    """The files shipped state machine ``name`` is built from."""
    if name not in MACHINES:
        raise InvalidArgument(f"no shipped state machine {name!r}; they are {', '.join(MACHINES)}")
    return [sources / f for f in ("abi.h", "abi.c", f"{name}.c")]


def wheel_digest(package: str) -> str:
    """``sha256:hex`` of installed ``package``'s wheel file list (see the module doc)."""
    try:
        dist = importlib.metadata.distribution(package)
    except importlib.metadata.PackageNotFoundError:
        raise AttestationError(f"the toolchain package {package!r} is not installed") from None
    record = dist.read_text("RECORD")
    if record is None:
        raise AttestationError(f"{package} has no RECORD: not installed from a wheel")
    lines = []
    for line in record.splitlines():
        path, _, rest = line.partition(",")
        digest = rest.partition(",")[0]
        info = path.partition("/")[0].endswith(".dist-info")
        if not digest or (info and path.rsplit("/", 1)[-1] in _INSTALLER_FILES):
            continue  # byte-compiled files and what the installer wrote
        if path.startswith(".."):
            continue  # scripts, rewritten for the interpreter they were installed for
        lines.append(f"{path},{digest}")
    return "sha256:" + hashlib.sha256("\n".join(sorted(lines)).encode()).hexdigest()


def toolchain(package: str = COMPILER) -> dict[str, str]:
    """The compiler's name, version and wheel digest."""
    wheel = wheel_digest(package)  # AttestationError if it is not installed
    return {"package": package, "version": importlib.metadata.version(package), "wheel": wheel}


def for_blob(
    name: str,
    output: Mapping[str, str],
    builder: str,
    sources: Path = SOURCES,
    metadata: Mapping[str, str] | None = None,
) -> BuildManifest:
    """The manifest of shipped state machine ``name`` built into ``output`` (its
    digests) by ``builder`` (its id, a URI)."""
    return BuildManifest(
        name=f"{name}.wasm",
        output=dict(output),
        source=files_digest(machine_files(name, sources)),
        toolchain=toolchain(),
        argv=list(ZIG_ARGV),
        profile=PROFILE_ID,
        builder=builder,
        metadata=dict(metadata or {}),
    )


def extension_modules(wheel: Path) -> dict[str, dict[str, str]]:
    """The digests of each extension module (``lattice/_lattice*.so``) inside ``wheel``:
    what a node that installed it measures first for remote attestation."""
    try:
        with zipfile.ZipFile(wheel) as z:
            return {
                name: digests(z.read(name))
                for name in sorted(z.namelist())
                if name.startswith(MODULE_PREFIX) and name.endswith(".so")
            }
    except (OSError, zipfile.BadZipFile) as exc:
        raise InvalidArgument(f"{wheel}: not a readable wheel: {exc}") from None


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise AttestationError(f"{root} is not a git checkout: {done.stderr.strip()}")
    return done.stdout.strip()


def for_wheel(wheel: Path, builder: str, root: Path) -> BuildManifest:
    """The manifest of lattice's wheel file ``wheel``, built by ``make wheel`` from the
    checkout ``root`` (clean: its source is the commit's tree)."""
    if not wheel.name.endswith(".whl"):
        raise InvalidArgument(f"{wheel}: not a wheel (a .whl file)")
    if _git(root, "status", "--porcelain", "--untracked-files=no"):
        raise AttestationError(
            f"{root} has uncommitted changes: a wheel's source is a commit (commit first)"
        )
    tree = _git(root, "rev-parse", "HEAD^{tree}")
    maturin = wheel_digest("maturin")  # AttestationError if it is not installed
    rust = (root / "rust-toolchain.toml").read_text()
    channel = next(
        (ln.split("=", 1)[1].strip().strip('"') for ln in rust.splitlines() if "channel" in ln),
        "?",
    )
    return BuildManifest(
        name=wheel.name,
        output=digests(wheel.read_bytes()),
        parts=extension_modules(wheel),
        source={"gitTree": tree},
        toolchain={
            "package": "maturin",
            "version": importlib.metadata.version("maturin"),
            "wheel": maturin,
            "rust": channel,
            "zig": importlib.metadata.version(COMPILER),
        },
        argv=list(WHEEL_ARGV),
        profile="",
        builder=builder,
        metadata={"commit": _git(root, "rev-parse", "HEAD")},
        build_type=WHEEL_BUILD_TYPE,
    )

"""The house (DESIGN §1): the public names, the deprecated aliases of moved modules, no
import circle inside the package, modules of a readable size, one session class per role.
"""

from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path

import pytest

import lattice
from lattice import _lattice
from lattice.net.sessions import SESSIONS, ClientSession, GuestSession, PeerSession, WorkerSession

PACKAGE = Path(lattice.__file__).resolve().parent
#: STYLE habit 1: split a module that grows past ~600 lines.
MAX_MODULE_LINES = 600
#: The extension module's stub: declarations and docstrings only.
MAX_STUB_LINES = 1000

#: ``lattice.__all__`` before the network code moved: every name must stay.
PUBLIC_NAMES = {
    "DOMAINS", "FORMAT_VERSION", "HEADER_LEN", "ID_LEN", "MAX_DEPS", "MAX_ENTRY_LEN",
    "MAX_PAYLOAD_LEN", "SIGNATURE_LEN", "SIGNED_HEADER_LEN", "ChainReport", "ClientOp",
    "ColumnMatrix", "EntanglementMatrix", "Entry", "FraudProof", "Identity", "Kind",
    "LatticeError", "Matrix", "Missing", "QuorumProof", "ReceiveResult", "Replica",
    "__version__", "check_public_key", "errors", "hash", "lipmaa", "lipmaa_path",
    "merkle_consistency_proof", "merkle_inclusion_proof", "merkle_leaf_hash", "merkle_root",
    "merkle_root_from_hashes", "merkle_verify_consistency", "merkle_verify_inclusion",
    "validate_chain", "verify", "verify_batch",
}  # fmt: skip

#: Old module → its new home, and the names it exported.
MOVED = {
    "node": ("lattice.net.node", ["Node"]),
    "connection": ("lattice.net.connection", ["Connection", "Limits", "handshake"]),
    "wire": ("lattice.net.wire", ["Frontier", "Entries", "Request", "decode", "encode"]),
    "config": ("lattice.net.config", ["Member", "NodeConfig", "load", "render"]),
    "control": ("lattice.net.control", ["matrix_table", "request", "serve_control"]),
    "client": ("lattice.net.client", ["Client"]),
    "adversary": ("lattice.net.adversary", ["Twin", "main"]),
    "netdemo": ("lattice.demo.network", ["NetworkSummary", "run_network_demo"]),
}


#: Names added since, by the issue that added them.
ADDED_NAMES = frozenset(
    {"Doc"}  # documents (DESIGN §9)
    | {"Policy", "WasmDoc", "WasmStateMachine"}  # state machines and attestations (§10)
)


def test_public_names_are_all_still_there() -> None:
    assert set(lattice.__all__) == PUBLIC_NAMES | ADDED_NAMES
    for name in PUBLIC_NAMES:
        assert getattr(lattice, name) is not None


@pytest.mark.parametrize("old", sorted(MOVED))
def test_moved_module_still_imports_and_warns(old: str) -> None:
    new, names = MOVED[old]
    sys.modules.pop(f"lattice.{old}", None)
    with pytest.warns(DeprecationWarning, match=f"lattice.{old} moved to"):
        alias = importlib.import_module(f"lattice.{old}")
    target = importlib.import_module(new)
    if old == "node":  # it exported helpers that now live beside the node
        for name, home in (("local_swarm", "local"), ("child_env", "process")):
            assert getattr(alias, name) is getattr(
                importlib.import_module(f"lattice.net.{home}"), name
            )
        assert alias.free_ports is importlib.import_module("lattice.net.process").free_ports
    for name in names:
        here = getattr(alias, name)
        there = getattr(target, name)
        assert here is there, (old, name)
        assert name in alias.__all__


def _imports(path: Path) -> set[str]:
    """Every ``lattice.*`` module ``path`` imports, TYPE_CHECKING blocks and function
    bodies included (a circle that only type checkers see is still a circle)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.startswith("lattice"):
                found.add(node.module)
                for alias in node.names:  # ``from lattice.net import wire``
                    if f"{node.module}.{alias.name}" in _MODULES:
                        found.add(f"{node.module}.{alias.name}")
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("lattice"))
    return found


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


_FILES = sorted(PACKAGE.rglob("*.py"))
_MODULES = {_module_name(p) for p in _FILES}


def test_no_import_circle_in_the_package() -> None:
    graph: dict[str, set[str]] = {}
    for path in _FILES:
        name = _module_name(path)
        # A package's __init__ re-exports its modules; an import of one of its modules
        # through the package (``from lattice.net import wire``) names the module itself.
        targets = {t for t in _imports(path) if t in _MODULES and t != name}
        if name.count(".") and path.name != "__init__.py":
            targets = {t for t in targets if not name.startswith(t + ".") or t == "lattice"}
        graph[name] = targets - {"lattice"}
    seen: dict[str, int] = {}
    stack: list[str] = []

    def visit(module: str) -> None:
        seen[module] = 1
        stack.append(module)
        for nxt in sorted(graph.get(module, ())):
            if seen.get(nxt) == 1:
                circle = [*stack[stack.index(nxt) :], nxt]
                raise AssertionError("import circle: " + " -> ".join(circle))
            if nxt not in seen:
                visit(nxt)
        stack.pop()
        seen[module] = 2

    for module in sorted(graph):
        if module not in seen:
            visit(module)


def test_modules_stay_readable() -> None:
    long = {
        str(p.relative_to(PACKAGE)): n
        for p in _FILES
        if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not long, f"modules over {MAX_MODULE_LINES} lines: {long}"
    # The stub declares every Rust binding with its docstring, the one text that help()
    # shows at runtime too (test_docstrings): it has no code to split, only an API to list.
    stubs = {
        str(p.relative_to(PACKAGE)): n
        for p in PACKAGE.rglob("*.pyi")
        if (n := len(p.read_text().splitlines())) > MAX_STUB_LINES
    }
    assert not stubs, f"stubs over {MAX_STUB_LINES} lines: {stubs}"


def test_one_session_class_per_role() -> None:
    assert {
        _lattice.ROLE_PEER: PeerSession,
        _lattice.ROLE_CLIENT: ClientSession,
        _lattice.ROLE_GUEST: GuestSession,
        _lattice.ROLE_WORKER: WorkerSession,
    } == SESSIONS
    for role, cls in SESSIONS.items():
        assert cls.role == role
    # The sessions see the node through a protocol, never the node module itself.
    for module in ("base", "peer", "client", "guest", "worker", "records"):
        imported = _imports(PACKAGE / "net" / "sessions" / f"{module}.py")
        assert "lattice.net.node" not in imported, module


def test_the_new_homes_never_warn() -> None:
    """Only the old names are deprecated: importing the package, its new homes and the
    command line in a fresh interpreter raises no DeprecationWarning."""
    import subprocess

    code = "import lattice, lattice.net, lattice.net.node, lattice.demo, lattice.cli"
    done = subprocess.run(
        [sys.executable, "-W", "error::DeprecationWarning", "-c", code],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr


def test_a_party_its_role_does_not_admit_is_refused_after_the_handshake(tmp_path: Path) -> None:
    """The node admits by the table: a guest of no shared document completes the Noise
    handshake and is refused by the guest session class, with the reason recorded; a peer
    is unaffected."""
    import asyncio

    from lattice.net import wire
    from lattice.net.connection import Connection, Limits, handshake
    from lattice.net.local import local_swarm

    async def run() -> None:
        (node,) = await local_swarm(1, tmp_path)
        try:
            assert node.listen_address is not None
            reader, writer = await asyncio.open_connection(*node.listen_address)
            guest = lattice.Identity.generate()
            keypair = _lattice.NoiseKeypair.generate()
            hello = _lattice.Hello.create(
                guest.signing_key, keypair.public, bytes(32), _lattice.ROLE_GUEST
            )
            channel, remote, digest = await handshake(
                reader, writer, initiator=True, keypair=keypair, hello=hello, timeout=5
            )
            conn = Connection(reader, writer, channel, remote, digest, Limits(), True)
            # Told why, then closed.
            refusal = await conn.recv()
            assert isinstance(refusal, wire.Refused)
            assert refusal.reason.startswith("not a guest of this node")
            assert await reader.read() == b"", "closed by the node"
            writer.close()
            await node.wait_for(lambda n: n.refused == 1)
            assert "not a guest of this node" in node.closed_reasons[-1]
            assert not node.links and not node.client_links
        finally:
            await node.stop()

    asyncio.run(run())

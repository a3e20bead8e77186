"""``lattice demo attest``: peers prove what code they run before they sync (DESIGN §10).

Two builders attest the wheel whose extension module this demo runs. Three real node
processes require software attestation of each other: A and B handshake — the challenge
in Noise message 1, the evidence in messages 2 and 3 — and sync; C runs a modified build
of lattice (its module file differs by a few bytes) and both refuse it for its kernel hash,
saying why. Then, with ``swtpm`` installed, a node attests with a real (software) TPM 2.0:
its AK is tied to its EK by credential activation and its quote over PCR 16 is checked by
a peer that has no TPM.

>>> from rich.console import Console
>>> summary = run_attest_demo(Console(quiet=True))
>>> summary.honest_attested, summary.modified_refused, "extension module" in summary.reason
(True, True, True)
>>> summary.tpm_attested in (True, None)
True
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

import lattice
from lattice import _lattice
from lattice.identity import Identity
from lattice.net.config import Member, render
from lattice.net.process import NodeProcess, free_ports
from lattice.state.wasm import digests
from lattice.trust.attest import WHEEL_BUILD_TYPE, BuildManifest, attest
from lattice.trust.remote import Level, Verifier, module_digest

__all__ = ["AttestSummary", "modified_build", "run_attest_demo", "wheel_manifest"]

SWARM_ID = _lattice.blake3_derive_key("lattice v1 attest demo swarm", b"")
TIMEOUT = 60.0
NAMES = ("A", "B", "C")


@dataclass(frozen=True)
class AttestSummary:
    """What the attest section saw (``tpm_attested`` is None without swtpm)."""

    honest_attested: bool
    modified_refused: bool
    reason: str
    tpm_attested: bool | None
    tpm_quote_ms: float | None = None
    tpm_check_ms: float | None = None


def wheel_manifest(builder: str, module: bytes | None = None) -> BuildManifest:
    """A wheel manifest naming ``module`` (default: this process's) as its extension."""
    return BuildManifest(
        name="lattice-0.1.0-cp311-abi3-manylinux_2_28_x86_64.whl",
        output=digests(b"the wheel this demo stands for"),
        source={"gitTree": "0" * 40},
        toolchain={"package": "maturin", "version": "1.16.0"},
        argv=["scripts/build-wheel.sh", "SOURCE_DIR", "OUT_DIR"],
        profile="",
        builder=builder,
        build_type=WHEEL_BUILD_TYPE,
        parts={"lattice/_lattice.abi3.so": {"sha256": (module or module_digest()).hex()}},
    )


def modified_build(directory: Path) -> Path:
    """A copy of this lattice whose extension module has a few more bytes at its end (the
    loader ignores them: it runs, and measures differently). Returns the directory to put
    first on ``PYTHONPATH``."""
    package = Path(lattice.__file__).parent
    copy = directory / "modified" / "lattice"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__"))
    (module,) = copy.glob("_lattice*.so")
    with module.open("ab") as f:
        f.write(b"\0 a modified build")
    return copy.parent


def _wait(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"the attest demo timed out waiting for {what}")
        time.sleep(0.05)


def run_attest_demo(console: Console) -> AttestSummary:
    console.rule("[bold]attest: peers prove what code they run, inside the handshake")
    with tempfile.TemporaryDirectory(prefix="lattice-attest-") as tmp:
        summary = _nodes(console, Path(tmp))
        tpm = _tpm(console)
    return AttestSummary(summary[0], summary[1], summary[2], *tpm)


def _nodes(console: Console, d: Path) -> tuple[bool, bool, str]:
    builders = [Identity.from_seed(bytes([0xC0 + i]) * 32) for i in range(2)]
    files = []
    for i, b in enumerate(builders):
        path = d / f"wheel-{i}.intoto.json"
        path.write_bytes(attest(wheel_manifest(f"builder{i}"), b))
        files.append(path.name)
    console.print(
        f"two builders attest the wheel holding module {module_digest().hex()[:16]}… "
        "(in production: lattice attest wheel on the reproduced wheel)"
    )
    ids = {n: Identity.generate() for n in NAMES}
    ports = dict(zip(NAMES, free_ports(len(NAMES)), strict=True))
    tables = ["", "[trust]", "threshold = 2"]
    for i, b in enumerate(builders):
        tables += [
            "[[trust.builders]]",
            f'name = "builder{i}"',
            f'public_key = "{b.public_key.hex()}"',
        ]
    tables += ["", "[attestation]", 'backend = "software"', 'require = "software"']
    tables.append("attestations = [" + ", ".join(f'"{f}"' for f in files) + "]")
    nodes = {}
    for n, ident in ids.items():
        ident.save(d / f"{n}.key")
        dials = {"A": (), "B": ("A",), "C": ("A", "B")}[n]
        members = [
            Member(m, ids[m].public_key, ("127.0.0.1", ports[m]) if m in dials else None)
            for m in NAMES
        ]
        text = render(
            identity=f"{n}.key", swarm_id=SWARM_ID, members=members,
            listen=("127.0.0.1", ports[n]), store=f"{n}.db", control=f"{n}.sock",
            noop_interval=0.2, limits={"reconnect_min": 0.05, "reconnect_max": 0.5},
        )  # fmt: skip
        (d / f"{n}.toml").write_text(text + "\n".join(tables) + "\n")
        nodes[n] = NodeProcess(name=n, config=d / f"{n}.toml", control=d / f"{n}.sock")
    nodes["C"].python_path = modified_build(d)
    console.print("C runs a modified build of lattice: its module file differs by 18 bytes")
    try:
        for node in nodes.values():
            node.start()

        def settled() -> bool:
            a = {p["name"]: p for p in nodes["A"].status()["peers"]}
            return bool(a["B"]["synced_in"] and (a["C"]["attestation"] or "").startswith("refused"))

        _wait(settled, "A to attest B and refuse C")
        table = Table(title="what each node accepted of the others (lattice status)")
        for col in ("node", "peer", "connected", "attestation"):
            table.add_column(col)
        views = {}
        for n in NAMES:
            for p in nodes[n].status()["peers"]:
                views[(n, p["name"])] = p
                text = p["attestation"] or "-"
                table.add_row(n, p["name"], "yes" if p["connected"] else "no", escape(text))
        console.print(table)
    finally:
        for node in nodes.values():
            node.stop()
    honest = all(
        views[(x, y)]["connected"] and views[(x, y)]["attestation"].startswith("software: kernel")
        for x, y in (("A", "B"), ("B", "A"))
    )
    reason = views[("A", "C")]["attestation"] or ""
    refused = not views[("A", "C")]["connected"] and reason.startswith("refused:")
    refused = refused and (views[("B", "C")]["attestation"] or "").startswith("refused:")
    console.print(
        f"A and B attest each other: {honest}; C refused by both: {refused} — {escape(reason)}"
    )
    return honest, refused, reason


def _tpm(console: Console) -> tuple[bool | None, float | None, float | None]:
    from lattice.errors import AttestationError
    from lattice.trust.swtpm import SoftwareTpm

    if not SoftwareTpm.available():
        console.print("[yellow]no swtpm here: the TPM part is skipped (apt install swtpm)[/]")
        return None, None, None
    try:
        from lattice.trust.tpm import TpmAttester, TpmVerifier, activation_answer
    except AttestationError as exc:  # pragma: no cover - tpm2-pytss missing
        console.print(f"[yellow]the TPM part is skipped: {exc}[/]")
        return None, None, None
    node = Identity.generate()
    with SoftwareTpm() as tpm:
        attester = TpmAttester.open(tpm.tcti, node)
        try:
            from cryptography import x509

            cas = [c for f in tpm.ca_files for c in x509.load_pem_x509_certificates(f.read_bytes())]
            checker = TpmVerifier(ek_cas=cas)
            verifier = Verifier(Level.TPM, None, tpm=checker)
            challenge, hh = verifier.challenge(), bytes(range(32))
            first = attester.evidence(challenge.nonce, hh)
            credential = checker.credential(node.public_key, first)
            secret = attester.activate(credential.blob, credential.encrypted_secret)
            certificate = attester.ek_certificate()
            checker.activated(credential, activation_answer(secret, hh), hh, certificate)
            issuer = x509.load_der_x509_certificate(certificate).issuer.rfc4514_string()
            console.print(
                f"swtpm: its EK certificate chains to {escape(issuer)}'s CA; the AK is tied to "
                "the EK by credential activation (once)"
            )
            start = time.perf_counter()
            evidence = attester.evidence(challenge.nonce, hh)
            quoted = time.perf_counter()
            result = verifier.check(evidence.encode(), challenge, hh, node.public_key)
            checked = time.perf_counter()
        finally:
            attester.close()
    quote_ms, check_ms = (quoted - start) * 1e3, (checked - quoted) * 1e3
    console.print(
        f"a quote over PCR 16 (= the kernel hash) in {quote_ms:.1f} ms, checked without a "
        f"TPM in {check_ms:.1f} ms: {escape(result.summary())}"
    )
    return result.level == Level.TPM, quote_ms, check_ms

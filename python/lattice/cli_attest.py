"""``lattice attest`` and ``lattice machine``: build attestations and the Wasm state
machines a node runs (DESIGN §10).

- ``attest build NAME|PATH…``: build shipped state machines from source with the pinned
  ziglang, sign a DSSE build attestation for each with the builder's key, and write
  ``NAME.wasm`` and ``NAME.wasm.intoto.json`` into ``--out``; with ``--config``, publish
  both through that node's log too (a BLOB and an ATTESTATION entry).
- ``attest wheel WHEEL``: the attestation of lattice's own wheel, built by ``make wheel``
  from this checkout.
- ``attest verify ENVELOPE…``: check signatures against trusted keys (``--trust``, or a
  node configuration's ``[trust]``), and with ``--blob`` whether the envelopes admit it.
- ``attest show ENVELOPE``: what an envelope claims (unverified), as JSON.
- ``machine show|submit|query``: a running node's machine document.

>>> from click.testing import CliRunner
>>> "wheel" in CliRunner().invoke(attest, ["--help"]).output
True
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from lattice.cliutil import (
    PASSWORD_ENV,
    _config,
    _control,
    _Lattice,
    _password,
    config_option,
    password_file_option,
    timeout_option,
)
from lattice.errors import AttestationError, InvalidArgument

__all__ = ["attest", "machine"]

#: What an attestation file's name ends with (as in-toto's tools name them).
SUFFIX = ".intoto.json"


def _identity(key: str | None, config: str | None, password_file: str | None):  # type: ignore[no-untyped-def]
    """The builder's identity: ``--identity``, or the node's own key."""
    from lattice.identity import Identity

    if key is None:
        if config is None:
            raise click.ClickException("--identity KEY (the builder's key) or --config CONFIG")
        cfg = _config(config)
        return Identity.load(cfg.identity, password=cfg.key_password())
    encrypted = b"ENCRYPTED" in Path(key).read_bytes()[:64]
    password = _password(password_file, False, confirm=False) if encrypted else None
    return Identity.load(key, password=password)


def _builder_id(identity, given: str | None) -> str:  # type: ignore[no-untyped-def]
    from lattice.trust.attest import key_id

    return given or f"https://lattice.invalid/builder/{key_id(identity.public_key)[:16]}"


def _target(arg: str) -> tuple[str, Path]:
    """A shipped machine's name and its sources' folder, from NAME or a path to NAME.c."""
    from lattice.trust.build import MACHINES, SOURCES

    if arg in MACHINES:
        return arg, SOURCES
    path = Path(arg)
    if path.suffix == ".c" and path.stem in MACHINES and path.is_file():
        return path.stem, path.resolve().parent
    raise InvalidArgument(
        f"{arg}: not a shipped state machine ({', '.join(MACHINES)}) or its NAME.c source"
    )


identity_option = click.option(
    "--identity", "key", default=None, type=click.Path(exists=True, dir_okay=False),
    help="The builder's key file (default: the node's, with --config).",
)  # fmt: skip
builder_option = click.option(
    "--builder", "builder", default=None, help="The builder's id, a URI (default: from its key)."
)


@click.group(cls=_Lattice)
def attest() -> None:
    """Build, sign, check and read build attestations (DSSE, in-toto, SLSA provenance)."""


@attest.command("build")
@click.argument("targets", nargs=-1, required=True, metavar="NAME|PATH...")
@identity_option
@password_file_option(f"The key's password is in this file (or in ${PASSWORD_ENV}).")
@builder_option
@click.option("--out", default="target/wasm", show_default=True, type=click.Path(file_okay=False))
@click.option("--config", default=None, type=click.Path(exists=True, dir_okay=False),
              help="Also publish blob and attestation through this running node.")  # fmt: skip
@timeout_option
def attest_build(
    targets: tuple[str, ...], key: str | None, password_file: str | None, builder: str | None,
    out: str, config: str | None, timeout: float,
) -> None:  # fmt: skip
    """Build each state machine from source, hash it, sign its build attestation."""
    from lattice.trust.attest import attest as sign
    from lattice.trust.build import build
    from lattice.trust.manifest import for_blob

    identity = _identity(key, config, password_file)
    who = _builder_id(identity, builder)
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    for target in targets:
        name, sources = _target(target)
        built = build(name, out_dir, sources)
        output = {"sha256": built.sha256, "blake3": built.blake3}
        envelope = sign(for_blob(name, output, who, sources), identity)
        where = built.path.with_name(built.path.name + SUFFIX)
        where.write_bytes(envelope)
        click.echo(f"{name}: {built.path} sha256 {built.sha256}; attestation {where}")
        if config is not None:
            for kind, payload in (("blob", built.path.read_bytes()), ("attestation", envelope)):
                reply = _control(
                    config, {"op": "publish", "kind": kind, "payload": payload.hex()}, timeout
                )
                click.echo(f"  published the {kind}: seq {reply['seq']}, id {reply['id']}")


@attest.command("wheel")
@click.argument("wheel", type=click.Path(exists=True, dir_okay=False))
@identity_option
@password_file_option(f"The key's password is in this file (or in ${PASSWORD_ENV}).")
@builder_option
@click.option("--root", default=".", show_default=True, type=click.Path(file_okay=False),
              help="The checkout the wheel was built from (clean).")  # fmt: skip
def attest_wheel(
    wheel: str, key: str | None, password_file: str | None, builder: str | None, root: str
) -> None:
    """Sign the build attestation of lattice's wheel WHEEL (from make wheel)."""
    from lattice.trust.attest import attest as sign
    from lattice.trust.manifest import for_wheel

    identity = _identity(key, None, password_file)
    manifest = for_wheel(Path(wheel), _builder_id(identity, builder), Path(root))
    where = Path(wheel + SUFFIX)
    where.write_bytes(sign(manifest, identity))
    click.echo(f"{Path(wheel).name}: sha256 {manifest.output['sha256']}; attestation {where}")


def _trusted(trust: tuple[str, ...], config: str | None) -> tuple[dict[str, bytes], int | None]:
    """Trusted keys by name, from ``--trust NAME=HEX`` (or HEX) and a config's [trust]."""
    keys: dict[str, bytes] = {}
    threshold = None
    if config is not None:
        cfg = _config(config)
        if cfg.trust is not None:
            keys.update({b.name: b.key for b in cfg.trust.builders})
            threshold = cfg.trust.threshold
    for item in trust:
        name, _, hexkey = item.rpartition("=")
        try:
            keys[name or hexkey[:16]] = bytes.fromhex(hexkey)
        except ValueError:
            raise InvalidArgument(f"--trust {item!r}: a key is 64 hex digits") from None
    if not keys:
        raise click.ClickException("no trusted keys: --trust NAME=KEY or --config with [trust]")
    return keys, threshold


@attest.command("verify")
@click.argument("envelopes", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--trust", multiple=True, metavar="NAME=KEY", help="A trusted builder's key.")
@click.option("--config", default=None, type=click.Path(exists=True, dir_okay=False),
              help="Trust the builders of this configuration's [trust].")  # fmt: skip
@click.option("--threshold", type=click.IntRange(min=1), default=None,
              help="N for --blob (default: the config's, or every key given).")  # fmt: skip
@click.option("--blob", default=None, type=click.Path(exists=True, dir_okay=False),
              help="Also say whether these envelopes admit this blob.")  # fmt: skip
def attest_verify(
    envelopes: tuple[str, ...], trust: tuple[str, ...], config: str | None,
    threshold: int | None, blob: str | None,
) -> None:  # fmt: skip
    """Check each envelope's signature by a trusted key (exit 1 if any fails)."""
    from lattice.state.wasm import digests
    from lattice.trust.attest import key_id, verify_signer
    from lattice.trust.policy import Policy

    keys, configured = _trusted(trust, config)
    by_id = {key_id(k): (name, k) for name, k in keys.items()}
    policy = Policy(keys, threshold or configured or len(keys))
    failed = 0
    for path in envelopes:
        data = Path(path).read_bytes()
        try:
            manifest, signer = verify_signer(data, {i: k for i, (_, k) in by_id.items()})
            policy.add(data)
        except AttestationError as exc:
            failed += 1
            click.echo(f"{path}: REFUSED: {exc}")
            continue
        click.echo(
            f"{path}: ok, signed by {by_id[signer][0]}: {manifest.name} "
            f"sha256 {manifest.output.get('sha256', '?')}"
        )
    if blob is not None:
        names = digests(Path(blob).read_bytes())
        status = policy.status(names)
        click.echo(f"{blob}: {status}")
        failed += status != "admitted"
    if failed:
        raise click.ClickException(f"{failed} check(s) failed")


@attest.command("show")
@click.argument("envelope", type=click.Path(exists=True, dir_okay=False))
def attest_show(envelope: str) -> None:
    """Print what ENVELOPE claims (NOT verified: see attest verify) as JSON."""
    from lattice.trust.attest import claimed

    data = Path(envelope).read_bytes()
    manifest = claimed(data)
    keyids = [s.get("keyid") for s in json.loads(data)["signatures"] if isinstance(s, dict)]
    click.echo(json.dumps({"keyids": keyids, **manifest.to_dict()}, indent=2))


@click.group(cls=_Lattice)
def machine() -> None:
    """Use a running node's Wasm state machines (a doc id and the blob's SHA-256)."""


def _machine(
    config: str, timeout: float, op: str, doc: str, sha: str, **more: object
) -> dict[str, Any]:
    return dict(_control(config, {"op": op, "doc": doc, "machine": sha, **more}, timeout))


F = TypeVar("F", bound=Callable[..., Any])


def _doc_args(f: F) -> F:
    """The DOC and MACHINE arguments every machine command takes."""
    return click.argument("doc")(click.argument("sha256", metavar="MACHINE")(f))


@machine.command("show")
@config_option
@timeout_option
@click.option("--json", "as_json", is_flag=True, help="Print the whole reply as JSON.")
@_doc_args
def machine_show(config: str, timeout: float, as_json: bool, doc: str, sha256: str) -> None:
    """Whether DOC's state machine runs, what waits for it, and its state hash."""
    reply = _machine(config, timeout, "machine_show", doc, sha256)
    if as_json:
        click.echo(json.dumps(reply, indent=2))
        return
    click.echo(f"{reply['status']}; applied {reply['applied']}, waiting {len(reply['waiting'])}")
    if reply["state"] is not None:
        click.echo(f"state {reply['state'][:16]}…, fuel {reply['fuel']}")
    for r in reply["rejected"]:
        click.echo(f"refused entry {r['entry'][:16]}…: {r['reason']}: {r['message']}", err=True)


@machine.command("submit")
@config_option
@timeout_option
@_doc_args
@click.argument("ops", nargs=-1, required=True, metavar="OP_HEX...")
def machine_submit(
    config: str, timeout: float, doc: str, sha256: str, ops: tuple[str, ...]
) -> None:
    """Submit OP_HEX… (each an op in hex) as one entry of DOC."""
    reply = _machine(config, timeout, "machine_submit", doc, sha256, ops=list(ops))
    click.echo(f"submitted: seq {reply['seq']}, id {reply['id']}")


@machine.command("query")
@config_option
@timeout_option
@_doc_args
@click.argument("request", default="", metavar="[REQUEST_HEX]")
def machine_query(config: str, timeout: float, doc: str, sha256: str, request: str) -> None:
    """Ask DOC's state machine REQUEST_HEX; print its answer in hex."""
    click.echo(_machine(config, timeout, "machine_query", doc, sha256, request=request)["answer"])

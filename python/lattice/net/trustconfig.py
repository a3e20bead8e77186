"""The ``[trust]`` table of a node's configuration (DESIGN §10): which builders the node
trusts to attest Wasm state machines, and how many must agree. Without it a node runs no
state machine at all (every ``machine_*`` request is an
:class:`~lattice.errors.AttestationError`)::

    [trust]
    threshold = 2                 # N: matching attestations by N distinct trusted keys

    [[trust.builders]]
    name = "alice"
    public_key = "…"              # 64 hex digits: the builder's Ed25519 identity
    until = 1798761600            # optional: Unix time after which it is not trusted

With ``web_of_trust_hops = K`` (it needs ``[admission]``) the node also trusts, as builders,
the identities the swarm's trust graph puts within K vouch hops of the registered peers —
the registered peers themselves included — as the graph stands when a blob is judged, so a
revoked builder stops counting (DESIGN §10, §11); the list may then be empty.

>>> cfg = parse(Checks(), {"threshold": 1, "builders": [{"name": "a", "public_key": "11" * 32}]})
>>> cfg.threshold, cfg.builders[0].name, cfg.policy().status({"sha256": "00" * 32})
(1, 'a', 'pending: 0 of 1 matching attestations')
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lattice.errors import InvalidArgument
from lattice.net.checks import Checks
from lattice.trust.policy import Policy, Trusted
from lattice.trust.remote import DEFAULT_CHALLENGE_TTL, Level, levels

__all__ = [
    "ATTESTATION_KEYS",
    "BUILDER_KEYS",
    "TRUST_KEYS",
    "AttestationConfig",
    "TrustConfig",
    "parse",
    "parse_attestation",
]

TRUST_KEYS = frozenset({"threshold", "builders", "web_of_trust_hops"})
ATTESTATION_KEYS = frozenset(
    {"backend", "require", "challenge_ttl", "tpm", "attestations", "ek_ca"}
)
BUILDER_KEYS = frozenset({"name", "public_key", "until"})


@dataclass(frozen=True)
class TrustConfig:
    """The trusted builders and N."""

    threshold: int
    builders: tuple[Trusted, ...]
    #: Trust the builders within this many vouch hops of the registered peers too (None: no).
    web_hops: int | None = None

    def policy(self, web: Callable[[int], Collection[bytes]] | None = None) -> Policy:
        """A fresh policy of these builders (fed by the log it is used on), pinning this
        engine's profile: a blob attested under another profile is not the blob that
        runs here. ``web(k)`` gives the identities within k hops of the registered peers
        (:meth:`lattice.sybil.TrustGraph.within`), for ``web_of_trust_hops``."""
        from lattice.state.wasm import PROFILE_ID  # the engine: only once a policy is made

        hops = self.web_hops
        if hops is not None and web is None:
            raise InvalidArgument("web_of_trust_hops needs the swarm's trust graph")
        return Policy(
            {b.name: b for b in self.builders},
            self.threshold,
            expect={"profile": PROFILE_ID},
            web=None if hops is None or web is None else (lambda: web(hops)),
        )


def parse(f: Checks, trust: Any) -> TrustConfig:
    """The ``[trust]`` table, checked (every error names the key)."""
    if not isinstance(trust, dict):
        raise f.error("[trust] must be a table")
    f.known(trust, TRUST_KEYS, "[trust]")
    builders = []
    for where, b in f.tables(trust, "builders", "[[trust.builders]]", BUILDER_KEYS):
        name = b.get("name")
        if not isinstance(name, str) or not name:
            raise f.error(f"{where} name must be a non-empty string")
        until = b.get("until")
        if until is not None and (isinstance(until, bool) or not isinstance(until, int | float)):
            raise f.error(f"{where} until must be a Unix time, got {until!r}")
        builders.append(Trusted(name, f.hex32(b.get("public_key"), f"{where} public_key"), until))
    if len({b.name for b in builders}) != len(builders):
        raise f.error("[[trust.builders]] names a builder twice")
    if len({b.key for b in builders}) != len(builders):
        raise f.error("[[trust.builders]] lists a key twice")
    threshold = trust.get("threshold", 1)
    if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 1:
        raise f.error(f"[trust] threshold must be a whole number of at least 1, not {threshold!r}")
    hops = trust.get("web_of_trust_hops")
    if hops is not None and (isinstance(hops, bool) or not isinstance(hops, int) or hops < 0):
        raise f.error(f"[trust] web_of_trust_hops is a whole number ≥ 0, not {hops!r}")
    if hops is None and threshold > len(builders):
        raise f.error(f"[trust] threshold {threshold} with {len(builders)} trusted builders")
    return TrustConfig(threshold, tuple(builders), hops)


@dataclass(frozen=True)
class AttestationConfig:
    """The ``[attestation]`` table: what this node proves in its handshakes
    (``backend``), what it requires of registered peers (``require``), how long a
    challenge may be answered in, and the TPM to use (a TCTI, for ``backend = "tpm"``)."""

    backend: Level
    require: Level
    challenge_ttl: float = DEFAULT_CHALLENGE_TTL
    tpm: str | None = None
    #: DSSE envelopes (files) given to the policy at start, beside the log's: typically
    #: the ``lattice attest wheel`` attestations of the wheel the swarm runs.
    attestations: tuple[Path, ...] = ()
    #: CA certificate files (PEM) a TPM peer's EK certificate must chain to; none: its
    #: EK is trusted on first activation.
    ek_ca: tuple[Path, ...] = ()


def parse_attestation(
    f: Checks, table: Any, trust: TrustConfig | None, base: Path = Path(".")
) -> AttestationConfig:
    """The ``[attestation]`` table, checked (a requirement needs ``[trust]``: the builders
    whose attestations admit a kernel's components); paths are relative to ``base``."""
    if not isinstance(table, dict):
        raise f.error("[attestation] must be a table")
    f.known(table, ATTESTATION_KEYS, "[attestation]")
    names = levels()

    def level(key: str) -> Level:
        value = table.get(key, "none")
        if value not in names:
            raise f.error(f"[attestation] {key} is one of {', '.join(names)}, not {value!r}")
        return names[value]

    backend, require = level("backend"), level("require")
    ttl = table.get("challenge_ttl", DEFAULT_CHALLENGE_TTL)
    if isinstance(ttl, bool) or not isinstance(ttl, int | float) or not 0 < ttl <= 3600:
        raise f.error(f"[attestation] challenge_ttl is seconds in (0, 3600], not {ttl!r}")
    tpm = table.get("tpm")
    if tpm is not None and (not isinstance(tpm, str) or not tpm):
        raise f.error("[attestation] tpm is a TCTI string, such as 'swtpm:host=127.0.0.1'")
    if backend == Level.TPM and tpm is None:
        raise f.error("[attestation] backend = 'tpm' needs tpm: the TCTI of the TPM to use")
    if require > Level.NONE and trust is None:
        raise f.error(
            "[attestation] require needs a [trust] table: the builders whose attestations "
            "admit the extension module and the blobs a peer runs"
        )

    def paths(key: str, what: str) -> tuple[Path, ...]:
        listed = table.get(key, [])
        if not isinstance(listed, list) or not all(isinstance(p, str) and p for p in listed):
            raise f.error(f"[attestation] {key} is a list of paths ({what})")
        return tuple(base / p for p in listed)

    return AttestationConfig(
        backend, require, float(ttl), tpm,
        paths("attestations", "DSSE envelope files"), paths("ek_ca", "PEM certificate files"),
    )  # fmt: skip

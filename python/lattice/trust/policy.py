"""The attestation policy (DESIGN §10): which blobs may run.

A blob is **admitted** after at least N matching attestations by N distinct trusted
builder keys — keys are counted, not envelopes, so one builder's envelopes count once. Two
attestations match when their build definitions (source, toolchain, argv, profile) and
output digests agree. A trusted builder attesting a *different* output for the same build
definition is **dissent**: the blobs of that build definition are quarantined. A digest
may also be admitted as a *part* of an attested output — the extension module inside
lattice's wheel, which remote attestation measures — by the same rule. An
attestation by an unknown or expired key, or for another toolchain, argv or profile than
the policy pins, does not count; :meth:`Policy.add` says why. Every refusal is an
:class:`~lattice.errors.AttestationError` that names the rule.

The trusted builders are a named list, or — the web-of-trust model — also the identities
the swarm's trust graph puts within k vouch hops of its registered peers (DESIGN §11:
``web``, asked afresh each time, so a revoked builder stops counting at once).

>>> import lattice
>>> from lattice.trust.attest import BuildManifest, attest, key_id
>>> b1, b2 = lattice.Identity.generate(), lattice.Identity.generate()
>>> policy = Policy({"b1": b1.public_key, "b2": b2.public_key}, threshold=2)
>>> m = BuildManifest("x.wasm", {"sha256": "ab" * 32, "blake3": "cd" * 32}, {"sha256": "ef" * 32},
...                   {"package": "ziglang"}, ["cc"], "00" * 32, "b1")
>>> _ = policy.add(attest(m, b1))
>>> policy.status(m.output)
'pending: 1 of 2 matching attestations'
>>> _ = policy.add(attest(m, b2))
>>> policy.status(m.output)
'admitted'
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lattice import _lattice
from lattice.entry import Kind
from lattice.errors import AttestationError, InvalidArgument
from lattice.trust.attest import (
    BUILD_TYPE,
    PAYLOAD_TYPE,
    WHEEL_BUILD_TYPE,
    BuildManifest,
    canonical_json,
    key_id,
    parse_json,
    verify_signer,
)

if TYPE_CHECKING:
    from lattice.replica import Replica

__all__ = [
    "MAX_UNTRUSTED",
    "WEB_PREFIX",
    "LogAttestations",
    "Policy",
    "Trusted",
    "verify_envelope_shape",
]

_ATTESTATION = int(Kind.ATTESTATION)
#: The name a builder trusted through the web of trust is known by: this and its key's hex.
WEB_PREFIX = "web:"
#: Envelopes kept while no trusted key verifies them, for a web that may grow.
MAX_UNTRUSTED = 256


@dataclass(frozen=True)
class Trusted:
    """A trusted builder: its name, its key, and until when it is trusted (None: always)."""

    name: str
    key: bytes
    until: float | None = None


@dataclass
class _Seen:
    manifest: BuildManifest
    builder: str  # the trusted builder's name
    envelope: bytes = field(repr=False)
    definition: bytes = field(repr=False)  # its build definition, canonical


class Policy:
    """Trusted builders (name → key, or :class:`Trusted`), the threshold N, and what the
    build of a state machine must be (``expect``: any of ``toolchain``, ``argv``,
    ``profile``; attestations of lattice's wheel are not pinned by it); ``web``, if
    given, says which keys the web of trust vouches for now (they are trusted too)."""

    def __init__(
        self,
        builders: Mapping[str, bytes | Trusted],
        threshold: int,
        *,
        expect: Mapping[str, Any] | None = None,
        clock: Callable[[], float] = time.time,
        web: Callable[[], Collection[bytes]] | None = None,
    ) -> None:
        if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 1:
            raise InvalidArgument(
                f"the threshold N is a whole number of at least 1, not {threshold!r}"
            )
        self.builders = {
            name: b if isinstance(b, Trusted) else Trusted(name, bytes(b))
            for name, b in builders.items()
        }
        if web is None and threshold > len(self.builders):
            raise InvalidArgument(
                f"N = {threshold} with only {len(self.builders)} trusted builders"
            )
        self.threshold = threshold
        keys = [t.key for t in self.builders.values()]
        if len(set(keys)) != len(keys):
            raise InvalidArgument("two trusted builders with one key (a key counts once)")
        self.expect = dict(expect or {})
        unknown = set(self.expect) - {"toolchain", "argv", "profile"}
        if unknown:
            raise InvalidArgument(
                f"a policy pins toolchain, argv and profile, not {sorted(unknown)}"
            )
        self.clock = clock
        self.web = web
        self._web_names: set[str] = set()  # the builders trusted through the web
        # Envelopes no trusted key verified while a web is asked: tried again once the web
        # changes (an attestation may arrive before its builder's vouch).
        self._untrusted: dict[bytes, None] = {}
        self._tried_web: frozenset[bytes] = frozenset()
        self._keys = {key_id(t.key): t for t in self.builders.values()}
        self._seen: dict[bytes, _Seen] = {}  # one per (builder, build definition, output)

    def _web_now(self) -> frozenset[bytes]:
        return frozenset() if self.web is None else frozenset(bytes(k) for k in self.web())

    def _live(self, builder: Trusted, web: frozenset[bytes] | None = None) -> bool:
        if builder.name in self._web_names:
            return builder.key in (self._web_now() if web is None else web)
        return builder.until is None or self.clock() < builder.until

    def add(self, envelope: bytes) -> BuildManifest:
        """Take an attestation into account (once, however often it is given); its
        manifest, or AttestationError saying why it does not count."""
        web = self._web_now()
        named = {t.key for n, t in self.builders.items() if n not in self._web_names}
        for key in web - named:  # the web's builders, known by their keys
            name = WEB_PREFIX + key.hex()
            if name not in self._web_names:
                self._web_names.add(name)
                self.builders[name] = self._keys[key_id(key)] = Trusted(name, key)
        live = {k: t.key for k, t in self._keys.items() if self._live(t, web)}
        if not live:
            self._keep_untrusted(envelope)
            raise AttestationError("untrusted builder: no trusted builder key is valid now")
        try:
            manifest, signer = verify_signer(envelope, live)
        except AttestationError as exc:
            self._keep_untrusted(envelope)
            expired = [t.name for t in self._keys.values() if not self._live(t, web)]
            hint = f" (expired: {', '.join(expired)})" if expired else ""
            raise AttestationError(f"untrusted or broken attestation: {exc}{hint}") from None
        params = manifest.build_definition()["externalParameters"]
        for pinned, want in self.expect.items():
            if manifest.build_type == BUILD_TYPE and params[pinned] != want:
                raise AttestationError(f"another {pinned}: the policy pins {want!r}")
        builder = self._keys[signer]
        definition = canonical_json(manifest.build_definition())
        parts = {n: dict(d) for n, d in manifest.parts.items()}
        key = canonical_json([builder.name, dict(manifest.output), parts]) + definition
        self._seen.setdefault(key, _Seen(manifest, builder.name, envelope, definition))
        return manifest

    def _keep_untrusted(self, envelope: bytes) -> None:
        """Keep an envelope no live key verifies, to be tried again when the web changes
        (at most :data:`MAX_UNTRUSTED`, the oldest dropped first)."""
        if self.web is not None:
            self._untrusted[bytes(envelope)] = None
            while len(self._untrusted) > MAX_UNTRUSTED:
                del self._untrusted[next(iter(self._untrusted))]

    @staticmethod
    def _digests(s: _Seen, build_type: str | None, part: str | None) -> set[str]:
        """What one attestation vouches for: its output (of ``build_type``, if given), or
        with ``part`` the parts of a wheel whose names start with it."""
        m = s.manifest
        if part is not None:
            if m.build_type != WHEEL_BUILD_TYPE:
                return set()
            return {
                d.get("sha256", "")
                for n, d in m.parts.items()
                if n.startswith(part + ".") and n.endswith(".so")
            }
        if build_type is not None and m.build_type != build_type:
            return set()
        return {m.output.get("sha256", "")}

    def _matching(
        self, output: Mapping[str, str], build_type: str | None, part: str | None
    ) -> tuple[set[str], list[str]]:
        """The most live builders attesting ``output`` with one build definition (only
        matching attestations count together), and those dissenting on its definitions."""
        digest = dict(output).get("sha256")
        groups: dict[bytes, set[str]] = {}
        web = self._web_now()
        if self._untrusted and web != self._tried_web:
            self._tried_web = web
            waiting, self._untrusted = list(self._untrusted), {}
            for envelope in waiting:  # their builders may have joined the web since
                with contextlib.suppress(AttestationError):
                    self.add(envelope)
        for s in self._seen.values():
            live = self._live(self.builders[s.builder], web)
            if live and digest in self._digests(s, build_type, part):
                groups.setdefault(s.definition, set()).add(s.builder)
        dissent = sorted(
            {
                s.builder
                for s in self._seen.values()
                if s.definition in groups
                and digest not in self._digests(s, build_type, part)
                and self._live(self.builders[s.builder], web)  # a revoked dissenter: no more
            }
        )
        return max(groups.values(), key=len, default=set()), dissent

    def status(
        self, output: Mapping[str, str], *, build_type: str | None = None, part: str | None = None
    ) -> str:
        """``admitted``, ``quarantined: …`` or ``pending: k of N …`` for an output's
        digests: attested as an output of any build type, or of ``build_type``; with
        ``part``, as a file whose name starts with it inside an attested wheel."""
        builders, dissent = self._matching(output, build_type, part)
        if dissent:
            return f"quarantined: {', '.join(dissent)} attested another output for its build"
        if len(builders) >= self.threshold:
            return "admitted"
        return f"pending: {len(builders)} of {self.threshold} matching attestations"

    def require(self, blob_digests: dict[str, str]) -> None:
        """Raise AttestationError naming the rule unless the blob is admitted (what
        :class:`~lattice.state.wasm.WasmStateMachine` asks)."""
        status = self.status(blob_digests, build_type=BUILD_TYPE)
        if status != "admitted":
            raise AttestationError(f"blob {blob_digests.get('sha256', '?')[:16]}… is {status}")


class LogAttestations:
    """A policy fed by a replica's log: every ``ATTESTATION`` entry delivered (its payload
    a DSSE envelope) is offered to the policy; those that do not count are kept with the
    reason. ``publish`` appends one.

    >>> import lattice
    >>> from lattice.trust.attest import BuildManifest, attest
    >>> me = lattice.Identity.generate()
    >>> rep = lattice.Replica(me, peers=[me.public_key])
    >>> log = LogAttestations(rep, Policy({"me": me.public_key}, 1))
    >>> m = BuildManifest("x.wasm", {"sha256": "ab" * 32, "blake3": "cd" * 32},
    ...                   {"sha256": "ef" * 32}, {"package": "ziglang"}, ["cc"], "00" * 32, "me")
    >>> _ = log.publish(attest(m, me))
    >>> log.policy.status(m.output)
    'admitted'
    """

    def __init__(self, replica: Replica, policy: Policy) -> None:
        self.replica = replica
        self.policy = policy
        #: Attestation entries that did not count: (entry id, why).
        self.refused: list[tuple[bytes, AttestationError]] = []
        for entry in replica.iter_entries():
            self._delivered(entry)
        replica.delivery_listeners.append(self._delivered)

    def _delivered(self, entry: _lattice.Entry) -> None:
        if entry.kind != _ATTESTATION:
            return
        try:
            self.policy.add(entry.payload)
        except AttestationError as exc:
            self.refused.append((entry.id, exc))

    def publish(self, envelope: bytes) -> _lattice.Entry:
        """Append ``envelope`` as an ATTESTATION entry (checked to be one first)."""
        verify_envelope_shape(envelope)
        return self.replica.append(envelope, Kind.ATTESTATION)

    def close(self) -> None:
        if self._delivered in self.replica.delivery_listeners:
            self.replica.delivery_listeners.remove(self._delivered)


def verify_envelope_shape(envelope: bytes) -> None:
    """Raise AttestationError unless ``envelope`` is a DSSE envelope of lattice's payload
    type (its signatures are the policy's business)."""
    env = parse_json(envelope, "the envelope")
    if not isinstance(env, dict) or env.get("payloadType") != PAYLOAD_TYPE:
        raise AttestationError("not a DSSE envelope of an in-toto statement")

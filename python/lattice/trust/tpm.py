"""The TPM 2.0 backend of remote attestation (DESIGN §10), on ``tpm2-pytss``.

**Attester** (:class:`TpmAttester`, a node with a TPM):

- the **endorsement key** (EK): the TCG default RSA 2048 template (L-1), a primary key of
  the endorsement hierarchy — the same key each time, the one the TPM's manufacturer
  certified: its **EK certificate** is read from NV index ``0x01c00002``;
- the **attestation key** (AK): a restricted ECDSA P-256 / SHA-256 signing key, also a
  primary of the endorsement hierarchy (fixedTPM, fixedParent, made inside the TPM); being
  restricted, it signs only what the TPM itself generated (a quote), never an arbitrary
  digest;
- **PCR 16** (the debug PCR, resettable from locality 0) is reset when the attester opens
  and extended with each digest of the measurement log as it grows, so the TPM holds the
  kernel hash itself;
- the **evidence** is a quote over ``sha256:16`` whose ``qualifyingData`` (``extraData``) is
  the binding (:func:`lattice.trust.remote.binding`: nonce, handshake hash, kernel hash).

**Verifier** (:class:`TpmVerifier`, no TPM needed): the AK's public area must be a
restricted ECDSA P-256 signing key fixed to its TPM; the signature over the quoted
``TPMS_ATTEST`` must verify under it; the attest structure must be a quote the TPM made
(``TPM_GENERATED``), over exactly PCR 16 of the SHA-256 bank, with ``extraData`` equal to the
binding and a PCR digest equal to ``SHA-256(kernel hash)`` — the log replayed. And the AK
must be **tied to the EK** by credential activation (:meth:`TpmVerifier.credential` →
:meth:`TpmAttester.activate` → :meth:`TpmVerifier.activated`), once per peer: the verifier
encrypts a secret to the EK for the AK's name, which only the TPM holding both can
decrypt. The EK itself is trusted through its certificate: a verifier given CA
certificates (``[attestation] ek_ca``) requires, at activation, an EK certificate for
exactly that key whose chain of signatures ends at one of them, within its validity;
without CAs the EK is trusted on first activation for the peer's identity, which proves
no more than the software backend does (a peer could present a key pair of its own).

What a quote proves, and what not: PCR 16 is the debug PCR, resettable from locality 0,
so the quote proves that this TPM holds this log's replay — and the log is the node's own
account of what it loaded. A process that resets PCR 16 and extends honest digests fools
it; measuring from below the process (IMA, a PCR that cannot be reset) is what would not.

::

    proof = TPM2B_PUBLIC (EK) ‖ TPM2B_PUBLIC (AK) ‖ TPM2B_ATTEST (the quote) ‖ TPMT_SIGNATURE

each in the TPM's own marshalling (self-delimiting, big-endian); nothing may follow.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import hmac
import json
import os
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lattice.errors import AttestationError, BrokenEvidence, InvalidArgument
from lattice.trust.remote import Context, Credential, Evidence, Level, MeasurementLog, binding

if TYPE_CHECKING:
    from lattice.identity import Identity

__all__ = [
    "ACTIVATION_DOMAIN",
    "AK_ATTRIBUTES",
    "EK_POLICY",
    "PCR",
    "Activations",
    "TpmAttester",
    "TpmVerifier",
    "activation_answer",
    "pytss",
]

#: The PCR lattice extends with its measurement log.
PCR = 16
#: The TCG default EK's policy: PolicySecret(TPM_RH_ENDORSEMENT).
EK_POLICY = bytes.fromhex("837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa")
#: The NV index of the RSA 2048 EK's certificate (TCG EK Credential Profile).
EK_CERT_INDEX = 0x01C00002
#: The largest EK certificate lattice reads (and sends).
MAX_EK_CERT_LEN = 4096
#: The longest EK certificate chain followed (EK certificate, intermediates, root).
MAX_CHAIN = 4
#: Secret bytes a credential carries.
CREDENTIAL_LEN = 32
#: Domain separation of an activation answer.
ACTIVATION_DOMAIN = b"lattice v1 tpm credential activation"


def pytss() -> Any:
    """The ``tpm2_pytss`` package (AttestationError if it is not installed)."""
    os.environ.setdefault("TSS2_LOG", "all+NONE")  # the C library's own logging, off
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its use of deprecated cryptography names
        try:
            import tpm2_pytss  # type: ignore[import-untyped]
            import tpm2_pytss.internal.crypto  # type: ignore[import-untyped]
            import tpm2_pytss.utils  # type: ignore[import-untyped]
        except ImportError as exc:
            raise AttestationError(
                f"the TPM backend needs tpm2-pytss (pip install tpm2-pytss): {exc}"
            ) from None
    return tpm2_pytss


def _attributes() -> tuple[int, int]:
    a = pytss().TPMA_OBJECT
    common = a.FIXEDTPM | a.FIXEDPARENT | a.SENSITIVEDATAORIGIN
    ek = common | a.ADMINWITHPOLICY | a.RESTRICTED | a.DECRYPT
    ak = common | a.RESTRICTED | a.SIGN_ENCRYPT
    return int(ek), int(ak)


#: What an AK's attributes must include (a restricted signing key that never leaves its
#: TPM), as names; checked as bits by :class:`TpmVerifier`.
AK_ATTRIBUTES = ("fixedTPM", "fixedParent", "sensitiveDataOrigin", "restricted", "sign")


def _templates() -> tuple[Any, Any]:
    t = pytss()
    ek_bits, ak_bits = _attributes()
    ek = t.TPM2B_PUBLIC.parse(
        "rsa2048:aes128cfb", nameAlg="sha256", objectAttributes=ek_bits, authPolicy=EK_POLICY
    )
    ek.publicArea.unique.rsa = bytes(256)
    ak = t.TPM2B_PUBLIC.parse(
        "ecc256:ecdsa-sha256:null", nameAlg="sha256",
        objectAttributes=ak_bits | t.TPMA_OBJECT.USERWITHAUTH,
    )  # fmt: skip
    return ek, ak


def _tcti(spec: str) -> Any:
    """A TCTI from ``name:config`` (``swtpm:host=127.0.0.1,port=2321``, ``device:/dev/tpmrm0``)."""
    name, _, conf = spec.partition(":")
    if not name:
        raise InvalidArgument(f"a TCTI is name:config, not {spec!r}")
    try:
        return pytss().TCTILdr(name, conf)
    except Exception as exc:  # the loader raises its own exception types
        raise AttestationError(f"cannot open the TPM {spec!r}: {exc}") from None


def _flush_transients(esapi: Any) -> None:
    """Unload the transient objects a process left in the TPM (with no resource manager in
    between, as with swtpm on a socket, they outlive it and fill the TPM's slots)."""
    t = pytss()
    more = True
    while more:
        more, data = esapi.get_capability(
            t.TPM2_CAP.HANDLES, t.TPM2_HT.TRANSIENT << t.TPM2_HR.SHIFT, 64
        )
        handles = list(data.data.handles)
        if not handles:
            return
        for handle in handles:
            with contextlib.suppress(t.TSS2_Exception):
                esapi.flush_context(esapi.tr_from_tpmpublic(handle))


class TpmAttester:
    """Evidence quoted by a TPM (see the module doc). Use :meth:`open`."""

    level = Level.TPM
    #: A quote is a round trip to the TPM: the handshake makes it on a thread.
    blocking = True

    def __init__(self, esapi: Any, identity: Identity | None = None) -> None:
        t = pytss()
        self._t = t
        self._ctx = esapi
        self._lock = threading.RLock()  # one TPM conversation at a time; log and PCR as one
        self.identity = identity
        ek_template, ak_template = _templates()
        endorsement = t.ESYS_TR.ENDORSEMENT
        sensitive = t.TPM2B_SENSITIVE_CREATE()
        try:
            _flush_transients(esapi)
            self._ek, self.ek_public, *_ = esapi.create_primary(sensitive, ek_template, endorsement)
            self._ak, self.ak_public, *_ = esapi.create_primary(sensitive, ak_template, endorsement)
            esapi.pcr_reset(t.ESYS_TR.PCR16)
        except t.TSS2_Exception as exc:
            raise AttestationError(f"the TPM refused to set up attestation: {exc}") from None
        self.log = MeasurementLog((MeasurementLog.of_this_process().module,))
        self._extend(self.log.module)

    @classmethod
    def open(cls, tcti: str, identity: Identity | None = None) -> TpmAttester:
        """The attester of the TPM behind ``tcti`` (its PCR 16 is reset: one node per TPM)."""
        t = pytss()
        try:
            return cls(t.ESAPI(_tcti(tcti)), identity)
        except t.TSS2_Exception as exc:
            raise AttestationError(f"cannot talk to the TPM {tcti!r}: {exc}") from None

    def _extend(self, digest: bytes) -> None:
        t = self._t
        value = t.TPMT_HA(hashAlg=t.TPM2_ALG.SHA256, digest=t.TPMU_HA(sha256=digest))
        with self._lock:
            self._ctx.pcr_extend(t.ESYS_TR.PCR16, t.TPML_DIGEST_VALUES([value]))

    def measure(self, digest: bytes) -> bool:
        with self._lock:  # the log and PCR 16 change together: no quote in between
            before = self.log
            grown = self.log.extended(digest)
            if grown is before:
                return False
            self._extend(digest)
            self.log = grown
            return True

    def pcr16(self) -> bytes:
        """PCR 16 as the TPM holds it now (the log's replay, if nothing else extended it)."""
        t = self._t
        with self._lock:
            _, _, values = self._ctx.pcr_read(t.TPML_PCR_SELECTION.parse(f"sha256:{PCR}"))
        return bytes(values[0])

    def quote(self, qualifying: bytes, selection: str = f"sha256:{PCR}") -> tuple[bytes, bytes]:
        """A quote over ``selection`` (lattice's is ``sha256:16``) with ``qualifying`` as its
        extraData: the TPM2B_ATTEST and TPMT_SIGNATURE, marshalled."""
        t = self._t
        scheme = t.TPMT_SIG_SCHEME(scheme=t.TPM2_ALG.NULL)
        with self._lock:
            quoted, sig = self._ctx.quote(
                self._ak, t.TPML_PCR_SELECTION.parse(selection), t.TPM2B_DATA(qualifying),
                scheme,
            )  # fmt: skip
        return quoted.marshal(), sig.marshal()

    def evidence(
        self, nonce: bytes, handshake_hash: bytes, context: Context = Context.HANDSHAKE
    ) -> Evidence:
        with self._lock:  # the log read and the PCR quoted are the same moment's
            log = self.log
            message = binding(context, self.level, nonce, handshake_hash, log.kernel_hash)
            quoted, sig = self.quote(message)
        proof = self.ek_public.marshal() + self.ak_public.marshal() + quoted + sig
        return Evidence(self.level, nonce, log, proof)

    def ek_certificate(self) -> bytes:
        """The EK certificate (DER) the TPM holds at :data:`EK_CERT_INDEX`, or ``b""``."""
        t = self._t
        with self._lock:
            try:
                index = self._ctx.tr_from_tpmpublic(EK_CERT_INDEX)
                public, _ = self._ctx.nv_read_public(index)
                size = int(public.nvPublic.dataSize)
                if size > MAX_EK_CERT_LEN:
                    return b""  # not one lattice can send
                data = b""
                while len(data) < size:
                    step = min(512, size - len(data))
                    data += bytes(self._ctx.nv_read(index, step, len(data), auth_handle=index))
            except t.TSS2_Exception:
                return b""
        return _der(data)

    def activate(self, credential_blob: bytes, encrypted_secret: bytes) -> bytes:
        """Credential activation: the secret a verifier encrypted to this TPM's EK for its
        AK's name (AttestationError if this TPM cannot recover it)."""
        t = self._t
        try:
            blob, _ = t.TPM2B_ID_OBJECT.unmarshal(credential_blob)
            secret, _ = t.TPM2B_ENCRYPTED_SECRET.unmarshal(encrypted_secret)
            with self._lock:
                sess = self._ctx.start_auth_session(
                    t.ESYS_TR.NONE, t.ESYS_TR.NONE, t.TPM2_SE.POLICY,
                    t.TPMT_SYM_DEF(algorithm=t.TPM2_ALG.NULL), t.TPM2_ALG.SHA256,
                )  # fmt: skip
                try:
                    self._ctx.policy_secret(t.ESYS_TR.ENDORSEMENT, sess, b"", b"", b"", 0)
                    got = self._ctx.activate_credential(
                        self._ak, self._ek, blob, secret, session1=t.ESYS_TR.PASSWORD,
                        session2=sess,
                    )  # fmt: skip
                finally:
                    self._ctx.flush_context(sess)
        except (t.TSS2_Exception, ValueError, TypeError) as exc:
            raise AttestationError(f"the TPM cannot activate that credential: {exc}") from None
        return bytes(got)

    def close(self) -> None:
        with self._lock:
            for handle in (self._ak, self._ek):
                with contextlib.suppress(self._t.TSS2_Exception):
                    self._ctx.flush_context(handle)
            self._ctx.close()


@dataclass(frozen=True)
class Parsed:
    """The parts of a TPM proof."""

    ek: Any
    ak: Any
    quoted: bytes  # the TPMS_ATTEST the AK signed
    signature: Any
    ek_name: bytes
    ak_name: bytes


def parse_proof(proof: bytes) -> Parsed:
    """Split a TPM proof (BrokenEvidence if it is not one)."""
    t = pytss()
    try:
        ek, n = t.TPM2B_PUBLIC.unmarshal(proof)
        ak, m = t.TPM2B_PUBLIC.unmarshal(proof[n:])
        attest, k = t.TPM2B_ATTEST.unmarshal(proof[n + m :])
        sig, j = t.TPMT_SIGNATURE.unmarshal(proof[n + m + k :])
        names = bytes(ek.get_name()), bytes(ak.get_name())
    except Exception as exc:  # the library raises its own types, and ValueError
        raise BrokenEvidence(f"a malformed TPM proof: {exc}") from None
    if n + m + k + j != len(proof):
        raise BrokenEvidence("bytes after the TPM proof")
    return Parsed(ek, ak, bytes(attest), sig, *names)


class Activations:
    """Which (EK, AK) pairs each peer identity has proven by credential activation, and
    whether its EK certificate was verified then; kept in ``path`` (JSON) if given, so
    activation runs once per peer, not per connection."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._tied: dict[str, set[tuple[str, str, bool]]] = {}
        if path is not None and path.exists():
            try:
                raw = json.loads(path.read_text())
                self._tied = {k: {(e, a, bool(c)) for e, a, c in v} for k, v in raw.items()}
            except (OSError, ValueError, TypeError) as exc:
                raise InvalidArgument(f"{path}: not a lattice activation record: {exc}") from None

    def tied(
        self, identity: bytes, ek_name: bytes, ak_name: bytes, certified: bool = False
    ) -> bool:
        """Whether the pair is tied (and, with ``certified``, its EK certificate checked)."""
        ties = self._tied.get(identity.hex(), set())
        key = (ek_name.hex(), ak_name.hex())
        return (*key, True) in ties or (not certified and (*key, False) in ties)

    def tie(self, identity: bytes, ek_name: bytes, ak_name: bytes, certified: bool = False) -> None:
        self._tied.setdefault(identity.hex(), set()).add((ek_name.hex(), ak_name.hex(), certified))
        if self.path is not None:
            data = {k: sorted(v) for k, v in self._tied.items()}
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(data, indent=1))
            os.replace(tmp, self.path)


def activation_answer(secret: bytes, handshake_hash: bytes) -> bytes:
    """What an attester answers a credential with: the recovered secret, bound to the
    connection (``SHA-256(ACTIVATION_DOMAIN ‖ secret ‖ handshake hash)``)."""
    return hashlib.sha256(ACTIVATION_DOMAIN + secret + handshake_hash).digest()


class TpmVerifier:
    """Checks TPM quotes (see the module doc); no TPM needed."""

    def __init__(self, activations: Activations | None = None, ek_cas: Sequence[Any] = ()) -> None:
        self.activations = activations or Activations()
        #: CA certificates (cryptography x509) an EK certificate must chain to; none: the
        #: EK is trusted on first activation.
        self.ek_cas = list(ek_cas)

    def check(self, evidence: Evidence, message: bytes, identity: bytes) -> bool:
        """BrokenEvidence unless ``evidence`` is a quote of ``message`` over the replayed
        log; True if its AK is tied (by activation) to the peer's EK."""
        try:
            return self._check(evidence, message, identity)
        except AttestationError:
            raise
        except Exception as exc:  # hostile bytes the TPM library chokes on: typed here
            raise BrokenEvidence(f"a TPM proof lattice cannot read: {exc!r}") from None

    def _check(self, evidence: Evidence, message: bytes, identity: bytes) -> bool:
        t = pytss()
        p = parse_proof(evidence.proof)
        self._check_ek(p.ek)
        self._check_ak(p.ak)
        self._check_signature(p)
        try:
            attest, used = t.TPMS_ATTEST.unmarshal(p.quoted)
        except Exception as exc:
            raise BrokenEvidence(f"a malformed quote: {exc}") from None
        if used != len(p.quoted):
            raise BrokenEvidence("bytes after the quoted attest structure")
        if attest.magic != t.TPM2_GENERATED.VALUE or attest.type != t.TPM2_ST.ATTEST_QUOTE:
            raise BrokenEvidence("not a quote the TPM generated")
        if not hmac.compare_digest(bytes(attest.extraData), message):
            raise BrokenEvidence(
                "the quote is not bound to this challenge and handshake (its extraData)"
            )
        sel = attest.attested.quote.pcrSelect
        bank = sel.pcrSelections[0] if sel.count == 1 else None
        want = (1 << (PCR % 8)).to_bytes(1, "big")
        if (
            bank is None
            or bank.hash != t.TPM2_ALG.SHA256
            or bytes(bank.pcrSelect)[: bank.sizeofSelect].rstrip(b"\0") != bytes(PCR // 8) + want
        ):
            raise BrokenEvidence(f"the quote is over another PCR selection than sha256:{PCR}")
        replayed = hashlib.sha256(evidence.log.kernel_hash).digest()
        if not hmac.compare_digest(bytes(attest.attested.quote.pcrDigest), replayed):
            raise BrokenEvidence("the log does not replay to the quoted PCR 16 (a tampered log)")
        return self.activations.tied(identity, p.ek_name, p.ak_name, bool(self.ek_cas))

    def _check_ek(self, ek: Any) -> None:
        t = pytss()
        area = ek.publicArea
        bits, _ = _attributes()
        rsa = area.parameters.rsaDetail
        ok = (
            area.type == t.TPM2_ALG.RSA
            and area.nameAlg == t.TPM2_ALG.SHA256
            and int(area.objectAttributes) == bits
            and bytes(area.authPolicy) == EK_POLICY
            and rsa.keyBits == 2048
            and rsa.exponent in (0, 65537)
            and len(bytes(area.unique.rsa)) == 256
            and rsa.symmetric.algorithm == t.TPM2_ALG.AES
            and rsa.symmetric.keyBits.aes == 128
            and rsa.symmetric.mode.aes == t.TPM2_ALG.CFB
        )
        if not ok:
            raise BrokenEvidence("the endorsement key is not the TCG default RSA 2048 EK")

    def _check_ak(self, ak: Any) -> None:
        t = pytss()
        area = ak.publicArea
        _, bits = _attributes()
        ok = (
            area.type == t.TPM2_ALG.ECC
            and area.nameAlg == t.TPM2_ALG.SHA256
            and int(area.objectAttributes) & bits == bits
            and area.parameters.eccDetail.curveID == t.TPM2_ECC.NIST_P256
            and area.parameters.eccDetail.scheme.scheme == t.TPM2_ALG.ECDSA
        )
        if not ok:
            raise BrokenEvidence(
                "the attestation key is not a restricted ECDSA P-256 signing key fixed to "
                f"its TPM ({', '.join(AK_ATTRIBUTES)})"
            )

    def _check_signature(self, p: Parsed) -> None:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec, utils

        t = pytss()
        sig = p.signature
        if sig.sigAlg != t.TPM2_ALG.ECDSA or sig.signature.ecdsa.hash != t.TPM2_ALG.SHA256:
            raise BrokenEvidence("the quote is not signed with ECDSA / SHA-256")
        point = p.ak.publicArea.unique.ecc
        try:
            key = ec.EllipticCurvePublicNumbers(
                int.from_bytes(bytes(point.x), "big"),
                int.from_bytes(bytes(point.y), "big"),
                ec.SECP256R1(),
            ).public_key()
            rs = sig.signature.ecdsa
            der = utils.encode_dss_signature(
                int.from_bytes(bytes(rs.signatureR), "big"),
                int.from_bytes(bytes(rs.signatureS), "big"),
            )
            key.verify(der, p.quoted, ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, ValueError) as exc:
            raise BrokenEvidence(
                f"the quote's signature does not verify under its attestation key {exc}"
            ) from None

    # --- credential activation -----------------------------------------------------------

    def credential(self, identity: bytes, evidence: Evidence) -> Credential:
        """A credential for the EK and AK named in ``evidence`` (parsed, not yet trusted):
        a fresh secret encrypted to the EK, bound to the AK's name."""
        t = pytss()
        p = parse_proof(evidence.proof)
        self._check_ek(p.ek)
        self._check_ak(p.ak)
        secret = os.urandom(CREDENTIAL_LEN)
        try:
            blob, enc = t.utils.make_credential(p.ek, secret, p.ak.get_name())
        except Exception as exc:  # the library's own types, ValueError, TypeError
            raise BrokenEvidence(f"cannot make a credential for that EK: {exc}") from None
        return Credential(
            identity, p.ek_name, p.ak_name, blob.marshal(), enc.marshal(), secret,
            p.ek.marshal(),
        )  # fmt: skip

    def activated(
        self, credential: Credential, answer: bytes, handshake_hash: bytes,
        certificate: bytes = b"",
    ) -> None:  # fmt: skip
        """Record the tie if ``answer`` is :func:`activation_answer` of the credential's
        secret for this connection and, with CAs configured, ``certificate`` certifies the
        EK (BrokenEvidence if not)."""
        if self.ek_cas:
            self._check_certificate(certificate, credential.ek_public)
        if not hmac.compare_digest(answer, activation_answer(credential.secret, handshake_hash)):
            raise BrokenEvidence(
                "the attestation key is not tied to the endorsement key (credential "
                "activation failed)"
            )
        self.activations.tie(
            credential.identity, credential.ek_name, credential.ak_name, bool(self.ek_cas)
        )

    def _check_certificate(self, certificate: bytes, ek_public: bytes) -> None:
        """The EK certificate is for exactly this EK and chains to a configured CA."""
        from cryptography import x509
        from cryptography.hazmat.primitives.asymmetric import rsa

        if not certificate:
            raise BrokenEvidence("no EK certificate, and this node requires one (ek_ca)")
        try:
            cert = x509.load_der_x509_certificate(_der(certificate))
            key = cert.public_key()
        except ValueError as exc:
            raise BrokenEvidence(f"a malformed EK certificate: {exc}") from None
        ek, _ = pytss().TPM2B_PUBLIC.unmarshal(ek_public)
        modulus = int.from_bytes(bytes(ek.publicArea.unique.rsa), "big")
        if not isinstance(key, rsa.RSAPublicKey) or key.public_numbers().n != modulus:
            raise BrokenEvidence("the EK certificate is for another key than the EK")
        now = datetime.datetime.now(datetime.UTC)
        for c in (cert, *(ca for ca in self.ek_cas if _issued(cert, ca))):
            if not c.not_valid_before_utc <= now <= c.not_valid_after_utc:
                raise BrokenEvidence(f"a certificate outside its validity: {c.subject}")
        if not any(_issued(cert, ca) for ca in self.ek_cas):
            raise BrokenEvidence(
                f"the EK certificate is not issued by a configured CA ({cert.issuer})"
            )


def _issued(cert: Any, issuer: Any) -> bool:
    """``cert`` is signed by ``issuer``, a CA certificate (every configured one is an
    anchor: configure the intermediate that signs EK certificates, or the CA itself)."""
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm

    try:
        constraints = issuer.extensions.get_extension_for_class(x509.BasicConstraints).value
        if not constraints.ca:
            return False
        cert.verify_directly_issued_by(issuer)
    except (x509.ExtensionNotFound, InvalidSignature, UnsupportedAlgorithm, ValueError, TypeError):
        return False
    return True


def _der(data: bytes) -> bytes:
    """``data`` cut to the DER element it starts with (TPMs pad their NV areas)."""
    if len(data) < 2 or data[0] != 0x30:
        return data
    if data[1] < 0x80:
        return data[: 2 + data[1]]
    n = data[1] & 0x7F
    if not 1 <= n <= 4 or len(data) < 2 + n:
        return data
    return data[: 2 + n + int.from_bytes(data[2 : 2 + n], "big")]

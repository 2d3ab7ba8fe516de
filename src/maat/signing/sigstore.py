"""Offline verification of Sigstore bundles against a caller-supplied trusted root.

:func:`verify_sigstore_bundle` checks a Sigstore bundle (``*.sigstore.json``, media types
v0.1 to v0.3) for an artifact, or for the artifact's SHA-256 digest, using the `sigstore`
library (sigstore-python 4.x) strictly offline:

* the trust anchors (Fulcio CAs, Rekor and CT log keys, timestamp authorities) come only from
  ``trusted_root_json``: no TUF refresh, no bundled production root is ever consulted;
* the transparency-log proof must be inside the bundle (inclusion proof plus signed checkpoint,
  or a v0.1 signed entry timestamp): Rekor is never queried, so a bundle without its proof fails;
* the signing certificate must chain to a Fulcio CA of the trusted root at the time the log
  (or an RFC 3161 timestamp authority of the trusted root) says the signature existed, carry a
  valid embedded SCT, and match the identity policy;
* the signature must cover the artifact: a message signature over its digest, or a DSSE
  envelope whose in-toto Statement has a subject with the artifact's SHA-256 (exactly what the
  ``sigstore verify`` command does), and the log entry must record that same signature.

Identity policy. Both ``identity`` and ``issuer`` are required: the certificate's SAN must
equal ``identity`` and its OIDC-issuer extension must equal ``issuer``. Fulcio issues a
certificate to anyone who can log in to any supported OIDC provider, so a valid, logged
signature proves nothing about *who* signed until both are checked (an identity alone is
matched against any issuer's namespace). Leaving one or both out is refused
(:class:`~maat.errors.InvalidInput`) unless the caller passes ``unsafe_any_identity=True``,
which warns (:class:`~maat.errors.UnsafeOptionWarning`) on every call: only the half that is
given is then checked (with neither, sigstore's ``UnsafeNoOp``), the verdict's ``reason`` says
what was NOT checked and the certificate's claimed identity is returned for the caller to
judge. That mode exists for inputs (such as some conformance cases) that supply no identity.

Bundles signed with a managed key (no certificate) are not supported and always fail.

The function is pure (bytes in, a :class:`SigstoreVerdict` out) and never raises for a bad
bundle, signature or proof: every failure, including any exception from the library, becomes
``passed=False`` with a reason. Only unusable arguments raise :class:`~maat.errors.InvalidInput`.
``sigstore`` is imported lazily, so Maat works without it; verification then fails with the
reason :data:`NOT_INSTALLED`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from maat.errors import InvalidInput, warn_unsafe

NOT_INSTALLED = "sigstore support is not installed"
"""The reason given when the optional ``sigstore`` package is missing."""

MAX_BUNDLE_BYTES = 16 * 1024 * 1024
"""Bundles larger than this are refused without parsing (real bundles are a few KiB)."""

MAX_TRUSTED_ROOT_BYTES = 16 * 1024 * 1024
"""Trusted roots larger than this are unusable arguments."""

NO_IDENTITY_NOTE = "identity NOT checked: no identity or issuer was given"
"""Appended to the reason of a passing verdict made without any identity policy."""

_OID_ISSUER_V1 = "1.3.6.1.4.1.57264.1.1"
_OID_ISSUER_V2 = "1.3.6.1.4.1.57264.1.8"
_INTOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"


@dataclass(frozen=True)
class SigstoreVerdict:
    """The outcome of verifying one Sigstore bundle.

    ``identity`` and ``issuer`` are the signing certificate's SAN and OIDC issuer. They are set
    only when ``passed`` is true (before that they are unauthenticated claims); when no identity
    policy was given they are what the caller must check.
    """

    passed: bool
    reason: str
    identity: str | None
    issuer: str | None


def _failed(reason: str) -> SigstoreVerdict:
    return SigstoreVerdict(passed=False, reason=reason, identity=None, issuer=None)


def _check_arguments(
    bundle_json: bytes,
    artifact: bytes | None,
    artifact_digest_sha256: bytes | None,
    trusted_root_json: bytes,
) -> bytes:
    """Validate the arguments and return the artifact's SHA-256 digest."""
    if not isinstance(bundle_json, bytes | bytearray | memoryview):
        raise InvalidInput("the bundle must be bytes", field="bundle_json")
    if not isinstance(trusted_root_json, bytes | bytearray | memoryview):
        raise InvalidInput("the trusted root must be bytes", field="trusted_root_json")
    if (artifact is None) == (artifact_digest_sha256 is None):
        raise InvalidInput(
            "give exactly one of artifact and artifact_digest_sha256",
            field="artifact",
        )
    if artifact is not None:
        if not isinstance(artifact, bytes | bytearray | memoryview):
            raise InvalidInput("the artifact must be bytes", field="artifact")
        return hashlib.sha256(artifact).digest()
    if (
        not isinstance(artifact_digest_sha256, bytes | bytearray | memoryview)
        or len(artifact_digest_sha256) != 32
    ):
        raise InvalidInput(
            "artifact_digest_sha256 must be the 32 raw bytes of a SHA-256 digest",
            field="artifact_digest_sha256",
            hint="pass bytes.fromhex(hex_digest), not the hex text",
        )
    return bytes(artifact_digest_sha256)


def _check_policy_arguments(
    identity: str | None, issuer: str | None, unsafe_any_identity: bool
) -> None:
    """Refuse a malformed policy, and a partial one unless ``unsafe_any_identity``."""
    for name, value in (("identity", identity), ("issuer", issuer)):
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise InvalidInput(f"{name} must be a non-empty string or None", field=name)
    if unsafe_any_identity:
        return
    missing = [name for name, value in (("identity", identity), ("issuer", issuer)) if not value]
    if missing:
        raise InvalidInput(
            f"{' and '.join(missing)} required: without both, a Sigstore signature by anyone "
            "(any account at any OIDC provider) would verify",
            field=missing[0],
            hint="give the signer's identity (SAN) and OIDC issuer; unsafe_any_identity=True "
            "(--unsafe-any-identity) skips what is missing",
        )


def _describe(exc: BaseException) -> str:
    """A one-line reason for a library exception."""
    text = " ".join(str(exc).split())
    if len(text) > 500:
        text = text[:497] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _certificate_claims(certificate: Any) -> tuple[str | None, str | None]:
    """The (identity, issuer) a Fulcio certificate claims; None for what it lacks."""
    from cryptography import x509

    try:
        extensions = {ext.oid.dotted_string: ext.value for ext in certificate.extensions}
    except Exception:  # a malformed extension list claims nothing
        return None, None
    identity: str | None = None
    san = extensions.get(x509.oid.ExtensionOID.SUBJECT_ALTERNATIVE_NAME.dotted_string)
    if isinstance(san, x509.SubjectAlternativeName):
        values: list[str] = [
            *san.get_values_for_type(x509.RFC822Name),
            *san.get_values_for_type(x509.UniformResourceIdentifier),
            *(o.value.decode("utf-8", "replace") for o in san.get_values_for_type(x509.OtherName)),
        ]
        identity = values[0] if values else None
    issuer: str | None = None
    v2 = extensions.get(_OID_ISSUER_V2)
    v1 = extensions.get(_OID_ISSUER_V1)
    if isinstance(v2, x509.UnrecognizedExtension):
        raw = v2.value
        # DER UTF8String with a short length: tag 0x0c, length, then the text
        if len(raw) >= 2 and raw[0] == 0x0C and raw[1] == len(raw) - 2:
            issuer = raw[2:].decode("utf-8", "replace")
    if issuer is None and isinstance(v1, x509.UnrecognizedExtension):
        issuer = v1.value.decode("utf-8", "replace")
    return identity, issuer


def verify_sigstore_bundle(
    bundle_json: bytes,
    *,
    artifact: bytes | None = None,
    artifact_digest_sha256: bytes | None = None,
    trusted_root_json: bytes,
    identity: str | None = None,
    issuer: str | None = None,
    unsafe_any_identity: bool = False,
) -> SigstoreVerdict:
    """Verify a Sigstore bundle for an artifact (or its SHA-256), offline.

    Give exactly one of ``artifact`` and ``artifact_digest_sha256`` (32 raw bytes).
    ``trusted_root_json`` is a Sigstore ``TrustedRoot`` document
    (``application/vnd.dev.sigstore.trustedroot+json;version=0.1``); it is the only source of
    trust. ``identity`` and ``issuer`` form the identity policy and are both required unless
    ``unsafe_any_identity`` (which warns every time) waives what is missing; the reason then
    says what was not checked (see the module docstring).

    Returns a :class:`SigstoreVerdict`; never raises for a bad bundle. Raises
    :class:`~maat.errors.InvalidInput` for unusable arguments: wrong types, both or neither
    artifact forms, a digest that is not 32 bytes, an empty identity/issuer, a missing
    identity or issuer without ``unsafe_any_identity``, or a trusted root that is not a usable
    TrustedRoot document.
    """
    _check_policy_arguments(identity, issuer, unsafe_any_identity)
    if unsafe_any_identity:  # warned here so the warning points at the caller
        warn_unsafe(
            "unsafe_any_identity",
            "a Sigstore signature by whoever holds any Fulcio certificate may be accepted",
        )
    digest = _check_arguments(bundle_json, artifact, artifact_digest_sha256, trusted_root_json)
    if len(trusted_root_json) > MAX_TRUSTED_ROOT_BYTES:
        raise InvalidInput("the trusted root is too large", field="trusted_root_json")
    if len(bundle_json) > MAX_BUNDLE_BYTES:
        return _failed(f"bundle is larger than {MAX_BUNDLE_BYTES} bytes")

    try:
        from sigstore import dsse
        from sigstore.errors import VerificationError
        from sigstore.hashes import Hashed
        from sigstore.models import Bundle, TrustedRoot
        from sigstore.verify import Verifier, policy
        from sigstore_models.common.v1 import HashAlgorithm
        from sigstore_models.trustroot import v1 as trustroot_v1
    except ImportError:
        return _failed(NOT_INSTALLED)

    try:
        trusted_root = TrustedRoot(trustroot_v1.TrustedRoot.from_json(bytes(trusted_root_json)))
        verifier = Verifier(trusted_root=trusted_root)
    except Exception as exc:  # pydantic ValidationError, sigstore Error, ValueError, ...
        raise InvalidInput(
            f"the trusted root is not usable: {_describe(exc)}", field="trusted_root_json"
        ) from exc

    chosen: Any
    if identity is not None:
        chosen = policy.Identity(identity=identity, issuer=issuer)
    elif issuer is not None:
        chosen = policy.OIDCIssuer(issuer)
    else:
        chosen = policy.UnsafeNoOp()

    try:
        bundle = Bundle.from_json(bytes(bundle_json))
    except Exception as exc:  # bad JSON, schema errors, inconsistent bundle, ...
        return _failed(f"bundle is not a valid Sigstore bundle: {_describe(exc)}")

    hashed = Hashed(algorithm=HashAlgorithm.SHA2_256, digest=digest)
    try:
        if bundle._dsse_envelope is not None:
            payload_type, payload = verifier.verify_dsse(bundle, chosen)
            if payload_type != _INTOTO_PAYLOAD_TYPE:
                raise VerificationError(
                    f"DSSE payload type is {payload_type!r}, not an in-toto Statement"
                )
            statement = dsse.Statement(payload)
            if not statement._matches_digest(hashed):
                raise VerificationError(
                    f"in-toto statement has no subject with sha256 {digest.hex()}"
                )
        else:
            verifier.verify_artifact(hashed, bundle, chosen)
        claimed_identity, claimed_issuer = _certificate_claims(bundle.signing_certificate)
    except Exception as exc:  # VerificationError and whatever else a hostile bundle provokes
        return _failed(_describe(exc))

    reason = "verified"
    if identity is None:
        reason += f"; {NO_IDENTITY_NOTE}" if issuer is None else "; identity (SAN) NOT checked"
    elif issuer is None:
        reason += "; OIDC issuer NOT checked: any issuer's account of that name is accepted"
    return SigstoreVerdict(
        passed=True, reason=reason, identity=claimed_identity, issuer=claimed_issuer
    )

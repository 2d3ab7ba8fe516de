"""Steps 3-5 of a verification: chain building, extended key usage and validity.

:func:`build_chain` walks leaf → intermediates → one of the trust roots (names, signatures,
no repeats, bounded search); step 3 then checks CA basic constraints, path length,
keyCertSign, unknown critical extensions, weak hashes and weak keys; step 4 the codeSigning
EKU; step 5 every certificate's validity at the signing time. :func:`verify_chain` runs the
three in order; :func:`maat.signing.verify.verify_artifact` uses the cached
:func:`chain_outcome`. See :mod:`maat.signing.verify` for the whole procedure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import TypeVar

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from maat.core.decision import StepResult
from maat.errors import MaatError
from maat.signing._steps import (
    MIN_RSA_BITS,
    SignatureCheck,
    _aware,
    _fail,
    _iso,
    _ok,
    describe,
    signature_check,
    subject_text,
)

MAX_CHAIN_DEPTH = 8
MAX_PATH_WORK = 400

# fmt: off
_STRONG_HASHES = (hashes.SHA256, hashes.SHA384, hashes.SHA512)
_UNDERSTOOD_EXTENSIONS = frozenset({
    x509.BasicConstraints.oid, x509.KeyUsage.oid, x509.ExtendedKeyUsage.oid,
    x509.SubjectKeyIdentifier.oid, x509.AuthorityKeyIdentifier.oid,
    x509.SubjectAlternativeName.oid,
})
_E = TypeVar("_E", bound=x509.ExtensionType)
# fmt: on


# --- step 3: chain ----------------------------------------------------------------------------


# Links already checked: (child DER, parent DER) digests -> issued. A signature over fixed
# bytes by a fixed key never changes its answer, so caching it is safe; validity periods,
# EKUs and revocation are still checked on every verification. Bounded: cleared when full.
_LINKS: dict[tuple[bytes, bytes], bool] = {}
_LINKS_MAX = 100_000


def _issued_by(child: x509.Certificate, parent: x509.Certificate) -> bool:
    if child.issuer != parent.subject:
        return False
    key = (child.fingerprint(hashes.SHA256()), parent.fingerprint(hashes.SHA256()))
    cached = _LINKS.get(key)
    if cached is not None:
        return cached
    try:
        child.verify_directly_issued_by(parent)
        result = True
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
        result = False
    if len(_LINKS) >= _LINKS_MAX:
        _LINKS.clear()
    _LINKS[key] = result
    return result


def build_chain(
    leaf: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    trust_roots: Sequence[x509.Certificate],
) -> tuple[x509.Certificate, ...] | None:
    """A path ``leaf, intermediates…, root`` ending at one of ``trust_roots``, or ``None``.

    Links need matching names and a verifying signature; no certificate repeats; at most
    :data:`MAX_CHAIN_DEPTH` certificates and :data:`MAX_PATH_WORK` link checks, so crafted
    cross-signed certificates cannot make the search explode. Constraints are checked by
    :func:`verify_chain`.
    """
    links: dict[tuple[int, int], bool] = {}

    def linked(child: x509.Certificate, parent: x509.Certificate) -> bool:
        key = (id(child), id(parent))
        if key not in links:
            if len(links) >= MAX_PATH_WORK:
                raise _TooMuchWork("the certificate path search exceeded its budget")
            links[key] = _issued_by(child, parent)
        return links[key]

    def extend(path: list[x509.Certificate]) -> list[x509.Certificate] | None:
        root = next((r for r in trust_roots if linked(path[-1], r)), None)
        if root is not None:
            return [*path, root]
        if len(path) >= MAX_CHAIN_DEPTH - 1:
            return None
        for candidate in intermediates:
            if candidate not in path and linked(path[-1], candidate):
                found = extend([*path, candidate])
                if found is not None:
                    return found
        return None

    try:
        found = extend([leaf])
    except _TooMuchWork:
        return None
    return tuple(found) if found is not None else None


class _TooMuchWork(MaatError):
    """The path search exceeded its budget."""


def _why_no_path(
    leaf: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    trust_roots: Sequence[x509.Certificate],
) -> str:
    """Why no path to a trust root exists, from the top of the longest partial path."""
    path, candidates = [leaf], intermediates[: MAX_PATH_WORK // MAX_CHAIN_DEPTH]
    while len(path) < MAX_CHAIN_DEPTH:
        parent = next((c for c in candidates if c not in path and _issued_by(path[-1], c)), None)
        if parent is None:
            break
        path.append(parent)
    top = path[-1]
    issuer = top.issuer.rfc4514_string()
    if not trust_roots:
        return "unknown root: no trust roots are configured"
    if any(root.subject == top.issuer for root in trust_roots):
        return (
            f"unknown root: {describe(top)} names the trusted issuer {issuer!r} but its "
            "signature does not verify with that root's key (forged or re-keyed issuer)"
        )
    return (
        f"unknown root: the chain ends at {describe(top)}, issued by {issuer!r}, which is "
        f"not one of the {len(trust_roots)} trust root(s)"
    )


def _constraint_problem(path: Sequence[x509.Certificate]) -> str | None:
    for cert in path:
        for extension in cert.extensions:
            if extension.critical and extension.oid not in _UNDERSTOOD_EXTENSIONS:
                return f"{describe(cert)} has an unsupported critical extension {extension.oid}"
    leaf_bc = _extension(path[0], x509.BasicConstraints)
    if leaf_bc is not None and leaf_bc.ca:
        return f"the leaf {describe(path[0])} is a CA certificate, not a signer"
    for index, cert in enumerate(path[1:], start=1):
        bc = _extension(cert, x509.BasicConstraints)
        if bc is None or not bc.ca:
            return f"{describe(cert)} issued a certificate but is not a CA (basicConstraints)"
        below = index - 1  # intermediate CAs between the leaf and this CA
        if bc.path_length is not None and below > bc.path_length:
            return (
                f"{describe(cert)} allows {bc.path_length} intermediate CA(s) below it "
                f"(pathLenConstraint), the chain has {below}"
            )
        usage = _extension(cert, x509.KeyUsage)
        if usage is not None and not usage.key_cert_sign:
            return f"{describe(cert)} issued a certificate but lacks the keyCertSign key usage"
    for cert in path[:-1]:  # the trust root's self-signature is not relied upon
        problem = _algorithm_problem(cert)
        if problem is not None:
            return problem
    return None


def _algorithm_problem(cert: x509.Certificate) -> str | None:
    try:
        algorithm = cert.signature_hash_algorithm
        key = cert.public_key()
    except (UnsupportedAlgorithm, ValueError) as exc:
        return f"{describe(cert)} uses an unsupported algorithm: {exc}"
    if algorithm is not None and not isinstance(algorithm, _STRONG_HASHES):
        return f"{describe(cert)} is signed with the weak hash {algorithm.name}"
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < MIN_RSA_BITS:
        return f"{describe(cert)} has a weak {key.key_size}-bit RSA key"
    return None


def is_code_signing_leaf(cert: x509.Certificate) -> bool:
    """Whether ``cert`` is a code-signing certificate itself: no CA, codeSigning in its
    extended key usage (what step 4 asks of a leaf)."""
    constraints = _extension(cert, x509.BasicConstraints)
    eku = _extension(cert, x509.ExtendedKeyUsage)
    return (constraints is None or not constraints.ca) and (
        eku is not None and ExtendedKeyUsageOID.CODE_SIGNING in eku
    )


def _extension(cert: x509.Certificate, kind: type[_E]) -> _E | None:
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def _step_chain(
    leaf: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    trust_roots: Sequence[x509.Certificate],
) -> tuple[StepResult, tuple[x509.Certificate, ...] | None]:
    try:
        path = build_chain(leaf, intermediates, trust_roots)
        if path is None:
            return _fail(3, _why_no_path(leaf, intermediates, trust_roots)), None
        problem = _constraint_problem(path)
    except ValueError as exc:  # a lazily decoded part of a caller-supplied certificate
        return _fail(3, f"a certificate cannot be decoded: {exc}"), None
    if problem is not None:
        return _fail(3, problem), None
    names = " → ".join(repr(c.subject.rfc4514_string()) for c in path)
    return _ok(3, f"chain to a trust root: {names}"), path


# --- step 4: extended key usage ---------------------------------------------------------------


def _step_eku(path: Sequence[x509.Certificate]) -> StepResult:
    leaf = path[0]
    eku = _extension(leaf, x509.ExtendedKeyUsage)
    if eku is None:
        return _fail(
            4,
            f"wrong EKU: the leaf {describe(leaf)} has no extended key usage; codeSigning "
            "is required",
        )
    if ExtendedKeyUsageOID.CODE_SIGNING not in eku:
        have = ", ".join(getattr(oid, "_name", oid.dotted_string) for oid in eku) or "none"
        return _fail(
            4, f"wrong EKU: the leaf {describe(leaf)} is not for code signing (has: {have})"
        )
    usage = _extension(leaf, x509.KeyUsage)
    if usage is not None and not usage.digital_signature:
        return _fail(4, f"the leaf {describe(leaf)} lacks the digitalSignature key usage")
    for cert in path[1:-1]:
        ca_eku = _extension(cert, x509.ExtendedKeyUsage)
        if ca_eku is not None and not (
            ExtendedKeyUsageOID.CODE_SIGNING in ca_eku
            or ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in ca_eku
        ):
            return _fail(
                4,
                f"wrong EKU: intermediate {describe(cert)} restricts its subordinates to "
                "usages that exclude codeSigning",
            )
    return _ok(4, "the leaf is a code-signing certificate")


# --- step 5: validity at signing time ---------------------------------------------------------


def _step_validity(path: Sequence[x509.Certificate], at: datetime, label: str) -> StepResult:
    for cert in path:
        if at < cert.not_valid_before_utc:
            return _fail(
                5,
                f"not yet valid: {describe(cert)} is valid from "
                f"{_iso(cert.not_valid_before_utc)}, after the signing time {_iso(at)} ({label})",
            )
        if at > cert.not_valid_after_utc:
            return _fail(
                5,
                f"expired: {describe(cert)} expired on {_iso(cert.not_valid_after_utc)}, "
                f"before the signing time {_iso(at)} ({label})",
            )
    return valid_at(len(path), at, label)


@lru_cache(maxsize=1024)  # a batch verifies many files at one time: one result serves them
def valid_at(count: int, at: datetime, label: str) -> StepResult:
    """Step 5 passed: all ``count`` certificates of the path are valid at ``at`` (``label``)."""
    return _ok(5, f"all {count} certificates valid at the signing time {_iso(at)} ({label})")


def verify_chain(
    leaf: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    trust_roots: Sequence[x509.Certificate],
    at: datetime,
    *,
    time_label: str = "the given time",
) -> list[StepResult]:
    """Steps 3 (chain), 4 (extended key usage) and 5 (validity at ``at``), stopping at a failure.

    Shared by DSSE bundles and Authenticode (where ``intermediates`` are the certificates
    the PE carries; an embedded root is only used if it is one of ``trust_roots``).
    """
    _aware(at, "at")
    chain_step, path = _step_chain(leaf, intermediates, trust_roots)
    if path is None:
        return [chain_step]
    eku_step = _step_eku(path)
    if not eku_step.passed:
        return [chain_step, eku_step]
    return [chain_step, eku_step, _step_validity(path, at, time_label)]


# Steps 3-4 depend only on the certificates, so their outcome is cached per (chain, roots).
# Validity (step 5) and revocation (step 6) are still evaluated on every call. Bounded:
# cleared when full.
@dataclass(frozen=True)
class ChainOutcome:
    """Steps 3-4 for one set of certificates, with what later steps reuse: the path's common
    validity window, the leaf's signature check and subject, and each path certificate's name."""

    chain_step: StepResult
    path: tuple[x509.Certificate, ...] | None
    eku_step: StepResult | None
    window: tuple[datetime, datetime] | None
    leaf_check: SignatureCheck | None  # None: the key cannot be decoded (step 2 says why)
    leaf_subject: str
    names: tuple[str, ...]
    signature_step: StepResult  # step 2's passing result, whose text depends on the leaf only


_CHAINS: dict[tuple[tuple[object, ...], tuple[bytes, ...]], ChainOutcome] = {}
_CHAINS_MAX = 10_000

# Trust roots by object identity -> (the same objects; their SHA-256 fingerprints, bytes that
# cache their hash). A caller verifying many files passes the same root objects each time,
# and hashing each root's DER on every call was a tenth of a verification. The entry keeps
# its objects alive, so no other object can hold their ids while it exists: equal ids are
# the same objects.
_ROOT_KEYS: dict[tuple[int, ...], tuple[tuple[x509.Certificate, ...], tuple[bytes, ...]]] = {}
_ROOT_KEYS_MAX = 64


def _roots_key(trust_roots: Sequence[x509.Certificate]) -> tuple[bytes, ...]:
    ids = tuple(map(id, trust_roots))
    known = _ROOT_KEYS.get(ids)
    if known is not None:
        return known[1]
    fingerprints = tuple(root.fingerprint(hashes.SHA256()) for root in trust_roots)
    if len(_ROOT_KEYS) >= _ROOT_KEYS_MAX:
        _ROOT_KEYS.clear()
    _ROOT_KEYS[ids] = (tuple(trust_roots), fingerprints)
    return fingerprints


def chain_outcome(
    leaf: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    trust_roots: Sequence[x509.Certificate],
    *,
    chain_key: tuple[bytes, ...] = (),
) -> ChainOutcome:
    """Steps 3-4 and the facts later steps need, cached per (chain, roots).

    The chain is keyed by ``chain_key``, the certificates' SHA-256 fingerprints, leaf first,
    when the caller has them (:attr:`Bundle.chain_key`: bytes cache their hash), else by the
    certificates themselves, which hash and compare by their DER. Either way the same chain
    in a fresh bundle hits the cache; a signature over fixed bytes never changes its answer.
    Validity (step 5) and revocation (step 6) are still judged on every verification.
    """
    chain: tuple[object, ...] = (
        chain_key if len(chain_key) == 1 + len(intermediates) else (leaf, *intermediates)
    )
    key = (chain, _roots_key(trust_roots))
    cached = _CHAINS.get(key)
    if cached is None:
        chain_step, found = _step_chain(leaf, intermediates, trust_roots)
        eku_step = _step_eku(found) if chain_step.passed and found is not None else None
        window = None
        if found:
            window = (
                max(c.not_valid_before_utc for c in found),
                min(c.not_valid_after_utc for c in found),
            )
        try:
            leaf_check: SignatureCheck | None = signature_check(leaf.public_key())
        except (ValueError, UnsupportedAlgorithm):
            leaf_check = None  # step 2 reports it
        cached = ChainOutcome(
            chain_step, tuple(found) if found is not None else None, eku_step, window,
            leaf_check, subject_text(leaf), tuple(describe(c) for c in (found or [leaf])),
            _ok(2, f"DSSE signature by {describe(leaf)} verifies"),
        )  # fmt: skip
        if len(_CHAINS) >= _CHAINS_MAX:
            _CHAINS.clear()
        _CHAINS[key] = cached
    return cached

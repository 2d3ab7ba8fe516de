"""Verification of signed artifacts: numbered steps, each a :class:`StepResult`, failing closed.

:func:`verify_artifact` checks a file's SHA-256 against a parsed :class:`Bundle`:

1. **digest** — the Statement's subject names this file's SHA-256 (else: the file was
   tampered with, or the signature belongs to another file);
2. **envelope signature** — the DSSE signature over PAE verifies with the leaf's public key
   (ECDSA P-256/SHA-256, ECDSA P-384/SHA-384, RSA ≥ 2048 PKCS#1 v1.5/SHA-256) and the
   predicate's ``signer`` is the leaf's subject;
3. **chain** — leaf → intermediates from the bundle → one of the trust roots, walked here:
   issuer/subject names, signatures, CA basic constraints, path length, keyCertSign, no
   unknown critical extension, no SHA-1/MD5 signatures, no weak keys;
4. **extended key usage** — the leaf allows codeSigning (and digitalSignature when it has a
   key usage); an intermediate with an EKU extension must allow codeSigning too;
5. **validity at signing time** — the signing time is the RFC 3161 time when a token and a
   verifier are given, else ``now``; every certificate of the path is valid at that time;
6. **revocation** — leaf and intermediates via a :class:`RevocationSource`;
7. **policy** — an optional :class:`SignerPolicy` decides about the signer and statement.

Steps 3-5 live in :mod:`maat.signing.chain` (re-exported here).
Steps run in order and stop at the first failure: later steps would rest on material that
was not verified, and the verdict names exactly the step that stopped the file.
``cryptography``'s ``PolicyBuilder`` is not used for step 3: its client and server verifiers
require the clientAuth / serverAuth EKU, and would merge chain, EKU and validity into one
opaque error where Maat needs a distinct verdict for each.

Nothing here raises for a bad signature or certificate: the answer is a failed
:class:`Verdict`. Only unusable arguments (a naive ``now``, a digest of the wrong length, an
unknown revocation mode) raise :class:`~maat.errors.InvalidInput`.
"""

from __future__ import annotations

import hmac
import posixpath
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Literal, Protocol

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm

from maat.core.decision import Decision, StepResult, Verdict
from maat.errors import InvalidInput, MaatError
from maat.signing._steps import (
    SignatureCheck,
    _aware,
    _fail,
    _iso,
    _ok,
    describe,
    signature_check,
    subject_text,
)
from maat.signing.bundle import Bundle, Statement, pae, parse_bundle
from maat.signing.chain import MAX_CHAIN_DEPTH as MAX_CHAIN_DEPTH
from maat.signing.chain import MAX_PATH_WORK as MAX_PATH_WORK
from maat.signing.chain import (
    ChainOutcome,
    _step_validity,
    build_chain,
    chain_outcome,
    valid_at,
    verify_chain,
)
from maat.signing.crl import CrlScope

# fmt: off
__all__ = [
    "COMPROMISE_REASONS", "CrlRevocation", "RevocationAnswer", "RevocationMode",
    "RevocationSource", "SignerPolicy", "build_chain", "check_revocation", "describe",
    "verify_artifact", "verify_bundle", "verify_chain",
]
# fmt: on

RevocationMode = Literal["hard", "soft"]
RevocationState = Literal["good", "revoked", "unknown"]

CLOCK_SKEW = timedelta(minutes=5)

# fmt: off
COMPROMISE_REASONS = frozenset({x509.ReasonFlags.key_compromise, x509.ReasonFlags.ca_compromise,
                                x509.ReasonFlags.aa_compromise})
"""Revocation reasons that invalidate every signature the key ever made, whatever its time."""

# fmt: on


@dataclass(frozen=True, slots=True)
class RevocationAnswer:
    """What a revocation source knows about one certificate."""

    state: RevocationState
    revoked_at: datetime | None = None
    reason: x509.ReasonFlags | None = None
    source: str = ""


class RevocationSource(Protocol):
    """Answers the revocation status of a certificate (CRLs, OCSP, Maat's own register)."""

    def status(self, cert: x509.Certificate, at: datetime) -> RevocationAnswer:
        """The status of ``cert`` as known at ``at`` (``unknown`` when no current data)."""
        ...


# fmt: off
class RevokedEntryLike(Protocol):
    """A CRL entry (:class:`maat.signing.crl.RevokedEntry` fits)."""

    @property
    def revoked_at(self) -> datetime: ...
    @property
    def reason(self) -> x509.ReasonFlags | None: ...


class CrlLike(Protocol):
    """A loaded CRL (:class:`maat.signing.crl.CrlIndex` fits)."""

    def scope_for(self, cert: x509.Certificate) -> CrlScope: ...
    def status(self, serial: int) -> RevokedEntryLike | None: ...
    def is_current(self, now: datetime) -> bool: ...
# fmt: on


@dataclass(frozen=True)
class CrlRevocation:
    """A :class:`RevocationSource` over CRLs whose signatures were checked when loaded.

    Only CRLs that speak for the certificate count (:meth:`CrlIndex.scope_for`: verified,
    signed by the key that issued it, a scope that includes it). A certificate is ``revoked``
    when any of them lists it, whatever the order or age of the CRLs (an older CRL that is
    still current must not hide a newer listing); ``good`` when none lists it and one of them
    is current and complete for it; ``unknown`` otherwise: unknown is never silently good.
    """

    crls: Sequence[CrlLike]

    def status(self, cert: x509.Certificate, at: datetime) -> RevocationAnswer:
        """The status of ``cert`` from every CRL that speaks for it."""
        issuer = cert.issuer.rfc4514_string()
        scoped = [(crl, scope) for crl in self.crls if (scope := crl.scope_for(cert)) != "none"]
        for crl, _ in scoped:
            entry = crl.status(cert.serial_number)
            if entry is not None:
                return RevocationAnswer(
                    "revoked", entry.revoked_at, entry.reason, f"CRL of {issuer!r}"
                )
        if any(scope == "full" and crl.is_current(at) for crl, scope in scoped):
            return RevocationAnswer("good", source=f"CRL of {issuer!r}")
        return RevocationAnswer("unknown", source=f"no current verified CRL of {issuer!r}")


class SignerPolicy(Protocol):
    """Decides whether a verified signer may sign what the statement says."""

    def decide(self, leaf_cert: x509.Certificate, statement: Statement) -> Decision:
        """Allow or deny ``leaf_cert`` as the signer of ``statement``."""
        ...


# --- step 1: digest ---------------------------------------------------------------------------


def _names_match(signed: str, name: str) -> bool:
    def base(text: str) -> str:
        return posixpath.basename(text.replace("\\", "/"))

    return signed == name or base(signed) == base(name)


def _step_digest(data_digest: bytes, name: str, statement: Statement) -> StepResult:
    actual = data_digest.hex()
    for subject in statement.subjects:
        if hmac.compare_digest(subject.sha256, actual):
            note = (
                ""
                if subject.name == name or _names_match(subject.name, name)
                else (f" (signed under the name {subject.name!r}; content identical)")
            )
            return _ok(1, f"sha256 {actual} of {name!r} is signed{note}")
    same_name = [s for s in statement.subjects if _names_match(s.name, name)]
    if same_name:
        return _fail(
            1,
            f"tampered file: {name!r} has sha256 {actual} but the signature covers "
            f"{same_name[0].sha256}; the file changed after it was signed",
        )
    other = statement.subjects[0]
    return _fail(
        1,
        f"signature over another file: the bundle signs {other.name!r} (sha256 {other.sha256}), "
        f"not {name!r} (sha256 {actual}); a signature copied from another file is refused",
    )


# --- step 2: envelope signature ---------------------------------------------------------------


@lru_cache(maxsize=4096)
def _leaf_check(cert: x509.Certificate) -> SignatureCheck:
    """The certificate key's check, decoded once per certificate (by DER), not per bundle."""
    try:
        return signature_check(cert.public_key())
    except (ValueError, UnsupportedAlgorithm) as exc:
        reason = f"the leaf's public key cannot be used: {exc}"
        return lambda signature, message: reason


def check_signature(cert: x509.Certificate, signature: bytes, message: bytes) -> str | None:
    """``None`` when ``signature`` over ``message`` verifies with ``cert``'s key, else why not.

    Accepted keys and algorithms: see :func:`maat.signing._steps.signature_check`.
    """
    return _leaf_check(cert)(signature, message)


def _step_signature(bundle: Bundle, outcome: ChainOutcome | None = None) -> StepResult:
    leaf = bundle.leaf
    message = pae(bundle.payload_type, bundle.payload)
    if outcome is not None and outcome.leaf_check is not None:
        problem = outcome.leaf_check(bundle.signature.sig, message)
        subject, name = outcome.leaf_subject, outcome.names[0]
    else:
        problem = check_signature(leaf, bundle.signature.sig, message)
        subject, name = subject_text(leaf), describe(leaf)
    if problem is not None:
        return _fail(2, f"{problem} (leaf {name})")
    claimed = bundle.statement.predicate.signer
    if claimed != subject:
        return _fail(2, f"the statement claims signer {claimed!r} but was signed by {subject!r}")
    if outcome is not None:
        return outcome.signature_step
    return _ok(2, f"DSSE signature by {name} verifies")


# --- step 6: revocation -----------------------------------------------------------------------


def check_revocation(
    certificates: Iterable[x509.Certificate],
    revocation: RevocationSource | None,
    *,
    mode: RevocationMode,
    now: datetime,
    signing_time: datetime,
    signing_time_trusted: bool,
    names: Sequence[str] | None = None,
) -> StepResult:
    """Step 6: the revocation status of ``certificates`` (leaf and intermediates, not roots).

    ``names`` (one per certificate, as :func:`describe` gives) spares re-formatting them.

    1. No source: hard mode fails, soft mode passes with a warning.
    2. Each certificate is asked about at ``now``; ``unknown`` fails in hard mode and warns in
       soft mode.
    3. ``revoked`` for keyCompromise (or a CA/AA compromise) fails whatever the signing time:
       the key may have made any signature, back-dated or not.
    4. ``revoked`` for another reason passes only if the signing time is trusted (RFC 3161)
       and strictly before the revocation time: the certificate was good when it signed.
       Otherwise it fails.
    """
    _check_mode(mode)
    if revocation is None:
        if mode == "hard":
            return _fail(6, "no revocation source configured; hard mode requires one")
        return _ok(6, "warning: not checked, no revocation source configured (soft mode)")
    certs = tuple(certificates)
    answers: list[RevocationAnswer] = []
    all_good = True
    for cert in certs:
        try:
            answer = revocation.status(cert, now)
        except MaatError as exc:
            answer = RevocationAnswer("unknown", source=f"error: {exc.message}")
        answers.append(answer)
        all_good = all_good and answer.state == "good"
    labels = tuple(names) if names is not None and len(names) == len(certs) else None
    if all_good and labels is not None:
        return _all_good(labels, tuple([answer.source for answer in answers]))
    notes: list[str] = []
    for position, (cert, answer) in enumerate(zip(certs, answers, strict=True)):
        label = labels[position] if labels is not None else describe(cert)
        where = f" per {answer.source}" if answer.source else ""
        if answer.state == "good":
            notes.append(f"{label} good{where}")
        elif answer.state == "revoked":
            still_valid, text = _judge_revoked(
                cert, answer, signing_time, signing_time_trusted, where
            )
            if not still_valid:
                return _fail(6, text)
            notes.append(text)
        elif mode == "hard":
            return _fail(6, f"revocation status of {label} unknown{where}; hard mode fails closed")
        else:
            notes.append(f"warning: revocation status of {label} unknown{where} (soft mode)")
    return _ok(6, "; ".join(notes) or "no certificate to check")


@lru_cache(maxsize=1024)  # the same chain checked against the same sources: one text serves
def _all_good(labels: tuple[str, ...], sources: tuple[str, ...]) -> StepResult:
    notes = [
        f"{label} good{f' per {source}' if source else ''}"
        for label, source in zip(labels, sources, strict=True)
    ]
    return _ok(6, "; ".join(notes) or "no certificate to check")


def _judge_revoked(
    cert: x509.Certificate,
    answer: RevocationAnswer,
    signing_time: datetime,
    trusted: bool,
    where: str,
) -> tuple[bool, str]:
    """Whether a signature by revoked ``cert`` still stands, and why (numbered in step 6)."""
    reason = answer.reason.value if answer.reason is not None else "unspecified"
    when = _iso(answer.revoked_at) if answer.revoked_at is not None else "an unknown time"
    head = f"revoked: {describe(cert)} was revoked on {when} (reason {reason}){where}"
    if answer.reason in COMPROMISE_REASONS:
        return False, f"{head}; a compromised key invalidates every signature it made"
    if answer.revoked_at is None:
        return False, f"{head}; without a revocation time no signature can precede it"
    if not trusted:
        return False, (
            f"{head}; there is no trusted timestamp, so the signature cannot be "
            "shown to precede the revocation"
        )
    if signing_time >= answer.revoked_at:
        return False, f"{head}; the trusted signing time {_iso(signing_time)} is not before it"
    return True, (
        f"{describe(cert)} was revoked on {when} (reason {reason}){where}, after the trusted "
        f"signing time {_iso(signing_time)}: the certificate was good when it signed and the "
        "reason is not a key compromise, so this signature stays valid"
    )


# --- step 7: policy ---------------------------------------------------------------------------

_NO_POLICY = _ok(7, "no signer policy configured")


def _step_policy(
    policy: SignerPolicy | None, leaf: x509.Certificate, statement: Statement
) -> StepResult:
    if policy is None:
        return _NO_POLICY
    decision = policy.decide(leaf, statement)
    reasons = "; ".join(decision.reasons) or "no reason given"
    if decision.allowed:
        return _ok(7, f"signer policy allows: {reasons}")
    return _fail(7, f"signer policy denies: {reasons}")


# --- the procedure ----------------------------------------------------------------------------


def _signing_time(
    bundle: Bundle, now: datetime, verifier: Callable[[bytes, bytes], datetime] | None
) -> tuple[datetime, bool, str] | StepResult:
    """The signing time, whether it is trusted, and its label — or a failed step 5."""
    if bundle.timestamp is None:
        return now, False, "no timestamp: the current time"
    if verifier is None:
        return now, False, "timestamp present but no verifier configured: the current time"
    try:
        stamped = verifier(bundle.timestamp, bundle.timestamp_imprint())
    except (MaatError, ValueError, TypeError) as exc:
        text = exc.message if isinstance(exc, MaatError) else str(exc)
        return _fail(5, f"the RFC 3161 timestamp is rejected: {text}")
    if not isinstance(stamped, datetime) or stamped.tzinfo is None:
        return _fail(5, "the RFC 3161 verifier gave no aware time")
    if stamped > now + CLOCK_SKEW:
        return _fail(5, f"the RFC 3161 time {_iso(stamped)} is in the future (now {_iso(now)})")
    return stamped, True, "trusted RFC 3161 timestamp"


def verify_artifact(
    data_digest_sha256: bytes,
    name: str,
    bundle: Bundle,
    *,
    trust_roots: Sequence[x509.Certificate],
    now: datetime,
    revocation: RevocationSource | None,
    revocation_mode: RevocationMode = "hard",
    signing_time_verifier: Callable[[bytes, bytes], datetime] | None = None,
    policy: SignerPolicy | None = None,
) -> Verdict:
    """Verify that ``bundle`` is a valid signature of the file named ``name`` (steps 1-7).

    ``data_digest_sha256`` is the raw 32-byte SHA-256 of the file. ``signing_time_verifier``
    receives the RFC 3161 token and the expected imprint (:meth:`Bundle.timestamp_imprint`)
    and returns the token's genTime, raising a :class:`~maat.errors.MaatError` if the token
    is not acceptable (e.g. ``partial(timestamp.verify_token, trusted_tsa=…)`` adapted to
    positional arguments). Steps stop at the first failure.
    """
    _aware(now, "now")
    if not isinstance(data_digest_sha256, bytes) or len(data_digest_sha256) != 32:
        raise InvalidInput(
            "the file digest must be 32 raw SHA-256 bytes", field="data_digest_sha256"
        )
    _check_mode(revocation_mode)
    # Each step is appended, then the procedure stops unless it passed. This is the hot path
    # of every verification, so it is written out rather than looped over step functions.
    digest_step = _step_digest(data_digest_sha256, name, bundle.statement)
    steps = [digest_step]
    if not digest_step.passed:
        return Verdict.from_steps(steps)
    # Looked up before step 2 only to reuse the leaf's decoded key and names; its results are
    # recorded in step order below.
    outcome = chain_outcome(
        bundle.leaf, bundle.intermediates, trust_roots, chain_key=bundle.chain_key
    )
    signature_step = _step_signature(bundle, outcome)
    steps.append(signature_step)
    if not signature_step.passed:
        return Verdict.from_steps(steps)
    path, eku_step, window = outcome.path, outcome.eku_step, outcome.window
    steps.append(outcome.chain_step)
    if not outcome.chain_step.passed or path is None or eku_step is None:
        return Verdict.from_steps(steps)
    steps.append(eku_step)
    if not eku_step.passed:
        return Verdict.from_steps(steps)
    timing = _signing_time(bundle, now, signing_time_verifier)
    if isinstance(timing, StepResult):
        steps.append(timing)
        return Verdict.from_steps(steps)
    signing_time, trusted, label = timing
    if window is not None and window[0] <= signing_time <= window[1]:
        validity = valid_at(len(path), signing_time, label)
    else:
        validity = _step_validity(path, signing_time, label)  # names the certificate at fault
    steps.append(validity)
    if not validity.passed:
        return Verdict.from_steps(steps)
    revocation_step = check_revocation(
        path[:-1], revocation, mode=revocation_mode, now=now,
        signing_time=signing_time, signing_time_trusted=trusted, names=outcome.names[:-1],
    )  # fmt: skip
    steps.append(revocation_step)
    if revocation_step.passed:
        steps.append(_step_policy(policy, bundle.leaf, bundle.statement))
    return Verdict.from_steps(steps)


def _check_mode(mode: str) -> None:
    if mode not in ("hard", "soft"):
        raise InvalidInput(
            f"revocation mode must be 'hard' or 'soft', got {mode!r}", field="revocation_mode"
        )


def verify_bundle(
    data_digest_sha256: bytes,
    name: str,
    bundle_json: bytes,
    *,
    source: str,
    max_bytes: int,
    trust_roots: Sequence[x509.Certificate],
    now: datetime,
    revocation: RevocationSource | None,
    revocation_mode: RevocationMode = "hard",
    signing_time_verifier: Callable[[bytes, bytes], datetime] | None = None,
    policy: SignerPolicy | None = None,
) -> Verdict:
    """Step 0 (parse the bundle bytes) then :func:`verify_artifact`.

    A malformed, truncated or oversized bundle is a failed step 0 naming the field, so a
    caller holding only bytes always gets a verdict.
    """
    try:
        bundle = parse_bundle(bundle_json, source=source, max_bytes=max_bytes)
    except MaatError as exc:
        return Verdict.from_steps([_fail(0, exc.diagnostics())])
    steps = [_ok(0, f"{source}: well-formed signature bundle")]
    verdict = verify_artifact(
        data_digest_sha256,
        name,
        bundle,
        trust_roots=trust_roots,
        now=now,
        revocation=revocation,
        revocation_mode=revocation_mode,
        signing_time_verifier=signing_time_verifier,
        policy=policy,
    )
    return Verdict.from_steps([*steps, *verdict.steps])

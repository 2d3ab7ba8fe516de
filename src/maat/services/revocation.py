"""Revocation use cases: CRL import and polling, foreign certificates, OCSP answers.

Split out of :mod:`maat.services.signing` (the CA, signing and verification); this module
builds on it. :class:`StoreRevocation` answers revocation questions for verification from
Maat's own records and from imported or polled CRLs; a CRL counts only when its signature
verifies with the key of a CA certificate Maat knows. Every state change is audited.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from cryptography import x509

from maat.core.ids import new_id
from maat.errors import ConfigError, Conflict, InvalidInput, MaatError, NotFound
from maat.services.platform import Platform
from maat.services.signing import (
    INTERMEDIATE_LABEL,
    REASONS,
    _ca,
    _load,
    _record,
    _signing_key,
    fingerprint,
    keystore,
)
from maat.signing import ocsp
from maat.signing.crl import CrlIndex
from maat.signing.records import CertificateRecord, CrlRecord
from maat.signing.verify import CrlRevocation, RevocationAnswer

_ISSUER_ROLES = ("root", "intermediate", "external", "trusted-root")
"""Roles of certificates that may have signed a CRL Maat stores."""


def _verified_crl(
    data: bytes, issuers: Sequence[x509.Certificate], *, source: str, max_bytes: int
) -> CrlIndex:
    """``data`` loaded with its signature checked against the one of ``issuers`` that signed it.

    1. Keep the candidates whose subject is the CRL's issuer name; none: refuse, since a CRL
       whose signature cannot be checked is anyone's claim.
    2. Try each candidate's key (a re-keyed CA keeps its name): the first that verifies the
       signature, and is a CA allowed to sign CRLs, is the issuer; the index keeps it, so the
       CRL answers only for certificates that key issued.
    3. No candidate verifies: refuse with the last reason (a forged or damaged CRL).
    """
    unchecked = CrlIndex.load(data, source=source, max_bytes=max_bytes)
    candidates = [c for c in issuers if c.subject == unchecked.issuer]
    if not candidates:
        raise InvalidInput(
            f"the CRL's issuer {unchecked.issuer.rfc4514_string()!r} is not a certificate Maat "
            "knows, so its signature cannot be checked",
            file=source,
            hint="import the issuing CA first: maat ca import-cert CA.pem",
        )
    refusals: list[InvalidInput] = []
    for issuer in candidates:
        try:
            return CrlIndex.load(data, issuer=issuer, source=source, max_bytes=max_bytes)
        except InvalidInput as exc:
            refusals.append(exc)
    raise refusals[-1]


class StoreRevocation:
    """Revocation answers from Maat's own records (authoritative for certificates it knows)
    and from imported or polled CRLs (for vendor CAs).

    Stored CRLs are loaded again with their signature checked against the known CA certificate
    whose key signed them, as :func:`import_crl` did: a row that does not verify now (written
    before import checked signatures, damaged, or its issuer no longer known) answers nothing,
    so "unknown" follows. The rest is :class:`~maat.signing.verify.CrlRevocation`: only CRLs
    that speak for a certificate count, and "good" needs one current at the time asked.
    """

    def __init__(self, platform: Platform) -> None:
        with platform.transaction(write=False) as uow:
            known = uow.certificates.list()
            stored = uow.crls.latest()
        self._known = {c.fingerprint: c for c in known}
        limit = int(platform.settings.signing.max_crl_bytes)
        issuers = [(c.subject, _load(c)) for c in known if c.role in _ISSUER_ROLES]
        indexes: list[CrlIndex] = []
        for crl in stored:
            # The row's issuer text picks the candidates, so each CRL is parsed once, and only
            # after its signature verified; a row no candidate verifies answers nothing.
            for subject, issuer in issuers:
                if subject != crl.issuer:
                    continue
                try:
                    index = CrlIndex.load(
                        crl.der, issuer=issuer, source=crl.source, max_bytes=limit
                    )
                except InvalidInput:
                    continue  # another key of that name, or a forged or damaged row
                indexes.append(index)
                break
        self._crls = CrlRevocation(indexes)

    def status(self, cert: x509.Certificate, at: datetime) -> RevocationAnswer:
        """Revoked, good or unknown at ``at``, with where the answer came from."""
        known = self._known.get(fingerprint(cert))
        if known is not None and known.revoked_at is not None:
            reason = REASONS.get(known.revocation_reason or "")
            return RevocationAnswer("revoked", known.revoked_at, reason, "maat records")
        if known is not None and known.role != "external":
            return RevocationAnswer("good", None, None, "maat records")  # Maat issued it
        return self._crls.status(cert, at)


@dataclass(frozen=True)
class CrlImport:
    """What importing a CRL found: newly revoked certificates Maat knows."""

    issuer: str
    entries: int
    newly_revoked: tuple[CertificateRecord, ...]


def import_crl(platform: Platform, actor: str, data: bytes, *, source: str) -> CrlImport:
    """Import a CRL (a vendor's, or one polled from a URL) and act on what it revokes.

    1. Parse it and check its signature with the known CA certificate (root, intermediate,
       external or trusted root) whose key signed it. A CRL whose issuer Maat does not know,
       or whose signature verifies with no known key of that name, is refused (InvalidInput)
       and not stored: import the vendor's CA certificate first. Storing it unchecked would
       let a forged CRL mark certificates revoked, or hide a revocation.
    2. Store it, so verification answers revocation questions for that issuer's key.
    3. Every certificate Maat knows that the CRL speaks for (issued by that key, inside its
       scope) and newly revokes is marked revoked with the CRL's date and reason; the caller
       runs the retro-hunt for each.
    """
    limit = int(platform.settings.signing.max_crl_bytes)
    with platform.transaction(write=False) as uow:
        known = uow.certificates.list()
    issuers = [_load(c) for c in known if c.role in _ISSUER_ROLES]
    index = _verified_crl(data, issuers, source=source, max_bytes=limit)
    now = platform.now()
    newly: list[CertificateRecord] = []
    issuer_text = index.issuer.rfc4514_string()
    with platform.transaction() as uow:
        uow.crls.add(
            CrlRecord(
                id=new_id("crl"),
                issuer=issuer_text,
                number=index.number,
                this_update=index.this_update,
                next_update=index.next_update,
                source=source[-1000:],
                der=data,
                imported_at=now,
            )
        )
        for record in known:
            if record.issuer != issuer_text or record.revoked_at is not None:
                continue
            entry = index.status(int(record.serial, 16))
            if entry is None or index.scope_for(_load(record)) == "none":
                continue  # not listed, or a serial of another key of the same name
            reason = entry.reason.name if entry.reason else "unspecified"
            updated = replace(record, revoked_at=entry.revoked_at, revocation_reason=reason)
            uow.certificates.update(updated)
            newly.append(updated)
            platform.audit(
                uow,
                actor,
                "certificate.revoked_by_crl",
                record.subject,
                fingerprint=record.fingerprint,
                reason=reason,
                source=source,
            )
        platform.audit(
            uow,
            actor,
            "crl.import",
            issuer_text,
            source=source,
            entries=len(index),
            newly_revoked=len(newly),
            signature_checked=True,
        )
    return CrlImport(issuer_text, len(index), tuple(newly))


def import_certificate(
    platform: Platform, actor: str, pem: bytes, *, role: str = "external", vendor: str | None = None
) -> CertificateRecord:
    """Record a certificate Maat did not issue (a vendor's signer or CA, or a trust root)."""
    if role not in ("external", "trusted-root"):
        raise InvalidInput("role is external or trusted-root", field="role")
    try:
        cert = x509.load_pem_x509_certificate(pem)
    except ValueError:
        try:
            cert = x509.load_der_x509_certificate(pem)
        except ValueError:
            raise InvalidInput("not a PEM or DER certificate", field="certificate") from None
    record = _record(cert, role, platform.now(), vendor=vendor)
    with platform.transaction() as uow:
        if uow.certificates.by_fingerprint(record.fingerprint):
            raise Conflict("that certificate is known already")
        uow.certificates.add(record)
        platform.audit(
            uow,
            actor,
            "certificate.import",
            record.subject,
            role=role,
            fingerprint=record.fingerprint,
            vendor=vendor,
        )
    return record


def ocsp_respond(platform: Platform, request_der: bytes) -> bytes:
    """Answer an OCSP request about a certificate Maat's intermediate issued.

    1. A request that does not parse gets a ``malformedRequest`` response.
    2. A request about another issuer gets ``unauthorized`` (Maat answers only for its CA).
    3. Otherwise the status comes from Maat's records (good, revoked with date and reason, or
       unknown for a serial it never issued), signed in the key store by the intermediate.
    """
    try:
        query = ocsp.parse_request(request_der)
    except InvalidInput:
        return ocsp.malformed()
    try:
        _, inter_rec, _ = _ca(platform)
    except NotFound:
        return ocsp.unauthorised()
    intermediate = _load(inter_rec)
    if not query.names_issuer(intermediate):
        return ocsp.unauthorised()
    with platform.transaction(write=False) as uow:
        matches = [
            c
            for c in uow.certificates.by_serial(format(query.serial, "x"))
            if c.issuer == inter_rec.subject
        ]
    now = platform.now()
    status: ocsp.OcspStatus = "unknown"
    revoked_at, reason = None, None
    if matches:
        record = matches[0]
        status = "revoked" if record.revoked_at is not None else "good"
        revoked_at, reason = record.revoked_at, REASONS.get(record.revocation_reason or "")
    with keystore(platform) as store:
        return ocsp.build_response(
            query,
            intermediate,
            intermediate,
            _signing_key(store, INTERMEDIATE_LABEL),
            status,
            revoked_at=revoked_at,
            reason=reason,
            this_update=now,
            next_update=now + timedelta(hours=1),
        )


@dataclass(frozen=True)
class WatchResult:
    """One poll of one CRL URL."""

    url: str
    result: CrlImport | None
    error: str | None


def poll_crls(platform: Platform, actor: str, urls: list[str] | None = None) -> list[WatchResult]:
    """Fetch every configured CRL URL once and import it; a failing URL is reported, the
    others still polled."""
    from maat.adapters.feeds.http import fetch

    s = platform.settings.signing
    targets = urls or [u.strip() for u in s.crl_urls.split(",") if u.strip()]
    if not targets:
        raise ConfigError(
            "no CRL URL to poll",
            field="signing.crl_urls",
            hint="set MAAT_SIGNING_CRL_URLS or pass --url",
        )
    results = []
    for url in targets:
        try:
            data = fetch(url, max_bytes=int(s.max_crl_bytes))
            results.append(WatchResult(url, import_crl(platform, actor, data, source=url), None))
        except MaatError as exc:
            platform.refuse(actor, "crl.poll", url, exc.message, throttle_key=f"crl:{url}")
            results.append(WatchResult(url, None, exc.message))
    return results

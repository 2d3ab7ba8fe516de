"""Certificate authority, signing and verification, with keys in the key store (HSM).

Maat's CA is a root and an intermediate whose keys live in the PKCS#11 token; code-signing
certificates are issued by the intermediate; a timestamping certificate lets Maat vouch for
signing times (RFC 3161). Every state change is audited.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from maat.adapters.keystore import from_settings
from maat.core.decision import StepResult, Verdict
from maat.core.ids import new_id
from maat.errors import Conflict, InvalidInput, NotFound
from maat.ports import KeyStore
from maat.services.platform import Platform
from maat.signing import authenticode, timestamp, x509build
from maat.signing import bundle as bundles
from maat.signing.crl import RevokedEntry, build_crl
from maat.signing.records import ArtifactRecord, CertificateRecord, CrlRecord
from maat.signing.verify import (
    RevocationMode,
    check_revocation,
    verify_artifact,
    verify_chain,
)

ROOT_LABEL = "maat-root"
INTERMEDIATE_LABEL = "maat-intermediate"
TSA_LABEL = "maat-tsa"
REASONS = {r.name: r for r in x509.ReasonFlags}


@contextmanager
def keystore(platform: Platform) -> Iterator[KeyStore]:
    """The configured key store, closed afterwards."""
    store = from_settings(platform.settings)
    try:
        yield store
    finally:
        store.close()


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 of the certificate's DER, lower-case hex."""
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _record(
    cert: x509.Certificate,
    role: str,
    now: datetime,
    *,
    key_label: str | None = None,
    vendor: str | None = None,
) -> CertificateRecord:
    return CertificateRecord(
        id=new_id("crt"),
        fingerprint=fingerprint(cert),
        serial=format(cert.serial_number, "x"),
        role=role,
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        pem=_pem(cert),
        created_at=now,
        key_label=key_label,
        vendor=vendor,
    )


def _signing_key(store: KeyStore, label: str) -> x509build.SigningKey:
    return x509build.SigningKey(
        public_key=store.public_key(label), sign=lambda data: store.sign(label, data)
    )


def _load(record: CertificateRecord) -> x509.Certificate:
    return x509.load_pem_x509_certificate(record.pem.encode("ascii"))


def _urls(platform: Platform) -> tuple[str | None, str | None]:
    base = platform.settings.api.public_url.rstrip("/")
    if not base:
        return None, None
    return f"{base}/pki/intermediate.crl", f"{base}/pki/ocsp"


@dataclass(frozen=True)
class CaInfo:
    """The CA's certificates."""

    root: x509.Certificate
    intermediate: x509.Certificate
    tsa: x509.Certificate


def ca_init(
    platform: Platform, actor: str, *, organisation: str, country: str | None = None
) -> CaInfo:
    """Create the root, intermediate and timestamping keys in the key store and their
    certificates. Refuses to run twice."""
    s = platform.settings.signing
    now = platform.now()
    with platform.transaction(write=False) as uow:
        if uow.certificates.by_role("root"):
            raise Conflict(
                "the CA exists already", hint="'maat ca issue' issues certificates from it"
            )
    crl_url, ocsp_url = _urls(platform)
    with keystore(platform) as store:
        for label in (ROOT_LABEL, INTERMEDIATE_LABEL, TSA_LABEL):
            store.generate(label, s.key_algorithm)
        root_key = _signing_key(store, ROOT_LABEL)
        root = x509build.build_root(
            x509build.subject_name(f"{organisation} Maat Root CA", organisation, country=country),
            root_key,
            serial=x509build.random_serial(),
            not_before=now - timedelta(minutes=5),
            not_after=now + timedelta(seconds=s.root_validity),
        )
        intermediate = x509build.build_intermediate(
            x509build.subject_name(
                f"{organisation} Maat Code Signing CA", organisation, country=country
            ),
            store.public_key(INTERMEDIATE_LABEL),
            root,
            root_key,
            serial=x509build.random_serial(),
            not_before=now - timedelta(minutes=5),
            not_after=now + timedelta(seconds=s.intermediate_validity),
            crl_url=None,
            ocsp_url=None,
        )
        inter_key = _signing_key(store, INTERMEDIATE_LABEL)
        tsa = x509build.build_timestamping(
            x509build.subject_name(
                f"{organisation} Maat Timestamping", organisation, country=country
            ),
            store.public_key(TSA_LABEL),
            intermediate,
            inter_key,
            serial=x509build.random_serial(),
            not_before=now - timedelta(minutes=5),
            not_after=now + timedelta(seconds=s.intermediate_validity),
            crl_url=crl_url,
            ocsp_url=ocsp_url,
        )
    with platform.transaction() as uow:
        uow.certificates.add(_record(root, "root", now, key_label=ROOT_LABEL))
        uow.certificates.add(
            _record(intermediate, "intermediate", now, key_label=INTERMEDIATE_LABEL)
        )
        uow.certificates.add(_record(tsa, "tsa", now, key_label=TSA_LABEL))
        platform.audit(
            uow,
            actor,
            "ca.init",
            root.subject.rfc4514_string(),
            root=fingerprint(root),
            intermediate=fingerprint(intermediate),
        )
    return CaInfo(root, intermediate, tsa)


def _ca(platform: Platform) -> tuple[CertificateRecord, CertificateRecord, CertificateRecord]:
    with platform.transaction(write=False) as uow:
        roots, inters, tsas = (uow.certificates.by_role(r) for r in ("root", "intermediate", "tsa"))
    if not roots or not inters or not tsas:
        raise NotFound("the CA does not exist", hint="run 'maat ca init' first")
    return roots[0], inters[0], tsas[0]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "signer"


def ca_issue(
    platform: Platform,
    actor: str,
    *,
    subject: str,
    organisation: str | None = None,
    vendor: str | None = None,
) -> CertificateRecord:
    """Issue a code-signing certificate; its key is generated in the key store."""
    s = platform.settings.signing
    now = platform.now()
    _, inter_rec, _ = _ca(platform)
    intermediate = _load(inter_rec)
    serial = x509build.random_serial()
    label = f"maat-cs-{_slug(subject)}-{format(serial, 'x')[:10]}"
    crl_url, ocsp_url = _urls(platform)
    with keystore(platform) as store:
        store.generate(label, s.key_algorithm)
        cert = x509build.build_code_signing(
            x509build.subject_name(subject, organisation or vendor),
            store.public_key(label),
            intermediate,
            _signing_key(store, INTERMEDIATE_LABEL),
            serial=serial,
            not_before=now - timedelta(minutes=5),
            not_after=now + timedelta(seconds=s.leaf_validity),
            crl_url=crl_url,
            ocsp_url=ocsp_url,
        )
    record = _record(cert, "code-signing", now, key_label=label, vendor=vendor)
    with platform.transaction() as uow:
        uow.certificates.add(record)
        platform.audit(
            uow,
            actor,
            "ca.issue",
            record.subject,
            fingerprint=record.fingerprint,
            serial=record.serial,
            vendor=vendor,
        )
    return record


def find_certificate(platform: Platform, ref: str) -> CertificateRecord:
    """A certificate by fingerprint, serial (hex) or id."""
    ref = ref.lower().replace(":", "")
    with platform.transaction(write=False) as uow:
        found = uow.certificates.by_fingerprint(ref) or uow.certificates.get(ref)
        matches = [found] if found else uow.certificates.by_serial(ref)
    if len(matches) != 1:
        raise NotFound(
            f"no single certificate matches {ref!r}", hint="give the SHA-256 fingerprint"
        )
    return matches[0]


def ca_revoke(
    platform: Platform, actor: str, ref: str, *, reason: str, at: datetime | None = None
) -> CertificateRecord:
    """Revoke a certificate (Maat-issued or a known vendor certificate) and publish a new CRL."""
    if reason not in REASONS:
        raise InvalidInput(
            f"unknown revocation reason {reason!r}", field="reason", hint=", ".join(REASONS)
        )
    record = find_certificate(platform, ref)
    if record.revoked_at is not None:
        raise Conflict(f"certificate {record.serial} is already revoked")
    when = at or platform.now()
    record = replace(record, revoked_at=when, revocation_reason=reason)
    with platform.transaction() as uow:
        uow.certificates.update(record)
        platform.audit(
            uow,
            actor,
            "ca.revoke",
            record.subject,
            fingerprint=record.fingerprint,
            reason=reason,
            revoked_at=when.isoformat(),
        )
    if record.issuer == _ca(platform)[1].subject:
        ca_crl(platform, actor)
    return record


def ca_crl(platform: Platform, actor: str) -> x509.CertificateRevocationList:
    """Sign (in the key store) and store a fresh CRL of the intermediate CA."""
    _, inter_rec, _ = _ca(platform)
    intermediate = _load(inter_rec)
    now = platform.now()
    with platform.transaction(write=False) as uow:
        revoked = [
            c for c in uow.certificates.issued_by(inter_rec.subject) if c.revoked_at is not None
        ]
        number = uow.crls.next_number(inter_rec.subject)
    entries = [
        RevokedEntry(int(c.serial, 16), c.revoked_at, REASONS.get(c.revocation_reason or ""))  # type: ignore[arg-type]
        for c in revoked
    ]
    with keystore(platform) as store:
        crl = build_crl(
            intermediate,
            _signing_key(store, INTERMEDIATE_LABEL),
            entries,
            this_update=now,
            next_update=now + timedelta(seconds=platform.settings.signing.crl_validity),
            number=number,
        )
    with platform.transaction() as uow:
        uow.crls.add(
            CrlRecord(
                id=new_id("crl"),
                issuer=inter_rec.subject,
                number=number,
                this_update=now,
                next_update=crl.next_update_utc,
                source="issued",
                der=crl.public_bytes(serialization.Encoding.DER),
                imported_at=now,
            )
        )
        platform.audit(uow, actor, "ca.crl", inter_rec.subject, number=number, revoked=len(entries))
    return crl


def latest_crl_der(platform: Platform) -> bytes:
    """The newest CRL Maat signed (for publication over HTTP)."""
    _, inter_rec, _ = _ca(platform)
    with platform.transaction(write=False) as uow:
        for crl in uow.crls.latest():
            if crl.issuer == inter_rec.subject and crl.source == "issued":
                return crl.der
    return ca_crl(platform, "system").public_bytes(serialization.Encoding.DER)


def sign_file(
    platform: Platform,
    actor: str,
    data: bytes,
    name: str,
    *,
    signer: str,
    product: str | None = None,
    version: str | None = None,
) -> bytes:
    """Sign a file: an in-toto statement over its SHA-256 in a DSSE envelope, signed in the
    key store with the signer's code-signing key, with the chain and an RFC 3161 timestamp
    from Maat's TSA. Returns the bundle (JSON bytes)."""
    record = find_certificate(platform, signer)
    if record.role != "code-signing" or not record.key_label:
        raise InvalidInput("not a code-signing certificate whose key Maat holds", field="signer")
    if record.revoked_at is not None:
        raise Conflict("the signing certificate is revoked")
    _, inter_rec, tsa_rec = _ca(platform)
    leaf, intermediate, tsa_cert = _load(record), _load(inter_rec), _load(tsa_rec)
    digest = hashlib.sha256(data).hexdigest()
    statement = bundles.statement_for(
        name, digest, {"signer": record.subject, "product": product, "version": version}
    )
    now = platform.now()
    with keystore(platform) as store:
        tsa_key = _signing_key(store, TSA_LABEL)
        bundle = bundles.sign_bundle(
            statement,
            lambda payload: store.sign(record.key_label or "", payload),
            [leaf, intermediate],
            keyid=record.fingerprint,
            timestamper=lambda imprint: timestamp.build_token(
                imprint,
                tsa_cert=tsa_cert,
                tsa_key=tsa_key,
                gen_time=now,
                serial=x509build.random_serial(),
            ),
        )
    with platform.transaction() as uow:
        uow.artifacts.add(
            ArtifactRecord(
                id=new_id("art"),
                sha256=digest,
                name=name[-1000:],
                recorded_at=now,
                product=product,
                version=version,
                signer_fingerprint=record.fingerprint,
                signed_at=now,
            )
        )
        platform.audit(
            uow, actor, "artifact.sign", f"sha256:{digest}", name=name, signer=record.fingerprint
        )
    return bundle


def trust_roots(platform: Platform) -> list[x509.Certificate]:
    """Maat's root and any external roots imported as trust anchors."""
    with platform.transaction(write=False) as uow:
        records = uow.certificates.by_role("root") + uow.certificates.by_role("trusted-root")
    return [_load(r) for r in records]


def verify_file(
    platform: Platform, data: bytes, bundle_bytes: bytes, *, name: str, policy: Any = None
) -> Verdict:
    """Verify a file against its bundle (numbered steps; see ``maat.signing.verify``)."""
    from maat.services.revocation import StoreRevocation  # revocation builds on this module

    s = platform.settings.signing
    bundle = bundles.parse_bundle(
        bundle_bytes, source=f"{name}.maat-sig.json", max_bytes=int(s.max_bundle_bytes)
    )
    with platform.transaction(write=False) as uow:
        tsas = [_load(r) for r in uow.certificates.by_role("tsa")]
    roots = trust_roots(platform)

    def signing_time(token: bytes, imprint: bytes) -> datetime:
        return timestamp.verify_token(
            token, expected_imprint=imprint, trusted_tsa=tsas, trust_roots=roots
        )

    return verify_artifact(
        hashlib.sha256(data).digest(),
        name,
        bundle,
        trust_roots=roots,
        now=platform.now(),
        revocation=StoreRevocation(platform),
        revocation_mode="soft" if s.revocation_mode == "soft" else "hard",
        signing_time_verifier=signing_time,
        policy=policy,
    )


def verify_pe(platform: Platform, data: bytes, *, name: str) -> Verdict:
    """Verify a Windows PE's Authenticode signature with Maat's trust roots and revocation data.

    1. The PE carries a signature whose Authenticode digest matches the file.
    2. The signature over that digest verifies with the signer certificate.
    3-5. Chain to a trust root, EKU codeSigning, validity now (the signing time a PE claims
       is not trusted: countersignature timestamps are not evaluated yet).
    6. Revocation of the signer and intermediates.
    """
    from maat.services.revocation import StoreRevocation  # revocation builds on this module

    result = authenticode.inspect_pe(data, source=name)
    leaf = result.leaf
    if not result.signed or leaf is None:
        return Verdict.from_steps(
            [StepResult(1, "authenticode digest", False, "the file is not signed")]
        )
    steps = [
        StepResult(
            1,
            "authenticode digest",
            result.digest_ok,
            "digest matches"
            if result.digest_ok
            else f"the file was changed after signing ({result.flags})",
        ),
        StepResult(
            2,
            "authenticode signature",
            result.signature_ok,
            "signature verifies"
            if result.signature_ok
            else f"signature does not verify ({result.flags})",
        ),
    ]
    if not all(s.passed for s in steps):
        return Verdict.from_steps(steps)
    now = platform.now()
    chain_steps = verify_chain(
        leaf, result.intermediates, trust_roots(platform), now, time_label="now"
    )
    steps.extend(chain_steps)
    if all(s.passed for s in chain_steps):
        mode: RevocationMode = (
            "soft" if platform.settings.signing.revocation_mode == "soft" else "hard"
        )
        steps.append(
            check_revocation(
                [leaf, *result.intermediates],
                StoreRevocation(platform),
                mode=mode,
                now=now,
                signing_time=now,
                signing_time_trusted=False,
            )
        )
    return Verdict.from_steps(steps)

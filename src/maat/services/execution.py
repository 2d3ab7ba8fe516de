"""Execution policy (run / block for every binary), sightings, and the revocation retro-hunt.

Policies are YAML, versioned and audited; agents fetch the active set signed by Maat's TSA key
so they can verify it. A sighting is a (host, sha256, path, signer) about to run: the answer
comes from the policies, joined with what Maat knows of the artifact and its signer.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from maat.core.ids import new_id
from maat.detect.records import AlertRecord
from maat.errors import Conflict, InvalidInput, NotFound
from maat.services.contracts import sbom_sha256
from maat.services.platform import Platform
from maat.services.signing import TSA_LABEL, keystore
from maat.signing import policy as policies
from maat.signing.records import ExecPolicyRecord, SightingRecord


def load_policy_text(platform: Platform, actor: str, text: str, *, source: str) -> ExecPolicyRecord:
    """Validate a policy and store it as the next active version of its name."""
    parsed = policies.load_policy(text, source=source)
    now = platform.now()
    with platform.transaction() as uow:
        latest = uow.exec_policies.latest_version(parsed.name)
        if parsed.version <= latest:
            raise Conflict(f"policy {parsed.name!r} is at version {latest}; give a higher version")
        version = parsed.version
        uow.exec_policies.deactivate(parsed.name)
        record = ExecPolicyRecord(
            id=new_id("pol"),
            name=parsed.name,
            version=version,
            text=text,
            digest=policies.policy_digest(parsed),
            active=True,
            created_at=now,
            created_by=actor,
        )
        uow.exec_policies.add(record)
        platform.audit(
            uow,
            actor,
            "exec_policy.load",
            f"policy:{parsed.name}",
            version=version,
            digest=record.digest,
            mode=parsed.mode,
        )
    return record


def active_policies(platform: Platform) -> list[Any]:
    """The active policies, parsed."""
    with platform.transaction(write=False) as uow:
        records = uow.exec_policies.active()
    return [policies.load_policy(r.text, source=f"policy:{r.name}@{r.version}") for r in records]


def signed_policy_document(platform: Platform) -> dict[str, Any]:
    """The active policies with a signature by Maat's TSA key, for agents to verify."""
    with platform.transaction(write=False) as uow:
        records = uow.exec_policies.active()
        tsa = uow.certificates.by_role("tsa")
    body = {
        "policies": [
            {"name": r.name, "version": r.version, "digest": r.digest, "yaml": r.text}
            for r in records
        ],
        "issued_at": platform.now().isoformat(),
    }
    payload = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    if not tsa:
        raise NotFound(
            "the CA does not exist, so policies cannot be signed", hint="run 'maat ca init'"
        )
    with keystore(platform) as store:
        signature = store.sign(TSA_LABEL, payload)
    return {
        "payload": base64.b64encode(payload).decode(),
        "signature": base64.b64encode(signature).decode(),
        "certificate": tsa[0].pem,
    }


@dataclass(frozen=True)
class Sighted:
    """A binary about to run, as an agent reports it."""

    host: str
    sha256: str
    path: str
    host_group: str = "default"
    signer_fingerprint: str | None = None
    sender: str | None = None
    """The host of the enrolled device whose own agent asked (None: another caller)."""


def decide(platform: Platform, sighting: Sighted, *, record: bool = True) -> Any:
    """Run or block, with the reasons; the sighting is recorded for retro-hunts.

    1. What Maat knows of the file: artifacts with this digest and their signer.
    2. The signer's certificate: subject, issuer, whether revoked (Maat's records).
    3. Whether an SBOM of the file's product lists its digest (``in_sbom`` rules).
    4. The active policies of the host group decide (deny wins; nothing allowing → block).
    5. The sighting is recorded; a vendor-signed file that is refused (not in its SBOM, a
       revoked certificate, ...) raises an alert naming the vendor: its supply chain may
       be delivering something it did not declare.
    """
    digest = sighting.sha256.lower()
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise InvalidInput("sha256 must be 64 hex characters", field="sha256")
    with platform.transaction(write=False) as uow:
        artifacts = uow.artifacts.by_sha256(digest)
        fp = sighting.signer_fingerprint or next(
            (a.signer_fingerprint for a in artifacts if a.signer_fingerprint), None
        )
        cert = uow.certificates.by_fingerprint(fp) if fp else None
        product = next((a.product for a in artifacts if a.product), None)
        version = next((a.version for a in artifacts if a.version), None)
        active = [policies.load_policy(r.text, source=f"policy:{r.name}@{r.version}")
                  for r in uow.exec_policies.active()]  # fmt: skip
        # Read the product's SBOMs only when a policy for this host group asks.
        asks = any(
            isinstance(rule, policies.AllowPublisher) and rule.in_sbom
            for p in active
            if p.applies_to(sighting.host_group)
            for rule in p.rules
        )
        in_sbom = _listed_in_sbom(uow, product, digest) if asks else None
    seen = policies.Sighting(
        sha256=digest,
        path=sighting.path,
        signer_subject=cert.subject if cert else None,
        signer_issuer=cert.issuer if cert else None,
        signature_valid=cert is not None,
        revoked=bool(cert and cert.revoked_at),
        product=product,
        version=version,
        host_group=sighting.host_group,
        in_sbom=in_sbom,
    )
    decision = policies.decide(active, seen)
    if record:
        sighting_id = new_id("sig")
        with platform.transaction() as uow:
            uow.sightings.add(
                SightingRecord(
                    id=sighting_id,
                    host=sighting.host,
                    sha256=digest,
                    path=sighting.path[-2000:],
                    action=decision.action,
                    seen_at=platform.now(),
                    signer_fingerprint=fp,
                    policy=getattr(decision, "policy", None),
                )
            )
        # A vendor's signature on a file its SBOM does not list, or by a revoked certificate:
        # the vendor's delivery may carry what it did not declare (TIDRONE's updater).
        suspect = seen.revoked or in_sbom is False
        if decision.would_block and suspect and cert is not None and cert.vendor:
            _vendor_file_refused(platform, sighting, sighting_id, decision, cert.vendor, product)
    return decision


VENDOR_FILE_RULE = "maat.exec.vendor_file_refused"


def _vendor_file_refused(
    platform: Platform, sighting: Sighted, sighting_id: str, decision: Any, vendor: str,
    product: str | None,
) -> None:  # fmt: skip
    from maat.services.alerts import AlertSink  # alerts builds on the access service

    blocked = decision.action == "block"
    verb = "blocked" if blocked else "would be blocked (audit)"
    name = sighting.path.replace("\\", "/").rsplit("/", 1)[-1] or sighting.sha256[:16]
    AlertSink.from_settings(platform).record([{
        "rule.id": VENDOR_FILE_RULE,
        "rule.title": f"{vendor}-signed {name} {verb} on {sighting.host}: "
        + "; ".join(decision.reasons)[:600],
        "rule.level": "high" if blocked else "medium",
        "rule.techniques": ["T1195.002", "T1553.002"],
        "rule.route": "execution",
        "event.id": sighting_id,
        "@timestamp": platform.now().isoformat(),
        "host.name": sighting.host,
        "process.executable": sighting.path,
        "file.hash.sha256": sighting.sha256.lower(),
        "maat.file.vendor": vendor,
        **({"maat.file.product": product} if product else {}),
        **({"maat.sender.device": sighting.sender} if sighting.sender else {}),
    }], actor="maat-exec", breach_evidence=False)  # fmt: skip


def _listed_in_sbom(uow: Any, product: str | None, digest: str) -> bool | None:
    """Whether an SBOM of ``product`` lists ``digest``; ``None`` when it has no SBOM."""
    record = uow.products.by_name(product) if product else None
    sboms = uow.sboms.for_product(record.id) if record is not None else []
    if not sboms:
        return None
    return digest in sbom_sha256(sboms)


@dataclass(frozen=True)
class RetroHunt:
    """What a revoked certificate reaches: artifacts it signed and hosts that ran them."""

    certificate: str
    reason: str | None
    revoked_at: datetime
    artifacts: tuple[str, ...]
    hosts: tuple[str, ...]
    alert_id: str


def retro_hunt(platform: Platform, actor: str, fingerprint: str) -> RetroHunt:
    """After a revocation: every artifact the certificate signed after the revocation date (all
    of them for keyCompromise), every host seen running one, raised as one alert."""
    with platform.transaction(write=False) as uow:
        cert = uow.certificates.by_fingerprint(fingerprint)
        if cert is None or cert.revoked_at is None:
            raise NotFound("no revoked certificate with that fingerprint")
        signed = uow.artifacts.signed_by(fingerprint)
        compromised = cert.revocation_reason == "key_compromise"
        tainted = [
            a for a in signed if compromised or (a.signed_at or a.recorded_at) >= cert.revoked_at
        ]
        sightings = uow.sightings.of_hashes([a.sha256 for a in tainted])
        # Files signed outside Maat (a vendor's own releases) are known only from sightings.
        signed_seen = [
            s
            for s in uow.sightings.by_signer(fingerprint)
            if compromised or s.seen_at >= cert.revoked_at
        ]
    digests = {a.sha256 for a in tainted} | {s.sha256 for s in signed_seen}
    hosts = tuple(sorted({s.host for s in [*sightings, *signed_seen]}))
    alert = AlertRecord(
        id=new_id("alr"),
        rule_id="maat.signing.revoked-signer",
        level="high" if hosts else "medium",
        title=f"Certificate revoked ({cert.revocation_reason}): {cert.subject}; "
        f"{len(digests)} artifacts, {len(hosts)} hosts in reach",
        created_at=platform.now(),
        techniques=("T1553.002", "T1195.002"),
        entities={
            "certificate": [fingerprint],
            "artifacts": sorted(digests),
            "hosts": list(hosts),
            "vendor": [cert.vendor] if cert.vendor else [],
        },
    )
    with platform.transaction() as uow:
        uow.alerts.add(alert)
        platform.audit(
            uow,
            actor,
            "alert.raise",
            f"alert:{alert.id}",
            rule=alert.rule_id,
            hosts=len(hosts),
            artifacts=len(digests),
        )
    return RetroHunt(
        cert.subject,
        cert.revocation_reason,
        cert.revoked_at,
        tuple(sorted(digests)),
        hosts,
        alert.id,
    )


def list_sightings(platform: Platform, sha256: Sequence[str]) -> list[SightingRecord]:
    """Sightings of these digests."""
    with platform.transaction(write=False) as uow:
        return uow.sightings.of_hashes([h.lower() for h in sha256])

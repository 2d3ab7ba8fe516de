"""Repositories for certificates, CRLs, artifacts, sightings, execution policies and alerts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update

from maat.adapters.storage.mapping import Repo, to_record
from maat.adapters.storage.models import (
    AlertRow,
    ArtifactRow,
    CertificateRow,
    CrlRow,
    ExecPolicyRow,
    SightingRow,
)
from maat.detect.records import AlertRecord
from maat.signing.records import (
    ArtifactRecord,
    CertificateRecord,
    CrlRecord,
    ExecPolicyRecord,
    SightingRecord,
)


class SqlCertificates(Repo):
    """Certificates."""

    row = CertificateRow
    record = CertificateRecord

    def by_fingerprint(self, fingerprint: str) -> CertificateRecord | None:
        """The certificate with this SHA-256 fingerprint."""
        row = self._s.scalars(
            select(CertificateRow).where(CertificateRow.fingerprint == fingerprint)
        ).first()
        return to_record(CertificateRecord, row) if row else None

    def by_serial(self, serial: str) -> list[CertificateRecord]:
        """Certificates with this serial (hex); normally one."""
        rows = self._s.scalars(
            select(CertificateRow).where(CertificateRow.serial == serial.lower())
        )
        return [to_record(CertificateRecord, r) for r in rows]

    def by_role(self, role: str) -> list[CertificateRecord]:
        """Certificates of one role, newest first."""
        rows = self._s.scalars(
            select(CertificateRow)
            .where(CertificateRow.role == role)
            .order_by(CertificateRow.created_at.desc())
        )
        return [to_record(CertificateRecord, r) for r in rows]

    def issued_by(self, issuer: str) -> list[CertificateRecord]:
        """Certificates whose issuer name is ``issuer`` (RFC 4514 text)."""
        rows = self._s.scalars(select(CertificateRow).where(CertificateRow.issuer == issuer))
        return [to_record(CertificateRecord, r) for r in rows]

    def list(self) -> Sequence[CertificateRecord]:
        """All certificates, newest first."""
        rows = self._s.scalars(select(CertificateRow).order_by(CertificateRow.created_at.desc()))
        return [to_record(CertificateRecord, r) for r in rows]


class SqlCrls(Repo):
    """CRLs."""

    row = CrlRow
    record = CrlRecord

    def latest(self) -> list[CrlRecord]:
        """The newest CRL of every issuer and source (distribution point or file): a CA that
        re-keyed under its name, or partitions its CRLs, publishes one per key or partition
        (AD CS: ``CA.crl``, ``CA(1).crl``), and each answers for its own certificates."""
        newest = (
            select(CrlRow.issuer, CrlRow.source, func.max(CrlRow.this_update).label("t"))
            .group_by(CrlRow.issuer, CrlRow.source)
            .subquery()
        )
        rows = self._s.scalars(
            select(CrlRow).join(
                newest,
                (CrlRow.issuer == newest.c.issuer)
                & (CrlRow.source == newest.c.source)
                & (CrlRow.this_update == newest.c.t),
            )
        )
        return [to_record(CrlRecord, r) for r in rows]

    def next_number(self, issuer: str) -> int:
        """The next CRL number for an issuer Maat signs for."""
        current = self._s.scalar(select(func.max(CrlRow.number)).where(CrlRow.issuer == issuer))
        return int(current or 0) + 1


class SqlArtifacts(Repo):
    """Signed artifacts."""

    row = ArtifactRow
    record = ArtifactRecord

    def by_sha256(self, sha256: str) -> list[ArtifactRecord]:
        """Every record of a file digest."""
        rows = self._s.scalars(select(ArtifactRow).where(ArtifactRow.sha256 == sha256.lower()))
        return [to_record(ArtifactRecord, r) for r in rows]

    def of_products(self, products: Sequence[str]) -> list[ArtifactRecord]:
        """Artifacts of any of these products (by product name)."""
        if not products:
            return []
        query = select(ArtifactRow).where(ArtifactRow.product.in_(list(products)))
        return [to_record(ArtifactRecord, r) for r in self._s.scalars(query)]

    def signed_by(self, fingerprint: str) -> list[ArtifactRecord]:
        """Artifacts signed by one certificate."""
        rows = self._s.scalars(
            select(ArtifactRow).where(ArtifactRow.signer_fingerprint == fingerprint)
        )
        return [to_record(ArtifactRecord, r) for r in rows]


class SqlSightings(Repo):
    """Binaries seen on hosts."""

    row = SightingRow
    record = SightingRecord

    def of_hashes(
        self, hashes: Sequence[str], since: datetime | None = None
    ) -> list[SightingRecord]:
        """Sightings of any of these digests (optionally since a time)."""
        if not hashes:
            return []
        query = select(SightingRow).where(SightingRow.sha256.in_(list(hashes)))
        if since is not None:
            query = query.where(SightingRow.seen_at >= since)
        return [
            to_record(SightingRecord, r)
            for r in self._s.scalars(query.order_by(SightingRow.seen_at))
        ]

    def by_signer(self, fingerprint: str) -> list[SightingRecord]:
        """Sightings of binaries signed by one certificate (as the agent reported)."""
        query = select(SightingRow).where(SightingRow.signer_fingerprint == fingerprint)
        return [
            to_record(SightingRecord, r)
            for r in self._s.scalars(query.order_by(SightingRow.seen_at))
        ]


class SqlExecPolicies(Repo):
    """Execution policy versions."""

    row = ExecPolicyRow
    record = ExecPolicyRecord

    def active(self) -> list[ExecPolicyRecord]:
        """The active version of every policy."""
        rows = self._s.scalars(
            select(ExecPolicyRow).where(ExecPolicyRow.active.is_(True)).order_by(ExecPolicyRow.name)
        )
        return [to_record(ExecPolicyRecord, r) for r in rows]

    def latest_version(self, name: str) -> int:
        """The highest version number of a policy (0 if none)."""
        return int(
            self._s.scalar(
                select(func.max(ExecPolicyRow.version)).where(ExecPolicyRow.name == name)
            )
            or 0
        )

    def deactivate(self, name: str) -> None:
        """Mark every version of a policy inactive."""
        self._s.execute(
            update(ExecPolicyRow).where(ExecPolicyRow.name == name).values(active=False)
        )


class SqlAlerts(Repo):
    """Alerts."""

    row = AlertRow
    record = AlertRecord

    def list(
        self, *, rule_id: str | None = None, host: str | None = None, level: str | None = None,
        limit: int = 100,
    ) -> list[AlertRecord]:  # fmt: skip
        """Newest alerts first; ``host`` filters on the hosts in the entities (a vendor
        breach's hosts in reach included)."""
        query = select(AlertRow).order_by(AlertRow.created_at.desc(), AlertRow.id.desc())
        if rule_id is not None:
            query = query.where(AlertRow.rule_id == rule_id)
        if level is not None:
            query = query.where(AlertRow.level == level)
        if host is None:
            query = query.limit(limit)
        rows = (to_record(AlertRecord, r) for r in self._s.scalars(query))
        if host is None:
            return list(rows)
        # JSON containment differs between SQLite and PostgreSQL: filter here, bounded.
        out = []
        wanted = host.casefold()  # host names are case-insensitive (DNS, NetBIOS)
        for record in rows:
            named = (record.entities.get("hosts") or (), record.entities.get("reach_hosts") or ())
            # A breach names its reach apart.
            if any(str(name).casefold() == wanted for names in named for name in names):
                out.append(record)
                if len(out) >= limit:
                    break
        return out

    def open_naming(self, entity: str, name: str, levels: Sequence[str]) -> Sequence[AlertRecord]:
        """Open alerts of these levels whose ``entity`` list (``hosts``, ``users``) names
        ``name``, newest first."""
        query = (
            select(AlertRow)
            .where(AlertRow.state == "open", AlertRow.level.in_(list(levels)))
            .order_by(AlertRow.created_at.desc())
        )
        records = (to_record(AlertRecord, r) for r in self._s.scalars(query))
        return [r for r in records if name in (r.entities.get(entity) or ())]

    def unforwarded(self, since: datetime, limit: int) -> Sequence[AlertRecord]:
        """Alerts created at or after ``since`` that no forward has delivered yet, oldest
        first."""
        query = (
            select(AlertRow)
            .where(AlertRow.forwarded_at.is_(None), AlertRow.created_at >= since)
            .order_by(AlertRow.created_at, AlertRow.id)
            .limit(limit)
        )
        return [to_record(AlertRecord, r) for r in self._s.scalars(query)]

    def record_forwards(
        self, alert_id: str, receivers: Sequence[str], complete_at: datetime | None
    ) -> None:
        """Record the ``receivers`` that took ``alert_id`` and, once all did, when."""
        self._s.execute(
            update(AlertRow)
            .where(AlertRow.id == alert_id)
            .values(forwarded_to=list(receivers), forwarded_at=complete_at)
        )

    def latest_in_group(self, group_key: str) -> AlertRecord | None:
        """The newest alert of a group (None when the group has none)."""
        query = (
            select(AlertRow)
            .where(AlertRow.group_key == group_key)
            .order_by(AlertRow.created_at.desc())
            .limit(1)
        )
        row = self._s.scalars(query).first()
        return to_record(AlertRecord, row) if row is not None else None

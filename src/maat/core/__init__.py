"""Pure value types shared by every Maat capability: ids, digests, purls, decisions, entities.

Nothing here performs I/O; everything is immutable and validated on construction from data
(:class:`~maat.errors.InvalidInput` names the offending field).
"""

from __future__ import annotations

from maat.core.decision import Decision, StepResult, Verdict
from maat.core.digest import ALGORITHMS, Digest
from maat.core.entities import (
    Advisory,
    Alert,
    Artifact,
    Case,
    Certificate,
    Finding,
    Host,
    Identity,
    Product,
    Segment,
    Session,
    Vendor,
)
from maat.core.enums import (
    AlertLevel,
    CaseStatus,
    Criticality,
    FindingStatus,
    IdentityKind,
    RevocationReason,
    Severity,
)
from maat.core.ids import id_time, new_id, parse_id
from maat.core.purl import Purl

__all__ = [
    "ALGORITHMS",
    "Advisory",
    "Alert",
    "AlertLevel",
    "Artifact",
    "Case",
    "CaseStatus",
    "Certificate",
    "Criticality",
    "Decision",
    "Digest",
    "Finding",
    "FindingStatus",
    "Host",
    "Identity",
    "IdentityKind",
    "Product",
    "Purl",
    "RevocationReason",
    "Segment",
    "Session",
    "Severity",
    "StepResult",
    "Vendor",
    "Verdict",
    "id_time",
    "new_id",
    "parse_id",
]

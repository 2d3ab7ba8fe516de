"""The small closed vocabularies of the trust graph.

Every enum is a :class:`~enum.StrEnum` whose values are the lower-case words used in JSON,
the API and the database. Ordered vocabularies have a ``rank`` (higher is worse / more
important) so they can be compared: ``Severity.HIGH.rank > Severity.LOW.rank``.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "AlertLevel",
    "CaseStatus",
    "Criticality",
    "FindingStatus",
    "IdentityKind",
    "RevocationReason",
    "Severity",
]


class Criticality(StrEnum):
    """How much the organisation depends on a vendor or host (its tier)."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """0 for ``low`` up to 3 for ``critical``."""
        return list(Criticality).index(self)


class Severity(StrEnum):
    """Severity of an advisory or finding."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """0 for ``low`` up to 3 for ``critical``."""
        return list(Severity).index(self)


class FindingStatus(StrEnum):
    """Where a vulnerability finding stands."""

    OPEN = "open"
    FIXED = "fixed"
    RISK_ACCEPTED = "risk_accepted"
    NOT_AFFECTED = "not_affected"
    MITIGATED_BY_ISOLATION = "mitigated_by_isolation"

    @property
    def is_open(self) -> bool:
        """Whether the finding still needs action (only ``open`` does)."""
        return self is FindingStatus.OPEN


class AlertLevel(StrEnum):
    """Level of an alert, as in Sigma (``informational`` … ``critical``)."""

    INFORMATIONAL = "informational"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """0 for ``informational`` up to 4 for ``critical``."""
        return list(AlertLevel).index(self)


class CaseStatus(StrEnum):
    """Life cycle of an incident case."""

    OPEN = "open"
    INVESTIGATING = "investigating"
    CONTAINED = "contained"
    RESOLVED = "resolved"
    CLOSED = "closed"


class IdentityKind(StrEnum):
    """What an identity stands for."""

    USER = "user"
    SERVICE = "service"
    DEVICE = "device"


class RevocationReason(StrEnum):
    """RFC 5280 CRL reason codes, spelt as in the RFC (and ``cryptography``).

    Lookup also accepts any case and snake case: ``RevocationReason("key_compromise")``.
    """

    UNSPECIFIED = "unspecified"
    KEY_COMPROMISE = "keyCompromise"
    CA_COMPROMISE = "cACompromise"
    AFFILIATION_CHANGED = "affiliationChanged"
    SUPERSEDED = "superseded"
    CESSATION_OF_OPERATION = "cessationOfOperation"
    CERTIFICATE_HOLD = "certificateHold"
    REMOVE_FROM_CRL = "removeFromCRL"
    PRIVILEGE_WITHDRAWN = "privilegeWithdrawn"
    AA_COMPROMISE = "aACompromise"

    @classmethod
    def _missing_(cls, value: object) -> RevocationReason | None:
        if not isinstance(value, str):
            return None
        wanted = value.replace("_", "").replace("-", "").lower()
        for member in cls:
            if member.value.lower() == wanted:
                return member
        return None

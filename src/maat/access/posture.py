"""Device posture and identity risk, computed from facts Maat holds, each with its reasons.

Posture is what access policies read as ``device.posture`` (``trusted``, ``untrusted``,
``quarantined`` or ``unknown``) and ``device.risk``; identity risk is ``subject.risk``. The
numbered checks below are the whole procedure: a device is trusted only when every check
passes, and an unknown device is never trusted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from maat.core.decision import StepResult

__all__ = ["DeviceFacts", "IdentityFacts", "IdentityRisk", "Posture", "assess_device",
           "assess_identity"]  # fmt: skip

Level = Literal["trusted", "untrusted", "quarantined", "unknown"]

# Risk points per failed check; a device's or identity's risk is their sum, at most 100.
RISK_STALE_HEARTBEAT = 30
RISK_OVERDUE_CRITICAL = 40
RISK_OPEN_HIGH_ALERT = 50
RISK_NOT_ENFORCING = 20
RISK_VENDOR_BREACHED = 60
RISK_FAILED_LOGINS = 20
FAILED_LOGINS_RISKY = 3
# How far ahead of ``now`` a heartbeat may be dated and still count: the clocks of the
# servers that record and read it may differ by this much, not more.
HEARTBEAT_CLOCK_SKEW = 5.0


@dataclass(frozen=True)
class DeviceFacts:
    """What Maat knows of one device when a request arrives."""

    device: str
    now: datetime
    known: bool = True
    host: str | None = None
    last_heartbeat: datetime | None = None
    overdue_critical: tuple[str, ...] = ()
    next_critical_due: datetime | None = None
    open_high_alerts: tuple[str, ...] = ()
    exec_policy_mode: str | None = None
    quarantined: bool = False
    quarantine_reason: str = ""


@dataclass(frozen=True)
class Posture:
    """A device's posture, risk (0–100), the checks behind them, and until when time alone
    cannot change them (a heartbeat going stale, a finding reaching its deadline)."""

    device: str
    level: Level
    risk: int
    checks: tuple[StepResult, ...]
    valid_until: datetime | None = None

    @property
    def reasons(self) -> tuple[str, ...]:
        """One line per failed check."""
        return tuple(str(check) for check in self.checks if not check.passed)

    def attributes(self) -> dict[str, Any]:
        """The ``device.*`` attributes a policy reads."""
        return {"posture": self.level, "risk": self.risk, "risk_reasons": list(self.reasons)}


def assess_device(facts: DeviceFacts, *, heartbeat_max_age: float) -> Posture:
    """The posture of ``facts.device``:

    1. the device is enrolled (else ``unknown``, risk 100);
    2. its agent's heartbeat is at most ``heartbeat_max_age`` seconds old, and not dated
       in the future (a clock moved back: when the device was last seen is unknown);
    3. it has no overdue critical finding;
    4. it has no open high or critical alert;
    5. its execution policy is in enforce mode;
    6. it is not quarantined (else ``quarantined``, risk 100).
    """
    if not facts.known:
        check = StepResult(1, "enrolled", False, f"device {facts.device!r} is not enrolled")
        return Posture(facts.device, "unknown", 100, (check,))
    checks = [StepResult(1, "enrolled", True, f"host {facts.host or '-'}")]
    risk = 0
    limit = timedelta(seconds=heartbeat_max_age)
    stale_at: datetime | None = None
    if facts.last_heartbeat is None:
        checks.append(StepResult(2, "heartbeat", False, "no heartbeat ever received"))
        risk += RISK_STALE_HEARTBEAT
    elif facts.last_heartbeat - facts.now > timedelta(seconds=HEARTBEAT_CLOCK_SKEW):
        ahead = int((facts.last_heartbeat - facts.now).total_seconds())
        checks.append(StepResult(2, "heartbeat", False,
                                 f"last heartbeat dated {ahead} s in the future"))  # fmt: skip
        risk += RISK_STALE_HEARTBEAT
    elif facts.now - facts.last_heartbeat > limit:
        age = int((facts.now - facts.last_heartbeat).total_seconds())
        checks.append(StepResult(2, "heartbeat", False, f"last heartbeat {age} s ago"))
        risk += RISK_STALE_HEARTBEAT
    else:
        checks.append(StepResult(2, "heartbeat", True))
        # A heartbeat a moment ahead holds from now, not from its own (skewed) time.
        seen = min(facts.last_heartbeat, facts.now)
        stale_at = seen + limit + timedelta(microseconds=1)
    if facts.overdue_critical:
        shown = ", ".join(facts.overdue_critical[:5])
        checks.append(StepResult(3, "patching", False, f"overdue critical finding(s): {shown}"))
        risk += RISK_OVERDUE_CRITICAL
    else:
        checks.append(StepResult(3, "patching", True))
    if facts.open_high_alerts:
        shown = ", ".join(facts.open_high_alerts[:5])
        checks.append(StepResult(4, "alerts", False, f"open high alert(s): {shown}"))
        risk += RISK_OPEN_HIGH_ALERT
    else:
        checks.append(StepResult(4, "alerts", True))
    if facts.exec_policy_mode == "enforce":
        checks.append(StepResult(5, "execution policy", True, "enforce"))
    else:
        mode = facts.exec_policy_mode or "none"
        checks.append(StepResult(5, "execution policy", False, f"mode is {mode}, not enforce"))
        risk += RISK_NOT_ENFORCING
    if facts.quarantined:
        checks.append(StepResult(6, "quarantine", False, facts.quarantine_reason or "quarantined"))
        risk = 100
    else:
        checks.append(StepResult(6, "quarantine", True))
    if facts.quarantined:
        level: Level = "quarantined"
    else:
        level = "trusted" if all(check.passed for check in checks) else "untrusted"
    changes = [t for t in (stale_at, facts.next_critical_due) if t is not None and t > facts.now]
    return Posture(facts.device, level, min(risk, 100), tuple(checks), min(changes, default=None))


@dataclass(frozen=True)
class IdentityFacts:
    """What Maat knows of one identity."""

    subject: str
    known: bool = True
    disabled: bool = False
    vendor: str | None = None
    vendor_breached: bool = False
    open_high_alerts: tuple[str, ...] = ()
    failed_logins: int = 0


@dataclass(frozen=True)
class IdentityRisk:
    """An identity's risk (0–100) with its reasons."""

    subject: str
    risk: int
    reasons: tuple[str, ...]

    def attributes(self) -> dict[str, Any]:
        """The ``subject.*`` attributes a policy reads."""
        return {"risk": self.risk, "risk_reasons": list(self.reasons)}


def assess_identity(facts: IdentityFacts) -> IdentityRisk:
    """The risk of ``facts.subject``: unknown or disabled is 100; a breached vendor, open
    high alerts naming the identity and repeated failed logins add up."""
    if not facts.known:
        return IdentityRisk(facts.subject, 100, (f"identity {facts.subject!r} is not known",))
    if facts.disabled:
        return IdentityRisk(facts.subject, 100, ("the account is disabled",))
    risk, reasons = 0, []
    if facts.vendor_breached:
        risk += RISK_VENDOR_BREACHED
        reasons.append(f"its vendor {facts.vendor} has a breach on record")
    if facts.open_high_alerts:
        risk += RISK_OPEN_HIGH_ALERT
        reasons.append(f"open high alert(s): {', '.join(facts.open_high_alerts[:5])}")
    if facts.failed_logins >= FAILED_LOGINS_RISKY:
        risk += RISK_FAILED_LOGINS
        reasons.append(f"{facts.failed_logins} failed logins")
    return IdentityRisk(facts.subject, min(risk, 100), tuple(reasons))

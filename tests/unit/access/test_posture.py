"""Device posture and identity risk: each check, its reason, and when time changes it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from maat.access.posture import DeviceFacts, IdentityFacts, assess_device, assess_identity

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


def healthy(**changes: object) -> DeviceFacts:
    base = DeviceFacts("ws-1", NOW, host="ws-1", last_heartbeat=NOW - timedelta(seconds=30),
                       exec_policy_mode="enforce")  # fmt: skip
    return DeviceFacts(**{**base.__dict__, **changes})  # type: ignore[arg-type]


def test_a_healthy_enrolled_device_is_trusted() -> None:
    posture = assess_device(healthy(), heartbeat_max_age=300)
    assert posture.level == "trusted" and posture.risk == 0 and posture.reasons == ()
    assert [c.number for c in posture.checks] == [1, 2, 3, 4, 5, 6]
    # It stays trusted until its heartbeat goes stale, unless something else happens.
    assert posture.valid_until == NOW + timedelta(seconds=270, microseconds=1)


def test_an_overdue_critical_finding_makes_it_untrusted_with_the_finding_named() -> None:
    posture = assess_device(healthy(overdue_critical=("CVE-2024-1 on openssl",)),
                            heartbeat_max_age=300)  # fmt: skip
    assert posture.level == "untrusted" and posture.risk == 40
    assert posture.reasons == ("step 3 (patching) FAILED: overdue critical finding(s): "
                               "CVE-2024-1 on openssl",)  # fmt: skip


def test_the_next_critical_deadline_bounds_how_long_the_posture_holds() -> None:
    due = NOW + timedelta(seconds=10)
    posture = assess_device(healthy(next_critical_due=due), heartbeat_max_age=300)
    assert posture.level == "trusted" and posture.valid_until == due


def test_silent_sensor_open_alert_and_audit_mode_add_up() -> None:
    facts = healthy(last_heartbeat=NOW - timedelta(hours=1), open_high_alerts=("wwlib side-load",),
                    exec_policy_mode="audit")  # fmt: skip
    posture = assess_device(facts, heartbeat_max_age=300)
    assert posture.level == "untrusted" and posture.risk == 100
    assert [c.name for c in posture.checks if not c.passed] == ["heartbeat", "alerts",
                                                               "execution policy"]  # fmt: skip
    assert "last heartbeat 3600 s ago" in posture.reasons[0]
    assert assess_device(healthy(last_heartbeat=None), heartbeat_max_age=300).risk == 30


def test_quarantine_and_unknown_devices_are_never_trusted() -> None:
    quarantined = assess_device(healthy(quarantined=True, quarantine_reason="case 7"),
                                heartbeat_max_age=300)  # fmt: skip
    assert quarantined.level == "quarantined" and quarantined.risk == 100
    assert "case 7" in quarantined.reasons[0]
    unknown = assess_device(DeviceFacts("stranger", NOW, known=False), heartbeat_max_age=300)
    assert unknown.level == "unknown" and unknown.risk == 100
    assert unknown.attributes()["posture"] == "unknown"


def test_identity_risk_names_its_reasons() -> None:
    assert assess_identity(IdentityFacts("alice")).risk == 0
    risky = assess_identity(IdentityFacts("v1", vendor="Contoso", vendor_breached=True,
                                          failed_logins=4))  # fmt: skip
    assert risky.risk == 80
    assert risky.reasons == ("its vendor Contoso has a breach on record", "4 failed logins")
    assert assess_identity(IdentityFacts("x", known=False)).risk == 100
    assert assess_identity(IdentityFacts("x", disabled=True)).attributes()["risk"] == 100

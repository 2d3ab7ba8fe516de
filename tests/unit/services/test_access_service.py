"""The decision point on a platform: posture from Maat's own data, continuous re-evaluation,
step-up MFA, policy versions. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

import pytest

from maat.core.enums import FindingStatus
from maat.core.ids import new_id
from maat.detect.records import AlertRecord
from maat.errors import AuthenticationFailed, Conflict, InvalidInput
from maat.services import access, auth, devices, execution, users, vendors
from maat.services.platform import Platform
from maat.vulns.records import FindingRecord, HostRecord
from maat_testkit import FakeClock, current_code, enrolled_user

EXAMPLES = Path(__file__).parents[3] / "examples" / "access"
EXAMPLE = (EXAMPLES / "policy.yml").read_text()
SEGMENTS = (EXAMPLES / "segments.yml").read_text()
ENFORCE_ENGINEERING = """name: workstations
version: 1
mode: enforce
host_groups: [engineering]
rules:
  - allow_path: {glob: "C:/Windows/System32/**"}
"""
WRITE_PLM = {"device": {"id": "ws-eng-01"}, "resource": "plm/designs/7", "action": "write",
             "subject": {"id": "alice"}}  # fmt: skip


def _healthy_device(platform: Platform, name: str = "ws-eng-01") -> str:
    """An enrolled, enforcing, heart-beating engineering workstation; returns its token id."""
    users.add_user(platform, "test", f"agent-{name}", ["agent"], "a-long-agent-password")
    device, _ = devices.enrol_device(platform, "test", name, agent_user=f"agent-{name}",
                                    tags=("engineering",))  # fmt: skip
    with platform.transaction() as uow:
        uow.hosts.add(HostRecord(new_id("hst"), name, platform.now(), group="engineering"))
    if not execution.active_policies(platform):
        execution.load_policy_text(platform, "test", ENFORCE_ENGINEERING, source="exec.yml")
    assert device.token_id is not None
    assert devices.heartbeat(platform, device.token_id)
    return device.token_id


def _beat(platform: Platform, name: str) -> None:
    with platform.transaction(write=False) as uow:
        device = uow.devices.by_name(name)
    assert device is not None and device.token_id is not None
    assert devices.heartbeat(platform, device.token_id)


def _critical(platform: Platform, host: str, *, due_in: timedelta) -> str:
    with platform.transaction() as uow:
        record = uow.hosts.by_name(host)
        assert record is not None
        finding = FindingRecord(
            id=new_id("fnd"), subject_kind="host", subject_id=record.id,
            component_key="pkg:generic/openssl", component_name="openssl",
            component_version="3.0.1", component_purl=None, advisory_id="CVE-2026-0001",
            aliases=(), summary="s", severity="critical", cvss=9.8, kev=False, epss=None,
            priority=1.0, priority_label="P1", fixed_versions=("3.0.2",),
            status=FindingStatus.OPEN, opened_at=platform.now(),
            due_at=platform.now() + due_in, last_seen_at=platform.now(),
        )  # fmt: skip
        uow.findings.add(finding)
    return finding.id


@pytest.fixture
def point(platform: Platform) -> access.AccessPoint:
    users.add_user(platform, "test", "alice", ["analyst"], "a-long-user-password")
    users.set_groups(platform, "test", "alice", ["engineer"])
    access.apply_policy(platform, "test", EXAMPLE, source="policy.yml")
    access.apply_segments(platform, "test", SEGMENTS, source="segments.yml")
    _healthy_device(platform)
    return access.AccessPoint(platform)


def test_no_policy_applied_denies_everything(platform: Platform) -> None:
    decision, _ = access.AccessPoint(platform).decide(WRITE_PLM)
    assert decision.decision == "deny"
    assert "no access policy applied" in decision.reasons[0]


def test_a_healthy_device_and_a_known_engineer_are_allowed(point: access.AccessPoint) -> None:
    decision, attributes = point.decide(WRITE_PLM)
    assert decision.decision == "allow", decision.reasons
    assert attributes["device"]["posture"] == "trusted"
    assert "engineer" in attributes["subject"]["roles"]


def test_claims_in_the_request_never_override_what_maat_knows(
    point: access.AccessPoint, platform: Platform
) -> None:
    lying = {**WRITE_PLM, "device": {"id": "stranger", "posture": "trusted"},
             "subject": {"id": "mallory", "roles": ["engineer"], "risk": 0}}  # fmt: skip
    decision, attributes = point.decide(lying)
    assert attributes["device"]["posture"] == "unknown"
    assert "risk" not in attributes["subject"]
    assert decision.decision == "deny"


def test_the_next_request_after_a_critical_goes_overdue_is_refused(
    point: access.AccessPoint, platform: Platform, clock: FakeClock
) -> None:
    finding = _critical(platform, "ws-eng-01", due_in=timedelta(hours=72))
    assert point.decide(WRITE_PLM)[0].decision == "allow"  # due, not overdue yet
    clock.advance(hours=72)
    _beat(platform, "ws-eng-01")  # the agent is still alive
    decision, attributes = point.decide(WRITE_PLM)
    assert decision.decision == "deny"
    assert decision.rules == ("untrusted-devices-denied",)
    assert any("CVE-2026-0001 in openssl 3.0.1" in r for r in attributes["device"]["risk_reasons"])
    with platform.transaction() as uow:
        stored = uow.findings.get(finding)
        uow.findings.update(dataclasses.replace(stored, status=FindingStatus.FIXED,
                                                fixed_at=platform.now()))  # fmt: skip
    assert point.decide(WRITE_PLM)[0].decision == "allow"


def test_cached_posture_never_outlives_a_finding_deadline(
    point: access.AccessPoint, platform: Platform, clock: FakeClock
) -> None:
    _critical(platform, "ws-eng-01", due_in=timedelta(seconds=30))
    assert point.decide(WRITE_PLM)[0].decision == "allow"
    epoch = platform.store.epoch()
    clock.advance(seconds=31)  # nothing in the store changed, only time
    assert platform.store.epoch() == epoch
    assert point.decide(WRITE_PLM)[0].decision == "deny"


def test_a_change_made_by_another_process_reaches_the_cache_through_the_epoch(
    point: access.AccessPoint, platform: Platform, tmp_path: Path
) -> None:
    assert point.decide(WRITE_PLM)[0].decision == "allow"
    other = Platform.open(platform.settings)  # another process on the same store
    try:
        before = other.store.epoch()
        devices.quarantine(other, "cli", "ws-eng-01", reason="case 3")
        assert other.store.epoch() > before
    finally:
        other.close()
    decision, attributes = point.decide(WRITE_PLM)
    assert attributes["device"]["posture"] == "quarantined"
    assert attributes["device"]["segment"] == "quarantine"
    assert decision.decision == "deny"


def test_heartbeats_and_alert_counts_do_not_move_the_epoch(platform: Platform) -> None:
    token = _healthy_device(platform)
    epoch = platform.store.epoch()
    assert devices.heartbeat(platform, token)
    assert platform.store.epoch() == epoch


def test_open_high_alert_silence_and_quarantine_each_lower_posture(
    point: access.AccessPoint, platform: Platform, clock: FakeClock
) -> None:
    with platform.transaction() as uow:
        alert = AlertRecord(id=new_id("alr"), rule_id="sigma-wwlib", title="wwlib side-load",
                            level="high", created_at=platform.now(),
                            entities={"hosts": ["ws-eng-01"]})  # fmt: skip
        uow.alerts.add(alert)
    posture = devices.device_posture(platform, "ws-eng-01")
    assert posture.level == "untrusted" and "sigma-wwlib" in posture.reasons[0]
    with platform.transaction() as uow:
        uow.alerts.update(dataclasses.replace(alert, state="resolved"))
    assert devices.device_posture(platform, "ws-eng-01").level == "trusted"
    clock.advance(seconds=601)
    assert (
        devices.device_posture(platform, "ws-eng-01")
        .reasons[0]
        .startswith("step 2 (heartbeat) FAILED")
    )
    devices.quarantine(platform, "test", "ws-eng-01", reason="case 12: TIDRONE")
    posture = devices.device_posture(platform, "ws-eng-01")
    assert posture.level == "quarantined" and posture.risk == 100
    devices.quarantine(platform, "test", "ws-eng-01", release=True)
    assert devices.device_posture(platform, "ws-eng-01").level == "untrusted"  # still silent


def test_venom_vendor_breach_steps_up_the_vendors_accounts(
    platform: Platform, clock: FakeClock
) -> None:
    clock.current = clock.current.replace(hour=2)  # 10:00 in Taipei: the example's office hours
    access.apply_policy(platform, "test", EXAMPLE, source="policy.yml")
    _healthy_device(platform, "vendor-jump")
    vendors.add_vendor(platform, "test", "Contoso ERP")
    support = enrolled_user(platform, clock, "contoso-support", ["analyst"])
    users.set_groups(platform, "test", "contoso-support", ["vendor-support"])
    vendors.link_account(platform, "test", "contoso-support", "Contoso ERP")
    point = access.AccessPoint(platform)
    principal = auth.authenticate(platform, support.token, client="10.0.0.9")
    read_erp = {"device": {"id": "vendor-jump"}, "resource": "erp/orders", "action": "read"}
    mfa = access.mfa_time(platform, principal)
    assert point.decide(read_erp, principal=principal, mfa_at=mfa)[0].decision == "allow"
    clock.advance(seconds=301)  # the login's MFA is now older than the step-up rule allows
    _beat(platform, "vendor-jump")
    assert point.decide(read_erp, principal=principal, mfa_at=mfa)[0].decision == "allow"
    vendors.record_breach(platform, "test", "Contoso ERP", note="VENOM web shell")
    decision, attributes = point.decide(read_erp, principal=principal, mfa_at=mfa)
    assert decision.decision == "step_up" and decision.rules == ("breached-vendor-step-up",)
    assert attributes["subject"]["risk"] >= 60
    # The account proves its second factor again: allowed for 300 s, then stepped up again.
    with pytest.raises(AuthenticationFailed):
        auth.step_up(platform, principal, "000000", client="10.0.0.9")
    auth.step_up(platform, principal, current_code(platform, support.totp_secret),
                 client="10.0.0.9")  # fmt: skip
    mfa = access.mfa_time(platform, principal)
    assert mfa == platform.now()
    assert point.decide(read_erp, principal=principal, mfa_at=mfa)[0].decision == "allow"
    clock.advance(seconds=301)
    _beat(platform, "vendor-jump")
    assert point.decide(read_erp, principal=principal, mfa_at=mfa)[0].decision == "step_up"


def test_api_tokens_cannot_step_up(platform: Platform, clock: FakeClock) -> None:
    from maat.services.tokens import create_token

    enrolled_user(platform, clock, "bot", ["analyst"])
    token = create_token(platform, "test", "bot", "ci").text
    principal = auth.authenticate(platform, token, client="x")
    with pytest.raises(AuthenticationFailed, match="API tokens have no MFA"):
        auth.step_up(platform, principal, "123456", client="x")
    assert access.mfa_time(platform, principal) is None


def test_policy_versions_are_kept_and_broken_policies_refused(platform: Platform) -> None:
    first = access.apply_policy(platform, "alice", EXAMPLE, source="a.yml")
    second = access.apply_policy(platform, "bob", "rules: []\n", source="b.yml")
    assert (first.version, second.version) == (1, 2)
    with pytest.raises(InvalidInput, match="1 problem"):
        access.apply_policy(platform, "bob", "rules:\n  - {effect: nope, actions: [a], "
                            "resources: [b]}\n", source="c.yml")  # fmt: skip
    with platform.transaction(write=False) as uow:
        history = uow.policy_versions.history("access")
        audit = [r.entry.action for r in uow.audit.records()]
    assert [v.created_by for v in history] == ["bob", "alice"]
    assert audit.count("access.apply") == 2
    # The newest version is in force: the empty policy denies everything.
    assert access.AccessPoint(platform).decide(WRITE_PLM)[0].decision == "deny"


def test_device_names_are_unique_and_heartbeats_need_a_device_token(platform: Platform) -> None:
    devices.enrol_device(platform, "test", "ws-1")
    with pytest.raises(Conflict):
        devices.enrol_device(platform, "test", "ws-1")
    with pytest.raises(InvalidInput):
        devices.enrol_device(platform, "test", "bad\nname")
    assert devices.heartbeat(platform, "tok-unknown") is False


def test_a_revocation_racing_a_token_lookup_never_lands_in_the_cache(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    from maat.services.tokens import create_token, revoke_token

    users.add_user(platform, "test", "proxy", ["agent"], "a-long-proxy-password")
    token = create_token(platform, "test", "proxy", "nginx")
    point = access.AccessPoint(platform)
    real = auth.authenticate

    def revoked_meanwhile(*args: object, **kwargs: object) -> object:
        principal = real(*args, **kwargs)  # type: ignore[arg-type]
        revoke_token(platform, "test", token.record.id)  # commits: the epoch moves
        point.epoch()  # another request notices and clears the caches
        return principal

    monkeypatch.setattr(auth, "authenticate", revoked_meanwhile)
    point.authenticate_token(token.text, client="x")
    monkeypatch.setattr(auth, "authenticate", real)
    with pytest.raises(AuthenticationFailed, match="revoked"):
        point.authenticate_token(token.text, client="x")


def test_an_enforce_policy_for_servers_does_not_make_a_workstation_trusted(
    platform: Platform,
) -> None:
    execution.load_policy_text(platform, "test", ENFORCE_ENGINEERING.replace(
        "engineering", "servers"), source="servers.yml")  # fmt: skip
    audit_only = ENFORCE_ENGINEERING.replace("mode: enforce", "mode: audit").replace(
        "name: workstations", "name: desk\ndescription: |\n  mode: enforce")  # fmt: skip
    execution.load_policy_text(platform, "test", audit_only, source="desk.yml")
    _healthy_device(platform)
    posture = devices.device_posture(platform, "ws-eng-01")
    assert posture.level == "untrusted"
    assert "mode is audit, not enforce" in posture.reasons[0]


def test_a_quarantined_hosts_flows_are_judged_by_the_quarantine_segment(
    platform: Platform,
) -> None:
    from maat.services.alerts import Detector

    access.apply_segments(platform, "test", SEGMENTS, source="segments.yml")
    devices.enrol_device(platform, "test", "ws-q", address="10.10.0.9", tags=("engineering",))
    flow = {"source.ip": "10.10.0.9", "destination.ip": "10.30.0.5", "destination.port": 443,
            "network.transport": "tcp", "event.id": "e1"}  # fmt: skip
    detector = Detector.from_settings(platform)
    assert detector.lines([flow]) == []  # engineering -> servers 443 is allowed
    devices.quarantine(platform, "test", "ws-q", reason="case 9")
    lines = detector.lines([flow])
    assert len(lines) == 1 and "quarantine -> servers tcp/443" in lines[0]["rule.title"]
    # The same host seen through a dual-stack socket is the same host.
    mapped = detector.lines([{**flow, "source.ip": "::ffff:10.10.0.9"}])
    assert len(mapped) == 1 and "quarantine -> servers" in mapped[0]["rule.title"]


def test_one_open_finding_per_vendor_breach_even_when_two_reviews_race(
    platform: Platform,
) -> None:
    from maat.errors import Conflict
    from maat.vendors.records import VendorFindingRecord

    def finding() -> VendorFindingRecord:
        return VendorFindingRecord(id=new_id("vfd"), vendor_id="vnd_x", source="contract",
                                   term="signed_releases", key="signed_releases:abc",
                                   detail="unsigned", opened_at=platform.now())  # fmt: skip

    with platform.transaction() as uow:
        uow.vendor_findings.add(finding())
    with pytest.raises(Conflict), platform.transaction() as uow:
        uow.vendor_findings.add(finding())

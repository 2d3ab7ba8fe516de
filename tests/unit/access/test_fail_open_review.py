"""Fail-open attacks a second review found against the decision point, each now refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from maat.access.evaluator import AccessRequest, Evaluator
from maat.access.nftables import host_ruleset
from maat.access.paths import resource_path
from maat.access.policy import read_policy
from maat.access.posture import DeviceFacts, assess_device
from maat.access.segments import read_segmentation

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


def _ev(text: str) -> Evaluator:
    policy, problems = read_policy(text, source="p.yml")
    assert policy is not None, problems
    return Evaluator(policy)


def _decide(ev: Evaluator, resource: str, **data: object) -> str:
    return ev.decide(AccessRequest.from_dict({"resource": resource, "action": "read", **data})
                     ).decision  # fmt: skip


ADMIN_DENIED = """
rules:
  - {id: no-admin, effect: deny, actions: ["*"], resources: ["admin/*"]}
  - {id: all, effect: allow, actions: ["*"], resources: ["*"]}
"""


@pytest.mark.parametrize("target", ["/admin;jsessionid=1/users", "/admin;/users",
                                    "/admin%3b/users", "/admin/users;x"])  # fmt: skip
def test_a_path_parameter_cannot_hide_a_path_from_a_prefix_deny(target: str) -> None:
    # Tomcat, Jetty and Spring drop ";params" from each segment: /admin;x/users is served
    # as /admin/users, so deciding on "admin;x/users" would dodge the deny.
    assert resource_path(target) is None


@pytest.mark.parametrize("target", ["/admin", "/admin/", "/admin/x/..", "/admin/."])
def test_the_directory_itself_is_covered_by_a_deny_on_everything_under_it(target: str) -> None:
    path = resource_path(target)
    assert path is not None
    assert _decide(_ev(ADMIN_DENIED), path) == "deny"


def test_a_leading_slash_does_not_make_a_deny_miss_a_proxied_path() -> None:
    # Proxied paths are decided without their leading slash (resource_path); a deny written
    # as a URL path must still cover them, and a bare id a slashed pattern.
    ev = _ev("""
rules:
  - {id: no-admin, effect: deny, actions: ["*"], resources: ["/admin/*"]}
  - {id: no-hr, effect: deny, actions: ["*"], resources: ["hr/*"]}
  - {id: all, effect: allow, actions: ["*"], resources: ["*"]}
""")
    assert _decide(ev, "admin/users") == "deny"
    assert _decide(ev, "/admin/users") == "deny"
    assert _decide(ev, "/hr/salaries") == "deny"
    assert _decide(ev, "wiki/a") == "allow"


def test_a_nan_risk_does_not_dodge_a_risk_deny() -> None:
    ev = _ev("""
rules:
  - {id: risky, effect: deny, actions: ["*"], resources: ["*"],
     when: [{attr: subject.risk, ge: 50}]}
  - {id: all, effect: allow, actions: ["*"], resources: ["*"]}
""")
    request = AccessRequest({"action": "read", "resource.id": "x", "subject.risk": float("nan")})
    decision = ev.decide(request)
    assert decision.decision == "deny" and decision.rules == ("risky",)


def test_two_empty_lists_do_not_prove_ownership() -> None:
    ev = _ev("""
rules:
  - {id: own, effect: allow, actions: [write], resources: ["*"],
     when: [{attr: subject.id, equals_attr: resource.owner}]}
""")
    data = {"subject": {"id": []}, "resource": {"id": "x", "owner": []}, "action": "write"}
    assert ev.decide(AccessRequest.from_dict(data)).decision == "deny"


def test_a_future_dated_heartbeat_does_not_keep_a_silent_device_trusted() -> None:
    # The clock that stamped the heartbeat ran ahead (or was moved back since): when the
    # device was really last seen is unknown, so the heartbeat proves nothing.
    facts = DeviceFacts("ws-1", NOW, host="ws-1", last_heartbeat=NOW + timedelta(days=30),
                        exec_policy_mode="enforce")  # fmt: skip
    posture = assess_device(facts, heartbeat_max_age=300)
    assert posture.level == "untrusted"
    assert any("future" in reason for reason in posture.reasons)
    assert posture.valid_until is None or posture.valid_until <= NOW + timedelta(seconds=300)


def test_a_heartbeat_a_moment_ahead_from_another_server_still_counts() -> None:
    facts = DeviceFacts("ws-1", NOW, host="ws-1", last_heartbeat=NOW + timedelta(seconds=2),
                        exec_policy_mode="enforce")  # fmt: skip
    posture = assess_device(facts, heartbeat_max_age=300)
    assert posture.level == "trusted"
    assert posture.valid_until is not None
    assert posture.valid_until <= NOW + timedelta(seconds=303)


def test_overlapping_segment_networks_are_refused() -> None:
    # A host in both networks would be accepted by firewalls as either segment while the
    # flow check (first match) judges it as one; nft also rejects overlapping intervals.
    _, problems = read_segmentation(
        """
segments:
  office: {cidrs: [10.0.0.0/8]}
  servers: {cidrs: [10.30.0.0/16]}
flows: [{from: office, to: servers, proto: tcp, ports: [443]}]
""",
        source="s.yml",
    )
    assert any(p.location.field == "segments.servers.cidrs[0]" and "overlaps" in p.message
               for p in problems)  # fmt: skip
    _, problems = read_segmentation(
        "segments: {lab: {cidrs: ['fd00::/16', 'fd00:1::/64']}}\nflows: []\n", source="s.yml"
    )
    assert any("overlaps" in p.message for p in problems)


def test_a_host_name_cannot_inject_nftables_rules() -> None:
    seg, _ = read_segmentation("segments: {lab: {cidrs: [10.0.0.0/24]}}\nflows: []\n",
                               source="s.yml")  # fmt: skip
    assert seg is not None
    evil = "ws-1\ntable inet pwn { chain i { type filter hook input priority -500; accept; } }"
    ruleset = host_ruleset(seg, "lab", host=evil)
    assert not any(line.startswith("table inet pwn") for line in ruleset.splitlines())
    assert ruleset.splitlines()[1] == "table inet maat"


QUARANTINE = """
quarantine: quarantine
segments:
  office: {cidrs: [10.20.0.0/16]}
  servers: {cidrs: [10.30.0.0/16]}
  quarantine: {}
flows:
  - {from: "*", to: servers, proto: udp, ports: [53]}
  - {from: servers, to: "*", proto: tcp, ports: [443]}
  - {from: quarantine, to: servers, proto: tcp, ports: [8470]}
"""


def test_a_quarantined_host_keeps_only_the_flows_naming_quarantine() -> None:
    # "*" flows (DNS to the servers here) would leave a quarantined TIDRONE host its C2 and
    # exfiltration channel; quarantine allows what names it, "only Maat itself".
    seg, problems = read_segmentation(QUARANTINE, source="s.yml")
    assert seg is not None, problems
    dns = seg.check("10.20.0.5", "10.30.0.2", "udp", 53, source_segment="quarantine")
    assert not dns.allowed
    inbound = seg.check("10.30.0.2", "10.20.0.5", "tcp", 443, target_segment="quarantine")
    assert not inbound.allowed
    assert seg.check("10.20.0.5", "10.30.0.2", "tcp", 8470, source_segment="quarantine").allowed
    assert seg.check("10.20.0.5", "10.30.0.2", "udp", 53).allowed  # not quarantined
    ruleset = host_ruleset(seg, "quarantine")
    assert "dport { 53 }" not in ruleset and "dport { 443 }" not in ruleset
    assert "@seg_servers tcp dport { 8470 } accept" in ruleset
    assert "dport { 53 }" in host_ruleset(seg, "office")

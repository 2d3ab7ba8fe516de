"""Attacks a review found against the first decision point, each now refused."""

from __future__ import annotations

import pytest

from maat.access.cases import read_cases
from maat.access.evaluator import AccessRequest, Evaluator
from maat.access.nftables import host_ruleset
from maat.access.paths import resource_path
from maat.access.policy import read_policy
from maat.access.segments import read_segmentation
from maat.errors import InvalidInput


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/plm/designs/7?rev=2", "plm/designs/7"),
        ("/plm/../erp/payments", "erp/payments"),
        ("/plm/%2e%2e/erp/payments", "erp/payments"),
        ("/plm/./a//b", "plm/a/b"),
        ("/plm%2f..%2ferp/payments", None),  # encoded slash: servers disagree
        ("/plm/%5c..%5cerp", None),
        ("/plm\\..\\erp", None),
        ("/erp%2541/x", None),  # double encoding: decided once, served twice decoded
        ("/../etc/passwd", None),  # above the root
        ("/a/%00", None),
        ("/a/%ff", None),  # not UTF-8
        ("//erp/plm/orders", None),  # an authority where a path was expected
        ("/plm/..;/erp/x", None),  # ".." to Tomcat and Spring
        ("/plm/a\tb", None),  # control characters end the target for some parsers
        ("http://maat.example/erp/x?y=1", "erp/x"),  # absolute form
    ],
)
def test_path_traversal_cannot_escape_a_prefix_rule(target: str, expected: str | None) -> None:
    assert resource_path(target) == expected


def _ev(text: str) -> Evaluator:
    policy, problems = read_policy(text, source="p.yml")
    assert policy is not None, problems
    return Evaluator(policy)


def test_contractor_lead_cannot_dodge_the_contractor_deny_through_the_hierarchy() -> None:
    ev = _ev("""
roles: {contractor-lead: [contractor]}
rules:
  - {id: no-hr, effect: deny, actions: ["*"], resources: ["hr/*"],
     when: [{attr: subject.roles, contains: contractor}]}
  - {id: leads-read, effect: allow, subjects: {roles: [contractor-lead]}, actions: [read],
     resources: ["*"]}
""")
    decision = ev.decide(
        AccessRequest.from_dict(
            {"subject": {"roles": ["contractor-lead"]}, "resource": "hr/salaries", "action": "read"}
        )
    )
    assert decision.decision == "deny" and decision.rules == ("no-hr",)


def test_a_list_value_cannot_pass_a_not_in_or_dodge_an_equals_deny() -> None:
    ev = _ev("""
rules:
  - {id: dmz-deny, effect: deny, actions: [read], resources: ["*"],
     when: [{attr: device.zone, equals: dmz}]}
  - {id: not-dmz, effect: allow, actions: [read], resources: ["*"],
     when: [{attr: device.zone, not_in: [dmz]}]}
""")
    decision = ev.decide(
        AccessRequest.from_dict({"device": {"zone": ["dmz"]}, "resource": "x", "action": "read"})
    )
    assert decision.decision == "deny"


def test_a_newline_in_a_value_cannot_dodge_a_glob_deny() -> None:
    ev = _ev("""
rules:
  - {id: ext, effect: deny, actions: [read], resources: ["*"],
     when: [{attr: subject.id, matches: "ext-*"}]}
  - {id: all, effect: allow, actions: [read], resources: ["*"]}
""")
    decision = ev.decide(
        AccessRequest.from_dict(
            {"subject": {"id": "ext-bob\nx"}, "resource": "a\nb", "action": "read"}
        )
    )
    assert decision.rules == ("ext",)


def test_a_future_or_negative_mfa_time_is_refused_not_fresh() -> None:
    with pytest.raises(InvalidInput, match="mfa_age"):
        AccessRequest.from_dict({"resource": "x", "action": "read", "context": {"mfa_age": -5}})
    with pytest.raises(InvalidInput, match="later than"):
        AccessRequest.from_dict(
            {
                "resource": "x",
                "action": "read",
                "context": {"time": "2026-01-01T10:00:00Z", "mfa_at": "2026-01-01T11:00:00Z"},
            }
        )


def test_ipv4_mapped_ipv6_addresses_are_judged_as_their_ipv4() -> None:
    seg, _ = read_segmentation(
        """
segments: {office: {cidrs: [10.20.0.0/16]}, ot: {cidrs: [10.40.0.0/16]}}
flows: []
""",
        source="s.yml",
    )
    assert seg is not None
    verdict = seg.check("::ffff:10.20.0.5", "::ffff:10.40.0.9", "tcp", 502)
    assert not verdict.allowed and (verdict.source, verdict.target) == ("office", "ot")


def test_segment_names_that_would_share_an_nft_set_or_break_nft_are_refused() -> None:
    _, problems = read_segmentation("segments: {a-b: {}, a_b: {}}\nflows: []\n", source="s.yml")
    assert any(p.location.field == "segments.a_b" and "clashes" in p.message for p in problems)
    _, problems = read_segmentation("segments: {büro: {}}\nflows: []\n", source="s.yml")
    assert any(p.location.field == "segments.büro" for p in problems)


def test_ipv6_rulesets_keep_neighbour_discovery_and_tag_only_flows_are_warned() -> None:
    seg, _ = read_segmentation(
        """
segments: {lab: {cidrs: ["fd00:1::/64"]}, ot: {tags: [ot]}}
flows: [{from: ot, to: lab, proto: tcp, ports: [502]}]
""",
        source="s.yml",
    )
    assert seg is not None
    assert "nd-neighbor-solicit" in host_ruleset(seg, "lab")
    assert any("'ot' has no cidrs" in w for w in seg.warnings())


def test_yaml_1_1_numbers_in_cases_are_kept_as_text_not_a_traceback() -> None:
    cases, problems = read_cases(
        """cases:
  - name: odd values
    request: {resource: x, action: read, context: {shift: 9:30, ratio: .nan}}
    expect: deny
""",
        source="c.yml",
    )
    assert problems == [] and cases[0].request.attributes["context.shift"] == "9:30"

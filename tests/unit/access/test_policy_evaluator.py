"""The access policy: loading with located problems, and decisions that fail closed."""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

import pytest

from maat.access.evaluator import AccessRequest, Evaluator
from maat.access.policy import read_policy
from maat.errors import InvalidInput, PermissionDenied

EXAMPLE = Path(__file__).parents[3] / "examples" / "access" / "policy.yml"


def evaluator(text: str) -> Evaluator:
    policy, problems = read_policy(text, source="p.yml")
    assert policy is not None, problems
    return Evaluator(policy)


def request(**data: Any) -> AccessRequest:
    data.setdefault("action", "read")
    data.setdefault("resource", "plm/designs/7")
    return AccessRequest.from_dict(data)


@pytest.fixture(scope="module")
def example() -> Evaluator:
    policy, problems = read_policy(EXAMPLE.read_text(), source=str(EXAMPLE))
    assert policy is not None, problems
    return Evaluator(policy)


ENGINEER = {"id": "alice", "roles": ["engineer"], "risk": 0}
TRUSTED_ENG = {"id": "ws-eng-01", "posture": "trusted", "segment": "engineering"}


def test_engineer_on_trusted_engineering_device_may_change_designs(example: Evaluator) -> None:
    decision = example.decide(request(subject=ENGINEER, device=TRUSTED_ENG, action="write"))
    assert decision.decision == "allow"
    assert decision.rules == ("engineers-plm",)
    decision.enforce()


def test_compromised_workstation_is_refused_whatever_the_role(example: Evaluator) -> None:
    device = {**TRUSTED_ENG, "posture": "untrusted"}
    decision = example.decide(request(subject=ENGINEER, device=device, action="write"))
    assert decision.decision == "deny"
    assert decision.rules == ("untrusted-devices-denied",)
    with pytest.raises(PermissionDenied, match="access denied"):
        decision.enforce()


def test_missing_posture_counts_against_the_request_not_for_it(example: Evaluator) -> None:
    decision = example.decide(request(subject=ENGINEER, device={"segment": "engineering"}))
    assert decision.decision == "deny"
    assert "device.posture unknown" in decision.reasons[0]


def test_missing_attribute_never_satisfies_an_allow(example: Evaluator) -> None:
    # engineers-plm needs subject.risk < 50; without a risk the allow does not apply.
    subject = {"id": "alice", "roles": ["engineer"]}
    decision = example.decide(request(subject=subject, device=TRUSTED_ENG))
    assert decision.decision == "deny"
    assert decision.reasons == ("no rule allows read on plm/designs/7",)


def test_role_hierarchy_gives_included_roles(example: Evaluator) -> None:
    decision = example.decide(request(subject=ENGINEER, device=TRUSTED_ENG, resource="wiki/a"))
    assert decision.rules == ("employees-read-wiki",)


def test_stale_mfa_steps_up_and_fresh_mfa_allows(example: Evaluator) -> None:
    base = {"subject": {"id": "bob", "roles": ["erp-admin"]}, "device": {"posture": "trusted"},
            "resource": "erp/orders", "action": "write"}  # fmt: skip
    stale = example.decide(AccessRequest.from_dict({**base, "context": {"mfa_age": 901}}))
    assert stale.decision == "step_up"
    assert "last MFA: 901 s ago" in stale.reasons[0]
    never = example.decide(AccessRequest.from_dict(base))
    assert never.decision == "step_up" and "never" in never.reasons[0]
    with pytest.raises(PermissionDenied, match="fresh MFA required"):
        never.enforce()
    fresh = example.decide(AccessRequest.from_dict({**base, "context": {"mfa_age": 900}}))
    assert fresh.decision == "allow"


def test_venom_breached_vendor_support_must_step_up_in_office_hours(example: Evaluator) -> None:
    subject = {"id": "v1", "roles": ["vendor-support"], "vendor_breached": True}
    # The example policy keeps Taipei office hours (timezone: Asia/Taipei).
    context = {"time": "2026-11-26T10:00:00+08:00", "mfa_at": "2026-11-26T09:50:00+08:00"}
    decision = example.decide(request(subject=subject, device={"posture": "trusted"},
                                      resource="erp/x", context=context))  # fmt: skip
    assert decision.decision == "step_up"
    assert decision.rules == ("breached-vendor-step-up",)
    context["mfa_at"] = "2026-11-26T09:58:00+08:00"
    decision = example.decide(request(subject=subject, device={"posture": "trusted"},
                                      resource="erp/x", context=context))  # fmt: skip
    assert decision.decision == "allow"
    night = {"time": "2026-11-26T22:00:00+08:00", "mfa_at": "2026-11-26T21:59:00+08:00"}
    decision = example.decide(request(subject=subject, device={"posture": "trusted"},
                                      resource="erp/x", context=night))  # fmt: skip
    assert decision.decision == "deny"


def test_empty_policy_denies_everything() -> None:
    decision = evaluator("rules: []\n").decide(request(subject=ENGINEER))
    assert decision.decision == "deny"
    assert decision.rules == ()


def test_no_policy_denies_with_the_reason() -> None:
    decision = Evaluator(None, broken=["p.yml:3: bad"]).decide(request())
    assert decision.decision == "deny"
    assert decision.reasons == ("policy did not load: p.yml:3: bad",)


def test_deny_overrides_an_earlier_allow() -> None:
    text = """
rules:
  - {id: a, effect: allow, actions: [read], resources: ["*"]}
  - {id: d, effect: deny, actions: ["*"], resources: ["plm/secret/*"]}
"""
    ev = evaluator(text)
    assert ev.decide(request(resource="plm/secret/x")).rules == ("d",)
    assert ev.decide(request(resource="plm/open/x")).decision == "allow"


@pytest.mark.parametrize(
    ("condition", "attrs", "expected"),
    [
        ("{attr: subject.risk, lt: 50}", {"risk": 49.9}, "allow"),
        ("{attr: subject.risk, lt: 50}", {"risk": 50}, "deny"),
        ("{attr: subject.risk, le: 50}", {"risk": 50}, "allow"),
        ("{attr: subject.risk, gt: 50}", {"risk": 50}, "deny"),
        ("{attr: subject.risk, ge: 50}", {"risk": 50}, "allow"),
        ("{attr: subject.risk, lt: 50}", {"risk": "10"}, "deny"),  # text is not a number
        ("{attr: subject.admin, equals: true}", {"admin": True}, "allow"),
        ("{attr: subject.admin, equals: true}", {"admin": 1}, "deny"),  # 1 is not true
        ("{attr: subject.team, in: [red, blue]}", {"team": "blue"}, "allow"),
        ("{attr: subject.team, not_in: [red, blue]}", {"team": "blue"}, "deny"),
        ("{attr: subject.team, not_equals: red}", {"team": "blue"}, "allow"),
        ("{attr: subject.groups, contains: ops}", {"groups": ["dev", "ops"]}, "allow"),
        ("{attr: subject.groups, contains_any: [x, dev]}", {"groups": ["dev"]}, "allow"),
        ("{attr: subject.mail, matches: '*@maker.example'}", {"mail": "a@maker.example"}, "allow"),
        ("{attr: subject.mail, matches: '*@maker.example'}", {"mail": "a@evil.example"}, "deny"),
        ("{attr: subject.id, equals_attr: resource.owner}", {"id": "alice"}, "allow"),
        ("{attr: subject.id, equals_attr: resource.owner}", {"id": "bob"}, "deny"),
        ("{attr: subject.vendor, present: false}", {}, "allow"),
        ("{attr: subject.vendor, present: false}", {"vendor": "acme"}, "deny"),
        ("{attr: subject.level, between: [2, 5]}", {"level": 5}, "deny"),
        ("{attr: subject.level, between: [2, 5]}", {"level": 2}, "allow"),
    ],
)
def test_operators(condition: str, attrs: dict[str, Any], expected: str) -> None:
    text = (
        f"rules:\n  - {{effect: allow, actions: [read], resources: ['*'], when: [{condition}]}}\n"
    )
    data = {"subject": attrs, "resource": {"id": "doc/1", "owner": "alice"}, "action": "read"}
    assert evaluator(text).decide(AccessRequest.from_dict(data)).decision == expected


def test_subject_targets_by_id_group_and_vendor() -> None:
    text = """
rules:
  - {id: by-id, effect: allow, subjects: {ids: [carol]}, actions: [read], resources: [a/*]}
  - {id: by-group, effect: allow, subjects: {groups: [ops]}, actions: [read], resources: [b/*]}
  - {id: by-vendor, effect: allow, subjects: {vendors: [acme]}, actions: [read], resources: [c/*]}
"""
    ev = evaluator(text)
    assert ev.decide(request(subject={"id": "carol"}, resource="a/1")).allowed
    assert not ev.decide(request(subject={"id": "dave"}, resource="a/1")).allowed
    assert ev.decide(request(subject={"groups": ["ops"]}, resource="b/1")).allowed
    assert ev.decide(request(subject={"vendor": "acme"}, resource="c/1")).allowed
    assert not ev.decide(request(subject={"vendor": "acme"}, resource="a/1")).allowed


def test_resource_globs_and_leading_slashes() -> None:
    ev = evaluator("rules:\n  - {effect: allow, actions: [GET], resources: ['/api/v1/*/read', "
                   "'/exact']}\n")  # fmt: skip
    assert ev.decide(request(action="GET", resource="/api/v1/x/y/read")).allowed
    assert not ev.decide(request(action="GET", resource="/api/v1/x/write")).allowed
    assert ev.decide(request(action="GET", resource="/exact")).allowed
    assert not ev.decide(request(action="GET", resource="/exact/more")).allowed
    assert not ev.decide(request(action="POST", resource="/exact")).allowed


def _applies(rule: Any, a: Any) -> bool:
    """What a plain scan says: action, any role, any resource glob."""
    return (("*" in rule.actions or a["action"] in rule.actions)
            and bool(rule.subjects.roles & set(a["subject.roles"]))
            and any(re.fullmatch(p.replace("*", ".*"), a["resource.id"])
                    for p in rule.resources))  # fmt: skip


def test_index_matches_a_linear_scan_on_a_large_policy() -> None:
    """The indexed candidate lookup finds every rule a plain scan would apply."""
    rng = random.Random(7)
    roles = [f"r{i}" for i in range(30)]
    areas = [f"app{i}" for i in range(40)]
    lines = ["rules:"]
    for i in range(600):
        role, area = rng.choice(roles), rng.choice(areas)
        effect = rng.choice(["allow", "allow", "allow", "deny"])
        pattern = rng.choice([f"{area}/*", f"{area}/x/*", "*", f"*/{area}"])
        lines.append(f"  - {{id: r{i}, effect: {effect}, subjects: {{roles: [{role}]}}, "
                     f"actions: ['{rng.choice(['read', 'write', '*'])}'], resources: ['{pattern}']}}")  # fmt: skip
    ev = evaluator("\n".join(lines) + "\n")
    assert ev.policy is not None
    for _ in range(500):
        req = request(subject={"roles": rng.sample(roles, 3)}, action=rng.choice(["read", "write"]),
                      resource=f"{rng.choice(areas)}/{rng.choice(['x', 'y'])}/{rng.choice(areas)}")  # fmt: skip
        a = req.attributes
        scan = [r for r in ev.policy.rules if _applies(r, a)]
        deny = [r.id for r in scan if r.effect == "deny"]
        allow = [r.id for r in scan if r.effect == "allow"]
        decision = ev.decide(req)
        if deny:
            assert decision.rules == tuple(deny)
        elif allow:
            assert decision.rules == tuple(allow)
        else:
            assert decision.decision == "deny" and decision.rules == ()


def test_policy_problems_are_all_located_in_one_pass() -> None:
    text = """name: p
rules:
  - id: a
    effect: permit
    actions: [read]
    resources: ["*"]
    when:
      - {attr: devise.posture, equals: trusted}
      - {attr: device.posture, equals: trusted, in: [x]}
  - id: a
    effect: step_up
    actions: [read]
    resources: ["*"]
    colour: blue
"""
    policy, problems = read_policy(text, source="p.yml")
    assert policy is None
    found = {(p.location.line, p.location.field) for p in problems}
    assert (4, "rules[0].effect") in found
    assert (8, "rules[0].when[0].attr") in found
    assert (9, "rules[0].when[1]") in found
    assert (10, "rules[1].id") in found
    assert (14, "rules[1].colour") in found
    assert any(p.location.field == "rules[1].mfa_within" for p in problems)
    assert all(p.location.file == "p.yml" for p in problems)


def test_role_cycle_and_bad_yaml_are_problems() -> None:
    _, problems = read_policy("roles: {a: [b], b: [a]}\nrules: []\n", source="p.yml")
    assert any("includes itself" in p.message for p in problems)
    policy, problems = read_policy("rules: [\n", source="p.yml")
    assert policy is None and "not valid YAML" in problems[0].message
    policy, problems = read_policy("", source="p.yml")
    assert policy is None and "empty" in problems[0].message


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"action": "read", "resource": "x", "colour": 1}, "request.colour"),
        ({"resource": "x"}, "request.action"),
        ({"action": "read"}, "request.resource.id"),
        ({"action": "read", "resource": "x", "subject": {"roles": "admin"}}, "request.subject.roles"),
        ({"action": "read", "resource": "x", "context": {"time": "yesterday"}}, "request.context.time"),
        ({"action": "read", "resource": "x", "context": {"time": "2026-01-01T00:00:00"}},
         "request.context.time"),
    ],
)  # fmt: skip
def test_bad_requests_say_which_field(data: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        AccessRequest.from_dict(data)
    assert caught.value.location.field == field


def test_time_gives_hour_weekday_and_mfa_age() -> None:
    req = AccessRequest.from_dict({"action": "read", "resource": "x", "context": {
        "time": "2026-11-26T10:30:00+01:00", "mfa_at": "2026-11-26T10:00:00+01:00"}})  # fmt: skip
    assert req.attributes["context.hour"] == 9.5  # UTC
    assert req.attributes["context.weekday"] == "thu"
    assert req.attributes["context.mfa_age"] == 1800.0

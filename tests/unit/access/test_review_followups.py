"""Follow-ups of the decision-point review: peers refusing quarantined hosts by address, and
office hours read in the policy author's time zone, never the caller's claim."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from maat.access.cases import read_cases, run_cases
from maat.access.evaluator import AccessRequest, Evaluator
from maat.access.nftables import host_ruleset
from maat.access.policy import read_policy
from maat.access.segments import Segmentation, read_segmentation

SEGMENTS = """
quarantine: quarantine
segments:
  office: {cidrs: [10.20.0.0/16]}
  servers: {cidrs: [10.30.0.0/16]}
  quarantine: {}
flows:
  - {from: office, to: servers, proto: tcp, ports: [445, 8470]}
  - {from: "*", to: servers, proto: udp, ports: [53]}
  - {from: quarantine, to: servers, proto: tcp, ports: [8470]}
  - {from: servers, to: quarantine, proto: tcp, ports: [9000]}
"""


def _segmentation(text: str = SEGMENTS) -> Segmentation:
    seg, problems = read_segmentation(text, source="s.yml")
    assert seg is not None, problems
    return seg


def _chain(ruleset: str, name: str) -> list[str]:
    lines = ruleset.splitlines()
    start = lines.index(f"\tchain {name} {{")
    return lines[start + 2:lines.index("\t}", start)]


def test_a_server_refuses_a_quarantined_office_host_but_for_maat_itself() -> None:
    # The TIDRONE host 10.20.0.5 is quarantined and has flushed its own nftables: without
    # this, the server still accepts it as "office" (SMB 445) and as "*" (DNS).
    ruleset = host_ruleset(_segmentation(), "servers", quarantined=["10.20.0.5", "fd00::5"])
    assert "\tset quarantined {\n\t\ttype ipv4_addr\n\t\telements = { 10.20.0.5 }\n\t}" in ruleset
    assert "elements = { fd00::5 }" in ruleset
    assert _chain(ruleset, "input")[:7] == [
        '\t\tip saddr @quarantined tcp dport { 8470 } accept comment "flows[2] quarantine -> '
        'servers tcp/8470"',
        '\t\tip6 saddr @quarantined_v6 tcp dport { 8470 } accept comment "flows[2] quarantine '
        '-> servers tcp/8470"',
        '\t\tip saddr @quarantined ct state established,related tcp sport { 9000 } accept '
        'comment "flows[3] servers -> quarantine tcp/9000"',
        '\t\tip6 saddr @quarantined_v6 ct state established,related tcp sport { 9000 } accept '
        'comment "flows[3] servers -> quarantine tcp/9000"',
        '\t\tip6 saddr @quarantined_v6 icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } '
        'accept comment "neighbour discovery for the flows above"',
        '\t\tip saddr @quarantined counter log prefix "maat-drop-quarantined " drop',
        '\t\tip6 saddr @quarantined_v6 counter log prefix "maat-drop-quarantined " drop',
    ]
    output = _chain(ruleset, "output")
    assert output[0].startswith("\t\tip daddr @quarantined ct state established,related tcp "
                                "sport { 8470 } accept")  # fmt: skip
    assert output[2].startswith("\t\tip daddr @quarantined tcp dport { 9000 } accept")
    assert output[4].startswith("\t\tip6 daddr @quarantined_v6 icmpv6 type { nd-neighbor-solicit")
    assert output[5] == '\t\tip daddr @quarantined counter log prefix "maat-drop-quarantined " drop'
    assert output[7] == "\t\tct state established,related accept"


def test_a_server_allowed_to_reach_a_quarantined_ipv6_host_can_still_resolve_it() -> None:
    # The EDR flows to and from a quarantined host are what contains it; over IPv6 they need
    # neighbour discovery both ways, which the quarantine's drop used to catch first. The
    # quarantine's own rule passes solicits and adverts only (router adverts come from
    # link-local addresses, which no quarantine set holds: RA guard on the switch stops those).
    ruleset = host_ruleset(_segmentation(), "servers", quarantined=["fd00::5"])
    for chain, way in (("input", "saddr"), ("output", "daddr")):
        rules = _chain(ruleset, chain)
        neighbours = next(i for i, r in enumerate(rules) if "nd-neighbor-solicit" in r)
        drop = next(i for i, r in enumerate(rules) if "maat-drop-quarantined" in r)
        assert neighbours < drop and f"ip6 {way} @quarantined_v6" in rules[neighbours]
        assert "router" not in rules[neighbours]


def test_an_office_peer_refuses_a_quarantined_neighbour_in_both_directions() -> None:
    # No flow names quarantine for an office host: no rule lets the quarantined address in
    # ahead of the drop, not even for neighbour discovery
    six = host_ruleset(_segmentation(), "office", quarantined=["fd00::5"])
    assert "nd-neighbor" not in "".join(_chain(six, "input")[:2])
    assert _chain(six, "input")[0].startswith("\t\tip6 saddr @quarantined_v6 counter")
    ruleset = host_ruleset(_segmentation(), "office", quarantined=["::ffff:10.20.0.5", "junk"])
    assert "elements = { 10.20.0.5 }" in ruleset and "junk" not in ruleset
    assert _chain(ruleset, "input")[0].startswith("\t\tip saddr @quarantined counter")
    assert _chain(ruleset, "output")[0].startswith("\t\tip daddr @quarantined counter")
    # No quarantined host, or no quarantine segment: the ruleset is as before.
    assert "quarantined" not in host_ruleset(_segmentation(), "office")
    plain = _segmentation("segments: {office: {cidrs: [10.20.0.0/16]}}\nflows: []\n")
    assert "quarantined" not in host_ruleset(plain, "office", quarantined=["10.20.0.5"])


@pytest.mark.skipif(not shutil.which("nft"), reason="needs nft (apt-get install nftables)")
@pytest.mark.parametrize("segment", ["servers", "office", "quarantine", None])
def test_rulesets_refusing_quarantined_hosts_are_valid_nft(segment: str | None,
                                                           tmp_path: Path) -> None:  # fmt: skip
    path = tmp_path / "r.nft"
    path.write_text(host_ruleset(_segmentation(), segment, quarantined=["10.20.0.5", "fd00::5"]))
    check = subprocess.run([shutil.which("nft") or "nft", "-c", "-f", str(path)],
                           capture_output=True, text=True, check=False)  # fmt: skip
    if "Operation not permitted" in check.stderr:
        pytest.skip("nft -c needs CAP_NET_ADMIN")
    assert check.returncode == 0, check.stderr


TAIPEI = """
name: plant
timezone: Asia/Taipei
rules:
  - id: vendor-office-hours
    effect: allow
    subjects: {roles: [vendor-support]}
    actions: [read]
    resources: ["erp/*"]
    when:
      - {attr: context.hour, between: [8, 18]}
      - {attr: context.weekday, in: [mon, tue, wed, thu, fri]}
"""


def _read(time: str, policy: str = TAIPEI, **context: object) -> str:
    loaded, problems = read_policy(policy, source="p.yml")
    assert loaded is not None, problems
    request = AccessRequest.from_dict({"subject": {"roles": ["vendor-support"]},
                                       "resource": "erp/orders", "action": "read",
                                       "context": {"time": time, **context}})  # fmt: skip
    return Evaluator(loaded).decide(request).decision


@pytest.mark.parametrize(("time", "expected"), [
    ("2026-11-26T02:00:00Z", "allow"),     # Thu 10:00 in Taipei
    ("2026-11-26T09:59:00Z", "allow"),     # Thu 17:59
    ("2026-11-26T10:00:00Z", "deny"),      # Thu 18:00: office closed
    ("2026-11-26T16:00:00Z", "deny"),      # Fri 00:00, UTC's 16:00 was office hours
    ("2026-11-25T23:30:00Z", "deny"),      # Thu 07:30
    ("2026-11-27T17:00:00Z", "deny"),      # Sat 01:00 in Taipei, Fri 17:00 in UTC
    ("2026-11-26T10:30:00+08:00", "allow"),
])  # fmt: skip
def test_office_hours_are_the_policy_authors_not_utc(time: str, expected: str) -> None:
    # A Taiwanese author writing [8, 18] meant Taipei time; read as UTC, the ERP supplier's
    # support (VENOM) was let in from 16:00 to 02:00 local time.
    assert _read(time) == expected


def test_a_policy_without_a_time_zone_reads_utc() -> None:
    utc = TAIPEI.replace("timezone: Asia/Taipei\n", "")
    assert _read("2026-11-26T16:00:00Z", utc) == "allow"
    assert _read("2026-11-26T02:00:00Z", utc) == "deny"
    assert _read("2026-11-26T16:00:00Z", TAIPEI.replace("Asia/Taipei", "UTC")) == "allow"


def test_a_caller_cannot_claim_office_hours_the_time_contradicts() -> None:
    # context.time is 23:00 in Taipei; "hour: 10" and "weekday: tue" must not win over it.
    assert _read("2026-11-26T15:00:00Z", hour=10, weekday="tue") == "deny"
    request = AccessRequest.from_dict({"resource": "x", "action": "read", "context": {
        "time": "2026-11-26T23:00:00Z", "hour": 10, "weekday": "mon"}})  # fmt: skip
    assert request.attributes["context.hour"] == 23.0
    assert request.attributes["context.weekday"] == "thu"


@pytest.mark.parametrize("zone", ["Mars/Olympus", "asia/taipei", "../../etc/passwd",
                                  "/etc/localtime", "localtime", "zone1970.tab", "8"])  # fmt: skip
def test_an_unknown_time_zone_is_a_located_problem(zone: str) -> None:
    policy, problems = read_policy(TAIPEI.replace("Asia/Taipei", zone), source="p.yml")
    assert policy is None
    assert [(p.location.file, p.location.line, p.location.field) for p in problems] == [
        ("p.yml", 3, "timezone")
    ]


def test_policy_cases_are_decided_in_the_policy_time_zone() -> None:
    policy, _ = read_policy(TAIPEI, source="p.yml")
    cases, problems = read_cases("""cases:
  - name: support at 10:00 Taipei
    request: {subject: {roles: [vendor-support]}, resource: erp/x, action: read,
              context: {time: "2026-11-26T02:00:00Z"}}
    expect: allow
""", source="c.yml")  # fmt: skip
    assert problems == []
    assert [r.decision.decision for r in run_cases(Evaluator(policy), cases)] == ["allow"]


@pytest.mark.parametrize(("value", "words"), [("010", "leading 0"), ("!!bool maybe", "true or false")])
def test_a_policy_case_value_yaml_1_1_would_misread_is_a_located_problem(
    value: str, words: str
) -> None:
    # A test case that read 010 as 10 (YAML 1.1: octal 8) could pass against the wrong rule.
    text = f"""cases:
  - name: risky
    request:
      subject: {{id: alice, roles: [engineer], risk: {value}}}
      device: {{id: ws-eng-01, posture: trusted, segment: engineering}}
      resource: plm/designs/7
      action: read
    expect: deny
"""
    cases, problems = read_cases(text, source="cases.yml")
    assert all(case.request.attributes.get("subject.risk") is None for case in cases)  # no guess
    assert [(p.location.line, p.location.field) for p in problems] == [
        (4, "cases[0].request.subject.risk")
    ]
    assert words in problems[0].message


def test_plain_numbers_and_booleans_in_policy_cases_still_read() -> None:
    text = """cases:
  - name: fine
    request:
      subject: {id: alice, roles: [engineer], risk: 1_000}
      device: {id: ws-eng-01, posture: trusted, segment: engineering, managed: yes}
      resource: plm/designs/7
      action: read
    expect: deny
"""
    cases, problems = read_cases(text, source="cases.yml")
    assert problems == []
    assert cases[0].request.attributes["subject.risk"] == 1000
    assert cases[0].request.attributes["device.managed"] is True

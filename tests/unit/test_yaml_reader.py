"""YAML 1.1 number forms in data files: a located problem each, never a traceback or a guess.

PyYAML resolves ``0x384``, ``0b1``, ``1:30`` (sexagesimal), ``010`` (octal), ``.inf`` and
``.nan`` as numbers; Python's ``float`` reads none of them (a raw ``ValueError`` escaped the
policy loader, so a policy apply crashed instead of naming the line) and YAML 1.2 reads
``010`` as ten where YAML 1.1 reads eight.
"""

from __future__ import annotations

import pytest
import yaml

from maat.access.policy import read_policy
from maat.access.segments import read_segmentation
from maat.vendors.contracts import read_contract
from maat.yaml_reader import YamlReader

POLICY = """\
rules:
  - id: erp
    effect: allow
    actions: [read]
    resources: ["erp/*"]
    mfa_within: {value}
"""


@pytest.mark.parametrize("value", ["0x384", ".inf", "-.inf", ".nan", "1:30", "15:00.5", "0b1",
                                   "010", "!!float nonsense", "!!int 1e3"])  # fmt: skip
def test_an_odd_yaml_number_in_a_policy_is_a_located_problem_not_a_crash(value: str) -> None:
    policy, problems = read_policy(POLICY.format(value=value), source="p.yml")
    assert policy is None
    assert [(p.location.file, p.location.line, p.location.field) for p in problems] == [
        ("p.yml", 6, "rules[0].mfa_within")
    ]


@pytest.mark.parametrize("value", ["0x50", ".nan", "1:30", "010"])
def test_an_odd_yaml_number_in_a_condition_is_a_located_problem(value: str) -> None:
    text = f"""\
rules:
  - effect: deny
    actions: ["*"]
    resources: ["*"]
    when:
      - {{attr: subject.risk, ge: {value}}}
      - {{attr: subject.risk, between: [0, {value}]}}
      - {{attr: subject.risk, in: [{value}]}}
"""
    policy, problems = read_policy(text, source="p.yml")
    assert policy is None
    fields = {(p.location.line, p.location.field) for p in problems}
    assert fields == {(6, "rules[0].when[0].ge"), (7, "rules[0].when[1].between[1]"),
                      (8, "rules[0].when[2].in[0]")}  # fmt: skip


def test_an_octal_looking_number_is_refused_not_silently_read_as_decimal() -> None:
    # YAML 1.1 (PyYAML) says 010 is 8; YAML 1.2 and people say 10: the author must choose.
    _, problems = read_policy(POLICY.format(value="0700"), source="p.yml")
    assert problems and "leading 0" in problems[0].message


def test_a_hex_port_in_a_segmentation_is_a_located_problem() -> None:
    _, problems = read_segmentation(
        "segments: {lab: {cidrs: [10.0.0.0/24]}}\n"
        "flows: [{from: lab, to: lab, proto: tcp, ports: [0x1bb]}]\n",
        source="s.yml",
    )
    assert [(p.location.line, p.location.field) for p in problems] == [(2, "flows[0].ports[0]")]


def test_an_infinite_contract_term_is_a_located_problem() -> None:
    contract, problems = read_contract(
        "vendor: acme\nsigned: 2026-01-01\nterms: {critical_fix_days: .inf}\n", source="c.yml"
    )
    assert contract is None
    assert [(p.location.line, p.location.field) for p in problems] == [
        (3, "terms.critical_fix_days")
    ]


@pytest.mark.parametrize(("text", "value"), [("900", 900.0), ("-1.5", -1.5), ("1_000", 1000.0),
                                             ("0", 0.0), ("-0", 0.0), ("1.", 1.0), (".5", 0.5),
                                             ("00.5", 0.5), ("1.0e+3", 1000.0), ("+12", 12.0)])  # fmt: skip
def test_plain_decimal_numbers_still_read(text: str, value: float) -> None:
    reader = YamlReader("x.yml")
    node = yaml.compose(text)
    assert node is not None
    assert reader.number(node, "n", low=-1e6, high=1e6) == value
    assert reader.problems == []


def test_an_explicit_bool_tag_on_a_non_boolean_is_refused_not_read_as_false() -> None:
    # "present: !!bool maybe" was read as false: a deny on "no MFA" quietly inverted.
    text = """\
rules:
  - effect: deny
    actions: ["*"]
    resources: ["*"]
    when: [{attr: context.mfa_at, present: !!bool maybe}]
"""
    policy, problems = read_policy(text, source="p.yml")
    assert policy is None
    assert [(p.location.line, p.location.field) for p in problems] == [
        (5, "rules[0].when[0].present")
    ]

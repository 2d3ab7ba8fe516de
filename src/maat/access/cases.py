"""Policy tests as YAML cases: a request and the decision (and rules) it must get.

::

    cases:
      - name: an engineer on a trusted laptop reads the PLM
        request:
          subject: {id: alice, roles: [engineer]}
          device: {posture: trusted}
          resource: plm/designs/7
          action: read
          context: {mfa_age: 60}
        expect: allow
        rules: [engineers-read-plm]      # optional: the deciding rules, in order
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from maat.access.evaluator import AccessDecision, AccessRequest, Evaluator
from maat.access.policy import EFFECTS
from maat.errors import InvalidInput, Problem
from maat.yaml_reader import OCTAL_LOOKING, YamlReader, compose

__all__ = ["CaseResult", "PolicyCase", "read_cases", "run_cases"]


@dataclass(frozen=True)
class PolicyCase:
    """One expected decision."""

    name: str
    request: AccessRequest
    expect: str
    rules: tuple[str, ...] | None
    line: int


@dataclass(frozen=True)
class CaseResult:
    """A case and the decision it got."""

    case: PolicyCase
    decision: AccessDecision

    @property
    def passed(self) -> bool:
        """The decision (and, when the case names them, the rules) are as expected."""
        if self.decision.decision != self.case.expect:
            return False
        return self.case.rules is None or self.decision.rules == self.case.rules


def read_cases(text: str, *, source: str) -> tuple[list[PolicyCase], list[Problem]]:
    """The cases in ``text`` and every problem in them (file, line, key path)."""
    root, problems = compose(text, source=source, max_chars=16 * 1024 * 1024, what="cases")
    if root is None:
        return [], problems
    reader = YamlReader(source, max_text=2_000, what="policy cases")
    top = reader.mapping(root, "", ("cases",), ())
    cases: list[PolicyCase] = []
    for index, item in enumerate(reader.sequence(*top["cases"]) or () if top and "cases" in
                                 top else ()):  # fmt: skip
        where = f"cases[{index}]"
        fields = reader.mapping(item, where, ("name", "request", "expect"), ("rules",))
        if fields is None or len(fields) < 3:
            continue
        name = reader.text(*fields["name"])
        expect = reader.text(*fields["expect"])
        if expect is not None and expect not in EFFECTS:
            reader.problem(fields["expect"][0], f"{where}.expect",
                           f"must be one of {', '.join(EFFECTS)}")  # fmt: skip
        rules = tuple(reader.texts(*fields["rules"]) or ()) if "rules" in fields else None
        data = _plain(reader, *fields["request"])
        try:
            request = AccessRequest.from_dict(data, where=f"{where}.request")
        except InvalidInput as exc:
            reader.problem(fields["request"][0], exc.location.field or where, exc.message)
            continue
        if name is not None and expect in EFFECTS:
            cases.append(PolicyCase(name, request, expect, rules, item.start_mark.line + 1))
    return cases, reader.problems


def _plain(reader: YamlReader, node: yaml.Node, path: str) -> Any:
    """A YAML node as JSON-like data (numbers as numbers, booleans as booleans)."""
    if not reader.visit(node, path):
        return None
    if isinstance(node, yaml.MappingNode):
        return {str(k.value): _plain(reader, v, f"{path}.{k.value}") for k, v in node.value}
    if isinstance(node, yaml.SequenceNode):
        return [_plain(reader, v, f"{path}[{i}]") for i, v in enumerate(node.value)]
    tag = node.tag.rsplit(":", 1)[-1]
    text = str(node.value)
    if tag in ("int", "float"):
        plain = text.replace("_", "")
        if tag == "int" and OCTAL_LOOKING.fullmatch(plain):
            # YAML 1.1 reads 010 as 8, Python's int() refuses it and float() says 10:
            # a case must not be judged on a guess.
            reader.problem(node, path, f"{text[:40]!r} has a leading 0, which YAML 1.1 "
                                       "reads as octal: write the number without it")  # fmt: skip
            return None
        for convert in ((lambda t: int(t, 0)) if tag == "int" else float, float):
            try:
                return convert(plain)
            except ValueError:
                continue
        # YAML 1.1 forms Python does not read (9:30 sexagesimal, .nan, .inf): keep the text.
        return text
    if tag == "bool":
        return reader.boolean(node, path)
    if tag == "null":
        return None
    return text


def run_cases(evaluator: Evaluator, cases: list[PolicyCase]) -> list[CaseResult]:
    """Every case's decision under ``evaluator``."""
    return [CaseResult(case, evaluator.decide(case.request)) for case in cases]

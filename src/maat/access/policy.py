"""Access policies as YAML: RBAC targets plus ABAC conditions, loaded into typed rules.

A policy::

    name: plant-access
    timezone: Asia/Taipei        # optional IANA name: context.hour and weekday are local
                                 # time there (default UTC)
    roles:                       # optional hierarchy: a role includes the roles listed
      engineer: [employee]
    rules:
      - id: engineers-read-plm
        effect: allow            # allow | deny | step_up
        subjects: {roles: [engineer]}     # roles, groups, ids or vendors; omitted: anyone
        actions: [read]                   # "*" for every action
        resources: ["plm/*"]              # "*" matches any text, "/" included;
                                          # "/plm" is "plm"; in deny and step_up rules
                                          # (not allow) "plm/*" covers "plm" too
        when:                             # every condition must hold
          - {attr: device.posture, equals: trusted}
          - {attr: context.hour, between: [6, 20]}
        mfa_within: 900          # allow only with MFA at most this many seconds old

Every problem is reported with the file, line and key path in one pass; a policy with any
problem does not load (and :mod:`maat.access.evaluator` denies everything without one).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, tzinfo
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from maat.errors import Problem
from maat.yaml_reader import YamlReader, compose

__all__ = [
    "ATTRIBUTE_ROOTS",
    "EFFECTS",
    "OPERATORS",
    "Condition",
    "Policy",
    "Rule",
    "SubjectTarget",
    "read_policy",
]

Effect = Literal["allow", "deny", "step_up"]
EFFECTS: tuple[Effect, ...] = ("allow", "deny", "step_up")
ATTRIBUTE_ROOTS = ("subject", "device", "resource", "context", "action")
Scalar = str | float | bool

# Operator name → what its value must be.
OPERATORS: dict[str, str] = {
    "equals": "scalar",
    "not_equals": "scalar",
    "in": "list",
    "not_in": "list",
    "contains": "scalar",
    "contains_any": "list",
    "lt": "number",
    "le": "number",
    "gt": "number",
    "ge": "number",
    "between": "range",
    "matches": "text",
    "equals_attr": "path",
    "present": "bool",
}
_RULE_KEYS = ("effect", "actions", "resources")
_RULE_OPTIONAL = ("id", "description", "subjects", "when", "mfa_within")
_SUBJECT_KEYS = ("roles", "groups", "ids", "vendors")
MAX_RULES = 100_000


@dataclass(frozen=True, slots=True)
class Condition:
    """``attr <operator> value``; ``value`` is a scalar, a tuple of scalars, a
    ``(low, high)`` pair for ``between``, or an attribute path for ``equals_attr``."""

    attr: str
    operator: str
    value: Scalar | tuple[Scalar, ...]

    def __str__(self) -> str:
        value = list(self.value) if isinstance(self.value, tuple) else self.value
        return f"{self.attr} {self.operator} {value!r}"


@dataclass(frozen=True, slots=True)
class SubjectTarget:
    """Who a rule is about: any listed role, group, id or vendor matches."""

    roles: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()
    ids: frozenset[str] = frozenset()
    vendors: frozenset[str] = frozenset()

    @property
    def anyone(self) -> bool:
        """True when the rule names no subject (it applies to every subject)."""
        return not (self.roles or self.groups or self.ids or self.vendors)


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule of a policy, in file order (``index``)."""

    id: str
    index: int
    effect: Effect
    actions: frozenset[str]
    resources: tuple[str, ...]
    subjects: SubjectTarget = SubjectTarget()
    when: tuple[Condition, ...] = ()
    mfa_within: float | None = None
    description: str = ""
    line: int | None = None


@dataclass(frozen=True)
class Policy:
    """A loaded policy: its rules in order, the role hierarchy, expanded, and the time zone
    ``context.hour`` and ``context.weekday`` are read in."""

    name: str
    rules: tuple[Rule, ...]
    role_includes: dict[str, frozenset[str]]
    source: str = ""
    timezone: tzinfo = UTC

    def expand_roles(self, roles: frozenset[str]) -> frozenset[str]:
        """``roles`` and every role they include (transitively)."""
        out = set(roles)
        for role in roles:
            out |= self.role_includes.get(role, frozenset())
        return frozenset(out)


def read_policy(text: str, *, source: str) -> tuple[Policy | None, list[Problem]]:
    """The policy in ``text`` and every problem in it (file, line, key path).

    A policy with any problem is not returned: a broken policy must deny, never half-apply.
    """
    root, problems = compose(text, source=source, max_chars=16 * 1024 * 1024, what="policy")
    if root is None:
        return None, problems
    reader = YamlReader(source, max_text=2_000, what="policies")
    top = reader.mapping(root, "", ("rules",), ("name", "timezone", "roles", "version"))
    if top is None:
        return None, reader.problems
    name = reader.text(*top["name"]) if "name" in top else source
    zone = _read_timezone(reader, *top["timezone"]) if "timezone" in top else UTC
    if "version" in top:
        version = reader.number(*top["version"], low=1, high=1)
        del version  # only version 1 exists; the check reports any other
    includes = _read_roles(reader, *top["roles"]) if "roles" in top else {}
    rules: list[Rule] = []
    if "rules" in top:
        node, path = top["rules"]
        if isinstance(node, yaml.SequenceNode) and not node.value:
            pass  # an empty policy loads and denies everything
        else:
            items = reader.sequence(node, path) or []
            if len(items) > MAX_RULES:
                reader.problem(node, path, f"more than {MAX_RULES:,} rules")
                items = []
            rules = _read_rules(reader, items, path)
    if reader.problems or name is None or zone is None:
        return None, reader.problems
    return Policy(name, tuple(rules), includes, source, zone), []


def _read_timezone(reader: YamlReader, node: yaml.Node, path: str) -> tzinfo | None:
    """The IANA time zone ``node`` names (``Asia/Taipei``), from the tz database."""
    name = reader.text(node, path)
    if name is None:
        return None
    if name == "UTC":
        return UTC  # needs no tz database
    # "localtime" is whatever the server is set to: the policy would mean another hour on
    # each machine that decides it.
    if name != "localtime":
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            pass  # not found, not a relative name, or not a TZif file: reported below
    reader.problem(node, path, f"{name[:60]!r} is not an IANA time zone (such as Asia/Taipei "
                               "or UTC) in this server's tz database")  # fmt: skip
    return None


def _read_roles(reader: YamlReader, node: yaml.Node, path: str) -> dict[str, frozenset[str]]:
    if not reader.visit(node, path):
        return {}
    if not isinstance(node, yaml.MappingNode):
        reader.problem(node, path, "must be a mapping of role to the roles it includes")
        return {}
    direct: dict[str, list[str]] = {}
    for key_node, value_node in node.value:
        role = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else ""
        where = f"{path}.{role}"
        if not role:
            reader.problem(key_node, path, "a role name must be text")
            continue
        if role in direct:
            reader.problem(key_node, where, f"duplicate role {role!r}")
        if isinstance(value_node, yaml.SequenceNode) and not value_node.value:
            direct[role] = []
            continue
        direct[role] = reader.texts(value_node, where) or []
    expanded: dict[str, frozenset[str]] = {}
    for role in direct:
        seen: set[str] = set()
        stack = list(direct[role])
        while stack:
            current = stack.pop()
            if current == role:
                reader.problem(node, f"{path}.{role}", f"role {role!r} includes itself")
                break
            if current not in seen:
                seen.add(current)
                stack.extend(direct.get(current, ()))
        expanded[role] = frozenset(seen)
    return expanded


def _read_rules(reader: YamlReader, items: list[yaml.Node], path: str) -> list[Rule]:
    rules: list[Rule] = []
    ids: dict[str, int] = {}
    for index, item in enumerate(items):
        where = f"{path}[{index}]"
        fields = reader.mapping(item, where, _RULE_KEYS, _RULE_OPTIONAL)
        if fields is None or any(key not in fields for key in _RULE_KEYS):
            continue
        rule_id = reader.text(*fields["id"]) if "id" in fields else f"rule-{index + 1}"
        if rule_id is not None and rule_id in ids:
            reader.problem(fields["id"][0], fields["id"][1], f"duplicate rule id {rule_id!r}")
        ids[rule_id or ""] = index
        effect = reader.scalar(*fields["effect"])
        if effect is not None and effect not in EFFECTS:
            reader.problem(fields["effect"][0], fields["effect"][1],
                           f"effect must be one of {', '.join(EFFECTS)}")  # fmt: skip
        actions = reader.texts(*fields["actions"])
        resources = reader.texts(*fields["resources"])
        subjects = _read_subjects(reader, *fields["subjects"]) if "subjects" in fields else None
        when = _read_conditions(reader, *fields["when"]) if "when" in fields else ()
        mfa: float | None = None
        if "mfa_within" in fields:
            mfa = reader.number(*fields["mfa_within"], low=0, high=366 * 86400)
        elif effect == "step_up":
            reader.problem(item, f"{where}.mfa_within", "a step_up rule needs mfa_within")
        description = ""
        if "description" in fields:
            description = reader.text(*fields["description"]) or ""
        if rule_id is None or effect not in EFFECTS or actions is None or resources is None:
            continue
        rules.append(Rule(
            rule_id, index, effect, frozenset(actions), tuple(resources),
            subjects or SubjectTarget(), when, mfa, description, item.start_mark.line + 1,
        ))  # fmt: skip
    return rules


def _read_subjects(reader: YamlReader, node: yaml.Node, path: str) -> SubjectTarget | None:
    fields = reader.mapping(node, path, (), _SUBJECT_KEYS)
    if fields is None:
        return None
    if not fields:
        reader.problem(node, path, f"name at least one of {', '.join(_SUBJECT_KEYS)}")
        return None
    values = {key: frozenset(reader.texts(*fields[key]) or ()) for key in fields}
    return SubjectTarget(**values)


def _read_conditions(reader: YamlReader, node: yaml.Node, path: str) -> tuple[Condition, ...]:
    out: list[Condition] = []
    for index, item in enumerate(reader.sequence(node, path) or ()):
        where = f"{path}[{index}]"
        fields = reader.mapping(item, where, ("attr",), tuple(OPERATORS))
        if fields is None or "attr" not in fields:
            continue
        attr = reader.text(*fields["attr"])
        if attr is not None and not _valid_path(attr):
            reader.problem(fields["attr"][0], fields["attr"][1],
                           f"an attribute path starts with one of {', '.join(ATTRIBUTE_ROOTS)}"
                           " (e.g. device.posture)")  # fmt: skip
            attr = None
        operators = [key for key in fields if key != "attr"]
        if len(operators) != 1:
            reader.problem(item, where, "give exactly one operator: " + ", ".join(OPERATORS))
            continue
        operator = operators[0]
        value = _operand(reader, OPERATORS[operator], *fields[operator])
        if attr is not None and value is not None:
            out.append(Condition(attr, operator, value))
    return tuple(out)


def _valid_path(path: str) -> bool:
    parts = path.split(".")
    if parts[0] not in ATTRIBUTE_ROOTS or any(not p for p in parts):
        return False
    return len(parts) == 1 if parts[0] == "action" else len(parts) >= 2


def _operand(
    reader: YamlReader, kind: str, node: yaml.Node, path: str
) -> Scalar | tuple[Scalar, ...] | None:
    if kind == "list":
        items = reader.sequence(node, path)
        if items is None:
            return None
        values = [_scalar(reader, item, f"{path}[{i}]") for i, item in enumerate(items)]
        return None if any(v is None for v in values) else tuple(v for v in values if v is not None)
    if kind == "range":
        items = reader.sequence(node, path)
        if items is None:
            return None
        if len(items) != 2:
            reader.problem(node, path, "between takes [low, high]")
            return None
        low = reader.number(items[0], f"{path}[0]", low=-1e18, high=1e18)
        high = reader.number(items[1], f"{path}[1]", low=-1e18, high=1e18)
        if low is None or high is None:
            return None
        if low >= high:
            reader.problem(node, path, "between's low must be below its high")
            return None
        return (low, high)
    if kind == "number":
        return reader.number(node, path, low=-1e18, high=1e18)
    value = _scalar(reader, node, path)
    if value is None:
        return None
    if kind == "bool" and not isinstance(value, bool):
        reader.problem(node, path, "must be true or false")
        return None
    if kind in ("text", "path") and not isinstance(value, str):
        reader.problem(node, path, "must be text")
        return None
    if kind == "path" and isinstance(value, str) and not _valid_path(value):
        reader.problem(node, path, "must be an attribute path such as subject.id")
        return None
    return value


def _scalar(reader: YamlReader, node: yaml.Node, path: str) -> Scalar | None:
    """A YAML scalar with its type: numbers become floats, booleans bools, the rest text."""
    text = reader.scalar(node, path)
    if text is None:
        return None
    tag = node.tag.rsplit(":", 1)[-1]
    if tag in ("int", "float") and isinstance(node, yaml.ScalarNode):
        return reader.decimal(node, path)
    if tag == "bool":
        return reader.boolean(node, path)
    return text

"""Reading execution policies from YAML: located problems, all of them in one pass, and lint.

The model, :func:`~maat.signing.policy.decide` and the canonical form live in
:mod:`maat.signing.policy`, which re-exports :func:`read_policy`, :func:`load_policy` and
:func:`lint_policies`; import them from there.

The YAML is composed, never constructed (PyYAML's safe composer): each node is checked for
plain tags and no aliases, mappings for unknown, duplicate and missing keys, and every
problem is reported with the file, the line and the key path (``rules[2].allow_publisher.subjct``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import yaml
from packaging.version import InvalidVersion, Version

from maat.errors import InvalidInput, Problem

_STD_TAG = "tag:yaml.org,2002:"
_PLAIN_TAGS = frozenset({"str", "int", "float", "bool", "null", "seq", "map"})
_WRITABLE = ("/users/", "/temp/", "/tmp/", "/appdata/", "/downloads/", "/programdata/")  # noqa: S108


class _Reader:
    """Walks a composed YAML tree, converting nodes and collecting located problems."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[Problem] = []
        self.seen: set[int] = set()

    def problem(self, node: yaml.Node | None, path: str, message: str) -> None:
        line = node.start_mark.line + 1 if node is not None else None
        self.problems.append(Problem.at(message, file=self.source, line=line, field=path or None))

    def visit(self, node: yaml.Node, path: str) -> bool:
        if id(node) in self.seen:
            self.problem(node, path, "YAML aliases (*name) are not allowed in policies")
            return False
        self.seen.add(id(node))
        if node.tag.removeprefix(_STD_TAG) not in _PLAIN_TAGS:
            self.problem(node, path, f"unsupported YAML tag {node.tag[:40]!r}")
            return False
        return True

    def mapping(
        self, node: yaml.Node, path: str, required: Sequence[str], optional: Sequence[str]
    ) -> dict[str, tuple[yaml.Node, str]] | None:
        """Keys to ``(value node, key path)``; unknown, duplicate and missing keys reported."""
        if not self.visit(node, path):
            return None
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, path, "must be a mapping")
            return None
        out: dict[str, tuple[yaml.Node, str]] = {}
        allowed = [*required, *optional]
        for key_node, value_node in node.value:
            key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "?"
            where = f"{path}.{key}" if path else key
            if key in out:
                self.problem(key_node, where, f"duplicate key {key!r}")
            elif key not in allowed:
                self.problem(
                    key_node,
                    where,
                    f"unknown key {key[:40]!r}; expected one of {', '.join(allowed)}",
                )
            else:
                out[key] = (value_node, where)
        for key in required:
            if key not in out:
                self.problem(node, f"{path}.{key}" if path else key, f"missing key {key!r}")
        return out

    def text(self, node: yaml.Node, path: str) -> str | None:
        if not self.visit(node, path):
            return None
        if not isinstance(node, yaml.ScalarNode) or node.tag == _STD_TAG + "null":
            self.problem(node, path, "must be a text value")
            return None
        value = str(node.value)
        if not value.strip() or len(value) > MAX_TEXT:
            self.problem(node, path, f"must be 1 to {MAX_TEXT} characters")
            return None
        return value

    def texts(self, node: yaml.Node, path: str) -> list[str] | None:
        if not self.visit(node, path):
            return None
        if not isinstance(node, yaml.SequenceNode) or not node.value:
            self.problem(node, path, "must be a non-empty list")
            return None
        items = [self.text(item, f"{path}[{i}]") for i, item in enumerate(node.value)]
        return None if None in items else [i for i in items if i is not None]


def _read_rule(reader: _Reader, node: yaml.Node, path: str) -> Rule | None:
    if not isinstance(node, yaml.MappingNode) or len(node.value) != 1:
        reader.problem(node, path, f"a rule is a mapping with one key: {', '.join(_RULES)}")
        return None
    before = len(reader.problems)
    top = reader.mapping(node, path, (), tuple(_RULES))
    if not top:
        return None
    ((kind, (body, where)),) = top.items()
    cls = _RULES[kind]
    fields = [n for n in cls.__dataclass_fields__ if n != "label"]
    required = [n for n in fields if n in ("subject", "sha256", "glob")]
    raw = reader.mapping(
        body, where, required, [*(n for n in fields if n not in required), "label"]
    )
    if raw is None or any(n not in raw for n in required):
        return None
    values: dict[str, Any] = {}
    for name, (value_node, field_path) in raw.items():
        if name == "sha256":
            digests = reader.texts(value_node, field_path) or []
            values[name] = tuple(d.lower().removeprefix("sha256:") for d in digests)
            for i, digest in enumerate(values[name]):
                if not _HEX64.fullmatch(digest):
                    reader.problem(
                        value_node.value[i],
                        f"{field_path}[{i}]",
                        "must be a SHA-256 digest (64 hex characters)",
                    )
            continue
        values[name] = reader.text(value_node, field_path)
        if values[name] is None:
            continue
        if name in ("subject", "issuer") and "=" in values[name] and not dn_pairs(values[name]):
            reader.problem(value_node, field_path, f"{values[name]!r} is not a valid DN")
        if name == "min_version":
            try:
                Version(values[name])
            except InvalidVersion:
                reader.problem(value_node, field_path, f"{values[name]!r} is not a version")
    if len(reader.problems) > before or None in values.values():
        return None
    return cls(**values)


def read_policy(text: str, *, source: str) -> tuple[ExecPolicy | None, list[Problem]]:
    """Parse one policy: the policy (``None`` when unusable) and every problem found.

    1. Size limit, then YAML syntax (PyYAML's safe composer; no objects are constructed).
    2. The top level: name, version, mode, host_groups, rules, description; nothing else.
    3. Each rule: one kind key, its fields only, each value checked.
    """
    reader = _Reader(source)
    if len(text) > MAX_POLICY_TEXT:
        return None, [
            Problem.at(f"policy is larger than {MAX_POLICY_TEXT} characters", file=source)
        ]
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        return None, [Problem.at(f"not valid YAML: {problem}", file=source, line=line)]
    if root is None:
        return None, [Problem.at("policy is empty", file=source)]
    top = reader.mapping(
        root, "", ("name", "version", "mode", "host_groups", "rules"), ("description",)
    )
    if top is None:
        return None, reader.problems
    values: dict[str, Any] = {}
    for key in ("name", "mode", "description"):
        if key in top:
            values[key] = reader.text(*top[key])
    if values.get("mode") not in (None, "audit", "enforce"):
        reader.problem(top["mode"][0], "mode", "must be 'audit' or 'enforce'")
    if "version" in top:
        node = top["version"][0]
        if not (
            isinstance(node, yaml.ScalarNode)
            and node.tag == _STD_TAG + "int"
            and node.value.isdigit()
            and 0 < int(node.value) < 2**31
        ):
            reader.problem(node, "version", "must be a whole number from 1")
        else:
            values["version"] = int(node.value)
    if "host_groups" in top:
        values["host_groups"] = reader.texts(*top["host_groups"])
    rules: list[Rule | None] = []
    if "rules" in top:
        node, _ = top["rules"]
        if not isinstance(node, yaml.SequenceNode):
            reader.problem(node, "rules", "must be a list")
        else:
            rules = [_read_rule(reader, item, f"rules[{i}]") for i, item in enumerate(node.value)]
    if reader.problems:
        return None, reader.problems
    kept = tuple(r for r in rules if r is not None)
    groups, description = tuple(values["host_groups"]), values.get("description") or ""
    return ExecPolicy(
        values["name"], values["version"], values["mode"], kept, groups, description
    ), []


def load_policy(text: str, *, source: str) -> ExecPolicy:
    """Load one policy; raise :class:`InvalidInput` at the first problem (telling the count)."""
    policy, problems = read_policy(text, source=source)
    if problems:
        first = problems[0]
        more = f" (and {len(problems) - 1} more problem(s); run lint)" if len(problems) > 1 else ""
        where = first.location
        raise InvalidInput(
            first.message + more, file=where.file, line=where.line, field=where.field
        )
    assert policy is not None
    return policy


def lint_policies(items: Iterable[tuple[str, str]]) -> list[Problem]:
    """Every problem of every ``(source, text)`` policy, plus warnings, in one pass."""
    problems: list[Problem] = []
    seen: dict[tuple[str, int], str] = {}
    for source, text in items:
        policy, found = read_policy(text, source=source)
        problems += found
        if policy is None:
            continue
        key = (policy.name, policy.version)
        if key in seen:
            problems.append(
                Problem.at(
                    f"policy {policy.name!r} version {policy.version} is "
                    f"also defined in {seen[key]}",
                    file=source,
                )
            )
        seen.setdefault(key, source)
        problems += _warnings(policy, source)
    return problems


def _warnings(policy: ExecPolicy, source: str) -> list[Problem]:
    out: list[Problem] = []

    def warn(message: str, where: str) -> None:
        out.append(Problem.at(f"warning: {message}", file=source, field=where))

    if not policy.rules:
        warn("no rules, so every file is blocked", "rules")
    denied = {h for r in policy.rules if isinstance(r, DenyHash) for h in r.sha256}
    for index, rule in enumerate(policy.rules):
        where = f"rules[{index}].{rule.kind}"
        if isinstance(rule, AllowPath):
            glob = _norm_path(rule.glob).casefold()
            if glob[:1] in ("*", "?") or any(w in glob + "/" for w in _WRITABLE):
                warn(
                    f"allow_path {rule.glob!r} covers folders users can write to; "
                    "prefer allow_publisher or allow_hash",
                    where,
                )
        elif isinstance(rule, AllowHash) and denied & set(rule.sha256):
            warn("a hash here is also denied; deny wins", where)
        elif isinstance(rule, AllowPublisher) and rule.issuer is None:
            warn(
                f"allow_publisher {rule.subject!r} has no issuer; any trusted CA can issue "
                "that name",
                where,
            )
    return out


# The model is imported last: maat.signing.policy re-exports this module's functions from its
# own end, so either module can be imported first without a circular-import failure.
from maat.signing.policy import (  # noqa: E402
    _HEX64,
    _RULES,
    MAX_POLICY_TEXT,
    MAX_TEXT,
    AllowHash,
    AllowPath,
    AllowPublisher,
    DenyHash,
    ExecPolicy,
    Rule,
    _norm_path,
    dn_pairs,
)

"""Reading execution policies from YAML: located problems, all of them in one pass, and lint.

The model, :func:`~maat.signing.policy.decide` and the canonical form live in
:mod:`maat.signing.policy`, which re-exports :func:`read_policy`, :func:`load_policy` and
:func:`lint_policies`; import them from there.

The YAML is composed, never constructed (PyYAML's safe composer): each node is checked for
plain tags and no aliases, mappings for unknown, duplicate and missing keys, and every
problem is reported with the file, the line and the key path (``rules[2].allow_publisher.subjct``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml
from packaging.version import InvalidVersion, Version

from maat.errors import InvalidInput, Problem
from maat.yaml_reader import YamlReader, compose

_WRITABLE = ("/users/", "/temp/", "/tmp/", "/appdata/", "/downloads/", "/programdata/")  # noqa: S108


def _read_rule(reader: YamlReader, node: yaml.Node, path: str) -> Rule | None:
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
        if name == "in_sbom":
            values[name] = _flag(reader, value_node, field_path)
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


def _flag(reader: YamlReader, node: yaml.Node, path: str) -> bool | None:
    return reader.boolean(node, path)


def read_policy(text: str, *, source: str) -> tuple[ExecPolicy | None, list[Problem]]:
    """Parse one policy: the policy (``None`` when unusable) and every problem found.

    1. Size limit, then YAML syntax (PyYAML's safe composer; no objects are constructed).
    2. The top level: name, version, mode, host_groups, rules, description; nothing else.
    3. Each rule: one kind key, its fields only, each value checked.
    """
    reader = YamlReader(source, max_text=MAX_TEXT, what="policies")
    root, problems = compose(text, source=source, max_chars=MAX_POLICY_TEXT, what="policy")
    if root is None:
        return None, problems
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
            and node.tag == "tag:yaml.org,2002:int"
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

"""The execution policy as data: which binaries may run on which host groups.

The AppLocker / Gatekeeper idea, written in YAML and loaded into typed, frozen objects::

    name: erp-workstations
    version: 3
    mode: enforce            # or audit: decide, report would_block, but let it run
    host_groups: [engineering, finance]   # "*" means every group
    rules:                   # evaluated in order; deny rules win over allow rules
      - deny_hash: {sha256: [9f86d0…]}
      - deny_publisher: {subject: "CN=Evil Corp", issuer: "CN=Some CA"}
      - allow_publisher: {subject: "CN=Acme ERP Code Signing,O=Acme Software,C=TW",
                          issuer: "CN=Maat Test Code Signing CA,O=Maat Test",
                          product: Acme ERP, min_version: "7.0"}
      - allow_hash: {sha256: [2cf24d…], label: legacy installer}
      - allow_path: {glob: "C:/Windows/System32/**"}   # weak: see below

``subject`` / ``issuer`` match either a full DN (when the text contains ``=``; attribute
order, case and spacing do not matter) or, without ``=``, the certificate's CN alone.
Path rules are **weak**: anyone who can write into an allowed directory can run code, and
8.3 short names, hard links and junctions all defeat path matching. Use them only for
operating-system binaries in directories ordinary users cannot write; a bad or revoked
signature never runs by path. :func:`lint_policies` warns about broad path rules.

Unknown keys, duplicate keys, wrong types and bad values are reported with the file, the line
and the key path (``rules[2].allow_publisher.subjct``), all of them in one pass.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import yaml
from packaging.version import InvalidVersion, Version

from maat.core.decision import Decision
from maat.errors import InvalidInput, Problem

# fmt: off
__all__ = [
    "AllowHash", "AllowPath", "AllowPublisher", "DenyHash", "DenyPath", "DenyPublisher",
    "ExecDecision", "ExecPolicy", "Rule", "Sighting", "decide", "lint_policies", "load_policy",
    "policy_digest", "policy_to_dict",
]
# fmt: on

Mode = Literal["audit", "enforce"]
Action = Literal["run", "block"]
MAX_POLICY_TEXT = 1_000_000
MAX_TEXT = 1_000
_HEX64 = re.compile(r"[0-9a-f]{64}")
_WINDOWS = re.compile(r"^([a-z]:[\\/]|\\\\|//)", re.IGNORECASE)
_STD_TAG = "tag:yaml.org,2002:"
_PLAIN_TAGS = frozenset({"str", "int", "float", "bool", "null", "seq", "map"})
_DN_TOKEN = re.compile(r"(\\[0-9a-fA-F]{2}|\\.)|(.)", re.DOTALL)
_WRITABLE = ("/users/", "/temp/", "/tmp/", "/appdata/", "/downloads/", "/programdata/")  # noqa: S108


@dataclass(frozen=True, slots=True)
class AllowPublisher:
    """Run files validly signed (not revoked) by this subject, optionally issuer/product/version."""

    subject: str
    issuer: str | None = None
    product: str | None = None
    min_version: str | None = None
    label: str | None = None
    kind = "allow_publisher"


@dataclass(frozen=True, slots=True)
class DenyPublisher:
    """Block files whose signer is this subject (and issuer), valid signature or not."""

    subject: str
    issuer: str | None = None
    label: str | None = None
    kind = "deny_publisher"


@dataclass(frozen=True, slots=True)
class _HashRule:
    sha256: tuple[str, ...]
    label: str | None = None


@dataclass(frozen=True, slots=True)
class _PathRule:
    glob: str
    label: str | None = None


class AllowHash(_HashRule):
    """Run files with one of these SHA-256 digests."""

    kind = "allow_hash"


class DenyHash(_HashRule):
    """Block files with one of these SHA-256 digests."""

    kind = "deny_hash"


class AllowPath(_PathRule):
    """Run files whose path matches ``glob`` (weak: for OS binaries only)."""

    kind = "allow_path"


class DenyPath(_PathRule):
    """Block files whose path matches ``glob``."""

    kind = "deny_path"


Rule = AllowPublisher | DenyPublisher | AllowHash | DenyHash | AllowPath | DenyPath
_RULES: dict[str, type[Rule]] = {
    c.kind: c for c in (AllowPublisher, DenyPublisher, AllowHash, DenyHash, AllowPath, DenyPath)
}
_DENY = (DenyHash, DenyPublisher, DenyPath)


@dataclass(frozen=True, slots=True)
class ExecPolicy:
    """One version of an execution policy."""

    name: str
    version: int
    mode: Mode
    rules: tuple[Rule, ...]
    host_groups: tuple[str, ...]
    description: str = ""

    def applies_to(self, host_group: str) -> bool:
        """Whether the policy covers ``host_group`` (``*`` covers every group)."""
        return host_group in self.host_groups or "*" in self.host_groups


@dataclass(frozen=True, slots=True)
class Sighting:
    """A binary about to run (or seen running) on a host, with its verified signature facts."""

    sha256: str
    path: str
    signer_subject: str | None
    signer_issuer: str | None
    signature_valid: bool
    revoked: bool
    product: str | None
    version: str | None
    host_group: str

    def __post_init__(self) -> None:
        digest = self.sha256.lower().removeprefix("sha256:")
        if not _HEX64.fullmatch(digest):
            raise InvalidInput("sighting sha256 must be 64 hex characters", field="sha256")
        object.__setattr__(self, "sha256", digest)


@dataclass(frozen=True, slots=True)
class ExecDecision:
    """Run or block, the rule and policy that decided, and why. ``would_block`` reports audit."""

    action: Action
    would_block: bool
    rule: Rule | None
    rule_index: int | None
    policy_name: str | None
    policy_version: int | None
    reasons: tuple[str, ...]
    mode: Mode | None = None

    def to_decision(self) -> Decision:
        """The generic allow/deny form."""
        subject = f"{self.policy_name} v{self.policy_version}" if self.policy_name else ""
        return Decision(self.action == "run", self.reasons, subject)


# --- names and paths --------------------------------------------------------------------------

_EMAIL = "1.2.840.113549.1.9.1"
_ALIASES = {"E": _EMAIL, "EMAILADDRESS": _EMAIL, "S": "ST", "SERIALNUMBER": "2.5.4.5"}


def _norm_value(value: str) -> str:
    return " ".join(value.split()).casefold()


def dn_pairs(text: str) -> tuple[tuple[str, str], ...] | None:
    """A DN's attributes as sorted ``(TYPE, value)`` pairs (RFC 4514 escapes resolved)."""
    pairs: list[tuple[str, str]] = []
    # An escaped character (``\\,`` or ``\\2C``) becomes ("\\", c): never a separator.
    tokens = [(m[1], m[1][-1]) if m[1] else ("", m[2]) for m in _DN_TOKEN.finditer(text)]
    parts: list[list[tuple[str, str]]] = [[]]
    for escape, char in (_unhex(t) for t in tokens):
        if not escape and char in ",+":
            parts.append([])
        else:
            parts[-1].append((escape, char))
    for part in parts:
        split = next((i for i, (esc, c) in enumerate(part) if not esc and c == "="), None)
        if split is None:
            return None
        kind = "".join(c for _, c in part[:split]).strip().upper()
        value = "".join(c for _, c in part[split + 1 :])
        if not kind or not value.strip():
            return None
        pairs.append((_ALIASES.get(kind, kind), _norm_value(value)))
    return tuple(sorted(pairs))


def _unhex(token: tuple[str, str]) -> tuple[str, str]:
    escape, _ = token
    return (escape, chr(int(escape[1:], 16))) if len(escape) == 3 else token


def name_matches(pattern: str, name: str | None) -> bool:
    """Whether DN ``name`` matches ``pattern`` (a full DN, or a CN when it has no ``=``)."""
    if name is None:
        return False
    have = dn_pairs(name)
    if have is None:
        return False
    if "=" in pattern:
        return dn_pairs(pattern) == have
    return any(k == "CN" and v == _norm_value(pattern) for k, v in have)


def _norm_path(path: str) -> str:
    windows = bool(_WINDOWS.match(path)) or "\\" in path
    text = path.replace("\\", "/")
    lead = "//" if text.startswith("//") else ""
    text = lead + posixpath.normpath(text.lstrip("/") if lead else text)
    if not windows:
        return text
    segments = [s if s in (".", "..") else s.rstrip(". ") for s in text.split("/")]
    return "/".join(segments).casefold()


@lru_cache(maxsize=4096)
def _glob_regex(glob: str) -> re.Pattern[str]:
    text, out, i = _norm_path(glob), [], 0
    while i < len(text):
        if text.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif text.startswith("**", i):
            out.append(".*")
            i += 2
        else:
            out.append({"*": "[^/]*", "?": "[^/]"}.get(text[i], re.escape(text[i])))
            i += 1
    return re.compile("".join(out), re.DOTALL)


def path_matches(glob: str, path: str) -> bool:
    """Whether ``path`` matches ``glob`` (``*`` within a folder, ``**`` across folders).

    Both are normalised (``\\`` → ``/``, ``.``/``..`` resolved); Windows paths also lose
    trailing dots and spaces per segment and compare case-insensitively, as Win32 does.
    """
    return _glob_regex(glob).fullmatch(_norm_path(path)) is not None


# --- decide -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Outcome:
    block: bool
    rule: Rule | None
    index: int | None
    policy: ExecPolicy | None
    reasons: tuple[str, ...]


def _describe(rule: Rule, index: int, policy: ExecPolicy) -> str:
    label = f" ({rule.label})" if rule.label else ""
    return f"{policy.name} v{policy.version} rules[{index}] {rule.kind}{label}"


def _publisher_ok(rule: AllowPublisher, s: Sighting) -> tuple[bool, str | None]:
    """Whether an allow_publisher rule admits ``s``; a note when it matched but refused."""
    if not name_matches(rule.subject, s.signer_subject):
        return False, None
    if rule.issuer is not None and not name_matches(rule.issuer, s.signer_issuer):
        return False, None
    if s.revoked:
        return False, "the signer matches but its certificate is revoked"
    if not s.signature_valid:
        return False, "the signer matches but the signature is not valid"
    if rule.product is not None and (s.product or "").casefold() != rule.product.casefold():
        return False, f"the signer matches but the product is {s.product!r}, not {rule.product!r}"
    if rule.min_version is not None:
        try:
            if s.version is None or Version(s.version) < Version(rule.min_version):
                return False, f"version {s.version!r} is below the minimum {rule.min_version}"
        except InvalidVersion:
            return False, f"version {s.version!r} cannot be compared with {rule.min_version}"
    return True, None


def _matches(rule: Rule, s: Sighting) -> tuple[bool, str | None]:
    if isinstance(rule, DenyHash | AllowHash):
        return s.sha256 in rule.sha256, None
    if isinstance(rule, DenyPublisher):
        issuer_ok = rule.issuer is None or name_matches(rule.issuer, s.signer_issuer)
        return name_matches(rule.subject, s.signer_subject) and issuer_ok, None
    if isinstance(rule, DenyPath):
        return path_matches(rule.glob, s.path), None
    if isinstance(rule, AllowPath):
        if not path_matches(rule.glob, s.path):
            return False, None
        if s.revoked or (s.signer_subject is not None and not s.signature_valid):
            return False, "the path matches but the file's signature is bad or revoked"
        return True, None
    return _publisher_ok(rule, s)


def _evaluate(policies: Sequence[ExecPolicy], s: Sighting) -> _Outcome:
    ordered = [(p, i, r) for p in policies for i, r in enumerate(p.rules)]
    for policy, index, rule in ordered:  # step 2: deny rules win
        if isinstance(rule, _DENY) and _matches(rule, s)[0]:
            return _Outcome(
                True, rule, index, policy, (f"denied by {_describe(rule, index, policy)}",)
            )
    notes: list[str] = []
    for policy, index, rule in ordered:  # step 3: the first allow rule that admits the file
        if isinstance(rule, _DENY):
            continue
        admitted, note = _matches(rule, s)
        if admitted:
            return _Outcome(
                False, rule, index, policy, (f"allowed by {_describe(rule, index, policy)}",)
            )
        if note:
            notes.append(f"{_describe(rule, index, policy)}: {note}")
    return _Outcome(True, None, None, None, ("no allow rule matches (fail closed)", *notes))


def decide(policies: Sequence[ExecPolicy], sighting: Sighting) -> ExecDecision:
    """Run or block ``sighting`` under the policies for its host group.

    1. Take the policies covering the sighting's host group; none → block ("no policy").
    2. Deny rules (hash, publisher, path) of those policies, in order: the first match blocks.
    3. Allow rules, in order: the first that admits the file runs it. allow_publisher needs a
       valid, unrevoked signature; allow_path refuses files with a bad or revoked signature;
       allow_hash is an explicit pin of one file's content and applies whatever its signature.
    4. No allow rule admits the file → block (fail closed).
    5. Only enforce-mode policies decide the action; ``would_block`` says whether the file
       would be blocked were the audit-mode policies enforced too. With audit-mode policies
       only, the file runs and ``would_block`` and the reasons tell what enforcement would do.
    """
    applicable = [p for p in policies if p.applies_to(sighting.host_group)]
    if not applicable:
        why = f"no policy for host group {sighting.host_group!r}"
        return ExecDecision("block", True, None, None, None, None, (why,))
    full = _evaluate(applicable, sighting)
    enforced = [p for p in applicable if p.mode == "enforce"]
    if not enforced:
        verb = "would block" if full.block else "would run"
        reasons = tuple(f"audit mode, {verb}: {r}" for r in full.reasons)
        return _decision("run", full, applicable[0], reasons, full.block, "audit")
    actual = _evaluate(enforced, sighting)
    reasons = actual.reasons
    if full.block and not actual.block:
        reasons += tuple(f"audit policy would block: {r}" for r in full.reasons)
    action: Action = "block" if actual.block else "run"
    return _decision(action, actual, enforced[0], reasons, full.block, "enforce")


def _decision(
    action: Action,
    o: _Outcome,
    fallback: ExecPolicy,
    reasons: tuple[str, ...],
    would: bool,
    mode: Mode,
) -> ExecDecision:
    policy = o.policy or fallback
    return ExecDecision(action, would, o.rule, o.index, policy.name, policy.version, reasons, mode)


# --- canonical form ---------------------------------------------------------------------------


def policy_to_dict(policy: ExecPolicy) -> dict[str, Any]:
    """The policy as JSON-ready data (rule order kept, absent optional fields left out)."""
    rules: list[dict[str, Any]] = []
    for rule in policy.rules:
        fields = {
            name: list(value) if isinstance(value, tuple) else value
            for name in rule.__dataclass_fields__
            if (value := getattr(rule, name)) is not None
        }
        rules.append({rule.kind: fields})
    return {"name": policy.name, "version": policy.version, "mode": policy.mode,
            "host_groups": list(policy.host_groups), "description": policy.description,
            "rules": rules}  # fmt: skip


def policy_digest(policy: ExecPolicy) -> str:
    """``sha256:<hex>`` of the policy's canonical JSON (sorted keys, no spaces, UTF-8)."""
    canonical = json.dumps(
        policy_to_dict(policy), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")
    return "sha256:" + hashlib.sha256(canonical).hexdigest()


# --- loading ----------------------------------------------------------------------------------


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

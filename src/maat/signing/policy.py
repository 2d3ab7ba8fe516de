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
                          product: Acme ERP, min_version: "7.0", in_sbom: true}
      - allow_hash: {sha256: [2cf24d…], label: legacy installer}
      - allow_path: {glob: "C:/Windows/System32/**"}   # weak: see below

``subject`` / ``issuer`` match either a full DN (when the text contains ``=``; attribute
order, case and spacing do not matter) or, without ``=``, the certificate's CN alone.
Path rules are **weak**: anyone who can write into an allowed directory can run code, and
8.3 short names, hard links and junctions all defeat path matching. Use them only for
operating-system binaries in directories ordinary users cannot write; a bad or revoked
signature never runs by path. :func:`lint_policies` warns about broad path rules.

Unknown keys, duplicate keys, wrong types and bad values are reported with the file, the line
and the key path (``rules[2].allow_publisher.subjct``), all of them in one pass: the YAML
reading and lint live in :mod:`maat.signing.policy_yaml` and are re-exported here.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from packaging.version import InvalidVersion, Version

from maat.core.decision import Decision
from maat.errors import InvalidInput

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
_UNPLACED = "\0unplaceable"  # _norm_path's answer for a device path: no glob can match a NUL
_DN_TOKEN = re.compile(r"(\\[0-9a-fA-F]{2}|\\.)|(.)", re.DOTALL)
# Win32 and NT device-path prefixes before a drive letter or UNC/ name the same file as the
# plain path: rules must see the plain path, or a deny_path rule is evaded by writing the path
# another way. //?/, //./, /??/, /GLOBAL??/ and /DosDevices/ (either slash) all reach the
# DOS-device directory, as do GLOBALROOT (the object manager's root) followed by one of them,
# and that directory's own "Global" link, any number of times.
_DOS_DEVICES = r"(?:[\\/]{2}[?.]|[\\/](?:\?\?|global\?\?|dosdevices))"
_DEVICE_PREFIX = re.compile(
    rf"^{_DOS_DEVICES}(?:[\\/]global(?=[\\/])|[\\/]globalroot{_DOS_DEVICES})*"
    r"[\\/](?:(unc)[\\/]|(?=[a-z]:))",
    re.IGNORECASE,
)
# What is left in the device namespace after that names a volume or device, whose drive letter
# (if any) only the host knows: a path rule cannot place it.
# /device/ only with a backslash: a POSIX host may have a folder of that name.
_UNPLACEABLE = re.compile(rf"^(?:{_DOS_DEVICES}|\\device)(?:[\\/]|$)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class AllowPublisher:
    """Run files validly signed (not revoked) by this subject, optionally issuer/product/version."""

    subject: str
    issuer: str | None = None
    product: str | None = None
    min_version: str | None = None
    in_sbom: bool | None = None
    """``true``: the file must also be listed (by SHA-256) in an SBOM of its product, so a
    validly signed file that the vendor's build did not declare (a trojanised update) is
    refused."""
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
    in_sbom: bool | None = None
    """Whether an SBOM of the file's product lists its SHA-256 (``None``: no SBOM known)."""

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
    path = _DEVICE_PREFIX.sub(lambda m: "//" if m[1] else "", path, count=1)
    if _UNPLACEABLE.match(path):
        return _UNPLACED
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

    Both are normalised (``\\`` → ``/``, ``.``/``..`` resolved, the device prefixes
    ``//?/``, ``//./``, ``/??/``, ``/GLOBAL??/``, ``/DosDevices/`` and their GLOBALROOT and
    Global detours removed, ``//?/UNC/`` read as ``//``); Windows paths also lose trailing dots
    and spaces per segment and compare case-insensitively, as Win32 does. A path naming a
    volume or device (``//?/Volume{…}/``, ``/Device/…``) matches no glob: see
    :func:`path_unplaceable`.
    """
    normal = _norm_path(path)
    return normal != _UNPLACED and _glob_regex(glob).fullmatch(normal) is not None


def path_unplaceable(path: str) -> bool:
    """Whether ``path`` names its volume by device (``//?/Volume{…}/``, ``/Device/…``).

    Which drive that is only the host knows, so no glob can say whether the file is inside a
    folder: deny_path rules deny such a path (fail closed) and allow_path rules never admit it.
    """
    return _norm_path(path) == _UNPLACED


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
    if rule.in_sbom and not s.in_sbom:
        why = "no SBOM of" if s.in_sbom is None else "not listed in any SBOM of"
        return False, f"the signer matches but the file is {why} product {s.product!r}"
    return True, None


def _matches(rule: Rule, s: Sighting) -> tuple[bool, str | None]:
    if isinstance(rule, DenyHash | AllowHash):
        return s.sha256 in rule.sha256, None
    if isinstance(rule, DenyPublisher):
        issuer_ok = rule.issuer is None or name_matches(rule.issuer, s.signer_issuer)
        return name_matches(rule.subject, s.signer_subject) and issuer_ok, None
    if isinstance(rule, DenyPath):
        return path_matches(rule.glob, s.path) or path_unplaceable(s.path), None
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


# The YAML reader builds the model above (and imports it), so it is imported after it.
from maat.signing.policy_yaml import lint_policies, load_policy  # noqa: E402
from maat.signing.policy_yaml import read_policy as read_policy  # noqa: E402

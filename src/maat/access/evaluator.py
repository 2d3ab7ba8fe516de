"""The policy decision point: a policy compiled into an indexed evaluator.

:meth:`Evaluator.decide` answers allow, deny or step_up with the rules that decided and why:

1. the candidate rules are looked up in three indexes (action, subject, first segment of the
   resource) and intersected, so a request touches only rules that could apply;
2. each candidate's resource pattern and ``when`` conditions are checked. A condition on an
   attribute the request lacks is *unknown*: it makes deny and step_up rules apply and allow
   rules not apply (fail closed);
3. any applicable deny rule denies (deny overrides);
4. with no applicable allow rule the answer is deny ("no rule allows"): an empty policy, or
   none at all, denies everything;
5. an allow whose ``mfa_within`` the last MFA does not meet, or an applicable step_up rule
   it does not meet, answers step_up: allow after fresh MFA;
6. otherwise allow.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any, Literal

from maat.access.policy import Condition, Policy, Rule
from maat.core._validate import parse_timestamp
from maat.errors import InvalidInput, PermissionDenied

__all__ = ["AccessDecision", "AccessRequest", "Evaluator"]

Outcome = Literal["allow", "deny", "step_up"]
_REQUEST_KEYS = ("subject", "device", "resource", "action", "context")
_ListLike = (list, tuple, set, frozenset)
_NotScalar = (list, tuple, set, frozenset, dict)
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# A condition's answer: True, False, or None when the attribute is missing (unknown).
Check = Callable[[Mapping[str, Any]], bool | None]


@dataclass(frozen=True, slots=True)
class AccessDecision:
    """An access decision: ``allow``, ``deny`` or ``step_up`` (allow after fresh MFA)."""

    decision: Outcome
    reasons: tuple[str, ...]
    rules: tuple[str, ...] = ()

    @property
    def allowed(self) -> bool:
        """True only for ``allow``."""
        return self.decision == "allow"

    def as_dict(self) -> dict[str, Any]:
        """``{"decision", "reasons", "rules"}`` as the CLI and the API print it."""
        return {"decision": self.decision, "reasons": list(self.reasons), "rules": list(self.rules)}

    def enforce(self) -> None:
        """Return when allowed; otherwise raise ``PermissionDenied`` with the reasons."""
        if self.decision != "allow":
            what = "fresh MFA required" if self.decision == "step_up" else "access denied"
            raise PermissionDenied(f"{what}: {'; '.join(self.reasons)}")


@dataclass(frozen=True)
class AccessRequest:
    """One request: subject, device, resource, action and context, as flat attribute paths
    (``subject.roles``, ``context.mfa_age``) for the evaluator, and ``context.time`` parsed
    (the evaluator reads its hour and weekday in its policy's time zone)."""

    attributes: Mapping[str, Any]
    time: datetime | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, where: str = "request") -> AccessRequest:
        """Validate a JSON request. ``resource`` may be an id or a mapping with ``id``;
        ``context.time`` (ISO 8601) gives ``context.hour`` and ``context.weekday`` (UTC,
        replacing any given: the time says what hour it is) and, with ``context.mfa_at``,
        ``context.mfa_age`` in seconds."""
        if not isinstance(data, Mapping):
            raise InvalidInput("a request must be a JSON object", field=where)
        unknown = sorted(set(data) - set(_REQUEST_KEYS))
        if unknown:
            raise InvalidInput(
                f"unknown key {unknown[0]!r}; expected {', '.join(_REQUEST_KEYS)}",
                field=f"{where}.{unknown[0]}",
            )
        action = data.get("action")
        if not isinstance(action, str) or not action:
            raise InvalidInput("action must be a non-empty text", field=f"{where}.action")
        flat: dict[str, Any] = {"action": action}
        for key in ("subject", "device", "resource", "context"):
            value = data.get(key, {})
            if key == "resource" and isinstance(value, str):
                value = {"id": value}
            if not isinstance(value, Mapping):
                raise InvalidInput(f"{key} must be a JSON object", field=f"{where}.{key}")
            _flatten(value, key, flat)
        age = flat.get("context.mfa_age")
        if age is not None and (_number(age) is None or float(age) < 0):
            raise InvalidInput("mfa_age is a number of seconds, 0 or more",
                               field=f"{where}.context.mfa_age")  # fmt: skip
        if not isinstance(flat.get("resource.id"), str):
            raise InvalidInput("resource.id must be text", field=f"{where}.resource.id")
        for key in ("subject.roles", "subject.groups"):
            value = flat.get(key, [])
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise InvalidInput(f"{key} must be a list of texts", field=f"{where}.{key}")
        return cls(flat, _derive_time(flat, where))


def _flatten(value: Mapping[str, Any], prefix: str, out: dict[str, Any]) -> None:
    for key, item in value.items():
        path = f"{prefix}.{key}"
        if isinstance(item, Mapping):
            _flatten(item, path, out)
        else:
            out[path] = item


def _derive_time(flat: dict[str, Any], where: str) -> datetime | None:
    text = flat.get("context.time")
    if text is None:
        return None
    when = _instant(text, f"{where}.context.time").astimezone(UTC)
    # Derived, never defaulted: a caller sending the time of a night request with
    # "hour: 10" would otherwise be inside office hours.
    flat.update(_clock(when, UTC))
    if "context.mfa_age" not in flat and flat.get("context.mfa_at") is not None:
        mfa_at = _instant(flat["context.mfa_at"], f"{where}.context.mfa_at")
        if mfa_at > when:
            raise InvalidInput("mfa_at is later than the request's time",
                               field=f"{where}.context.mfa_at")  # fmt: skip
        flat["context.mfa_age"] = (when - mfa_at).total_seconds()
    return when


def _clock(when: datetime, zone: tzinfo) -> dict[str, Any]:
    """``context.hour`` (9.5 for 09:30) and ``context.weekday`` of ``when`` in ``zone``."""
    local = when.astimezone(zone)
    return {"context.hour": local.hour + local.minute / 60,
            "context.weekday": _WEEKDAYS[local.weekday()]}  # fmt: skip


def _instant(text: Any, field: str) -> datetime:
    return parse_timestamp(text, field=field, file=None)


def _same(a: Any, b: Any) -> bool:
    # True == 1.0 in Python; a policy saying `equals: true` must not match the number 1.
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return bool(a == b)


def _number(value: Any) -> float | None:
    # NaN is no number: every comparison with it is False, which would switch off a deny
    # such as `subject.risk ge 50` instead of making it apply (unknown).
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        return None
    return float(value)


def _glob(pattern: str) -> re.Pattern[str]:
    # DOTALL: "*" must match every character, newlines included, or a crafted value would
    # slip past a deny rule.
    return re.compile("".join(".*" if part == "*" else re.escape(part)
                              for part in re.split(r"(\*)", pattern)), re.DOTALL)  # fmt: skip


def _resource_glob(pattern: str, effect: str) -> str:
    """The regex of a resource pattern. Leading slashes do not count (proxied paths are
    decided without theirs), and in a deny or step_up rule ``a/*`` also covers ``a``
    itself: ``/admin/`` is decided as ``admin`` and many servers serve ``/admin`` as
    ``/admin/``, so a deny on ``admin/*`` that missed them would let the admin page
    through. An allow is not widened: ``write tickets/*`` is the right to change a ticket,
    not to ``DELETE /tickets``, a bulk operation on the collection nobody named."""
    pattern = pattern.lstrip("/")
    if pattern.endswith("/*") and effect != "allow":
        return f"{_glob(pattern[:-2]).pattern}(?:/.*)?"
    return _glob(pattern).pattern


def _compile(condition: Condition) -> Check:  # one branch per operator
    attr, op, want = condition.attr, condition.operator, condition.value
    if op == "present":
        return lambda a: (a.get(attr) is not None) is want
    if op == "equals_attr":
        other = str(want)

        def same_as(a: Mapping[str, Any]) -> bool | None:
            have, theirs = a.get(attr), a.get(other)
            if have is None or theirs is None:
                return None
            if isinstance(have, _NotScalar) or isinstance(theirs, _NotScalar):
                return None  # as for equals: two lists ([] and []) prove no ownership
            return _same(have, theirs)

        return same_as
    if op in ("lt", "le", "gt", "ge", "between"):
        compare: Callable[[float], bool]
        if op == "between":
            assert isinstance(want, tuple)
            low, high = float(want[0]), float(want[1])
            compare = lambda x: low <= x < high  # noqa: E731
        else:
            limit = float(want)  # type: ignore[arg-type]
            compare = {"lt": limit.__gt__, "le": limit.__ge__, "gt": limit.__lt__,
                       "ge": limit.__le__}[op]  # fmt: skip

        def numeric(a: Mapping[str, Any]) -> bool | None:
            value = _number(a.get(attr))
            return None if value is None else compare(value)

        return numeric
    if op == "matches":
        rx = _glob(str(want))
        return lambda a: None if not isinstance(a.get(attr), str) else bool(rx.fullmatch(a[attr]))
    values = want if isinstance(want, tuple) else (want,)
    if op in ("contains", "contains_any"):

        def contains(a: Mapping[str, Any]) -> bool | None:
            have = a.get(attr)
            if have is None:
                return None
            items = have if isinstance(have, _ListLike) else (have,)
            return any(_same(x, v) for x in items for v in values)

        return contains
    negate = op in ("not_equals", "not_in")

    def member(a: Mapping[str, Any]) -> bool | None:
        have = a.get(attr)
        if have is None or isinstance(have, _NotScalar):
            return None  # a list is not a value: equals / in on it are unknown
        found = any(_same(have, v) for v in values)
        return not found if negate else found

    return member


@dataclass(frozen=True)
class _Compiled:
    rule: Rule
    resource: re.Pattern[str]
    checks: tuple[tuple[Condition, Check], ...]


def _first_segment(text: str) -> str:
    return text.lstrip("/").split("/", 1)[0]


class Evaluator:
    """A policy compiled for fast decisions. ``Evaluator(None)`` denies everything."""

    def __init__(self, policy: Policy | None, *, broken: Iterable[str] = ()) -> None:
        self.policy = policy
        self.broken = tuple(broken)
        rules = policy.rules if policy is not None else ()
        self._rules = [
            _Compiled(rule, re.compile("|".join(f"(?:{_resource_glob(p, rule.effect)})"
                                                for p in rule.resources), re.DOTALL),
                      tuple((c, _compile(c)) for c in rule.when))
            for rule in rules
        ]  # fmt: skip
        self._by_action: dict[str, set[int]] = {}
        self._any_action: set[int] = set()
        self._by_subject: dict[tuple[str, str], set[int]] = {}
        self._anyone: set[int] = set()
        self._by_segment: dict[str, set[int]] = {}
        self._any_resource: set[int] = set()
        for i, rule in enumerate(rules):
            for action in rule.actions:
                (self._any_action if action == "*" else self._by_action.setdefault(action, set())
                 ).add(i)  # fmt: skip
            target = rule.subjects
            if target.anyone:
                self._anyone.add(i)
            for kind, names in (("role", target.roles), ("group", target.groups),
                                ("id", target.ids), ("vendor", target.vendors)):  # fmt: skip
                for name in names:
                    self._by_subject.setdefault((kind, name), set()).add(i)
            for pattern in rule.resources:
                segment = _first_segment(pattern)
                if "*" in segment:
                    self._any_resource.add(i)
                else:
                    self._by_segment.setdefault(segment, set()).add(i)

    def candidates(self, attributes: Mapping[str, Any]) -> list[int]:
        """Indexes of the rules that could apply to a request (step 1)."""
        action = self._by_action.get(attributes["action"], set()) | self._any_action
        if not action:
            return []
        roles = frozenset(attributes.get("subject.roles") or ())
        if self.policy is not None and self.policy.role_includes:
            roles = self.policy.expand_roles(roles)
        subject = set(self._anyone)
        by_subject = self._by_subject
        for role in roles:
            subject |= by_subject.get(("role", role), set())
        for group in attributes.get("subject.groups") or ():
            subject |= by_subject.get(("group", group), set())
        for kind, key in (("id", "subject.id"), ("vendor", "subject.vendor")):
            value = attributes.get(key)
            if isinstance(value, str):
                subject |= by_subject.get((kind, value), set())
        segment = _first_segment(attributes["resource.id"])
        resource = self._by_segment.get(segment, set()) | self._any_resource
        return sorted(action & subject & resource)

    def decide(self, request: AccessRequest) -> AccessDecision:
        """Allow, deny or step_up, with reasons and the rules that decided (steps above)."""
        if self.policy is None:
            why = "; ".join(self.broken) or "no policy is loaded"
            return AccessDecision("deny", (f"policy did not load: {why}",))
        a = request.attributes
        if request.time is not None and self.policy.timezone is not UTC:
            a = {**a, **_clock(request.time, self.policy.timezone)}  # the author's office hours
        if self.policy.role_includes and a.get("subject.roles"):
            # Conditions see the roles a subject holds through the hierarchy too.
            expanded = self.policy.expand_roles(frozenset(a["subject.roles"]))
            a = {**a, "subject.roles": sorted(expanded)}
        resource_id = a["resource.id"]
        denies: list[tuple[Rule, str]] = []
        allows: list[Rule] = []
        step_ups: list[Rule] = []
        for i in self.candidates(a):
            compiled = self._rules[i]
            if not compiled.resource.fullmatch(resource_id.lstrip("/")):
                continue
            rule = compiled.rule
            unknown: list[str] = []
            holds = True
            for condition, check in compiled.checks:
                answer = check(a)
                if answer is False:
                    holds = False
                    break
                if answer is None:
                    unknown.append(condition.attr)
            if not holds or (unknown and rule.effect == "allow"):
                continue
            if rule.effect == "deny":
                note = f" ({', '.join(unknown)} unknown)" if unknown else ""
                denies.append((rule, note))
            elif rule.effect == "allow":
                allows.append(rule)
            else:
                step_ups.append(rule)
        if denies:
            return AccessDecision(
                "deny",
                tuple(f"rule {r.id} denies{note}{_about(r)}" for r, note in denies),
                tuple(r.id for r, _ in denies),
            )
        if not allows:
            return AccessDecision("deny", (f"no rule allows {a['action']} on {resource_id}",))
        age = _number(a.get("context.mfa_age"))

        def met(rule: Rule) -> bool:
            return rule.mfa_within is None or (age is not None and age <= rule.mfa_within)

        fresh = [r for r in allows if met(r)]
        unmet = [r for r in step_ups if not met(r)]
        if fresh and not unmet:
            return AccessDecision(
                "allow",
                tuple(f"rule {r.id} allows{_about(r)}" for r in fresh),
                tuple(r.id for r in fresh),
            )
        wanting = unmet if fresh else unmet + allows
        last = "never" if age is None else f"{age:g} s ago"
        return AccessDecision(
            "step_up",
            tuple(f"rule {r.id} requires MFA within {r.mfa_within:g} s (last MFA: {last})"
                  f"{_about(r)}" for r in wanting),
            tuple(r.id for r in wanting),
        )  # fmt: skip


def _about(rule: Rule) -> str:
    return f": {rule.description}" if rule.description else ""

"""Sigma detection: rules loaded with pySigma, compiled per log source, matched per event.

Loading, as numbered steps of :func:`load_rules`:

1. each text is read by pySigma; a file that does not parse, or a rule pySigma refuses, is
   a :class:`RuleProblem` with its path and reason, and the other rules load;
2. placeholders (``|expand``) are resolved through a pySigma processing pipeline from the
   values given, and the ones left become wildcards (pySigma's own rule for unknown lists);
3. each rule's log source is routed (:mod:`maat.detect.logsources`); a rule with no route,
   and a correlation rule, is listed with the reason it will not run.

:class:`Engine` compiles every routed rule once per route (:mod:`maat.detect.sigma_compile`),
refusing with a reason what cannot run (a regex RE2 cannot run in linear time), and indexes
the rules by route key and by anchor literal (:mod:`maat.detect.buckets`):
:meth:`Engine.match` looks up the event's route, searches the event's lowercased values for
the anchors (one RE2 set per field, or with the C extension one Aho-Corasick pass per field,
:mod:`maat.detect.prefilter`), and evaluates only the rules whose anchors it found (plus the
few without anchors). :meth:`Engine.match_many` does a batch with one call into C.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError
from sigma.processing.pipeline import (
    ProcessingItem,
    ProcessingPipeline,
)
from sigma.processing.transformations import (
    ValueListPlaceholderTransformation,
    WildcardPlaceholderTransformation,
)
from sigma.rule import SigmaRule

from maat.detect.buckets import MAX_CLAUSES as _MAX_CLAUSES
from maat.detect.buckets import Bucket as _Bucket
from maat.detect.buckets import Checks as _Checks
from maat.detect.buckets import Compiled as _Compiled
from maat.detect.buckets import Confirm, match_bucket
from maat.detect.buckets import Lowered as _Lowered
from maat.detect.buckets import confirm_groups as _confirm_groups
from maat.detect.correlation import CorrelationSpec, Correlator, Fired, compile_correlation
from maat.detect.logsources import (
    SECURITY,
    Route,
    RouteKey,
    event_route_keys,
    routes_for,
)
from maat.detect.prefilter import native_router
from maat.detect.sigma_compile import (
    FULLTEXT,
    Anchors,
    Clause,
    Group,
    by_selectivity,
    clauses_of,
    compile_condition,
    required_numbers,
    requirements_of,
    vetoes_of,
)
from maat.detect.sigma_values import Test
from maat.errors import InvalidInput, MaatError

log = logging.getLogger(__name__)

__all__ = [
    "Engine",
    "Hit",
    "LoadedRule",
    "RuleProblem",
    "RuleSet",
    "applicable_routes",
    "load_rules",
]

EVENT_ID = "winlog.event_id"  # where Windows events keep their id (Sigma's EventID)
_TECHNIQUE = re.compile(r"attack\.(t\d{4}(?:\.\d{3})?)\Z", re.IGNORECASE)
# libyaml's loader where PyYAML has it: SigmaHQ's rules load about four times faster.
_YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


LEVELS = ("informational", "low", "medium", "high", "critical")


@dataclass(frozen=True, slots=True)
class RuleProblem:
    """A rule (or a file) that will not run, and why."""

    path: str
    rule: str
    reason: str
    severity: str = "error"
    """``error``: the rule is broken; ``warning``: it is valid but Maat will not run it."""

    def as_dict(self) -> dict[str, str]:
        """JSON form."""
        return {"path": self.path, "rule": self.rule, "reason": self.reason,
                "severity": self.severity}  # fmt: skip


@dataclass(frozen=True, slots=True)
class LoadedRule:
    """A parsed Sigma rule and what alerts report of it."""

    id: str
    title: str
    level: str
    status: str
    techniques: tuple[str, ...]
    logsource: str
    path: str
    sigma: Any = field(repr=False, compare=False)

    def as_dict(self) -> dict[str, Any]:
        """The rule as alerts and ``maat rules list`` show it."""
        return {
            "id": self.id,
            "title": self.title,
            "level": self.level,
            "status": self.status,
            "techniques": list(self.techniques),
            "logsource": self.logsource,
            "path": self.path,
        }


@dataclass
class RuleSet:
    """Rules that loaded and routed, and every rule or file that will not run."""

    rules: list[LoadedRule] = field(default_factory=list)
    correlations: list[LoadedRule] = field(default_factory=list)
    problems: list[RuleProblem] = field(default_factory=list)


def _logsource_text(logsource: Any) -> str:
    parts = (("product", logsource.product), ("category", logsource.category),
             ("service", logsource.service))  # fmt: skip
    return " ".join(f"{name}={value}" for name, value in parts if value)


def _pipeline(placeholders: Mapping[str, Sequence[str]]) -> ProcessingPipeline:
    """Placeholders from ``placeholders`` first, any other becomes ``*``."""
    items = []
    if placeholders:
        items.append(
            ProcessingItem(
                identifier="maat_placeholder_values",
                transformation=ValueListPlaceholderTransformation(include=list(placeholders)),
            )
        )
    items.append(
        ProcessingItem(
            identifier="maat_placeholder_wildcards",
            transformation=WildcardPlaceholderTransformation(),
        )
    )
    return ProcessingPipeline(
        name="maat", priority=10, items=items, vars={k: list(v) for k, v in placeholders.items()}
    )


def _loaded(rule: Any, path: str) -> LoadedRule:
    techniques = tuple(
        sorted(
            {
                m.group(1).upper()
                for tag in rule.tags
                if (m := _TECHNIQUE.match(f"{tag.namespace}.{tag.name}"))
            }
        )
    )
    level = rule.level.name.lower() if rule.level is not None else "medium"
    status = rule.status.name.lower() if rule.status is not None else ""
    return LoadedRule(
        id=str(rule.id) if rule.id else rule.title,
        title=rule.title,
        level=level,
        status=status,
        techniques=techniques,
        logsource=_logsource_text(rule.logsource) if isinstance(rule, SigmaRule) else "correlation",
        path=path,
        sigma=rule,
    )


def load_rules(
    texts: Iterable[tuple[str, str]], *, placeholders: Mapping[str, Sequence[str]] | None = None
) -> RuleSet:
    """Rules from ``(path, YAML text)`` pairs; every problem is listed, none stops the rest."""
    result = RuleSet()
    pipeline = _pipeline(placeholders or {})
    for path, text in texts:
        # Step 1: parse; one bad file or rule costs only itself.
        try:
            collection = SigmaCollection.from_dicts(
                list(yaml.load_all(text, Loader=_YAML_LOADER)),
                collect_errors=True,
                resolve_references=False,  # across files: the engine resolves them
            )
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            reason = f"not valid YAML{where}: {getattr(exc, 'problem', None) or exc}"
            result.problems.append(RuleProblem(path, "", reason))
            continue
        except (SigmaError, ValueError, TypeError, AttributeError) as exc:
            result.problems.append(RuleProblem(path, "", f"not a Sigma file: {exc}"))
            continue
        for rule in collection.rules:
            title = getattr(rule, "title", "") or ""
            if rule.errors:
                reason = "; ".join(str(e) for e in rule.errors)
                result.problems.append(RuleProblem(path, title, reason))
                continue
            if isinstance(rule, SigmaCorrelationRule):
                result.correlations.append(_loaded(rule, path))
                continue
            if not isinstance(rule, SigmaRule):  # pragma: no cover - filters are not rules
                result.problems.append(RuleProblem(path, title, "not a detection rule"))  # type: ignore[unreachable]
                continue
            # Step 2: placeholders.
            try:
                pipeline.apply(rule)
            except SigmaError as exc:
                result.problems.append(RuleProblem(path, title, f"placeholder: {exc}"))
                continue
            # Step 3: routing.
            if not routes_for(rule.logsource):
                reason = f"no Maat log source for {_logsource_text(rule.logsource) or 'none'}"
                source = rule.logsource
                if str(source.product).lower() == "windows" and not (
                    source.category or source.service
                ):
                    reason += " (a rule over every Windows log: not run on every Windows event)"
                result.problems.append(RuleProblem(path, title, reason, "warning"))
                continue
            result.rules.append(_loaded(rule, path))
    return result


@dataclass(frozen=True, slots=True)
class Hit:
    """One rule matching one event; for a correlation, the group and events behind it."""

    rule: LoadedRule
    route: str
    correlation: Fired | None = None


def applicable_routes(rule: LoadedRule) -> tuple[Route, ...]:
    """The routes a rule runs on: those of its log source that have every field it reads
    (Security 4688 has no OriginalFileName: a rule reading it is judged on Sysmon only, as
    a filter on it would always pass there)."""
    fields = {f for c in rule.sigma.detection.parsed_condition for f in _sigma_fields(c.parsed)}
    return tuple(
        route
        for route in routes_for(rule.sigma.logsource)
        if (route.known is None or fields <= route.known)
        and (not route.needs or not fields.isdisjoint(route.needs))
    )


def _unanswerable(rule: LoadedRule) -> str:
    """Why no route of the rule's log source can run it: the fields each one lacks."""
    fields = {f for c in rule.sigma.detection.parsed_condition for f in _sigma_fields(c.parsed)}
    missing = [
        f"{route.name} has no {', '.join(sorted(fields - route.known))}"
        for route in routes_for(rule.sigma.logsource)
        if route.known is not None and not fields <= route.known
    ]
    return "no Maat log source has every field the rule reads: " + "; ".join(missing)


def _sigma_fields(node: Any) -> set[str]:
    """Every Sigma field name a condition tree reads."""
    return _used_keys(node, lambda name: name) - {FULLTEXT}


def _used_keys(node: Any, resolve: Any) -> set[str]:
    """Every event key a condition tree reads."""
    keys: set[str] = set()
    stack = [node]
    while stack:
        current = stack.pop()
        field_name = getattr(current, "field", None)
        if isinstance(field_name, str):
            keys.add(resolve(field_name))
            other = getattr(getattr(current, "value", None), "field", None)
            if isinstance(other, str):
                keys.add(resolve(other))
        elif hasattr(current, "value") and not hasattr(current, "args"):
            keys.add(FULLTEXT)
        stack.extend(a for a in getattr(current, "args", None) or () if not isinstance(a, str))
    return keys


class Engine:
    """Compiled, indexed rules; :meth:`match` gives the hits of one event."""

    def __init__(self, ruleset: RuleSet, *, native: bool = True) -> None:
        """Compile and index ``ruleset``; ``native=False`` keeps to the Python prefilter
        (the reference the C one is tested against)."""
        self.problems: list[RuleProblem] = list(ruleset.problems)
        self.rules: list[LoadedRule] = []
        buckets: dict[RouteKey, _Bucket] = {}
        for rule in ruleset.rules:
            try:
                compiled = self._compile(rule)
            except (InvalidInput, SigmaError) as exc:
                reason = exc.diagnostics() if isinstance(exc, MaatError) else str(exc)
                self.problems.append(RuleProblem(rule.path, rule.title, reason))
                continue
            if not compiled:  # every route lacks a field the rule reads: never run, say so
                self.problems.append(RuleProblem(rule.path, rule.title, _unanswerable(rule),
                                                 severity="warning"))  # fmt: skip
                continue
            self.rules.append(rule)
            for route, test, anchors, checks, ids in compiled:
                for key in route.keys:
                    # A rule on a whole channel that names its event ids is filed under
                    # those ids: the other events of the channel never see it.
                    # Channels only: "ds:..." and other derived keys carry no event id.
                    narrowed = [(key[0], i) for i in sorted(ids)] if ids and key[1] is None \
                        and ":" not in key[0] else [key]  # fmt: skip
                    for filed in narrowed:
                        bucket = buckets.setdefault(filed, _Bucket())
                        bucket.members.append((_Compiled(rule, route, test, *checks), anchors))
        for bucket in buckets.values():
            bucket.build(native)
        self._buckets = buckets
        prefilters = {key: b.prefilter for key, b in buckets.items() if b.prefilter is not None}
        self._router = (
            native_router(prefilters, {SECURITY: frozenset({4663})}, _Lowered)  # 4663: 3 keys
            if native and len(prefilters) == len(buckets)
            else None
        )
        self.router_fallbacks = 0  # events the C router failed on (the Python route decided)
        self._compile_correlations(ruleset.correlations)

    def _compile_correlations(self, correlations: list[LoadedRule]) -> None:
        """Correlations over the loaded rules (by id or name); a base rule that only
        non-generating correlations use is hidden from alerts, as Sigma specifies."""
        ids: dict[str, str] = {}
        for rule in self.rules:
            ids[rule.id] = rule.id
            if rule.sigma.name:
                ids[str(rule.sigma.name)] = rule.id
        self.correlations: list[LoadedRule] = []
        specs: list[CorrelationSpec] = []
        for rule in correlations:
            try:
                spec = compile_correlation(rule.sigma, ids)
            except (InvalidInput, SigmaError) as exc:
                reason = exc.diagnostics() if isinstance(exc, MaatError) else str(exc)
                self.problems.append(RuleProblem(rule.path, rule.title, reason))
                continue
            self.correlations.append(rule)
            specs.append(spec)
        generating = {ref for spec in specs if spec.generate for ref in spec.refs}
        self._hidden = {ref for spec in specs for ref in spec.refs} - generating
        self._correlator = Correlator(specs) if specs else None

    @staticmethod
    def _compile(
        rule: LoadedRule,
    ) -> list[tuple[Route, Test, Anchors, _Checks, frozenset[int] | None]]:
        out = []
        conditions = rule.sigma.detection.parsed_condition
        for route in applicable_routes(rule):
            resolve = route.event_key
            parts: list[Test] = []
            anchors: Anchors = frozenset()
            confirm: Confirm = ()
            clauses: list[Clause] = []
            vetoes: Group = frozenset()
            ids: frozenset[int] | None = frozenset()
            for condition in conditions:
                tree = condition.parsed
                parts.append(compile_condition(tree, resolve))
                groups = by_selectivity(requirements_of(tree, resolve))
                found = groups[0] if groups else None
                anchors = None if found is None or anchors is None else anchors | found
                clauses.extend(clauses_of(tree, resolve))  # several conditions: any of them
                if len(conditions) == 1:  # several conditions: any of them, no AND to check
                    confirm = _confirm_groups(groups[1:])
                    vetoes = vetoes_of(tree, resolve)
                needed = required_numbers(tree, EVENT_ID, resolve)
                ids = None if needed is None or ids is None else ids | needed
            test = parts[0] if len(parts) == 1 else _any(parts)
            kept = tuple(clauses) if len(clauses) <= _MAX_CLAUSES else ((),)
            out.append((route, test, anchors or None, (confirm, kept, vetoes), ids or None))
        return out

    def match(self, event: Mapping[str, Any]) -> list[Hit]:
        """Every rule ``event`` matches (in rule order within each route), then every
        correlation this event completes. Rules referenced only by correlations that do not
        ``generate`` give no alerts of their own."""
        return self._hits(event, self._route(event))

    def _route(self, event: Mapping[str, Any]) -> list[_Compiled] | None:
        """The candidate rules the C router finds for ``event``, or ``None`` (Python routes
        it): also when the router raises. It reads every field its literals are in, through
        Python code (a value's ``__str__``), where the rules themselves may read fewer: the
        Python path, the reference, decides then, and raises only if matching itself does."""
        if self._router is None or type(event) is not dict:
            return None
        try:
            return self._router(event)
        except MemoryError:
            raise
        except Exception as exc:  # any other error of the accelerator: the reference decides
            self._router_failed(exc)
            return None

    def _router_failed(self, exc: Exception) -> None:
        """Count a C router error (the Python route then decides); logged the first time
        and every 10,000th, as a slower path nobody should miss."""
        self.router_fallbacks += 1
        if self.router_fallbacks == 1 or self.router_fallbacks % 10_000 == 0:
            log.warning("the C rule router failed (%r); the Python route decides (%d so far)",
                        exc, self.router_fallbacks)  # fmt: skip

    def match_many(
        self,
        events: Sequence[Mapping[str, Any]],
        errors: list[tuple[int, Exception]] | None = None,
    ) -> dict[int, list[Hit]]:
        """:meth:`match` of each of ``events``, in order, as ``{index: hits}`` for the events
        with hits: one call into C for the batch instead of one per event. The indices are
        those of ``events`` as given: matching runs Python code (a value's ``__str__``, another
        thread), which may change the caller's list, so a copy of it is matched.

        An event whose matching raises is, with ``errors``, recorded there by its index and
        the others are matched all the same (one bad event never costs the batch its
        alerts); without it, the error is raised."""
        out: dict[int, list[Hit]] = {}
        batch = list(events)
        routes = self._route_many(batch)
        if routes is not None:
            for index, routed in zip(*routes, strict=True):
                self._collect(out, index, batch[index], routed, errors)
            return out
        for index, event in enumerate(batch):
            self._collect(out, index, event, self._route(event), errors)
        return out

    def _route_many(
        self, batch: list[Mapping[str, Any]]
    ) -> tuple[list[int], list[list[_Compiled] | None]] | None:
        """The C router's ``(indices, candidates)`` of a batch; ``None`` without it, or when
        it raises for an event it cannot read (each event is then routed alone)."""
        if self._router is None:
            return None
        try:
            return self._router.many(batch)
        except MemoryError:
            raise
        except Exception as exc:  # the reference routes each event, and decides for that one
            self._router_failed(exc)
            return None

    def _collect(
        self,
        out: dict[int, list[Hit]],
        index: int,
        event: Mapping[str, Any],
        routed: list[_Compiled] | None,
        errors: list[tuple[int, Exception]] | None,
    ) -> None:
        failed: list[Exception] | None = None if errors is None else []
        try:
            hits = self._hits(event, routed, failed)
        except MemoryError:
            raise
        except Exception as exc:
            if errors is None:
                raise
            errors.append((index, exc))
            return
        if failed:  # a correlation could not read the event: the others' alerts still count
            errors.append((index, failed[0]))  # type: ignore[union-attr]
        if hits:
            out[index] = hits

    def _hits(
        self,
        event: Mapping[str, Any],
        routed: list[_Compiled] | None,
        failed: list[Exception] | None = None,
    ) -> list[Hit]:
        """The hits of ``event`` whose candidate rules the C router found (``routed``), or
        that Python routes (``None``). With ``failed``, a correlation that cannot read the
        event puts its error there, and the correlations that fired still come back."""
        if routed is not None:  # a Windows event: its buckets' candidates found in C
            if not routed:
                return []
            low = _Lowered(event)
            matched = [compiled for compiled in routed if compiled.test(event, low)]
        else:
            keys = event_route_keys(event)
            if keys is None:
                return []
            low = _Lowered(event)  # shared by the event's buckets
            matched = []
            for key in keys:
                bucket = self._buckets.get(key)
                if bucket is not None:
                    match_bucket(bucket, event, matched, low)
        if not matched:
            return []
        hidden = self._hidden
        hits = [Hit(c.rule, c.route.name) for c in matched if c.rule.id not in hidden]
        if self._correlator is not None:
            fed = [(c.rule.id, c.route.event_key) for c in matched]
            for fired in self._correlator.feed(event, fed, failed):
                hits.append(Hit(self.correlations[fired.index], "correlation", fired))
        return hits


def _any(parts: list[Test]) -> Test:
    def test(event: Mapping[str, Any], low: Mapping[str, Any]) -> bool:
        return any(part(event, low) for part in parts)

    return test

"""Sigma rules from files, and one-shot detection over event files (``maat detect``).

The pure engine (:mod:`maat.detect.sigma`) takes rule texts and event dicts; this module
reads the files, walks folders, and shapes each hit as an alert line.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from maat.access.segments import FlowVerdict, ObservedFlow
from maat.detect.iocs import IocHit, IocIndex, load_iocs
from maat.detect.sigma import Engine, Hit, RuleSet, load_rules
from maat.errors import InvalidInput
from maat.services.event_files import parse_event_file
from maat.telemetry.model import ParseError
from maat.telemetry.pipeline import ParseErrors

__all__ = [
    "DetectionRun",
    "alert_line",
    "detect_files",
    "ioc_alert_line",
    "load_ioc_files",
    "load_rule_files",
    "regression_cases",
    "rule_texts",
]

RULE_SUFFIXES = (".yml", ".yaml")
# Event fields an alert line carries: who, where, which binary, and the trust graph's view.
_EVENT_KEYS = (
    "host.name", "user.name", "process.executable", "process.command_line", "event.code",
    "process.hash.sha256", "dll.hash.sha256", "file.hash.sha256",
    "maat.process.vendor", "maat.dll.vendor", "maat.file.vendor",
    "maat.process.product", "maat.dll.product", "maat.file.product", "maat.sender.device",
)  # fmt: skip


def rule_texts(paths: Iterable[Path]) -> list[tuple[str, str]]:
    """``(path, text)`` of every rule file under ``paths`` (folders walked in name order)."""
    out: list[tuple[str, str]] = []
    for path in paths:
        try:
            if path.is_dir():
                files = sorted(p for p in path.rglob("*") if p.suffix in RULE_SUFFIXES)
            elif path.is_file():
                files = [path]
            else:
                raise InvalidInput("no such file or folder", file=str(path))
            for file in files:
                out.append((str(file), file.read_text(encoding="utf-8", errors="replace")))
        except OSError as exc:
            raise InvalidInput(f"cannot read: {exc.strerror}", file=str(path)) from exc
    return out


_NOT_IOC_FILES = ("license", "readme", "notice", "copying", "changelog", "authors")


def _is_ioc_file(path: Path) -> bool:
    """Whether a file in an indicator folder holds indicators (not the feed's LICENSE or
    README, whose words would otherwise be read as trails)."""
    stem = path.name.lower()
    return not stem.startswith(_NOT_IOC_FILES) and path.suffix.lower() not in (".md", ".rst")


def load_ioc_files(paths: Iterable[Path]) -> IocIndex:
    """Indicators from STIX bundles (JSON) and trail lists under ``paths``."""
    found: list[tuple[str, bytes]] = []
    for path in paths:
        try:
            files = (
                sorted(p for p in path.rglob("*") if p.is_file() and _is_ioc_file(p))
                if path.is_dir()
                else [path]
            )
            found.extend((str(f), f.read_bytes()) for f in files)
        except OSError as exc:
            raise InvalidInput(f"cannot read: {exc.strerror}", file=str(path)) from exc
    return IocIndex(load_iocs(found))


def load_rule_files(
    paths: Iterable[Path], *, placeholders: Mapping[str, Sequence[str]] | None = None
) -> tuple[RuleSet, Engine]:
    """The rules under ``paths``, loaded and compiled."""
    rules = load_rules(rule_texts(paths), placeholders=placeholders)
    return rules, Engine(rules)


def alert_line(hit: Hit, event: Mapping[str, Any], path: str, line: int) -> dict[str, Any]:
    """One alert of ``maat detect --format jsonl``: the rule, where the event was read, and
    the entities it names."""
    rule = hit.rule
    out: dict[str, Any] = {
        "rule.id": rule.id,
        "rule.title": rule.title,
        "rule.level": rule.level,
        "rule.techniques": list(rule.techniques),
        "rule.route": hit.route,
    }
    fired = hit.correlation
    if fired is not None:
        out["correlation.group"] = dict(fired.group)
        out["correlation.value"] = fired.value
        out["correlation.events"] = list(fired.event_ids)
        out["correlation.first"] = datetime.fromtimestamp(fired.first, UTC).isoformat()
    return _with_event(out, event, path, line)


def ioc_alert_line(hit: IocHit, event: Mapping[str, Any], path: str, line: int) -> dict[str, Any]:
    """One alert for an indicator of compromise, shaped like a rule's: the indicator is the
    rule (id, name), and ``ioc.*`` says what matched where."""
    indicator = hit.indicator
    shown = indicator.value if indicator.kind != "pattern" else indicator.name
    out: dict[str, Any] = {
        "rule.id": indicator.id,
        "rule.title": f"IOC {indicator.name}: {shown}",
        "rule.level": "high",
        "rule.techniques": [],
        "rule.route": "ioc",
        "ioc.kind": indicator.kind,
        "ioc.value": indicator.value,
        "ioc.field": hit.field,
        "ioc.matched": hit.value,
        "ioc.source": indicator.source,
    }
    if hit.note:
        out["ioc.note"] = hit.note
    return _with_event(out, event, path, line)


FLOW_RULE = "maat.segmentation.flow"


def flow_alert_line(
    verdict: FlowVerdict, flow: ObservedFlow, event: Mapping[str, Any], path: str, line: int
) -> dict[str, Any]:
    """One alert for a connection the segmentation does not allow (lateral movement)."""
    techniques = ["T1021.002", "T1570"] if flow.port == 445 else ["T1021"]
    out: dict[str, Any] = {
        "rule.id": FLOW_RULE,
        "rule.title": f"Flow not allowed by segmentation: {verdict.reason} "
        f"({flow.source_ip} -> {flow.target_ip})",
        "rule.level": "high",
        "rule.techniques": techniques,
        "rule.route": "segmentation",
        "source.ip": flow.source_ip,
        "destination.ip": flow.target_ip,
        "destination.port": flow.port,
    }
    return _with_event(out, event, path, line)


def _with_event(
    out: dict[str, Any], event: Mapping[str, Any], path: str, line: int
) -> dict[str, Any]:
    out["source.path"] = path
    out["source.line"] = line
    out["event.id"] = event.get("event.id")
    out["@timestamp"] = event.get("@timestamp")
    for key in _EVENT_KEYS:
        if event.get(key) is not None:
            out[key] = event[key]
    return out


@dataclass
class DetectionRun:
    """What one ``maat detect`` read: events, alerts and unreadable records."""

    events: int = 0
    alerts: int = 0
    errors: ParseErrors | None = None  # bounded: the first ones kept, the rest counted
    skipped: list[tuple[str, str]] | None = None


def detect_files(
    engine: Engine | None, files: Iterable[Path], *, source: str, max_event_bytes: int,
    run: DetectionRun, iocs: IocIndex | None = None, batch: int = 10_000,
) -> Iterator[dict[str, Any]]:  # fmt: skip
    """Alert lines for every rule and indicator hit in ``files``, file by file and, within
    a file, ``batch`` events at a time (the first alerts come before the file is matched
    whole); ``run`` counts as it goes."""
    errors = run.errors = run.errors if run.errors is not None else ParseErrors()
    run.skipped = run.skipped if run.skipped is not None else []
    for path in files:
        outcome = parse_event_file(path, source=source, max_event_bytes=max_event_bytes)
        errors.extend(outcome.errors)
        if outcome.skipped is not None:
            run.skipped.append((str(path), outcome.skipped))
        run.events += len(outcome.events)
        for start in range(0, len(outcome.events), max(1, batch)):
            events = outcome.events[start : start + max(1, batch)]
            lines = outcome.lines[start : start + len(events)]
            yield from _batch_alerts(engine, iocs, events, lines, str(path), run, errors)


def _batch_alerts(
    engine: Engine | None, iocs: IocIndex | None, events: list[dict[str, Any]],
    lines: list[int], path: str, run: DetectionRun, errors: ParseErrors,
) -> Iterator[dict[str, Any]]:  # fmt: skip
    """The alert lines of one batch of a file's events, at their ``lines``."""
    unmatched: list[tuple[int, Exception]] = []
    found = engine.match_many(events, unmatched) if engine is not None else {}
    for index, exc in unmatched:  # this event only: the others' alerts still come
        reason = f"the rules could not be run on this event: {exc!r}"
        errors.append(ParseError(path, lines[index], reason))
    for index, (event, line) in enumerate(zip(events, lines, strict=True)):
        for hit in found.get(index, ()):
            run.alerts += 1
            yield alert_line(hit, event, path, line)
        for ioc in iocs.match(event) if iocs is not None else ():
            run.alerts += 1
            yield ioc_alert_line(ioc, event, path, line)


@dataclass(frozen=True)
class RegressionCase:
    """One SigmaHQ regression case: the rule it names and its event files."""

    info: Path
    rule_id: str
    title: str
    events: tuple[Path, ...]


def regression_cases(folder: Path) -> list[RegressionCase]:
    """Every ``info.yml`` under ``folder`` (SigmaHQ's ``regression_data`` layout)."""
    cases = []
    for info in sorted(folder.rglob("info.yml")):
        try:
            meta = yaml.safe_load(info.read_text(encoding="utf-8"))
            rule = meta["rule_metadata"][0]
            rule_id, title = str(rule["id"]), str(rule.get("title", ""))
        except (OSError, yaml.YAMLError, KeyError, IndexError, TypeError) as exc:
            raise InvalidInput(f"not a regression case: {exc}", file=str(info)) from exc
        events = tuple(sorted(p for p in info.parent.iterdir() if p.suffix in (".json", ".evtx")))
        cases.append(RegressionCase(info, rule_id, title, events))
    return cases

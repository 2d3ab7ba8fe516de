"""The engine against SigmaHQ's own data: every regression case fires its rule (JSON and
EVTX), the whole repository loads with each rule that will not run listed, and on the
Mordor datasets the set of (rule, event) matches equals what pysigma-backend-sqlite's SQL
finds in SQLite over the same events (the differential oracle)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from sigma.conditions import ConditionFieldEqualsValueExpression
from sigma.types import SigmaExpansion, SigmaString, SpecialChars

from maat.detect.logsources import event_route_keys
from maat.detect.sigma import Engine, _Lowered, applicable_routes, load_rules
from maat.services.detection import regression_cases, rule_texts
from maat.services.event_files import parse_event_file
from sigma_oracle import SqliteOracle
from telemetry_kit import MORDOR, SHARED, SIGMA_REGRESSION, needs

SIGMA = SHARED / "sigma"
RULE_FOLDERS = [SIGMA / "rules", SIGMA / "rules-emerging-threats", SIGMA / "rules-threat-hunting"]
LIMIT = 1 << 22


@pytest.fixture(scope="module")
def texts() -> dict[str, str]:
    return dict(rule_texts([p for p in RULE_FOLDERS if p.exists()]))


@pytest.fixture(scope="module")
def engine(texts: dict[str, str]) -> Engine:
    return Engine(load_rules(texts.items()))


@needs(SIGMA / "rules")
def test_the_whole_sigmahq_repository_loads_and_every_rule_not_run_is_listed(
    engine: Engine, texts: dict[str, str]
) -> None:
    errors = [p for p in engine.problems if p.severity == "error"]
    assert errors == []
    listed = {p.path for p in engine.problems}
    ran = {r.path for r in engine.rules}
    assert listed | ran == set(texts)  # nothing dropped silently
    assert len(engine.rules) > 2500
    # What does not run is a log source without a Maat parser, or a rule reading a field
    # its source lacks here.
    assert all(p.reason.startswith("no Maat log source") for p in engine.problems)
    # On Windows: kernel file-rename ETW (no Sysmon id, no audit event), rules with no
    # category or service (no channel to route them to), and file-access rules reading the
    # parent process, which Security 4663 does not record.
    windows = {p.reason for p in engine.problems if "/windows/" in p.path}
    assert windows <= {
        "no Maat log source for product=windows (a rule over every Windows log: not run on "
        "every Windows event)",
        "no Maat log source for product=windows category=file_rename",
        "no Maat log source has every field the rule reads: security/4663-file has no ParentImage",
    }
    file_access = [r for r in engine.rules if "/file_access/" in r.path]
    assert len(file_access) >= 10  # they run, on 4663


def _cases() -> list[tuple[str, Path]]:
    if not SIGMA_REGRESSION.exists():
        return []
    return [(c.rule_id, f) for c in regression_cases(SIGMA_REGRESSION) for f in c.events]


@needs(SIGMA_REGRESSION)
@pytest.mark.parametrize(("rule_id", "event_file"), _cases(), ids=lambda v: getattr(v, "name", v))
def test_every_sigmahq_regression_case_fires_its_rule(
    engine: Engine, rule_id: str, event_file: Path
) -> None:
    outcome = parse_event_file(event_file, source="auto", max_event_bytes=LIMIT)
    assert outcome.events and not outcome.errors
    fired = {hit.rule.id for event in outcome.events for hit in engine.match(event)}
    assert rule_id in fired


@needs(SIGMA_REGRESSION)
def test_regression_cases_cover_json_and_evtx() -> None:
    kinds = {f.suffix for _, f in _cases()}
    assert kinds == {".json", ".evtx"} and len(_cases()) >= 200


@needs(MORDOR)
@needs(SIGMA / "rules")
def test_mordor_matches_equal_the_sqlite_backend_oracle(
    engine: Engine, texts: dict[str, str]
) -> None:
    events = []
    for path in sorted(MORDOR.rglob("*.json")):
        events += parse_event_file(path, source="auto", max_event_bytes=LIMIT).events
    present = {key for e in events for key in (event_route_keys(e) or ())}
    mine = {(hit.rule.id, row) for row, e in enumerate(events) for hit in engine.match(e)}
    oracle = SqliteOracle(events)
    theirs: set[tuple[str, int]] = set()
    compared = 0
    for rule in engine.rules:
        for route in applicable_routes(rule):
            if route.keys[0][0].startswith("ds:"):
                continue  # the oracle's table holds Windows event data (Zeek has no oracle)
            if any(key in present for key in route.keys):
                compared += 1
                theirs |= {(rule.id, row) for row in oracle.matches(texts[rule.path], route)}
    assert compared > 2000  # the oracle really ran the rules that apply to this data
    assert len(mine) > 300  # and there is something to agree on
    assert mine - theirs == set()
    assert theirs - mine == set()


def _instantiate(value: Any, rng: random.Random) -> Any:
    """A text ``value`` matches: wildcards filled with look-alikes and a lone surrogate,
    literals sometimes in capitals; None for a regex or another kind."""
    if isinstance(value, SigmaExpansion):
        return _instantiate(rng.choice(value.values), rng)
    if not isinstance(value, SigmaString):
        return None
    out = []
    for part in value.s:
        if isinstance(part, str):
            out.append(part if rng.random() < 0.8 else part.upper())
        elif part is SpecialChars.WILDCARD_MULTI:
            out.append(rng.choice(["", "x", " -a ", "\u017f", "\ud800"]))
        else:
            out.append("y")
    return "".join(out)


def _synthetic(rule: Any, route: Any, rng: random.Random) -> dict[str, Any] | None:
    """A Windows event built from most of a rule's own values (some left out, some in a
    list, some run together), so that the rule and its neighbours nearly match."""
    channel, event_id = route.keys[0]
    if not route.prefix.startswith("winlog."):
        return None
    event: dict[str, Any] = {"winlog.channel": channel}
    if event_id is not None:
        event["winlog.event_id"] = event_id
    for condition in rule.sigma.detection.parsed_condition:
        stack = [condition.parsed]
        while stack:
            node = stack.pop()
            stack.extend(a for a in getattr(node, "args", None) or () if not isinstance(a, str))
            if not isinstance(node, ConditionFieldEqualsValueExpression) or rng.random() < 0.15:
                continue
            text = _instantiate(node.value, rng)
            if text is None:
                continue
            key = route.event_key(node.field)
            if rng.random() < 0.1:
                event[key] = ["other", text]
            elif isinstance(event.get(key), str) and rng.random() < 0.3:
                event[key] += " " + text
            else:
                event[key] = text
    return event


@needs(SIGMA / "rules")
def test_the_prefilter_never_changes_a_verdict(engine: Engine) -> None:
    """The anchors, the checks before a rule runs and the lazily lowercased values only
    decide which rules run: on events made from the rules' own values (near misses among
    them), the engine's hits are exactly the rules of the event's log source whose
    condition holds when every one of them is run."""
    rng = random.Random(11)
    rules = [r for r in engine.rules if "product=windows" in r.logsource]
    checked = hits = 0
    for rule in rng.sample(rules, 700):
        for route in applicable_routes(rule):
            event = _synthetic(rule, route, rng)
            if event is None:
                continue
            keys = event_route_keys(event) or ()
            every = set()
            for key in keys:
                bucket = engine._buckets.get(key)
                for compiled in bucket.rules if bucket is not None else ():
                    if compiled.test(event, _Lowered(event)):
                        every.add(compiled.rule.id)
            found = {hit.rule.id for hit in engine.match(event)}
            assert found == every, (rule.title, found ^ every)
            checked += 1
            hits += len(found)
    assert checked > 600 and hits > 300

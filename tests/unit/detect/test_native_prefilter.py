"""Differential tests of the C prefilter and router of Sigma detection (ADR 0020).

``Engine(ruleset, native=False)`` chooses the rules to run on an event in Python (anchor
literals, confirm groups): the reference. ``Engine(ruleset, native=True)`` does it in C
(``maat._native.Prefilter``: one Aho-Corasick pass per key, clauses and vetoes;
``maat._native.Router``: the Windows event's buckets). The C choice may be sharper, never
other: the hits (rule id, route) must be the same for every event. A rule the C path drops
that Python would have matched is a missed detection, a security bug; the generators here
aim at the ways it could happen: a veto literal in a value that also holds the selection,
ASCII capitals, non-ASCII case pairs (İ, ẞ, Σ), a literal split across list items, empty
values, absent keys, channel spellings, event ids as text.

Each test is named after the wrong answer it stops.
"""

from __future__ import annotations

import itertools
import json
import random
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from maat.detect.logsources import event_route_keys
from maat.detect.prefilter import native_prefilter
from maat.detect.sigma import Engine, _Lowered, load_rules
from maat.services.detection import regression_cases, rule_texts
from maat.services.event_files import parse_event_file
from native_kit import require_native
from telemetry_kit import MORDOR, SHARED, SIGMA_REGRESSION

SIGMA = SHARED / "sigma"
RULE_FOLDERS = [SIGMA / "rules", SIGMA / "rules-emerging-threats", SIGMA / "rules-threat-hunting"]
LIMIT = 1 << 22
SYSMON = "Microsoft-Windows-Sysmon/Operational"


@pytest.fixture(autouse=True, scope="module")
def _native_built() -> None:
    """Nothing to compare without the extension: skip, unless CI requires it (then fail)."""
    require_native()


def hits(engine: Engine, event: dict[str, Any]) -> list[tuple[str, str]]:
    return [(hit.rule.id, hit.route) for hit in engine.match(event)]


def uses_c(engine: Engine) -> bool:
    """Whether every bucket of ``engine`` chooses its rules in C (and the router is C's)."""
    buckets = engine._buckets.values()
    return engine._router is not None and all(b.prefilter is not None for b in buckets)


def uses_python(engine: Engine) -> bool:
    return engine._router is None and all(b.prefilter is None for b in engine._buckets.values())


def assert_same_hits(
    native: Engine, python: Engine, events: list[dict[str, Any]], what: str = ""
) -> int:
    """The same hits, in the same order, event by event (fed in the same order to both, so
    correlations see the same history); the number of hits."""
    found = 0
    for index, event in enumerate(events):
        mine, theirs = hits(native, event), hits(python, event)
        if mine != theirs:
            missed = [h for h in theirs if h not in mine]
            extra = [h for h in mine if h not in theirs]
            raise AssertionError(
                f"{what} event {index}: C path hits {mine}, Python path {theirs}; missed by C: "
                f"{missed}, only C: {extra}\nevent: {event!r}"
            )
        found += len(mine)
    return found


# --- SigmaHQ's rules over Mordor and the regression data ------------------------------------


@pytest.fixture(scope="module")
def sigmahq() -> tuple[Engine, Engine]:
    if not (SIGMA / "rules").exists():
        pytest.skip(f"shared test data absent: {SIGMA / 'rules'} (see shared/data/SOURCES.md)")
    ruleset = load_rules(rule_texts([p for p in RULE_FOLDERS if p.exists()]))
    native, python = Engine(ruleset, native=True), Engine(ruleset, native=False)
    assert uses_c(native) and uses_python(python)
    assert [r.id for r in native.rules] == [r.id for r in python.rules]
    assert len(native.rules) > 2500
    return native, python


@pytest.fixture(scope="module")
def mordor_events() -> list[dict[str, Any]]:
    if not MORDOR.exists():
        pytest.skip(f"shared test data absent: {MORDOR} (see shared/data/SOURCES.md)")
    events: list[dict[str, Any]] = []
    for path in sorted(MORDOR.rglob("*")):
        if path.is_file():
            events += parse_event_file(path, source="auto", max_event_bytes=LIMIT).events
    assert len(events) > 19_000
    return events


def test_c_prefilter_misses_no_sigmahq_hit_on_mordor_nor_adds_one(
    sigmahq: tuple[Engine, Engine], mordor_events: list[dict[str, Any]]
) -> None:
    native, python = sigmahq
    found = assert_same_hits(native, python, mordor_events, "Mordor")
    assert found > 300  # there is something to agree on
    # The C router really chose the rules of the Windows events (not a fallback to Python).
    routed = sum(native._router(e) is not None for e in mordor_events)  # type: ignore[misc]
    assert routed > 15_000


def _regression_files() -> list[Path]:
    if not SIGMA_REGRESSION.exists():
        return []
    return [f for case in regression_cases(SIGMA_REGRESSION) for f in case.events]


def test_c_prefilter_misses_no_sigmahq_hit_on_the_regression_data(
    sigmahq: tuple[Engine, Engine],
) -> None:
    files = _regression_files()
    if not files:
        pytest.skip(f"shared test data absent: {SIGMA_REGRESSION}")
    native, python = sigmahq
    found = 0
    for path in files:
        outcome = parse_event_file(path, source="auto", max_event_bytes=LIMIT)
        found += assert_same_hits(native, python, outcome.events, path.name)
    assert found >= len(files) // 2  # each case fires its rule


def _variants(event: dict[str, Any], rng: random.Random) -> list[dict[str, Any]]:
    """``event`` with its text values in capitals, in mixed case, with a non-ASCII case pair
    in them (the C path then lowers in Python), and split into list items."""
    out = []
    for kind in range(4):
        changed = dict(event)
        for key, value in event.items():
            if type(value) is not str or not key.startswith("winlog.event_data."):
                continue
            if kind == 0:
                changed[key] = value.upper()
            elif kind == 1:
                changed[key] = "".join(c.upper() if rng.random() < 0.5 else c for c in value)
            elif kind == 2 and rng.random() < 0.5:
                at = rng.randrange(len(value) + 1)
                changed[key] = value[:at] + rng.choice("\u0130\u1e9e\u03a3") + value[at:]
            elif kind == 3 and value and rng.random() < 0.5:
                at = rng.randrange(len(value) + 1)
                changed[key] = [value[:at], value[at:]]
        out.append(changed)
    return out


def test_c_prefilter_misses_no_sigmahq_hit_on_recased_and_split_mordor_values(
    sigmahq: tuple[Engine, Engine], mordor_events: list[dict[str, Any]]
) -> None:
    native, python = sigmahq
    rng = random.Random(4688)
    sample = rng.sample(mordor_events, 2_500)
    events = [variant for event in sample for variant in _variants(event, rng)]
    assert assert_same_hits(native, python, events, "variant") > 20


def _rule_literals(engine: Engine, event: dict[str, Any]) -> list[tuple[str, str]]:
    """The (key, literal) pairs the rules of ``event``'s buckets search: vetoes first."""
    vetoes: list[tuple[str, str]] = []
    needed: list[tuple[str, str]] = []
    for key in event_route_keys(event) or ():
        bucket = engine._buckets.get(key)
        for compiled in bucket.rules if bucket is not None else ():
            vetoes += sorted(compiled.vetoes)
            needed += sorted(pair for clause in compiled.clauses for g in clause for pair in g)
    return vetoes + needed


def _with_literals(
    event: dict[str, Any], pairs: list[tuple[str, str]], rng: random.Random
) -> dict[str, Any]:
    """``event`` with a few of the rules' literals written into its values: added to the
    text there, in capitals or not, or split across two list items."""
    changed = dict(event)
    data_keys = [k for k in event if k.startswith("winlog.event_data.")]
    for _ in range(rng.randint(1, 3)):
        key, literal = rng.choice(pairs)
        if key.startswith("\x00"):  # keywords search every event-data value
            if not data_keys:
                continue
            key = rng.choice(data_keys)
        old = changed.get(key)
        old = old if isinstance(old, str) else ""
        literal = literal.upper() if rng.random() < 0.3 else literal
        how = rng.randrange(4)
        if how == 0:
            changed[key] = old + literal
        elif how == 1:
            changed[key] = literal + " " + old
        elif how == 2 and len(literal) > 1:
            cut = rng.randrange(1, len(literal))
            changed[key] = [old + literal[:cut], literal[cut:]]
        else:
            changed[key] = literal
    return changed


def test_c_prefilter_misses_no_sigmahq_hit_when_mordor_values_hold_the_rules_vetoes(
    sigmahq: tuple[Engine, Engine], mordor_events: list[dict[str, Any]]
) -> None:
    """The veto literals (and the clauses' literals) of the rules each event is tested
    against, written into its values: where a veto sits in a value that also holds the
    selection, or is split across list items, Python and C must still agree."""
    native, python = sigmahq
    rng = random.Random(4663)
    events = []
    for event in rng.sample(mordor_events, 4_000):
        pairs = _rule_literals(native, event)
        if pairs:
            events += [_with_literals(event, pairs, rng) for _ in range(2)]
    assert len(events) > 4_000
    assert assert_same_hits(native, python, events, "with literals") > 20


# --- the Prefilter alone, against brute force -----------------------------------------------

ALPHABET = "abAB.-\u0130i\u0307\u0131\u1e9e\u00df\u03a3\u03c3\u03c2\u00e9\u00c9\U0001f600"
LITERALS = st.text(alphabet="ab.-\u0130i\u0307\u0131\u00df\u03c3\u03c2\u00e9", min_size=0,
                   max_size=5)  # fmt: skip
TEXT = st.text(alphabet=ALPHABET, max_size=24)
KEYS = ["winlog.event_data.A", "winlog.event_data.B"]
FIELD_VALUES = st.one_of(
    TEXT, TEXT, st.lists(TEXT, max_size=3), st.none(), st.integers(-5, 99), st.just("")
)


def _lowered_items(low: Any, key: str) -> list[str]:
    value = low[key]
    if value is None:
        return []
    return [value] if type(value) is str else list(value)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(KEYS), LITERALS), min_size=1, max_size=10),
    st.dictionaries(st.sampled_from(KEYS), FIELD_VALUES, max_size=2),
    st.data(),
)
def test_c_automaton_finds_every_literal_python_finds_and_no_other(
    literals: list[tuple[str, str]], fields: dict[str, Any], data: st.DataObject
) -> None:
    """Rules anchored on one literal each, with random clauses and vetoes over the same
    literals: the rules C returns are exactly those brute force (``literal in`` each
    lowercased item) says: anchored, a clause holding, no veto found."""
    count = len(literals)
    ids = st.integers(0, count - 1)
    always = data.draw(st.lists(st.booleans(), min_size=count, max_size=count))
    clauses = data.draw(
        st.lists(
            st.lists(st.lists(st.lists(ids, min_size=1, max_size=3), max_size=2), min_size=1,
                     max_size=2),
            min_size=count, max_size=count,
        )
    )  # fmt: skip
    vetoes = data.draw(st.lists(st.lists(ids, max_size=2), min_size=count, max_size=count))
    event: dict[str, Any] = {"winlog.channel": SYSMON, "winlog.event_id": 1, **fields}
    low = _Lowered(event)
    found = [any(literal in item for item in _lowered_items(low, key)) for key, literal in literals]
    expected = [
        rule
        for rule in range(count)
        if (always[rule] or found[rule])
        and any(all(any(found[i] for i in group) for group in clause) for clause in clauses[rule])
        and not any(found[i] for i in vetoes[rule])
    ]
    prefilter = native_prefilter(
        [None if always[r] else frozenset({literals[r]}) for r in range(count)],
        [tuple(tuple(frozenset(literals[i] for i in g) for g in c) for c in clauses[r])
         for r in range(count)],
        [frozenset(literals[i] for i in vetoes[r]) for r in range(count)],
        list(range(count)),
    )  # fmt: skip
    assert prefilter is not None
    assert prefilter(event, _Lowered(event)) == expected


# --- generated rules over generated events -------------------------------------------------

# Literals over few letters overlap (Aho-Corasick failure links), mix cases and hold the
# non-ASCII letters whose lowercase is another length or depends on context.
RULE_LETTERS = "abAB.- \u0130\u1e9e\u03a3\u00df\u03c3\u0131\u00e9"
EVENT_LETTERS = RULE_LETTERS + "i\u0307\u03c2\u00c9\U0001f600/\u017f\u212a"
RULE_LITERAL = st.text(alphabet=RULE_LETTERS, min_size=1, max_size=5).filter(
    lambda s: s.strip() == s and s.strip()
)
MODIFIERS = ["", "|contains", "|startswith", "|endswith", "|contains|all", "|contains|cased",
             "|re", "|re|i", "|contains", "|contains"]  # fmt: skip
PROCESS_FIELDS = ["Image", "CommandLine", "ParentImage", "OriginalFileName"]
SECURITY_FIELDS = ["TargetUserName", "ObjectName", "CommandLine", "ProcessName"]
CONDITIONS = [
    "selection_a",
    "selection_a and not filter_a",
    "1 of selection_* and not 1 of filter_*",
    "all of selection_* and not filter_a",
    "selection_a and not (filter_a or filter_b)",
    "selection_a and not filter_a and not filter_b",
    "selection_a and not (filter_a and filter_b)",
    "(selection_a and not filter_a) or selection_b",
    "keywords and not filter_a",
    "selection_a or keywords",
    "1 of selection_* and not keywords",
    "not filter_a",
    "not 1 of filter_*",
    "selection_a and selection_b and not filter_b",
]


def _regex(literals: list[str]) -> str:
    def quoted(text: str) -> str:
        return "".join("\\" + c if c in ".-" else c for c in text)

    return ".*".join(quoted(lit) for lit in literals)


@st.composite
def rule_items(draw: st.DrawFn, fields: list[str], veto: bool) -> dict[str, Any]:
    """One selection (or filter: mostly ``contains``, the vetoes' kind): 1-2 fields."""
    out: dict[str, Any] = {}
    for field in draw(st.lists(st.sampled_from(fields), min_size=1, max_size=2, unique=True)):
        modifier = "|contains" if veto and draw(st.booleans()) else draw(st.sampled_from(MODIFIERS))
        literals = draw(st.lists(RULE_LITERAL, min_size=1, max_size=3))
        if modifier.startswith("|re"):
            out[field + modifier] = _regex(literals)
        else:
            out[field + modifier] = literals if len(literals) > 1 else literals[0]
    return out


@st.composite
def sigma_rules(draw: st.DrawFn, index: int) -> tuple[str, list[str]]:
    """A rule's YAML and the literals it names (the events are made of them)."""
    security = draw(st.booleans())
    fields = SECURITY_FIELDS if security else PROCESS_FIELDS
    logsource = "service: security" if security else "category: process_creation"
    detection: dict[str, Any] = {}
    for name in ("selection_a", "selection_b", "filter_a", "filter_b"):
        veto = name.startswith("filter")
        if draw(st.integers(0, 3)) == 0:  # a list of maps: an OR of ANDs
            detection[name] = draw(st.lists(rule_items(fields, veto), min_size=2, max_size=3))
        else:
            detection[name] = draw(rule_items(fields, veto))
        if security and name == "selection_a" and draw(st.booleans()):
            detection[name] = [{**item, "EventID": draw(st.sampled_from([4624, 4663, 4688]))}
                               for item in (detection[name] if isinstance(detection[name], list)
                                            else [detection[name]])]  # fmt: skip
    detection["keywords"] = draw(st.lists(RULE_LITERAL, min_size=1, max_size=3))
    detection["condition"] = draw(st.sampled_from(CONDITIONS))
    text = "\n".join(
        [
            f"title: generated rule {index}",
            f"id: 00000000-0000-4000-8000-{index:012d}",
            "status: test",
            "level: high",
            "logsource:",
            "    product: windows",
            "    " + logsource,
            "detection: " + json.dumps(detection),
        ]
    )
    literals = [
        lit for value in _strings(detection) for lit in value.replace("\\", "").split(".*") if lit
    ]
    return text, literals


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    if isinstance(value, dict):
        return [s for key, item in value.items() if key != "condition" for s in _strings(item)]
    return []


@st.composite
def texts_of(draw: st.DrawFn, literals: list[str]) -> str:
    """A text made of the rules' literals (as written, in capitals, in mixed case, cut
    short) and stray letters."""
    parts = []
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.integers(0, 6))
        if kind <= 3 and literals:
            literal = draw(st.sampled_from(literals))
            if kind == 1:
                literal = literal.upper()
            elif kind == 2:
                flips = draw(st.lists(st.booleans(), min_size=len(literal), max_size=len(literal)))
                literal = "".join(
                    c.swapcase() if f else c for c, f in zip(literal, flips, strict=True)
                )
            elif kind == 3:
                cut = draw(st.integers(0, len(literal)))
                literal = literal[:cut] if draw(st.booleans()) else literal[cut:]
            parts.append(literal)
        else:
            parts.append(draw(st.text(alphabet=EVENT_LETTERS, min_size=1, max_size=3)))
    return "".join(parts)


@st.composite
def field_values(draw: st.DrawFn, literals: list[str]) -> Any:
    kind = draw(st.integers(0, 9))
    if kind <= 5:
        return draw(texts_of(literals))
    if kind == 6:  # list items, made by cutting one text (a literal split across items)
        text = draw(texts_of(literals))
        cuts = sorted(draw(st.lists(st.integers(0, len(text)), min_size=1, max_size=2)))
        bounds = [0, *cuts, len(text)]
        return [text[a:b] for a, b in itertools.pairwise(bounds)]
    if kind == 7:
        return draw(st.lists(texts_of(literals), max_size=3))
    if kind == 8:
        return ""
    return draw(st.sampled_from([None, 0, 4688, True]))


CHANNELS = {
    "sysmon": [SYSMON, SYSMON.lower(), SYSMON.upper()],
    "security": ["Security", "security", "SECURITY"],
}
ALL_FIELDS = sorted({*PROCESS_FIELDS, *SECURITY_FIELDS, "NewProcessName", "ParentProcessName",
                     "ObjectType"})  # fmt: skip


@st.composite
def windows_events(draw: st.DrawFn, literals: list[str]) -> dict[str, Any]:
    family = draw(st.sampled_from(sorted(CHANNELS)))
    event_id = draw(st.sampled_from([1, 1, 7] if family == "sysmon" else [4688, 4624, 4663, 4688]))
    event: dict[str, Any] = {
        "winlog.channel": draw(st.sampled_from(CHANNELS[family])),
        "winlog.event_id": str(event_id) if draw(st.integers(0, 9)) == 0 else event_id,
        "event.code": str(event_id),
        "host.name": "ws1",
    }
    for field in ALL_FIELDS:
        if draw(st.integers(0, 3)) == 0:
            continue  # key absent
        if field == "ObjectType":
            event["winlog.event_data." + field] = draw(st.sampled_from(["File", "Key"]))
        else:
            event["winlog.event_data." + field] = draw(field_values(literals))
    return event


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[str], list[dict[str, Any]]]:
    rules = [draw(sigma_rules(index)) for index in range(draw(st.integers(1, 3)))]
    literals = sorted({lit for _, found in rules for lit in found})
    events = draw(st.lists(windows_events(literals), min_size=1, max_size=6))
    return [text for text, _ in rules], events


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_c_prefilter_drops_no_generated_rule_python_would_match(
    scenario: tuple[list[str], list[dict[str, Any]]],
) -> None:
    texts, events = scenario
    ruleset = load_rules([(f"rule{i}.yml", text) for i, text in enumerate(texts)])
    assume(not ruleset.problems and ruleset.rules)
    native, python = Engine(ruleset, native=True), Engine(ruleset, native=False)
    assume(not native.problems)  # e.g. a regex RE2 refuses: the same for both
    assert uses_c(native) and uses_python(python)
    assert_same_hits(native, python, events, "generated")


def _rule(detection: str, logsource: str = "category: process_creation") -> str:
    return (
        "title: t\nid: 00000000-0000-4000-8000-000000000001\nstatus: test\nlevel: high\n"
        f"logsource:\n    product: windows\n    {logsource}\ndetection:\n{detection}"
    )


VETO = """    selection:
        Image|contains: 'cmd'
    filter:
        CommandLine|contains: 'safe'
    condition: selection and not filter
"""


@pytest.mark.parametrize(
    ("detection", "data", "fires"),
    [
        (VETO, {"Image": "C:\\CMD.EXE", "CommandLine": "SAFE"}, False),
        (VETO, {"Image": "C:\\CMD.EXE", "CommandLine": ["sa", "fe"]}, True),  # split
        (VETO, {"Image": "cmd", "CommandLine": ""}, True),
        (VETO, {"Image": "cmd"}, True),  # the filter's key absent
        (VETO, {"Image": "cmd", "CommandLine": "cmd safe", "ParentImage": "safe"}, False),
        (VETO, {"Image": "cmd safe", "CommandLine": "cmd"}, True),  # veto in another field
        (VETO, {"Image": "CMD", "CommandLine": "\u0130safe"}, False),
        (VETO, {"Image": ["x", "cmd"], "CommandLine": ["x", "s\u0130fe"]}, True),
        (
            """    selection:
        Image|contains: '\u03c3'
    filter:
        CommandLine|contains: '\u03c3a'
    condition: selection and not filter
""",
            {"Image": "\u03a3\u03a3", "CommandLine": "\u03a3A"},
            False,
        ),
        (
            """    selection:
        Image|contains: '\u03c3'
    filter:
        CommandLine|contains: '\u03c3'
    condition: selection and not filter
""",
            {"Image": "\u03a3\u03a3", "CommandLine": "A\u03a3"},
            True,
        ),  # a final Σ lowers to ς
        (
            """    selection:
        Image|contains: 'stra\u00dfe'
    filter:
        CommandLine|contains: 'i\u0307'
    condition: selection and not filter
""",
            {"Image": "STRA\u1e9eE", "CommandLine": "I"},
            True,
        ),
        (
            """    selection:
        Image|contains|all: ['ab', 'ba']
    condition: selection
""",
            {"Image": ["ab", "ba"]},
            True,
        ),  # each literal in some item
        (
            """    keywords: ['bab']
    filter:
        CommandLine|contains: 'abab'
    condition: keywords and not filter
""",
            {"Image": "xBABx", "CommandLine": "aba"},
            True,
        ),
    ],
)
def test_c_prefilter_matches_python_on_the_hand_picked_veto_and_case_traps(
    detection: str, data: dict[str, Any], fires: bool
) -> None:
    ruleset = load_rules([("rule.yml", _rule(detection))])
    assert not ruleset.problems
    native, python = Engine(ruleset, native=True), Engine(ruleset, native=False)
    assert uses_c(native)
    event: dict[str, Any] = {"winlog.channel": SYSMON, "winlog.event_id": 1}
    event.update({f"winlog.event_data.{k}": v for k, v in data.items()})
    assert hits(native, event) == hits(python, event)
    assert bool(hits(python, event)) is fires


# --- the batch call -------------------------------------------------------------------------


def test_matching_a_batch_at_once_gives_each_event_the_hits_it_gets_alone(
    mordor_events: list[dict[str, Any]],
) -> None:
    """``Engine.match_many`` (one call into C per batch, as ``maat detect`` and the server's
    detector run) must give every event exactly what ``match`` gives it: same hits, same
    order, correlations fed in the same order, events that are not dicts or not Windows
    routed in Python."""
    if not (SIGMA / "rules").exists():
        pytest.skip(f"shared test data absent: {SIGMA / 'rules'} (see shared/data/SOURCES.md)")
    ruleset = load_rules(rule_texts([p for p in RULE_FOLDERS if p.exists()]))
    batch: list[Any] = list(mordor_events[:6000])
    batch[10] = MappingProxyType(batch[10])  # a mapping that is not a dict
    batch.insert(20, {"event.dataset": "zeek.conn", "@timestamp": "2026-01-01T00:00:00Z"})
    batch.insert(30, {"winlog.channel": "Security", "winlog.event_id": "4688"})  # id as text
    for native in (True, False):
        one, many = Engine(ruleset, native=native), Engine(ruleset, native=native)
        alone = {i: [(h.rule.id, h.route) for h in one.match(e)] for i, e in enumerate(batch)}
        together = many.match_many(batch)
        assert {i: h for i, h in alone.items() if h} == {
            i: [(h.rule.id, h.route) for h in hits] for i, hits in together.items()
        }
        assert together, "the batch has hits to compare"

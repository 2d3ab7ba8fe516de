"""Tests for maat.vulns.osv: the OSV model, its validation, JSON and YAML input, the loader."""

from __future__ import annotations

import contextlib
import copy
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from maat.errors import InvalidInput
from maat.vulns.osv import Affected, Event, Range, fixed_versions, load_osv, parse_osv


def doc(**extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "schema_version": "1.6.0",
        "id": "GHSA-aaaa-bbbb-cccc",
        "modified": "2024-03-01T10:00:00Z",
        "published": "2024-02-01T00:00:00Z",
        "aliases": ["CVE-2024-0001"],
        "summary": "Demo flaw",
        "details": "Longer text.",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "demo", "purl": "pkg:pypi/demo"},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.2.0"}]},
                    {
                        "type": "GIT",
                        "repo": "https://example.com/demo.git",
                        "events": [{"introduced": "0"}, {"fixed": "abc123"}],
                    },
                ],
                "versions": ["1.0.0", "1.1.0"],
                "ecosystem_specific": {"imports": ["demo.x"]},
            }
        ],
        "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
        "database_specific": {"severity": "CRITICAL", "github_reviewed": True},
    }
    base.update(extra)
    return base


def error_of(document: Any, source: str = "a.json") -> InvalidInput:
    with pytest.raises(InvalidInput) as err:
        parse_osv(document, source=source)
    return err.value


# --- the model --------------------------------------------------------------------------------


def test_parses_every_field_from_a_mapping() -> None:
    a = parse_osv(doc(), source="GHSA-aaaa-bbbb-cccc.json")
    assert a.id == "GHSA-aaaa-bbbb-cccc"
    assert a.modified == datetime(2024, 3, 1, 10, tzinfo=UTC)
    assert a.published == datetime(2024, 2, 1, tzinfo=UTC)
    assert a.withdrawn is None and not a.is_withdrawn
    assert a.aliases == ("CVE-2024-0001",)
    assert a.ids == ("GHSA-aaaa-bbbb-cccc", "CVE-2024-0001")
    assert (a.summary, a.details) == ("Demo flaw", "Longer text.")
    assert a.affected == (
        Affected(
            "PyPI",
            "demo",
            "pkg:pypi/demo",
            (
                Range("ECOSYSTEM", (Event("introduced", "0"), Event("fixed", "1.2.0"))),
                Range(
                    "GIT",
                    (Event("introduced", "0"), Event("fixed", "abc123")),
                    "https://example.com/demo.git",
                ),
            ),
            ("1.0.0", "1.1.0"),
        ),
    )
    assert a.severity[0].score == 9.8
    assert a.database_specific["github_reviewed"] is True
    assert a.database_severity is not None and a.database_severity.rating == "critical"
    assert a.source == "GHSA-aaaa-bbbb-cccc.json"
    assert fixed_versions(a.affected[0]) == ("1.2.0",)
    assert a.fixed_versions_for("demo") == ("1.2.0",)
    assert a.fixed_versions_for("demo", "npm") == ()
    assert a.affected[0].ranges[0].values("introduced") == ("0",)


def test_to_dict_is_the_original_document_with_unknown_fields_and_is_a_copy() -> None:
    original = doc(x_vendor={"nested": [1, {"deep": None}]}, upstream=["CVE-2024-0001"])
    source = copy.deepcopy(original)
    a = parse_osv(source, source="a.json")
    source["id"] = "changed"  # the caller's object is not shared
    assert a.to_dict() == original
    assert a.raw == original
    out = a.to_dict()
    out["x_vendor"]["nested"].append(2)
    assert a.to_dict() == original


def test_json_and_yaml_bytes_give_the_same_advisory() -> None:
    from_json = parse_osv(orjson.dumps(doc()), source="a")
    from_yaml = parse_osv(yaml.safe_dump(doc()).encode(), source="a")
    assert from_json == from_yaml
    assert parse_osv(orjson.dumps(doc()), source="a.json") == replace(from_json, source="a.json")
    assert from_yaml.to_dict() == doc()


def test_yaml_scalars_keep_their_text() -> None:
    text = b"""\
id: PYSEC-1
modified: 2024-01-01T00:00:00Z
published: 2023-12-31T00:00:00Z
affected:
- package: {ecosystem: PyPI, name: demo}
  ranges:
  - type: ECOSYSTEM
    events:
    - introduced: 0
    - fixed: 1.10
  versions: [1.0, 1.9, 2, 010, 1e3, .5]
database_specific: {flag: true, count: 3, ratio: 0.5, none: ~}
"""
    a = parse_osv(text, source="PYSEC-1.yaml")
    events = a.affected[0].ranges[0].events
    assert [(e.kind, e.value) for e in events] == [("introduced", "0"), ("fixed", "1.10")]
    assert a.affected[0].versions == ("1.0", "1.9", "2", "010", "1e3", ".5")
    raw = a.to_dict()
    assert raw["modified"] == "2024-01-01T00:00:00Z"  # a string, not a datetime
    assert raw["database_specific"] == {"flag": True, "count": 3, "ratio": "0.5", "none": None}


def test_withdrawn_and_related_in_both_forms() -> None:
    a = parse_osv(
        doc(
            withdrawn="2024-05-01T00:00:00+02:00",
            related=["CVE-2024-9", {"type": "SIMILAR_TO", "id": "GHSA-x"}],
        ),
        source="a.json",
    )
    assert a.withdrawn == datetime(2024, 4, 30, 22, tzinfo=UTC)
    assert a.related == ("CVE-2024-9", "GHSA-x")


def test_tolerated_forms() -> None:
    a = parse_osv(
        doc(
            affected=[
                {
                    "package": {"ecosystem": "npm", "name": "x"},
                    "ranges": [
                        {"type": "SEMVER", "events": [{"introduced": "1.0.0"}, {"limit": "2.0.0"}]},
                        {
                            "type": "ECOSYSTEM",
                            "events": [{"introduced": "1"}, {"fixed": "2"}, {"last_affected": "3"}],
                        },
                    ],
                },
                {"ranges": [{"type": "GIT", "repo": "r", "events": [{"introduced": "abc"}]}]},
            ],
            aliases=None,
            severity=None,
        ),
        source="a.json",
    )
    assert a.affected[0].ranges[0].events[1] == Event("limit", "2.0.0")
    assert (a.affected[1].ecosystem, a.affected[1].name, a.affected[1].purl) == ("", "", None)
    assert a.aliases == () and a.severity == ()


def test_minimal_advisory() -> None:
    a = parse_osv({"id": "X-1", "modified": "2024-01-01T00:00:00Z"}, source="x.json")
    assert (a.affected, a.aliases, a.summary, a.published) == ((), (), "", None)


# --- validation -------------------------------------------------------------------------------


def with_events(*events: Any, type_: str = "ECOSYSTEM") -> dict[str, Any]:
    good = {"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}
    return doc(
        affected=[
            {
                "package": {"ecosystem": "PyPI", "name": "d"},
                "ranges": [good, {"type": type_, "events": list(events)}],
            }
        ]
    )


@pytest.mark.parametrize(
    ("document", "field", "message"),
    [
        ({"modified": "2024-01-01T00:00:00Z"}, "id", "is required"),
        (doc(id=""), "id", "1 to 200 characters"),
        (doc(id="A B"), "id", "spaces"),
        (doc(id=7), "id", "expected an id string"),
        (doc(modified=None), "modified", "is required"),
        (doc(modified="yesterday"), "modified", "ISO-8601"),
        (doc(modified="2024-01-01T00:00:00"), "modified", "no UTC offset"),
        (doc(published=5), "published", "timestamp string"),
        (doc(schema_version="2.0.0"), "schema_version", "not supported"),
        (doc(aliases="CVE-1"), "aliases", "expected a list"),
        (doc(aliases=["CVE-1", None]), "aliases[1]", "expected an id string"),
        (doc(related=[{"type": "X"}]), "related[0].id", "expected an id string"),
        (doc(summary=["x"]), "summary", "expected a string"),
        (doc(affected={"package": {}}), "affected", "expected a list"),
        (doc(affected=["x"]), "affected[0]", "expected an object"),
        (
            doc(affected=[{"package": {"name": "x"}}]),
            "affected[0].package.ecosystem",
            "is required",
        ),
        (
            doc(affected=[{"package": {"ecosystem": "PyPI", "name": " "}}]),
            "affected[0].package.name",
            "must not be empty",
        ),
        (
            doc(affected=[{"package": {"ecosystem": "PyPI", "name": "x"}, "versions": [True]}]),
            "affected[0].versions[0]",
            "version string",
        ),
        (
            doc(
                affected=[{"package": {"ecosystem": "PyPI", "name": "x"}, "database_specific": []}]
            ),
            "affected[0].database_specific",
            "expected an object",
        ),
        (doc(database_specific="x"), "database_specific", "expected an object"),
        (
            with_events({"introduced": "0", "fixed": "1"}),
            "affected[0].ranges[1].events[0]",
            "exactly one of",
        ),
        (
            with_events({"introduced": "0"}, {"fixed": "1"}, {}),
            "affected[0].ranges[1].events[2]",
            "exactly one of",
        ),
        (
            with_events({"introduced": "0"}, {"patched": "1"}),
            "affected[0].ranges[1].events[1]",
            "unknown event 'patched'",
        ),
        (
            with_events({"introduced": "0"}, "fixed: 1"),
            "affected[0].ranges[1].events[1]",
            "an event must be an object",
        ),
        (
            with_events({"introduced": ""}),
            "affected[0].ranges[1].events[0].introduced",
            "1 to 1024",
        ),
        (
            with_events({"introduced": None}),
            "affected[0].ranges[1].events[0].introduced",
            "version string",
        ),
        (with_events({"fixed": "1"}), "affected[0].ranges[1].events", "must have an 'introduced'"),
        (with_events(), "affected[0].ranges[1].events", "at least one event"),
        (
            with_events({"introduced": "0"}, type_="SEMVAR"),
            "affected[0].ranges[1].type",
            "expected one of SEMVER",
        ),
        (
            with_events({"introduced": "0"}, type_="GIT"),
            "affected[0].ranges[1].repo",
            "needs its repository",
        ),
        # A bad severity entry no longer rejects the advisory (it cost its ranges, a false
        # negative): it is reported in ``problems``; see test_osv_bad_severity.py.
    ],
)
def test_bad_advisories_are_located(document: dict[str, Any], field: str, message: str) -> None:
    err = error_of(document, source="vulns/a.json")
    assert err.location.file == "vulns/a.json"
    assert err.location.field == field
    assert message in err.message


@pytest.mark.parametrize(
    ("data", "source", "line", "message"),
    [
        (b'{"id": "X",\n "modified": }', "a.json", 2, "not valid JSON"),
        (b"id: X\nmodified: [\n", "a.yaml", 3, "not valid YAML"),
        (b"id: X\n---\nid: Y\n", "a.yaml", 2, "not valid YAML"),
        (b"a: &x [1, 2]\nb: *x\n", "a.yaml", 1, "aliases"),  # line of the anchored value
        (b"id: \xc3\x28\n", "a.yaml", None, "not valid YAML"),
        (b"id: X\nmodified: !!timestamp 2024-01-01T00:00:00Z\n", "a.yaml", 2, "JSON types only"),
        (b"id: !!binary aGk=\n", "a.yaml", 1, "JSON types only"),
        (b"!!python/object:os.system {}", "a.yaml", 1, "not valid YAML"),
        (b"[" * 5000, "a.yaml", None, "YAML"),
        (b"[" * 5000, "a.json", None, "not valid JSON"),
        (b"- 1\n- 2\n", "a.yaml", None, "list of 2 advisories"),
        (b'"text"', "a.json", None, "expected an OSV advisory object, got str"),
    ],
)
def test_undecodable_bytes_are_located(
    data: bytes, source: str, line: int | None, message: str
) -> None:
    err = error_of(data, source=source)
    assert err.location.file == source
    if line is not None:
        assert err.location.line == line
    assert message in err.message


def test_non_mapping_document_is_refused() -> None:
    assert "expected an OSV advisory object or bytes" in error_of(["x"]).message


# --- the loader -------------------------------------------------------------------------------


def test_load_keeps_good_files_and_reports_bad_ones() -> None:
    items = [
        ("a.json", orjson.dumps(doc(id="A-1"))),
        ("bad.json", orjson.dumps(with_events({"fixed": "1"}) | {"id": "B-1"})),
        ("list.json", orjson.dumps([doc(id="C-1"), doc(id="C-3")])),
        ("big.json", b" " * 5001),
        ("d.yaml", b"id: D-1\nmodified: '2024-01-01T00:00:00Z'\n"),
    ]
    advisories, problems = load_osv(items, max_bytes_per_item=5000)
    assert [a.id for a in advisories] == ["A-1", "C-1", "C-3", "D-1"]
    assert [a.source for a in advisories] == ["a.json", "list.json", "list.json", "d.yaml"]
    assert [p.location.file for p in problems] == ["bad.json", "big.json"]
    assert "5001 bytes, above the limit of 5000 bytes" in problems[1].message


def test_load_locates_problems_inside_lists_and_files() -> None:
    items = [
        ("bad.json", orjson.dumps(with_events({"fixed": "1"}) | {"id": "B-1"})),
        ("list.json", orjson.dumps([doc(id="C-1"), {"id": "C-2"}, "x"])),
        ("README.md", b"# title\nkey: [unclosed\n"),
    ]
    advisories, problems = load_osv(items)
    assert [a.id for a in advisories] == ["C-1"]
    assert [(p.location.file, p.location.field, p.location.line) for p in problems] == [
        ("bad.json", "affected[0].ranges[1].events", None),
        ("list.json", "[1].modified", None),
        ("list.json", "[2]", None),
        ("README.md", None, 3),
    ]


def test_load_reports_an_empty_list() -> None:
    advisories, problems = load_osv([("empty.json", b"[]"), ("empty.yaml", b"[ ]")])
    assert advisories == []
    assert [(p.location.file, p.message) for p in problems] == [
        ("empty.json", "holds an empty list: no advisories"),
        ("empty.yaml", "holds an empty list: no advisories"),
    ]


def test_load_keeps_the_newest_of_duplicate_ids() -> None:
    old = doc(id="A-1", modified="2024-01-01T00:00:00Z", summary="old")
    new = doc(id="A-1", modified="2024-06-01T00:00:00Z", summary="new")
    advisories, problems = load_osv(
        [
            ("old.json", orjson.dumps(old)),
            ("b.json", orjson.dumps(doc(id="B-1"))),
            ("new.json", orjson.dumps(new)),
        ]
    )
    assert [(a.id, a.summary) for a in advisories] == [("A-1", "new"), ("B-1", "Demo flaw")]
    (problem,) = problems
    assert problem.location.file == "old.json"
    assert "duplicate advisory A-1: kept the one from new.json" in problem.message


# --- fuzzing ----------------------------------------------------------------------------------

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=25,
)
FIELDS = [
    "id",
    "modified",
    "published",
    "withdrawn",
    "aliases",
    "related",
    "summary",
    "details",
    "affected",
    "severity",
    "database_specific",
    "schema_version",
]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.sampled_from(["a.json", "a.yaml", "a"]))
def test_arbitrary_bytes_raise_only_invalid_input(data: bytes, source: str) -> None:
    with contextlib.suppress(InvalidInput):
        parse_osv(data, source=source)
    advisories, problems = load_osv([(source, data)])
    assert len(advisories) + len(problems) >= 1


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(FIELDS), JSON, max_size=8))
def test_arbitrary_json_objects_raise_only_invalid_input(document: dict[str, Any]) -> None:
    with contextlib.suppress(InvalidInput):
        parse_osv(document, source="f.json")


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_mutated_valid_advisories_raise_only_invalid_input(data: st.DataObject) -> None:
    document = doc()
    path: list[Any] = []
    node: Any = document
    while isinstance(node, dict | list) and node and data.draw(st.booleans()):
        key = data.draw(
            st.sampled_from(sorted(node) if isinstance(node, dict) else list(range(len(node))))
        )
        path.append(key)
        if isinstance(node[key], dict | list):
            node = node[key]
        else:
            break
    target: Any = document
    for key in path[:-1]:
        target = target[key]
    if path:
        target[path[-1]] = data.draw(JSON)
    try:
        advisory = parse_osv(document, source="m.json")
    except InvalidInput:
        return
    assert advisory.to_dict() == document
    again = parse_osv(orjson.dumps(document), source="m.json")
    assert again == advisory

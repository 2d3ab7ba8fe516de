"""Tests for maat.vulns.kev: the CISA KEV catalogue from JSON and CSV."""

from __future__ import annotations

import contextlib
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maat.errors import InvalidInput
from maat.vulns.kev import KevEntry, parse_kev, parse_kev_csv, parse_kev_json

DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "cisa-kev"
JSON_FILE = DATA / "known_exploited_vulnerabilities.json"
CSV_FILE = DATA / "known_exploited_vulnerabilities.csv"
needs_data = pytest.mark.skipif(
    not (JSON_FILE.is_file() and CSV_FILE.is_file()), reason=f"CISA KEV data not found in {DATA}"
)


def record(**changes: Any) -> dict[str, Any]:
    base = {
        "cveID": "CVE-2021-44228",
        "vendorProject": "Apache",
        "product": "Log4j2",
        "vulnerabilityName": "Apache Log4j2 Remote Code Execution Vulnerability",
        "dateAdded": "2021-12-10",
        "shortDescription": "JNDI features do not protect against attacker-controlled LDAP.",
        "requiredAction": "Apply updates per vendor instructions.",
        "dueDate": "2021-12-24",
        "knownRansomwareCampaignUse": "Known",
        "notes": "https://logging.apache.org/log4j/2.x/security.html",
        "cwes": ["CWE-20", "CWE-400", "CWE-502"],
    }
    base.update(changes)
    return base


def catalogue(*records: dict[str, Any], **extra: Any) -> bytes:
    return orjson.dumps(
        {
            "title": "CISA Catalog of Known Exploited Vulnerabilities",
            "catalogVersion": "2024.01.02",
            "dateReleased": "2024-01-02T15:00:00.000Z",
            "count": len(records),
            "vulnerabilities": list(records),
            **extra,
        }
    )


LOG4J = KevEntry(
    cve_id="CVE-2021-44228",
    vendor="Apache",
    product="Log4j2",
    name="Apache Log4j2 Remote Code Execution Vulnerability",
    date_added=date(2021, 12, 10),
    short_description="JNDI features do not protect against attacker-controlled LDAP.",
    required_action="Apply updates per vendor instructions.",
    due_date=date(2021, 12, 24),
    known_ransomware=True,
    notes="https://logging.apache.org/log4j/2.x/security.html",
    cwes=("CWE-20", "CWE-400", "CWE-502"),
)


@needs_data
def test_real_catalogue_json_and_csv_agree() -> None:
    from_json, json_problems = parse_kev(JSON_FILE.read_bytes(), source=JSON_FILE.name)
    from_csv, csv_problems = parse_kev(CSV_FILE.read_bytes(), source=CSV_FILE.name)
    assert json_problems == [] and csv_problems == []
    assert from_json.count == len(from_json) == 1404 == from_json.declared_count
    assert from_json.version == "2025.08.25"
    assert from_json.released == datetime(2025, 8, 25, 17, 4, 19, 979600, tzinfo=UTC)
    assert from_json.title == "CISA Catalog of Known Exploited Vulnerabilities"
    assert from_csv.count == 1404 and from_csv.version is None
    assert dict(from_json.entries) == dict(from_csv.entries)
    git = from_json.get("cve-2025-48384 ")
    assert git is not None
    assert (git.vendor, git.product, git.date_added, git.due_date) == (
        "Git",
        "Git",
        date(2025, 8, 25),
        date(2025, 9, 15),
    )
    assert git.cwes == ("CWE-59", "CWE-436")
    assert not git.known_ransomware
    assert "CVE-2025-48384" in from_json and "CVE-1999-0000" not in from_json
    assert sum(e.known_ransomware for e in from_json) == 293


def test_json_entry_fields() -> None:
    kev, problems = parse_kev_json(catalogue(record()), source="kev.json")
    assert problems == []
    assert kev.get("CVE-2021-44228") == LOG4J
    assert kev.version == "2024.01.02"
    assert kev.released == datetime(2024, 1, 2, 15, tzinfo=UTC)


def test_csv_entry_fields() -> None:
    header = "cveID,vendorProject,product,vulnerabilityName,dateAdded,shortDescription,requiredAction,dueDate,knownRansomwareCampaignUse,notes,cwes"
    row = '"CVE-2021-44228",Apache,Log4j2,"Apache Log4j2 Remote Code Execution Vulnerability",2021-12-10,"JNDI features do not protect against attacker-controlled LDAP.","Apply updates per vendor instructions.",2021-12-24,Known,"https://logging.apache.org/log4j/2.x/security.html","CWE-20, CWE-400, CWE-502"'
    kev, problems = parse_kev_csv(f"\ufeff{header}\r\n{row}\r\n\r\n".encode(), source="kev.csv")
    assert problems == []
    assert kev.get("CVE-2021-44228") == LOG4J


def test_bad_entries_are_problems_and_the_rest_is_kept() -> None:
    data = catalogue(
        record(),
        record(cveID="CVE-21-1"),
        record(cveID="CVE-2022-0001", dateAdded="soon"),
        record(
            cveID="CVE-2022-0002",
            dueDate="later",
            knownRansomwareCampaignUse="Maybe",
            vendorProject=5,
        ),
        record(cveID="CVE-2021-44228"),
        "oops",
        count=99,
    )
    kev, problems = parse_kev_json(data, source="kev.json")
    assert sorted(kev.entries) == ["CVE-2021-44228", "CVE-2022-0002"]
    partial = kev.get("CVE-2022-0002")
    assert partial is not None and partial.due_date is None and partial.vendor == ""
    assert not partial.known_ransomware
    located = [(p.location.field, p.message.split(":")[0]) for p in problems]
    assert located == [
        ("vulnerabilities[1].cveID", "not a CVE id"),
        ("vulnerabilities[2].dateAdded", "CVE-2022-0001"),
        ("vulnerabilities[3].dueDate", "CVE-2022-0002"),
        ("vulnerabilities[3].knownRansomwareCampaignUse", "CVE-2022-0002"),
        ("vulnerabilities[3].vendorProject", "expected a string, got int"),
        ("vulnerabilities[4]", "CVE-2021-44228 is listed twice; kept the first"),
        ("vulnerabilities[5]", "expected an object, got str"),
        ("count", "the catalogue says it holds 99 entries but lists 6"),
    ]
    assert all(p.location.file == "kev.json" for p in problems)


def test_csv_problems_carry_line_numbers() -> None:
    text = (
        "cveID,vendorProject,product,vulnerabilityName,dateAdded,shortDescription,requiredAction,dueDate,knownRansomwareCampaignUse,notes,cwes\n"
        'CVE-2020-0001,A,B,"multi\nline name",2020-01-01,d,r,2020-02-01,Unknown,n,\n'
        "CVE-2020-0002,A,B,C,2020-01-01\n"
        "CVE-2020-0003,A,B,C,not-a-date,d,r,2020-02-01,Unknown,n,\n"
    )
    kev, problems = parse_kev(text.encode(), source="kev.csv")
    assert list(kev.entries) == ["CVE-2020-0001"]
    assert kev.get("CVE-2020-0001") is not None
    assert [(p.location.line, p.location.field) for p in problems] == [(4, None), (5, "dateAdded")]


@pytest.mark.parametrize(
    ("data", "source", "message"),
    [
        (b"{", "kev.json", "not valid JSON"),
        (b'{"vulnerabilities": 3}', "kev.json", "not a KEV catalogue"),
        (b"[]", "kev.json", "not a KEV catalogue"),
        (b"a,b,c\n1,2,3\n", "kev.csv", "not a KEV catalogue"),
        (b"", "kev.csv", "not a KEV catalogue"),
        (b"\xff\xfe", "kev.csv", "not UTF-8"),
        (b'cveID,dateAdded\n"unclosed', "kev.csv", "not valid CSV"),
        (b" " * 2000, "kev.csv", "above the limit"),
    ],
)
def test_unusable_files_raise_invalid_input(data: bytes, source: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as err:
        parse_kev(data, source=source, max_bytes=1000)
    assert err.value.location.file == source


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.sampled_from(["kev.json", "kev.csv"]))
def test_arbitrary_bytes_raise_only_invalid_input(data: bytes, source: str) -> None:
    with contextlib.suppress(InvalidInput):
        parse_kev(data, source=source)


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=15),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from(list(record())), JSONISH, max_size=11), max_size=4))
def test_arbitrary_records_give_entries_or_problems(records: list[dict[str, Any]]) -> None:
    kev, problems = parse_kev_json(catalogue(*records), source="kev.json")
    assert len(kev) <= len(records)
    if len(kev) < len(records):
        assert problems

"""Tests for maat.vulns.epss: the EPSS CSV (generated here; no real EPSS file is on disk)."""

from __future__ import annotations

import contextlib
import gzip
import random
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maat.errors import InvalidInput
from maat.vulns.epss import EpssScore, parse_epss

HEADER = "#model_version:v2023.03.01,score_date:2024-10-01T00:00:00+0000\ncve,epss,percentile\n"


def generated(rows: int, seed: int = 7) -> tuple[bytes, dict[str, EpssScore]]:
    """A file shaped like the daily EPSS download, and the scores it holds."""
    rnd = random.Random(seed)
    expected: dict[str, EpssScore] = {}
    lines = [HEADER]
    for i in range(rows):
        cve = f"CVE-{1999 + i % 26}-{i:05d}"
        epss, pct = round(rnd.random(), 5), round(rnd.random(), 5)
        expected[cve] = EpssScore(epss, pct)
        lines.append(f"{cve},{epss:.5f},{pct:.5f}\n")
    return "".join(lines).encode(), expected


def test_generated_file_is_read_whole() -> None:
    data, expected = generated(5000)
    scores, problems = parse_epss(data, source="epss_scores-2024-10-01.csv")
    assert problems == []
    assert dict(scores) == expected
    assert scores.model_version == "v2023.03.01"
    assert scores.score_date == datetime(2024, 10, 1, tzinfo=UTC)
    assert scores.source == "epss_scores-2024-10-01.csv"
    assert len(scores) == 5000


def test_lookup_is_a_pair_and_ignores_case() -> None:
    scores, _ = parse_epss((HEADER + "CVE-2021-44228,0.97565,0.99996\n").encode(), source="e.csv")
    value = scores.get(" cve-2021-44228")
    assert value == (0.97565, 0.99996)
    assert value is not None and (value.epss, value.percentile) == (0.97565, 0.99996)
    assert value[0] == 0.97565
    assert scores.get("CVE-2000-0001") is None
    assert "CVE-2021-44228" in scores and 5 not in scores


def test_gzip_file_is_inflated() -> None:
    data, expected = generated(100)
    scores, problems = parse_epss(gzip.compress(data), source="epss.csv.gz")
    assert problems == [] and dict(scores) == expected


def test_old_files_without_the_comment_line() -> None:
    scores, problems = parse_epss(
        b"cve,epss,percentile\r\nCVE-2020-0001,0.1,0.5\r\n", source="e.csv"
    )
    assert problems == []
    assert (scores.model_version, scores.score_date) == (None, None)
    assert scores["CVE-2020-0001"] == EpssScore(0.1, 0.5)


def test_bad_rows_are_problems_with_line_numbers() -> None:
    text = (
        HEADER
        + "CVE-2020-0001,0.1,0.5\n"  # line 3
        + "CVE-20-1,0.1,0.5\n"  # 4: bad id
        + "CVE-2020-0002,1.5,0.5\n"  # 5: above 1
        + "CVE-2020-0003,0.1,nan\n"  # 6: not finite
        + "CVE-2020-0004,abc,0.1\n"  # 7: not a number
        + "CVE-2020-0005,0.2\n"  # 8: short
        + "\n"  # 9: blank, skipped
        + "CVE-2020-0001,0.9,0.9\n"  # 10: repeated
        + "cve-2020-0006,-0.0,1\n"  # 11: fine (lower case id, signed zero)
    )
    scores, problems = parse_epss(text.encode(), source="e.csv")
    assert dict(scores) == {
        "CVE-2020-0001": EpssScore(0.1, 0.5),
        "CVE-2020-0006": EpssScore(-0.0, 1.0),
    }
    assert [(p.location.line, p.location.field) for p in problems] == [
        (4, "cve"),
        (5, "epss"),
        (6, "percentile"),
        (7, "epss"),
        (8, None),
        (10, None),
    ]
    assert all(p.location.file == "e.csv" for p in problems)
    assert "CVE-2020-0001 is listed twice; kept the first" in problems[-1].message


def test_bad_comment_line_is_a_problem() -> None:
    text = "#model_version:v1,score_date:someday\ncve,epss,percentile\nCVE-2020-0001,0.1,0.5\n"
    scores, problems = parse_epss(text.encode(), source="e.csv")
    assert scores.model_version == "v1" and scores.score_date is None
    assert [(p.location.line, "score_date" in p.message) for p in problems] == [(1, True)]
    naive = "#score_date:2024-01-01T00:00:00\ncve,epss,percentile\n"
    scores, problems = parse_epss(naive.encode(), source="e.csv")
    assert scores.score_date is None and "no UTC offset" in problems[0].message


@pytest.mark.parametrize(
    ("data", "message", "line"),
    [
        (b"", "expected the header", 1),
        (b"#model_version:v1\n", "expected the header", 2),
        (b"cve,score\nCVE-2020-0001,0.1\n", "expected the header", 1),
        (b"\xff\xfe", "not UTF-8", None),
        (b" " * 2001, "above the limit of 2000 bytes", None),
        (gzip.compress(b"cve,epss,percentile\n" + b"x" * 3000), "inflates to more than", None),
        (gzip.compress(b"cve,epss,percentile\n")[:-6], "truncated gzip", None),
        (b"\x1f\x8bnot really gzip", "damaged gzip", None),
    ],
)
def test_unusable_files_raise_invalid_input(data: bytes, message: str, line: int | None) -> None:
    with pytest.raises(InvalidInput, match=message) as err:
        parse_epss(data, source="e.csv", max_bytes=2000)
    assert err.value.location.file == "e.csv"
    assert err.value.location.line == line


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.booleans())
def test_arbitrary_bytes_raise_only_invalid_input(data: bytes, compress: bool) -> None:
    with contextlib.suppress(InvalidInput):
        parse_epss(gzip.compress(data) if compress else data, source="e.csv")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet='CVE-0123456789.,e+nai \t"', max_size=40), max_size=20))
def test_arbitrary_rows_are_kept_or_reported(rows: list[str]) -> None:
    text = HEADER + "\n".join(r.replace("\n", "") for r in rows)
    scores, problems = parse_epss(text.encode(), source="e.csv")
    non_blank = sum(1 for r in rows if r.strip())
    assert len(scores) + len(problems) == non_blank

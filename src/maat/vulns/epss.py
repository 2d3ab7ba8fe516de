"""EPSS scores (FIRST's Exploit Prediction Scoring System) from the daily CSV.

The file starts with a comment line
``#model_version:v2023.03.01,score_date:2023-03-07T00:00:00+0000`` (absent in the oldest
files), then the header ``cve,epss,percentile`` and one row per CVE.
The published file is gzip-compressed; compressed bytes are accepted and inflated in memory
up to the same size limit. A bad row becomes a :class:`Problem` with its line number and the
other rows are kept; a CVE listed twice keeps its first row.
"""

from __future__ import annotations

import math
import re
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import NamedTuple

from maat.errors import InvalidInput, Problem

__all__ = ["MAX_EPSS_BYTES", "EpssScore", "EpssScores", "parse_epss"]

MAX_EPSS_BYTES = 256 << 20
"""Default size limit of the (inflated) CSV; the 2025 file is about 10 MB."""

_CVE_ID = re.compile(r"^CVE-\d{4}-\d{4,}$")


class EpssScore(NamedTuple):
    """The probability of exploitation in the next 30 days, and its percentile (both 0-1)."""

    epss: float
    percentile: float


@dataclass(frozen=True)
class EpssScores(Mapping[str, EpssScore]):
    """CVE id -> :class:`EpssScore`, with the model version and score date of the file.

    Look-ups ignore case and surrounding spaces (``scores.get("cve-2021-44228")``).
    """

    scores: Mapping[str, EpssScore] = field(default_factory=dict, repr=False)
    model_version: str | None = None
    score_date: datetime | None = None
    source: str = ""

    def __getitem__(self, cve_id: object) -> EpssScore:
        if not isinstance(cve_id, str):
            raise KeyError(cve_id)
        return self.scores[cve_id.strip().upper()]

    def __iter__(self) -> Iterator[str]:
        return iter(self.scores)

    def __len__(self) -> int:
        return len(self.scores)


def _inflate(data: bytes, source: str, max_bytes: int) -> bytes:
    inflater = zlib.decompressobj(wbits=47)  # gzip or zlib header, detected
    try:
        out = inflater.decompress(data, max_bytes + 1)
    except zlib.error as exc:
        raise InvalidInput(f"damaged gzip data: {exc}", file=source) from None
    if len(out) > max_bytes or inflater.unconsumed_tail:
        raise InvalidInput(
            f"inflates to more than the limit of {max_bytes} bytes",
            file=source,
            hint="raise the limit if this file is genuine",
        )
    if not inflater.eof:
        raise InvalidInput("truncated gzip data", file=source)
    return out


def _header_comment(line: str, source: str) -> tuple[str | None, datetime | None, list[Problem]]:
    """Read ``#model_version:...,score_date:...``."""
    problems: list[Problem] = []
    version: str | None = None
    moment: datetime | None = None
    for part in line.lstrip("#").split(","):
        key, sep, value = part.partition(":")
        key, value = key.strip(), value.strip()
        if not sep:
            continue
        if key == "model_version":
            version = value[:100] or None
        elif key == "score_date":
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                problems.append(
                    Problem.at(
                        f"score_date is not a timestamp: {value[:40]!r}", file=source, line=1
                    )
                )
            else:
                if moment.tzinfo is None:
                    moment = None
                    problems.append(
                        Problem.at("score_date has no UTC offset; ignored", file=source, line=1)
                    )
    return version, moment, problems


def _probability(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and 0.0 <= value <= 1.0 else None


def parse_epss(
    data: bytes, *, source: str, max_bytes: int = MAX_EPSS_BYTES
) -> tuple[EpssScores, list[Problem]]:
    """Parse an EPSS CSV file (plain or gzip). Raises :class:`InvalidInput` when the file is
    too large or has no ``cve,epss,percentile`` header; bad rows are returned as problems."""
    data = bytes(data)
    if data[:2] == b"\x1f\x8b":
        data = _inflate(data, source, max_bytes)
    elif len(data) > max_bytes:
        raise InvalidInput(
            f"{len(data)} bytes, above the limit of {max_bytes} bytes",
            file=source,
            hint="raise the limit if this file is genuine",
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"not UTF-8 text (byte {exc.start})", file=source) from None
    problems: list[Problem] = []
    version: str | None = None
    moment: datetime | None = None
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    first = 0
    if lines and lines[0].startswith("#"):
        version, moment, problems = _header_comment(lines[0], source)
        first = 1
    header = [c.strip().lower() for c in lines[first].split(",")] if len(lines) > first else []
    if header[:3] != ["cve", "epss", "percentile"]:
        raise InvalidInput(
            "not an EPSS file: expected the header 'cve,epss,percentile'",
            file=source,
            line=first + 1,
        )
    scores: dict[str, EpssScore] = {}
    for number, line in enumerate(lines[first + 1 :], first + 2):
        if not line.strip():
            continue
        row = line.split(",")
        if len(row) < 3:
            problems.append(
                Problem.at(f"expected 3 columns, got {len(row)}", file=source, line=number)
            )
            continue
        cve = row[0].strip().upper()
        if not _CVE_ID.match(cve):
            problems.append(
                Problem.at(f"not a CVE id: {row[0][:40]!r}", file=source, line=number, field="cve")
            )
            continue
        epss, percentile = _probability(row[1]), _probability(row[2])
        if epss is None or percentile is None:
            bad = "epss" if epss is None else "percentile"
            shown = row[1] if epss is None else row[2]
            problems.append(
                Problem.at(
                    f"{cve}: {bad} must be a number from 0 to 1, got {shown[:40]!r}",
                    file=source,
                    line=number,
                    field=bad,
                )
            )
            continue
        if cve in scores:
            problems.append(
                Problem.at(f"{cve} is listed twice; kept the first", file=source, line=number)
            )
            continue
        scores[cve] = EpssScore(epss, percentile)
    return EpssScores(MappingProxyType(scores), version, moment, source), problems

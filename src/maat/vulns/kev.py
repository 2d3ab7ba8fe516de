"""CISA's Known Exploited Vulnerabilities (KEV) catalogue, from its JSON or its CSV form.

An entry whose ``cveID`` or ``dateAdded`` is unusable is left out and reported as a
:class:`Problem`; a lesser fault (a bad ``dueDate``, an unknown ransomware value, a field of
the wrong type) keeps the entry, since being in KEV matters more than any one of its
fields, and is reported too. A CVE listed twice keeps its first entry.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from types import MappingProxyType
from typing import Any

import orjson

from maat.core._validate import parse_timestamp, type_name
from maat.errors import InvalidInput, Problem

__all__ = [
    "MAX_KEV_BYTES",
    "KevCatalogue",
    "KevEntry",
    "parse_kev",
    "parse_kev_csv",
    "parse_kev_json",
]

MAX_KEV_BYTES = 64 << 20
"""Default size limit of a catalogue file (the 2025 catalogue is about 1.5 MB)."""

CVE_ID = re.compile(r"^CVE-\d{4}-\d{4,}$")

_COLUMNS = (
    "cveID",
    "vendorProject",
    "product",
    "vulnerabilityName",
    "dateAdded",
    "shortDescription",
    "requiredAction",
    "dueDate",
    "knownRansomwareCampaignUse",
    "notes",
    "cwes",
)


@dataclass(frozen=True)
class KevEntry:
    """One known-exploited vulnerability."""

    cve_id: str
    vendor: str
    product: str
    name: str
    date_added: date
    short_description: str
    required_action: str
    due_date: date | None
    known_ransomware: bool
    notes: str = ""
    cwes: tuple[str, ...] = ()


@dataclass(frozen=True)
class KevCatalogue:
    """The catalogue: entries by CVE id, with the catalogue's version and release time (both
    ``None`` for the CSV form, which does not carry them)."""

    entries: Mapping[str, KevEntry]
    version: str | None = None
    released: datetime | None = None
    title: str = ""
    source: str = ""
    declared_count: int | None = field(default=None, compare=False)

    def get(self, cve_id: str) -> KevEntry | None:
        """The entry of ``cve_id`` (case and surrounding spaces ignored), or ``None``."""
        return self.entries.get(cve_id.strip().upper())

    def __contains__(self, cve_id: object) -> bool:
        return isinstance(cve_id, str) and self.get(cve_id) is not None

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[KevEntry]:
        return iter(self.entries.values())

    @property
    def count(self) -> int:
        """How many CVEs the catalogue holds."""
        return len(self.entries)


def _decode(data: bytes, source: str, max_bytes: int) -> bytes:
    if len(data) > max_bytes:
        raise InvalidInput(
            f"{len(data)} bytes, above the limit of {max_bytes} bytes",
            file=source,
            hint="raise the limit if this file is genuine",
        )
    return bytes(data).removeprefix(b"\xef\xbb\xbf")


def _date(value: object) -> date | None:
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        return None


class _EntryReader:
    """Builds entries from one record, collecting problems at ``file``/``line``/``where``."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems

    def entry(
        self, record: Mapping[str, Any], *, line: int | None = None, where: str = ""
    ) -> KevEntry | None:
        def at(key: str) -> str:
            return f"{where}.{key}" if where else key

        def problem(key: str, message: str) -> None:
            self.problems.append(Problem.at(message, file=self.source, line=line, field=at(key)))

        def text(key: str) -> str:
            value = record.get(key)
            if value is None:
                return ""
            if not isinstance(value, str):
                problem(key, f"expected a string, got {type_name(value)}")
                return ""
            return value

        cve = text("cveID").strip().upper()
        if not CVE_ID.match(cve):
            problem("cveID", f"not a CVE id: {cve[:40]!r}; entry left out")
            return None
        added = _date(record.get("dateAdded"))
        if added is None:
            problem("dateAdded", f"{cve}: dateAdded is not a date (YYYY-MM-DD); entry left out")
            return None
        due = _date(record.get("dueDate"))
        if due is None and record.get("dueDate") not in (None, ""):
            problem("dueDate", f"{cve}: dueDate is not a date (YYYY-MM-DD); kept without it")
        ransomware = text("knownRansomwareCampaignUse").strip()
        if ransomware not in ("Known", "Unknown", ""):
            problem("knownRansomwareCampaignUse", f"{cve}: unknown value {ransomware[:40]!r}")
        return KevEntry(
            cve_id=cve,
            vendor=text("vendorProject"),
            product=text("product"),
            name=text("vulnerabilityName"),
            date_added=added,
            short_description=text("shortDescription"),
            required_action=text("requiredAction"),
            due_date=due,
            known_ransomware=ransomware == "Known",
            notes=text("notes"),
            cwes=self.cwes(record.get("cwes"), problem),
        )

    @staticmethod
    def cwes(value: object, problem: Any) -> tuple[str, ...]:
        if value is None or value == "":
            return ()
        if isinstance(value, str):
            items: list[Any] = value.split(",")
        elif isinstance(value, list):
            items = value
        else:
            problem("cwes", f"expected a list of CWE ids, got {type_name(value)}")
            return ()
        found = [i.strip() for i in items if isinstance(i, str) and i.strip()]
        if any(not isinstance(i, str) for i in items):
            problem("cwes", "some CWE ids are not strings; they were left out")
        return tuple(found)


def _add(
    entries: dict[str, KevEntry], entry: KevEntry | None, problems: list[Problem], **at: Any
) -> None:
    if entry is None:
        return
    if entry.cve_id in entries:
        problems.append(Problem.at(f"{entry.cve_id} is listed twice; kept the first", **at))
        return
    entries[entry.cve_id] = entry


def parse_kev_json(
    data: bytes, *, source: str, max_bytes: int = MAX_KEV_BYTES
) -> tuple[KevCatalogue, list[Problem]]:
    """Parse the JSON catalogue (``catalogVersion``, ``dateReleased``, ``count``,
    ``vulnerabilities``). Raises :class:`InvalidInput` when it is not a catalogue at all."""
    try:
        doc = orjson.loads(_decode(data, source, max_bytes))
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"not valid JSON: {exc.msg}", file=source, line=exc.lineno) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("vulnerabilities"), list):
        raise InvalidInput(
            "not a KEV catalogue: expected an object with a 'vulnerabilities' list",
            file=source,
            field="vulnerabilities",
        )
    problems: list[Problem] = []
    reader = _EntryReader(source, problems)
    entries: dict[str, KevEntry] = {}
    for i, record in enumerate(doc["vulnerabilities"]):
        where = f"vulnerabilities[{i}]"
        if not isinstance(record, dict):
            problems.append(
                Problem.at(f"expected an object, got {type_name(record)}", file=source, field=where)
            )
            continue
        _add(entries, reader.entry(record, where=where), problems, file=source, field=where)
    version = doc.get("catalogVersion")
    released: datetime | None = None
    if doc.get("dateReleased") is not None:
        try:
            released = parse_timestamp(doc["dateReleased"], field="dateReleased", file=source)
        except InvalidInput as exc:
            problems.append(Problem.from_error(exc))
    count = doc.get("count")
    declared = count if isinstance(count, int) and not isinstance(count, bool) else None
    if declared is not None and declared != len(doc["vulnerabilities"]):
        problems.append(
            Problem.at(
                f"the catalogue says it holds {declared} entries but lists "
                f"{len(doc['vulnerabilities'])}",
                file=source,
                field="count",
            )
        )
    catalogue = KevCatalogue(
        entries=MappingProxyType(entries),
        version=version if isinstance(version, str) else None,
        released=released,
        title=doc["title"] if isinstance(doc.get("title"), str) else "",
        source=source,
        declared_count=declared,
    )
    return catalogue, problems


def parse_kev_csv(
    data: bytes, *, source: str, max_bytes: int = MAX_KEV_BYTES
) -> tuple[KevCatalogue, list[Problem]]:
    """Parse the CSV catalogue (a header row naming the JSON fields, one row per CVE).
    Raises :class:`InvalidInput` when the header lacks ``cveID`` or ``dateAdded``."""
    try:
        text = _decode(data, source, max_bytes).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"not UTF-8 text (byte {exc.start})", file=source) from None
    rows = csv.reader(io.StringIO(text, newline=""), strict=True)
    problems: list[Problem] = []
    reader = _EntryReader(source, problems)
    entries: dict[str, KevEntry] = {}
    try:
        header = next(rows, None)
        if header is None or not {"cveID", "dateAdded"} <= set(header):
            raise InvalidInput(
                f"not a KEV catalogue: the header must name {', '.join(_COLUMNS)}",
                file=source,
                line=1,
            )
        for row in rows:
            if not any(cell.strip() for cell in row):
                continue
            line = rows.line_num
            if len(row) != len(header):
                problems.append(
                    Problem.at(
                        f"{len(row)} columns where the header has {len(header)}; row left out",
                        file=source,
                        line=line,
                    )
                )
                continue
            _add(
                entries,
                reader.entry(dict(zip(header, row, strict=True)), line=line),
                problems,
                file=source,
                line=line,
            )
    except csv.Error as exc:
        raise InvalidInput(f"not valid CSV: {exc}", file=source, line=rows.line_num) from None
    return KevCatalogue(entries=MappingProxyType(entries), source=source), problems


def parse_kev(
    data: bytes, *, source: str, max_bytes: int = MAX_KEV_BYTES
) -> tuple[KevCatalogue, list[Problem]]:
    """Parse the catalogue in either form: JSON when ``source`` ends in ``.json`` or the data
    starts with ``{``, CSV otherwise."""
    head = bytes(data[:64]).removeprefix(b"\xef\xbb\xbf").lstrip()
    if source.lower().endswith(".json") or head.startswith(b"{"):
        return parse_kev_json(data, source=source, max_bytes=max_bytes)
    return parse_kev_csv(data, source=source, max_bytes=max_bytes)

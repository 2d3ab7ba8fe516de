"""The correctness oracle for the Sigma engine: the same rules converted to SQL by
pysigma-backend-sqlite and run by SQLite over the same events (the Zircolite approach).

Events become rows of one table whose columns are the Sigma field names (event data names,
plus ``EventID``, ``Channel``, ``Provider_Name``, ``Computer``, ``Hostname``), declared
``COLLATE NOCASE`` as Zircolite does, with a ``fulltext`` column for keyword searches. Each
rule is converted once per Maat route, with a pySigma field mapping for the route's names
(Security 4688's ``NewProcessName``), and the route's channel and event ids are added to
the query, so what is compared is the matching of values, not the routing table itself.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from sigma.backends.sqlite import sqliteBackend
from sigma.collection import SigmaCollection
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import (
    FieldMappingTransformation,
    WildcardPlaceholderTransformation,
)
from sigma.rule import SigmaRule

from maat.detect.logsources import EVENT_DATA, Route, routes_for

SYSTEM_COLUMNS = {
    "winlog.event_id": "EventID",
    "winlog.channel": "Channel",
    "winlog.provider_name": "Provider_Name",
    "winlog.computer_name": "Computer",
    "host.name": "Hostname",
}


def column_of(key: str) -> str | None:
    """The oracle's column for an event key (None for keys rules never name)."""
    if key.startswith(EVENT_DATA):
        return key[len(EVENT_DATA) :]
    return SYSTEM_COLUMNS.get(key)


def _regexp(pattern: str, value: Any) -> bool:
    if value is None:
        return False
    return re.search(pattern, str(value)) is not None


class SqliteOracle:
    """Events loaded into SQLite; :meth:`matches` runs one rule over them."""

    def __init__(self, events: Sequence[Mapping[str, Any]]) -> None:
        self.db = sqlite3.connect(":memory:")
        self.db.create_function("regexp", 2, _regexp, deterministic=True)
        columns: dict[str, None] = {}
        rows = []
        for event in events:
            row: dict[str, Any] = {}
            for key, value in event.items():
                column = column_of(key)
                if column is not None and value is not None:
                    row[column] = value
                    columns.setdefault(column.lower(), None)
            row["fulltext"] = "\n".join(
                v for k, v in event.items() if k.startswith(EVENT_DATA) and isinstance(v, str)
            )
            rows.append(row)
        self.columns = set(columns)
        self.db.execute(
            "CREATE TABLE logs (maat_row INTEGER PRIMARY KEY, fulltext TEXT COLLATE NOCASE)"
        )
        for column in sorted({c for row in rows for c in row if c != "fulltext"}, key=str.lower):
            self._add_column(column)
        self.db.execute("CREATE INDEX logs_route ON logs (Channel, EventID)")
        for index, row in enumerate(rows):
            names = ", ".join(_quote(c) for c in row)
            marks = ", ".join("?" for _ in row)
            self.db.execute(
                f"INSERT INTO logs (maat_row, {names}) VALUES (?, {marks})", (index, *row.values())
            )

    def _add_column(self, column: str) -> None:
        existing = {r[1].lower() for r in self.db.execute("PRAGMA table_info(logs)")}
        if column.lower() not in existing:
            self.db.execute(f"ALTER TABLE logs ADD COLUMN {_quote(column)} TEXT COLLATE NOCASE")

    def matches(self, text: str, route: Route) -> set[int]:
        """Rows the rule in ``text`` matches on ``route``."""
        rows: set[int] = set()
        for sql, params in queries(text, route):
            rows |= self.run(sql, params)
        return rows

    def run(self, sql: str, params: Sequence[Any]) -> set[int]:
        """The rows one query selects (columns no event has are added, empty)."""
        for _ in range(50):
            try:
                return {r[0] for r in self.db.execute(sql, list(params))}
            except sqlite3.OperationalError as exc:
                missing = re.match(r"no such column: (.+)", str(exc))
                if missing is None:
                    raise
                self._add_column(missing.group(1).strip('"'))
        raise AssertionError(f"too many missing columns in {sql[:200]}")


def queries(text: str, route: Route) -> list[tuple[str, list[Any]]]:
    """The SQL of the rule in ``text`` on ``route``: pysigma-backend-sqlite's query with
    the route's field names, limited to the route's channel and event ids."""
    documents = list(yaml.load_all(text, Loader=yaml.CSafeLoader))
    rule = SigmaCollection.from_dicts(documents).rules[0]
    assert isinstance(rule, SigmaRule)
    mapping = {}
    for field in _fields(rule):
        column = column_of(route.event_key(field))
        mapping[field] = column if column is not None else field
    pipeline = ProcessingPipeline(
        items=[
            ProcessingItem(WildcardPlaceholderTransformation()),
            ProcessingItem(FieldMappingTransformation(mapping)),
        ]
    )
    backend = sqliteBackend(pipeline, fulltext_field="fulltext")
    out: list[tuple[str, list[Any]]] = []
    for query in backend.convert_rule(rule):
        where = query.split(" WHERE ", 1)[1]
        for channel, event_id in route.keys:
            sql = f"SELECT maat_row FROM logs WHERE Channel = ? AND ({where})"
            params: list[Any] = [channel]
            if event_id is not None:
                sql += " AND EventID = ?"
                params.append(event_id)
            out.append((sql, params))
    return out


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _fields(rule: SigmaRule) -> set[str]:
    found: set[str] = set()
    for detection in rule.detection.detections.values():
        stack: list[Any] = [detection]
        while stack:
            item = stack.pop()
            if hasattr(item, "detection_items"):
                stack.extend(item.detection_items)
            elif getattr(item, "field", None):
                found.add(item.field)
                ref = getattr(
                    getattr(item, "value", [None])[0] if getattr(item, "value", None) else None,
                    "field",
                    None,
                )
                if isinstance(ref, str):
                    found.add(ref)
    return found


def rule_texts(paths: Iterable[Path]) -> list[tuple[str, str]]:
    """``(path, text)`` of every ``.yml`` under ``paths``."""
    return [(str(p), p.read_text(encoding="utf-8")) for p in paths]


__all__ = ["SqliteOracle", "column_of", "queries", "routes_for", "rule_texts"]

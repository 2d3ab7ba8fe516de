"""The lake's column plan, independent of Arrow: which event keys become which columns.

Every Parquet file of the lake has the columns of :data:`COLUMNS`, in that order. A few ECS
fields hunters filter on get a column of their own (``host_name``, ``process_executable``, …);
the whole event minus ``event.original`` is kept as JSON text in ``fields`` and the record as
received in ``original``, so nothing a parser produced is lost.

:func:`to_columns` is on the ingest hot path (ADR 0007: 300k events/s for conversion plus
Parquet write), so it works column by column with list comprehensions over plain dicts and
leaves type checking to Arrow; only a column Arrow refuses goes through the slow coercion
helpers (:func:`as_text`, :func:`as_int`).
"""

from __future__ import annotations

import json
import re
from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from itertools import accumulate
from typing import Any, Literal

import orjson

from maat.errors import InvalidInput

__all__ = [
    "COLUMNS",
    "COLUMN_NAMES",
    "READ_ONLY_FIRST",
    "REFUSED",
    "Column",
    "QueryResult",
    "as_int",
    "as_text",
    "check_read_only_sql",
    "empty_select",
    "fields_buffer",
    "fields_json",
    "join_fields",
    "partition_of",
    "to_columns",
    "valid_day",
    "valid_module",
    "view_sql",
]

ColumnKind = Literal["timestamp", "text", "int", "first", "json", "original"]


@dataclass(frozen=True, slots=True)
class Column:
    """One lake column: its name, the event key it comes from, how it is filled, SQL type."""

    name: str
    source: str
    kind: ColumnKind
    sql_type: str


def _text(name: str, source: str) -> Column:
    return Column(name, source, "text", "VARCHAR")


COLUMNS: tuple[Column, ...] = (
    Column("timestamp", "@timestamp", "timestamp", "TIMESTAMPTZ"),
    _text("event_id", "event.id"),
    _text("module", "event.module"),
    _text("kind", "event.kind"),
    _text("code", "event.code"),
    _text("action", "event.action"),
    Column("category", "event.category", "first", "VARCHAR"),
    _text("provider", "event.provider"),
    _text("host_name", "host.name"),
    _text("user_name", "user.name"),
    _text("process_executable", "process.executable"),
    _text("process_command_line", "process.command_line"),
    Column("process_pid", "process.pid", "int", "BIGINT"),
    _text("process_parent_executable", "process.parent.executable"),
    _text("process_hash_sha256", "process.hash.sha256"),
    _text("file_path", "file.path"),
    _text("file_hash_sha256", "file.hash.sha256"),
    _text("dll_path", "dll.path"),
    _text("dll_hash_sha256", "dll.hash.sha256"),
    _text("source_ip", "source.ip"),
    _text("destination_ip", "destination.ip"),
    Column("destination_port", "destination.port", "int", "BIGINT"),
    _text("dns_question_name", "dns.question.name"),
    _text("url_original", "url.original"),
    Column("fields", "", "json", "VARCHAR"),
    Column("original", "event.original", "original", "VARCHAR"),
)
COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in COLUMNS)

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
# A module becomes a directory name (module=<m>): letters, digits, '_', '-', '.' only.
_MODULE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")


def _first(value: Any) -> Any:
    if isinstance(value, list):
        return value[0] if value else None
    return value


def fields_json(event: Mapping[str, Any]) -> bytes:
    """The event without ``event.original`` as JSON (UTF-8 bytes).

    orjson refuses lone surrogates and integers beyond 64 bits; such an event is still kept,
    written by the standard library with ASCII escapes, so one odd event cannot block a batch.
    """
    copy = dict(event)
    copy.pop("event.original", None)
    try:
        return orjson.dumps(copy)
    except (orjson.JSONEncodeError, TypeError):
        return json.dumps(copy, ensure_ascii=True, default=str).encode("ascii")


def fields_buffer(events: Sequence[Mapping[str, Any]]) -> tuple[bytearray, array[int]]:
    """The ``fields`` column as one buffer of concatenated JSON texts and their int64 offsets
    (``len(events) + 1`` of them), ready to be an Arrow ``large_string`` array without a copy.

    Appending each text to one buffer and dropping it at once lets the allocator reuse the
    same memory for the next event; keeping 100,000 separate ``bytes`` alive costs two page
    faults per event, more than the encoding itself.
    """
    buffer = bytearray()
    offsets = array("q", [0])
    append = offsets.append
    dumps = orjson.dumps
    for event in events:
        copy = dict(event)
        copy.pop("event.original", None)
        try:
            buffer += dumps(copy)
        except (orjson.JSONEncodeError, TypeError):
            buffer += fields_json(event)
        append(len(buffer))
    return buffer, offsets


def join_fields(texts: Sequence[bytes | memoryview]) -> tuple[bytes, array[int]]:
    """The ``fields`` column from texts made already (as :func:`fields_buffer` returns it):
    one buffer and the int64 offsets."""
    return b"".join(texts), array("q", accumulate(map(len, texts), initial=0))


def to_columns(
    events: Sequence[Mapping[str, Any]], *, with_fields: bool = True
) -> dict[str, list[Any]]:
    """The values of each column of :data:`COLUMNS` for ``events``, in event order.

    Values are taken as they are (Arrow checks their types); ``timestamp`` stays the ISO text
    of ``@timestamp`` for the adapter to parse in bulk; ``fields`` is JSON bytes (left out
    when ``with_fields`` is false, for a caller that made it already).
    """
    out: dict[str, list[Any]] = {}
    for column in COLUMNS:
        key = column.source
        if column.kind == "json":
            if with_fields:
                out[column.name] = [fields_json(e) for e in events]
        elif column.kind == "first":
            out[column.name] = [_first(e.get(key)) for e in events]
        else:
            out[column.name] = [e.get(key) for e in events]
    return out


def as_text(values: Sequence[Any]) -> list[str | None]:
    """Coerce a column Arrow refused as text: numbers and booleans written out, a list by its
    single element or as JSON, strings that are not valid UTF-8 repaired (each bad
    character becomes ``?``)."""
    out: list[str | None] = []
    for value in values:
        if value is None or (isinstance(value, str) and _utf8_ok(value)):
            out.append(value)
        elif isinstance(value, str):
            out.append(value.encode("utf-8", "replace").decode("utf-8"))
        elif isinstance(value, bool):
            out.append("true" if value else "false")
        elif isinstance(value, int | float):
            out.append(str(value))
        elif isinstance(value, list) and len(value) == 1:
            out.extend(as_text(value))
        else:
            out.append(json.dumps(value, ensure_ascii=True, default=str))
    return out


def _utf8_ok(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def as_int(values: Sequence[Any]) -> list[int | None]:
    """Coerce a column Arrow refused as int64: decimal or ``0x`` text parsed, anything else
    (booleans, out-of-range, words) becomes null; the value itself stays in ``fields``."""
    out: list[int | None] = []
    for value in values:
        number: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, str):
            try:
                number = int(value.strip(), 0)
            except ValueError:
                number = None
        elif isinstance(value, float) and value.is_integer():
            number = int(value)
        if number is not None and not _INT64_MIN <= number <= _INT64_MAX:
            number = None
        out.append(number)
    return out


def valid_day(day: str, *, what: str = "day") -> str:
    """``day`` if it is a real ``YYYY-MM-DD`` date; else ``InvalidInput`` naming ``what``."""
    if not isinstance(day, str) or not _DAY.fullmatch(day):
        raise InvalidInput(f"{what} must be YYYY-MM-DD, not {str(day)[:40]!r}", field=what)
    try:
        date.fromisoformat(day)
    except ValueError:
        raise InvalidInput(f"{what} {day!r} is not a date", field=what) from None
    return day


def valid_module(module: Any, *, what: str = "event.module") -> str:
    """``module`` if it can name a partition directory; else ``InvalidInput``."""
    if not isinstance(module, str) or not _MODULE.fullmatch(module):
        raise InvalidInput(
            f"{what} {str(module)[:70]!r} cannot name a partition",
            field=what,
            hint="letters, digits, '_', '-' and '.', at most 64, not starting with '.' or '-'",
        )
    return module


def partition_of(event: Mapping[str, Any]) -> tuple[str, str]:
    """The partition ``(day, module)`` of one event: the UTC day of ``@timestamp`` as
    ``YYYY-MM-DD`` and ``event.module``. Raises ``InvalidInput`` for a missing or malformed
    timestamp or a module that cannot name a directory.

    The adapter computes the same key in bulk with Arrow; this is the reference.
    """
    stamp = event.get("@timestamp")
    if not isinstance(stamp, str):
        raise InvalidInput("the event has no @timestamp text", field="@timestamp")
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        raise InvalidInput(f"malformed @timestamp {stamp[:40]!r}", field="@timestamp") from None
    if moment.tzinfo is None:
        raise InvalidInput(f"@timestamp {stamp[:40]!r} has no time zone", field="@timestamp")
    day = moment.astimezone(UTC).date().isoformat()
    return day, valid_module(event.get("event.module"))


def empty_select() -> str:
    """A SELECT with the lake's columns and no rows (the ``events`` view of an empty lake)."""
    parts = ", ".join(f"CAST(NULL AS {c.sql_type}) AS {c.name}" for c in COLUMNS)
    return f"SELECT {parts} WHERE false"


def view_sql(files: Sequence[str]) -> str:
    """``CREATE VIEW events`` over exactly ``files`` (absolute paths), or over no rows.

    Hive partitioning is off: the ``day=``/``module=`` directories must not add columns, and
    the columns are listed so that files written by an older column plan still line up.
    """
    names = ", ".join(c.name for c in COLUMNS)
    if not files:
        return f"CREATE VIEW events AS {empty_select()}"
    listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
    # The only text spliced in is the manifest's own paths, quoted and escaped.
    return (
        f"CREATE VIEW events AS SELECT {names} FROM read_parquet([{listed}], "  # noqa: S608
        "union_by_name = true, hive_partitioning = false)"
    )


@dataclass(frozen=True, slots=True)
class QueryResult:
    """Rows of a lake query; ``truncated`` when more rows existed than were asked for."""

    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    truncated: bool = False


READ_ONLY_FIRST = {"SELECT", "WITH", "FROM", "VALUES", "TABLE", "EXPLAIN", "DESCRIBE", "SUMMARIZE"}
REFUSED = {
    "ALTER",
    "ANALYZE",  # EXPLAIN ANALYZE runs the statement it explains (a COPY too)
    "ATTACH",
    "CALL",
    "CHECKPOINT",
    "COPY",
    "CREATE",
    "DELETE",
    "DETACH",
    "DROP",
    "EXPORT",
    "IMPORT",
    "INSERT",
    "INSTALL",
    "LOAD",
    "MERGE",
    "PRAGMA",
    "RESET",
    "SET",
    "TRUNCATE",
    "UPDATE",
    "USE",
    "VACUUM",
}
_LEXEME = re.compile(
    r"""
    (?P<comment>--[^\n\r]*|/\*.*?(?:\*/|\Z))
    | (?P<escaped>[Ee]'(?:[^'\\]|\\.|'')*(?:'|\Z))
    | (?P<dollar>\$(?P<tag>[A-Za-z_][A-Za-z0-9_]*|)\$.*?(?:\$(?P=tag)\$|\Z))
    | (?P<string>'(?:[^']|'')*(?:'|\Z))
    | (?P<ident>"(?:[^"]|"")*(?:"|\Z))
    | (?P<word>[^\W\d][\w$]*)
    | (?P<semi>;)
    | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)


_SKIPPED = frozenset(("comment", "escaped", "dollar", "string", "ident"))


def check_read_only_sql(sql: str, *, max_length: int = 100_000) -> str:
    """``sql`` if it is one read-only statement; else ``InvalidInput`` saying why.

    This is the first of three guards (the adapter also asks DuckDB's parser for the
    statement type, and runs with file access limited to the manifest's files):

    1. Comments (``--`` to the end of a line, ``\n`` or ``\r``), string literals
       (``'...'``, escaped ``E'...'`` and dollar-quoted ``$$...$$``, read as DuckDB reads
       them) and quoted identifiers are skipped, so a keyword inside ``'...'`` does not
       count and one hidden after ``--`` cannot slip through. The adapter checks again
       with DuckDB's own tokenizer.
    2. Exactly one statement: a ``;`` may only end the text.
    3. The statement starts with a reading keyword (SELECT, WITH, FROM, VALUES, TABLE,
       EXPLAIN, DESCRIBE, SUMMARIZE) and contains no writing or configuring keyword (COPY,
       ATTACH, INSTALL, LOAD, CREATE, INSERT, UPDATE, DELETE, DROP, SET, PRAGMA, …), nor
       ANALYZE: ``EXPLAIN ANALYZE`` runs what it explains.
    """
    if not isinstance(sql, str) or not sql.strip():
        raise InvalidInput("the query is empty", field="sql")
    if len(sql) > max_length:
        raise InvalidInput(f"the query is longer than {max_length} characters", field="sql")
    if "\x00" in sql:
        raise InvalidInput("the query contains a NUL character", field="sql")
    words: list[str] = []
    ended = False
    for match in _LEXEME.finditer(sql):
        kind = match.lastgroup
        if kind in _SKIPPED or (kind == "other" and match.group().isspace()):
            continue
        if ended:
            raise InvalidInput("only one statement is allowed", field="sql")
        if kind == "semi":
            ended = True
        elif kind == "word":
            words.append(match.group().upper())
    if not words or words[0] not in READ_ONLY_FIRST:
        first = words[0] if words else "nothing"
        raise InvalidInput(
            f"only read-only queries are allowed, not {first}",
            field="sql",
            hint="start with SELECT, WITH, FROM, EXPLAIN, DESCRIBE or SUMMARIZE",
        )
    refused = sorted(set(words) & REFUSED)
    if refused:
        raise InvalidInput(
            f"the query uses {', '.join(refused)}, which the lake does not allow",
            field="sql",
            hint="queries are read-only: no COPY, ATTACH, INSTALL, LOAD, SET, PRAGMA or DDL/DML",
        )
    return sql

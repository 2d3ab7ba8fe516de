"""Running one read-only hunt over the lake's files in a locked-down DuckDB.

The three guards of :meth:`ParquetLake.query` past the text check
(:func:`maat.lake.schema.check_read_only_sql`) live here: DuckDB's own statement type, a
fresh in-memory database that may read only the listed files (its temporary folder a
private one removed afterwards: DuckDB always lets a query use its temporary folder), and
limits on time, memory and threads, so that one hunt cannot take the server.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

from maat.config import TelemetrySettings
from maat.errors import IntegrityError, InvalidInput, Unavailable
from maat.lake.schema import READ_ONLY_FIRST, REFUSED, QueryResult, view_sql

__all__ = ["HuntLimits", "run_hunt"]


@dataclass(frozen=True, slots=True)
class HuntLimits:
    """Bounds of one hunt (``telemetry.hunt_*`` settings)."""

    timeout: float = 300.0  # seconds before the query is interrupted
    memory_bytes: int = 4 * 1024**3  # DuckDB's memory_limit; past it DuckDB spills or fails
    threads: int = 2  # DuckDB's worker threads
    temp_bytes: int = 16 * 1024**3  # what it may spill to its private temporary folder

    @classmethod
    def from_settings(cls, telemetry: TelemetrySettings) -> HuntLimits:
        """The limits of ``[telemetry] hunt_*``."""
        return cls(
            timeout=float(telemetry.hunt_timeout),
            memory_bytes=int(telemetry.hunt_memory_bytes),
            threads=int(telemetry.hunt_threads),
            temp_bytes=int(telemetry.hunt_temp_bytes),
        )


_ALLOWED = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}


def run_hunt(
    files: Sequence[str],
    sql: str,
    params: Sequence[Any],
    *,
    max_rows: int | None,
    limits: HuntLimits,
) -> QueryResult:
    """Run ``sql`` over the view ``events`` of ``files`` (already checked as read-only text).

    1. Ask DuckDB's tokenizer and parser: exactly one SELECT or EXPLAIN statement, with
       no writing keyword (``EXPLAIN ANALYZE`` runs what it explains).
    2. Open a fresh in-memory DuckDB with a private temporary folder and the limits, create
       the view, allow only ``files``, turn external access off and lock the configuration.
    3. Run the query under a timer that interrupts it after ``limits.timeout``.

    DuckDB's errors become ``InvalidInput`` with its message; a listed file that cannot be
    read is an ``IntegrityError``; a timeout is ``InvalidInput`` naming the setting.
    """
    _check_tokens(sql)
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise InvalidInput(duck_message(exc), field="sql") from None
    if len(statements) != 1 or statements[0].type not in _ALLOWED:
        raise InvalidInput("only one read-only statement is allowed", field="sql")
    temp = tempfile.mkdtemp(prefix="maat-hunt-")
    try:
        try:
            connection = duckdb.connect(
                ":memory:",
                config={"autoinstall_known_extensions": False, "autoload_known_extensions": False},
            )
        except duckdb.Error as exc:
            raise Unavailable(f"cannot start the query engine: {duck_message(exc)}") from None
        try:
            _lock_down(connection, files, temp, limits)
            return _run(connection, files, sql, params, max_rows, limits.timeout)
        finally:
            connection.close()
    finally:
        shutil.rmtree(temp, ignore_errors=True)


def _check_tokens(sql: str) -> None:
    """The text check again, on DuckDB's own tokens: whatever DuckDB reads as a comment or
    a string is one, so no difference between two scanners can hide a keyword."""
    try:
        tokens = duckdb.tokenize(sql)
    except duckdb.Error as exc:
        raise InvalidInput(duck_message(exc), field="sql") from None
    keywords: list[str] = []
    statements = 1
    for index, (start, kind) in enumerate(tokens):
        end = tokens[index + 1][0] if index + 1 < len(tokens) else len(sql)
        text = sql[start:end].strip()
        if kind in (duckdb.token_type.keyword, duckdb.token_type.identifier):
            keywords.append(text.upper())
        elif kind == duckdb.token_type.operator and ";" in text and sql[end:].strip():
            statements += 1
    refused = sorted(set(keywords) & REFUSED)
    if statements > 1 or not keywords or keywords[0] not in READ_ONLY_FIRST or refused:
        raise InvalidInput(
            "only one read-only statement is allowed"
            + (f" (it uses {', '.join(refused)})" if refused else ""),
            field="sql",
        )


def _lock_down(
    connection: duckdb.DuckDBPyConnection, files: Sequence[str], temp: str, limits: HuntLimits
) -> None:
    """The view ``events`` over ``files``, the limits, then reading those files only."""
    connection.execute(view_sql(files))
    connection.execute("SET TimeZone = 'UTC'")  # results in UTC whatever the host's zone
    connection.execute("SET enable_progress_bar = false")  # it would print into the output
    connection.execute("SET temp_directory = $1", [temp])
    connection.execute(f"SET max_temp_directory_size = '{int(limits.temp_bytes)}B'")
    connection.execute(f"SET memory_limit = '{int(limits.memory_bytes)}B'")
    connection.execute(f"SET threads = {int(limits.threads)}")
    # Order matters: allowed_paths cannot be changed once external access is off.
    connection.execute("SET allowed_paths = $1", [list(files)])
    connection.execute("SET enable_external_access = false")
    connection.execute("SET lock_configuration = true")


def _run(
    connection: duckdb.DuckDBPyConnection,
    files: Sequence[str],
    sql: str,
    params: Sequence[Any],
    max_rows: int | None,
    timeout: float,
) -> QueryResult:
    expired = threading.Event()

    def interrupt() -> None:
        expired.set()
        connection.interrupt()

    timer = threading.Timer(timeout, interrupt)
    timer.daemon = True
    timer.start()
    try:
        cursor = connection.execute(sql, list(params)) if params else connection.execute(sql)
        columns = tuple(d[0] for d in cursor.description or ())
        if max_rows is None:
            rows = cursor.fetchall()
            truncated = False
        else:
            rows = cursor.fetchmany(max_rows + 1)
            truncated = len(rows) > max_rows
            rows = rows[:max_rows]
    except duckdb.Error as exc:
        if expired.is_set():
            raise InvalidInput(
                f"the query ran longer than {timeout:g} s and was stopped",
                field="sql",
                hint="narrow it (a day or host filter), or raise telemetry.hunt_timeout",
            ) from None
        if isinstance(exc, duckdb.IOException) and any(f in str(exc) for f in files):
            raise IntegrityError(
                f"a lake file cannot be read: {duck_message(exc)}", hint="run 'maat lake verify'"
            ) from None
        raise InvalidInput(duck_message(exc), field="sql") from None
    finally:
        timer.cancel()
    return QueryResult(columns, tuple(tuple(r) for r in rows), truncated)


def duck_message(exc: BaseException) -> str:
    """The first line of a DuckDB error, bounded."""
    return str(exc).strip().splitlines()[0][:500] if str(exc).strip() else type(exc).__name__

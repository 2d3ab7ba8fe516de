"""Events to Arrow tables and Parquet bytes, in the lake's column plan.

Arrow reads the plan's keys straight out of the event dicts (one pass in C, each dict
touched once) and checks their types; a batch where some value has an unexpected type takes
the column-wise path of :func:`maat.lake.schema.to_columns`, coercing only the columns Arrow
refuses. ``fields`` is built as one buffer (:func:`maat.lake.schema.fields_buffer`).
Timestamps are parsed in bulk by Arrow's ISO 8601 reader, and the partition day comes from
the parsed UTC time, not from the text, so an offset like ``+02:00`` cannot put an event in
the wrong day. Encoding runs in a worker thread, overlapping the next chunk's conversion.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from maat.errors import ConfigError, InvalidInput, Unavailable
from maat.lake.schema import (
    COLUMNS,
    as_int,
    as_text,
    fields_buffer,
    join_fields,
    to_columns,
    valid_module,
)
from maat.native import NATIVE

__all__ = [
    "SCHEMA",
    "EncodedFile",
    "encode_batch",
    "iso",
    "partitions",
    "to_table",
    "use_memory_pool",
]

CONVERT_CHUNK = 16_384  # events converted at a time: small enough to overlap with encoding
ROW_GROUP_ROWS = 32_768  # rows per Parquet row group at least (but the last of a file)
_MAX_RUNS = 64  # partition runs in a chunk beyond which grouping (a copy) beats slicing
_MIN_SLICE = 1_024  # rows of a run below which it is copied rather than sliced

_TEXT = pa.string()
_BIG_TEXT = pa.large_string()  # fields/original: a big batch may pass 2 GiB of text
_TIMESTAMP = pa.timestamp("us", tz="UTC")
_ARROW_TYPES = {
    "timestamp": _TIMESTAMP,
    "text": _TEXT,
    "first": _TEXT,
    "int": pa.int64(),
    "json": _BIG_TEXT,
    "original": _BIG_TEXT,
}
SCHEMA = pa.schema([pa.field(c.name, _ARROW_TYPES[c.kind]) for c in COLUMNS])
# Dictionary encoding pays for low-cardinality columns only; trying it on nearly unique text
# (ids, hashes, command lines, paths, JSON, originals) costs time and then falls back anyway.
_UNIQUE = {
    "event_id",
    "process_command_line",
    "process_hash_sha256",
    "file_path",
    "file_hash_sha256",
    "dll_hash_sha256",
    "url_original",
}
_DICTIONARY = [c.name for c in COLUMNS if c.kind in ("text", "first") and c.name not in _UNIQUE]
_STATISTICS = [c.name for c in COLUMNS if c.kind not in ("json", "original")]
_ARROW_ERRORS = (pa.ArrowException, TypeError, ValueError, OverflowError)


# The fast path: one C loop over the dicts instead of one Python pass per column, which on
# 100,000 events of 25 keys is cache misses rather than work.
_SOURCE_TYPES = {**_ARROW_TYPES, "timestamp": _TEXT, "first": pa.list_(_TEXT)}
_SOURCES = pa.struct(
    [pa.field(c.source, _SOURCE_TYPES[c.kind]) for c in COLUMNS if c.kind != "json"]
)


# The C path (maat._native.lake_columns, ADR 0020): the plan as (source key, kind) pairs and
# the Arrow type each column's buffers make (timestamps as text, which Arrow then parses).
_NATIVE_KINDS = {"timestamp": 0, "text": 0, "first": 1, "int": 2, "original": 3}
# Interned keys: the events' keys are (the C reader interns them), and a lookup by the very
# same object skips comparing the text.
_NATIVE_PLAN = tuple(
    (sys.intern(c.source), _NATIVE_KINDS[c.kind]) for c in COLUMNS if c.kind != "json"
)
_NATIVE_TYPES = [
    _BIG_TEXT if c.kind == "original" else pa.int64() if c.kind == "int" else _TEXT
    for c in COLUMNS
    if c.kind != "json"
]


def use_memory_pool(name: str) -> None:
    """Make pyarrow allocate from the pool ``name`` (``system``, ``mimalloc``, ``jemalloc``)
    in this process from now on, wherever no pool is passed (``telemetry.arrow_memory_pool``;
    ADR 0018). ``ConfigError`` when the name is unknown or this pyarrow build lacks it;
    pyarrow keeps its pool then."""
    makers = {
        "system": pa.system_memory_pool,
        "mimalloc": pa.mimalloc_memory_pool,
        "jemalloc": pa.jemalloc_memory_pool,
    }
    maker = makers.get(name)
    if maker is None:
        raise ConfigError(f"unknown memory pool {name!r}", field="telemetry.arrow_memory_pool")
    try:
        pool = maker()
    except NotImplementedError:  # what pyarrow raises for an allocator it was built without
        raise ConfigError(
            f"this pyarrow has no {name} allocator",
            field="telemetry.arrow_memory_pool",
            hint="system",
        ) from None
    pa.set_memory_pool(pool)


def to_table(
    events: Sequence[Mapping[str, Any]],
    *,
    first_row: int = 0,
    fields: Sequence[bytes | memoryview] | None = None,
    native: bool = True,
) -> Any:
    """The Arrow table of ``events`` in the lake's schema.

    Fastest path (``native``, when the C extension is built): its columns are read out of
    the events in one pass in C, straight into Arrow buffers; it declines any batch with a
    value it is unsure of, which then takes the paths below.
    Fast path: Arrow converts the events as structs of the source keys. When a value has
    another type than the plan expects (``event.code`` as a number, a category that is not
    a list), the column-wise path coerces it instead. A missing or unreadable ``@timestamp``
    is ``InvalidInput`` naming the event. ``fields``, when given, is each event's ``fields``
    JSON made already (the bus message's, :mod:`maat.telemetry.wire`), used as it is.
    """
    buffer, offsets = fields_buffer(events) if fields is None else join_fields(fields)
    fields = pa.LargeStringArray.from_buffers(
        len(events), pa.py_buffer(offsets), pa.py_buffer(buffer)
    )
    built = _native_columns(events) if native else None
    if built is not None:
        arrays = []
        for column in COLUMNS:
            if column.kind == "json":
                arrays.append(fields)
                continue
            values = next(built)
            arrays.append(_timestamps(values, first_row) if column.kind == "timestamp" else values)
        return pa.Table.from_arrays(arrays, schema=SCHEMA)
    try:
        rows = pa.array(events, _SOURCES)
        arrays = []
        for column in COLUMNS:
            if column.kind == "json":
                arrays.append(fields)
                continue
            values = rows.field(column.source)
            if column.kind == "first":
                values = pc.list_element(values, 0)
            elif column.kind == "timestamp":
                values = _timestamps(values, first_row)
            arrays.append(values)
        return pa.Table.from_arrays(arrays, schema=SCHEMA)
    except _ARROW_ERRORS:
        return _to_table_coercing(events, fields, first_row)


def _native_columns(events: Sequence[Mapping[str, Any]]) -> Iterator[Any] | None:
    """The arrays of the plan's columns but ``fields``, in order, made by the C extension;
    ``None`` when it is absent or declines the batch."""
    if NATIVE is None or type(events) is not list:  # exactly a list: what the C code reads
        return None
    rows = len(events)  # what the C call reads: it copies the list before any Python code runs
    built = NATIVE.lake_columns(events, _NATIVE_PLAN)
    if built is None:
        return None
    return (
        pa.Array.from_buffers(
            arrow_type,
            rows,
            [None if bits is None else pa.py_buffer(bits), pa.py_buffer(offsets)]
            + ([] if data is None else [pa.py_buffer(data)]),
            null_count=nulls,
        )
        for arrow_type, (bits, nulls, offsets, data) in zip(_NATIVE_TYPES, built, strict=True)
    )


def _to_table_coercing(events: Sequence[Mapping[str, Any]], fields: Any, first_row: int) -> Any:
    columns = to_columns(events, with_fields=False)
    arrays = []
    for column in COLUMNS:
        if column.kind == "json":
            arrays.append(fields)
            continue
        values = columns[column.name]
        arrow_type = _ARROW_TYPES[column.kind]
        if column.kind == "timestamp":
            try:
                text = pa.array(values, _TEXT) if _all_text(values) else values
            except _ARROW_ERRORS:  # e.g. a lone surrogate: _timestamps names its row
                text = values
            arrays.append(_timestamps(text, first_row))
            continue
        try:
            arrays.append(pa.array(values, arrow_type))
        except _ARROW_ERRORS:
            fixed = as_int(values) if column.kind == "int" else as_text(values)
            arrays.append(pa.array(fixed, arrow_type))
    return pa.Table.from_arrays(arrays, schema=SCHEMA)


def _all_text(values: Sequence[Any]) -> bool:
    return all(isinstance(v, str) for v in values)


def partitions(table: Any, *, first_row: int = 0) -> Iterator[tuple[str, str, Any]]:
    """Split ``table`` by (UTC day, module); validates every module once."""
    modules = table.column("module")
    if modules.null_count:
        row = first_row + modules.to_pylist().index(None)
        raise InvalidInput(f"event {row} has no event.module", line=row, field="event.module")
    days = table.column("timestamp").cast(pa.date32())
    distinct_days = days.unique().to_pylist()
    distinct_modules = modules.unique().to_pylist()
    for module in distinct_modules:
        valid_module(module)
    if len(distinct_days) == 1 and len(distinct_modules) == 1:
        yield distinct_days[0].isoformat(), distinct_modules[0], table
        return
    # A batch's events mostly come in long runs of one partition (a file read in time order,
    # a day turning over): slices of those runs are free, where take() copies every column.
    rows = table.num_rows
    if not rows:
        return
    changes = pc.indices_nonzero(
        pc.or_(
            pc.not_equal(days.slice(1), days.slice(0, rows - 1)),
            pc.not_equal(modules.slice(1), modules.slice(0, rows - 1)),
        )
    ).to_pylist()
    if len(changes) < _MAX_RUNS:
        starts = [0, *(change + 1 for change in changes)]
        for start, end in zip(starts, [*starts[1:], rows], strict=True):
            # A short run is copied: a slice would keep the whole chunk alive until its
            # partition's row group fills, which for a rare partition is the batch's end.
            piece = table.slice(start, end - start)
            if end - start < _MIN_SLICE:
                piece = piece.take(pa.array(range(end - start), pa.int64()))
            yield days[start].as_py().isoformat(), modules[start].as_py(), piece
        return
    keys = pa.table({"d": days, "m": modules, "i": pa.array(range(table.num_rows), pa.int64())})
    groups = keys.group_by(["d", "m"], use_threads=False).aggregate([("i", "list")])
    for day, module, indices in zip(
        groups.column("d").to_pylist(),
        groups.column("m").to_pylist(),
        groups.column("i_list").chunks[0] if groups.num_rows else [],
        strict=False,
    ):
        yield day.isoformat(), module, table.take(indices.values)


def _timestamps(values: Any, first_row: int) -> Any:
    """Parse ISO 8601 ``@timestamp`` text in bulk to UTC microseconds; ``InvalidInput``
    naming the first row Arrow cannot read (missing, not text, no zone, not a time)."""
    try:
        parsed = (values if isinstance(values, pa.Array) else pa.array(values, _TEXT)).cast(
            _TIMESTAMP
        )
        if not parsed.null_count:
            return parsed
    except _ARROW_ERRORS:
        pass
    items = values.to_pylist() if isinstance(values, pa.Array) else list(values)
    for row, value in enumerate(items):
        try:
            if not isinstance(value, str):
                raise TypeError("not text")
            pa.array([value], _TEXT).cast(_TIMESTAMP)
        except _ARROW_ERRORS:
            raise InvalidInput(
                f"event {first_row + row} has no readable @timestamp: {str(value)[:40]!r}",
                line=first_row + row,
                field="@timestamp",
            ) from None
    raise InvalidInput("unreadable @timestamp values", field="@timestamp")


def iso(moment: datetime) -> str:
    """``moment`` as ISO 8601 UTC with microseconds and ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True, slots=True)
class EncodedFile:
    """One Parquet file, encoded in memory: its partition, bytes (an Arrow buffer, which
    supports the buffer protocol), row count and time range."""

    day: str
    module: str
    data: Any
    rows: int
    min_ts: str
    max_ts: str


class _FileBuilder:
    """A Parquet file of one partition being written to memory, row group by row group."""

    def __init__(self, day: str, module: str) -> None:
        self.day, self.module = day, module
        self.planned = 0  # rows handed over by the converting thread (its accounting)
        self.waiting: list[Any] = []  # tables not yet handed to the encoder
        self.waiting_rows = 0
        self._sink = pa.BufferOutputStream()
        self._writer = pq.ParquetWriter(
            self._sink,
            SCHEMA,
            compression="zstd",
            use_dictionary=_DICTIONARY,
            write_statistics=_STATISTICS,
        )
        self._rows = 0
        self._low: Any = None
        self._high: Any = None

    def take_waiting(self) -> Any:
        tables, self.waiting, self.waiting_rows = self.waiting, [], 0
        return pa.concat_tables(tables)

    def add(self, table: Any) -> None:
        """Encode ``table`` as a row group (encoder thread; Arrow releases the GIL)."""
        self._writer.write_table(table)
        bounds = pc.min_max(table.column("timestamp"))
        low, high = bounds["min"].as_py(), bounds["max"].as_py()
        self._low = low if self._low is None else min(self._low, low)
        self._high = high if self._high is None else max(self._high, high)
        self._rows += table.num_rows

    def finish(self) -> EncodedFile:
        self._writer.close()
        return EncodedFile(
            self.day,
            self.module,
            self._sink.getvalue(),
            self._rows,
            iso(self._low),
            iso(self._high),
        )


def encode_batch(
    events: Sequence[Mapping[str, Any]],
    *,
    batch_rows: int,
    chunk: int = CONVERT_CHUNK,
    row_group: int = ROW_GROUP_ROWS,
    fields: Sequence[bytes | memoryview] | None = None,
) -> list[EncodedFile]:
    """Parquet files (in memory) for ``events``; see :func:`_encode_batch`. Arrow's own
    errors become ``InvalidInput`` (the events could not be encoded), running out of memory
    ``Unavailable``. ``fields``: each event's ``fields`` JSON, when made already."""
    if fields is not None and len(fields) != len(events):
        raise InvalidInput(f"{len(fields)} fields texts for {len(events)} events")
    try:
        return _encode_batch(
            events, batch_rows=batch_rows, chunk=chunk, row_group=row_group, fields=fields
        )
    except _ARROW_ERRORS as exc:
        raise InvalidInput(f"the events cannot be encoded as Parquet: {exc}") from None
    except MemoryError:
        raise Unavailable("not enough memory to encode the batch; send smaller ones") from None


def _encode_batch(
    events: Sequence[Mapping[str, Any]],
    *,
    batch_rows: int,
    chunk: int,
    row_group: int,
    fields: Sequence[bytes | memoryview] | None,
) -> list[EncodedFile]:
    """Parquet files (in memory) for ``events``: one or more per (day, module), each of at
    most ``batch_rows`` rows.

    The events are converted ``chunk`` at a time in the calling thread while a worker thread
    encodes the row groups already converted: Arrow's Parquet writer and zstd run without
    the GIL, so conversion (Python) and encoding (C++) overlap on two cores. Raises
    ``InvalidInput`` for a bad timestamp or module (nothing is returned then).
    """
    files: list[EncodedFile] = []
    building: dict[tuple[str, str], _FileBuilder] = {}
    pending: list[Future[None]] = []

    def hand_over(pool: ThreadPoolExecutor, builder: _FileBuilder, *, last: bool) -> None:
        if builder.waiting:
            pending.append(pool.submit(builder.add, builder.take_waiting()))
        if last:
            pending.append(pool.submit(lambda: files.append(builder.finish())))

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="maat-lake-encode") as pool:
        try:
            for start in range(0, len(events), chunk):
                end = start + chunk
                made = None if fields is None else fields[start:end]
                table = to_table(events[start:end], first_row=start, fields=made)
                for day, module, part in partitions(table, first_row=start):
                    offset = 0
                    while offset < part.num_rows:
                        builder = building.get((day, module))
                        if builder is None:
                            builder = building[(day, module)] = _FileBuilder(day, module)
                        piece = part.slice(offset, batch_rows - builder.planned)
                        offset += piece.num_rows
                        builder.planned += piece.num_rows
                        builder.waiting.append(piece)
                        builder.waiting_rows += piece.num_rows
                        full = builder.planned >= batch_rows
                        if full or builder.waiting_rows >= row_group:
                            hand_over(pool, builder, last=full)
                        if full:
                            del building[(day, module)]
            for builder in building.values():
                hand_over(pool, builder, last=True)
        finally:
            # Wait for the encoder either way; its first error is the batch's error.
            errors = [f.exception() for f in pending]
        for error in errors:
            if error is not None:
                raise error
    return files

"""Windows event log files (``.evtx``) read record by record with the ``evtx`` package.

Each record comes out as the JSON the ``evtx`` package renders (``{"Event": {"System": …,
"EventData": …}}``), decoded, ready for :class:`maat.telemetry.windows.EvtxJsonSource`. A
record the package cannot read is reported in its place as an ``InvalidInput`` naming the file
and the record number, and reading goes on with the next record: one damaged record never
costs the rest of the file.
"""

from __future__ import annotations

import io
import re
import struct
from collections.abc import Iterator
from typing import Any

import orjson
from evtx import PyEvtxParser

from maat.errors import InvalidInput

__all__ = ["EVTX_MAGIC", "is_evtx", "iter_evtx"]

EVTX_MAGIC = b"ElfFile\x00"
"""The first eight bytes of every EVTX file."""

HEADER_SIZE = 4096
CHUNK_SIZE = 65536

# After this many corrupt records in a row the rest of the file is taken as unreadable, so a
# damaged chunk table cannot keep the reader busy for ever.
MAX_CONSECUTIVE_ERRORS = 1000

_RECORD_NUMBER = re.compile(r"record (?:number|IDs) (\d+)")
# What the native parser raises for a damaged record or chunk.
_PARSER_ERRORS = (RuntimeError, OSError, ValueError)


def is_evtx(first_bytes: bytes) -> bool:
    """Whether data starting with ``first_bytes`` (8 bytes suffice) is an EVTX file."""
    return first_bytes[:8] == EVTX_MAGIC


def _failed_record(message: str, previous: int) -> int:
    """The record number a parser error names, else the one after ``previous``."""
    found = _RECORD_NUMBER.search(message)
    return int(found.group(1)) if found else previous + 1


def iter_evtx(
    data: bytes, *, source: str, max_records: int | None = None
) -> Iterator[tuple[int, dict[str, Any] | InvalidInput]]:
    """``(record number, record)`` for every record of the EVTX file ``data``.

    ``source`` names the file in errors. A record that cannot be read gives
    ``(number, InvalidInput)`` (``file=source``, ``line=number``) and iteration continues.
    With ``max_records``, at most that many records are read; if the file holds more, a last
    ``InvalidInput`` says so (nothing is dropped silently).

    A file cut short (a partial last chunk, fewer chunks than its header announces) gives a
    last ``InvalidInput`` saying so, since the ``evtx`` package skips such chunks silently.

    Raises ``InvalidInput`` when ``data`` is not an EVTX file at all.
    """
    if not is_evtx(data):
        raise InvalidInput(
            "not an EVTX file (no ElfFile header)",
            file=source,
            hint="export the log from Event Viewer or wevtutil as .evtx",
        )
    announced = _announced_chunks(data, source)
    try:
        # One thread: the service parses many files side by side in its own workers.
        parser = PyEvtxParser(io.BytesIO(data), number_of_threads=1)
        records = parser.records_json()
    except _PARSER_ERRORS as exc:
        raise InvalidInput(f"unreadable EVTX file: {str(exc)[:300]}", file=source) from None
    return _records(records, source, max_records, _cut_short(data, announced))


def _announced_chunks(data: bytes, source: str) -> int:
    """The chunk count the file header gives, after checking the header's fixed sizes."""
    if len(data) < HEADER_SIZE:
        raise InvalidInput(f"not an EVTX file: only {len(data)} bytes", file=source)
    header_size = struct.unpack_from("<I", data, 32)[0]
    block_size, chunks = struct.unpack_from("<HH", data, 40)
    if header_size != 128 or block_size != HEADER_SIZE:
        raise InvalidInput("not an EVTX file: damaged file header", file=source)
    return int(chunks)


def _cut_short(data: bytes, announced: int) -> str | None:
    """Why the file looks cut short, or ``None``: EVTX files grow by whole 64 KiB chunks."""
    complete, partial = divmod(len(data) - HEADER_SIZE, CHUNK_SIZE)
    if partial:
        return (
            f"the file ends {partial} bytes into chunk {complete}: it was cut short, and the "
            "records of that chunk were not read"
        )
    if announced > complete:
        return (
            f"the header announces {announced} chunks but the file holds {complete}: "
            "it was cut short"
        )
    return None


def _records(
    records: Iterator[Any], source: str, max_records: int | None, cut_short: str | None
) -> Iterator[tuple[int, dict[str, Any] | InvalidInput]]:
    last = 0
    count = 0
    errors_in_a_row = 0
    while True:
        try:
            record = next(records)
        except StopIteration:
            if cut_short is not None:
                yield last + 1, InvalidInput(cut_short, file=source, line=last + 1)
            return
        except _PARSER_ERRORS as exc:
            last = _failed_record(str(exc), last)
            reason = str(exc)[:300]
            yield last, InvalidInput(f"unreadable EVTX record: {reason}", file=source, line=last)
            errors_in_a_row += 1
            if errors_in_a_row >= MAX_CONSECUTIVE_ERRORS:
                yield (
                    last + 1,
                    InvalidInput(
                        f"{MAX_CONSECUTIVE_ERRORS} unreadable records in a row: the rest of the "
                        "file was not read",
                        file=source,
                        line=last + 1,
                    ),
                )
                return
            continue
        errors_in_a_row = 0
        if max_records is not None and count >= max_records:
            yield (
                last + 1,
                InvalidInput(
                    f"more than {max_records} records: the rest of the file was not read",
                    file=source,
                    line=last + 1,
                    hint="raise the record limit in the configuration or split the file",
                ),
            )
            return
        count += 1
        last, item = _decode(record, source, last)
        yield last, item


def _decode(record: Any, source: str, last: int) -> tuple[int, dict[str, Any] | InvalidInput]:
    """One ``records_json()`` item as ``(number, decoded record or InvalidInput)``."""
    number = record.get("event_record_id")
    if type(number) is not int:
        number = last + 1
    try:
        decoded = orjson.loads(record["data"])
    except (KeyError, orjson.JSONDecodeError, TypeError) as exc:
        return number, InvalidInput(f"EVTX record is not JSON: {exc}", file=source, line=number)
    if not isinstance(decoded, dict):
        return number, InvalidInput("EVTX record is not a JSON object", file=source, line=number)
    return number, decoded

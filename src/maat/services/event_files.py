"""Event files read whole and parsed: what ``maat ingest`` and ``maat detect`` share."""

from __future__ import annotations

from pathlib import Path

from maat.adapters.feeds.evtx_files import is_evtx, iter_evtx
from maat.adapters.feeds.files import gunzip_bounded
from maat.errors import InvalidInput, PayloadTooLarge
from maat.services.telemetry import received_now
from maat.telemetry.pipeline import ParseOutcome, parse_bytes, parse_records

__all__ = ["MAX_FILE_BYTES", "parse_event_file", "read_event_file"]

MAX_FILE_BYTES = 4 * 1024**3  # one file is read whole: refuse what would not fit


def read_event_file(path: Path) -> bytes:
    """The bytes of ``path``, gunzipped (bounded) when it is gzip."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise PayloadTooLarge(f"{path}: larger than {MAX_FILE_BYTES:,} bytes; split it")
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read: {exc.strerror}", file=str(path)) from exc
    if data[:2] == b"\x1f\x8b":
        data = gunzip_bounded(data, MAX_FILE_BYTES, what=str(path))
    return data


def parse_event_file(path: Path, *, source: str, max_event_bytes: int) -> ParseOutcome:
    """Events of one file in any format the telemetry parsers read, EVTX included (its
    events numbered by record)."""
    data = read_event_file(path)
    if is_evtx(data[:8]):
        return parse_records(
            iter_evtx(data, source=str(path)),
            path=str(path),
            received=received_now(),
            max_event_bytes=max_event_bytes,
            source=source,
        )
    return parse_bytes(
        data, path=str(path), received=received_now(), max_event_bytes=max_event_bytes,
        source=source,
    )  # fmt: skip

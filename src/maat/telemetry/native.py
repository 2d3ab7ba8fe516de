"""The C hot path for flat Windows records (``maat._native``), when it was built.

``flat_windows(line, received)`` does what ``orjson.loads``, :meth:`FlatSource.normalise
<maat.telemetry.windows.FlatSource.normalise>` and :func:`finish
<maat.telemetry.model.finish>` do to one NXLog/Mordor JSON line, the ECS fields of the
event's kind included (it calls :meth:`FlatSource.mapper
<maat.telemetry.windows.FlatSource.mapper>` for them), and returns the event; or ``None``
for anything but the plain case, and the caller runs the Python path on that line, which
decides and reports (ADR 0020). :data:`FLAT_WINDOWS_LINES` does it for every line of a body.

Both are ``None`` when the extension is absent (no C compiler at install time): Maat then
runs the Python path only, with the same results. They are configured here with the Python
tables, so each table has one copy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from maat.native import NATIVE
from maat.telemetry import windows
from maat.telemetry.model import id_parameters
from maat.telemetry.windows_fields import EVENT_DATA

__all__ = ["FLAT_WINDOWS", "FLAT_WINDOWS_LINES"]

FLAT_WINDOWS: Callable[[bytes, str], dict[str, Any] | None] | None
FLAT_WINDOWS_LINES: (
    Callable[[bytes, str, int, int, int, int], tuple[list[int], list[Any], list[int], int, int]]
    | None
)
"""``(data, received, limit, offset, number, max_lines)``: up to ``max_lines`` non-blank lines
of a body from ``offset`` (after line ``number``), as ``(numbers, payloads, slow, offset,
number)``: lines numbered as ``split(b"\\n")`` counts (a trailing CR removed); a payload
is the event ``flat_windows`` made (a ``dict``), or the line's ``bytes`` where it made none
or the line is longer than the limit; ``slow`` holds the positions of the ``bytes``
payloads; ``offset`` and ``number`` say where to go on (``len(data) + 1``: the end)."""

_ID_SIZE, _ID_PERSON = id_parameters(windows.FLAT.name)
if NATIVE is None:
    FLAT_WINDOWS = FLAT_WINDOWS_LINES = None
else:
    NATIVE.configure(
        meta=windows._FLAT_META,
        # FlatSource.accepts refuses a record with these keys (a Log Analytics row)
        decline=frozenset({"TimeGenerated"}),
        prefix=EVENT_DATA,
        nxlog_keys=windows._NXLOG_ACCOUNT,
        nxlog_types=windows._NXLOG_EVENT_TYPES,
        channels=windows._CHANNELS,
        id_size=_ID_SIZE,
        id_person=_ID_PERSON,
        module=windows.FLAT.name,
        mapper=windows.FLAT.mapper,
    )
    FLAT_WINDOWS = NATIVE.flat_windows
    FLAT_WINDOWS_LINES = NATIVE.flat_windows_lines

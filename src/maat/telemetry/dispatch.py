"""Which parser reads a record or a file: automatic detection, overridable by name.

JSON records are judged one at a time (an agent's stream mixes Sysmon, Security and osquery
records): the source that read the previous record is asked first, then every source in
precedence order. Text files are sniffed once, on their first non-empty line. A JSON record no
source accepts, or a text file no format claims, is kept as ``event.kind: unknown``.
"""

from __future__ import annotations

from typing import Any

from maat.errors import InvalidInput
from maat.telemetry import (
    access_log,
    app_log,
    auditd,
    azure_monitor,
    cloud_audit,
    error_log,
    eslogger,
    falco,
    osquery,
    panos,
    service_audit,
    syslog,
    windows,
    zeek,
    zeek_tsv,
)
from maat.telemetry.model import Event, JsonSource, TextSource

__all__ = ["JSON_SOURCES", "TEXT_SOURCES", "UNKNOWN", "JsonDispatcher", "names", "text_source"]

# Precedence: the specific shapes first; Windows before the generic access-log shape.
JSON_SOURCES: tuple[JsonSource, ...] = (
    *windows.JSON_SOURCES,
    *auditd.JSON_SOURCES,
    *osquery.JSON_SOURCES,
    *falco.JSON_SOURCES,
    *eslogger.JSON_SOURCES,
    *zeek.JSON_SOURCES,
    *azure_monitor.JSON_SOURCES,
    *cloud_audit.JSON_SOURCES,
    *service_audit.JSON_SOURCES,
    *access_log.JSON_SOURCES,
)
# Syslog last: its BSD time stamp is the loosest of the text formats' marks.
TEXT_SOURCES: tuple[TextSource, ...] = (
    *zeek_tsv.TEXT_SOURCES,
    *auditd.TEXT_SOURCES,
    *error_log.TEXT_SOURCES,
    *syslog.TEXT_SOURCES,
    *app_log.TEXT_SOURCES,  # never sniffed: named with --source app.<name>
    *panos.TEXT_SOURCES,  # never sniffed: --source paloalto.globalprotect
)

_TIME_KEYS = ("@timestamp", "timestamp", "time", "ts", "TimeGenerated", "EventTime", "date")


class _Unknown:
    """Keeps a record no parser understands: its time when it has a readable one."""

    name = "unknown"

    def accepts(self, record: dict[str, Any]) -> bool:
        return True

    def normalise(self, record: dict[str, Any]) -> Event:
        fields: Event = {"event.kind": "unknown"}
        for key in _TIME_KEYS:
            value = record.get(key)
            if isinstance(value, str | int | float) and not isinstance(value, bool):
                fields["@timestamp"] = value
                break
        return fields


UNKNOWN = _Unknown()


def names() -> list[str]:
    """Every source name a user may force with ``--source`` (plus ``auto``)."""
    found = {s.name for s in JSON_SOURCES} | {s.name for s in TEXT_SOURCES}
    return ["auto", *sorted(found)]


class JsonDispatcher:
    """Picks the :class:`JsonSource` for each record; ``forced`` pins one source by name."""

    def __init__(self, forced: str = "auto") -> None:
        self._sources: tuple[JsonSource, ...]
        if forced == "auto":
            self._sources = JSON_SOURCES
        else:
            self._sources = tuple(s for s in JSON_SOURCES if s.name == forced)
            if not self._sources:
                raise InvalidInput(
                    f"no JSON parser is named {forced!r}", field="source",
                    hint=", ".join(names()),
                )  # fmt: skip
        self._forced = forced != "auto"
        self._last: JsonSource | None = None

    @property
    def last(self) -> JsonSource | None:
        """The source that read the previous record: asked first about the next."""
        return self._last

    def source_for(self, record: dict[str, Any]) -> JsonSource:
        """The source that reads ``record`` (:data:`UNKNOWN` when none does)."""
        last = self._last
        if last is not None and last.accepts(record):
            return last
        for source in self._sources:
            if source.accepts(record):
                self._last = source
                return source
        if self._forced:
            raise InvalidInput(f"not a {self._sources[0].name} record", field="source")
        return UNKNOWN


def text_source(first_line: bytes, forced: str = "auto") -> TextSource | None:
    """The text format whose sniff claims ``first_line`` (or the one named by ``forced``)."""
    if forced != "auto":
        for source in TEXT_SOURCES:
            if source.name == forced:
                return source
        return None
    for source in TEXT_SOURCES:
        if source.sniff(first_line):
            return source
    return None

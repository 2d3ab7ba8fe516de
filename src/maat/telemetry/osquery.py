"""osquery result logs: differential rows, snapshots and batched differentials.

osquery writes each scheduled query's results as JSON lines. Event format (the default): one
object per changed row, ``{"name", "hostIdentifier", "calendarTime", "unixTime", "epoch",
"counter", "numerics", "decorations", "columns": {...}, "action": "added" | "removed"}``.
Snapshot queries give ``{"action": "snapshot", "snapshot": [{...}, ...], ...}``: one event per
row. Batch format (``--logger_event_type=false``) gives ``"diffResults": {"added": [...],
"removed": [...]}``: one event per row too.

Column values are text unless ``numerics`` is set; they are kept as sent under
``osquery.columns.<column>``, and the columns of common tables (``processes``,
``process_events``, ``socket_events``, ``listening_ports``, ``file_events``, ``hash``,
``users``) are also mapped to ECS with their proper types. The table is not in the record, so
it is recognised by its distinctive columns.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import orjson

from maat.errors import InvalidInput
from maat.telemetry.model import Event, epoch_utc, iso_utc

__all__ = ["JSON_SOURCES", "OsqueryResult"]

_TRANSPORT = {"6": "tcp", "17": "udp", "1": "icmp", "58": "ipv6-icmp", "132": "sctp"}
_FAMILY = {"2": "ipv4", "10": "ipv6", "30": "ipv6"}  # 30 is AF_INET6 on macOS
_FILE_ACTION = {
    "CREATED": ["creation"],
    "MOVED_TO": ["creation"],
    "DELETED": ["deletion"],
    "MOVED_FROM": ["deletion"],
    "UPDATED": ["change"],
    "ATTRIBUTES_MODIFIED": ["change"],
    "OPENED": ["access"],
    "ACCESSED": ["access"],
}
_SOCKET_ACTION = {
    "connect": ["connection", "start"],
    "accept": ["connection", "start"],
    "bind": ["info"],
}
_PROCESS_TEXT = (
    ("name", "process.name"),
    ("path", "process.executable"),
    ("cmdline", "process.command_line"),
    ("cwd", "process.working_directory"),
    ("uid", "user.id"),
    ("euid", "user.effective.id"),
    ("gid", "group.id"),
    ("auid", "user.audit.id"),
    ("username", "user.name"),  # es_process_events
)
# Columns only osquery's es_process_events table (macOS EndpointSecurity) has.
_ENDPOINT_SECURITY = ("cdhash", "signing_id", "platform_binary", "team_id")
# A new program is an exec (what Sysmon's process creation reports); a fork runs the
# parent's image on, so it is not reported as a start.
_ES_EVENT = {"exec": "start", "exit": "end"}
_ES_TYPES = frozenset({"exec", "fork", "exit"})  # es_process_events' event_type values
_HASHES = (("md5", "file.hash.md5"), ("sha1", "file.hash.sha1"), ("sha256", "file.hash.sha256"))


def _present(value: object) -> bool:
    # osquery writes SQL NULL as an empty string.
    return value is not None and value != ""


def _text(columns: dict[str, Any], key: str) -> str | None:
    value = columns.get(key)
    if value.__class__ is str:
        return value or None
    if value is None or isinstance(value, bool):
        return None
    return str(value)


def _int(columns: dict[str, Any], key: str) -> int | None:
    value = columns.get(key)
    if not _present(value):
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            pass
    raise InvalidInput(f"column {key} is not an integer: {str(value)[:40]!r}", field=key)


def _copy_texts(out: Event, c: dict[str, Any], pairs: Iterable[tuple[str, str]]) -> None:
    """Each present column of ``pairs`` (column, ECS field) into ``out`` as text."""
    for key, field in pairs:
        value = _text(c, key)
        if value is not None:
            out[field] = value


def _base_name(path: str) -> str:
    """The last part of a POSIX or a Windows path (osquery runs on both)."""
    return path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]


def _when(record: dict[str, Any]) -> str:
    """The collection time: ``unixTime`` (number or digits), else ``calendarTime``."""
    unix = record.get("unixTime")
    if isinstance(unix, str) and unix.isascii() and unix.isdigit() and len(unix) < 20:
        unix = int(unix)
    if isinstance(unix, int | float) and not isinstance(unix, bool):
        try:
            return epoch_utc(unix)
        except InvalidInput:
            raise InvalidInput("unixTime is out of range", field="unixTime") from None
    calendar = record.get("calendarTime")
    if isinstance(calendar, str):
        try:  # "Tue Sep 30 17:37:30 2014 UTC"
            moment = datetime.strptime(calendar, "%a %b %d %H:%M:%S %Y UTC")
        except ValueError:
            pass
        else:
            return iso_utc(moment.replace(tzinfo=UTC))
    raise InvalidInput("no readable unixTime or calendarTime", field="unixTime")


def _header(record: dict[str, Any]) -> Event:
    """The fields every row of ``record`` shares."""
    host = record.get("hostIdentifier")
    if not isinstance(host, str) or not host:
        raise InvalidInput("hostIdentifier must be non-empty text", field="hostIdentifier")
    name = record.get("name")
    if not isinstance(name, str):
        raise InvalidInput("name (the query's name) must be text", field="name")
    out: Event = {
        "@timestamp": _when(record),
        "host.name": host,
        "rule.name": name,
        "osquery.query": name,
        "event.dataset": "osquery.result",
    }
    for key, field in (("counter", "osquery.counter"), ("epoch", "osquery.epoch")):
        value = record.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            out[field] = value
    calendar = record.get("calendarTime")
    if isinstance(calendar, str):
        out["osquery.calendar_time"] = calendar
    decorations = record.get("decorations")
    if isinstance(decorations, dict):
        for key, value in decorations.items():
            if isinstance(value, str | int | float) and not isinstance(value, bool):
                out[f"osquery.decorations.{key}"] = value
    return out


def _row(header: Event, columns: object, action: str, where: str) -> Event:
    """One event: the shared header, the row's columns as sent, and their ECS meaning."""
    if not isinstance(columns, dict):
        raise InvalidInput("a result row must be an object", field=where)
    out = dict(header)
    out["event.action"] = action
    for key, value in columns.items():
        if value is None or value == "":
            continue
        if isinstance(value, list | dict):
            kind = type(value).__name__
            raise InvalidInput(f"column {key} holds a {kind}", field=f"{where}.{key}")
        out[f"osquery.columns.{key}"] = value
    try:
        _map(out, columns)
    except InvalidInput as exc:
        raise InvalidInput(exc.message, field=f"{where}.{exc.location.field}") from None
    return out


# What a row's own original keeps of its record (the whole record is the first row's).
_ROW_KEYS = ("name", "hostIdentifier", "calendarTime", "unixTime", "epoch", "counter",
             "numerics", "decorations")  # fmt: skip
# The fields every row repeats, at most: a record of many rows repeats them in each.
MAX_SHARED_BYTES = 8192


def _rows(
    record: dict[str, Any], header: Event, rows: list[Any], action: str, where: str
) -> list[Event]:
    """The events of a snapshot's or a batch's rows.

    The first row's original is the whole record (so it is kept once, whole); each other
    row's is its row in osquery's one-row form (the record's header keys, ``action`` and
    ``columns``). What every row repeats (the header, decorations) is bounded, so a record
    of N rows costs storage in proportion to its size, not N times it.
    """
    shared = {k: record[k] for k in _ROW_KEYS if k in record}
    if len(rows) > 1:
        size = len(orjson.dumps(shared)) + len(orjson.dumps(header))
        # Repeated N times, the header may cost at most 16 times the record itself (past a
        # MiB): a few rows with a large header, or many rows with a small one.
        if size > MAX_SHARED_BYTES or (
            size * len(rows) > 1 << 20 and size * len(rows) > 16 * len(orjson.dumps(record))
        ):
            raise InvalidInput(
                f"the record's header and decorations take {size:,} bytes, repeated in each "
                f"of its {len(rows):,} rows: too much to store (at most {MAX_SHARED_BYTES:,} "
                "bytes, and 16 times the record in all)",
                field="decorations",
            )
    events: list[Event] = []
    for index, row in enumerate(rows):
        event = _row(header, row, action, f"{where}[{index}]")
        if events:
            own = {**shared, "action": action, "columns": row}
            event["event.original"] = orjson.dumps(own).decode()
        events.append(event)
    return events


def _map(out: Event, c: dict[str, Any]) -> None:
    """ECS fields for the columns of the common tables, recognised by their columns."""
    if "remote_address" in c or "local_address" in c or ("port" in c and "address" in c):
        _network(out, c)
    if "target_path" in c or (("sha256" in c or "md5" in c or "sha1" in c) and "pid" not in c):
        _file(out, c)
    elif "filename" in c and "pid" in c and "event_type" in c:
        _es_file(out, c)
    elif "pid" in c:
        _process(out, c)
    elif "username" in c and "uid" in c:
        out["event.category"] = ["iam"]
        out["event.type"] = ["user", "info"]
        _copy_texts(out, c, (("username", "user.name"), ("uid", "user.id"), ("gid", "group.id")))
        full_name = _text(c, "description")
        if full_name is not None:
            out["user.full_name"] = full_name


def _process(out: Event, c: dict[str, Any]) -> None:
    pid = _int(c, "pid")
    if pid is not None:
        out["process.pid"] = pid
    parent = _int(c, "parent")
    if parent is None:
        parent = _int(c, "ppid")
    if parent is not None:
        out["process.parent.pid"] = parent
    _copy_texts(out, c, _PROCESS_TEXT)
    if "process.name" not in out and "process.executable" in out:
        out["process.name"] = _base_name(out["process.executable"])
    start = _int(c, "start_time")
    if start is not None and start > 0:
        try:
            out["process.start"] = epoch_utc(start)
        except InvalidInput:
            raise InvalidInput("start_time is out of range", field="start_time") from None
    out.setdefault("event.category", ["process"])
    if any(k in c for k in _ENDPOINT_SECURITY) or _text(c, "event_type") in _ES_TYPES:
        # es_process_events: macOS's EndpointSecurity, which says what happened.
        out["host.os.type"] = "macos"
        kind = _text(c, "event_type")
        out.setdefault("event.type", [_ES_EVENT.get(kind or "", "info")])
        _copy_texts(out, c, (("signing_id", "process.code_signature.signing_id"),
                             ("team_id", "process.code_signature.team_id")))  # fmt: skip
    elif "syscall" in c or "time" in c:  # process_events: an execution was seen
        out.setdefault("event.type", ["start"])
    else:  # processes: the state of a running process
        out.setdefault("event.type", ["info"])


def _network(out: Event, c: dict[str, Any]) -> None:
    listening = "port" in c and "address" in c and "remote_address" not in c
    pairs = (
        (("address", "server.ip"), ("port", "server.port"))
        if listening
        else (("local_address", "source.ip"), ("local_port", "source.port"))
    )
    for (ip_key, ip_field), (port_key, port_field) in (
        pairs,
        (("remote_address", "destination.ip"), ("remote_port", "destination.port")),
    ):
        ip = _text(c, ip_key)
        if ip is not None:
            out[ip_field] = ip
        port = _int(c, port_key)
        if port is not None:
            out[port_field] = port
    protocol = _text(c, "protocol")
    if protocol is not None:
        out["network.iana_number"] = protocol
        if protocol in _TRANSPORT:
            out["network.transport"] = _TRANSPORT[protocol]
    family = _text(c, "family")
    if family in _FAMILY:
        out["network.type"] = _FAMILY[family]
    out["event.category"] = ["network"]
    if listening:
        out["event.type"] = ["info"]
    else:
        out["event.type"] = list(_SOCKET_ACTION.get(_text(c, "action") or "", ["info"]))


def _file(out: Event, c: dict[str, Any]) -> None:
    path = _text(c, "target_path") or _text(c, "path")
    if path is not None:
        out["file.path"] = path
        out["file.name"] = _base_name(path)
    directory = _text(c, "directory")
    if directory is not None:
        out["file.directory"] = directory
    _copy_texts(out, c, _HASHES)
    size = _int(c, "size")
    if size is not None:
        out["file.size"] = size
    _copy_texts(out, c, (("uid", "file.uid"), ("gid", "file.gid"), ("mode", "file.mode")))
    out["event.category"] = ["file"]
    action = _text(c, "action")
    out["event.type"] = list(_FILE_ACTION.get(action or "", ["info"]))


# es_process_file_events' event_type -> ECS event.type.
_ES_FILE_TYPES = {"create": "creation", "write": "change", "truncate": "change",
                  "rename": "change", "link": "creation", "unlink": "deletion",
                  "open": "access", "close": "access"}  # fmt: skip


def _es_file(out: Event, c: dict[str, Any]) -> None:
    """es_process_file_events (macOS EndpointSecurity): which process did what to which
    file; a rename names the new path in ``dest_filename``."""
    for key, field in (("pid", "process.pid"), ("parent", "process.parent.pid")):
        value = _int(c, key)
        if value is not None:
            out[field] = value
    executable = _text(c, "path")
    if executable is not None:
        out["process.executable"] = executable
        out["process.name"] = _base_name(executable)
    kind = _text(c, "event_type") or ""
    target = (_text(c, "dest_filename") if kind == "rename" else None) or _text(c, "filename")
    if target is not None:
        out["file.path"] = target
        out["file.name"] = _base_name(target)
    out["host.os.type"] = "macos"
    out["event.category"] = ["file"]
    out["event.type"] = [_ES_FILE_TYPES.get(kind, "info")]


class OsqueryResult:
    """osquery result log records (differential, snapshot and batch)."""

    name = "osquery"

    def accepts(self, record: dict[str, Any]) -> bool:
        """A ``hostIdentifier`` with ``columns``, ``snapshot`` or ``diffResults``."""
        return "hostIdentifier" in record and (
            "columns" in record or "snapshot" in record or "diffResults" in record
        )

    def normalise(self, record: dict[str, Any]) -> Event | list[Event]:
        """One event for a differential row, a list for a snapshot or a batch."""
        header = _header(record)
        if "columns" in record:
            action = record.get("action")
            if action not in ("added", "removed"):
                raise InvalidInput("action must be 'added' or 'removed'", field="action")
            return _row(header, record["columns"], action, "columns")
        if "snapshot" in record:
            rows = record["snapshot"]
            if not isinstance(rows, list):
                raise InvalidInput("snapshot must be a list of rows", field="snapshot")
            return _rows(record, header, rows, "snapshot", "snapshot")
        diff = record.get("diffResults")
        if not isinstance(diff, dict):
            raise InvalidInput("diffResults must be an object", field="diffResults")
        events: list[Event] = []
        for action in ("added", "removed"):
            rows = diff.get(action, [])
            if not isinstance(rows, list):
                raise InvalidInput(f"diffResults.{action} must be a list", field="diffResults")
            events.extend(_rows(record, header, rows, action, f"diffResults.{action}"))
        return events


JSON_SOURCES: tuple[OsqueryResult, ...] = (OsqueryResult(),)

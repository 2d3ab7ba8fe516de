"""Falco alerts (``json_output: true``): one JSON object per rule match.

``{"time": "<RFC 3339, ns>", "rule": "Terminal shell in container", "priority": "Notice",
"output": "<rendered text>", "source": "syscall", "tags": [...], "hostname": "...",
"output_fields": {"proc.name": "bash", "proc.pid": 4242, "fd.name": "/etc/shadow", ...}}``.

Every Falco record is an alert (``event.kind: alert``). The output fields a rule names vary,
so each is kept as sent under ``falco.output_fields.<field>`` and the usual ones are mapped
to ECS (process, user, container, file or network peer, Kubernetes).
"""

from __future__ import annotations

import re
from typing import Any

from maat.errors import InvalidInput
from maat.telemetry.model import Event, iso_utc

__all__ = ["JSON_SOURCES", "SEVERITY", "FalcoAlert"]

SEVERITY = {
    "emergency": 0,
    "alert": 1,
    "critical": 2,
    "error": 3,
    "warning": 4,
    "notice": 5,
    "informational": 6,
    "info": 6,
    "debug": 7,
}
"""Falco priority → ``event.severity``: the syslog scale Falco's priorities follow (0 worst)."""

_TEXT = (
    ("proc.name", "process.name"),
    ("proc.exepath", "process.executable"),
    ("proc.cmdline", "process.command_line"),
    ("proc.cwd", "process.working_directory"),
    ("proc.pname", "process.parent.name"),
    ("proc.pexepath", "process.parent.executable"),
    ("proc.pcmdline", "process.parent.command_line"),
    ("user.name", "user.name"),
    ("user.uid", "user.id"),
    ("user.loginuid", "user.audit.id"),
    ("group.gid", "group.id"),
    ("group.name", "group.name"),
    ("container.name", "container.name"),
    ("container.image.repository", "container.image.name"),
    ("k8s.ns.name", "orchestrator.namespace"),
    ("k8s.pod.name", "orchestrator.resource.name"),
    ("fd.l4proto", "network.transport"),
)
_INT = (
    ("proc.pid", "process.pid"),
    ("proc.ppid", "process.parent.pid"),
    # A socket's client is the source of the connection and its server the destination,
    # whichever side Falco watched.
    ("fd.cport", "source.port"),
    ("fd.sport", "destination.port"),
)
_TEXT_MAP = dict(_TEXT)
_INT_MAP = dict(_INT)
_EXEC = frozenset({"execve", "execveat"})
_FILE_WRITE = frozenset({"open", "openat", "openat2", "creat"})
_DELETE = frozenset({"unlink", "unlinkat", "rmdir"})
_RENAME = frozenset({"rename", "renameat", "renameat2", "chmod", "fchmodat", "chown"})
_NET = frozenset({"connect", "accept", "accept4", "listen", "bind", "sendto", "recvfrom"})
_TECHNIQUE = re.compile(r"T\d{4}(?:\.\d{3})?", re.A)


def _int(fields: dict[str, Any], key: str) -> int:
    value = fields.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        digits = value[1:] if value[:1] == "-" else value
        if digits.isascii() and digits.isdigit() and len(digits) < 20:
            return int(value)
    raise InvalidInput(
        f"{key} is not an integer: {str(value)[:40]!r}", field=f"output_fields.{key}"
    )


_SCALARS = frozenset({str, int, float, bool})


class FalcoAlert:
    """Falco's JSON alerts."""

    name = "falco"

    def accepts(self, record: dict[str, Any]) -> bool:
        """``rule``, ``priority`` and ``output`` keys, as Falco writes every alert."""
        return "output" in record and "rule" in record and "priority" in record

    def normalise(self, record: dict[str, Any]) -> Event:
        """ECS fields of one alert."""
        rule, priority, output = record.get("rule"), record.get("priority"), record.get("output")
        if not isinstance(rule, str) or not rule:
            raise InvalidInput("rule must be non-empty text", field="rule")
        if not isinstance(priority, str):
            raise InvalidInput("priority must be text", field="priority")
        severity = SEVERITY.get(priority.lower())
        if severity is None:
            raise InvalidInput(f"unknown priority {priority[:30]!r}", field="priority")
        if not isinstance(output, str):
            raise InvalidInput("output must be text", field="output")
        stamp = record.get("time")
        if not isinstance(stamp, str) or not stamp:
            raise InvalidInput("time must be RFC 3339 text", field="time")
        if len(stamp) > 27 and stamp[19:20] == "." and stamp[-1] == "Z":
            stamp = stamp[:26] + "Z"  # nanoseconds: the lake keeps microseconds
        try:
            stamp = iso_utc(stamp)
        except InvalidInput as exc:
            raise InvalidInput(exc.message, field="time") from None
        out: Event = {
            "@timestamp": stamp,
            "event.kind": "alert",
            "event.dataset": "falco.alerts",
            "rule.name": rule,
            "event.severity": severity,
            "log.level": priority.lower(),
            "falco.priority": priority,
            "message": output,
        }
        for key, field in (("hostname", "host.name"), ("source", "falco.source")):
            value = record.get(key)
            if isinstance(value, str) and value:
                out[field] = value
        uuid = record.get("uuid")
        if isinstance(uuid, str):
            out["falco.uuid"] = uuid
        tags = record.get("tags")
        if tags is not None:
            if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
                raise InvalidInput("tags must be a list of text", field="tags")
            out["tags"] = list(tags)
            techniques = [t for t in tags if _TECHNIQUE.fullmatch(t)]
            if techniques:
                out["threat.technique.id"] = techniques
        fields = record.get("output_fields")
        if fields is not None:
            if not isinstance(fields, dict):
                raise InvalidInput("output_fields must be an object", field="output_fields")
            _map(out, fields)
        return out


def _map(out: Event, fields: dict[str, Any]) -> None:
    # One pass: each field kept as sent under falco.output_fields.* (scalars as they are,
    # lists as text, null and objects dropped) and mapped to ECS when it has a meaning there.
    for key, value in fields.items():
        kind = value.__class__
        if kind in _SCALARS:
            out["falco.output_fields." + key] = value
            field = _TEXT_MAP.get(key)
            if field is not None:
                if (kind is str and value) or kind is int:
                    out[field] = value if kind is str else str(value)
            elif key in _INT_MAP:
                out[_INT_MAP[key]] = _int(fields, key)
        elif kind is list:
            out["falco.output_fields." + key] = [
                v if isinstance(v, str) else str(v) for v in value if v is not None
            ]
    if out.get("user.audit.id") == "-1":  # loginuid -1: the process never logged in
        del out["user.audit.id"]
    container = fields.get("container.id")
    # Falco names the host itself "host": only a real container id is one.
    if isinstance(container, str) and container and container != "host":
        out["container.id"] = container
    evt_type = fields.get("evt.type")
    if isinstance(evt_type, str):
        out["event.action"] = evt_type
    fd_name = fields.get("fd.name")
    fd_type = fields.get("fd.type")
    is_file = fd_type in ("file", "directory") or (
        fd_type is None and isinstance(fd_name, str) and fd_name.startswith("/")
    )
    if isinstance(fd_name, str) and fd_name and is_file:
        out["file.path"] = fd_name
        out["file.name"] = fd_name.rstrip("/").rsplit("/", 1)[-1]
    for key, field in (("fd.cip", "source.ip"), ("fd.sip", "destination.ip")):
        value = fields.get(key)
        if isinstance(value, str) and value:
            out[field] = value
    _categorise(out, evt_type if isinstance(evt_type, str) else "", is_file)


def _categorise(out: Event, evt_type: str, is_file: bool) -> None:
    if evt_type in _EXEC:
        out["event.category"] = ["process"]
        out["event.type"] = ["start"]
    elif evt_type in _NET:
        out["event.category"] = ["network"]
        out["event.type"] = ["connection"]
    elif is_file and evt_type in _DELETE:
        out["event.category"] = ["file"]
        out["event.type"] = ["deletion"]
    elif is_file and evt_type in _RENAME:
        out["event.category"] = ["file"]
        out["event.type"] = ["change"]
    elif is_file and evt_type in _FILE_WRITE:
        out["event.category"] = ["file"]
        out["event.type"] = ["access"]


JSON_SOURCES: tuple[FalcoAlert, ...] = (FalcoAlert(),)

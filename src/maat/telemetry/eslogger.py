"""macOS EndpointSecurity events as Apple's ``eslogger`` writes them (JSON lines).

``eslogger exec fork exit create write rename unlink`` prints one object per event, modelled
on ``es_message_t``: ``{"time": "<RFC 3339, ns>", "event_type": 9, "mach_time": ...,
"global_seq_num": ..., "process": <es_process_t>, "event": {"exec": {...}}}``. Apple says
the shape may change between releases, so only what every release has written is read:
``process`` (the process that did it: ``audit_token.pid``, ``ppid``, ``executable.path``,
``signing_id``, ``team_id``) and the event's own object, named by its one key.

A process start (``exec``) is the new image in ``target``; the image that ran the exec is the
parent's, since macOS starts programs by fork then exec or by ``posix_spawn``, so it is read
as ``process.parent.executable``, which SigmaHQ's macOS rules name ``ParentImage``. A shell's
own ``exec`` replaces itself: its "parent" is then the shell it was.
"""

from __future__ import annotations

from typing import Any

from maat.errors import InvalidInput
from maat.telemetry.model import Event, iso_utc

__all__ = ["JSON_SOURCES", "EsloggerEvent"]

# event -> (ECS category, ECS type).
_KINDS = {
    "exec": ("process", "start"),
    "fork": ("process", "info"),
    "exit": ("process", "end"),
    "create": ("file", "creation"),
    "write": ("file", "change"),
    "rename": ("file", "change"),
    "unlink": ("file", "deletion"),
    "open": ("file", "access"),
    "close": ("file", "access"),
}


def _object(node: object, field: str) -> dict[str, Any]:
    if not isinstance(node, dict):
        raise InvalidInput(f"{field} must be an object", field=field)
    return node


def _path(node: object) -> str | None:
    """``node.path`` of an ``es_file_t`` (None when absent or not text)."""
    if isinstance(node, dict):
        path = node.get("path")
        if isinstance(path, str) and path:
            return path
    return None


def _pid(process: dict[str, Any], key: str = "audit_token") -> int | None:
    token = process.get(key)
    pid = token.get("pid") if isinstance(token, dict) else None
    return pid if type(pid) is int and pid >= 0 else None


def _base_name(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]


def _process(out: Event, process: dict[str, Any], prefix: str, *, pid: bool = True) -> None:
    """An ``es_process_t`` as ECS ``<prefix>.*`` (pid, executable, code signature)."""
    number = _pid(process) if pid else None
    if number is not None:
        out[f"{prefix}.pid"] = number
    executable = _path(process.get("executable"))
    if executable is not None:
        out[f"{prefix}.executable"] = executable
        out[f"{prefix}.name"] = _base_name(executable)
    for key, field in (("signing_id", "signing_id"), ("team_id", "team_id")):
        value = process.get(key)
        if isinstance(value, str) and value:
            out[f"{prefix}.code_signature.{field}"] = value


def _user(out: Event, process: dict[str, Any]) -> None:
    token = process.get("audit_token")
    euid = token.get("euid") if isinstance(token, dict) else None
    if type(euid) is int and euid >= 0:
        out["user.id"] = str(euid)
        if euid == 0:
            out["user.name"] = "root"  # uid 0 is root on every Mac; others need a lookup


def _exec(out: Event, body: dict[str, Any], instigator: dict[str, Any]) -> None:
    target = _object(body.get("target"), "event.exec.target")
    # The process that ran the exec holds the parent's image (fork then exec, posix_spawn);
    # its pid is the new program's own, so the parent's pid is the target's parent token.
    _process(out, instigator, "process.parent", pid=False)
    parent_pid = _pid(target, "parent_audit_token")
    ppid = target.get("ppid")
    if parent_pid is None and type(ppid) is int and ppid >= 0:
        parent_pid = ppid
    if parent_pid is not None:
        out["process.parent.pid"] = parent_pid
    _process(out, target, "process")
    _user(out, target)
    args = body.get("args")
    if isinstance(args, list):  # as many as sent: the line's size bounds them
        texts = [a for a in args if isinstance(a, str)]
        out["process.args"] = texts
        out["process.command_line"] = " ".join(texts)
    cwd = _path(body.get("cwd"))
    if cwd is not None:
        out["process.working_directory"] = cwd


def _destination(body: dict[str, Any]) -> str | None:
    """Where ``create`` and ``rename`` put a file: an existing file's path, or a new path
    (its directory and file name)."""
    destination = body.get("destination")
    if not isinstance(destination, dict):
        return None
    existing = _path(destination.get("existing_file"))
    if existing is not None:
        return existing
    new_path = destination.get("new_path")
    if isinstance(new_path, dict):
        directory = _path(new_path.get("dir"))
        name = new_path.get("filename")
        if directory is not None and isinstance(name, str) and name:
            return directory.rstrip("/") + "/" + name
    return None


def _file(out: Event, kind: str, body: dict[str, Any]) -> None:
    if kind == "create":
        path = _destination(body)
    elif kind == "rename":
        path = _destination(body)  # the new name: what a rule on TargetFilename is about
    elif kind in ("write", "unlink", "open", "close"):
        path = _path(body.get("target"))
    else:
        path = None
    if path is not None:
        out["file.path"] = path
        out["file.name"] = _base_name(path)


class EsloggerEvent:
    """One ``eslogger`` JSON line."""

    name = "eslogger"

    def accepts(self, record: dict[str, Any]) -> bool:
        """``event``, ``process``, ``event_type`` and ``mach_time`` side by side."""
        return (
            "mach_time" in record
            and "event_type" in record
            and isinstance(record.get("event"), dict)
            and "process" in record
        )

    def normalise(self, record: dict[str, Any]) -> Event:
        """ECS fields of one EndpointSecurity event."""
        event = _object(record.get("event"), "event")
        if len(event) != 1:
            raise InvalidInput("event must hold exactly one event object", field="event")
        ((kind, body),) = event.items()
        body = _object(body, f"event.{kind}")
        instigator = _object(record.get("process"), "process")
        out: Event = {"event.dataset": "macos.endpointsecurity", "event.action": kind,
                      "host.os.type": "macos"}  # fmt: skip
        stamp = record.get("time")
        if stamp is not None:
            out["@timestamp"] = iso_utc(stamp)
        category, action = _KINDS.get(kind, ("", "info"))
        if category:
            out["event.category"] = [category]
        out["event.type"] = [action]
        if kind == "exec":
            _exec(out, body, instigator)
            return out
        _process(out, instigator, "process")
        ppid = instigator.get("ppid")
        if type(ppid) is int and ppid >= 0:
            out["process.parent.pid"] = ppid
        _user(out, instigator)
        if category == "file":
            _file(out, kind, body)
        elif kind == "fork":
            child = body.get("child")
            if isinstance(child, dict) and _pid(child) is not None:
                out["process.child.pid"] = _pid(child)
        return out


JSON_SOURCES: tuple[EsloggerEvent, ...] = (EsloggerEvent(),)

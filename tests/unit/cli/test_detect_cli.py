"""`maat detect PATH... --rules PATH... --format jsonl` and `maat rules lint|list|test`:
no server, no state; one alert per line with the rule and where the event was read."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from maat.cli.main import run
from telemetry_kit import SIGMA_REGRESSION, needs

RULE = """
title: Word side-loading wwlib.dll from a user folder
id: 0e4a5e4e-9b7f-4a51-8d43-3e2a7c1d0b01
status: test
level: high
tags: [attack.t1574.002, attack.defense-evasion]
logsource: {product: windows, category: image_load}
detection:
    sel:
        Image|endswith: '\\winword.exe'
        ImageLoaded|endswith: '\\wwlib.dll'
    filter:
        ImageLoaded|startswith: 'C:\\Program Files'
    condition: sel and not filter
"""


def image_load(image: str, loaded: str, record: int) -> bytes:
    return orjson.dumps({
        "@timestamp": "2026-11-25T10:00:00.000Z", "EventID": 7, "RecordNumber": record,
        "Channel": "Microsoft-Windows-Sysmon/Operational", "SourceName": "Microsoft-Windows-Sysmon",
        "Hostname": "ENG-WS7", "Image": image, "ImageLoaded": loaded,
    })  # fmt: skip


@pytest.fixture
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(__import__("os").environ):
        if name.startswith("MAAT_") and not name.startswith("MAAT_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("MAAT_DATA_DIR", str(tmp_path / "never-created"))
    return tmp_path


@pytest.fixture
def with_rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An initialised data directory whose server runs the wwlib side-loading rule."""
    for name in list(__import__("os").environ):
        if name.startswith("MAAT_") and not name.startswith("MAAT_TEST_"):
            monkeypatch.delenv(name)
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "wwlib.yml").write_text(RULE)
    monkeypatch.setenv("MAAT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MAAT_DETECT_RULES", str(rules))
    assert run(["init"]) == 0
    return tmp_path


def test_detect_prints_one_alert_per_hit_with_rule_and_source_line(
    clean_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (clean_env / "rules").mkdir()
    (clean_env / "rules" / "wwlib.yml").write_text(RULE)
    events = clean_env / "events.json"
    events.write_bytes(b"\n".join([
        image_load("C:\\Program Files\\Office\\WINWORD.EXE", "C:\\Program Files\\Office\\wwlib.dll", 1),
        b"{broken",
        image_load("C:\\Users\\eng\\Downloads\\winword.exe", "C:\\Users\\eng\\Downloads\\wwlib.dll", 3),
    ]))  # fmt: skip
    code = run(["detect", str(events), "--rules", str(clean_env / "rules"), "--format", "jsonl"])
    captured = capsys.readouterr()
    assert code == 0
    [line] = captured.out.splitlines()
    alert = json.loads(line)
    assert alert["rule.id"] == "0e4a5e4e-9b7f-4a51-8d43-3e2a7c1d0b01"
    assert alert["rule.title"].startswith("Word side-loading")
    assert alert["rule.level"] == "high" and alert["rule.techniques"] == ["T1574.002"]
    assert alert["source.path"] == str(events) and alert["source.line"] == 3
    assert alert["host.name"] == "ENG-WS7"
    assert f"{events}:2:" in captured.err  # the broken line is reported, the rest kept
    assert not (clean_env / "never-created").exists()  # no state


def test_rules_lint_lists_every_broken_rule_and_exits_1(
    clean_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = clean_env / "rules"
    folder.mkdir()
    (folder / "good.yml").write_text(RULE)
    (folder / "bad.yml").write_text("title: [unclosed\n")
    (folder / "regex.yml").write_text(RULE.replace("endswith: '\\wwlib.dll'", "re: '(?<=x)y'"))
    assert run(["rules", "lint", str(folder), "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["rules"] == 1
    assert sorted(Path(p["path"]).name for p in report["problems"]) == ["bad.yml", "regex.yml"]
    (folder / "bad.yml").unlink()
    (folder / "regex.yml").unlink()
    assert run(["rules", "lint", str(folder)]) == 0
    assert run(["rules", "list", str(folder), "--format", "json"]) == 0


@needs(SIGMA_REGRESSION)
def test_rules_test_runs_sigmahq_regression_cases(
    clean_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case = next(SIGMA_REGRESSION.rglob("info.yml")).parent
    rule_name = case.name + ".yml"
    rules = SIGMA_REGRESSION.parent
    [rule] = [p for p in rules.rglob(rule_name) if "regression_data" not in p.parts]
    assert run(["rules", "test", str(rule), "--cases", str(case)]) == 0
    assert "2 of 2 case file(s) fire their rule" in capsys.readouterr().out
    other = clean_env / "other.yml"
    other.write_text(rule.read_text().replace("condition:", "condition: not", 1))
    # The same id with the condition negated: the cases no longer fire it.
    assert run(["rules", "test", str(other), "--cases", str(case)]) == 1


def test_detect_reports_a_correlation_with_its_group_and_events(
    clean_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = clean_env / "rules"
    rules.mkdir()
    (rules / "wwlib.yml").write_text(RULE + "name: wwlib_sideload\n")
    (rules / "burst.yml").write_text(
        "title: Side-loading on several machines\nid: 7e0f0a52-3c1e-4a5b-9d2f-6b8e1c4d7a90\n"
        "level: critical\ncorrelation:\n    type: value_count\n    rules: [wwlib_sideload]\n"
        "    group-by: [EventID]\n    timespan: 1h\n    condition: {gte: 2, field: Computer}\n"
    )
    events = clean_env / "events.json"
    loaded = "C:\\Users\\eng\\Downloads\\wwlib.dll"
    lines = []
    for n, host in enumerate(("ENG-WS7", "ENG-WS8")):
        record = orjson.loads(image_load("C:\\Users\\eng\\winword.exe", loaded, n))
        record["Hostname"] = host
        lines.append(orjson.dumps(record))
    events.write_bytes(b"\n".join(lines))
    assert run(["detect", str(events), "--rules", str(rules), "--format", "jsonl"]) == 0
    [alert] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert alert["rule.route"] == "correlation" and alert["rule.level"] == "critical"
    assert alert["correlation.value"] == 2 and len(alert["correlation.events"]) == 2
    assert alert["correlation.group"] == {"EventID": "7"} and alert["source.line"] == 2


def test_ingest_with_detect_settings_records_alerts_listed_by_the_cli(
    with_rules: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tmp_path = with_rules
    events = tmp_path / "events.json"
    user_folder = "C:\\Users\\eng\\Downloads\\"
    events.write_bytes(b"\n".join(
        image_load(user_folder + "winword.exe", user_folder + "wwlib.dll", n) for n in range(3)
    ))  # fmt: skip
    assert run(["ingest", str(events), "--format", "json"]) == 0
    capsys.readouterr()
    assert run(["alerts", "list", "--format", "json"]) == 0
    [alert] = json.loads(capsys.readouterr().out)
    assert alert["rule_id"] == "0e4a5e4e-9b7f-4a51-8d43-3e2a7c1d0b01"
    assert alert["count"] == 3 and alert["entities"]["hosts"] == ["ENG-WS7"]
    assert run(["alerts", "list", "--host", "OTHER", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_a_crafted_host_name_cannot_drive_the_terminal_or_forge_alert_rows(
    with_rules: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tmp_path = with_rules
    record = orjson.loads(image_load("C:\\Users\\eng\\Downloads\\winword.exe",
                                     "C:\\Users\\eng\\Downloads\\wwlib.dll", 1))  # fmt: skip
    # Clears the screen, retitles the terminal, then prints a fake "all clear" row.
    record["Hostname"] = "WS1\x1b[2J\x1b]0;owned\x07\n2026-11-25 10:00:00  critical  x1  DC01  ok"
    events = tmp_path / "events.json"
    events.write_bytes(orjson.dumps(record))
    assert run(["ingest", str(events), "--format", "json"]) == 0
    capsys.readouterr()
    assert run(["alerts", "list"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and len(out.splitlines()) == 1, repr(out)

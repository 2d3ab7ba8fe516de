"""`maat ingest PATH... --format json`: the stable interface, answered once events are in
the lake; bad lines are reported by file and line, the rest kept."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import orjson
import pytest

from maat.cli.main import run
from telemetry_kit import EVTX_SAMPLES, MORDOR, needs


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(__import__("os").environ):
        if name.startswith("MAAT_") and not name.startswith("MAAT_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("MAAT_DATA_DIR", str(tmp_path / "data"))
    assert run(["init"]) == 0
    return tmp_path


def ingest(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, object]]:
    capsys.readouterr()
    code = run(["ingest", *args, "--format", "json"])
    out = capsys.readouterr().out
    return code, json.loads(out)


def sysmon(n: int) -> bytes:
    return orjson.dumps({
        "@timestamp": "2026-11-25T10:00:00.000Z", "EventID": 1,
        "Channel": "Microsoft-Windows-Sysmon/Operational", "SourceName": "Microsoft-Windows-Sysmon",
        "Hostname": "WS1", "Image": "C:\\Windows\\System32\\cmd.exe", "ProcessId": str(n),
    })  # fmt: skip


def test_json_report_names_the_bad_line_and_keeps_the_rest(
    installed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = installed / "in"
    folder.mkdir()
    (folder / "a.json").write_bytes(b"\n".join([sysmon(1), b"{oops", sysmon(3)]))
    (folder / "b.json.gz").write_bytes(gzip.compress(b"\n".join(sysmon(n) for n in range(10, 20))))
    code, report = ingest(capsys, str(folder))
    assert code == 1  # a record was rejected
    assert report["accepted"] == 12 and report["rejected"] == 1
    assert report["errors"] == [
        {"path": str(folder / "a.json"), "line": 2, "reason": report["errors"][0]["reason"]}  # type: ignore[index]
    ]
    capsys.readouterr()
    assert run(["lake", "query", "SELECT count(*) AS n FROM events", "--format", "json"]) == 0
    assert "12" in capsys.readouterr().out


def test_replaying_the_same_file_stores_nothing_twice(
    installed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = installed / "a.json"
    path.write_bytes(b"\n".join(sysmon(n) for n in range(5)))
    assert ingest(capsys, str(path)) == (0, {"accepted": 5, "rejected": 0, "duplicates": 0,
                                              "errors": [], "errors_not_listed": 0,
                                              "skipped": []})  # fmt: skip
    code, report = ingest(capsys, str(path))
    assert code == 0 and report["duplicates"] == 5


def test_missing_path_is_an_error_naming_it(
    installed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["ingest", str(installed / "nope.json")]) == 1
    assert "nope.json" in capsys.readouterr().err


@needs(MORDOR)
def test_mordor_datasets_ingest_with_zero_errors_and_the_pcaps_skipped(
    installed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = ingest(capsys, str(MORDOR))
    assert (code, report["rejected"], report["errors"]) == (0, 0, [])
    skipped = report["skipped"]
    assert isinstance(skipped, list) and len(skipped) == 2  # the Log4Shell packet captures
    assert all("pcap" in s["reason"] for s in skipped)
    # Every JSON line is an event, plus the 2 audit events of the raw auditd log. Lines that
    # repeat byte for byte inside a dataset (Mordor has 395) are one event delivered twice:
    # acknowledged, counted as duplicates, stored once.
    lines = [
        line.rstrip(b"\r")
        for path in MORDOR.rglob("*.json")
        for line in path.read_bytes().split(b"\n")
        if line.strip()
    ]
    assert report["accepted"] == len(lines) + 2
    assert report["duplicates"] == len(lines) - len(set(lines))
    capsys.readouterr()
    assert run(["lake", "query", "SELECT count(*) AS n FROM events", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert rows == [[len(set(lines)) + 2]]


@needs(EVTX_SAMPLES)
def test_evtx_files_are_decoded(installed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = sorted(EVTX_SAMPLES.rglob("*.evtx"))[:3]
    code, report = ingest(capsys, *map(str, files))
    assert (code, report["rejected"]) == (0, 0)
    assert isinstance(report["accepted"], int) and report["accepted"] > 0


def test_a_truncated_gzip_in_a_folder_costs_that_file_only(
    installed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A log a rotator is still compressing once ended `maat ingest` with no report, though
    the other files' events were stored: it is now one rejection naming the file."""
    folder = installed / "in"
    folder.mkdir()
    (folder / "a.json").write_bytes(b"\n".join(sysmon(n) for n in range(3)))
    (folder / "b.log.gz").write_bytes(gzip.compress(b"hello world\n" * 1000)[:-30])
    code, report = ingest(capsys, str(folder))
    assert code == 1 and report["accepted"] == 3 and report["rejected"] == 1
    errors = report["errors"]
    assert isinstance(errors, list) and errors[0]["path"] == str(folder / "b.log.gz")
    assert errors[0]["line"] == 0 and "gzip" in errors[0]["reason"]


def test_a_deeply_nested_file_is_a_located_error(
    installed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = installed / "nested.json"
    events.write_bytes(b'{"a": 1,\n "b": ' + b"[" * 100_000 + b"\n" + sysmon(1))
    code, report = ingest(capsys, str(events))
    assert code == 1 and report["accepted"] == 1 and report["rejected"] == 2


def test_an_unknown_source_is_refused_before_any_file_is_read(
    installed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (installed / "a.json").write_bytes(sysmon(1))
    assert run(["ingest", str(installed / "a.json"), "--source", "nosuch"]) == 1
    assert "no parser is named 'nosuch'" in capsys.readouterr().err

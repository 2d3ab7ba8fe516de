"""``maat lake``: verify names tampering (exit 1), query is read-only, holds and retention
are audited."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
import typer
from typer.testing import CliRunner

from maat.adapters.lake.parquet import ParquetLake, lake_key
from maat.cli import lake_cmd
from maat.cli.context import CliState
from maat.cli.main import run
from maat.config import Settings
from maat.errors import IntegrityError, InvalidInput, NotFound
from maat.services.audit import list_audit
from maat.services.platform import Platform, read_master_secret


def _app() -> typer.Typer:
    """``maat`` with only ``lake`` mounted, as main.py mounts it."""
    root = typer.Typer()

    @root.callback()
    def main(ctx: typer.Context) -> None:
        ctx.obj = CliState()

    root.add_typer(lake_cmd.app, name="lake")
    return root


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """An initialised Maat installation in a temporary data directory."""
    for name in list(os.environ):
        if name.startswith("MAAT_") and not name.startswith("MAAT_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("MAAT_DATA_DIR", str(tmp_path / "data"))
    assert run(["init"]) == 0
    return Settings.load()


def _lake(settings: Settings, *, stored_days_ago: int = 0) -> ParquetLake:
    """The CLI's lake, its clock ``stored_days_ago`` days back (when the batches are stored)."""
    secret = read_master_secret(settings.effective_secret_key_file, create=False)
    then = datetime.now(UTC) - timedelta(days=stored_days_ago)
    return ParquetLake(settings.lake_path, key=lake_key(secret), batch_rows=1000, now=lambda: then)


def _events(count: int, day: str) -> list[dict[str, Any]]:
    return [
        {
            "@timestamp": f"{day}T10:00:{i % 60:02d}.000Z",
            "event.id": f"{day}{i:022x}",
            "event.module": "windows",
            "event.code": "1",
            "host.name": f"WKS-{i % 3}",
            "process.executable": "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
            "event.original": f"record {i}",
        }
        for i in range(count)
    ]


def _invoke(*args: str) -> Any:
    return CliRunner().invoke(_app(), ["lake", *args])


def _day(days_ago: int) -> str:
    return (datetime.now(UTC) - timedelta(days=days_ago)).date().isoformat()


def test_lake_verify_prints_the_anchor_then_names_a_changed_file(settings: Settings) -> None:
    with _lake(settings) as lake:
        lake.write_batch(_events(6, "2024-03-01"))
    result = _invoke("verify")
    assert result.exit_code == 0, result.output
    assert "1 files, 6 rows verified" in result.output
    anchor = result.output.split("--anchor): ")[1].split()[0]
    assert anchor.startswith("1:")

    target = next(settings.lake_path.rglob("*.parquet"))
    target.write_bytes(target.read_bytes()[:-10] + b"0123456789")
    result = _invoke("verify", "--anchor", anchor)
    assert result.exit_code == 1
    assert isinstance(result.exception, IntegrityError)
    relative = target.relative_to(settings.lake_path).as_posix()
    assert f"changed: {relative}" in result.output


def test_lake_verify_json_lists_findings_and_catches_a_cut_tail(settings: Settings) -> None:
    with _lake(settings) as lake:
        lake.write_batch(_events(2, "2024-03-01"))
        lake.write_batch(_events(2, "2024-03-02"))
    report = orjson.loads(_invoke("verify", "--format", "json").output)
    assert report["ok"] and report["files"] == 2 and report["findings"] == []
    manifest = settings.lake_path / "manifest.jsonl"
    manifest.write_bytes(manifest.read_bytes().splitlines(keepends=True)[0])
    result = _invoke("verify", "--format", "json", "--anchor", report["anchor"])
    assert result.exit_code == 1
    findings = orjson.loads(result.output.splitlines()[0])["findings"]
    assert {f["kind"] for f in findings} == {"truncated", "inserted"}


def test_lake_query_answers_read_only_sql_and_refuses_the_rest(settings: Settings) -> None:
    with _lake(settings) as lake:
        lake.write_batch(_events(9, "2024-03-01"))
    result = _invoke(
        "query",
        "SELECT host_name, count(*) AS n FROM events "
        "WHERE process_executable ILIKE '%powershell%' GROUP BY 1 ORDER BY 1",
        "--format",
        "json",
    )
    assert result.exit_code == 0, result.output
    body = orjson.loads(result.output)
    assert body == {
        "columns": ["host_name", "n"],
        "rows": [["WKS-0", 3], ["WKS-1", 3], ["WKS-2", 3]],
        "truncated": False,
    }
    table = _invoke("query", "SELECT event_id, timestamp FROM events", "--limit", "2")
    assert table.exit_code == 0 and "first 2 rows shown" in table.output
    refused = _invoke("query", "COPY (SELECT * FROM events) TO '/tmp/maat-lake-stolen.csv'")
    assert isinstance(refused.exception, InvalidInput)
    assert not Path("/tmp/maat-lake-stolen.csv").exists()  # noqa: S108
    assert isinstance(_invoke("query", "SELECT 1", "--format", "xml").exception, InvalidInput)


def test_holds_and_retention_are_audited_and_held_data_survives(settings: Settings) -> None:
    old, older = _day(400), _day(500)
    with _lake(settings, stored_days_ago=400) as lake:
        lake.write_batch(_events(3, old))
        lake.write_batch(_events(3, older))
    with _lake(settings) as lake:
        lake.write_batch(_events(3, _day(1)))
    held = _invoke("hold", "--from", older, "--to", older, "--reason", "case 2024-17")
    assert held.exit_code == 0, held.output
    hold_id = held.output.strip().splitlines()[-1]
    assert hold_id.startswith("hold-")

    dry = _invoke("retain", "--dry-run")
    assert dry.exit_code == 0 and "would delete 1 files (3 rows) older than 180 days" in dry.output
    assert "kept 1 files: legal hold" in dry.output
    done = orjson.loads(_invoke("retain", "--force", "--format", "json").output)
    assert len(done["deleted"]) == 1 and old in done["deleted"][0]

    stats = orjson.loads(_invoke("stats", "--format", "json").output)
    assert stats["files"] == 2 and stats["retired_files"] == 1
    assert [h["id"] for h in stats["holds"]] == [hold_id]
    assert _invoke("release", hold_id, "--reason", "closed").exit_code == 0
    assert isinstance(_invoke("release", hold_id).exception, Exception)
    assert isinstance(_invoke("release", "hold-999").exception, NotFound)
    assert _invoke("verify").exit_code == 0

    platform = Platform.open(settings)
    try:
        actions = [r.entry.action for r in list_audit(platform, limit=100)]
    finally:
        platform.close()
    assert [a for a in actions if a.startswith("lake.")] == [
        "lake.hold",
        "lake.retain",
        "lake.release",
    ]


def test_lake_stats_and_a_bad_anchor(settings: Settings) -> None:
    result = _invoke("stats")
    assert result.exit_code == 0 and "0 files, 0 rows" in result.output
    bad = _invoke("verify", "--anchor", "nonsense")
    assert isinstance(bad.exception, InvalidInput)


def test_verify_json_names_a_planted_file_whose_name_is_not_utf8(settings: Settings) -> None:
    with _lake(settings) as lake:
        lake.write_batch(_events(3, _day(1)))
    planted = os.fsencode(settings.lake_path) + b"/evil\xff.parquet"
    with open(planted, "wb") as fh:
        fh.write(b"not listed")
    result = _invoke("verify", "--format", "json")
    report = orjson.loads(result.output.splitlines()[0])
    assert [(f["kind"], f["where"]) for f in report["findings"]] == [
        ("inserted", "evil\\xff.parquet")
    ]

"""``maat scenario generate`` writes the world and its benign days, the same for a seed."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from maat.cli.main import app
from maat.errors import InvalidInput

runner = CliRunner()


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}  # fmt: skip


def test_generate_writes_world_segments_and_events_reproducibly(tmp_path: Path) -> None:
    for name in ("a", "b"):
        result = runner.invoke(app, ["scenario", "generate", str(tmp_path / name), "--seed", "3",
                                     "--days", "1"])  # fmt: skip
        assert result.exit_code == 0, result.output
    first, second = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert first == second
    assert {"world.json", "segments.yml", "events/zeek/conn.log",
            "events/windows/SRV-PROXY01.jsonl"} <= set(first)  # fmt: skip
    segments = runner.invoke(app, ["segments", "lint", str(tmp_path / "a" / "segments.yml")])
    assert segments.exit_code == 0, segments.output
    attacked = runner.invoke(app, ["scenario", "generate", str(tmp_path / "d"), "--days", "1",
                                   "--attack"])  # fmt: skip
    assert attacked.exit_code == 0, attacked.output
    assert (tmp_path / "d" / "events" / "attack" / "windows" / "CONTOSO-WEB01.jsonl").is_file()
    bad = runner.invoke(app, ["scenario", "generate", str(tmp_path / "c"), "--days", "0"])
    assert isinstance(bad.exception, InvalidInput) and "days must be 1 to 30" in str(bad.exception)

"""Acceptance: every Mordor dataset goes through the real pipeline with zero unexplained
errors, and the event counts match the source files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from maat.telemetry.pipeline import parse_bytes
from telemetry_kit import MORDOR, needs

pytestmark = needs(MORDOR)
FILES = sorted(p for p in MORDOR.rglob("*") if p.is_file()) if MORDOR.exists() else []


def parse(path: Path) -> tuple[int, list[tuple[int, str]], str | None]:
    out = parse_bytes(path.read_bytes(), path=str(path), received="2026-11-25T00:00:00Z",
                      max_event_bytes=1 << 20)  # fmt: skip
    return len(out.events), [(e.line, e.reason) for e in out.errors], out.skipped


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_mordor_dataset_ingests_with_matching_counts(path: Path) -> None:
    events, errors, skipped = parse(path)
    data = path.read_bytes()
    if path.suffix in (".pcap", ".pcapng"):
        # A packet capture is not an event log: skipped whole, with the reason.
        assert (events, errors) == (0, [])
        assert skipped is not None and "pcap" in skipped
        return
    assert errors == [] and skipped is None
    if path.suffix == ".log":  # raw auditd: one event per audit id
        ids = set(re.findall(rb"msg=audit\(([\d.]+:\d+)\)", data))
        assert events == len(ids)
    else:
        lines = [line for line in data.splitlines() if line.strip()]
        assert events == len(lines)


def test_the_whole_mordor_folder_yields_every_windows_event() -> None:
    total = sum(parse(p)[0] for p in FILES if p.suffix == ".json")
    assert total == sum(
        len([x for x in p.read_bytes().splitlines() if x.strip()])
        for p in FILES
        if p.suffix == ".json"
    )

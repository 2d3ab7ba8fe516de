"""The Earth Ammit chain acted out in the scenario's world is caught, step by step, by the
real SigmaHQ rules, the TIDRONE indicators and the maker's segmentation, while the benign
days beside it raise nothing at all. Steps whose control is not detection (B1: signing and
the execution policy; B9: baselines) are checked to raise nothing here, honestly."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime

import pytest

from maat.access.segments import flow_of, read_segmentation
from maat.scenario.attack import earth_ammit
from maat.scenario.benign import benign_days
from maat.scenario.world import build_world
from maat.services.detection import load_ioc_files, load_rule_files
from maat.telemetry.pipeline import parse_bytes
from telemetry_kit import SHARED

RULES = SHARED / "sigma" / "rules" / "windows"
TRAILS = SHARED / "iocs-maltrail-tidrone"
START = datetime(2024, 5, 6, tzinfo=UTC)


@pytest.fixture(scope="module")
def detectors() -> tuple[object, object]:
    if not RULES.is_dir() or not TRAILS.is_dir():
        pytest.skip(f"{RULES} or {TRAILS} is absent (see shared/data/SOURCES.md)")
    return load_rule_files([RULES])[1], load_ioc_files([TRAILS])


def _caught(files: dict[str, list[bytes]], detectors: tuple[object, object]) -> dict[str, set[str]]:
    """step -> titles of what fired (Sigma level high and above or medium, IOC, flows)."""
    engine, iocs = detectors
    world = build_world(7)
    segmentation, _ = read_segmentation(world.segmentation_yaml(), source="world")
    assert segmentation is not None
    out: dict[str, set[str]] = defaultdict(set)
    for path, lines in files.items():
        outcome = parse_bytes(b"\n".join(lines), path=path, received="2024-05-06T00:00:00Z",
                              max_event_bytes=65536)  # fmt: skip
        assert outcome.errors == []
        for event, line in zip(outcome.events, outcome.lines, strict=True):
            step = json.loads(lines[line - 1]).get("maat.scenario.step", "benign")
            for hit in engine.match(event):  # type: ignore[attr-defined]
                out[step].add(f"sigma/{hit.rule.level}: {hit.rule.title}")
            for ioc in iocs.match(event):  # type: ignore[attr-defined]
                out[step].add(f"ioc: {ioc.indicator.value}")
            flow = flow_of(event)
            if (
                flow is not None
                and not segmentation.check(
                    flow.source_ip, flow.target_ip, flow.proto, flow.port
                ).allowed
            ):
                out[step].add("segmentation: flow not allowed")
    return out


EXPECTED = {
    "0": "ioc: time.vmwaresync.com",
    "A1": "sigma/high: Suspicious Process By Web Server Process",
    "A2": "sigma/high: PUA - Fast Reverse Proxy (FRP) Execution",
    "A3": "sigma/high: Process Memory Dump Via Comsvcs.DLL",
    "B2": "sigma/medium: Potential WWlib.DLL Sideloading",
    "B3": "sigma/high: Shell Open Registry Keys Manipulation",
    "B4": "sigma/high: Powershell Defender Disable Scan Feature",
    "B5": "sigma/high: Process Memory Dump Via Comsvcs.DLL",
    "B6": "sigma/high: Suspicious Microsoft Office Child Process",
    "B7": "ioc: update.microsoftsvc.com",
    "B8": "segmentation: flow not allowed",
}


def test_each_step_of_the_chain_is_caught_by_its_control(
    detectors: tuple[object, object],
) -> None:
    attack = earth_ammit(build_world(7), start=START)
    caught = _caught(attack.files, detectors)
    for step, expected in EXPECTED.items():
        assert expected in caught[step], (step, sorted(caught[step]))
    assert "sigma/medium: PsExec Service Execution" in caught["B8"]
    assert "sigma/high: Security Eventlog Cleared" in caught["B4"]
    assert "ioc: 45.121.50.185" in caught["B7"]
    # Not detection's to catch: the unsigned DLL in the vendor's folder (signing and the
    # execution policy, B1) and the screenshot burst (baselines, B9).
    assert caught.get("B1", set()) == set() and caught.get("B9", set()) == set()
    assert sorted(attack.steps) == ["0", "A1", "A2", "A3", "B1", "B2", "B3", "B4", "B5", "B6",
                                    "B7", "B8", "B9"]  # fmt: skip


def test_benign_days_raise_nothing_with_every_windows_rule(
    detectors: tuple[object, object],
) -> None:
    days = benign_days(build_world(7), start=START, days=2)
    assert _caught(days.files, detectors) == {}


def test_the_chain_is_the_same_for_the_same_world() -> None:
    first = earth_ammit(build_world(7), start=START)
    assert earth_ammit(build_world(7), start=START).files == first.files
    assert earth_ammit(build_world(8), start=START).files != first.files  # another maker

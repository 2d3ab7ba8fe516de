"""The scenario's world and its benign days: reproducible, in formats the real parsers read
without an error, and quiet: no segmentation violation and no TIDRONE indicator in them."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest

from maat.access.segments import flow_of, read_segmentation
from maat.scenario.benign import benign_days
from maat.scenario.world import build_world
from maat.telemetry.pipeline import parse_bytes
from telemetry_kit import SHARED

START = datetime(2024, 5, 6, tzinfo=UTC)


@pytest.fixture(scope="module")
def days() -> dict[str, list[bytes]]:
    return benign_days(build_world(7), start=START, days=2).files


def test_the_same_seed_makes_the_same_bytes_and_another_seed_others(
    days: dict[str, list[bytes]],
) -> None:
    assert benign_days(build_world(7), start=START, days=2).files == days
    assert benign_days(build_world(8), start=START, days=2).files != days


def test_the_world_has_its_segments_people_and_suppliers() -> None:
    world = build_world(7)
    assert Counter(h.segment for h in world.hosts) == {"engineering": 16, "office": 8,
                                                        "servers": 4, "ot": 3}  # fmt: skip
    assert len({p.name for p in world.people}) == 24
    assert [s.name for s in world.suppliers] == ["Contoso ERP", "Fabrikam Remote",
                                                 "Tailwind Firmware"]  # fmt: skip
    assert sum("erp-admin" in p.groups for p in world.people) == 1


def test_every_generated_line_parses_with_the_real_parsers(days: dict[str, list[bytes]]) -> None:
    kinds: Counter[str] = Counter()
    for path, lines in days.items():
        outcome = parse_bytes(b"\n".join(lines), path=path, received="2024-05-06T00:00:00Z",
                              max_event_bytes=65536)  # fmt: skip
        assert outcome.errors == [], (path, outcome.errors[:3])
        assert len(outcome.events) == len(lines)
        kinds.update(str(e.get("event.code") or e.get("event.dataset")) for e in outcome.events)
    assert {"1", "3", "7", "22", "4624", "zeek.conn", "access_log.nginx"} <= set(kinds), kinds
    assert sum(kinds.values()) > 2_000


def test_benign_days_break_no_segmentation_rule(days: dict[str, list[bytes]]) -> None:
    world = build_world(7)
    segmentation, problems = read_segmentation(world.segmentation_yaml(), source="world")
    assert segmentation is not None, problems
    checked = 0
    for path, lines in days.items():
        outcome = parse_bytes(b"\n".join(lines), path=path, received="2024-05-06T00:00:00Z",
                              max_event_bytes=65536)  # fmt: skip
        for event in outcome.events:
            flow = flow_of(event)
            if flow is None:
                continue
            checked += 1
            verdict = segmentation.check(flow.source_ip, flow.target_ip, flow.proto, flow.port)
            assert verdict.allowed, (path, verdict.reason)
    assert checked > 1_000


def test_benign_days_hold_no_tidrone_indicator(days: dict[str, list[bytes]]) -> None:
    trails = SHARED / "iocs-maltrail-tidrone"
    if not trails.is_dir():
        pytest.skip(f"{trails} is absent (see shared/data/SOURCES.md)")
    from maat.services.detection import load_ioc_files

    index = load_ioc_files([trails])
    assert index.count > 0
    for path, lines in days.items():
        outcome = parse_bytes(b"\n".join(lines), path=path, received="2024-05-06T00:00:00Z",
                              max_event_bytes=65536)  # fmt: skip
        assert [hit for e in outcome.events for hit in index.match(e)] == [], path

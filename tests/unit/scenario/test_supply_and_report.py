"""The scenario's supply chain and decisions are reproducible and say what the chain needs
(the trojanised updater signed but undeclared), and the report never hides a miss."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from maat.access.policy import read_policy
from maat.sbom.api import parse_sbom
from maat.scenario.activity import activity
from maat.scenario.chain import CHAIN
from maat.scenario.supply import (
    access_policy_yaml,
    build_supply,
    cyclonedx,
    exec_policies_yaml,
    stix_bundle,
)
from maat.scenario.world import build_world
from maat.services.detection import load_ioc_files
from maat.services.scenario_report import build_report, report_json
from maat.services.scenario_run import Observation, ScenarioOptions, ScenarioRun
from maat.signing.policy import load_policy

START = datetime(2024, 5, 6, tzinfo=UTC)


def test_the_trojanised_updater_is_in_no_sbom_while_the_genuine_files_are() -> None:
    world = build_world(7)
    supply = build_supply(world)
    assert build_supply(build_world(7)) == supply
    release = supply.release("Contoso ERP Client", "4.2.1")
    sbom = parse_sbom(cyclonedx(release, at=START), source="erp.cdx.json")
    listed = {d.hex for c in sbom.components for d in c.hashes}
    assert {f.sha256 for f in release.files} <= listed
    assert supply.trojan.sha256 not in listed and supply.wwlib.sha256 not in listed
    assert supply.trojan.sha256 != release.file("ErpUpdater.exe").sha256


def test_policies_and_intel_load_as_maat_reads_them(tmp_path: object) -> None:
    world = build_world(7)
    assert [load_policy(t, source="p").mode for t in exec_policies_yaml(world)] == ["enforce"] * 2
    policy, problems = read_policy(access_policy_yaml(), source="access.yml")
    assert policy is not None and problems == []
    from pathlib import Path

    path = Path(str(tmp_path)) / "intel.stix.json"
    path.write_bytes(stix_bundle(at=START))
    index = load_ioc_files([path])
    assert not index.problems
    assert json.loads(path.read_text())["type"] == "bundle"


def test_activity_is_reproducible_and_tags_the_chain() -> None:
    world = build_world(7)
    supply = build_supply(world)
    first = activity(world, supply, start=START, days=3)
    assert first == activity(world, supply, start=START, days=3)
    steps = {e.step for e in first.executions} | {a.step for a in first.access}
    assert steps == {"benign", "B1", "B2", "A3", "after"}
    [b1] = [e for e in first.executions if e.step == "B1"]
    assert b1.sha256 == supply.trojan.sha256 and b1.group == "office"


def _run(observations: list[Observation]) -> ScenarioRun:
    run = ScenarioRun(ScenarioOptions(), build_world(7))
    run.observations.extend(observations)
    run.happened.update({s.id: START for s in CHAIN})
    return run


def test_a_step_no_control_acted_on_is_a_miss_with_the_reason() -> None:
    seen = [Observation("B7", START, "ioc", "alert high: IOC x"),
            Observation("B7", START, "ioc", "alert high: IOC x"),
            Observation("benign", START, "sigma", "alert high: noisy rule", "high")]  # fmt: skip
    document = report_json(build_report(_run(seen), elapsed=1.0))
    steps = {s["id"]: s for s in document["steps"]}
    assert steps["B7"]["caught"] and steps["B7"]["controls"] == ["ioc"]
    assert steps["B7"]["actions"] == ["alert high: IOC x (x2)"]
    assert steps["B7"]["misses"] == [
        "baseline: not built yet (behaviour baselines (first-seen binaries, per-process "
        "volumes, modules))"
    ]
    # Without Sigma rules, Sigma's steps are misses that say the control did not act.
    assert not steps["B3"]["caught"] and steps["B3"]["misses"][0].startswith("sigma: did not act")
    assert document["summary"]["missed"] == [s.id for s in CHAIN if s.id != "B7"]
    assert document["benign"]["high_alerts"] == 1

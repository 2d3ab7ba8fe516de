"""The Earth Ammit scenario end to end, through ``maat demo --format json`` as a user runs it:
the generated world and attack are played through a fresh single-node Maat's API, and each
row of shared/THREAT.md must be caught by the control meant for it, while the benign days
raise nothing. Controls this build does not have are reported as misses, and the test holds
the report to that too."""

from __future__ import annotations

import json
import re
import subprocess
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from maat.scenario.chain import CHAIN
from serve_kit import maat_command
from telemetry_kit import SHARED

RULES = SHARED / "sigma" / "rules" / "windows"
TRAILS = SHARED / "iocs-maltrail-tidrone"

# step -> the controls that must act on it (THREAT.md's "what catches it in Maat").
INTENDED = {
    "0": {"ioc"},
    "A1": {"sigma", "vendor-risk"},
    "A2": {"sigma"},
    "A3": {"sigma", "zero-trust"},
    "B1": {"signing"},
    "B2": {"sigma", "signing"},
    "B3": {"sigma"},
    "B4": {"sigma"},
    "B5": {"sigma"},
    "B6": {"sigma"},
    "B7": {"ioc"},
    "B8": {"segmentation"},
}


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    if not RULES.is_dir() or not TRAILS.is_dir():
        pytest.skip(f"{RULES} or {TRAILS} is absent (see shared/data/SOURCES.md)")
    out = tmp_path_factory.mktemp("demo") / "run"
    done = subprocess.run(
        [*maat_command(), "demo", "--format", "json", "--out", str(out),
         "--sigma-rules", str(RULES), "--trails", str(TRAILS)],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    document: dict[str, Any] = json.loads(done.stdout)
    assert (out / "report.html").read_text().count("<tr class=") == len(CHAIN)
    assert json.loads((out / "report.json").read_text())["steps"] == document["steps"]
    document["_out"] = out
    return document


def _step(report: dict[str, Any], step: str) -> dict[str, Any]:
    return next(s for s in report["steps"] if s["id"] == step)


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_the_report_has_one_entry_per_row_of_the_threat_table(report: dict[str, Any]) -> None:
    assert [s["id"] for s in report["steps"]] == [s.id for s in CHAIN]
    for entry, step in zip(report["steps"], CHAIN, strict=True):
        assert entry["technique"] == step.techniques[0]
        assert set(entry) >= {"id", "technique", "caught", "controls", "detected_at", "actions"}


@pytest.mark.parametrize("step", sorted(INTENDED))
def test_each_step_is_caught_by_its_intended_control_moments_after_it_happens(
    report: dict[str, Any], step: str
) -> None:
    entry = _step(report, step)
    assert entry["caught"], entry
    assert INTENDED[step] <= set(entry["controls"]), entry
    # Detection runs as the events arrive: within a minute of the step (simulated time).
    happened, detected = _when(entry["happened_at"]), _when(entry["detected_at"])
    assert happened <= detected <= happened + timedelta(minutes=1), entry
    assert entry["actions"]


def test_venom_at_the_supplier_records_its_breach_and_moves_its_support_to_step_up(
    report: dict[str, Any],
) -> None:
    a1 = _step(report, "A1")
    [breach] = [a for a in a1["actions"] if a.startswith("Vendor breach recorded: Contoso ERP")]
    assert "automatically" in breach and "step-up" in breach
    before, after = map(int, re.search(r"vendor score (\d+) -> (\d+)", breach).groups())  # type: ignore[union-attr]
    assert after < before
    a3 = _step(report, "A3")
    assert any(a.startswith("contoso.support read erp/tickets") and "step-up" in a
               for a in a3["actions"])  # fmt: skip


def test_the_trojanised_update_signed_by_the_supplier_is_blocked_for_not_being_in_its_sbom(
    report: dict[str, Any],
) -> None:
    actions = _step(report, "B1")["actions"]
    blocked = [
        a for a in actions if a.startswith("execution of ErpUpdater.exe on OFF-WS01 blocked")
    ]
    assert blocked and "not listed in any SBOM" in blocked[0]
    assert any(a.startswith("alert high: Contoso ERP-signed ErpUpdater.exe blocked") for a in actions)
    # Days later, after the chain: the revocation's retro-hunt and the contract's findings.
    after = report["after"]
    assert any("revoked (key compromise)" in a and "OFF-WS01" in a for a in after)
    assert any("(sbom_with_every_delivery)" in a and "ErpUpdater.exe" in a for a in after)
    assert any("(incident_notification_hours)" in a for a in after)
    b2 = _step(report, "B2")["actions"]
    assert any(a.startswith("execution of wwlib.dll on OFF-WS01 blocked") for a in b2)


def test_controls_not_built_are_reported_as_misses_not_hidden(report: dict[str, Any]) -> None:
    b9 = _step(report, "B9")
    assert not b9["caught"] and b9["controls"] == [] and b9["detected_at"] is None
    assert b9["misses"] and b9["misses"][0].startswith("baseline: not built yet")
    assert any(m.startswith("sensor-silence: not built yet") for m in _step(report, "B4")["misses"])
    assert report["summary"]["missed"] == ["B9"]


def test_benign_days_raise_no_alert_and_refuse_nothing(report: dict[str, Any]) -> None:
    benign = report["benign"]
    assert benign["events"] > 5000
    assert benign["high_alerts"] == 0 and benign["alerts"] == [] and benign["refusals"] == []
    assert report["scenario"]["decisions"]["access"] > 100


def test_the_victim_desk_loses_access_after_the_chain(report: dict[str, Any]) -> None:
    assert any("from OFF-WS01: refused" in a and "untrusted-devices-denied" in a
               for a in report["after"])  # fmt: skip


def test_the_scenario_is_written_in_the_formats_real_sources_use(report: dict[str, Any]) -> None:
    scenario: Path = report["_out"] / "scenario"
    stix = json.loads((scenario / "intel" / "earth-ammit.stix.json").read_text())
    assert stix["type"] == "bundle"
    sbom = json.loads((scenario / "sboms" / "contoso-erp-client-4.2.1.cdx.json").read_text())
    assert sbom["bomFormat"] == "CycloneDX"
    assert (scenario / "events" / "zeek" / "conn.log").stat().st_size > 0
    assert any((scenario / "events" / "attack" / "windows").iterdir())

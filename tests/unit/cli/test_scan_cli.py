"""`maat scan sbom|inventory`: the stable JSON interface, exit codes, SARIF and VEX output,
VEX suppression, and Maat scanning its own SBOM."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from maat.cli.main import run

SHARED = Path(__file__).resolve().parents[3].parent / "shared" / "data"
OSV = SHARED / "osv-pypa"
ROOT = Path(__file__).resolve().parents[3]

needs_osv = pytest.mark.skipif(not OSV.exists(), reason=f"shared test data absent: {OSV}")


def cdx(tmp_path: Path, *components: dict[str, str]) -> Path:
    path = tmp_path / "bom.cdx.json"
    path.write_text(
        json.dumps(
            {
                "bomFormat": "CycloneDX",
                "specVersion": "1.5",
                "version": 1,
                "components": list(components),
            }
        )
    )
    return path


def comp(ref: str, name: str, version: str, purl: str | None = None) -> dict[str, str]:
    c = {"type": "library", "bom-ref": ref, "name": name, "version": version}
    if purl is not None:
        c["purl"] = purl
    return c


def scan(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run(["scan", *args])
    out, err = capsys.readouterr()
    return code, out, err


@needs_osv
def test_json_interface_lists_findings_and_skipped_components(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bom = cdx(
        tmp_path,
        comp("a", "requests", "2.30.0", "pkg:pypi/requests@2.30.0"),
        comp("b", "requests", "2.31.0", "pkg:pypi/requests@2.31.0"),
        comp("c", "mystery", "1.0"),
    )
    code, out, _ = scan(capsys, "sbom", str(bom), "--advisories", str(OSV), "--format", "json")
    assert code == 0
    doc = json.loads(out)
    hits = {
        (f["component"]["name"], f["component"]["version"], f["advisory"]["id"])
        for f in doc["findings"]
    }
    assert ("requests", "2.30.0", "CVE-2023-32681") in hits
    assert not any(v == "2.31.0" and a == "CVE-2023-32681" for _, v, a in hits)
    finding = next(f for f in doc["findings"] if f["advisory"]["id"] == "CVE-2023-32681")
    assert set(finding["advisory"]["aliases"]) >= {"PYSEC-2023-74", "GHSA-j8r2-6x86-q33q"}
    assert finding["fixed_versions"] == ["2.31.0"]
    assert set(finding["component"]) >= {"purl", "name", "version"}
    assert "severity" in finding
    assert doc["skipped"] == [
        {
            "component": {
                "ref": "c",
                "purl": None,
                "name": "mystery",
                "version": "1.0",
                "ecosystem": None,
            },
            "reason": "no purl: the component's ecosystem is unknown",
        }
    ]


@needs_osv
def test_no_findings_still_exits_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bom = cdx(tmp_path, comp("a", "requests", "2.32.0", "pkg:pypi/requests@2.32.0"))
    code, out, _ = scan(capsys, "sbom", str(bom), "-a", str(OSV), "-f", "json")
    assert code == 0
    assert json.loads(out)["findings"] == []


def test_unusable_input_exits_one_with_location(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "not-an-sbom.json"
    bad.write_text('{"hello": "world"}')
    advisories = tmp_path / "osv"
    advisories.mkdir()
    code, _, err = scan(capsys, "sbom", str(bad), "-a", str(advisories), "-f", "json")
    assert code == 1
    assert "not-an-sbom.json" in err
    code, _, err = scan(capsys, "sbom", str(tmp_path / "missing.json"), "-a", str(advisories))
    assert code == 1
    assert "not found" in err


@needs_osv
def test_sarif_and_vex_outputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bom = cdx(tmp_path, comp("a", "requests", "2.30.0", "pkg:pypi/requests@2.30.0"))
    _, out, _ = scan(capsys, "sbom", str(bom), "-a", str(OSV), "-f", "sarif")
    sarif = json.loads(out)
    assert sarif["version"] == "2.1.0"
    assert {r["ruleId"] for r in sarif["runs"][0]["results"]} >= {"CVE-2023-32681"}
    _, out, _ = scan(capsys, "sbom", str(bom), "-a", str(OSV), "-f", "vex")
    vex = json.loads(out)
    assert vex["bomFormat"] == "CycloneDX"
    entry = next(v for v in vex["vulnerabilities"] if v["id"] == "CVE-2023-32681")
    assert entry["affects"] == [{"ref": "a"}]
    assert entry["analysis"]["state"] == "in_triage"


@needs_osv
def test_vendor_vex_not_affected_suppresses_the_finding(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bom = cdx(tmp_path, comp("a", "requests", "2.30.0", "pkg:pypi/requests@2.30.0"))
    statement = tmp_path / "vendor.vex.json"
    statement.write_text(
        json.dumps(
            {
                "@context": "https://openvex.dev/ns/v0.2.0",
                "@id": "https://example.com/vex/1",
                "author": "Acme",
                "timestamp": "2026-01-01T00:00:00Z",
                "version": 1,
                "statements": [
                    {
                        "vulnerability": {"name": "CVE-2023-32681"},
                        "products": [{"@id": "pkg:pypi/requests"}],
                        "status": "not_affected",
                        "justification": "vulnerable_code_not_in_execute_path",
                    }
                ],
            }
        )
    )
    _, out, _ = scan(
        capsys, "sbom", str(bom), "-a", str(OSV), "--vex", str(statement), "-f", "json"
    )
    doc = json.loads(out)
    assert "CVE-2023-32681" not in {f["advisory"]["id"] for f in doc["findings"]}
    assert [s["advisory"]["id"] for s in doc["suppressed"]] == ["CVE-2023-32681"]
    # The statement names the package without a version: it carries over to a later one.
    later = cdx(tmp_path, comp("a", "requests", "2.30.1", "pkg:pypi/requests@2.30.1"))
    _, out, _ = scan(
        capsys, "sbom", str(later), "-a", str(OSV), "--vex", str(statement), "-f", "json"
    )
    assert "CVE-2023-32681" not in {f["advisory"]["id"] for f in json.loads(out)["findings"]}


@needs_osv
def test_inventory_scan_of_a_pip_list(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    listing = tmp_path / "pip.json"
    listing.write_text(
        json.dumps(
            [{"name": "requests", "version": "2.30.0"}, {"name": "Jinja2", "version": "2.10"}]
        )
    )
    code, out, _ = scan(capsys, "inventory", str(listing), "-a", str(OSV), "-f", "json")
    assert code == 0
    names = {f["component"]["name"].lower() for f in json.loads(out)["findings"]}
    assert names == {"requests", "jinja2"}


def test_maat_sbom_matches_the_lock_and_its_own_scanner_reads_it() -> None:
    from maat.sbom import parse_sbom

    sys_path = ROOT / "tools"
    import importlib.util

    spec = importlib.util.spec_from_file_location("lock_to_sbom", sys_path / "lock_to_sbom.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    pins = {(n, v) for n, v, _ in module.read_lock((ROOT / "requirements/lock.txt").read_text())}
    sbom = parse_sbom((ROOT / "sbom/maat.cdx.json").read_bytes(), source="sbom/maat.cdx.json")
    assert {(c.name, c.version) for c in sbom.components} == pins, "run 'make sbom'"
    assert all(c.purl is not None and c.purl.ecosystem == "PyPI" for c in sbom.components)
    assert all(c.hashes for c in sbom.components)

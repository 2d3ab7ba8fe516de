"""Stored findings on SQLite and PostgreSQL: SLA deadlines at the right instant, fixes,
regressions, legacy hosts flagged for isolation, Ansible remediation, risk acceptance."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from maat.core.enums import FindingStatus
from maat.services import findings, vulns
from maat.services.platform import Platform
from maat_testkit import FakeClock
from vulns_kit import advisory, eco_range

CRITICAL = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
MEDIUM = "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:L/I:L/A:N"  # 5.4


@pytest.fixture
def osv_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "osv"
    folder.mkdir()
    docs = [
        advisory(
            "PYSEC-2099-1",
            "PyPI",
            "requests",
            ranges=[eco_range(("introduced", "0"), ("fixed", "2.31.0"))],
            aliases_=["CVE-2099-0001"],
            severity=CRITICAL,
        ),
        advisory(
            "PYSEC-2099-2",
            "PyPI",
            "jinja2",
            ranges=[eco_range(("introduced", "0"), ("fixed", "3.1.3"))],
            severity=MEDIUM,
        ),
        advisory(
            "DSA-9999-1",
            "Debian:9",
            "openssl",
            ranges=[eco_range(("introduced", "0"), ("fixed", "1.1.0l-1~deb9u9"))],
            severity=CRITICAL,
        ),
        advisory(
            "DSA-9999-2",
            "Debian:9",
            "bash",
            ranges=[eco_range(("introduced", "0"))],
            severity=MEDIUM,
        ),
    ]
    for doc in docs:
        (folder / f"{doc['id']}.json").write_text(json.dumps(doc))
    return folder


@pytest.fixture
def stocked(platform: Platform, osv_dir: Path) -> Platform:
    vulns.import_advisories(platform, "test", osv_dir)
    return platform


def sbom(*pins: tuple[str, str]) -> bytes:
    components = [
        {"type": "library", "bom-ref": n, "name": n, "version": v, "purl": f"pkg:pypi/{n}@{v}"}
        for n, v in pins
    ]
    return json.dumps(
        {"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1, "components": components}
    ).encode()


def test_critical_finding_is_overdue_at_exactly_72_hours(
    stocked: Platform, clock: FakeClock
) -> None:
    findings.import_sbom(
        stocked, "test", "erp", sbom(("requests", "2.30.0")), source="erp.json", vendor="Acme"
    )
    [view] = findings.list_findings(stocked)
    assert view.record.severity == "critical"
    assert view.record.due_at == clock.current + timedelta(hours=72)
    clock.advance(hours=72, microseconds=-1)
    assert findings.list_findings(stocked, overdue_only=True) == []
    clock.advance(microseconds=1)
    [overdue] = findings.list_findings(stocked, overdue_only=True)
    assert overdue.record.advisory_id == "CVE-2099-0001"
    assert overdue.overdue


def test_upgrade_fixes_and_downgrade_reopens(stocked: Platform, clock: FakeClock) -> None:
    first = findings.import_sbom(
        stocked, "test", "erp", sbom(("requests", "2.30.0"), ("jinja2", "3.1.2")), source="v1"
    )
    assert first.changes.opened == 2
    clock.advance(days=2)
    second = findings.import_sbom(
        stocked, "test", "erp", sbom(("requests", "2.31.0"), ("jinja2", "3.1.2")), source="v2"
    )
    assert (second.changes.fixed, second.changes.updated) == (1, 1)
    fixed = [
        v.record
        for v in findings.list_findings(stocked, include_closed=True)
        if v.record.status is FindingStatus.FIXED
    ]
    assert fixed[0].fixed_at == clock.current
    clock.advance(days=1)
    third = findings.import_sbom(
        stocked, "test", "erp", sbom(("requests", "2.29.0"), ("jinja2", "3.1.2")), source="v3"
    )
    assert third.changes.reopened == 1
    [ttf] = findings.vendor_time_to_fix(stocked)
    assert ttf.still_open == 2


def test_risk_acceptance_hides_overdue_until_it_expires(
    stocked: Platform, clock: FakeClock
) -> None:
    findings.import_sbom(stocked, "test", "erp", sbom(("requests", "2.30.0")), source="s")
    [view] = findings.list_findings(stocked)
    findings.accept_risk(
        stocked,
        "test",
        view.record.id,
        approver="ciso",
        reason="WAF rule",
        expires_at=clock.current + timedelta(days=5),
    )
    clock.advance(days=4)
    assert findings.list_findings(stocked, overdue_only=True) == []
    clock.advance(days=1)
    [again] = findings.list_findings(stocked, overdue_only=True)
    assert again.effective_status is FindingStatus.OPEN


DPKG = b"openssl\t1.1.0l-1~deb9u5\tamd64\topenssl\nlibssl1.1\t1.1.0l-1~deb9u5\tamd64\topenssl\nbash\t4.4-5\tamd64\tbash\n"
STRETCH = 'PRETTY_NAME="Debian GNU/Linux 9 (stretch)"\nNAME="Debian GNU/Linux"\nVERSION_ID="9"\nVERSION_CODENAME=stretch\nID=debian\n'


def test_legacy_host_is_flagged_for_isolation_and_gets_a_playbook(
    stocked: Platform, clock: FakeClock
) -> None:
    stored = findings.import_inventory(
        stocked,
        "test",
        "ot-hmi-01",
        DPKG,
        source="dpkg.txt",
        os_release_text=STRETCH,
        group="ot",
        criticality="critical",
        exposure="internal",
    )
    reasons = " | ".join(stored.isolation_reasons)
    assert "end of life" in reasons
    assert "no fix available for DSA-9999-2 in bash" in reasons
    advisories = sorted(f.match.advisory.id for f in stored.report.findings)
    assert advisories == ["DSA-9999-1", "DSA-9999-1", "DSA-9999-2"]  # openssl and libssl1.1
    upgrades, playbooks = findings.remediation_plan(stocked)
    assert set(playbooks) == {"ot"}
    play = yaml.safe_load(playbooks["ot"])[0]
    assert play["hosts"] == "ot"
    tasks = {t["name"].split()[1]: t for t in play["tasks"] if t["name"].startswith("Upgrade")}
    assert tasks["openssl"]["ansible.builtin.apt"]["name"] == "openssl=1.1.0l-1~deb9u9"
    assert any("bash: cannot remediate" in t["name"] for t in play["tasks"])
    assert {u.package for u in upgrades if u.target is None} == {"bash"}


def test_scan_without_imported_advisories_says_what_to_do(platform: Platform) -> None:
    from maat.errors import NotFound

    with pytest.raises(NotFound, match="advisories import"):
        findings.import_sbom(platform, "test", "erp", sbom(("requests", "2.30.0")), source="s")


def test_vendor_vex_marks_stored_finding_not_affected_and_withdrawal_reopens_it(
    stocked: Platform, tmp_path: Path
) -> None:
    statement = tmp_path / "vendor.openvex.json"
    statement.write_text(
        json.dumps(
            {
                "@context": "https://openvex.dev/ns/v0.2.0",
                "@id": "https://example.com/vex/2",
                "author": "Acme",
                "timestamp": "2026-01-01T00:00:00Z",
                "version": 1,
                "statements": [
                    {
                        "vulnerability": {"name": "CVE-2099-0001"},
                        "products": [{"@id": "pkg:pypi/requests"}],
                        "status": "not_affected",
                        "justification": "vulnerable_code_not_in_execute_path",
                    }
                ],
            }
        )
    )
    assert vulns.import_vex(stocked, "test", statement) == 1
    findings.import_sbom(stocked, "test", "erp", sbom(("requests", "2.30.0")), source="s")
    [view] = findings.list_findings(stocked, include_closed=True)
    assert view.record.status is FindingStatus.NOT_AFFECTED
    assert "vulnerable_code_not_in_execute_path" in (view.record.vex_justification or "")
    assert findings.list_findings(stocked) == []  # not open, never overdue
    for kept in (stocked.settings.data_dir / "advisories" / "vex").glob("*.json"):
        kept.unlink()  # the vendor withdraws the statement
    findings.import_sbom(stocked, "test", "erp", sbom(("requests", "2.30.0")), source="s2")
    [view] = findings.list_findings(stocked)
    assert view.record.status is FindingStatus.OPEN


def test_isolation_mitigates_until_fixed(stocked: Platform) -> None:
    findings.import_sbom(stocked, "test", "erp", sbom(("requests", "2.30.0")), source="s")
    [view] = findings.list_findings(stocked)
    findings.mitigate_by_isolation(stocked, "test", view.record.id)
    assert findings.list_findings(stocked) == []
    assert findings.list_findings(stocked, include_closed=True)[0].record.status is (
        FindingStatus.MITIGATED_BY_ISOLATION
    )


def test_advisory_gaining_a_cve_alias_keeps_its_finding_and_clock(
    platform: Platform, tmp_path: Path, clock: FakeClock
) -> None:
    folder = tmp_path / "feed"
    folder.mkdir()
    doc = advisory(
        "PYSEC-2099-7",
        "PyPI",
        "lib",
        ranges=[eco_range(("introduced", "0"), ("fixed", "2.0"))],
        severity=MEDIUM,
    )
    (folder / "a.json").write_text(json.dumps(doc))
    vulns.import_advisories(platform, "test", folder)
    findings.import_sbom(platform, "test", "erp", sbom(("lib", "1.0")), source="s1")
    [first] = findings.list_findings(platform)
    clock.advance(days=29)
    doc["aliases"] = ["CVE-2099-7777"]
    (folder / "a.json").write_text(json.dumps(doc))
    vulns.import_advisories(platform, "test", folder)
    again = findings.import_sbom(platform, "test", "erp", sbom(("lib", "1.0")), source="s2")
    assert (again.changes.opened, again.changes.fixed) == (0, 0)
    [same] = findings.list_findings(platform)
    assert same.record.id == first.record.id
    assert same.record.advisory_id == "CVE-2099-7777"
    assert same.record.due_at == first.record.due_at
    clock.advance(days=2)
    assert findings.list_findings(platform, overdue_only=True)


def test_empty_advisory_import_is_refused_and_other_sources_are_kept(
    stocked: Platform, tmp_path: Path
) -> None:
    from maat.errors import InvalidInput

    findings.import_sbom(stocked, "test", "erp", sbom(("requests", "2.30.0")), source="s")
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "README.md").write_text("nothing")
    with pytest.raises(InvalidInput, match="no advisories"):
        vulns.import_advisories(stocked, "test", empty)
    other = tmp_path / "npm-feed"
    other.mkdir()
    (other / "n.json").write_text(
        json.dumps(
            advisory(
                "GHSA-2099-npm",
                "npm",
                "left-pad",
                ranges=[eco_range(("introduced", "0"), ("fixed", "2.0.0"))],
            )
        )
    )
    vulns.import_advisories(stocked, "test", other)
    rescan = findings.import_sbom(stocked, "test", "erp", sbom(("requests", "2.30.0")), source="s2")
    assert rescan.changes.fixed == 0
    assert len(findings.list_findings(stocked)) == 1


def test_becoming_known_exploited_shortens_the_deadline(
    platform: Platform, tmp_path: Path, clock: FakeClock
) -> None:
    folder = tmp_path / "feed"
    folder.mkdir()
    (folder / "a.json").write_text(
        json.dumps(
            advisory(
                "PYSEC-2099-9",
                "PyPI",
                "lib",
                ranges=[eco_range(("introduced", "0"), ("fixed", "2.0"))],
                severity=MEDIUM,
                aliases_=["CVE-2099-9999"],
            )
        )
    )
    vulns.import_advisories(platform, "test", folder)
    findings.import_sbom(platform, "test", "erp", sbom(("lib", "1.0")), source="s")
    [medium] = findings.list_findings(platform)
    assert medium.record.due_at == clock.current + timedelta(days=30)
    clock.advance(days=10)
    kev = tmp_path / "kev.json"
    kev.write_text(
        json.dumps(
            {
                "title": "KEV",
                "catalogVersion": "1",
                "dateReleased": "2026-11-01T00:00:00Z",
                "count": 1,
                "vulnerabilities": [
                    {
                        "cveID": "CVE-2099-9999",
                        "vendorProject": "x",
                        "product": "y",
                        "vulnerabilityName": "z",
                        "dateAdded": "2026-11-01",
                        "shortDescription": "d",
                        "requiredAction": "r",
                        "dueDate": "2026-11-20",
                        "knownRansomwareCampaignUse": "Unknown",
                        "notes": "",
                    }
                ],
            }
        )
    )
    vulns.import_advisories(platform, "test", None, kev_file=kev)
    findings.import_sbom(platform, "test", "erp", sbom(("lib", "1.0")), source="s2")
    [view] = findings.list_findings(platform)
    assert view.record.kev
    assert view.record.due_at == clock.current + timedelta(hours=72)


def test_vex_fixed_statement_does_not_flip_the_finding_every_scan(
    stocked: Platform, tmp_path: Path
) -> None:
    statement = tmp_path / "fixed.openvex.json"
    statement.write_text(
        json.dumps(
            {
                "@context": "https://openvex.dev/ns/v0.2.0",
                "@id": "https://example.com/vex/3",
                "author": "Acme",
                "timestamp": "2026-01-01T00:00:00Z",
                "version": 1,
                "statements": [
                    {
                        "vulnerability": {"name": "CVE-2099-0001"},
                        "products": [{"@id": "pkg:pypi/requests@2.30.0"}],
                        "status": "fixed",
                    }
                ],
            }
        )
    )
    vulns.import_vex(stocked, "test", statement)
    statuses = []
    for i in range(3):
        stored = findings.import_sbom(
            stocked, "test", "erp", sbom(("requests", "2.30.0")), source=f"s{i}"
        )
        assert stored.changes.reopened == 0
        statuses.append(findings.list_findings(stocked, include_closed=True)[0].record.status)
    assert statuses == [FindingStatus.NOT_AFFECTED] * 3


def test_host_group_that_could_escape_the_playbook_folder_is_refused(stocked: Platform) -> None:
    from maat.errors import InvalidInput

    with pytest.raises(InvalidInput, match="host groups"):
        findings.import_inventory(
            stocked,
            "test",
            "h1",
            DPKG,
            source="dpkg.txt",
            os_release_text=STRETCH,
            group="../../etc/cron.d",
        )

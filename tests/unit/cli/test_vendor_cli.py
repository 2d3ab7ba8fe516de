"""`maat vendor add|import|list|link-account|score|report|breach`: the register from the
command line; CSV lines that are wrong are named and the rest imported."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from maat.cli.main import run


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(__import__("os").environ):
        if name.startswith("MAAT_") and not name.startswith("MAAT_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("MAAT_DATA_DIR", str(tmp_path / "data"))
    assert run(["init"]) == 0
    return tmp_path


def out(capsys: pytest.CaptureFixture[str]) -> str:
    return capsys.readouterr().out


def test_csv_import_names_each_bad_line_and_keeps_the_rest(
    installed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = installed / "vendors.csv"
    csv.write_text(
        "name,criticality,tiers,security_contact,website\n"
        "Contoso ERP,critical,production_software;remote_access,Sec Team <sec@contoso.example>,\n"
        "Fabrikam,extreme,remote_access,,\n"
        "Northwind,low,data-access,nobody,\n"
        "Tailspin,medium,,,https://tailspin.example\n"
    )
    assert run(["vendor", "import", str(csv)]) == 1
    captured = capsys.readouterr()
    assert "vendors.csv:3, field 'criticality'" in captured.out
    assert "vendors.csv:4, field 'contact': not an email address" in captured.out
    assert "2 vendor(s) imported, 2 line(s) refused" in captured.out
    assert run(["vendor", "list", "--format", "json"]) == 0
    listed = {v["name"]: v for v in json.loads(out(capsys))}
    assert set(listed) == {"Contoso ERP", "Tailspin"}
    assert listed["Contoso ERP"]["tiers"] == ["production_software", "remote_access"]


def test_breach_score_and_report_from_the_cli(
    installed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["vendor", "add", "Contoso ERP", "--criticality", "high",
                "--tier", "remote_access", "--contact", "sec@contoso.example"]) == 0  # fmt: skip
    capsys.readouterr()
    assert run(["vendor", "score", "Contoso ERP", "--format", "json"]) == 0
    before = json.loads(out(capsys))
    assert before["score"] == 85 and [c["name"] for c in before["contributions"]] == [
        "assessment_missing"
    ]
    assert run(["vendor", "breach", "Contoso ERP", "--note", "VENOM", "--format", "json"]) == 0
    report = json.loads(out(capsys))
    assert report["vendor"] == "Contoso ERP" and report["executed"] is False
    assert run(["vendor", "score", "Contoso ERP", "--format", "json"]) == 0
    after = json.loads(out(capsys))
    assert after["score"] == 45 and after["contributions"][0]["name"] == "breach"
    html = installed / "card.html"
    assert run(["vendor", "report", "Contoso ERP", "--format", "html", "--out", str(html)]) == 0
    assert "Contoso ERP: 45/100" in html.read_text()
    assert run(["vendor", "score", "Nobody"]) == 1


def test_an_assessment_with_evidence_moves_the_score_and_its_reminder(
    installed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["vendor", "add", "Contoso ERP"]) == 0
    assert run(["vendor", "reminders", "--format", "json"]) == 0
    assert json.loads(out(capsys).splitlines()[-1]) == [
        {"vendor": "Contoso ERP", "state": "missing", "expires_at": None}
    ]
    (installed / "iso.pdf").write_bytes(b"%PDF- ISO 27001 certificate IS 123456")
    answers = installed / "contoso.yml"
    answers.write_text(
        "questionnaire: maat-default\nvendor: Contoso ERP\nanswered_at: 2026-11-20\n"
        "answers:\n  iso27001: {answer: yes, number: IS 123456, scope: ERP, expires: 2026-12-10}\n"
        "  sbom_with_every_delivery: no\nevidence:\n  iso27001: [iso.pdf]\n"
    )
    assert run(["vendor", "assess", str(answers), "--format", "json"]) == 0
    result = json.loads(out(capsys))
    assert result["expires_at"].startswith("2026-12-10")
    assert [e["name"] for e in result["evidence"]] == ["iso.pdf"]
    stored = installed / "data" / "evidence" / result["evidence"][0]["sha256"]
    assert stored.read_bytes().startswith(b"%PDF-")
    assert run(["vendor", "score", "Contoso ERP", "--format", "json"]) == 0
    names = [c["name"] for c in json.loads(out(capsys))["contributions"]]
    assert "assessment_missing" not in names and "assessment_expiring" in names
    assert "assessment_result" in names  # 4 of 30 points: a poor result
    assert run(["vendor", "reminders", "--format", "json"]) == 0
    assert json.loads(out(capsys))[0]["state"] == "expiring"
    bad = installed / "bad.yml"
    bad.write_text("questionnaire: maat-default\nvendor: Contoso ERP\nanswered_at: 2026-11-20\n"
                   "answers:\n  iso2700: yes\n")  # fmt: skip
    assert run(["vendor", "assess", str(bad)]) == 1
    assert "no such question: iso2700" in capsys.readouterr().err

"""The trust graph's reach and paths, and vendor scoring rules, without a store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from maat.core.graph import Node, TrustGraph
from maat.vendors.records import VendorRecord, read_vendor_csv
from maat.vendors.score import AlertFact, CertificateFact, Evidence, FindingFact, score

NOW = datetime(2026, 11, 25, tzinfo=UTC)


def test_reach_follows_edges_forward_only_with_the_shortest_path() -> None:
    g = TrustGraph()
    v, p, a, h = (
        Node("vendor", "V"),
        Node("product", "P"),
        Node("artifact", "a1"),
        Node("host", "H"),
    )
    g.add_all([(v, "supplies", p), (p, "ships", a), (a, "runs on", h),
               (Node("vendor", "W"), "supplies", Node("product", "Q"))])  # fmt: skip
    reach = g.blast_radius(v)
    assert reach.as_dict() == {"product": ["P"], "artifact": ["a1"], "host": ["H"]}
    assert (
        reach.explain(h) == "vendor:V -supplies-> product:P -ships-> artifact:a1 -runs on-> host:H"
    )
    assert g.blast_radius(h).as_dict() == {}  # a host does not reach its vendor
    with pytest.raises(ValueError, match="unknown node kind"):
        g.add(v, "x", Node("planet", "earth"))


def test_cycles_terminate() -> None:
    g = TrustGraph()
    a, b = Node("identity", "a"), Node("identity", "b")
    g.add_all([(a, "delegates", b), (b, "delegates", a)])
    assert g.blast_radius(a).as_dict() == {"identity": ["b"]}


def vendor(**extra: object) -> VendorRecord:
    return VendorRecord(id="vnd_1", name="V", created_at=NOW, **extra)  # type: ignore[arg-type]


def test_each_rule_names_its_contribution_and_caps_it() -> None:
    findings = tuple(FindingFact(f"f{n}", "P", "critical", overdue=n < 5) for n in range(6))
    alerts = (AlertFact("old", "critical", NOW - timedelta(days=91)),
              AlertFact("new", "high", NOW - timedelta(days=1)))  # fmt: skip
    result = score(Evidence(vendor=vendor(), now=NOW, findings=findings, alerts=alerts,
                            assessment_expires=NOW + timedelta(days=10)))  # fmt: skip
    by_name = {c.name: c for c in result.contributions}
    assert by_name["critical_findings"].points == -30  # 6 x 10, capped at 30
    assert by_name["overdue_findings"].points == -20  # 5 x 5, capped at 20
    assert by_name["serious_alerts"].evidence == ("new",)  # the 91-day-old one no longer counts
    assert by_name["assessment_expiring"].points == -5
    assert result.score == 100 - 30 - 20 - 10 - 5 == 35 and result.grade == "F"


def test_a_clean_vendor_with_a_current_assessment_scores_100() -> None:
    result = score(Evidence(vendor=vendor(), now=NOW, assessment_expires=NOW + timedelta(days=200)))
    assert (result.score, result.grade, result.contributions) == (100, "A", ())


def test_a_vendor_whose_signing_lapsed_pays_for_it_but_a_rotation_costs_nothing() -> None:
    """A vendor with no valid signing certificate ships deliveries nobody can verify by
    signature (known before: an expired certificate cost nothing, an expiring one 5)."""
    current = NOW + timedelta(days=200)

    def scored(*certificates: CertificateFact) -> list[tuple[str, int]]:
        result = score(Evidence(vendor=vendor(), now=NOW, certificates=certificates,
                                assessment_expires=current))  # fmt: skip
        return [(c.name, c.points) for c in result.contributions]

    expired = CertificateFact("old", NOW - timedelta(days=20))
    older = CertificateFact("older", NOW - timedelta(days=300))
    lapsed = score(Evidence(vendor=vendor(), now=NOW, certificates=(older, expired),
                            assessment_expires=current))  # fmt: skip
    (only,) = lapsed.contributions
    assert (only.name, only.points, only.evidence) == ("certificate_lapsed", -10, ("older", "old"))
    assert f"{expired.not_after:%Y-%m-%d}" in only.detail
    assert scored(expired, CertificateFact("new", NOW + timedelta(days=700))) == []  # rotation
    # Found by review: lapsed long ago is no better than lapsed last month; a CA of the
    # vendor's on record is no signing certificate; one not valid yet signs nothing today.
    assert scored(CertificateFact("ancient", NOW - timedelta(days=400))) == [
        ("certificate_lapsed", -10)
    ]
    vendor_ca = CertificateFact("ca", NOW + timedelta(days=3650), signing=False)
    assert scored(expired, vendor_ca) == [("certificate_lapsed", -10)]
    future = CertificateFact("soon", NOW + timedelta(days=700), not_before=NOW + timedelta(days=9))
    assert scored(expired, future) == [("certificate_lapsed", -10)]


def test_only_a_code_signing_leaf_counts_as_a_signing_certificate() -> None:
    from cryptography.x509.oid import ExtendedKeyUsageOID

    from maat.signing.chain import is_code_signing_leaf
    from signing_kit import issue

    ca = issue("CN=Vendor CA", ca=True)
    assert is_code_signing_leaf(issue("CN=Vendor Code Signing", issuer=ca).cert)
    assert not is_code_signing_leaf(ca.cert)
    tls = issue("CN=Vendor TLS", issuer=ca, eku=(ExtendedKeyUsageOID.SERVER_AUTH,))
    assert not is_code_signing_leaf(tls.cert)
    assert not is_code_signing_leaf(issue("CN=No EKU", issuer=ca, eku=None).cert)


def test_csv_with_an_unknown_column_is_refused_whole() -> None:
    from maat.errors import InvalidInput

    with pytest.raises(InvalidInput, match="unknown: tier"):
        read_vendor_csv(b"name,tier\nContoso,remote_access\n", path="v.csv")
    rows, errors = read_vendor_csv(b"name\nA\na\n", path="v.csv")
    assert [r.name for r in rows] == ["A"] and "appears twice" in errors[0].message


def test_contract_terms_are_typed_and_every_problem_located() -> None:
    from maat.vendors.contracts import read_contract

    good, problems = read_contract("vendor: V\nsigned: 2025-01-01\nterms:\n  critical_fix_days: 7\n"
                                   "  signed_releases: true\n", source="c.yml")  # fmt: skip
    assert good is not None and good.terms == {"critical_fix_days": 7.0, "signed_releases": True}
    bad, problems = read_contract("vendor: V\nsigned: soon\nterms:\n  critical_fix_dayz: 7\n"
                                  "  signed_releases: maybe\n", source="c.yml")  # fmt: skip
    assert bad is None
    fields = {p.location.field for p in problems}
    assert {"signed", "terms.critical_fix_dayz", "terms.signed_releases"} <= fields

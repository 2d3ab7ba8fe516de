"""Tests for maat.vulns.vex: CycloneDX VEX, OpenVEX and CSAF VEX in one model, and the rule
deciding which statement applies to a component."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maat.errors import InvalidInput
from maat.vulns.vex import VexStatement, parse_vex, vers_contains, vex_decision

VEX_DIR = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "sbom-cyclonedx" / "VEX"
needs_data = pytest.mark.skipif(
    not VEX_DIR.is_dir(), reason=f"CycloneDX VEX examples not found at {VEX_DIR}"
)


def compare(scheme: str, a: str, b: str) -> int:
    """Dotted numeric versions, enough for the examples (semver / generic)."""
    left, right = (tuple(int(p) for p in v.split(".")) for v in (a, b))
    return (left > right) - (left < right)


def load(relative: str) -> list[VexStatement]:
    statements, problems = parse_vex((VEX_DIR / relative).read_bytes(), source=relative)
    assert problems == []
    return statements


def decide(statements: list[VexStatement], cve: str, ref: str, version: str | None) -> str | None:
    found = vex_decision(statements, {cve}, ref, version, compare=compare)
    return None if found is None else found.status


# --- CycloneDX, on the CycloneDX VEX examples ---------------------------------------------------


@needs_data
def test_every_example_parses() -> None:
    files = sorted(VEX_DIR.rglob("*.json"))
    assert len(files) >= 30
    total = 0
    for path in files:
        statements, problems = parse_vex(path.read_bytes(), source=path.name)
        total += len(statements)
        assert all(s.format == "cyclonedx" and s.source == path.name for s in statements)
        if path.parts[-2:] != ("Case-7", "vex.json") or "CISA" in str(path):
            assert problems == [], path
    assert total > 150


@needs_data
def test_embedded_purl_reference_applies_to_that_version_only() -> None:
    (s,) = load("vex.json")
    assert s.vulnerability == "CVE-2020-25649"
    assert s.aliases == ("SNYK-JAVA-COMFASTERXMLJACKSONCORE-1048302",)
    assert s.status == "not_affected" and s.justification == "code_not_reachable"
    assert s.impact is not None and s.impact.startswith("Automated dataflow analysis")
    assert s.action is not None and s.action.startswith("Upgrade com.fasterxml.jackson.core")
    assert s.timestamp == datetime(2021, 10, 26, tzinfo=UTC)
    purl = "pkg:maven/com.fasterxml.jackson.core/jackson-databind@2.10.0?type=jar"
    assert decide([s], "CVE-2020-25649", purl, None) == "not_affected"
    assert decide([s], "cve-2020-25649", purl, None) == "not_affected"
    assert decide([s], "SNYK-JAVA-COMFASTERXMLJACKSONCORE-1048302", purl, None) == "not_affected"
    assert decide([s], "CVE-2020-25649", purl.replace("2.10.0", "2.10.1"), None) is None
    assert decide([s], "CVE-2020-99999", purl, None) is None


@needs_data
def test_metadata_component_version_limits_the_statement() -> None:
    statements = load("Use-Cases/Case-1/vex.json")
    assert statements[0].products == ("acme-product",) and statements[0].versions == ("2.4.0",)
    assert decide(statements, "CVE-2020-25649", "acme-product", "2.4.0") == "not_affected"
    assert decide(statements, "CVE-2020-25649", "acme-product", "2.5.0") is None
    assert decide(statements, "CVE-2020-25649", "acme-product", None) is None


@needs_data
@pytest.mark.parametrize(
    ("case", "version", "status"),
    [
        ("Use-Cases/Case-4/vex.json", "2.2.0", "not_affected"),
        ("Use-Cases/Case-4/vex.json", "2.3.9", "not_affected"),
        ("Use-Cases/Case-4/vex.json", "2.4.1", None),
        ("Use-Cases/Case-5/vex.json", "1.4.9", "not_affected"),
        ("Use-Cases/Case-5/vex.json", "1.5.0", "affected"),
        ("Use-Cases/Case-5/vex.json", "6.9.9", "affected"),
        ("Use-Cases/Case-5/vex.json", "7.0.0", "not_affected"),
        ("Use-Cases/Case-8/vex.json", "2.5.0", "not_affected"),
        ("Use-Cases/Case-8/vex.json", "2.8.0", None),
        ("Use-Cases/Case-8/vex.json", "3.9.0", "not_affected"),
        ("Use-Cases/Case-8/vex.json", "5.9.0", "not_affected"),
        ("Use-Cases/Case-10/vex.json", "2.3.1", "not_affected"),
        ("Use-Cases/Case-10/vex.json", "2.3.8", None),
        ("Use-Cases/Case-2/vex.json", "2.4.0", "affected"),
        ("Use-Cases/Case-3/vex.json", "2.4.0", "under_investigation"),
    ],
)
def test_version_ranges_and_lists(case: str, version: str, status: str | None) -> None:
    assert decide(load(case), "CVE-2020-25649", "acme-product", version) == status


@needs_data
def test_ranges_need_a_comparison_or_do_not_apply() -> None:
    statements = load("Use-Cases/Case-4/vex.json")
    assert vex_decision(statements, {"CVE-2020-25649"}, "acme-product", "2.3.0") is None


@needs_data
def test_bom_links_and_several_products() -> None:
    statements = load("Use-Cases/Case-13/vex.json")
    link = "urn:cdx:{}/1#acme-product-{}"
    one = link.format("2c385cf7-e1ee-46e9-a51c-13de1ecb380a", 1)
    three = link.format("240b5b0b-917d-4f48-816c-97e1944d8079", 3)
    assert decide(statements, "CVE-2020-25649", one, "9.9") == "not_affected"  # every version
    assert decide(statements, "CVE-2020-25649", three, "1.0") == "affected"
    # a bare bom-ref names something only inside its own BOM
    assert decide(statements, "CVE-2020-25649", "acme-product-1", "1.0") is None


@needs_data
def test_mixed_statements_of_the_cisa_examples() -> None:
    statements = load("CISA-Use-Cases/Case-6/vex.json")
    assert [(s.status, s.versions, s.ranges) for s in statements] == [
        ("affected", ("2.4", "2.6"), ("vers:generic/>=2.9|<=4.1",)),
        ("not_affected", ("2.5", "4.2"), ("vers:generic/>=1.0|<=2.3", "vers:generic/>=2.7|<=2.8")),
    ]
    for version, status in [
        ("2.0", "not_affected"),
        ("2.4", "affected"),
        ("3.3", "affected"),
        ("4.2", "not_affected"),
        ("5.0", None),
    ]:
        assert decide(statements, "CVE-2021-44228", "product-ABC", version) == status
    fixed = load("CISA-Use-Cases/Case-7/vex.json")
    jkl = "urn:cdx:e4c3eedc-4978-470c-ad02-6ffff63738ff/1#product-JKL"
    assert decide(fixed, "CVE-2021-44228", jkl, "5.1") == "fixed"
    assert decide(fixed, "CVE-2021-44228", jkl, "4.7") == "affected"


@needs_data
def test_statement_without_products_is_reported() -> None:
    statements, problems = parse_vex(
        (VEX_DIR / "Use-Cases/Case-7/vex.json").read_bytes(), source="c7.json"
    )
    assert statements == []
    (problem,) = problems
    assert problem.location.field == "vulnerabilities[0]"
    assert "names no affected product" in problem.message


def cdx(*vulns: dict[str, Any], components: list[dict[str, Any]] | None = None) -> bytes:
    return orjson.dumps(
        {
            "bomFormat": "CycloneDX",
            "specVersion": "1.5",
            "vulnerabilities": list(vulns),
            "components": components or [],
        }
    )


def test_cyclonedx_states_versions_and_problems() -> None:
    data = cdx(
        {
            "id": "CVE-1",
            "analysis": {"state": "false_positive", "lastUpdated": "2024-05-01T00:00:00Z"},
            "affects": [{"ref": "c1"}],
        },
        {
            "id": "CVE-2",
            "analysis": {"state": "resolved_with_pedigree"},
            "affects": [
                {
                    "ref": "c1",
                    "versions": [
                        {"version": "1.0", "status": "unaffected"},
                        {"version": "0.9", "status": "affected"},
                        {"version": "0.8", "status": "unknown"},
                        {"status": "affected"},
                    ],
                }
            ],
        },
        {"id": "CVE-3", "analysis": {"state": "sleeping"}, "affects": [{"ref": "c1"}]},
        {"analysis": {"state": "exploitable"}},
        {
            "id": "CVE-4",
            "analysis": {"state": "exploitable", "firstIssued": "not a time"},
            "affects": [{"versions": []}],
        },
        components=[{"bom-ref": "c1", "name": "lib", "version": "1.0", "purl": "pkg:npm/lib@1.0"}],
    )
    statements, problems = parse_vex(data, source="b.json")
    assert [(s.vulnerability, s.products, s.status, s.versions) for s in statements] == [
        ("CVE-1", ("pkg:npm/lib@1.0",), "not_affected", ()),
        ("CVE-2", ("pkg:npm/lib@1.0",), "fixed", ("1.0",)),
        ("CVE-2", ("pkg:npm/lib@1.0",), "affected", ("0.9",)),
        ("CVE-2", ("pkg:npm/lib@1.0",), "under_investigation", ("0.8",)),
    ]
    assert statements[0].timestamp == datetime(2024, 5, 1, tzinfo=UTC)
    assert [p.location.field for p in problems] == [
        "vulnerabilities[1].affects[0].versions[3]",
        "vulnerabilities[2]",
        "vulnerabilities[3]",
        "vulnerabilities[4].firstIssued",
        "vulnerabilities[4].affects[0]",
    ]


# --- OpenVEX --------------------------------------------------------------------------------


OPENVEX = {
    "@context": "https://openvex.dev/ns/v0.2.0",
    "@id": "https://openvex.dev/docs/example/vex-9fb3463de1b57",
    "author": "Wolfi J Inkinson",
    "timestamp": "2023-01-08T18:02:03-06:00",
    "version": 1,
    "statements": [
        {
            "vulnerability": {"name": "CVE-2023-1234", "aliases": ["GHSA-aaaa-bbbb-cccc"]},
            "products": [
                {
                    "@id": "pkg:oci/example@sha256%3A0123",
                    "subcomponents": [{"@id": "pkg:golang/github.com/x/crypto@v0.1.0"}],
                }
            ],
            "status": "not_affected",
            "justification": "vulnerable_code_not_in_execute_path",
            "impact_statement": "The vulnerable function is never called.",
        },
        {
            "vulnerability": {
                "@id": "https://nvd.nist.gov/vuln/detail/CVE-2023-5678",
                "name": "CVE-2023-5678",
            },
            "timestamp": "2023-02-01T00:00:00Z",
            "products": [{"@id": "urn:product:x", "identifiers": {"purl": "pkg:pypi/flask"}}],
            "status": "affected",
            "action_statement": "Upgrade to 3.0.",
        },
        {
            "vulnerability": "CVE-2023-9999",
            "products": ["pkg:npm/left-pad@1.3.0"],
            "status": "fixed",
        },
        {
            "vulnerability": {"name": "CVE-2023-1111"},
            "products": [{"@id": "pkg:npm/a"}],
            "status": "not_affected",
        },
        {
            "vulnerability": {"name": "CVE-2023-2222"},
            "products": [],
            "status": "under_investigation",
        },
        {
            "vulnerability": {"name": "CVE-2023-3333"},
            "products": [{"@id": "pkg:npm/a"}],
            "status": "broken",
        },
        "junk",
    ],
}


def test_openvex_statements() -> None:
    statements, problems = parse_vex(orjson.dumps(OPENVEX), source="o.json")
    first, second, third, fourth = statements
    assert (first.vulnerability, first.aliases, first.products, first.subcomponents) == (
        "CVE-2023-1234",
        ("GHSA-aaaa-bbbb-cccc",),
        ("pkg:oci/example@sha256%3A0123",),
        ("pkg:golang/github.com/x/crypto@v0.1.0",),
    )
    assert first.timestamp == datetime(2023, 1, 9, 0, 2, 3, tzinfo=UTC)  # the document's
    assert first.impact == "The vulnerable function is never called." and first.format == "openvex"
    assert (second.products, second.status, second.action) == (
        ("pkg:pypi/flask",),
        "affected",
        "Upgrade to 3.0.",
    )
    assert second.timestamp == datetime(2023, 2, 1, tzinfo=UTC)
    assert (third.vulnerability, third.products, third.status) == (
        "CVE-2023-9999",
        ("pkg:npm/left-pad@1.3.0",),
        "fixed",
    )
    assert (fourth.vulnerability, fourth.products) == ("CVE-2023-2222", ())
    assert [(p.location.field, p.message.split(":")[0]) for p in problems] == [
        ("statements[3]", "CVE-2023-1111"),  # not_affected without a reason: left out
        ("statements[4]", "CVE-2023-2222"),  # no product
        (
            "statements[5]",
            "a statement needs a vulnerability and a status of not_affected, affected, fixed, under_investigation",
        ),
        ("statements[6]", "expected an object, got str"),
    ]


def test_subcomponent_statements_need_the_product() -> None:
    statements, _ = parse_vex(orjson.dumps(OPENVEX), source="o.json")
    crypto = "pkg:golang/github.com/x/crypto@v0.1.0"
    image = "pkg:oci/example@sha256%3A0123"
    assert vex_decision(statements, {"GHSA-aaaa-bbbb-cccc"}, crypto, None) is None
    found = vex_decision(statements, {"GHSA-aaaa-bbbb-cccc"}, crypto, None, product_purl=image)
    assert found is not None and found.status == "not_affected"
    assert (
        vex_decision(
            statements, {"CVE-2023-1234"}, crypto, None, product_purl="pkg:oci/other@sha256%3A0123"
        )
        is None
    )
    other_digest = "pkg:oci/example@sha256%3A9999"
    assert (
        vex_decision(statements, {"CVE-2023-1234"}, crypto, None, product_purl=other_digest) is None
    )
    assert (
        vex_decision(
            statements,
            {"CVE-2023-1234"},
            crypto.replace("v0.1.0", "v0.2.0"),
            None,
            product_purl=image,
        )
        is None
    )


# --- CSAF -----------------------------------------------------------------------------------


CSAF = {
    "document": {
        "category": "csaf_vex",
        "csaf_version": "2.0",
        "publisher": {
            "category": "vendor",
            "name": "Example Co",
            "namespace": "https://example.com",
        },
        "title": "Example VEX",
        "tracking": {
            "id": "EX-2024-0001",
            "current_release_date": "2024-03-01T12:00:00.000Z",
            "initial_release_date": "2024-02-01T00:00:00.000Z",
            "status": "final",
            "version": "2",
            "revision_history": [],
        },
    },
    "product_tree": {
        "branches": [
            {
                "category": "vendor",
                "name": "Example Co",
                "branches": [
                    {
                        "category": "product_name",
                        "name": "Widget",
                        "branches": [
                            {
                                "category": "product_version",
                                "name": "1.0",
                                "product": {
                                    "name": "Widget 1.0",
                                    "product_id": "CSAFPID-0001",
                                    "product_identification_helper": {
                                        "purl": "pkg:generic/example/widget@1.0"
                                    },
                                },
                            },
                            {
                                "category": "product_version",
                                "name": "1.1",
                                "product": {
                                    "name": "Widget 1.1",
                                    "product_id": "CSAFPID-0002",
                                    "product_identification_helper": {
                                        "purl": "pkg:generic/example/widget@1.1"
                                    },
                                },
                            },
                            {
                                "category": "product_version",
                                "name": "2.0",
                                "product": {"name": "Widget 2.0", "product_id": "CSAFPID-0003"},
                            },
                        ],
                    }
                ],
            }
        ],
        "full_product_names": [
            {
                "name": "Gadget",
                "product_id": "CSAFPID-0004",
                "product_identification_helper": {"purl": "pkg:pypi/gadget"},
            }
        ],
        "product_groups": [
            {"group_id": "CSAFGID-0001", "product_ids": ["CSAFPID-0001", "CSAFPID-0004"]}
        ],
    },
    "vulnerabilities": [
        {
            "cve": "CVE-2024-1000",
            "ids": [{"system_name": "GitHub", "text": "GHSA-1111-2222-3333"}],
            "product_status": {
                "known_not_affected": ["CSAFPID-0001", "CSAFPID-0004", "CSAFPID-0003"],
                "fixed": ["CSAFPID-0002"],
            },
            "flags": [{"label": "vulnerable_code_not_present", "group_ids": ["CSAFGID-0001"]}],
            "threats": [
                {
                    "category": "impact",
                    "details": "Not reachable in 2.0.",
                    "product_ids": ["CSAFPID-0003"],
                }
            ],
        },
        {
            "ids": [{"system_name": "Example", "text": "EX-VULN-7"}],
            "product_status": {
                "known_affected": ["CSAFPID-0001"],
                "under_investigation": ["CSAFPID-0004"],
                "known_not_affected": ["CSAFPID-0002"],
            },
            "remediations": [
                {
                    "category": "vendor_fix",
                    "details": "Upgrade to 1.1.",
                    "product_ids": ["CSAFPID-0001"],
                }
            ],
        },
        {"cve": "CVE-2024-3000"},
    ],
}


def test_csaf_statements() -> None:
    statements, problems = parse_vex(orjson.dumps(CSAF), source="csaf.json")
    table = [
        (s.vulnerability, s.aliases, s.products, s.status, s.justification, s.impact, s.action)
        for s in statements
    ]
    assert table == [
        (
            "CVE-2024-1000",
            ("GHSA-1111-2222-3333",),
            ("pkg:generic/example/widget@1.0",),
            "not_affected",
            "vulnerable_code_not_present",
            None,
            None,
        ),
        (
            "CVE-2024-1000",
            ("GHSA-1111-2222-3333",),
            ("pkg:pypi/gadget",),
            "not_affected",
            "vulnerable_code_not_present",
            None,
            None,
        ),
        (
            "CVE-2024-1000",
            ("GHSA-1111-2222-3333",),
            ("CSAFPID-0003",),
            "not_affected",
            None,
            "Not reachable in 2.0.",
            None,
        ),
        (
            "CVE-2024-1000",
            ("GHSA-1111-2222-3333",),
            ("pkg:generic/example/widget@1.1",),
            "fixed",
            None,
            None,
            None,
        ),
        (
            "EX-VULN-7",
            (),
            ("pkg:generic/example/widget@1.0",),
            "affected",
            None,
            None,
            "Upgrade to 1.1.",
        ),
        ("EX-VULN-7", (), ("pkg:pypi/gadget",), "under_investigation", None, None, None),
    ]
    assert all(
        s.timestamp == datetime(2024, 3, 1, 12, tzinfo=UTC) and s.format == "csaf"
        for s in statements
    )
    assert [(p.location.field, p.message.split(":")[0]) for p in problems] == [
        ("vulnerabilities[1].product_status.known_not_affected", "EX-VULN-7"),
        ("vulnerabilities[2]", "a vulnerability needs a cve or ids and a product_status"),
    ]
    assert decide(statements, "GHSA-1111-2222-3333", "pkg:pypi/gadget@9.9", None) == "not_affected"
    assert (
        decide(statements, "CVE-2024-1000", "pkg:generic/example/widget@1.0", None)
        == "not_affected"
    )
    assert decide(statements, "CVE-2024-1000", "pkg:generic/example/widget", "1.1") == "fixed"
    assert decide(statements, "CVE-2024-1000", "pkg:generic/example/widget@1.2", None) is None


# --- the decision rule ------------------------------------------------------------------------


def stmt(
    status: str, products: tuple[str, ...], *, at: str | None = None, **extra: Any
) -> VexStatement:
    moment = None if at is None else datetime.fromisoformat(at).replace(tzinfo=UTC)
    fields: dict[str, Any] = {
        "vulnerability": "CVE-2024-1",
        "aliases": ("GHSA-x",),
        "products": products,
        "status": status,
        "justification": "component_not_present" if status == "not_affected" else None,
        "impact": None,
        "action": None,
        "timestamp": moment,
        "source": "s.json",
    }
    fields.update(extra)
    return VexStatement(**fields)


def test_unversioned_purl_carries_over_to_later_versions() -> None:
    s = stmt("not_affected", ("pkg:pypi/demo",))
    for version in ("1.0", "2.0", "99.0"):
        assert decide([s], "CVE-2024-1", f"pkg:pypi/demo@{version}", None) == "not_affected"
    assert decide([s], "CVE-2024-1", "pkg:pypi/Demo", "3.0") == "not_affected"  # canonical purl
    assert decide([s], "CVE-2024-1", "pkg:pypi/other@1.0", None) is None
    assert decide([s], "CVE-2024-1", "pkg:npm/demo@1.0", None) is None


def test_versioned_purl_applies_to_that_version_only() -> None:
    s = stmt("not_affected", ("pkg:pypi/demo@1.0",))
    assert decide([s], "CVE-2024-1", "pkg:pypi/demo@1.0", None) == "not_affected"
    assert decide([s], "CVE-2024-1", "pkg:pypi/demo", "1.0") == "not_affected"
    assert (
        decide([s], "CVE-2024-1", "pkg:pypi/demo@1.0.0", None) is None
    )  # 1.0 == 1.0.0? only with compare
    assert (
        vex_decision([s], {"CVE-2024-1"}, "pkg:pypi/demo@1.0.0", None, compare=lambda _s, a, b: 0)
        is not None
    )
    assert decide([s], "CVE-2024-1", "pkg:pypi/demo@1.1", None) is None
    assert decide([s], "CVE-2024-1", "pkg:pypi/demo", None) is None


def test_qualifiers_of_the_statement_must_be_on_the_component() -> None:
    s = stmt("not_affected", ("pkg:deb/debian/openssl?arch=amd64",))
    assert (
        decide([s], "CVE-2024-1", "pkg:deb/debian/openssl@3.0?arch=amd64&distro=bookworm", None)
        == "not_affected"
    )
    assert decide([s], "CVE-2024-1", "pkg:deb/debian/openssl@3.0?arch=arm64", None) is None
    assert decide([s], "CVE-2024-1", "pkg:deb/debian/openssl@3.0", None) is None


def test_most_recent_statement_wins_and_ties_go_to_caution() -> None:
    product = ("pkg:pypi/demo",)
    old = stmt("affected", product, at="2024-01-01T00:00:00")
    new = stmt("not_affected", product, at="2024-02-01T00:00:00")
    undated = stmt("fixed", product)
    assert decide([new, old, undated], "CVE-2024-1", "pkg:pypi/demo@1", None) == "not_affected"
    assert decide([old, undated], "CVE-2024-1", "pkg:pypi/demo@1", None) == "affected"
    tie = stmt("under_investigation", product, at="2024-02-01T00:00:00")
    assert decide([new, tie], "CVE-2024-1", "pkg:pypi/demo@1", None) == "under_investigation"
    assert decide([tie, new], "CVE-2024-1", "pkg:pypi/demo@1", None) == "under_investigation"


def test_ids_match_by_alias_and_without_case() -> None:
    s = stmt("not_affected", ("pkg:pypi/demo",))
    assert decide([s], "ghsa-X", "pkg:pypi/demo@1", None) == "not_affected"
    assert vex_decision([s], set(), "pkg:pypi/demo@1", None) is None


def test_references_that_are_not_purls_match_exactly() -> None:
    s = stmt("not_affected", ("acme-product",), versions=("2.0",))
    assert decide([s], "CVE-2024-1", "acme-product", "2.0") == "not_affected"
    assert decide([s], "CVE-2024-1", "acme-product-2", "2.0") is None
    assert decide([s], "CVE-2024-1", "not a purl", "2.0") is None


@pytest.mark.parametrize(
    ("vers", "version", "inside"),
    [
        ("vers:semver/*", "0.0.1", True),
        ("vers:semver/1.2.3", "1.2.3", True),
        ("vers:semver/1.2.3", "1.2.4", False),
        ("vers:semver/>=1.0.0|<2.0.0", "1.0.0", True),
        ("vers:semver/>=1.0.0|<2.0.0", "1.9.9", True),
        ("vers:semver/>=1.0.0|<2.0.0", "2.0.0", False),
        ("vers:semver/<2.0.0|>=1.0.0", "1.5.0", True),  # unsorted on input
        ("vers:semver/>=1.0.0|<2.0.0|!=1.5.0", "1.5.0", False),
        ("vers:semver/<1.0.0|>=2.0.0", "0.5.0", True),
        ("vers:semver/<1.0.0|>=2.0.0", "1.5.0", False),
        ("vers:semver/<1.0.0|>=2.0.0", "3.0.0", True),
        ("vers:semver/>1.0.0", "1.0.0", False),
        ("vers:semver/<=1.0.0", "1.0.0", True),
        ("vers:npm/1.2.3|>=2.0.0|<5.0.0", "1.2.3", True),
        ("vers:npm/1.2.3|>=2.0.0|<5.0.0", "3.0.0", True),
        ("vers:npm/1.2.3|>=2.0.0|<5.0.0", "1.5.0", False),
        ("vers:semver/>=1.0.0|>=2.0.0", "3.0.0", False),  # malformed: two lower bounds
        ("vers:semver/>=", "1.0.0", False),
        ("vers:semver/", "1.0.0", False),
        ("semver/>=1.0.0", "1.0.0", False),
        ("vers:semver/>=x.y", "1.0.0", False),  # compare cannot read it
    ],
)
def test_vers_ranges(vers: str, version: str, inside: bool) -> None:
    assert vers_contains(vers, version, compare) is inside


def test_vers_without_compare_decides_only_equality() -> None:
    assert vers_contains("vers:generic/1.0|2.0", "2.0", None)
    assert not vers_contains("vers:generic/>=1.0", "2.0", None)
    assert vers_contains("vers:generic/*", "2.0", None)


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"{", "not valid JSON"),
        (b"[]", "expected a VEX document object"),
        (b'{"spdxVersion": "SPDX-2.3"}', "not a VEX document"),
        (b" " * 2000, "above the limit"),
    ],
)
def test_unusable_documents_raise_invalid_input(data: bytes, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as err:
        parse_vex(data, source="v.json", max_bytes=1000)
    assert err.value.location.file == "v.json"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_invalid_input(data: bytes) -> None:
    with contextlib.suppress(InvalidInput):
        parse_vex(data, source="v.json")


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.text(max_size=12)
    | st.sampled_from(
        [
            "not_affected",
            "affected",
            "fixed",
            "exploitable",
            "pkg:npm/a@1",
            "CVE-2024-1",
            "2024-01-01T00:00:00Z",
            "vers:semver/>=1.0.0|<2.0.0",
        ]
    ),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "id",
                    "ref",
                    "analysis",
                    "state",
                    "affects",
                    "versions",
                    "version",
                    "range",
                    "status",
                    "products",
                    "@id",
                    "vulnerability",
                    "name",
                    "statements",
                    "product_status",
                    "known_not_affected",
                    "product_id",
                    "product",
                    "branches",
                    "flags",
                    "label",
                    "product_ids",
                    "cve",
                    "ids",
                    "text",
                    "subcomponents",
                    "timestamp",
                    "lastUpdated",
                    "justification",
                    "identifiers",
                    "purl",
                ]
            ),
            inner,
            max_size=4,
        )
    ),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None)
@given(JSON, st.sampled_from(["cyclonedx", "openvex", "csaf"]))
def test_arbitrary_documents_give_statements_or_problems(body: Any, kind: str) -> None:
    if kind == "cyclonedx":
        doc: dict[str, Any] = {"bomFormat": "CycloneDX", "vulnerabilities": body}
    elif kind == "openvex":
        doc = {"@context": "https://openvex.dev/ns/v0.2.0", "statements": body}
    else:
        doc = {"document": {"csaf_version": "2.0"}, "product_tree": body, "vulnerabilities": body}
    statements, _ = parse_vex(orjson.dumps(doc), source="f.json")
    for s in statements:
        vex_decision([s], set(s.ids), "pkg:npm/a@1", "1.0.0", compare=compare)
        vex_decision([s], set(s.ids), "pkg:npm/a", None, product_purl="pkg:npm/a@1")


# --- review fixes ---------------------------------------------------------------------------


def test_cyclonedx_not_affected_without_justification_or_detail_does_not_suppress() -> None:
    component = [{"bom-ref": "c1", "name": "lib", "purl": "pkg:npm/lib@1.0"}]
    bare = {"id": "CVE-1", "analysis": {"state": "not_affected"}, "affects": [{"ref": "c1"}]}
    statements, problems = parse_vex(cdx(bare, components=component), source="v.json")
    assert statements == []
    (problem,) = problems
    assert problem.location.field == "vulnerabilities[0].analysis"
    assert "justification" in problem.message
    # a detail, or a justification, is enough; false_positive is its own reason
    for analysis in (
        {"state": "not_affected", "detail": "The parser is not built in."},
        {"state": "not_affected", "justification": "code_not_present"},
        {"state": "false_positive"},
    ):
        doc = cdx({**bare, "analysis": analysis}, components=component)
        statements, problems = parse_vex(doc, source="v.json")
        assert [s.status for s in statements] == ["not_affected"] and problems == []
        assert vex_decision(statements, {"CVE-1"}, "pkg:npm/lib@1.0", None) is not None
    # versions listed as affected beside an unexplained not_affected state are kept
    mixed = {
        **bare,
        "affects": [{"ref": "c1", "versions": [{"version": "0.9", "status": "affected"}]}],
    }
    statements, _ = parse_vex(cdx(mixed, components=component), source="v.json")
    assert [(s.status, s.versions) for s in statements] == [("affected", ("0.9",))]


NOT_A_STRING = st.one_of(
    st.lists(st.sampled_from(["not_affected", "affected", 1]), max_size=3),
    st.dictionaries(st.sampled_from(["state", "not_affected"]), st.text(max_size=4), max_size=2),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),  # JSON has neither (orjson: null)
    st.booleans(),
)


@settings(max_examples=200, deadline=None)
@given(NOT_A_STRING, NOT_A_STRING)
def test_state_or_version_status_that_is_not_a_string_is_a_problem_not_a_type_error(
    state: Any, status: Any
) -> None:
    doc = cdx(
        {"id": "CVE-1", "analysis": {"state": state}, "affects": [{"ref": "pkg:npm/a@1"}]},
        {
            "id": "CVE-2",
            "analysis": {"state": "exploitable"},
            "affects": [{"ref": "pkg:npm/a", "versions": [{"version": "1", "status": status}]}],
        },
    )
    statements, problems = parse_vex(doc, source="v.json")
    assert statements == []
    assert [p.location.field for p in problems] == [
        "vulnerabilities[0]",
        "vulnerabilities[1].affects[0].versions[0].status",
    ]
    openvex = {
        "@context": "https://openvex.dev/ns/v0.2.0",
        "statements": [{"vulnerability": "CVE-3", "products": ["pkg:npm/a"], "status": state}],
    }
    statements, problems = parse_vex(orjson.dumps(openvex), source="o.json")
    assert statements == [] and len(problems) == 1


def _statement(status: str, *ids: str, when: int = 1) -> VexStatement:
    return VexStatement(
        vulnerability=ids[0],
        aliases=ids[1:],
        products=("pkg:pypi/demo",),
        status=status,  # type: ignore[arg-type]
        justification="component_not_present",
        impact=None,
        action=None,
        timestamp=datetime(2024, 1, when, tzinfo=UTC),
        source="v.json",
    )


def test_statement_must_cover_every_cve_of_a_merged_group_to_suppress() -> None:
    group = {"CVE-2024-1", "CVE-2024-2", "GHSA-aaaa", "PYSEC-2024-9"}
    purl = "pkg:pypi/demo@1.0"
    one_cve = _statement("not_affected", "CVE-2024-1")
    only_ghsa = _statement("not_affected", "GHSA-aaaa")
    assert vex_decision([one_cve], group, purl, None) is None
    assert vex_decision([only_ghsa], group, purl, None) is None
    assert vex_decision([one_cve, _statement("fixed", "cve-2024-2")], group, purl, None) is None
    both = _statement("not_affected", "CVE-2024-2", "CVE-2024-1", "GHSA-aaaa")
    assert vex_decision([one_cve, both], group, purl, None) is both
    # a more recent statement saying one CVE is affected still wins over the suppression
    newer = _statement("affected", "CVE-2024-1", when=2)
    assert vex_decision([both, newer], group, purl, None) is newer
    # without CVE ids in the group, any shared id is enough
    assert vex_decision([only_ghsa], {"GHSA-aaaa", "PYSEC-2024-9"}, purl, None) is only_ghsa

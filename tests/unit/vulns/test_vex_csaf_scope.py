"""A CSAF product sits in a ``product_version`` or ``product_version_range`` branch whose name
gives its version scope; its ``purl`` helper often names the package without a version. A
statement about that product covers those versions only: read as the bare purl, a
``known_not_affected`` for ``vers:npm/>=2.0.0`` would suppress the finding in 1.0.0 too."""

from __future__ import annotations

from typing import Any

import orjson

from maat.vulns.vex import parse_vex, vex_decision


def compare(scheme: str, a: str, b: str) -> int:
    """Dotted numeric versions, enough here."""
    left, right = (tuple(int(p) for p in v.split(".")) for v in (a, b))
    return (left > right) - (left < right)


def _branch(category: str, name: str, pid: str) -> dict[str, Any]:
    return {
        "category": category,
        "name": name,
        "product": {
            "name": f"foo {name}",
            "product_id": pid,
            "product_identification_helper": {"purl": "pkg:npm/foo"},
        },
    }


CSAF = {
    "document": {
        "category": "csaf_vex",
        "csaf_version": "2.0",
        "tracking": {"current_release_date": "2024-03-01T12:00:00Z"},
    },
    "product_tree": {
        "branches": [
            {
                "category": "vendor",
                "name": "Example",
                "branches": [
                    {
                        "category": "product_name",
                        "name": "foo",
                        "branches": [
                            _branch("product_version_range", "vers:npm/>=2.0.0", "P-RANGE"),
                            _branch("product_version", "1.5.0", "P-VERSION"),
                            _branch("product_version_range", "2.0 and later", "P-TEXT"),
                        ],
                    }
                ],
            }
        ]
    },
    "vulnerabilities": [
        {
            "cve": "CVE-2024-0001",
            "product_status": {"known_not_affected": ["P-RANGE"]},
            "flags": [{"label": "vulnerable_code_not_present", "product_ids": ["P-RANGE"]}],
        },
        {
            "cve": "CVE-2024-0002",
            "product_status": {"fixed": ["P-VERSION"]},
        },
        {
            "cve": "CVE-2024-0003",
            "product_status": {"known_not_affected": ["P-TEXT"]},
            "flags": [{"label": "vulnerable_code_not_present", "product_ids": ["P-TEXT"]}],
        },
    ],
}


def _status(cve: str, purl: str) -> str | None:
    statements, _ = parse_vex(orjson.dumps(CSAF), source="csaf.json")
    found = vex_decision(statements, {cve}, purl, None, compare=compare)
    return None if found is None else found.status


def test_csaf_version_range_branch_does_not_suppress_outside_its_range() -> None:
    assert _status("CVE-2024-0001", "pkg:npm/foo@2.1.0") == "not_affected"
    assert _status("CVE-2024-0001", "pkg:npm/foo@1.0.0") is None


def test_csaf_version_branch_does_not_suppress_other_versions() -> None:
    assert _status("CVE-2024-0002", "pkg:npm/foo@1.5.0") == "fixed"
    assert _status("CVE-2024-0002", "pkg:npm/foo@1.4.0") is None


def test_csaf_range_branch_that_is_not_vers_suppresses_nothing() -> None:
    assert _status("CVE-2024-0003", "pkg:npm/foo@2.1.0") is None


def _nested(version_branch: dict[str, Any], cve: str) -> dict[str, Any]:
    """A vendor / product_name / <version_branch> / architecture tree (as CSAF producers
    that ship per-architecture builds write it) and a ``fixed`` status for its product."""
    return {
        "document": {"category": "csaf_vex", "csaf_version": "2.0"},
        "product_tree": {
            "branches": [
                {
                    "category": "vendor",
                    "name": "Example",
                    "branches": [
                        {"category": "product_name", "name": "foo", "branches": [version_branch]}
                    ],
                }
            ]
        },
        "vulnerabilities": [{"cve": cve, "product_status": {"fixed": ["P-X86"]}}],
    }


def _arch_below(category: str, name: str) -> dict[str, Any]:
    arch = _branch("architecture", "x86_64", "P-X86")
    return {"category": category, "name": name, "branches": [arch]}


def test_csaf_architecture_branch_below_a_version_branch_keeps_its_version() -> None:
    doc = _nested(_arch_below("product_version", "1.5.0"), "CVE-2024-0004")
    statements, _ = parse_vex(orjson.dumps(doc), source="csaf.json")
    fixed = vex_decision(statements, {"CVE-2024-0004"}, "pkg:npm/foo@1.5.0", None, compare=compare)
    older = vex_decision(statements, {"CVE-2024-0004"}, "pkg:npm/foo@1.4.0", None, compare=compare)
    assert fixed is not None and fixed.status == "fixed"
    assert older is None


def test_csaf_architecture_branch_below_a_range_branch_keeps_its_range() -> None:
    doc = _nested(_arch_below("product_version_range", "vers:npm/>=2.0.0"), "CVE-2024-0005")
    statements, _ = parse_vex(orjson.dumps(doc), source="csaf.json")
    inside = vex_decision(statements, {"CVE-2024-0005"}, "pkg:npm/foo@2.1.0", None, compare=compare)
    outside = vex_decision(
        statements, {"CVE-2024-0005"}, "pkg:npm/foo@1.0.0", None, compare=compare
    )
    assert inside is not None and inside.status == "fixed"
    assert outside is None


def test_csaf_version_branch_without_a_name_suppresses_nothing() -> None:
    # "name" is required; a branch without one has an unknown scope, not every version.
    branch = _arch_below("product_version", "")
    del branch["name"]
    doc = _nested(branch, "CVE-2024-0006")
    statements, _ = parse_vex(orjson.dumps(doc), source="csaf.json")
    assert vex_decision(statements, {"CVE-2024-0006"}, "pkg:npm/foo@1.0.0", None) is None


def test_csaf_versioned_purl_keeps_its_version_beside_a_free_text_branch_name() -> None:
    # Branch names are for people ("foo 1.5.0 (build 7)"); a purl's version is exact.
    branch = _arch_below("product_version", "foo 1.5.0 (build 7)")
    branch["branches"][0]["product"]["product_identification_helper"] = {
        "purl": "pkg:npm/foo@1.5.0"
    }
    doc = _nested(branch, "CVE-2024-0007")
    statements, _ = parse_vex(orjson.dumps(doc), source="csaf.json")
    found = vex_decision(statements, {"CVE-2024-0007"}, "pkg:npm/foo@1.5.0", None)
    assert found is not None and found.status == "fixed"

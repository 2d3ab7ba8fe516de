"""Which component versions and which products a VEX statement reaches.

- An rpm purl carries its epoch in the ``epoch`` qualifier; the subject of such a package is
  matched as ``epoch:version-release``. A VEX product purl must be read the same way, or a
  not_affected statement about that exact package no longer suppresses its finding.
- OpenVEX 0.2.0 puts ``subcomponents`` under each product: product A's subcomponent X says
  nothing about X inside product B of the same statement.
- A CycloneDX ``affects.ref`` naming a component whose purl has no version but which has a
  ``version`` field is about that version only, not every version of the package.
"""

from __future__ import annotations

from typing import Any

import orjson

from maat.core.purl import Purl
from maat.vulns.subjects import subject_from_purl
from maat.vulns.vex import VexStatement, parse_vex, vex_decision

CVE = "CVE-2024-0001"
OPENSSL = "pkg:rpm/redhat/openssl-libs@3.0.7-27.el9?arch=x86_64&epoch=1&distro=rhel-9.4"


def _openvex(*products: Any) -> list[VexStatement]:
    doc = {
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": "https://example.com/vex/1",
        "timestamp": "2024-03-01T12:00:00Z",
        "statements": [
            {
                "vulnerability": {"name": CVE},
                "products": list(products),
                "status": "not_affected",
                "justification": "vulnerable_code_not_in_execute_path",
            }
        ],
    }
    statements, problems = parse_vex(orjson.dumps(doc), source="vex.json")
    assert problems == []
    return statements


def _status(
    statements: list[VexStatement],
    purl: str,
    version: str | None = None,
    product: str | None = None,
) -> str | None:
    found = vex_decision(statements, {CVE}, purl, version, product_purl=product)
    return None if found is None else found.status


# --- rpm epoch ------------------------------------------------------------------------------


def test_rpm_product_purl_with_epoch_qualifier_still_suppresses_the_epoch_subject() -> None:
    statements = _openvex("pkg:rpm/redhat/openssl-libs@3.0.7-27.el9?epoch=1")
    subject = subject_from_purl(Purl.parse(OPENSSL), ref="c1")
    assert subject.version == "1:3.0.7-27.el9"
    assert subject.purl is not None
    assert _status(statements, subject.purl, subject.version) == "not_affected"
    assert _status(statements, subject.purl) == "not_affected"  # version read from the purl


def test_rpm_product_purl_with_another_epoch_does_not_suppress() -> None:
    statements = _openvex("pkg:rpm/redhat/openssl-libs@3.0.7-27.el9?epoch=2")
    purl = OPENSSL.replace("epoch=1", "epoch=2").replace("27.el9", "24.el9")
    assert _status(statements, purl) is None


def test_rpm_subcomponent_purl_with_epoch_qualifier_still_suppresses() -> None:
    statements = _openvex(
        {
            "@id": "pkg:oci/app@sha256%3Aabc",
            "subcomponents": [{"@id": "pkg:rpm/redhat/openssl-libs@3.0.7-27.el9?epoch=1"}],
        }
    )
    subject = subject_from_purl(Purl.parse(OPENSSL), ref="c1")
    assert subject.purl is not None
    product = "pkg:oci/app@sha256%3Aabc"
    assert _status(statements, subject.purl, subject.version, product) == "not_affected"


# --- OpenVEX subcomponents per product ------------------------------------------------------


def test_openvex_subcomponent_of_one_product_does_not_suppress_it_in_another() -> None:
    statements = _openvex(
        {"@id": "pkg:oci/app-a@1.0", "subcomponents": [{"@id": "pkg:npm/x@1.0.0"}]},
        {"@id": "pkg:oci/app-b@1.0", "subcomponents": [{"@id": "pkg:npm/y@1.0.0"}]},
    )
    assert _status(statements, "pkg:npm/x@1.0.0", product="pkg:oci/app-a@1.0") == "not_affected"
    assert _status(statements, "pkg:npm/y@1.0.0", product="pkg:oci/app-b@1.0") == "not_affected"
    assert _status(statements, "pkg:npm/x@1.0.0", product="pkg:oci/app-b@1.0") is None
    assert _status(statements, "pkg:npm/y@1.0.0", product="pkg:oci/app-a@1.0") is None


def test_openvex_product_without_subcomponents_beside_others_is_about_itself() -> None:
    statements = _openvex(
        {"@id": "pkg:oci/app-a@1.0", "subcomponents": [{"@id": "pkg:npm/x@1.0.0"}]},
        {"@id": "pkg:npm/z@2.0.0"},
    )
    assert _status(statements, "pkg:npm/z@2.0.0") == "not_affected"
    assert _status(statements, "pkg:npm/x@1.0.0", product="pkg:npm/z@2.0.0") is None


def test_openvex_statement_level_subcomponents_apply_to_every_product() -> None:
    doc = {
        "@context": "https://openvex.dev/ns/v0.0.1",
        "statements": [
            {
                "vulnerability": CVE,
                "products": ["pkg:oci/app-a@1.0", "pkg:oci/app-b@1.0"],
                "subcomponents": ["pkg:npm/x@1.0.0"],
                "status": "not_affected",
                "justification": "component_not_present",
            }
        ],
    }
    statements, _ = parse_vex(orjson.dumps(doc), source="vex.json")
    for product in ("pkg:oci/app-a@1.0", "pkg:oci/app-b@1.0"):
        assert _status(statements, "pkg:npm/x@1.0.0", product=product) == "not_affected"


def test_openvex_product_with_only_unreadable_subcomponents_is_not_about_itself() -> None:
    doc = {
        "@context": "https://openvex.dev/ns/v0.2.0",
        "statements": [
            {
                "vulnerability": {"name": CVE},
                "products": [{"@id": "pkg:npm/app@1.0.0", "subcomponents": [{"name": "x"}]}],
                "status": "not_affected",
                "justification": "component_not_present",
            }
        ],
    }
    statements, problems = parse_vex(orjson.dumps(doc), source="vex.json")
    assert _status(statements, "pkg:npm/app@1.0.0") is None
    assert [p.location.field for p in problems] == ["statements[0].products[0]", "statements[0]"]


# --- CycloneDX affects.ref to a component with a version field ------------------------------


def _cyclonedx(component: dict[str, Any]) -> list[VexStatement]:
    doc = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "components": [{"bom-ref": "c1", "type": "library", "name": "foo", **component}],
        "vulnerabilities": [
            {
                "id": CVE,
                "analysis": {"state": "not_affected", "justification": "code_not_present"},
                "affects": [{"ref": "c1"}],
            }
        ],
    }
    statements, problems = parse_vex(orjson.dumps(doc), source="vex.cdx.json")
    assert problems == []
    return statements


def test_cyclonedx_ref_to_unversioned_purl_is_limited_to_the_component_version() -> None:
    statements = _cyclonedx({"version": "1.0.0", "purl": "pkg:npm/foo"})
    assert _status(statements, "pkg:npm/foo@1.0.0") == "not_affected"
    assert _status(statements, "pkg:npm/foo@2.0.0") is None


def test_cyclonedx_ref_to_versioned_purl_keeps_the_purl_version() -> None:
    statements = _cyclonedx({"version": "1.0.0", "purl": "pkg:npm/foo@1.0.0"})
    assert _status(statements, "pkg:npm/foo@1.0.0") == "not_affected"
    assert _status(statements, "pkg:npm/foo@2.0.0") is None


def _cyclonedx_versions(ref: str, *versions: dict[str, str]) -> list[VexStatement]:
    doc = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "vulnerabilities": [
            {
                "id": CVE,
                "analysis": {"state": "not_affected", "justification": "code_not_present"},
                "affects": [{"ref": ref, "versions": list(versions)}],
            }
        ],
    }
    statements, problems = parse_vex(orjson.dumps(doc), source="vex.cdx.json")
    assert problems == []
    return statements


def test_cyclonedx_versioned_purl_ref_is_not_suppressed_by_another_versions_entry() -> None:
    # The purl names 1.0.0; the document says only 2.0.0 is unaffected: 1.0.0 stays a finding.
    statements = _cyclonedx_versions(
        "pkg:npm/foo@1.0.0", {"version": "2.0.0", "status": "unaffected"}
    )
    assert _status(statements, "pkg:npm/foo@1.0.0") is None


def test_cyclonedx_versioned_purl_ref_is_not_suppressed_by_a_range_that_excludes_it() -> None:
    statements = _cyclonedx_versions(
        "pkg:npm/foo@1.0.0", {"range": "vers:npm/>=2.0.0", "status": "unaffected"}
    )
    found = vex_decision(statements, {CVE}, "pkg:npm/foo@1.0.0", None, compare=_dotted)
    assert found is None


def test_cyclonedx_versioned_purl_ref_inside_its_range_is_still_suppressed() -> None:
    statements = _cyclonedx_versions(
        "pkg:npm/foo@2.1.0", {"range": "vers:npm/>=2.0.0", "status": "unaffected"}
    )
    found = vex_decision(statements, {CVE}, "pkg:npm/foo@2.1.0", None, compare=_dotted)
    assert found is not None and found.status == "not_affected"


def _dotted(scheme: str, a: str, b: str) -> int:
    left, right = (tuple(int(p) for p in v.split(".")) for v in (a, b))
    return (left > right) - (left < right)


def test_openvex_subcomponents_that_are_not_a_list_are_not_read_as_none() -> None:
    # Read as no subcomponents, the statement was about the product itself and suppressed it.
    doc = {
        "@context": "https://openvex.dev/ns/v0.2.0",
        "statements": [
            {
                "vulnerability": {"name": CVE},
                "products": [
                    {"@id": "pkg:npm/app@1.0.0", "subcomponents": {"@id": "pkg:npm/x@1.0.0"}},
                    {"@id": "pkg:npm/other@1.0.0", "subcomponents": 42},
                ],
                "status": "not_affected",
                "justification": "component_not_present",
            }
        ],
    }
    statements, problems = parse_vex(orjson.dumps(doc), source="vex.json")
    assert _status(statements, "pkg:npm/app@1.0.0") is None
    assert _status(statements, "pkg:npm/other@1.0.0") is None
    found = _status(statements, "pkg:npm/x@1.0.0", product="pkg:npm/app@1.0.0")
    assert found == "not_affected"  # a single subcomponent object is still read
    assert [p.location.field for p in problems] == ["statements[0].products[1]"]


def test_cyclonedx_versions_that_are_not_a_list_of_objects_do_not_cover_every_version() -> None:
    # Skipped as unreadable, the entry was left with no version limit: every version of the
    # package was suppressed by a statement about one.
    for versions in ({"version": "2.0.0", "status": "unaffected"}, ["2.0.0"]):
        doc = {
            "bomFormat": "CycloneDX",
            "specVersion": "1.5",
            "vulnerabilities": [
                {
                    "id": CVE,
                    "analysis": {"state": "not_affected", "justification": "code_not_present"},
                    "affects": [{"ref": "pkg:npm/foo", "versions": versions}],
                }
            ],
        }
        statements, problems = parse_vex(orjson.dumps(doc), source="vex.cdx.json")
        assert _status(statements, "pkg:npm/foo@1.0.0") is None
        if isinstance(versions, dict):  # one object for a list of them: still read
            assert _status(statements, "pkg:npm/foo@2.0.0") == "not_affected"
        else:
            assert [p.location.field for p in problems] == [
                "vulnerabilities[0].affects[0].versions[0]"
            ]

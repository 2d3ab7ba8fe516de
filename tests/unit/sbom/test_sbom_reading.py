"""Synthetic SBOMs: nesting, dependencies, bad components among good ones, refs, licenses."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from maat.core import Digest
from maat.sbom import Sbom, dump_sbom, parse_sbom

CDX_NS = "http://cyclonedx.org/schema/bom/1.5"


def cdx(components: list[Any], **extra: Any) -> bytes:
    doc = {"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1, "components": components}
    doc.update(extra)
    return orjson.dumps(doc)


def spdx2(packages: list[Any], **extra: Any) -> bytes:
    doc = {
        "spdxVersion": "SPDX-2.3",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": "doc",
        "documentNamespace": "https://example.com/doc",
        "packages": packages,
    }
    doc.update(extra)
    return orjson.dumps(doc)


def spdx3(graph: list[Any]) -> bytes:
    head = [
        {
            "@id": "_:ci",
            "type": "CreationInfo",
            "specVersion": "3.0.1",
            "created": "2024-01-01T00:00:00Z",
        },
    ]
    return orjson.dumps(
        {"@context": "https://spdx.org/rdf/3.0.1/spdx-context.jsonld", "@graph": head + graph}
    )


def lib(name: str, version: str = "1.0", /, **extra: Any) -> dict[str, Any]:
    return {"type": "library", "name": name, "version": version, **extra}


def fields(sbom: Sbom) -> list[str | None]:
    return [p.location.field for p in sbom.problems]


# -- nesting ---------------------------------------------------------------------------------


def test_nested_components_are_flattened_with_parents() -> None:
    data = cdx(
        [
            lib(
                "a",
                **{
                    "bom-ref": "A",
                    "components": [lib("b", **{"bom-ref": "B", "components": [lib("c")]})],
                },
            ),
            lib("d", **{"bom-ref": "D"}),
        ],
        metadata={"component": lib("app", **{"bom-ref": "APP", "components": [lib("m")]})},
    )
    sbom = parse_sbom(data, source="n.json")
    assert [(c.name, c.parent, c.location.field) for c in sbom.components] == [
        ("m", "APP", "metadata.component.components[0]"),
        ("a", None, "components[0]"),
        ("b", "A", "components[0].components[0]"),
        ("c", "B", "components[0].components[0].components[0]"),
        ("d", None, "components[1]"),
    ]
    assert sbom.metadata_component is not None
    assert sbom.metadata_component.ref == "APP"
    assert sbom.name == "app"
    assert sbom.components[3].ref == "c@1.0"  # synthesised from name and version


def test_nested_components_in_xml_carry_lines() -> None:
    data = f"""<?xml version="1.0"?>
<bom xmlns="{CDX_NS}" xmlns:x="urn:example:ext" serialNumber="urn:uuid:1" version="1">
  <components>
    <component type="library" bom-ref="A">
      <name>a</name>
      <x:note>vendor extension</x:note>
      <components>
        <component type="library" bom-ref="B">
          <name>b</name>
          <version>2</version>
        </component>
      </components>
    </component>
  </components>
</bom>
""".encode()
    sbom = parse_sbom(data, source="n.xml")
    a, b = sbom.components
    assert (a.ref, a.location.line, a.location.field) == ("A", 4, "components[0]")
    assert (b.ref, b.parent, b.version, b.location.line) == ("B", "A", "2", 8)
    assert b.location.field == "components[0].components[0]"
    assert sbom.serial == "urn:uuid:1"


# -- dependencies ----------------------------------------------------------------------------


def test_cyclonedx_dependency_graph_merges_duplicates() -> None:
    data = cdx(
        [lib("a", **{"bom-ref": "A"}), lib("b", **{"bom-ref": "B"}), lib("c", **{"bom-ref": "C"})],
        dependencies=[
            {"ref": "A", "dependsOn": ["B", "C"]},
            {"ref": "B", "dependsOn": ["C"]},
            {"ref": "A", "dependsOn": ["C", "B"]},
            {"ref": "C"},
            {"dependsOn": ["A"]},
        ],
    )
    sbom = parse_sbom(data, source="d.json")
    assert sbom.dependencies == (("A", ("B", "C")), ("B", ("C",)), ("C", ()))
    assert fields(sbom) == ["dependencies[4]"]


def test_cyclonedx_xml_dependency_graph() -> None:
    data = f"""<bom xmlns="{CDX_NS}">
<components><component type="library" bom-ref="A"><name>a</name></component>
<component type="library" bom-ref="B"><name>b</name></component></components>
<dependencies><dependency ref="A"><dependency ref="B"/></dependency><dependency ref="B"/></dependencies>
</bom>""".encode()
    assert parse_sbom(data).dependencies == (("A", ("B",)), ("B", ()))


def test_spdx2_relationships_give_dependencies_parents_and_the_described_package() -> None:
    packages = [
        {"SPDXID": "SPDXRef-app", "name": "app", "versionInfo": "1"},
        {"SPDXID": "SPDXRef-lib", "name": "lib", "versionInfo": "2"},
        {"SPDXID": "SPDXRef-dev", "name": "dev", "versionInfo": "3"},
        {"SPDXID": "SPDXRef-inner", "name": "inner", "versionInfo": "4"},
    ]
    rels = [
        ("SPDXRef-DOCUMENT", "DESCRIBES", "SPDXRef-app"),
        ("SPDXRef-app", "DEPENDS_ON", "SPDXRef-lib"),
        ("SPDXRef-dev", "DEV_DEPENDENCY_OF", "SPDXRef-app"),
        ("SPDXRef-lib", "CONTAINS", "SPDXRef-inner"),
        ("SPDXRef-app", "GENERATED_FROM", "SPDXRef-lib"),
        ("SPDXRef-app", "DEPENDS_ON", "NOASSERTION"),
    ]
    relationships = [
        {"spdxElementId": a, "relationshipType": t, "relatedSpdxElement": b} for a, t, b in rels
    ]
    sbom = parse_sbom(spdx2(packages, relationships=relationships))
    assert sbom.dependencies == (
        ("SPDXRef-app", ("SPDXRef-lib", "SPDXRef-dev")),
        ("SPDXRef-lib", ("SPDXRef-inner",)),
    )
    assert sbom.component("SPDXRef-inner").parent == "SPDXRef-lib"  # type: ignore[union-attr]
    assert sbom.metadata_component is not None
    assert sbom.metadata_component.ref == "SPDXRef-app"
    assert (sbom.name, sbom.serial, sbom.spec_version) == ("doc", "https://example.com/doc", "2.3")


def test_spdx3_relationships() -> None:
    graph = [
        {
            "type": "software_Package",
            "spdxId": "urn:app",
            "name": "app",
            "software_packageVersion": "1",
            "software_packageUrl": "pkg:pypi/app@1",
            "software_primaryPurpose": "operatingSystem",
            "suppliedBy": "urn:acme",
            "verifiedUsing": [{"type": "Hash", "algorithm": "sha256", "hashValue": "ab" * 32}],
            "externalIdentifier": [
                {
                    "type": "ExternalIdentifier",
                    "externalIdentifierType": "cpe23",
                    "identifier": "cpe:2.3:a:acme:app:1:*:*:*:*:*:*:*",
                }
            ],
        },
        {"type": "software_File", "spdxId": "urn:file", "name": "app.bin"},
        {"type": "software_Package", "spdxId": "urn:lib", "name": "lib"},
        {"type": "Organization", "spdxId": "urn:acme", "name": "Acme"},
        {
            "type": "simplelicensing_LicenseExpression",
            "spdxId": "urn:lic",
            "simplelicensing_licenseExpression": "MIT OR Apache-2.0",
        },
        {
            "type": "Relationship",
            "spdxId": "urn:r1",
            "from": "urn:app",
            "relationshipType": "dependsOn",
            "to": ["urn:lib"],
        },
        {
            "type": "Relationship",
            "spdxId": "urn:r2",
            "from": "urn:app",
            "relationshipType": "contains",
            "to": ["urn:file"],
        },
        {
            "type": "Relationship",
            "spdxId": "urn:r3",
            "from": "urn:app",
            "relationshipType": "hasDeclaredLicense",
            "to": ["urn:lic"],
        },
        {"type": "software_Sbom", "spdxId": "urn:sbom", "rootElement": ["urn:app"]},
        {
            "type": "SpdxDocument",
            "spdxId": "urn:doc",
            "name": "the doc",
            "rootElement": ["urn:sbom"],
        },
    ]
    sbom = parse_sbom(spdx3(graph))
    app = sbom.component("urn:app")
    assert app is not None
    assert (app.version, str(app.purl), app.type, app.supplier) == (
        "1",
        "pkg:pypi/app@1",
        "operating-system",
        "Acme",
    )
    assert app.licenses == ("MIT OR Apache-2.0",)
    assert app.hashes == (Digest("sha256", "ab" * 32),)
    assert app.cpes == ("cpe:2.3:a:acme:app:1:*:*:*:*:*:*:*",)
    assert sbom.component("urn:file").parent == "urn:app"  # type: ignore[union-attr]
    assert sbom.dependencies == (("urn:app", ("urn:lib", "urn:file")),)
    assert sbom.metadata_component == app
    assert (sbom.name, sbom.serial, sbom.spec_version) == ("the doc", "urn:doc", "3.0.1")


# -- bad components among good ones ----------------------------------------------------------


def test_bad_components_are_reported_and_the_rest_kept() -> None:
    data = cdx(
        [
            lib("good", purl="pkg:npm/good@1.0"),
            {"type": "library", "version": "1"},  # no name
            {"type": "library", "name": "x", "version": 1.5},  # version not a string
            {"type": "library", "name": "y", "purl": "pkg:maven/foo@1"},  # maven needs a group
            lib(
                "z",
                hashes=[
                    {"alg": "SHA-256", "content": "abc"},
                    {"alg": "SHA-1", "content": "a" * 40},
                ],
            ),
            "not an object",
            lib("good2"),
        ]
    )
    sbom = parse_sbom(data, source="bad.json")
    assert [c.name for c in sbom.components] == ["good", "x", "y", "z", "good2"]
    assert fields(sbom) == [
        "components[1].name",
        "components[2].version",
        "components[3].purl",
        "components[4].hashes[0]",
        "components[5]",
    ]
    assert all(p.location.file == "bad.json" for p in sbom.problems)
    x, y, z = sbom.components[1:4]
    assert x.version is None
    assert (y.purl, y.purl_text) == (None, "pkg:maven/foo@1")
    assert y.purl_problem is not None and "namespace" in y.purl_problem
    assert z.hashes == (Digest("sha1", "a" * 40),)
    assert "64 hex characters" in sbom.problems[3].message


def test_bad_components_in_xml_are_located_by_line() -> None:
    data = f"""<bom xmlns="{CDX_NS}">
  <components>
    <component type="library"><name>ok</name></component>
    <component type="library">
      <name>bad-hash</name>
      <hashes>
        <hash alg="MD5">1234</hash>
      </hashes>
      <purl>not a purl</purl>
    </component>
    <component type="library"><version>1</version></component>
  </components>
</bom>""".encode()
    sbom = parse_sbom(data, source="bad.xml")
    assert [c.name for c in sbom.components] == ["ok", "bad-hash"]
    assert [(p.location.field, p.location.line) for p in sbom.problems] == [
        ("components[1].purl", 9),
        ("components[1].hashes[0]", 7),
        ("components[2].name", 11),
    ]
    assert sbom.components[1].purl_text == "not a purl"


def test_missing_name_falls_back_to_the_purl_name() -> None:
    sbom = parse_sbom(cdx([{"type": "library", "purl": "pkg:pypi/requests@2.31.0"}]))
    (component,) = sbom.components
    assert (component.name, component.ref) == ("requests", "pkg:pypi/requests@2.31.0")
    assert fields(sbom) == ["components[0].name"]


def test_bad_spdx_tag_value_entry_is_located_by_line() -> None:
    text = b"""SPDXVersion: SPDX-2.3
DataLicense: CC0-1.0
SPDXID: SPDXRef-DOCUMENT
DocumentName: t
DocumentNamespace: https://example.com/t

PackageName: one
SPDXID: SPDXRef-one
PackageVersion: 1.0
PackageChecksum: SHA256: 1234
ExternalRef: PACKAGE-MANAGER purl pkg:npm/one@1.0
ExternalRef: SECURITY cpe23Type cpe:2.3:a:x:one:1.0:*:*:*:*:*:*:*
PackageSupplier: Organization: Acme (acme@example.com)
PackageLicenseConcluded: NOASSERTION
PackageLicenseDeclared: MIT

PackageName: two
SPDXID: SPDXRef-two
Relationship: SPDXRef-one DEPENDS_ON SPDXRef-two
Relationship: broken
"""
    sbom = parse_sbom(text, source="t.spdx")
    one, two = sbom.components
    assert (one.version, str(one.purl), one.supplier, one.licenses) == (
        "1.0",
        "pkg:npm/one@1.0",
        "Acme (acme@example.com)",
        ("MIT",),
    )
    assert one.cpes == ("cpe:2.3:a:x:one:1.0:*:*:*:*:*:*:*",)
    assert (one.location.line, two.location.line) == (7, 17)
    assert [(p.location.field, p.location.line) for p in sbom.problems] == [
        ("packages[0].checksums[0]", 10),
        ("relationships[1]", 20),
    ]
    assert sbom.dependencies == (("SPDXRef-one", ("SPDXRef-two",)),)


def test_spdx3_element_without_name_is_skipped() -> None:
    sbom = parse_sbom(
        spdx3(
            [
                {"type": "software_Package", "spdxId": "urn:x"},
                {"type": "software_Package", "spdxId": "urn:y", "name": "y"},
            ]
        )
    )
    assert [c.ref for c in sbom.components] == ["urn:y"]
    assert fields(sbom) == ["@graph[1].name"]


# -- refs, hashes, licenses, services --------------------------------------------------------


def test_refs_are_synthesised_stably_and_kept_unique() -> None:
    data = cdx(
        [
            lib("a", purl="pkg:npm/a@1.0"),
            lib("a", purl="pkg:npm/a@1.0"),
            lib("b", **{"bom-ref": "dup"}),
            lib("c", **{"bom-ref": "dup"}),
            {"type": "library", "name": "noversion"},
        ]
    )
    first, second = parse_sbom(data), parse_sbom(data)
    assert [c.ref for c in first.components] == [
        "pkg:npm/a@1.0",
        "pkg:npm/a@1.0#2",
        "dup",
        "c@1.0",
        "noversion",
    ]
    assert first.components == second.components
    assert [p.message.split(" (")[0] for p in first.problems] == ["duplicate ref 'dup'"]


def test_hash_algorithms() -> None:
    data = cdx(
        [
            lib(
                "h",
                hashes=[
                    {
                        "alg": "SHA3-256",
                        "content": "ab" * 32,
                    },  # valid, not modelled: skipped quietly
                    {"alg": "BLAKE3", "content": "ab" * 32},
                    {"alg": "SHA-512", "content": "AB" * 64},
                    {"alg": "ROT13", "content": "ab"},
                ],
            )
        ]
    )
    sbom = parse_sbom(data)
    assert sbom.components[0].hashes == (Digest("sha512", "ab" * 64),)
    assert fields(sbom) == ["components[0].hashes[3]"]


def test_licenses_and_suppliers() -> None:
    data = cdx(
        [
            lib(
                "l",
                licenses=[
                    {"license": {"id": "MIT"}},
                    {"license": {"name": "Custom"}},
                    {"expression": "Apache-2.0 OR GPL-2.0-only"},
                    {"license": {"id": "MIT"}},
                    {"oops": 1},
                ],
                supplier={"name": "Acme"},
                cpe="cpe:2.3:a:acme:l:1.0:*:*:*:*:*:*:*",
            ),
            lib("p", publisher="Pub Inc"),
        ]
    )
    sbom = parse_sbom(data)
    first, second = sbom.components
    assert first.licenses == ("MIT", "Custom", "Apache-2.0 OR GPL-2.0-only")
    assert (first.supplier, second.supplier) == ("Acme", "Pub Inc")
    assert first.cpes == ("cpe:2.3:a:acme:l:1.0:*:*:*:*:*:*:*",)
    assert fields(sbom) == ["components[0].licenses[4]"]


def test_services_are_components_of_type_service() -> None:
    data = cdx(
        [],
        services=[
            {
                "bom-ref": "api",
                "name": "API",
                "version": "2",
                "provider": {"name": "Acme Cloud"},
                "services": [{"bom-ref": "db", "name": "DB"}],
            }
        ],
    )
    api, db = parse_sbom(data).components
    assert (api.type, api.supplier, api.location.field) == ("service", "Acme Cloud", "services[0]")
    assert (db.parent, db.location.field) == ("api", "services[0].services[0]")


def test_problem_list_is_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("maat.sbom._common.MAX_PROBLEMS", 3)
    sbom = parse_sbom(cdx([{"type": "library"}] * 5))
    assert len(sbom.problems) == 4
    assert sbom.problems[-1].message == "2 more problems not listed"


def test_unknown_fields_survive_the_round_trip() -> None:
    doc = orjson.loads(
        cdx(
            [
                lib(
                    "a",
                    properties=[{"name": "x", "value": "y"}],
                    **{"x-vendor": {"deep": [1, 2.5, None]}},
                )
            ],
            vulnerabilities=[{"id": "CVE-2024-0001"}],
            signature={"algorithm": "ES256"},
        )
    )
    sbom = parse_sbom(orjson.dumps(doc))
    assert orjson.loads(dump_sbom(sbom)) == doc

"""Fuzzing: arbitrary bytes, JSON, and near-valid SBOMs never raise anything but InvalidInput,
and whatever parses writes back to the same components."""

from __future__ import annotations

import contextlib
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from maat.errors import InvalidInput
from maat.sbom import detect_format, dump_sbom, parse_sbom

FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check(data: bytes) -> None:
    """Parse; if it parses, the written document parses back to the same model."""
    with contextlib.suppress(InvalidInput):
        detect_format(data)
    try:
        sbom = parse_sbom(data, source="fuzz", max_components=500)
    except InvalidInput as exc:
        location = exc.location
        assert location.file == "fuzz"
        return
    again = parse_sbom(dump_sbom(sbom), source="fuzz", max_components=500)
    assert again.components == sbom.components
    assert again.metadata_component == sbom.metadata_component
    assert again.dependencies == sbom.dependencies


scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
KEYS = [
    "bom-ref",
    "type",
    "name",
    "version",
    "purl",
    "cpe",
    "supplier",
    "publisher",
    "hashes",
    "alg",
    "content",
    "licenses",
    "license",
    "id",
    "expression",
    "components",
    "services",
    "provider",
    "ref",
    "dependsOn",
    "metadata",
    "component",
    "SPDXID",
    "versionInfo",
    "checksums",
    "algorithm",
    "checksumValue",
    "externalRefs",
    "referenceType",
    "referenceLocator",
    "hasFiles",
    "fileName",
    "relationships",
    "spdxElementId",
    "relationshipType",
    "relatedSpdxElement",
    "licenseConcluded",
    "primaryPackagePurpose",
    "spdxId",
    "software_packageVersion",
    "software_packageUrl",
    "verifiedUsing",
    "hashValue",
    "externalIdentifier",
    "externalIdentifierType",
    "identifier",
    "suppliedBy",
    "from",
    "to",
    "rootElement",
    "specVersion",
]
STRINGS = [
    "pkg:npm/a@1",
    "pkg:maven/g/a@1",
    "pkg:maven/a",
    "pkg:",
    "SHA-256",
    "SHA-1",
    "MD5",
    "SHA3-256",
    "sha256",
    "a" * 40,
    "b" * 64,
    "purl",
    "cpe23Type",
    "DEPENDS_ON",
    "DEPENDENCY_OF",
    "CONTAINS",
    "DESCRIBES",
    "SPDXRef-DOCUMENT",
    "SPDXRef-a",
    "SPDXRef-b",
    "A",
    "B",
    "library",
    "software_Package",
    "software_File",
    "Relationship",
    "dependsOn",
    "contains",
    "hasDeclaredLicense",
    "packageUrl",
    "cpe22",
    "Hash",
    "SpdxDocument",
    "software_Sbom",
    "CreationInfo",
    "NOASSERTION",
    "",
]
keys = st.sampled_from(KEYS) | st.text(max_size=6)
leaves = scalars | st.sampled_from(STRINGS)
json_values = st.recursive(
    leaves,
    lambda kids: st.lists(kids, max_size=5) | st.dictionaries(keys, kids, max_size=6),
    max_leaves=25,
)
entries = st.lists(st.dictionaries(keys, json_values, max_size=8), max_size=4)


@FUZZ
@given(st.binary(max_size=400))
def test_arbitrary_bytes(data: bytes) -> None:
    check(data)


@FUZZ
@given(
    st.sampled_from([b"{", b"<", b"SPDXVersion: SPDX-2.3\n", b"\xef\xbb\xbf", b"\xff\xfe"]),
    st.binary(max_size=300),
)
def test_arbitrary_bytes_after_a_plausible_start(head: bytes, tail: bytes) -> None:
    check(head + tail)


@FUZZ
@given(json_values)
def test_arbitrary_json(value: Any) -> None:
    check(orjson.dumps(value))


@FUZZ
@given(entries, entries, json_values, st.sampled_from(["1.2", "1.4", "1.6", "1.1", "2"]))
def test_cyclonedx_json_with_arbitrary_entries(
    components: list[Any], services: list[Any], rest: Any, version: str
) -> None:
    doc = {
        "bomFormat": "CycloneDX",
        "specVersion": version,
        "components": components,
        "services": services,
        "metadata": {"component": components[0] if components else rest},
        "dependencies": rest,
    }
    check(orjson.dumps(doc))


@FUZZ
@given(entries, entries, entries, json_values)
def test_spdx2_json_with_arbitrary_entries(
    packages: list[Any], files: list[Any], relationships: list[Any], describes: Any
) -> None:
    doc = {
        "spdxVersion": "SPDX-2.3",
        "SPDXID": "SPDXRef-DOCUMENT",
        "packages": packages,
        "files": files,
        "relationships": relationships,
        "documentDescribes": describes,
    }
    check(orjson.dumps(doc))


@FUZZ
@given(entries, st.sampled_from(["3.0.1", "3.0.0", "2.3", None]))
def test_spdx3_with_arbitrary_graph(graph: list[Any], version: str | None) -> None:
    head = [{"type": "CreationInfo", "specVersion": version}] if version else []
    doc = {"@context": "https://spdx.org/rdf/3.0.1/spdx-context.jsonld", "@graph": head + graph}
    check(orjson.dumps(doc))


TAGS = [
    "PackageName",
    "SPDXID",
    "PackageVersion",
    "PackageChecksum",
    "ExternalRef",
    "PackageSupplier",
    "FileName",
    "FileChecksum",
    "Relationship",
    "LicenseID",
    "SnippetSPDXID",
    "PackageLicenseConcluded",
    "PrimaryPackagePurpose",
    "PackageComment",
]
tag_lines = st.one_of(
    st.tuples(st.sampled_from(TAGS), st.text(max_size=30)).map(lambda t: f"{t[0]}: {t[1]}"),
    st.tuples(st.sampled_from(TAGS), st.text(max_size=30)).map(
        lambda t: f"{t[0]}: <text>{t[1]}</text>"
    ),
    st.sampled_from(
        [
            "PackageChecksum: SHA1: " + "a" * 40,
            "ExternalRef: PACKAGE-MANAGER purl pkg:npm/x@1",
            "Relationship: SPDXRef-a DEPENDS_ON SPDXRef-b",
            "# comment",
            "",
        ]
    ),
    st.text(max_size=30),
)


@FUZZ
@given(st.lists(tag_lines, max_size=25), st.sampled_from(["\n", "\r\n"]))
def test_tag_value_with_arbitrary_lines(lines: list[str], newline: str) -> None:
    check(newline.join(["SPDXVersion: SPDX-2.3", *lines]).encode("utf-8", "surrogatepass"))


xml_text = st.text(alphabet=st.characters(blacklist_categories=["Cs", "Cc"]), max_size=20)
xml_leaf = st.builds(
    lambda tag, text: f"<{tag}>{text}</{tag}>",
    st.sampled_from(["name", "version", "purl", "cpe", "publisher", "group", "x:ext", "hash"]),
    xml_text.map(lambda t: t.replace("&", "&amp;").replace("<", "&lt;")),
)
xml_component = st.recursive(
    st.lists(xml_leaf, max_size=5).map(
        lambda kids: f'<component type="library">{"".join(kids)}</component>'
    ),
    lambda inner: st.lists(inner, max_size=3).map(
        lambda kids: (
            f'<component bom-ref="r"><name>n</name><components>{"".join(kids)}</components></component>'
        )
    ),
    max_leaves=8,
)


@FUZZ
@given(st.lists(xml_component, max_size=5), st.sampled_from(["1.2", "1.5", "1.1"]))
def test_cyclonedx_xml_with_arbitrary_components(components: list[str], version: str) -> None:
    data = (
        f'<bom xmlns="http://cyclonedx.org/schema/bom/{version}" xmlns:x="urn:x">'
        f"<components>{''.join(components)}</components></bom>"
    )
    check(data.encode("utf-8", "surrogatepass"))

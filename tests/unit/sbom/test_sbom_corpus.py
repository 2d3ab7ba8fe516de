"""Every public SBOM example in the shared data folder: parsed, or rejected for the right reason,
and written back without loss; a few hand-checked counts."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import orjson
import pytest

from maat.core import Digest
from maat.errors import InvalidInput
from maat.sbom import Sbom, detect_format, dump_sbom, parse_sbom

DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"
FOLDERS = ("sbom-cyclonedx", "sbom-spdx")
EXTENSIONS = {".json", ".xml", ".spdx", ".jsonld"}

# file (relative to DATA) -> (substring of the message, line, field): the only files rejected.
EXPECTED_REJECTIONS: dict[str, tuple[str, int | None, str | None]] = {
    "sbom-cyclonedx/SBOM/laravel-7.12.0/bom.1.1.xml": (
        "unsupported CycloneDX version '1.1'",
        2,
        "bom@xmlns",
    ),
}

# file -> fields of its problems: the public examples are clean but for these, where a
# package's version and its purl's version really differ (a commit id; another package).
EXPECTED_PROBLEMS: dict[str, list[str]] = {
    "sbom-spdx/presentations/OSS-NA-2023/SPDXVersion2.3/03-SBOMwDependency.json": [
        "packages[0].versionInfo"
    ],
    "sbom-spdx/presentations/OSS-NA-2023/SPDXVersion2.3/05-SBOMwSourceLicense.json": [
        "packages[0].versionInfo"
    ],
    "sbom-spdx/software/example11/spdx2.3/sbom.spdx.json": ["packages[0].versionInfo"],
}


def _files() -> list[str]:
    if not DATA.is_dir():
        return []
    return sorted(
        str(p.relative_to(DATA))
        for folder in FOLDERS
        for p in (DATA / folder).rglob("*")
        if p.is_file() and p.suffix in EXTENSIONS
    )


FILES = _files()
needs_data = pytest.mark.skipif(
    not FILES, reason=f"shared SBOM examples not found under {DATA} (sbom-cyclonedx, sbom-spdx)"
)


def _read(name: str) -> bytes:
    return (DATA / name).read_bytes()


def _parse(name: str) -> Sbom:
    return parse_sbom(_read(name), source=name)


def _xml_shape(element: ET.Element) -> tuple[Any, ...]:
    """Tag (with namespace), attributes, stripped text and children, recursively."""
    return (
        element.tag,
        sorted(element.attrib.items()),
        (element.text or "").strip(),
        (element.tail or "").strip(),
        [_xml_shape(child) for child in element],
    )


def _namespaces(data: bytes) -> list[tuple[str, str]]:
    from io import BytesIO

    # the stdlib parser is only given our own output and the public examples (no DTDs)
    return [ns for _, ns in ET.iterparse(BytesIO(data), events=("start-ns",))]  # noqa: S314


@needs_data
def test_the_corpus_is_there() -> None:
    assert len(FILES) >= 100
    assert set(EXPECTED_REJECTIONS) <= set(FILES)


@needs_data
@pytest.mark.parametrize("name", FILES or ["<none>"])
def test_each_file_parses_or_is_rejected_for_the_expected_reason(name: str) -> None:
    data = _read(name)
    if name in EXPECTED_REJECTIONS:
        message, line, field = EXPECTED_REJECTIONS[name]
        with pytest.raises(InvalidInput) as caught:
            parse_sbom(data, source=name)
        assert message in caught.value.message
        assert caught.value.location.file == name
        assert caught.value.location.line == line
        assert caught.value.location.field == field
        return
    sbom = parse_sbom(data, source=name)
    assert (sbom.format, sbom.encoding) == detect_format(data)
    assert sbom.format == ("cyclonedx" if name.startswith("sbom-cyclonedx") else "spdx")
    fields = [p.location.field for p in sbom.problems]
    assert fields == EXPECTED_PROBLEMS.get(name, [])
    assert all("differs from the purl's version" in p.message for p in sbom.problems)
    refs = [c.ref for c in sbom.components]
    assert len(refs) == len(set(refs))
    for component in sbom.components:
        assert component.name
        assert component.location.file == name
        assert component.purl_problem is None
        if component.parent is not None:
            assert sbom.component(component.parent) is not None


@needs_data
@pytest.mark.parametrize("name", [f for f in FILES if f not in EXPECTED_REJECTIONS] or ["<none>"])
def test_round_trip(name: str) -> None:
    data = _read(name)
    sbom = parse_sbom(data, source=name)
    out = dump_sbom(sbom)
    if sbom.encoding in ("json", "json-ld"):
        assert orjson.loads(out) == orjson.loads(data)
    elif sbom.encoding == "xml":
        reparsed, original = ET.fromstring(out), ET.fromstring(data)  # noqa: S314
        assert _xml_shape(reparsed) == _xml_shape(original)
        assert _namespaces(out) == _namespaces(data)
    else:
        assert sbom.document.pairs() == parse_sbom(out).document.pairs()
    again = parse_sbom(out, source=name)
    assert again.components == sbom.components
    assert again.metadata_component == sbom.metadata_component
    assert again.dependencies == sbom.dependencies
    assert (again.format, again.encoding, again.spec_version) == (
        sbom.format,
        sbom.encoding,
        sbom.spec_version,
    )


# -- hand-checked files ----------------------------------------------------------------------


@needs_data
@pytest.mark.parametrize(
    "name",
    [
        "sbom-cyclonedx/SBOM/juice-shop/v11.1.2/bom.json",
        "sbom-cyclonedx/SBOM/juice-shop/v11.1.2/bom.xml",
    ],
)
def test_juice_shop_11(name: str) -> None:
    sbom = _parse(name)
    assert (sbom.format, sbom.spec_version) == ("cyclonedx", "1.2")
    assert sbom.serial == (
        "urn:uuid:d6aa76fa-e488-480d-9ad0-f67765dfd015"
        if name.endswith(".xml")
        else "urn:uuid:1f860713-54b9-4253-ba5a-9554851904af"
    )
    assert len(sbom.components) == 840
    assert sbom.metadata_component is not None
    assert sbom.metadata_component.purl_text == "pkg:npm/juice-shop@11.1.2"
    assert sbom.name == "juice-shop"
    (express,) = [c for c in sbom.components if c.name == "express"]
    assert express.version == "4.17.1"
    assert str(express.purl) == "pkg:npm/express@4.17.1"
    assert express.ref == "pkg:npm/express@4.17.1"
    assert express.hashes == (Digest.parse("sha1:4491fc38605cf51f8629d39c2b5d026f98a4c134"),)
    assert express.licenses == ("MIT",)
    assert express.type == "framework"
    assert express.location.field == "components[299]"
    if name.endswith(".xml"):
        assert express.location.line is not None
        line = _read(name).decode().splitlines()[express.location.line - 1]
        assert "<component" in line


@needs_data
def test_juice_shop_14_nested_and_dependencies() -> None:
    sbom = _parse("sbom-cyclonedx/SBOM/juice-shop/via_npm/bare/bom.1.4.json")
    assert len(sbom.components) == 1115
    nested = [c for c in sbom.components if c.parent is not None]
    assert len(nested) == 278
    first = nested[0]
    assert first.ref == "@mapbox/node-pre-gyp@1.0.10|ansi-regex@5.0.1"
    assert first.parent == "@mapbox/node-pre-gyp@1.0.10"
    assert first.location.field == "components[7].components[0]"
    assert len(sbom.dependencies) == 1116
    graph = sbom.dependency_map
    assert len(graph["juice-shop@14.1.1"]) == 71
    assert "body-parser@1.20.2" in graph["juice-shop@14.1.1"]
    assert "@mapbox/node-pre-gyp@1.0.10|detect-libc@2.0.1" in graph["@mapbox/node-pre-gyp@1.0.10"]
    xml = _parse("sbom-cyclonedx/SBOM/juice-shop/via_npm/bare/bom.1.4.xml")
    assert [(c.ref, c.purl, c.hashes, c.parent) for c in xml.components] == [
        (c.ref, c.purl, c.hashes, c.parent) for c in sbom.components
    ]
    assert xml.dependencies == sbom.dependencies


@needs_data
def test_spdx_23_json_example() -> None:
    sbom = _parse("sbom-spdx/software/example11/spdx2.3/sbom.spdx.json")
    assert (sbom.format, sbom.encoding, sbom.spec_version) == ("spdx", "json", "2.3")
    packages = [c for c in sbom.components if c.type != "file"]
    files = [c for c in sbom.components if c.type == "file"]
    assert (len(packages), len(files)) == (4, 1)
    tokio = sbom.component("SPDXRef-Package-SPDXRef-Package-cargo-tokio-1")
    assert tokio is not None
    assert (tokio.name, tokio.version, str(tokio.purl)) == (
        "tokio",
        "1.19.2",
        "pkg:cargo/tokio@1.19.2",
    )
    assert tokio.hashes[0].algorithm == "sha256"
    deps = sbom.dependency_map["SPDXRef-Package-hello-server-src"]
    assert "SPDXRef-Package-SPDXRef-Package-cargo-tokio-1" in deps
    assert len(deps) == 3
    assert sbom.metadata_component is not None
    assert sbom.metadata_component.ref == "SPDXRef-Package-hello-server-src"


@needs_data
def test_spdx_22_tag_value_example() -> None:
    name = "sbom-spdx/software/example3/spdx2.2/example3-bin.spdx"
    sbom = _parse(name)
    assert (sbom.encoding, sbom.spec_version, sbom.name) == ("tag-value", "2.2", "main-bin")
    assert sbom.serial == "https://swinslow.net/spdx-examples/example3/main-bin-v2"
    assert [c.ref for c in sbom.components] == [
        "SPDXRef-Package-main-bin",
        "SPDXRef-lib-binary",
        "SPDXRef-main-binary",
    ]
    lib = sbom.components[1]
    assert lib.parent == "SPDXRef-Package-main-bin"
    assert lib.location.line == 26  # its FileName line
    assert len(lib.hashes) == 3
    # RUNTIME_DEPENDENCY_OF and DYNAMIC_LINK both say main depends on lib
    assert sbom.dependencies == (("SPDXRef-main-binary", ("SPDXRef-lib-binary",)),)


@needs_data
def test_spdx_3_example() -> None:
    sbom = _parse("sbom-spdx/software/example14/spdx3.0/examplemaven-0.0.1-enriched.spdx3.json")
    assert (sbom.encoding, sbom.spec_version, sbom.name) == ("json-ld", "3.0.1", "examplemaven")
    assert len(sbom.components) == 9
    assert sum(c.type == "file" for c in sbom.components) == 3
    root = sbom.metadata_component
    assert root is not None
    assert (root.name, root.version, root.supplier, root.licenses) == (
        "examplemaven",
        "0.0.1",
        "SPDX",
        ("Apache-2.0",),
    )
    (junit,) = [c for c in sbom.components if c.name == "JUnit"]
    assert (junit.version, junit.licenses) == ("3.8.1", ("CPL-1.0",))
    assert junit.ref in sbom.dependency_map[root.ref]  # LifecycleScopedRelationship dependsOn

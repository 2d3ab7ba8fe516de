"""Inputs refused as a whole: not SBOMs, unsupported versions, broken syntax, unsafe XML, limits;
and format detection."""

from __future__ import annotations

from dataclasses import replace

import orjson
import pytest

from maat.errors import InvalidInput
from maat.sbom import detect_format, dump_sbom, parse_sbom

CDX = b'{"bomFormat": "CycloneDX", "specVersion": "1.4", "version": 1, "components": []}'
CDX_XML = b'<bom xmlns="http://cyclonedx.org/schema/bom/1.6" version="1"/>'
SPDX_JSON = b'{"spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT", "name": "x"}'
SPDX_TV = b"SPDXVersion: SPDX-2.2\nDataLicense: CC0-1.0\n"
SPDX3 = (
    b'{"@context": "https://spdx.org/rdf/3.0.1/spdx-context.jsonld", "@graph": '
    b'[{"type": "CreationInfo", "@id": "_:c", "specVersion": "3.0.1"}]}'
)


def rejected(data: bytes, **kwargs: object) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        parse_sbom(data, source="in.file", **kwargs)  # type: ignore[arg-type]
    assert caught.value.location.file == "in.file"
    return caught.value


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (CDX, ("cyclonedx", "json")),
        (b"\xef\xbb\xbf" + CDX, ("cyclonedx", "json")),
        (CDX.decode().encode("utf-16"), ("cyclonedx", "json")),
        (
            b'{"$schema": "http://cyclonedx.org/schema/bom-1.5.schema.json", "specVersion": "1.5"}',
            ("cyclonedx", "json"),
        ),
        (CDX_XML, ("cyclonedx", "xml")),
        (
            b'<?xml version="1.0" encoding="UTF-16"?>'.decode().encode("utf-16")
            + CDX_XML.decode().encode("utf-16")[2:],
            ("cyclonedx", "xml"),
        ),
        (SPDX_JSON, ("spdx", "json")),
        (b"# comment\n\n" + SPDX_TV, ("spdx", "tag-value")),
        (SPDX3, ("spdx", "json-ld")),
    ],
)
def test_detect_format(data: bytes, expected: tuple[str, str]) -> None:
    assert detect_format(data) == expected


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "the input is empty"),
        (b"   \n ", "the input is empty"),
        (b"\x00\x01\x02binary", "binary data"),
        (b"hello world\n", "text that is not SPDX tag-value"),
        (b"[1, 2, 3]", "the JSON is an array"),
        (b'"just a string"', "text that is not SPDX tag-value"),
        (b'{"type": "bundle", "id": "bundle--1", "objects": []}', "a STIX bundle"),
        (b'{"id": "GHSA-xxxx", "affected": []}', "an OSV advisory"),
        (b'{"document": {"csaf_version": "2.0"}}', "a CSAF document"),
        (b'{"bomFormat": "SWID", "specVersion": "1.4"}', "bomFormat is 'SWID'"),
        (b'{"@context": "https://openvex.dev/ns/v0.2.0"}', "whose @context is not SPDX 3"),
        (b'{"specVersion": "1.4", "components": []}', "specVersion but no bomFormat"),
        (b'{"foo": 1}', "keys: 'foo'"),
        (b"<html><body/></html>", "an XML document with root <html>"),
        (b'<bom xmlns="urn:other"/>', "not in a CycloneDX namespace"),
        (b"bomFormat: CycloneDX\nspecVersion: '1.4'\n", "YAML are not supported"),
        (
            b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
            b'xmlns:spdx="http://spdx.org/rdf/terms#"/>',
            "SPDX RDF/XML is not supported",
        ),
    ],
)
def test_not_an_sbom_says_what_it_looks_like(data: bytes, message: str) -> None:
    error = rejected(data)
    assert message in error.message
    with pytest.raises(InvalidInput):
        detect_format(data)


@pytest.mark.parametrize(
    ("data", "message", "field", "line"),
    [
        (
            CDX.replace(b'"1.4"', b'"1.1"'),
            "unsupported CycloneDX version '1.1'",
            "specVersion",
            None,
        ),
        (
            CDX.replace(b'"1.4"', b'"1.7"'),
            "unsupported CycloneDX version '1.7'",
            "specVersion",
            None,
        ),
        (
            CDX.replace(b'"1.4"', b"1.4"),
            "specVersion must be a non-empty string",
            "specVersion",
            None,
        ),
        (
            b'\n<bom xmlns="http://cyclonedx.org/schema/bom/1.0"/>',
            "unsupported CycloneDX version '1.0'",
            "bom@xmlns",
            2,
        ),
        (
            SPDX_JSON.replace(b"2.3", b"2.1"),
            "unsupported SPDX version 'SPDX-2.1'",
            "spdxVersion",
            None,
        ),
        (b"# hi\nSPDXVersion: SPDX-2.1\n", "unsupported SPDX version 'SPDX-2.1'", "spdxVersion", 2),
        (
            SPDX3.replace(b"3.0.1", b"3.1.0", 2),
            "unsupported SPDX version '3.1.0'",
            "@graph[0].specVersion",
            None,
        ),
        (
            b'{"@context": "https://spdx.org/rdf/3.0.1/spdx-context.jsonld", "@graph": 5}',
            "@graph must be an array",
            "@graph",
            None,
        ),
    ],
)
def test_unsupported_versions(data: bytes, message: str, field: str, line: int | None) -> None:
    error = rejected(data)
    assert message in error.message
    assert (error.location.field, error.location.line) == (field, line)


@pytest.mark.parametrize(
    ("data", "message", "line"),
    [
        (b'{"bomFormat": "CycloneDX",\n "specVersion": "1.4",\n oops}', "not valid JSON", 3),
        (
            b'<bom xmlns="http://cyclonedx.org/schema/bom/1.4">\n<components>\n</bom>',
            "not well-formed XML: mismatched tag",
            3,
        ),
        (b"<bom xmlns:x='urn:x'><y:z/></bom>", "prefix 'y'", 1),
        (b"SPDXVersion: SPDX-2.3\nthis is not a tag\n", "expected 'Tag: value'", 2),
        (b"SPDXVersion: SPDX-2.3\nPackageComment: <text>never\nclosed\n", "never closed", 2),
        (b"\xff\xfe\x00\xd8", "not valid UTF-16", None),
    ],
)
def test_broken_syntax_is_located(data: bytes, message: str, line: int | None) -> None:
    error = rejected(data)
    assert message in error.message
    assert error.location.line == line


# -- unsafe XML ------------------------------------------------------------------------------

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE bom [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<bom xmlns="http://cyclonedx.org/schema/bom/1.4"><components><component type="library">
<name>&xxe;</name></component></components></bom>"""

LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<bom xmlns="http://cyclonedx.org/schema/bom/1.4"><metadata>&lol3;</metadata></bom>"""


@pytest.mark.parametrize(
    "data",
    [
        XXE,
        LAUGHS,
        b'<!DOCTYPE bom SYSTEM "http://attacker.example/x.dtd"><bom/>',
        XXE.decode().replace('version="1.0"', 'version="1.0" encoding="UTF-16"').encode("utf-16"),
    ],
    ids=["xxe", "billion-laughs", "external-dtd", "xxe-utf16"],
)
def test_dtds_and_entities_are_refused(data: bytes) -> None:
    error = rejected(data)
    assert "DTD or entity declarations is refused" in error.message
    assert error.location.line == (1 if b"attacker" in data else 2)


def test_deep_xml_is_refused() -> None:
    data = (
        b'<bom xmlns="http://cyclonedx.org/schema/bom/1.4">'
        + b"<a>" * 300
        + b"</a>" * 300
        + b"</bom>"
    )
    assert "nested deeper than 256" in rejected(data).message


def test_deep_json_is_refused() -> None:
    deep = (
        b'{"bomFormat": "CycloneDX", "specVersion": "1.4", "x": ' + b"[" * 300 + b"]" * 300 + b"}"
    )
    assert "nested too deeply" in rejected(deep).message
    deeper = (
        b'{"bomFormat": "CycloneDX", "specVersion": "1.4", "x": ' + b"[" * 2000 + b"]" * 2000 + b"}"
    )
    assert "not valid JSON" in rejected(deeper).message


# -- limits ----------------------------------------------------------------------------------


def test_size_limit() -> None:
    error = rejected(CDX, max_bytes=10)
    assert error.message == f"SBOM is {len(CDX)} bytes, above the limit of 10 bytes"
    assert error.hint is not None and "max_bytes" in error.hint
    assert parse_sbom(CDX, max_bytes=len(CDX)).spec_version == "1.4"


def _many_cdx(n: int) -> bytes:
    nested = {
        "type": "library",
        "name": "p",
        "components": [{"type": "library", "name": f"c{i}"} for i in range(n - 1)],
    }
    return orjson.dumps({"bomFormat": "CycloneDX", "specVersion": "1.4", "components": [nested]})


def _many_xml(n: int) -> bytes:
    items = "".join(f'<component type="library"><name>c{i}</name></component>\n' for i in range(n))
    return f'<bom xmlns="http://cyclonedx.org/schema/bom/1.4"><components>\n{items}</components></bom>'.encode()


def _many_spdx2(n: int) -> bytes:
    return orjson.dumps(
        {
            "spdxVersion": "SPDX-2.3",
            "packages": [{"SPDXID": f"SPDXRef-{i}", "name": "p"} for i in range(n)],
        }
    )


def _many_tv(n: int) -> bytes:
    return ("SPDXVersion: SPDX-2.3\n" + "".join(f"PackageName: p{i}\n" for i in range(n))).encode()


def _many_spdx3(n: int) -> bytes:
    graph = [{"type": "CreationInfo", "specVersion": "3.0.1"}]
    graph += [{"type": "software_Package", "spdxId": f"urn:{i}", "name": "p"} for i in range(n)]
    return orjson.dumps(
        {"@context": "https://spdx.org/rdf/3.0.1/spdx-context.jsonld", "@graph": graph}
    )


@pytest.mark.parametrize(
    ("make", "field", "line"),
    [
        (_many_cdx, "components[0].components[4]", None),
        (_many_xml, "components[5]", 7),
        (_many_spdx2, "packages[5]", None),
        (_many_tv, "packages[5]", 7),
        (_many_spdx3, "@graph[6]", None),
    ],
    ids=["cyclonedx-json-nested", "cyclonedx-xml", "spdx-json", "spdx-tag-value", "spdx3"],
)
def test_component_limit(make: object, field: str, line: int | None) -> None:
    assert callable(make)
    assert len(parse_sbom(make(5), max_components=5).components) == 5
    error = rejected(make(6), max_components=5)
    assert error.message == "more than 5 components"
    assert (error.location.field, error.location.line) == (field, line)


def test_dump_refuses_a_document_of_the_wrong_kind() -> None:
    sbom = parse_sbom(CDX)
    broken = replace(sbom, encoding="xml")
    with pytest.raises(InvalidInput):
        dump_sbom(broken)
    with pytest.raises(InvalidInput):
        parse_sbom("text")  # type: ignore[arg-type]

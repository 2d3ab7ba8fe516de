"""Reading any supported SBOM into the component model, and writing it back unchanged.

:func:`parse_sbom` recognises the format (:func:`maat.sbom.detect_format`), enforces the
caller's limits and reads the document; :func:`dump_sbom` writes the kept original document in
its format and encoding, so fields Maat does not model survive the round trip.
"""

from __future__ import annotations

import orjson

from maat.errors import InvalidInput
from maat.sbom._xml import write_xml
from maat.sbom.cyclonedx import read_cyclonedx_json
from maat.sbom.cyclonedx_xml import read_cyclonedx_xml
from maat.sbom.detect import sniff
from maat.sbom.model import Sbom, TagValueDocument, XmlDocument
from maat.sbom.spdx2 import read_spdx2_json
from maat.sbom.spdx3 import read_spdx3
from maat.sbom.spdx_tagvalue import read_spdx_tagvalue, write_tagvalue

__all__ = ["dump_sbom", "parse_sbom"]


def parse_sbom(
    data: bytes,
    *,
    source: str = "<bytes>",
    max_bytes: int = 64 << 20,
    max_components: int = 200_000,
) -> Sbom:
    """Read a CycloneDX 1.2–1.6 (JSON, XML), SPDX 2.2/2.3 (JSON, tag-value) or SPDX 3.0
    (JSON-LD) document.

    ``source`` names the input in locations (usually the file name). Raises
    :class:`~maat.errors.InvalidInput` (with file, line when known, and field) when the input
    is above ``max_bytes``, has more than ``max_components`` components, is not an SBOM, has an
    unsupported spec version or broken syntax. A bad component does not stop the import: it is
    skipped or partly read, and a located :class:`~maat.errors.Problem` is added to
    ``problems``.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidInput(f"expected bytes, got {type(data).__name__}", file=source)
    if len(data) > max_bytes:
        raise InvalidInput(
            f"SBOM is {len(data)} bytes, above the limit of {max_bytes} bytes",
            file=source,
            hint="raise the SBOM size limit (max_bytes) if this SBOM is genuine",
        )
    found = sniff(bytes(data), source)
    if found.json is not None:
        try:
            orjson.dumps(found.json)
        except orjson.JSONEncodeError:
            raise InvalidInput(
                "JSON nested too deeply to be written back (more than 254 levels)", file=source
            ) from None
        if found.format == "cyclonedx":
            return read_cyclonedx_json(found.json, source, max_components)
        if found.encoding == "json":
            return read_spdx2_json(found.json, source, max_components)
        return read_spdx3(found.json, source, max_components)
    if found.xml is not None:
        document, info = found.xml
        return read_cyclonedx_xml(document, info, source, max_components)
    assert found.tag_value is not None
    return read_spdx_tagvalue(found.tag_value, source, max_components, found.problem)


def dump_sbom(sbom: Sbom) -> bytes:
    """Write ``sbom.document`` back in the SBOM's format and encoding.

    JSON and JSON-LD are written with orjson (two-space indent): ``orjson.loads`` of the output
    equals the original document. XML keeps tags, prefixes, namespace declarations, attributes,
    text, comments and line numbers, and is written as UTF-8. Tag-value keeps the tag/value
    pairs in order, ``<text>`` blocks, comment lines and line numbers.
    """
    document = sbom.document
    if sbom.encoding in ("json", "json-ld"):
        if not isinstance(document, dict):
            raise InvalidInput(f"a {sbom.encoding} SBOM's document must be a dict")
        try:
            return orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)
        except orjson.JSONEncodeError as exc:
            raise InvalidInput(f"the document cannot be written as JSON: {exc}") from None
    if sbom.encoding == "xml":
        if not isinstance(document, XmlDocument):
            raise InvalidInput("an XML SBOM's document must be an XmlDocument")
        return write_xml(document)
    if sbom.encoding == "tag-value":
        if not isinstance(document, TagValueDocument):
            raise InvalidInput("a tag-value SBOM's document must be a TagValueDocument")
        return write_tagvalue(document)
    raise InvalidInput(f"unknown SBOM encoding {sbom.encoding!r}", field="encoding")

"""Recognising an SBOM's format and encoding from its bytes.

JSON (``{``), XML (``<``) and text are told apart by the first significant character, after a
byte-order mark (UTF-8, UTF-16 or UTF-32) if any. JSON is CycloneDX when ``bomFormat`` is
``CycloneDX`` (or, lacking it, when ``$schema`` is a CycloneDX schema), SPDX 2 when it has
``spdxVersion``, SPDX 3 when its ``@context`` is the SPDX 3 vocabulary. XML is CycloneDX when
the root is ``bom`` in a CycloneDX namespace. Text is SPDX tag-value when a line starts with
``SPDXVersion:``. A JSON that claims two formats is refused (tools would disagree on its
components). Anything else is rejected with what it looks like.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from typing import Any

import orjson

from maat.errors import InvalidInput, Problem
from maat.sbom._common import describe
from maat.sbom._xml import NodeInfo, parse_xml
from maat.sbom.cyclonedx_xml import CYCLONEDX_NS
from maat.sbom.model import TagValueDocument, XmlDocument
from maat.sbom.spdx3 import is_spdx3_context
from maat.sbom.spdx_tagvalue import decode_text, parse_tagvalue

__all__ = ["Sniffed", "detect_format", "sniff"]

_RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_TAG_VALUE = re.compile(r"^[ \t]*SPDXVersion[ \t]*:", re.MULTILINE)
_YAML_SPDX = re.compile(r"^[ \t]*[\"']?spdxVersion[\"']?[ \t]*:", re.MULTILINE)
_YAML_CDX = re.compile(r"^[ \t]*[\"']?bomFormat[\"']?[ \t]*:", re.MULTILINE)


@dataclass
class Sniffed:
    """What :func:`sniff` found: format, encoding and the parsed document."""

    format: str
    encoding: str
    json: dict[str, Any] | None = None
    xml: tuple[XmlDocument, NodeInfo] | None = None
    tag_value: TagValueDocument | None = None
    problem: Problem | None = None


def _not_sbom(
    what: str, source: str, *, line: int | None = None, field: str | None = None
) -> InvalidInput:
    return InvalidInput(
        f"not an SBOM: {what}",
        file=source,
        line=line,
        field=field,
        hint="expected CycloneDX 1.2-1.6 (JSON or XML) or SPDX 2.2/2.3 (JSON or tag-value) "
        "or SPDX 3.0 (JSON-LD)",
    )


def _classify_json(doc: object, source: str) -> Sniffed:
    if not isinstance(doc, dict):
        raise _not_sbom(f"the JSON is {describe(doc)}, not an object", source)
    bom_format = doc.get("bomFormat")
    schema = doc.get("$schema")
    claims: list[tuple[str, str, str]] = []
    if (isinstance(bom_format, str) and bom_format.strip().lower() == "cyclonedx") or (
        bom_format is None and isinstance(schema, str) and "cyclonedx" in schema.lower()
    ):
        claims.append(("cyclonedx", "json", "CycloneDX (bomFormat / $schema)"))
    if "spdxVersion" in doc:
        claims.append(("spdx", "json", "SPDX 2 (spdxVersion)"))
    if is_spdx3_context(doc.get("@context")):
        claims.append(("spdx", "json-ld", "SPDX 3 (@context)"))
    if len(claims) > 1:
        # other tools would read it as the other format and see other components
        raise InvalidInput(
            f"ambiguous SBOM: the JSON is both {' and '.join(c[2] for c in claims)}",
            file=source,
            hint="an SBOM must be in exactly one format; ask the vendor for a clean document",
        )
    if claims:
        return Sniffed(claims[0][0], claims[0][1], json=doc)
    if bom_format is not None:
        raise _not_sbom(
            f"bomFormat is {str(bom_format)[:40]!r}, not 'CycloneDX'", source, field="bomFormat"
        )
    if "@context" in doc:
        context = orjson.dumps(doc["@context"]).decode()[:80]
        raise _not_sbom(
            f"a JSON-LD document whose @context is not SPDX 3 ({context})", source, field="@context"
        )
    document = doc.get("document")
    if isinstance(document, dict) and "csaf_version" in document:
        what = "a CSAF document"
    elif doc.get("type") == "bundle" and "objects" in doc:
        what = "a STIX bundle"
    elif "affected" in doc and "id" in doc:
        what = "an OSV advisory"
    elif "sigstore" in str(doc.get("mediaType", "")):
        what = "a Sigstore bundle"
    elif "specVersion" in doc:
        what = "a JSON object with specVersion but no bomFormat 'CycloneDX'"
    else:
        keys = ", ".join(repr(k[:30]) for k in list(doc)[:6]) or "none"
        what = f"a JSON object without bomFormat, spdxVersion or an SPDX @context (keys: {keys})"
    raise _not_sbom(what, source)


def _classify_xml(data: bytes, source: str) -> Sniffed:
    document, info = parse_xml(data, source)
    uri, local, line = info[id(document.root)]
    if local == "bom" and uri is not None and uri.startswith(CYCLONEDX_NS):
        return Sniffed("cyclonedx", "xml", xml=(document, info))
    if uri == _RDF_NS and b"spdx.org/rdf" in data:
        raise InvalidInput(
            "SPDX RDF/XML is not supported",
            file=source,
            line=line,
            hint="convert it to SPDX JSON or tag-value (e.g. with spdx-tools)",
        )
    if local == "bom":
        raise _not_sbom(
            f"the XML root <bom> is not in a CycloneDX namespace (namespace {uri!r})",
            source,
            line=line,
            field="bom@xmlns",
        )
    shown = f"{{{uri}}}{local}" if uri else local
    raise _not_sbom(f"an XML document with root <{shown[:120]}>", source, line=line)


def _classify_text(data: bytes, source: str) -> Sniffed:
    if not data.strip():
        raise _not_sbom("the input is empty", source)
    if b"\x00" in data[:4096]:
        raise _not_sbom("binary data", source)
    text, problem = decode_text(data, source)
    if _TAG_VALUE.search(text):
        return Sniffed("spdx", "tag-value", tag_value=parse_tagvalue(text, source), problem=problem)
    if _YAML_SPDX.search(text) or _YAML_CDX.search(text):
        raise InvalidInput(
            "SBOMs in YAML are not supported",
            file=source,
            hint="convert it to JSON (CycloneDX / SPDX) or SPDX tag-value",
        )
    lines = text.strip().splitlines()
    first = lines[0][:60] if lines else ""
    raise _not_sbom(
        f"text that is not SPDX tag-value (no SPDXVersion line; starts {first!r})", source, line=1
    )


def sniff(data: bytes, source: str = "<bytes>") -> Sniffed:
    """Recognise and parse ``data``; raises :class:`InvalidInput` for anything not an SBOM."""
    text: str | None = None
    for bom, codec in _BOMS:
        if data.startswith(bom):
            if codec == "utf-8-sig":
                data = data[len(bom) :]
                break
            try:
                text = data.decode(codec)
            except UnicodeDecodeError as exc:
                raise InvalidInput(
                    f"not valid {codec.upper()}: {exc.reason}", file=source
                ) from None
            break
    head = text.lstrip()[:1] if text is not None else data.lstrip()[:1].decode("latin-1")
    if head in ("{", "["):
        try:
            parsed = orjson.loads(text if text is not None else data)
        except orjson.JSONDecodeError as exc:
            raise InvalidInput(f"not valid JSON: {exc.msg}", file=source, line=exc.lineno) from None
        return _classify_json(parsed, source)
    if head == "<":
        return _classify_xml(data, source)
    if text is not None:
        data = text.encode("utf-8")
    return _classify_text(data, source)


def detect_format(data: bytes, *, source: str = "<bytes>") -> tuple[str, str]:
    """``(format, encoding)`` of an SBOM: ``("cyclonedx", "json")``, ``("spdx", "tag-value")`` …

    Raises :class:`InvalidInput` saying what the input looks like when it is not an SBOM (or is
    malformed JSON / XML). The version is not checked here; :func:`maat.sbom.parse_sbom` does.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidInput(f"expected bytes, got {type(data).__name__}", file=source)
    found = sniff(bytes(data), source)
    return found.format, found.encoding

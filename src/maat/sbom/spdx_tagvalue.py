"""SPDX 2.2 / 2.3 tag-value: reading, shaping as SPDX JSON, and writing back.

The document is kept as its ordered entries (:class:`TagValueEntry`): tag/value pairs,
``<text>…</text>`` blocks (flagged, so they are written back as blocks) and comment lines.
Blank lines are not kept as entries but every entry keeps its line, and the writer pads with
blank lines so a written document has its entries on the lines they were read from.

For the component model the entries are shaped as SPDX 2 JSON (``packages``, ``files``,
``relationships`` …) with the line of every field path, and read by :mod:`maat.sbom.spdx2`.
Files that follow a package belong to it (``hasFiles``), as the tag-value format says.
"""

from __future__ import annotations

import re
from typing import Any

from maat.errors import InvalidInput, Problem
from maat.sbom._common import Collector
from maat.sbom.model import Sbom, TagValueDocument, TagValueEntry
from maat.sbom.spdx2 import check_version, pick_described, read_spdx2

__all__ = ["decode_text", "parse_tagvalue", "read_spdx_tagvalue", "write_tagvalue"]

_TAG = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")

_DOCUMENT = {
    "SPDXVersion": "spdxVersion",
    "DocumentName": "name",
    "DocumentNamespace": "documentNamespace",
    "DataLicense": "dataLicense",
}
_PACKAGE = {
    "PackageVersion": "versionInfo",
    "PackageSupplier": "supplier",
    "PackageLicenseConcluded": "licenseConcluded",
    "PackageLicenseDeclared": "licenseDeclared",
    "PrimaryPackagePurpose": "primaryPackagePurpose",
}
_FILE = {"LicenseConcluded": "licenseConcluded"}


def decode_text(data: bytes, source: str) -> tuple[str, Problem | None]:
    """Decode UTF-8 (BOM allowed); other bytes are read as Latin-1 with a problem."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        problem = Problem.at(
            "not valid UTF-8; the document was read as Latin-1", file=source, line=line
        )
        return data.decode("latin-1"), problem


def parse_tagvalue(text: str, source: str) -> TagValueDocument:
    """Split tag-value text into entries; a line that is not ``Tag: value`` is rejected."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    entries: list[TagValueEntry] = []
    i = 0
    while i < len(lines):
        raw = lines[i]
        number = i + 1
        i += 1
        stripped = raw.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            entries.append(TagValueEntry(None, raw.rstrip(), number))
            continue
        tag, sep, value = raw.partition(":")
        tag = tag.strip()
        if not sep or not _TAG.fullmatch(tag):
            raise InvalidInput(
                f"expected 'Tag: value', got {stripped[:80]!r}", file=source, line=number
            )
        value = value.strip()
        if not value.startswith("<text>"):
            entries.append(TagValueEntry(tag, value, number))
            continue
        rest = value[len("<text>") :]
        parts: list[str] = []
        trailer = ""
        while True:
            end = rest.find("</text>")
            if end >= 0:
                parts.append(rest[:end])
                trailer = rest[end + len("</text>") :].rstrip()
                break
            parts.append(rest)
            if i >= len(lines):
                raise InvalidInput(
                    f"<text> of {tag} is never closed with </text>",
                    file=source,
                    line=number,
                    field=tag,
                )
            rest = lines[i]
            i += 1
        entries.append(TagValueEntry(tag, "\n".join(parts), number, True, trailer))
    return TagValueDocument(tuple(entries))


def write_tagvalue(document: TagValueDocument) -> bytes:
    """Write entries back as tag-value text (UTF-8), each on the line it was read from."""
    out: list[str] = []
    current = 1
    for entry in document.entries:
        if entry.line > current:
            out.append("\n" * (entry.line - current))
            current = entry.line
        if entry.tag is None:
            text = entry.value if entry.value.lstrip().startswith("#") else f"# {entry.value}"
        elif entry.block or "\n" in entry.value or entry.value.startswith("<text>"):
            text = f"{entry.tag}: <text>{entry.value}</text>{entry.trailer}"
        else:
            text = f"{entry.tag}: {entry.value}"
        out.append(text + "\n")
        current += text.count("\n") + 1
    return "".join(out).encode("utf-8")


def shape(document: TagValueDocument) -> tuple[dict[str, Any], dict[str, int]]:
    """The document as SPDX 2 JSON (only what the component model reads), and its lines."""
    doc: dict[str, Any] = {}
    lines: dict[str, int] = {}
    packages: list[dict[str, Any]] = []
    files: list[dict[str, Any]] = []
    relationships: list[dict[str, Any]] = []
    file_package: list[int | None] = []
    current: dict[str, Any] = doc
    path = ""
    section = "document"
    for entry in document.entries:
        tag, value, line = entry.tag, entry.value, entry.line
        if tag is None:
            continue
        if tag == "PackageName":
            section, current, path = "package", {"name": value}, f"packages[{len(packages)}]"
            packages.append(current)
            lines[path] = lines[f"{path}.name"] = line
            continue
        if tag == "FileName":
            section, current, path = "file", {"fileName": value}, f"files[{len(files)}]"
            file_package.append(len(packages) - 1 if packages else None)
            files.append(current)
            lines[path] = lines[f"{path}.fileName"] = line
            continue
        if tag in ("SnippetSPDXID", "LicenseID"):
            section, current, path = "other", {}, ""
            continue
        if tag == "Relationship":
            where = f"relationships[{len(relationships)}]"
            lines[where] = line
            parts = value.split()
            if len(parts) == 3:
                relationships.append(
                    {
                        "spdxElementId": parts[0],
                        "relationshipType": parts[1],
                        "relatedSpdxElement": parts[2],
                    }
                )
            else:
                relationships.append({"value": value})
            continue
        if section == "other":
            continue
        prefix = f"{path}." if path else ""
        if tag == "SPDXID":
            current["SPDXID"] = value
            lines[f"{prefix}SPDXID"] = line
        elif tag in ("PackageChecksum", "FileChecksum") and section != "document":
            checksums = current.setdefault("checksums", [])
            lines[f"{prefix}checksums[{len(checksums)}]"] = line
            algorithm, sep, hex_value = value.partition(":")
            checksums.append(
                {
                    "algorithm": algorithm.strip(),
                    "checksumValue": hex_value.strip() if sep else None,
                }
            )
        elif tag == "ExternalRef" and section == "package":
            refs = current.setdefault("externalRefs", [])
            where = f"{prefix}externalRefs[{len(refs)}]"
            lines[where] = lines[f"{where}.referenceLocator"] = line
            parts = value.split(None, 2)
            parts += [""] * (3 - len(parts))
            refs.append(
                {
                    "referenceCategory": parts[0],
                    "referenceType": parts[1],
                    "referenceLocator": parts[2],
                }
            )
        else:
            key = {"document": _DOCUMENT, "package": _PACKAGE, "file": _FILE}[section].get(tag)
            if key is not None:
                current[key] = value
                lines[f"{prefix}{key}"] = line
    for obj, index in zip(files, file_package, strict=True):
        if index is not None and isinstance(obj.get("SPDXID"), str):
            packages[index].setdefault("hasFiles", []).append(obj["SPDXID"])
    doc.update(packages=packages, files=files, relationships=relationships)
    return doc, lines


def read_spdx_tagvalue(
    document: TagValueDocument, source: str, max_components: int, problem: Problem | None = None
) -> Sbom:
    """Read a parsed tag-value document into the component model."""
    shaped, lines = shape(document)
    c = Collector(source, max_components, lines)
    if problem is not None:
        c.problems.append(problem)
    for entry in document.entries:
        if entry.trailer:
            c.problem(
                f"text after </text> is not part of the {entry.tag} value: {entry.trailer[:80]!r}",
                entry.tag,
                entry.line + entry.value.count("\n"),
            )
    if "spdxVersion" not in shaped:
        raise c.fail("SPDXVersion is missing", "SPDXVersion")
    version = check_version(shaped["spdxVersion"], c, "spdxVersion")
    described = read_spdx2(c, shaped)
    _, components = c.finish()
    return Sbom(
        format="spdx",
        encoding="tag-value",
        spec_version=version,
        name=shaped.get("name"),
        serial=shaped.get("documentNamespace"),
        metadata_component=pick_described(described, components),
        components=components,
        dependencies=c.dependencies(),
        problems=c.all_problems(),
        document=document,
    )

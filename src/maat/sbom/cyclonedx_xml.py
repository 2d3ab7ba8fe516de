"""CycloneDX 1.2–1.6 in XML into the component model.

The elements Maat models are turned into the JSON shape (``bom-ref``, ``name``, ``hashes`` …)
with a line for every field path, and read by the same code as JSON, so both encodings give
the same components and the same problems (XML ones carry a line). Elements outside the
CycloneDX namespace (extensions) are ignored here and kept in the document.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from maat.sbom._common import Collector
from maat.sbom._xml import NodeInfo
from maat.sbom.cyclonedx import check_version, read_body
from maat.sbom.model import Sbom, XmlDocument

__all__ = ["CYCLONEDX_NS", "read_cyclonedx_xml"]

CYCLONEDX_NS = "http://cyclonedx.org/schema/bom/"


def _text(element: ET.Element) -> str:
    """The element's text content, stripped, as XPath ``string()`` gives it (no comments).

    A comment or processing instruction inside a value (``log<!---->4j``) splits it into
    ``text`` and a ``tail``; reading ``text`` alone would truncate the name, version or purl.
    """
    parts = [element.text or ""]
    for child in element:
        if isinstance(child.tag, str):  # an element (not schema-valid here): its text counts
            parts.append(_text(child))
        parts.append(child.tail or "")
    return "".join(parts).strip()


class _Shaper:
    """Turns CycloneDX XML elements into JSON-shaped dicts, recording lines per path."""

    def __init__(self, info: NodeInfo, namespace: str) -> None:
        self.info = info
        self.ns = namespace
        self.lines: dict[str, int] = {}

    def children(self, element: ET.Element, local: str) -> list[ET.Element]:
        out = []
        for child in element:
            meta = self.info.get(id(child))
            if meta is not None and meta[0] == self.ns and meta[1] == local:
                out.append(child)
        return out

    def child(self, element: ET.Element, local: str) -> ET.Element | None:
        found = self.children(element, local)
        return found[0] if found else None

    def grouped(
        self, element: ET.Element, group: str, item: str, path: str
    ) -> list[ET.Element] | None:
        """The ``item`` children of every ``group`` child, in order; ``None`` when no group.

        The schema allows one ``<components>`` (``<hashes>`` …) per parent, but a reader
        that took only the first would lose what a second one holds, which other tools may
        read. ``path`` gets the first group's line.
        """
        groups = self.children(element, group)
        if not groups:
            return None
        self.mark(path, groups[0])
        return [found for g in groups for found in self.children(g, item)]

    def mark(self, path: str, element: ET.Element) -> None:
        meta = self.info.get(id(element))
        if meta is not None:
            self.lines[path] = meta[2]

    def text(self, element: ET.Element, local: str, path: str, out: dict[str, Any]) -> None:
        """Copy the text of child ``local`` (stripped) into ``out[local]``."""
        child = self.child(element, local)
        if child is not None:
            out[local] = _text(child)
            self.mark(f"{path}.{local}", child)

    def party(self, element: ET.Element, local: str, path: str, out: dict[str, Any]) -> None:
        child = self.child(element, local)
        if child is not None:
            party: dict[str, Any] = {}
            self.mark(f"{path}.{local}", child)
            self.text(child, "name", f"{path}.{local}", party)
            out[local] = party

    def entry(self, element: ET.Element, path: str, nested: str) -> dict[str, Any]:
        """A component (``nested="components"``) or service (``"services"``) as a dict."""
        self.mark(path, element)
        out: dict[str, Any] = {}
        for attr in ("bom-ref", "type"):
            if attr in element.attrib:
                out[attr] = element.attrib[attr]
        for local in ("name", "version", "purl", "cpe", "publisher"):
            self.text(element, local, path, out)
        self.party(element, "supplier", path, out)
        self.party(element, "provider", path, out)
        hash_els = self.grouped(element, "hashes", "hash", f"{path}.hashes")
        if hash_els is not None:
            hashes = []
            for i, hash_el in enumerate(hash_els):
                self.mark(f"{path}.hashes[{i}]", hash_el)
                hashes.append({"alg": hash_el.get("alg"), "content": _text(hash_el)})
            out["hashes"] = hashes
        license_els = self.children(element, "licenses")
        if license_els:
            self.mark(f"{path}.licenses", license_els[0])
            licenses: list[dict[str, Any]] = []
            for child in (entry for group in license_els for entry in group):
                meta = self.info.get(id(child))
                if meta is None or meta[0] != self.ns:
                    continue
                where = f"{path}.licenses[{len(licenses)}]"
                self.mark(where, child)
                if meta[1] == "expression":
                    licenses.append({"expression": _text(child)})
                elif meta[1] == "license":
                    lic: dict[str, Any] = {}
                    self.text(child, "id", f"{where}.license", lic)
                    self.text(child, "name", f"{where}.license", lic)
                    licenses.append({"license": lic})
            out["licenses"] = licenses
        children = self.entries(element, f"{path}.{nested}", nested)
        if children is not None:
            out[nested] = children
        return out

    def entries(self, parent: ET.Element, path: str, nested: str) -> list[dict[str, Any]] | None:
        """The entries of every ``nested`` group of ``parent``; ``None`` when it has none."""
        found = self.grouped(parent, nested, nested[:-1], path)
        if found is None:
            return None
        return [self.entry(child, f"{path}[{i}]", nested) for i, child in enumerate(found)]

    def bom(self, root: ET.Element) -> dict[str, Any]:
        doc: dict[str, Any] = {}
        metadata = self.child(root, "metadata")
        if metadata is not None:
            self.mark("metadata", metadata)
            component = self.child(metadata, "component")
            doc["metadata"] = {}
            if component is not None:
                doc["metadata"]["component"] = self.entry(
                    component, "metadata.component", "components"
                )
        for nested in ("components", "services"):
            entries = self.entries(root, nested, nested)
            if entries is not None:
                doc[nested] = entries
        dependencies = self.grouped(root, "dependencies", "dependency", "dependencies")
        if dependencies is not None:
            deps = []
            for i, dep in enumerate(dependencies):
                self.mark(f"dependencies[{i}]", dep)
                targets = [d.get("ref") for d in self.children(dep, "dependency")]
                deps.append({"ref": dep.get("ref"), "dependsOn": targets})
            doc["dependencies"] = deps
        return doc


def read_cyclonedx_xml(
    document: XmlDocument, info: NodeInfo, source: str, max_components: int
) -> Sbom:
    """Read a parsed CycloneDX XML document (root ``bom`` in a CycloneDX namespace)."""
    namespace = document.namespace or ""
    root_line = info[id(document.root)][2]
    c = Collector(source, max_components)
    version = check_version(namespace[len(CYCLONEDX_NS) :], c, "bom@xmlns", root_line)
    shaper = _Shaper(info, namespace)
    shaped = shaper.bom(document.root)
    c.lines = shaper.lines
    serial = document.root.get("serialNumber")
    name = read_body(c, shaped)
    meta_component, components = c.finish()
    return Sbom(
        format="cyclonedx",
        encoding="xml",
        spec_version=version,
        name=name,
        serial=serial,
        metadata_component=meta_component,
        components=components,
        dependencies=c.dependencies(),
        problems=c.all_problems(),
        document=document,
    )

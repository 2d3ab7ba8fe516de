"""SPDX 2.2 / 2.3 (JSON, and tag-value once shaped as JSON) into the component model.

Packages and files become components (files with ``type="file"``; packages with their
``primaryPackagePurpose`` in kebab case, or ``None``). The purl is the first ``purl`` external
reference, CPEs are the ``cpe22Type`` / ``cpe23Type`` ones; licenses are the concluded and
declared ones (``NOASSERTION`` / ``NONE`` left out); the supplier drops its ``Organization:`` /
``Person:`` prefix. Relationships give dependencies (``A DEPENDS_ON B`` → A depends on B;
``A …DEPENDENCY_OF B`` → B depends on A; ``CONTAINS``, ``*_LINK``, ``HAS_PREREQUISITE``
likewise) and parents (``hasFiles``, ``CONTAINS``). The described element (``documentDescribes``
or ``SPDXRef-DOCUMENT DESCRIBES x``) is the metadata component.
"""

from __future__ import annotations

from typing import Any

from maat.sbom._common import Collector, Draft, as_list, describe, kebab
from maat.sbom.model import Component, Sbom

__all__ = ["SUPPORTED_VERSIONS", "check_version", "read_spdx2", "read_spdx2_json"]

SUPPORTED_VERSIONS = ("SPDX-2.2", "SPDX-2.3")

_FORWARD = frozenset({"DEPENDS_ON", "CONTAINS", "DYNAMIC_LINK", "STATIC_LINK", "HAS_PREREQUISITE"})
_REVERSE = frozenset(
    {
        "DEPENDENCY_OF",
        "BUILD_DEPENDENCY_OF",
        "DEV_DEPENDENCY_OF",
        "OPTIONAL_DEPENDENCY_OF",
        "PROVIDED_DEPENDENCY_OF",
        "TEST_DEPENDENCY_OF",
        "RUNTIME_DEPENDENCY_OF",
        "CONTAINED_BY",
        "PREREQUISITE_FOR",
    }
)
_NO_ELEMENT = frozenset({"NOASSERTION", "NONE"})


def check_version(value: object, c: Collector, field: str) -> str:
    """``"2.2"`` / ``"2.3"`` for a supported ``spdxVersion``; otherwise the document is rejected."""
    if not isinstance(value, str):
        raise c.fail(f"spdxVersion must be a string, got {describe(value)}", field)
    if value.strip() not in SUPPORTED_VERSIONS:
        raise c.fail(
            f"unsupported SPDX version {value[:20]!r}; supported: {', '.join(SUPPORTED_VERSIONS)}",
            field,
        )
    return value.strip()[5:]


def _supplier(c: Collector, value: object, field: str) -> str | None:
    text = c.text(value, field)
    if text is None or text.strip().upper() in _NO_ELEMENT:
        return None
    kind, sep, rest = text.partition(":")
    if sep and kind.strip() in {"Organization", "Person", "Tool"}:
        return rest.strip() or None
    return text.strip() or None


def _checksums(c: Collector, draft: Draft, value: object, path: str) -> None:
    for i, entry in enumerate(as_list(c, value, path)):
        where = f"{path}[{i}]"
        if not isinstance(entry, dict):
            c.problem(f"checksum skipped: expected an object, got {describe(entry)}", where)
            continue
        digest = c.digest(entry.get("algorithm"), entry.get("checksumValue"), where)
        if digest is not None and digest not in draft.hashes:
            draft.hashes.append(digest)


def _external_refs(c: Collector, draft: Draft, value: object, path: str) -> None:
    for i, entry in enumerate(as_list(c, value, path)):
        where = f"{path}[{i}]"
        if not isinstance(entry, dict):
            c.problem(
                f"external reference skipped: expected an object, got {describe(entry)}", where
            )
            continue
        kind = entry.get("referenceType")
        locator = entry.get("referenceLocator")
        if kind == "purl":
            if draft.purl_text is None and draft.purl_problem is None:
                c.set_purl(draft, locator, f"{where}.referenceLocator")
        elif kind in ("cpe22Type", "cpe23Type"):
            text = c.text(locator, f"{where}.referenceLocator")
            if text and text not in draft.cpes:
                draft.cpes.append(text)


def _element(c: Collector, draft: Draft, obj: dict[str, Any], path: str, name_key: str) -> bool:
    """Read what packages and files share; ``False`` when the element must be skipped."""
    ref = obj.get("SPDXID")
    if isinstance(ref, str) and ref.strip():
        draft.ref = ref.strip()
    else:
        c.problem("SPDXID is missing or not a string; a ref was made up", f"{path}.SPDXID")
    _checksums(c, draft, obj.get("checksums"), f"{path}.checksums")
    for key in ("licenseConcluded", "licenseDeclared"):
        text = c.text(obj.get(key), f"{path}.{key}")
        if text is not None:
            draft.add_license(text)
    name = obj.get(name_key)
    if isinstance(name, str) and name.strip():
        draft.name = name
        return True
    if draft.purl is not None:
        draft.name = draft.purl.name
        c.problem(f"{name_key} is missing; the purl's name is used", f"{path}.{name_key}")
        return True
    c.problem(
        f"element skipped: {name_key} is missing or not a non-empty string", f"{path}.{name_key}"
    )
    return False


def read_spdx2(c: Collector, doc: dict[str, Any]) -> list[str]:
    """Read packages, files and relationships into ``c``; returns the described refs."""
    by_ref: dict[str, Draft] = {}
    file_parent: dict[str, str] = {}
    for i, obj in enumerate(as_list(c, doc.get("packages"), "packages")):
        path = f"packages[{i}]"
        if not isinstance(obj, dict):
            c.tick(path)
            c.problem(f"package skipped: expected an object, got {describe(obj)}", path)
            continue
        draft = c.new(path)
        version = obj.get("versionInfo")
        if isinstance(version, str):
            draft.version = version.strip() or None
        elif version is not None:
            c.problem(
                f"versionInfo must be a string, got {describe(version)}; read without a version",
                f"{path}.versionInfo",
            )
        draft.supplier = _supplier(c, obj.get("supplier"), f"{path}.supplier")
        _external_refs(c, draft, obj.get("externalRefs"), f"{path}.externalRefs")
        c.check_purl_version(draft, f"{path}.versionInfo")
        purpose = c.text(obj.get("primaryPackagePurpose"), f"{path}.primaryPackagePurpose")
        draft.type = kebab(purpose) if purpose else None
        if not _element(c, draft, obj, path, "name"):
            c.drop(draft)
            continue
        if draft.ref is not None:
            by_ref.setdefault(draft.ref, draft)
            for j, file_ref in enumerate(as_list(c, obj.get("hasFiles"), f"{path}.hasFiles")):
                if isinstance(file_ref, str):
                    file_parent.setdefault(file_ref, draft.ref)
                else:
                    c.problem(
                        f"expected a string, got {describe(file_ref)}", f"{path}.hasFiles[{j}]"
                    )
    for i, obj in enumerate(as_list(c, doc.get("files"), "files")):
        path = f"files[{i}]"
        if not isinstance(obj, dict):
            c.tick(path)
            c.problem(f"file skipped: expected an object, got {describe(obj)}", path)
            continue
        draft = c.new(path)
        draft.type = "file"
        if not _element(c, draft, obj, path, "fileName"):
            c.drop(draft)
            continue
        if draft.ref is not None:
            by_ref.setdefault(draft.ref, draft)
            draft.parent_ref = file_parent.get(draft.ref)
    document_id = doc.get("SPDXID") if isinstance(doc.get("SPDXID"), str) else "SPDXRef-DOCUMENT"
    described: list[str] = []
    for j, ref in enumerate(as_list(c, doc.get("documentDescribes"), "documentDescribes")):
        if isinstance(ref, str):
            described.append(ref)
        else:
            c.problem(f"expected a string, got {describe(ref)}", f"documentDescribes[{j}]")
    for i, rel in enumerate(as_list(c, doc.get("relationships"), "relationships")):
        path = f"relationships[{i}]"
        if not isinstance(rel, dict):
            c.problem(f"relationship skipped: expected an object, got {describe(rel)}", path)
            continue
        a, kind, b = (
            rel.get("spdxElementId"),
            rel.get("relationshipType"),
            rel.get("relatedSpdxElement"),
        )
        if not (isinstance(a, str) and isinstance(kind, str) and isinstance(b, str)):
            c.problem(
                "relationship skipped: spdxElementId, relationshipType and relatedSpdxElement "
                "must be strings",
                path,
            )
            continue
        kind = kind.strip().upper().replace("-", "_")
        if b in _NO_ELEMENT or a in _NO_ELEMENT:
            continue
        if kind == "DESCRIBES" and a == document_id:
            described.append(b)
        elif kind == "DESCRIBED_BY" and b == document_id:
            described.append(a)
        elif kind in _FORWARD:
            c.depend(a, [b])
        elif kind in _REVERSE:
            a, b = b, a
            c.depend(a, [b])
        if kind in ("CONTAINS", "CONTAINED_BY") and a in by_ref and b in by_ref:
            child = by_ref[b]
            if child.parent_ref is None and child is not by_ref[a]:
                child.parent_ref = a
    return described


def pick_described(described: list[str], components: tuple[Component, ...]) -> Component | None:
    """The first described element that is a component."""
    index = {comp.ref: comp for comp in components}
    for ref in described:
        if ref in index:
            return index[ref]
    return None


def read_spdx2_json(doc: dict[str, Any], source: str, max_components: int) -> Sbom:
    """Read a parsed SPDX 2.2/2.3 JSON document."""
    c = Collector(source, max_components)
    version = check_version(doc.get("spdxVersion"), c, "spdxVersion")
    described = read_spdx2(c, doc)
    _, components = c.finish()
    return Sbom(
        format="spdx",
        encoding="json",
        spec_version=version,
        name=c.text(doc.get("name"), "name"),
        serial=c.text(doc.get("documentNamespace"), "documentNamespace"),
        metadata_component=pick_described(described, components),
        components=components,
        dependencies=c.dependencies(),
        problems=c.all_problems(),
        document=doc,
    )

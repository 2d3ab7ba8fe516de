"""SPDX 3.0 JSON-LD (compact form with the SPDX context) into the component model.

``software_Package``, ``software_File``, ``dataset_DatasetPackage`` and ``ai_AIPackage``
elements of ``@graph`` become components (``type``: the primary purpose in kebab case for
packages, ``"file"`` for files, ``"data"`` / ``"machine-learning-model"`` otherwise). The purl
is ``software_packageUrl`` or a ``packageUrl`` external identifier; CPEs are ``cpe22`` /
``cpe23`` identifiers; hashes come from ``verifiedUsing`` (``Hash`` only); the supplier is the
name of the ``suppliedBy`` agent; licenses follow ``hasConcludedLicense`` /
``hasDeclaredLicense`` relationships. ``dependsOn``, ``contains``, ``hasDynamicLink``,
``hasStaticLink``, ``has…Dependency`` and ``hasPrerequisite`` relationships give dependencies
(from → to), ``contains`` gives parents. The metadata component is the first root element of
the ``SpdxDocument`` (through an ``Sbom`` / ``Bom`` when that is the root) that is a component.
Types written as full IRIs or ``prefix:Name`` are understood too.
"""

from __future__ import annotations

from typing import Any

from maat.sbom._common import Collector, Draft, as_list, describe, kebab
from maat.sbom.model import Sbom

__all__ = ["element_type", "is_spdx3_context", "read_spdx3"]

_COMPONENT_TYPES = {
    "software_Package": None,
    "software_File": "file",
    "dataset_DatasetPackage": "data",
    "ai_AIPackage": "machine-learning-model",
}
_COLLECTIONS = frozenset({"software_Sbom", "Bom", "Bundle", "BOM"})
_DEPENDENCY_KINDS = frozenset(
    {
        "dependsOn",
        "contains",
        "hasDynamicLink",
        "hasStaticLink",
        "hasProvidedDependency",
        "hasOptionalDependency",
        "hasPrerequisite",
    }
)
_LICENSE_KINDS = frozenset({"hasConcludedLicense", "hasDeclaredLicense"})


def is_spdx3_context(context: object) -> bool:
    """Whether a JSON-LD ``@context`` names the SPDX 3 vocabulary."""
    if isinstance(context, str):
        return "spdx.org/rdf/3" in context
    if isinstance(context, list):
        return any(is_spdx3_context(item) for item in context)
    return False


def element_type(obj: dict[str, Any]) -> str | None:
    """The element's type in compact form (``software_Package``), however it was written."""
    value = obj.get("type", obj.get("@type"))
    if not isinstance(value, str):
        return None
    if "/terms/" in value:
        profile, _, name = value.rpartition("/terms/")[2].partition("/")
        if not name:
            return profile
        return name if profile == "Core" else f"{profile.lower()}_{name}"
    return value.replace(":", "_")


def _spec_version(c: Collector, graph: list[Any], context: object) -> str:
    for i, obj in enumerate(graph):
        if isinstance(obj, dict) and element_type(obj) == "CreationInfo":
            version = obj.get("specVersion")
            if not isinstance(version, str):
                raise c.fail(
                    f"specVersion must be a string, got {describe(version)}",
                    f"@graph[{i}].specVersion",
                )
            if not version.strip().startswith("3.0"):
                raise c.fail(
                    f"unsupported SPDX version {version[:20]!r}; supported: 3.0.x",
                    f"@graph[{i}].specVersion",
                )
            return version.strip()
    texts = context if isinstance(context, list) else [context]
    for text in texts:
        if isinstance(text, str) and "spdx.org/rdf/3.0" in text:
            tail = text.split("spdx.org/rdf/", 1)[1].split("/", 1)[0]
            return tail or "3.0"
    raise c.fail("no CreationInfo with a specVersion 3.0.x", "@graph")


def _id(obj: dict[str, Any]) -> str | None:
    value = obj.get("spdxId", obj.get("@id"))
    return value if isinstance(value, str) and value else None


def _refs(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def _license_text(target: str, index: dict[str, dict[str, Any]]) -> str | None:
    obj = index.get(target)
    if obj is None:
        if "NoAssertion" in target or "NoneLicense" in target:
            return None
        return target.rstrip("/").rsplit("/", 1)[-1]
    expression = obj.get("simplelicensing_licenseExpression")
    if isinstance(expression, str):
        return expression
    name = obj.get("name")
    if isinstance(name, str):
        return name
    return target.rstrip("/").rsplit("/", 1)[-1]


def _identifiers(c: Collector, draft: Draft, obj: dict[str, Any], path: str) -> None:
    c.set_purl(draft, obj.get("software_packageUrl"), f"{path}.software_packageUrl")
    key = f"{path}.externalIdentifier"
    for j, ident in enumerate(as_list(c, obj.get("externalIdentifier"), key)):
        if not isinstance(ident, dict):
            c.problem(f"expected an object, got {describe(ident)}", f"{key}[{j}]")
            continue
        kind = ident.get("externalIdentifierType")
        if kind == "packageUrl" and draft.purl_text is None and draft.purl_problem is None:
            c.set_purl(draft, ident.get("identifier"), f"{key}[{j}].identifier")
        elif kind in ("cpe22", "cpe23"):
            text = c.text(ident.get("identifier"), f"{key}[{j}].identifier")
            if text and text not in draft.cpes:
                draft.cpes.append(text)
    key = f"{path}.verifiedUsing"
    for j, check in enumerate(as_list(c, obj.get("verifiedUsing"), key)):
        if isinstance(check, dict) and element_type(check) == "Hash":
            digest = c.digest(check.get("algorithm"), check.get("hashValue"), f"{key}[{j}]")
            if digest is not None and digest not in draft.hashes:
                draft.hashes.append(digest)


def read_spdx3(doc: dict[str, Any], source: str, max_components: int) -> Sbom:
    """Read a parsed SPDX 3.0 JSON-LD document (``@context`` already checked)."""
    c = Collector(source, max_components)
    graph_value = doc.get("@graph")
    if graph_value is None and element_type(doc) is not None:
        graph: list[Any] = [doc]
    elif isinstance(graph_value, list):
        graph = graph_value
    else:
        raise c.fail(f"@graph must be an array, got {describe(graph_value)}", "@graph")
    version = _spec_version(c, graph, doc.get("@context"))
    index: dict[str, dict[str, Any]] = {}
    for obj in graph:
        if isinstance(obj, dict) and (ident := _id(obj)) is not None:
            index.setdefault(ident, obj)
    licenses: dict[str, list[str]] = {}
    containers: dict[str, str] = {}
    document: dict[str, Any] | None = None
    for i, obj in enumerate(graph):
        path = f"@graph[{i}]"
        if not isinstance(obj, dict):
            c.problem(f"element skipped: expected an object, got {describe(obj)}", path)
            continue
        kind = element_type(obj)
        if kind == "SpdxDocument" and document is None:
            document = obj
        if kind not in ("Relationship", "LifecycleScopedRelationship"):
            continue
        source_ref, rel = obj.get("from"), obj.get("relationshipType")
        targets = _refs(obj.get("to"))
        if not isinstance(source_ref, str) or not isinstance(rel, str):
            c.problem("relationship skipped: 'from' and 'relationshipType' must be strings", path)
            continue
        if rel in _DEPENDENCY_KINDS:
            c.depend(source_ref, targets)
        if rel == "contains":
            for target in targets:
                containers.setdefault(target, source_ref)
        elif rel in _LICENSE_KINDS:
            bucket = licenses.setdefault(source_ref, [])
            bucket.extend(t for t in (_license_text(t, index) for t in targets) if t)
    is_component: set[str] = set()
    for i, obj in enumerate(graph):
        if not isinstance(obj, dict) or element_type(obj) not in _COMPONENT_TYPES:
            continue
        path = f"@graph[{i}]"
        draft = c.new(path)
        draft.ref = _id(obj)
        if draft.ref is None:
            c.problem("spdxId is missing or not a string; a ref was made up", f"{path}.spdxId")
        kind = element_type(obj)
        purpose = c.text(obj.get("software_primaryPurpose"), f"{path}.software_primaryPurpose")
        draft.type = _COMPONENT_TYPES[kind or ""] or (kebab(purpose) if purpose else None)
        version_value = obj.get("software_packageVersion")
        if isinstance(version_value, str):
            draft.version = version_value.strip() or None
        elif version_value is not None:
            c.problem(
                f"version must be a string, got {describe(version_value)}; read without a version",
                f"{path}.software_packageVersion",
            )
        _identifiers(c, draft, obj, path)
        c.check_purl_version(draft, f"{path}.software_packageVersion")
        for supplier in _refs(obj.get("suppliedBy"))[:1]:
            agent = index.get(supplier, {})
            name = agent.get("name")
            draft.supplier = name if isinstance(name, str) else supplier
        for text in licenses.get(draft.ref or "", []):
            draft.add_license(text)
        name = obj.get("name")
        if isinstance(name, str) and name.strip():
            draft.name = name
        elif draft.purl is not None:
            draft.name = draft.purl.name
            c.problem("element has no name; the purl's name is used", f"{path}.name")
        else:
            c.problem("element skipped: name is missing or not a non-empty string", f"{path}.name")
            c.drop(draft)
            continue
        if draft.ref is not None:
            is_component.add(draft.ref)
    for draft in c.drafts:
        container = containers.get(draft.ref or "")
        if container is not None and container in is_component and container != draft.ref:
            draft.parent_ref = container
    roots: list[str] = []
    if document is not None:
        for root in _refs(document.get("rootElement")):
            root_obj = index.get(root, {})
            if element_type(root_obj) in _COLLECTIONS:
                roots.extend(_refs(root_obj.get("rootElement")))
            roots.append(root)
    _, components = c.finish()
    by_ref = {comp.ref: comp for comp in components}
    metadata = next((by_ref[r] for r in roots if r in by_ref), None)
    name = document.get("name") if document is not None else None
    serial = _id(document) if document is not None else None
    return Sbom(
        format="spdx",
        encoding="json-ld",
        spec_version=version,
        name=name if isinstance(name, str) else None,
        serial=serial,
        metadata_component=metadata,
        components=components,
        dependencies=c.dependencies(),
        problems=c.all_problems(),
        document=doc,
    )

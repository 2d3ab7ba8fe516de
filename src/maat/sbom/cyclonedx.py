"""CycloneDX 1.2–1.6 in JSON into the component model.

Components (nested ones flattened with ``parent`` set), ``metadata.component`` (its own nested
components join ``components``), services (``type="service"``, supplier from ``provider``) and
``dependencies`` are read; everything else stays in the kept document. The name is the
component's ``name`` (``group`` is not prepended); the supplier is ``supplier.name``, else
``publisher``. A dependency on a ref that names no component, and a ``version`` that differs
from the purl's, are problems.
"""

from __future__ import annotations

from typing import Any

from maat.sbom._common import Collector, Draft, as_list, describe
from maat.sbom.model import Sbom

__all__ = ["SUPPORTED_VERSIONS", "check_version", "read_body", "read_cyclonedx_json"]

SUPPORTED_VERSIONS = ("1.2", "1.3", "1.4", "1.5", "1.6")


def check_version(version: object, c: Collector, field: str, line: int | None = None) -> str:
    """The spec version when supported; otherwise the document is rejected."""
    if not isinstance(version, str) or not version.strip():
        raise c.fail(
            f"CycloneDX specVersion must be a non-empty string, got {describe(version)}",
            field,
            line,
        )
    if version.strip() not in SUPPORTED_VERSIONS:
        raise c.fail(
            f"unsupported CycloneDX version {version[:20]!r}; "
            f"supported: {', '.join(SUPPORTED_VERSIONS)}",
            field,
            line,
        )
    return version.strip()


def _licenses(c: Collector, draft: Draft, value: object, path: str) -> None:
    for i, entry in enumerate(as_list(c, value, path)):
        where = f"{path}[{i}]"
        if not isinstance(entry, dict):
            c.problem(f"license entry must be an object, got {describe(entry)}", where)
            continue
        expression = entry.get("expression")
        if isinstance(expression, str):
            draft.add_license(expression)
            continue
        lic = entry.get("license")
        if isinstance(lic, dict):
            text = lic.get("id") if isinstance(lic.get("id"), str) else lic.get("name")
            if isinstance(text, str):
                draft.add_license(text)
                continue
        c.problem("license entry has no expression, license id or license name", where)


def _hashes(c: Collector, draft: Draft, value: object, path: str) -> None:
    for i, entry in enumerate(as_list(c, value, path)):
        where = f"{path}[{i}]"
        if not isinstance(entry, dict):
            c.problem(f"hash skipped: expected an object, got {describe(entry)}", where)
            continue
        digest = c.digest(entry.get("alg"), entry.get("content"), where)
        if digest is not None and digest not in draft.hashes:
            draft.hashes.append(digest)


def _party_name(c: Collector, value: object, path: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):  # a bare name: not the schema, but some tools write it
        return value.strip() or None
    if isinstance(value, dict):
        return c.text(value.get("name"), f"{path}.name")
    c.problem(f"expected an object, got {describe(value)}", path)
    return None


def read_entry(
    c: Collector,
    obj: object,
    path: str,
    parent: Draft | None,
    *,
    service: bool = False,
    metadata: bool = False,
) -> Draft | None:
    """Read one component (or service) object at ``path``; ``None`` when it is unusable."""
    if not isinstance(obj, dict):
        c.tick(path)
        c.problem(f"component skipped: expected an object, got {describe(obj)}", path)
        return None
    draft = c.new(path, metadata=metadata)
    draft.parent = parent
    ref = obj.get("bom-ref")
    if isinstance(ref, str) and ref:
        draft.ref = ref
    elif ref is not None:
        c.problem(f"bom-ref must be a non-empty string, got {describe(ref)}", f"{path}.bom-ref")
    if service:
        draft.type = "service"
        draft.supplier = _party_name(c, obj.get("provider"), f"{path}.provider")
    else:
        draft.type = c.text(obj.get("type"), f"{path}.type")
        draft.supplier = _party_name(c, obj.get("supplier"), f"{path}.supplier")
        if draft.supplier is None:
            draft.supplier = c.text(obj.get("publisher"), f"{path}.publisher")
        c.set_purl(draft, obj.get("purl"), f"{path}.purl")
        cpe = c.text(obj.get("cpe"), f"{path}.cpe")
        if cpe:
            draft.cpes.append(cpe)
        _hashes(c, draft, obj.get("hashes"), f"{path}.hashes")
    _licenses(c, draft, obj.get("licenses"), f"{path}.licenses")
    version = obj.get("version")
    if isinstance(version, str):
        draft.version = version or None
    elif version is not None:
        c.problem(
            f"version must be a string, got {describe(version)}; read without a version",
            f"{path}.version",
        )
    if not service:
        c.check_purl_version(draft, f"{path}.version")
    name = obj.get("name")
    if isinstance(name, str) and name.strip():
        draft.name = name
    elif draft.purl is not None:
        draft.name = draft.purl.name
        c.problem("component has no name; the purl's name is used", f"{path}.name")
    else:
        what = "service" if service else "component"
        c.problem(f"{what} skipped: name is missing or not a non-empty string", f"{path}.name")
        c.drop(draft)
        return None
    return draft


def _walk(
    c: Collector,
    items: list[Any],
    path: str,
    parent: Draft | None,
    key: str,
) -> None:
    """Read ``items`` and everything nested under ``key``, depth first, without recursion."""
    stack: list[tuple[list[Any], str, Draft | None, int]] = [(items, path, parent, 0)]
    while stack:
        items, path, parent, i = stack.pop()
        if i >= len(items):
            continue
        stack.append((items, path, parent, i + 1))
        where = f"{path}[{i}]"
        draft = read_entry(c, items[i], where, parent, service=key == "services")
        obj = items[i]
        if isinstance(obj, dict) and obj.get(key) is not None:
            children = as_list(c, obj.get(key), f"{where}.{key}")
            # an unusable component still has its children read, under the nearest ancestor
            stack.append((children, f"{where}.{key}", draft or parent, 0))


def _dependencies(c: Collector, value: object) -> None:
    for i, entry in enumerate(as_list(c, value, "dependencies")):
        where = f"dependencies[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("ref"), str):
            c.problem("dependency skipped: expected an object with a string 'ref'", where)
            continue
        c.expect_ref(entry["ref"], f"{where}.ref")
        targets: list[str] = []
        for j, target in enumerate(as_list(c, entry.get("dependsOn"), f"{where}.dependsOn")):
            if isinstance(target, str):
                targets.append(target)
                c.expect_ref(target, f"{where}.dependsOn[{j}]")
            else:
                c.problem(f"expected a string, got {describe(target)}", f"{where}.dependsOn[{j}]")
        c.depend(entry["ref"], targets)


def read_body(c: Collector, doc: dict[str, Any]) -> str | None:
    """Read metadata component, components, services and dependencies of a JSON-shaped BOM.

    Returns the BOM's name (the metadata component's name).
    """
    metadata = doc.get("metadata")
    name: str | None = None
    if isinstance(metadata, dict):
        component = metadata.get("component")
        if component is not None:
            meta = read_entry(c, component, "metadata.component", None, metadata=True)
            if meta is not None:
                name = meta.name
            # an unusable metadata component still has its nested components read (as roots)
            nested = component.get("components") if isinstance(component, dict) else None
            if nested is not None:
                path = "metadata.component.components"
                _walk(c, as_list(c, nested, path), path, meta, "components")
    elif metadata is not None:
        c.problem(f"metadata must be an object, got {describe(metadata)}", "metadata")
    _walk(c, as_list(c, doc.get("components"), "components"), "components", None, "components")
    _walk(c, as_list(c, doc.get("services"), "services"), "services", None, "services")
    _dependencies(c, doc.get("dependencies"))
    return name


def read_cyclonedx_json(doc: dict[str, Any], source: str, max_components: int) -> Sbom:
    """Read a parsed CycloneDX JSON document (``bomFormat`` already checked)."""
    c = Collector(source, max_components)
    version = check_version(doc.get("specVersion"), c, "specVersion")
    serial = c.text(doc.get("serialNumber"), "serialNumber")
    name = read_body(c, doc)
    meta_component, components = c.finish()
    return Sbom(
        format="cyclonedx",
        encoding="json",
        spec_version=version,
        name=name,
        serial=serial,
        metadata_component=meta_component,
        components=components,
        dependencies=c.dependencies(),
        problems=c.all_problems(),
        document=doc,
    )

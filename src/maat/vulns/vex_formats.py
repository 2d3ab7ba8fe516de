r"""The three VEX formats Maat reads, each into :class:`~maat.vulns.vex.VexStatement`\s.

Private to :mod:`maat.vulns.vex`, whose :func:`~maat.vulns.vex.parse_vex` is the entry point
and whose docstring describes the mapping of each format.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from maat.core._validate import parse_timestamp, type_name
from maat.core.purl import Purl
from maat.errors import InvalidInput, Problem
from maat.vulns.vex import STATUSES, VexStatement, VexStatus

__all__ = ["read_document"]

_CDX_STATES: Mapping[str, VexStatus] = {
    "not_affected": "not_affected",
    "false_positive": "not_affected",
    "resolved": "fixed",
    "resolved_with_pedigree": "fixed",
    "exploitable": "affected",
    "in_triage": "under_investigation",
}
_CDX_VERSION_STATUS: Mapping[str, VexStatus] = {
    "affected": "affected",
    "unaffected": "not_affected",
    "unknown": "under_investigation",
}
_CSAF_STATUS: Mapping[str, VexStatus] = {
    "known_not_affected": "not_affected",
    "fixed": "fixed",
    "first_fixed": "fixed",
    "known_affected": "affected",
    "first_affected": "affected",
    "last_affected": "affected",
    "under_investigation": "under_investigation",
}


# --- reading helpers --------------------------------------------------------------------------


class _Doc:
    """Shared state while reading one document: its name and the problems found."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[Problem] = []

    def problem(self, message: str, where: str) -> None:
        self.problems.append(Problem.at(message, file=self.source, field=where))

    def time(self, value: object, where: str) -> datetime | None:
        if value is None:
            return None
        try:
            return parse_timestamp(value, field=where, file=self.source)
        except InvalidInput as exc:
            self.problems.append(Problem.from_error(exc))
            return None


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _map(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _strings(values: Iterable[object]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values if isinstance(v, str) and v.strip()))


def _listed(value: object) -> list[Any]:
    """A list as is, ``None`` as empty, anything else as a list of itself: a field that
    narrows a statement (subcomponents) must not be lost by being written as one item."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _purl_has_version(text: str) -> bool:
    """Whether a purl names a version; one that cannot be parsed is taken as not."""
    try:
        return Purl.parse(text).version is not None
    except InvalidInput:
        return False


def _needs_reason(doc: _Doc, s: VexStatement, where: str) -> bool:
    if s.status == "not_affected" and not (s.justification or s.impact):
        doc.problem(
            f"{s.vulnerability}: a not_affected statement must give a justification or an "
            "impact statement; left out",
            where,
        )
        return False
    return True


# --- CycloneDX ----------------------------------------------------------------------------


def _cdx_components(doc: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    found: dict[str, Mapping[str, Any]] = {}
    stack = [_map(doc.get("metadata")).get("component"), *_list(doc.get("components"))]
    while stack:
        item = stack.pop()
        if isinstance(item, Mapping):
            ref = item.get("bom-ref")
            if isinstance(ref, str):
                found.setdefault(ref, item)
            stack += _list(item.get("components"))
    return found


def _cyclonedx(doc: Mapping[str, Any], d: _Doc) -> list[VexStatement]:
    components = _cdx_components(doc)
    default_time = d.time(_map(doc.get("metadata")).get("timestamp"), "metadata.timestamp")
    out: list[VexStatement] = []
    for i, vuln in enumerate(_list(doc.get("vulnerabilities"))):
        where = f"vulnerabilities[{i}]"
        if not isinstance(vuln, Mapping) or not _str(vuln.get("id")):
            d.problem("a vulnerability needs an 'id'", where)
            continue
        analysis = vuln.get("analysis")
        written = analysis.get("state") if isinstance(analysis, Mapping) else None
        if not isinstance(analysis, Mapping) or not isinstance(written, str):
            d.problem(f"{vuln['id']}: no analysis.state of {', '.join(_CDX_STATES)}", where)
            continue
        if written not in _CDX_STATES:
            d.problem(
                f"{vuln['id']}: analysis.state {written[:40]!r} is not one of "
                f"{', '.join(_CDX_STATES)}",
                where,
            )
            continue
        state = _CDX_STATES[written]
        keys = (("lastUpdated", analysis), ("firstIssued", analysis), ("updated", vuln))
        times = (d.time(src.get(k), f"{where}.{k}") for k, src in (*keys, ("published", vuln)))
        time = next((t for t in times if t is not None), default_time)
        responses = ", ".join(_strings(_list(analysis.get("response"))))
        refs = [r.get("id") for r in _list(vuln.get("references")) if isinstance(r, Mapping)]
        base = VexStatement(
            vulnerability=vuln["id"].strip(),
            aliases=_strings(refs),
            products=(),
            status=state,
            justification=_str(analysis.get("justification")),
            impact=_str(analysis.get("detail")),
            action=_str(vuln.get("recommendation")) or responses or None,
            timestamp=time,
            source=d.source,
            format="cyclonedx",
        )
        affects = [a for a in _list(vuln.get("affects")) if isinstance(a, Mapping)]
        if not affects:
            d.problem(
                f"{base.vulnerability}: names no affected product; it applies to nothing", where
            )
        # A not_affected state must say why (justification or detail), as OpenVEX and CSAF
        # require; false_positive is its own reason.
        unexplained = written == "not_affected" and not (base.justification or base.impact)
        left_out = False
        for j, entry in enumerate(affects):
            for statement in _cdx_affects(base, entry, components, d, f"{where}.affects[{j}]"):
                if unexplained and statement.status == "not_affected":
                    left_out = True
                else:
                    out.append(statement)
        if left_out:
            _needs_reason(d, replace(base, status="not_affected"), f"{where}.analysis")
    return out


def _cdx_affects(
    base: VexStatement,
    entry: Mapping[str, Any],
    components: Mapping[str, Mapping[str, Any]],
    d: _Doc,
    where: str,
) -> list[VexStatement]:
    ref = _str(entry.get("ref"))
    if ref is None:
        d.problem(f"{base.vulnerability}: an affects entry needs a 'ref'", where)
        return []
    product, implied = ref, tuple[str, ...]()  # implied: the referenced component's version
    component = components.get(ref)
    if component is not None:
        purl, version = _str(component.get("purl")), _str(component.get("version"))
        if purl is not None:
            product = purl
        # A purl without a version would cover every version: the component's own version
        # field still limits it (a purl's own version wins over it).
        if version is not None and (purl is None or not _purl_has_version(purl)):
            implied = (version,)
    groups: dict[VexStatus, tuple[list[str], list[str]]] = {}
    listed = _listed(entry.get("versions"))
    for k, item in enumerate(listed):
        if not isinstance(item, Mapping):
            d.problem(
                f"{base.vulnerability}: expected a version object, got {type_name(item)}; left out",
                f"{where}.versions[{k}]",
            )
            continue
        written = item.get("status")
        if written is None:
            status = base.status
        elif isinstance(written, str) and written in _CDX_VERSION_STATUS:
            status = _CDX_VERSION_STATUS[written]
        else:
            shown = repr(written[:40]) if isinstance(written, str) else type_name(written)
            d.problem(
                f"{base.vulnerability}: version status {shown} is not one of "
                f"{', '.join(_CDX_VERSION_STATUS)}; left out",
                f"{where}.versions[{k}].status",
            )
            continue
        if status == "not_affected" and base.status == "fixed":
            status = "fixed"
        version, vers = _str(item.get("version")), _str(item.get("range"))
        if version is None and vers is None:
            d.problem(
                f"{base.vulnerability}: a version entry needs 'version' or 'range'",
                f"{where}.versions[{k}]",
            )
            continue
        versions, ranges = groups.setdefault(status, ([], []))
        (versions if version is not None else ranges).append(version or vers or "")
    if not groups:
        if listed:
            return []  # limited to versions none of which could be read: not to every version
        return [replace(base, products=(product,), versions=implied)]
    return [
        replace(base, products=(product,), status=status, versions=_strings(v), ranges=_strings(r))
        for status, (v, r) in groups.items()
    ]


# --- OpenVEX ------------------------------------------------------------------------------


def _openvex_product(item: object) -> str | None:
    if isinstance(item, str):
        return _str(item)
    if not isinstance(item, Mapping):
        return None
    identifiers = item.get("identifiers")
    purl = _str(identifiers.get("purl")) if isinstance(identifiers, Mapping) else None
    return purl or _str(item.get("@id"))


def _openvex(doc: Mapping[str, Any], d: _Doc) -> list[VexStatement]:
    default_time = d.time(doc.get("last_updated") or doc.get("timestamp"), "timestamp")
    out: list[VexStatement] = []
    for i, st in enumerate(_list(doc.get("statements"))):
        where = f"statements[{i}]"
        if not isinstance(st, Mapping):
            d.problem(f"expected an object, got {type_name(st)}", where)
            continue
        vuln = st.get("vulnerability")
        name = (
            _str(vuln.get("name") or vuln.get("@id")) if isinstance(vuln, Mapping) else _str(vuln)
        )
        aliases = _strings(_list(vuln.get("aliases"))) if isinstance(vuln, Mapping) else ()
        status = st.get("status")
        if name is None or not isinstance(status, str) or status not in STATUSES:
            d.problem(
                f"a statement needs a vulnerability and a status of {', '.join(STATUSES)}", where
            )
            continue
        statement = VexStatement(
            vulnerability=name.strip(),
            aliases=aliases,
            products=(),
            status=status,
            justification=_str(st.get("justification")),
            impact=_str(st.get("impact_statement")),
            action=_str(st.get("action_statement")),
            timestamp=d.time(st.get("last_updated") or st.get("timestamp"), f"{where}.timestamp")
            or default_time,
            source=d.source,
            format="openvex",
        )
        scopes = _openvex_scopes(st, d, where).items()
        split = [replace(statement, products=p, subcomponents=s) for s, p in scopes]
        if not split:
            d.problem(f"{name}: names no product; it applies to nothing", where)
        if _needs_reason(d, statement, where):
            # Kept without products too: it applies to nothing but is still reported.
            out += split or [statement]
    return out


def _openvex_scopes(
    st: Mapping[str, Any], d: _Doc, where: str
) -> dict[tuple[str, ...], tuple[str, ...]]:
    """The statement's products grouped by the subcomponents they are about.

    OpenVEX 0.2.0 lists ``subcomponents`` under each product: they are that product's only,
    so products with different subcomponents become different statements. The statement-level
    ``subcomponents`` of 0.0.1 belong to every product. A product whose subcomponents are all
    unreadable is left out and reported: read without them, it would be about the product.
    """
    shared = _listed(st.get("subcomponents"))
    scoped: dict[tuple[str, ...], list[str]] = {}
    for i, p in enumerate(_list(st.get("products"))):
        product = _openvex_product(p)
        if product is None:
            continue
        own = _listed(p.get("subcomponents")) if isinstance(p, Mapping) else []
        subs = _strings(_openvex_product(s) for s in [*shared, *own])
        if (shared or own) and not subs:
            d.problem(f"{product}: no readable subcomponent; left out", f"{where}.products[{i}]")
            continue
        scoped.setdefault(subs, []).append(product)
    return {subs: _strings(products) for subs, products in scoped.items()}


# --- CSAF ---------------------------------------------------------------------------------


_Scope = tuple[str, tuple[str, ...], tuple[str, ...]]
"""A CSAF product as a statement names it: (purl or product id, versions, vers ranges)."""


def _csaf_products(tree: object) -> dict[str, _Scope]:
    """product_id -> its purl (or the id itself when the product has none) and the versions
    or vers range of the ``product_version`` / ``product_version_range`` branch holding it.

    The branch name is the product's version scope: the purl helper often names the package
    without a version, and read alone it would cover every version of it. The nearest such
    branch above the product counts, however deep: producers put ``architecture`` (or other)
    branches below the version one.
    """
    found: dict[str, _Scope] = {}
    tree = _map(tree)
    stack: list[tuple[object, str | None, str | None]] = [
        (item, None, None)
        for item in [*_list(tree.get("branches")), *_list(tree.get("full_product_names"))]
    ]
    stack += [
        (_map(r).get("full_product_name"), None, None) for r in _list(tree.get("relationships"))
    ]
    while stack:
        item, category, name = stack.pop()
        if not isinstance(item, Mapping):
            continue
        if _str(item.get("category")) in ("product_version", "product_version_range"):
            category, name = _str(item.get("category")), _str(item.get("name"))
        stack += [(b, category, name) for b in _list(item.get("branches"))]
        if isinstance(item.get("product"), Mapping):
            stack.append((item["product"], category, name))
        pid = _str(item.get("product_id"))
        if pid is None:
            continue
        helper = _map(item.get("product_identification_helper"))
        product = next(
            (p for p in [helper.get("purl"), *_list(helper.get("purls"))] if _str(p)), pid
        )
        # A purl that names its version needs no branch scope (whose name may be free text).
        if _purl_has_version(product):
            category = name = None
        # A range that is not vers text cannot be decided; kept as is, it matches nothing. So
        # does a version branch without a readable name ("" is no vers range): its scope is
        # unknown, and no scope would mean every version.
        versions = (name,) if category == "product_version" and name else ()
        ranges = ("",) if category is not None and name is None else ()
        ranges = (name,) if category == "product_version_range" and name else ranges
        found[pid] = (product, versions, ranges)
    return found


def _csaf_by_product(
    items: object, groups: Mapping[str, list[str]], category: str | None = None
) -> list[tuple[set[str], Mapping[str, Any]]]:
    """(product ids, item) of flags, threats or remediations; group ids resolved."""
    out: list[tuple[set[str], Mapping[str, Any]]] = []
    for item in map(_map, _list(items)):
        if category is None or item.get("category") == category:
            ids = set(_strings(_list(item.get("product_ids"))))
            ids.update(p for g in _strings(_list(item.get("group_ids"))) for p in groups.get(g, ()))
            out.append((ids, item))
    return out


def _csaf(doc: Mapping[str, Any], d: _Doc) -> list[VexStatement]:
    tracking = _map(_map(doc.get("document")).get("tracking"))
    time = d.time(tracking.get("current_release_date"), "document.tracking.current_release_date")
    products = _csaf_products(doc.get("product_tree"))
    groups: dict[str, list[str]] = {}
    for g in map(_map, _list(_map(doc.get("product_tree")).get("product_groups"))):
        if _str(g.get("group_id")):
            groups[g["group_id"]] = list(_strings(_list(g.get("product_ids"))))
    out: list[VexStatement] = []
    for i, vuln in enumerate(_list(doc.get("vulnerabilities"))):
        where = f"vulnerabilities[{i}]"
        if not isinstance(vuln, Mapping):
            d.problem(f"expected an object, got {type_name(vuln)}", where)
            continue
        ids = _strings([vuln.get("cve"), *(_map(x).get("text") for x in _list(vuln.get("ids")))])
        status_lists = vuln.get("product_status")
        if not ids or not isinstance(status_lists, Mapping):
            d.problem("a vulnerability needs a cve or ids and a product_status", where)
            continue
        flags = _csaf_by_product(vuln.get("flags"), groups)
        threats = _csaf_by_product(vuln.get("threats"), groups, category="impact")
        remedies = _csaf_by_product(vuln.get("remediations"), groups)
        for key, status in _CSAF_STATUS.items():
            for pid in _strings(_list(status_lists.get(key))):
                product, versions, ranges = products.get(pid, (pid, (), ()))
                statement = VexStatement(
                    vulnerability=ids[0],
                    aliases=ids[1:],
                    products=(product,),
                    versions=versions,
                    ranges=ranges,
                    status=status,
                    justification=next((_str(f.get("label")) for p, f in flags if pid in p), None),
                    impact=next((_str(t.get("details")) for p, t in threats if pid in p), None),
                    action=next((_str(r.get("details")) for p, r in remedies if pid in p), None),
                    timestamp=time,
                    source=d.source,
                    format="csaf",
                )
                if _needs_reason(d, statement, f"{where}.product_status.{key}"):
                    out.append(statement)
    return out


# --- dispatch -----------------------------------------------------------------------------


def read_document(doc: Mapping[str, Any], source: str) -> tuple[list[VexStatement], list[Problem]]:
    """The statements of a parsed VEX document and the problems of its entries; raises
    :class:`InvalidInput` when the document is none of the three formats."""
    d = _Doc(source)
    if doc.get("bomFormat") == "CycloneDX":
        statements = _cyclonedx(doc, d)
    elif "openvex" in str(doc.get("@context")) or isinstance(doc.get("statements"), list):
        statements = _openvex(doc, d)
    elif "csaf_version" in _map(doc.get("document")):
        statements = _csaf(doc, d)
    else:
        raise InvalidInput(
            "not a VEX document: expected CycloneDX (bomFormat), OpenVEX (@context, statements) "
            "or CSAF (document.csaf_version)",
            file=source,
        )
    return statements, d.problems

"""VEX statements from CycloneDX VEX, OpenVEX and CSAF 2.0 VEX, in one model, and the rule
that decides which statement applies to a component.

Mapping to :class:`VexStatement` (``status``: not_affected, affected, fixed,
under_investigation):

- CycloneDX: ``analysis.state`` not_affected / false_positive -> not_affected, resolved /
  resolved_with_pedigree -> fixed, exploitable -> affected, in_triage -> under_investigation.
  One statement per ``affects[]`` entry and status: a listed version's own ``status``
  (affected / unaffected / unknown) wins when it disagrees with the state. A ``ref`` naming a
  component of the same document becomes its purl (or, with no purl, stays the ref, limited to
  the component's version). ``ref``s that are BOM-Links (``urn:cdx:...#ref``) are kept as is.
- OpenVEX: one statement per ``statements[]`` entry (0.0.1 and 0.2.0 shapes).
- CSAF: one statement per vulnerability, status and product (``known_not_affected``;
  ``fixed`` / ``first_fixed``; ``known_affected`` / ``first_affected`` / ``last_affected``;
  ``under_investigation``); product ids become purls through
  ``product_identification_helper.purl``, else stay product ids; the justification is the
  ``flags[].label`` naming the product (directly or through a product group).

Where a standard requires a not_affected statement to say why (OpenVEX, CSAF), one that does
not is left out and reported: it must not suppress a finding. Bad entries are problems; a
document that is not VEX at all raises :class:`InvalidInput`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cmp_to_key
from itertools import pairwise
from typing import Any, Literal
from urllib.parse import unquote

import orjson

from maat.core._validate import parse_timestamp, type_name
from maat.core.purl import Purl
from maat.errors import InvalidInput, Problem

__all__ = [
    "MAX_VEX_BYTES",
    "VersionCompare",
    "VexStatement",
    "VexStatus",
    "parse_vex",
    "vers_contains",
    "vex_decision",
]

VexStatus = Literal["not_affected", "affected", "fixed", "under_investigation"]
VersionCompare = Callable[[str, str, str], int]
"""``compare(scheme, a, b)``: negative, zero or positive as version ``a`` sorts before, equal
to or after ``b`` in versioning ``scheme`` (a vers scheme or purl type: ``semver``, ``pypi``,
``generic`` ...). It may raise ``ValueError`` or ``InvalidInput`` for a version it cannot read."""

MAX_VEX_BYTES = 64 << 20
"""Default size limit of one VEX document."""

STATUSES: tuple[VexStatus, ...] = ("not_affected", "affected", "fixed", "under_investigation")
# Ties between equally recent statements go to the most cautious status.
_CAUTION: Mapping[str, int] = {
    "not_affected": 0,
    "fixed": 1,
    "under_investigation": 2,
    "affected": 3,
}
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
_MIN_TIME = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class VexStatement:
    """What a supplier says about one vulnerability in some products.

    ``products`` are purls or references (bom-refs, CSAF product ids). ``versions`` and
    ``ranges`` (vers strings) limit the statement to those versions of the products; a product
    purl with a version limits it to that version; with neither, it covers every version.
    ``subcomponents`` (OpenVEX) are the components inside the products the statement is about.
    """

    vulnerability: str
    aliases: tuple[str, ...]
    products: tuple[str, ...]
    status: VexStatus
    justification: str | None
    impact: str | None
    action: str | None
    timestamp: datetime | None
    source: str
    versions: tuple[str, ...] = ()
    ranges: tuple[str, ...] = ()
    subcomponents: tuple[str, ...] = ()
    format: str = ""

    @property
    def ids(self) -> tuple[str, ...]:
        """The vulnerability id followed by its aliases."""
        return (self.vulnerability, *self.aliases)


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
        if not isinstance(analysis, Mapping) or analysis.get("state") not in _CDX_STATES:
            d.problem(f"{vuln['id']}: no analysis.state of {', '.join(_CDX_STATES)}", where)
            continue
        state = _CDX_STATES[analysis["state"]]
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
        for j, entry in enumerate(affects):
            out += _cdx_affects(base, entry, components, d, f"{where}.affects[{j}]")
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
        elif version is not None:
            implied = (version,)
    groups: dict[VexStatus, tuple[list[str], list[str]]] = {}
    for k, item in enumerate(_list(entry.get("versions"))):
        if not isinstance(item, Mapping):
            continue
        status = _CDX_VERSION_STATUS.get(item.get("status", ""), base.status)
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
        if name is None or status not in STATUSES:
            d.problem(
                f"a statement needs a vulnerability and a status of {', '.join(STATUSES)}", where
            )
            continue
        products, subs = [], list(_list(st.get("subcomponents")))
        for p in _list(st.get("products")):
            products.append(_openvex_product(p))
            if isinstance(p, Mapping):
                subs += _list(p.get("subcomponents"))
        statement = VexStatement(
            vulnerability=name.strip(),
            aliases=aliases,
            products=_strings(products),
            status=status,
            justification=_str(st.get("justification")),
            impact=_str(st.get("impact_statement")),
            action=_str(st.get("action_statement")),
            timestamp=d.time(st.get("last_updated") or st.get("timestamp"), f"{where}.timestamp")
            or default_time,
            source=d.source,
            subcomponents=_strings(_openvex_product(s) for s in subs),
            format="openvex",
        )
        if not statement.products:
            d.problem(f"{name}: names no product; it applies to nothing", where)
        if _needs_reason(d, statement, where):
            out.append(statement)
    return out


# --- CSAF ---------------------------------------------------------------------------------


def _csaf_products(tree: object) -> dict[str, str]:
    """product_id -> purl (or the id itself when the product has none)."""
    found: dict[str, str] = {}
    tree = _map(tree)
    stack = [*_list(tree.get("branches")), *_list(tree.get("full_product_names"))]
    stack += [_map(r).get("full_product_name") for r in _list(tree.get("relationships"))]
    while stack:
        item = stack.pop()
        if not isinstance(item, Mapping):
            continue
        stack += _list(item.get("branches"))
        if isinstance(item.get("product"), Mapping):
            stack.append(item["product"])
        pid = _str(item.get("product_id"))
        if pid is None:
            continue
        helper = _map(item.get("product_identification_helper"))
        found[pid] = next(
            (p for p in [helper.get("purl"), *_list(helper.get("purls"))] if _str(p)), pid
        )
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
                statement = VexStatement(
                    vulnerability=ids[0],
                    aliases=ids[1:],
                    products=(products.get(pid, pid),),
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


# --- entry point --------------------------------------------------------------------------


def parse_vex(
    data: bytes, *, source: str, max_bytes: int = MAX_VEX_BYTES
) -> tuple[list[VexStatement], list[Problem]]:
    """Parse a CycloneDX VEX, OpenVEX or CSAF VEX document (JSON; the format is detected).

    Raises :class:`InvalidInput` for bytes that are not JSON or not one of these formats;
    returns the statements and the problems of entries that were left out or are doubtful.
    """
    if len(data) > max_bytes:
        raise InvalidInput(f"{len(data)} bytes, above the limit of {max_bytes} bytes", file=source)
    try:
        doc = orjson.loads(bytes(data).removeprefix(b"\xef\xbb\xbf"))
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"not valid JSON: {exc.msg}", file=source, line=exc.lineno) from None
    d = _Doc(source)
    if not isinstance(doc, Mapping):
        raise InvalidInput(f"expected a VEX document object, got {type_name(doc)}", file=source)
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


# --- the decision -------------------------------------------------------------------------


def vers_contains(vers: str, version: str, compare: VersionCompare | None) -> bool:
    """Whether ``version`` is in the vers range ``vers:<scheme>/<constraints>``.

    Follows the vers algorithm (``=`` / ``!=`` first, then the sorted bounds pairwise).
    Without ``compare`` only ``*`` and ``=`` constraints can be decided; anything undecidable,
    malformed or unreadable by ``compare`` counts as not contained (the statement does not
    apply).
    """
    scheme, sep, spec = vers.removeprefix("vers:").partition("/")
    if not vers.startswith("vers:") or not sep or not spec.strip():
        return False
    constraints: list[tuple[str, str]] = []
    for part in (p.strip() for p in spec.split("|")):
        if part == "*":
            return True
        op = next((o for o in ("!=", ">=", "<=", "=", ">", "<") if part.startswith(o)), "")
        value = unquote(part[len(op) :].strip())
        if not value:
            return False
        constraints.append((op or "=", value))
    if any(op == "=" and v == version for op, v in constraints):
        return True
    if compare is None:
        return False

    def cmp(a: str, b: str) -> int:
        return compare(scheme, a, b)

    try:
        if any(op == "!=" and cmp(version, v) == 0 for op, v in constraints):
            return False
        if any(op in ("=", ">=", "<=") and cmp(version, v) == 0 for op, v in constraints):
            return True
        bounds = [(op, v) for op, v in constraints if op not in ("=", "!=")]
        bounds.sort(key=lambda bound: cmp_to_key(cmp)(bound[1]))
        if not bounds:
            return False
        lower = [op in (">", ">=") for op, _ in bounds]
        if any(a == b for a, b in pairwise(lower)):
            return False  # malformed: bounds must alternate
        if not lower[0] and cmp(version, bounds[0][1]) < 0:
            return True
        if lower[-1] and cmp(version, bounds[-1][1]) > 0:
            return True
        return any(
            low and cmp(version, v1) > 0 and cmp(version, v2) < 0
            for low, (_, v1), (_, v2) in zip(lower, bounds, bounds[1:], strict=False)
        )
    except (ValueError, TypeError, InvalidInput):
        return False


def _purl(text: str) -> Purl | None:
    if not text.startswith("pkg:"):
        return None
    try:
        return Purl.parse(text)
    except InvalidInput:
        return None


def _same_package(product: str, component: str) -> tuple[bool, Purl | None]:
    """Whether ``product`` names the package ``component``; and the product's purl.

    A BOM-Link (``urn:cdx:serial/version#ref``) matches itself, or by its ``ref`` when that is
    a purl: a bare bom-ref means something only inside its own BOM.
    """
    if product == component:
        return True, _purl(product)
    if product.startswith("urn:cdx:") and "#" in product:
        product = unquote(product.split("#", 1)[1])
    p, c = _purl(product), _purl(component)
    if p is None or c is None:
        return False, None
    same = (p.type, p.namespace, p.name, p.subpath) == (c.type, c.namespace, c.name, c.subpath)
    return same and set(p.qualifiers) <= set(c.qualifiers), p


def _version_applies(
    s: VexStatement,
    product: Purl | None,
    version: str | None,
    scheme: str,
    compare: VersionCompare | None,
) -> bool:
    wanted = product.version if product is not None else None
    if wanted is None and not s.versions and not s.ranges:
        return True  # every version of the product: carries over to later versions
    if version is None:
        return False

    def equal(a: str, b: str) -> bool:
        if a == b:
            return True
        try:
            return compare is not None and compare(scheme, a, b) == 0
        except (ValueError, TypeError, InvalidInput):
            return False

    if wanted is not None:
        return equal(version, wanted)
    return any(equal(version, v) for v in s.versions) or any(
        vers_contains(r, version, compare) for r in s.ranges
    )


def _matches(
    s: VexStatement, purl: str, version: str | None, compare: VersionCompare | None
) -> bool:
    component = _purl(purl)
    scheme = component.type if component is not None else "generic"
    for product in s.products:
        same, product_purl = _same_package(product, purl)
        if same and _version_applies(s, product_purl, version, scheme, compare):
            return True
    return False


def vex_decision(
    statements: Iterable[VexStatement],
    vulnerability_ids: set[str],
    component_purl: str,
    component_version: str | None,
    *,
    product_purl: str | None = None,
    compare: VersionCompare | None = None,
) -> VexStatement | None:
    """The statement that applies to one component for one vulnerability, or ``None``.

    A statement applies when one of its ids is in ``vulnerability_ids`` (case ignored) and it
    names the component: the same package (purl type, namespace, name, subpath; the
    statement's qualifiers must be on the component) or the same reference. A product without
    a version covers every version of the package, later ones included; a product purl with a
    version, or a statement with versions or vers ranges, covers only those (ranges need
    ``compare``). A statement with ``subcomponents`` applies only when the component is one of
    them and ``product_purl`` is one of its products. ``component_version`` defaults to the
    purl's version.

    Of the statements that apply, the most recent wins (no timestamp counts as oldest); among
    equally recent ones, the most cautious status (affected, under_investigation, fixed,
    not_affected).
    """
    wanted = {i.strip().casefold() for i in vulnerability_ids}
    parsed = _purl(component_purl)
    version = component_version or (parsed.version if parsed is not None else None)
    best: VexStatement | None = None
    for s in statements:
        if not any(i.strip().casefold() in wanted for i in s.ids):
            continue
        if s.subcomponents:
            product = _purl(product_purl or "")
            whole = replace(s, versions=(), ranges=())
            inner = replace(s, products=s.subcomponents)
            if product_purl is None or not (
                _matches(whole, product_purl, product.version if product else None, compare)
                and _matches(inner, component_purl, version, compare)
            ):
                continue
        elif not _matches(s, component_purl, version, compare):
            continue
        if best is None or _rank(s) > _rank(best):
            best = s
    return best


def _rank(s: VexStatement) -> tuple[datetime, int]:
    return (s.timestamp or _MIN_TIME, _CAUTION[s.status])

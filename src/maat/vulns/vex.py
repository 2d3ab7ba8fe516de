"""VEX statements from CycloneDX VEX, OpenVEX and CSAF 2.0 VEX, in one model, and the rule
that decides which statement applies to a component.

Mapping to :class:`VexStatement` (``status``: not_affected, affected, fixed,
under_investigation):

- CycloneDX: ``analysis.state`` not_affected / false_positive -> not_affected, resolved /
  resolved_with_pedigree -> fixed, exploitable -> affected, in_triage -> under_investigation.
  One statement per ``affects[]`` entry and status: a listed version's own ``status``
  (affected / unaffected / unknown) wins when it disagrees with the state. A ``ref`` naming a
  component of the same document becomes its purl (or, with no purl, stays the ref), limited
  to the component's ``version`` when the purl names none. ``ref``s that are BOM-Links
  (``urn:cdx:...#ref``) are kept as is.
- OpenVEX: one statement per ``statements[]`` entry (0.0.1 and 0.2.0 shapes) and set of
  subcomponents: a 0.2.0 product's ``subcomponents`` are that product's only, 0.0.1
  statement-level ones belong to every product.
- CSAF: one statement per vulnerability, status and product (``known_not_affected``;
  ``fixed`` / ``first_fixed``; ``known_affected`` / ``first_affected`` / ``last_affected``;
  ``under_investigation``); product ids become purls through
  ``product_identification_helper.purl``, else stay product ids; the justification is the
  ``flags[].label`` naming the product (directly or through a product group).

A not_affected statement must say why — OpenVEX and CSAF require it; for CycloneDX a
``not_affected`` state needs a ``justification`` or a ``detail`` (``false_positive`` is its
own reason, and a version listed as ``unaffected`` is version data). One that does not is
left out and reported: it must not suppress a finding. Bad entries (including a state or
status that is not one of the listed strings) are problems; a document that is not VEX at
all raises :class:`InvalidInput`. The readers live in :mod:`maat.vulns.vex_formats`; this
module is the public API.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cmp_to_key
from itertools import pairwise
from typing import Literal
from urllib.parse import unquote

import orjson

from maat.core._validate import type_name
from maat.core.purl import Purl
from maat.errors import InvalidInput, Problem
from maat.vulns.subjects import purl_version

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
_SUPPRESSING = frozenset({"not_affected", "fixed"})
_MIN_TIME = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class VexStatement:
    """What a supplier says about one vulnerability in some products.

    ``products`` are purls or references (bom-refs, CSAF product ids). ``versions`` and
    ``ranges`` (vers strings) limit the statement to those versions of the products; a product
    purl with a version limits it to that version (an rpm ``epoch`` qualifier read into it, as
    for subjects); with both, a version must satisfy both; with neither, it covers every
    version. ``subcomponents`` (OpenVEX) are the components inside each of the products the
    statement is about.
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
    if not isinstance(doc, Mapping):
        raise InvalidInput(f"expected a VEX document object, got {type_name(doc)}", file=source)
    from maat.vulns.vex_formats import read_document  # the readers import this module

    return read_document(doc, source)


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
    # Read as the subject's version is (rpm epoch qualifier included), so the two compare.
    wanted = purl_version(product) if product is not None else None
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

    # Each limit that is given must hold: a purl naming 1.0.0 beside a versions entry saying
    # 2.0.0 is unaffected says nothing about 1.0.0, and must not suppress it.
    if wanted is not None and not equal(version, wanted):
        return False
    if not s.versions and not s.ranges:
        return True
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
    ``compare``; with both, a version must be in both). A statement with ``subcomponents``
    applies only when the component is one of them and ``product_purl`` is one of its
    products. ``component_version`` defaults to the purl's version.

    ``vulnerability_ids`` are all the ids of one finding's advisory — a merged group such as
    CVE + GHSA + PYSEC, which may hold several CVEs. When they include CVE ids, a statement
    that would suppress the finding (not_affected or fixed) applies only when its ids cover
    every one of those CVEs: a statement about CVE-1 says nothing about CVE-2 of the same
    group, nor does one that names only the GHSA id. Statements of other statuses apply on
    any shared id, since they can only make the decision more cautious. So when no statement
    covers all the CVEs, the result is ``None`` (or a non-suppressing statement).

    Of the statements that apply, the most recent wins (no timestamp counts as oldest); among
    equally recent ones, the most cautious status (affected, under_investigation, fixed,
    not_affected).
    """
    wanted = {i.strip().casefold() for i in vulnerability_ids}
    cves = {i for i in wanted if i.startswith("cve-")}
    parsed = _purl(component_purl)
    version = component_version or (purl_version(parsed) if parsed is not None else None)
    best: VexStatement | None = None
    for s in statements:
        ids = {i.strip().casefold() for i in s.ids}
        if not ids & wanted:
            continue
        if s.status in _SUPPRESSING and not cves <= ids:
            continue
        if s.subcomponents:
            product = _purl(product_purl or "")
            whole = replace(s, versions=(), ranges=())
            inner = replace(s, products=s.subcomponents)
            if product_purl is None or not (
                _matches(whole, product_purl, purl_version(product) if product else None, compare)
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

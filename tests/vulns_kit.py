"""Helpers for vulnerability tests: OSV advisories built in code, and the index over them."""

from __future__ import annotations

from typing import Any

from maat.vulns import aliases, osv
from maat.vulns.index import AdvisoryIndex, build_index
from maat.vulns.match import Subject


def advisory(
    id: str,
    ecosystem: str,
    name: str,
    *,
    ranges: list[dict[str, Any]] | None = None,
    versions: list[str] | None = None,
    aliases_: list[str] | None = None,
    severity: str | None = None,
    withdrawn: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """An OSV document for one affected package."""
    affected: dict[str, Any] = {"package": {"ecosystem": ecosystem, "name": name}}
    if ranges is not None:
        affected["ranges"] = ranges
    if versions is not None:
        affected["versions"] = versions
    doc: dict[str, Any] = {"id": id, "modified": "2024-01-01T00:00:00Z", "affected": [affected]}
    if aliases_:
        doc["aliases"] = aliases_
    if severity:
        doc["severity"] = [{"type": "CVSS_V3", "score": severity}]
    if withdrawn:
        doc["withdrawn"] = withdrawn
    doc.update(extra)
    return doc


def eco_range(*events: tuple[str, str], type_: str = "ECOSYSTEM") -> dict[str, Any]:
    """An OSV range from (kind, version) events."""
    return {"type": type_, "events": [{k: v} for k, v in events]}


def index_of(*docs: dict[str, Any]) -> AdvisoryIndex:
    """The index over the given OSV documents."""
    parsed = [osv.parse_osv(d, source=f"{d['id']}.json") for d in docs]
    return build_index(aliases.merge_aliases(parsed))


def subject(ecosystem: str, package: str, version: str, purl: str | None = None) -> Subject:
    """A subject to match."""
    return Subject(
        ref=f"{package}@{version}",
        name=package,
        version=version,
        ecosystem=ecosystem,
        package=package,
        purl=purl,
    )

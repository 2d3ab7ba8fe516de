"""Vulnerability use cases: advisories on disk, scans without state, stored findings.

The advisory index lives in ``<data dir>/advisories/index.json`` (written by
``maat advisories import``); KEV and EPSS files sit beside it. Stateless scans take paths.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

from maat.adapters.feeds.files import iter_items, read_file
from maat.core.enums import Criticality, FindingStatus
from maat.core.ids import new_id
from maat.errors import InvalidInput, NotFound, Problem
from maat.services.platform import Platform
from maat.vulns import aliases, epss, kev, osv, vex
from maat.vulns.findings import (
    SlaPolicy,
    severity_of,
)
from maat.vulns.index import INDEX_FORMAT, AdvisoryIndex, build_index
from maat.vulns.match import Subject
from maat.vulns.records import FindingRecord
from maat.vulns.scan import Finding, ScanReport, scan
from maat.vulns.versions import SEMVER, comparator_for

KEV_FILE = "kev.json"
EPSS_FILE = "epss.csv"
VEX_DIR = "vex"


@dataclass
class Intel:
    """Everything a scan consults besides the subjects."""

    index: AdvisoryIndex
    kev: Any = None
    epss: Any = None
    vex: list[Any] | None = None
    problems: list[Problem] | None = None


def advisories_dir(platform_or_dir: Platform | Path) -> Path:
    """Where imported advisory data lives."""
    base = (
        platform_or_dir if isinstance(platform_or_dir, Path) else platform_or_dir.settings.data_dir
    )
    return base / "advisories"


def load_index(path: Path, *, max_file: int = 64 << 20) -> AdvisoryIndex:
    """An index from an index file, or built from OSV files (a file, folder or zip dump)."""
    if path.is_file() and path.suffix == ".json":
        with path.open("rb") as fh:
            head = fh.read(64)
        if INDEX_FORMAT.encode() in head:
            return AdvisoryIndex.from_bytes(read_file(path, max_bytes=16 << 30), source=str(path))
    advisories, problems = osv.load_osv(iter_items(path, max_file=max_file))
    return build_index(aliases.merge_aliases(advisories), problems=problems)


def _source_slug(path: Path) -> str:
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", path.resolve().name or "root").strip("-.")
    return (name or "source")[:80]


def merge_indexes(indexes: Sequence[AdvisoryIndex]) -> AdvisoryIndex:
    """One index over several (one per imported source)."""
    if len(indexes) == 1:
        return indexes[0]
    advisories: list[Any] = []
    by_package: dict[tuple[str, str], list[Any]] = {}
    problems: list[Problem] = []
    for index in indexes:
        offset = len(advisories)
        advisories.extend(index.advisories)
        for key, entries in index.by_package.items():
            by_package.setdefault(key, []).extend(
                replace(e, advisory=e.advisory + offset, compiled=None) for e in entries
            )
        problems.extend(index.problems)
    return AdvisoryIndex(advisories, by_package, problems)


_INDEX_CACHE: dict[tuple[str, int, int], AdvisoryIndex] = {}


def _cached_index(path: Path) -> AdvisoryIndex:
    """Index files are large; a server process loads each version once (keyed by mtime)."""
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    index = _INDEX_CACHE.get(key)
    if index is None:
        index = load_index(path)
        for old in [k for k in _INDEX_CACHE if k[0] == key[0]]:
            del _INDEX_CACHE[old]
        _INDEX_CACHE[key] = index
    return index


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


@dataclass(frozen=True)
class ImportSummary:
    """What an advisory import did."""

    advisories: int
    packages: int
    problems: list[Problem]
    kev: int | None
    epss: int | None


def import_advisories(
    platform: Platform,
    actor: str,
    path: Path | None,
    *,
    kev_file: Path | None = None,
    epss_file: Path | None = None,
) -> ImportSummary:
    """Build the index from OSV data and store it; keep KEV and EPSS files beside it."""
    target = advisories_dir(platform)
    summary_index: AdvisoryIndex | None = None
    if path is not None:
        summary_index = load_index(path)
        if not summary_index.advisories:
            # Storing an empty index would make every stored finding look fixed.
            raise InvalidInput(
                "no advisories found", file=str(path), hint="give an OSV file, folder or zip dump"
            )
        # One index file per source: importing PyPI.zip does not drop Debian.zip's advisories.
        _atomic_write(target / f"index-{_source_slug(path)}.json", summary_index.to_bytes())
    kev_count = epss_count = None
    if kev_file is not None:
        data = read_file(kev_file)
        kev_count = len(kev.parse_kev(data, source=str(kev_file))[0])
        _atomic_write(target / KEV_FILE, data)
    if epss_file is not None:
        data = read_file(epss_file)
        epss_count = len(epss.parse_epss(data, source=str(epss_file))[0])
        _atomic_write(target / EPSS_FILE, data)
    with platform.transaction() as uow:
        platform.audit(
            uow,
            actor,
            "advisories.import",
            str(path or kev_file or epss_file),
            advisories=len(summary_index.advisories) if summary_index else None,
            kev=kev_count,
            epss=epss_count,
        )
    return ImportSummary(
        advisories=len(summary_index.advisories) if summary_index else 0,
        packages=summary_index.package_count if summary_index else 0,
        problems=list(summary_index.problems) if summary_index else [],
        kev=kev_count,
        epss=epss_count,
    )


def load_intel(
    advisories: Path,
    *,
    kev_file: Path | None = None,
    epss_file: Path | None = None,
    vex_files: Sequence[Path] = (),
) -> Intel:
    """Index, KEV, EPSS and VEX statements from files (a stateless scan)."""
    intel = Intel(
        index=_cached_index(advisories) if advisories.is_file() else load_index(advisories),
        problems=[],
    )
    if kev_file is not None:
        catalogue, problems = kev.parse_kev(read_file(kev_file), source=str(kev_file))
        intel.kev = catalogue
        intel.problems = [*(intel.problems or []), *problems]
    if epss_file is not None:
        scores, problems = epss.parse_epss(read_file(epss_file), source=str(epss_file))
        intel.epss = scores
        intel.problems = [*(intel.problems or []), *problems]
    statements: list[Any] = []
    for path in vex_files:
        found, problems = vex.parse_vex(read_file(path), source=str(path))
        statements.extend(found)
        intel.problems = [*(intel.problems or []), *problems]
    intel.vex = statements
    return intel


def stored_intel(platform: Platform) -> Intel:
    """The advisory data imported into this installation (index, KEV, EPSS, VEX)."""
    directory = advisories_dir(platform)
    index_paths = sorted(directory.glob("index*.json")) if directory.exists() else []
    if not index_paths:
        raise NotFound("no advisories imported", hint="run 'maat advisories import PATH' first")
    kev_path, epss_path = directory / KEV_FILE, directory / EPSS_FILE
    vex_dir = directory / VEX_DIR
    intel = load_intel(
        index_paths[0],
        kev_file=kev_path if kev_path.exists() else None,
        epss_file=epss_path if epss_path.exists() else None,
        vex_files=sorted(vex_dir.glob("*.json")) if vex_dir.exists() else (),
    )
    intel.index = merge_indexes([_cached_index(p) for p in index_paths])
    return intel


def import_vex(platform: Platform, actor: str, path: Path) -> int:
    """Keep a VEX document (CycloneDX, OpenVEX or CSAF) for every later stored scan."""
    data = read_file(path)
    statements, problems = vex.parse_vex(data, source=str(path))
    if not statements:
        detail = "; ".join(str(p) for p in problems[:3]) or "the document has none"
        raise InvalidInput(f"no usable VEX statement: {detail}", file=str(path))
    digest = hashlib.sha256(data).hexdigest()
    _atomic_write(advisories_dir(platform) / VEX_DIR / f"{digest}.json", data)
    with platform.transaction() as uow:
        platform.audit(
            uow, actor, "vex.import", str(path), statements=len(statements), sha256=digest
        )
    return len(statements)


def run_scan(
    subjects: Sequence[Subject],
    intel: Intel,
    *,
    criticality: Criticality = Criticality.MEDIUM,
    exposure: str = "internal",
    product_purl: str | None = None,
) -> ScanReport:
    """Scan with everything the intel holds. ``product_purl`` names the product an SBOM
    describes, so VEX statements about that product's subcomponents apply."""
    return scan(
        subjects,
        intel.index,
        kev=intel.kev,
        epss=intel.epss,
        vex=intel.vex or (),
        vex_decider=partial(vex.vex_decision, compare=vers_compare, product_purl=product_purl),
        criticality=criticality,
        exposure=exposure,
    )


# vers schemes (and purl types) -> OSV ecosystems whose comparator orders them.
_VERS_SCHEMES = {
    "pypi": "PyPI",
    "npm": "npm",
    "semver": "SEMVER",
    "golang": "Go",
    "maven": "Maven",
    "cargo": "crates.io",
    "gem": "RubyGems",
    "nuget": "NuGet",
    "composer": "Packagist",
    "deb": "Debian",
    "apk": "Alpine",
    "rpm": "Red Hat",
}


def vers_compare(scheme: str, a: str, b: str) -> int:
    """Compare two versions of a vers scheme for VEX ranges (InvalidInput if unreadable)."""
    name = _VERS_SCHEMES.get(scheme.lower())
    comparator = SEMVER if name == "SEMVER" else comparator_for(name) if name else None
    if comparator is None:
        raise InvalidInput(f"no comparator for vers scheme {scheme!r}", field="vers")
    ka, kb = comparator.key(a), comparator.key(b)
    return -1 if ka < kb else 1 if kb < ka else 0


def sla_policy(platform: Platform) -> SlaPolicy:
    """The SLA clocks from the settings."""
    v = platform.settings.vulns
    return SlaPolicy(
        critical=timedelta(seconds=v.sla_critical),
        high=timedelta(seconds=v.sla_high),
        medium=timedelta(seconds=v.sla_medium),
        low=timedelta(seconds=v.sla_low),
    )


def component_key(subject: Subject) -> str:
    """A component's identity across versions: its purl without version, else eco/name."""
    if subject.purl:
        return subject.purl.split("@")[0].split("?")[0]
    return f"{subject.ecosystem}/{subject.package or subject.name}"


@dataclass(frozen=True)
class Reconciled:
    """What storing a scan changed."""

    opened: int
    updated: int
    fixed: int
    reopened: int


def reconcile(
    platform: Platform,
    uow: Any,
    kind: str,
    subject_id: str,
    report: ScanReport,
    index: AdvisoryIndex,
) -> Reconciled:
    """Bring stored findings of one host or product in line with a new scan.

    1. A new (component, advisory) opens a finding with its SLA deadline; if a VEX statement
       says the component is not affected (or carries the fix), it is recorded as
       not-affected instead.
    2. A stored finding is the same finding when its advisory id is any id of the matched
       group: an advisory that gains a CVE alias keeps its finding, opening time and clock.
    3. One still present is refreshed (version, priority, last seen); its deadline only ever
       moves earlier (a finding that becomes known-exploited or more severe gets the
       shorter clock from now); its VEX status follows the statements in force now.
    4. One no longer present is marked fixed now, unless the scan could not judge it: its
       component was skipped, or its advisory is not in the index any more.
    5. A fixed one that comes back is reopened with a new deadline.
    """
    now = platform.now()
    sla = sla_policy(platform)
    stored = list(uow.findings.for_subject(kind, subject_id))
    by_id: dict[tuple[str, str], FindingRecord] = {}
    for f in stored:
        for advisory_id in (f.advisory_id, *f.aliases):
            by_id.setdefault((f.component_key, advisory_id), f)
    findings: list[tuple[Finding, Any]] = [(f, None) for f in report.findings]
    findings += [(s.finding, s.statement) for s in report.suppressed]
    touched: set[str] = set()
    opened = updated = reopened = fixed = 0
    for f, statement in findings:
        key = component_key(f.subject)
        old = next((by_id[(key, i)] for i in f.match.advisory.ids if (key, i) in by_id), None)
        if old is not None and old.id in touched:
            continue
        severity, _ = severity_of(f.severity)
        allowance_due = sla.due(severity, now, kev=f.kev)
        vex_status = None
        fresh: dict[str, Any] = dict(  # noqa: C408 - keyword form reads as the record's fields
            advisory_id=f.match.advisory.id,
            component_name=f.subject.name,
            component_version=f.subject.version or "",
            component_purl=f.subject.purl,
            aliases=f.match.advisory.aliases,
            summary=f.match.advisory.summary[:2000],
            severity=f.severity,
            cvss=f.match.advisory.score,
            kev=f.kev,
            epss=f.epss,
            priority=f.priority.score,
            priority_label=f.priority.label,
            fixed_versions=f.match.fixed_versions,
            last_seen_at=now,
            vex_justification=None,
        )
        if statement is not None:
            # "fixed" in VEX means this version carries the fix: not affected, for the SLA.
            vex_status = FindingStatus.NOT_AFFECTED
            fresh["vex_justification"] = (
                f"{statement.justification or statement.status} ({statement.source})"
            )
        if old is None:
            record = FindingRecord(
                id=new_id("fnd"),
                subject_kind=kind,
                subject_id=subject_id,
                component_key=key,
                status=vex_status or FindingStatus.OPEN,
                opened_at=now,
                due_at=allowance_due,
                **fresh,
            )
            uow.findings.add(record)
            touched.add(record.id)
            opened += 1
            continue
        touched.add(old.id)
        if old.status is FindingStatus.FIXED:
            uow.findings.update(
                replace(
                    old,
                    status=vex_status or FindingStatus.OPEN,
                    opened_at=now,
                    fixed_at=None,
                    due_at=allowance_due,
                    **fresh,
                )
            )
            reopened += 1
            continue
        status: FindingStatus = old.status
        if vex_status is not None and status is FindingStatus.OPEN:
            status = vex_status
        elif vex_status is None and status is FindingStatus.NOT_AFFECTED:
            status = FindingStatus.OPEN  # the statement was withdrawn
        uow.findings.update(
            replace(old, status=status, due_at=min(old.due_at, allowance_due), **fresh)
        )
        updated += 1
    skipped_components = {component_key(s.subject) for s in report.skipped if s.advisory_id is None}
    known = {i for a in index.advisories for i in a.ids}
    for old in stored:
        if old.id in touched or old.status is FindingStatus.FIXED:
            continue
        if old.component_key in skipped_components or old.advisory_id not in known:
            continue  # the scan could not judge it: keep it as it is
        uow.findings.update(replace(old, status=FindingStatus.FIXED, fixed_at=now))
        fixed += 1
    return Reconciled(opened, updated, fixed, reopened)

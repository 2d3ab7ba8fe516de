"""The matcher over every real advisory in osv-pypa and every real SBOM in sbom-*: listed
versions are affected, fixed versions are not, and no component is ever dropped."""

from __future__ import annotations

from pathlib import Path

import pytest

from maat.adapters.feeds.files import iter_items
from maat.errors import InvalidInput
from maat.sbom import parse_sbom
from maat.vulns import aliases, osv
from maat.vulns.index import AdvisoryIndex, build_index
from maat.vulns.match import Matcher, Subject
from maat.vulns.subjects import subject_from_component

DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"
OSV = DATA / "osv-pypa"


@pytest.fixture(scope="module")
def pypa() -> tuple[list[osv.OsvAdvisory], AdvisoryIndex]:
    if not OSV.exists():
        pytest.skip(f"shared test data absent: {OSV}")
    advisories, problems = osv.load_osv(iter_items(OSV))
    assert problems == []
    # One group per advisory (no alias merging): each advisory's own ranges are under test.
    return advisories, build_index(g for a in advisories for g in aliases.merge_aliases([a]))


def test_every_listed_version_of_every_pypa_advisory_is_affected(
    pypa: tuple[list[osv.OsvAdvisory], AdvisoryIndex],
) -> None:
    advisories, index = pypa
    matcher = Matcher(index)
    misses: list[str] = []
    checked = 0
    for adv in advisories:
        if adv.withdrawn is not None:
            continue
        for aff in adv.affected:
            for version in aff.versions:
                subject = Subject(
                    ref="x",
                    name=aff.name,
                    version=version,
                    ecosystem=aff.ecosystem,
                    package=aff.name,
                )
                result = matcher.match([subject])
                ids = {i for m in result.matches for i in m.advisory.ids}
                checked += 1
                if adv.id not in ids:
                    misses.append(f"{adv.id} {aff.name} {version}")
    assert checked > 20_000
    assert misses == []


def test_no_pypa_fixed_version_is_reported_affected_by_its_own_advisory(
    pypa: tuple[list[osv.OsvAdvisory], AdvisoryIndex],
) -> None:
    advisories, index = pypa
    matcher = Matcher(index)
    wrong: list[str] = []
    for adv in advisories:
        for aff in adv.affected:
            listed = set(aff.versions)
            for rng in aff.ranges:
                if rng.type == "GIT":
                    continue
                introduced_later = {e.value for e in rng.events if e.kind == "introduced"}
                for fixed in (e.value for e in rng.events if e.kind == "fixed"):
                    if fixed in listed or fixed in introduced_later:
                        continue
                    other_ranges = [r for r in aff.ranges if r is not rng and r.type != "GIT"]
                    if other_ranges:
                        continue  # another range may legitimately cover it
                    subject = Subject(
                        ref="x",
                        name=aff.name,
                        version=fixed,
                        ecosystem=aff.ecosystem,
                        package=aff.name,
                    )
                    ids = {i for m in matcher.match([subject]).matches for i in m.advisory.ids}
                    if adv.id in ids:
                        wrong.append(f"{adv.id} {aff.name} fixed in {fixed} but reported")
    assert wrong == []


def _sbom_files() -> list[Path]:
    folders = [DATA / "sbom-cyclonedx", DATA / "sbom-spdx"]
    return sorted(
        p
        for f in folders
        if f.exists()
        for p in f.rglob("*")
        if p.suffix in {".json", ".xml", ".spdx", ".jsonld"}
    )


@pytest.mark.skipif(not DATA.exists(), reason=f"shared test data absent: {DATA}")
def test_every_real_sbom_is_accounted_for_component_by_component(
    pypa: tuple[list[osv.OsvAdvisory], AdvisoryIndex],
) -> None:
    _, index = pypa
    matcher = Matcher(index)
    scanned = 0
    refused: list[str] = []
    for path in _sbom_files():
        try:
            sbom = parse_sbom(path.read_bytes(), source=str(path))
        except InvalidInput as exc:
            refused.append(exc.message)
            continue
        subjects = [subject_from_component(c) for c in sbom.components]
        result = matcher.match(subjects)
        skipped_refs = {s.subject.ref for s in result.skipped if s.advisory_id is None}
        for s in subjects:
            # Every component is matchable or reported as skipped with a reason.
            assert (s.unmatchable is None and s.ecosystem) or s.ref in skipped_refs, (path, s)
        scanned += len(subjects)
    assert scanned > 3_000
    # The one unsupported file (CycloneDX 1.1) is refused on purpose; see tests/unit/sbom.
    assert len(refused) == 1
    assert refused[0].startswith("unsupported CycloneDX version '1.1'")

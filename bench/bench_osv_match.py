"""Benchmark: advisory index build/load and SBOM matching at scale, beside a naive floor.

    .venv/bin/python bench/bench_osv_match.py [--advisories 200000] [--components 5000]

1. Generates an OSV zip dump of N advisories (realistic shapes across PyPI, npm, Maven, Go,
   crates.io and Debian:12) in a temp dir, plus the real osv-pypa advisories when present.
2. Times building Maat's index from the zip (parse + alias merge + index), writing it, and
   loading it back (the `maat scan --advisories index.json` path).
3. Times matching a 5,000-component CycloneDX SBOM (half the components on advisory
   packages) with Maat's matcher.
4. Runs the same SBOM through the floor: a straightforward per-advisory loop that parses
   versions with `univers` each time (no peer that works offline runs on these machines).
5. Checks both find the same (component, advisory) pairs and prints the figures.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import tempfile
import time
import tracemalloc
import zipfile
from pathlib import Path
from typing import Any

from maat.adapters.feeds.files import iter_items
from maat.sbom import parse_sbom
from maat.vulns import aliases, osv
from maat.vulns.index import AdvisoryIndex, build_index, normalise_name
from maat.vulns.match import Matcher
from maat.vulns.subjects import subject_from_component

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "osv-pypa"
ECOSYSTEMS = [
    ("PyPI", "pypi"),
    ("npm", "npm"),
    ("Maven", "maven"),
    ("Go", "golang"),
    ("crates.io", "cargo"),
    ("Debian:12", "deb"),
]


def _version(rng: random.Random, eco: str) -> str:
    major, minor, patch = rng.randint(0, 9), rng.randint(0, 20), rng.randint(0, 30)
    if eco == "Debian:12":
        return f"{major}.{minor}.{patch}-{rng.randint(1, 5)}+deb12u{rng.randint(1, 4)}"
    return f"{major}.{minor}.{patch}"


def _package(rng: random.Random, eco: str, i: int) -> str:
    if eco == "Maven":
        return f"org.example{i % 97}:artifact-{i}"
    if eco == "Go":
        return f"github.com/example{i % 89}/module{i}"
    return f"pkg-{eco.split(':')[0].lower().replace('.', '')}-{i}"


def generate(n: int, seed: int = 7) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """N advisories over n/10 packages; returns the documents and the package list."""
    rng = random.Random(seed)
    packages = [
        (eco, _package(rng, eco, i))
        for i in range(max(1, n // 10))
        for eco in [ECOSYSTEMS[i % len(ECOSYSTEMS)][0]]
    ]
    docs = []
    for k in range(n):
        eco, name = packages[rng.randrange(len(packages))]
        lo, hi = sorted(
            [_version(rng, eco), _version(rng, eco)],
            key=lambda v: [
                int(x) if x.isdigit() else 0
                for x in v.replace("-", ".").replace("+", ".").split(".")[:3]
            ],
        )
        events: list[dict[str, str]] = [{"introduced": "0" if rng.random() < 0.3 else lo}]
        if rng.random() < 0.9:
            events.append({"fixed": hi})
        affected: dict[str, Any] = {
            "package": {"ecosystem": eco, "name": name},
            "ranges": [
                {
                    "type": "SEMVER" if eco in ("npm", "Go", "crates.io") else "ECOSYSTEM",
                    "events": events,
                }
            ],
        }
        if eco == "PyPI" and rng.random() < 0.5:
            affected["versions"] = [_version(rng, eco) for _ in range(rng.randint(1, 30))]
        doc = {
            "id": f"GEN-{k:07d}",
            "modified": "2026-01-01T00:00:00Z",
            "aliases": [f"CVE-2026-{k:07d}"],
            "summary": f"generated advisory {k}",
            "severity": [
                {"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}
            ],
            "affected": [affected],
        }
        docs.append(doc)
    return docs, packages


def write_zip(docs: list[dict[str, Any]], path: Path) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for doc in docs:
            archive.writestr(f"{doc['id']}.json", json.dumps(doc))


def make_sbom(packages: list[tuple[str, str]], n: int, seed: int = 11) -> bytes:
    rng = random.Random(seed)
    purl_type = dict(ECOSYSTEMS)
    components = []
    for i in range(n):
        if i % 2 == 0:
            eco, name = packages[rng.randrange(len(packages))]
        else:
            eco, name = ECOSYSTEMS[i % len(ECOSYSTEMS)][0], f"unrelated-{i}"
        version = _version(rng, eco)
        ptype = purl_type[eco]
        if ptype == "maven":
            group, artifact = name.split(":") if ":" in name else ("org.other", name)
            purl = f"pkg:maven/{group}/{artifact}@{version}"
        elif ptype == "golang":
            purl = (
                f"pkg:golang/{name}@v{version}"
                if "/" in name
                else f"pkg:golang/example.org/{name}@v{version}"
            )
        elif ptype == "deb":
            purl = f"pkg:deb/debian/{name}@{version}?distro=debian-12"
        else:
            purl = f"pkg:{ptype}/{name}@{version}"
        components.append(
            {"type": "library", "bom-ref": f"c{i}", "name": name, "version": version, "purl": purl}
        )
    return json.dumps(
        {"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1, "components": components}
    ).encode()


def floor_match(docs: list[dict[str, Any]], subjects: list[Any]) -> set[tuple[str, str]]:
    """The straightforward loop: every advisory, every affected package, every component of
    that name, versions parsed with univers on every comparison."""
    from univers.versions import DebianVersion, MavenVersion, PypiVersion, SemverVersion

    classes = {
        "PyPI": PypiVersion,
        "npm": SemverVersion,
        "Go": SemverVersion,
        "crates.io": SemverVersion,
        "Maven": MavenVersion,
        "Debian": DebianVersion,
    }
    found: set[tuple[str, str]] = set()
    for doc in docs:
        for aff in doc.get("affected", []):
            eco, name = aff["package"]["ecosystem"], aff["package"]["name"]
            cls = classes.get(eco.split(":")[0])
            if cls is None:
                continue
            key = normalise_name(eco, name)
            for s in subjects:
                if s.ecosystem != eco or normalise_name(eco, s.package or "") != key:
                    continue
                try:
                    v = cls(s.version.lstrip("v"))
                except Exception:
                    continue
                hit = s.version in aff.get("versions", [])
                for r in aff.get("ranges", []):
                    affected = False
                    for e in r["events"]:
                        kind, value = next(iter(e.items()))
                        if kind == "introduced" and (value == "0" or v >= cls(value)):
                            affected = True
                        elif (kind == "fixed" and v >= cls(value)) or (
                            kind == "last_affected" and v > cls(value)
                        ):
                            affected = False
                    hit = hit or affected
                if hit:
                    found.add((s.ref, doc["id"]))
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--advisories", type=int, default=200_000)
    parser.add_argument("--components", type=int, default=5_000)
    parser.add_argument("--skip-floor", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        docs, packages = generate(args.advisories)
        dump = Path(tmp) / "all.zip"
        write_zip(docs, dump)
        sources = [dump] + ([SHARED] if SHARED.exists() else [])
        print(
            f"advisories: {args.advisories} generated"
            + (" + osv-pypa (real)" if SHARED.exists() else "")
        )

        t = time.perf_counter()
        parsed, problems = [], []
        for source in sources:
            found, bad = osv.load_osv(iter_items(source))
            parsed += found
            problems += bad
        t_parse = time.perf_counter() - t
        t = time.perf_counter()
        index = build_index(aliases.merge_aliases(parsed), problems=problems)
        t_build = time.perf_counter() - t
        blob = index.to_bytes()
        index_file = Path(tmp) / "index.json"
        index_file.write_bytes(blob)
        del index, parsed
        t = time.perf_counter()
        loaded = AdvisoryIndex.from_bytes(index_file.read_bytes())
        t_load = time.perf_counter() - t
        tracemalloc.start()  # separately: tracemalloc slows allocation, so not while timing
        kept = AdvisoryIndex.from_bytes(index_file.read_bytes())
        index_mem = tracemalloc.get_traced_memory()[0]
        del kept
        tracemalloc.stop()

        sbom = parse_sbom(make_sbom(packages, args.components), source="bench.cdx.json")
        subjects = [subject_from_component(c) for c in sbom.components]
        t = time.perf_counter()
        result = Matcher(loaded).match(subjects)
        t_match = time.perf_counter() - t
        t = time.perf_counter()
        Matcher(loaded).match(subjects)  # a fresh matcher: no version cache carried over
        t_match2 = time.perf_counter() - t
        maat_pairs = {(m.subject.ref, i) for m in result.matches for i in m.advisory.ids}

        print(
            f"index: {len(loaded.advisories)} advisory groups, {loaded.package_count} packages, "
            f"{len(blob) / 1e6:.1f} MB on disk, {index_mem / 1e6:.0f} MB in memory"
        )
        print(
            f"parse OSV files: {t_parse:.1f} s; build index: {t_build:.1f} s; load index: {t_load:.2f} s"
        )
        print(
            f"match {len(subjects)} components: {t_match:.3f} s (again, fresh matcher: {t_match2:.3f} s); "
            f"{len(result.matches)} findings, {len(result.skipped)} skipped"
        )
        if not args.skip_floor:
            t = time.perf_counter()
            floor_pairs = floor_match(docs, subjects)
            t_floor = time.perf_counter() - t
            generated = {(r, a) for r, a in maat_pairs if a.startswith("GEN-")}
            print(
                f"floor (per-advisory loop, univers): {t_floor:.1f} s -> Maat is {t_floor / t_match:.0f}x faster"
            )
            print(
                f"agreement on generated advisories: maat {len(generated)} pairs, floor {len(floor_pairs)} pairs, "
                f"only maat {len(generated - floor_pairs)}, only floor {len(floor_pairs - generated)}"
            )
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS of the whole benchmark: {rss:.0f} MB")


if __name__ == "__main__":
    main()

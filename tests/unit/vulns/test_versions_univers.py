"""Differential tests against ``univers`` (test-only oracle) on generated version strings.

For each ecosystem a seeded generator makes 250 realistic version strings that both sides accept,
and every pair of them is compared (62,500 comparisons per ecosystem). Where
univers's semantics are the reference (PEP 440 via packaging, dpkg, rpmvercmp, Gem::Version,
NuGet) every answer must agree. Where univers departs from the scheme's specification, the
specification wins, and the test pins down that every disagreement is of the known kind:

* SemVer: univers (``semantic_version``) lets build metadata decide between otherwise equal
  versions (``1.0.0+a < 1.0.0+b``); SemVer 2.0.0 says build metadata has no precedence.
* Alpine: univers uses Gentoo's rules, where ``-r0`` equals no revision and a bare suffix
  equals the suffix with number 0 (``_p`` == ``_p0``); apk-tools orders ``1.0 < 1.0-r0`` and
  ``1.0_p < 1.0_p0`` (a version that goes on with a number or revision is the newer).

Maven is compared in ``test_versions_maven.py`` (univers implements an older ComparableVersion).
"""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Callable

import pytest
from univers import versions as uv

from maat.errors import InvalidInput
from maat.vulns.versions import SEMVER, Comparator, comparator_for


def _cmp(a: object, b: object) -> int:
    return int(a > b) - int(a < b)  # type: ignore[operator]


def _num(rnd: random.Random) -> str:
    return str(rnd.choice([0, 1, 2, 3, 9, 10, 11, 2023]))


def _pypi(rnd: random.Random) -> str:
    v = f"{rnd.randint(1, 2)}!" if rnd.random() < 0.05 else ""
    v += ".".join(_num(rnd) for _ in range(rnd.randint(1, 4)))
    if rnd.random() < 0.3:
        v += rnd.choice(["a", "b", "rc", "c", "alpha", "beta", "pre"]) + _num(rnd)
    if rnd.random() < 0.2:
        v += rnd.choice([".post", "-", ".rev"]) + _num(rnd)
    if rnd.random() < 0.2:
        v += ".dev" + _num(rnd)
    if rnd.random() < 0.1:
        v += "+" + rnd.choice(["local", "1", "a.2", "ubuntu-1", "0"])
    return v


def _semver(rnd: random.Random) -> str:
    v = ".".join(_num(rnd) for _ in range(3))
    if rnd.random() < 0.6:
        ids = ["alpha", "beta", "rc", "0", "1", "2", "10", "x-y", "a1", "Alpha", "-"]
        v += "-" + ".".join(rnd.choice(ids) for _ in range(rnd.randint(1, 3)))
    if rnd.random() < 0.2:
        v += "+" + rnd.choice(["build", "1", "sha.5114f85", "exp-2"])
    return v


def _debian(rnd: random.Random) -> str:
    v = f"{rnd.randint(1, 2)}:" if rnd.random() < 0.2 else ""
    v += _num(rnd)
    for _ in range(rnd.randint(0, 3)):
        v += rnd.choice([".", "+", "~", "a", "b", "+dfsg", "~rc", ".0", "+git"])
        v += rnd.choice(["", _num(rnd)])
    if rnd.random() < 0.6:
        v += "-" + rnd.choice(
            [
                "1",
                "0",
                "1ubuntu1",
                "2+deb12u1",
                "1~bpo11+1",
                "a",
                "1.1",
                "1build2",
                "0ubuntu0.22.04.1",
            ]
        )
    return v


def _rpm(rnd: random.Random) -> str:
    v = f"{rnd.randint(1, 2)}:" if rnd.random() < 0.2 else ""
    v += _num(rnd)
    for _ in range(rnd.randint(0, 3)):
        v += rnd.choice([".", "_", "+", "a", "b", "p", ".rc", "git", "."])
        v += rnd.choice(["", _num(rnd)])
    return (
        v
        + "-"
        + rnd.choice(
            [
                "1",
                "0",
                "1.el9",
                "2.el9_1",
                "1.fc38",
                "3.module+el8.1.0",
                "0.1.el8",
                "150400.3.1",
                "1.mga9",
            ]
        )
    )


def _rubygems(rnd: random.Random) -> str:
    parts = [_num(rnd)] + [
        rnd.choice([_num(rnd), _num(rnd), "a", "b", "rc", "pre", "beta1", "rc2", "0"])
        for _ in range(rnd.randint(0, 4))
    ]
    v = ".".join(parts)
    if rnd.random() < 0.1:
        v += "-" + rnd.choice(["rc1", "beta", "pre.1"])
    return v


def _nuget(rnd: random.Random) -> str:
    v = ".".join(_num(rnd) for _ in range(rnd.randint(1, 4)))
    if rnd.random() < 0.5:
        labels = ["alpha", "Beta", "RC", "rc", "1", "2", "10", "a1", "pre-1", "preview"]
        v += "-" + ".".join(rnd.choice(labels) for _ in range(rnd.randint(1, 2)))
    return v


def _alpine(rnd: random.Random) -> str:
    v = ".".join(_num(rnd) for _ in range(rnd.randint(1, 3)))
    v += rnd.choice(["", "", "", "a", "b"])
    for _ in range(rnd.choice([0, 0, 1, 2])):
        v += rnd.choice(["_alpha", "_beta", "_pre", "_rc", "_p", "_git", "_cvs", "_svn", "_hg"])
        v += rnd.choice(["", _num(rnd)])
    if rnd.random() < 0.7:
        v += f"-r{rnd.randint(0, 5)}"
    return v


def _strip_build(version: str) -> str:
    return version.split("+", 1)[0]


def _gentoo_equivalent(version: str) -> str:
    """Rewrite Gentoo's equalities away: no ``-r0``, suffixes always numbered."""
    version = re.sub(r"-r0$", "", version)
    return re.sub(r"_(alpha|beta|pre|rc|p|git|cvs|svn|hg)(?![0-9])", r"_\g<1>0", version)


CASES: list[tuple[str, Callable[[random.Random], str], type[uv.Version]]] = [
    ("PyPI", _pypi, uv.PypiVersion),
    ("npm", _semver, uv.SemverVersion),
    ("SEMVER", _semver, uv.SemverVersion),
    ("Debian", _debian, uv.DebianVersion),
    ("Ubuntu", _debian, uv.DebianVersion),
    ("Red Hat", _rpm, uv.RpmVersion),
    ("SUSE", _rpm, uv.RpmVersion),
    ("RubyGems", _rubygems, uv.RubygemsVersion),
    ("NuGet", _nuget, uv.NugetVersion),
    ("Alpine", _alpine, uv.AlpineLinuxVersion),
]


def _comparator(ecosystem: str) -> Comparator:
    comparator = SEMVER if ecosystem == "SEMVER" else comparator_for(ecosystem)
    assert comparator is not None
    return comparator


def _accepted_by_both(
    ecosystem: str, generate: Callable[[random.Random], str], oracle: type[uv.Version]
) -> list[str]:
    comparator = _comparator(ecosystem)
    rnd = random.Random(f"univers-{ecosystem}")
    versions: set[str] = set()
    for _ in range(3000):
        text = generate(rnd)
        if text == "0":
            continue  # maat's ZERO sentinel, deliberately below every version
        try:
            comparator.key(text)
            oracle(text)
        except (InvalidInput, ValueError):
            continue
        versions.add(text)
        if len(versions) == 250:
            break
    return sorted(versions)


def _explained(ecosystem: str, a: str, b: str, theirs: int) -> bool:
    """Whether a disagreement is one of the documented univers departures from the spec."""
    comparator = _comparator(ecosystem)
    if ecosystem in ("npm", "SEMVER"):
        # univers orders by build metadata; without it, it must agree with us.
        return _strip_build(a) != a or _strip_build(b) != b
    if ecosystem == "Alpine":
        a2, b2 = _gentoo_equivalent(a), _gentoo_equivalent(b)
        return (a2, b2) != (a, b) and _cmp(comparator.key(a2), comparator.key(b2)) == theirs
    return False


@pytest.mark.parametrize(("ecosystem", "generate", "oracle"), CASES, ids=[c[0] for c in CASES])
def test_agrees_with_univers_where_univers_follows_the_spec(
    ecosystem: str, generate: Callable[[random.Random], str], oracle: type[uv.Version]
) -> None:
    versions = _accepted_by_both(ecosystem, generate, oracle)
    assert len(versions) >= 150, len(versions)
    comparator = _comparator(ecosystem)
    ours = {v: comparator.key(v) for v in versions}
    theirs = {v: oracle(v) for v in versions}
    unexplained = []
    for a, b in itertools.product(versions, repeat=2):
        mine, other = _cmp(ours[a], ours[b]), _cmp(theirs[a], theirs[b])
        if mine != other and not _explained(ecosystem, a, b, other):
            unexplained.append((a, b, mine, other))
    assert not unexplained, unexplained[:20]


def test_the_known_departures_follow_the_specs() -> None:
    semver, npm, apk = SEMVER, _comparator("npm"), _comparator("Alpine")
    assert uv.SemverVersion("1.0.0+a") != uv.SemverVersion("1.0.0+b")
    assert semver.key("1.0.0+a") == semver.key("1.0.0+b") == npm.key("1.0.0")
    assert uv.AlpineLinuxVersion("1.0") == uv.AlpineLinuxVersion("1.0-r0")
    assert apk.key("1.0") < apk.key("1.0-r0")
    assert uv.AlpineLinuxVersion("1.0_p") == uv.AlpineLinuxVersion("1.0_p0")
    assert apk.key("1.0_p") < apk.key("1.0_p0")

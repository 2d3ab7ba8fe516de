"""Maven: the tuple key against Maven's own item-by-item comparison, and against univers.

``reference_compare`` below is a direct port of ``ComparableVersion``'s ``Item.compareTo``
(maven-artifact 3.9 / 4: IntItem, StringItem, CombinationItem, ListItem with null padding),
applied to the item tree the module parses. The key must order realistic versions exactly as it
does. univers implements an older ComparableVersion (no combination items, ``release`` not a
release qualifier, ``.X`` and ``-X`` different: MNG-7644); every pair where univers disagrees
with us must be one where the reference agrees with us.
"""

from __future__ import annotations

import itertools
import random
from itertools import zip_longest

import pytest
from univers import versions as uv

from maat.vulns.versions import Comparator, comparator_for
from maat.vulns.versions.maven import _Combination, _parse, _rank


def _require(ecosystem: str) -> Comparator:
    comparator = comparator_for(ecosystem)
    assert comparator is not None
    return comparator


MAVEN = _require("Maven")
RELEASE = "5"


def _sign(x: int) -> int:
    return (x > 0) - (x < 0)


def _text_cmp(a: str, b: str) -> int:
    return (a > b) - (a < b)


def _item_cmp(x: object, y: object) -> int:
    """``x.compareTo(y)`` for Maven items; ``y`` may be None (padding)."""
    if isinstance(x, int):
        if y is None:
            return 1 if x else 0
        if isinstance(y, int):
            return _sign(x - y)
        return 1  # 1.1 > 1-sp, 1.1 > 1-1
    if isinstance(x, str):
        if y is None:
            return _text_cmp(_rank(x), RELEASE)
        if isinstance(y, int | list):
            return -1
        if isinstance(y, str):
            return _text_cmp(_rank(x), _rank(y))
        assert isinstance(y, _Combination)
        result = _text_cmp(_rank(x), _rank(y.qualifier))
        return -1 if result == 0 else result
    if isinstance(x, _Combination):
        if y is None:
            return _text_cmp(_rank(x.qualifier), RELEASE)
        if isinstance(y, int | list):
            return -1
        if isinstance(y, str):
            result = _text_cmp(_rank(x.qualifier), _rank(y))
            return 1 if result == 0 else result
        assert isinstance(y, _Combination)
        result = _text_cmp(_rank(x.qualifier), _rank(y.qualifier))
        return result if result else _sign(x.number - y.number)
    assert isinstance(x, list)
    if y is None:
        for item in x:
            result = _item_cmp(item, None)
            if result:
                return result
        return 0
    if isinstance(y, int):
        return -1
    if isinstance(y, str | _Combination):
        return 1
    assert isinstance(y, list)
    for left, right in zip_longest(x, y):
        result = -_item_cmp(right, None) if left is None else _item_cmp(left, right)
        if result:
            return result
    return 0


def reference_compare(a: str, b: str) -> int:
    """Maven's ``new ComparableVersion(a).compareTo(new ComparableVersion(b))``, signed."""
    return _item_cmp(_parse(a), _parse(b))


def _key_cmp(a: str, b: str) -> int:
    ka, kb = MAVEN.key(a), MAVEN.key(b)
    return int(ka > kb) - int(ka < kb)


def _realistic(rnd: random.Random) -> str:
    """Versions as found on Maven Central. Not ``1.0.Final-redhat-1`` (a qualifier with more
    items after it in the same list): Maven itself orders those inconsistently, see below."""
    v = ".".join(str(rnd.choice([0, 1, 2, 3, 10])) for _ in range(rnd.randint(1, 4)))
    qualifier = rnd.choice(
        [
            "alpha",
            "beta",
            "rc",
            "cr",
            "m",
            "a",
            "b",
            "milestone",
            "SNAPSHOT",
            "RELEASE",
            "Final",
            "GA",
            "sp",
            "jre",
            "android",
            "redhat",
            "M",
            "RC",
            "ga",
            "final",
        ]
    )
    numbered = rnd.choice(
        ["alpha", "beta", "rc", "cr", "M", "m", "a", "b", "sp", "redhat", "jboss", "patch"]
    )
    n = rnd.randint(1, 12)
    shape = rnd.randrange(10)
    return (
        v
        + [
            "",
            f"-{qualifier}",
            f".{qualifier}",
            f"-{numbered}{n}",
            f"-{numbered}-{n}",
            f".{numbered}{n}",
            f"-{n}",
            f"{numbered}{n}",
            f"-{numbered}{n}-SNAPSHOT",
            f"-{rnd.randint(20200101, 20261231)}.{rnd.randint(0, 235959):06d}-{n}",
        ][shape]
    )


def _realistic_versions(seed: str, count: int) -> list[str]:
    rnd = random.Random(seed)
    versions = {_realistic(rnd) for _ in range(count * 3)} - {"0"}
    return sorted(versions)[:count]


def test_reference_port_reproduces_maven_test_orders() -> None:
    ordered = [
        "1-alpha2snapshot",
        "1-alpha2",
        "1-alpha-123",
        "1-beta-2",
        "1-beta123",
        "1-m2",
        "1-m11",
        "1-rc",
        "1-cr2",
        "1-rc123",
        "1-SNAPSHOT",
        "1",
        "1-sp",
        "1-sp2",
        "1-sp123",
        "1-abc",
        "1-def",
        "1-pom-1",
        "1-1-snapshot",
        "1-1",
        "1-2",
        "1-123",
    ]
    for low, high in itertools.combinations(ordered, 2):
        assert reference_compare(low, high) == -1, (low, high)
        assert reference_compare(high, low) == 1, (low, high)


def test_key_orders_realistic_versions_exactly_as_maven() -> None:
    versions = _realistic_versions("maven-reference", 220)
    assert len(versions) >= 200
    wrong = [
        (a, b, reference_compare(a, b), _key_cmp(a, b))
        for a, b in itertools.product(versions, repeat=2)
        if reference_compare(a, b) != _key_cmp(a, b)
    ]
    assert not wrong, wrong[:20]


def test_differences_with_univers_are_its_older_algorithm() -> None:
    versions = [v for v in _realistic_versions("maven-univers", 220) if uv.MavenVersion(v)]
    theirs = {v: uv.MavenVersion(v) for v in versions}
    disagreements = 0
    for a, b in itertools.product(versions, repeat=2):
        other = int(theirs[a] > theirs[b]) - int(theirs[a] < theirs[b])
        mine = _key_cmp(a, b)
        if mine != other:
            disagreements += 1
            assert mine == reference_compare(a, b), (a, b, mine, other)
    assert disagreements  # e.g. 1-rc1 vs 1.rc2, 1.RELEASE vs 1-M1: univers predates them


@pytest.mark.parametrize(
    ("low", "high"),
    [
        ("1.0.0.RC1", "1.0.0-RC2"),  # MNG-7644
        ("1.0-RC1", "1.0.RELEASE"),  # "release" is a release qualifier since Maven 3.9
        ("1-rc1", "1.rc2"),
    ],
)
def test_cases_where_univers_is_behind_maven(low: str, high: str) -> None:
    assert reference_compare(low, high) == -1
    assert MAVEN.key(low) < MAVEN.key(high)


def test_documented_choice_for_release_qualifiers_with_numbers() -> None:
    """Maven says ``1-release1 == 1`` and ``1-release1 < 1-release2`` at once; we keep the
    second (distinct versions stay distinct): numbered release qualifiers rank above the
    release."""
    assert reference_compare("1-release1", "1") == 0
    assert reference_compare("1-release1", "1-release2") == -1
    assert MAVEN.key("1") < MAVEN.key("1-release1") < MAVEN.key("1-release2")
    assert MAVEN.key("1") == MAVEN.key("1-release") == MAVEN.key("1.0.GA")


def test_maven_is_not_transitive_on_contrived_input_but_keys_are() -> None:
    a, b, c = "1.0-0.alpha", "1-sp", "1"
    # Maven: a < c, c < b, b < a.
    assert reference_compare(a, c) == -1
    assert reference_compare(c, b) == -1
    assert reference_compare(b, a) == -1
    keys = sorted([MAVEN.key(a), MAVEN.key(b), MAVEN.key(c)])
    assert keys[0] < keys[1] < keys[2]


def test_maven_is_not_transitive_on_red_hat_builds_but_keys_are() -> None:
    """``X.Final-redhat-N``: Maven puts it above ``X`` and ``X`` above ``X-beta1``, yet below
    ``X-beta1`` (a qualifier in the main list ranks below any sub-list). The key keeps the first
    two answers: a Red Hat rebuild of a final release is newer than its betas."""
    build, release, beta = "1.0.0.Final-redhat-1", "1.0.0", "1.0.0-beta1"
    assert reference_compare(build, release) == 1
    assert reference_compare(release, beta) == 1
    assert reference_compare(build, beta) == -1
    assert MAVEN.key(beta) < MAVEN.key(release) < MAVEN.key(build)
    assert MAVEN.key(build) < MAVEN.key("1.0.0.Final-redhat-2") < MAVEN.key("1.0.1")

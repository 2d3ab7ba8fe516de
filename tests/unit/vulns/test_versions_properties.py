"""Properties every comparator must have, on arbitrary and on version-like text.

* ``key()`` either returns a key or raises InvalidInput: never another exception.
* Keys form a total order consistent with ``==`` and ``hash``: comparisons never raise,
  exactly one of ``<``, ``==``, ``>`` holds, ``<=`` is transitive, and equal keys hash equally.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from maat.errors import InvalidInput
from maat.vulns.versions import SEMVER, ZERO, Comparator, VersionKey, comparator_for, ecosystems

COMPARATORS: list[Comparator] = [SEMVER] + [
    c for e in ecosystems() if (c := comparator_for(e)) is not None
]
IDS = [c.name for c in COMPARATORS]

WORDS = [
    "a",
    "b",
    "c",
    "rc",
    "RC",
    "alpha",
    "beta",
    "pre",
    "p",
    "pl",
    "dev",
    "post",
    "final",
    "Final",
    "ga",
    "GA",
    "release",
    "RELEASE",
    "sp",
    "snapshot",
    "SNAPSHOT",
    "m",
    "milestone",
    "cr",
    "r",
    "ubuntu",
    "deb",
    "dfsg",
    "git",
    "cvs",
    "svn",
    "hg",
    "el",
    "incompatible",
    "patch",
    "stable",
    "x",
    "z",
    "abcdef",
    "SNAP",
]
NUMBERS = st.one_of(
    st.integers(0, 12).map(str),
    st.sampled_from(["0", "00", "01", "007", "10", "99", "20191109021931", "4294967296"]),
)
PIECES = st.one_of(NUMBERS, NUMBERS, st.sampled_from(WORDS))
SEPARATORS = st.sampled_from([".", ".", ".", "-", "-", "_", "+", "~", ":", "^", "", "v"])
VERSION_LIKE = st.builds(
    lambda prefix, first, rest: prefix + first + "".join(s + p for s, p in rest),
    st.sampled_from(["", "", "", "v", "1:", "0:", "2!", " ", "="]),
    NUMBERS,
    st.lists(st.tuples(SEPARATORS, PIECES), max_size=7),
)
ANY_TEXT = st.one_of(
    st.text(max_size=24),
    st.text(alphabet="0123456789.-_+~:^!=vVrRaAbBpP ", max_size=24),
    VERSION_LIKE,
)

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _key_or_none(comparator: Comparator, text: str) -> VersionKey | None:
    try:
        return comparator.key(text)
    except InvalidInput as error:
        refusal = error
    assert refusal.location.field == "version"
    assert comparator.name in refusal.message
    return None


@pytest.mark.parametrize("comparator", COMPARATORS, ids=IDS)
@SETTINGS
@given(text=ANY_TEXT)
def test_key_returns_or_raises_invalid_input_only(comparator: Comparator, text: str) -> None:
    key = _key_or_none(comparator, text)
    if key is not None:
        assert isinstance(key, tuple)
        hash(key)
        assert key == comparator.key(text)  # deterministic


def _check_total_order(keys: list[VersionKey]) -> None:
    for a, b in itertools.product(keys, repeat=2):
        lt, eq, gt = a < b, a == b, b < a
        assert lt + eq + gt == 1, (a, b)
        assert (a <= b) == (lt or eq)
        if eq:
            assert hash(a) == hash(b)
    for a, b, c in itertools.product(keys, repeat=3):
        if a <= b and b <= c:
            assert a <= c, (a, b, c)


@pytest.mark.parametrize("comparator", COMPARATORS, ids=IDS)
@SETTINGS
@given(texts=st.lists(st.one_of(VERSION_LIKE, VERSION_LIKE, ANY_TEXT), min_size=2, max_size=9))
def test_keys_are_a_total_order_consistent_with_equality(
    comparator: Comparator, texts: list[str]
) -> None:
    keys = [k for t in [*texts, ZERO] if (k := _key_or_none(comparator, t)) is not None]
    _check_total_order(keys)
    backwards = keys[::-1]
    assert sorted(keys) == sorted(backwards)
    if keys:
        assert min(keys) == comparator.key(ZERO)


@pytest.mark.parametrize("comparator", COMPARATORS, ids=IDS)
def test_plenty_of_version_like_text_is_accepted(comparator: Comparator) -> None:
    """Guards the property tests above against only ever seeing refusals."""
    accepted = [
        v
        for v in [
            "1.2.3",
            "1.2.3-1",
            "1.2.3-r1",
            "1:1.2.3-1",
            "1.0.0-beta.1",
            "2.0",
            "1.2.3.4",
            "1.0rc1",
            "1.0_rc1",
            "1.2.3-beta2",
        ]
        if _key_or_none(comparator, v) is not None
    ]
    assert len(accepted) >= 3, accepted

"""RubyGems: ``Gem::Version`` ordering as a tuple key.

As ``Gem::Version``: the text must match ``Gem::Version::ANCHORED_VERSION_PATTERN`` (spaces
around it are stripped), ``-`` reads as ``.pre.``, segments are runs of digits (numbers) or of
letters (strings), and the canonical segments drop trailing zeros of the numeric part (the
segments before the first string) and of the rest. Comparison pads the shorter list with ``0``;
strings rank below numbers (any string segment makes a pre-release: ``1.0.a < 1.0``) and
compare byte-wise.

Each segment token is ``(sign, class, value)``: strings ``(-1, 0, text)``, numbers
``(sign, 1, n)`` where the sign (against the ``0`` padding) is that of ``n``, or for ``0`` the
sign of the rest of the version. A terminating ``0`` stands for the padding, so a version that
ends where another goes on is ordered by the sign of the other's rest, as ``Gem::Version``
orders it.
"""

from __future__ import annotations

import re

from maat.vulns.versions._base import Key, VersionSyntaxError

_ANCHORED = re.compile(
    r"\s*([0-9]+(?:\.[0-9a-zA-Z]+)*(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?)\s*", re.ASCII
)
_SEGMENT = re.compile(r"[0-9]+|[a-zA-Z]+")


def rubygems_key(text: str) -> Key:
    """The ``Gem::Version`` order key of ``text``."""
    match = _ANCHORED.fullmatch(text)
    if match is None:
        raise VersionSyntaxError(
            "not a Gem::Version (digits first, then dot-separated alphanumeric segments)"
        )
    segments: list[int | str] = [
        int(s) if s[0].isdigit() else s
        for s in _SEGMENT.findall(match.group(1).replace("-", ".pre."))
    ]
    first_string = next((i for i, s in enumerate(segments) if isinstance(s, str)), len(segments))
    numeric, rest = segments[:first_string], segments[first_string:]
    while numeric and numeric[-1] == 0:
        numeric.pop()
    while rest and rest[-1] == 0:
        rest.pop()
    # Built back to front, each token's fields reversed too, then reversed once.
    key: list[object] = [0]
    sign = 0
    for segment in reversed(numeric + rest):
        if isinstance(segment, str):
            sign = -1
            key += (segment, 0, -1)
        else:
            if segment:
                sign = 1
            key += (segment, 1, sign)
    key.reverse()
    return tuple(key)

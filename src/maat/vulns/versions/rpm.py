"""RPM distributions: ``rpmvercmp`` on ``[epoch:]version[-release]``.

The text splits as rpm's ``parseEVR`` splits it: digits before a ``:`` are the epoch (missing:
0), the release is what follows the last ``-``. Epochs compare as numbers, then versions and
releases with ``rpmvercmp``: separators (anything not alphanumeric, ``~`` or ``^``) only split
segments; digit segments compare numerically and rank above letter segments (compared as
bytes); ``~`` sorts below everything, even the end of the text (``1.0~rc1 < 1.0``); ``^``
sorts above the end but below any segment (``1.0 < 1.0^git1 < 1.0.1``).

Key: ``(epoch, version tokens..., 1, 0, release tokens..., 1, 0)`` with two slots per token:
``~`` is ``(0, 0)``, the end ``(1, 0)``, ``^`` ``(2, 0)``, letters ``(3, text)``, digits
``(4, n)``.

Choice: a version without release sorts as one with an empty release, before every release
(``1.0 < 1.0-1``). rpm's dependency matching instead treats a missing release as matching any
release, which is not an order; OSV's RPM advisories and inventories always carry one.
"""

from __future__ import annotations

import re

from maat.vulns.versions._base import Key, VersionSyntaxError

_SEGMENT = re.compile(r"[A-Za-z]+|[0-9]+|[~^]")


def _segments(text: str, key: list[object]) -> None:
    for segment in _SEGMENT.findall(text):
        first = segment[0]
        if first == "~":
            key += (0, 0)
        elif first == "^":
            key += (2, 0)
        elif first.isdigit():
            key += (4, int(segment))
        else:
            key += (3, segment)
    key += (1, 0)


def rpm_key(text: str) -> Key:
    """The rpm order key of ``text``."""
    if not text.isascii() or not text.isprintable() or " " in text:
        raise VersionSyntaxError("only printable ASCII without spaces is accepted")
    digits_end = 0
    while digits_end < len(text) and text[digits_end].isdigit():
        digits_end += 1
    if text[digits_end : digits_end + 1] == ":":
        epoch = int(text[:digits_end] or "0")
        rest = text[digits_end + 1 :]
    else:
        epoch, rest = 0, text
    version, hyphen, release = rest.rpartition("-")
    if not hyphen:
        version, release = rest, ""
    elif not release:
        raise VersionSyntaxError("empty release after '-'")
    if not version:
        raise VersionSyntaxError("empty version")
    if ":" in version or ":" in release:
        raise VersionSyntaxError("':' is only allowed after a numeric epoch")
    key: list[object] = [epoch]
    _segments(version, key)
    _segments(release, key)
    return tuple(key)

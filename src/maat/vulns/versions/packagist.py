"""Packagist: Composer's ``VersionParser::normalize`` followed by PHP's ``version_compare``.

Normalisation (composer/semver): trim; drop an ``as`` alias and an ``@stability`` flag; drop
build metadata; read ``v1.2``, ``1.2.3.4``, ``1.0.0-beta2``, ``1.0-RC1``, ``1.0.0-p1``,
``2.1-dev`` or a date version ``2010-01-02``; pad to four numbers and spell the stability
``alpha``/``beta``/``RC``/``patch``/``dev``. Numeric branches (``2.1.x-dev``) normalise to
``2.1.9999999.9999999-dev`` as Composer does.

Choice: ``dev-`` branches (``dev-master``, ``dev-feature``, and ``master``/``trunk``/
``default``) are refused with InvalidInput. Composer itself never orders them against versions
("dev branches never match anything" in its constraint code), so they cannot take part in a
range.

``version_compare`` then splits the normalised text into numbers and words and compares them
in order: words by their rank ``dev < alpha < beta < RC < (a number) < patch``, numbers by
value. A version that runs out of parts is padded with a value ranked between ``RC`` and every
number, which the key writes as the terminating token ``(4, -1)``: ``1.0.0.0-beta1 <
1.0.0.0 < 1.0.0.0-patch1`` and ``1.0.0.0-dev < 1.0.0.0-alpha1``.
"""

from __future__ import annotations

import re

from maat.vulns.versions._base import Key, VersionSyntaxError

_MODIFIER = r"[._-]?(?:(stable|beta|b|RC|alpha|a|patch|pl|p)((?:[.-]?\d+)*+)?)?([.-]?dev)?"
_ALIAS = re.compile(r"([^,\s]++) ++as ++([^,\s]++)")
_STABILITY_FLAG = re.compile(r"@(?:stable|RC|beta|alpha|dev)$", re.IGNORECASE)
_BUILD = re.compile(r"([^,\s+]++)\+[^\s]++")
_CLASSICAL = re.compile(
    r"v?(\d{1,5})(\.\d++)?(\.\d++)?(\.\d++)?" + _MODIFIER, re.IGNORECASE | re.ASCII
)
_DATE = re.compile(
    r"v?(\d{4}(?:[.:-]?\d{2}){1,6}(?:[.:-]?\d{1,3})?)" + _MODIFIER, re.IGNORECASE | re.ASCII
)
_DEV_SUFFIX = re.compile(r"(.*?)[.-]?dev", re.IGNORECASE | re.DOTALL)
_BRANCH = re.compile(r"v?(\d++)(\.(?:\d++|[xX*]))?(\.(?:\d++|[xX*]))?(\.(?:\d++|[xX*]))?", re.ASCII)
_STABILITIES = {"a": "alpha", "b": "beta", "p": "patch", "pl": "patch", "rc": "RC"}
# PHP's special version forms; a number ranks as "#" (4), any other word as -1.
_WORD_RANK = {"dev": 0, "alpha": 1, "beta": 2, "RC": 3, "patch": 5}
_PART = re.compile(r"\d+|[^\d.]+", re.ASCII)
_DEV_BRANCH = "dev- branches have no order against versions in Composer"


def composer_normalize(text: str) -> str:
    """Composer's ``VersionParser::normalize`` for orderable versions (refuses branches)."""
    version = text.strip()
    alias = _ALIAS.fullmatch(version)
    if alias:
        version = alias.group(1)
    flag = _STABILITY_FLAG.search(version)
    if flag:
        version = version[: flag.start()]
    if version in ("master", "trunk", "default") or version[:4].lower() == "dev-":
        raise VersionSyntaxError(_DEV_BRANCH)
    build = _BUILD.fullmatch(version)
    if build:
        version = build.group(1)
    match = _CLASSICAL.fullmatch(version)
    if match:
        groups = match.groups()
        normalized = groups[0] + "".join(g or ".0" for g in groups[1:4])
        stability, number, dev = groups[4:7]
    else:
        match = _DATE.fullmatch(version)
        if match is None:
            return _normalize_branch(version)
        normalized = re.sub(r"\D", ".", match.group(1), flags=re.ASCII)
        stability, number, dev = match.groups()[1:4]
    if stability:
        if stability == "stable":
            return normalized
        normalized += "-" + _STABILITIES.get(stability.lower(), stability.lower())
        if number:
            normalized += number.lstrip(".-")
    if dev:
        normalized += "-dev"
    return normalized


def _normalize_branch(version: str) -> str:
    match = _DEV_SUFFIX.fullmatch(version)
    if match is not None:
        branch = _BRANCH.fullmatch(match.group(1).strip())
        if branch is not None:
            parts = [branch.group(1)] + [
                g[1:].lower().replace("*", "x") if g else "x" for g in branch.groups()[1:]
            ]
            return ".".join(parts).replace("x", "9999999") + "-dev"
    raise VersionSyntaxError(
        "not a Composer version (MAJOR[.MINOR[.PATCH[.BUILD]]][-stability[N]] or a date)"
    )


def packagist_key(text: str) -> Key:
    """The Composer/``version_compare`` order key of ``text``."""
    key: list[object] = []
    for part in _PART.findall(composer_normalize(text)):
        if part[0].isdigit():
            key += (4, int(part))
        else:
            for word in part.split("-"):
                if word:
                    key += (_WORD_RANK.get(word, -1), 0)
    key += (4, -1)
    return tuple(key)

"""Debian and Ubuntu: dpkg's version comparison (``[epoch:]upstream[-revision]``).

Parsing follows dpkg's ``parseversion``: spaces around the text are ignored, embedded ones
refused; the epoch is the number before the first ``:``; the revision is what follows the last
``-`` (none means an empty revision, which equals ``0``; an empty one after ``-`` is refused,
as dpkg 1.21 refuses it). Upstream must start with a digit and hold only alphanumerics and
``.+~-:``; the revision only alphanumerics and ``.+~`` (dpkg warns on these and refuses the
version; so do we).

``verrevcmp`` compares alternating non-digit and digit runs: non-digit runs character by
character with ``~`` below everything (even the end of the run), then the end of the run, then
letters, then other characters; digit runs numerically. The key writes each non-digit run as
text whose code points follow that order, ending with a terminator (``\\x02``) ranked as "end
of run", and each digit run as an int:

``(epoch, run, number, run, number, ..., "\\x02", run, number, ..., "\\x02")``

the first ``\\x02`` closing upstream, the second the revision. Shorter runs, missing runs and
missing numbers behave as dpkg's end-of-string (empty run, number 0).
"""

from __future__ import annotations

import re
from itertools import chain

from maat.vulns.versions._base import Key, VersionSyntaxError

_END = "\x02"
# dpkg's order(): '~' < end of run < letters < everything else (by code + 256).
_ORDER = {ord("~"): "\x01"}
_ORDER.update({ord(c): chr(ord(c) + 256) for c in ".+-:"})
_VERSION = re.compile(r"(?:([0-9]+):)?([0-9][A-Za-z0-9.+~:-]*?)(?:-([A-Za-z0-9.+~]+))?", re.ASCII)
_UPSTREAM = re.compile(r"[0-9][A-Za-z0-9.+~:-]*")
_REVISION = re.compile(r"[A-Za-z0-9.+~]*")
_DIGITS = re.compile(r"([0-9]+)")
_MAX_EPOCH = 2**31 - 1


class _RunTable(dict[str, str]):
    """Non-digit run -> its key text; remembers the first few thousand runs seen (runs such
    as ``.``, ``+dfsg``, ``ubuntu``, ``+deb12u`` repeat across almost every version)."""

    def __missing__(self, run: str) -> str:
        value = run.translate(_ORDER) + _END
        if len(self) < 4096:
            self[run] = value
        return value


_RUN_KEYS = _RunTable()


def _runs(text: str, key: list[object]) -> None:
    """Append ``text``'s (run, number) pairs and the terminator.

    The first pair is always written (``""`` gives ``(end, 0)``, equal to ``"0"``); every
    later run is non-empty, so it never equals the terminator it may be compared with.
    """
    parts = _DIGITS.split(text)
    # parts alternate: non-digit run, digit run, ..., non-digit run (maybe empty).
    runs = parts[0::2]
    numbers = list(map(int, parts[1::2]))
    if runs[-1] or not numbers:
        numbers.append(0)
    else:
        runs.pop()
    key += chain.from_iterable(zip(map(_RUN_KEYS.__getitem__, runs), numbers, strict=True))
    key.append(_END)


def dpkg_key(text: str) -> Key:
    """The dpkg order key of ``text``."""
    match = _VERSION.fullmatch(text)
    if match is not None:
        # The common case; anything unusual goes through the checks one by one.
        epoch_text, upstream, revision = match.groups()
        epoch = 0 if epoch_text is None else int(epoch_text)
        if (
            (epoch_text is not None or ":" not in upstream)
            and (revision is not None or "-" not in upstream)
            and epoch <= _MAX_EPOCH
        ):
            key: list[object] = [epoch]
            _runs(upstream, key)
            _runs(revision or "", key)
            return tuple(key)
    return _checked_key(text)


def _checked_key(text: str) -> Key:
    """The slow path: dpkg's checks one by one, each failure with its own reason."""
    version = text.strip(" \t\n\r\f\v")
    if not version:
        raise VersionSyntaxError("version string is empty")
    if any(c.isspace() for c in version):
        raise VersionSyntaxError("version string has embedded spaces")
    epoch_text, colon, rest = version.partition(":")
    if colon:
        if not epoch_text.isascii() or not epoch_text.isdigit():
            raise VersionSyntaxError("epoch in version is not a number")
        epoch = int(epoch_text)
        if epoch > _MAX_EPOCH:
            raise VersionSyntaxError("epoch in version is too big")
        if not rest:
            raise VersionSyntaxError("nothing after colon in version number")
    else:
        epoch, rest = 0, version
    upstream, hyphen, revision = rest.rpartition("-")
    if not hyphen:
        upstream, revision = rest, ""
    elif not revision:
        raise VersionSyntaxError("revision number is empty")
    if not upstream:
        raise VersionSyntaxError("version number is empty")
    if _UPSTREAM.fullmatch(upstream) is None:
        if not upstream[0].isdigit():
            raise VersionSyntaxError("version number does not start with digit")
        raise VersionSyntaxError("invalid character in version number")
    if _REVISION.fullmatch(revision) is None:
        raise VersionSyntaxError("invalid character in revision number")
    key: list[object] = [epoch]
    _runs(upstream, key)
    _runs(revision, key)
    return tuple(key)

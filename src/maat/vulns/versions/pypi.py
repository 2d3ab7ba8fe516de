"""PyPI: PEP 440 ordering, parsed by ``packaging`` and turned into a plain tuple key.

The key mirrors ``packaging.version.Version``'s own comparison key, flat, with ints and strings
only:

``(epoch, release..., -1, pre_class, pre_label, pre_number, post, dev_class, dev_number,
local...)``

* the release numbers come without trailing zeros (``1.0.0`` == ``1.0`` == ``1``) and end with
  ``-1``, below any release number, so ``1.2 < 1.2.1`` and ``1.2 < 1.2.0.1``;
* ``pre_class`` is 0 for a dev release without pre or post part (``1.0.dev1 < 1.0a1``), 1 for a
  pre-release (labels ``a < b < rc`` as 0, 1, 2), 2 for none;
* ``post`` is -1 without a post release;
* ``dev_class`` is 0 for a dev release (then ``dev_number``), 1 for none;
* the local part follows, one (class, value) pair per segment: numeric segments ``(1, n)``
  above alphanumeric ones ``(0, text)``; no local part sorts below any local part.

Legacy (non PEP 440) strings are refused: PEP 440 gives them no place in the order.
"""

from __future__ import annotations

from packaging.version import InvalidVersion, Version

from maat.vulns.versions._base import Key, VersionSyntaxError

_PRE_LABELS = {"a": 0, "b": 1, "rc": 2}


def pypi_key(text: str) -> Key:
    """The PEP 440 key of ``text``; raises VersionSyntaxError for non PEP 440 text."""
    try:
        version = Version(text)
    except InvalidVersion:
        raise VersionSyntaxError(
            "not a PEP 440 version (legacy version strings have no defined order)"
        ) from None
    release = version.release
    end = len(release)
    while end and release[end - 1] == 0:
        end -= 1
    key: list[object] = [version.epoch, *release[:end], -1]
    pre = version.pre
    post = version.post
    dev = version.dev
    if pre is not None:
        key += (1, _PRE_LABELS[pre[0]], pre[1])
    elif post is None and dev is not None:
        key += (0, 0, 0)
    else:
        key += (2, 0, 0)
    key.append(-1 if post is None else post)
    if dev is None:
        key += (1, 0)
    else:
        key += (0, dev)
    local = version.local
    if local is not None:
        for part in local.split("."):
            if part.isdigit():
                key += (1, int(part))
            else:
                key += (0, part)
    return tuple(key)

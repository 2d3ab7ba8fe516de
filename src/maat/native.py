"""``maat._native``, Maat's optional C extension, when it was built (ADR 0020).

The extension holds the hot paths of ingest and detection (``src/native``). Each has a
Python twin that stays the reference, and differential tests hold them to the same answers;
without a C compiler at install time the build goes on without it and Maat runs the Python
paths only. :data:`NATIVE` is the module, or ``None`` when it is absent or of another
interface version than this code expects (a stale build is ignored, never half used).
"""

from __future__ import annotations

import logging
from types import ModuleType

__all__ = ["API", "NATIVE"]

API = 5
"""The interface version of ``src/native`` this code was written against."""

_log = logging.getLogger(__name__)


def _load() -> ModuleType | None:
    try:
        from maat import _native
    except ImportError:  # built without a C compiler: the Python paths alone
        return None
    if getattr(_native, "API", None) != API:
        _log.warning(
            "maat._native is a build of another version (interface %s, expected %s): "
            "ignored; run `make install` to rebuild it", getattr(_native, "API", None), API,
        )  # fmt: skip
        return None
    return _native


NATIVE = _load()

"""The C extension in tests: its tests skip without it, unless CI requires it (then fail)."""

from __future__ import annotations

import os

import pytest

from maat.native import NATIVE

REQUIRED = os.environ.get("MAAT_TEST_REQUIRE_NATIVE") == "1"
"""Set by .ci/run: a build that silently lost the extension must not pass as the Python
paths' speed, nor skip the C path's tests."""


def require_native() -> None:
    """Skip the calling test when ``maat._native`` is not built (or is a stale build), or
    fail it when ``MAAT_TEST_REQUIRE_NATIVE=1``."""
    if NATIVE is None:
        if REQUIRED:
            pytest.fail("MAAT_TEST_REQUIRE_NATIVE=1 but maat._native is not built (or stale)")
        pytest.skip("maat._native is not built (no C compiler at install): no C path to test")

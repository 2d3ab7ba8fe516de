"""The optional C extension: present where CI requires it, ignored when it is a stale build."""

from __future__ import annotations

import importlib
import logging
import os
import sys
import types

import pytest

import maat
import maat.native
from maat.native import API, NATIVE


def test_the_c_extension_is_built_where_ci_requires_it() -> None:
    """.ci/run sets MAAT_TEST_REQUIRE_NATIVE=1: a build that silently skipped the extension
    (no compiler, a compile error) must not pass as the Python paths' speed."""
    if os.environ.get("MAAT_TEST_REQUIRE_NATIVE") != "1":
        pytest.skip("MAAT_TEST_REQUIRE_NATIVE is not set: the extension is optional here")
    assert NATIVE is not None, "maat._native was not built (gcc and python3-dev are needed)"
    assert NATIVE.API == API


def test_a_stale_build_of_another_interface_is_ignored_not_half_used(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    stale = types.ModuleType("maat._native")
    stale.API = API + 1  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "maat._native", stale)
    monkeypatch.setattr(maat, "_native", stale, raising=False)
    with caplog.at_level(logging.WARNING, logger="maat.native"):
        reloaded = importlib.reload(maat.native)
    try:
        assert reloaded.NATIVE is None
        assert "another version" in caplog.text and "make install" in caplog.text
    finally:
        monkeypatch.undo()
        importlib.reload(maat.native)


def test_without_the_extension_maat_runs_the_python_paths(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "maat._native", None)  # import fails: not built
    monkeypatch.delattr(maat, "_native", raising=False)
    try:
        assert importlib.reload(maat.native).NATIVE is None
    finally:
        monkeypatch.undo()
        importlib.reload(maat.native)

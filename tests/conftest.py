"""Fixtures shared by every test, and the CI rule that real-service tests must run."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from maat.services.platform import Platform
from maat_testkit import FakeClock, open_platform

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Each test asking for it runs on SQLite and on PostgreSQL."""
    return str(request.param)


@pytest.fixture
def platform(backend: str, tmp_path: Path, clock: FakeClock) -> Iterator[Platform]:
    """An initialised platform on the backend under test, with a controllable clock."""
    yield from open_platform(backend, tmp_path / "data", clock)


# --- CI: tests under the required markers must run, not skip --------------------------------

_executed: dict[str, int] = {}
_skipped: dict[str, list[str]] = {}


def _required_markers() -> set[str]:
    return {m for m in os.environ.get("MAAT_TEST_REQUIRE_MARKERS", "").split(",") if m}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    markers = set(report.keywords) & {"postgres", "nats", "hsm", "browser"}
    for marker in markers:
        if report.when == "call" and report.outcome in ("passed", "failed"):
            _executed[marker] = _executed.get(marker, 0) + 1
        if report.skipped:
            _skipped.setdefault(marker, []).append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if os.environ.get("MAAT_TEST_REQUIRE_SERVICES") != "1":
        return
    problems = [f"no '{m}' test ran" for m in sorted(_required_markers()) if not _executed.get(m)]
    problems += [
        f"'{m}' test skipped: {node}" for m, nodes in sorted(_skipped.items()) for node in nodes
    ]
    if problems:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line("")
            for line in problems:
                reporter.write_line(f"REQUIRED REAL-SERVICE TEST DID NOT RUN: {line}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED

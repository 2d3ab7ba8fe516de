"""Helpers for telemetry tests: the shared data folder and a marker that skips with a reason."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
MORDOR = SHARED / "mordor" / "unzipped"
SIGMA_REGRESSION = SHARED / "sigma" / "regression_data"
EVTX_SAMPLES = SHARED / "evtx-attack-samples"


def needs(path: Path) -> pytest.MarkDecorator:
    """Skip (with the reason) when a shared data folder is absent, e.g. on a fresh clone."""
    return pytest.mark.skipif(not path.exists(), reason=f"shared test data absent: {path}")

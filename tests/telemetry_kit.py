"""Helpers for telemetry tests: the shared data folder and a marker that skips with a reason."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
MORDOR = SHARED / "mordor" / "unzipped"
SIGMA_REGRESSION = SHARED / "sigma" / "regression_data"
EVTX_SAMPLES = SHARED / "evtx-attack-samples"


def needs(path: Path) -> pytest.MarkDecorator:
    """Skip (with the reason) when a shared data folder is absent, e.g. on a fresh clone."""
    return pytest.mark.skipif(not path.exists(), reason=f"shared test data absent: {path}")


def sibling(name: str) -> ModuleType:
    """The parser test module ``name`` (tests/unit/telemetry/<name>.py), loaded once, so a
    source's tests can check it claims none of the other sources' ``SAMPLES``."""
    key = f"_telemetry_samples_{name}"
    if key not in sys.modules:
        path = Path(__file__).parent / "unit" / "telemetry" / f"{name}.py"
        spec = importlib.util.spec_from_file_location(key, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        spec.loader.exec_module(module)
    return sys.modules[key]


def pick(event: dict[str, Any], expected: dict[str, Any]) -> dict[str, Any]:
    """The fields of ``event`` that ``expected`` names (missing ones as None), to compare."""
    return {k: event.get(k) for k in expected}


def sigma_engine(root: Path, *relative: str) -> Any:
    """An engine of the SigmaHQ rules at ``root / relative`` (each must load and route),
    or a skip with the reason when the shared data is absent."""
    from maat.services.detection import load_rule_files

    paths = [root / r for r in relative]
    if not all(p.exists() for p in paths):
        pytest.skip(f"{root} is absent (see shared/data/SOURCES.md)")
    engine = load_rule_files(paths)[1]
    assert engine.problems == [] and len(engine.rules) == len(relative)
    return engine

"""The spool in tests: opened with small, test-sized limits, written directly (O_DIRECT) or
through the page cache; a direct spool on a filesystem without O_DIRECT skips, saying so."""

from __future__ import annotations

from pathlib import Path

import pytest

from maat.adapters.bus.spool import SpoolBus


def open_spool(root: Path, *, direct: bool, **overrides: int) -> SpoolBus:
    """A spool at ``root`` with 1 MiB segments, no disk-space floor, a 1,000-id dedupe window
    and a 64 KiB staging buffer, unless ``overrides`` say otherwise."""
    options: dict[str, int] = {
        "segment_bytes": 1 << 20,
        "max_bytes": 1 << 30,
        "min_free_bytes": 0,
        "dedupe_window": 1000,
        "stage_bytes": 64 * 1024,
    }
    options.update(overrides)
    bus = SpoolBus(root, direct_io=direct, **options)  # type: ignore[arg-type]
    if direct and not bus.direct_io:
        bus.close()
        pytest.skip(f"{root} is on a filesystem without O_DIRECT (tmpfs?)")
    return bus

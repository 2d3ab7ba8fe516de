"""Process-wide tuning for the commands that run the event pipeline (serve, ingest, detect,
the scenario): the garbage collector and Arrow's allocator."""

from __future__ import annotations

import gc

from maat.adapters.lake.arrow import use_memory_pool
from maat.config import Settings

__all__ = ["tune_process"]


def tune_process(settings: Settings) -> None:
    """Tune this process for the pipeline; called once by the commands that run it.

    1. The first-generation garbage-collection threshold becomes ``telemetry.gc_threshold``
       (0 leaves Python's): with Python's 700, parsing triggers a collection every few
       events, and the older generations' collections rescan every compiled rule.
    2. Arrow allocates from ``telemetry.arrow_memory_pool`` (ADR 0018).
    """
    threshold = int(settings.telemetry.gc_threshold)
    if threshold:
        _, second, third = gc.get_threshold()
        gc.set_threshold(threshold, second, third)
    use_memory_pool(settings.telemetry.arrow_memory_pool)

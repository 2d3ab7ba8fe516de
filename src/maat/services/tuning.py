"""Process-wide tuning for the commands that run the event pipeline (serve, ingest, detect,
the scenario): the garbage collector, Arrow's allocator and the C library's heap."""

from __future__ import annotations

import ctypes
import gc
import logging
import sys

from maat.adapters.lake.arrow import use_memory_pool
from maat.config import Settings

__all__ = ["keep_heap_top", "tune_process"]

log = logging.getLogger(__name__)

_M_TOP_PAD = -2  # glibc's mallopt parameter number (malloc.h)


def tune_process(settings: Settings) -> None:
    """Tune this process for the pipeline; called once by the commands that run it.

    1. The first-generation garbage-collection threshold becomes ``telemetry.gc_threshold``
       (0 leaves Python's): with Python's 700, parsing triggers a collection every few
       events, and the older generations' collections rescan every compiled rule.
    2. Arrow allocates from ``telemetry.arrow_memory_pool`` (ADR 0018).
    3. glibc keeps ``telemetry.malloc_top_pad_bytes`` of freed heap for the next batch
       (ADR 0021).
    """
    threshold = int(settings.telemetry.gc_threshold)
    if threshold:
        _, second, third = gc.get_threshold()
        gc.set_threshold(threshold, second, third)
    use_memory_pool(settings.telemetry.arrow_memory_pool)
    keep_heap_top(int(settings.telemetry.malloc_top_pad_bytes))


def keep_heap_top(pad: int) -> bool:
    """Have glibc's malloc keep ``pad`` bytes of free memory at the top of its heaps
    (``mallopt(M_TOP_PAD)``) instead of returning it to the kernel; whether it was set.

    Each batch frees what the one before allocated (its events, messages and columns). By
    default glibc gives that back to the kernel, and the next batch pays a page fault and a
    zeroed page for every 4 KiB of it again: one fault an event in bench/bench_ingest.py.
    0, or a C library without ``mallopt`` (musl, macOS), leaves the allocator as it is.
    """
    if pad <= 0 or not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        log.info("this C library has no mallopt: telemetry.malloc_top_pad_bytes is not used")
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(_M_TOP_PAD, min(pad, 2**31 - 1)))

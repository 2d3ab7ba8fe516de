"""Benchmark: parse + normalise + persist Sysmon-style JSON, per stage, against orjson.loads.

    .venv/bin/python bench/bench_ingest.py [--events 200000]

Events are the Sysmon records of the Mordor datasets in ../shared/data (replayed in a loop,
each copy made unique), or generated Sysmon-like records when that data is absent. Stages,
each timed on one core over the same bytes:

0. the floor: ``orjson.loads`` of every line;
1. parse + normalise: :func:`maat.telemetry.pipeline.parse_bytes` in batches of 10,000;
2. spool: :meth:`SpoolBus.publish` (serialise, append, fsync per batch);
3. lake: :meth:`ParquetLake.write_batch` (columns, Parquet, fsync, manifest) in 100k batches.

Prints events/s per stage, the share of time per stage, the end-to-end rate and how close
parse + normalise comes to the floor, and the peak RSS.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import orjson

from maat.adapters.bus.spool import SpoolBus
from maat.adapters.lake.parquet import ParquetLake
from maat.config import Settings
from maat.services.telemetry import tune_collector
from maat.telemetry.pipeline import parse_bytes

MORDOR = Path(__file__).resolve().parents[2] / "shared" / "data" / "mordor" / "unzipped"
BATCH = 10_000


def sysmon_lines(count: int) -> list[bytes]:
    """``count`` distinct Sysmon JSON lines (Mordor's, replayed with a serial added)."""
    base: list[dict[str, object]] = []
    for path in sorted(MORDOR.rglob("*.json")) if MORDOR.exists() else []:
        for line in path.read_bytes().splitlines():
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if isinstance(record, dict) and "Sysmon" in str(record.get("SourceName", "")):
                base.append(record)
    if not base:
        print("(Mordor data absent: generated Sysmon-like records)", file=sys.stderr)
        base = [{
            "@timestamp": "2020-10-21T09:40:38.926Z", "EventID": 1,
            "SourceName": "Microsoft-Windows-Sysmon", "Channel": "Microsoft-Windows-Sysmon/Operational",
            "Hostname": "WORKSTATION5", "Image": "C:\\Windows\\System32\\cmd.exe",
            "CommandLine": "cmd.exe /c whoami", "ProcessId": "4242", "ParentImage": "C:\\x.exe",
            "Hashes": "SHA256=" + "a" * 64, "User": "CORP\\alice",
        }]  # fmt: skip
    out = []
    for n in range(count):
        record = dict(base[n % len(base)])
        record["RecordNumber"] = n  # each copy distinct, so none is a replay
        out.append(orjson.dumps(record))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    args = parser.parse_args()
    tune_collector(Settings.from_mapping({}))  # as `maat serve`, `ingest` and `detect` do
    lines = sysmon_lines(args.events)
    size = sum(len(line) for line in lines)
    print(f"{len(lines):,} Sysmon events, {size / len(lines):,.0f} bytes on average")
    batches = [b"\n".join(lines[i : i + BATCH]) for i in range(0, len(lines), BATCH)]

    t = time.perf_counter()
    for line in lines:
        orjson.loads(line)
    floor = time.perf_counter() - t

    t = time.perf_counter()
    events: list[dict[str, object]] = []
    errors = 0
    for batch in batches:
        out = parse_bytes(batch, path="bench", received="2026-11-25T00:00:00.000000Z",
                          max_event_bytes=1 << 20)  # fmt: skip
        events.extend(out.events)
        errors += len(out.errors)
    parse = time.perf_counter() - t
    assert errors == 0, f"{errors} parse errors"

    with tempfile.TemporaryDirectory() as tmp:
        bus = SpoolBus(Path(tmp) / "spool", segment_bytes=256 << 20, max_bytes=1 << 40,
                       min_free_bytes=0, dedupe_window=2_000_000)  # fmt: skip
        t = time.perf_counter()
        for i in range(0, len(events), BATCH):
            chunk = events[i : i + BATCH]
            bus.publish("events", [(e["event.id"], orjson.dumps(e)) for e in chunk])  # type: ignore[misc]
        spool = time.perf_counter() - t
        bus.close()
        lake = ParquetLake(Path(tmp) / "lake", key=b"k" * 32, batch_rows=100_000,
                           now=lambda: datetime.now(UTC))  # fmt: skip
        t = time.perf_counter()
        for i in range(0, len(events), 100_000):
            lake.write_batch(events[i : i + 100_000])
        write = time.perf_counter() - t

    n = len(events)
    total = parse + spool + write
    print(f"floor, orjson.loads per line: {n / floor:,.0f} events/s")
    for label, seconds in (
        ("parse + normalise", parse),
        ("spool (fsync)", spool),
        ("lake (Parquet)", write),
    ):
        print(
            f"{label:>18}: {n / seconds:>10,.0f} events/s, {100 * seconds / total:4.1f} % of the time"
        )
    print(
        f"end to end (parse + normalise + persist): {n / total:,.0f} events/s on one core "
        f"(target 50,000)"
    )
    print(f"parse + normalise runs at {100 * floor / parse:.0f} % of the orjson.loads floor")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: {peak:,.0f} MiB")


if __name__ == "__main__":
    main()

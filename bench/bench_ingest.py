"""Benchmark: parse + normalise + persist Sysmon-style JSON, per stage, against orjson.loads.

    .venv/bin/python bench/bench_ingest.py [--events 200000] [--handoff 0]

Events are the Sysmon records of the Mordor datasets in ../shared/data (replayed in a loop,
each copy made unique), or generated Sysmon-like records when that data is absent. The
pipeline runs as ``maat serve`` runs ingest and its lake writer (no detector: that is
``bench_detect.py``), in batches of 10,000 streamed through one
:class:`~maat.services.telemetry.Telemetry` (the single-node spool and the Parquet lake):

0. the floor: ``orjson.loads`` of every line;
1. parse + normalise: :meth:`Telemetry.parse`;
2. spool: :meth:`Telemetry.publish` (encode, append, fsync per batch: the events are
   acknowledged here);
3. lake: :meth:`Telemetry.write_once` until the bus is empty (fetch, columns, Parquet,
   fsync, manifest).

Prints events/s per stage in wall-clock and in CPU time (all threads: the Parquet encoder
runs beside the converter), the share of time per stage, the end-to-end rate, how close
parse + normalise comes to the floor, and the peak RSS. ``--handoff 0`` turns off the
hand-off of just-published events to the lake writer, to show what it saves.
"""

from __future__ import annotations

import argparse
import contextlib
import resource
import sys
import tempfile
import time
from pathlib import Path

import orjson

from maat.config import Settings
from maat.native import NATIVE
from maat.services.platform import read_master_secret
from maat.services.telemetry import Telemetry, tune_process

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


def _reset_peak_rss() -> None:
    with contextlib.suppress(OSError):  # Linux: "5" resets the peak resident size (VmHWM)
        Path("/proc/self/clear_refs").write_text("5")


def _peak_rss_mib() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Stages:
    """Wall-clock and CPU seconds per stage."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}

    def run(self, name: str, work: object) -> object:
        wall, cpu = time.perf_counter(), time.process_time()
        result = work()  # type: ignore[operator]
        self.wall[name] = self.wall.get(name, 0.0) + time.perf_counter() - wall
        self.cpu[name] = self.cpu.get(name, 0.0) + time.process_time() - cpu
        return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--handoff", default=None, help="telemetry.handoff_bytes (0: off)")
    args = parser.parse_args()
    lines = sysmon_lines(args.events)
    size = sum(len(line) for line in lines)
    print(f"{len(lines):,} Sysmon events, {size / len(lines):,.0f} bytes on average")
    batches = [b"\n".join(lines[i : i + BATCH]) for i in range(0, len(lines), BATCH)]

    t = time.perf_counter()
    for line in lines:
        orjson.loads(line)
    floor = time.perf_counter() - t
    del lines
    _reset_peak_rss()  # the peak below is the pipeline's, not the loading of the samples
    before = _peak_rss_mib()

    with tempfile.TemporaryDirectory() as tmp:
        options: dict[str, object] = {"data_dir": tmp}
        if args.handoff is not None:
            options["telemetry"] = {"handoff_bytes": args.handoff}
        settings = Settings.from_mapping(options)
        read_master_secret(settings.effective_secret_key_file, create=True)
        tune_process(settings)  # as `maat serve`, `ingest` and `detect` do
        print(f"C hot paths (maat._native, ADR 0020): {'built' if NATIVE else 'not built'}")
        telemetry = Telemetry.open(settings)
        stages = Stages()
        accepted = errors = 0
        try:
            for batch in batches:
                outcome = stages.run("parse", lambda b=batch: telemetry.parse(b, path="bench"))
                report = stages.run("spool", lambda o=outcome: telemetry.publish(o))  # type: ignore[arg-type]
                accepted += report.accepted  # type: ignore[attr-defined]
                errors += report.rejected  # type: ignore[attr-defined]
                del outcome
                while stages.run("lake", telemetry.write_once)[0]:  # type: ignore[index]
                    pass
            peak = _peak_rss_mib()  # before the count below: DuckDB's own memory is not ingest's
            rows = telemetry.lake.query("SELECT count(*) FROM events").rows[0][0]
        finally:
            telemetry.close()
    assert errors == 0, f"{errors} parse errors"
    assert rows == accepted, f"{rows} rows in the lake for {accepted} events"

    n = accepted
    wall, cpu = sum(stages.wall.values()), sum(stages.cpu.values())
    print(f"floor, orjson.loads per line: {n / floor:,.0f} events/s")
    for label, name in (
        ("parse + normalise", "parse"),
        ("spool (fsync)", "spool"),
        ("lake (Parquet)", "lake"),
    ):
        print(
            f"{label:>18}: {n / stages.wall[name]:>9,.0f} events/s wall, "
            f"{n / stages.cpu[name]:>9,.0f} per CPU-second, "
            f"{100 * stages.cpu[name] / cpu:4.1f} % of the CPU time"
        )
    print(
        f"end to end (parse + normalise + persist): {n / wall:,.0f} events/s wall, "
        f"{n / cpu:,.0f} per CPU-second (target 50,000 per core)"
    )
    print(f"acknowledged (parse + spool): {n / (stages.cpu['parse'] + stages.cpu['spool']):,.0f} "
          "per CPU-second")
    print(f"parse + normalise runs at {100 * floor / stages.cpu['parse']:.0f} % of the "
          "orjson.loads floor")
    print(f"peak RSS while the pipeline ran: {peak:,.0f} MiB, {peak - before:+,.0f} MiB over "
          f"the {before:,.0f} MiB before it (the samples in memory: {size / 2**20:,.0f} MiB)")


if __name__ == "__main__":
    main()

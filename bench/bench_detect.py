"""Benchmark: Sigma detection on Mordor events, against the SQLite-backend approach.

    .venv/bin/python bench/bench_detect.py [--events 100000]

Rules: every SigmaHQ rule Maat routes to Windows (``../shared/data/sigma``). Events: the
Mordor datasets' Windows records, replayed in a loop (each copy made unique) to
``--events``. Measured on one core, in one run:

1. Maat, parse + match: :func:`parse_bytes` in batches of 10,000, then
   :meth:`Engine.match_many` on the batch, batch after batch (as ``maat detect`` and the
   server's detector run: a batch's events are dropped once matched); also match alone, and
   with 100, 1,000 and all rules;
2. the SQLite approach (Zircolite's): load the same normalised events into SQLite (columns
   ``COLLATE NOCASE``, an index on channel and event id, which favours SQLite), then run
   every rule converted by pysigma-backend-sqlite (conversion not timed).

Prints events/s for each and the ratio. Maat runs its C hot paths when they were built
(ADR 0020; the first line says which).
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import time
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


from maat.config import Settings
from maat.detect.sigma import Engine, RuleSet, applicable_routes, load_rules
from maat.native import NATIVE
from maat.services.detection import rule_texts
from maat.services.telemetry import tune_process
from maat.telemetry.pipeline import parse_bytes
from sigma_oracle import SqliteOracle, queries

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
MORDOR = SHARED / "mordor" / "unzipped"
SIGMA = SHARED / "sigma"
BATCH = 10_000
SYSMON = "microsoft-windows-sysmon/operational"


def mordor_lines(count: int) -> list[bytes]:
    """``count`` distinct Windows records from Mordor (replayed, each copy renumbered)."""
    base = []
    for path in sorted(MORDOR.rglob("*.json")):
        for line in path.read_bytes().splitlines():
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if isinstance(record, dict) and "EventID" in record and "Channel" in record:
                base.append(record)
    if not base:
        sys.exit("the Mordor datasets are absent (../shared/data/mordor): nothing to measure")
    out = []
    for n in range(count):
        record = dict(base[n % len(base)])
        record["RecordNumber"] = n
        out.append(orjson.dumps(record))
    return out


def subset(rules: RuleSet, count: int) -> RuleSet:
    """``count`` rules drawn with a fixed seed (all when ``count`` is larger)."""
    chosen = (
        rules.rules if count >= len(rules.rules) else random.Random(7).sample(rules.rules, count)
    )
    return RuleSet(rules=list(chosen))


def process_starts(engine: Engine, events: list[dict[str, Any]]) -> None:
    """Match alone on the process starts (Sysmon 1, Security 4688): the events most rules
    are about, 1 % of the Mordor mix, so their cost hides in the average."""
    starts = [e for e in events if e.get("winlog.event_id") in (1, 4688)
              and str(e.get("winlog.channel", "")).lower() in (SYSMON, "security")]  # fmt: skip
    if not starts:
        return
    for e in starts[:2_000]:  # RE2 builds its automata lazily: warm them first
        engine.match(e)
    t = time.perf_counter()
    for e in starts:
        engine.match(e)
    seconds = time.perf_counter() - t
    print(f"process starts alone ({len(starts):,}): match {len(starts) / seconds:,.0f} events/s, "
          f"{seconds / len(starts) * 1e6:,.0f} us each")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args()
    tune_process(Settings.from_mapping({}))  # as `maat serve`, `ingest` and `detect` do
    print(f"C hot paths (maat._native, ADR 0020): {'built' if NATIVE else 'not built: Python paths'}")
    texts = dict(rule_texts([p for p in (SIGMA / "rules",) if p.exists()]))
    t = time.perf_counter()
    loaded = load_rules(texts.items())
    windows = RuleSet(rules=[r for r in loaded.rules if "product=windows" in r.logsource
                             or not r.logsource.startswith("product=")])  # fmt: skip
    engine = Engine(windows)
    print(
        f"{len(engine.rules):,} Windows rules loaded and compiled in {time.perf_counter() - t:.1f} s"
    )

    lines = mordor_lines(args.events)
    batches = [b"\n".join(lines[i : i + BATCH]) for i in range(0, len(lines), BATCH)]
    del lines

    def stream(built: Engine) -> tuple[float, float, int, int]:
        """Parse and match batch by batch, as the pipeline does (a batch's events are
        dropped once matched): (parse seconds, match seconds, events, hits)."""
        parse_s = match_s = 0.0
        n = hits = 0
        for batch in batches:
            start = time.perf_counter()
            events = parse_bytes(batch, path="bench", received="2026-11-25T00:00:00Z",
                                 max_event_bytes=1 << 20).events  # fmt: skip
            parsed = time.perf_counter()
            hits += sum(len(found) for found in built.match_many(events).values())
            parse_s += parsed - start
            match_s += time.perf_counter() - parsed
            n += len(events)
        return parse_s, match_s, n, hits

    parse, _, n, _ = stream(Engine(RuleSet(rules=[])))
    print(f"{n:,} events in batches of {BATCH:,}; parse + normalise {n / parse:,.0f} events/s")
    for count in (100, 1_000, len(engine.rules)):
        built = engine if count == len(engine.rules) else Engine(subset(windows, count))
        parse_s, seconds, _, hits = stream(built)
        print(f"  {len(built.rules):>5,} rules: match {n / seconds:>9,.0f} events/s, "
              f"parse + match {n / (parse_s + seconds):>9,.0f} events/s, {hits:,} hits")  # fmt: skip
    parse, match_seconds, _, _ = stream(engine)
    maat_rate = n / (parse + match_seconds)
    events = [e for b in batches for e in parse_bytes(b, path="bench", max_event_bytes=1 << 20,
                                                      received="2026-11-25T00:00:00Z").events]
    process_starts(engine, events)

    # The SQLite approach, on the same events and rules.
    pairs = [(r, route) for r in engine.rules for route in applicable_routes(r)]
    compiled = [q for r, route in pairs for q in queries(texts[r.path], route)]
    t = time.perf_counter()
    oracle = SqliteOracle(events)
    load = time.perf_counter() - t
    t = time.perf_counter()
    sqlite_hits = 0
    for sql, params in compiled:
        sqlite_hits += len(oracle.run(sql, params))
    run = time.perf_counter() - t
    sqlite_rate = n / (parse + load + run)
    print(f"SQLite approach: load {load:.1f} s + {len(compiled):,} queries {run:.1f} s "
          f"= {sqlite_rate:,.0f} events/s (parse included), {sqlite_hits:,} hits")  # fmt: skip
    print(f"Maat parse + match: {maat_rate:,.0f} events/s, {maat_rate / sqlite_rate:.1f}x the "
          f"SQLite approach (target >= 50,000 events/s and >= 10x)")  # fmt: skip
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: {peak:,.0f} MiB")


if __name__ == "__main__":
    main()

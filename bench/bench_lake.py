"""Benchmark: telemetry lake ingest (conversion + Parquet write) and a hunt over the result.

    .venv/bin/python bench/bench_lake.py [--events 1000000] [--batch 100000] [--writers 1]

1. Generates Sysmon-like normalised events (process creation, network connection, image
   load, file creation) in batches of ``--batch``, in time order over ``--days`` days, across
   2,000 hosts, a few dozen images and random pids; each carries an ``event.original`` of
   about 1 KB shaped like the Sysmon JSON records of the OTRF datasets. Generation is not
   timed; only ``ParquetLake.write_batch`` is (column conversion, Arrow, zstd Parquet,
   SHA-256, fsync, manifest append).
2. Times a hunt through ``ParquetLake.query``: process creations of PowerShell counted by
   host and image (filter + group-by over every event), then a per-day count.
3. Times ``verify`` (re-hashing every file against the manifest).
4. Prints events/s, the hunt's seconds and the peak RSS.

``--writers N`` runs N writer processes on the same lake (the manifest lock serialises their
appends), each writing every N-th batch; rounds start together, so the write time is the
slowest writer's per round.

Target (ADR 0007): ≥ 300k events/s for the write; the hunt over 10 million events ≤ 5 s.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import resource
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from maat.adapters.lake import ParquetLake

IMAGES = [
    "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
    "C:\\Windows\\SysWOW64\\WindowsPowerShell\\v1.0\\powershell.exe",
    "C:\\Windows\\System32\\cmd.exe",
    "C:\\Windows\\System32\\svchost.exe",
    "C:\\Windows\\explorer.exe",
    "C:\\Windows\\System32\\rundll32.exe",
    "C:\\Windows\\System32\\conhost.exe",
    "C:\\Windows\\System32\\wbem\\WmiPrvSE.exe",
    "C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe",
    "C:\\Program Files\\Microsoft Office\\root\\Office16\\WINWORD.EXE",
    "C:\\Program Files (x86)\\Vendor\\ERP\\erpclient.exe",
    "C:\\Windows\\System32\\taskhostw.exe",
    "C:\\Windows\\System32\\msiexec.exe",
    "C:\\Users\\alice\\AppData\\Local\\Temp\\update.exe",
]
KINDS = [  # (event.code, category, action, weight)
    ("1", "process", "Process Create (rule: ProcessCreate)", 40),
    ("3", "network", "Network connection detected (rule: NetworkConnect)", 25),
    ("7", "library", "Image loaded (rule: ImageLoad)", 20),
    ("11", "file", "File created (rule: FileCreate)", 15),
]
RAW = (
    '{{"SourceName":"Microsoft-Windows-Sysmon","ProviderGuid":"{{5770385F-C22A-43E0-BF4C-'
    '06F5698FFBD9}}","Level":4,"Keywords":"0x8000000000000000","Channel":"Microsoft-Windows-'
    'Sysmon/Operational","Hostname":"{host}","TimeCreated":"{ts}","@timestamp":"{ts}",'
    '"EventID":{code},"Message":"{action}\\r\\nRuleName: -\\r\\nUtcTime: {ts}\\r\\n'
    "ProcessGuid: {{{guid}}}\\r\\nProcessId: {pid}\\r\\nImage: {image_json}\\r\\nUser: "
    'CORP\\\\{user}","ProcessGuid":"{{{guid}}}","ProcessId":"{pid}","Image":"{image_json}",'
    '"CommandLine":"{cmd_json}","User":"CORP\\\\{user}","LogonId":"0x{logon:x}",'
    '"IntegrityLevel":"Medium","Hashes":"SHA256={sha}","ParentProcessGuid":"{{{pguid}}}",'
    '"ParentProcessId":"{ppid}","ParentImage":"C:\\\\Windows\\\\explorer.exe",'
    '"RecordNumber":{record}}}'
)


HOSTS = [f"WKS-{i:04d}" for i in range(2000)]
USERS = ["alice", "bob", "carol", "dave", "svc_backup", "SYSTEM"]
IMAGE_JSON = {image: orjson.dumps(image).decode()[1:-1] for image in IMAGES}
BASE = datetime(2024, 3, 1, tzinfo=UTC)


def generate(rng: random.Random, start: int, count: int, total: int, days: int) -> list[Any]:
    """``count`` events from index ``start`` of ``total``, time-ordered over ``days`` days."""
    span = days * 86_400
    day_names = [(BASE + timedelta(days=d)).date().isoformat() for d in range(days + 1)]
    kinds = rng.choices(KINDS, [k[3] for k in KINDS], k=count)
    events: list[Any] = []
    for n, i in enumerate(range(start, start + count)):
        second = int(span * i / total)
        day, rest = divmod(second, 86_400)
        hour, rest = divmod(rest, 3600)
        ts = f"{day_names[day]}T{hour:02d}:{rest // 60:02d}:{rest % 60:02d}.{i % 1000:03d}Z"
        code, category, action, _ = kinds[n]
        host = HOSTS[rng.randrange(2000)]
        image = IMAGES[rng.randrange(len(IMAGES))]
        user = USERS[rng.randrange(len(USERS))]
        pid = rng.randrange(4, 65_000)
        sha = f"{rng.getrandbits(256):064X}"
        guid = f"{rng.getrandbits(128):032X}"
        image_json = IMAGE_JSON[image]
        raw = RAW.format(
            host=host,
            ts=ts,
            code=code,
            action=action,
            guid=guid,
            pid=pid,
            image_json=image_json,
            cmd_json=f'\\"{image_json}\\" -NoProfile -w hidden -c \\"Get-Item {i}\\"',
            user=user,
            logon=rng.getrandbits(24),
            sha=sha,
            pguid=guid,
            ppid=rng.randrange(4, 65_000),
            record=i,
        )
        event: dict[str, Any] = {
            "@timestamp": ts,
            "event.id": f"{rng.getrandbits(128):032x}",
            "event.module": "windows",
            "event.kind": "event",
            "event.code": code,
            "event.category": [category],
            "event.type": ["start" if code == "1" else "info"],
            "event.action": action,
            "event.provider": "Microsoft-Windows-Sysmon",
            "host.name": host,
            "user.name": user,
            "user.domain": "CORP",
            "process.executable": image,
            "process.name": image.rsplit("\\", 1)[-1],
            "process.pid": pid,
            "process.entity_id": guid,
            "process.command_line": f'"{image}" -NoProfile -w hidden -c "Get-Item {i}"',
            "process.parent.executable": "C:\\Windows\\explorer.exe",
            "process.parent.pid": 4242,
            "process.hash.sha256": sha.lower(),
            "winlog.channel": "Microsoft-Windows-Sysmon/Operational",
            "winlog.record_id": i,
            "event.original": raw,
        }
        if code == "3":
            event["source.ip"] = f"10.{i % 250}.{(i // 250) % 250}.{rng.randrange(1, 255)}"
            event["destination.ip"] = f"203.0.113.{rng.randrange(1, 255)}"
            event["destination.port"] = (443, 80, 445, 3389, 8443)[rng.randrange(5)]
        elif code == "7":
            event["dll.path"] = "C:\\Windows\\System32\\version.dll"
            event["dll.hash.sha256"] = sha.lower()
        elif code == "11":
            event["file.path"] = f"C:\\Users\\{user}\\AppData\\Local\\Temp\\f{i}.tmp"
        events.append(event)
    return events


KEY = b"bench-key-" * 4


@dataclass
class WriteFigures:
    """What one writer measured: events, seconds inside write_batch (wall and CPU)."""

    events: int = 0
    wall: float = 0.0
    cpu: float = 0.0
    generation: float = 0.0
    rounds: list[tuple[float, float]] = field(default_factory=list)  # (start, end) per batch


def write_share(root: Path, args: argparse.Namespace, writer: int, barrier: Any) -> WriteFigures:
    """Write this writer's share of the events: batches ``writer``, ``writer + N``, …

    With several writers, every round starts at a barrier, so the round's wall time is the
    slowest writer's and generation (untimed) never overlaps another writer's write.
    """
    figures = WriteFigures()
    rng = random.Random(7 + writer)
    batches = range(writer, -(-args.events // args.batch), args.writers)
    with ParquetLake(root, key=KEY, batch_rows=args.batch_rows) as lake:
        for number in range(-(-args.events // args.batch // args.writers) + 1):
            index = batches[number] if number < len(batches) else None
            events: list[Any] = []
            if index is not None:
                start = index * args.batch
                count = min(args.batch, args.events - start)
                t0 = time.perf_counter()
                events = generate(rng, start, count, args.events, args.days)
                figures.generation += time.perf_counter() - t0
            if barrier is not None:
                barrier.wait()
            t1, c1 = time.perf_counter(), time.process_time()
            if events:
                lake.write_batch(events, commit={"writer": writer, "position": index})
            t2 = time.perf_counter()
            figures.cpu += time.process_time() - c1
            figures.wall += t2 - t1
            figures.events += len(events)
            figures.rounds.append((t1, t2))
            if barrier is None and (number + 1) % 10 == 0:
                rate = figures.events / figures.wall
                print(f"  {figures.events:>12,} written, {rate:,.0f} events/s", flush=True)
    return figures


def _child(root: Path, args: argparse.Namespace, writer: int, barrier: Any, out: Any) -> None:
    out.put((writer, write_share(root, args, writer, barrier)))


def write_all(root: Path, args: argparse.Namespace) -> tuple[int, float, float, float]:
    """Run the writers; (events, wall seconds of the writes, CPU seconds, generation s)."""
    if args.writers == 1:
        one = write_share(root, args, 0, None)
        return one.events, one.wall, one.cpu, one.generation
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(args.writers)
    out = context.Queue()
    children = [
        context.Process(target=_child, args=(root, args, w, barrier, out))
        for w in range(args.writers)
    ]
    for child in children:
        child.start()
    results = [out.get() for _ in children]
    for child in children:
        child.join()
    figures = [f for _, f in sorted(results, key=lambda r: r[0])]
    wall = sum(
        max(f.rounds[r][1] for f in figures) - min(f.rounds[r][0] for f in figures)
        for r in range(min(len(f.rounds) for f in figures))
    )
    return (
        sum(f.events for f in figures),
        wall,
        sum(f.cpu for f in figures),
        max(f.generation for f in figures),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=100_000, help="events per write_batch")
    parser.add_argument("--batch-rows", type=int, default=100_000, help="rows per file at most")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--writers", type=int, default=1, help="writer processes on one lake")
    parser.add_argument("--dir", type=Path, default=None, help="lake directory (default: tmp)")
    parser.add_argument("--keep", action="store_true", help="keep the lake afterwards")
    args = parser.parse_args()

    work = args.dir or Path(tempfile.mkdtemp(prefix="maat-bench-lake-"))
    root = work / "lake"
    print(
        f"lake: {root}; {args.events:,} events in batches of {args.batch:,}, "
        f"{args.writers} writer(s), {os.cpu_count()} CPUs"
    )
    try:
        written, wall, cpu, generation = write_all(root, args)
        with ParquetLake(root, key=KEY, batch_rows=args.batch_rows) as lake:
            report_lake(lake, written, wall, cpu, generation)
    finally:
        if not args.keep and args.dir is None:
            shutil.rmtree(work, ignore_errors=True)


def report_lake(lake: ParquetLake, written: int, wall: float, cpu: float, gen: float) -> None:
    """Print the write figures, then time the hunt, a per-day count and verify."""
    stats = lake.stats()
    print(
        f"write: {written:,} events in {wall:.1f} s = {written / wall:,.0f} events/s "
        "(conversion + Parquet + SHA-256 + fsync + manifest)"
    )
    print(
        f"       CPU {cpu:.1f} s = {written / cpu:,.0f} events per CPU-second; "
        f"generation (untimed) {gen:.1f} s"
    )
    print(
        f"       {stats.files:,} files, {stats.bytes / 1e9:.2f} GB on disk "
        f"({stats.bytes / written:.0f} bytes/event)"
    )
    hunt = (
        "SELECT host_name, process_executable, count(*) AS n FROM events "
        "WHERE code = '1' AND process_executable ILIKE '%powershell%' "
        "GROUP BY host_name, process_executable ORDER BY n DESC, host_name LIMIT 20"
    )
    for attempt in ("cold", "warm"):
        t0, c0 = time.perf_counter(), time.process_time()
        result = lake.query(hunt)
        seconds, hunt_cpu = time.perf_counter() - t0, time.process_time() - c0
        top = result.rows[0] if result.rows else None
        print(
            f"hunt ({attempt}): {seconds:.2f} s wall, {hunt_cpu:.2f} s CPU; "
            f"{len(result.rows)} rows, top {top}"
        )
    t0 = time.perf_counter()
    per_day = lake.query(
        "SELECT CAST(timestamp AS DATE) AS day, count(*) FROM events GROUP BY 1 ORDER BY 1"
    )
    print(f"count per day: {time.perf_counter() - t0:.2f} s over {len(per_day.rows)} days")
    total = lake.query("SELECT count(*) FROM events").rows[0][0]
    assert total == written, (total, written)
    t0 = time.perf_counter()
    report = lake.verify()
    print(
        f"verify: {time.perf_counter() - t0:.2f} s, ok={report.ok}, {report.files} files, "
        f"{report.rows:,} rows"
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    writers = f", {children:,.0f} MiB (largest writer process)" if children else ""
    print(f"peak RSS: {peak:,.0f} MiB (this process){writers}")


if __name__ == "__main__":
    main()

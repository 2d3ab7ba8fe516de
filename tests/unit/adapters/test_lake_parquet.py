"""The Parquet lake: round trips, tampering named by verify, crash recovery, retention, SQL."""

from __future__ import annotations

import errno
import os
import shutil
import stat
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]
import pytest

from maat.adapters.lake import durable
from maat.adapters.lake import parquet as lake_parquet
from maat.adapters.lake.arrow import encode_batch
from maat.adapters.lake.hunt import HuntLimits, run_hunt
from maat.adapters.lake.parquet import MANIFEST_NAME, ParquetLake, lake_key
from maat.auth.secretbox import derive_key
from maat.errors import Conflict, IntegrityError, InvalidInput, NotFound, Unavailable
from maat.lake.manifest import parse_anchor
from maat.lake.schema import COLUMN_NAMES
from telemetry_kit import MORDOR, needs

KEY = b"lake-test-key-of-32-bytes-length"
NOW = datetime(2024, 12, 1, 12, 0, tzinfo=UTC)
HOSTS = ["WKS-01", "WKS-02", "SRV-DB"]
IMAGES = [
    "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
    "C:\\Windows\\System32\\cmd.exe",
    "C:\\Program Files\\Vendor\\ERP\\erp.exe",
]


class Crash(BaseException):
    """The process dying at this point: no handler of the lake runs."""


def open_lake(root: Path, *, batch_rows: int = 1000, key: bytes = KEY) -> ParquetLake:
    return ParquetLake(root, key=key, batch_rows=batch_rows, now=lambda: NOW)


def make_events(count: int, *, day: str = "2024-03-01", module: str = "windows", start: int = 0):
    events: list[dict[str, Any]] = []
    for i in range(start, start + count):
        event: dict[str, Any] = {
            "@timestamp": f"{day}T{i % 24:02d}:{i % 60:02d}:{(i * 7) % 60:02d}.{i % 1000:03d}Z",
            "event.id": f"{i:032x}",
            "event.module": module,
            "event.kind": "event",
            "event.code": ["1", "3", "11"][i % 3],
            "event.category": [["process"], ["network"], ["file"]][i % 3],
            "event.action": "test",
            "event.provider": "Microsoft-Windows-Sysmon",
            "host.name": HOSTS[i % len(HOSTS)],
            "user.name": "alice",
            "process.executable": IMAGES[i % len(IMAGES)],
            "process.command_line": f'"{IMAGES[i % len(IMAGES)]}" -c "Get-Item {i}"',
            "process.pid": 1000 + i,
            "process.hash.sha256": f"{i:064x}",
            "winlog.record_id": i,
            "event.original": orjson.dumps({"EventID": 1, "RecordNumber": i, "é": "ü"}).decode(),
        }
        if i % 3 == 1:
            event["destination.ip"] = "203.0.113.7"
            event["destination.port"] = 443
        events.append(event)
    return events


def parquet_files(root: Path) -> list[Path]:
    return sorted(root.rglob("*.parquet"))


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "lake"


@pytest.fixture
def lake(root: Path):
    with open_lake(root) as opened:
        yield opened


# --- round trip ------------------------------------------------------------------------------


def test_written_events_read_back_with_their_types(lake: ParquetLake) -> None:
    events = make_events(30)
    assert lake.write_batch(events) == 30
    result = lake.query("SELECT * FROM events ORDER BY event_id")
    assert result.columns == COLUMN_NAMES
    row = dict(zip(result.columns, result.rows[1], strict=True))
    source = events[1]
    assert row["timestamp"] == datetime.fromisoformat(source["@timestamp"])
    assert row["timestamp"].utcoffset() == timedelta(0)
    assert row["process_pid"] == 1001 and isinstance(row["process_pid"], int)
    assert row["destination_port"] == 443 and row["category"] == "network"
    assert row["original"] == source["event.original"]
    assert orjson.loads(row["fields"]) == {k: v for k, v in source.items() if k != "event.original"}
    assert row["file_path"] is None and row["dll_hash_sha256"] is None


def test_sql_filter_and_group_by_count_what_was_written(lake: ParquetLake) -> None:
    events = make_events(300)
    lake.write_batch(events[:150])
    lake.write_batch(events[150:])
    result = lake.query(
        "SELECT host_name, process_executable, count(*) FROM events "
        "WHERE code = ? AND process_executable ILIKE '%powershell%' GROUP BY ALL ORDER BY 1",
        ["1"],
    )
    expected = Counter(
        (e["host.name"], e["process.executable"])
        for e in events
        if e["event.code"] == "1" and "powershell" in e["process.executable"].lower()
    )
    assert {(h, p): n for h, p, n in result.rows} == dict(expected)


@needs(MORDOR)
def test_real_windows_records_round_trip_through_the_lake(lake: ParquetLake) -> None:
    from maat.telemetry.pipeline import parse_bytes

    events: list[dict[str, Any]] = []
    for path in sorted(MORDOR.glob("SDWIN-*/*.json"))[:3]:
        outcome = parse_bytes(
            path.read_bytes(),
            path=str(path),
            received="2024-01-01T00:00:00.000000Z",
            max_event_bytes=1024 * 1024,
        )
        events.extend(outcome.events)
    assert len(events) > 100
    assert lake.write_batch(events) == len(events)
    codes = lake.query("SELECT code, count(*) FROM events GROUP BY code").rows
    assert dict(codes) == dict(Counter(str(e.get("event.code")) for e in events))
    originals = lake.query("SELECT event_id, original, fields FROM events").rows
    by_id = {e["event.id"]: e for e in events}
    for event_id, original, fields in originals:
        assert original == by_id[event_id]["event.original"]
        assert orjson.loads(fields)["host.name"] == by_id[event_id].get("host.name")
    assert lake.verify().ok


def test_events_land_in_their_utc_day_and_module_partitions(lake: ParquetLake, root: Path) -> None:
    events = [
        *make_events(4, day="2024-03-01"),
        *make_events(3, day="2024-03-02", module="zeek", start=10),
    ]
    late = dict(make_events(1, start=20)[0], **{"@timestamp": "2024-03-01T23:30:00-05:00"})
    lake.write_batch([*events, late])
    layout = Counter(p.relative_to(root).parent.as_posix() for p in parquet_files(root))
    assert set(layout) == {
        "day=2024-03-01/module=windows",
        "day=2024-03-02/module=windows",  # 23:30 at -05:00 is the next day in UTC
        "day=2024-03-02/module=zeek",
    }
    rows = lake.query("SELECT CAST(timestamp AS DATE), module, count(*) FROM events GROUP BY ALL")
    assert sorted((str(d), m, n) for d, m, n in rows.rows) == [
        ("2024-03-01", "windows", 4),
        ("2024-03-02", "windows", 1),
        ("2024-03-02", "zeek", 3),
    ]


def test_lake_files_and_directories_are_private_to_their_owner(
    lake: ParquetLake, root: Path
) -> None:
    lake.write_batch([*make_events(2), *make_events(2, day="2024-03-02", module="zeek")])
    modes = {
        p.relative_to(root).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in root.rglob("*")
    }
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    assert {m for p, m in modes.items() if (root / p).is_dir()} == {0o700}
    assert {m for p, m in modes.items() if (root / p).is_file()} == {0o600}


def test_files_hold_at_most_batch_rows_rows(root: Path) -> None:
    with open_lake(root, batch_rows=7) as lake:
        lake.write_batch(make_events(20))
        stats = lake.stats()
    assert stats.files == 3 and stats.rows == 20


def test_the_batch_commit_survives_reopening(root: Path) -> None:
    with open_lake(root) as lake:
        assert lake.last_commit() is None
        lake.write_batch(make_events(5), commit={"bus": "spool", "position": 5})
        lake.write_batch([*make_events(3, start=5), *make_events(2, day="2024-03-09", start=8)])
        lake.write_batch(make_events(2, start=10), commit={"bus": "spool", "position": 12})
    with open_lake(root) as lake:
        assert lake.last_commit() == {"bus": "spool", "position": 12}
        assert lake.query("SELECT count(*) FROM events").rows == ((12,),)


def test_odd_value_types_are_coerced_not_rejected(lake: ParquetLake) -> None:
    odd = dict(make_events(1)[0])
    odd.update({"event.code": 4688, "process.pid": "0x1f", "event.category": "process"})
    odd["host.name"] = ["ONE-HOST"]
    lake.write_batch([odd, *make_events(2, start=1)])
    row = lake.query("SELECT code, process_pid, category, host_name FROM events ORDER BY event_id")
    assert row.rows[0] == ("4688", 31, "process", "ONE-HOST")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"@timestamp": None}, "@timestamp"),
        ({"@timestamp": "last tuesday"}, "@timestamp"),
        ({"@timestamp": 1700000000}, "@timestamp"),
        ({"event.module": "../../etc"}, "event.module"),
        ({"event.module": None}, "event.module"),
    ],
)
def test_an_event_without_a_usable_partition_is_refused_and_nothing_is_written(
    lake: ParquetLake, root: Path, change: dict[str, Any], field: str
) -> None:
    events = make_events(5)
    events[3] = {**events[3], **change}
    with pytest.raises(InvalidInput) as caught:
        lake.write_batch(events)
    assert caught.value.location.field == field
    assert parquet_files(root) == [] and (root / MANIFEST_NAME).read_bytes() == b""


def test_chunked_encoding_keeps_every_row_in_order_and_files_within_batch_rows() -> None:
    events = [*make_events(23), *make_events(9, day="2024-03-02", start=23)]
    files = encode_batch(events, batch_rows=7, chunk=5, row_group=3)
    assert [(f.day, f.rows) for f in files] == [
        ("2024-03-01", 7),
        ("2024-03-01", 7),
        ("2024-03-01", 7),
        ("2024-03-02", 7),
        ("2024-03-01", 2),
        ("2024-03-02", 2),
    ]
    ids = [
        event_id
        for f in files
        for event_id in pq.read_table(pa.BufferReader(f.data)).column("event_id").to_pylist()
    ]
    assert sorted(ids) == sorted(e["event.id"] for e in events)
    first = pq.read_table(pa.BufferReader(files[0].data))
    assert first.column("event_id").to_pylist() == [e["event.id"] for e in events[:7]]
    assert files[0].min_ts == "2024-03-01T00:00:00.000000Z"


def test_a_bad_event_is_named_by_its_place_in_the_whole_batch() -> None:
    events = make_events(12)
    events[11] = {**events[11], "@timestamp": "soon"}
    with pytest.raises(InvalidInput) as caught:
        encode_batch(events, batch_rows=100, chunk=5)
    assert caught.value.location.line == 11 and "event 11" in caught.value.message


def test_a_commit_that_is_not_json_writes_nothing(lake: ParquetLake, root: Path) -> None:
    with pytest.raises(InvalidInput, match="JSON"):
        lake.write_batch(make_events(3), commit={"position": object()})
    assert parquet_files(root) == [] and lake.verify().ok and lake.last_commit() is None


# --- tampering -------------------------------------------------------------------------------


def test_edited_parquet_file_is_named_by_verify(lake: ParquetLake, root: Path) -> None:
    lake.write_batch(make_events(10))
    target = parquet_files(root)[0]
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    report = lake.verify()
    assert not report.ok
    assert [(f.kind, f.where) for f in report.findings] == [
        ("changed", target.relative_to(root).as_posix())
    ]


def test_deleted_parquet_file_is_named_missing_by_verify(lake: ParquetLake, root: Path) -> None:
    lake.write_batch([*make_events(5), *make_events(5, day="2024-03-02", start=5)])
    victim = parquet_files(root)[1]
    victim.unlink()
    report = lake.verify()
    assert [(f.kind, f.where) for f in report.findings] == [
        ("missing", victim.relative_to(root).as_posix())
    ]
    with pytest.raises(IntegrityError, match=r"part-2-\w+\.parquet is missing") as caught:
        lake.query("SELECT count(*) FROM events")
    assert caught.value.hint == "run 'maat lake verify' to see every finding"


def test_inserted_parquet_file_is_named_by_verify_and_never_queried(
    lake: ParquetLake, root: Path
) -> None:
    lake.write_batch(make_events(10))
    listed = parquet_files(root)[0]
    planted = listed.with_name(f"part-1-{'f' * 32}.parquet")  # named like one of ours
    shutil.copy(listed, planted)
    report = lake.verify()
    assert [(f.kind, f.where) for f in report.findings] == [
        ("inserted", planted.relative_to(root).as_posix())
    ]
    assert lake.query("SELECT count(*) FROM events").rows == ((10,),)
    with pytest.raises(InvalidInput, match="Permission"):
        lake.query(f"SELECT count(*) FROM read_parquet('{planted}')")


def test_a_hunt_refuses_to_answer_from_a_file_replaced_behind_the_manifest(
    lake: ParquetLake, root: Path
) -> None:
    """The intruder drops the incriminating row and re-dates the file: verify names it,
    and a retro-hunt must not answer from it either."""
    lake.write_batch(make_events(5))
    target = parquet_files(root)[0]
    before = target.stat()
    pq.write_table(pq.read_table(target).slice(0, 4), target)
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))
    with pytest.raises(IntegrityError, match=r"bytes, the manifest lists|SHA-256"):
        lake.query("SELECT count(*) FROM events")


def test_a_forged_record_of_a_checked_file_is_not_believed(lake: ParquetLake, root: Path) -> None:
    lake.write_batch(make_events(5))
    target = parquet_files(root)[0]
    size = target.stat().st_size
    target.write_bytes(b"\0" * size)  # same size, other bytes
    info = target.stat()
    rel = target.relative_to(root).as_posix()
    signature = f"{info.st_dev}:{info.st_ino}:{info.st_size}:{info.st_mtime_ns}:{info.st_ctime_ns}"
    with (root / ".verified").open("ab") as fh:
        fh.write(f"{rel}\t{signature}\t{'0' * 64}\n".encode())  # no key, no MAC
    reader = ParquetLake(root, key=KEY, batch_rows=10, recover=False)
    with reader, pytest.raises(IntegrityError, match="SHA-256"):
        reader.query("SELECT count(*) FROM events")


def test_a_reader_trusts_what_the_writer_checked_and_hashes_nothing_again(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open_lake(root) as lake:
        lake.write_batch([*make_events(5), *make_events(5, day="2024-03-02", start=5)])
    hashed: list[Path] = []
    real = durable.sha256_of
    monkeypatch.setattr(durable, "sha256_of", lambda path: hashed.append(path) or real(path))
    with ParquetLake(root, key=KEY, batch_rows=10, recover=False) as reader:
        assert reader.query("SELECT count(*) FROM events").rows == ((10,),)
    assert hashed == []
    (root / ".verified").unlink()  # a lost cache costs one hash per file, not the answer
    with ParquetLake(root, key=KEY, batch_rows=10, recover=False) as reader:
        assert reader.query("SELECT count(*) FROM events").rows == ((10,),)
        assert reader.query("SELECT count(*) FROM events").rows == ((10,),)
    assert len(hashed) == 2
    assert not (root / ".verified").exists()  # a read-only process writes nothing


def test_a_hunt_cannot_reach_files_in_duckdbs_temporary_folder(
    lake: ParquetLake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DuckDB always allows its temporary folder (./.tmp by default), external access off
    or not: a hunt gets a private one instead."""
    work = tmp_path / "cwd"
    (work / ".tmp").mkdir(parents=True)
    (work / ".tmp" / "secret.txt").write_text("not lake data")
    monkeypatch.chdir(work)
    lake.write_batch(make_events(1))
    with pytest.raises(InvalidInput, match="Permission"):
        lake.query(f"SELECT content FROM read_text('{work}/.tmp/secret.txt')")
    with pytest.raises(InvalidInput, match="Permission"):
        lake.query("SELECT content FROM read_text('.tmp/secret.txt')")


def test_a_runaway_hunt_is_stopped_at_its_time_limit(root: Path) -> None:
    limits = HuntLimits(timeout=0.5, memory_bytes=256 * 1024**2, threads=1)
    lake = ParquetLake(root, key=KEY, batch_rows=10, limits=limits)
    with lake, pytest.raises(InvalidInput, match=r"longer than 0\.5 s") as caught:
        lake.query("SELECT sum(hash(range)) FROM range(100000000000000)")
    assert "telemetry.hunt_timeout" in (caught.value.hint or "")


def test_a_comment_ended_by_a_carriage_return_cannot_hide_a_copy_over_a_lake_file(
    lake: ParquetLake, root: Path
) -> None:
    """DuckDB ends ``--`` at ``\r`` too; the text check once did not, and EXPLAIN ANALYZE
    ran a COPY over a listed file (allowed_paths lists the lake's own files)."""
    lake.write_batch(make_events(10))
    target = parquet_files(root)[0]
    before = target.read_bytes()
    sql = f"EXPLAIN --\rANALYZE COPY (SELECT 42 AS x) TO '{target}' (FORMAT parquet)"
    with pytest.raises(InvalidInput):
        lake.query(sql)
    with pytest.raises(InvalidInput, match="ANALYZE"):  # DuckDB's own tokens, checked again
        run_hunt([str(target)], sql.replace("\r", " \r", 1), (), max_rows=1,
                 limits=HuntLimits())  # fmt: skip
    assert target.read_bytes() == before


def test_a_batch_another_process_left_half_written_is_removed_by_the_next_batch(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`maat ingest` killed mid-batch while `maat serve` goes on writing: serve's next batch
    would replace the pending record, and the orphans would be named inserted forever."""
    server = open_lake(root)
    server.write_batch(make_events(5), commit={"position": 5})
    with open_lake(root) as killed:
        monkeypatch.setattr(ParquetLake, "_append", lambda *_, **__: (_ for _ in ()).throw(Crash))
        with pytest.raises(Crash):
            killed.write_batch(make_events(5, day="2024-03-05", start=5))
        monkeypatch.undo()
    assert len(parquet_files(root)) == 2
    server.write_batch(make_events(5, day="2024-03-06", start=10), commit={"position": 10})
    server.close()
    with open_lake(root) as lake:
        assert lake.verify().ok
    assert [p.parent.parent.name for p in parquet_files(root)] == [
        "day=2024-03-01", "day=2024-03-06"
    ]  # fmt: skip


def test_the_record_of_checked_files_stays_bounded(root: Path) -> None:
    """A crash during a compaction left its temporary file, which once stopped every later
    compaction; a writer that runs for months once kept a line per file it ever wrote."""
    stored = [datetime(2024, 1, 2, tzinfo=UTC)]
    lake = ParquetLake(root, key=KEY, batch_rows=1000, now=lambda: stored[0])
    for i in range(150):
        stored[0] = datetime(2024, 1, 2, tzinfo=UTC)
        lake.write_batch(make_events(1, day="2024-01-01", start=i))
        stored[0] = datetime(2025, 6, 1, tzinfo=UTC)
        lake.apply_retention(retention_days=180)
    lake.close()
    lines = (root / ".verified").read_bytes().splitlines()
    assert len(lines) <= 64
    with (root / ".verified").open("ab") as fh:
        fh.write(b"old\tsig\tmac\n" * 500)
    (root / "..verified.tmp").write_bytes(b"")  # left by a crash
    with open_lake(root):
        pass
    assert len((root / ".verified").read_bytes().splitlines()) <= 64


def test_a_file_changed_between_its_rename_and_its_record_is_not_trusted(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Someone watching the directory writes to a file just renamed into place: the writer
    records it as checked only after hashing it again from the disk."""
    real = durable.write_durably

    def racing(path: Path, data: Any) -> None:
        real(path, data)
        if path.suffix == ".parquet":
            fd = os.open(path, os.O_WRONLY)
            at = path.read_bytes().rfind(b"parquet-cpp-arrow version ")
            os.pwrite(fd, b"forged-by-someone", at)
            os.close(fd)

    monkeypatch.setattr(durable, "write_durably", racing)
    with open_lake(root) as lake:
        lake.write_batch(make_events(10))
    monkeypatch.undo()
    reader = ParquetLake(root, key=KEY, batch_rows=1000, recover=False)
    with reader, pytest.raises(IntegrityError, match="SHA-256"):
        reader.query("SELECT count(*) FROM events")


def test_a_listed_file_replaced_by_a_link_is_named(lake: ParquetLake, root: Path) -> None:
    lake.write_batch(make_events(4))
    target = parquet_files(root)[0]
    copy = root / "elsewhere.parquet"
    shutil.copy(target, copy)
    target.unlink()
    target.symlink_to(copy)  # same bytes behind it: still not the file that was listed
    kinds = {(f.kind, f.where) for f in lake.verify().findings}
    assert ("changed", target.relative_to(root).as_posix()) in kinds
    assert ("inserted", "elsewhere.parquet") in kinds


def test_edited_manifest_line_is_named_and_the_lake_refuses_to_open(
    lake: ParquetLake, root: Path
) -> None:
    lake.write_batch(make_events(5), commit={"position": 5})
    lake.write_batch(make_events(5, start=5), commit={"position": 10})
    manifest = root / MANIFEST_NAME
    lines = manifest.read_bytes().splitlines(keepends=True)
    entry = orjson.loads(lines[0])
    entry["rows"] = 2
    lines[0] = orjson.dumps(entry, option=orjson.OPT_SORT_KEYS) + b"\n"
    manifest.write_bytes(b"".join(lines))
    first = parquet_files(root)[0].relative_to(root).as_posix()
    report = lake.verify()
    # The forged entry vouches for nothing, so the file it lists stands unlisted.
    assert [(f.kind, f.where) for f in report.findings] == [
        ("forged", "manifest line 1"),
        ("inserted", first),
    ]
    before = parquet_files(root)
    with pytest.raises(IntegrityError, match="forged: manifest line 1"):
        open_lake(root)
    assert parquet_files(root) == before


def test_manifest_forged_with_a_wrong_key_is_refused_and_nothing_is_deleted(root: Path) -> None:
    with open_lake(root, key=b"another-key-another-key-another!") as forger:
        forger.write_batch(make_events(5))
    files = parquet_files(root)
    with pytest.raises(IntegrityError, match="forged"):
        open_lake(root)  # with the right key every file would look unlisted: recover must stop
    assert parquet_files(root) == files


def test_verify_with_a_wrong_key_names_every_line_forged(root: Path) -> None:
    with open_lake(root, key=b"another-key-another-key-another!") as forger:
        forger.write_batch([*make_events(2), *make_events(2, day="2024-03-02")])
        # Verify with the right key through the pure reader, as `maat lake verify` would.
        data = (root / MANIFEST_NAME).read_bytes()
    from maat.lake.manifest import verify_manifest

    assert [f.kind for f in verify_manifest(data, KEY)] == ["forged", "forged"]


def test_truncated_manifest_tail_is_caught_against_the_anchor(
    lake: ParquetLake, root: Path
) -> None:
    lake.write_batch(make_events(5))
    lake.write_batch(make_events(5, day="2024-03-02", start=5))
    anchor = lake.verify().anchor
    assert parse_anchor(anchor)[0] == 2
    manifest = root / MANIFEST_NAME
    first_line = manifest.read_bytes().splitlines(keepends=True)[0]
    manifest.write_bytes(first_line)  # drop the last entry...
    for path in root.glob("day=2024-03-02/*/*.parquet"):
        path.unlink()  # ...and its file: without an anchor this looks like a smaller lake
    assert lake.verify().ok
    report = lake.verify(anchor=parse_anchor(anchor))
    assert [(f.kind, f.where) for f in report.findings] == [("truncated", "manifest entry 2")]


def test_a_cut_manifest_does_not_make_recovery_delete_what_it_listed(root: Path) -> None:
    with open_lake(root) as lake:
        lake.write_batch(make_events(3), commit={"position": 3})
        lake.write_batch(make_events(3, day="2024-03-02", start=3), commit={"position": 6})
        anchor = parse_anchor(lake.verify().anchor)
    manifest = root / MANIFEST_NAME
    manifest.write_bytes(manifest.read_bytes().splitlines(keepends=True)[0])
    files = parquet_files(root)
    with open_lake(root) as lake:  # recovery: the cut-off file is older than the manifest
        assert parquet_files(root) == files
        kinds = [(f.kind, f.where) for f in lake.verify(anchor=anchor).findings]
    assert kinds == [
        ("truncated", "manifest entry 2"),
        ("inserted", files[1].relative_to(root).as_posix()),
    ]


def test_a_deleted_manifest_is_refused_not_taken_for_a_crash(root: Path) -> None:
    with open_lake(root) as lake:
        lake.write_batch(make_events(3))
    (root / MANIFEST_NAME).unlink()
    files = parquet_files(root)
    with pytest.raises(IntegrityError, match="manifest is missing but 1 data files"):
        open_lake(root)
    assert parquet_files(root) == files


def test_opening_read_only_changes_nothing_even_after_a_crash(root: Path) -> None:
    with open_lake(root) as lake:
        lake.write_batch(make_events(3), commit={"position": 3})
        lake.write_batch(make_events(3, day="2024-03-02", start=3), commit={"position": 6})
    manifest = root / MANIFEST_NAME
    manifest.write_bytes(manifest.read_bytes()[:-20])
    before = {p: p.read_bytes() for p in [manifest, *parquet_files(root)]}
    with ParquetLake(root, key=KEY, batch_rows=10, recover=False) as lake:
        kinds = sorted(f.kind for f in lake.verify().findings)
        assert lake.query("SELECT count(*) FROM events").rows == ((3,),)
        assert lake.last_commit() == {"position": 3}
    assert kinds == ["inserted", "truncated-line"]
    assert {p: p.read_bytes() for p in [manifest, *parquet_files(root)]} == before


# --- crashes ---------------------------------------------------------------------------------


def test_file_written_but_never_listed_is_removed_at_next_open(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open_lake(root) as lake:
        lake.write_batch(make_events(5), commit={"position": 5})
        kept = parquet_files(root)

        def die(*_: Any, **__: Any) -> None:
            raise Crash

        monkeypatch.setattr(ParquetLake, "_append", die)
        with pytest.raises(Crash):
            lake.write_batch(make_events(5, day="2024-03-05", start=5), commit={"position": 10})
        monkeypatch.undo()
    assert len(parquet_files(root)) == 2  # the orphan is on disk, listed nowhere
    with open_lake(root) as lake:
        assert parquet_files(root) == kept
        assert lake.last_commit() == {"position": 5}
        assert lake.verify().ok


def _crashing_in_the_append(monkeypatch: pytest.MonkeyPatch) -> None:
    """The next batch's files and manifest lines are written but the process stops before
    the batch completes: its pending record stays (the test then tears the manifest)."""
    monkeypatch.setattr(lake_parquet, "clear_pending", lambda root: None)


def test_torn_last_manifest_line_is_dropped_at_next_open(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open_lake(root) as lake:
        lake.write_batch(make_events(5), commit={"position": 5})
        _crashing_in_the_append(monkeypatch)
        lake.write_batch(make_events(5, day="2024-03-02", start=5), commit={"position": 10})
    manifest = root / MANIFEST_NAME
    data = manifest.read_bytes()
    manifest.write_bytes(data[:-30])  # the crash hit while the second entry was being written
    with open_lake(root) as lake:
        assert lake.last_commit() == {"position": 5}
        assert lake.verify().ok
        assert lake.query("SELECT count(*) FROM events").rows == ((5,),)
    assert [p.parent.parent.name for p in parquet_files(root)] == ["day=2024-03-01"]


def test_an_append_cut_between_its_lines_is_dropped_whole(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open_lake(root) as lake:
        lake.write_batch(make_events(3), commit={"position": 3})
        _crashing_in_the_append(monkeypatch)
        two_days = [*make_events(3, day="2024-03-02", start=3), *make_events(3, day="2024-03-03")]
        lake.write_batch(two_days, commit={"position": 9})
    manifest = root / MANIFEST_NAME
    lines = manifest.read_bytes().splitlines(keepends=True)
    manifest.write_bytes(b"".join(lines[:2]))  # the batch's last line, with its commit, is lost
    with open_lake(root) as lake:
        assert lake.last_commit() == {"position": 3}  # the whole batch is replayed, once
        assert lake.query("SELECT count(*) FROM events").rows == ((3,),)
        assert lake.verify().ok
    assert len(parquet_files(root)) == 1


def test_a_torn_line_cannot_make_recovery_delete_batches_listed_after_it(root: Path) -> None:
    """A manifest cut back into an older append (a backup copied mid-append, an intruder):
    that append completed long ago, so recovery keeps every file for verify to name."""
    with open_lake(root) as lake:
        lake.write_batch(make_events(3), commit={"position": 3})
        lake.write_batch(make_events(3, day="2024-03-02", start=3), commit={"position": 6})
        lake.write_batch(make_events(3, day="2024-03-03", start=6), commit={"position": 9})
    manifest = root / MANIFEST_NAME
    lines = manifest.read_bytes().splitlines(keepends=True)
    manifest.write_bytes(lines[0] + lines[1][:-10])
    files = parquet_files(root)
    with open_lake(root) as lake:
        assert parquet_files(root) == files
        kinds = sorted(f.kind for f in lake.verify().findings)
    assert kinds == ["inserted", "inserted"]


def test_a_manifest_restored_with_its_old_mtime_deletes_nothing(
    root: Path, tmp_path: Path
) -> None:
    """cp -p, rsync -a, tar: the restored manifest is older than every later file."""
    backup = tmp_path / "manifest.backup"
    with open_lake(root) as lake:
        lake.write_batch(make_events(3), commit={"position": 3})
        shutil.copy2(root / MANIFEST_NAME, backup)
        os.utime(backup, ns=(1_000_000_000, 1_000_000_000))
        lake.write_batch(make_events(3, day="2024-03-02", start=3), commit={"position": 6})
        lake.write_batch(make_events(3, day="2024-03-03", start=6), commit={"position": 9})
    files = parquet_files(root)
    shutil.copy2(backup, root / MANIFEST_NAME)
    with open_lake(root) as lake:
        assert parquet_files(root) == files
        assert [f.kind for f in lake.verify().findings] == ["inserted", "inserted"]


def test_a_forged_pending_record_cannot_make_recovery_delete_a_file(root: Path) -> None:
    with open_lake(root) as lake:
        lake.write_batch(make_events(3), commit={"position": 3})
        lake.write_batch(make_events(3, day="2024-03-02", start=3), commit={"position": 6})
    manifest = root / MANIFEST_NAME
    manifest.write_bytes(manifest.read_bytes().splitlines(keepends=True)[0])
    second = parquet_files(root)[1].relative_to(root).as_posix()
    body = orjson.dumps({"after": 1, "files": [second]})
    (root / ".pending").write_bytes(body + b"\t" + b"0" * 64 + b"\n")  # no key, no MAC
    files = parquet_files(root)
    with open_lake(root):
        assert parquet_files(root) == files


def test_retention_interrupted_before_deleting_is_finished_at_next_open(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored = datetime(2023, 1, 1, 12, tzinfo=UTC)
    with ParquetLake(root, key=KEY, batch_rows=1000, now=lambda: stored) as then:
        then.write_batch(make_events(5, day="2023-01-01"))
    with open_lake(root) as lake:
        monkeypatch.setattr(durable, "remove_quietly", lambda paths: None)
        report = lake.apply_retention(retention_days=180)
        monkeypatch.undo()
        assert len(report.deleted) == 1
        assert [f.detail for f in lake.verify().findings] == [
            "retired by retention but still on disk"
        ]
    with open_lake(root) as lake:
        assert lake.verify().ok
    assert parquet_files(root) == []


def test_disk_full_while_writing_a_file_is_unavailable_and_lists_nothing(
    lake: ParquetLake, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake.write_batch(make_events(3), commit={"position": 3})
    before = (root / MANIFEST_NAME).read_bytes()

    def full(fd: int, data: bytes) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(durable, "write_all", full)
    with pytest.raises(Unavailable, match="the disk is full") as caught:
        lake.write_batch(make_events(5, day="2024-03-04", start=3), commit={"position": 8})
    assert caught.value.retry_after > 0
    monkeypatch.undo()
    assert (root / MANIFEST_NAME).read_bytes() == before
    assert not any(root.rglob("*.tmp")) and len(parquet_files(root)) == 1
    assert lake.verify().ok and lake.last_commit() == {"position": 3}


def test_disk_full_while_appending_the_manifest_removes_the_batch_files(
    lake: ParquetLake, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake.write_batch(make_events(3), commit={"position": 3})
    before = (root / MANIFEST_NAME).read_bytes()
    real = durable.write_all
    calls: list[int] = []

    def full_at_manifest(fd: int, data: bytes) -> None:
        calls.append(fd)
        if len(calls) == 3:  # two files written; the manifest append runs out of space midway
            os.write(fd, data[:25])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(fd, data)

    monkeypatch.setattr(durable, "write_all", full_at_manifest)
    batch = [*make_events(2, day="2024-03-05", start=3), *make_events(2, day="2024-03-06")]
    with pytest.raises(Unavailable):
        lake.write_batch(batch, commit={"position": 7})
    monkeypatch.undo()
    assert (root / MANIFEST_NAME).read_bytes() == before  # the half line was cut back
    assert len(parquet_files(root)) == 1
    assert lake.verify().ok
    assert lake.write_batch(batch, commit={"position": 7}) == 4  # and the retry succeeds
    assert lake.verify().ok


def test_two_writers_on_one_lake_keep_one_chain(root: Path) -> None:
    with open_lake(root) as first, open_lake(root) as second:
        for i in range(4):
            writer = first if i % 2 == 0 else second
            writer.write_batch(make_events(5, start=5 * i), commit={"position": 5 * (i + 1)})
        first.hold("2024-03-01", "2024-03-01", None, "case 7")
        assert second.last_commit() == {"position": 20}
        assert [h.id for h in second.holds()] == ["hold-5"]
        assert second.query("SELECT count(*) FROM events").rows == ((20,),)
        assert first.verify().ok


# --- retention and holds -----------------------------------------------------------------------


def _aged_lake(lake: ParquetLake) -> None:
    """Files of 10, 100 and 400 days ago, each stored on its day."""
    for days_ago in (10, 100, 400):
        stored = NOW - timedelta(days=days_ago)
        with ParquetLake(lake.root, key=KEY, batch_rows=1000, now=lambda t=stored: t) as then:
            then.write_batch(make_events(4, day=stored.date().isoformat(), start=days_ago))


def test_young_data_is_kept_without_force(lake: ParquetLake) -> None:
    _aged_lake(lake)
    report = lake.apply_retention(retention_days=30)
    assert report.effective_days == 180 and len(report.deleted) == 1
    assert any("180-day floor" in n for n in report.notes)
    assert lake.query("SELECT count(*) FROM events").rows == ((8,),)
    assert lake.verify().ok  # retired files are not missing


def test_legal_hold_beats_force(lake: ParquetLake) -> None:
    _aged_lake(lake)
    old_day = (NOW - timedelta(days=100)).date().isoformat()
    held = lake.hold(old_day, old_day, "windows", "litigation 2024-17")
    report = lake.apply_retention(retention_days=1, force=True)
    assert len(report.deleted) == 2
    assert [k.reason for k in report.kept] == [f"legal hold {held.describe()}"]
    assert lake.query("SELECT count(*) FROM events").rows == ((4,),)
    lake.release(held.id, reason="case closed")
    assert len(lake.apply_retention(retention_days=1, force=True).deleted) == 1
    assert lake.verify().ok and lake.stats().files == 0


def test_dry_run_deletes_nothing(lake: ParquetLake, root: Path) -> None:
    _aged_lake(lake)
    files = parquet_files(root)
    report = lake.apply_retention(retention_days=1, force=True, dry_run=True)
    assert report.dry_run and len(report.deleted) == 3
    assert parquet_files(root) == files and lake.stats().retired_files == 0


def test_releasing_an_unknown_or_released_hold_is_refused(lake: ParquetLake) -> None:
    held = lake.hold("2024-01-01", "2024-01-31", None, "audit")
    with pytest.raises(NotFound):
        lake.release("hold-999")
    lake.release(held.id)
    with pytest.raises(Conflict):
        lake.release(held.id)


# --- SQL --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sql",
    [
        "ATTACH '{tmp}/other.db' AS other",
        "COPY (SELECT * FROM events) TO '{tmp}/stolen.csv'",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_text('/etc/hostname')",
        "SELECT * FROM glob('/*')",
        "SELECT * FROM '{tmp}/outside.parquet'",
        "SELECT * FROM read_parquet('{tmp}/outside.parquet')",
        "WITH x AS (SELECT * FROM read_parquet('{tmp}/outside.parquet')) SELECT * FROM x",
        "SELECT count(*) FROM events; SELECT * FROM read_csv('/etc/passwd')",
        "SET enable_external_access = true",
        "CREATE TABLE copy AS SELECT * FROM events",
        "PRAGMA database_list",
    ],
)
def test_sql_that_writes_or_reads_outside_the_manifest_is_refused(
    lake: ParquetLake, tmp_path: Path, sql: str
) -> None:
    lake.write_batch(make_events(3))
    shutil.copy(parquet_files(lake.root)[0], tmp_path / "outside.parquet")
    with pytest.raises(InvalidInput):
        lake.query(sql.format(tmp=tmp_path))
    assert not (tmp_path / "stolen.csv").exists() and not (tmp_path / "other.db").exists()


def test_a_bad_query_is_invalid_input_with_duckdbs_message(lake: ParquetLake) -> None:
    lake.write_batch(make_events(3))
    with pytest.raises(InvalidInput, match="no_such_column"):
        lake.query("SELECT no_such_column FROM events")


def test_query_rows_are_capped_and_parameters_bound(lake: ParquetLake) -> None:
    lake.write_batch(make_events(12))
    result = lake.query("SELECT event_id FROM events WHERE process_pid >= $1", [1002], max_rows=4)
    assert len(result.rows) == 4 and result.truncated
    assert not lake.query("SELECT 1", max_rows=4).truncated


def test_an_empty_lake_has_a_typed_empty_view(lake: ParquetLake) -> None:
    result = lake.query("SELECT * FROM events")
    assert result.columns == COLUMN_NAMES and result.rows == ()
    assert lake.verify().ok and lake.verify().files == 0


def test_the_lake_key_is_its_own(tmp_path: Path) -> None:
    secret = bytes(range(32))
    assert lake_key(secret) == lake_key(secret) and len(lake_key(secret)) == 32
    assert lake_key(secret) != derive_key(secret, "audit-chain")
    assert lake_key(secret) != lake_key(bytes(32))
    with pytest.raises(InvalidInput):
        ParquetLake(tmp_path, key=b"short", batch_rows=10)


def test_a_lake_that_cannot_be_created_is_unavailable(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(Unavailable):
        ParquetLake(blocker / "lake", key=KEY, batch_rows=10)

"""Ingest to lake through the real spool and Parquet lake: counts, replays, crashes, refusals."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from maat.config import Settings
from maat.errors import InvalidInput, Unavailable
from maat.services.platform import Platform
from maat.services.telemetry import LAKE_CONSUMER, IngestReport, Telemetry
from maat.telemetry.pipeline import ParseOutcome
from maat.telemetry.wire import decode_event
from maat_testkit import make_settings


def sysmon(n: int, host: str = "WS1") -> bytes:
    return orjson.dumps({
        "@timestamp": f"2026-11-2{n % 2}T10:00:{n % 60:02d}.000Z", "EventID": 1,
        "Channel": "Microsoft-Windows-Sysmon/Operational", "SourceName": "Microsoft-Windows-Sysmon",
        "Hostname": host, "Image": "C:\\Windows\\System32\\cmd.exe",
        "CommandLine": f"cmd.exe /c echo {n}", "ProcessId": str(100 + n),
    })  # fmt: skip


def body(first: int, count: int) -> bytes:
    return b"\n".join(sysmon(n) for n in range(first, first + count))


def settings_in(tmp_path: Path, **telemetry: object) -> Settings:
    settings = make_settings(tmp_path, telemetry=dict(telemetry))
    Platform.open(settings, create=True).close()  # the master secret
    return settings


@pytest.fixture
def telemetry(tmp_path: Path) -> Iterator[Telemetry]:
    opened = Telemetry.open(settings_in(tmp_path))
    yield opened
    opened.close()


def count(telemetry: Telemetry) -> int:
    return int(telemetry.lake.query("SELECT count(*) FROM events").rows[0][0])


def test_ingested_events_reach_the_lake(telemetry: Telemetry) -> None:
    report = telemetry.ingest(body(0, 500) + b"\n{broken\n", path="batch")
    assert (report.accepted, report.rejected, report.duplicates) == (500, 1, 0)
    assert report.as_dict()["errors"] == [{"path": "batch", "line": 501,
                                           "reason": report.errors[0].reason}]  # fmt: skip
    assert telemetry.drain() == 500
    assert count(telemetry) == 500


def test_a_replayed_batch_is_acknowledged_but_stored_once(telemetry: Telemetry) -> None:
    telemetry.ingest(body(0, 100), path="a")
    again = telemetry.ingest(body(50, 100), path="b")
    assert (again.accepted, again.duplicates) == (100, 50)
    telemetry.drain()
    assert count(telemetry) == 150


def test_crash_between_lake_write_and_bus_ack_writes_nothing_twice(tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    first = Telemetry.open(settings)
    first.ingest(body(0, 300), path="a")
    messages = first.bus.fetch(LAKE_CONSUMER, max_messages=1000, timeout=0)
    events = [decode_event(m.data) for m in messages]
    first.lake.write_batch(
        events, commit={"bus": first.bus.identity, "position": messages[-1].position}
    )
    first.close()  # "crash": the bus never heard the acknowledgement
    second = Telemetry.open(settings)
    try:
        second.ingest(body(300, 10), path="b")
        second.drain()
        assert count(second) == 310
    finally:
        second.close()


def test_full_spool_refuses_and_acknowledges_nothing(tmp_path: Path) -> None:
    telemetry = Telemetry.open(settings_in(tmp_path, max_spool_bytes=8192))
    try:
        telemetry.ingest(body(0, 20), path="a")
        with pytest.raises(Unavailable) as caught:
            telemetry.ingest(body(20, 20), path="b")
        assert caught.value.status == 503
        telemetry.drain()
        assert count(telemetry) == 20
    finally:
        telemetry.close()


def test_background_writer_moves_events_without_being_asked(tmp_path: Path) -> None:
    telemetry = Telemetry.open(settings_in(tmp_path, lake_flush_interval=0.05))
    try:
        telemetry.start_writer()
        telemetry.ingest(body(0, 50), path="a")
        for _ in range(200):
            if telemetry.lake.last_commit():
                break
            import time

            time.sleep(0.02)
        assert count(telemetry) == 50
    finally:
        telemetry.close()


def test_a_failed_lake_write_is_retried_not_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    telemetry = Telemetry.open(settings_in(tmp_path))
    try:
        telemetry.ingest(body(0, 50), path="a")
        real = telemetry.lake.write_batch
        calls = {"n": 0}

        def flaky(events: object, **kw: object) -> int:
            calls["n"] += 1
            if calls["n"] == 1:
                raise Unavailable("disk full")
            return real(events, **kw)  # type: ignore[arg-type]

        monkeypatch.setattr(telemetry.lake, "write_batch", flaky)
        with pytest.raises(Unavailable):
            telemetry.write_once()
        telemetry.ingest(body(50, 5), path="b")
        telemetry.drain()
        assert count(telemetry) == 55
    finally:
        telemetry.close()


def test_an_event_the_lake_refuses_is_dead_lettered_and_the_rest_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from maat.adapters.lake.parquet import ParquetLake
    from maat.errors import InvalidInput

    real = ParquetLake.write_batch

    def picky(self: ParquetLake, events: list[dict[str, object]], **kw: object) -> int:
        if any(e.get("host.name") == "POISON" for e in events):
            raise InvalidInput("cannot encode this event", field="@timestamp")
        return real(self, events, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(ParquetLake, "write_batch", picky)
    telemetry = Telemetry.open(settings_in(tmp_path))
    try:
        telemetry.ingest(body(0, 20) + b"\n" + sysmon(99, host="POISON"), path="a")
        telemetry.drain()
        assert count(telemetry) == 20
        letters = (tmp_path / "dead-letter" / "events.ndjson").read_bytes()
        assert b"POISON" in letters and b"cannot encode this event" in letters
    finally:
        telemetry.close()


def test_the_writer_compacts_the_spool_so_ingest_never_fills_it(tmp_path: Path) -> None:
    telemetry = Telemetry.open(settings_in(tmp_path, max_spool_bytes=200_000,
                                           spool_segment_bytes=8192, dedupe_window=100))  # fmt: skip
    try:
        for start in range(0, 2000, 100):  # ~1.4 MB in all, seven times the spool's limit
            telemetry.ingest(body(start, 100), path="a")
            telemetry.drain()
        assert count(telemetry) == 2000
    finally:
        telemetry.close()


def test_an_event_that_cannot_be_serialised_is_rejected_alone(tmp_path: Path) -> None:
    telemetry = Telemetry.open(settings_in(tmp_path))
    try:
        from maat.telemetry.pipeline import ParseOutcome

        outcome = telemetry.parse(body(0, 3), path="a")
        outcome.events[1]["process.pid"] = 1 << 70  # beyond what JSON storage keeps
        report = telemetry.publish(ParseOutcome(events=outcome.events), path="a")
        assert (report.accepted, report.rejected) == (2, 1)
        assert "cannot be stored" in report.errors[0].reason
    finally:
        telemetry.close()


def test_the_pipeline_commands_collect_garbage_less_often_as_configured(tmp_path: Path) -> None:
    """Parsing makes some 40 short-lived objects per event: with Python's threshold of 700
    the collector runs every few events (bench_detect: parse 33k -> 47k events/s)."""
    import gc

    from maat.services.telemetry import tune_process

    before = gc.get_threshold()
    try:
        tune_process(settings_in(tmp_path))
        assert gc.get_threshold() == (100_000, *before[1:])
        gc.set_threshold(*before)
        tune_process(make_settings(tmp_path / "d", telemetry={"gc_threshold": 0}))
        assert gc.get_threshold() == before
    finally:
        gc.set_threshold(*before)


def test_the_pipeline_commands_give_arrow_the_configured_memory_pool(tmp_path: Path) -> None:
    """Arrow's default (mimalloc) hands freed memory back between lake batches and faults it
    in again; the pipeline commands use the C library's allocator unless told otherwise."""
    import pyarrow as pa

    from maat.errors import ConfigError
    from maat.services.telemetry import tune_process

    before = pa.default_memory_pool()
    try:
        tune_process(settings_in(tmp_path))
        assert pa.default_memory_pool().backend_name == "system"
        tune_process(make_settings(tmp_path / "d", telemetry={"arrow_memory_pool": "mimalloc"}))
        assert pa.default_memory_pool().backend_name == "mimalloc"
    finally:
        pa.set_memory_pool(before)
    with pytest.raises(ConfigError) as caught:
        make_settings(tmp_path / "e", telemetry={"arrow_memory_pool": "tcmalloc"})
    assert caught.value.location.field == "telemetry.arrow_memory_pool"


def lake_rows(telemetry: Telemetry) -> list[tuple[object, ...]]:
    sql = "SELECT event_id, host_name, fields, original FROM events ORDER BY event_id"
    return [tuple(row) for row in telemetry.lake.query(sql).rows]


def test_a_message_that_is_not_an_event_is_dead_lettered_and_the_rest_written(
    tmp_path: Path,
) -> None:
    telemetry = Telemetry.open(settings_in(tmp_path))
    try:
        telemetry.bus.publish("events", [("garbage-1", b"\x00MW1\xff\xff")])  # damaged on disk
        telemetry.ingest(body(0, 30), path="a")
        telemetry.drain()
        assert count(telemetry) == 30
        letters = (tmp_path / "dead-letter" / "events.ndjson").read_bytes().splitlines()
        record = orjson.loads(letters[0])
        assert record["msg_id"] == "garbage-1" and "truncated" in record["reason"]
        assert record["data_base64"] == "AE1XMf//"
        assert telemetry.writer_error is not None
    finally:
        telemetry.close()


def test_a_spool_written_by_an_older_maat_still_reaches_the_lake(tmp_path: Path) -> None:
    """Older versions published each event as one JSON object; after an upgrade the spool
    still holds such messages, and they must reach the lake exactly as new ones do."""
    new_dir, old_dir = tmp_path / "new", tmp_path / "old"
    new, old = Telemetry.open(settings_in(new_dir)), Telemetry.open(settings_in(old_dir))
    try:
        new.ingest(body(0, 40), path="a")
        outcome = old.parse(body(0, 40), path="a")
        old.bus.publish("events", [(e["event.id"], orjson.dumps(e)) for e in outcome.events])
        new.drain()
        old.drain()
        assert count(old) == 40
        assert lake_rows(old) == lake_rows(new)
    finally:
        new.close()
        old.close()


def test_the_lake_holds_the_same_rows_with_and_without_the_handoff(tmp_path: Path) -> None:
    handed = Telemetry.open(settings_in(tmp_path / "on"))
    decoded = Telemetry.open(settings_in(tmp_path / "off", handoff_bytes=0))
    try:
        for telemetry in (handed, decoded):
            telemetry.ingest(body(0, 120) + b"\n" + sysmon(7, host="WS2"), path="a")
            telemetry.drain()
        assert len(handed.handoff) == 0 and len(decoded.handoff) == 0
        assert count(handed) == 121
        assert lake_rows(handed) == lake_rows(decoded)
    finally:
        handed.close()
        decoded.close()


class Recorder:
    """A detector that keeps what it was given (one alert line per event: a copy of it)."""

    def __init__(self) -> None:
        self.events: list[dict[str, object]] = []

    def lines(self, events: list[dict[str, object]], **_: object) -> list[dict[str, object]]:
        return [dict(event) for event in events]

    def record(self, lines: list[dict[str, object]]) -> None:
        self.events.extend(lines)


def test_a_replay_from_another_device_cannot_restamp_events_before_the_lake_writes_them(
    tmp_path: Path,
) -> None:
    """The vendor's own agent sends its events; an attacker's device replays the same
    records before the lake writer and the detector run. The vendor's events keep the
    vendor's stamp; the attacker's copies are events of the attacker's device (their ids
    are scoped to it), and the vendor's own replay is dropped as one."""
    detector = Recorder()
    telemetry = Telemetry.open(settings_in(tmp_path), detector=detector)
    try:
        telemetry.ingest(body(0, 10), path="a", sender="VENDOR-HOST")
        again = telemetry.ingest(body(0, 10), path="b", sender="ATTACKER-DESK")
        assert again.duplicates == 0 and again.accepted == 10
        assert telemetry.ingest(body(0, 10), path="a", sender="VENDOR-HOST").duplicates == 10
        telemetry.drain()
        rows = [orjson.loads(str(row[2])) for row in lake_rows(telemetry)]
        by_sender = Counter(r["maat.sender.device"] for r in rows)
        assert by_sender == {"VENDOR-HOST": 10, "ATTACKER-DESK": 10}
        assert len({r["event.id"] for r in rows}) == 20
        assert Counter(e["maat.sender.device"] for e in detector.events) == by_sender
        assert len(telemetry.handoff) == 0
    finally:
        telemetry.close()


def test_another_sender_cannot_take_a_devices_event_by_sending_it_first(tmp_path: Path) -> None:
    """An agent token of another device posts the vendor host's exact records first: the
    vendor's own copies are still stored, stamped with the vendor host."""
    telemetry = Telemetry.open(settings_in(tmp_path))
    try:
        telemetry.ingest(body(0, 5), path="b", sender="ATTACKER-DESK")
        mine = telemetry.ingest(body(0, 5), path="a", sender="VENDOR-HOST")
        assert mine.accepted == 5 and mine.duplicates == 0
        telemetry.drain()
        senders = Counter(
            orjson.loads(str(row[2]))["maat.sender.device"] for row in lake_rows(telemetry)
        )
        assert senders == {"VENDOR-HOST": 5, "ATTACKER-DESK": 5}
    finally:
        telemetry.close()


def test_a_bad_message_is_dead_lettered_once_across_retries_and_restarts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_in(tmp_path)
    telemetry = Telemetry.open(settings)
    letters = tmp_path / "dead-letter" / "events.ndjson"
    try:
        telemetry.ingest(body(0, 5), path="a")
        telemetry.drain()  # the lake's commit: the restart below reads on from here
        telemetry.bus.publish("events", [("garbage-1", b"\x00MW1\xff\xff")])
        real = telemetry.lake.write_batch
        calls = {"n": 0}

        def flaky(events: object, **kw: object) -> int:
            calls["n"] += 1
            if calls["n"] <= 2:
                raise Unavailable("disk full")
            return real(events, **kw)  # type: ignore[arg-type]

        monkeypatch.setattr(telemetry.lake, "write_batch", flaky)
        for _ in range(2):
            with pytest.raises(Unavailable):
                telemetry.write_once()
        telemetry.drain()
    finally:
        telemetry.close()
    again = Telemetry.open(settings)  # the batch had no event: the lake has no commit for it
    try:
        again.drain()  # so the garbage is read again
        assert count(again) == 5
    finally:
        again.close()
    records = [orjson.loads(line) for line in letters.read_bytes().splitlines()]
    assert [r["msg_id"] for r in records if "msg_id" in r] == ["garbage-1"]


def test_a_writer_that_fetches_the_moment_the_spool_stores_still_gets_the_hand_off(
    tmp_path: Path,
) -> None:
    """The lake writer runs in its own thread: it may fetch a batch before publish()
    returns. The hand-off must hold the events by then, or it keeps them forever."""
    telemetry = Telemetry.open(settings_in(tmp_path))
    try:
        real = telemetry.bus.publish_stored  # type: ignore[attr-defined]
        handed: list[int] = []

        def racing(subject: str, messages: list[tuple[str, bytes]]) -> set[str]:
            stored = real(subject, messages)
            fetched = telemetry.bus.fetch(LAKE_CONSUMER, max_messages=1000, timeout=0)
            handed.append(sum(e is not None for e in telemetry.handoff.take(fetched)))
            telemetry.bus.seek(LAKE_CONSUMER, 0)  # let the real writer read them again
            return set(stored)

        telemetry.bus.publish_stored = racing  # type: ignore[attr-defined]
        telemetry.ingest(body(0, 30), path="a")
        assert handed == [30]
        telemetry.drain()
        assert count(telemetry) == 30 and len(telemetry.handoff) == 0
    finally:
        telemetry.close()


class PlainBus:
    """A bus that says only how many messages it stored (as JetStream's adapter does)."""

    def __init__(self, inner: object) -> None:
        self._inner = inner

    def publish(self, subject: str, messages: list[tuple[str, bytes]]) -> int:
        return int(self._inner.publish(subject, messages))  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> object:
        if name == "publish_stored":
            raise AttributeError(name)
        return getattr(self._inner, name)


def test_the_hand_off_is_off_on_a_bus_whose_consumers_may_be_other_nodes(tmp_path: Path) -> None:
    opened = Telemetry.open(settings_in(tmp_path))
    telemetry = Telemetry(opened.settings, PlainBus(opened.bus), opened.lake)  # type: ignore[arg-type]
    try:
        report = telemetry.ingest(body(0, 20), path="a")
        assert report.accepted == 20 and len(telemetry.handoff) == 0
        assert not telemetry.handoff.put([("x", b"y", {})])  # limit 0: keeps nothing
        telemetry.drain()
        assert count(telemetry) == 20
    finally:
        opened.close()


def test_two_bad_messages_with_one_id_are_both_dead_lettered(tmp_path: Path) -> None:
    telemetry = Telemetry.open(settings_in(tmp_path))
    try:
        telemetry.bus.publish("events", [("same-id", b"\x00MW1\xff")])
        telemetry.drain()
        spool = telemetry.bus
        # The dedupe window would drop a second "same-id": write it past the window.
        spool._recent.clear()  # type: ignore[attr-defined]
        spool.publish("events", [("same-id", b"\x00MW1\xfe")])
        telemetry.drain()
    finally:
        telemetry.close()
    records = [orjson.loads(line) for line in
               (tmp_path / "dead-letter" / "events.ndjson").read_bytes().splitlines()]  # fmt: skip
    assert [r["msg_id"] for r in records] == ["same-id", "same-id"]
    assert len({r["position"] for r in records}) == 2 and all(r["bus"] for r in records)


class FailsOnce(Recorder):
    """A detector whose first recording fails as a locked or unreachable database does."""

    def __init__(self) -> None:
        super().__init__()
        self.failed = False
        self.matched: Counter[object] = Counter()  # event id -> times matched

    def lines(self, events: list[dict[str, object]], **_: object) -> list[dict[str, object]]:
        self.matched.update(event["event.id"] for event in events)
        return super().lines(events)

    def record(self, lines: list[dict[str, object]]) -> None:
        if not self.failed:
            self.failed = True
            raise Unavailable("the state store is locked")
        super().record(lines)


def _detected_after_one_failure(tmp_path: Path) -> FailsOnce:
    """30 events detected by a detector whose first recording fails, the writer loop
    going on after it."""
    detector = FailsOnce()
    telemetry = Telemetry.open(settings_in(tmp_path, lake_batch_rows=10), detector=detector)
    try:
        telemetry.ingest(body(0, 30), path="a")
        with pytest.raises(Unavailable):
            telemetry.detect_once()
        while telemetry.detect_once():
            pass
    finally:
        telemetry.close()
    return detector


def test_a_failed_detection_is_retried_not_skipped(tmp_path: Path) -> None:
    """The writer loop keeps going after a failed detection: the batch must be detected
    again, not passed over by the next fetch and then acknowledged with it (lost for good:
    not even a restart would detect it)."""
    detector = _detected_after_one_failure(tmp_path)
    assert len(detector.events) == 30


def test_a_retried_detection_does_not_match_its_events_twice(tmp_path: Path) -> None:
    """Matching feeds the correlator: run again over a batch whose alerts could not be
    stored, a group that fired would count its events twice (and fire a second time)."""
    detector = _detected_after_one_failure(tmp_path)
    assert len(detector.events) == 30
    assert set(detector.matched.values()) == {1}


class RefusesOne(Recorder):
    """A state store that refuses the alert of one event (PostgreSQL and a NUL character)."""

    def record(self, lines: list[dict[str, object]]) -> None:
        if any("cmd.exe /c echo 3" in map(str, line.values()) for line in lines):
            raise InvalidInput("a value cannot be stored (containing a NUL character)")
        super().record(lines)


def test_one_event_whose_alert_is_refused_cannot_stop_detection_for_good(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Retried whole, the batch would fail on every turn: nothing after it detected, and
    the spool kept for the detector until it is full and ingest refused. The refused event
    is passed over alone, visibly; the rest are detected."""
    detector = RefusesOne()
    telemetry = Telemetry.open(settings_in(tmp_path, lake_batch_rows=10), detector=detector)
    try:
        telemetry.ingest(body(0, 30), path="a")
        with pytest.raises(InvalidInput):
            telemetry.detect_once()
        with caplog.at_level(logging.ERROR, logger="maat.services.telemetry_detect"):
            while telemetry.detect_once():
                pass
        assert len(detector.events) == 29
        assert telemetry.undetected == 1
        assert telemetry.writer_error is not None
        assert "cannot be stored" in telemetry.writer_error.message
        assert "not detected" in caplog.text and "cannot be stored" in caplog.text
        assert telemetry.bus.fetch("detect", max_messages=10, timeout=0) == []
    finally:
        telemetry.close()


class StoreDown(Recorder):
    """A state store that is down: every recording fails, as a service the event is not."""

    def __init__(self) -> None:
        super().__init__()
        self.down = True

    def record(self, lines: list[dict[str, object]]) -> None:
        if self.down:
            raise Unavailable("the state store is unreachable")
        super().record(lines)


def test_a_store_that_is_down_passes_no_event_over(tmp_path: Path) -> None:
    """Only a refusal of the data (4xx) is one event's doing: while the store is down the
    batch waits, whole, and is detected once it is back."""
    detector = StoreDown()
    telemetry = Telemetry.open(settings_in(tmp_path, lake_batch_rows=10), detector=detector)
    try:
        telemetry.ingest(body(0, 10), path="a")
        for _ in range(3):
            with pytest.raises(Unavailable):
                telemetry.detect_once()
        detector.down = False
        while telemetry.detect_once():
            pass
        assert len(detector.events) == 10 and telemetry.undetected == 0
    finally:
        telemetry.close()



# --- publish: the spool's fast path against the loop ------------------------------------------


def through_the_loop(telemetry: Telemetry) -> list[int]:
    """Make ``telemetry`` group its events by the loop: a bus that says how large a message
    it takes (every one here) is not given the spool's one-subject fast path. The list
    counts the events the loop looked at."""
    looked: list[int] = [0]

    def fits(msg_id: str, data: bytes) -> bool:
        looked[0] += 1
        return True

    telemetry.bus.fits = fits  # type: ignore[attr-defined]
    return looked


def with_sender_claims(outcome: ParseOutcome, *indexes: int) -> ParseOutcome:
    for index in indexes:
        outcome.events[index]["maat.sender.device"] = "VENDOR-HOST"
    return outcome


def test_the_spool_fast_path_reports_and_stores_what_the_loop_does(tmp_path: Path) -> None:
    fast = Telemetry.open(settings_in(tmp_path / "fast"), detector=Recorder())
    loop = Telemetry.open(settings_in(tmp_path / "loop"), detector=Recorder())
    looked = through_the_loop(loop)
    try:
        steps = [
            (body(0, 40), "a", None),
            (body(20, 40) + b"\n{broken\n" + body(0, 3), "b", None),  # replays, one bad line
            (body(100, 10) + b"\n" + body(100, 10), "c", "DEV-1"),  # repeats in the batch
            (body(100, 10), "c", "DEV-1"),  # all the device's own replays
            (body(100, 10), "d", "DEV-2"),  # the same records from another device
        ]
        for data, path, sender in steps:
            reports = [
                telemetry.ingest(data, path=path, sender=sender).as_dict()
                for telemetry in (fast, loop)
            ]
            assert reports[0] == reports[1]
        claimed = [
            telemetry.publish(with_sender_claims(telemetry.parse(body(200, 6), path="e"), 0, 3))
            for telemetry in (fast, loop)
        ]
        assert claimed[0].as_dict() == claimed[1].as_dict()
        assert looked[0] == 40 + 43 + 20 + 10 + 10 + 6  # every event parsed
        assert fast.drain() == loop.drain() == 40 + 20 + 10 + 10 + 6  # the new ones
        assert lake_rows(fast) == lake_rows(loop)
        assert len(fast.handoff) == len(loop.handoff) == 0
        detected = [
            sorted(orjson.dumps(e, option=orjson.OPT_SORT_KEYS) for e in telemetry.detector.events)  # type: ignore[union-attr]
            for telemetry in (fast, loop)
        ]
        assert detected[0] == detected[1] and len(detected[0]) == 86
    finally:
        fast.close()
        loop.close()


def test_by_subject_fast_path_gives_the_loops_messages_for_the_same_events(
    tmp_path: Path,
) -> None:
    fast = Telemetry.open(settings_in(tmp_path / "fast"))
    loop = Telemetry.open(settings_in(tmp_path / "loop"))
    through_the_loop(loop)
    try:
        outcome = fast.parse(body(0, 25) + b"\n" + body(3, 2), path="a")
        events, lines = outcome.events, outcome.lines
        got = [
            (telemetry._by_subject(events, lines, report, "a"), report)
            for telemetry, report in ((fast, IngestReport()), (loop, IngestReport()))
        ]
        (grouped, report), (expected, expected_report) = got
        assert list(grouped) == list(expected) == ["events"]
        assert [(i, d) for i, d, _ in grouped["events"]] == [
            (i, d) for i, d, _ in expected["events"]
        ]
        assert all(
            a is b is event
            for (_, _, a), (_, _, b), event in zip(
                grouped["events"], expected["events"], events, strict=True
            )
        )
        assert [i for i, _, _ in grouped["events"]] == [e["event.id"] for e in events]
        assert report.as_dict() == expected_report.as_dict()
        assert (report.rejected, report.errors) == (0, [])
    finally:
        fast.close()
        loop.close()


@pytest.mark.parametrize(
    ("field", "value"),
    [("process.pid", 1 << 70), ("x.note", "a lone surrogate \ud800 in text")],
    ids=["integer-beyond-64-bits", "lone-surrogate"],
)
def test_one_event_that_cannot_be_encoded_is_reported_at_its_line_and_the_rest_kept(
    tmp_path: Path, field: str, value: object
) -> None:
    telemetry = Telemetry.open(settings_in(tmp_path), detector=Recorder())
    try:
        data = body(0, 2) + b"\n{broken\n" + body(2, 4)  # lines 1, 2, (3), 4, 5, 6, 7
        outcome = telemetry.parse(data, path="a")
        assert outcome.lines == [1, 2, 4, 5, 6, 7]
        bad = outcome.events[3]  # line 5
        bad[field] = value
        bad_id = bad["event.id"]
        report = telemetry.publish(outcome, path="a")
        assert (report.accepted, report.rejected, report.duplicates) == (5, 2, 0)
        assert [(e.path, e.line) for e in report.errors] == [("a", 3), ("a", 5)]
        assert bad_id in report.errors[1].reason
        assert "cannot be stored" in report.errors[1].reason
        assert telemetry.drain() == 5
        ids = {row[0] for row in lake_rows(telemetry)}
        assert len(ids) == 5 and bad_id not in ids
        assert len(telemetry.detector.events) == 5  # type: ignore[union-attr]
        assert len(telemetry.handoff) == 0
    finally:
        telemetry.close()


def test_every_event_of_a_batch_that_cannot_be_encoded_is_rejected_alone(
    tmp_path: Path,
) -> None:
    telemetry = Telemetry.open(settings_in(tmp_path))
    try:
        outcome = telemetry.parse(body(0, 4), path="a")
        for index in (0, 3):
            outcome.events[index]["process.pid"] = -(1 << 65)
        report = telemetry.publish(outcome, path="a")
        assert (report.accepted, report.rejected) == (2, 2)
        assert [e.line for e in report.errors] == [1, 4]
        assert telemetry.drain() == 2
    finally:
        telemetry.close()


def test_an_event_claiming_a_sender_device_is_stripped_when_no_sender_is_given(
    tmp_path: Path,
) -> None:
    """A client without a device token cannot pass its events off as an enrolled device's
    by carrying the key itself: publish strips it, on the fast path as on the loop."""
    detector = Recorder()
    telemetry = Telemetry.open(settings_in(tmp_path), detector=detector)
    try:
        outcome = with_sender_claims(telemetry.parse(body(0, 8), path="a"), 0, 1, 5)
        ids = [e["event.id"] for e in outcome.events]
        report = telemetry.publish(outcome, path="a")
        assert (report.accepted, report.rejected) == (8, 0)
        assert all("maat.sender.device" not in e for e in outcome.events)
        assert [e["event.id"] for e in outcome.events] == ids  # not scoped to any sender
        assert telemetry.drain() == 8
        rows = [orjson.loads(str(row[2])) for row in lake_rows(telemetry)]
        assert len(rows) == 8 and all("maat.sender.device" not in r for r in rows)
        assert all("maat.sender.device" not in e for e in detector.events)
        assert {row[0] for row in lake_rows(telemetry)} == set(ids)
    finally:
        telemetry.close()


def test_an_event_claiming_another_sender_device_is_stamped_with_the_real_sender(
    tmp_path: Path,
) -> None:
    from maat.telemetry.model import sender_event_id

    detector = Recorder()
    telemetry = Telemetry.open(settings_in(tmp_path), detector=detector)
    try:
        outcome = with_sender_claims(telemetry.parse(body(0, 6), path="a"), 2, 4)
        records = [e["event.id"] for e in outcome.events]
        report = telemetry.publish(outcome, path="a", sender="ATTACKER-DESK")
        assert report.accepted == 6
        assert telemetry.drain() == 6
        rows = [orjson.loads(str(row[2])) for row in lake_rows(telemetry)]
        assert Counter(r["maat.sender.device"] for r in rows) == {"ATTACKER-DESK": 6}
        assert {r["event.id"] for r in rows} == {
            sender_event_id(record, "ATTACKER-DESK") for record in records
        }
        assert Counter(e["maat.sender.device"] for e in detector.events) == {"ATTACKER-DESK": 6}
    finally:
        telemetry.close()

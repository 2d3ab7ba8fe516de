"""Telemetry use cases: ingest bytes durably, move events from the bus into the lake.

One :class:`Telemetry` per process (``maat serve`` or a CLI command) owns the bus (the local
spool, or NATS JetStream on a cluster) and the lake. Ingest, as numbered steps:

1. parse and normalise (:func:`maat.telemetry.pipeline.parse_bytes`): bad records become
   located errors, the rest are kept;
2. publish the events to the bus, which returns only once they are durable (fsync on the
   spool, PubAck from JetStream) and drops replays by ``event.id``;
3. only then report them accepted. A bus that cannot store raises ``Unavailable`` (503) and
   nothing is acknowledged.

The lake writer is the bus consumer ``lake``: it fetches a batch, skips what the lake already
holds (positions at or below the lake's last commit), writes the rest with the batch's last
position as the commit, and acknowledges. A crash between writing and acknowledging replays a
batch whose positions the lake's commit already covers, so no event is written twice.
"""

from __future__ import annotations

import base64
import logging
import os
import shutil
import tempfile
import threading
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import repeat
from operator import attrgetter, itemgetter
from pathlib import Path
from typing import Any, cast

import orjson

from maat.adapters.bus.spool import SpoolBus
from maat.adapters.lake.hunt import HuntLimits
from maat.adapters.lake.parquet import ParquetLake, lake_key
from maat.config import Settings
from maat.errors import InvalidInput, MaatError, Unavailable
from maat.native import NATIVE
from maat.ports import BusMessage, EventBus
from maat.services.platform import read_master_secret
from maat.services.telemetry_detect import (
    DetectorLike,
    Pending,
    decodable,
    detect_pending,
    log_passed_over,
)
from maat.services.tuning import tune_process
from maat.telemetry.enrich import Facts, enrich
from maat.telemetry.handoff import Handoff
from maat.telemetry.model import ParseError, sender_event_id
from maat.telemetry.pipeline import ParseOutcome, parse_bytes
from maat.telemetry.wire import decode_event, encode_events, fields_of_many, read_event

log = logging.getLogger(__name__)

__all__ = [
    "IngestReport", "Telemetry", "open_bus", "read_inputs", "received_now", "tune_process",
]  # fmt: skip

# list.clear, reading ahead of the events it lets go of when the C extension is built
_release = list.clear if NATIVE is None else NATIVE.release

LAKE_CONSUMER = "lake"
DETECT_CONSUMER = "detect"
SPOOL_SUBJECT = "events"
_position = attrgetter("position")
MAX_REPORTED_ERRORS = 1000


@dataclass
class IngestReport:
    """What ``maat ingest`` and ``POST /v1/events`` answer once events are durable."""

    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0
    errors: list[ParseError] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, why): not event logs

    def add(self, other: IngestReport) -> None:
        """Fold ``other`` into this report (errors beyond the reporting cap are counted)."""
        self.accepted += other.accepted
        self.rejected += other.rejected
        self.duplicates += other.duplicates
        self.skipped.extend(other.skipped)
        room = MAX_REPORTED_ERRORS - len(self.errors)
        self.errors.extend(other.errors[: max(room, 0)])

    def as_dict(self) -> dict[str, Any]:
        """The stable JSON interface: accepted, rejected, duplicates, errors."""
        return {
            "accepted": self.accepted,
            "rejected": self.rejected,
            "duplicates": self.duplicates,
            "errors": [e.as_dict() for e in self.errors],
            "errors_not_listed": max(self.rejected - len(self.errors), 0),
            "skipped": [{"path": path, "reason": why} for path, why in self.skipped],
        }


def open_bus(settings: Settings) -> EventBus:
    """The bus of the configured profile: the spool (single node) or NATS (cluster)."""
    telemetry = settings.telemetry
    if telemetry.bus == "nats":
        from maat.adapters.bus.nats import NatsBus

        return NatsBus(
            telemetry.nats_url,
            stream=telemetry.nats_stream,
            subject_prefix=telemetry.nats_subject_prefix,
            timeout=float(telemetry.nats_timeout),
            max_bytes=int(telemetry.nats_max_bytes),
            max_age=float(telemetry.nats_max_age),
            ack_wait=float(telemetry.nats_ack_wait),
        )
    return SpoolBus(
        settings.spool_path,
        segment_bytes=int(telemetry.spool_segment_bytes),
        max_bytes=int(telemetry.max_spool_bytes),
        min_free_bytes=int(telemetry.min_free_disk_bytes),
        dedupe_window=telemetry.dedupe_window,
        tail_bytes=int(telemetry.handoff_bytes),  # this process's consumers: not read back
        direct_io=telemetry.spool_direct_io,
        stage_bytes=int(telemetry.spool_stage_bytes),
    )


def _utc_now() -> datetime:
    return datetime.now(UTC)


def received_now() -> str:
    """The current time as the ISO UTC text events carry."""
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond:06d}Z"


SENDER = "maat.sender.device"
"""The event key naming the enrolled device (its host) whose own agent sent the event."""


class Telemetry:
    """The bus and the lake of one process, and the lake writer."""

    def __init__(
        self, settings: Settings, bus: EventBus, lake: ParquetLake, facts: Facts | None = None,
        detector: DetectorLike | None = None,
    ) -> None:  # fmt: skip
        self.settings = settings
        self.bus = bus
        self.lake = lake
        self.facts = facts
        self.detector = detector
        self._detect_lock = threading.Lock()
        # A batch whose detection or acknowledgement failed: finished on the next turn.
        self._undetected: Pending | None = None
        self.undetected = 0  # events or alerts detection passed over (refused alone)
        if detector is not None:
            register = getattr(bus, "register", None)  # the spool's; JetStream's are durable
            if register is not None:
                register(DETECT_CONSUMER)
        self._writer: threading.Thread | None = None
        self._probe_lake: ParquetLake | None = None
        self._stop = threading.Event()
        self._write_lock = threading.Lock()
        self.writer_error: MaatError | None = None
        # The hand-off serves consumers in this process: the spool's. JetStream's consumers
        # may be other nodes, and only the spool says which ids of a batch it stored.
        spooled = callable(getattr(bus, "publish_stored", None))
        limit = int(settings.telemetry.handoff_bytes) if spooled else 0
        self.handoff = Handoff(limit_bytes=limit, consumers=1 if detector is None else 2)
        self._lettered: set[tuple[str, str, int]] | None = None  # (bus, msg_id, position)

    @classmethod
    def open(
        cls, settings: Settings, *, facts: Facts | None = None,
        detector: DetectorLike | None = None,
    ) -> Telemetry:  # fmt: skip
        """Open the bus and the lake under the settings' data directory; ``facts`` (the
        state store's, :class:`~maat.services.enrichment.StoreFacts`) enriches events."""
        master = read_master_secret(settings.effective_secret_key_file, create=False)
        bus = open_bus(settings)
        try:
            lake = ParquetLake(
                settings.lake_path,
                key=lake_key(master),
                batch_rows=settings.telemetry.lake_batch_rows,
                now=_utc_now,
                limits=HuntLimits.from_settings(settings.telemetry),
            )
            commit = lake.last_commit()
            if commit and commit.get("bus") == bus.identity:
                # The lake knows where it stopped on this bus: continue exactly after it.
                bus.seek(LAKE_CONSUMER, int(commit["position"]))
        except BaseException:
            bus.close()
            raise
        return cls(settings, bus, lake, facts, detector)

    # --- ingest -----------------------------------------------------------------------------

    def parse(
        self, data: bytes, *, path: str, source: str = "auto", max_events: int | None = None
    ) -> ParseOutcome:
        """Step 1 only: events and located errors from ``data``."""
        return parse_bytes(
            data,
            path=path,
            received=received_now(),
            max_event_bytes=int(self.settings.telemetry.max_event_bytes),
            source=source,
            max_events=max_events,
        )

    def ingest(
        self, data: bytes, *, path: str, source: str = "auto", max_events: int | None = None,
        sender: str | None = None,
    ) -> IngestReport:  # fmt: skip
        """Steps 1-3: parse ``data``, store the events durably, report. More than
        ``max_events`` events refuse the whole input (``PayloadTooLarge``). ``sender`` is
        the host of the enrolled device whose own agent token sent them (:data:`SENDER`)."""
        outcome = self.parse(data, path=path, source=source, max_events=max_events)
        return self.publish(outcome, path=path, sender=sender)

    def publish(
        self, outcome: ParseOutcome, *, path: str = "", sender: str | None = None
    ) -> IngestReport:
        """Steps 2-3 for parsed events. Raises ``Unavailable`` when they cannot be stored.
        The events belong to the pipeline from here (this process's consumers may be handed
        them as they are): nothing may change them afterwards."""
        report = IngestReport(
            rejected=outcome.errors.total, errors=outcome.errors[:MAX_REPORTED_ERRORS]
        )
        if outcome.skipped is not None:
            report.skipped.append((path, outcome.skipped))
        if not outcome.events:
            return report
        # Who vouches for them: set here only, never by a sender.
        if sender:
            for event in outcome.events:
                event.pop(SENDER, None)  # a forged one goes: the real one is set last
                event[SENDER] = sender
                event["event.id"] = sender_event_id(event["event.id"], sender)
        else:  # the pops in one C loop (a Python loop cost 0.4 µs an event)
            deque(map(dict.pop, outcome.events, repeat(SENDER), repeat(None)), maxlen=0)
        if self.facts is not None:
            enrich(outcome.events, self.facts)
        lines = (
            outcome.lines
            if len(outcome.lines) == len(outcome.events)
            else [0] * len(outcome.events)
        )
        for subject, published in self._by_subject(outcome.events, lines, report, path).items():
            stored = self._store(subject, published)
            report.accepted += len(published)
            report.duplicates += len(published) - stored
        return report

    def _store(self, subject: str, published: list[tuple[str, bytes, dict[str, Any]]]) -> int:
        """Publish one subject's messages; how many were new. The hand-off holds them
        from before the bus stores them (a consumer can fetch them only after) and keeps
        only those the bus stored: the replays it refused are never fetched."""
        pairs = [(msg_id, data) for msg_id, data, _ in published]
        publish_stored = getattr(self.bus, "publish_stored", None)
        if publish_stored is None:
            return self.bus.publish(subject, pairs)
        added = self.handoff.put(published)
        stored: set[str] = set()
        try:
            stored = publish_stored(subject, pairs)
        finally:
            self.handoff.settle(added, stored)
        return len(stored)

    def _by_subject(
        self,
        events: Sequence[dict[str, Any]],
        lines: Sequence[int],
        report: IngestReport,
        path: str,
    ) -> dict[str, list[tuple[str, bytes, dict[str, Any]]]]:
        """``(event id, message bytes, event)`` of each event that can be stored, by the
        subject it goes to; the others (not encodable, or larger than the bus takes) are
        rejected in ``report`` at their ``lines``."""
        nats = self.settings.telemetry.bus == "nats"
        if nats:
            from maat.adapters.bus.partition import subject_for
        prefix = self.settings.telemetry.nats_subject_prefix
        partitions = self.settings.telemetry.nats_partitions
        fits = getattr(self.bus, "fits", None)  # a bus with a message size limit (NATS)
        encoded = encode_events(list(events))
        if not nats and fits is None and set(map(type, encoded)) <= {bytes}:
            # The spool, every event encoded: one subject, made without a loop in Python
            ids = map(itemgetter("event.id"), events)
            return {SPOOL_SUBJECT: list(zip(ids, encoded, events, strict=True))}  # type: ignore[arg-type]
        grouped: dict[str, list[tuple[str, bytes, dict[str, Any]]]] = {}
        for event, line, data in zip(events, lines, encoded, strict=True):
            try:
                if isinstance(data, InvalidInput):
                    raise data
                if fits is not None and not fits(event["event.id"], data):
                    raise InvalidInput(
                        f"the event takes {len(data):,} bytes as a bus message, more than the "
                        "NATS server accepts (its max_payload)"
                    )
            except InvalidInput as exc:  # e.g. an integer beyond 64 bits: this event only
                report.rejected += 1
                reason = f"event {event.get('event.id')}: {exc.message}"
                report.errors.append(ParseError(path, line, reason))
                continue
            subject = (
                subject_for(prefix, str(event.get("host.name", "")), partitions)
                if nats
                else SPOOL_SUBJECT
            )
            grouped.setdefault(subject, []).append((event["event.id"], data, event))
        return grouped

    # --- lake writer ------------------------------------------------------------------------

    def write_once(self, *, timeout: float = 0.0) -> tuple[int, int]:
        """Move one batch from the bus into the lake: ``(messages fetched, events written)``
        (fewer written than fetched when a replay is skipped)."""
        with self._write_lock:
            batch = self.settings.telemetry.lake_batch_rows
            messages = self.bus.fetch(LAKE_CONSUMER, max_messages=batch, timeout=timeout)
            if not messages:
                return 0, 0
            commit = self.lake.last_commit() or {}
            same_bus = commit.get("bus") == self.bus.identity
            done = int(commit.get("position", -1)) if same_bus else -1
            positions = list(map(_position, messages))
            # Mostly none is done: the batch as it is, without a loop in Python
            fresh = messages if min(positions) > done else [
                m for m in messages if m.position > done
            ]  # fmt: skip
            written = 0
            if fresh:
                commit = {"bus": self.bus.identity, "position": max(positions)}
                try:
                    written = self._write(fresh, commit)
                except MaatError:
                    # Not written: hand the same messages out again next time, rather than
                    # let a later batch's commit and acknowledgement pass over them.
                    self.bus.seek(LAKE_CONSUMER, done if done >= 0 else 0)
                    raise
            self.bus.ack(LAKE_CONSUMER, messages)
            self._compact()
            return len(messages), written

    def _write(self, messages: list[BusMessage], commit: dict[str, Any]) -> int:
        """Write one batch; a batch the lake refuses as data (``InvalidInput``) is written
        without the events it cannot take, which go to the dead-letter folder with the
        reason, so that one bad event can neither block the writer nor be lost silently.
        A message that is not an event at all goes there too."""
        kept, events, fields = self._events_of(messages)
        # An older Maat's messages carry no fields JSON: the lake makes it. (By identity:
        # `None in fields` would compare each memoryview with None, at 0.4 µs a message.)
        older = any(made is None for made in fields)
        try:
            made = None if older else cast("list[memoryview | bytes]", fields)
            return self.lake.write_batch(events, commit=commit, fields=made)
        except InvalidInput as exc:
            good: list[dict[str, Any]] = []
            for message, event in zip(kept, events, strict=True):
                try:
                    self._probe.write_batch([event])
                    good.append(event)
                except InvalidInput as bad:
                    self._dead_letter(message, bad.diagnostics())
            self.writer_error = exc
            return self.lake.write_batch(good, commit=commit)
        finally:
            # Mostly these are the events' last references: let go of them here, reading
            # ahead (a batch's events are out of every cache by now).
            _release(events)

    def _events_of(
        self, messages: list[BusMessage]
    ) -> tuple[list[BusMessage], list[dict[str, Any]], list[memoryview | bytes | None]]:
        """The messages that are events, their events and ``fields`` JSON (``None`` for an
        older Maat's message); the others go to the dead-letter folder."""
        taken = self.handoff.take(messages)
        # The fields of the events handed over, split in one call (the others are decoded)
        own = [m.data for m, h in zip(messages, taken, strict=True) if h is not None]
        views = fields_of_many(own)
        if None not in taken:  # all published by this process just now: nothing to decode
            return messages, cast("list[dict[str, Any]]", taken), views
        kept: list[BusMessage] = []
        events: list[dict[str, Any]] = []
        fields: list[memoryview | bytes | None] = []
        handed_fields = iter(views)
        for message, handed in zip(messages, taken, strict=True):
            try:
                if handed is None:
                    event, made = read_event(message.data)
                else:  # published by this process just now, with exactly these bytes
                    event, made = handed, next(handed_fields)
            except InvalidInput as bad:
                self._dead_letter(message, bad.diagnostics())
                self.writer_error = bad
                continue
            kept.append(message)
            events.append(event)
            fields.append(made)
        return kept, events, fields

    @property
    def _probe(self) -> ParquetLake:
        """A throw-away lake that tells which single events the real lake would refuse."""
        if self._probe_lake is None:
            root = Path(tempfile.mkdtemp(prefix="maat-lake-probe-"))
            self._probe_lake = ParquetLake(root, key=b"probe" * 8, batch_rows=1, now=_utc_now)
        return self._probe_lake

    def _dead_letter(self, message: BusMessage, reason: str) -> None:
        """Keep ``message`` in ``dead-letter/events.ndjson`` with the reason, once: a batch
        retried after a failed write, or read again after a restart, is not recorded twice."""
        folder = self.settings.data_dir / "dead-letter"
        if self._lettered is None:
            self._lettered = _lettered(folder / "events.ndjson")
        key = (self.bus.identity, message.msg_id, message.position)
        if key in self._lettered:
            return
        try:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            record = {"reason": reason, "bus": key[0], "position": key[2], "msg_id": key[1]}
            try:  # the event as one JSON line, or the message itself when it is not one
                kept = orjson.dumps(decode_event(message.data))
            except (InvalidInput, orjson.JSONEncodeError):
                record["data_base64"] = base64.b64encode(message.data).decode("ascii")
                kept = b""
            with (folder / "events.ndjson").open("ab+") as fh:
                fh.seek(0, os.SEEK_END)
                if fh.tell():  # a line torn by a crash must not swallow this record
                    fh.seek(-1, os.SEEK_END)
                    torn = fh.read(1) != b"\n"
                    fh.seek(0, os.SEEK_END)
                    if torn:
                        fh.write(b"\n")
                fh.write(orjson.dumps(record) + b"\n" + (kept + b"\n" if kept else b""))
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            raise Unavailable(f"cannot write the dead-letter file: {exc.strerror}") from exc
        self._lettered.add(key)

    def _compact(self) -> None:
        compact = getattr(self.bus, "compact", None)  # the spool's; JetStream has limits
        if compact is not None:
            compact()

    def drain(self) -> int:
        """Write batches until the bus has nothing more for the lake, and detect over every
        event not yet seen by the detector; events written to the lake."""
        total = 0
        while True:
            fetched, written = self.write_once()
            if not fetched:
                break
            total += written
        while self.detect_once():
            pass
        return total

    def detect_once(self, *, timeout: float = 0.0) -> int:
        """Run the detector over one batch from the bus and record its alerts; messages
        handled (0 without a detector or when nothing is new). Acknowledged only once the
        alerts are stored: a batch whose detection or acknowledgement fails is finished on
        the next turn (:mod:`~maat.services.telemetry_detect`: matched once, an event or
        alert the store refuses alone passed over), and detected again after a crash; the
        alerts' event-id deduplication keeps it from counting twice."""
        if self.detector is None:
            return 0
        with self._detect_lock:
            retry = getattr(self.detector, "retry_forwards", None)
            if retry is not None:  # alerts a receiver missed: on a timer, events or not
                retry()
            pending = self._undetected
            if pending is None:
                batch = self.settings.telemetry.lake_batch_rows
                messages = self.bus.fetch(DETECT_CONSUMER, max_messages=batch, timeout=timeout)
                if not messages:
                    return 0
                events = list(decodable(messages, self.handoff.take(messages)))
                # The bus has moved this consumer past the batch: were it dropped on a
                # failure, the next batch's acknowledgement would cover it unseen.
                pending = self._undetected = Pending(messages, events)
            detect_pending(self.detector, pending, self._passed_over)
            self.bus.ack(DETECT_CONSUMER, pending.messages)
            self._undetected = None
            return len(pending.messages)

    def _passed_over(self, what: str, exc: MaatError) -> None:
        """Detection gave up on one event or alert: logged, counted, and kept as the
        writer's error, so that it is seen."""
        log_passed_over(what, exc)
        self.undetected += 1
        self.writer_error = exc

    @property
    def writer_running(self) -> bool:
        """Whether the background lake writer (and detection) runs in this process."""
        return self._writer is not None and self._writer.is_alive()

    def start_writer(self) -> None:
        """Run the lake writer in a background thread (``maat serve``)."""
        if self._writer is not None:
            return
        interval = float(self.settings.telemetry.lake_flush_interval)

        def loop() -> None:
            while not self._stop.is_set():
                try:
                    fetched, _ = self.write_once()
                    fetched += self.detect_once()
                except MaatError as exc:  # kept for /v1/system and retried: data stays on the bus
                    self.writer_error = exc
                    fetched = 0
                except Exception as exc:  # a bug must not end the thread
                    # Ending it would stop the lake and detection in silence until the spool
                    # filled and ingest refused: log it, show it, and try again.
                    log.exception("the lake writer or detection failed")
                    self.writer_error = MaatError(
                        f"the lake writer failed ({type(exc).__name__}: {exc})",
                        hint="a bug: see the server log; the events stay on the bus",
                    )
                    fetched = 0
                if not fetched:
                    # Wait without holding the write lock, so drain() is never starved.
                    self._stop.wait(interval)

        self._writer = threading.Thread(target=loop, name="maat-lake-writer", daemon=True)
        self._writer.start()

    def close(self) -> None:
        """Stop the writer and close the bus (which wakes a writer waiting on it)."""
        self._stop.set()
        self.bus.close()
        if self._writer is not None:
            self._writer.join(timeout=30)
            self._writer = None
        if self._probe_lake is not None:
            shutil.rmtree(self._probe_lake.root, ignore_errors=True)
            self._probe_lake = None


_RECORD_START = b'{"reason":'  # how _dead_letter's record lines begin (event lines never)


def _lettered(path: Path) -> set[tuple[str, str, int]]:
    """The ``(bus, msg_id, position)`` of the messages a dead-letter file holds already,
    read line by line (event lines are passed over unparsed)."""
    found: set[tuple[str, str, int]] = set()
    try:
        with path.open("rb") as fh:
            for line in fh:
                if not line.startswith(_RECORD_START):
                    continue
                try:
                    record = orjson.loads(line)
                except orjson.JSONDecodeError:
                    continue  # a torn last line
                bus, msg_id, position = (record.get(k) for k in ("bus", "msg_id", "position"))
                if isinstance(msg_id, str) and isinstance(position, int):
                    found.add((bus if isinstance(bus, str) else "", msg_id, position))
    except FileNotFoundError:
        return found
    except OSError as exc:
        raise Unavailable(f"cannot read the dead-letter file: {exc.strerror}") from exc
    return found


def read_inputs(paths: Iterable[Path]) -> Iterable[Path]:
    """Every file under ``paths`` (folders walked in name order); missing ones are errors."""
    for path in paths:
        try:
            if path.is_dir():
                found = sorted(p for p in path.rglob("*") if p.is_file())
            elif path.is_file():
                found = [path]
            else:
                raise InvalidInput("no such file or folder", file=str(path))
        except OSError as exc:
            raise InvalidInput(f"cannot read: {exc.strerror}", file=str(path)) from exc
        yield from found

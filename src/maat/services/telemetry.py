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

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from maat.adapters.bus.spool import SpoolBus
from maat.adapters.lake.parquet import ParquetLake, lake_key
from maat.config import Settings
from maat.errors import InvalidInput, MaatError
from maat.ports import EventBus
from maat.services.platform import read_master_secret
from maat.telemetry.enrich import Facts, enrich
from maat.telemetry.model import ParseError
from maat.telemetry.pipeline import ParseOutcome, parse_bytes

__all__ = ["IngestReport", "Telemetry", "open_bus", "read_inputs", "received_now"]

LAKE_CONSUMER = "lake"
SPOOL_SUBJECT = "events"
MAX_REPORTED_ERRORS = 1000


@dataclass
class IngestReport:
    """What ``maat ingest`` and ``POST /v1/events`` answer once events are durable."""

    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0
    errors: list[ParseError] = field(default_factory=list)

    def add(self, other: IngestReport) -> None:
        """Fold ``other`` into this report (errors beyond the reporting cap are counted)."""
        self.accepted += other.accepted
        self.rejected += other.rejected
        self.duplicates += other.duplicates
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
    )


def received_now() -> str:
    """The current time as the ISO UTC text events carry."""
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond:06d}Z"


class Telemetry:
    """The bus and the lake of one process, and the lake writer."""

    def __init__(
        self, settings: Settings, bus: EventBus, lake: ParquetLake, facts: Facts | None = None
    ) -> None:
        self.settings = settings
        self.bus = bus
        self.lake = lake
        self.facts = facts
        self._writer: threading.Thread | None = None
        self._stop = threading.Event()
        self._write_lock = threading.Lock()
        self.writer_error: MaatError | None = None

    @classmethod
    def open(cls, settings: Settings, *, facts: Facts | None = None) -> Telemetry:
        """Open the bus and the lake under the settings' data directory; ``facts`` (the
        state store's, :class:`~maat.services.enrichment.StoreFacts`) enriches events."""
        master = read_master_secret(settings.effective_secret_key_file, create=False)
        bus = open_bus(settings)
        try:
            lake = ParquetLake(
                settings.lake_path,
                key=lake_key(master),
                batch_rows=settings.telemetry.lake_batch_rows,
                now=lambda: datetime.now(UTC),
            )
            commit = lake.last_commit()
            if commit and commit.get("bus") == bus.identity:
                # The lake knows where it stopped on this bus: continue exactly after it.
                bus.seek(LAKE_CONSUMER, int(commit["position"]))
        except BaseException:
            bus.close()
            raise
        return cls(settings, bus, lake, facts)

    # --- ingest -----------------------------------------------------------------------------

    def parse(self, data: bytes, *, path: str, source: str = "auto") -> ParseOutcome:
        """Step 1 only: events and located errors from ``data``."""
        return parse_bytes(
            data,
            path=path,
            received=received_now(),
            max_event_bytes=int(self.settings.telemetry.max_event_bytes),
            source=source,
        )

    def ingest(self, data: bytes, *, path: str, source: str = "auto") -> IngestReport:
        """Steps 1-3: parse ``data``, store the events durably, report."""
        outcome = self.parse(data, path=path, source=source)
        return self.publish(outcome)

    def publish(self, outcome: ParseOutcome) -> IngestReport:
        """Steps 2-3 for parsed events. Raises ``Unavailable`` when they cannot be stored."""
        report = IngestReport(
            rejected=len(outcome.errors), errors=outcome.errors[:MAX_REPORTED_ERRORS]
        )
        if not outcome.events:
            return report
        if self.facts is not None:
            enrich(outcome.events, self.facts)
        for subject, messages in self._by_subject(outcome.events).items():
            stored = self.bus.publish(subject, messages)
            report.accepted += len(messages)
            report.duplicates += len(messages) - stored
        return report

    def _by_subject(self, events: Iterable[dict[str, Any]]) -> dict[str, list[tuple[str, bytes]]]:
        dumps = orjson.dumps
        if self.settings.telemetry.bus != "nats":
            return {SPOOL_SUBJECT: [(e["event.id"], dumps(e)) for e in events]}
        from maat.adapters.bus.partition import subject_for

        prefix = self.settings.telemetry.nats_subject_prefix
        partitions = self.settings.telemetry.nats_partitions
        grouped: dict[str, list[tuple[str, bytes]]] = {}
        for event in events:
            subject = subject_for(prefix, str(event.get("host.name", "")), partitions)
            grouped.setdefault(subject, []).append((event["event.id"], dumps(event)))
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
            fresh = [m for m in messages if m.position > done]
            written = 0
            if fresh:
                events = [orjson.loads(m.data) for m in fresh]
                written = self.lake.write_batch(
                    events,
                    commit={
                        "bus": self.bus.identity,
                        "position": max(m.position for m in fresh),
                    },
                )
            self.bus.ack(LAKE_CONSUMER, messages)
            return len(messages), written

    def drain(self) -> int:
        """Write batches until the bus has nothing more for the lake; events written."""
        total = 0
        while True:
            fetched, written = self.write_once()
            if not fetched:
                return total
            total += written

    def start_writer(self) -> None:
        """Run the lake writer in a background thread (``maat serve``)."""
        if self._writer is not None:
            return
        interval = float(self.settings.telemetry.lake_flush_interval)

        def loop() -> None:
            while not self._stop.is_set():
                try:
                    fetched, _ = self.write_once()
                except MaatError as exc:  # kept for /v1/system and retried: data stays on the bus
                    self.writer_error = exc
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


def read_inputs(paths: Iterable[Path]) -> Iterable[Path]:
    """Every file under ``paths`` (folders walked in name order); missing ones are errors."""
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file())
        elif path.is_file():
            yield path
        else:
            raise InvalidInput("no such file or folder", file=str(path))

"""The :class:`~maat.ports.EventBus` port over NATS JetStream (cluster profile).

Callers are synchronous; nats-py is asyncio. Each :class:`NatsBus` therefore owns one event
loop in a daemon thread; every public method hands a coroutine to that loop and waits for it
with a bound, so no call hangs. State used by coroutines (connection, consumer inboxes, the
messages awaiting acknowledgement) is touched on that loop only.

Messages live in one stream: file storage, limits retention, and discard-new, so a full
stream refuses new data (``Unavailable``) instead of silently dropping old, unconsumed data.
Each message carries ``Nats-Msg-Id``; the server stores an id once within the stream's
duplicate window, which is what makes re-sending a half-published batch safe.

The bus is split over three modules: this one holds :class:`NatsBus` itself (settings, the
public API and the publishing side); :mod:`maat.adapters.bus.nats_consumer` the consuming
side (fetch, ack, seek) and :mod:`maat.adapters.bus.nats_connection` what both build on
(the loop thread, error translation, the connection and the stream).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import threading
from collections.abc import Sequence
from types import TracebackType

from nats.aio.client import Client
from nats.aio.msg import Msg

from maat.adapters.bus.nats_connection import _MSG_ID_HEADER
from maat.adapters.bus.nats_consumer import _NatsConsumer, _Pull
from maat.adapters.bus.partition import (
    check_messages,
    is_valid_name,
    is_valid_subject,
    puback_error,
)
from maat.errors import ConfigError, InvalidInput
from maat.ports import BusMessage

__all__ = ["NatsBus"]

_HEADER_OVERHEAD = len(f"NATS/1.0\r\n{_MSG_ID_HEADER}: \r\n\r\n")
_PUBLISH_WINDOW = 8192  # PubAcks outstanding at most: bounds memory on both ends


class _PubBatch:
    """PubAck bookkeeping of one publish call (reply subjects ``<inbox><start + i>``)."""

    def __init__(self, start: int, size: int) -> None:
        self.start, self.size = start, size
        self.acked = bytearray(size)  # one flag per message: a repeated PubAck counts once
        self.count = 0
        self.duplicates = 0
        self.target = size
        self.error: str | None = None
        self.event = asyncio.Event()


class NatsBus(_NatsConsumer):
    """EventBus on a NATS JetStream stream; synchronous, thread-safe, connects on first use.

    ``url`` may list servers separated by commas. ``timeout`` bounds connecting and each
    server round trip. ``duplicate_window`` (s) is how long ids are remembered; ``max_bytes``
    caps the stream (-1: no cap); ``max_age`` (s, 0: keep) expires old messages. Consumers
    are durable pull consumers: a message not acknowledged within ``ack_wait`` seconds is
    delivered again; at most ``max_ack_pending`` are out unacknowledged per consumer.
    """

    def __init__(
        self,
        url: str,
        *,
        stream: str,
        subject_prefix: str,
        timeout: float,
        duplicate_window: float = 120.0,
        max_bytes: int = -1,
        max_age: float = 0.0,
        ack_wait: float = 60.0,
        max_ack_pending: int = 100_000,
    ) -> None:
        given: object = url  # checked at run time too: settings may come from anywhere
        self._servers = (
            [p.strip() for p in given.split(",") if p.strip()] if isinstance(given, str) else []
        )
        problems = {
            "telemetry.nats_url": not self._servers,
            "telemetry.nats_stream": not is_valid_name(stream),
            "telemetry.nats_subject_prefix": not is_valid_subject(subject_prefix),
            "telemetry.nats_timeout": not _is_number(timeout, above=0),
            "duplicate_window": not _is_number(duplicate_window, above=0),
            "ack_wait": not _is_number(ack_wait, above=0),
            "max_age": not _is_number(max_age, above=-1) or max_age < 0,
            "max_bytes": not _is_number(max_bytes, above=-2, integer=True) or max_bytes == 0,
            "max_ack_pending": not _is_number(max_ack_pending, above=0, integer=True),
        }
        for field, bad in problems.items():
            if bad:
                raise ConfigError(
                    f"invalid NATS bus setting {field}",
                    field=field,
                    hint="stream and consumer names: letters, digits, '-', '_'; subject "
                    "prefix: dot-separated tokens without spaces or wildcards; durations: "
                    "positive seconds; max_bytes: -1 or positive",
                )
        self._stream, self._prefix = stream, subject_prefix
        self._timeout = float(timeout)
        self._duplicate_window = float(duplicate_window)
        self._max_bytes, self._max_age = int(max_bytes), float(max_age)
        self._ack_wait, self._max_ack_pending = float(ack_wait), int(max_ack_pending)
        self._retry_after = max(1, math.ceil(self._timeout))

        self._guard = threading.Lock()  # loop start and close, from any caller thread
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._closed = False
        # Loop-confined state below.
        self._nc: Client | None = None
        self._connect_lock: asyncio.Lock | None = None
        self._publish_lock: asyncio.Lock | None = None
        self._stream_ready = False
        self._identity = ""
        self._reply_inbox = ""
        self._reply_next = 0
        self._batch: _PubBatch | None = None
        self._pulls: dict[str, _Pull] = {}
        self._unacked: dict[str, dict[int, str]] = {}  # consumer -> stream seq -> ack subject
        self._last_error = ""
        self._max_payload: int | None = None  # the server's, read once connected

    # --- public API ---------------------------------------------------------------------

    @property
    def identity(self) -> str:
        """``nats:<stream>:<creation time>``: a re-created stream (new sequence numbers) gets
        a new identity. Connects on first use (``Unavailable`` if NATS is down)."""
        if not self._identity:
            self._run(self._identify, "stream lookup", 3 * self._timeout)
        return self._identity

    def fits(self, msg_id: str, data: bytes) -> bool:
        """Whether the server takes a message of ``data`` with id ``msg_id`` (its
        ``max_payload``; connects on first use, ``Unavailable`` if NATS is down)."""
        if self._max_payload is None:
            self._run(self._read_max_payload, "connect", 3 * self._timeout)
        limit = self._max_payload or 0
        return len(data) + len(msg_id) + _HEADER_OVERHEAD <= limit

    async def _read_max_payload(self) -> None:
        self._max_payload = (await self._connection()).max_payload

    def publish(self, subject: str, messages: Sequence[tuple[str, bytes]]) -> int:
        """Store every ``(msg_id, data)`` under ``subject``; return once all are acknowledged.

        Messages are pipelined: sent without waiting, then their PubAcks awaited (at most
        ``_PUBLISH_WINDOW`` outstanding). ``Unavailable`` when NATS is down, makes no progress
        for ``timeout`` seconds, has no stream for the subject, or the stream is full. Part of
        the batch may be stored then; that is harmless, because sending the batch again
        stores each id once (within the duplicate window). ``InvalidInput`` for a bad subject
        (it must be under ``<subject_prefix>.``), message id or size; nothing is sent then.
        Returns how many messages were new (the server reported the others as duplicates).
        """
        checked = self._check_batch(subject, messages)
        if not checked:
            return 0
        # Stalls are caught after ``timeout`` without progress; this outer bound is only a
        # backstop, generous for huge batches (>= 1,000 messages/s).
        bound = 3 * self._timeout + len(checked) / 1000.0
        return self._run(lambda: self._publish(subject, checked), f"publish to {subject}", bound)

    def fetch(self, consumer: str, *, max_messages: int, timeout: float) -> list[BusMessage]:
        """Up to ``max_messages`` unacknowledged messages of the durable ``consumer``, oldest
        first, waiting about ``timeout`` seconds at most for the first; ``[]`` if none came.

        The consumer is created on first use (explicit acks, from the stream's start) or
        updated to this bus's ``ack_wait``/``max_ack_pending``. ``max_messages`` is capped
        at ``max_ack_pending``.
        """
        _check_consumer(consumer)
        if not _is_number(max_messages, above=0, integer=True):
            raise InvalidInput("max_messages must be a positive integer", field="max_messages")
        if not _is_number(timeout, above=-1) or timeout < 0:
            raise InvalidInput("timeout must be zero or positive seconds", field="timeout")
        batch, wait = min(max_messages, self._max_ack_pending), float(timeout)
        bound = 2 * wait + 3 * self._timeout + 2  # see the steps of _fetch
        return self._run(lambda: self._fetch(consumer, batch, wait), f"fetch for {consumer}", bound)

    def ack(self, consumer: str, messages: Sequence[BusMessage]) -> None:
        """Acknowledge ``messages`` fetched for ``consumer``: they are not fetched again.

        ``InvalidInput`` (and nothing acknowledged) if one was not fetched by this bus for
        ``consumer`` or is already acknowledged.
        """
        _check_consumer(consumer)
        given: object = messages
        if not isinstance(given, Sequence) or not all(isinstance(m, BusMessage) for m in given):
            raise InvalidInput("ack takes the BusMessages fetch returned", field="messages")
        if messages:
            positions = [m.position for m in messages]
            self._run(
                lambda: self._ack(consumer, positions), f"ack for {consumer}", 2 * self._timeout
            )

    def seek(self, consumer: str, position: int) -> None:
        """Make ``consumer`` continue, in order, with the first message after ``position``
        (a stream sequence): the durable consumer is re-created to start there, dropping its
        pending deliveries. Meant for a single reader at start-up (the lake writer)."""
        _check_consumer(consumer)
        if not _is_number(position, above=-1, integer=True):
            raise InvalidInput("position must be a non-negative integer", field="position")
        self._run(lambda: self._seek(consumer, position), f"seek for {consumer}", 4 * self._timeout)

    def close(self) -> None:
        """Drain and close the connection and stop the loop thread; safe to call twice."""
        with self._guard:
            if self._closed:
                return
            self._closed = True
            loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        closing = asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
        with contextlib.suppress(Exception):  # nothing more to do if even closing fails
            closing.result(timeout=2 * self._timeout + 1)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=self._timeout + 1)

    def __enter__(self) -> NatsBus:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- publish (on the loop) ------------------------------------------------------------

    def _check_batch(
        self, subject: str, messages: Sequence[tuple[str, bytes]]
    ) -> list[tuple[str, bytes]]:
        if not is_valid_subject(subject) or not subject.startswith(self._prefix + "."):
            raise InvalidInput(
                f"invalid subject {subject!r}: must be a literal subject under {self._prefix}.",
                field="subject",
                hint="use maat.adapters.bus.partition.subject_for",
            )
        return check_messages(messages)

    async def _publish(self, subject: str, messages: list[tuple[str, bytes]]) -> int:
        if self._publish_lock is None:
            self._publish_lock = asyncio.Lock()
        async with self._publish_lock:  # PubAcks are matched to one batch at a time
            nc = await self._connection()
            await self._ensure_stream(nc)
            limit = nc.max_payload  # the server closes the connection on a larger message
            for index, (msg_id, data) in enumerate(messages):
                if len(data) + len(msg_id) + _HEADER_OVERHEAD > limit:
                    raise InvalidInput(
                        f"message {msg_id!r} is {len(data)} bytes; the NATS server accepts "
                        f"at most {limit - len(msg_id) - _HEADER_OVERHEAD}",
                        field=f"messages[{index}].data",
                    )
            batch = self._batch = _PubBatch(self._reply_next, len(messages))
            self._reply_next += len(messages)
            try:
                await self._send_batch(nc, subject, messages, batch)
            finally:
                self._batch = None
            if batch.error is not None:
                if "no responders" in batch.error:
                    self._stream_ready = False  # the stream was deleted: recreate it next time
                raise self._unavailable(
                    f"publish to {subject} refused after {batch.count}/{batch.size} "
                    f"messages were stored: {batch.error}"
                )
            return batch.size - batch.duplicates

    async def _send_batch(
        self, nc: Client, subject: str, messages: list[tuple[str, bytes]], batch: _PubBatch
    ) -> None:
        inbox, start = self._reply_inbox, batch.start
        for index, (msg_id, data) in enumerate(messages):
            if index - batch.count >= _PUBLISH_WINDOW:
                await self._await_acks(nc, batch, index - _PUBLISH_WINDOW // 2, subject)
            await nc.publish(
                subject, data, reply=f"{inbox}{start + index}", headers={_MSG_ID_HEADER: msg_id}
            )
        await self._await_acks(nc, batch, batch.size, subject)

    async def _await_acks(self, nc: Client, batch: _PubBatch, target: int, subject: str) -> None:
        """Wait until ``target`` PubAcks arrived; fail after ``timeout`` without progress."""
        batch.target = target
        while batch.count < target and batch.error is None:
            if self._lost(nc):
                raise self._unavailable(
                    f"publish to {subject}: connection lost after {batch.count}/{batch.size} "
                    "messages were stored"
                )
            before = batch.count
            batch.event.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(batch.event.wait(), timeout=self._timeout)
            if batch.count == before and batch.error is None and not self._lost(nc):
                raise self._unavailable(
                    f"publish to {subject}: no PubAck for {self._timeout:g}s "
                    f"({batch.count}/{batch.size} stored)"
                )

    async def _on_puback(self, msg: Msg) -> None:
        batch = self._batch
        if batch is None:
            return  # a late answer for a batch that already failed
        try:
            index = int(msg.subject[len(self._reply_inbox) :]) - batch.start
        except ValueError:
            return
        if not 0 <= index < batch.size or batch.acked[index]:
            return
        data = msg.data  # usually {"stream":"...", "seq":n[,"duplicate": true]}: no parsing
        if not data.startswith(b'{"stream"') or b'"error"' in data:
            error = puback_error(data, (msg.headers or {}).get("Status", ""))
            if error is not None:
                batch.error = batch.error or error
                batch.event.set()
                return
        batch.acked[index] = 1
        batch.count += 1
        if b'"duplicate"' in data and _is_duplicate(data):  # rare: parse only then
            batch.duplicates += 1
        if batch.count >= batch.target:
            batch.event.set()


def _is_duplicate(data: bytes) -> bool:
    try:
        answer = json.loads(data)
    except ValueError:
        return False
    return isinstance(answer, dict) and answer.get("duplicate") is True


def _is_number(value: object, *, above: float, integer: bool = False) -> bool:
    """A finite int (or float unless ``integer``), not a bool, greater than ``above``."""
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        return False
    return math.isfinite(value) and value > above


def _check_consumer(consumer: str) -> None:
    if not is_valid_name(consumer):
        raise InvalidInput(
            f"invalid consumer name {consumer!r}",
            field="consumer",
            hint="1-200 letters, digits, '-' and '_'",
        )

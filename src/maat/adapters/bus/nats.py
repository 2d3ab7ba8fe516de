"""The :class:`~maat.ports.EventBus` port over NATS JetStream (cluster profile).

Callers are synchronous; nats-py is asyncio. Each :class:`NatsBus` therefore owns one event
loop in a daemon thread; every public method hands a coroutine to that loop and waits for it
with a bound, so no call hangs. State used by coroutines (connection, consumer inboxes, the
messages awaiting acknowledgement) is touched on that loop only.

Messages live in one stream: file storage, limits retention, and discard-new, so a full
stream refuses new data (``Unavailable``) instead of silently dropping old, unconsumed data.
Each message carries ``Nats-Msg-Id``; the server stores an id once within the stream's
duplicate window, which is what makes re-sending a half-published batch safe.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import json
import logging
import math
import threading
from collections.abc import Callable, Coroutine, Sequence
from types import TracebackType
from typing import Any, TypeVar

import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import api
from nats.js.client import JetStreamContext

from maat.adapters.bus.partition import (
    check_messages,
    is_valid_name,
    is_valid_subject,
    puback_error,
    stream_sequence,
    stream_subjects,
)
from maat.errors import ConfigError, InvalidInput, MaatError, Unavailable
from maat.ports import BusMessage

__all__ = ["NatsBus"]

_log = logging.getLogger(__name__)
T = TypeVar("T")

_MSG_ID_HEADER = "Nats-Msg-Id"
_HEADER_OVERHEAD = len(f"NATS/1.0\r\n{_MSG_ID_HEADER}: \r\n\r\n")
_PUBLISH_WINDOW = 8192  # PubAcks outstanding at most: bounds memory on both ends
_PENDING_BYTES = 16 * 1024 * 1024  # client write buffer; fewer forced flushes than 2 MB
_INBOX_MSGS, _INBOX_BYTES = 1_000_000, 1 << 30  # never drop PubAcks or deliveries as slow


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


@dataclasses.dataclass(eq=False)
class _Pull:
    """A durable pull consumer as this connection uses it (replies to ``<inbox><n>``)."""

    name: str
    inbox: str
    sub: Subscription | None = None
    stash: dict[int, Msg] = dataclasses.field(default_factory=dict)  # delivered, not returned
    request: int = 0  # number of the active request; answers to older ones are stale
    want: int = 0
    got: int = 0
    status: str | None = None
    done: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    lock: asyncio.Lock = dataclasses.field(default_factory=asyncio.Lock)

    def begin(self, batch: int) -> int:
        """Start request number n for ``batch`` messages; returns n."""
        self.request += 1
        self.want, self.got, self.status = batch, 0, None
        self.done.clear()
        return self.request


class NatsBus:
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

    # --- public API ---------------------------------------------------------------------

    @property
    def identity(self) -> str:
        """``nats:<stream>:<creation time>``: a re-created stream (new sequence numbers) gets
        a new identity. Connects on first use (``Unavailable`` if NATS is down)."""
        if not self._identity:
            self._run(self._identify, "stream lookup", 3 * self._timeout)
        return self._identity

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

    # --- the loop thread and error translation ------------------------------------------

    def _start_loop(self) -> asyncio.AbstractEventLoop:
        with self._guard:
            if self._closed:
                raise Unavailable("NATS bus is closed", retry_after=self._retry_after)
            if self._loop is None:
                loop = asyncio.new_event_loop()
                name = f"maat-nats-{self._stream}"
                thread = threading.Thread(target=_run_loop, args=(loop,), name=name, daemon=True)
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    def _run(self, make: Callable[[], Coroutine[Any, Any, T]], what: str, bound: float) -> T:
        """Run ``make()`` on the loop for at most ``bound`` seconds; only MaatErrors escape."""
        loop = self._start_loop()  # before make(): a coroutine never awaited would warn
        future = asyncio.run_coroutine_threadsafe(make(), loop)
        try:
            return future.result(timeout=bound)
        except concurrent.futures.CancelledError:
            raise self._unavailable(f"{what}: interrupted (bus closed)") from None
        except MaatError:
            raise
        except Exception as exc:  # the one place foreign errors become MaatErrors
            if not future.done():  # our bound expired (TimeoutError is one class since 3.11)
                future.cancel()
                raise self._unavailable(f"{what}: no result within {bound:.1f}s") from None
            raise self._translate(exc, what) from None

    def _translate(self, exc: Exception, what: str) -> MaatError:
        where = ", ".join(_redact(server) for server in self._servers)
        if isinstance(exc, nats.errors.MaxPayloadError):
            return InvalidInput(f"NATS {what}: message larger than the server allows")
        if isinstance(exc, nats.errors.AuthorizationError):
            return ConfigError(
                f"NATS {what}: not authorised by {where}",
                field="telemetry.nats_url",
                hint="check the credentials in the NATS URL",
            )
        if isinstance(exc, nats.js.errors.APIError):
            reason = f"JetStream error {exc.code}/{exc.err_code}: {exc.description}"
        elif isinstance(exc, nats.errors.NoRespondersError | nats.js.errors.NoStreamResponseError):
            reason = "no responders (is JetStream enabled?)"
        elif isinstance(exc, asyncio.TimeoutError):  # before OSError: it is one since 3.11
            reason = f"timed out after {self._timeout:g}s"
        elif isinstance(exc, OSError):
            reason = exc.strerror or str(exc) or type(exc).__name__
        else:
            reason = str(exc) or type(exc).__name__
        if self._last_error and self._last_error not in reason:
            reason += f" (last connection error: {self._last_error})"
        return self._unavailable(f"{what} at {where}: {reason}")

    def _unavailable(self, message: str) -> Unavailable:
        return Unavailable(f"NATS {message}", retry_after=self._retry_after)

    # --- connection and stream (on the loop) ----------------------------------------------

    async def _connection(self) -> Client:
        if self._nc is not None and self._nc.is_connected:
            return self._nc
        if self._connect_lock is None:
            self._connect_lock = asyncio.Lock()
        async with self._connect_lock:
            if self._nc is None or not self._nc.is_connected:
                await self._drop_connection()
                self._nc = await self._connect()
            return self._nc

    async def _connect(self) -> Client:
        nc = Client()
        try:
            # No automatic reconnection, and each server tried twice at most: while NATS is
            # away calls fail fast with Unavailable and the next call connects afresh,
            # rather than buffering into a client that keeps retrying for minutes.
            options: dict[str, Any] = {
                "servers": self._servers,
                "name": "maat",
                "allow_reconnect": False,
                "max_reconnect_attempts": 1,
                "reconnect_time_wait": 0.1,
                "connect_timeout": max(1, math.ceil(self._timeout / 2)),
                "ping_interval": max(5, math.ceil(4 * self._timeout)),
                "max_outstanding_pings": 2,
                "pending_size": _PENDING_BYTES,
                "drain_timeout": max(1, math.ceil(self._timeout)),
                "skip_subject_validation": True,  # done once per call (_check_batch)
                "error_cb": self._on_error,
                "disconnected_cb": self._on_disconnect,
                "closed_cb": self._on_disconnect,
            }
            await asyncio.wait_for(nc.connect(**options), timeout=self._timeout)
            self._reply_inbox = nc.new_inbox() + "."
            await nc.subscribe(
                self._reply_inbox + "*",
                cb=self._on_puback,
                pending_msgs_limit=_INBOX_MSGS,
                pending_bytes_limit=_INBOX_BYTES,
            )
        except BaseException:
            with contextlib.suppress(Exception):
                await nc.close()
            raise
        self._last_error = ""
        return nc

    async def _drop_connection(self) -> None:
        """Forget a broken connection and what is bound to it (inboxes, the stream check)."""
        nc, self._nc = self._nc, None
        self._pulls.clear()
        self._stream_ready = False
        if nc is not None and not nc.is_closed:
            with contextlib.suppress(Exception):
                await nc.close()

    async def _shutdown(self) -> None:
        nc, self._nc = self._nc, None
        self._pulls.clear()
        if nc is None or nc.is_closed:
            return
        try:
            await asyncio.wait_for(nc.drain(), timeout=self._timeout)
        except Exception:  # draining is a courtesy; close regardless
            _log.debug("NATS drain failed; closing", exc_info=True)
        if not nc.is_closed:
            with contextlib.suppress(Exception):
                await nc.close()

    async def _on_error(self, exc: Exception) -> None:
        self._last_error = str(exc) or type(exc).__name__
        _log.debug("NATS asynchronous error: %s", self._last_error)

    async def _on_disconnect(self) -> None:
        # Wake every waiter now rather than letting it run into its timeout.
        if self._batch is not None:
            self._batch.event.set()
        for pull in self._pulls.values():
            pull.done.set()

    def _lost(self, nc: Client) -> bool:
        return self._nc is not nc or not nc.is_connected

    async def _ensure_stream(self, nc: Client) -> None:
        """Create the stream, or bring an existing one to our settings without losing data."""
        if self._stream_ready:
            return
        js = nc.jetstream(timeout=self._timeout)
        subjects = stream_subjects(self._prefix)
        try:
            info = await js.stream_info(self._stream)
        except nats.js.errors.NotFoundError:
            try:
                info = await js.add_stream(
                    api.StreamConfig(
                        name=self._stream,
                        subjects=subjects,
                        storage=api.StorageType.FILE,
                        retention=api.RetentionPolicy.LIMITS,
                        discard=api.DiscardPolicy.NEW,
                        duplicate_window=self._duplicate_window,
                        max_bytes=self._max_bytes,
                        max_age=self._max_age,
                    )
                )
                self._stream_ready, self._identity = True, _identity_of(info)
                return
            except nats.js.errors.BadRequestError as exc:
                try:  # created meanwhile by another node?
                    info = await js.stream_info(self._stream)
                except nats.js.errors.NotFoundError:
                    raise ConfigError(
                        f"JetStream stream {self._stream!r} cannot be created: {exc.description}",
                        field="telemetry.nats_stream",
                        hint="another stream may already capture these subjects",
                    ) from None
        config, stored = info.config, info.state.bytes if info.state else 0
        if config.storage != api.StorageType.FILE or config.retention != api.RetentionPolicy.LIMITS:
            raise ConfigError(
                f"JetStream stream {self._stream!r} has {config.storage} storage and "
                f"{config.retention} retention; Maat needs file storage, limits retention",
                field="telemetry.nats_stream",
                hint="changing either means recreating the stream, which deletes its data: "
                "do that by hand once consumers caught up, or configure another stream name",
            )
        if self._max_bytes != -1 and self._max_bytes < stored:
            raise ConfigError(
                f"JetStream stream {self._stream!r} holds {stored} bytes, more than max_bytes "
                f"{self._max_bytes}; lowering the cap would delete messages",
                field="max_bytes",
            )
        changes: dict[str, Any] = {}
        if missing := [s for s in subjects if s not in (config.subjects or [])]:
            changes["subjects"] = [*(config.subjects or []), *missing]
        if not math.isclose(config.duplicate_window or 0.0, self._duplicate_window):
            changes["duplicate_window"] = self._duplicate_window
        if (config.max_bytes or -1) != self._max_bytes:
            changes["max_bytes"] = self._max_bytes
        if not math.isclose(config.max_age or 0.0, self._max_age):
            changes["max_age"] = self._max_age
        if config.discard != api.DiscardPolicy.NEW:
            changes["discard"] = api.DiscardPolicy.NEW
        if changes:
            try:
                await js.update_stream(dataclasses.replace(config, **changes))
            except nats.js.errors.BadRequestError as exc:
                raise ConfigError(
                    f"JetStream stream {self._stream!r} cannot be updated "
                    f"({', '.join(sorted(changes))}): {exc.description}",
                    field="telemetry.nats_stream",
                ) from None
        self._stream_ready, self._identity = True, _identity_of(info)

    async def _identify(self) -> None:
        await self._ensure_stream(await self._connection())

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

    # --- fetch and ack (on the loop) ------------------------------------------------------

    async def _pull(self, nc: Client, consumer: str) -> _Pull:
        if (pull := self._pulls.get(consumer)) is not None:
            return pull
        self._stream_ready = False  # look again: a re-created stream has a new identity
        await self._ensure_stream(nc)
        js = nc.jetstream(timeout=self._timeout)
        try:
            config: api.ConsumerConfig | None = (
                await js.consumer_info(self._stream, consumer)
            ).config
        except nats.js.errors.NotFoundError:
            config = None
        if config is None:
            await self._add_consumer(js, self._consumer_config(consumer, start=None))
        elif (config.ack_wait, config.max_ack_pending) != (self._ack_wait, self._max_ack_pending):
            # Keep where it starts (see seek); only bring the delivery limits up to date.
            changed = dataclasses.replace(
                config, ack_wait=self._ack_wait, max_ack_pending=self._max_ack_pending
            )
            await self._add_consumer(js, changed)
        if (pull := self._pulls.get(consumer)) is not None:  # set up meanwhile by another call
            return pull
        pull = _Pull(consumer, nc.new_inbox() + ".")

        async def deliver(msg: Msg) -> None:
            if not msg.reply:  # a status (no messages, request timeout, ...) ends a request
                if msg.subject[len(pull.inbox) :] == str(pull.request):  # not a stale one
                    headers = msg.headers or {}
                    pull.status = f"{headers.get('Status', '?')} {headers.get('Description', '')}"
                    pull.done.set()
                return
            sequence = stream_sequence(msg.reply)
            if sequence is None:
                return  # not a JetStream delivery: nothing we could acknowledge
            pull.stash[sequence] = msg  # a redelivery replaces the older copy
            # Deliveries carry their own subject, not the request's: count them all towards
            # the active request (at worst it ends early and the next fetch takes the rest).
            pull.got += 1
            if pull.got >= pull.want:
                pull.done.set()

        pull.sub = await nc.subscribe(
            pull.inbox + "*",
            cb=deliver,
            pending_msgs_limit=_INBOX_MSGS,
            pending_bytes_limit=_INBOX_BYTES,
        )
        self._pulls[consumer] = pull
        return pull

    def _consumer_config(self, consumer: str, *, start: int | None) -> api.ConsumerConfig:
        """Explicit acks, from the stream's start or from sequence ``start``."""
        return api.ConsumerConfig(
            durable_name=consumer,
            ack_policy=api.AckPolicy.EXPLICIT,
            deliver_policy=api.DeliverPolicy.ALL
            if start is None
            else api.DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=start,
            ack_wait=self._ack_wait,
            max_ack_pending=self._max_ack_pending,
            filter_subject=f"{self._prefix}.>",
        )

    async def _add_consumer(self, js: JetStreamContext, config: api.ConsumerConfig) -> None:
        try:
            await js.add_consumer(self._stream, config)
        except nats.js.errors.BadRequestError as exc:
            raise ConfigError(
                f"JetStream consumer {config.durable_name!r} on stream {self._stream!r} cannot "
                f"be created or updated: {exc.description}",
                field="consumer",
            ) from None

    async def _seek(self, consumer: str, position: int) -> None:
        nc = await self._connection()
        await self._ensure_stream(nc)
        js = nc.jetstream(timeout=self._timeout)
        pull = self._pulls.get(consumer)
        if pull is not None:
            async with pull.lock:
                await self._forget_pull(pull)
        # JetStream (before 2.11) cannot move a consumer: re-create it at the new start.
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await js.delete_consumer(self._stream, consumer)
        self._unacked.pop(consumer, None)  # deliveries of the old consumer are void
        await self._add_consumer(js, self._consumer_config(consumer, start=position + 1))

    async def _request(
        self, nc: Client, pull: _Pull, batch: int, *, expires: float | None, wait: float
    ) -> bool:
        """Send one pull request (``no_wait`` unless ``expires``) and wait for its end;
        False if the server said nothing at all within ``wait``."""
        number = pull.begin(batch)
        body: dict[str, Any] = {"batch": batch}
        if expires is None:
            body["no_wait"] = True
        else:  # the server ends the request with a 408 status at expiry
            body["expires"] = max(1_000_000, int(expires * 1e9))
        next_subject = f"$JS.API.CONSUMER.MSG.NEXT.{self._stream}.{pull.name}"
        await nc.publish(next_subject, json.dumps(body).encode(), reply=f"{pull.inbox}{number}")
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(pull.done.wait(), timeout=wait)
        status, answered = pull.status, pull.status is not None or pull.got > 0
        pull.request += 1  # later answers to this request are stale; its messages still stash
        if self._lost(nc):
            raise self._unavailable(f"fetch for {pull.name}: connection lost")
        if status is not None and status.startswith("503"):
            await self._forget_pull(pull)
            self._stream_ready = False
            raise self._unavailable(f"fetch for {pull.name}: no responders (JetStream down?)")
        if status is not None and "Consumer Deleted" in status:
            await self._forget_pull(pull)
        elif not answered:
            # JetStream ignores pulls for a consumer that is gone; a request held because
            # max_ack_pending is reached is silent too. Ask which before starting afresh.
            try:
                await nc.jetstream(timeout=self._timeout).consumer_info(self._stream, pull.name)
            except nats.js.errors.NotFoundError:
                await self._forget_pull(pull)
        return answered

    async def _forget_pull(self, pull: _Pull) -> None:
        """Drop a consumer's inbox so that the next fetch creates the consumer again."""
        if self._pulls.get(pull.name) is pull:
            del self._pulls[pull.name]
        if pull.sub is not None:
            with contextlib.suppress(Exception):
                await pull.sub.unsubscribe()

    async def _fetch(self, consumer: str, batch: int, timeout: float) -> list[BusMessage]:
        nc = await self._connection()
        pull = await self._pull(nc, consumer)
        async with pull.lock:
            # 1. What is there now: the server answers at once (messages, then 404/408),
            #    unless max_ack_pending is reached and it holds the request: hence a bound.
            quick, answered = max(timeout, min(self._timeout, 0.2)), True
            if len(pull.stash) < batch:
                want = batch - len(pull.stash)
                answered = await self._request(nc, pull, want, expires=None, wait=quick)
            if not pull.stash and timeout > 0 and answered:  # (a held request waited already)
                # 2. Nothing yet: wait up to ``timeout`` for one message; 3. take what followed.
                grace = min(self._timeout, 1.0)
                await self._request(nc, pull, 1, expires=timeout, wait=timeout + grace)
                if pull.stash and len(pull.stash) < batch:
                    rest = batch - len(pull.stash)
                    await self._request(nc, pull, rest, expires=None, wait=quick)
            unacked = self._unacked.setdefault(consumer, {})
            if len(unacked) > 2 * self._max_ack_pending:
                # Never acknowledged here (acked by another process, expired): the server
                # has at most max_ack_pending out, so the oldest surplus is stale.
                for stale in sorted(unacked)[: len(unacked) - self._max_ack_pending]:
                    del unacked[stale]
            out: list[BusMessage] = []
            for sequence in sorted(pull.stash)[:batch]:
                msg = pull.stash.pop(sequence)
                unacked[sequence] = msg.reply
                msg_id = (msg.headers or {}).get(_MSG_ID_HEADER, "")
                out.append(BusMessage(msg.subject, msg_id, msg.data, sequence))
            return out

    async def _ack(self, consumer: str, positions: list[int]) -> None:
        unacked = self._unacked.get(consumer, {})
        if unknown := [p for p in positions if p not in unacked]:
            raise InvalidInput(
                f"{len(unknown)} message(s) (positions {unknown[:5]}) were not fetched for "
                f"consumer {consumer!r} by this bus, or are already acknowledged",
                field="messages",
            )
        nc = await self._connection()
        for position in positions:  # fire every ack, then one round trip confirms them all
            await nc.publish(unacked[position], b"+ACK")
        await nc.flush(timeout=max(1, math.ceil(self._timeout)))
        for position in positions:
            unacked.pop(position, None)


def _is_duplicate(data: bytes) -> bool:
    try:
        answer = json.loads(data)
    except ValueError:
        return False
    return isinstance(answer, dict) and answer.get("duplicate") is True


def _redact(url: str) -> str:
    """``url`` without its credentials: error messages reach logs and API clients."""
    head, at, tail = url.rpartition("@")
    if not at:
        return url
    scheme, sep, _ = head.partition("://")
    return f"{scheme}://***@{tail}" if sep else f"***@{tail}"


def _identity_of(info: api.StreamInfo) -> str:
    created = info.created.isoformat() if info.created else "unknown"
    return f"nats:{info.config.name}:{created}"


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


def _run_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Body of the bus thread: run until stopped, then cancel leftovers and close the loop."""
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
    finally:
        tasks = [task for task in asyncio.all_tasks(loop) if not task.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()

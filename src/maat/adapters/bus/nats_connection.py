"""Connection plumbing of :class:`~maat.adapters.bus.nats.NatsBus`: loop, connection, stream.

Callers are synchronous; nats-py is asyncio. Each bus therefore owns one event loop in a
daemon thread (:meth:`_NatsConnection._run` hands it a coroutine and waits with a bound, and
is the one place where foreign errors become MaatErrors). The loop holds one connection,
made on first use and made afresh after it broke, and checks that the stream exists with
the settings Maat needs (creating or updating it without losing data): once per connection,
and again whenever the stream may have been deleted or re-created.

The publishing side (:mod:`maat.adapters.bus.nats`) and the consuming side
(:mod:`maat.adapters.bus.nats_consumer`) build on :class:`_NatsConnection`;
:class:`~maat.adapters.bus.nats.NatsBus` sets the attributes declared here in its
constructor.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import logging
import math
import threading
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.js import api

from maat.adapters.bus.partition import stream_subjects
from maat.errors import ConfigError, InvalidInput, MaatError, Unavailable

if TYPE_CHECKING:
    from nats.aio.msg import Msg

    from maat.adapters.bus.nats import _PubBatch
    from maat.adapters.bus.nats_consumer import _Pull

_log = logging.getLogger("maat.adapters.bus.nats")  # one logger for the whole adapter
T = TypeVar("T")

_MSG_ID_HEADER = "Nats-Msg-Id"
_PENDING_BYTES = 16 * 1024 * 1024  # client write buffer; fewer forced flushes than 2 MB
_INBOX_MSGS, _INBOX_BYTES = 1_000_000, 1 << 30  # never drop PubAcks or deliveries as slow


class _NatsConnection:
    """The event loop thread, error translation, the connection and the stream of a bus.

    Attributes are set by :class:`~maat.adapters.bus.nats.NatsBus` (see its constructor);
    the ones below the marker are confined to the loop.
    """

    _servers: list[str]
    _stream: str
    _prefix: str
    _timeout: float
    _duplicate_window: float
    _max_bytes: int
    _max_age: float
    _retry_after: int
    _guard: threading.Lock
    _loop: asyncio.AbstractEventLoop | None
    _thread: threading.Thread | None
    _closed: bool
    # Loop-confined state below.
    _nc: Client | None
    _connect_lock: asyncio.Lock | None
    _stream_ready: bool
    _identity: str
    _reply_inbox: str
    _last_error: str
    _batch: _PubBatch | None  # the publish awaiting PubAcks: woken on disconnect
    _pulls: dict[str, _Pull]  # consumer inboxes: bound to the connection

    if TYPE_CHECKING:

        async def _on_puback(self, msg: Msg) -> None:
            """Receives the PubAcks on ``_reply_inbox`` (the publishing side defines it)."""

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

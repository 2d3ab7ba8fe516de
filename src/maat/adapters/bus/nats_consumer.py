"""The consuming side of :class:`~maat.adapters.bus.nats.NatsBus`: fetch, ack and seek.

Consumers are durable JetStream pull consumers with explicit acks. Each one this connection
uses gets an inbox (:class:`_Pull`) that collects deliveries; a fetch sends pull requests
to the server and returns what arrived, oldest first, remembering the ack subject of each
message until it is acknowledged. Everything here runs on the bus's event loop (see
:mod:`maat.adapters.bus.nats_connection`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import math
from typing import Any

import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import api
from nats.js.client import JetStreamContext

from maat.adapters.bus.nats_connection import (
    _INBOX_BYTES,
    _INBOX_MSGS,
    _MSG_ID_HEADER,
    _NatsConnection,
)
from maat.adapters.bus.partition import stream_sequence
from maat.errors import ConfigError, InvalidInput
from maat.ports import BusMessage


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


class _NatsConsumer(_NatsConnection):
    """Fetch, ack and seek on the loop; :class:`~maat.adapters.bus.nats.NatsBus` sets the
    attributes declared here in its constructor."""

    _ack_wait: float
    _max_ack_pending: int
    _unacked: dict[str, dict[int, str]]  # consumer -> stream seq -> ack subject (loop only)

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

"""The NATS JetStream event bus against a real server (127.0.0.1:4222 or MAAT_TEST_NATS_URL).

Each test works on its own stream and subject prefix and deletes the stream afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest

from maat.adapters.bus import NatsBus, subject_for
from maat.errors import ConfigError, InvalidInput, Unavailable
from maat.ports import BusMessage
from maat_testkit import unavailable
from nats_kit import NATS_URL, _admin, _server_problem, delete_stream, stream_info
from telemetry_kit import MORDOR, needs

pytestmark = pytest.mark.nats

KB = bytes(range(256)) * 4  # 1 KiB holding every byte value, CR and LF included


@dataclass(frozen=True)
class Names:
    stream: str
    prefix: str


@pytest.fixture
def nats_url() -> str:
    problem = _server_problem(NATS_URL)
    if problem:
        unavailable(problem)
    return NATS_URL


@pytest.fixture
def names(nats_url: str) -> Iterator[Names]:
    tag = uuid.uuid4().hex[:12]
    chosen = Names(stream=f"MAAT_TEST_{tag}", prefix=f"maat.test.{tag}")
    yield chosen
    delete_stream(nats_url, chosen.stream)


@pytest.fixture
def open_bus(nats_url: str, names: Names) -> Iterator[Callable[..., NatsBus]]:
    """Opens buses on the test's stream; every one is closed before the stream is deleted."""
    buses: list[NatsBus] = []

    def make(url: str = nats_url, **overrides: Any) -> NatsBus:
        options: dict[str, Any] = {
            "stream": names.stream,
            "subject_prefix": names.prefix,
            "timeout": 5.0,
        }
        options.update(overrides)
        bus = NatsBus(url, **options)
        buses.append(bus)
        return bus

    yield make
    for bus in buses:
        bus.close()


def fetch_all(
    bus: NatsBus, consumer: str, expected: int, *, wait: float = 10.0
) -> list[BusMessage]:
    """Fetch until ``expected`` messages came (or ``wait`` seconds passed)."""
    got: list[BusMessage] = []
    deadline = time.monotonic() + wait
    while len(got) < expected and time.monotonic() < deadline:
        got += bus.fetch(consumer, max_messages=expected - len(got), timeout=1.0)
    return got


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- round trip --------------------------------------------------------------------------


def test_round_trip_keeps_order_bytes_and_msg_ids(
    names: Names, open_bus: Callable[..., NatsBus]
) -> None:
    bus = open_bus()
    subject = f"{names.prefix}.3"
    sent = [(f"evt-{i:04d}", KB[i:] + i.to_bytes(2, "big")) for i in range(300)]

    bus.publish(subject, sent)
    got = fetch_all(bus, "lake", len(sent))

    assert [(m.msg_id, m.data) for m in got] == sent
    assert {m.subject for m in got} == {subject}
    positions = [m.position for m in got]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    bus.ack("lake", got)
    assert bus.fetch("lake", max_messages=10, timeout=0.3) == []


def test_fetch_on_empty_stream_returns_nothing_after_the_timeout(
    open_bus: Callable[..., NatsBus],
) -> None:
    bus = open_bus()
    started = time.monotonic()
    assert bus.fetch("idle", max_messages=100, timeout=0.5) == []
    assert 0.4 <= time.monotonic() - started < 3.0


def test_fetch_waits_for_a_message_published_while_it_waits(
    names: Names,
    open_bus: Callable[..., NatsBus],
) -> None:
    reader, writer = open_bus(), open_bus()
    reader.fetch("live", max_messages=1, timeout=0.1)  # consumer exists before publishing

    started = time.monotonic()
    timer = threading.Timer(0.5, lambda: writer.publish(f"{names.prefix}.0", [("late", b"x")]))
    timer.start()
    try:
        got = reader.fetch("live", max_messages=10, timeout=5.0)
    finally:
        timer.join()
    assert [m.msg_id for m in got] == ["late"]
    assert time.monotonic() - started < 4.0  # returned on arrival, not at the timeout


# --- acknowledgement and redelivery ------------------------------------------------------


def test_message_not_acked_is_redelivered_after_ack_wait(
    names: Names,
    open_bus: Callable[..., NatsBus],
) -> None:
    bus = open_bus(ack_wait=1.0)
    bus.publish(f"{names.prefix}.0", [("a", b"1"), ("b", b"2"), ("c", b"3")])
    first = fetch_all(bus, "worker", 3)
    bus.ack("worker", first[:1])

    assert bus.fetch("worker", max_messages=10, timeout=0.2) == []  # not before ack_wait
    again = fetch_all(bus, "worker", 2, wait=5.0)

    assert [m.msg_id for m in again] == ["b", "c"]
    assert [m.position for m in again] == [m.position for m in first[1:]]
    bus.ack("worker", again)
    assert bus.fetch("worker", max_messages=10, timeout=1.5) == []


def test_acking_a_message_twice_or_one_never_fetched_is_refused(
    names: Names,
    open_bus: Callable[..., NatsBus],
) -> None:
    bus = open_bus()
    bus.publish(f"{names.prefix}.0", [("a", b"1")])
    [message] = fetch_all(bus, "worker", 1)
    bus.ack("worker", [message])

    with pytest.raises(InvalidInput, match="not fetched"):
        bus.ack("worker", [message])
    with pytest.raises(InvalidInput, match="not fetched"):
        bus.ack("other", [message])
    forged = BusMessage(message.subject, "x", b"", message.position + 1000)
    with pytest.raises(InvalidInput):
        bus.ack("worker", [forged])


def test_two_durable_consumers_each_get_every_message(
    names: Names, open_bus: Callable[..., NatsBus]
) -> None:
    bus = open_bus()
    sent = [(f"m{i}", f"payload {i}".encode()) for i in range(120)]
    bus.publish(f"{names.prefix}.1", sent)

    lake = fetch_all(bus, "lake", len(sent))
    bus.ack("lake", lake)
    detect = fetch_all(bus, "detect", len(sent))

    assert [(m.msg_id, m.data) for m in lake] == sent
    assert [(m.msg_id, m.data) for m in detect] == sent


def test_closing_and_reopening_redelivers_only_unacked_messages(
    names: Names,
    open_bus: Callable[..., NatsBus],
) -> None:
    first = open_bus(ack_wait=1.0)
    sent = [(f"r{i}", bytes([i]) * 10) for i in range(10)]
    first.publish(f"{names.prefix}.2", sent)
    fetched = fetch_all(first, "lake", 10)
    first.ack("lake", fetched[:4])
    first.close()
    first.close()  # idempotent

    with pytest.raises(Unavailable, match="closed"):
        first.fetch("lake", max_messages=1, timeout=0.1)
    second = open_bus(ack_wait=1.0)
    again = fetch_all(second, "lake", 6, wait=6.0)

    assert [(m.msg_id, m.data) for m in again] == sent[4:]
    second.ack("lake", again)
    assert second.fetch("lake", max_messages=10, timeout=1.5) == []


def test_fetch_takes_at_most_max_ack_pending_and_never_hangs_when_all_are_out(
    names: Names,
    open_bus: Callable[..., NatsBus],
) -> None:
    bus = open_bus(max_ack_pending=10)
    bus.publish(f"{names.prefix}.0", [(f"p{i}", b"x") for i in range(30)])

    first = bus.fetch("slow", max_messages=100, timeout=2.0)
    assert [m.msg_id for m in first] == [f"p{i}" for i in range(10)]
    started = time.monotonic()
    assert bus.fetch("slow", max_messages=100, timeout=0.5) == []  # ten are out: no more
    assert time.monotonic() - started < 3.0
    bus.ack("slow", first)
    rest = fetch_all(bus, "slow", 10)
    assert [m.msg_id for m in rest] == [f"p{i}" for i in range(10, 20)]


def test_threads_publishing_at_once_store_every_message(
    nats_url: str, names: Names, open_bus: Callable[..., NatsBus]
) -> None:
    bus = open_bus()
    errors: list[BaseException] = []

    def publish(worker: int) -> None:
        try:
            for start in range(0, 500, 100):
                batch = [(f"w{worker}-{i}", KB) for i in range(start, start + 100)]
                bus.publish(f"{names.prefix}.{worker}", batch)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=publish, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert stream_info(nats_url, names.stream).state.messages == 2000


def test_seek_makes_the_consumer_continue_after_the_position(
    names: Names,
    open_bus: Callable[..., NatsBus],
) -> None:
    bus = open_bus()
    bus.publish(f"{names.prefix}.0", [(f"s{i}", b"x") for i in range(10)])
    first = fetch_all(bus, "lake", 10)
    bus.ack("lake", first[:3])  # seven still out: seek drops them

    bus.seek("lake", first[4].position)
    after = fetch_all(bus, "lake", 5)
    assert [m.msg_id for m in after] == [f"s{i}" for i in range(5, 10)]
    with pytest.raises(InvalidInput):
        bus.ack("lake", first[3:4])  # delivered before the seek, not since
    bus.ack("lake", after)

    bus.seek("lake", 0)
    assert [m.msg_id for m in fetch_all(bus, "lake", 10)] == [f"s{i}" for i in range(10)]


def test_a_sought_consumer_keeps_its_start_when_another_bus_opens_it(
    nats_url: str, names: Names, open_bus: Callable[..., NatsBus]
) -> None:
    first = open_bus(ack_wait=30.0)
    first.publish(f"{names.prefix}.0", [(f"k{i}", b"x") for i in range(6)])
    first.seek("lake", 3)
    first.close()

    second = open_bus(ack_wait=2.0)  # a changed limit updates the consumer, not its start
    assert [m.msg_id for m in fetch_all(second, "lake", 3)] == ["k3", "k4", "k5"]
    info = asyncio.run(_admin(nats_url, lambda js: js.consumer_info(names.stream, "lake")))
    assert info.config.ack_wait == 2.0


def test_publish_counts_only_new_messages(names: Names, open_bus: Callable[..., NatsBus]) -> None:
    bus = open_bus()
    subject = f"{names.prefix}.0"
    assert bus.publish(subject, [("a", b"1"), ("b", b"2")]) == 2
    assert bus.publish(subject, [("a", b"1"), ("c", b"3"), ("c", b"3")]) == 1
    assert bus.publish(subject, []) == 0


def test_identity_is_stable_per_stream_and_changes_when_it_is_recreated(
    nats_url: str, names: Names, open_bus: Callable[..., NatsBus]
) -> None:
    bus = open_bus()
    identity = bus.identity
    assert identity.startswith(f"nats:{names.stream}:")
    assert open_bus().identity == identity

    delete_stream(nats_url, names.stream)
    with pytest.raises(Unavailable):
        bus.publish(f"{names.prefix}.0", [("a", b"1")])
    bus.publish(f"{names.prefix}.0", [("a", b"1")])  # re-creates the stream

    assert bus.identity != identity
    assert open_bus().identity == bus.identity


# --- deduplication, partitions, stream management ---------------------------------------


def test_publishing_the_same_msg_ids_twice_stores_them_once(
    nats_url: str, names: Names, open_bus: Callable[..., NatsBus]
) -> None:
    bus = open_bus()
    subject = f"{names.prefix}.0"
    bus.publish(subject, [(f"id{i}", f"v{i}".encode()) for i in range(10)])
    bus.publish(subject, [(f"id{i}", f"v{i}".encode()) for i in range(5, 15)])  # a retry

    assert stream_info(nats_url, names.stream).state.messages == 15
    got = fetch_all(bus, "lake", 15)
    assert [m.msg_id for m in got] == [f"id{i}" for i in range(15)]
    assert bus.fetch("lake", max_messages=10, timeout=0.3) == []


@needs(MORDOR)
def test_events_partitioned_by_host_land_in_their_partitions(
    nats_url: str, names: Names, open_bus: Callable[..., NatsBus]
) -> None:
    path = next((MORDOR / "SDWIN-190518210652").glob("*.json"))
    with path.open("rb") as fh:
        records = [line.rstrip(b"\n") for _, line in zip(range(1500), fh, strict=False)]
    partitions = 16
    by_subject: dict[str, list[tuple[str, bytes]]] = {}
    for number, raw in enumerate(records):
        host = json.loads(raw).get("Hostname", "")
        subject = subject_for(names.prefix, host, partitions)
        by_subject.setdefault(subject, []).append((f"{path.stem}:{number}", raw))
    assert len(by_subject) > 1  # the recording has several hosts in different partitions

    bus = open_bus()
    for subject, messages in by_subject.items():
        bus.publish(subject, messages)

    info = stream_info(nats_url, names.stream, subjects_filter=">")
    assert info.state.subjects == {s: len(m) for s, m in by_subject.items()}
    got = fetch_all(bus, "lake", len(records))
    for message in got:
        host = json.loads(message.data).get("Hostname", "")
        assert message.subject == subject_for(names.prefix, host, partitions)
    for subject, messages in by_subject.items():  # each partition keeps its order
        assert [m.msg_id for m in got if m.subject == subject] == [i for i, _ in messages]


def test_stream_is_created_with_file_storage_and_dedupe_window(
    nats_url: str, names: Names, open_bus: Callable[..., NatsBus]
) -> None:
    open_bus(duplicate_window=30.0).publish(f"{names.prefix}.0", [("a", b"1")])

    config = stream_info(nats_url, names.stream).config
    assert config.storage == "file" and config.retention == "limits"
    assert config.discard == "new"  # a full stream refuses; it never drops unconsumed data
    assert config.subjects == [f"{names.prefix}.>"]
    assert config.duplicate_window == 30.0

    open_bus(duplicate_window=60.0, max_bytes=64 * 1024 * 1024).fetch(
        "x", max_messages=1, timeout=0.1
    )
    updated = stream_info(nats_url, names.stream)
    assert updated.config.duplicate_window == 60.0
    assert updated.config.max_bytes == 64 * 1024 * 1024
    assert updated.state.messages == 1  # updating kept the data


def test_second_stream_over_the_same_subjects_is_a_config_error(
    nats_url: str, names: Names, open_bus: Callable[..., NatsBus]
) -> None:
    open_bus().publish(f"{names.prefix}.0", [("a", b"1")])
    other = f"{names.stream}_OTHER"
    try:
        with pytest.raises(ConfigError, match="cannot be created"):
            open_bus(stream=other).publish(f"{names.prefix}.0", [("b", b"2")])
    finally:
        delete_stream(nats_url, other)


def test_full_stream_refuses_with_unavailable(
    nats_url: str, names: Names, open_bus: Callable[..., NatsBus]
) -> None:
    bus = open_bus(max_bytes=32 * 1024)
    with pytest.raises(Unavailable, match="maximum bytes exceeded") as caught:
        bus.publish(f"{names.prefix}.0", [(f"f{i}", KB) for i in range(100)])
    assert caught.value.retry_after >= 1
    stored = stream_info(nats_url, names.stream).state.messages
    assert 0 < stored < 100


def test_lowering_max_bytes_below_the_stored_data_is_refused(
    nats_url: str, names: Names, open_bus: Callable[..., NatsBus]
) -> None:
    open_bus().publish(f"{names.prefix}.0", [(f"k{i}", KB) for i in range(20)])

    with pytest.raises(ConfigError, match="would delete messages"):
        open_bus(max_bytes=4096).publish(f"{names.prefix}.0", [("more", b"1")])
    assert stream_info(nats_url, names.stream).state.messages == 20


def test_stream_deleted_behind_the_bus_is_recreated_on_the_next_publish(
    nats_url: str, names: Names, open_bus: Callable[..., NatsBus]
) -> None:
    bus = open_bus()
    bus.publish(f"{names.prefix}.0", [("a", b"1")])
    delete_stream(nats_url, names.stream)

    with pytest.raises(Unavailable, match="no responders"):
        bus.publish(f"{names.prefix}.0", [("b", b"2")])
    bus.publish(f"{names.prefix}.0", [("b", b"2")])

    assert stream_info(nats_url, names.stream).state.messages == 1


def test_consumer_deleted_behind_the_bus_is_recreated_by_a_later_fetch(
    nats_url: str, names: Names, open_bus: Callable[..., NatsBus]
) -> None:
    bus = open_bus()
    bus.publish(f"{names.prefix}.0", [("a", b"1"), ("b", b"2")])
    bus.ack("lake", fetch_all(bus, "lake", 2))
    asyncio.run(_admin(nats_url, lambda js: js.delete_consumer(names.stream, "lake")))

    started = time.monotonic()
    again = fetch_all(bus, "lake", 2, wait=10.0)

    assert [m.msg_id for m in again] == ["a", "b"]  # a new consumer starts from the beginning
    assert time.monotonic() - started < 5.0


def test_bad_subjects_and_messages_are_refused_before_sending(
    names: Names,
    open_bus: Callable[..., NatsBus],
) -> None:
    bus = open_bus()
    prefix = names.prefix
    for subject in ("other.0", prefix, f"{prefix}.*", f"{prefix}.a b", f"{prefix}..x"):
        with pytest.raises(InvalidInput):
            bus.publish(subject, [("a", b"1")])
    for bad in ([("", b"1")], [("has space", b"1")], [("a", "text")], [("a",)]):
        with pytest.raises(InvalidInput):
            bus.publish(f"{prefix}.0", bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="accepts at most"):
        bus.publish(f"{prefix}.0", [("big", b"\0" * (8 * 1024 * 1024))])
    with pytest.raises(InvalidInput):
        bus.fetch("bad.name", max_messages=1, timeout=0)
    with pytest.raises(InvalidInput):
        bus.fetch("ok", max_messages=0, timeout=0)


# --- outage -----------------------------------------------------------------------------


def test_closed_port_raises_unavailable_within_the_timeout() -> None:
    url = f"nats://127.0.0.1:{free_port()}"
    with NatsBus(url, stream="MAAT_DOWN", subject_prefix="maat.down", timeout=1.0) as bus:
        for call in (
            lambda: bus.publish("maat.down.0", [("a", b"1")]),
            lambda: bus.fetch("lake", max_messages=10, timeout=0.5),
        ):
            started = time.monotonic()
            with pytest.raises(Unavailable, match="NATS") as caught:
                call()
            assert time.monotonic() - started < 3.0
            assert url in caught.value.message
            assert caught.value.retry_after >= 1


def test_outage_message_does_not_reveal_the_credentials_in_the_url() -> None:
    url = f"nats://maat:s3cret-token@127.0.0.1:{free_port()}"
    bus = NatsBus(url, stream="MAAT_DOWN", subject_prefix="maat.down", timeout=1.0)
    with bus, pytest.raises(Unavailable) as caught:
        bus.publish("maat.down.0", [("a", b"1")])
    assert "s3cret-token" not in caught.value.diagnostics()
    assert "nats://***@127.0.0.1:" in caught.value.message


def test_server_that_never_answers_raises_unavailable_within_the_timeout() -> None:
    with socket.socket() as silent:  # accepts TCP connections, never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"nats://127.0.0.1:{silent.getsockname()[1]}"
        with NatsBus(url, stream="MAAT_DOWN", subject_prefix="maat.down", timeout=1.0) as bus:
            started = time.monotonic()
            with pytest.raises(Unavailable, match="timed out"):
                bus.publish("maat.down.0", [("a", b"1")])
            assert time.monotonic() - started < 3.0


def test_connection_lost_midway_fails_fast_and_the_next_call_reconnects(
    nats_url: str, names: Names, open_bus: Callable[..., NatsBus]
) -> None:
    upstream = urlsplit(nats_url)
    proxy = Proxy((upstream.hostname or "127.0.0.1", upstream.port or 4222))
    try:
        bus = open_bus(url=f"nats://127.0.0.1:{proxy.port}", timeout=2.0)
        bus.publish(f"{names.prefix}.0", [("before", b"1")])
        proxy.stop()

        started = time.monotonic()
        with pytest.raises(Unavailable):
            bus.publish(f"{names.prefix}.0", [("during", b"2")])
        assert time.monotonic() - started < 5.0
        proxy.start()
        bus.publish(f"{names.prefix}.0", [("during", b"2"), ("after", b"3")])
    finally:
        proxy.stop()

    got = fetch_all(open_bus(), "lake", 3)
    assert [m.msg_id for m in got] == ["before", "during", "after"]


class Proxy:
    """A TCP relay to the NATS server that the test can cut and restore."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = free_port()
        self.sockets: list[socket.socket] = []
        self.start()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen()
        self.sockets = [listener]
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self.sockets = []

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            self.sockets += [client, server]
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while chunk := source.recv(65536):
                target.sendall(chunk)
        with contextlib.suppress(OSError):
            target.shutdown(socket.SHUT_WR)


# --- throughput (printed, not asserted) ----------------------------------------------------


def test_publish_and_fetch_throughput_of_ten_thousand_1kb_messages(
    nats_url: str, names: Names, open_bus: Callable[..., NatsBus]
) -> None:
    bus = open_bus()
    count = 10_000
    messages = [(f"t{i:05d}", KB) for i in range(count)]
    bus.publish(f"{names.prefix}.9", messages[:10])  # connect and create the stream first

    started = time.perf_counter()
    bus.publish(f"{names.prefix}.9", messages)
    published = time.perf_counter() - started
    started = time.perf_counter()
    got = fetch_all(bus, "bench", count, wait=60.0)
    bus.ack("bench", got)
    fetched = time.perf_counter() - started

    print(
        f"\nNATS publish: {count / published:,.0f} msg/s of 1 KiB; "
        f"fetch+ack: {count / fetched:,.0f} msg/s"
    )
    assert stream_info(nats_url, names.stream).state.messages == count
    assert [m.msg_id for m in got] == [i for i, _ in messages]

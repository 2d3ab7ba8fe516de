"""Subject partitioning and the pure framing helpers of the NATS bus (no server needed)."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from maat.adapters.bus.partition import (
    check_messages,
    is_valid_name,
    is_valid_subject,
    partition_of,
    puback_error,
    stream_sequence,
    stream_subjects,
    subject_for,
)
from maat.errors import InvalidInput

# Pinned: changing the function moves every host to another partition, which reorders
# events of a host across a rolling upgrade. Change these only together with a migration.
PINNED = {
    ("WORKSTATION5", 16): 11,
    ("WORKSTATION6.theshire.local", 16): 4,
    ("MORDORDC.theshire.local", 16): 8,
    ("WORKSTATION5", 1024): 459,
    ("", 16): 0,
}


def test_partition_of_known_hosts_never_changes() -> None:
    assert {key: partition_of(*key) for key in PINNED} == PINNED
    assert subject_for("maat.events", "WORKSTATION5", 16) == "maat.events.11"


def test_partition_is_the_same_in_a_process_with_another_hash_seed() -> None:
    hosts = [f"host-{i}.example" for i in range(50)] + ["WORKSTATION5", "ünïcode-host"]
    code = (
        "import json, sys; from maat.adapters.bus.partition import partition_of; "
        "print(json.dumps([partition_of(h, 16) for h in json.loads(sys.argv[1])]))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code, json.dumps(hosts)],
        env=env,
        capture_output=True,
        check=True,
        text=True,
    ).stdout
    assert json.loads(out) == [partition_of(h, 16) for h in hosts]


def test_empty_host_goes_to_partition_zero() -> None:
    assert subject_for("maat.events", "", 16) == "maat.events.0"
    assert partition_of("", 1) == 0


@given(host=st.text(max_size=80), partitions=st.integers(min_value=1, max_value=1024))
def test_partition_is_in_range_and_the_subject_is_captured_by_the_stream(
    host: str, partitions: int
) -> None:
    number = partition_of(host, partitions)
    assert 0 <= number < partitions
    subject = subject_for("maat.events", host, partitions)
    assert subject == f"maat.events.{number}"
    assert is_valid_subject(subject)
    [captured] = stream_subjects("maat.events")
    assert captured == "maat.events.>" and subject.startswith(captured[:-1])


def test_thousand_hosts_spread_roughly_evenly_over_sixteen_partitions() -> None:
    rng = random.Random(20260101)
    domains = ["corp.example", "theshire.local", "lab.internal"]
    hosts = {
        f"{rng.choice(['ws', 'srv', 'dc', 'build'])}-{rng.randrange(10**6):06d}."
        f"{rng.choice(domains)}"
        for _ in range(1000)
    }
    counts = Counter(partition_of(host, 16) for host in hosts)
    expected = len(hosts) / 16
    assert set(counts) == set(range(16))
    assert all(0.6 * expected <= n <= 1.4 * expected for n in counts.values()), counts
    chi_square = sum((n - expected) ** 2 / expected for n in counts.values())
    assert chi_square < 37.7  # 15 degrees of freedom, p = 0.001


@pytest.mark.parametrize("partitions", [0, -1, True, 2.0, "16"])
def test_invalid_partition_count_is_refused(partitions: object) -> None:
    with pytest.raises(InvalidInput):
        partition_of("host", partitions)  # type: ignore[arg-type]


# --- names and subjects -----------------------------------------------------------------


@pytest.mark.parametrize("subject", ["maat.events.3", "a", "maat.events.host-1_x"])
def test_literal_subjects_are_valid(subject: str) -> None:
    assert is_valid_subject(subject)


@pytest.mark.parametrize(
    "subject", ["", "maat..events", "maat.events.", ".maat", "maat.*", "maat.>", "a b", "a\r\nb", 3]
)
def test_wildcards_blanks_and_empty_tokens_are_not_literal_subjects(subject: object) -> None:
    assert not is_valid_subject(subject)


def test_stream_and_consumer_names_exclude_separators() -> None:
    assert is_valid_name("MAAT_EVENTS") and is_valid_name("lake-writer")
    for bad in ("", "a.b", "a b", "a*", "a>", "a/b", "x" * 201, None):
        assert not is_valid_name(bad)


# --- message framing ----------------------------------------------------------------------


def test_check_messages_accepts_byte_like_data_as_bytes() -> None:
    checked = check_messages([("a", b"1"), ("b", bytearray(b"2")), ("c", memoryview(b"3"))])
    assert checked == [("a", b"1"), ("b", b"2"), ("c", b"3")]
    assert all(type(data) is bytes for _, data in checked)


@pytest.mark.parametrize(
    ("messages", "field"),
    [
        ([("ok", b"1"), ("", b"2")], "messages[1].msg_id"),
        ([("has space", b"1")], "messages[0].msg_id"),
        ([("line\r\nX-Evil: 1", b"1")], "messages[0].msg_id"),
        ([("x" * 257, b"1")], "messages[0].msg_id"),
        ([("ok", "text")], "messages[0].data"),
        ([("only-id",)], "messages[0]"),
        ([("a", b"1", "extra")], "messages[0]"),
    ],
)
def test_check_messages_names_the_bad_entry(messages: list[object], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_messages(messages)  # type: ignore[arg-type]
    assert caught.value.location.field == field


def test_stream_sequence_reads_both_ack_subject_formats() -> None:
    assert stream_sequence("$JS.ACK.MAAT_EVENTS.lake.1.4711.12.1795637142166067866.3") == 4711
    v2 = "$JS.ACK.hub.ACCHASH.MAAT_EVENTS.lake.2.99.7.1795637142166067866.0.tok"
    assert stream_sequence(v2) == 99
    for reply in ("", "_INBOX.abc.1", "$JS.ACK.S.c.1.x.1.1.1", "$JS.ACK.too.short"):
        assert stream_sequence(reply) is None


def test_puback_error_tells_success_from_refusal() -> None:
    assert puback_error(b'{"stream":"S","seq":5}', "") is None
    assert puback_error(b'{"stream":"S", "seq":5,"duplicate": true}', "") is None  # as sent
    full = b'{"error":{"code":503,"err_code":10077,"description":"maximum bytes exceeded"}}'
    assert puback_error(full, "") == "maximum bytes exceeded (code 503)"
    assert "no responders" in (puback_error(b"", "503") or "")
    assert puback_error(b"", "") is not None
    assert puback_error(b"not json", "") is not None
    assert puback_error(b'{"stream":"S"}', "") is not None  # no sequence: not stored

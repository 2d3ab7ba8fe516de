"""NATS naming and framing rules: which partition an event goes to, which subjects, names
and message ids NATS accepts, and how to read JetStream ack subjects and PubAcks.

Events of one host always land in the same partition, so a consumer reading one partition
sees that host's events in the order they were published. CRC-32 is used rather than
``hash()`` because Python salts ``hash()`` per process; every ingest node must pick the same
partition for the same host. Nothing here does I/O.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Sequence

from maat.errors import InvalidInput

__all__ = [
    "check_messages",
    "is_valid_name",
    "is_valid_subject",
    "partition_of",
    "puback_error",
    "stream_sequence",
    "stream_subjects",
    "subject_for",
]

# A subject token: printable ASCII except the separator '.' and the wildcards '*' and '>'.
_SUBJECT_PART = r"[!-)+\-/-=?-~]+"
_SUBJECT_RE = re.compile(rf"{_SUBJECT_PART}(?:\.{_SUBJECT_PART})*")
_NAME_RE = re.compile(r"[A-Za-z0-9_-]{1,200}")


def partition_of(host: str, partitions: int) -> int:
    """The partition number (``0 <= n < partitions``) of ``host``; an empty host is 0."""
    if isinstance(partitions, bool) or not isinstance(partitions, int) or partitions < 1:
        raise InvalidInput(
            f"the number of partitions must be a positive integer, not {partitions!r}",
            field="partitions",
        )
    if not host:
        return 0
    return zlib.crc32(host.encode("utf-8", "surrogatepass")) % partitions


def subject_for(prefix: str, host: str, partitions: int) -> str:
    """The subject ``<prefix>.<n>`` the events of ``host`` are published under."""
    return f"{prefix}.{partition_of(host, partitions)}"


def stream_subjects(prefix: str) -> list[str]:
    """The subjects a stream must capture to hold every partition of ``prefix``."""
    return [f"{prefix}.>"]


def is_valid_subject(subject: object) -> bool:
    """True for a literal subject: dot-separated tokens, no spaces, no wildcards."""
    return isinstance(subject, str) and _SUBJECT_RE.fullmatch(subject) is not None


def is_valid_name(name: object) -> bool:
    """True for a stream or consumer name NATS accepts everywhere (letters, digits, - and _)."""
    return isinstance(name, str) and _NAME_RE.fullmatch(name) is not None


# --- message framing (pure: used by the NATS adapter) -----------------------------------

_MSG_ID_RE = re.compile(r"[!-~]{1,256}")  # printable ASCII, no spaces: safe in a header line


def check_messages(messages: Sequence[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """``messages`` as a list of ``(msg_id, bytes)``; ``InvalidInput`` naming the first bad
    entry (not a pair, an id that is not 1-256 printable ASCII characters, data not bytes)."""
    given: object = messages  # checked at run time: callers may pass anything
    if isinstance(given, str | bytes) or not isinstance(given, Sequence):
        raise InvalidInput("messages must be a list of (msg_id, data) pairs", field="messages")
    checked: list[tuple[str, bytes]] = []
    for index, item in enumerate(messages):
        try:
            msg_id, data = item  # type: object, object
        except (TypeError, ValueError):
            raise InvalidInput("not a (msg_id, data) pair", field=f"messages[{index}]") from None
        if not isinstance(msg_id, str) or not _MSG_ID_RE.fullmatch(msg_id):
            raise InvalidInput(
                f"invalid message id {msg_id!r}: 1-256 printable ASCII characters without "
                "spaces (the id is what makes retries safe)",
                field=f"messages[{index}].msg_id",
            )
        if isinstance(data, bytearray | memoryview):
            data = bytes(data)
        elif not isinstance(data, bytes):
            raise InvalidInput("message data must be bytes", field=f"messages[{index}].data")
        checked.append((msg_id, data))
    return checked


def stream_sequence(reply: str) -> int | None:
    """The stream sequence named by a JetStream ack subject, or None if it is not one.

    ``$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<time>.<pending>`` or, with
    domain and account hash, ``$JS.ACK.<domain>.<hash>.<stream>.<consumer>.<delivered>.
    <sseq>...`` (11 or 12 tokens).
    """
    tokens = reply.split(".")
    if tokens[:2] != ["$JS", "ACK"] or len(tokens) not in (9, 11, 12):
        return None
    try:
        return int(tokens[5] if len(tokens) == 9 else tokens[7])
    except ValueError:
        return None


def puback_error(data: bytes, status: str) -> str | None:
    """Why a JetStream publish acknowledgement (body ``data``, header status ``status``)
    reports failure, or None for a success (``{"stream": ..., "seq": n}``)."""
    if not data:
        if status == "503":
            return "no responders (no stream captures the subject)"
        return f"empty PubAck with status {status or 'none'}"
    try:
        answer = json.loads(data)
    except ValueError:
        answer = None
    error = answer.get("error") if isinstance(answer, dict) else "unreadable"
    if error is None and isinstance(answer, dict) and isinstance(answer.get("seq"), int):
        return None
    if isinstance(error, dict):
        return f"{error.get('description', 'error')} (code {error.get('code')})"
    return f"unexpected PubAck {data[:200]!r}"

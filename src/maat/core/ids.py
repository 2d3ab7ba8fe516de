"""Time-sortable identifiers: ``{prefix}_{ULID}``.

A ULID is 128 bits written as 26 Crockford base32 characters: a 48-bit millisecond Unix
timestamp followed by 80 random bits. Ids made later sort after ids made earlier; ids made in
the same millisecond by this process are strictly increasing (the random part is incremented),
so sorting by id is sorting by creation order.
"""

from __future__ import annotations

import os
import re
import secrets
import threading
import time
from datetime import UTC, datetime, timedelta

from maat.errors import InvalidInput

__all__ = ["PREFIX_PATTERN", "id_time", "new_id", "parse_id"]

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_DECODE = {c: i for i, c in enumerate(_ALPHABET)}
_ULID_LEN = 26
_RANDOM_BITS = 80
_RANDOM_LIMIT = 1 << _RANDOM_BITS
_TIME_LIMIT = 1 << 48

PREFIX_PATTERN = re.compile(r"[a-z][a-z0-9]{0,15}")
"""What a prefix may look like: a lower-case letter, then up to 15 letters or digits."""

_ULID_PATTERN = re.compile(r"[0-7][0-9A-HJKMNP-TV-Z]{25}")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_lock = threading.Lock()
_last_ms = -1
_last_random = 0


def _reset_after_fork() -> None:
    # A forked child must not continue the parent's sequence: both would make the same ids.
    global _last_ms, _last_random
    _last_ms, _last_random = -1, 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def _encode(value: int) -> str:
    chars = []
    for _ in range(_ULID_LEN):
        chars.append(_ALPHABET[value & 0x1F])
        value >>= 5
    return "".join(reversed(chars))


def _decode(text: str) -> int:
    value = 0
    for char in text:
        value = (value << 5) | _DECODE[char]
    return value


def _check_prefix(prefix: object, *, field: str = "prefix", file: str | None = None) -> str:
    if not isinstance(prefix, str) or not PREFIX_PATTERN.fullmatch(prefix):
        raise InvalidInput(
            f"id prefix must be 1-16 lower-case letters or digits starting with a letter, "
            f"got {prefix!r}",
            file=file,
            field=field,
        )
    return prefix


def _next_ulid() -> int:
    global _last_ms, _last_random
    now_ms = time.time_ns() // 1_000_000
    with _lock:
        if now_ms <= _last_ms:
            # Same millisecond (or the clock stepped back): stay monotonic.
            now_ms = _last_ms
            random_part = _last_random + 1
            if random_part >= _RANDOM_LIMIT:
                now_ms += 1
                random_part = secrets.randbits(_RANDOM_BITS)
        else:
            random_part = secrets.randbits(_RANDOM_BITS)
        if now_ms >= _TIME_LIMIT:
            raise OverflowError("ULID timestamp overflow")  # year 10889
        _last_ms = now_ms
        _last_random = random_part
    return (now_ms << _RANDOM_BITS) | random_part


def new_id(prefix: str) -> str:
    """Return a new time-sortable id ``"{prefix}_{ULID}"``, e.g. ``"vnd_01J9Z…"``.

    Ids from this process are strictly increasing, also within one millisecond. Raises
    :class:`~maat.errors.InvalidInput` (field ``prefix``) for a malformed prefix.
    """
    _check_prefix(prefix)
    return f"{prefix}_{_encode(_next_ulid())}"


def parse_id(value: object, prefix: str, *, field: str = "id", file: str | None = None) -> str:
    """Validate that ``value`` is an id made by :func:`new_id` with ``prefix``.

    The ULID part is read case-insensitively; the canonical (upper-case) id is returned.
    Raises :class:`~maat.errors.InvalidInput` naming ``field`` (and ``file``) otherwise.
    """
    _check_prefix(prefix, field=field, file=file)
    if not isinstance(value, str):
        raise InvalidInput(
            f"id must be a string, got {type(value).__name__}", file=file, field=field
        )
    head, sep, tail = value.partition("_")
    if not sep or head != prefix:
        raise InvalidInput(
            f"id must start with {prefix + '_'!r}, got {value[:40]!r}", file=file, field=field
        )
    ulid = tail.upper()
    if not _ULID_PATTERN.fullmatch(ulid):
        raise InvalidInput(
            f"id must end in a 26-character ULID (Crockford base32), got {tail[:40]!r}",
            file=file,
            field=field,
        )
    return f"{prefix}_{ulid}"


def id_time(value: str) -> datetime:
    """Return the UTC creation time encoded in an id made by :func:`new_id`.

    Raises :class:`~maat.errors.InvalidInput` (field ``id``) if ``value`` is not such an id.
    """
    if not isinstance(value, str) or "_" not in value:
        raise InvalidInput(f"not an id: {str(value)[:40]!r}", field="id")
    prefix = value.partition("_")[0]
    canonical = parse_id(value, prefix)
    millis = _decode(canonical.partition("_")[2]) >> _RANDOM_BITS
    return _EPOCH + timedelta(milliseconds=millis)

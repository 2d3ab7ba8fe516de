"""Field readers and writers shared by the ``from_dict`` / ``to_dict`` of the core entities.

:class:`Reader` wraps one input mapping and reads typed, validated fields from it; every
failure is an :class:`~maat.errors.InvalidInput` naming the field (``tags[2]`` for an item)
and the file when one was given. :func:`dump` turns values back into JSON-ready data.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from enum import Enum
from types import MappingProxyType
from typing import Any, TypeVar

from maat.core.digest import Digest
from maat.core.purl import Purl
from maat.errors import InvalidInput

MAX_ID = 200
MAX_NAME = 200
MAX_TEXT = 10_000
MAX_ITEMS = 10_000
MAX_DEPTH = 32

E = TypeVar("E", bound=Enum)

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SPACE = re.compile(r"\s")
_EMPTY: Mapping[str, Any] = MappingProxyType({})


def empty_mapping() -> Mapping[str, Any]:
    """The shared empty read-only mapping (a default for mapping fields)."""
    return _EMPTY


def type_name(value: object) -> str:
    """A short JSON-ish name of ``value``'s type for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list | tuple):
        return "array"
    return type(value).__name__


def field_names(cls: Any) -> frozenset[str]:
    """The field names of dataclass ``cls``."""
    return frozenset(f.name for f in dataclasses.fields(cls))


def parse_timestamp(value: object, *, field: str, file: str | None) -> datetime:
    """Read an ISO-8601 timestamp (or an aware ``datetime``) as an aware UTC datetime.

    Timestamps without a UTC offset are rejected: their instant is unknown.
    """
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        if len(value) > 64:
            raise InvalidInput("timestamp is too long", file=file, field=field)
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise InvalidInput(
                f"expected an ISO-8601 timestamp, got {value[:40]!r}", file=file, field=field
            ) from None
    else:
        raise InvalidInput(
            f"expected an ISO-8601 timestamp string, got {type_name(value)}",
            file=file,
            field=field,
        )
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidInput(
            "timestamp has no UTC offset",
            file=file,
            field=field,
            hint="add 'Z' or an offset such as '+00:00'",
        )
    return moment.astimezone(UTC)


def format_timestamp(moment: datetime) -> str:
    """ISO-8601 text of an aware datetime in UTC, ending in ``Z``."""
    text = moment.astimezone(UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def freeze_json(value: object, *, field: str, file: str | None, depth: int = 0) -> Any:
    """Validate JSON-like data and return a read-only copy (mappings, tuples, scalars)."""
    if depth > MAX_DEPTH:
        raise InvalidInput(f"nested deeper than {MAX_DEPTH} levels", file=file, field=field)
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInput("numbers must be finite", file=file, field=field)
        return value
    if isinstance(value, Mapping):
        if len(value) > MAX_ITEMS:
            raise InvalidInput(f"more than {MAX_ITEMS} keys", file=file, field=field)
        frozen: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidInput(
                    f"keys must be strings, got {type_name(key)}", file=file, field=field
                )
            frozen[key] = freeze_json(item, field=f"{field}.{key}", file=file, depth=depth + 1)
        return MappingProxyType(frozen)
    if isinstance(value, list | tuple):
        if len(value) > MAX_ITEMS:
            raise InvalidInput(f"more than {MAX_ITEMS} items", file=file, field=field)
        return tuple(
            freeze_json(item, field=f"{field}[{i}]", file=file, depth=depth + 1)
            for i, item in enumerate(value)
        )
    raise InvalidInput(f"not JSON data: {type_name(value)}", file=file, field=field)


def dump(value: object) -> Any:
    """Turn a field value into JSON-ready data (enums, timestamps, digests, purls, mappings)."""
    if isinstance(value, Enum):
        return value.value
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, Digest | Purl):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): dump(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [dump(v) for v in value]
    raise TypeError(f"cannot dump {type(value).__name__}")


def dump_fields(obj: Any) -> dict[str, Any]:
    """``{field: dump(value)}`` for every field of dataclass instance ``obj``."""
    return {f.name: dump(getattr(obj, f.name)) for f in dataclasses.fields(obj)}


class Reader:
    """Reads validated fields out of one mapping.

    ``known`` lists the accepted keys; any other key is an error naming it. A key whose value
    is ``null`` counts as absent.
    """

    __slots__ = ("_data", "_file")

    def __init__(
        self, data: object, *, file: str | None = None, known: Iterable[str] | None = None
    ) -> None:
        if not isinstance(data, Mapping):
            raise InvalidInput(f"expected an object, got {type_name(data)}", file=file)
        for key in data:
            if not isinstance(key, str):
                raise InvalidInput(f"keys must be strings, got {type_name(key)}", file=file)
        self._data: Mapping[str, Any] = data
        self._file = file
        if known is not None:
            unknown = sorted(set(data) - set(known))
            if unknown:
                raise InvalidInput(
                    f"unknown field {unknown[0][:80]!r}", file=file, field=unknown[0][:80]
                )

    def error(self, key: str, message: str, hint: str | None = None) -> InvalidInput:
        """An :class:`InvalidInput` about field ``key`` (to raise)."""
        return InvalidInput(message, file=self._file, field=key, hint=hint)

    def unknown_entries(self, known: Iterable[str]) -> dict[str, Any]:
        """The entries whose keys are not in ``known``."""
        names = set(known)
        return {k: v for k, v in self._data.items() if k not in names}

    def _get(self, key: str, required: bool) -> Any:
        value = self._data.get(key)
        if value is None and required:
            raise self.error(key, "is required")
        return value

    def _string(self, key: str, value: object, max_len: int) -> str:
        if not isinstance(value, str):
            raise self.error(key, f"expected a string, got {type_name(value)}")
        if len(value) > max_len:
            raise self.error(key, f"longer than {max_len} characters")
        return value

    def _check_id(self, key: str, value: object) -> str:
        text = self._string(key, value, MAX_ID)
        if not text:
            raise self.error(key, "must not be empty")
        if _SPACE.search(text) or _CONTROL.search(text):
            raise self.error(key, "must not contain spaces or control characters")
        return text

    def _check_name(self, key: str, value: object, max_len: int) -> str:
        text = self._string(key, value, max_len)
        if not text.strip():
            raise self.error(key, "must not be empty")
        if _CONTROL.search(text):
            raise self.error(key, "must not contain control characters")
        return text

    def id(self, key: str) -> str:
        """A required identifier: non-empty, at most 200 characters, no whitespace."""
        return self._check_id(key, self._get(key, True))

    def opt_id(self, key: str) -> str | None:
        """An optional identifier (``None`` when absent)."""
        value = self._get(key, False)
        return None if value is None else self._check_id(key, value)

    def name(self, key: str, *, max_len: int = MAX_NAME) -> str:
        """A required single-line name: not blank, at most ``max_len`` characters."""
        return self._check_name(key, self._get(key, True), max_len)

    def text(self, key: str, *, max_len: int = MAX_TEXT, default: str = "") -> str:
        """A free text (may be empty, may span lines); ``default`` when absent."""
        value = self._get(key, False)
        return default if value is None else self._string(key, value, max_len)

    def opt_text(self, key: str, *, max_len: int = MAX_TEXT) -> str | None:
        """An optional free text (``None`` when absent)."""
        value = self._get(key, False)
        return None if value is None else self._string(key, value, max_len)

    def opt_int(self, key: str, *, minimum: int = 0, maximum: int | None = None) -> int | None:
        """An optional integer within bounds (booleans are not integers)."""
        value = self._get(key, False)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"expected an integer, got {type_name(value)}")
        if value < minimum or (maximum is not None and value > maximum):
            raise self.error(key, f"out of range: {value}")
        return value

    def enum(self, key: str, cls: type[E], *, default: E | None = None) -> E:
        """A member of enum ``cls`` by value; required unless ``default`` is given."""
        value = self._get(key, default is None)
        if value is None:
            assert default is not None
            return default
        return self._member(key, cls, value)

    def opt_enum(self, key: str, cls: type[E]) -> E | None:
        """An optional member of enum ``cls`` (``None`` when absent)."""
        value = self._get(key, False)
        return None if value is None else self._member(key, cls, value)

    def _member(self, key: str, cls: type[E], value: object) -> E:
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            try:
                return cls(value)
            except ValueError:
                pass
        allowed = ", ".join(str(m.value) for m in cls)
        shown = repr(value[:40]) if isinstance(value, str) else type_name(value)
        raise self.error(key, f"expected one of {allowed}; got {shown}")

    def timestamp(self, key: str) -> datetime:
        """A required ISO-8601 timestamp with offset, as an aware UTC datetime."""
        return parse_timestamp(self._get(key, True), field=key, file=self._file)

    def opt_timestamp(self, key: str) -> datetime | None:
        """An optional timestamp (``None`` when absent)."""
        value = self._get(key, False)
        return None if value is None else parse_timestamp(value, field=key, file=self._file)

    def digest(self, key: str, algorithm: str) -> Digest:
        """A required digest of ``algorithm``: ``"algo:hex"`` or bare hex."""
        value = self._get(key, True)
        if isinstance(value, Digest):
            found = value
        elif isinstance(value, str) and ":" not in value:
            found = Digest.from_hex(algorithm, value, field=key, file=self._file)
        else:
            found = Digest.parse(value, field=key, file=self._file)
        if found.algorithm != algorithm:
            raise self.error(key, f"expected a {algorithm} digest, got {found.algorithm}")
        return found

    def purl(self, key: str) -> Purl:
        """A required package URL, canonicalised."""
        value = self._get(key, True)
        return value if isinstance(value, Purl) else Purl.parse(value, key, file=self._file)

    def opt_purl(self, key: str) -> Purl | None:
        """An optional package URL (``None`` when absent)."""
        return None if self._get(key, False) is None else self.purl(key)

    def strings(
        self,
        key: str,
        *,
        check: Callable[[str, object], str] | None = None,
        unique_sorted: bool = False,
    ) -> tuple[str, ...]:
        """An optional list of strings (empty when absent), each checked by ``check``
        (default: a name) and reported as ``key[i]``; sorted and de-duplicated if asked."""
        value = self._get(key, False)
        if value is None:
            return ()
        if isinstance(value, str) or not isinstance(value, list | tuple):
            raise self.error(key, f"expected a list of strings, got {type_name(value)}")
        if len(value) > MAX_ITEMS:
            raise self.error(key, f"more than {MAX_ITEMS} items")
        checker = check or (lambda k, v: self._check_name(k, v, MAX_NAME))
        items = [checker(f"{key}[{i}]", item) for i, item in enumerate(value)]
        return tuple(sorted(set(items))) if unique_sorted else tuple(items)

    def ids(self, key: str, *, unique_sorted: bool = False) -> tuple[str, ...]:
        """An optional list of identifiers (order kept unless ``unique_sorted``)."""
        return self.strings(key, check=self._check_id, unique_sorted=unique_sorted)

    def mapping(self, key: str) -> Mapping[str, Any]:
        """An optional JSON object, returned read-only (empty when absent)."""
        value = self._get(key, False)
        if value is None:
            return _EMPTY
        if not isinstance(value, Mapping):
            raise self.error(key, f"expected an object, got {type_name(value)}")
        frozen: Mapping[str, Any] = freeze_json(value, field=key, file=self._file)
        return frozen

    def hostname(self, key: str) -> str:
        """A required host name: 1-253 characters, no whitespace, folded to lower case."""
        value = self._string(key, self._get(key, True), 253)
        if not value or _SPACE.search(value) or _CONTROL.search(value):
            raise self.error(key, "must be non-empty without spaces or control characters")
        return value.lower()

    def serial(self, key: str) -> str:
        """A required certificate serial number (integer or hex, colons allowed) as
        lower-case hex without leading zeros."""
        value = self._get(key, True)
        if isinstance(value, bool):
            raise self.error(key, "expected an integer or hex string, got boolean")
        if isinstance(value, int):
            number = value
        elif isinstance(value, str) and 0 < len(value) <= 128:
            text = value.strip().lower().replace(":", "").removeprefix("0x")
            try:
                number = int(text, 16)
            except ValueError:
                raise self.error(key, f"not a hex serial number: {value[:40]!r}") from None
        else:
            raise self.error(key, f"expected an integer or hex string, got {type_name(value)}")
        if number < 0 or number.bit_length() > 168:
            raise self.error(key, "serial number out of range (0 to 21 octets)")
        return format(number, "x")

    def id_map(self, key: str) -> Mapping[str, tuple[str, ...]]:
        """An optional object of kind → id or list of ids, read-only, lists as tuples."""
        value = self._get(key, False)
        if value is None:
            return _EMPTY
        if not isinstance(value, Mapping):
            raise self.error(key, f"expected an object, got {type_name(value)}")
        if len(value) > MAX_ITEMS:
            raise self.error(key, f"more than {MAX_ITEMS} keys")
        result: dict[str, tuple[str, ...]] = {}
        for kind, ids in value.items():
            where = f"{key}.{kind}"
            self._check_id(where, kind)
            items = [ids] if isinstance(ids, str) else ids
            if not isinstance(items, list | tuple) or len(items) > MAX_ITEMS:
                raise self.error(where, f"expected an id or a list of ids, got {type_name(ids)}")
            result[kind] = tuple(self._check_id(f"{where}[{i}]", v) for i, v in enumerate(items))
        return MappingProxyType(result)

    def check_order(self, earlier: str, later: str, first: object, second: object) -> None:
        """Raise (naming ``later``) unless ``first <= second`` when both are set."""
        if isinstance(first, datetime) and isinstance(second, datetime) and second < first:
            raise self.error(later, f"must not be before {earlier}")

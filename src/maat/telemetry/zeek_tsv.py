"""Zeek logs in the native TSV format: the header's directives, then typed data lines.

The header (``#separator \\x09``, ``#set_separator``, ``#empty_field``, ``#unset_field``,
``#path``, ``#fields``, ``#types``) gives the log, the column names and their types; unset
(``-``) and empty (``(empty)``) values are dropped and sets are split. A line whose column
count differs from ``#fields`` is reported and the next lines still parse. Each record is
then mapped to ECS exactly as a JSON record of the same log (:mod:`.zeek`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator

from maat.errors import InvalidInput
from maat.telemetry.model import Event
from maat.telemetry.zeek import _ESCAPE, Record, _event, log_type

__all__ = ["TEXT_SOURCES", "ZeekTsv"]


def _unescape(value: str) -> str:
    """Zeek's ASCII writer writes a backslash as ``\\\\`` and the separator and unprintable
    bytes as ``\\xHH``."""
    return _ESCAPE.sub(_unescaped, value.encode("utf-8")).decode("utf-8", "replace")


def _unescaped(match: re.Match[bytes]) -> bytes:
    code = match.group(1)
    return b"\\" if code == b"\\" else bytes([int(code[1:], 16)])


def _directive_value(text: str) -> str:
    return _unescape(text) if "\\" in text else text


class _Header:
    """The state a TSV header sets: separators, log name, columns and their types."""

    def __init__(self, separator: str) -> None:
        self.separator = separator
        self.set_separator = ","
        self.empty = "(empty)"
        self.unset = "-"
        self.path = ""
        self.fields: list[str] | None = None
        self.kinds: list[str] = []
        self._typed: list[tuple[str, str]] | None = None  # the columns that are not text
        self._ints: list[str] = []
        self._floats: list[str] = []
        self._others: list[tuple[str, str]] = []

    def set_fields(self, names: list[str] | None) -> None:
        self.fields, self._typed = names, None

    def set_types(self, names: list[str]) -> None:
        self.kinds, self._typed = [_kind_of(name) for name in names], None

    def record(self, values: list[str], escaped: bool) -> Record:
        """The typed record of one data line (raises ``InvalidInput`` naming the column).

        Built whole from the columns, then only the typed columns are converted, one loop
        per type: a Python step per column costs more than the rest of the line.
        """
        fields = self.fields or []
        if self._typed is None:
            kinds = self.kinds if len(self.kinds) == len(fields) else ["str"] * len(fields)
            self._typed = [(n, k) for n, k in zip(fields, kinds, strict=True) if k != "str"]
            self._ints = [n for n, k in self._typed if k == "int"]
            self._floats = [n for n, k in self._typed if k == "float"]
            self._others = [(n, k) for n, k in self._typed if k not in ("int", "float")]
        record: Record = dict(zip(fields, values, strict=True))
        unset, empty = self.unset, self.empty
        for name in [n for n, v in record.items() if v in (unset, empty)]:
            del record[name]
        if escaped:
            for name, value in record.items():
                if "\\" in value:
                    record[name] = _unescape(value)
        get = record.get
        name = ""
        try:
            for name in self._ints:
                if (value := get(name)) is not None:
                    record[name] = int(value)
            for name in self._floats:
                if (value := get(name)) is not None:
                    record[name] = _finite(float(value))
        except ValueError:
            problem = f"column {name} is not a number: {str(record[name])[:40]!r}"
            raise InvalidInput(problem, field=name) from None
        for name, kind in self._others:
            value = get(name)
            if value is None:
                continue
            if kind == "bool":
                if value not in ("T", "F"):
                    raise InvalidInput(f"column {name} is not T or F: {value[:40]!r}", field=name)
                record[name] = value == "T"
            else:
                # A set's elements are escaped one by one; the value was not unescaped whole.
                raw = values[fields.index(name)] if escaped else value
                items = [_unescape(v) if "\\" in v else v for v in raw.split(self.set_separator)]
                record[name] = [_typed(name, kind[5:], v) for v in items] if kind[5:] else items
        return record


def _kind_of(zeek_type: str) -> str:
    """``int``, ``float``, ``bool``, ``str`` or ``list:<element kind>`` for a Zeek type."""
    if zeek_type in ("count", "int", "port"):
        return "int"
    if zeek_type in ("time", "interval", "double"):
        return "float"
    if zeek_type == "bool":
        return "bool"
    if zeek_type.startswith(("set[", "vector[")):
        inner = _kind_of(zeek_type[zeek_type.index("[") + 1 : -1])
        # Event lists hold text: numbers in a list are kept as their canonical text.
        return "list:" + (inner if inner in ("int", "float") else "")
    return "str"


def _finite(number: float) -> float:
    """``number``, refused (``ValueError``) when it is NaN or infinite: JSON has no such
    values, so the bus would carry another event than the one read."""
    if math.isfinite(number):
        return number
    raise ValueError(number)


def _typed(name: str, kind: str, value: str) -> int | float:
    """``value`` of column ``name`` read as a number of ``kind`` (``int`` or ``float``)."""
    try:
        number: int | float = int(value) if kind == "int" else _finite(float(value))
    except ValueError:
        raise InvalidInput(f"column {name} is not a number: {value[:40]!r}", field=name) from None
    return number


class ZeekTsv:
    """Zeek's native tab-separated logs (header lines, then one record a line)."""

    name = "zeek"

    def sniff(self, first_line: bytes) -> bool:
        """A first line ``#separator <sep>``."""
        return first_line.startswith(b"#separator ")

    def parse_lines(
        self, lines: Iterable[tuple[int, bytes]], *, received: str = ""
    ) -> Iterator[tuple[int, Event | str, bytes]]:
        """Events from the data lines; header lines set the columns; bad lines are errors."""
        header: _Header | None = None
        for number, line in lines:
            text = line.decode("utf-8", "replace").rstrip("\r\n")
            if text.startswith("#"):
                if text.startswith("#separator "):
                    separator = _directive_value(text[len("#separator ") :])
                    header = _Header(separator) if separator else None
                    if header is None:
                        yield number, "#separator names no separator", line
                    continue
                if header is None:
                    yield number, "header line before #separator", line
                    continue
                problem = self._directive(header, text)
                if problem:
                    yield number, problem, line
                continue
            if header is None or header.fields is None:
                yield number, "data line before the #fields header (or after #close)", line
                continue
            values = text.split(header.separator)
            if len(values) != len(header.fields):
                count = f"{len(values)} columns where #fields names {len(header.fields)}"
                yield number, f"{count} ({header.path or 'zeek'} log)", line
                continue
            try:
                record = header.record(values, "\\" in text)
                event = _event(record, header.path or log_type(record))
            except InvalidInput as exc:
                yield number, exc.message, line
                continue
            yield number, event, line

    @staticmethod
    def _directive(header: _Header, text: str) -> str | None:
        name, _, rest = text[1:].partition(header.separator)
        name = name.split(" ", 1)[0]  # "#open 2024-…" written with a space by some tools
        if name == "fields":
            header.set_fields(rest.split(header.separator))
        elif name == "types":
            kinds = rest.split(header.separator)
            if header.fields is not None and len(kinds) != len(header.fields):
                return f"#types names {len(kinds)} columns where #fields names {len(header.fields)}"
            header.set_types(kinds)
        elif name == "path":
            header.path = rest
        elif name == "set_separator":
            header.set_separator = _directive_value(rest) or ","
        elif name == "empty_field":
            header.empty = rest
        elif name == "unset_field":
            header.unset = rest
        elif name == "close":
            header.set_fields(None)
        return None


TEXT_SOURCES: tuple[ZeekTsv, ...] = (ZeekTsv(),)

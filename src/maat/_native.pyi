from collections.abc import Callable, Mapping
from typing import Any

API: int

def flat_windows(line: bytes, received: str, /) -> dict[str, Any] | None: ...
def flat_windows_lines(
    data: bytes, received: str, limit: int, offset: int, number: int, max_lines: int, /
) -> tuple[list[int], list[dict[str, Any] | bytes], list[int], int, int]: ...
def configure(
    *,
    meta: frozenset[str],
    decline: frozenset[str],
    prefix: str,
    nxlog_keys: tuple[str, ...],
    nxlog_types: frozenset[str],
    channels: dict[str, str],
    id_size: int,
    id_person: bytes,
    module: str,
    mapper: Callable[[str | None, str | None, int], tuple[Any, ...]],
) -> None: ...
def blake2b_hex(data: bytes, person: bytes, digest_size: int, /) -> str: ...
def blake2b_hex_many(
    messages: list[bytes], person: bytes, digest_size: int, portable: bool = False, /
) -> list[str]: ...
def lake_columns(
    events: list[Any], plan: tuple[tuple[str, int], ...], /
) -> list[tuple[bytearray | None, int, bytearray, bytearray | None]] | None: ...
def crc32(
    data: bytes | bytearray | memoryview, value: int = 0, portable: bool = False, /
) -> int: ...
def wire_events(events: list[Any], dumps: Callable[[Any], bytes], /) -> list[bytes | None]: ...
def wire_fields(messages: list[bytes], /) -> list[memoryview | None]: ...
def spool_parts(subject: str, messages: list[tuple[str, bytes]], /) -> list[bytes] | None: ...

class Prefilter:
    def __init__(
        self,
        keys: list[tuple[str, list[str]]],
        anchors: list[tuple[int, int]],
        always: list[int],
        clauses: list[list[list[list[int]]]],
        vetoes: list[list[int]],
        rules: list[Any],
    ) -> None: ...
    def __call__(self, event: dict[str, Any], low: Mapping[str, Any], /) -> list[Any]: ...

class Router:
    def __init__(
        self,
        buckets: dict[tuple[str, int | None], Prefilter],
        special: dict[str, frozenset[int]],
        make_low: Callable[[dict[str, Any]], Mapping[str, Any]],
    ) -> None: ...
    def __call__(self, event: dict[str, Any], /) -> list[Any] | None: ...
    def many(self, events: list[Any], /) -> tuple[list[int], list[list[Any] | None]]: ...

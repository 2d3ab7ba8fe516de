"""Files, folders and zip archives turned into ``(name, bytes)`` items, with size limits.

Zip members are checked before reading: absolute paths and ``..`` are refused, and the
uncompressed size is capped (a zip bomb is refused, not expanded).
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

from maat.errors import InvalidInput, MalformedRequest, PayloadTooLarge

DEFAULT_MAX_FILE = 64 << 20
DEFAULT_MAX_TOTAL = 16 << 30


def read_file(path: Path, *, max_bytes: int = DEFAULT_MAX_FILE) -> bytes:
    """The bytes of one file, refusing files over ``max_bytes``."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise PayloadTooLarge(
                f"{path} is {size} bytes, over the limit of {max_bytes}",
                hint="raise the limit in the configuration if the file is genuine",
            )
        return path.read_bytes()
    except FileNotFoundError:
        raise InvalidInput("file not found", file=str(path)) from None
    except IsADirectoryError:
        raise InvalidInput("expected a file, found a folder", file=str(path)) from None
    except PermissionError:
        raise InvalidInput("permission denied", file=str(path)) from None


def iter_items(
    path: Path,
    *,
    suffixes: tuple[str, ...] = (".json", ".yaml", ".yml"),
    max_file: int = DEFAULT_MAX_FILE,
    max_total: int = DEFAULT_MAX_TOTAL,
) -> Iterator[tuple[str, bytes]]:
    """Every matching file under ``path``: a file, a folder (recursively, sorted) or a zip."""
    if not path.exists():
        raise InvalidInput("no such file or folder", file=str(path))
    if path.is_dir():
        total = 0
        for item in sorted(p for p in path.rglob("*") if p.is_file()):
            if item.suffix.lower() in suffixes:
                data = read_file(item, max_bytes=max_file)
                total += len(data)
                if total > max_total:
                    raise PayloadTooLarge(f"{path} holds more than {max_total} bytes of feed data")
                yield str(item), data
            elif item.suffix.lower() == ".zip":
                yield from _zip_items(item, suffixes, max_file, max_total)
        return
    if zipfile.is_zipfile(path):
        yield from _zip_items(path, suffixes, max_file, max_total)
        return
    yield str(path), read_file(path, max_bytes=max_file)


def _zip_items(
    path: Path, suffixes: tuple[str, ...], max_file: int, max_total: int
) -> Iterator[tuple[str, bytes]]:
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise InvalidInput(f"not a readable zip archive: {exc}", file=str(path)) from None
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        total = sum(m.file_size for m in members)
        if total > max_total:
            raise PayloadTooLarge(f"{path} would expand to {total} bytes (limit {max_total})")
        for member in members:
            name = member.filename
            if name.startswith("/") or ".." in Path(name).parts:
                raise InvalidInput("unsafe member path in zip", file=str(path), field=name)
            if Path(name).suffix.lower() not in suffixes:
                continue
            if member.file_size > max_file:
                raise PayloadTooLarge(
                    f"{path}!{name} is {member.file_size} bytes (limit {max_file})"
                )
            with archive.open(member) as fh:
                data = fh.read(max_file + 1)
            if len(data) > max_file:  # the header lied about the size
                raise PayloadTooLarge(f"{path}!{name} is larger than its header says")
            yield f"{path}!{name}", data


def gunzip_bounded(body: bytes, limit: int, *, what: str, setting: str = "") -> bytes:
    """Inflate a gzip body of one or more members, refusing beyond ``limit`` bytes in all
    (a decompression bomb) and any trailing bytes that are not gzip."""
    parts: list[bytes] = []
    size = 0
    rest = body
    while rest:
        inflater = zlib.decompressobj(wbits=31)
        try:
            data = inflater.decompress(rest, limit - size + 1)
        except zlib.error as exc:
            raise MalformedRequest(f"{what} is corrupt gzip: {exc}") from exc
        size += len(data)
        if size > limit or inflater.unconsumed_tail:
            raise PayloadTooLarge(
                f"{what} inflates beyond {limit:,} bytes" + (f" ({setting})" if setting else "")
            )
        if not inflater.eof:
            raise MalformedRequest(f"{what} is truncated gzip")
        parts.append(data)
        rest = inflater.unused_data  # the next member, as pigz and appending agents write
    return b"".join(parts)

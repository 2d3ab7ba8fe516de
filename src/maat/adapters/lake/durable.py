"""File-system primitives of the lake: durable writes, hashing, walking the partitions.

Durable means written under a temporary name, fsynced, renamed into place and the directory
fsynced: after a crash the file is either absent or whole. Tests replace :func:`write_all` to
simulate a full disk.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path

from maat.errors import Unavailable

__all__ = [
    "fsync_dir_quietly",
    "hash_tree",
    "partition_files",
    "printable",
    "remove_empty_dirs",
    "remove_quietly",
    "sha256_of",
    "truncate_quietly",
    "why",
    "write_all",
    "write_durably",
]

_CHUNK = 1024 * 1024


def write_all(fd: int, data: bytes | memoryview) -> None:
    """Write all of ``data`` to ``fd`` (``os.write`` may write less than asked)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def write_durably(path: Path, data: bytes | memoryview) -> None:
    """Write ``data`` to ``path``: temp name, fsync, rename, fsync the directory.

    A new partition directory is created 0700 and its parents fsynced, so the file's
    directory entries survive a crash too. Raises ``OSError``; the temp file is removed.
    """
    directory = path.parent
    if not directory.is_dir():
        for level in (directory.parent, directory):  # day=…, then module=…, each 0700
            if not level.is_dir():
                level.mkdir(mode=0o700, exist_ok=True)
                fsync_dir_quietly(level.parent)
    temp = directory / f".{path.name}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        try:
            write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(temp, path)
    except OSError:
        remove_quietly([temp])
        raise
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir_quietly(directory: Path) -> None:
    """fsync a directory, ignoring failure (used where the data itself is already safe)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        return
    finally:
        os.close(fd)


def truncate_quietly(fd: int, length: int) -> None:
    """Cut ``fd`` back to ``length`` after a failed append, ignoring failure."""
    try:
        os.ftruncate(fd, length)
        os.fsync(fd)
    except OSError:
        return  # recovery at the next open drops the torn line instead


def remove_quietly(paths: Sequence[Path]) -> None:
    """Delete ``paths``; one that cannot be deleted is left for the next recovery."""
    for path in paths:
        try:
            path.unlink()
        except OSError:
            continue


def sha256_of(path: Path) -> str | None:
    """The SHA-256 of a regular file, ``None`` for a link or anything not a regular file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENXIO):
            return None
        raise Unavailable(f"cannot read {path}: {why(exc)}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        digest = hashlib.sha256()
        while chunk := os.read(fd, _CHUNK):
            digest.update(chunk)
        return digest.hexdigest()
    except OSError as exc:
        raise Unavailable(f"cannot read {path}: {why(exc)}") from None
    finally:
        os.close(fd)


def hash_tree(root: Path, skip: frozenset[str]) -> dict[str, str | None]:
    """Every file under ``root`` but those in ``skip``, by relative posix path, with its
    SHA-256 (``None`` for links and special files). Linked directories are listed, not
    entered."""
    present: dict[str, str | None] = {}

    def fail(exc: OSError) -> None:
        raise Unavailable(f"cannot walk the lake: {why(exc)}")

    for dirpath, dirnames, filenames in os.walk(root, onerror=fail):
        base = Path(dirpath)
        for name in list(dirnames):
            if (base / name).is_symlink():
                dirnames.remove(name)
                present[printable((base / name).relative_to(root).as_posix())] = None
        for name in filenames:
            path = base / name
            rel = path.relative_to(root).as_posix()
            if rel not in skip:
                present[printable(rel)] = sha256_of(path)
    return present


def printable(name: str) -> str:
    """``name`` as text that can be printed and written as JSON: a name that is not UTF-8
    (kept by Python as lone surrogates) shows its bytes as ``\\xNN``. Never a listed name
    (those are ASCII), so an inserted file stays inserted."""
    try:
        name.encode("utf-8")
        return name
    except UnicodeEncodeError:
        return os.fsencode(name).decode("utf-8", "backslashreplace")


def _partition_dirs(root: Path) -> Iterator[tuple[Path, list[Path]]]:
    for day_dir in list(root.iterdir()):
        if day_dir.name.startswith("day=") and day_dir.is_dir() and not day_dir.is_symlink():
            modules = [m for m in day_dir.iterdir() if m.is_dir() and not m.is_symlink()]
            yield day_dir, modules


def partition_files(root: Path) -> list[tuple[str, Path]]:
    """Regular files in ``day=*/module=*/`` directories, not following links."""
    found: list[tuple[str, Path]] = []
    try:
        for _, module_dirs in _partition_dirs(root):
            for module_dir in module_dirs:
                for path in module_dir.iterdir():
                    if path.is_file() and not path.is_symlink():
                        found.append((path.relative_to(root).as_posix(), path))
    except OSError as exc:
        raise Unavailable(f"cannot list the lake: {why(exc)}") from None
    return found


def remove_empty_dirs(root: Path) -> None:
    """Remove partition directories left empty by retention or recovery."""
    try:
        for day_dir, module_dirs in _partition_dirs(root):
            for module_dir in module_dirs:
                _rmdir_quietly(module_dir)
            _rmdir_quietly(day_dir)
    except OSError:
        return  # tidiness only: an empty directory left behind is harmless
    fsync_dir_quietly(root)


def _rmdir_quietly(path: Path) -> None:
    try:
        path.rmdir()
    except OSError:
        return  # not empty, or gone


def why(exc: OSError) -> str:
    """A short reason for an I/O error, naming a full disk plainly."""
    if exc.errno == errno.ENOSPC:
        return "the disk is full"
    return exc.strerror or str(exc)

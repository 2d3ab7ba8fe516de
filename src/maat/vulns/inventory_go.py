"""Go module inventories: ``go.mod`` and ``go.sum``."""

from __future__ import annotations

import re

import orjson

from maat.vulns.inventory_model import Collector, InventoryPackage, quote, text_lines

__all__ = ["parse_gomod", "parse_gosum"]

_GO_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|`[^`]*`|//.*|(?:[^\s"`/]|/(?!/))+')
_GO_VERSION = re.compile(r"v\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?")
_GO_PATH = re.compile(r"[A-Za-z0-9._~+-]+(?:/[A-Za-z0-9._~+-]+)*")
_GO_IGNORED = frozenset({"go", "toolchain", "godebug", "exclude", "retract", "tool", "ignore"})
_GO_VERBS = _GO_IGNORED | {"module", "require", "replace"}


def _go_tokens(line: str) -> list[str]:
    tokens: list[str] = []
    for token in _GO_TOKEN.findall(line):
        if token.startswith("//"):
            break
        if token.startswith("`"):
            token = token[1:-1]
        elif token.startswith('"'):
            try:
                token = str(orjson.loads(token))
            except orjson.JSONDecodeError:
                token = token[1:-1]
        tokens.append(token)
    return tokens


def _add_go(path: str, version: str, collector: Collector, line: int) -> None:
    namespace, _, name = path.rpartition("/")
    collector.add(
        InventoryPackage(
            name=path,
            version=version.removeprefix("v"),
            ecosystem="Go",
            purl=collector.purl(
                "golang", name, namespace=namespace or None, version=version, line=line
            ),
            source_name=None,
            arch=None,
            location=collector.where(line),
        )
    )


def _go_module(path: str, version: str | None, line: int, collector: Collector) -> bool:
    if not _GO_PATH.fullmatch(path):
        collector.problem(f"not a module path: {quote(path)}; skipped", line=line)
        return False
    if version is not None and not _GO_VERSION.fullmatch(version):
        collector.problem(f"{path}: not a module version: {quote(version)}; skipped", line=line)
        return False
    return True


def parse_gomod(data: bytes, collector: Collector) -> None:
    """Modules required by a ``go.mod`` (single lines and blocks, ``// indirect`` included),
    with ``replace`` directives applied: a replacement by another module version takes its
    path and version; a replacement by a local directory is reported and skipped."""
    requires: list[tuple[str, str, int]] = []
    replaces: dict[tuple[str, str | None], tuple[str, str | None]] = {}
    block: str | None = None
    block_line = 0

    def directive(verb: str, args: list[str], line: int) -> None:
        if verb == "require":
            if len(args) != 2:
                collector.problem("expected 'require <module> <version>'; skipped", line=line)
            elif _go_module(args[0], args[1], line, collector):
                requires.append((args[0], args[1], line))
        elif verb == "replace":
            arrow = args.index("=>") if "=>" in args else -1
            old, new = args[:arrow], args[arrow + 1 :]
            if arrow < 0 or len(old) not in (1, 2) or len(new) not in (1, 2):
                collector.problem(
                    "expected 'replace <module> [<version>] => <module> <version> | <dir>'; "
                    "ignored",
                    line=line,
                )
                return
            old_version = old[1] if len(old) == 2 else None
            new_version = new[1] if len(new) == 2 else None
            if not _go_module(old[0], old_version, line, collector):
                return
            if new_version is not None and not _go_module(new[0], new_version, line, collector):
                return
            replaces[(old[0], old_version)] = (new[0], new_version)
        elif verb == "module":
            if len(args) != 1:
                collector.problem("expected 'module <path>'", line=line)
        elif verb not in _GO_IGNORED:
            collector.problem(f"unknown directive {quote(verb)}; ignored", line=line)

    for number, raw in text_lines(data, collector):
        tokens = _go_tokens(raw)
        if not tokens:
            continue
        if block is not None:
            if tokens == [")"]:
                block = None
            else:
                directive(block, tokens, number)
            continue
        if tokens[1:] == ["("]:
            if tokens[0] not in _GO_VERBS:
                collector.problem(f"unknown directive {quote(tokens[0])}; ignored", line=number)
            block, block_line = tokens[0], number
            continue
        directive(tokens[0], tokens[1:], number)
    if block is not None:
        collector.problem(f"'{block} (' block is not closed", line=block_line)
    for path, version, line in requires:
        replacement = replaces.get((path, version)) or replaces.get((path, None))
        if replacement is None:
            _add_go(path, version, collector, line)
        elif replacement[1] is None:
            collector.problem(
                f"{path} {version} is replaced by the directory {quote(replacement[0])}, whose "
                "version is unknown; skipped",
                line=line,
            )
        else:
            _add_go(replacement[0], replacement[1], collector, line)


def parse_gosum(data: bytes, collector: Collector) -> None:
    """Modules whose content a ``go.sum`` records (``<module> <version> h1:<hash>``).

    Lines for a module's ``go.mod`` only (``<version>/go.mod``) are left out: the module's
    code was not used. go.sum can still list versions the build no longer selects; go.mod
    is the better source when available.
    """
    for number, raw in text_lines(data, collector):
        columns = raw.split()
        if not columns:
            continue
        if len(columns) != 3 or not columns[2].startswith("h1:"):
            collector.problem(
                f"expected '<module> <version> h1:<hash>': {quote(raw)}; skipped", line=number
            )
            continue
        path, version = columns[0], columns[1]
        if version.endswith("/go.mod"):
            continue
        if _go_module(path, version, number, collector):
            _add_go(path, version, collector, number)

"""Language package inventories: pip, requirements.txt and package-lock.json."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

import orjson

from maat.errors import InvalidInput
from maat.vulns.inventory_model import (
    Collector,
    InventoryPackage,
    LineFinder,
    load_json,
    quote,
    text_lines,
)

__all__ = [
    "parse_npm",
    "parse_pip",
    "parse_requirements",
    "pep503_name",
]


# --------------------------------------------------------------------------------------------
# Python
# --------------------------------------------------------------------------------------------

_PY_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")
_PEP440 = re.compile(
    r"""
    v?(?:[0-9]+!)?[0-9]+(?:\.[0-9]+)*
    (?:[-_.]?(?:a|b|c|rc|alpha|beta|pre|preview)[-_.]?[0-9]*)?
    (?:-[0-9]+|[-_.]?(?:post|rev|r)[-_.]?[0-9]*)?
    (?:[-_.]?dev[-_.]?[0-9]*)?
    (?:\+[a-z0-9]+(?:[-_.][a-z0-9]+)*)?
    """,
    re.VERBOSE | re.IGNORECASE,
)


def pep503_name(name: str) -> str:
    """The PEP 503 normalised form of a Python project name (``Zope.Interface`` →
    ``zope-interface``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _add_pypi(
    name: str, version: str, collector: Collector, line: int | None, field: str | None
) -> None:
    normalised = pep503_name(name)
    collector.add(
        InventoryPackage(
            name=normalised,
            version=version,
            ecosystem="PyPI",
            purl=collector.purl("pypi", normalised, version=version, line=line, field=field),
            source_name=None,
            arch=None,
            location=collector.where(line, field),
        )
    )


def _pip_entry(
    name: object, version: object, collector: Collector, line: int | None, field: str | None
) -> None:
    if not isinstance(name, str) or not _PY_NAME.fullmatch(name):
        collector.problem(
            f"not a Python project name: {name!r:.80}; skipped", line=line, field=field
        )
        return
    if not isinstance(version, str) or not version.strip() or any(c.isspace() for c in version):
        collector.problem(
            f"{name}: not a version: {version!r:.80}; skipped", line=line, field=field
        )
        return
    _add_pypi(name, version, collector, line, field)


def parse_pip(data: bytes, collector: Collector) -> None:
    """Packages of ``pip list --format=json`` output (also the default column format)."""
    if data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith((b"[", b"{")):
        value = load_json(data, collector.source)
        if not isinstance(value, list):
            raise InvalidInput(
                "expected a JSON array (pip list --format=json)", file=collector.source
            )
        for index, entry in enumerate(value):
            field = f"[{index}]"
            if not isinstance(entry, dict):
                collector.problem("expected an object with name and version; skipped", field=field)
                continue
            _pip_entry(entry.get("name"), entry.get("version"), collector, None, field)
        return
    header_seen = False
    for number, raw in text_lines(data, collector):
        columns = raw.split()
        if not columns:
            continue
        if not header_seen and columns[:2] == ["Package", "Version"]:
            header_seen = True
            continue
        if all(set(c) == {"-"} for c in columns):
            continue
        if len(columns) < 2:
            collector.problem(f"expected a name and a version: {quote(raw)}; skipped", line=number)
            continue
        _pip_entry(columns[0], columns[1], collector, number, None)


_OPTION = re.compile(r"(-[A-Za-z]|--[A-Za-z][A-Za-z0-9-]*)(?:\s*=\s*|\s+)?(.*)")
_REQ_OPTION_START = re.compile(r"\s+--?[A-Za-z]")
_NAMED = re.compile(
    r"(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(?P<extras>\[[^\]]*\])?\s*(?P<rest>.*)",
    re.DOTALL,
)
_SPECIFIER = re.compile(r"(===|==|~=|!=|<=|>=|<|>)\s*([^\s=<>!~]\S*)")
_ARCHIVE = (".whl", ".tar.gz", ".zip", ".tar.bz2", ".tgz")


def _logical_lines(lines: Iterable[tuple[int, str]]) -> Iterator[tuple[int, str]]:
    """Lines joined at trailing backslashes, each numbered by its first physical line."""
    parts: list[str] = []
    start = 0
    for number, line in lines:
        if not parts:
            start = number
        if line.endswith("\\"):
            parts.append(line[:-1])
            continue
        parts.append(line)
        yield start, " ".join(parts)
        parts = []
    if parts:
        yield start, " ".join(parts)


def _requirement_option(text: str, line: int, collector: Collector) -> None:
    match = _OPTION.match(text)
    option, argument = (match.group(1), match.group(2).strip()) if match else (text, "")
    if option in ("-r", "--requirement"):
        collector.problem(
            f"includes {argument!r}, which is not read here (pass each requirements file); skipped",
            line=line,
        )
    elif option in ("-c", "--constraint"):
        collector.problem(
            f"constraints file {argument!r} limits versions but installs nothing; not read",
            line=line,
        )
    elif option in ("-e", "--editable"):
        collector.problem(
            f"editable requirement {argument!r} is installed from source with no pinned "
            "version; skipped",
            line=line,
        )
    else:
        collector.problem(f"option {option} is not a package; ignored", line=line)


def _requirement(text: str, line: int, collector: Collector) -> None:
    cut = _REQ_OPTION_START.search(text)
    if cut is not None:  # per-requirement options: --hash=..., --config-settings ...
        text = text[: cut.start()]
    requirement, _, marker = text.partition(";")
    requirement, marker = requirement.strip(), marker.strip()
    if (
        "://" in requirement.split("@", 1)[-1]
        or requirement.startswith((".", "/", "~", "file:"))
        or requirement.endswith(_ARCHIVE)
    ):
        collector.problem(
            f"{quote(requirement)} is installed from a URL or path, with no pinned version; "
            "skipped",
            line=line,
        )
        return
    named = _NAMED.fullmatch(requirement)
    if named is None:
        collector.problem(f"not a requirement: {quote(requirement)}; skipped", line=line)
        return
    name, rest = named.group("name"), named.group("rest").strip()
    if rest.startswith("@"):
        collector.problem(
            f"{name} is installed from {quote(rest[1:].strip())}, with no pinned version; skipped",
            line=line,
        )
        return
    if rest.startswith("(") and rest.endswith(")"):
        rest = rest[1:-1].strip()
    specifiers = [s.strip() for s in rest.split(",")] if rest else []
    parsed = [_SPECIFIER.fullmatch(s) for s in specifiers]
    bad = next((s for s, m in zip(specifiers, parsed, strict=True) if m is None), None)
    if bad is not None:
        collector.problem(f"{name}: not a version specifier: {quote(bad)}; skipped", line=line)
        return
    pins = [m for m in parsed if m is not None and m.group(1) in ("==", "===")]
    if len(pins) != 1 or (pins[0].group(1) == "==" and "*" in pins[0].group(2)):
        shown = rest or "no version"
        collector.problem(f"{name}: not pinned to one exact version ({shown}); skipped", line=line)
        return
    operator, version = pins[0].group(1), pins[0].group(2)
    if operator == "==" and not _PEP440.fullmatch(version):
        collector.problem(f"{name}: not a PEP 440 version: {quote(version)}; skipped", line=line)
        return
    if marker:
        collector.problem(
            f"{name}=={version} applies only where {quote(marker)} holds, which cannot be "
            "evaluated here; skipped",
            line=line,
        )
        return
    _add_pypi(name, version, collector, line, None)


def parse_requirements(data: bytes, collector: Collector) -> None:
    """Packages pinned with ``==`` (or ``===``) in a requirements file.

    Every other line that is not blank or a comment is reported as a problem: ranges and
    unpinned names, URL and path requirements, ``-r``/``-c``/``-e`` and other options, and
    pins behind an environment marker (which cannot be evaluated for the host here).
    ``--hash`` options and extras are accepted and ignored.
    """
    for number, logical in _logical_lines(text_lines(data, collector)):
        text = re.sub(r"(?:^|\s)#.*", "", logical).strip()
        if not text:
            continue
        if text.startswith("-"):
            _requirement_option(text, number, collector)
        else:
            _requirement(text, number, collector)


# --------------------------------------------------------------------------------------------
# npm
# --------------------------------------------------------------------------------------------

_NPM_NAME = re.compile(r"(?:@[A-Za-z0-9._~-]+/)?[A-Za-z0-9._~-]+")
_SEMVER = re.compile(r"\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?")


def _add_npm(name: str, version: str, collector: Collector, line: int | None, field: str) -> None:
    if version.startswith("npm:"):  # alias: "npm:real-name@1.2.3"
        name, _, version = version[4:].rpartition("@")
    if not _NPM_NAME.fullmatch(name):
        collector.problem(
            f"not an npm package name: {quote(name)}; skipped", line=line, field=field
        )
        return
    if not _SEMVER.fullmatch(version):
        collector.problem(
            f"{name}: {quote(version)} is not a registry version (git, file or URL "
            "dependency?); skipped",
            line=line,
            field=field,
        )
        return
    scope, _, bare = name.rpartition("/")
    collector.add(
        InventoryPackage(
            name=name,
            version=version,
            ecosystem="npm",
            purl=collector.purl(
                "npm", bare, namespace=scope or None, version=version, line=line, field=field
            ),
            source_name=None,
            arch=None,
            location=collector.where(line, field),
        )
    )


def _npm_packages(packages: dict[str, Any], finder: LineFinder, collector: Collector) -> None:
    finder.line_of(b'"packages"')
    for key, entry in packages.items():
        if key == "":
            continue  # the project itself
        line = finder.line_of(orjson.dumps(key) + b":")
        field = f"packages[{key!r}]"
        if not isinstance(entry, dict):
            collector.problem("expected an object; skipped", line=line, field=field)
            continue
        if entry.get("link") is True:
            continue  # a symlink to a folder entry listed on its own
        marker = key.rfind("node_modules/")
        if marker < 0:
            continue  # a workspace or local folder: the project's own code
        name = entry.get("name")
        if not isinstance(name, str) or not name:
            name = key[marker + len("node_modules/") :]
        version = entry.get("version")
        if not isinstance(version, str) or not version:
            collector.problem(f"{name}: no version; skipped", line=line, field=field)
            continue
        _add_npm(name, version, collector, line, field)


def _npm_dependencies(
    dependencies: dict[str, Any], finder: LineFinder, collector: Collector
) -> None:
    """Lockfile v1: a tree of ``dependencies`` objects, walked in file order."""
    stack: list[tuple[Iterator[tuple[str, Any]], str]] = [
        (iter(dependencies.items()), "dependencies")
    ]
    while stack:
        items, prefix = stack[-1]
        item = next(items, None)
        if item is None:
            stack.pop()
            continue
        name, entry = item
        quoted = orjson.dumps(name)
        line = finder.line_of(quoted + b": {", quoted + b":{")
        field = f"{prefix}[{name!r}]"
        if not isinstance(entry, dict):
            collector.problem("expected an object; skipped", line=line, field=field)
            continue
        version = entry.get("version")
        if not isinstance(version, str) or not version:
            collector.problem(f"{name}: no version; skipped", line=line, field=field)
        else:
            _add_npm(name, version, collector, line, field)
        children = entry.get("dependencies")
        if isinstance(children, dict):
            stack.append((iter(children.items()), f"{field}.dependencies"))


def parse_npm(data: bytes, collector: Collector) -> None:
    """Packages of a ``package-lock.json`` (or ``npm-shrinkwrap.json``), lockfile versions
    1, 2 and 3: the ``packages`` map when present (root, workspace folders and links left
    out), else the v1 ``dependencies`` tree. Each name and version is listed once."""
    document = load_json(data, collector.source)
    if not isinstance(document, dict):
        raise InvalidInput("expected a JSON object (package-lock.json)", file=collector.source)
    lockfile_version = document.get("lockfileVersion")
    packages, dependencies = document.get("packages"), document.get("dependencies")
    if lockfile_version not in (1, 2, 3):
        if not isinstance(packages, dict) and not isinstance(dependencies, dict):
            raise InvalidInput(
                "not a package-lock.json: no lockfileVersion, packages or dependencies",
                file=collector.source,
            )
        collector.problem(
            f"lockfileVersion {lockfile_version!r:.20} is not 1, 2 or 3; read as far as understood",
            field="lockfileVersion",
        )
    finder = LineFinder(data)
    if isinstance(packages, dict):
        _npm_packages(packages, finder, collector)
    elif isinstance(dependencies, dict):
        _npm_dependencies(dependencies, finder, collector)

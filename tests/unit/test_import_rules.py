"""The dependency rule: capability packages are pure (no adapters, frameworks, files, sockets).

Capability packages are every subpackage of ``maat`` except the wiring and delivery layers
below; a new capability package is covered as soon as its directory exists.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import maat

MAAT_DIR = Path(maat.__file__).parent
SRC_DIR = MAAT_DIR.parent

NOT_CAPABILITIES = {"adapters", "api", "cli", "services", "web", "agent", "scenario"}

FORBIDDEN_MODULES = (
    "maat.adapters",
    "maat.api",
    "maat.cli",
    "maat.services",
    "maat.web",
    "maat.agent",
    "sqlalchemy",
    "alembic",
    "fastapi",
    "starlette",
    "httpx",
    "uvicorn",
    "psycopg",
    "requests",
    "socket",
    "urllib.request",
    "http.client",
    "nats",
    "duckdb",
    "pkcs11",
)
FORBIDDEN_BUILTIN_CALLS = {"open"}
FORBIDDEN_METHOD_CALLS = {"read_text", "read_bytes", "write_text", "write_bytes", "mkdir", "unlink"}
DYNAMIC_IMPORTERS = {"__import__", "import_module"}


def capability_packages() -> list[str]:
    return sorted(
        p.name
        for p in MAAT_DIR.iterdir()
        if p.is_dir()
        and (p / "__init__.py").is_file()
        and not p.name.startswith(("_", "."))
        and p.name not in NOT_CAPABILITIES
    )


def _forbidden(module: str) -> str | None:
    for name in FORBIDDEN_MODULES:
        if module == name or module.startswith(name + "."):
            return name
    return None


def _resolve(node: ast.ImportFrom, package: str) -> str:
    """The absolute module a (possibly relative) ``from ... import`` names."""
    if node.level == 0:
        return node.module or ""
    parts = package.split(".")
    base = parts[: len(parts) - (node.level - 1)] if node.level > 1 else parts
    return ".".join([*base, node.module] if node.module else base)


def violations(source: str, filename: str, package: str) -> list[str]:
    """Each breach of the rule in ``source`` as ``file:line: what``.

    ``package`` is the package the file belongs to (for relative imports): ``maat.auth`` for
    ``maat/auth/totp.py`` and for ``maat/auth/__init__.py``.
    """
    tree = ast.parse(source, filename=filename)
    found: list[tuple[int, int, str]] = []

    def report(node: ast.expr | ast.stmt, what: str) -> None:
        found.append((node.lineno, node.col_offset, f"{filename}:{node.lineno}: {what}"))

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if rule := _forbidden(alias.name):
                    report(node, f"imports {alias.name} (forbidden: {rule})")
        elif isinstance(node, ast.ImportFrom):
            module = _resolve(node, package)
            candidates = [module, *(f"{module}.{a.name}" for a in node.names)]
            for candidate in candidates:
                if rule := _forbidden(candidate):
                    report(node, f"imports {candidate} (forbidden: {rule})")
                    break
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in FORBIDDEN_BUILTIN_CALLS:
                report(node, f"calls {func.id}() (I/O belongs in adapters)")
            elif isinstance(func, ast.Attribute) and func.attr in FORBIDDEN_METHOD_CALLS:
                report(node, f"calls .{func.attr}() (I/O belongs in adapters)")
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if (
                name in DYNAMIC_IMPORTERS
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
                and (rule := _forbidden(node.args[0].value))
            ):
                report(node, f"imports {node.args[0].value} dynamically (forbidden: {rule})")
    return [text for _, _, text in sorted(found)]


def _package_of(path: Path) -> str:
    relative = path.relative_to(SRC_DIR).with_suffix("")
    parts = list(relative.parts)
    return ".".join(parts[:-1])


def _files(package: str) -> list[Path]:
    return sorted((MAAT_DIR / package).rglob("*.py"))


# --- the rule applied to the code -----------------------------------------------------------


def test_capability_packages_are_discovered_from_the_filesystem() -> None:
    packages = capability_packages()
    assert {"core", "auth", "audit"} <= set(packages)
    assert not set(packages) & NOT_CAPABILITIES


@pytest.mark.parametrize("package", capability_packages())
def test_capability_package_does_not_reach_adapters_frameworks_or_io(package: str) -> None:
    files = _files(package)
    assert files, f"maat.{package} has no Python files"
    found: list[str] = []
    for path in files:
        found += violations(
            path.read_text(encoding="utf-8"), str(path.relative_to(SRC_DIR)), _package_of(path)
        )
    assert not found, "the dependency rule is broken:\n" + "\n".join(found)


# --- the checker itself (so the rule cannot pass by checking nothing) ----------------------


BAD_SOURCE = """\
import os
import sqlalchemy.orm
from maat.adapters.storage import store
from maat import services
from ..api import app
from . import helpers
from urllib import request
from urllib.parse import quote
import http.client as hc
from pathlib import Path

def leak(path: Path) -> bytes:
    with open(path, "rb") as fh:
        data = fh.read()
    path.write_text("x")
    Path("d").mkdir()
    __import__("socket")
    return data
"""


def test_checker_reports_each_violation_with_file_and_line() -> None:
    found = violations(BAD_SOURCE, "maat/vendors/bad.py", "maat.vendors")
    assert found == [
        "maat/vendors/bad.py:2: imports sqlalchemy.orm (forbidden: sqlalchemy)",
        "maat/vendors/bad.py:3: imports maat.adapters.storage (forbidden: maat.adapters)",
        "maat/vendors/bad.py:4: imports maat.services (forbidden: maat.services)",
        "maat/vendors/bad.py:5: imports maat.api (forbidden: maat.api)",
        "maat/vendors/bad.py:7: imports urllib.request (forbidden: urllib.request)",
        "maat/vendors/bad.py:9: imports http.client (forbidden: http.client)",
        "maat/vendors/bad.py:13: calls open() (I/O belongs in adapters)",
        "maat/vendors/bad.py:15: calls .write_text() (I/O belongs in adapters)",
        "maat/vendors/bad.py:16: calls .mkdir() (I/O belongs in adapters)",
        "maat/vendors/bad.py:17: imports socket dynamically (forbidden: socket)",
    ]


def test_checker_resolves_relative_imports_from_a_nested_module() -> None:
    source = "from ...adapters import storage\nfrom .. import helpers\nfrom ... import cli\n"
    found = violations(source, "maat/vendors/sub/mod.py", "maat.vendors.sub")
    assert found == [
        "maat/vendors/sub/mod.py:1: imports maat.adapters (forbidden: maat.adapters)",
        "maat/vendors/sub/mod.py:3: imports maat.cli (forbidden: maat.cli)",
    ]


def test_checker_does_not_confuse_prefixes() -> None:
    source = (
        "import requests_toolbelt\nimport socketserver_like\nfrom maat.apiary import x\n"
        "from urllib.parse import quote\nfrom http import HTTPStatus\nimport maat.auditx\n"
    )
    assert violations(source, "m.py", "maat.vendors") == []


def test_checker_allows_pure_code() -> None:
    source = (
        "import hmac\nfrom maat.errors import InvalidInput\nfrom maat.core import Digest\n"
        "def f(box):\n    return box.open(b'x')\n"
    )
    assert violations(source, "m.py", "maat.vendors") == []


@pytest.mark.parametrize(
    "line",
    [
        "import socket",
        "import fastapi",
        "from starlette.requests import Request",
        "import httpx",
        "import uvicorn",
        "import psycopg",
        "import requests",
        "import alembic.op",
        "import nats.js",
        "import duckdb",
        "import pkcs11",
        "from maat.web import console",
        "from maat.agent import main",
        "from maat.cli.main import app",
        "x = p.read_bytes()",
        "p.unlink()",
        "y = p.read_text()",
        "p.write_bytes(b'')",
        "import importlib\nimportlib.import_module('duckdb')",
    ],
)
def test_checker_catches_each_forbidden_item(line: str) -> None:
    assert violations(line + "\n", "m.py", "maat.vendors"), line

"""maat.core is pure: it imports only the stdlib, packageurl and maat.errors / maat.core."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import maat.core

CORE = Path(maat.core.__file__).parent
FORBIDDEN_CALLS = {"open", "socket", "urlopen"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _allowed(module: str) -> bool:
    top = module.split(".")[0]
    if module == "maat.errors" or module == "maat.core" or module.startswith("maat.core."):
        return True
    return top == "packageurl" or top in sys.stdlib_module_names


def test_core_imports_only_allowed_modules() -> None:
    files = sorted(CORE.glob("*.py"))
    assert files
    for path in files:
        bad = sorted(m for m in _imports(path) if not _allowed(m))
        assert not bad, f"{path.name} imports {bad}"


def test_core_does_no_io() -> None:
    for path in sorted(CORE.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in FORBIDDEN_CALLS, f"{path.name} calls {node.func.id}"
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names]
                module = getattr(node, "module", None) or ""
                assert not {"socket", "subprocess", "pathlib"} & {module, *names}, path.name

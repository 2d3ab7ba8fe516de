"""Reading data files (policies, questionnaires, answers) from YAML with located problems.

The YAML is composed, never constructed (PyYAML's safe composer): each node is checked for
plain tags and no aliases, mappings for unknown, duplicate and missing keys, and every
problem is collected with the file, the line and the key path (``questions[2].weigth``), so
one pass reports them all.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import yaml

from maat.errors import Problem

__all__ = ["YamlReader", "compose"]

_STD_TAG = "tag:yaml.org,2002:"
# libyaml's composer when PyYAML has it (same nodes and marks, about ten times faster).
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_BOOLEANS = ("true", "false", "yes", "no", "on", "off")
_PLAIN_TAGS = frozenset({"str", "int", "float", "bool", "null", "timestamp", "seq", "map"})
# The numbers every reader agrees on. YAML 1.1 (PyYAML) also resolves 0x384, 0b1, 1:30
# (sexagesimal: 90), 010 (octal: 8), .inf and .nan as numbers: Python's float() reads none of
# them, and YAML 1.2 reads 1:30 as text and 010 as ten.
_INTEGER = re.compile(r"[-+]?[0-9][0-9_]*")
_DECIMAL = re.compile(r"[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)?")
OCTAL_LOOKING = re.compile(r"[-+]?0[0-9_]*[0-9]")


def compose(
    text: str, *, source: str, max_chars: int, what: str = "the file"
) -> tuple[yaml.Node | None, list[Problem]]:
    """The YAML node tree of ``text`` (None and the problem when it is too large, not YAML
    or empty); ``what`` names the document in those problems."""
    if len(text) > max_chars:
        return None, [Problem.at(f"{what} is larger than {max_chars} characters", file=source)]
    try:
        root = yaml.compose(text, Loader=_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        return None, [Problem.at(f"not valid YAML: {problem}", file=source, line=line)]
    if root is None:
        return None, [Problem.at(f"{what} is empty", file=source)]
    return root, []


class YamlReader:
    """Walks a composed YAML tree, converting nodes and collecting located problems."""

    def __init__(self, source: str, *, max_text: int = 1_000, what: str = "this file") -> None:
        self.source = source
        self.max_text = max_text
        self.what = what
        self.problems: list[Problem] = []
        self.seen: set[int] = set()

    def problem(self, node: yaml.Node | None, path: str, message: str) -> None:
        """Record a problem at ``node`` (its line) and ``path``."""
        line = node.start_mark.line + 1 if node is not None else None
        self.problems.append(Problem.at(message, file=self.source, line=line, field=path or None))

    def visit(self, node: yaml.Node, path: str) -> bool:
        """False (with a problem) for an alias or a non-plain tag."""
        if id(node) in self.seen:
            self.problem(node, path, f"YAML aliases (*name) are not allowed in {self.what}")
            return False
        self.seen.add(id(node))
        if node.tag.removeprefix(_STD_TAG) not in _PLAIN_TAGS:
            self.problem(node, path, f"unsupported YAML tag {node.tag[:40]!r}")
            return False
        return True

    def mapping(
        self, node: yaml.Node, path: str, required: Sequence[str], optional: Sequence[str]
    ) -> dict[str, tuple[yaml.Node, str]] | None:
        """Keys to ``(value node, key path)``; unknown, duplicate and missing keys reported."""
        if not self.visit(node, path):
            return None
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, path, "must be a mapping")
            return None
        out: dict[str, tuple[yaml.Node, str]] = {}
        allowed = [*required, *optional]
        for key_node, value_node in node.value:
            key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "?"
            where = f"{path}.{key}" if path else key
            if key in out:
                self.problem(key_node, where, f"duplicate key {key!r}")
            elif key not in allowed:
                self.problem(
                    key_node,
                    where,
                    f"unknown key {key[:40]!r}; expected one of {', '.join(allowed)}",
                )
            else:
                out[key] = (value_node, where)
        for key in required:
            if key not in out:
                self.problem(node, f"{path}.{key}" if path else key, f"missing key {key!r}")
        return out

    def text(self, node: yaml.Node, path: str) -> str | None:
        """A non-empty text value of at most ``max_text`` characters."""
        if not self.visit(node, path):
            return None
        if not isinstance(node, yaml.ScalarNode) or node.tag == _STD_TAG + "null":
            self.problem(node, path, "must be a text value")
            return None
        value = str(node.value)
        if not value.strip() or len(value) > self.max_text:
            self.problem(node, path, f"must be 1 to {self.max_text} characters")
            return None
        return value

    def texts(self, node: yaml.Node, path: str) -> list[str] | None:
        """A non-empty list of text values."""
        if not self.visit(node, path):
            return None
        if not isinstance(node, yaml.SequenceNode) or not node.value:
            self.problem(node, path, "must be a non-empty list")
            return None
        items = [self.text(item, f"{path}[{i}]") for i, item in enumerate(node.value)]
        return None if None in items else [i for i in items if i is not None]

    def number(self, node: yaml.Node, path: str, *, low: float, high: float) -> float | None:
        """A number between ``low`` and ``high``."""
        if not self.visit(node, path):
            return None
        if not isinstance(node, yaml.ScalarNode) or node.tag not in (
            _STD_TAG + "int", _STD_TAG + "float"
        ):  # fmt: skip
            self.problem(node, path, "must be a number")
            return None
        value = self.decimal(node, path)
        if value is None:
            return None
        if not low <= value <= high:
            self.problem(node, path, f"must be between {low:g} and {high:g}")
            return None
        return value

    def decimal(self, node: yaml.ScalarNode, path: str) -> float | None:
        """The value of a number node (tag int or float) written in plain decimal: ``900``,
        ``-1.5``, ``1_000``, ``1.0e+3``. Any other form YAML 1.1 resolves as a number is a
        problem, not a guess (see ``_DECIMAL``)."""
        text = str(node.value)
        integer = node.tag == _STD_TAG + "int"
        if not (_INTEGER if integer else _DECIMAL).fullmatch(text):
            self.problem(node, path, f"{text[:40]!r} is not a decimal number: write numbers "
                                     "as 900 or 1.5 (not hex, 1:30, .inf or .nan)")  # fmt: skip
            return None
        if integer and OCTAL_LOOKING.fullmatch(text):
            self.problem(node, path, f"{text[:40]!r} has a leading 0, which YAML 1.1 reads as "
                                     "octal: write the number without it")  # fmt: skip
            return None
        value = float(text.replace("_", ""))
        if not math.isfinite(value):  # 1.0e+999
            self.problem(node, path, "must be a finite number")
            return None
        return value

    def boolean(self, node: yaml.Node, path: str) -> bool | None:
        """The value of a YAML 1.1 boolean (``true``/``false``, ``yes``/``no``, ``on``/
        ``off``, any case). Anything else is a problem, an explicit ``!!bool maybe``
        included (PyYAML would read it as false)."""
        text = str(node.value).lower() if isinstance(node, yaml.ScalarNode) else ""
        if node.tag != _STD_TAG + "bool" or text not in _BOOLEANS:
            self.problem(node, path, "must be true or false")
            return None
        return text in ("true", "yes", "on")

    def sequence(self, node: yaml.Node, path: str) -> list[yaml.Node] | None:
        """The items of a non-empty list."""
        if not self.visit(node, path):
            return None
        if not isinstance(node, yaml.SequenceNode) or not node.value:
            self.problem(node, path, "must be a non-empty list")
            return None
        return list(node.value)

    def scalar(self, node: yaml.Node, path: str) -> str | None:
        """Any scalar as its text (answers may be yes/no, numbers, dates or text)."""
        if not self.visit(node, path):
            return None
        if not isinstance(node, yaml.ScalarNode) or node.tag == _STD_TAG + "null":
            self.problem(node, path, "must be a value")
            return None
        return str(node.value)

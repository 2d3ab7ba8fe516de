"""Safe XML reading into an ElementTree that keeps prefixes, and writing it back.

Documents with a DTD or entity declaration are refused before parsing (``<!DOCTYPE`` /
``<!ENTITY`` in the bytes) and again by the parser's handlers (for encodings the byte check
cannot see), which stops XXE and entity expansion. Nesting is limited to :data:`MAX_DEPTH`.
Namespace processing is done here rather than by expat, so that tags and attributes keep the
prefixes they were written with and the writer reproduces the document.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any, NoReturn
from xml.parsers import expat

from maat.errors import InvalidInput
from maat.sbom.model import XmlDocument

__all__ = ["MAX_DEPTH", "NodeInfo", "parse_xml", "write_xml"]

MAX_DEPTH = 256
"""Deepest element nesting accepted."""

NodeInfo = dict[int, tuple[str | None, str, int]]
"""``id(element)`` → (namespace URI, local name, start line) for every element parsed."""

_XML_NS = "http://www.w3.org/XML/1998/namespace"


def _line_of(data: bytes, index: int) -> int:
    return data.count(b"\n", 0, index) + 1


class _Builder:
    def __init__(self, parser: expat.XMLParserType, source: str) -> None:
        self.parser = parser
        self.source = source
        self.stack: list[ET.Element] = []
        self.scopes: list[dict[str, str]] = [{"xml": _XML_NS}]
        self.root: ET.Element | None = None
        self.root_line = 0
        self.declaration: tuple[str, str | None] | None = None
        self.prolog: list[ET.Element[Any]] = []
        self.prolog_lines: list[int] = []
        self.epilog: list[ET.Element[Any]] = []
        self.info: NodeInfo = {}

    def _fail(self, message: str) -> NoReturn:
        raise InvalidInput(message, file=self.source, line=self.parser.CurrentLineNumber)

    def refuse_dtd(self, *_: object) -> NoReturn:
        self._fail("XML with a DTD or entity declarations is refused (XXE / entity expansion)")

    def xml_decl(self, version: str | None, _encoding: str | None, standalone: int) -> None:
        flag = None if standalone == -1 else ("yes" if standalone == 1 else "no")
        self.declaration = (version or "1.0", flag)

    def start(self, name: str, attrs: list[str]) -> None:
        if len(self.stack) >= MAX_DEPTH:
            self._fail(f"XML nested deeper than {MAX_DEPTH} elements")
        pairs = dict(zip(attrs[::2], attrs[1::2], strict=True))
        scope = self.scopes[-1]
        declared = {k: v for k, v in pairs.items() if k == "xmlns" or k.startswith("xmlns:")}
        if declared:
            scope = dict(scope)
            for key, value in declared.items():
                scope["" if key == "xmlns" else key[6:]] = value
        prefix, _, local = name.rpartition(":")
        uri = scope.get(prefix)
        if prefix and uri is None:
            self._fail(f"namespace prefix {prefix!r} of <{name[:80]}> is not declared")
        for key in pairs:
            attr_prefix = key.partition(":")[0] if ":" in key else ""
            if attr_prefix and attr_prefix != "xmlns" and attr_prefix not in scope:
                self._fail(
                    f"namespace prefix {attr_prefix!r} of attribute {key[:80]!r} is not declared"
                )
        element = ET.Element(name, pairs)
        line = self.parser.CurrentLineNumber
        self.info[id(element)] = (uri or None, local, line)
        if self.stack:
            self.stack[-1].append(element)
        else:
            self.root = element
            self.root_line = line
        self.stack.append(element)
        self.scopes.append(scope)

    def end(self, _name: str) -> None:
        self.stack.pop()
        self.scopes.pop()

    def data(self, text: str) -> None:
        if not self.stack:
            return
        current = self.stack[-1]
        if len(current):
            last = current[-1]
            last.tail = (last.tail or "") + text
        else:
            current.text = (current.text or "") + text

    def _node(self, node: ET.Element[Any]) -> None:
        if self.stack:
            self.stack[-1].append(node)
        elif self.root is None:
            self.prolog.append(node)
            self.prolog_lines.append(self.parser.CurrentLineNumber)
        else:
            self.epilog.append(node)

    def comment(self, text: str) -> None:
        self._node(ET.Comment(text))

    def pi(self, target: str, text: str) -> None:
        self._node(ET.ProcessingInstruction(target, text or None))


def parse_xml(data: bytes, source: str) -> tuple[XmlDocument, NodeInfo]:
    """Parse ``data`` safely; raises :class:`InvalidInput` with the line on any error."""
    for marker in (b"<!DOCTYPE", b"<!ENTITY"):
        index = data.find(marker)
        if index >= 0:
            raise InvalidInput(
                "XML with a DTD or entity declarations is refused (XXE / entity expansion)",
                file=source,
                line=_line_of(data, index),
            )
    parser = expat.ParserCreate()
    builder = _Builder(parser, source)
    parser.buffer_text = True
    parser.ordered_attributes = True
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = builder.refuse_dtd
    parser.EntityDeclHandler = builder.refuse_dtd
    parser.UnparsedEntityDeclHandler = builder.refuse_dtd
    parser.NotationDeclHandler = builder.refuse_dtd
    parser.ExternalEntityRefHandler = builder.refuse_dtd
    parser.XmlDeclHandler = builder.xml_decl
    parser.StartElementHandler = builder.start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.data
    parser.CommentHandler = builder.comment
    parser.ProcessingInstructionHandler = builder.pi
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise InvalidInput(
            f"not well-formed XML: {expat.ErrorString(exc.code)}",
            file=source,
            line=exc.lineno,
        ) from None
    except (ValueError, LookupError) as exc:  # e.g. an encoding expat does not know
        raise InvalidInput(f"XML cannot be read: {exc}", file=source) from None
    if builder.root is None:
        raise InvalidInput("XML has no root element", file=source)
    root_info = builder.info[id(builder.root)]
    document = XmlDocument(
        root=builder.root,
        namespace=root_info[0],
        declaration=builder.declaration,
        prolog=builder.prolog,
        prolog_lines=builder.prolog_lines,
        epilog=builder.epilog,
        root_line=builder.root_line,
    )
    return document, builder.info


_TEXT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_ATTR_ESCAPES = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        '"': "&quot;",
        "\n": "&#10;",
        "\r": "&#13;",
        "\t": "&#9;",
    }
)


def _write(element: ET.Element[Any], out: list[str]) -> None:
    tag = element.tag
    if tag is ET.Comment:
        out.append(f"<!--{element.text or ''}-->")
    elif tag is ET.ProcessingInstruction:
        out.append(f"<?{element.text or ''}?>")
    else:
        out.append(f"<{tag}")
        for key, value in element.attrib.items():
            out.append(f' {key}="{str(value).translate(_ATTR_ESCAPES)}"')
        if element.text or len(element):
            out.append(">")
            if element.text:
                out.append(element.text.translate(_TEXT_ESCAPES))
            for child in element:
                _write(child, out)
            out.append(f"</{tag}>")
        else:
            out.append("/>")
    if element.tail:
        out.append(element.tail.translate(_TEXT_ESCAPES))


def _pad(out: list[str], line: int, written: list[int]) -> None:
    """Move to ``line`` (when known and ahead); else start a new line unless at the start.

    ``written`` is ``[parts counted, newlines in them]``: counting only the new parts keeps
    writing linear in a prolog of many nodes.
    """
    written[1] += sum(part.count("\n") for part in out[written[0] :])
    written[0] = len(out)
    current = written[1] + 1
    if line > current:
        out.append("\n" * (line - current))
    elif line <= 0 and out:
        out.append("\n")


def write_xml(document: XmlDocument) -> bytes:
    """Serialise ``document`` as UTF-8, keeping prefixes, text, comments and line numbers."""
    out: list[str] = []
    if document.declaration is not None:
        version, standalone = document.declaration
        flag = f' standalone="{standalone}"' if standalone else ""
        out.append(f'<?xml version="{version}" encoding="UTF-8"{flag}?>')
    written = [0, 0]
    for i, node in enumerate(document.prolog):
        _pad(out, document.prolog_lines[i] if i < len(document.prolog_lines) else 0, written)
        _write(node, out)
    _pad(out, document.root_line, written)
    _write(document.root, out)
    for node in document.epilog:
        out.append("\n")
        _write(node, out)
    out.append("\n")
    return "".join(out).encode("utf-8")

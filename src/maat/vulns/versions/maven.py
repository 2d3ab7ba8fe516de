"""Maven: Apache Maven's ``ComparableVersion`` (maven-artifact 3.9 / 4), as a tuple key.

Parsing follows ``ComparableVersion.parseVersion`` step by step: the lower-cased text is split
into items at ``.``, ``-`` and digit/letter transitions; ``-`` and transitions open a nested
list; ``a1``/``b1``/``m1`` mean alpha/beta/milestone; a qualifier followed by a number
(``rc1``, ``beta-2``) is one combination item; each list drops its null items (``0``, empty
lists) where Maven's ``normalize`` does. Qualifiers order as
``alpha < beta < milestone < rc = cr < snapshot < "" = ga = final = release < sp``, then
unknown qualifiers alphabetically; numbers rank above lists, lists above qualifiers.

Maven compares two item lists element by element, padding the shorter with "null", and null
equals ``0``, the release qualifiers and empty lists. To make that a plain tuple comparison,
the nested lists are flattened into tokens (a list start is a token of its own) and every token
carries first the sign of "the rest of the version from here" against null padding. A version
that ends where another goes on is then ordered by that sign, exactly as Maven's padding orders
it. Wherever Maven's own comparison is consistent the keys order exactly as Maven does (checked
against maven-artifact on tens of thousands of pairs). Maven is not transitive everywhere, and
there no order can agree with it; the key keeps the answers that agree with the versions'
neighbours:

* a qualifier followed by more items in the same list, as in Red Hat builds: Maven has
  ``1.0.0-beta1 < 1.0.0 < 1.0.0.Final-redhat-1`` yet ``1.0.0.Final-redhat-1 < 1.0.0-beta1``;
  the key keeps the first two;
* a release qualifier with a number (``1-release1``, ``1.0.GA2``): Maven calls it equal to
  ``1`` yet orders ``1-release1 < 1-release2``; the key keeps distinct versions distinct and
  puts them just above the release;
* contrived mixes of ``.0``, ``-0`` and qualifiers (``1.0-0.alpha``, ``1-sp``, ``1``).

Every text is a Maven version; only printable ASCII without spaces is accepted here.
"""

from __future__ import annotations

from maat.vulns.versions._base import Key, VersionSyntaxError

_QUALIFIERS = ("alpha", "beta", "milestone", "rc", "snapshot", "", "sp")
_RELEASE_RANK = "5"
_RANKS = {q: str(i) for i, q in enumerate(_QUALIFIERS)}
_RANKS.update({"ga": _RELEASE_RANK, "final": _RELEASE_RANK, "release": _RELEASE_RANK})
_ALIASES = {"cr": "rc"}
_SHORT = {"a": "alpha", "b": "beta", "m": "milestone"}

# Item kinds in the token order Maven uses between non-null items of different kinds.
_QUALIFIER, _LIST, _NUMBER = 0, 1, 2


class _Combination:
    """A qualifier directly followed by a number: ``rc1``, ``beta-2`` (Maven 3.9+)."""

    __slots__ = ("number", "qualifier")

    def __init__(self, text: str) -> None:
        cut = 0
        while cut < len(text) and not text[cut].isdigit():
            cut += 1
        qualifier = text[:cut]
        if len(qualifier) == 1:
            qualifier = _SHORT.get(qualifier, qualifier)
        self.qualifier = _ALIASES.get(qualifier, qualifier)
        self.number = int(text[cut:])


def _rank(qualifier: str) -> str:
    """Maven's ``comparableQualifier``: known ones by index, unknown ones after all of them."""
    rank = _RANKS.get(qualifier)
    return rank if rank is not None else f"7-{qualifier}"


def _parse_item(combination: bool, digits: bool, text: str) -> object:
    if combination:
        return _Combination(text.replace("-", ""))
    if digits:
        return int(text)
    return _ALIASES.get(text, text)


def _is_null(item: object) -> bool:
    if isinstance(item, list):
        return not item
    return item == 0 or item == ""


def _normalize(items: list[object]) -> None:
    """Maven's ``ListItem.normalize``: drop null items at the end and before qualifiers."""
    for i in range(len(items) - 1, -1, -1):
        if not _is_null(items[i]):
            continue
        if i == len(items) - 1:
            del items[i]
            continue
        after = items[i + 1]
        if isinstance(after, str) or (
            isinstance(after, list) and after and isinstance(after[0], str | _Combination)
        ):
            del items[i]


def _parse(version: str) -> list[object]:
    """``ComparableVersion.parseVersion``: the normalised item tree of ``version``."""
    text = version.lower()
    root: list[object] = []
    current = root
    stack = [root]
    digits = False
    combination = False
    start = 0
    size = len(text)
    i = 0
    while i < size:
        c = text[i]
        if c == ".":
            current.append(0 if i == start else _parse_item(combination, digits, text[start:i]))
            combination = False
            start = i + 1
        elif c == "-":
            if i == start:
                current.append(0)
            else:
                if not digits and i != size - 1 and text[i + 1].isdigit():
                    # "X-1" is read as "X1"
                    combination = True
                    i += 1
                    continue
                current.append(_parse_item(combination, digits, text[start:i]))
            start = i + 1
            if current:
                new: list[object] = []
                current.append(new)
                current = new
                stack.append(new)
            combination = False
        elif "0" <= c <= "9":
            if not digits and i > start:
                combination = True
                if current:
                    new = []
                    current.append(new)
                    current = new
                    stack.append(new)
            digits = True
        else:
            if digits and i > start:
                current.append(_parse_item(combination, True, text[start:i]))
                start = i
                new = []
                current.append(new)
                current = new
                stack.append(new)
                combination = False
            digits = False
        i += 1
    if size > start:
        if not digits and current:
            new = []
            current.append(new)
            current = new
            stack.append(new)
        current.append(_parse_item(combination, digits, text[start:]))
    while stack:
        _normalize(stack.pop())
    return root


def _tokens(items: list[object], out: list[tuple[int, int, str, int]]) -> None:
    """Flatten the item tree to ``(sign against null, kind, qualifier rank, number)``."""
    for item in items:
        if isinstance(item, int):
            out.append((1 if item else 0, _NUMBER, "", item))
        elif isinstance(item, str):
            rank = _rank(item)
            sign = (rank > _RELEASE_RANK) - (rank < _RELEASE_RANK)
            out.append((sign, _QUALIFIER, rank, -1))
        elif isinstance(item, _Combination):
            # ``X1`` ranks above ``X``, so a release qualifier with a number (``Final2``)
            # ranks above the release itself; Maven calls it equal to the release yet orders
            # ``Final1 < Final2``, which no single order can do.
            rank = _rank(item.qualifier)
            sign = -1 if rank < _RELEASE_RANK else 1
            out.append((sign, _QUALIFIER, rank, item.number))
        else:
            assert isinstance(item, list)
            out.append((0, _LIST, "", 0))
            _tokens(item, out)


def maven_key(text: str) -> Key:
    """The ``ComparableVersion`` order key of ``text``."""
    if not text.isascii() or not text.isprintable() or " " in text:
        raise VersionSyntaxError("only printable ASCII without spaces is accepted")
    tokens: list[tuple[int, int, str, int]] = []
    _tokens(_parse(text), tokens)
    # Each token's first element becomes the sign of the rest of the version against null
    # padding; trailing tokens equal to null are dropped (Maven pads with null anyway).
    # Built back to front (each token's fields reversed too), then reversed once.
    key: list[object] = []
    rest = 0
    for sign, kind, rank, number in reversed(tokens):
        if sign:
            rest = sign
        if rest:
            key += (number, rank, kind, rest)
    key.reverse()
    key.append(0)
    return tuple(key)

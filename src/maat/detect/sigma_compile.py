"""A Sigma rule's parsed condition compiled into one Python predicate, and its anchors.

pySigma parses a rule's ``condition`` (``1 of selection_*``, ``all of them``, ``not``) into
a tree of AND/OR/NOT nodes over ``field = value`` items and keywords. This module turns that
tree into nested closures (no per-event interpretation of the tree) and computes the rule's
*anchors*: a set of ``(event key, literal)`` such that the rule cannot match unless at
least one literal occurs in its field. The engine indexes anchors across all rules of a
route, so an event is evaluated only against the rules whose literals it contains.

Lists are compiled as lists: ``Image|endswith: [a, b, c]`` is one ``str.endswith`` of a
tuple, equality lists are set lookups.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.types import (
    SigmaCasedString,
    SigmaExpansion,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaString,
    SpecialChars,
)

from maat.detect.sigma_values import (
    Test,
    anchor_of,
    any_literal,
    compile_value,
    on_lowered,
    on_raw,
    regex_anchors,
    regex_check,
    regexes_check,
    string_check,
    text_of,
)
from maat.errors import InvalidInput

__all__ = [
    "FULLTEXT",
    "FULLTEXT_RAW",
    "Anchors",
    "Clause",
    "Group",
    "by_selectivity",
    "clauses_of",
    "compile_condition",
    "requirements_of",
    "vetoes_of",
]

FULLTEXT = "\x00fulltext"
"""The pseudo-key keywords search: the event's text values (its event data on Windows),
lowercased, as a tuple."""
FULLTEXT_RAW = "\x00fulltext-raw"
"""The same values as they are (``|cased`` and regex keywords)."""

Group = frozenset[tuple[str, str]]
Anchors = Group | None


def _simple_kind(value: Any) -> tuple[str, str] | None:
    """``(kind, lowered literal)`` for a case-insensitive string that is an equality, a
    prefix, a suffix or a substring test, else None."""
    if not isinstance(value, SigmaString) or isinstance(value, SigmaCasedString):
        return None
    parts = list(value.s)
    multi = SpecialChars.WILDCARD_MULTI
    plain = [p for p in parts if isinstance(p, str)]
    if len(plain) == len(parts):
        return "eq", "".join(plain).lower()
    if len(parts) == 2 and parts[1] is multi and isinstance(parts[0], str):
        return "prefix", parts[0].lower()
    if len(parts) == 2 and parts[0] is multi and isinstance(parts[1], str):
        return "suffix", parts[1].lower()
    if len(parts) == 3 and parts[0] is multi and parts[2] is multi and isinstance(parts[1], str):
        return "contains", parts[1].lower()
    return None


_MANY_NEEDLES = 12


def _list_test(key: str, kind: str, literals: list[str]) -> Test:
    """One test for several literals of one kind on one key (an OR of list items)."""
    check: Callable[[str], bool]
    if kind == "eq":
        check = frozenset(literals).__contains__
    elif kind == "prefix":
        prefixes = tuple(literals)
        check = lambda text: text.startswith(prefixes)  # noqa: E731
    elif kind == "suffix":
        suffixes = tuple(literals)
        check = lambda text: text.endswith(suffixes)  # noqa: E731
    elif len(literals) > _MANY_NEEDLES:  # one RE2 pass, not one scan per needle
        check = any_literal(literals)
    else:
        needles = tuple(literals)

        def contains(text: str) -> bool:
            for needle in needles:  # noqa: SIM110 - a loop is twice as fast as any(genexpr)
                if needle in text:
                    return True
            return False

        check = contains
    return on_lowered(key, check)


def _keyword(value: Any) -> Test:
    """A field-less search, value by value over the event's text fields: a string, with or
    without wildcards, is found anywhere in some value (``Trojan*FOUND`` in ``x.jsp:
    Trojan.Agent FOUND``; case-insensitive unless ``|cased``), a regex is searched in each
    value, a number is its text. Full-text backends (and pySigma's SQLite one) read
    keywords so."""
    if isinstance(value, SigmaNumber):
        value = SigmaString(str(value.number))
    if isinstance(value, SigmaString):
        cased = isinstance(value, SigmaCasedString)
        key = FULLTEXT_RAW if cased else FULLTEXT
        if not value.contains_special():
            text = "".join(p for p in value.s if isinstance(p, str))  # escapes already undone
            needle = text if cased else text.lower()
            return on_lowered(key, lambda item: needle in item)
        return on_lowered(key, string_check(_unanchored(value), cased))
    if isinstance(value, SigmaRegularExpression):
        return on_lowered(FULLTEXT_RAW, regex_check(value))
    raise InvalidInput(f"keyword of type {type(value).__name__} is not supported")


def _unanchored(value: SigmaString) -> SigmaString:
    """``value`` with a ``*`` at each end it lacks (a keyword is found anywhere)."""
    multi = SpecialChars.WILDCARD_MULTI
    parts = list(value.s)
    if not parts or parts[0] is not multi:
        parts.insert(0, multi)
    if parts[-1] is not multi:
        parts.append(multi)
    wrapped = copy.copy(value)
    wrapped.s = parts
    return wrapped


def compile_condition(node: Any, resolve: Callable[[str], str]) -> Test:
    """The predicate of a parsed condition tree; ``resolve`` maps Sigma field names to
    event keys. Raises ``InvalidInput`` for what cannot be evaluated."""
    if isinstance(node, ConditionAND):
        parts = [compile_condition(arg, resolve) for arg in node.args]
        if len(parts) == 2:
            first, second = parts
            return lambda event, low: first(event, low) and second(event, low)

        def all_of(event: Mapping[str, Any], low: Mapping[str, Any]) -> bool:
            return all(part(event, low) for part in parts)

        return all_of
    if isinstance(node, ConditionOR):
        return _compile_or(node.args, resolve)
    if isinstance(node, ConditionNOT):
        inner = compile_condition(node.args[0], resolve)
        return lambda event, low: not inner(event, low)
    if isinstance(node, ConditionFieldEqualsValueExpression):
        return compile_value(resolve(node.field), node.value, resolve)
    if isinstance(node, ConditionValueExpression):
        return _keyword(node.value)
    raise InvalidInput(f"condition element {type(node).__name__} is not supported")


def _compile_or(args: list[Any], resolve: Callable[[str], str]) -> Test:
    grouped: dict[tuple[str, str], list[str]] = {}
    regexes: dict[str, list[SigmaRegularExpression]] = {}
    others: list[Test] = []
    for arg in args:
        if isinstance(arg, ConditionFieldEqualsValueExpression) and isinstance(
            arg.value, SigmaRegularExpression
        ):  # several regexes on one field: one RE2 pass
            regexes.setdefault(resolve(arg.field), []).append(arg.value)
            continue
        simple = (
            _simple_kind(arg.value)
            if isinstance(arg, ConditionFieldEqualsValueExpression)
            else None
        )
        if simple is None:
            others.append(compile_condition(arg, resolve))
        else:
            grouped.setdefault((resolve(arg.field), simple[0]), []).append(simple[1])
    parts = [_list_test(key, kind, lits) for (key, kind), lits in grouped.items()]
    parts += [on_raw(key, regexes_check(values)) for key, values in regexes.items()]
    parts += others
    if len(parts) == 1:
        return parts[0]
    if len(parts) == 2:
        first, second = parts
        return lambda event, low: first(event, low) or second(event, low)

    def any_of(event: Mapping[str, Any], low: Mapping[str, Any]) -> bool:
        return any(part(event, low) for part in parts)

    return any_of


def requirements_of(node: Any, resolve: Callable[[str], str]) -> tuple[Group, ...]:
    """Groups of ``(key, literal)`` pairs such that every match contains a literal of *each*
    group (an AND's items each bring theirs; an OR gives one group, the union of its
    items' best), or ``()`` when no literal is known to be necessary.

    The engine files a rule under its best group and checks the others on the event
    before running the rule: ``TargetImage|endswith: \\lsass.exe`` filed alone makes the
    rule a candidate on every LSASS access, its ``GrantedAccess: '0x1440'`` beside it
    rarely holds.
    """
    if isinstance(node, ConditionAND):
        groups: list[Group] = []
        for arg in node.args:
            for group in requirements_of(arg, resolve):
                if group not in groups:
                    groups.append(group)
        return tuple(groups)
    if isinstance(node, ConditionOR):
        union: set[tuple[str, str]] = set()
        for arg in node.args:
            best = _best(requirements_of(arg, resolve))
            if best is None:
                return ()
            union |= best
        return (frozenset(union),)
    found: Anchors = None
    if isinstance(node, ConditionFieldEqualsValueExpression):
        found = _value_anchors(resolve(node.field), node.value)
    elif isinstance(node, ConditionValueExpression):
        found = _value_anchors(FULLTEXT, node.value)
    return () if found is None else (found,)  # NOT, and anything else: nothing necessary


Clause = tuple[Group, ...]
_MAX_CLAUSES = 16  # past this many alternatives, requirements_of's groups as one clause


def clauses_of(node: Any, resolve: Callable[[str], str]) -> tuple[Clause, ...]:
    """Alternatives of necessary literals: every match of ``node`` satisfies one of the
    clauses, each a tuple of groups of which each has a literal in the event (in its key's
    lowercased value). ``((),)`` when nothing is known.

    Finer than :func:`requirements_of` for an OR of ANDs: ``1 of selection_*`` with each
    selection a ``contains|all`` list is one clause per selection, all of whose literals
    must be there, where :func:`requirements_of` keeps one literal of each.
    """
    if isinstance(node, ConditionAND):
        product: list[Clause] = [()]
        for arg in node.args:
            product = [_joined(a, b) for a in product for b in clauses_of(arg, resolve)]
            if len(product) > _MAX_CLAUSES:
                return (requirements_of(node, resolve),)
        return tuple(product)
    if isinstance(node, ConditionOR):
        alternatives: list[Clause] = []
        for arg in node.args:
            alternatives.extend(clauses_of(arg, resolve))
            if len(alternatives) > _MAX_CLAUSES:
                return (requirements_of(node, resolve),)
        return tuple(alternatives)
    return (requirements_of(node, resolve),)  # a value's literals, or () for a NOT


def _joined(first: Clause, second: Clause) -> Clause:
    return first + tuple(group for group in second if group not in first)


def vetoes_of(node: Any, resolve: Callable[[str], str]) -> Group:
    """``(key, literal)`` pairs any one of which, found in its key's lowercased value, makes
    the condition false: the substring tests under a NOT the condition requires
    (``selection and not 1 of filter_*`` with ``filter: X|contains: ...``). The C
    prefilter drops a rule whose veto it finds, before the rule runs."""
    if isinstance(node, ConditionAND):
        found: set[tuple[str, str]] = set()
        for arg in node.args:
            found |= vetoes_of(arg, resolve)
        return frozenset(found)
    if isinstance(node, ConditionNOT):
        return _sufficient(node.args[0], resolve)
    return frozenset()


def _sufficient(node: Any, resolve: Callable[[str], str]) -> Group:
    """``(key, literal)`` pairs any one of which, found in its key's lowercased value, makes
    ``node`` true: its case-insensitive substring tests, through ORs (and one-item ANDs)."""
    if isinstance(node, ConditionOR) or (isinstance(node, ConditionAND) and len(node.args) == 1):
        found: set[tuple[str, str]] = set()
        for arg in node.args:
            found |= _sufficient(arg, resolve)
        return frozenset(found)
    if isinstance(node, ConditionFieldEqualsValueExpression):
        simple = _simple_kind(node.value)
        if simple is not None and simple[0] == "contains":
            return frozenset({(resolve(node.field), simple[1])})
    return frozenset()


def _best(groups: Sequence[Group]) -> Anchors:
    """The group that makes the fewest false candidates (see :func:`by_selectivity`)."""
    return min(groups, key=_selectivity, default=None)


def by_selectivity(groups: Sequence[Group]) -> list[Group]:
    """``groups`` best first: the longest shortest literal, then the fewest alternatives
    (the first of equals). A short literal is the common one (``powershell`` is in every
    PowerShell event's ContextInfo, a Run key path in few); the number of alternatives
    costs nothing more, as all of a key's literals are searched in one pass."""
    return sorted(groups, key=_selectivity)


def _selectivity(group: Group) -> tuple[int, int]:
    return -min(len(lit) for _, lit in group), len(group)


def required_numbers(node: Any, key: str, resolve: Callable[[str], str]) -> frozenset[int] | None:
    """The whole numbers event key ``key`` must equal for ``node`` to match (``EventID:
    4728`` or a list of them, in every alternative), or None when any value could. The
    engine files such a rule under those event ids only, not under its whole channel."""
    if isinstance(node, ConditionAND):
        best: frozenset[int] | None = None
        for arg in node.args:
            found = required_numbers(arg, key, resolve)
            if found is not None and (best is None or len(found) < len(best)):
                best = found
        return best
    if isinstance(node, ConditionOR):
        union: set[int] = set()
        for arg in node.args:
            found = required_numbers(arg, key, resolve)
            if found is None:
                return None
            union |= found
        return frozenset(union)
    if isinstance(node, ConditionFieldEqualsValueExpression) and resolve(node.field) == key:
        value = node.value
        if isinstance(value, SigmaNumber) and type(value.number) is int:
            return frozenset({value.number})
        if isinstance(value, SigmaString) and not value.contains_special():
            text = str(value)
            if text.isdecimal() and len(text) < 7:
                return frozenset({int(text)})
    return None  # NOT, a modifier, a wildcard, another field: no requirement known


def _value_anchors(key: str, value: Any) -> Anchors:
    if isinstance(value, SigmaExpansion):
        union: set[tuple[str, str]] = set()
        for item in value.values:
            found = _value_anchors(key, item)
            if found is None:
                return None
            union |= found
        return frozenset(union)
    if isinstance(value, SigmaRegularExpression):
        literals = regex_anchors(value)
        return None if literals is None else frozenset((key, lit) for lit in literals)
    literal = anchor_of(value)
    return None if literal is None else frozenset({(key, literal)})


def lowered(value: Any) -> str | tuple[str, ...] | None:
    """A field value as the lowercased text matchers compare."""
    text = text_of(value)
    if type(text) is str:
        return text.lower()
    if text is None:
        return None
    return tuple(item.lower() for item in text)

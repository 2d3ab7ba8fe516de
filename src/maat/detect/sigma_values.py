"""Sigma values compiled into Python predicates over one event field.

A predicate is ``test(event, low) -> bool``: ``event`` is the flat event dict and ``low``
the same event's values lowercased (read as ``low[key]``: computed the first time a rule
reads a key, None when the event lacks it), because Sigma compares strings
case-insensitively unless a rule says ``|cased``. Where a value has a literal that every
match must contain, :func:`anchor_of` names it, so that the engine's prefilter can skip
rules whose literals do not occur in the event at all.

Regular expressions run on RE2 (linear time, no catastrophic backtracking); an expression
RE2 cannot run (look-around, back-references) is refused when the rule loads, with its
reason, as is every value type Maat cannot evaluate.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import re2  # type: ignore[import-untyped]
from sigma.types import (
    CompareOperators,
    Placeholder,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SigmaTimestampPart,
    SpecialChars,
    TimestampPart,
)

from maat.detect.regex_literals import CONTEXT_LOWERED, required_literals
from maat.errors import InvalidInput

__all__ = [
    "Test",
    "anchor_of",
    "any_literal",
    "any_pattern",
    "compile_value",
    "on_lowered",
    "on_raw",
    "regex_anchors",
    "regex_check",
    "regexes_check",
    "string_check",
    "text_of",
]

Test = Callable[[Mapping[str, Any], Mapping[str, Any]], bool]
"""``test(event, low)``: does this event's field satisfy the value?"""

_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.max_mem = 64 << 20  # a rule's regex may not take more than this to compile
_RE2_OPTIONS.never_capture = True  # a match or not: no group's position is needed
_LITERAL_SET_OPTIONS = re2.Options()
_LITERAL_SET_OPTIONS.max_mem = 64 << 20


def any_pattern(patterns: Sequence[str], *, whole: bool = False) -> Callable[[str], bool]:
    """Whether any of the RE2 ``patterns`` is found in a text (or, ``whole``, matches all
    of it), in one pass where possible: one RE2 program with each pattern an alternative in
    its own group (its inline flags stay its own). Raises ``re2.error`` for a pattern RE2
    cannot run.

    A pattern holding ``\\Q`` runs alone: its quoting would run on into the next one. When
    the joined program is too large for RE2, each pattern runs alone.

    Programs are called with UTF-8 bytes (a value's lone surrogates are bytes like any
    other, not an encoding error) through RE2's own ``Match``, which falls back to its NFA
    when the DFA runs out of memory; an RE2 *set* would answer "no match" then, and a
    crafted text could hide a match that way.
    """
    quoted = [p for p in patterns if "\\Q" in p]
    joinable = [p for p in patterns if "\\Q" not in p]
    programs: list[Callable[[bytes], bool]] = []
    if len(joinable) > 1:
        try:
            programs.append(_program("|".join(f"(?:{p})" for p in joinable), whole))
        except re2.error:  # together too large: one program each
            programs.extend(_program(p, whole) for p in joinable)
    else:
        programs.extend(_program(p, whole) for p in joinable)
    programs.extend(_program(p, whole) for p in quoted)
    if len(programs) == 1:
        (program,) = programs
        return lambda text: program(text.encode("utf-8", "surrogatepass"))

    def check(text: str) -> bool:
        data = text.encode("utf-8", "surrogatepass")
        return any(program(data) for program in programs)

    return check


def _program(pattern: str, whole: bool) -> Callable[[bytes], bool]:
    """One compiled RE2 program as a test of UTF-8 bytes (see :func:`any_pattern`)."""
    compiled = re2.compile(pattern, options=_RE2_OPTIONS)
    anchor = re2._Anchor.ANCHOR_BOTH if whole else re2._Anchor.UNANCHORED
    raw = getattr(compiled, "_regexp", None)
    if raw is None:  # another wrapper version: its public (slower) calls
        call = compiled.fullmatch if whole else compiled.search
        return lambda data: call(data.decode("utf-8", "surrogatepass")) is not None
    return lambda data: bool(raw.Match(anchor, data, 0, len(data))[0][0] >= 0)


def any_literal(literals: Sequence[str]) -> Callable[[str], bool]:
    """Whether any of ``literals`` occurs in a text, in one pass of an RE2 set (literals
    only: their automaton is bounded by their length, so the set cannot run out of memory
    on a crafted text as a regex's can)."""
    matcher = re2.Set.SearchSet(_LITERAL_SET_OPTIONS)
    for literal in literals:
        matcher.Add(re2.escape(literal))
    matcher.Compile()
    raw = getattr(matcher, "_set", None)
    match = raw.Match if raw is not None else matcher.Match
    return lambda text: bool(match(text.encode("utf-8", "surrogatepass")))


def text_of(value: Any) -> str | tuple[str, ...] | None:
    """How a field value is compared as text: strings as they are, numbers and booleans as
    Sigma writes them, lists as their items (any item may match), None as absent."""
    if type(value) is str:
        return value
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return tuple(t for t in (text_of(v) for v in value) if isinstance(t, str))
    return str(value)


def _plain_parts(value: SigmaString) -> list[str | SpecialChars]:
    parts: list[str | SpecialChars] = []
    for part in value.s:
        if isinstance(part, Placeholder):
            raise InvalidInput(f"placeholder %{part.name}% has no value")
        parts.append(part)
    return parts


def anchor_of(value: Any) -> str | None:
    """The lowercased literal every match of ``value`` contains (the longest plain part of
    a string), or None when there is none worth indexing."""
    if isinstance(value, SigmaString):
        # Cut at a capital sigma: lowercased alone it may differ from the text's (see
        # regex_literals.CONTEXT_LOWERED), and a |cased rule compares the raw text.
        plain = [q for p in value.s if isinstance(p, str) for q in p.split(CONTEXT_LOWERED)]
        best = max(plain, key=len, default="")
        # One letter is worth indexing only when it is rare in logs (an emoji, a Cyrillic
        # look-alike): rules made of such lists would otherwise run on every event.
        return best.lower() if len(best) >= 2 or (best and not best.isascii()) else None
    return None


def _any_text(check: Callable[[str], bool]) -> Callable[[Any], bool]:
    """Lift a test of one text to a test of a field's value (list items: any)."""

    def test_value(value: Any) -> bool:
        if type(value) is str:
            return check(value)
        if value is None:
            return False
        return any(check(item) for item in value)

    return test_value


def on_lowered(key: str, check: Callable[[str], bool]) -> Test:
    """``check`` on the lowercased value of ``key`` (list items: any)."""
    lifted = _any_text(check)
    return lambda event, low: lifted(low[key])


def on_raw(key: str, check: Callable[[str], bool]) -> Test:
    """``check`` on the value of ``key`` as text, case kept (list items: any)."""
    lifted = _any_text(check)
    return lambda event, low: lifted(text_of(event.get(key)))


def string_check(value: SigmaString, cased: bool) -> Callable[[str], bool]:
    """A test of one text for ``value``: equality, prefix, suffix, substring or (for
    wildcards inside) an anchored pattern; lowercase unless ``cased``."""
    parts = _plain_parts(value)
    norm = (lambda s: s) if cased else str.lower
    multi = SpecialChars.WILDCARD_MULTI
    inner = parts[1:-1] if len(parts) >= 2 else []
    if not any(isinstance(p, SpecialChars) for p in parts):
        literal = norm("".join(p for p in parts if isinstance(p, str)))
        return lambda text: text == literal
    if parts == [multi]:
        return lambda text: True
    if len(parts) == 2 and parts[1] is multi and isinstance(parts[0], str):
        prefix = norm(parts[0])
        return lambda text: text.startswith(prefix)
    if len(parts) == 2 and parts[0] is multi and isinstance(parts[1], str):
        suffix = norm(parts[1])
        return lambda text: text.endswith(suffix)
    if len(parts) == 3 and parts[0] is multi and parts[2] is multi and isinstance(inner[0], str):
        needle = norm(inner[0])
        return lambda text: needle in text
    # Wildcards inside a value run on RE2 too: with Python's backtracking engine, a rule like
    # "*1> *\\*\\*" takes minutes on a crafted 3 KB command line (an attacker's to choose).
    pattern = "(?s)" + "".join(
        re2.escape(norm(p)) if isinstance(p, str) else (".*" if p is multi else ".") for p in parts
    )
    return any_pattern([pattern], whole=True)


def _string(key: str, value: SigmaString) -> Test:
    cased = isinstance(value, SigmaCasedString)
    check = string_check(value, cased)
    return on_raw(key, check) if cased else on_lowered(key, check)


def _regex(key: str, value: SigmaRegularExpression) -> Test:
    return on_raw(key, regex_check(value))


def regex_check(value: SigmaRegularExpression) -> Callable[[str], bool]:
    """A search of one text for a Sigma regex (its flags applied), on RE2."""
    return regexes_check([value])


def regexes_check(values: Sequence[SigmaRegularExpression]) -> Callable[[str], bool]:
    """A search of one text for any of several Sigma regexes (flags applied), one RE2 pass.
    Raises ``InvalidInput`` naming a regex RE2 cannot run."""
    patterns = []
    for value in values:
        source, pattern = _regex_pattern(value)
        try:
            any_pattern([pattern])
        except re2.error as exc:
            raise InvalidInput(
                f"regular expression {source[:80]!r} cannot run in linear time on RE2: {exc}"
            ) from None
        patterns.append(pattern)
    try:
        return any_pattern(patterns)
    except re2.error as exc:  # each runs alone, so this is RE2's limits on the whole rule
        raise InvalidInput(f"regular expressions cannot run on RE2: {exc}") from None


def regex_anchors(value: SigmaRegularExpression) -> frozenset[str] | None:
    """Lowercased literals of which every match of the regex contains one, or None."""
    source, _ = _regex_pattern(value)
    ignore_case = SigmaRegularExpressionFlag.IGNORECASE in value.flags
    return required_literals(source, ignore_case=ignore_case)


def _regex_pattern(value: SigmaRegularExpression) -> tuple[str, str]:
    """The rule's regex as written, and as RE2 runs it (flags inline)."""
    flags = "".join(
        letter
        for flag, letter in (
            (SigmaRegularExpressionFlag.IGNORECASE, "i"),
            (SigmaRegularExpressionFlag.MULTILINE, "m"),
            (SigmaRegularExpressionFlag.DOTALL, "s"),
        )
        if flag in value.flags
    )
    regexp = value.regexp
    source = str(regexp.to_plain()) if hasattr(regexp, "to_plain") else str(regexp)
    return source, (f"(?{flags}){source}" if flags else source)


def _cidr(key: str, value: SigmaCIDRExpression) -> Test:
    network = value.network

    def inside(text: str) -> bool:
        try:
            return ipaddress.ip_address(text.strip().removeprefix("::ffff:")) in network
        except ValueError:
            return False

    return on_raw(key, inside)


_COMPARE: dict[Any, Callable[[float, float], bool]] = {
    CompareOperators.LT: lambda a, b: a < b,
    CompareOperators.LTE: lambda a, b: a <= b,
    CompareOperators.GT: lambda a, b: a > b,
    CompareOperators.GTE: lambda a, b: a >= b,
    CompareOperators.NEQ: lambda a, b: a != b,
}


def _number_of(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(int(value, 0)) if value.strip().lower().startswith("0x") else float(value)
        except ValueError:
            return None
    return None


def _compare(key: str, value: SigmaCompareExpression) -> Test:
    op = _COMPARE[value.op]
    bound = float(value.number.number)

    def test(event: Mapping[str, Any], low: Mapping[str, Any]) -> bool:
        number = _number_of(event.get(key))
        return number is not None and op(number, bound)

    return test


_PARTS: dict[Any, Callable[[datetime], int]] = {
    TimestampPart.MINUTE: lambda t: t.minute,
    TimestampPart.HOUR: lambda t: t.hour,
    TimestampPart.DAY: lambda t: t.day,
    TimestampPart.WEEK: lambda t: int(t.strftime("%W")),
    TimestampPart.MONTH: lambda t: t.month,
    TimestampPart.YEAR: lambda t: t.year,
}


def _timestamp_part(key: str, value: SigmaTimestampPart) -> Test:
    part, wanted = _PARTS[value.timestamp_part], int(value.number)

    def test(event: Mapping[str, Any], low: Mapping[str, Any]) -> bool:
        text = event.get(key)
        if not isinstance(text, str):
            return False
        try:
            return bool(part(datetime.fromisoformat(text.replace("Z", "+00:00"))) == wanted)
        except ValueError:
            return False

    return test


def _field_reference(key: str, other: str, value: SigmaFieldReference) -> Test:
    def test(event: Mapping[str, Any], low: Mapping[str, Any]) -> bool:
        mine, theirs = low[key], low[other]
        if type(mine) is not str or type(theirs) is not str:
            return False
        if value.starts_with and value.ends_with:
            return theirs in mine
        if value.starts_with:
            return mine.startswith(theirs)
        if value.ends_with:
            return mine.endswith(theirs)
        return mine == theirs

    return test


def compile_value(key: str, value: Any, resolve: Callable[[str], str]) -> Test:
    """The predicate for ``field = value`` where the field lives at ``key`` in the event;
    ``resolve`` maps another Sigma field name to its key (for ``|fieldref``). Raises
    ``InvalidInput`` naming what cannot be evaluated."""
    if isinstance(value, SigmaString):
        return _string(key, value)
    if isinstance(value, SigmaTimestampPart):
        return _timestamp_part(key, value)
    if isinstance(value, SigmaNumber):
        text = str(value.number).lower()
        return on_lowered(key, lambda found: found == text)
    if isinstance(value, SigmaBool):
        wanted = "true" if value.boolean else "false"
        return on_lowered(key, lambda found: found == wanted)
    if isinstance(value, SigmaNull):
        return lambda event, low: event.get(key) is None
    if isinstance(value, SigmaExists):
        exists = bool(value.exists)
        return lambda event, low: (event.get(key) is not None) is exists
    if isinstance(value, SigmaRegularExpression):
        return _regex(key, value)
    if isinstance(value, SigmaCIDRExpression):
        return _cidr(key, value)
    if isinstance(value, SigmaCompareExpression):
        return _compare(key, value)
    if isinstance(value, SigmaFieldReference):
        return _field_reference(key, resolve(value.field), value)
    if isinstance(value, SigmaExpansion):
        tests = [compile_value(key, v, resolve) for v in value.values]
        return lambda event, low: any(t(event, low) for t in tests)
    raise InvalidInput(f"value type {type(value).__name__} is not supported by Maat's engine")

"""The literal text every match of a regular expression must contain, for the prefilter.

A rule made only of regexes (``CommandLine|re: 'cmd.{0,5}(?:/c|/r).+powershell'``) has no
plain string to index, so without this it runs on every event of its log source. The
scanner here is deliberately conservative: it reads only runs of plain characters outside
any group or class, drops a character a quantifier makes optional, and splits the pattern
at top-level ``|`` (one literal per alternative, or nothing). Anything it does not
understand ends the current run. A wrong answer would make a rule miss; a missing answer
only costs time, so every doubt gives no answer.
"""

from __future__ import annotations

import re

__all__ = ["CONTEXT_LOWERED", "required_literals"]

# Escapes that stand for something other than one plain character and carry no payload.
_SHORT_ESCAPES = frozenset("dDsSwWbBAzCaftnrv")
# Under (?i), RE2's case folding matches characters whose Python lowercase is not the
# literal's: U+017F LONG S for s, and many outside ASCII (U+1C80 for the Cyrillic в, ς for
# σ, µ for μ). A run is cut at s and at every character that is not ASCII. (U+212A KELVIN
# SIGN folds with k but lowercases to k: k is safe.)
_UNSAFE_FOLDED = frozenset("sS")
# Python lowercases a capital sigma by its neighbours (ΑΣ -> ας, ΑΣΑ -> ασα): a literal
# holding one, lowercased alone, may not be in the lowercased text. Cut there, always.
CONTEXT_LOWERED = "\u03a3"
_REPEAT = re.compile(r"\{([0-9]+)(?:,([0-9]*))?\}")


# Tokens: ("lit", char), ("other", ""), ("open", ""), ("close", ""), ("alt", ""),
# ("quant", minimum) where minimum is "0" or "1" (at least once).
Token = tuple[str, str]


def required_literals(pattern: str, *, ignore_case: bool) -> frozenset[str] | None:
    """Lowercased literals, one per top-level alternative of ``pattern``, such that every
    match contains at least one of them; None when some alternative has none known.

    ``ignore_case``: the rule's ``|i`` flag; any inline flag group counts as ``(?i)``.
    """
    if "(?" in pattern.replace("(?:", ""):
        ignore_case = True  # flags set inline, here or further on: assume case folds
    tokens = _tokens(pattern)
    if tokens is None:
        return None
    out: set[str] = set()
    for branch in _branches(tokens):
        best = _longest_run(branch, ignore_case)
        if best is None:
            return None
        out.add(best.lower())
    return frozenset(out) or None


def _tokens(pattern: str) -> list[Token] | None:
    """The pattern's tokens, or None for syntax the scanner does not read (no literal is
    claimed then)."""
    out: list[Token] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            escaped = pattern[index + 1 : index + 2]
            if not escaped:
                return None
            if escaped.isascii() and not escaped.isalnum():
                out.append(("lit", escaped))
            elif escaped in _SHORT_ESCAPES:
                out.append(("other", ""))
            else:
                return None  # \x41, \pL, \p{Greek}, \Q...\E, octal: not read
            index += 2
            continue
        if char == "[":
            index = _class_end(pattern, index)
            if index < 0:
                return None
            out.append(("other", ""))
            continue
        if char == "(" and pattern.startswith("(?", index):
            end = index + 2
            while end < len(pattern) and pattern[end] not in ":)":
                end += 1
            inner = pattern[index + 2 : end]
            if end >= len(pattern) or not all(flag in "imsU-" for flag in inner):
                return None  # a named group, a look-around: not read
            # "(?i)" sets flags (zero width, cut the run); "(?:" and "(?i:" open a group.
            if pattern[end] == ")" and pattern[end + 1 : end + 2] in ("?", "*", "+", "{"):
                return None  # a quantifier after flags applies to the atom before them
            out.append(("other", "") if pattern[end] == ")" else ("open", ""))
            index = end + 1
            continue
        if char == "(":
            out.append(("open", ""))
        elif char == ")":
            out.append(("close", ""))
        elif char == "|":
            out.append(("alt", ""))
        elif char in "?*":
            out.append(("quant", "0"))
        elif char == "+":
            out.append(("quant", "1"))
        elif char == "{":
            repeat = _REPEAT.match(pattern, index)
            if repeat is None:
                return None  # a literal "{" in RE2 (its "|" would be an alternation)
            out.append(("quant", "0" if int(repeat.group(1)) == 0 else "1"))
            index = repeat.end()
            continue
        elif char in ".^$":
            out.append(("other", ""))
        else:
            out.append(("lit", char))
        index += 1
    return out


def _class_end(pattern: str, start: int) -> int:
    """The index after the character class opening at ``start``; -1 if it is not read."""
    index = start + 1
    if pattern.startswith("^", index):
        index += 1
    if pattern.startswith("]", index):
        index += 1  # "[]a]", "[^]a]": the first ] is a member
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            index += 2
            continue
        if char == "[" and pattern.startswith("[:", index):
            return -1  # POSIX classes inside: not read
        if char == "]":
            return index + 1
        index += 1
    return -1


def _branches(tokens: list[Token]) -> list[list[Token]]:
    """``tokens`` split at top-level alternation; groups become one ("other") token."""
    branches: list[list[Token]] = [[]]
    depth = 0
    for kind, value in tokens:
        if kind == "open":
            depth += 1
            if depth == 1:
                branches[-1].append(("other", ""))
        elif kind == "close":
            depth -= 1
            if depth < 0:
                return [[]]  # unbalanced: no branch has a run, so no answer
        elif depth == 0:
            if kind == "alt":
                branches.append([])
            else:
                branches[-1].append((kind, value))
    return branches if depth == 0 else [[]]


def _longest_run(branch: list[Token], ignore_case: bool) -> str | None:
    """The longest run of required plain characters (at least two, or one that is not
    ASCII), or None."""
    runs: list[str] = []
    current: list[str] = []
    for index, (kind, value) in enumerate(branch):
        following = branch[index + 1] if index + 1 < len(branch) else ("", "")
        if kind != "lit":
            runs.append("".join(current))
            current = []
            continue
        unsafe = value == CONTEXT_LOWERED or (
            ignore_case and (value in _UNSAFE_FOLDED or not value.isascii())
        )
        if following == ("quant", "0") or unsafe:
            runs.append("".join(current))  # "ab?c": b may be absent, "abc" is not required
            current = []
            continue
        current.append(value)
        if following[0] == "quant":  # required once, then repeated: the run stops here
            runs.append("".join(current))
            current = []
    runs.append("".join(current))
    best = max(runs, key=len)
    if len(best) >= 2 or (best and not best.isascii()):
        return best
    return None

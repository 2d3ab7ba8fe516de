"""Alpine, Wolfi, Chainguard: apk-tools' version comparison (apk-tools 3 ``version.c``).

Grammar: ``digits{.digits}...{letter}{_suffix{digits}}...{~hash}{-r digits}``. Tokens are the
first number, later numbers, one lowercase letter, suffixes (``_alpha _beta _pre _rc`` before a
release, ``_cvs _svn _git _hg _p`` after it), suffix numbers, a commit hash and the ``-r``
revision. Two versions are compared token by token while the token types agree: numbers by
value, except that a later number with a leading zero compares as text (``1.05 < 1.1``, as in
Gentoo); letters, suffixes, hashes by their order. At the first type mismatch the version that
goes on with a pre-release suffix is older, else the one whose next token type is higher in
``digit < letter < suffix < suffix number < hash < revision < end`` is older: ``1.2 < 1.2.1``,
``1.2a < 1.2.1``, ``1.2_rc1 < 1.2 < 1.2_p1 < 1.2-r1``.

Key: three slots per token, ``(rank, a, b)``, the rank encoding that mismatch rule (pre-release
suffix 0, end 3, revision 4, hash 5, suffix number 6, post-release suffix 7, letter 8, number 9,
first number 10); a later number is ``(9, 0, text)`` with a leading zero and ``(9, 1, n)``
without, so the text-compared ones sort first as apk sorts them. The key ends with ``3``.
"""

from __future__ import annotations

from maat.vulns.versions._base import Key, VersionSyntaxError

# apk-tools token types, in its order.
_INITIAL, _DIGIT, _LETTER, _SUFFIX, _SUFFIX_NO, _HASH, _REVISION = range(7)
_PRE_SUFFIXES = {"alpha": 1, "beta": 2, "pre": 3, "rc": 4}
_POST_SUFFIXES = {"cvs": 6, "svn": 7, "git": 8, "hg": 9, "p": 10}
_DIGITS = frozenset("0123456789")
_HEX = frozenset("0123456789abcdef")
_LOWER = frozenset("abcdefghijklmnopqrstuvwxyz")
_RANK_END = 3


def _digits_end(text: str, start: int) -> int:
    end = start
    size = len(text)
    while end < size and text[end] in _DIGITS:
        end += 1
    if end == start:
        raise VersionSyntaxError(f"expected digits at position {start + 1}")
    return end


def apk_key(text: str) -> Key:
    """The apk-tools order key of ``text``."""
    size = len(text)
    end = _digits_end(text, 0)
    key: list[object] = [10, int(text[:end]), 0]
    token = _INITIAL
    i = end
    while i < size:
        c = text[i]
        if c in _LOWER:
            if token > _DIGIT:
                raise VersionSyntaxError(f"unexpected letter {c!r} at position {i + 1}")
            token = _LETTER
            key += (8, c, 0)
            i += 1
        elif c == "." or c in _DIGITS:
            if c == ".":
                if token > _DIGIT:
                    raise VersionSyntaxError(f"unexpected '.' at position {i + 1}")
                i += 1
            end = _digits_end(text, i)
            digits = text[i:end]
            if token in (_INITIAL, _DIGIT):
                token = _DIGIT
                key += (9, 0, digits) if digits[0] == "0" else (9, 1, int(digits))
            elif token == _SUFFIX:
                token = _SUFFIX_NO
                key += (6, int(digits), 0)
            else:
                raise VersionSyntaxError(f"unexpected digits at position {i + 1}")
            i = end
        elif c == "_":
            if token > _SUFFIX_NO:
                raise VersionSyntaxError(f"unexpected '_' at position {i + 1}")
            end = i + 1
            while end < size and text[end] in _LOWER:
                end += 1
            suffix = text[i + 1 : end]
            if suffix in _PRE_SUFFIXES:
                key += (0, _PRE_SUFFIXES[suffix], 0)
            elif suffix in _POST_SUFFIXES:
                key += (7, _POST_SUFFIXES[suffix], 0)
            else:
                raise VersionSyntaxError(
                    f"unknown suffix '_{suffix}' (alpha, beta, pre, rc, cvs, svn, git, hg, p)"
                )
            token = _SUFFIX
            i = end
        elif c == "~":
            if token >= _HASH:
                raise VersionSyntaxError(f"unexpected '~' at position {i + 1}")
            end = i + 1
            while end < size and text[end] in _HEX:
                end += 1
            if end == i + 1:
                raise VersionSyntaxError("'~' must be followed by a commit hash")
            token = _HASH
            key += (5, text[i + 1 : end], 0)
            i = end
        elif c == "-":
            if token >= _REVISION or text[i + 1 : i + 2] != "r":
                raise VersionSyntaxError(f"unexpected '-' at position {i + 1} (only -rN)")
            end = _digits_end(text, i + 2)
            token = _REVISION
            key += (4, int(text[i + 2 : end]), 0)
            i = end
        else:
            raise VersionSyntaxError(f"unexpected character {c!r} at position {i + 1}")
    key.append(_RANK_END)
    return tuple(key)

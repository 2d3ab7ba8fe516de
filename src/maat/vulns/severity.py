"""Severity of advisories: CVSS 2.0 / 3.0 / 3.1 / 4.0 vectors scored, text ratings mapped.

Scores come from RedHat's ``cvss`` library; its errors are turned into
:class:`~maat.errors.InvalidInput` naming the field. Ratings use the qualitative scale of the
CVSS version (3.x and 4.0: none 0.0, low 0.1-3.9, medium 4.0-6.9, high 7.0-8.9, critical
9.0-10.0; 2.0 as NVD rates it: low < 4.0, medium < 7.0, else high).

``score`` is the base score of the vector: for 3.x the CVSS base score even when temporal or
environmental metrics are present; for 4.0 the score of every metric the vector states (the
4.0 specification has one score per vector: CVSS-B, -BT, -BE or -BTE).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal, get_args

from cvss import CVSS2, CVSS3, CVSS4  # type: ignore[import-untyped, unused-ignore]
from cvss.exceptions import CVSSError  # type: ignore[import-untyped, unused-ignore]

from maat.errors import InvalidInput

__all__ = [
    "MAX_VECTOR_LENGTH",
    "RATINGS",
    "Rating",
    "Severity",
    "highest",
    "rating_for_score",
    "rating_from_text",
    "score_cvss",
    "severity_from_database_specific",
    "severity_from_osv",
]

Rating = Literal["none", "low", "medium", "high", "critical"]
RATINGS: tuple[Rating, ...] = get_args(Rating)
"""The ratings from least to most severe."""

MAX_VECTOR_LENGTH = 512
"""Longest vector or severity text accepted."""

_RANK: Mapping[str, int] = {r: i for i, r in enumerate(RATINGS)}

# Text ratings used by advisory databases (GHSA, Red Hat, Ubuntu, Debian, Go, RustSec, NVD).
_TEXT_RATINGS: Mapping[str, Rating | None] = {
    "none": "none",
    "informational": "none",
    "info": "none",
    "negligible": "low",
    "unimportant": "low",
    "low": "low",
    "moderate": "medium",
    "medium": "medium",
    "important": "high",
    "high": "high",
    "critical": "critical",
    "untriaged": None,
    "unknown": None,
    "not yet assigned": None,
}

# OSV severity types with a CVSS vector, and the vector prefix each requires.
_CVSS_TYPES: Mapping[str, tuple[str, ...]] = {
    "CVSS_V2": ("",),
    "CVSS_V3": ("CVSS:3.0/", "CVSS:3.1/"),
    "CVSS_V4": ("CVSS:4.0/",),
}


@dataclass(frozen=True)
class Severity:
    """One severity statement: its type (``CVSS_V3``, ``CVSS_V4``, ``CVSS_V2``, ``Ubuntu``,
    ``DATABASE_SPECIFIC`` ...), the vector or text as written, the base score when the vector
    can be scored, and the qualitative rating when known."""

    type: str
    vector: str
    score: float | None
    rating: Rating | None

    @property
    def rank(self) -> int:
        """Order of the rating (-1 when unknown, 0 for none ... 4 for critical)."""
        return -1 if self.rating is None else _RANK[self.rating]


def rating_for_score(score: float, *, version: int = 3) -> Rating:
    """The qualitative rating of a CVSS score (``version`` 2 uses NVD's 2.0 scale)."""
    if version == 2:
        return "low" if score < 4.0 else "medium" if score < 7.0 else "high"
    if score == 0.0:
        return "none"
    if score < 4.0:
        return "low"
    if score < 7.0:
        return "medium"
    if score < 9.0:
        return "high"
    return "critical"


def rating_from_text(text: object) -> Rating | None:
    """Map a database's text rating (``HIGH``, GHSA ``MODERATE``, Red Hat ``Important``,
    Ubuntu ``negligible``) to a rating; ``None`` when it is not a known rating."""
    if not isinstance(text, str) or len(text) > 40:
        return None
    return _TEXT_RATINGS.get(text.strip().lower())


def _version_of(vector: str) -> int:
    if vector.startswith("CVSS:4.0/"):
        return 4
    if vector.startswith(("CVSS:3.0/", "CVSS:3.1/")):
        return 3
    if vector.startswith("CVSS:"):
        return 0
    return 2


@lru_cache(maxsize=4096)
def _score(vector: str) -> tuple[float, Rating] | str:
    """(score, rating) of a vector, or the reason it cannot be scored (cached per vector)."""
    version = _version_of(vector)
    if version == 0:
        return f"unknown CVSS version in {vector[:16]!r} (expected CVSS:3.0, 3.1 or 4.0)"
    try:
        if version == 4:
            parsed: Any = CVSS4(vector)
            score = float(parsed.base_score)
        elif version == 3:
            parsed = CVSS3(vector)
            score = float(parsed.scores()[0])
        else:
            parsed = CVSS2(vector)
            score = float(parsed.scores()[0])
    except CVSSError as exc:
        return f"invalid CVSS vector {vector[:80]!r}: {exc}"
    except (ValueError, KeyError, IndexError, TypeError, AttributeError, ArithmeticError) as exc:
        return f"invalid CVSS vector {vector[:80]!r}: {type(exc).__name__}"
    if not 0.0 <= score <= 10.0:
        return f"CVSS vector {vector[:80]!r} scores {score}, outside 0-10"
    return score, rating_for_score(score, version=version)


def score_cvss(
    vector: object, *, field: str = "vector", file: str | None = None, type: str | None = None
) -> Severity:
    """Score a CVSS vector (2.0 without prefix, ``CVSS:3.0/``, ``CVSS:3.1/``, ``CVSS:4.0/``).

    The severity ``type`` defaults to ``CVSS_V2`` / ``CVSS_V3`` / ``CVSS_V4`` by the vector.
    Raises :class:`InvalidInput` at ``field`` for anything that is not a valid vector.
    """
    if not isinstance(vector, str):
        raise InvalidInput(
            f"expected a CVSS vector string, got {_type_name(vector)}", file=file, field=field
        )
    text = vector.strip()
    if not text:
        raise InvalidInput("CVSS vector is empty", file=file, field=field)
    if len(text) > MAX_VECTOR_LENGTH:
        raise InvalidInput(
            f"CVSS vector longer than {MAX_VECTOR_LENGTH} characters", file=file, field=field
        )
    result = _score(text)
    if isinstance(result, str):
        raise InvalidInput(result, file=file, field=field)
    score, rating = result
    kind = type or {2: "CVSS_V2", 3: "CVSS_V3", 4: "CVSS_V4"}[_version_of(text)]
    return Severity(kind, text, score, rating)


def severity_from_osv(
    entry: object, *, field: str = "severity[0]", file: str | None = None
) -> Severity:
    """Read one OSV ``severity`` entry (``{"type": ..., "score": ...}``).

    ``CVSS_V2`` / ``CVSS_V3`` / ``CVSS_V4`` vectors are scored and must carry the prefix of
    their type; ``Ubuntu`` texts are mapped to a rating; other types are kept with no score.
    """
    if not isinstance(entry, Mapping):
        raise InvalidInput(f"expected an object, got {_type_name(entry)}", file=file, field=field)
    kind = entry.get("type")
    value = entry.get("score")
    if not isinstance(kind, str) or not kind or len(kind) > 40:
        raise InvalidInput(
            "severity type must be a non-empty string", file=file, field=f"{field}.type"
        )
    if not isinstance(value, str) or len(value) > MAX_VECTOR_LENGTH:
        raise InvalidInput(
            f"severity score must be a string of at most {MAX_VECTOR_LENGTH} characters",
            file=file,
            field=f"{field}.score",
        )
    prefixes = _CVSS_TYPES.get(kind)
    if prefixes is None:
        return Severity(kind, value, None, rating_from_text(value))
    text = value.strip()
    wrong = text.startswith("CVSS:") if prefixes == ("",) else not text.startswith(prefixes)
    if wrong:
        expected = "no CVSS: prefix" if prefixes == ("",) else " or ".join(prefixes)
        raise InvalidInput(
            f"{kind} vector {text[:40]!r} does not match its type (expected {expected})",
            file=file,
            field=f"{field}.score",
        )
    return score_cvss(text, field=f"{field}.score", file=file, type=kind)


def severity_from_database_specific(database_specific: object) -> Severity | None:
    """The ``database_specific.severity`` text of an OSV advisory (GHSA ``HIGH``,
    ``MODERATE`` ...) as a ``DATABASE_SPECIFIC`` severity; ``None`` when absent or unknown."""
    if not isinstance(database_specific, Mapping):
        return None
    text = database_specific.get("severity")
    rating = rating_from_text(text)
    if rating is None or not isinstance(text, str):
        return None
    return Severity("DATABASE_SPECIFIC", text, None, rating)


def highest(severities: Iterable[Severity]) -> Severity | None:
    """The most severe entry: highest rating, then highest score; ``None`` when none is
    rated or scored."""
    best: Severity | None = None
    for s in severities:
        if s.rating is None and s.score is None:
            continue
        key = (s.rank, -1.0 if s.score is None else s.score)
        if best is None or key > (best.rank, -1.0 if best.score is None else best.score):
            best = s
    return best


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list | tuple):
        return "array"
    return type(value).__name__

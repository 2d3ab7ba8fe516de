"""What every comparator shares: the protocols, the ``ZERO`` sentinel and the error path."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from maat.errors import InvalidInput

ZERO = "0"
"""OSV's ``introduced: "0"``: "since the first version". Every comparator maps it to
:data:`MINIMUM`, below every key of a real version."""

MINIMUM: tuple[()] = ()
"""The key of :data:`ZERO`. Every other key is a non-empty tuple, and Python orders the empty
tuple before every non-empty one without looking at any element, so ``MINIMUM`` is strictly
below all of them and equal only to itself."""

MAX_VERSION_LENGTH = 256
"""Longest version text accepted; longer text is refused as unparsable (no real version is
anywhere near this, and the cap keeps every parser's work small)."""

Key = tuple[Any, ...]
"""What the parsers return: a flat tuple of ints and strings, ordered as the ecosystem orders
its versions. Within one comparator, two keys never hold an int and a str at the same index
when all earlier elements are equal, so comparisons never raise."""


class VersionKey(Protocol):
    """A parsed version: totally ordered and hashable (in practice a tuple)."""

    def __lt__(self, other: Any, /) -> bool: ...

    def __le__(self, other: Any, /) -> bool: ...

    def __eq__(self, other: object, /) -> bool: ...

    def __hash__(self) -> int: ...


class Comparator(Protocol):
    """Orders the versions of one ecosystem: parse once with :meth:`key`, compare keys."""

    name: str

    def key(self, version: str) -> VersionKey:
        """The sort key of ``version``; raises ``InvalidInput(field="version")`` with the
        reason when the text is not a version of this ecosystem."""
        ...


class VersionSyntaxError(InvalidInput):
    """Raised by a parser for text it cannot read; the comparator turns it into InvalidInput.

    Internal only: it never leaves :meth:`SchemeComparator.key`.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason, field="version")
        self.reason = reason


def shown(version: str) -> str:
    """``version`` quoted for a message, shortened when long."""
    text = version if len(version) <= 60 else version[:57] + "..."
    return repr(text)


class SchemeComparator:
    """A :class:`Comparator` made of an ecosystem name and a parser to keys."""

    __slots__ = ("_parse", "name", "scheme")

    def __init__(self, name: str, scheme: str, parse: Callable[[str], Key]) -> None:
        self.name = name
        self.scheme = scheme
        self._parse = parse

    def key(self, version: str) -> VersionKey:
        """The sort key of ``version`` (:data:`MINIMUM` for :data:`ZERO`).

        Raises ``InvalidInput(field="version")`` naming the ecosystem and the reason when
        ``version`` cannot be parsed.
        """
        if version == ZERO:
            return MINIMUM
        if not version:
            raise InvalidInput(f"invalid {self.name} version: empty", field="version")
        if len(version) > MAX_VERSION_LENGTH:
            raise InvalidInput(
                f"invalid {self.name} version {shown(version)}: longer than "
                f"{MAX_VERSION_LENGTH} characters",
                field="version",
            )
        try:
            return self._parse(version)
        except VersionSyntaxError as exc:
            raise InvalidInput(
                f"invalid {self.name} version {shown(version)}: {exc.reason}",
                field="version",
            ) from None

    def __repr__(self) -> str:
        return f"<Comparator {self.name} ({self.scheme})>"

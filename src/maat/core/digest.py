"""Content digests: an algorithm and a lower-case hex value, written ``"sha256:…"``."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from types import MappingProxyType

from maat.errors import InvalidInput

__all__ = ["ALGORITHMS", "Digest"]

ALGORITHMS: MappingProxyType[str, int] = MappingProxyType(
    {"md5": 32, "sha1": 40, "sha256": 64, "sha384": 96, "sha512": 128}
)
"""The accepted algorithms and the length of their hex digest."""

_HEX = frozenset("0123456789abcdef")


def _algorithm(algorithm: object, *, field: str, file: str | None) -> str:
    if not isinstance(algorithm, str):
        raise InvalidInput(
            f"digest algorithm must be a string, got {type(algorithm).__name__}",
            file=file,
            field=field,
        )
    algo = algorithm.strip().lower().replace("-", "")
    if algo not in ALGORITHMS:
        raise InvalidInput(
            f"unsupported digest algorithm {algorithm[:20]!r}; "
            f"expected one of {', '.join(sorted(ALGORITHMS))}",
            file=file,
            field=field,
        )
    return algo


def _normalise(
    algorithm: object, hex_value: object, *, field: str, file: str | None
) -> tuple[str, str]:
    algo = _algorithm(algorithm, field=field, file=file)
    if not isinstance(hex_value, str):
        raise InvalidInput(
            f"digest value must be a hex string, got {type(hex_value).__name__}",
            file=file,
            field=field,
        )
    value = hex_value.strip().lower()
    expected = ALGORITHMS[algo]
    if len(value) != expected:
        raise InvalidInput(
            f"{algo} digest must be {expected} hex characters, got {len(value)}",
            file=file,
            field=field,
        )
    if not _HEX.issuperset(value):
        raise InvalidInput(
            f"{algo} digest must contain only hex characters 0-9a-f", file=file, field=field
        )
    return algo, value


@dataclass(frozen=True, slots=True)
class Digest:
    """A validated digest. ``str(d)`` is ``"algorithm:hex"``.

    Construct with :meth:`parse`, :meth:`from_hex` or :meth:`of_bytes`; the constructor
    validates too (raising :class:`~maat.errors.InvalidInput` with field ``digest``).
    """

    algorithm: str
    hex: str

    def __post_init__(self) -> None:
        algo, value = _normalise(self.algorithm, self.hex, field="digest", file=None)
        object.__setattr__(self, "algorithm", algo)
        object.__setattr__(self, "hex", value)

    @classmethod
    def parse(cls, text: object, *, field: str = "digest", file: str | None = None) -> Digest:
        """Parse ``"sha256:<hex>"`` (algorithm and hex are case-insensitive).

        Raises :class:`~maat.errors.InvalidInput` naming ``field`` when the text is not a
        string, lacks the ``algorithm:`` part, names an unknown algorithm or has bad hex.
        """
        if not isinstance(text, str):
            raise InvalidInput(
                f"digest must be a string, got {type(text).__name__}", file=file, field=field
            )
        algorithm, sep, value = text.partition(":")
        if not sep:
            raise InvalidInput(
                f"digest must look like 'sha256:<hex>', got {text[:80]!r}",
                file=file,
                field=field,
            )
        return cls(*_normalise(algorithm, value, field=field, file=file))

    @classmethod
    def from_hex(
        cls, algorithm: str, hex: str, *, field: str = "digest", file: str | None = None
    ) -> Digest:
        """Build a digest from an algorithm name and its hex value, validating both."""
        return cls(*_normalise(algorithm, hex, field=field, file=file))

    @classmethod
    def of_bytes(cls, data: bytes, algorithm: str = "sha256") -> Digest:
        """Hash ``data`` with ``algorithm`` (one of :data:`ALGORITHMS`)."""
        algo = _algorithm(algorithm, field="algorithm", file=None)
        return cls(algo, hashlib.new(algo, data).hexdigest())

    def matches(self, other: Digest) -> bool:
        """Return whether ``other`` is the same digest, comparing the values in constant time.

        Digests of different algorithms never match.
        """
        if self.algorithm != other.algorithm:
            return False
        return hmac.compare_digest(self.hex, other.hex)

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"

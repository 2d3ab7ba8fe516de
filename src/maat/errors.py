"""The one exception hierarchy of Maat.

Every error Maat raises derives from :class:`MaatError`. Each carries a ``diagnostics()`` text
a user can act on and an HTTP status used by the API boundary (problem+json). Boundaries (CLI,
API) catch ``MaatError`` once; any other exception escaping is a bug.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass


class UnsafeOptionWarning(UserWarning):
    """Emitted every time an ``unsafe_…`` option is used."""


# Python shows a warning once per place in the code by default; an insecure option must be
# named every time it is used. Appended, so a filter the user or a test set still wins.
warnings.filterwarnings("always", category=UnsafeOptionWarning, append=True)


def warn_unsafe(option: str, consequence: str) -> None:
    """Warn that the insecure option ``option`` is in use and what it gives away."""
    warnings.warn(
        f"{option} is enabled: {consequence}. Never use it in production.",
        UnsafeOptionWarning,
        stacklevel=3,
    )


@dataclass(frozen=True)
class Location:
    """Where a piece of bad input sits: file, line and field, each optional."""

    file: str | None = None
    line: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        parts: list[str] = []
        if self.file:
            parts.append(self.file if self.line is None else f"{self.file}:{self.line}")
        elif self.line is not None:
            parts.append(f"line {self.line}")
        if self.field:
            parts.append(f"field {self.field!r}")
        return ", ".join(parts) or "input"


@dataclass(frozen=True)
class Problem:
    """A located problem with one entry of an input that was otherwise used.

    Parsers return these for bad entries (one bad advisory in a folder, one bad component in
    an SBOM) so the rest of the input is kept and the user learns where each problem is.
    """

    message: str
    location: Location = Location()

    @classmethod
    def at(
        cls,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> Problem:
        """A problem at the given place."""
        return cls(message, Location(file=file, line=line, field=field))

    @classmethod
    def from_error(cls, error: InvalidInput) -> Problem:
        """The problem an ``InvalidInput`` describes."""
        return cls(error.message, error.location)

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


class MaatError(Exception):
    """Root of every Maat error.

    ``status`` is the HTTP status the API answers with; ``slug`` names the problem type.
    """

    status: int = 500
    slug: str = "internal-error"
    title: str = "Maat error"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def diagnostics(self) -> str:
        """A text for a person: what went wrong and, when known, what to do about it."""
        text = self.message
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class InvalidInput(MaatError):
    """Input that cannot be accepted; carries where it is (file, line, field)."""

    status = 422
    slug = "invalid-input"
    title = "Invalid input"

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.location = Location(file=file, line=line, field=field)
        super().__init__(message, hint=hint)

    def diagnostics(self) -> str:
        text = f"{self.location}: {self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class MalformedRequest(InvalidInput):
    """A request body that cannot be parsed at all (not JSON, wrong encoding)."""

    status = 400
    slug = "malformed-request"
    title = "Malformed request"


class PayloadTooLarge(MaatError):
    """A request or file above a configured size limit."""

    status = 413
    slug = "payload-too-large"
    title = "Payload too large"


class ConfigError(InvalidInput):
    """A setting that is missing, unknown or of the wrong type."""

    status = 500
    slug = "configuration-error"
    title = "Configuration error"


class NotFound(MaatError):
    """The named object does not exist."""

    status = 404
    slug = "not-found"
    title = "Not found"


class Conflict(MaatError):
    """The change conflicts with the current state (duplicate name, wrong state)."""

    status = 409
    slug = "conflict"
    title = "Conflict"


class AuthenticationFailed(MaatError):
    """Credentials missing, wrong, expired or revoked."""

    status = 401
    slug = "unauthenticated"
    title = "Authentication required"


class AccountLocked(AuthenticationFailed):
    """Too many failed logins: the account is locked for a while."""

    status = 423
    slug = "account-locked"
    title = "Account locked"


class RateLimited(MaatError):
    """Too many attempts from one client in a short time."""

    status = 429
    slug = "rate-limited"
    title = "Too many requests"

    def __init__(self, message: str, *, retry_after: int, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.retry_after = retry_after


class PermissionDenied(MaatError):
    """The caller is authenticated but not allowed to do this."""

    status = 403
    slug = "forbidden"
    title = "Forbidden"


class VerificationFailed(MaatError):
    """A fail-closed verification (signature, chain, policy) did not pass."""

    status = 422
    slug = "verification-failed"
    title = "Verification failed"

    def __init__(self, message: str, *, reasons: tuple[str, ...] = (), hint: str | None = None):
        super().__init__(message, hint=hint)
        self.reasons = reasons

    def diagnostics(self) -> str:
        lines = [self.message, *(f"  - {r}" for r in self.reasons)]
        if self.hint:
            lines.append(f"  hint: {self.hint}")
        return "\n".join(lines)


class IntegrityError(MaatError):
    """Stored data fails its integrity check (audit chain, lake manifest)."""

    status = 500
    slug = "integrity-error"
    title = "Integrity check failed"


class StorageError(MaatError):
    """The state store cannot be reached or is not at the expected schema."""

    status = 503
    slug = "storage-unavailable"
    title = "Storage unavailable"


class Unavailable(MaatError):
    """A dependency Maat needs to accept data durably is down or full (disk, spool, NATS).

    Ingest answers 503 with ``Retry-After`` and acknowledges nothing: the client keeps the data
    and sends it again, rather than Maat accepting what it cannot keep.
    """

    status = 503
    slug = "unavailable"
    title = "Service unavailable"

    def __init__(self, message: str, *, retry_after: int = 5, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.retry_after = retry_after

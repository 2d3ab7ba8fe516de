"""Who is calling: the authenticated principal and its effective permissions."""

from __future__ import annotations

from dataclasses import dataclass

from maat.auth.permissions import Permission, Role
from maat.errors import PermissionDenied


@dataclass(frozen=True)
class Principal:
    """An authenticated caller. ``permissions`` are already narrowed by token scopes."""

    user_id: str
    name: str
    roles: frozenset[Role]
    permissions: frozenset[Permission]
    credential: str  # "session:<id>" or "token:<id>"

    @property
    def actor(self) -> str:
        """How the audit log names this caller: the user, and the token when one was used
        (a token may be held by someone other than its owner)."""
        if self.credential.startswith("token:"):
            return f"user:{self.name}/{self.credential}"
        return f"user:{self.name}"

    @property
    def via_token(self) -> bool:
        """True when the caller authenticated with an API token, not a session."""
        return self.credential.startswith("token:")

    def can(self, permission: Permission) -> bool:
        """True when the caller holds ``permission``."""
        return permission in self.permissions

    def require(self, permission: Permission) -> None:
        """Raise ``PermissionDenied`` unless the caller holds ``permission``."""
        if permission not in self.permissions:
            raise PermissionDenied(
                f"{self.actor} lacks the permission {permission.value!r}",
                hint="ask an administrator for a role that grants it, or a token with that scope",
            )

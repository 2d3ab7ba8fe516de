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
        """How the audit log names this caller."""
        return f"user:{self.name}"

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

    def require_for_others(self) -> None:
        """Acting on another user's credentials needs ``users:write``."""
        if Permission.USERS_WRITE not in self.permissions:
            raise PermissionDenied(
                f"{self.actor} may only manage their own tokens",
                hint="managing other users' tokens needs the users:write permission",
            )

"""Roles and the permissions they grant.

Every API route declares one :class:`Permission` (or is explicitly public); a role is a named
set of permissions. The catalogue covers every capability so that roles stay stable as
capabilities land.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from maat.errors import InvalidInput


class Permission(StrEnum):
    """What a caller may do. ``<area>:read`` reads, ``<area>:write`` changes state."""

    SELF = "self"  # see and manage one's own session and tokens
    SYSTEM_READ = "system:read"
    USERS_READ = "users:read"
    USERS_WRITE = "users:write"
    TOKENS_READ = "tokens:read"
    TOKENS_WRITE = "tokens:write"
    AUDIT_READ = "audit:read"
    VENDORS_READ = "vendors:read"
    VENDORS_WRITE = "vendors:write"
    VULNS_READ = "vulns:read"
    VULNS_WRITE = "vulns:write"
    SIGNING_READ = "signing:read"
    SIGNING_WRITE = "signing:write"
    EXEC_DECIDE = "exec:decide"
    EVENTS_WRITE = "events:write"
    EVENTS_READ = "events:read"
    ALERTS_READ = "alerts:read"
    ALERTS_WRITE = "alerts:write"
    CASES_READ = "cases:read"
    CASES_WRITE = "cases:write"
    RULES_READ = "rules:read"
    RULES_WRITE = "rules:write"
    POLICY_READ = "policy:read"
    POLICY_WRITE = "policy:write"
    ACCESS_DECIDE = "access:decide"
    RESPONSE_EXECUTE = "response:execute"
    HUNT = "hunt:run"


class Role(StrEnum):
    """The built-in roles."""

    ADMIN = "admin"
    ANALYST = "analyst"
    AUDITOR = "auditor"
    VENDOR_MANAGER = "vendor-manager"
    AGENT = "agent"


_READS = frozenset(p for p in Permission if p.value.endswith(":read"))

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    # The auditor sees everything and changes nothing.
    Role.AUDITOR: _READS | {Permission.SELF},
    Role.ANALYST: frozenset(
        {
            Permission.SELF,
            Permission.SYSTEM_READ,
            Permission.VENDORS_READ,
            Permission.VULNS_READ,
            Permission.VULNS_WRITE,
            Permission.SIGNING_READ,
            Permission.EVENTS_READ,
            Permission.ALERTS_READ,
            Permission.ALERTS_WRITE,
            Permission.CASES_READ,
            Permission.CASES_WRITE,
            Permission.RULES_READ,
            Permission.RULES_WRITE,
            Permission.POLICY_READ,
            Permission.RESPONSE_EXECUTE,
            Permission.HUNT,
            Permission.TOKENS_WRITE,
        }
    ),
    Role.VENDOR_MANAGER: frozenset(
        {
            Permission.SELF,
            Permission.SYSTEM_READ,
            Permission.VENDORS_READ,
            Permission.VENDORS_WRITE,
            Permission.VULNS_READ,
            Permission.SIGNING_READ,
            Permission.TOKENS_WRITE,
        }
    ),
    # Agents ship telemetry and ask for execution and access decisions; nothing else.
    Role.AGENT: frozenset(
        {Permission.EVENTS_WRITE, Permission.EXEC_DECIDE, Permission.ACCESS_DECIDE}
    ),
}


def parse_roles(values: Iterable[str], *, field: str = "roles") -> frozenset[Role]:
    """Parse role names; unknown names and an empty set are errors."""
    roles: set[Role] = set()
    for value in values:
        try:
            roles.add(Role(value.strip()))
        except ValueError:
            known = ", ".join(r.value for r in Role)
            raise InvalidInput(
                f"unknown role {value!r}; known roles: {known}", field=field
            ) from None
    if not roles:
        raise InvalidInput("at least one role is required", field=field)
    return frozenset(roles)


def parse_permissions(values: Iterable[str], *, field: str = "scopes") -> frozenset[Permission]:
    """Parse permission names (a role name stands for all of its permissions)."""
    result: set[Permission] = set()
    for value in values:
        name = value.strip()
        if name in Role._value2member_map_:
            result |= ROLE_PERMISSIONS[Role(name)]
            continue
        try:
            result.add(Permission(name))
        except ValueError:
            raise InvalidInput(
                f"unknown permission or role {name!r}",
                field=field,
                hint="permissions: " + ", ".join(p.value for p in Permission),
            ) from None
    return frozenset(result)


def permissions_of(roles: Iterable[Role]) -> frozenset[Permission]:
    """The union of the permissions the roles grant."""
    granted: frozenset[Permission] = frozenset()
    for role in roles:
        granted |= ROLE_PERMISSIONS[role]
    return granted

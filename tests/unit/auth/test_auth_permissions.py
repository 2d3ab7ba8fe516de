"""Roles and permissions: unknown names are errors, the built-in roles grant what they say."""

from __future__ import annotations

import pytest

from maat.auth.permissions import (
    ROLE_PERMISSIONS,
    Permission,
    Role,
    parse_permissions,
    parse_roles,
    permissions_of,
)
from maat.errors import InvalidInput


def test_parse_roles_accepts_known_names_with_whitespace() -> None:
    assert parse_roles([" admin", "auditor "]) == {Role.ADMIN, Role.AUDITOR}


@pytest.mark.parametrize("names", [["root"], ["admin", "superuser"], ["Admin"], [""]])
def test_unknown_role_is_refused_naming_the_field(names: list[str]) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_roles(names, field="user.roles")
    assert caught.value.location.field == "user.roles"
    assert "unknown role" in caught.value.message


def test_unknown_role_error_lists_known_roles() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_roles(["root"])
    assert caught.value.location.field == "roles"
    for role in Role:
        assert role.value in caught.value.message


def test_empty_role_list_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_roles([])
    assert caught.value.location.field == "roles"


def test_parse_permissions_accepts_permission_names() -> None:
    assert parse_permissions(["users:read", " audit:read "]) == {
        Permission.USERS_READ,
        Permission.AUDIT_READ,
    }


@pytest.mark.parametrize("role", list(Role))
def test_role_name_as_scope_stands_for_all_its_permissions(role: Role) -> None:
    assert parse_permissions([role.value]) == ROLE_PERMISSIONS[role]


def test_role_bundle_and_single_permissions_combine() -> None:
    assert parse_permissions(["agent", "system:read"]) == ROLE_PERMISSIONS[Role.AGENT] | {
        Permission.SYSTEM_READ
    }


@pytest.mark.parametrize("name", ["users:admin", "*", "USERS:READ", "users"])
def test_unknown_permission_is_refused_naming_the_field(name: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_permissions(["self", name], field="token.scopes")
    assert caught.value.location.field == "token.scopes"
    assert caught.value.hint is not None
    assert "users:read" in caught.value.hint


def test_parse_permissions_of_nothing_is_nothing() -> None:
    assert parse_permissions([]) == frozenset()


def test_auditor_is_read_only() -> None:
    granted = ROLE_PERMISSIONS[Role.AUDITOR]
    writes = {p for p in granted if not p.value.endswith(":read") and p is not Permission.SELF}
    assert not writes


def test_auditor_can_read_everything() -> None:
    reads = {p for p in Permission if p.value.endswith(":read")}
    assert ROLE_PERMISSIONS[Role.AUDITOR] == reads | {Permission.SELF}


@pytest.mark.parametrize(
    "permission", [Permission.USERS_READ, Permission.AUDIT_READ, Permission.USERS_WRITE]
)
def test_agent_credential_cannot_read_users_or_audit(permission: Permission) -> None:
    assert permission not in ROLE_PERMISSIONS[Role.AGENT]


def test_agent_only_ships_events_and_asks_for_decisions() -> None:
    assert ROLE_PERMISSIONS[Role.AGENT] == {
        Permission.EVENTS_WRITE,
        Permission.EXEC_DECIDE,
        Permission.ACCESS_DECIDE,
    }


def test_admin_has_every_permission() -> None:
    assert ROLE_PERMISSIONS[Role.ADMIN] == frozenset(Permission)


@pytest.mark.parametrize("role", [r for r in Role if r is not Role.ADMIN])
def test_only_admin_can_write_users(role: Role) -> None:
    assert Permission.USERS_WRITE not in ROLE_PERMISSIONS[role]


def test_every_role_has_a_permission_set() -> None:
    assert set(ROLE_PERMISSIONS) == set(Role)


def test_permissions_of_is_the_union_of_roles() -> None:
    combined = permissions_of([Role.AGENT, Role.VENDOR_MANAGER])
    assert combined == ROLE_PERMISSIONS[Role.AGENT] | ROLE_PERMISSIONS[Role.VENDOR_MANAGER]
    assert permissions_of([]) == frozenset()

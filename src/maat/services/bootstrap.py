"""``maat init``: data directory, master secret, schema, first administrator."""

from __future__ import annotations

from dataclasses import dataclass

from maat.auth.permissions import Role
from maat.config import Settings
from maat.services.platform import Platform
from maat.services.users import NewUser, add_user


@dataclass(frozen=True)
class InitResult:
    """What ``maat init`` did."""

    revision: str
    database: str
    admin: NewUser | None


def initialise(
    settings: Settings,
    *,
    admin_name: str = "admin",
    admin_password: str | None = None,
    actor: str = "system",
) -> InitResult:
    """Create or upgrade everything Maat needs; idempotent.

    1. Create the data directory (0700) and the master secret (0600) if absent.
    2. Migrate the state store to the newest schema.
    3. Create the first administrator when there is no user yet; the password is generated
       unless given, and TOTP enrolment happens at the first login.
    """
    platform = Platform.open(settings, create=True)
    try:
        revision = platform.store.migrate()
        with platform.transaction() as uow:
            platform.audit(uow, actor, "system.init", "state-store", revision=revision)
            empty = not uow.users.list()
        admin = None
        if empty:
            admin = add_user(platform, actor, admin_name, [Role.ADMIN.value], admin_password)
        return InitResult(revision=revision, database=platform.store.backend, admin=admin)
    finally:
        platform.close()

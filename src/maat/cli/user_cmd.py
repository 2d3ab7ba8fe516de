"""``maat user``: add, list, disable, enable, reset-mfa, set-password."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from maat.cli.context import CliState, console
from maat.services import users

app = typer.Typer(help="Manage users.", no_args_is_help=True)


def _password(from_stdin: bool, *, confirm: bool) -> str | None:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    if confirm:
        value: str = typer.prompt("password", hide_input=True, confirmation_prompt=True)
        return value
    return None


@app.command("add")
def add(
    ctx: typer.Context,
    name: str,
    role: Annotated[
        list[str],
        typer.Option("--role", "-r", help="admin, analyst, auditor, vendor-manager, agent"),
    ],
    password_stdin: Annotated[bool, typer.Option(help="Read the password from stdin.")] = False,
) -> None:
    """Add a user. Without --password-stdin a password is generated and shown once."""
    state: CliState = ctx.obj
    with state.platform() as platform:
        created = users.add_user(
            platform, state.actor, name, role, _password(password_stdin, confirm=False)
        )
    out = console()
    out.print(
        f"user [bold]{created.user.name}[/bold] created ({', '.join(sorted(created.user.roles))})"
    )
    if created.generated_password:
        out.print(f"initial password (shown once): {created.generated_password}")


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """List users."""
    state: CliState = ctx.obj
    with state.platform() as platform:
        rows = users.list_users(platform)
    table = Table("name", "roles", "status", "TOTP", "created")
    for u in rows:
        status = "disabled" if u.disabled else ("locked" if u.locked_until else "active")
        table.add_row(
            u.name,
            ", ".join(sorted(u.roles)),
            status,
            "enrolled" if u.totp_enrolled else "pending",
            u.created_at.isoformat(timespec="seconds"),
        )
    console().print(table)


@app.command("disable")
def disable(ctx: typer.Context, name: str) -> None:
    """Disable a user: sessions end and tokens stop working."""
    state: CliState = ctx.obj
    with state.platform() as platform:
        users.set_disabled(platform, state.actor, name, disabled=True)
    console().print(f"user {name} disabled")


@app.command("enable")
def enable(ctx: typer.Context, name: str) -> None:
    """Re-enable a disabled user."""
    state: CliState = ctx.obj
    with state.platform() as platform:
        users.set_disabled(platform, state.actor, name, disabled=False)
    console().print(f"user {name} enabled")


@app.command("groups")
def groups(
    ctx: typer.Context,
    name: str,
    names: Annotated[list[str] | None, typer.Argument(help="The groups (none: clear).")] = None,
) -> None:
    """Set the organisation groups access policies see as the user's roles."""
    state: CliState = ctx.obj
    with state.platform() as platform:
        user = users.set_groups(platform, state.actor, name, names or [])
    console().print(f"user {name} groups: {', '.join(user.groups) or '(none)'}")


@app.command("reset-mfa")
def reset_mfa(ctx: typer.Context, name: str) -> None:
    """Forget a user's authenticators, end their sessions and revoke the API tokens they
    minted or own (but device agents' tokens others enrolled); the next login enrols a new
    authenticator. The audit entry names every token revoked."""
    state: CliState = ctx.obj
    with state.platform() as platform:
        users.reset_mfa(platform, state.actor, name)
    console().print(
        f"MFA of {name} reset: sessions ended, API tokens revoked (see the audit entry); "
        "TOTP enrolment at next login"
    )


@app.command("set-password")
def set_password(
    ctx: typer.Context,
    name: str,
    password_stdin: Annotated[bool, typer.Option(help="Read the password from stdin.")] = False,
) -> None:
    """Set a user's password (unlocks the account, ends its sessions)."""
    state: CliState = ctx.obj
    password = _password(password_stdin, confirm=True)
    assert password is not None
    with state.platform() as platform:
        users.set_password(platform, state.actor, name, password)
    console().print(f"password of {name} set")

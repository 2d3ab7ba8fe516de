"""``maat token``: create, list, revoke API tokens."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer
from rich.table import Table

from maat.cli.context import CliState, console
from maat.config import parse_duration
from maat.errors import InvalidInput
from maat.services import tokens

app = typer.Typer(help="Manage API tokens.", no_args_is_help=True)


@app.command("create")
def create(
    ctx: typer.Context,
    user: Annotated[str, typer.Option("--user", "-u", help="Owner of the token.")],
    name: Annotated[str, typer.Option("--name", "-n", help="What the token is for.")],
    scope: Annotated[
        list[str] | None,
        typer.Option("--scope", "-s", help="Permission or role name; default: all of the owner's."),
    ] = None,
    ttl: Annotated[str | None, typer.Option(help="Lifetime, e.g. 90d or 12h.")] = None,
) -> None:
    """Create a token; its secret is printed once."""
    state: CliState = ctx.obj
    lifetime = None
    if ttl is not None:
        try:
            lifetime = timedelta(seconds=parse_duration(ttl))
        except ValueError as exc:
            raise InvalidInput(str(exc), field="--ttl") from None
    with state.platform() as platform:
        created = tokens.create_token(platform, state.actor, user, name, scopes=scope, ttl=lifetime)
    out = console()
    expires = f"{created.record.expires_at:%Y-%m-%d %H:%M} UTC"
    out.print(f"token {created.record.id} for {user}, expires {expires}")
    out.print(f"scopes: {', '.join(sorted(created.record.scopes))}")
    out.print("secret (shown once):")
    print(created.text)


@app.command("list")
def list_(
    ctx: typer.Context,
    user: Annotated[str | None, typer.Option("--user", "-u", help="Only this owner's.")] = None,
) -> None:
    """List tokens (never their secrets)."""
    state: CliState = ctx.obj
    with state.platform() as platform:
        rows = tokens.list_tokens(platform, user)
        now = platform.now()
    table = Table("id", "name", "owner", "status", "expires", "scopes")
    for token, owner in rows:
        status = (
            "revoked" if token.revoked_at else ("expired" if token.expires_at <= now else "active")
        )
        table.add_row(
            token.id,
            token.name,
            owner,
            status,
            token.expires_at.isoformat(timespec="seconds"),
            ", ".join(sorted(token.scopes)),
        )
    console().print(table)


@app.command("revoke")
def revoke(ctx: typer.Context, token_id: str) -> None:
    """Revoke a token by id."""
    state: CliState = ctx.obj
    with state.platform() as platform:
        tokens.revoke_token(platform, state.actor, token_id)
    console().print(f"token {token_id} revoked")

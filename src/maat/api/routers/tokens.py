"""API tokens."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Depends, Query, Request

from maat.api.schemas import TokenCreate, TokenCreated, TokenOut
from maat.api.security import platform_of, requirement, requires
from maat.auth.permissions import Permission
from maat.auth.principal import Principal
from maat.services import tokens

router = APIRouter(prefix="/v1/tokens", tags=["tokens"])


@router.get("", **requires(Permission.SELF))
def list_tokens(
    request: Request,
    caller: Principal = Depends(requirement(Permission.SELF)),
    owner: str | None = Query(default=None, max_length=200),
) -> list[TokenOut]:
    """The caller's tokens; with ``tokens:read``, anyone's (all, or one ``owner``'s)."""
    if not caller.can(Permission.TOKENS_READ):
        if owner not in (None, caller.name):
            caller.require(Permission.TOKENS_READ)
        owner = caller.name
    return [TokenOut.of(t, o) for t, o in tokens.list_tokens(platform_of(request), owner)]


@router.post("", status_code=201, **requires(Permission.TOKENS_WRITE))
def create_token(
    body: TokenCreate,
    request: Request,
    caller: Principal = Depends(requirement(Permission.TOKENS_WRITE)),
) -> TokenCreated:
    """Create a scoped, expiring token; its secret is in the answer and nowhere else."""
    ttl = timedelta(seconds=body.ttl_seconds) if body.ttl_seconds else None
    created = tokens.create_token(
        platform_of(request),
        caller.actor,
        body.owner or caller.name,
        body.name,
        scopes=body.scopes,
        ttl=ttl,
        caller=caller,
    )
    owner = body.owner or caller.name
    return TokenCreated(**TokenOut.of(created.record, owner).model_dump(), token=created.text)


@router.delete("/{token_id}", **requires(Permission.TOKENS_WRITE))
def revoke_token(
    token_id: str,
    request: Request,
    caller: Principal = Depends(requirement(Permission.TOKENS_WRITE)),
) -> TokenOut:
    """Revoke a token; its next use is refused and audited."""
    record, owner = tokens.revoke_token(platform_of(request), caller.actor, token_id, caller=caller)
    return TokenOut.of(record, owner)

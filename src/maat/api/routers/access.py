"""Zero trust over HTTP: decisions for proxies (nginx ``auth_request``, Envoy ``ext_authz``)
and for any caller (JSON), device enrolment, posture, quarantine, heartbeats, policy versions.

A proxy (the policy enforcement point) authenticates itself with its own API token in
``X-Maat-PEP-Token`` and forwards the user's own ``Authorization`` header untouched, so Maat
knows both who asks and for whom. Every request of a session is decided afresh: when a
device's posture or a user's risk changes, the very next request sees it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import unquote

import orjson
from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import Field

from maat.access.evaluator import AccessDecision
from maat.access.paths import resource_path
from maat.access.records import DeviceRecord
from maat.api.schemas import Strict
from maat.api.security import PERMISSION_KEY, client_of, platform_of, requirement, requires
from maat.auth.permissions import Permission
from maat.auth.principal import Principal
from maat.errors import AuthenticationFailed, InvalidInput, PermissionDenied
from maat.services import access as access_service
from maat.services import auth as auth_service
from maat.services import devices, webauthn

router = APIRouter(prefix="/v1", tags=["access"])
PEP_HEADER = "x-maat-pep-token"
CREDENTIAL_KEY = "x-maat-credential-header"
MAX_POLICY_CHARS = 4 * 1024 * 1024


def access_point_of(request: Request) -> access_service.AccessPoint:
    """The app's decision point (created with the app)."""
    point: access_service.AccessPoint = request.app.state.access
    return point


def _caller_from(header: str) -> Any:
    """A dependency authenticating the API token in ``header`` (cached by the decision
    point while nothing it depends on changes) and requiring ``access:decide``. It runs on
    the event loop: a decision point's answer must not wait for a worker thread."""

    async def dependency(request: Request) -> Principal:
        token = request.headers.get(header, "").strip()
        if token[:7].lower() == "bearer ":
            token = token[7:].strip()
        if not token:
            raise AuthenticationFailed(f"authentication required: send a token in {header}")
        point = access_point_of(request)
        principal, request.state.access_epoch = point.authenticate_token(
            token, client=client_of(request)
        )
        if not principal.can(Permission.ACCESS_DECIDE):
            platform_of(request).refuse(
                principal.actor, "auth.forbidden", f"{request.method} {request.url.path}",
                "lacks access:decide", throttle_key=f"{principal.credential}:access:decide",
                client=client_of(request),
            )  # fmt: skip
        principal.require(Permission.ACCESS_DECIDE)
        return principal

    dependency.__maat_permission__ = Permission.ACCESS_DECIDE.value  # type: ignore[attr-defined]
    return dependency


_pep = _caller_from(PEP_HEADER)
_decider = _caller_from("authorization")
_PEP_ROUTE: dict[str, Any] = {
    "dependencies": [Depends(_pep)],
    # The proxy's credential is not in Authorization (that one is the user's).
    "openapi_extra": {PERMISSION_KEY: Permission.ACCESS_DECIDE.value, CREDENTIAL_KEY: PEP_HEADER},
}


def _device_of(request: Request) -> str | None:
    """The enrolled device the proxied request proves it comes from: the device's own agent
    token in ``X-Maat-Device-Token``, or the client certificate the proxy verified in
    ``X-Maat-Device-Cert`` (PEM, URL-encoded as nginx's ``$ssl_client_escaped_cert``)."""
    point, client = access_point_of(request), client_of(request)
    token = request.headers.get("x-maat-device-token", "").removeprefix("Bearer ").strip()
    if token:
        try:
            return point.proven_device(token=token, client=client)
        except AuthenticationFailed:
            return None  # a bad device credential proves no device
    cert = request.headers.get("x-maat-device-cert", "").strip()
    if cert and access_point_of(request).platform.settings.access.proxy_client_cert:
        try:
            return point.proven_device(certificate=unquote(cert).encode(), client=client)
        except InvalidInput:
            return None  # not a certificate: it proves no device
    return None


def _proxy_decision(request: Request, method: str, uri: str, pep: Principal) -> Response:
    platform = platform_of(request)
    point = access_point_of(request)
    subject: Principal | None = None
    credential = request.headers.get("authorization", "")
    if credential.lower().startswith("bearer "):
        subject = auth_service.authenticate(platform, credential[7:].strip(),
                                            client=client_of(request))  # fmt: skip
    path = resource_path(uri)
    device = _device_of(request)
    if path is None:
        why = (
            "the request path is ambiguous (an encoded slash, backslash or NUL, a ';', a "
            "control character, a '%' left after decoding once (%uXXXX, %25), raw non-ASCII "
            "or non-UTF-8 bytes, a Unicode look-alike of '/', '\\', '.' or ';', a leading "
            "'//' or '..' above the root)"
        )
        decision = AccessDecision("deny", (why,))
        path = uri[:200]
    else:
        reads = {m.strip().upper() for m in platform.settings.access.read_methods.split(",")}
        data: dict[str, Any] = {
            "subject": {"id": subject.name} if subject else {},
            "device": {"id": device} if device else {},
            "resource": {"id": path},
            "action": "read" if method.upper() in reads else "write",
            "context": {"method": method.upper(), "client": client_of(request)},
        }
        mfa_at = access_service.mfa_time(platform, subject) if subject else None
        epoch = getattr(request.state, "access_epoch", None)
        decision, _ = point.decide(data, principal=subject, mfa_at=mfa_at, epoch=epoch)
    who = subject.name if subject else "anonymous"
    point.record_refusal(pep.actor, decision, f"{method.upper()} /{path}", who)
    status = {"allow": 200, "step_up": 401, "deny": 403}[decision.decision]
    headers = {"X-Maat-Decision": decision.decision, "X-Maat-Rules": ",".join(decision.rules)}
    if subject is not None:
        headers["X-Maat-User"] = subject.name
    if decision.decision == "step_up":
        headers["WWW-Authenticate"] = 'MaatStepUp realm="maat", path="/v1/auth/step-up"'
    return Response(orjson.dumps(decision.as_dict()), status_code=status, headers=headers,
                    media_type="application/json")  # fmt: skip


@router.post("/access/decide", openapi_extra={PERMISSION_KEY: Permission.ACCESS_DECIDE.value,
                            "requestBody": {"required": True, "content": {"application/json": {
                                "schema": {"type": "object"}}}}})  # fmt: skip
async def decide(
    request: Request,
    caller: Annotated[Principal, Depends(_decider)],
) -> Response:
    """Decide one request shaped like a line of ``maat access decide`` input. Maat replaces
    what it knows itself (device posture, the subject's roles and risk, the time).
    Answers ``{"decision", "reasons", "rules"}`` (and ``attributes`` with ``?explain=true``,
    for a caller who may read policies: an agent token of a compromised host must not look
    up any user's roles, groups and risk). First among the routes, and lean (no body
    model): proxies call it on every request."""
    explain = request.query_params.get("explain") in ("true", "1")
    if explain and not caller.can(Permission.POLICY_READ):
        raise PermissionDenied(
            "?explain=true shows what Maat knows of the subject: it needs policy:read",
            hint="ask without explain, or with the token of a user who may read policies",
        )
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"the body is not JSON: {exc}", field="body") from None
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object", field="body")
    epoch = getattr(request.state, "access_epoch", None)
    decision, attributes = access_point_of(request).decide(body, epoch=epoch)
    subject = body.get("subject") if isinstance(body.get("subject"), dict) else {}
    resource = body.get("resource")
    target = resource if isinstance(resource, str) else str((resource or {}).get("id", "?"))
    who = str((subject or {}).get("id", "anonymous"))
    access_point_of(request).record_refusal(caller.actor, decision, target, who)
    out = decision.as_dict()
    if explain:
        out["attributes"] = attributes
    return Response(orjson.dumps(out, default=str), media_type="application/json")


@router.get("/access/check", **_PEP_ROUTE)
async def nginx_check(
    request: Request,
    pep: Annotated[Principal, Depends(_pep)],
    original_uri: Annotated[str, Header(alias="X-Original-URI", max_length=8000)] = "/",
    original_method: Annotated[str, Header(alias="X-Original-Method", max_length=20)] = "GET",
) -> Response:
    """nginx ``auth_request``: 200 allows, 401 asks for a step-up (``WWW-Authenticate:
    MaatStepUp``) or a login, 403 denies. The original request comes in ``X-Original-URI``
    and ``X-Original-Method``; the device proves itself with ``X-Maat-Device-Token`` or
    ``X-Maat-Device-Cert``; the user's own ``Authorization`` header is forwarded as is."""
    return _proxy_decision(request, original_method, original_uri, pep)


async def envoy_check(
    request: Request,
    path: str,
    pep: Annotated[Principal, Depends(_pep)],
) -> Response:
    """Envoy ``ext_authz`` (HTTP service, ``path_prefix: /v1/access/envoy``): the checked
    request arrives with its own method and path; 200 allows, anything else denies."""
    # The path as sent (still percent-encoded): decoded once, by resource_path, like the
    # upstream will; the {path} parameter is already decoded and would be decoded twice.
    raw = request.scope.get("raw_path") or request.url.path.encode()
    target = raw.decode("latin-1").removeprefix(router.prefix + "/access/envoy")
    del path
    return _proxy_decision(request, request.method, target or "/", pep)


for _method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
    router.add_api_route(
        "/access/envoy/{path:path}", envoy_check, methods=[_method],
        operation_id=f"envoy_check_{_method.lower()}", **_PEP_ROUTE,
    )  # fmt: skip


class StepUpIn(Strict):
    """A fresh TOTP code."""

    code: str = Field(min_length=6, max_length=10, pattern=r"^[0-9]+$")


@router.post("/auth/step-up", **requires(Permission.SELF))
def step_up(
    body: StepUpIn, request: Request, caller: Principal = Depends(requirement(Permission.SELF))
) -> dict[str, Any]:
    """Prove a second factor again on this session (answers a ``step_up`` decision)."""
    at = auth_service.step_up(platform_of(request), caller, body.code, client=client_of(request))
    return {"mfa_at": at}


class CeremonyIn(Strict):
    """The browser's answer to a WebAuthn ceremony."""

    ceremony: str = Field(min_length=1, max_length=40)
    credential: dict[str, Any]
    name: str = Field(default="authenticator", max_length=200)


@router.post("/auth/webauthn/register", **requires(Permission.SELF))
def webauthn_register(
    request: Request, caller: Principal = Depends(requirement(Permission.SELF))
) -> dict[str, Any]:
    """Start registering a passkey or security key: ``{"ceremony", "publicKey"}`` for
    ``navigator.credentials.create``."""
    return webauthn.begin(platform_of(request), caller, webauthn.REGISTER)


@router.post("/auth/webauthn/register/finish", status_code=201, **requires(Permission.SELF))
def webauthn_register_finish(
    body: CeremonyIn, request: Request,
    caller: Principal = Depends(requirement(Permission.SELF)),
) -> dict[str, Any]:  # fmt: skip
    """Keep the authenticator that answered the registration ceremony."""
    record = webauthn.finish_registration(platform_of(request), caller, body.ceremony,
                                          body.credential, body.name)  # fmt: skip
    return {"id": record.id, "name": record.name, "created_at": record.created_at}


@router.post("/auth/webauthn/step-up", **requires(Permission.SELF))
def webauthn_step_up(
    request: Request, caller: Principal = Depends(requirement(Permission.SELF))
) -> dict[str, Any]:
    """Start a step-up with a registered authenticator (``navigator.credentials.get``)."""
    return webauthn.begin(platform_of(request), caller, webauthn.STEP_UP)


@router.post("/auth/webauthn/step-up/finish", **requires(Permission.SELF))
def webauthn_step_up_finish(
    body: CeremonyIn, request: Request,
    caller: Principal = Depends(requirement(Permission.SELF)),
) -> dict[str, Any]:  # fmt: skip
    """Record a fresh second factor on this session from the authenticator's answer."""
    at = webauthn.finish_step_up(platform_of(request), caller, body.ceremony, body.credential)
    return {"mfa_at": at}


class DeviceIn(Strict):
    """A device to enrol."""

    name: str = Field(min_length=1, max_length=200)
    host: str | None = Field(default=None, max_length=200)
    agent_user: str | None = Field(default=None, max_length=200)
    address: str | None = Field(default=None, max_length=64)
    tags: list[str] = Field(default_factory=list, max_length=50)


def _device_out(device: DeviceRecord) -> dict[str, Any]:
    return {"id": device.id, "name": device.name, "host": device.host,
            "address": device.address, "tags": list(device.tags),
            "last_heartbeat_at": device.last_heartbeat_at,
            "quarantined_at": device.quarantined_at,
            "quarantine_reason": device.quarantine_reason}  # fmt: skip


@router.get("/devices", **requires(Permission.POLICY_READ))
def list_devices(request: Request) -> list[dict[str, Any]]:
    """Every enrolled device."""
    return [_device_out(d) for d in devices.list_devices(platform_of(request))]


@router.post("/devices", status_code=201, **requires(Permission.POLICY_WRITE))
def enrol_device(
    body: DeviceIn, request: Request,
    caller: Principal = Depends(requirement(Permission.POLICY_WRITE)),
) -> dict[str, Any]:  # fmt: skip
    """Enrol a device; with ``agent_user`` its own agent token is made and returned once."""
    device, token = devices.enrol_device(
        platform_of(request), caller.actor, body.name, host=body.host,
        agent_user=body.agent_user, address=body.address, tags=tuple(body.tags),
    )  # fmt: skip
    return {**_device_out(device), "token": token}


@router.get("/devices/{name}/posture", **requires(Permission.POLICY_READ))
def posture(name: str, request: Request) -> dict[str, Any]:
    """A device's posture now: level, risk and every numbered check."""
    result = devices.device_posture(platform_of(request), name)
    return {"device": result.device, "posture": result.level, "risk": result.risk,
            "checks": [{"number": c.number, "name": c.name, "passed": c.passed,
                        "detail": c.detail} for c in result.checks]}  # fmt: skip


class QuarantineIn(Strict):
    """Why a device is quarantined (or released)."""

    reason: str = Field(default="", max_length=2000)
    release: bool = False


@router.post("/devices/{name}/quarantine", **requires(Permission.RESPONSE_EXECUTE))
def quarantine(
    name: str, body: QuarantineIn, request: Request,
    caller: Principal = Depends(requirement(Permission.RESPONSE_EXECUTE)),
) -> dict[str, Any]:  # fmt: skip
    """Quarantine a device (every decision for it sees ``quarantined``) or release it."""
    device = devices.quarantine(platform_of(request), caller.actor, name,
                                       reason=body.reason, release=body.release)  # fmt: skip
    return _device_out(device)


@router.post("/access/heartbeat", **requires(Permission.EVENTS_WRITE))
async def heartbeat(
    request: Request, caller: Principal = Depends(requirement(Permission.EVENTS_WRITE))
) -> dict[str, Any]:
    """An agent says it is alive; its token must be a device's own."""
    if not caller.via_token:
        raise InvalidInput("a heartbeat comes from a device's agent token")
    token_id = caller.credential.partition(":")[2]
    platform = platform_of(request)
    known = await run_in_threadpool(devices.heartbeat, platform, token_id)
    if not known:
        raise InvalidInput("this token is no enrolled device's; enrol with --agent-user")
    return {"device_heartbeat": platform.now()}


@router.put("/access/policy", **requires(Permission.POLICY_WRITE))
async def apply_policy(
    request: Request, caller: Principal = Depends(requirement(Permission.POLICY_WRITE))
) -> dict[str, Any]:
    """Apply a new version of the access policy (YAML body); refused with every problem."""
    raw = await request.body()
    if len(raw) > MAX_POLICY_CHARS:
        raise InvalidInput(f"a policy is at most {MAX_POLICY_CHARS:,} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("the policy is not UTF-8") from None
    run: Callable[..., Any] = access_service.apply_policy
    version = await run_in_threadpool(run, platform_of(request), caller.actor, text,
                                      source="request body")  # fmt: skip
    return {"version": version.version, "digest": version.digest, "name": version.name}


@router.get("/access/policy", **requires(Permission.POLICY_READ))
def policy_history(request: Request) -> list[dict[str, Any]]:
    """Every applied version of the access policy, newest first (who, when, digest)."""
    with platform_of(request).transaction(write=False) as uow:
        versions = uow.policy_versions.history(access_service.ACCESS)
    return [{"version": v.version, "name": v.name, "digest": v.digest,
             "created_at": v.created_at, "created_by": v.created_by} for v in versions]  # fmt: skip

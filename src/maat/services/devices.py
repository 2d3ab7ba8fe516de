"""Devices: enrolment with their own credentials, heartbeats, quarantine, and the posture
Maat computes from its own data (findings, alerts, heartbeat, execution policy, quarantine).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import ipaddress
from datetime import datetime

from maat.access.posture import DeviceFacts, Posture, assess_device
from maat.access.records import DeviceRecord
from maat.auth.principal import Principal
from maat.core.enums import FindingStatus
from maat.core.ids import new_id
from maat.errors import Conflict, InvalidInput, NotFound
from maat.ports import UnitOfWork
from maat.services.findings import acceptance_of
from maat.services.platform import Platform
from maat.services.tokens import create_token
from maat.signing.policy import ExecPolicy
from maat.signing.policy import load_policy as load_exec_policy
from maat.vulns.findings import effective_status

__all__ = [
    "certificate_sha256",
    "device_facts",
    "device_posture",
    "device_record",
    "enrol_device",
    "heartbeat",
    "list_devices",
    "quarantine",
]

_ALERT_LEVELS = ("high", "critical")
_CRITICAL = "critical"
MAX_DEVICE_NAME = 200


def _valid_name(name: str, what: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_DEVICE_NAME or any(ord(c) < 32 for c in name):
        raise InvalidInput(f"a {what} name is 1 to {MAX_DEVICE_NAME} printable characters",
                           field=what)  # fmt: skip
    return name


def _valid_address(address: str | None) -> str | None:
    """``address`` as one IP address without a zone index. Peers' nftables rulesets carry
    the addresses of quarantined devices: a hostname there matches nothing (no peer could
    refuse the device), and ``fe80::5%eth0`` is no element nft accepts."""
    if address is None:
        return None
    text = address.strip()
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        ip = None
    if ip is None or (isinstance(ip, ipaddress.IPv6Address) and ip.scope_id is not None):
        raise InvalidInput(f"{address[:64]!r} is not an IP address (such as 10.10.0.5 or "
                           "fd00::5, without a %zone)", field="address")  # fmt: skip
    return text


def certificate_sha256(pem_or_der: bytes) -> str:
    """The SHA-256 of a certificate's DER (given as PEM or DER); ``InvalidInput`` if it is
    not a certificate."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    try:
        if pem_or_der.lstrip().startswith(b"-----BEGIN"):
            cert = x509.load_pem_x509_certificate(pem_or_der)
        else:
            cert = x509.load_der_x509_certificate(pem_or_der)
    except ValueError as exc:
        raise InvalidInput(f"not an X.509 certificate: {exc}", field="certificate") from None
    return hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()


def enrol_device(
    platform: Platform, actor: str, name: str, *, host: str | None = None,
    agent_user: str | None = None, address: str | None = None, tags: tuple[str, ...] = (),
    certificate: bytes | None = None,
) -> tuple[DeviceRecord, str | None]:  # fmt: skip
    """Enrol a device (its telemetry ``host.name`` defaults to its name). With
    ``agent_user``, an API token of that user becomes the device's own credential: events
    and heartbeats sent with it are the device's. Returns the device and the token text
    (shown once). With ``certificate`` (PEM or DER), a proxy that verified that client
    certificate may name the device by it."""
    name = _valid_name(name, "device")
    address = _valid_address(address)
    cert_sha256 = certificate_sha256(certificate) if certificate is not None else None
    token_text: str | None = None
    token_id: str | None = None
    if agent_user is not None:
        token = create_token(platform, actor, agent_user, f"device:{name}"[:200])
        token_text, token_id = token.text, token.record.id
    device = DeviceRecord(
        id=new_id("dev"), name=name, host=_valid_name(host or name, "host"),
        created_at=platform.now(), address=address, tags=tuple(tags), token_id=token_id,
        cert_sha256=cert_sha256,
    )  # fmt: skip
    with platform.transaction() as uow:
        if uow.devices.by_name(name) is not None:
            raise Conflict(f"device {name!r} is already enrolled")
        uow.devices.add(device)
        platform.audit(uow, actor, "device.enrol", f"device:{device.id}", name=name,
                       host=device.host, token=token_id)  # fmt: skip
    return device, token_text


def list_devices(platform: Platform) -> list[DeviceRecord]:
    """Every enrolled device."""
    with platform.transaction(write=False) as uow:
        return list(uow.devices.list())


def device_record(uow: UnitOfWork, name: str) -> DeviceRecord:
    """The enrolled device ``name``; ``NotFound`` otherwise."""
    device = uow.devices.by_name(name)
    if device is None:
        raise NotFound(f"no device {name!r}", hint="enrol it with `maat device add`")
    return device


def sending_device(platform: Platform, caller: Principal) -> DeviceRecord | None:
    """The enrolled device whose own agent token ``caller`` authenticated with, or None."""
    token_id = caller.credential.partition(":")[2]
    if not caller.via_token or not token_id:
        return None
    with platform.transaction(write=False) as uow:
        return uow.devices.by_token(token_id)


def heartbeat(platform: Platform, token_id: str, *, min_interval: float = 0) -> bool:
    """Record that the agent holding ``token_id`` is alive (its device's heartbeat). Writes
    at most once per ``min_interval`` seconds, and always over one dated after ``now`` (the
    clock moved back: kept, it would hold the device's posture at "dated in the future");
    False when the token is no device's."""
    now = platform.now()
    with platform.transaction(write=False) as uow:
        device = uow.devices.by_token(token_id)
    if device is None:
        return False
    last = device.last_heartbeat_at
    if last is not None and last <= now and (now - last).total_seconds() < min_interval:
        return True
    with platform.transaction() as uow:
        uow.devices.update(dataclasses.replace(device, last_heartbeat_at=now))
    return True


def quarantine(
    platform: Platform, actor: str, name: str, *, reason: str = "", release: bool = False
) -> DeviceRecord:
    """Put a device in quarantine (its posture becomes ``quarantined``) or release it."""
    with platform.transaction() as uow:
        device = device_record(uow, name)
        if release:
            device = dataclasses.replace(device, quarantined_at=None, quarantine_reason=None)
        else:
            device = dataclasses.replace(device, quarantined_at=platform.now(),
                                         quarantine_reason=reason or "quarantined")  # fmt: skip
        uow.devices.update(device)
        action = "device.release" if release else "device.quarantine"
        platform.audit(uow, actor, action, f"device:{device.id}", reason=reason)
    return device


@functools.lru_cache(maxsize=256)
def _exec_policy(text: str) -> ExecPolicy | None:
    try:
        return load_exec_policy(text, source="stored execution policy")
    except InvalidInput:  # stored ones were checked when loaded; never trust a broken one
        return None


def _exec_mode(uow: UnitOfWork, groups: list[str]) -> str | None:
    """``enforce`` when an active execution policy in enforce mode covers one of the
    device's groups (its host's group, its tags), ``audit`` when only audit-mode ones do,
    None when none covers it."""
    modes = set()
    for record in uow.exec_policies.active():
        policy = _exec_policy(record.text)
        if policy is not None and any(policy.applies_to(g) for g in groups or ["-"]):
            modes.add(policy.mode)
    if "enforce" in modes:
        return "enforce"
    return "audit" if modes else None


def device_facts(uow: UnitOfWork, name: str, now: datetime) -> DeviceFacts:
    """What the state store says about device ``name`` (numbered checks in
    :func:`maat.access.posture.assess_device` read these)."""
    device = uow.devices.by_name(name) if name else None
    if device is None:
        return DeviceFacts(name or "-", now, known=False)
    overdue: list[str] = []
    next_due: datetime | None = None
    host = uow.hosts.by_name(device.host)
    if host is not None:
        statuses = [FindingStatus.OPEN, FindingStatus.RISK_ACCEPTED]
        for f in uow.findings.list(subject_kind="host", subject_id=host.id, statuses=statuses):
            if f.severity != _CRITICAL:
                continue
            acceptance = acceptance_of(f)
            if effective_status(f.status, acceptance, now) is not FindingStatus.OPEN:
                if acceptance is not None and acceptance.expires_at > now:
                    next_due = min(next_due or acceptance.expires_at, acceptance.expires_at)
                continue
            if now >= f.due_at:
                overdue.append(f"{f.advisory_id} in {f.component_name} {f.component_version}")
            else:
                next_due = min(next_due or f.due_at, f.due_at)
    alerts = uow.alerts.open_naming("hosts", device.host, _ALERT_LEVELS)
    groups = ([host.group] if host is not None else []) + list(device.tags)
    return DeviceFacts(
        device=device.name, now=now, host=device.host, last_heartbeat=device.last_heartbeat_at,
        overdue_critical=tuple(overdue), next_critical_due=next_due,
        open_high_alerts=tuple(f"{a.rule_id} ({a.id})" for a in alerts),
        exec_policy_mode=_exec_mode(uow, groups), quarantined=device.quarantined_at is not None,
        quarantine_reason=device.quarantine_reason or "",
    )  # fmt: skip


def device_posture(platform: Platform, name: str) -> Posture:
    """The posture of device ``name`` now, with every check."""
    now = platform.now()
    with platform.transaction(write=False) as uow:
        facts = device_facts(uow, name, now)
    return assess_device(facts, heartbeat_max_age=float(platform.settings.access.heartbeat_max_age))

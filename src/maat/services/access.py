"""The zero-trust decision point on a platform: policies, segmentation, decisions.

:class:`AccessPoint` holds, per process, the current access policy compiled (re-read when a
new version is applied) and decides requests with attributes Maat computes itself: the
device's posture and risk from its findings, alerts, heartbeat, execution policy and
quarantine; the subject's roles, groups, vendor and risk; the time. What a caller says about
these is replaced, never trusted; an unknown device is ``unknown``, never ``trusted``.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from maat.access.evaluator import AccessDecision, AccessRequest, Evaluator
from maat.access.nftables import host_ruleset
from maat.access.policy import Policy, read_policy
from maat.access.posture import (
    IdentityFacts,
    IdentityRisk,
    Posture,
    assess_device,
    assess_identity,
)
from maat.access.records import DeviceRecord, PolicyVersion
from maat.access.segments import Segmentation, canonical_ip, read_segmentation
from maat.auth.principal import Principal
from maat.errors import InvalidInput, MaatError, NotFound
from maat.ports import UnitOfWork
from maat.services import auth
from maat.services.devices import certificate_sha256, device_facts, device_record
from maat.services.platform import Platform
from maat.services.versioned import Latest, apply_document

__all__ = [
    "AccessPoint",
    "DeviceSegments",
    "apply_policy",
    "apply_segments",
    "device_ruleset",
    "latest_segmentation",
    "mfa_time",
]

log = logging.getLogger(__name__)
ACCESS = "access"
REFUSAL_SUMMARY_SECONDS = 60.0
MAX_SUMMARY_SUBJECTS = 1_000
SEGMENTS = "segments"
_ALERT_LEVELS = ("high", "critical")


@dataclass(frozen=True)
class Subject:
    """The subject of a request as Maat knows it."""

    attributes: dict[str, Any]
    risk: IdentityRisk | None


def subject_of(uow: UnitOfWork, user_id: str | None = None, name: str | None = None) -> Subject:
    """A Maat user's attributes (roles and groups, vendor, risk); an unknown subject has no
    roles and no risk (a condition on either is then unknown, which never allows)."""
    user = uow.users.get(user_id) if user_id else (uow.users.by_name(name) if name else None)
    if user is None:
        return Subject({"id": name or user_id or "", "known": False, "roles": [], "groups": []},
                       None)  # fmt: skip
    vendor = uow.vendors.by_name(user.vendor) if user.vendor else None
    breached = vendor is not None and vendor.breached_at is not None
    alerts = [
        f"{a.rule_id} ({a.id})" for a in uow.alerts.open_naming("users", user.name, _ALERT_LEVELS)
    ]
    risk = assess_identity(IdentityFacts(
        user.name, disabled=user.disabled, vendor=user.vendor, vendor_breached=breached,
        open_high_alerts=tuple(alerts), failed_logins=user.failed_logins,
    ))  # fmt: skip
    roles = sorted({r.value for r in user.roles} | set(user.groups))
    attributes = {
        "id": user.name, "known": True, "roles": roles, "groups": list(user.groups),
        "vendor": user.vendor, "vendor_breached": breached, **risk.attributes(),
    }  # fmt: skip
    return Subject(attributes, risk)


def apply_policy(platform: Platform, actor: str, text: str, *, source: str) -> PolicyVersion:
    """Store ``text`` as the next version of the access policy (audited); refuses a policy
    with problems, listing them all."""
    return apply_document(platform, actor, ACCESS, text, source=source, read=read_policy)


def apply_segments(platform: Platform, actor: str, text: str, *, source: str) -> PolicyVersion:
    """Store ``text`` as the next version of the segmentation (audited)."""
    return apply_document(platform, actor, SEGMENTS, text, source=source,
                          read=read_segmentation)  # fmt: skip


def _evaluator(version: PolicyVersion | None) -> Evaluator:
    if version is None:
        return Evaluator(None, broken=["no access policy applied (maat policy apply)"])
    policy, problems = read_policy(version.text, source=f"access policy v{version.version}")
    return Evaluator(policy, broken=[str(p) for p in problems[:3]])


def _segmentation(version: PolicyVersion | None) -> Segmentation | None:
    if version is None:
        return None
    return read_segmentation(version.text, source=f"segmentation v{version.version}")[0]


def latest_segmentation(platform: Platform) -> Latest[Segmentation | None]:
    """A cache of the segmentation in force (None until one is applied)."""
    return Latest(platform, SEGMENTS, _segmentation)


def _enrich(
    data: Mapping[str, Any], subject: Subject, posture: Posture, device: DeviceRecord | None,
    now: datetime, mfa_at: datetime | None, segment: str | None,
) -> dict[str, Any]:  # fmt: skip
    out = dict(data)
    given_subject = data.get("subject") if isinstance(data.get("subject"), Mapping) else {}
    if subject.attributes.get("known"):
        out["subject"] = {**given_subject, **subject.attributes}  # type: ignore[dict-item]
    else:  # not a Maat user: the caller's roles stand, but never a risk or posture it claims
        claimed = {k: v for k, v in (given_subject or {}).items()
                   if k not in ("risk", "risk_reasons", "known", "vendor_breached")}  # fmt: skip
        out["subject"] = {**claimed, "known": False}
    given_device = data.get("device") if isinstance(data.get("device"), Mapping) else {}
    device_attrs = {**(given_device or {}), **posture.attributes(), "id": posture.device}
    if device is not None:
        device_attrs.update(host=device.host, tags=list(device.tags))
    device_attrs.pop("segment", None)  # the segmentation says, not the caller
    if segment is not None:
        device_attrs["segment"] = segment
    out["device"] = device_attrs
    given_context = data.get("context") if isinstance(data.get("context"), Mapping) else {}
    context = {k: v for k, v in (given_context or {}).items()
               if k not in ("time", "hour", "weekday")}  # fmt: skip
    context["time"] = now.isoformat()
    if mfa_at is not None:
        context.pop("mfa_age", None)
        context["mfa_at"] = mfa_at.isoformat()
    out["context"] = context
    return out


@dataclass(frozen=True)
class _DeviceView:
    posture: Posture
    device: DeviceRecord | None
    segment: str | None
    until: datetime | None  # when time alone may change it (None: only the epoch)

    def fresh(self, now: datetime) -> bool:
        return self.until is None or now < self.until


class AccessPoint:
    """The decision point of one process: the policy in force, and what it knows of devices
    and subjects, reused exactly as long as the store's change epoch
    (:meth:`maat.ports.StateStore.epoch`) has not moved and time alone cannot change it
    (a heartbeat going stale, a finding reaching its deadline)."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self._policy = Latest(platform, ACCESS, _evaluator)
        self.segmentation = latest_segmentation(platform)
        self._lock = threading.RLock()  # re-entrant: a cache hook may look at the epoch
        self._epoch: int | None = None
        self._devices: dict[str, _DeviceView] = {}
        self._subjects: dict[tuple[str, str], Subject] = {}
        self._principals: dict[bytes, tuple[Principal, datetime, datetime]] = {}
        self._proven: dict[tuple[str, str], str | None] = {}
        self._tally: dict[str, dict[str, Any]] = {}
        self._tally_dropped = 0
        self._stop = threading.Event()
        self._recorder: threading.Thread | None = None

    def record_refusal(
        self, actor: str, decision: AccessDecision, target: str, subject: str
    ) -> None:
        """Count a deny or step-up for the audit log. A proxy may ask thousands of times a
        second, so the audit log gets one summary record per ``REFUSAL_SUMMARY_SECONDS``
        (counts per subject, with the last target and reasons), written by a background
        thread: a decision never waits for the audit log's disk."""
        if decision.decision == "allow":
            return
        with self._lock:
            if self._recorder is None:
                self._recorder = threading.Thread(target=self._record, daemon=True,
                                                  name="maat-access-audit")  # fmt: skip
                self._recorder.start()
            entry = self._tally.get(subject)
            if entry is None:
                if len(self._tally) >= MAX_SUMMARY_SUBJECTS:
                    self._tally_dropped += 1
                    return
                entry = self._tally[subject] = {"deny": 0, "step_up": 0}
            entry[decision.decision] += 1
            entry["last_target"] = target[:400]
            entry["last_reasons"] = "; ".join(decision.reasons)[:1000]
            entry["via"] = actor

    def _record(self) -> None:
        while not self._stop.wait(REFUSAL_SUMMARY_SECONDS):
            self.flush_refusals()
        self.flush_refusals()

    def flush_refusals(self) -> int:
        """Write the refusals counted so far as one audit record; returns how many it holds."""
        with self._lock:
            tally, dropped = self._tally, self._tally_dropped
            self._tally, self._tally_dropped = {}, 0
        if not tally:
            return 0
        total = sum(int(e["deny"]) + int(e["step_up"]) for e in tally.values())
        try:
            with self.platform.transaction() as uow:
                self.platform.audit(uow, "maat-access", "access.refusals", "decision-point",
                                    outcome="refused", refusals=total, subjects=tally,
                                    subjects_not_listed=dropped)  # fmt: skip
        except MaatError as exc:  # the store is down: say so, keep deciding
            log.error("cannot audit %d access refusal(s): %s", total, exc.diagnostics())
        return total

    def close(self) -> None:
        """Write the refusals still counted, then stop the audit thread."""
        recorder = self._recorder
        if recorder is not None:
            self._stop.set()
            recorder.join(timeout=30)
            self._recorder = None
        self.flush_refusals()

    def _keep(self, cache: dict[Any, Any], key: Any, value: Any, epoch: int) -> None:
        """Store ``value`` only if the epoch it was read under is still current: checked
        and stored under the lock that clearing takes, so a change landing meanwhile can
        never leave it in a cache that outlives the change."""
        with self._lock:
            if self._epoch == epoch:
                if len(cache) > 100_000:
                    cache.clear()
                cache[key] = value

    def epoch(self, current: int | None = None) -> int:
        """The store's change epoch now (or ``current``, read moments ago in the same
        request); caches are dropped when it has moved."""
        if current is None:
            current = self.platform.store.epoch()
        if self._epoch is None or current > self._epoch:  # it only grows; never go back
            with self._lock:
                self._devices, self._subjects, self._epoch = {}, {}, current
                self._principals, self._proven = {}, {}
        return current

    def proven_device(
        self, *, token: str | None = None, certificate: bytes | None = None, client: str = ""
    ) -> str | None:
        """The enrolled device a request proves it comes from: by the device's own agent
        token, or by the client certificate a proxy verified (mTLS). None when neither
        proves a device: a device's name alone proves nothing."""
        if token:
            principal, _ = self.authenticate_token(token, client=client)
            token_id = principal.credential.partition(":")[2] if principal.via_token else ""
            key = ("token", token_id)
        elif certificate:
            key = ("cert", certificate_sha256(certificate))
        else:
            return None
        if key in self._proven:
            return self._proven[key]
        epoch = self._epoch
        with self.platform.transaction(write=False) as uow:
            device = (uow.devices.by_token(key[1]) if key[0] == "token"
                      else uow.devices.by_cert(key[1]))  # fmt: skip
        name = device.name if device is not None else None
        if epoch is not None:
            self._keep(self._proven, key, name, epoch)
        return name

    def authenticate_token(self, credential: str, *, client: str) -> tuple[Principal, int]:
        """The principal of an API token (a proxy's), reused while the epoch stands (a
        revocation, a role change or a disabled user moves it) and the token has not
        expired; its last use is still recorded every ``auth.session_touch_interval``.
        Anything but an API token is authenticated afresh each time. Returns the principal
        and the epoch it was checked at."""
        epoch = self.epoch()
        key = hashlib.sha256(credential.encode()).digest()
        now = self.platform.now()
        cached = self._principals.get(key)
        if cached is not None and now < cached[1]:
            principal, expires_at, touched = cached
            touch = float(self.platform.settings.auth.session_touch_interval)
            if (now - touched).total_seconds() >= touch:
                auth.authenticate(self.platform, credential, client=client)
                self._principals[key] = (principal, expires_at, now)
            return principal, epoch
        principal = auth.authenticate(self.platform, credential, client=client)
        if principal.via_token:
            with self.platform.transaction(write=False) as uow:
                token = uow.tokens.get(principal.credential.partition(":")[2])
            # Kept only if nothing moved the epoch meanwhile (a revocation committed after
            # the epoch was read must not land in a cache that outlives it).
            if token is not None:
                self._keep(self._principals, key, (principal, token.expires_at, now), epoch)
        return principal, epoch

    def evaluator(self, epoch: int | None = None) -> Evaluator:
        """The evaluator of the newest applied policy."""
        return self._policy.get(epoch)

    @property
    def policy(self) -> Policy | None:
        """The policy in force (None: everything is denied)."""
        return self.evaluator().policy

    def _device_view(self, uow: UnitOfWork, name: str, now: datetime, epoch: int) -> _DeviceView:
        cached = self._devices.get(name)
        if cached is not None and cached.fresh(now):
            return cached
        limit = float(self.platform.settings.access.heartbeat_max_age)
        posture = assess_device(device_facts(uow, name, now), heartbeat_max_age=limit)
        device = uow.devices.by_name(name) if name else None
        segment = None
        segmentation = self.segmentation.get(self._epoch)
        if device is not None and segmentation is not None:
            quarantined = device.quarantined_at is not None
            segment = segmentation.segment_of(
                tags=device.tags, address=device.address, quarantined=quarantined
            )
        until = posture.valid_until
        if any(c.number == 2 and not c.passed for c in posture.checks):
            # A silent device: heartbeats do not move the epoch, so look again soon (a
            # heartbeat is written at most this often anyway).
            again = now + timedelta(
                seconds=float(self.platform.settings.access.heartbeat_write_interval)
            )
            until = min(until, again) if until is not None else again
        view = _DeviceView(posture, device, segment, until)
        self._keep(self._devices, name, view, epoch)  # used once when a change landed meanwhile
        return view

    def _subject(
        self, uow: UnitOfWork, user_id: str | None, name: str | None, epoch: int
    ) -> Subject:
        key = ("id", user_id) if user_id else ("name", name or "")
        cached = self._subjects.get(key)
        if cached is None:
            cached = subject_of(uow, user_id=user_id) if user_id else subject_of(uow, name=name)
            self._keep(self._subjects, key, cached, epoch)
        return cached

    def decide(
        self, data: Mapping[str, Any], *, principal: Principal | None = None,
        mfa_at: datetime | None = None, epoch: int | None = None,
    ) -> tuple[AccessDecision, dict[str, Any]]:  # fmt: skip
        """Decide a request (the JSON shape of ``maat access decide``) after replacing what
        Maat knows itself: device posture and segment, subject attributes, time.
        ``principal`` is the authenticated subject when the request came through a proxy
        with its credential; ``epoch``, the store's change epoch read moments ago in the
        same request. Returns the decision and the attributes it was made on."""
        if not isinstance(data, Mapping):
            raise InvalidInput("a request must be a JSON object", field="request")
        epoch = self.epoch(epoch)
        evaluator = self.evaluator(epoch)
        now = self.platform.now()
        device_data = data.get("device")
        device_name = device_data.get("id") if isinstance(device_data, Mapping) else None
        subject_data = data.get("subject")
        subject_name = subject_data.get("id") if isinstance(subject_data, Mapping) else None
        name = str(device_name or "")
        user_id = principal.user_id if principal is not None else None
        subject_key = ("id", user_id) if user_id else ("name", str(subject_name or ""))
        view = self._devices.get(name)
        subject = self._subjects.get(subject_key)
        if view is None or not view.fresh(now) or subject is None:
            with self.platform.transaction(write=False) as uow:
                view = self._device_view(uow, name, now, epoch)
                subject = self._subject(
                    uow, user_id, str(subject_name) if subject_name else None, epoch
                )
        assert view is not None
        assert subject is not None
        enriched = _enrich(data, subject, view.posture, view.device, now, mfa_at, view.segment)
        request = AccessRequest.from_dict(enriched)
        return evaluator.decide(request), enriched


def mfa_time(platform: Platform, principal: Principal) -> datetime | None:
    """When ``principal`` last proved a second factor: its session's login or step-up;
    None for API tokens (no MFA)."""
    kind, _, credential_id = principal.credential.partition(":")
    if kind != "session":
        return None
    with platform.transaction(write=False) as uow:
        session = uow.sessions.get(credential_id)
    return session.last_mfa if session is not None else None


def device_ruleset(platform: Platform, name: str) -> str:
    """The nftables ruleset of device ``name`` under the segmentation in force."""
    segmentation = latest_segmentation(platform).get()
    if segmentation is None:
        raise NotFound("no segmentation applied", hint="maat segments apply FILE")
    with platform.transaction(write=False) as uow:
        device = device_record(uow, name)
        # Peers refuse quarantined hosts by address: a compromised host flushes its own
        # ruleset. Never its own address on itself (its segment does that, and traffic to
        # itself is loopback, which the refusal would come before).
        own = canonical_ip(device.address or "")
        quarantined = [d.address for d in uow.devices.list() if d.quarantined_at is not None
                       and d.address and canonical_ip(d.address) != own]  # fmt: skip
    segment = segmentation.segment_of(tags=device.tags, address=device.address,
                                      quarantined=device.quarantined_at is not None)  # fmt: skip
    return host_ruleset(segmentation, segment, host=device.name, quarantined=quarantined)


class DeviceSegments:
    """The segment each enrolled device's address is in now (its tags, address and
    quarantine under the segmentation in force), for judging flows seen in telemetry;
    re-read when the store's change epoch moves."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.segmentation = latest_segmentation(platform)
        self._epoch: int | None = None
        self._by_address: dict[str, str | None] = {}

    def current(self) -> tuple[Segmentation | None, dict[str, str | None]]:
        """The segmentation and, per device address, its segment."""
        epoch = self.platform.store.epoch()
        segmentation = self.segmentation.get(epoch)
        if epoch != self._epoch:
            by_address: dict[str, str | None] = {}
            if segmentation is not None:
                with self.platform.transaction(write=False) as uow:
                    for device in uow.devices.list():
                        if device.address:
                            by_address[canonical_ip(device.address)] = segmentation.segment_of(
                                tags=device.tags, address=device.address,
                                quarantined=device.quarantined_at is not None,
                            )  # fmt: skip
            self._by_address, self._epoch = by_address, epoch
        return segmentation, self._by_address

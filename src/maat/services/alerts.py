"""Alerts: recorded from detection hits (grouped, deduplicated), listed, forwarded.

:class:`AlertSink` is where every hit ends, as numbered steps of :meth:`AlertSink.record`:

1. each hit's entities and group key are computed (:mod:`maat.detect.alerts`): the rule,
   host, user and process, and for a correlation the group that fired, so two accounts
   caught by one correlation are two alerts;
2. in one transaction, a hit whose group has an alert seen within ``alert_group_window``
   updates it (count, last seen, event ids), a hit whose event the alert already holds is
   dropped as a duplicate, any other hit raises a new alert (audited);
3. after the commit, a new alert at ``vendor_breach_level`` or above on a host a vendor
   operates (device tag ``vendor:<name>``), from events that host's own agent sent, records
   that vendor's breach, once: the signal of detection acts in zero trust (its identities
   need step-up MFA) and vendor risk;
4. each new alert goes to the configured webhook and syslog receiver; a receiver that
   fails is reported and does not undo the stored alert. An alert every receiver took is
   marked forwarded; the others are sent again (:meth:`AlertSink.retry_forwards`, every
   ``forward_retry_interval``, for ``forward_retry_window`` after they were raised), so a
   receiver down for a while still gets them: delivery is at least once, receivers
   deduplicate by alert id.

:class:`Detector` runs the rules and indicators of ``[detect]`` over events and hands the
hits to the sink; the telemetry service runs it as a consumer of the event bus.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

from maat.access.segments import Segmentation, flow_of
from maat.config import ALERT_LEVELS
from maat.core.ids import new_id
from maat.detect.alerts import in_window, merge_hit, new_alert
from maat.detect.records import AlertRecord
from maat.detect.sigma import Engine
from maat.errors import InvalidInput, MaatError
from maat.services.access import DeviceSegments
from maat.services.detection import (
    alert_line,
    flow_alert_line,
    ioc_alert_line,
    load_ioc_files,
    load_rule_files,
)
from maat.services.platform import Platform

__all__ = ["AlertOutcome", "AlertSink", "Detector", "list_alerts"]

log = logging.getLogger(__name__)


class Forwarder(Protocol):
    """Sends one new alert somewhere; raises ``MaatError`` when it cannot."""

    def send(self, alert: AlertRecord) -> None: ...


@dataclass
class AlertOutcome:
    """What one :meth:`AlertSink.record` did."""

    new: list[AlertRecord] = field(default_factory=list)
    updated: int = 0
    duplicates: int = 0
    forward_errors: list[str] = field(default_factory=list)
    breaches: list[str] = field(default_factory=list)
    """Vendors whose breach these alerts recorded (an alert on a host they operate)."""


class AlertSink:
    """Records hits as alerts in the state store and forwards the new ones."""

    def __init__(self, platform: Platform, forwarders: Sequence[Forwarder] = ()) -> None:
        self.platform = platform
        self.settings = platform.settings.detect
        self.forwarders = list(forwarders)
        # A new alert is sent at once; what failed waits at least one interval.
        self._retry_delay = float(self.settings.forward_retry_interval)
        self._next_retry = platform.now() + timedelta(seconds=self._retry_delay)

    @classmethod
    def from_settings(cls, platform: Platform) -> AlertSink:
        """A sink with the forwarders ``[detect]`` names."""
        from maat.adapters.forward.alerts import SyslogForwarder, WebhookForwarder

        settings = platform.settings.detect
        forwarders: list[Forwarder] = []
        if settings.webhook_url:
            forwarders.append(
                WebhookForwarder(settings.webhook_url, timeout=float(settings.webhook_timeout))
            )
        if settings.syslog_target:
            forwarders.append(
                SyslogForwarder(settings.syslog_target, timeout=float(settings.webhook_timeout))
            )
        return cls(platform, forwarders)

    def record(
        self, lines: Iterable[Mapping[str, Any]], *, actor: str = "maat-detect",
        breach_evidence: bool = True,
    ) -> AlertOutcome:  # fmt: skip
        """Steps 1-4 for a batch of alert lines; ``breach_evidence=False`` keeps them out of
        step 3 (alerts of Maat's own decisions, not detections on the vendor's host)."""
        outcome = AlertOutcome()
        lines = list(lines)
        if not lines:
            return outcome
        now = self.platform.now()
        window = float(self.settings.alert_group_window)
        limit = int(self.settings.alert_max_event_ids)
        with self.platform.transaction() as uow:
            open_groups: dict[str, tuple[AlertRecord, bool]] = {}  # key -> (alert, is new)
            graph = _GraphLookup(uow)
            for line in lines:
                # Step 1.
                candidate = graph.attach(new_alert(line, alert_id=new_id("alr"), now=now))
                key = candidate.group_key
                # Step 2.
                if key not in open_groups:
                    stored = uow.alerts.latest_in_group(key)
                    if stored is not None and in_window(stored, now, window):
                        open_groups[key] = (stored, False)
                current = open_groups.get(key)
                if current is None:
                    open_groups[key] = (candidate, True)
                    continue
                merged = merge_hit(current[0], line, now=now, max_event_ids=limit)
                if merged is None:
                    outcome.duplicates += 1
                    continue
                open_groups[key] = (merged, current[1])
                outcome.updated += 0 if current[1] else 1
            breached: dict[str, AlertRecord] = {}
            for alert, is_new in open_groups.values():
                if is_new and _at_least(alert.level, self.settings.vendor_breach_level):
                    # Only what the vendor host's own agent sent is evidence about it: any
                    # other sender could name the host in an event (``host.name``).
                    senders = {str(s).casefold() for s in alert.entities.get("senders", ())}
                    for host in alert.entities.get("hosts", ()):
                        if str(host).casefold() not in senders:
                            continue
                        for vendor in graph.operators(str(host)):
                            breached.setdefault(vendor, alert)
                if is_new:
                    uow.alerts.add(alert)
                    self.platform.audit(uow, actor, "alert.raise", f"alert:{alert.id}",
                                        rule=alert.rule_id, level=alert.level)  # fmt: skip
                    outcome.new.append(alert)
                else:
                    uow.alerts.update(alert)
        # Step 3.
        if breach_evidence:
            self._record_breaches(breached, actor, outcome)
        # Step 4.
        errors, forwarded = self._forward(outcome.new)
        outcome.forward_errors.extend(errors)
        outcome.new = [forwarded.get(a.id, a) for a in outcome.new]
        return outcome

    def _forward(self, alerts: Sequence[AlertRecord]) -> tuple[list[str], dict[str, AlertRecord]]:
        """Send each alert to the receivers that have not taken it yet and record who did.

        1. A receiver that fails is not tried again in this pass (a hung one would cost
           its timeout for every alert, on the detector's thread); the alerts it missed
           are sent again later.
        2. An alert all receivers took gets its ``forwarded_at``.

        Returns the errors and each alert as recorded.
        """
        errors: list[str] = []
        failed: set[str] = set()
        names = [_receiver(f) for f in self.forwarders]
        now = self.platform.now()
        changed: dict[str, AlertRecord] = {}
        for alert in alerts:
            took = set(alert.forwarded_to)
            for name, forwarder in zip(names, self.forwarders, strict=True):
                if name in took or name in failed:
                    continue
                try:
                    forwarder.send(alert)
                    took.add(name)
                except MaatError as exc:
                    failed.add(name)
                    errors.append(f"{alert.id}: {exc.diagnostics()}")
                    log.warning("alert %s not forwarded: %s", alert.id, exc.diagnostics())
            complete = now if took >= set(names) else None
            if took != set(alert.forwarded_to) or complete is not None:
                changed[alert.id] = dataclasses.replace(
                    alert, forwarded_to=tuple(sorted(took)), forwarded_at=complete
                )
        if changed:
            with self.platform.transaction() as uow:
                for alert in changed.values():
                    uow.alerts.record_forwards(alert.id, alert.forwarded_to, alert.forwarded_at)
        return errors, changed

    def retry_forwards(self, *, force: bool = False) -> list[str]:
        """Send again the alerts of the last ``forward_retry_window`` that some receiver
        did not take, oldest first (at most ``forward_retry_batch`` a time), to those
        receivers only; once every ``forward_retry_interval``, twice as long after a pass
        that failed (up to an hour), unless ``force``. Returns the errors. Without
        receivers there is nothing to send."""
        now = self.platform.now()
        if not self.forwarders or (not force and now < self._next_retry):
            return []
        since = now - timedelta(seconds=float(self.settings.forward_retry_window))
        with self.platform.transaction(write=False) as uow:
            waiting = uow.alerts.unforwarded(since, int(self.settings.forward_retry_batch))
        errors = self._forward(waiting)[0]
        base = float(self.settings.forward_retry_interval)
        self._retry_delay = min(2 * self._retry_delay, max(base, 3600.0)) if errors else base
        self._next_retry = now + timedelta(seconds=self._retry_delay)
        return errors

    def _record_breaches(
        self, alerts: Mapping[str, AlertRecord], actor: str, outcome: AlertOutcome
    ) -> None:
        """Record the breach of each vendor whose own host raised a serious alert, once (a
        vendor already breached keeps its first record); the breach alert is forwarded
        like any new alert."""
        from maat.services.vendors import record_breach_once  # vendors builds on alerts

        for vendor, alert in sorted(alerts.items()):
            hosts = ", ".join(map(str, alert.entities.get("hosts", ())))
            report = record_breach_once(
                self.platform, actor, vendor,
                note=f"alert {alert.id} ({alert.level}): {alert.title} on {hosts}, a host the "
                "vendor operates",
            )  # fmt: skip
            if report is None:
                continue
            outcome.breaches.append(vendor)
            with self.platform.transaction(write=False) as uow:
                stored = uow.alerts.list(rule_id="maat.vendors.breach", limit=50)
            outcome.new.extend(a for a in stored if a.id == report.alert_id)  # forwarded below


def _receiver(forwarder: Forwarder) -> str:
    """The name an alert's ``forwarded_to`` records for ``forwarder``."""
    return str(getattr(forwarder, "name", type(forwarder).__name__))


VENDOR_TAG = "vendor:"


def _at_least(level: str, threshold: str) -> bool:
    if not threshold or level not in ALERT_LEVELS:
        return False
    return ALERT_LEVELS.index(level) >= ALERT_LEVELS.index(threshold)


class _GraphLookup:
    """The trust graph's view of an alert's binaries and accounts: the products and vendors
    behind them (what ingest enrichment attached is kept; what the store knows is added)."""

    def __init__(self, uow: Any) -> None:
        self.uow = uow
        self._artifacts: dict[str, tuple[set[str], set[str]]] = {}
        self._accounts: dict[str, str | None] = {}
        self._operators: dict[str, set[str]] | None = None

    def operators(self, host: str) -> set[str]:
        """The vendors that operate ``host`` (its device's ``vendor:<name>`` tags)."""
        if self._operators is None:
            self._operators = {}
            for device in self.uow.devices.list():
                vendors = {t[len(VENDOR_TAG) :] for t in device.tags if t.startswith(VENDOR_TAG)}
                if vendors:
                    self._operators.setdefault(device.host.casefold(), set()).update(vendors)
        return self._operators.get(host.casefold(), set())

    def _of_artifact(self, digest: str) -> tuple[set[str], set[str]]:
        found = self._artifacts.get(digest)
        if found is None:
            products: set[str] = set()
            vendors: set[str] = set()
            for artifact in self.uow.artifacts.by_sha256(digest):
                if artifact.product:
                    products.add(artifact.product)
                    product = self.uow.products.by_name(artifact.product)
                    if product is not None and product.vendor:
                        vendors.add(product.vendor)
                if artifact.signer_fingerprint:
                    cert = self.uow.certificates.by_fingerprint(artifact.signer_fingerprint)
                    if cert is not None and cert.vendor:
                        vendors.add(cert.vendor)
            found = self._artifacts[digest] = (products, vendors)
        return found

    def attach(self, alert: AlertRecord) -> AlertRecord:
        """``alert`` with the products and vendors its entities lead to."""
        products = set(alert.entities.get("products", ()))
        vendors = set(alert.entities.get("vendors", ()))
        for digest in alert.entities.get("artifacts", ()):
            more_products, more_vendors = self._of_artifact(str(digest))
            products |= more_products
            vendors |= more_vendors
        for host in alert.entities.get("hosts", ()):
            vendors |= self.operators(str(host))
        for user in alert.entities.get("users", ()):
            if user not in self._accounts:
                record = self.uow.users.by_name(str(user))
                self._accounts[user] = record.vendor if record is not None else None
            if self._accounts[user]:
                vendors.add(str(self._accounts[user]))
        if not products and not vendors:
            return alert
        entities = dict(alert.entities)
        if products:
            entities["products"] = sorted(products)
        if vendors:
            entities["vendors"] = sorted(vendors)
        return dataclasses.replace(alert, entities=entities)


def _paths(setting: str) -> list[Path]:
    return [Path(p) for p in setting.split(os.pathsep) if p.strip()]


class Detector:
    """The rules and indicators of ``[detect]`` and the segmentation in force, run over
    events into an :class:`AlertSink`."""

    def __init__(
        self, engine: Engine | None, iocs: Any, sink: AlertSink,
        flows: Callable[[], tuple[Segmentation | None, Mapping[str, str | None]]] | None = None,
    ) -> None:  # fmt: skip
        self.engine, self.iocs, self.sink = engine, iocs, sink
        self.flows = flows

    @classmethod
    def from_settings(cls, platform: Platform) -> Detector:
        """Sigma rules and indicators from ``[detect]`` (each may be absent) and the
        segmentation applied to the platform (re-read when a new version is applied)."""
        settings = platform.settings.detect
        rules, iocs = _paths(settings.rules), _paths(settings.iocs)
        engine = load_rule_files(rules)[1] if rules else None
        if engine is not None and engine._correlator is not None:
            # Event time is the sender's word; the window is judged against this clock.
            engine._correlator.configure(
                max_groups=int(settings.max_correlation_groups),
                max_entries=int(settings.max_correlation_entries),
                max_skew=float(settings.correlation_max_skew),
                lateness=float(settings.correlation_lateness),
                max_scan=int(settings.correlation_max_scan),
                clock=lambda: platform.now().timestamp(),
            )
        index = load_ioc_files(iocs) if iocs else None
        return cls(engine, index, AlertSink.from_settings(platform),
                   DeviceSegments(platform).current)  # fmt: skip

    def lines(
        self,
        events: Iterable[Mapping[str, Any]],
        *,
        passed_over: Callable[[str, MaatError], None] | None = None,
    ) -> list[dict[str, Any]]:
        """Alert lines of every hit in ``events`` (source: the bus). An event the rules
        could not be run on is told to ``passed_over`` (logged as an error without it); the
        others' alerts, and its own indicator and flow alerts, still come."""
        out: list[dict[str, Any]] = []
        segmentation, segments = self.flows() if self.flows is not None else (None, {})
        batch = events if isinstance(events, list) else list(events)
        unmatched: list[tuple[int, Exception]] = []
        found = self.engine.match_many(batch, unmatched) if self.engine is not None else {}
        for index, exc in unmatched:
            what = f"event {str(batch[index].get('event.id'))[:100]}"
            problem = InvalidInput(f"the rules could not be run on it: {exc!r}")
            if passed_over is not None:
                passed_over(what, problem)
            else:
                log.error("%s not detected: %s", what, problem.diagnostics())
        for index, event in enumerate(batch):
            for hit in found.get(index, ()):
                out.append(alert_line(hit, event, "bus", 0))
            for ioc in self.iocs.match(event) if self.iocs is not None else ():
                out.append(ioc_alert_line(ioc, event, "bus", 0))
            if segmentation is not None and (flow := flow_of(event)) is not None:
                # An enrolled device is judged by its own segment (tags, quarantine), any
                # other address by the networks it is in.
                verdict = segmentation.check(
                    flow.source_ip, flow.target_ip, flow.proto, flow.port,
                    source_segment=segments.get(flow.source_ip),
                    target_segment=segments.get(flow.target_ip),
                )  # fmt: skip
                if not verdict.allowed:
                    out.append(flow_alert_line(verdict, flow, event, "bus", 0))
        return out

    def run(self, events: Iterable[Mapping[str, Any]]) -> AlertOutcome:
        """Detect over ``events`` and record the alerts."""
        return self.record(self.lines(events))

    def record(self, lines: Iterable[Mapping[str, Any]]) -> AlertOutcome:
        """Record alert lines :meth:`lines` made (the bus consumer records apart from
        matching, so that a failed recording is retried without matching again)."""
        return self.sink.record(lines)

    def retry_forwards(self) -> list[str]:
        """Send again, when it is time, what a receiver did not take (the writer loop calls
        this on every turn, events or not: a quiet bus must not hold alerts back)."""
        return self.sink.retry_forwards()


def list_alerts(
    platform: Platform, *, rule_id: str | None = None, host: str | None = None,
    level: str | None = None, limit: int = 100,
) -> list[AlertRecord]:  # fmt: skip
    """Newest alerts first, filtered."""
    with platform.transaction(write=False) as uow:
        return uow.alerts.list(rule_id=rule_id, host=host, level=level, limit=limit)

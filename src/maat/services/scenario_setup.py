"""The replay of the Earth Ammit scenario: Maat set up as the drone maker's security team
would, the real API served on loopback, and the scenario's timeline played through it.

See :mod:`maat.services.scenario_run` for the whole procedure; this module holds its
set-up and its moves, and records what each control did (:class:`Observation`).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from maat.config import Settings
from maat.core.enums import Criticality
from maat.detect.records import AlertRecord
from maat.errors import MaatError, Unavailable, UnsafeOptionWarning
from maat.scenario.activity import VENDOR_DEVICES, VENDOR_SUPPORT, AccessAttempt, Execution
from maat.scenario.supply import Supply, signing_subject
from maat.scenario.world import World
from maat.services import contracts, execution, signing, users, vendors
from maat.services.access import apply_policy, apply_segments
from maat.services.alerts import Detector, list_alerts
from maat.services.assessments import assess_vendor
from maat.services.bootstrap import initialise
from maat.services.demo import serve_app
from maat.services.devices import enrol_device
from maat.services.enrichment import StoreFacts
from maat.services.findings import import_sbom
from maat.services.platform import Platform
from maat.services.scenario_run import (
    ACTOR,
    Observation,
    ScenarioOptions,
    ScenarioRun,
    SimulatedClock,
    _Item,
    new_alerts,
)
from maat.services.telemetry import Telemetry, tune_process
from maat.services.tokens import create_token
from maat.services.vulns import import_advisories

__all__ = ["Replay"]

# Alert rule ids of Maat's own controls -> the control's name in the report.
_MAAT_RULES = {
    "maat.segmentation.flow": "segmentation",
    "maat.exec.vendor_file_refused": "signing",
    "maat.signing.revoked-signer": "signing",
    "maat.vendors.breach": "vendor-risk",
}


def control_of(alert: AlertRecord) -> str:
    """Which control raised ``alert``: Maat's own rules by id, IOC hits by their route, and
    Sigma rules otherwise."""
    if alert.rule_id in _MAAT_RULES:
        return _MAAT_RULES[alert.rule_id]
    if "rule.route=ioc" in alert.entities.get("match", ()):
        return "ioc"
    return "sigma"


@dataclass
class _Credentials:
    devices: dict[str, str] = field(default_factory=dict)  # host -> its agent's token
    sensor: str = ""  # the network sensor's token
    proxy: str = ""  # the access proxy's token


class Replay:
    """A single-node Maat on a simulated clock, set up for the scenario, with its API."""

    def __init__(
        self, platform: Platform, telemetry: Telemetry, clock: SimulatedClock, run: ScenarioRun,
        supply: Supply, say: Callable[[str], None],
    ) -> None:  # fmt: skip
        self.platform, self.telemetry, self.clock = platform, telemetry, clock
        self.run, self.supply, self.say = run, supply, say
        self.world = run.world
        self.creds = _Credentials()
        self.base = ""
        self.contoso_cert = ""
        self._alerts: dict[str, int] = {}
        self._undrained = False
        self.scores: dict[str, int] = {}

    # --- set-up -------------------------------------------------------------------------------

    @classmethod
    @contextmanager
    def open(
        cls, out: Path, options: ScenarioOptions, world: World, supply: Supply,
        run: ScenarioRun, say: Callable[[str], None],
    ) -> Iterator[Replay]:  # fmt: skip
        """Initialise Maat under ``out/data``, set it up and serve its API while in use."""
        scenario = out / "scenario"
        iocs = [str(scenario / "intel" / "earth-ammit.stix.json")]
        if options.trails is not None and options.trails.exists():
            iocs.append(str(options.trails))
        elif options.trails is not None:
            run.notes.append(f"no trail lists at {options.trails}: only the STIX intel is used")
        rules = ""
        if options.sigma_rules is not None and options.sigma_rules.exists():
            rules = str(options.sigma_rules)
        else:
            run.notes.append(
                f"no Sigma rules at {options.sigma_rules}: the steps that need them are misses"
            )
        values: dict[str, Any] = {
            "data_dir": str(out / "data"),
            "detect": {"rules": rules, "iocs": ":".join(iocs)},
        }
        if options.pkcs11:
            values["pkcs11"] = dict(options.pkcs11)
            run.notes.append("signing keys live in a SoftHSM2 token of the demo's own (PKCS#11)")
        else:
            values["signing"] = {"unsafe_file_keystore": True}
            run.notes.append("no HSM token (SoftHSM2 not found): signing keys live in a file "
                             "key store in the demo's folder (unsafe_file_keystore); "
                             "production keeps them in an HSM over PKCS#11")  # fmt: skip
        settings = Settings.from_mapping(values)
        tune_process(settings)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UnsafeOptionWarning)
            initialise(settings, admin_password=None, actor="system")
            clock = SimulatedClock(options.start - timedelta(days=2))
            platform = Platform.open(settings, clock=clock)
            try:
                say("setting up vendors, contracts, SBOMs, signing, policies and devices")
                replay = cls._set_up(platform, clock, run, supply, scenario, say)
                with replay._serve():
                    yield replay
            finally:
                platform.close()

    @classmethod
    def _set_up(
        cls, platform: Platform, clock: SimulatedClock, run: ScenarioRun, supply: Supply,
        scenario: Path, say: Callable[[str], None],
    ) -> Replay:  # fmt: skip
        say("loading the Sigma rules and indicators")
        telemetry = Telemetry.open(
            platform.settings, facts=StoreFacts(platform), detector=Detector.from_settings(platform)
        )
        replay = cls(platform, telemetry, clock, run, supply, say)
        try:
            replay._trust_graph(scenario)
            replay._policies(scenario)
            replay._people_and_devices()
        except BaseException:
            telemetry.close()
            raise
        return replay

    def _trust_graph(self, scenario: Path) -> None:
        """1. Advisories; 2. the CA; 3. each supplier as a vendor with a code-signing
        certificate, its releases signed and their SBOMs imported; 4. the ERP contract."""
        p = self.platform
        import_advisories(p, ACTOR, scenario / "advisories")
        signing.ca_init(p, ACTOR, organisation=self.world.org, country="TW")
        for supplier in self.world.suppliers:
            vendors.add_vendor(p, ACTOR, supplier.name, tiers=supplier.tiers,
                               criticality=Criticality.HIGH)  # fmt: skip
            cert = signing.ca_issue(p, ACTOR, subject=signing_subject(supplier),
                                    organisation=supplier.name, vendor=supplier.name)  # fmt: skip
            if supplier is self.world.suppliers[0]:
                self.contoso_cert = cert.fingerprint
            for release in (r for r in self.supply.releases if r.supplier is supplier):
                for f in release.files:
                    signing.sign_file(p, f"{supplier.name} build", f.data, f.name,
                                      signer=cert.fingerprint, product=supplier.product,
                                      version=release.version)  # fmt: skip
                slug = supplier.product.lower().replace(" ", "-")
                name = f"{slug}-{release.version}.cdx.json"
                import_sbom(p, ACTOR, supplier.product, (scenario / "sboms" / name).read_bytes(),
                            source=name, vendor=supplier.name)  # fmt: skip
        contracts.set_contract(p, ACTOR, (scenario / "contracts" / "contoso-erp.yml").read_text(),
                               source="contoso-erp.yml")  # fmt: skip
        for answers in sorted((scenario / "assessments").glob("*.yml")):
            assess_vendor(p, ACTOR, answers)
        self.scores = {s.name: vendors.vendor_score(p, s.name).score for s in self.world.suppliers}

    def _policies(self, scenario: Path) -> None:
        for path in sorted((scenario / "exec-policies").glob("*.yml")):
            execution.load_policy_text(self.platform, ACTOR, path.read_text(), source=path.name)
        apply_segments(self.platform, ACTOR, (scenario / "segments.yml").read_text(),
                       source="segments.yml")  # fmt: skip
        apply_policy(self.platform, ACTOR, (scenario / "access-policy.yml").read_text(),
                     source="access-policy.yml")  # fmt: skip

    def _people_and_devices(self) -> None:
        """People with their groups, the vendor's support account, the fleet's agents (one
        token per device), the network sensor and the access proxy."""
        p = self.platform
        for person in self.world.people:
            users.add_user(p, ACTOR, person.name, ["auditor"])
            users.set_groups(p, ACTOR, person.name, list(person.groups))
        users.add_user(p, ACTOR, VENDOR_SUPPORT, ["auditor"])
        users.set_groups(p, ACTOR, VENDOR_SUPPORT, ["vendor-support"])
        vendors.link_account(p, ACTOR, VENDOR_SUPPORT, self.world.suppliers[0].name)
        users.add_user(p, ACTOR, "fleet-agent", ["agent"])
        for host in self.world.hosts:
            _, token = enrol_device(p, ACTOR, host.name, agent_user="fleet-agent",
                                    address=host.ip, tags=(host.segment,))  # fmt: skip
            self.creds.devices[host.name] = token or ""
        for device in VENDOR_DEVICES:
            _, token = enrol_device(p, ACTOR, device.name, agent_user="fleet-agent",
                                    address=device.ip, tags=device.tags)  # fmt: skip
            self.creds.devices[device.name] = token or ""
        self.creds.sensor = create_token(p, ACTOR, "fleet-agent", "zeek-sensor").text
        self.creds.proxy = create_token(p, ACTOR, "fleet-agent", "access-proxy").text

    # --- the API ------------------------------------------------------------------------------

    @contextmanager
    def _serve(self) -> Iterator[None]:
        from maat.api.app import create_app

        with serve_app(create_app(self.platform, telemetry=self.telemetry)) as base:
            self.base = base
            yield

    def _call(self, path: str, body: bytes, token: str, content: str = "application/json") -> Any:
        request = urllib.request.Request(self.base + path, data=body, method="POST")  # noqa: S310
        request.add_header("content-type", content)
        request.add_header("authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - loopback
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:500]
            raise MaatError(f"the API refused {path}: HTTP {exc.code} {detail}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise Unavailable(f"the demo's API did not answer {path}: {exc}") from None

    # --- the timeline -------------------------------------------------------------------------

    def play(self, items: list[_Item]) -> None:
        """Each moment at its simulated time; then what every control did about it."""
        self._alerts = {a.id: a.count for a in self._all_alerts()}
        counts = self.run.events
        for item in items:
            if item.step != "benign" and self._undrained:
                self._drain("benign")  # benign events never count for an attack step
            self.clock.set(item.at)
            if item.kind in ("events", "exec") and item.step not in ("benign", "after"):
                # What the attacker does on a host, not its preparation or our response.
                self.run.happened.setdefault(item.step, item.at)
            if item.kind == "events":
                path, lines = item.payload
                self._send_events(path, lines)
                kind = "benign" if item.step == "benign" else "attack"
                counts[kind] = counts.get(kind, 0) + len(lines)
            elif item.kind == "exec":
                self._execute(item.payload, item.step)
            elif item.kind == "access":
                self._access(item.payload, item.step)
            elif item.kind == "sign":
                self._sign_trojan()
            elif item.kind == "revoke":
                self._revoke(item.step)
            if item.kind == "events" and item.step == "benign":
                self._undrained = True  # detected in bulk before the next non-benign moment
            else:
                self._drain(item.step)
        self._drain("benign")

    def _drain(self, step: str) -> None:
        """Everything sent so far is in the lake and through detection; what it raised
        belongs to ``step``."""
        self.telemetry.drain()
        self._undrained = False
        self._observe_alerts(step)

    def _send_events(self, path: str, lines: list[bytes]) -> None:
        host = Path(path).stem
        token = self.creds.devices.get(host) or self.creds.sensor
        report = self._call("/v1/events", b"\n".join(lines), token, "application/x-ndjson")
        if report.get("rejected"):
            self.run.notes.append(f"{path}: {report['rejected']} events rejected: "
                                  f"{report.get('errors')}")  # fmt: skip

    def _execute(self, run: Execution, step: str) -> None:
        answer = self._call("/v1/exec/decide", json.dumps({
            "sha256": run.sha256, "path": run.path, "host": run.host, "host_group": run.group,
        }).encode(), self.creds.devices[run.host])  # fmt: skip
        self.run.decisions["exec"] = self.run.decisions.get("exec", 0) + 1
        if answer["action"] == "block" or answer.get("would_block"):
            name = run.path.rsplit("\\", 1)[-1]
            self._observe(step, "signing", f"execution of {name} on {run.host} blocked: "
                          + "; ".join(answer["reasons"]))  # fmt: skip

    def _access(self, ask: AccessAttempt, step: str) -> None:
        # The device's agent beats just before its user's request, as it does every minute.
        self._call("/v1/access/heartbeat", b"{}", self.creds.devices[ask.device])
        answer = self._call("/v1/access/decide", json.dumps({
            "subject": {"id": ask.subject}, "device": {"id": ask.device},
            "action": ask.action, "resource": ask.resource,
        }).encode(), self.creds.proxy)  # fmt: skip
        self.run.decisions["access"] = self.run.decisions.get("access", 0) + 1
        decision = answer["decision"]
        if decision != "allow":
            verb = {"step_up": "needs fresh MFA (step-up)", "deny": "refused"}.get(
                decision, decision
            )
            self._observe(
                step,
                "zero-trust",
                f"{ask.subject} {ask.action} {ask.resource} from "
                f"{ask.device}: {verb}: " + "; ".join(answer.get("reasons", [])),
            )

    def _sign_trojan(self) -> None:
        """VENOM's stolen signing access at the ERP vendor signs the trojanised updater."""
        erp = self.world.suppliers[0]
        signing.sign_file(self.platform, f"{erp.name} build", self.supply.trojan.data,
                          self.supply.trojan.name, signer=self.contoso_cert,
                          product=erp.product, version="4.2.1")  # fmt: skip

    def _revoke(self, step: str) -> None:
        """Days later the ERP vendor's certificate is revoked for key compromise: the
        retro-hunt names what it reached, and the vendor's compliance is reviewed."""
        record = signing.ca_revoke(self.platform, ACTOR, self.contoso_cert, reason="key_compromise")
        hunt = execution.retro_hunt(self.platform, ACTOR, record.fingerprint)
        self._observe(step, "signing", f"certificate {record.subject} revoked (key compromise), "
                      f"new CRL published; retro-hunt: {len(hunt.artifacts)} artifacts, hosts "
                      f"{', '.join(hunt.hosts) or 'none'}")  # fmt: skip
        review = contracts.review_compliance(self.platform, ACTOR, self.world.suppliers[0].name)
        for finding in review.opened:
            self._observe(
                step,
                "vendor-risk",
                f"contract finding against "
                f"{self.world.suppliers[0].name} ({finding.term}): {finding.detail}",
            )

    # --- observing ----------------------------------------------------------------------------

    def _all_alerts(self) -> list[Any]:
        return list_alerts(self.platform, limit=100_000)

    def _observe(self, step: str, control: str, action: str, level: str | None = None) -> None:
        self.run.observations.append(Observation(step, self.clock.now(), control, action, level))

    def _observe_alerts(self, step: str) -> None:
        alerts = self._all_alerts()
        for alert in new_alerts(self._alerts, alerts):
            control = control_of(alert)
            if alert.rule_id == "maat.vendors.breach":
                name = (alert.entities.get("vendors") or ["?"])[0]
                reach = vendors.blast_radius(self.platform, "vendor", name)
                actions = "; ".join(vendors.containment_actions(reach))
                score = vendors.vendor_score(self.platform, name).score
                text = (f"{alert.title} (automatically, from a high alert on its host); vendor "
                        f"score {self.scores.get(name, '?')} -> {score}: {actions}")  # fmt: skip
            else:
                text = f"alert {alert.level}: {alert.title}"
            self._observe(step, control, text, alert.level)
        self._alerts = {a.id: a.count for a in alerts}

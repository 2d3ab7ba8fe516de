"""A real nginx asks `maat serve` about every request (``auth_request``): a workstation
that just got an overdue critical finding is refused on its very next request, and allowed
again once the finding is fixed. No cache, no restart: continuous re-evaluation."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from maat.core.enums import FindingStatus
from maat.core.ids import new_id
from maat.services import access, devices, execution, tokens, users
from maat.services.platform import Platform
from maat.vulns.records import FindingRecord, HostRecord
from maat_testkit import make_settings
from serve_kit import Server, free_port

EXAMPLES = Path(__file__).parents[2] / "examples" / "access"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

pytestmark = pytest.mark.skipif(
    not Path(NGINX).exists(), reason="needs nginx (apt-get install nginx)"
)

CONF = """
worker_processes 1;
{user}
error_log {root}/error.log warn;
pid {root}/nginx.pid;
events {{ worker_connections 64; }}
http {{
    access_log {root}/access.log;
    client_body_temp_path {root}/tmp; proxy_temp_path {root}/tmp;
    fastcgi_temp_path {root}/tmp; uwsgi_temp_path {root}/tmp; scgi_temp_path {root}/tmp;
    server {{
        listen 127.0.0.1:{port};
        root {root}/www;
        location / {{
            auth_request /_maat;
            auth_request_set $maat_decision $upstream_http_x_maat_decision;
            add_header X-Maat-Decision $maat_decision always;
        }}
        location = /_maat {{
            internal;
            proxy_pass {maat}/v1/access/check;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-URI $request_uri;
            proxy_set_header X-Original-Method $request_method;
            proxy_set_header X-Maat-Device-Token $http_x_device_token;
            proxy_set_header X-Maat-PEP-Token "{pep}";
        }}
    }}
}}
"""


@dataclasses.dataclass
class World:
    data: Path
    alice: str
    host_id: str
    device_token: str


@pytest.fixture
def world(tmp_path: Path) -> World:
    """A workstation Maat trusts, an engineer, the example policy and segmentation."""
    data = tmp_path / "data"
    platform = Platform.open(make_settings(data), create=True)
    platform.store.migrate()
    users.add_user(platform, "test", "alice", ["analyst"], password="a-long-user-password")
    users.set_groups(platform, "test", "alice", ["engineer"])
    alice = tokens.create_token(platform, "test", "alice", "laptop").text
    users.add_user(platform, "test", "nginx", ["agent"], password="a-long-proxy-password")
    users.add_user(platform, "test", "agent", ["agent"], password="a-long-agent-password")
    device, device_token = devices.enrol_device(platform, "test", "ws-eng-01", agent_user="agent",
                                               tags=("engineering",))  # fmt: skip
    assert device_token is not None
    assert device.token_id is not None and devices.heartbeat(platform, device.token_id)
    execution.load_policy_text(platform, "test", "name: ws\nversion: 1\nmode: enforce\nhost_groups: ['*']\n"
                               "rules:\n  - allow_path: {glob: 'C:/Windows/**'}\n",
                               source="exec.yml")  # fmt: skip
    access.apply_policy(platform, "test", (EXAMPLES / "policy.yml").read_text(), source="p")
    access.apply_segments(platform, "test", (EXAMPLES / "segments.yml").read_text(), source="s")
    host = HostRecord(new_id("hst"), "ws-eng-01", platform.now(), group="engineering")
    with platform.transaction() as uow:
        uow.hosts.add(host)
    pep = tokens.create_token(platform, "test", "nginx", "auth_request").text
    platform.close()
    (data / "pep").write_text(pep)
    return World(data, alice, host.id, device_token)


@pytest.fixture
def nginx(world: World, tmp_path: Path) -> Iterator[str]:
    server = Server(world.data)
    server.start()
    root = tmp_path / "nginx"
    (root / "www" / "plm" / "designs").mkdir(parents=True)
    (root / "tmp").mkdir()
    (root / "www" / "plm" / "designs" / "7").write_text("rotor-v7\n")
    port = free_port()
    conf = root / "nginx.conf"
    user = "user root;" if os.geteuid() == 0 else ""
    conf.write_text(CONF.format(root=root, port=port, maat=server.base, user=user,
                                pep=(world.data / "pep").read_text()))  # fmt: skip
    proc = subprocess.Popen([NGINX, "-p", str(root), "-c", str(conf), "-g", "daemon off;"],
                            stderr=subprocess.PIPE)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(base + "/", timeout=2)
                break
            except urllib.error.HTTPError:
                break  # nginx answers (with Maat's refusal): it is up
            except OSError:
                time.sleep(0.05)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if proc.stderr is not None:
            proc.stderr.close()
        server.stop()


def _get(
    base: str, token: str | None, device: str, path: str = "/plm/designs/7"
) -> tuple[int, str, str]:
    headers = {"X-Device-Token": device}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(base + path, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode(), response.headers["X-Maat-Decision"]
    except urllib.error.HTTPError as exc:
        return exc.code, "", exc.headers.get("X-Maat-Decision", "")


def test_overdue_critical_finding_refuses_the_next_request_until_fixed(
    world: World, nginx: str
) -> None:
    device = world.device_token  # the workstation's own credential proves the device
    assert _get(nginx, world.alice, device) == (200, "rotor-v7\n", "allow")
    assert _get(nginx, None, device)[0] == 403  # no credential: nobody the policy allows
    assert _get(nginx, world.alice, "not-a-token")[0] == 403  # an unproven device
    # Naming a trusted workstation proves nothing (the proxy takes no device name).
    spoof = urllib.request.Request(nginx + "/plm/designs/7", headers={
        "Authorization": f"Bearer {world.alice}", "X-Maat-Device": "ws-eng-01"})  # fmt: skip
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(spoof, timeout=10)
    assert refused.value.code == 403
    # The path nginx serves is the one Maat decides on: no escaping a prefix rule with "..".
    assert _get(nginx, world.alice, device, path="/plm/../erp/payments")[0] == 403

    platform = Platform.open(make_settings(world.data))
    try:
        now = platform.now()
        finding = FindingRecord(
            id=new_id("fnd"), subject_kind="host", subject_id=world.host_id,
            component_key="pkg:generic/openssl", component_name="openssl",
            component_version="3.0.1", component_purl=None, advisory_id="CVE-2026-0001",
            aliases=(), summary="remote code execution", severity="critical", cvss=9.8,
            kev=True, epss=None, priority=1.0, priority_label="P1", fixed_versions=("3.0.2",),
            status=FindingStatus.OPEN, opened_at=now - timedelta(hours=73),
            due_at=now - timedelta(hours=1), last_seen_at=now,
        )  # fmt: skip
        with platform.transaction() as uow:
            uow.findings.add(finding)
        status, body, decision = _get(nginx, world.alice, device)
        assert (status, body, decision) == (403, "", "deny")

        with platform.transaction() as uow:
            uow.findings.update(dataclasses.replace(finding, status=FindingStatus.FIXED,
                                                    fixed_at=platform.now()))  # fmt: skip
        assert _get(nginx, world.alice, device) == (200, "rotor-v7\n", "allow")
    finally:
        platform.close()

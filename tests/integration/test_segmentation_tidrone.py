"""TIDRONE's lateral movement (THREAT.md B7/B8): a workstation opens SMB to another
workstation. The segmentation does not allow it, so Maat raises an alert from the observed
flow, and the nftables ruleset Maat generates for the target drops it on a real network
stack (two network namespaces joined by a veth pair), while an allowed flow still passes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from maat.services import access, devices
from maat.services.alerts import Detector
from maat.services.platform import Platform
from maat.telemetry.pipeline import parse_bytes
from maat_testkit import FakeClock, open_platform

SEGMENTS = Path(__file__).parents[2] / "examples" / "access" / "segments.yml"
WS1, WS2 = "10.10.0.5", "10.10.0.6"
NS1, NS2 = "maat-tidrone-ws1", "maat-tidrone-ws2"
IP = shutil.which("ip") or "/usr/sbin/ip"
NFT = shutil.which("nft") or "/usr/sbin/nft"

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("nft"),
    reason="needs root, iproute2 and nftables (apt-get install nftables) for network namespaces",
)


def _run(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, timeout=30)


@pytest.fixture
def two_workstations() -> Iterator[None]:
    for ns in (NS1, NS2):
        subprocess.run([IP, "netns", "del", ns], capture_output=True)
    _run(IP, "netns", "add", NS1)
    _run(IP, "netns", "add", NS2)
    try:
        _run(IP, "link", "add", "maat-tdr1", "netns", NS1, "type", "veth", "peer", "name",
             "maat-tdr2", "netns", NS2)  # fmt: skip
        for ns, dev, ip in ((NS1, "maat-tdr1", WS1), (NS2, "maat-tdr2", WS2)):
            _run(IP, "-n", ns, "addr", "add", f"{ip}/16", "dev", dev)
            _run(IP, "-n", ns, "link", "set", dev, "up")
            _run(IP, "-n", ns, "link", "set", "lo", "up")
        yield
    finally:
        for ns in (NS1, NS2):
            subprocess.run([IP, "netns", "del", ns], capture_output=True)


@pytest.fixture
def platform(tmp_path: Path, clock: FakeClock) -> Iterator[Platform]:
    for opened in open_platform("sqlite", tmp_path / "data", clock):
        access.apply_segments(opened, "test", SEGMENTS.read_text(), source=str(SEGMENTS))
        devices.enrol_device(opened, "test", "ws-eng-01", address=WS1, tags=("engineering",))
        devices.enrol_device(opened, "test", "ws-eng-02", address=WS2, tags=("engineering",))
        yield opened


LISTENER = """
import socket, sys
servers = []
for port in map(int, sys.argv[1:]):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port)); s.listen(8); servers.append(s)
print("ready", flush=True)
import time; time.sleep(60)
"""

CONNECT = """
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1.5).close()
    print("connected")
except OSError as exc:
    print(type(exc).__name__)
"""


def _event(line: str) -> dict[str, object]:
    outcome = parse_bytes(line.encode(), path="conn.log", received="2026-11-26T10:00:00Z",
                          max_event_bytes=65536)  # fmt: skip
    assert not outcome.errors and len(outcome.events) == 1
    return dict(outcome.events[0])


def _connect(port: int) -> str:
    done = subprocess.run([IP, "netns", "exec", NS1, sys.executable, "-c", CONNECT, WS2,
                           str(port)], capture_output=True, text=True, timeout=30)  # fmt: skip
    return done.stdout.strip()


def test_tidrone_workstation_to_workstation_smb_is_alerted_and_dropped(
    platform: Platform, two_workstations: None, tmp_path: Path
) -> None:
    # 1. The flow seen in network telemetry (a Zeek conn record) raises an alert.
    conn = (f'{{"ts": 1764151200.0, "uid": "C1", "id.orig_h": "{WS1}", "id.orig_p": 50123, '
            f'"id.resp_h": "{WS2}", "id.resp_p": 445, "proto": "tcp", "service": "smb", '
            f'"_path": "conn"}}')  # fmt: skip
    event = _event(conn)
    detector = Detector.from_settings(platform)
    lines = detector.lines([event])
    assert [line["rule.id"] for line in lines] == ["maat.segmentation.flow"]
    assert lines[0]["rule.techniques"] == ["T1021.002", "T1570"]
    assert "engineering -> engineering tcp/445" in lines[0]["rule.title"]
    outcome = detector.run([event])
    assert [a.rule_id for a in outcome.new] == ["maat.segmentation.flow"]
    # An allowed flow (engineering -> servers SMB) raises nothing.
    allowed = conn.replace(WS2, "10.30.0.10")
    assert detector.lines([_event(allowed)]) == []

    # 2. The generated rulesets, loaded into the two hosts' network stacks, drop SMB and let
    # the allowed SSH through.
    for ns, device in ((NS1, "ws-eng-01"), (NS2, "ws-eng-02")):
        ruleset = tmp_path / f"{device}.nft"
        ruleset.write_text(access.device_ruleset(platform, device))
        _run(IP, "netns", "exec", ns, NFT, "-f", str(ruleset))
    listener = subprocess.Popen([IP, "netns", "exec", NS2, sys.executable, "-c", LISTENER,
                                 "445", "22"], stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert listener.stdout is not None and listener.stdout.readline().strip() == "ready"
        assert _connect(22) == "connected"
        started = time.monotonic()
        assert _connect(445) in ("TimeoutError", "timeout")  # dropped, not refused
        assert time.monotonic() - started >= 1.0
        # Without Maat's ruleset the same SMB connection succeeds: the drop is the ruleset's.
        _run(IP, "netns", "exec", NS2, NFT, "delete", "table", "inet", "maat")
        _run(IP, "netns", "exec", NS1, NFT, "delete", "table", "inet", "maat")
        assert _connect(445) == "connected"
    finally:
        listener.kill()
        listener.wait()
        if listener.stdout is not None:
            listener.stdout.close()


def test_a_quarantined_workstation_that_flushed_its_firewall_cannot_reach_its_neighbour(
    platform: Platform, two_workstations: None, tmp_path: Path
) -> None:
    # TIDRONE on ws-eng-01 is caught and the device quarantined; being root there, the
    # attacker deletes Maat's table. Its neighbour's ruleset must still refuse it, though
    # engineering -> engineering SSH is allowed and ws-eng-01's address is engineering's.
    listener = subprocess.Popen([IP, "netns", "exec", NS2, sys.executable, "-c", LISTENER,
                                 "22"], stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert listener.stdout is not None and listener.stdout.readline().strip() == "ready"
        neighbour = tmp_path / "ws-eng-02.nft"
        neighbour.write_text(access.device_ruleset(platform, "ws-eng-02"))
        _run(IP, "netns", "exec", NS2, NFT, "-f", str(neighbour))
        assert _connect(22) == "connected"
        devices.quarantine(platform, "test", "ws-eng-01", reason="TIDRONE")
        neighbour.write_text(access.device_ruleset(platform, "ws-eng-02"))
        _run(IP, "netns", "exec", NS2, NFT, "-f", str(neighbour))
        assert _connect(22) in ("TimeoutError", "timeout")
        devices.quarantine(platform, "test", "ws-eng-01", release=True)
        neighbour.write_text(access.device_ruleset(platform, "ws-eng-02"))
        _run(IP, "netns", "exec", NS2, NFT, "-f", str(neighbour))
        assert _connect(22) == "connected"
    finally:
        listener.kill()
        listener.wait()
        if listener.stdout is not None:
            listener.stdout.close()

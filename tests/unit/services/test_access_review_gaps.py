"""Gaps a review of the decision point found in the services around it: a heartbeat stuck in
the future, and peers that still accept a quarantined host by its address. Runs on SQLite
and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from maat.errors import InvalidInput
from maat.services import access, devices, users
from maat.services.platform import Platform
from maat_testkit import FakeClock

SEGMENTS = (Path(__file__).parents[3] / "examples" / "access" / "segments.yml").read_text()


def _device(platform: Platform, name: str, **kwargs: object) -> str:
    """Enrol ``name`` with its own agent token; returns the token id."""
    users.add_user(platform, "test", f"agent-{name}", ["agent"], "a-long-agent-password")
    device, _ = devices.enrol_device(platform, "test", name, agent_user=f"agent-{name}",
                                    **kwargs)  # type: ignore[arg-type]  # fmt: skip
    assert device.token_id is not None
    return device.token_id


def _last_beat(platform: Platform, name: str) -> object:
    with platform.transaction(write=False) as uow:
        device = uow.devices.by_name(name)
    assert device is not None
    return device.last_heartbeat_at


def test_a_future_dated_heartbeat_is_replaced_after_the_clock_moves_back(
    platform: Platform, clock: FakeClock
) -> None:
    # The server's clock ran a day ahead when the agent last beat, then NTP moved it back:
    # "now - last" is negative, below min_interval, and the future heartbeat was kept for
    # ever, so posture said "dated in the future" (untrusted) however often the agent beat.
    token = _device(platform, "ws-1")
    clock.advance(days=1)
    assert devices.heartbeat(platform, token, min_interval=60)
    clock.advance(days=-1)
    assert devices.heartbeat(platform, token, min_interval=60)
    assert _last_beat(platform, "ws-1") == clock.now()
    # Within min_interval of a past heartbeat, nothing is written (the rate limit stands).
    before = clock.now()
    clock.advance(seconds=10)
    assert devices.heartbeat(platform, token, min_interval=60)
    assert _last_beat(platform, "ws-1") == before


def test_peers_drop_a_quarantined_host_that_flushed_its_own_firewall(
    platform: Platform,
) -> None:
    # TIDRONE host ws-eng-02 is quarantined; it is compromised, so its own ruleset is gone.
    # The server and its engineering neighbour must refuse it by address, or the flows
    # from its original segment (engineering -> servers 445, engineering ssh) and "*" (DNS)
    # still carry lateral movement and exfiltration. Maat itself (8470) stays reachable.
    access.apply_segments(platform, "test", SEGMENTS, source="segments.yml")
    _device(platform, "srv-1", tags=("server",), address="10.30.0.2")
    _device(platform, "ws-eng-01", tags=("engineering",), address="10.10.0.5")
    _device(platform, "ws-eng-02", tags=("engineering",), address="10.10.0.6")
    _device(platform, "ws-v6", tags=("office",), address="fd00::6")
    devices.quarantine(platform, "test", "ws-eng-02", reason="case 7")
    devices.quarantine(platform, "test", "ws-v6", reason="case 7")

    server = access.device_ruleset(platform, "srv-1").splitlines()
    start = server.index("\tchain input {")
    chain = server[start:server.index("\t}", start)]
    quarantine = [i for i, line in enumerate(chain) if "@quarantined" in line]
    established = chain.index("\t\tct state established,related accept")
    allowed = next(i for i, line in enumerate(chain) if "@seg_engineering" in line)
    assert quarantine and max(quarantine) < established < allowed
    assert "\t\tip saddr @quarantined tcp dport { 8470 } accept" in "\n".join(chain)
    assert any("elements = { 10.10.0.6 }" in line for line in server)
    assert any("elements = { fd00::6 }" in line for line in server)

    peer = access.device_ruleset(platform, "ws-eng-01")
    assert 'ip saddr @quarantined counter log prefix "maat-drop-quarantined " drop' in peer
    assert 'ip daddr @quarantined counter log prefix "maat-drop-quarantined " drop' in peer
    assert "ip6 saddr @quarantined_v6" in peer
    # The quarantined host's own ruleset does not drop itself; released, it is a peer again.
    own = access.device_ruleset(platform, "ws-eng-02")
    assert "10.10.0.6" not in own and "fd00::6" in own
    devices.quarantine(platform, "test", "ws-eng-02", release=True)
    devices.quarantine(platform, "test", "ws-v6", release=True)
    assert "@quarantined" not in access.device_ruleset(platform, "srv-1")



def test_a_device_address_that_is_no_plain_ip_address_is_refused_at_enrolment(
    platform: Platform,
) -> None:
    # Every peer's ruleset now carries the addresses of quarantined devices: "fe80::5%eth0"
    # (or any text) there made nft refuse the whole ruleset, so no peer got its update.
    for address in ("fe80::5%eth0", "ws-eng-03.corp", "10.10.0.0/24", "fd00::5%x }"):
        with pytest.raises(InvalidInput) as caught:
            devices.enrol_device(platform, "test", "ws-eng-03", address=address)
        assert caught.value.location.field == "address"
    device, _ = devices.enrol_device(platform, "test", "ws-eng-03", address=" 10.10.0.7 ")
    assert device.address == "10.10.0.7"

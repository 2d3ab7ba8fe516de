"""Alert entities, grouping keys, merging, and the CEF line a SIEM reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from maat.detect.alerts import alert_entities, cef_line, group_key, in_window, merge_hit, new_alert

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def line(**extra: object) -> dict[str, object]:
    out: dict[str, object] = {
        "rule.id": "r1", "rule.title": "Side-loading", "rule.level": "high",
        "rule.techniques": ["T1574.002"], "event.id": "e1", "host.name": "ENG-WS7",
        "user.name": "alice", "process.executable": "C:\\x\\winword.exe",
        "process.hash.sha256": "ab" * 32, "maat.process.vendor": "Contoso ERP",
    }  # fmt: skip
    out.update(extra)
    return out


def test_entities_name_host_user_process_artifact_and_trust_graph_vendor() -> None:
    entities = alert_entities(line())
    assert entities == {
        "hosts": ["ENG-WS7"], "users": ["alice"], "processes": ["C:\\x\\winword.exe"],
        "artifacts": ["ab" * 32], "vendors": ["Contoso ERP"],
    }  # fmt: skip


def test_group_key_separates_rules_and_hosts_but_not_events() -> None:
    base = group_key("r1", alert_entities(line()))
    assert base == group_key("r1", alert_entities(line(**{"event.id": "e2"})))
    assert base != group_key("r2", alert_entities(line()))
    assert base != group_key("r1", alert_entities(line(**{"host.name": "ENG-WS8"})))


def test_merge_counts_new_events_once_and_bounds_the_ids_kept() -> None:
    alert = new_alert(line(), alert_id="alr_1", now=NOW)
    assert merge_hit(alert, line(), now=NOW, max_event_ids=2) is None  # same event
    second = merge_hit(alert, line(**{"event.id": "e2"}), now=NOW, max_event_ids=2)
    assert second is not None and second.count == 2 and second.event_ids == ("e1", "e2")
    third = merge_hit(second, line(**{"event.id": "e3"}), now=NOW, max_event_ids=2)
    assert third is not None and third.count == 3 and third.event_ids == ("e2", "e3")
    # A redelivery of the latest event is still recognised once the ids are full.
    assert merge_hit(third, line(**{"event.id": "e3"}), now=NOW, max_event_ids=2) is None
    assert in_window(third, NOW + timedelta(minutes=59), 3600)
    assert not in_window(third, NOW + timedelta(minutes=61), 3600)


def test_cef_injection_through_a_crafted_process_name_cannot_forge_fields() -> None:
    evil = "C:\\x\\a.exe|CEF:0|Fake|Fake|1|spoof|spoof|1|dhost=trusted\nsev=0 act=allowed"
    alert = new_alert(line(**{"process.executable": evil, "rule.title": "T|itle\nx"}),
                      alert_id="alr_1", now=NOW)  # fmt: skip
    text = cef_line(alert, version="0.1.0")
    assert "\n" not in text
    header, _, extension = text.partition("|rt=")
    assert header.count("|") - header.count("\\|") == 6  # exactly the 7 CEF header fields
    assert "T\\|itle x" in header
    assert (
        "dproc=C:\\\\x\\\\a.exe|CEF:0|Fake|Fake|1|spoof|spoof|1|dhost\\=trusted\\nsev\\=0 act\\=allowed"
        in extension
    )
    assert extension.count(" dhost=") == 1  # the real host field only


def test_two_accounts_caught_by_one_correlation_are_not_merged_into_one_alert() -> None:
    def fired(user: str) -> dict[str, object]:
        return line(**{"rule.route": "correlation", "correlation.group": {"User": user}})

    alice = new_alert(fired("alice"), alert_id="alr_1", now=NOW)
    mallory = new_alert(fired("mallory"), alert_id="alr_2", now=NOW)
    assert alice.entities["correlation"] == ["User=alice"]  # the alert says who fired
    assert alice.group_key != mallory.group_key
    assert alice.group_key == new_alert(fired("alice"), alert_id="alr_3", now=NOW).group_key
    # Hits that are not correlations keep the key they always had.
    assert "correlation" not in alert_entities(line())
    assert new_alert(line(), alert_id="alr_4", now=NOW).group_key == group_key(
        "r1", alert_entities(line())
    )

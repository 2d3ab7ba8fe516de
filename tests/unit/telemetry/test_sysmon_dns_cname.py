"""Sysmon 22 (DNS query): a name the query reached through a CNAME is kept, so that an
indicator on the CNAME target (a C2 behind an innocent-looking name) can match."""

from __future__ import annotations

from typing import Any

import pytest

from maat.telemetry.windows import JSON_SOURCES

SYSMON = "Microsoft-Windows-Sysmon"


def dns_query(results: str) -> dict[str, Any]:
    record = {
        "@timestamp": "2024-03-01T10:00:00.123Z", "EventID": 22, "RecordNumber": 7,
        "Channel": f"{SYSMON}/Operational", "SourceName": SYSMON, "Hostname": "WS01",
        "Image": "C:\\x.exe", "QueryName": "innocent.example.org", "QueryResults": results,
    }  # fmt: skip
    source = next(s for s in JSON_SOURCES if s.accepts(record))
    event = source.normalise(record)
    assert isinstance(event, dict)
    return event


def test_a_cname_hop_to_a_c2_is_kept_beside_the_addresses() -> None:
    event = dns_query(
        "type:  5 fghytr.com;type:  5 edge.fghytr.com.;::ffff:198.51.100.77;2001:db8::7;"
    )
    assert event["dns.question.name"] == "innocent.example.org"
    assert event["dns.answers.data"] == ["fghytr.com", "edge.fghytr.com"]
    assert event["dns.resolved_ip"] == ["198.51.100.77", "2001:db8::7"]


@pytest.mark.parametrize("results", ["-", "", "type:  5 ;", "type: 5", "type:  12 x.example;",
                                     "type:  5 a b;"])  # fmt: skip
def test_query_results_without_a_cname_add_no_answer_names(results: str) -> None:
    assert "dns.answers.data" not in dns_query(results)

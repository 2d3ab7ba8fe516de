"""Access and API-gateway logs (nginx, Envoy, AWS API Gateway, generic) and Maat's audit."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from maat.errors import InvalidInput
from maat.telemetry.access_log import (
    JSON_SOURCES,
    ApiGatewayLog,
    EnvoyLog,
    GenericAccessLog,
    MaatAuditLog,
    NginxLog,
)
from maat.telemetry.model import finish
from telemetry_kit import pick, sibling

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# nginx: log_format json escape=json '{"time_local":"$time_local", …}' — every value text.
NGINX: dict[str, Any] = {
    "time_local": "14/Nov/2023:23:13:20 +0100",
    "remote_addr": "203.0.113.50",
    "remote_user": "-",
    "request": "GET /wp-login.php?redirect_to=%2Fwp-admin HTTP/1.1",
    "status": "404",
    "body_bytes_sent": "153",
    "request_time": "0.004",
    "http_referer": "-",
    "http_user_agent": "Mozilla/5.0 zgrab/0.x",
    "http_x_forwarded_for": "-",
    "upstream_addr": "127.0.0.1:9000",
    "host": "shop.example.com",
    "request_id": "7f3c9a1e2b4d5f60718293a4b5c6d7e8",
}
NGINX_ISO: dict[str, Any] = {
    "time_iso8601": "2023-11-14T22:13:21+00:00",
    "remote_addr": "10.0.0.7",
    "request_method": "POST",
    "request_uri": "/api/upload",
    "server_protocol": "HTTP/2.0",
    "status": 201,
    "body_bytes_sent": 17,
    "http_x_forwarded_for": "198.51.100.4, 10.0.0.7",
    "host": "shop.example.com",
}
# Envoy's JSON access log format (Istio's default set of fields); numbers typed.
ENVOY: dict[str, Any] = {
    "start_time": "2023-11-14T22:13:20.123Z",
    "method": "POST",
    "path": "/api/v1/orders?debug=true",
    "protocol": "HTTP/1.1",
    "response_code": 503,
    "response_flags": "UF",
    "bytes_received": 512,
    "bytes_sent": 91,
    "duration": 30012,
    "upstream_service_time": None,
    "x_forwarded_for": "198.51.100.23",
    "user_agent": "curl/8.4.0",
    "request_id": "5e3f0a4c-9a7e-4d1b-8c2f-0e6d4b3a2f19",
    "authority": "orders.internal:8080",
    "upstream_host": "10.1.2.3:8080",
    "downstream_remote_address": "10.1.9.9:40212",
    "upstream_cluster": "outbound|8080||orders.default.svc.cluster.local",
    "route_name": "default",
}
# AWS API Gateway: the documented JSON format of a REST API, and an HTTP API's.
APIGW_REST: dict[str, Any] = {
    "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
    "ip": "192.0.2.44",
    "caller": "-",
    "user": "-",
    "requestTime": "14/Nov/2023:22:13:20 +0000",
    "httpMethod": "DELETE",
    "resourcePath": "/pets/{petId}",
    "status": "403",
    "protocol": "HTTP/1.1",
    "responseLength": "61",
}
APIGW_HTTP: dict[str, Any] = {
    "requestId": "O7Xj3iMnIAMEVxw=",
    "ip": "192.0.2.45",
    "requestTime": "14/Nov/2023:22:13:21 +0000",
    "requestTimeEpoch": 1700000001123,
    "httpMethod": "GET",
    "routeKey": "GET /pets/{id}",
    "path": "/pets/7",
    "status": "200",
    "protocol": "HTTP/1.1",
    "responseLength": "112",
    "userAgent": "python-requests/2.31.0",
    "domainName": "api.example.com",
    "responseLatency": "23",
}
GENERIC: dict[str, Any] = {
    "timestamp": "2023-11-14T22:13:22.500Z",
    "method": "post",
    "path": "/v1/login",
    "status": 401,
    "client_ip": "198.51.100.99",
    "user": "mallory",
    "user_agent": "python-requests/2.31",
    "duration_ms": 12.5,
    "request_id": "r-1",
}
# Maat's own audit record as GET /v1/audit returns it.
MAAT_AUDIT: dict[str, Any] = {
    "seq": 17,
    "at": "2026-11-25T10:00:00.123456+00:00",
    "actor": "user:alice",
    "action": "auth.login",
    "target": "user:alice",
    "outcome": "failure",
    "details": {"client": "198.51.100.12", "reason": "bad password", "attempts": 3},
    "mac": "9c1d0f3e4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0",
}
SHAPES: list[tuple[dict[str, Any], type]] = [
    (NGINX, NginxLog),
    (NGINX_ISO, NginxLog),
    (ENVOY, EnvoyLog),
    (APIGW_REST, ApiGatewayLog),
    (APIGW_HTTP, ApiGatewayLog),
    (GENERIC, GenericAccessLog),
    (MAAT_AUDIT, MaatAuditLog),
]
SAMPLES = [record for record, _ in SHAPES]


def event_of(record: dict[str, Any]) -> dict[str, Any]:
    (source,) = [s for s in JSON_SOURCES if s.accepts(record)]
    event = source.normalise(record)
    for key, value in event.items():
        assert isinstance(value, str | int | float | bool | list), key
        if isinstance(value, list):
            assert all(isinstance(v, str) for v in value), key
    return event


@pytest.mark.parametrize(("record", "shape"), SHAPES)
def test_each_shape_is_claimed_by_its_reader_only(record: dict[str, Any], shape: type) -> None:
    assert [type(s) for s in JSON_SOURCES if s.accepts(record)] == [shape]
    assert all(s.name == "access_log" for s in JSON_SOURCES)
    event = event_of(record)
    finish(event, module="access_log", raw=b"{}", received="2026-01-01T00:00:00.000000Z")


def test_nginx_request_line_is_split_into_method_url_and_version() -> None:
    expected = {
        "@timestamp": "2023-11-14T22:13:20.000000Z",
        "event.dataset": "access_log.nginx",
        "event.category": ["web"],
        "event.type": ["access"],
        "event.outcome": "failure",
        "source.ip": "203.0.113.50",
        "http.request.method": "GET",
        "url.original": "/wp-login.php?redirect_to=%2Fwp-admin",
        "url.path": "/wp-login.php",
        "url.query": "redirect_to=%2Fwp-admin",
        "url.domain": "shop.example.com",
        "http.version": "1.1",
        "http.response.status_code": 404,
        "http.response.body.bytes": 153,
        "event.duration": 4_000_000,
        "user_agent.original": "Mozilla/5.0 zgrab/0.x",
        "http.request.id": "7f3c9a1e2b4d5f60718293a4b5c6d7e8",
        "access_log.upstream.address": "127.0.0.1:9000",
    }
    event = event_of(NGINX)
    assert pick(event, expected) == expected
    assert "user.name" not in event and "http.request.referrer" not in event  # "-" is nothing


def test_nginx_iso_time_and_forwarded_client() -> None:
    expected = {
        "@timestamp": "2023-11-14T22:13:21.000000Z",
        "http.request.method": "POST",
        "url.path": "/api/upload",
        "http.version": "2.0",
        "http.response.status_code": 201,
        "event.outcome": "success",
        "network.forwarded_ip": "198.51.100.4",
    }
    assert pick(event_of(NGINX_ISO), expected) == expected


def test_nginx_garbage_request_is_kept_without_a_method() -> None:
    event = event_of({**NGINX, "request": "\x16\x03\x01\x00\xa5\x01", "status": "400"})
    assert "http.request.method" not in event
    assert event["access_log.request"] == "\x16\x03\x01\x00\xa5\x01"
    assert event["http.response.status_code"] == 400


def test_envoy_maps_duration_in_milliseconds_and_the_peer() -> None:
    expected = {
        "@timestamp": "2023-11-14T22:13:20.123Z",
        "event.dataset": "access_log.envoy",
        "http.request.method": "POST",
        "url.path": "/api/v1/orders",
        "url.query": "debug=true",
        "url.domain": "orders.internal",
        "url.port": 8080,
        "http.response.status_code": 503,
        "event.outcome": "failure",
        "http.response.body.bytes": 91,
        "http.request.body.bytes": 512,
        "event.duration": 30_012_000_000,
        "source.ip": "10.1.9.9",
        "source.port": 40212,
        "network.forwarded_ip": "198.51.100.23",
        "http.request.id": "5e3f0a4c-9a7e-4d1b-8c2f-0e6d4b3a2f19",
        "access_log.envoy.response_flags": "UF",
        "access_log.upstream.address": "10.1.2.3:8080",
    }
    assert pick(event_of(ENVOY), expected) == expected


def test_envoy_without_a_response_is_a_failure_without_status() -> None:
    event = event_of(
        {**ENVOY, "response_code": 0, "downstream_remote_address": "[2001:db8::7]:443"}
    )
    assert "http.response.status_code" not in event
    assert event["event.outcome"] == "failure"
    assert (event["source.ip"], event["source.port"]) == ("2001:db8::7", 443)


def test_api_gateway_rest_record_keeps_the_route_template_as_path() -> None:
    expected = {
        "@timestamp": "2023-11-14T22:13:20.000000Z",
        "event.dataset": "access_log.aws_apigateway",
        "http.request.id": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
        "http.request.method": "DELETE",
        "url.path": "/pets/{petId}",
        "access_log.route": "/pets/{petId}",
        "http.response.status_code": 403,
        "http.response.body.bytes": 61,
        "source.ip": "192.0.2.44",
        "event.outcome": "failure",
    }
    event = event_of(APIGW_REST)
    assert pick(event, expected) == expected
    assert "user.name" not in event


def test_api_gateway_http_record_prefers_the_epoch_and_real_path() -> None:
    expected = {
        "@timestamp": "2023-11-14T22:13:21.123000Z",
        "url.path": "/pets/7",
        "url.domain": "api.example.com",
        "access_log.route": "GET /pets/{id}",
        "event.duration": 23_000_000,
        "user_agent.original": "python-requests/2.31.0",
        "http.response.status_code": 200,
    }
    assert pick(event_of(APIGW_HTTP), expected) == expected


def test_generic_shape_maps_method_path_status_client_and_user() -> None:
    expected = {
        "@timestamp": "2023-11-14T22:13:22.500Z",
        "http.request.method": "POST",
        "url.path": "/v1/login",
        "http.response.status_code": 401,
        "event.outcome": "failure",
        "source.ip": "198.51.100.99",
        "user.name": "mallory",
        "event.duration": 12_500_000,
        "http.request.id": "r-1",
    }
    assert pick(event_of(GENERIC), expected) == expected


def test_generic_absolute_url_is_split() -> None:
    event = event_of(
        {**GENERIC, "path": None, "url": "https://api.example.com:8443/v2/items?page=2"}
    )
    expected = {
        "url.scheme": "https",
        "url.domain": "api.example.com",
        "url.port": 8443,
        "url.path": "/v2/items",
        "url.query": "page=2",
    }
    assert pick(event, expected) == expected


def test_unreadable_absolute_url_keeps_only_the_original() -> None:
    event = event_of({**GENERIC, "path": "http://[::1/x"})
    assert event["url.original"] == "http://[::1/x"
    assert "url.path" not in event


def test_maat_audit_record_maps_actor_outcome_and_client() -> None:
    expected = {
        "@timestamp": "2026-11-25T10:00:00.123456Z",
        "event.dataset": "access_log.maat_audit",
        "event.action": "auth.login",
        "event.category": ["authentication"],
        "event.outcome": "failure",
        "user.name": "alice",
        "source.ip": "198.51.100.12",
        "maat.audit.seq": 17,
        "maat.audit.target": "user:alice",
        "maat.audit.outcome": "failure",
        "maat.audit.details.reason": "bad password",
        "maat.audit.details.attempts": 3,
    }
    assert pick(event_of(MAAT_AUDIT), expected) == expected
    refused = event_of({**MAAT_AUDIT, "outcome": "refused", "actor": "token:t1"})
    assert refused["event.outcome"] == "failure"
    assert "user.name" not in refused


def _changed(record: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(record)
    if value is KeyError:
        del changed[key]
    else:
        changed[key] = value
    return changed


@pytest.mark.parametrize(
    ("source", "record", "field"),
    [
        (NginxLog(), _changed(NGINX, "status", "abc"), "status"),
        (NginxLog(), _changed(NGINX, "status", "1000"), "status"),
        (NginxLog(), _changed(NGINX, "time_local", KeyError), "time_local"),
        (NginxLog(), _changed(NGINX, "time_local", "yesterday"), "time_local"),
        (NginxLog(), _changed(NGINX, "time_local", "01/Jan/0001:00:00:00 +0100"), "time_local"),
        (NginxLog(), _changed(NGINX, "time_local", "14/Nov/2023:22:13:20 *0100"), "time_local"),
        (NginxLog(), _changed(NGINX, "body_bytes_sent", "-5"), "body_bytes_sent"),
        (NginxLog(), _changed(NGINX, "request_time", "fast"), "request_time"),
        (NginxLog(), _changed(NGINX, "request", ["GET", "/"]), "request"),
        (EnvoyLog(), _changed(ENVOY, "start_time", None), "start_time"),
        (EnvoyLog(), _changed(ENVOY, "duration", "slow"), "duration"),
        (EnvoyLog(), _changed(ENVOY, "bytes_sent", 1.5), "bytes_sent"),
        (EnvoyLog(), _changed(ENVOY, "response_code", True), "response_code"),
        (ApiGatewayLog(), _changed(APIGW_REST, "requestTime", KeyError), "requestTime"),
        (
            ApiGatewayLog(),
            _changed(APIGW_REST, "requestTime", "14/Nov/2023:25:13:20 +0000"),
            "requestTime",
        ),
        (
            ApiGatewayLog(),
            _changed(APIGW_HTTP, "requestTimeEpoch", float("nan")),
            "requestTimeEpoch",
        ),
        (GenericAccessLog(), _changed(GENERIC, "timestamp", KeyError), "timestamp"),
        (GenericAccessLog(), _changed(GENERIC, "method", {"verb": "GET"}), "method"),
        (GenericAccessLog(), _changed(GENERIC, "duration_ms", "soon"), "duration_ms"),
        (MaatAuditLog(), _changed(MAAT_AUDIT, "seq", "17"), "seq"),
        (MaatAuditLog(), _changed(MAAT_AUDIT, "actor", 5), "actor"),
        (MaatAuditLog(), _changed(MAAT_AUDIT, "at", KeyError), "at"),
        (MaatAuditLog(), _changed(MAAT_AUDIT, "details", ["client"]), "details"),
    ],
)
def test_bad_records_name_the_field(source: Any, record: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        source.normalise(record)
    assert caught.value.location.field == field


@pytest.mark.parametrize(
    "other", ["test_auditd", "test_osquery", "test_falco", "test_zeek", "test_azure_monitor"]
)
def test_claims_no_other_source_sample(other: str) -> None:
    for record in sibling(other).SAMPLES:
        assert not any(s.accepts(record) for s in JSON_SOURCES), record


def test_claims_no_windows_record() -> None:
    sysmon = {
        "EventID": 1,
        "Hostname": "WS5",
        "Image": "C:\\x.exe",
        "CommandLine": "x",
        "User": "u",
        "UtcTime": "2020",
    }
    security = {
        "EventID": 4624,
        "IpAddress": "10.0.0.1",
        "TargetUserName": "bob",
        "Status": "0x0",
        "TimeCreated": "2020",
    }
    evtx = {"Event": {"System": {"EventID": 1, "Computer": "WS5"}, "EventData": {"Image": "x"}}}
    for record in (sysmon, security, evtx):
        assert not any(s.accepts(record) for s in JSON_SOURCES)


def test_generic_reader_steps_aside_for_the_specific_shapes() -> None:
    # The dispatcher asks the previous record's reader first: the generic one must not take
    # an nginx record it could read less well.
    both = {**NGINX, "method": "GET", "path": "/"}
    assert not GenericAccessLog().accepts(both)
    assert NginxLog().accepts(both)


# Text that int() and float() take or choke on in surprising ways.
NASTY = ["\u00b2", "\u0663", "9" * 5000, "--5", "-1", "1e400", "nan", "-inf", "", "-", "\x00"]

values = (
    st.sampled_from(NASTY)
    | st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(
        [
            "-",
            "200",
            "1.5",
            "14/Nov/2023:22:13:20 +0000",
            "01/Jan/0001:00:00:00 +0100",
            "31/Dec/9999:23:59:59 -0100",
            "99/Zzz/2023:22:13:20 +0000",
            "2023-11-14T22:13:20Z",
            "GET / HTTP/1.1",
            "[::1]:80",
            "1.2.3.4:99999",
        ]
    )
    | st.lists(st.integers(), max_size=2)
    | st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)
)
KEYS = sorted({k for record in SAMPLES for k in record} | {"url", "uri", "msec", "sourceIp"})


@FUZZ
@given(st.dictionaries(st.sampled_from(KEYS), values, min_size=1))
def test_normalise_raises_only_invalid_input(record: dict[str, Any]) -> None:
    for source in JSON_SOURCES:
        try:
            event = source.normalise(record)
        except InvalidInput:
            continue
        for key, value in event.items():
            assert isinstance(value, str | int | float | bool | list), key

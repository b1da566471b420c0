"""AzureDiagnostics rows as an Automation account's diagnostic setting writes them, and the runbooks' records inside them.

The columns are the ones Microsoft documents for JobLogs and JobStreams (MicrosoftDocs/azure-docs
articles/automation/automation-manage-send-joblogs-log-analytics.md @015ce189e22eb6cd35e85a11530334a3f42ec573): Resource and
ResourceGroup in upper case as Azure Monitor writes them, ResultType the job status, StreamType_s and ResultDescription the stream
record. The records are the runbooks' own shapes (runbooks/*.ps1: New-Finding, New-PermissionRecord, the summary, Sync-ExchangeRbac's
step records), written as one compressed JSON line each, as `ConvertTo-Json -Compress` writes them.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

ACCOUNT = "aa-exo-automation-dev"
GROUP = "rg-exo-automation-dev"
SUBSCRIPTION = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
ACCOUNT_ID = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{GROUP}/providers/Microsoft.Automation/automationAccounts/{ACCOUNT}"
_NAMESPACE = uuid.UUID("2f0e1d7c-5b3a-4c1e-8f6d-0a9b8c7d6e5f")


def job_id(label: str) -> str:
    """A stable job GUID for a label in a test (jobs are GUIDs in Automation)."""
    return str(uuid.uuid5(_NAMESPACE, label))


def _base(at: dt.datetime, runbook: str, job: str, category: str, account: str) -> dict[str, Any]:
    return {
        "TimeGenerated": at.astimezone(dt.UTC).replace(tzinfo=None),
        "ResourceProvider": "MICROSOFT.AUTOMATION",
        "ResourceType": "AUTOMATIONACCOUNTS",
        "Category": category,
        "OperationName": "Job",
        "Resource": account.upper(),
        "ResourceGroup": GROUP.upper(),
        "SubscriptionId": SUBSCRIPTION,
        "_ResourceId": ACCOUNT_ID.replace(ACCOUNT, account).lower(),
        "RunbookName_s": runbook,
        "JobId_g": job,
        "Caller_s": "System",
        "SourceSystem": "Azure",
    }


def job_log(at: dt.datetime, runbook: str, job: str, status: str, account: str = ACCOUNT) -> dict[str, Any]:
    """A JobLogs row: the job reached `status` (New, Created, Started, Stopped, Suspended, Failed, Completed)."""
    return {**_base(at, runbook, job, "JobLogs", account), "ResultType": status, "ResultDescription": f"Job {status}"}


def stream(at: dt.datetime, runbook: str, job: str, text: str, kind: str = "Output", account: str = ACCOUNT) -> dict[str, Any]:
    """A JobStreams row: one record of the job's `kind` stream."""
    return {**_base(at, runbook, job, "JobStreams", account), "ResultType": "In Progress", "StreamType_s": kind, "ResultDescription": text}


def record(at: dt.datetime, runbook: str, job: str, fields: dict[str, Any], account: str = ACCOUNT) -> dict[str, Any]:
    """An Output stream row holding one JSON Lines record, compressed as ConvertTo-Json -Compress writes it."""
    return stream(at, runbook, job, json.dumps(fields, separators=(",", ":")), account=account)


def finding(mailbox: str, kind: str, target: str) -> dict[str, Any]:
    return {
        "RecordType": "Finding",
        "Scope": "Mailbox",
        "Mailbox": mailbox,
        "MailboxType": "UserMailbox",
        "Kind": kind,
        "ExternalTarget": target,
        "TargetDomain": target.split("@")[-1].lower() if "@" in target else None,
        "RuleName": None,
        "RuleIdentity": None,
        "Enabled": True,
        "Action": "Reported",
        "Detail": None,
    }


def permission(mailbox: str, trustee: str, permission_name: str = "FullAccess", deny: bool = False) -> dict[str, Any]:
    return {
        "RecordType": "Permission",
        "Mailbox": mailbox,
        "MailboxDisplayName": mailbox.split("@")[0].title(),
        "MailboxType": "SharedMailbox",
        "Permission": permission_name,
        "Trustee": trustee,
        "AccessRights": "FullAccess" if permission_name == "FullAccess" else permission_name,
        "Deny": deny,
        "TrusteeIsOrphanedSid": trustee.startswith("S-1-5-"),
        "Source": "Get-EXOMailboxPermission",
    }


def summary(runbook: str, partition: str, status: str, started: dt.datetime, error: str | None = None) -> dict[str, Any]:
    return {
        "recordType": "Summary",
        "runbook": runbook,
        "organization": "contoso.onmicrosoft.com",
        "partition": partition,
        "startedAtUtc": started.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
        "finishedAtUtc": (started + dt.timedelta(minutes=20)).astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
        "mailboxesSeen": 1200,
        "mailboxesInPartition": 600,
        "readFailures": 2 if status != "Succeeded" else 0,
        "failures": [],
        "error": error,
        "status": status,
    }


def rbac_step(action: str, target: str, reason: str, status: str, error: str | None = None) -> dict[str, Any]:
    step: dict[str, Any] = {"runbook": "Sync-ExchangeRbac", "status": status, "action": action, "target": target, "reason": reason}
    if error is not None:
        step["error"] = error
    return step

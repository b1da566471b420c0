"""Azure Monitor queries for the Automation account: alert rules, the saved functions over the runbooks' JSON Lines records, and the
workbook. Pure text built from settings, so that tests can run every query against recorded rows (tests/kql.py).

Where the rows come from (MicrosoftDocs/azure-docs articles/automation/automation-manage-send-joblogs-log-analytics.md
@015ce189e22eb6cd35e85a11530334a3f42ec573, "Azure Monitor log records"): a diagnostic setting on the account sends the categories
JobLogs (one row per job status: ResultType New, Created, Started, Stopped, Suspended, Failed, Completed) and JobStreams (one row per
stream record: StreamType_s Output, Error, Warning, ..., the text in ResultDescription) into the AzureDiagnostics table, with
RunbookName_s, JobId_g, Resource (the account), ResourceGroup, ResourceProvider MICROSOFT.AUTOMATION and _ResourceId. The runbooks
write each record as one compressed JSON line on the Output stream (their Write-Record), so a record is `parse_json(ResultDescription)`.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from exo.schedule_time import WEEK_DAYS, Schedule

TABLE = "AzureDiagnostics"
PROVIDER = "MICROSOFT.AUTOMATION"
CATEGORY_JOB_LOGS = "JobLogs"
CATEGORY_JOB_STREAMS = "JobStreams"
JOB_END_STATES = ("Failed", "Stopped", "Suspended")
# A job may run three hours before fair share stops it (docs/runbooks.md, "Scale"), and a job's log row reaches the workspace up to
# about 15 minutes later (automation-manage-send-joblogs-log-analytics.md): four hours covers a job that finished, on any schedule
# long enough for it.
DEFAULT_GRACE_MINUTES = 240
# Shorter schedules get a grace period of their interval less this margin (an hourly reconciler: 45 minutes).
GRACE_MARGIN_MINUTES = 15
# At most 46 hours: the rule's window (grace + one evaluation hour) stays within two days.
GRACE_RANGE = (15, 46 * 60)
# KQL dayofweek(): a timespan of days since Sunday (Sunday = 0d). WEEK_DAYS starts with Monday.
_KQL_DAY_NUMBER = {day: (index + 1) % 7 for index, day in enumerate(WEEK_DAYS)}


def kql_string(text: str) -> str:
    """A KQL string literal (JSON's escaping is KQL's for double-quoted strings)."""
    return json.dumps(text)


def kql_list(values: Sequence[str]) -> str:
    return ", ".join(kql_string(value) for value in values)


def minutes(duration: int) -> str:
    """ISO 8601 duration of whole minutes, as Azure Monitor writes them (PT15M, PT1H, P1D)."""
    if duration % 1440 == 0:
        return f"P{duration // 1440}D"
    hours, rest = divmod(duration, 60)
    return "PT" + (f"{hours}H" if hours else "") + (f"{rest}M" if rest else "")


def account_rows(account_name: str, resource_group: str, category: str) -> str:
    """The account's rows of one category. Resource and ResourceGroup are upper case in AzureDiagnostics: compared with =~."""
    return (
        f"{TABLE}\n"
        f"| where ResourceProvider == {kql_string(PROVIDER)} and Category == {kql_string(category)}\n"
        f"| where Resource =~ {kql_string(account_name)} and ResourceGroup =~ {kql_string(resource_group)}"
    )


def job_link(portal: str) -> str:
    """KQL expression: the job's page in the portal (its Output, Errors and All Logs tabs)."""
    return f'strcat({kql_string(portal)}, "/#resource", _ResourceId, "/jobs/", JobId_g)'


def _cyclic_gaps(days: list[int], cycle: int) -> list[int]:
    return [b - a for a, b in itertools.pairwise(days)] + [days[0] + cycle - days[-1]]


def shortest_gap_minutes(schedule: Schedule) -> int:
    """The shortest time between two starts of a schedule, in minutes (a daylight saving change can take an hour off a day)."""
    if schedule.frequency == "Hour":
        return 60 * schedule.interval
    if schedule.frequency == "Day":
        return 1440 * schedule.interval - 60
    if schedule.frequency == "Week":
        days = sorted(WEEK_DAYS.index(day) for day in schedule.week_days)
        gaps = _cyclic_gaps(days, 7) if len(days) > 1 else [7 * schedule.interval]
        return 1440 * min(gaps) - 60
    days = sorted(schedule.month_days)
    # Month days wrap over the shortest month (28 days); a day missing from a month (31 in April) is skipped by Automation.
    gaps = _cyclic_gaps(days, 28) if len(days) > 1 else [28 * schedule.interval]
    return 1440 * min(gaps) - 60


def grace_minutes(configured: int | None, schedule: Schedule) -> int:
    """The grace period a schedule's missing-run check uses: the configured one, else the default, shortened to fit the interval."""
    if configured is not None:
        return configured
    return max(GRACE_RANGE[0], min(DEFAULT_GRACE_MINUTES, shortest_gap_minutes(schedule) - GRACE_MARGIN_MINUTES))


# -- alert queries --------------------------------------------------------------------------------------------------------------


def job_ended_query(account_name: str, resource_group: str, portal: str) -> str:
    """Jobs that ended Failed, Stopped or Suspended: one row per job, split into one alert per runbook and job."""
    return (
        f"{account_rows(account_name, resource_group, CATEGORY_JOB_LOGS)}\n"
        f"| where ResultType in ({kql_list(JOB_END_STATES)})\n"
        f"| extend WhereToLook = {job_link(portal)}\n"
        "| project TimeGenerated, RunbookName = RunbookName_s, JobId = JobId_g, Status = ResultType, WhereToLook"
    )


def drift_query(account_name: str, resource_group: str, portal: str, reconciler: str) -> str:
    """Reconciler steps for drift that the run did not repair: a failed step, or a step only planned (a dry run)."""
    return (
        f"{account_rows(account_name, resource_group, CATEGORY_JOB_STREAMS)}\n"
        f'| where RunbookName_s =~ {kql_string(reconciler)} and StreamType_s == "Output"\n'
        "| extend Record = parse_json(ResultDescription)\n"
        '| where tostring(Record.reason) == "drift" and tostring(Record.status) in ("Failed", "Planned")\n'
        f"| extend WhereToLook = {job_link(portal)}\n"
        "| summarize Steps = count(), Actions = make_set(tostring(Record.action)), Targets = make_set(tostring(Record.target)) "
        "by RunbookName = RunbookName_s, JobId = JobId_g, WhereToLook"
    )


@dataclass(frozen=True)
class ExpectedRun:
    """A runbook on a schedule and how many jobs one run of it starts (one per partition)."""

    runbook: str
    jobs: int


def _due_query(schedule: Schedule, anchor_utc: str, grace_minutes: int) -> str:
    """KQL `let` statements ending in `due`: the latest scheduled start at least the grace period ago (UTC).

    The schedule's own definition is written into the query: the time of day in its IANA time zone (datetime_utc_to_local and
    datetime_local_to_utc keep daylight saving right), its week or month days, and its interval counted from the Schedule's start
    time (`anchor_utc`, the Schedule resource's stored startTime) like Automation counts it.
    """
    hour, minute = schedule.time_of_day
    zone = kql_string(schedule.time_zone)
    if not anchor_utc:
        # Azure returns every Schedule's startTime; an empty one would leave the check without a reference and silent forever.
        raise ValueError(f"schedule {schedule.definition()} has no stored start time to count its runs from")
    anchor = dt.datetime.fromisoformat(anchor_utc.replace("Z", "+00:00")).astimezone(dt.UTC)
    lines = [
        f"let anchor = datetime({anchor:%Y-%m-%dT%H:%M:%SZ});",
        f"let checked = now() - {grace_minutes}m;",
    ]
    if schedule.frequency == "Hour":
        lines.append(f"let due = anchor + bin(checked - anchor, {schedule.interval}h);")
        return "\n".join(lines)
    lines += [
        f"let local_checked = datetime_utc_to_local(checked, {zone});",
        f"let local_anchor_day = startofday(datetime_utc_to_local(anchor, {zone}));",
    ]
    span_days = {"Day": schedule.interval, "Week": 7 * schedule.interval, "Month": 31 * schedule.interval}[schedule.frequency]
    conditions = []
    if schedule.frequency == "Day" and schedule.interval > 1:
        conditions.append(f"toint((Day - local_anchor_day) / 1d) % {schedule.interval} == 0")
    if schedule.frequency == "Week":
        days = ", ".join(f"{_KQL_DAY_NUMBER[day]}d" for day in schedule.week_days)
        conditions.append(f"dayofweek(Day) in ({days})")
        if schedule.interval > 1:
            conditions.append(f"toint((startofweek(Day) - startofweek(local_anchor_day)) / 7d) % {schedule.interval} == 0")
    if schedule.frequency == "Month":
        conditions.append(f"dayofmonth(Day) in ({', '.join(map(str, schedule.month_days))})")
        if schedule.interval > 1:
            conditions.append(
                f"((getyear(Day) - getyear(local_anchor_day)) * 12 + getmonth(Day) - getmonth(local_anchor_day)) % {schedule.interval} == 0"
            )
    where = "".join(f"\n    | where {condition}" for condition in conditions)
    lines.append(
        "let due = toscalar(\n"
        f"    range Day from startofday(local_checked) - {span_days}d to startofday(local_checked) step 1d\n"
        f"    | where Day >= local_anchor_day{where}\n"
        f"    | extend Start = Day + {hour}h + {minute}m\n"
        "    | where Start <= local_checked\n"
        f"    | summarize max(datetime_local_to_utc(Start, {zone})));"
    )
    return "\n".join(lines)


def missing_run_query(
    account_name: str,
    resource_group: str,
    portal_account_jobs: str,
    schedule: Schedule,
    anchor_utc: str,
    expected: Sequence[ExpectedRun],
    grace_minutes: int,
    evaluation_minutes: int,
) -> str:
    """Runbooks on one schedule whose last due run has fewer completed jobs than it starts, checked once per due run.

    A run counts when its jobs logged Completed between the due time and the end of the grace period: a later run cannot stand in
    for a missed one (settings require the grace period to be shorter than the schedule's interval). The check is armed for two
    evaluation periods after the grace period ends (one evaluation always falls inside, whatever the rule's phase), so each missed
    run raises one alert, which resolves when the check disarms.
    """
    rows = ", ".join(f"{kql_string(run.runbook)}, {run.jobs}" for run in expected)
    return (
        f"{_due_query(schedule, anchor_utc, grace_minutes)}\n"
        f"let expected = datatable(RunbookName: string, Jobs: long) [{rows}];\n"
        "let completed = " + account_rows(account_name, resource_group, CATEGORY_JOB_LOGS).replace("\n", "\n    ") + "\n"
        f'    | where ResultType == "Completed" and TimeGenerated >= due and TimeGenerated < due + {grace_minutes}m\n'
        "    | summarize Completed = count() by RunbookName = RunbookName_s;\n"
        "expected\n"
        "| join kind=leftouter completed on RunbookName\n"
        "| extend Completed = coalesce(Completed, 0)\n"
        f"| where Completed < Jobs and now() < due + {grace_minutes}m + {2 * evaluation_minutes}m\n"
        '| extend JobId = "(none: the job did not start or did not complete)", DueUtc = due, '
        f"WhereToLook = {kql_string(portal_account_jobs)}\n"
        "| project RunbookName, JobId, DueUtc, Jobs, Completed, WhereToLook"
    )


@dataclass(frozen=True)
class WatchedCertificate:
    """A certificate an app identity signs in with, and when it ends (RFC 3339, from the certificate resource or the host's file)."""

    identity: str
    thumbprint: str
    not_after: str


def certificate_expiry_query(certificates: Sequence[WatchedCertificate], warning_days: int, where_to_look: str) -> str:
    """Certificates within `warning_days` of their end. The end dates are written into the query at `pulumi up` (they come from
    state, not from a clock): a rotation by `pulumi up` rewrites the query, so the alert stops with the certificate it warned of."""
    rows = (
        ", ".join(f"{kql_string(c.identity)}, {kql_string(c.thumbprint)}, datetime({c.not_after})" for c in certificates)
        or '"", "", datetime(null)'
    )
    return (
        f"datatable(Identity: string, Thumbprint: string, NotAfter: datetime) [{rows}]\n"
        f"| where isnotnull(NotAfter) and now() >= NotAfter - {warning_days}d\n"
        f'| extend RunbookName = "(certificate)", JobId = Thumbprint, WhereToLook = {kql_string(where_to_look)}\n'
        "| project Identity, Thumbprint, NotAfter, RunbookName, JobId, WhereToLook"
    )


# -- saved functions (one per report) -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SavedFunction:
    """A saved KQL function: `alias` is what queries call; its rows are one runbook record type with typed columns."""

    alias: str
    display_name: str
    query: str


def _records(account_name: str, resource_group: str, condition: str, columns: Mapping[str, str]) -> str:
    projected = ",\n    ".join(f"{name} = {expression}" for name, expression in columns.items())
    return (
        f"{account_rows(account_name, resource_group, CATEGORY_JOB_STREAMS)}\n"
        '| where StreamType_s == "Output" and ResultDescription startswith "{"\n'
        "| extend Record = parse_json(ResultDescription)\n"
        f"| where {condition}\n"
        f"| project TimeGenerated, RunbookName = RunbookName_s, JobId = JobId_g,\n    {projected}"
    )


def saved_functions(account_name: str, resource_group: str) -> tuple[SavedFunction, ...]:
    """The runbooks' records as rows: the field names are the ones their Write-Record emits (runbooks/*.ps1)."""
    text = "tostring(Record.{})".format
    flag = "tobool(Record.{})".format
    permissions = _records(
        account_name,
        resource_group,
        'tostring(Record.RecordType) == "Permission"',
        {
            "Mailbox": text("Mailbox"),
            "MailboxDisplayName": text("MailboxDisplayName"),
            "MailboxType": text("MailboxType"),
            "Permission": text("Permission"),
            "Trustee": text("Trustee"),
            "AccessRights": text("AccessRights"),
            "Deny": flag("Deny"),
            "TrusteeIsOrphanedSid": flag("TrusteeIsOrphanedSid"),
            "Source": text("Source"),
        },
    )
    findings = _records(
        account_name,
        resource_group,
        'tostring(Record.RecordType) == "Finding"',
        {
            "Scope": text("Scope"),
            "Mailbox": text("Mailbox"),
            "MailboxType": text("MailboxType"),
            "Kind": text("Kind"),
            "ExternalTarget": text("ExternalTarget"),
            "TargetDomain": text("TargetDomain"),
            "RuleName": text("RuleName"),
            "Enabled": flag("Enabled"),
            "Action": text("Action"),
            "Detail": text("Detail"),
        },
    )
    summaries = _records(
        account_name,
        resource_group,
        'tostring(Record.recordType) == "Summary"',
        {
            "Partition": text("partition"),
            "Status": text("status"),
            "StartedAt": "todatetime(Record.startedAtUtc)",
            "FinishedAt": "todatetime(Record.finishedAtUtc)",
            "MailboxesSeen": "tolong(Record.mailboxesSeen)",
            "MailboxesInPartition": "tolong(Record.mailboxesInPartition)",
            "ReadFailures": "tolong(Record.readFailures)",
            "Error": text("error"),
        },
    )
    failures = _records(
        account_name,
        resource_group,
        'tostring(Record.RecordType) == "Failure"',
        {"Mailbox": text("Mailbox"), "Step": text("Step"), "Error": text("Error")},
    )
    rbac_steps = _records(
        account_name,
        resource_group,
        "isnotempty(tostring(Record.action)) and isnotempty(tostring(Record.reason))",
        {
            "Action": text("action"),
            "Target": text("target"),
            "Reason": text("reason"),
            "Status": text("status"),
            "Error": text("error"),
        },
    )
    return (
        SavedFunction("ExoMailboxPermissions", "Mailbox permissions (Get-MailboxPermissionReport)", permissions),
        SavedFunction("ExoForwardingFindings", "Forwarding findings (Invoke-ForwardingAudit)", findings),
        SavedFunction("ExoRunSummaries", "Run summaries per job and partition", summaries),
        SavedFunction("ExoReadFailures", "Mailboxes a run could not read", failures),
        SavedFunction("ExoRbacReconcileSteps", "Exchange RBAC reconciler steps (Sync-ExchangeRbac)", rbac_steps),
    )


# -- the workbook ----------------------------------------------------------------------------------------------------------------

WORKBOOK_NAMESPACE = uuid.UUID("9a1d4c2e-6f3b-4e8a-b1c7-2d5e8f0a3b64")
FORWARDING_TREND_QUERY = "ExoForwardingFindings\n| summarize Findings = count() by Day = bin(TimeGenerated, 1d), Kind\n| order by Day asc"
FORWARDING_LATEST_QUERY = (
    "let latest = toscalar(ExoForwardingFindings | summarize max(startofday(TimeGenerated)));\n"
    "ExoForwardingFindings\n| where startofday(TimeGenerated) == latest\n"
    "| project TimeGenerated, Mailbox, Kind, ExternalTarget, TargetDomain, RuleName, Action, JobId"
)
# A run is the records of one day (its partitions start together); changes are the difference between the last two runs.
PERMISSION_CHANGES_QUERY = (
    "let runs = ExoMailboxPermissions | summarize by Run = startofday(TimeGenerated);\n"
    "let latest = toscalar(runs | summarize max(Run));\n"
    "let previous = toscalar(runs | where Run < latest | summarize max(Run));\n"
    "let current = ExoMailboxPermissions | where startofday(TimeGenerated) == latest "
    "| summarize by Mailbox, Permission, Trustee, AccessRights;\n"
    "let before = ExoMailboxPermissions | where startofday(TimeGenerated) == previous "
    "| summarize by Mailbox, Permission, Trustee, AccessRights;\n"
    "union\n"
    '    (current | join kind=leftanti before on Mailbox, Permission, Trustee, AccessRights | extend Change = "Added"),\n'
    '    (before | join kind=leftanti current on Mailbox, Permission, Trustee, AccessRights | extend Change = "Removed")\n'
    "| project Change, Mailbox, Permission, Trustee, AccessRights\n| order by Mailbox asc"
)
JOB_HEALTH_QUERY = (
    "ExoRunSummaries\n"
    "| summarize arg_max(TimeGenerated, Status, ReadFailures, Error, JobId), Runs = count(), "
    'FailedRuns = countif(Status == "Failed") by RunbookName, Partition\n'
    "| project RunbookName, Partition, LastRun = TimeGenerated, LastStatus = Status, ReadFailures, Runs, FailedRuns, Error, JobId\n"
    "| order by RunbookName asc, Partition asc"
)


def job_states_query(account_name: str, resource_group: str) -> str:
    return (
        f"{account_rows(account_name, resource_group, CATEGORY_JOB_LOGS)}\n"
        '| where ResultType in ("Completed", "Failed", "Stopped", "Suspended")\n'
        "| summarize Jobs = count() by RunbookName = RunbookName_s, Status = ResultType"
    )


def workbook_name(scope: str) -> str:
    """The workbook's resource name: a GUID (the portal's own workbooks use GUIDs), stable for one account."""
    return str(uuid.uuid5(WORKBOOK_NAMESPACE, scope))


def _query_item(name: str, title: str, query: str, visualization: str, workspace_id: str) -> dict[str, object]:
    return {
        "type": 3,
        "name": name,
        "content": {
            "version": "KqlItem/1.0",
            "title": title,
            "query": query,
            "size": 0,
            "queryType": 0,
            "resourceType": "microsoft.operationalinsights/workspaces",
            "crossComponentResources": [workspace_id],
            "visualization": visualization,
        },
    }


def workbook_content(workspace_id: str, account_name: str, resource_group: str) -> dict[str, object]:
    """The workbook (Notebook/1.0 JSON): findings, their trend, permission changes, and job health."""
    return {
        "version": "Notebook/1.0",
        "items": [
            {
                "type": 1,
                "name": "intro",
                "content": {
                    "json": f"## Exchange Online automation ({account_name})\n"
                    "Findings and job health from the runbooks' records (saved functions Exo*). "
                    "Alerts for failed, stopped, suspended and missing runs go to the action group."
                },
            },
            _query_item(
                "forwarding-latest", "Forwarding to outside addresses (latest run)", FORWARDING_LATEST_QUERY, "table", workspace_id
            ),
            _query_item("forwarding-trend", "Forwarding findings per day", FORWARDING_TREND_QUERY, "timechart", workspace_id),
            _query_item(
                "permission-changes", "Mailbox permission changes since the last run", PERMISSION_CHANGES_QUERY, "table", workspace_id
            ),
            _query_item("job-health", "Job health per runbook and partition", JOB_HEALTH_QUERY, "table", workspace_id),
            _query_item(
                "job-states", "Job end states per runbook", job_states_query(account_name, resource_group), "barchart", workspace_id
            ),
        ],
        "fallbackResourceIds": [workspace_id],
        "$schema": "https://github.com/Microsoft/Application-Insights-Workbooks/blob/master/schema/workbook.json",
    }

"""Settings of the Automation account's monitoring (`exo-automation:automation.monitoring`): logs, alerts, findings, the workbook.

Off unless given. Bad values get one error naming the key before any resource is registered: an address that is no email address,
a workspace id that names another kind of resource, a missing-run grace period that is not shorter than a schedule's interval (a
later run would then stand in for a missed one, and the missed run would never alert).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from exo import azure_names
from exo.monitoring import GRACE_MARGIN_MINUTES, GRACE_RANGE, shortest_gap_minutes
from exo.powershell_script import read_script
from exo.schedule_time import Schedule
from exo.specs import AutomationSpec, MonitoringSpec
from settings.values import ConfigError, bounded_int, expect, optional, reject_unknown_keys

CONFIG_KEY = "monitoring"
_KEYS = (
    "enabled",
    "workspaceId",
    "workspaceName",
    "retentionDays",
    "diagnosticSetting",
    "emails",
    "webhookUrl",
    "missingRunGraceMinutes",
    "certificateWarningDays",
)
# Log Analytics interactive retention on the PerGB2018 tier: 30 to 730 days (the Workspaces.json property has no bounds; the range
# is the one learn.microsoft.com gives for workspace retention; see docs/monitoring.md).
RETENTION_RANGE = (30, 730)
DEFAULT_RETENTION_DAYS = 30
CERTIFICATE_WARNING_RANGE = (1, 365)
DEFAULT_CERTIFICATE_WARNING_DAYS = 30
# RFC 5321's shape, loosely: one @, a dotted domain, no spaces. Azure's action group accepts what its own check accepts; an
# address with a typo in the domain is not something a pattern can find.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_EMAIL = re.compile(rf"^[A-Za-z0-9.!#$%&'*+/=?^_`{{|}}~-]+@{_LABEL}(?:\.{_LABEL})+$")
_RESOURCE_ID = re.compile(
    r"^/subscriptions/(?P<subscription>[^/]+)/resourceGroups/(?P<group>[^/]+)/providers/(?P<namespace>[^/]+)/(?P<type>[^/]+)/(?P<name>[^/]+)$",
    re.IGNORECASE,
)
_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
WORKSPACE_TYPE = "Microsoft.OperationalInsights/workspaces"


def _email(key: str, value: Any) -> str:
    text = expect(key, value, str, "an email address")
    if not _EMAIL.fullmatch(text.strip()) or len(text) > 254:
        raise ConfigError(key, f"{text!r} is not an email address such as exchange-admins@contoso.com")
    return text.strip()


def _workspace_id(key: str, value: Any) -> str:
    text = expect(key, value, str, f"the resource id of a Log Analytics workspace (/subscriptions/…/providers/{WORKSPACE_TYPE}/…)")
    match = _RESOURCE_ID.fullmatch(text.strip())
    if match is None:
        raise ConfigError(
            key, f"{text!r} is not a resource id such as /subscriptions/<id>/resourceGroups/<group>/providers/{WORKSPACE_TYPE}/<name>"
        )
    kind = f"{match['namespace']}/{match['type']}"
    if kind.lower() != WORKSPACE_TYPE.lower():
        raise ConfigError(
            key,
            f"names a {kind} resource, not a Log Analytics workspace ({WORKSPACE_TYPE}); copy the id from the workspace's "
            "Properties page (a workspace's customer id GUID is not its resource id either)",
        )
    if not _GUID.fullmatch(match["subscription"]):
        raise ConfigError(key, f"subscription {match['subscription']!r} is not a subscription id (a GUID)")
    return text.strip()


def _webhook(key: str, value: Any) -> str:
    text = expect(key, value, str, "an https:// URL")
    if not re.fullmatch(r"https://[^\s/]+(/\S*)?", text.strip()):
        raise ConfigError(key, "must be an https:// URL (the action group posts the alert there; plain http would carry it unencrypted)")
    return text.strip()


def parse_monitoring(key: str, value: Any, *, stack: str) -> MonitoringSpec | None:
    """`automation.monitoring` into settings; None when absent or `enabled: false`."""
    if value is None:
        return None
    mapping = expect(key, value, dict, "an object with emails and a workspace (see Pulumi.yaml)")
    reject_unknown_keys(key, mapping, _KEYS)
    if not optional(mapping, "enabled", True, lambda v: expect(f"{key}.enabled", v, bool, "true or false")):
        return None

    emails_key = f"{key}.emails"
    raw_emails = expect(emails_key, mapping.get("emails"), list, "a list of email addresses that receive the alerts")
    if not raw_emails:
        raise ConfigError(emails_key, "must list at least one address: alerts nobody receives are what this setting exists to end")
    emails = tuple(_email(f"{emails_key}[{index}]", item) for index, item in enumerate(raw_emails))
    seen: dict[str, int] = {}
    for index, email in enumerate(emails):
        if email.lower() in seen:
            raise ConfigError(f"{emails_key}[{index}]", f"{email!r} is already listed at {emails_key}[{seen[email.lower()]}]")
        seen[email.lower()] = index

    workspace_id = optional(mapping, "workspaceId", None, lambda v: _workspace_id(f"{key}.workspaceId", v))
    if workspace_id is not None:
        for own in ("workspaceName", "retentionDays"):
            if own in mapping:
                raise ConfigError(f"{key}.{own}", "applies to a workspace the stack creates; workspaceId points at an existing one")
    diagnostic_setting = optional(
        mapping, "diagnosticSetting", True, lambda v: expect(f"{key}.diagnosticSetting", v, bool, "true or false")
    )
    if not diagnostic_setting and workspace_id is None:
        raise ConfigError(
            f"{key}.diagnosticSetting",
            "false means another diagnostic setting (for example the Azure Landing Zone policy Deploy-Diagnostics-AA) already sends "
            "JobLogs and JobStreams to a workspace: set workspaceId to that workspace so the alerts read it",
        )
    workspace_name = optional(
        mapping,
        "workspaceName",
        azure_names.default_workspace_name(stack),
        lambda v: _workspace_name(f"{key}.workspaceName", v),
    )
    return MonitoringSpec(
        workspace_id=workspace_id,
        workspace_subscription_id=None if workspace_id is None else workspace_id.split("/")[2],
        workspace_name=workspace_name,
        retention_days=optional(
            mapping, "retentionDays", DEFAULT_RETENTION_DAYS, lambda v: bounded_int(f"{key}.retentionDays", v, *RETENTION_RANGE)
        ),
        diagnostic_setting=diagnostic_setting,
        emails=emails,
        webhook_url=optional(mapping, "webhookUrl", None, lambda v: _webhook(f"{key}.webhookUrl", v)),
        missing_run_grace_minutes=optional(
            mapping, "missingRunGraceMinutes", None, lambda v: bounded_int(f"{key}.missingRunGraceMinutes", v, *GRACE_RANGE)
        ),
        certificate_warning_days=optional(
            mapping,
            "certificateWarningDays",
            DEFAULT_CERTIFICATE_WARNING_DAYS,
            lambda v: bounded_int(f"{key}.certificateWarningDays", v, *CERTIFICATE_WARNING_RANGE),
        ),
    )


def _workspace_name(key: str, value: Any) -> str:
    text = expect(key, value, str, "a Log Analytics workspace name")
    problems = azure_names.problems(text, azure_names.WORKSPACE_USES)
    if problems:
        raise ConfigError(
            key, f"{text!r} is not a valid workspace name: 4-63 letters, digits or '-', a letter or digit at both ends; it {problems[0]}"
        )
    return text


def check_schedules(key: str, configured: int | None, scheduled: list[tuple[str, str, Schedule]]) -> None:
    """A configured grace period must be shorter than every schedule's interval; `scheduled` is (runbook, its config key, schedule)."""
    if configured is None:
        return
    for runbook, schedule_key, schedule in scheduled:
        gap = shortest_gap_minutes(schedule)
        if configured >= gap:
            raise ConfigError(
                key,
                f"{configured} minutes is not shorter than the interval of runbook {runbook!r} ({schedule_key}: runs can be "
                f"{dt.timedelta(minutes=gap)} apart): a later run would complete inside the window and hide a missed one; use at "
                f"most {gap - GRACE_MARGIN_MINUTES} or remove the key (each schedule then gets a fitting default)",
            )


def check_missing_run_grace(automation_key: str, automation: AutomationSpec) -> None:
    """The configured grace period against every scheduled runbook, the Exchange RBAC reconciler included (its key is
    exchangeRbacSync.schedule), once settings know all of them."""
    if automation.monitoring is None:
        return
    scheduled = [
        (runbook.name, f"{automation_key}.runbooks[{index}].schedule", runbook.schedule)
        for index, runbook in enumerate(automation.runbooks)
        if runbook.schedule is not None
    ]
    reconciler = automation.reconciler
    if reconciler is not None and reconciler.schedule is not None:
        scheduled.append((reconciler.name, f"{automation_key}.exchangeRbacSync.schedule", reconciler.schedule))
    check_schedules(f"{automation_key}.{CONFIG_KEY}.missingRunGraceMinutes", automation.monitoring.missing_run_grace_minutes, scheduled)


# The reports' switch between objects and JSON lines (runbooks/*.ps1); only JSON lines become rows of the saved functions.
OUTPUT_FORMAT_PARAMETER = "OutputFormat"
JSON_LINES = "JsonLines"


def monitoring_warnings(automation: AutomationSpec | None) -> tuple[str, ...]:
    """Runbooks whose records would not reach the saved functions: they take -OutputFormat and are not given JsonLines."""
    if automation is None or automation.monitoring is None:
        return ()
    warnings = []
    for index, runbook in enumerate(automation.runbooks):
        given = dict(runbook.parameters).get(OUTPUT_FORMAT_PARAMETER)
        if given == JSON_LINES:
            continue
        declared = {p.name.lower() for p in read_script(runbook.path.read_bytes()).parameters}
        if OUTPUT_FORMAT_PARAMETER.lower() in declared:
            warnings.append(
                f"exo-automation:automation.runbooks[{index}] ({runbook.name}) writes {given or 'its default'} output: its records "
                f"do not reach the saved functions and the workbook; set parameters.{OUTPUT_FORMAT_PARAMETER}: {JSON_LINES}"
            )
    return tuple(warnings)

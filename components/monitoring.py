"""Azure Monitor for the Automation account: job logs into Log Analytics, alerts that reach people, the runbooks' records as typed
rows (saved functions), and a workbook that shows them (issue 24; docs/monitoring.md)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_azure_native
from pulumi_azure_native import applicationinsights, monitor, operationalinsights

from exo import monitoring as queries
from exo.schedule_time import Schedule
from exo.specs import MonitoringSpec

# Severities and cadences (docs/monitoring.md says why): a job that ended badly or a run that never happened means a report
# or a reconciliation is missing, Sev 2; drift the reconciler could not repair is a difference to look at, Sev 3.
JOB_ENDED_SEVERITY = 2
MISSING_RUN_SEVERITY = 2
DRIFT_SEVERITY = 3
CERTIFICATE_SEVERITY = 2
JOB_ENDED_EVERY_MINUTES = 15
JOB_ENDED_WINDOW_MINUTES = 60
MISSING_RUN_EVERY_MINUTES = 60
CERTIFICATE_EVERY_MINUTES = 1440
DIAGNOSTIC_SETTING_NAME = "exo-automation-job-logs"
ACTION_GROUP_SHORT_NAME = "exo-alerts"
SAVED_SEARCH_CATEGORY = "exo-automation"
WORKBOOK_CATEGORY = "workbook"
_WORKSPACE_ID = re.compile(r"^/subscriptions/[^/]+/resourceGroups/(?P<group>[^/]+)/providers/[^/]+/[^/]+/(?P<name>[^/]+)$", re.IGNORECASE)


@dataclass(frozen=True)
class MissingRunWatch:
    """One schedule definition, the Schedule's stored start (the interval counts from it), and the runbooks that run on it."""

    name: str
    """The Automation schedule's name (frequency and definition hash), which names the rule too."""
    schedule: Schedule
    anchor: pulumi.Input[str]
    runs: tuple[queries.ExpectedRun, ...]
    grace_minutes: int


@dataclass(frozen=True)
class CertificateWatch:
    identity: str
    thumbprint: pulumi.Input[str]
    not_after: pulumi.Input[str]


@dataclass
class AutomationMonitoringArgs:
    spec: MonitoringSpec
    resource_group_name: pulumi.Input[str]
    """The account's resource group (output of the group or the account): where the workspace, rules and workbook go."""
    resource_group: str
    """The same name as plain text: AzureDiagnostics rows carry it, and the queries filter on it."""
    location: str
    account_name: str
    account_id: pulumi.Input[str]
    portal: str
    """The Azure portal of the cloud (facts.AZURE_PORTALS): where the alerts send people."""
    arm_environment: str
    """azure-native's name of the cloud (facts.AZURE_NATIVE_ENVIRONMENTS), for the provider that reaches an existing workspace."""
    missing_runs: Sequence[MissingRunWatch]
    reconciler: str | None
    """The Exchange RBAC reconciler's runbook name, when it is deployed: its unrepaired drift is alerted."""
    certificates: Sequence[CertificateWatch]
    tags: Mapping[str, str] = field(default_factory=dict)


def _rule_name(kind: str, account_name: str) -> str:
    return f"exo-{kind}-{account_name}"


class AutomationMonitoring(pulumi.ComponentResource):
    """The workspace (or an existing one), the account's diagnostic setting, an action group, the log alert rules, one saved
    function per report, and the workbook."""

    workspace_id: pulumi.Output[str]
    action_group_id: pulumi.Output[str]
    workbook_id: pulumi.Output[str]
    workbook_url: pulumi.Output[str]
    alert_rule_names: list[str]
    function_aliases: list[str]

    def __init__(self, name: str, args: AutomationMonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("exo-automation:index:AutomationMonitoring", name, None, opts)
        spec = args.spec
        child = pulumi.ResourceOptions(parent=self)
        functions_opts = child
        tags = dict(args.tags)
        if spec.workspace_id is None:
            workspace = operationalinsights.Workspace(
                f"{name}-workspace",
                workspace_name=spec.workspace_name,
                resource_group_name=args.resource_group_name,
                location=args.location,
                sku=operationalinsights.WorkspaceSkuArgs(name=operationalinsights.WorkspaceSkuNameEnum.PER_GB2018),
                retention_in_days=spec.retention_days,
                tags=tags,
                opts=child,
            )
            workspace_id: pulumi.Output[str] = workspace.id
            workspace_group: pulumi.Input[str] = args.resource_group_name
            workspace_name: pulumi.Input[str] = workspace.name
        else:
            match = _WORKSPACE_ID.fullmatch(spec.workspace_id)
            if match is None:  # settings checked the form; this is the same pattern read again
                raise ValueError(f"workspace id {spec.workspace_id!r} is not a resource id")
            workspace_id = pulumi.Output.from_input(spec.workspace_id)
            workspace_group, workspace_name = match["group"], match["name"]
            # Saved searches are children of the workspace, so they are created in its subscription, which in a landing zone is
            # not the stack's (the platform workspace lives in the Management subscription). Credentials come from the same
            # environment as the default provider's (ARM_* variables, Azure CLI); only the subscription and the cloud are set.
            workspace_provider = pulumi_azure_native.Provider(
                f"{name}-workspace-subscription",
                subscription_id=spec.workspace_subscription_id,
                environment=args.arm_environment,
                opts=child,
            )
            functions_opts = pulumi.ResourceOptions(parent=self, provider=workspace_provider)

        if spec.diagnostic_setting:
            # AzureDiagnostics (no logAnalyticsDestinationType): the destination Microsoft documents for Automation's job logs.
            monitor.DiagnosticSetting(
                f"{name}-job-logs",
                name=DIAGNOSTIC_SETTING_NAME,
                resource_uri=args.account_id,
                workspace_id=workspace_id,
                logs=[
                    monitor.DiagnosticsLogSettingsArgs(category=queries.CATEGORY_JOB_LOGS, enabled=True),
                    monitor.DiagnosticsLogSettingsArgs(category=queries.CATEGORY_JOB_STREAMS, enabled=True),
                ],
                opts=child,
            )

        functions = queries.saved_functions(args.account_name, args.resource_group)
        saved = [
            operationalinsights.SavedSearch(
                f"{name}-function-{function.alias.lower()}",
                saved_search_id=f"exo-automation-{function.alias.lower()}",
                resource_group_name=workspace_group,
                workspace_name=workspace_name,
                category=SAVED_SEARCH_CATEGORY,
                display_name=function.display_name,
                query=function.query,
                function_alias=function.alias,
                version=2,
                opts=functions_opts,
            )
            for function in functions
        ]

        receivers = [
            monitor.MicrosoftCommonEmailReceiverArgs(name=f"email-{index}", email_address=email, use_common_alert_schema=True)
            for index, email in enumerate(spec.emails)
        ]
        group = monitor.ActionGroup(
            f"{name}-action-group",
            action_group_name=f"ag-{args.account_name}",
            resource_group_name=args.resource_group_name,
            location="global",
            group_short_name=ACTION_GROUP_SHORT_NAME,
            enabled=True,
            email_receivers=receivers,
            webhook_receivers=(
                [monitor.WebhookReceiverArgs(name="webhook", service_uri=spec.webhook_url, use_common_alert_schema=True)]
                if spec.webhook_url
                else None
            ),
            tags=tags,
            opts=child,
        )

        account_jobs = pulumi.Output.concat(args.portal, "/#resource", args.account_id, "/jobs")
        self.alert_rule_names = []

        def rule(
            kind: str,
            description: str,
            query: pulumi.Input[str],
            severity: int,
            every: int,
            window: int,
            dimensions: Sequence[str],
        ) -> None:
            rule_name = _rule_name(kind, args.account_name)
            self.alert_rule_names.append(rule_name)
            monitor.ScheduledQueryRule(
                f"{name}-{kind}",
                rule_name=rule_name,
                resource_group_name=args.resource_group_name,
                location=args.location,
                kind=monitor.Kind.LOG_ALERT,
                display_name=rule_name,
                description=description,
                severity=severity,
                enabled=True,
                evaluation_frequency=queries.minutes(every),
                window_size=queries.minutes(window),
                scopes=[workspace_id],
                criteria=monitor.ScheduledQueryRuleCriteriaArgs(
                    all_of=[
                        monitor.ConditionArgs(
                            query=query,
                            time_aggregation=monitor.TimeAggregation.COUNT,
                            operator=monitor.ConditionOperator.GREATER_THAN,
                            threshold=0,
                            dimensions=[
                                monitor.DimensionArgs(name=d, operator=monitor.DimensionOperator.INCLUDE, values=["*"]) for d in dimensions
                            ],
                            failing_periods=monitor.ConditionFailingPeriodsArgs(
                                number_of_evaluation_periods=1, min_failing_periods_to_alert=1
                            ),
                        )
                    ]
                ),
                # A new workspace has no AzureDiagnostics table until the first job logs arrive; Azure's check of the query would
                # refuse the rule until then. The queries are tested here against recorded rows instead (tests/monitoring).
                skip_query_validation=True,
                auto_mitigate=True,
                actions=monitor.ActionsArgs(action_groups=[group.id], custom_properties={"whereToLook": account_jobs}),
                tags=tags,
                opts=child,
            )

        rule(
            "job-ended",
            f"A runbook job in {args.account_name} ended Failed, Stopped or Suspended. The alert names the runbook and job id; "
            "open WhereToLook (the job's Output and Errors tabs).",
            queries.job_ended_query(args.account_name, args.resource_group, args.portal),
            JOB_ENDED_SEVERITY,
            JOB_ENDED_EVERY_MINUTES,
            JOB_ENDED_WINDOW_MINUTES,
            ("RunbookName", "JobId"),
        )
        for watch in args.missing_runs:
            query = pulumi.Output.all(watch.anchor, account_jobs).apply(
                lambda values, watch=watch: queries.missing_run_query(
                    args.account_name,
                    args.resource_group,
                    values[1],
                    watch.schedule,
                    values[0],
                    watch.runs,
                    watch.grace_minutes,
                    MISSING_RUN_EVERY_MINUTES,
                )
            )
            rule(
                f"missing-run-{watch.name.lower()}",
                f"A runbook on schedule {watch.name} in {args.account_name} has no completed job {watch.grace_minutes} minutes after "
                f"its start ({', '.join(run.runbook for run in watch.runs)}). Check the schedule, the job list and the account's "
                "managed identity.",
                query,
                MISSING_RUN_SEVERITY,
                MISSING_RUN_EVERY_MINUTES,
                watch.grace_minutes + 2 * MISSING_RUN_EVERY_MINUTES,
                ("RunbookName",),
            )
        if args.reconciler is not None:
            rule(
                "rbac-drift",
                f"{args.reconciler} in {args.account_name} found Exchange RBAC drift it did not repair (a failed step, or a dry "
                "run). The alert names the job; its Output lists each step.",
                queries.drift_query(args.account_name, args.resource_group, args.portal, args.reconciler),
                DRIFT_SEVERITY,
                JOB_ENDED_EVERY_MINUTES,
                JOB_ENDED_WINDOW_MINUTES,
                ("RunbookName", "JobId"),
            )
        if args.certificates:
            certificates = pulumi.Output.all(*[pulumi.Output.all(c.thumbprint, c.not_after) for c in args.certificates]).apply(
                lambda pairs: queries.certificate_expiry_query(
                    [
                        queries.WatchedCertificate(watch.identity, str(thumbprint), str(not_after))
                        for watch, (thumbprint, not_after) in zip(args.certificates, pairs, strict=True)
                    ],
                    spec.certificate_warning_days,
                    "run `pulumi up` (a generated certificate is renewed inside its renewal window) or replace the host certificate",
                )
            )
            rule(
                "certificate-expiry",
                f"An app identity's certificate ends within {spec.certificate_warning_days} days. Run `pulumi up` to renew a "
                "generated certificate, or hand over a new host certificate (docs/certificate-handover.md).",
                certificates,
                CERTIFICATE_SEVERITY,
                CERTIFICATE_EVERY_MINUTES,
                CERTIFICATE_EVERY_MINUTES,
                ("Identity", "Thumbprint"),
            )

        content = workspace_id.apply(lambda wid: json.dumps(queries.workbook_content(wid, args.account_name, args.resource_group)))
        workbook = applicationinsights.Workbook(
            f"{name}-workbook",
            resource_name_=queries.workbook_name(f"{args.resource_group}/{args.account_name}".lower()),
            resource_group_name=args.resource_group_name,
            location=args.location,
            kind=applicationinsights.WorkbookSharedTypeKind.SHARED,
            display_name=f"Exchange Online automation ({args.account_name})",
            category=WORKBOOK_CATEGORY,
            serialized_data=content,
            version="Notebook/1.0",
            # Azure stores a workbook's sourceId in lower case: given so, a later `up` shows no difference.
            source_id=workspace_id.apply(str.lower),
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=saved),
        )
        self.workspace_id = workspace_id
        self.action_group_id = group.id
        self.workbook_id = workbook.id
        self.workbook_url = pulumi.Output.concat(args.portal, "/#resource", workbook.id, "/workbook")
        self.function_aliases = [function.alias for function in functions]
        self.register_outputs(
            {
                "workspaceId": self.workspace_id,
                "workbookUrl": self.workbook_url,
                "alertRuleNames": self.alert_rule_names,
                "actionGroupId": self.action_group_id,
            }
        )

    def summary(self) -> dict[str, object]:
        """The `monitoring` part of the automation output: where the logs go, the workbook's link, the alert rule names."""
        return {
            "workspaceId": self.workspace_id,
            "workbookUrl": self.workbook_url,
            "alertRuleNames": list(self.alert_rule_names),
            "actionGroupId": self.action_group_id,
            "savedFunctions": list(self.function_aliases),
        }

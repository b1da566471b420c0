"""The desired Exchange RBAC state, published where the reconciler runbook reads it, and a one-off run after every change.

Where: an Automation variable in the account the reconciler runs in. Get-AutomationVariable reads it with no further grant (a blob
would need a Storage data role for the managed identity and a network path to the storage account), and it sits inside the trust
boundary that already matters: whoever can change the variable can change the runbook. It holds no secret (app ids, object ids, role
names, filters), so it is not encrypted and `pulumi preview` shows its change. The REST API takes a variable's value as a JSON-serialised
value (REST example createOrUpdateVariable: `"value": "\\"ComputerName.domain.com\\""`), so the document's text is JSON-encoded once more.

When: the recurring schedule comes with the runbook (ScheduledRunbook); a change of the state also gets a one-off schedule whose name
and anchor derive from the state's SHA-256, so an unchanged stack previews with no diff and a changed one runs the reconciler ~15
minutes after `up`. The job is given that SHA-256 and refuses to apply any other document.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_azuread as azuread
from pulumi_azure_native import automation

from components.creation_time import CreationTime
from components.scheduled_runbook import JOB_SCHEDULE_NAMESPACE
from exo.exchange_rbac_state import VARIABLE_NAME, ExchangeRbacSpec, PrincipalRbac, desired_state, principal_state, state_json, state_sha256
from exo.schedule_time import MINIMUM_LEAD

APPLY_SCHEDULE_PREFIX = "Sync-ExchangeRbac-apply-"


@dataclass
class ExchangeRbacPrincipal:
    """A principal with declared Exchange RBAC, as the component receives it (ids may be unknown at preview)."""

    name: str
    """Config name of the identity, or "automation"."""
    kind: str
    """application or managedIdentity."""
    app_id: pulumi.Input[str] | None
    """Client (application) id: New-ServicePrincipal -AppId. None: looked up from the service principal (a managed identity's
    client id is not in the Automation account's ARM response)."""
    object_id: pulumi.Input[str]
    """Object id of the Entra service principal: New-ServicePrincipal -ObjectId, and the role group member."""
    settings: ExchangeRbacSpec
    """Roles and scope."""


@dataclass
class ExchangeRbacStateArgs:
    resource_group_name: pulumi.Input[str]
    """Resource group of the Automation account."""
    automation_account_name: pulumi.Input[str]
    """The Automation account the reconciler runs in."""
    automation_account_id: pulumi.Input[str]
    """Its resource id: a new account gets a fresh one-off run."""
    owner_prefix: str
    """Name prefix of every Exchange object this stack owns (exchange_rbac_state.owner_prefix)."""
    label: str
    """Human-readable owner (project and stack) for role group display names."""
    principals: Sequence[ExchangeRbacPrincipal]
    """Every principal with exchangeRbac."""
    runbook_name: pulumi.Input[str]
    """The published Sync-ExchangeRbac runbook."""
    organization: pulumi.Input[str]
    """The tenant's initial domain (-Organization)."""
    parameters: Mapping[str, str]
    """Further job parameters of the one-off run (DryRun, and ExchangeEnvironmentName outside the commercial cloud)."""


def apply_start_time(created: str) -> str:
    """The one-off run's start: MINIMUM_LEAD after the anchor (Automation refuses a start under 5 minutes ahead)."""
    anchor = dt.datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    return (anchor + MINIMUM_LEAD).isoformat()


class ExchangeRbacState(pulumi.ComponentResource):
    """Automation variable with the desired state -> one-off schedule keyed on its hash -> job schedule of Sync-ExchangeRbac."""

    state_json: pulumi.Output[str]
    """The published document's text (canonical JSON)."""
    state_sha256: pulumi.Output[str]
    """Uppercase hex SHA-256 of that text: the value a job checks before it applies anything."""
    variable_name: pulumi.Output[str]
    apply_schedule_name: pulumi.Output[str]

    def __init__(self, name: str, args: ExchangeRbacStateArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("exo-automation:index:ExchangeRbacState", name, None, opts)
        entries = [
            pulumi.Output.all(self._app_id(principal), principal.object_id).apply(
                lambda ids, p=principal: principal_state(
                    args.owner_prefix, PrincipalRbac(p.name, p.kind, str(ids[0]), str(ids[1]), p.settings), args.label
                )
            )
            for principal in args.principals
        ]
        text = pulumi.Output.all(*entries).apply(lambda values: state_json(desired_state(args.owner_prefix, values, args.label)))
        sha = text.apply(state_sha256)
        variable = automation.Variable(
            f"{name}-desired-state",
            variable_name=VARIABLE_NAME,
            name=VARIABLE_NAME,
            automation_account_name=args.automation_account_name,
            resource_group_name=args.resource_group_name,
            value=text.apply(json.dumps),
            is_encrypted=False,
            description="Desired Exchange Online RBAC, read by Sync-ExchangeRbac (exo-automation; edits are overwritten on up)",
            opts=pulumi.ResourceOptions(parent=self),
        )
        anchor = CreationTime(
            f"{name}-apply-time",
            triggers={"stateSha256": sha, "account": args.automation_account_id},
            opts=pulumi.ResourceOptions(parent=self),
        )
        schedule_name = sha.apply(lambda digest: f"{APPLY_SCHEDULE_PREFIX}{digest[:12].lower()}")
        schedule = automation.Schedule(
            f"{name}-apply-once",
            schedule_name=schedule_name,
            name=schedule_name,
            automation_account_name=args.automation_account_name,
            resource_group_name=args.resource_group_name,
            frequency=automation.ScheduleFrequency.ONE_TIME,
            time_zone="UTC",
            start_time=anchor.created.apply(apply_start_time),
            description="Applies a changed Exchange RBAC desired state once (exo-automation)",
            opts=pulumi.ResourceOptions(parent=self, replace_on_changes=["*"], delete_before_replace=True),
        )
        job_parameters = pulumi.Output.all(args.organization, sha).apply(
            lambda values: {**dict(args.parameters), "Organization": values[0], "ExpectedStateSha256": values[1]}
        )
        automation.JobSchedule(
            f"{name}-apply-job",
            job_schedule_id=pulumi.Output.all(args.automation_account_name, sha).apply(
                lambda values: str(uuid.uuid5(JOB_SCHEDULE_NAMESPACE, f"{str(values[0]).lower()}/exchange-rbac-apply/{values[1]}"))
            ),
            automation_account_name=args.automation_account_name,
            resource_group_name=args.resource_group_name,
            runbook=automation.RunbookAssociationPropertyArgs(name=args.runbook_name),
            schedule=automation.ScheduleAssociationPropertyArgs(name=schedule.name),
            parameters=job_parameters,
            # The job must find the document it was scheduled for: the variable is written first.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[variable], replace_on_changes=["*"], delete_before_replace=True),
        )
        self.state_json = text
        self.state_sha256 = sha
        self.variable_name = variable.name
        self.apply_schedule_name = schedule.name
        self.register_outputs(
            {"stateSha256": self.state_sha256, "variableName": self.variable_name, "applyScheduleName": self.apply_schedule_name}
        )

    def _app_id(self, principal: ExchangeRbacPrincipal) -> pulumi.Input[str]:
        if principal.app_id is not None:
            return principal.app_id
        found = azuread.get_service_principal_output(object_id=principal.object_id, opts=pulumi.InvokeOutputOptions(parent=self))
        return found.client_id

"""Azure Automation end to end: ExchangeAutomation declares the account, its store, schedules, runbooks and Exchange RBAC state from
the AutomationSpec settings produce (exo/specs.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi

from components.automation_account import ExchangeAutomationAccount, ExchangeAutomationAccountArgs
from components.exchange_rbac import ExchangeRbacPrincipal, ExchangeRbacState, ExchangeRbacStateArgs
from components.runbook_schedules import RunbookSchedules, RunbookSchedulesArgs, ScheduleSlot
from components.runbook_store import RunbookStore, RunbookStoreArgs, blob_name
from components.scheduled_runbook import ScheduledRunbook, ScheduledRunbookArgs
from components.tenant import Tenant
from exo import azure_names, connect_commands, facts
from exo.exchange_rbac_state import MANAGED_IDENTITY_PRINCIPAL, owner_prefix
from exo.specs import ENVIRONMENT_PARAMETER, AutomationSpec, RunbookSpec


@dataclass(frozen=True)
class ExchangeAutomationArgs:
    """What the Automation owner takes: the account's spec from settings and what the stack looked up or created."""

    spec: AutomationSpec
    tenant: Tenant
    cloud: facts.CloudEnvironment
    rbac_principals: Sequence[ExchangeRbacPrincipal]
    """The app identities that declare Exchange RBAC (the managed identity is added here when the spec declares it)."""
    now: dt.datetime
    """The program's one clock reading: new Schedules start after it, and it picks the runbook links' renewal period."""


def cloud_parameters(cloud: facts.CloudEnvironment, runbook: RunbookSpec) -> dict[str, str]:
    """Outside the commercial cloud, runbooks that take -ExchangeEnvironmentName get the cloud's value."""
    name = cloud.exchange_environment_name
    return {ENVIRONMENT_PARAMETER: name} if runbook.takes_environment_name and name != "O365Default" else {}


def schedule_slots(runbook: RunbookSpec) -> list[ScheduleSlot]:
    """The schedules a runbook's job schedules link to: one per partition (none for a runbook without a schedule)."""
    if runbook.schedule is None:
        return []
    return [ScheduleSlot(runbook.schedule, index, runbook.partitions) for index in range(runbook.partitions)]


class ExchangeAutomation:
    """Azure Automation end to end: the account with its runtime, module and grant, the runbook store, the shared schedules, every
    runbook (the configured ones and the Exchange RBAC reconciler), the Exchange RBAC state, and the stack output.

    A plain owner rather than a ComponentResource: the components it declares sit at the stack's root, and a parent above them
    would change every URN they and their children have had since they were written (Pulumi would replace, or need an alias on
    each). Each child is a component of its own with typed Args, `parent=self` and `register_outputs`.
    """

    def __init__(self, args: ExchangeAutomationArgs) -> None:
        spec, tenant = args.spec, args.tenant
        self._spec, self._cloud, self._organization = spec, args.cloud, tenant.organization
        tags = dict(spec.tags)
        self.account = ExchangeAutomationAccount(
            "automation",
            ExchangeAutomationAccountArgs(
                resource_group_name=spec.resource_group_name,
                create_resource_group=spec.create_resource_group,
                location=spec.location,
                account_name=spec.account_name,
                runtime=spec.runtime,
                exchange_module_version=spec.exchange_module_version,
                exchange=tenant.exchange,
                roles=spec.roles,
                public_network_access=spec.public_network_access,
                hybrid_worker_group=spec.hybrid_worker_group,
                tags=tags,
            ),
        )
        account = self.account
        # The Exchange RBAC reconciler is published and scheduled like any runbook from config.
        self.all_runbooks: tuple[RunbookSpec, ...] = (*spec.runbooks, *((spec.reconciler,) if spec.reconciler is not None else ()))
        self.runbooks: list[ScheduledRunbook] = []
        self._first_runs: dict[str, pulumi.Output[str] | None] = {}
        self._schedule_names: dict[str, pulumi.Output[str] | None] = {}
        if self.all_runbooks:
            store = RunbookStore(
                "runbook-store",
                RunbookStoreArgs(
                    resource_group_name=account.resource_group_name,
                    location=spec.location,
                    account_name=spec.storage_account_name
                    or tenant.tenant_id.apply(
                        lambda tenant_id: azure_names.default_storage_account_name(tenant_id, pulumi.get_stack(), spec.account_name)
                    ),
                    now=args.now,
                    tags=tags,
                ),
            )
            # One Schedule per distinct definition (and partition), shared by the runbooks that use it.
            schedules = RunbookSchedules(
                "schedule",
                RunbookSchedulesArgs(
                    resource_group_name=account.resource_group_name,
                    automation_account_name=account.account_name,
                    # A new location replaces the account (and everything in it): the schedules must be created again there.
                    scope=f"{spec.resource_group_name}/{spec.account_name}/{spec.location}",
                    schedules=[slot for runbook in self.all_runbooks for slot in schedule_slots(runbook)],
                    now=args.now,
                ),
            )
            for runbook in self.all_runbooks:
                self.runbooks.append(
                    ScheduledRunbook(
                        f"runbook-{runbook.name.lower()}",
                        ScheduledRunbookArgs(
                            resource_group_name=account.resource_group_name,
                            location=spec.location,
                            automation_account_name=account.account_name,
                            runbook_name=runbook.name,
                            source_path=runbook.source,
                            sha256=runbook.sha256,
                            runbook_type=spec.runtime.runbook_type,
                            runtime_environment_name=account.runtime_environment_name,
                            storage_account_name=store.account_name,
                            container_name=store.container_name,
                            content_link=store.content_link(blob_name(runbook.name, runbook.sha256)),
                            link_version=store.link_version,
                            organization=tenant.organization,
                            exchange_module=account.exchange_module,
                            description=runbook.description,
                            schedule_names=[schedules.names[slot] for slot in schedule_slots(runbook)],
                            parameters={**dict(runbook.parameters), **cloud_parameters(args.cloud, runbook)},
                            run_on=account.hybrid_worker_group_name if runbook.hybrid_worker else None,
                            partitions=runbook.partitions,
                            tags=tags,
                        ),
                    )
                )
                slots = schedule_slots(runbook)
                self._schedule_names[runbook.name] = schedules.names[slots[0]] if slots else None
                self._first_runs[runbook.name] = schedules.start_times[slots[0]] if slots else None
        self.exchange_rbac = self._exchange_rbac_state(args) if spec.reconciler is not None else None

    def _exchange_rbac_state(self, args: ExchangeAutomationArgs) -> ExchangeRbacState:
        """Publish every principal's declared Exchange RBAC for Sync-ExchangeRbac (run on its own schedule, see ExchangeRbacState)."""
        spec, account = args.spec, self.account
        principals = list(args.rbac_principals)
        if spec.exchange_rbac is not None:
            principals.append(
                ExchangeRbacPrincipal(MANAGED_IDENTITY_PRINCIPAL, "managedIdentity", None, account.principal_id, spec.exchange_rbac)
            )
        return ExchangeRbacState(
            "exchange-rbac",
            ExchangeRbacStateArgs(
                resource_group_name=account.resource_group_name,
                automation_account_name=account.account_name,
                owner_prefix=owner_prefix(pulumi.get_stack(), spec.account_name),
                label=f"exo-automation {pulumi.get_stack()}",
                principals=principals,
                former_owners=spec.reconciler_former_owners,
            ),
        )

    def summary(self) -> dict[str, object]:
        """The `automation` stack output: the account, how to connect as its managed identity, every runbook and its first run."""
        spec, account, cloud = self._spec, self.account, self._cloud
        return {
            "accountName": account.account_name,
            "accountId": account.account_id,
            "resourceGroupName": account.resource_group_name,
            "principalId": account.principal_id,
            "runtime": spec.runtime.name,
            "exchangeModuleVersion": spec.exchange_module_version,
            "roles": list(spec.role_names),
            "connectCommand": self._organization.apply(
                lambda organization: connect_commands.exchange_managed_identity_command(organization, cloud)
            ),
            "exchangeModuleImport": account.exchange_module_import,
            "runbooks": {
                configured.name: {
                    "contentSha256": runbook.content_sha256,
                    "schedule": self._schedule_names[configured.name],
                    "firstRun": self._first_runs[configured.name],
                    "partitions": configured.partitions,
                }
                for configured, runbook in zip(self.all_runbooks, self.runbooks, strict=True)
            },
            **(
                {"exchangeRbac": {"stateSha256": self.exchange_rbac.state_sha256, "variableName": self.exchange_rbac.variable_name}}
                if self.exchange_rbac is not None
                else {}
            ),
        }

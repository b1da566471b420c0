"""Azure Automation end to end: ExchangeAutomation declares the account, its store, schedules, runbooks and Exchange RBAC state from
the AutomationSpec settings produce (exo/specs.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi

from components.automation_account import ExchangeAutomationAccount, ExchangeAutomationAccountArgs
from components.exchange_rbac import ExchangeRbacPrincipal, ExchangeRbacState, ExchangeRbacStateArgs
from components.monitoring import AutomationMonitoring, AutomationMonitoringArgs, CertificateWatch, MissingRunWatch
from components.runbook_schedules import RunbookSchedules, RunbookSchedulesArgs, ScheduleSlot, schedule_name
from components.runbook_store import RunbookStore, RunbookStoreArgs, blob_name
from components.scheduled_runbook import ScheduledRunbook, ScheduledRunbookArgs
from components.tenant import Tenant
from exo import azure_names, connect_commands, facts
from exo import monitoring as monitoring_queries
from exo.exchange_rbac_state import MANAGED_IDENTITY_PRINCIPAL, owner_prefix
from exo.specs import ENVIRONMENT_PARAMETER, AutomationSpec, MonitoringSpec, RunbookSpec


@dataclass(frozen=True)
class HybridCertificateIdentity:
    """An app identity a hybrid runbook signs in as: what the job gets as -AppId and -CertificateThumbprint."""

    client_id: pulumi.Input[str]
    thumbprints: pulumi.Input[str]
    """Comma-separated, current certificate first and the previous one during a rotation: the job uses the first its worker holds."""


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
    hybrid_identities: Mapping[str, HybridCertificateIdentity] = field(default_factory=dict)
    """The app identities by name, for runbooks on hybrid workers (RunbookSpec.hybrid_identity)."""
    certificates: Sequence[CertificateWatch] = ()
    """The app identities' certificates, for the expiry alert (when monitoring is on)."""


def cloud_parameters(cloud: facts.CloudEnvironment, runbook: RunbookSpec) -> dict[str, str]:
    """Outside the commercial cloud, runbooks that take -ExchangeEnvironmentName get the cloud's value."""
    name = cloud.exchange_environment_name
    return {ENVIRONMENT_PARAMETER: name} if runbook.takes_environment_name and name != "O365Default" else {}


def certificate_parameters(identities: Mapping[str, HybridCertificateIdentity], runbook: RunbookSpec) -> dict[str, pulumi.Input[str]]:
    """A hybrid runbook signs in with its hybridIdentity's certificate; none for a runbook in Azure (the managed identity)."""
    if runbook.hybrid_identity is None:
        return {}
    identity = identities.get(runbook.hybrid_identity)
    if identity is None:
        raise ValueError(f"runbook {runbook.name}: identity {runbook.hybrid_identity!r} was not created")
    return {"CertificateThumbprint": identity.thumbprints, "AppId": identity.client_id}


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
                            content=runbook.content,
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
                            output_parameters=certificate_parameters(args.hybrid_identities, runbook),
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
        self.monitoring = self._monitoring(args, spec.monitoring) if spec.monitoring is not None else None

    def _monitoring(self, args: ExchangeAutomationArgs, monitoring: MonitoringSpec) -> AutomationMonitoring:
        """Logs, alerts, findings and the workbook; one missing-run rule per schedule definition the runbooks use."""
        spec, account = args.spec, self.account
        watches: dict[str, MissingRunWatch] = {}
        for runbook in self.all_runbooks:
            if runbook.schedule is None:
                continue
            name = schedule_name(ScheduleSlot(runbook.schedule))
            run = monitoring_queries.ExpectedRun(runbook.name, runbook.partitions)
            found = watches.get(name)
            if found is None:
                anchor = self._first_runs[runbook.name]
                assert anchor is not None  # a scheduled runbook always has its first run
                grace = monitoring_queries.grace_minutes(monitoring.missing_run_grace_minutes, runbook.schedule)
                watches[name] = MissingRunWatch(name, runbook.schedule, anchor, (run,), grace)
            else:
                watches[name] = MissingRunWatch(name, found.schedule, found.anchor, (*found.runs, run), found.grace_minutes)
        return AutomationMonitoring(
            "monitoring",
            AutomationMonitoringArgs(
                spec=monitoring,
                resource_group_name=account.resource_group_name,
                resource_group=spec.resource_group_name,
                location=spec.location,
                account_name=spec.account_name,
                account_id=account.account_id,
                portal=facts.AZURE_PORTALS[args.cloud.azuread_environment],
                arm_environment=facts.AZURE_NATIVE_ENVIRONMENTS[args.cloud.azuread_environment],
                missing_runs=list(watches.values()),
                reconciler=spec.reconciler.name if spec.reconciler is not None else None,
                certificates=list(args.certificates),
                tags=dict(spec.tags),
            ),
        )

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
            **({"monitoring": self.monitoring.summary()} if self.monitoring is not None else {}),
        }

"""exo-automation: read and validate config, wire the components, export what admins paste."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import replace
from pathlib import Path

import pulumi

from components.app_certificate import CertificateSpec
from components.app_identity import ExchangeAppIdentity, ExchangeAppIdentityArgs
from components.automation_account import ExchangeAutomationAccount, ExchangeAutomationAccountArgs
from components.certificate_vault import CertificateVault, CertificateVaultArgs, VaultedCertificate
from components.exchange_rbac import ExchangeRbacPrincipal, ExchangeRbacState, ExchangeRbacStateArgs
from components.runbook_schedules import RunbookSchedules, RunbookSchedulesArgs, ScheduleSlot
from components.runbook_store import RunbookStore, RunbookStoreArgs, blob_name
from components.scheduled_runbook import ScheduledRunbook, ScheduledRunbookArgs
from components.tenant import Tenant, lookup_tenant
from exo import clock, connect_commands
from exo.exchange_rbac_state import effective_permissions, owner_prefix
from settings.automation import ENVIRONMENT_PARAMETER, AutomationSettings, RunbookSettings, default_storage_account_name
from settings.exchange_rbac import MANAGED_IDENTITY_PRINCIPAL
from settings.host_certificate import HostCertificateSettings
from settings.stack import CONFIG_KEYS, IdentitySettings, StackSettings, parse_settings

PROJECT_DIR = Path(__file__).resolve().parent
TAGS = {"managed-by": "exo-automation"}


def read_settings(now: dt.datetime) -> StackSettings:
    config = pulumi.Config()
    raw = {key: config.get(key) for key in CONFIG_KEYS}
    # Follow the azuread provider's cloud: its `environment` setting, else the ARM_ENVIRONMENT variable it reads too.
    azuread_environment = pulumi.Config("azuread").get("environment") or os.environ.get("ARM_ENVIRONMENT")
    return parse_settings(raw, pulumi.get_stack(), azuread_environment, PROJECT_DIR, now=now)


def with_certificate(args: ExchangeAppIdentityArgs, identity: IdentitySettings) -> ExchangeAppIdentityArgs:
    """The identity's certificate as the component takes it: a spec the program generates from, or the hosts' PEMs."""
    certificate = identity.certificate
    if isinstance(certificate, HostCertificateSettings):
        return replace(args, host_certificates=certificate.certificate_pems)
    spec = CertificateSpec(
        common_name=certificate.common_name,
        rsa_bits=certificate.rsa_bits,
        validity_period_hours=certificate.validity_period_hours,
        early_renewal_hours=certificate.early_renewal_hours,
    )
    return replace(
        args,
        certificate=spec,
        certificate_generation=certificate.generation,
        keep_previous_certificate=certificate.keep_previous_generation,
    )


def app_identities(settings: StackSettings, tenant: Tenant) -> dict[str, ExchangeAppIdentity]:
    owners = pulumi.Output.all(tenant.deployer_object_id, *settings.additional_owners).apply(lambda ids: sorted(set(ids), key=ids.index))
    return {
        identity.name: ExchangeAppIdentity(
            identity.name,
            with_certificate(
                ExchangeAppIdentityArgs(
                    display_name=identity.display_name,
                    owners=owners,
                    roles=identity.role_names,
                    exchange_service_principal_object_id=tenant.exchange.object_id,
                    manage_as_app_role_id=tenant.exchange.manage_as_app_role_id,
                    tenant_id=tenant.tenant_id,
                    organization=tenant.organization,
                    cloud=settings.cloud,
                    certificate=None,
                ),
                identity,
            ),
        )
        for identity in settings.identities
    }


def cloud_parameters(settings: StackSettings, runbook: RunbookSettings) -> dict[str, str]:
    """Outside the commercial cloud, runbooks that take -ExchangeEnvironmentName get the cloud's value."""
    name = settings.cloud.exchange_environment_name
    return {ENVIRONMENT_PARAMETER: name} if runbook.takes_environment_name and name != "O365Default" else {}


def schedule_slots(runbook: RunbookSettings) -> list[ScheduleSlot]:
    """The schedules a runbook's job schedules link to: one per partition (none for a runbook without a schedule)."""
    if runbook.schedule is None:
        return []
    return [ScheduleSlot(runbook.schedule, index, runbook.partitions) for index in range(runbook.partitions)]


def automation_account(
    settings: StackSettings,
    automation: AutomationSettings,
    tenant: Tenant,
    identities: dict[str, ExchangeAppIdentity],
    now: dt.datetime,
) -> dict[str, object]:
    tags = {**dict(automation.tags), **TAGS}
    account = ExchangeAutomationAccount(
        "automation",
        ExchangeAutomationAccountArgs(
            resource_group_name=automation.resource_group_name,
            create_resource_group=automation.create_resource_group,
            location=automation.location,
            account_name=automation.account_name,
            runtime=automation.runtime,
            exchange_module_version=automation.exchange_module_version,
            exchange_service_principal_object_id=tenant.exchange.object_id,
            manage_as_app_role_id=tenant.exchange.manage_as_app_role_id,
            roles=automation.role_names,
            public_network_access=automation.public_network_access,
            hybrid_worker_group=automation.hybrid_worker_group,
            tags=tags,
        ),
    )
    runbooks: list[ScheduledRunbook] = []
    first_runs: dict[str, pulumi.Output[str] | None] = {}
    schedule_names: dict[str, pulumi.Output[str] | None] = {}
    # The Exchange RBAC reconciler is published and scheduled like any runbook from config.
    all_runbooks = (*automation.runbooks, *((settings.rbac_reconciler,) if settings.rbac_reconciler is not None else ()))
    if all_runbooks:
        store = RunbookStore(
            "runbook-store",
            RunbookStoreArgs(
                resource_group_name=account.resource_group_name,
                location=automation.location,
                account_name=automation.storage_account_name
                or tenant.tenant_id.apply(
                    lambda tenant_id: default_storage_account_name(tenant_id, pulumi.get_stack(), automation.account_name)
                ),
                now=now,
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
                scope=f"{automation.resource_group_name}/{automation.account_name}/{automation.location}",
                schedules=[slot for runbook in all_runbooks for slot in schedule_slots(runbook)],
                now=now,
            ),
        )
        for runbook in all_runbooks:
            runbooks.append(
                ScheduledRunbook(
                    f"runbook-{runbook.name.lower()}",
                    ScheduledRunbookArgs(
                        resource_group_name=account.resource_group_name,
                        location=automation.location,
                        automation_account_name=account.account_name,
                        runbook_name=runbook.name,
                        source_path=runbook.source,
                        sha256=runbook.sha256,
                        runbook_type=automation.runtime.runbook_type,
                        runtime_environment_name=account.runtime_environment_name,
                        storage_account_name=store.account_name,
                        container_name=store.container_name,
                        content_link=store.content_link(blob_name(runbook.name, runbook.sha256)),
                        link_version=store.link_version,
                        organization=tenant.organization,
                        exchange_module=account.exchange_module,
                        description=runbook.description,
                        schedule_names=[schedules.names[slot] for slot in schedule_slots(runbook)],
                        parameters={**dict(runbook.parameters), **cloud_parameters(settings, runbook)},
                        run_on=account.hybrid_worker_group_name if runbook.hybrid_worker else None,
                        partitions=runbook.partitions,
                        tags=tags,
                    ),
                )
            )
            slots = schedule_slots(runbook)
            schedule_names[runbook.name] = schedules.names[slots[0]] if slots else None
            first_runs[runbook.name] = schedules.start_times[slots[0]] if slots else None
    rbac = exchange_rbac_state(settings, automation, tenant, identities, account, runbooks[-1]) if settings.rbac_reconciler else None
    return {
        "accountName": account.account_name,
        "accountId": account.account_id,
        "resourceGroupName": account.resource_group_name,
        "principalId": account.principal_id,
        "runtime": automation.runtime.name,
        "exchangeModuleVersion": automation.exchange_module_version,
        "roles": list(automation.role_names),
        "connectCommand": tenant.organization.apply(
            lambda organization: connect_commands.exchange_managed_identity_command(organization, settings.cloud)
        ),
        "exchangeModuleImport": account.exchange_module_import,
        "runbooks": {
            configured.name: {
                "contentSha256": runbook.content_sha256,
                "schedule": schedule_names[configured.name],
                "firstRun": first_runs[configured.name],
                "partitions": configured.partitions,
            }
            for configured, runbook in zip(all_runbooks, runbooks, strict=True)
        },
        **({"exchangeRbac": {"stateSha256": rbac.state_sha256, "variableName": rbac.variable_name}} if rbac is not None else {}),
    }


def exchange_rbac_state(
    settings: StackSettings,
    automation: AutomationSettings,
    tenant: Tenant,
    identities: dict[str, ExchangeAppIdentity],
    account: ExchangeAutomationAccount,
    reconciler: ScheduledRunbook,
) -> ExchangeRbacState:
    """Publish every principal's declared Exchange RBAC for Sync-ExchangeRbac, and run it once after a change."""
    principals = [
        ExchangeRbacPrincipal(
            name=identity.name,
            kind="application",
            app_id=identities[identity.name].client_id,
            object_id=identities[identity.name].service_principal_object_id,
            settings=identity.exchange_rbac,
        )
        for identity in settings.identities
        if identity.exchange_rbac is not None
    ]
    if automation.exchange_rbac is not None:
        principals.append(
            ExchangeRbacPrincipal(MANAGED_IDENTITY_PRINCIPAL, "managedIdentity", None, account.principal_id, automation.exchange_rbac)
        )
    assert settings.rbac_reconciler is not None
    return ExchangeRbacState(
        "exchange-rbac",
        ExchangeRbacStateArgs(
            resource_group_name=account.resource_group_name,
            automation_account_name=account.account_name,
            automation_account_id=account.account_id,
            owner_prefix=owner_prefix(pulumi.get_stack(), automation.account_name),
            label=f"exo-automation {pulumi.get_stack()}",
            principals=principals,
            runbook_name=reconciler.runbook_name,
            organization=tenant.organization,
            parameters={**dict(settings.rbac_reconciler.parameters), **cloud_parameters(settings, settings.rbac_reconciler)},
        ),
    )


def permissions(settings: StackSettings) -> dict[str, object]:
    """Effective permissions per principal: Entra roles (organization-wide), Exchange roles and their scope."""
    result: dict[str, object] = {
        "identities": {
            identity.name: effective_permissions(identity.role_names, identity.exchange_rbac) for identity in settings.identities
        }
    }
    if settings.automation is not None:
        result["automation"] = effective_permissions(settings.automation.role_names, settings.automation.exchange_rbac)
    return result


def certificate_vault(settings: StackSettings, tenant: Tenant, identities: dict[str, ExchangeAppIdentity]) -> dict[str, object] | None:
    key_vault = settings.key_vault
    if key_vault is None:
        return None
    vault = CertificateVault(
        "certificate-vault",
        CertificateVaultArgs(
            resource_group_name=key_vault.resource_group_name,
            vault_name=key_vault.name,
            tenant_id=tenant.tenant_id,
            certificates={
                # A host fetches the certificate only once Entra holds it as a key credential. Host certificates have no key here.
                name: VaultedCertificate(identity.certificate_pem, identity.private_key_pem, ready=[identity.credential_key_id])
                for name, identity in identities.items()
                if identity.private_key_pem is not None
            },
            readers=key_vault.readers,
            location=key_vault.location,
            create_resource_group=key_vault.create_resource_group,
            public_network_access=key_vault.public_network_access,
            soft_delete_retention_days=key_vault.soft_delete_retention_days,
            tags=key_vault.tags,
        ),
    )
    return vault.summary()


def main() -> None:
    # The one clock reading of the program: host certificates are judged at it, new Schedules start after it, and it picks the
    # runbook links' renewal period.
    now = clock.now()
    settings = read_settings(now)
    for warning in settings.warnings:
        pulumi.log.warn(warning)
    tenant = lookup_tenant(settings.cloud, settings.organization)
    identities = app_identities(settings, tenant)

    pulumi.export("organization", tenant.organization)
    pulumi.export("tenantId", tenant.tenant_id)
    pulumi.export("identities", {name: identity.summary() for name, identity in identities.items()})
    # Only generated certificates have a key in the program; a stack of host certificates exports none at all.
    private_keys = {name: i.private_key_pem for name, i in identities.items() if i.private_key_pem is not None}
    if private_keys:
        pulumi.export("privateKeys", pulumi.Output.secret(private_keys))
    if settings.automation is not None:
        pulumi.export("automation", automation_account(settings, settings.automation, tenant, identities, now))
    pulumi.export("effectivePermissions", permissions(settings))
    vault = certificate_vault(settings, tenant, identities)
    if vault is not None:
        pulumi.export("keyVault", vault)


main()

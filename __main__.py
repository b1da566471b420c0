"""exo-automation: read and validate config, wire the components, export what admins paste."""

from __future__ import annotations

import os
from pathlib import Path

import pulumi

from components import connect_commands
from components.app_certificate import CertificateSpec
from components.app_identity import ExchangeAppIdentity, ExchangeAppIdentityArgs
from components.automation_account import ExchangeAutomationAccount, ExchangeAutomationAccountArgs
from components.automation_settings import ENVIRONMENT_PARAMETER, AutomationSettings, RunbookSettings, default_storage_account_name
from components.certificate_vault import CertificateVault, CertificateVaultArgs, VaultedCertificate
from components.evaluation_gc import tune_collector_for_evaluation
from components.runbook_store import RunbookStore, RunbookStoreArgs
from components.scheduled_runbook import ScheduledRunbook, ScheduledRunbookArgs
from components.settings import CONFIG_KEYS, StackSettings, parse_settings
from components.tenant import Tenant, lookup_tenant

PROJECT_DIR = Path(__file__).resolve().parent
TAGS = {"managed-by": "exo-automation"}


def read_settings() -> StackSettings:
    config = pulumi.Config()
    raw = {key: config.get(key) for key in CONFIG_KEYS}
    # Follow the azuread provider's cloud: its `environment` setting, else the ARM_ENVIRONMENT variable it reads too.
    azuread_environment = pulumi.Config("azuread").get("environment") or os.environ.get("ARM_ENVIRONMENT")
    return parse_settings(raw, pulumi.get_stack(), azuread_environment, PROJECT_DIR)


def app_identities(settings: StackSettings, tenant: Tenant) -> dict[str, ExchangeAppIdentity]:
    owners = pulumi.Output.all(tenant.deployer_object_id, *settings.additional_owners).apply(lambda ids: sorted(set(ids), key=ids.index))
    return {
        identity.name: ExchangeAppIdentity(
            identity.name,
            ExchangeAppIdentityArgs(
                display_name=identity.display_name,
                owners=owners,
                roles=identity.role_names,
                exchange_service_principal_object_id=tenant.exchange.object_id,
                manage_as_app_role_id=tenant.exchange.manage_as_app_role_id,
                tenant_id=tenant.tenant_id,
                organization=tenant.organization,
                cloud=settings.cloud,
                certificate=CertificateSpec(
                    common_name=identity.certificate.common_name,
                    rsa_bits=identity.certificate.rsa_bits,
                    validity_period_hours=identity.certificate.validity_period_hours,
                    early_renewal_hours=identity.certificate.early_renewal_hours,
                ),
                certificate_generation=identity.certificate.generation,
                keep_previous_certificate=identity.certificate.keep_previous_generation,
            ),
        )
        for identity in settings.identities
    }


def cloud_parameters(settings: StackSettings, runbook: RunbookSettings) -> dict[str, str]:
    """Outside the commercial cloud, runbooks that take -ExchangeEnvironmentName get the cloud's value."""
    name = settings.cloud.exchange_environment_name
    return {ENVIRONMENT_PARAMETER: name} if runbook.takes_environment_name and name != "O365Default" else {}


def automation_account(settings: StackSettings, automation: AutomationSettings, tenant: Tenant) -> dict[str, object]:
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
    if automation.runbooks:
        store = RunbookStore(
            "runbook-store",
            RunbookStoreArgs(
                resource_group_name=account.resource_group_name,
                location=automation.location,
                account_name=automation.storage_account_name
                or tenant.tenant_id.apply(
                    lambda tenant_id: default_storage_account_name(tenant_id, pulumi.get_stack(), automation.account_name)
                ),
                tags=tags,
            ),
        )
        runbooks = [
            ScheduledRunbook(
                f"runbook-{runbook.name.lower()}",
                ScheduledRunbookArgs(
                    resource_group_name=account.resource_group_name,
                    location=automation.location,
                    automation_account_name=account.account_name,
                    automation_account_id=account.account_id,
                    runbook_name=runbook.name,
                    source_path=runbook.source,
                    sha256=runbook.sha256,
                    runbook_type=automation.runtime.runbook_type,
                    runtime_environment_name=account.runtime_environment_name,
                    storage_account_name=store.account_name,
                    container_name=store.container_name,
                    organization=tenant.organization,
                    exchange_module=account.exchange_module,
                    description=runbook.description,
                    schedule=runbook.schedule,
                    parameters={**dict(runbook.parameters), **cloud_parameters(settings, runbook)},
                    run_on=account.hybrid_worker_group_name if runbook.hybrid_worker else None,
                    tags=tags,
                ),
            )
            for runbook in automation.runbooks
        ]
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
        "runbooks": {
            name: {
                "contentSha256": runbook.content_sha256,
                "schedule": runbook.schedule_name,
                "firstRun": runbook.first_run,
            }
            for name, runbook in zip([r.name for r in automation.runbooks], runbooks, strict=True)
        },
    }


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
                # A host fetches the certificate only once Entra holds it as a key credential.
                name: VaultedCertificate(identity.certificate_pem, identity.private_key_pem, ready=[identity.credential_key_id])
                for name, identity in identities.items()
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
    settings = read_settings()
    tenant = lookup_tenant(settings.cloud, settings.organization)
    identities = app_identities(settings, tenant)

    pulumi.export("organization", tenant.organization)
    pulumi.export("tenantId", tenant.tenant_id)
    pulumi.export("identities", {name: identity.summary() for name, identity in identities.items()})
    pulumi.export("privateKeys", pulumi.Output.secret({name: i.private_key_pem for name, i in identities.items()}))
    if settings.automation is not None:
        pulumi.export("automation", automation_account(settings, settings.automation, tenant))
    vault = certificate_vault(settings, tenant, identities)
    if vault is not None:
        pulumi.export("keyVault", vault)


tune_collector_for_evaluation()
main()

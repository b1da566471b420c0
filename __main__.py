"""exo-automation: read and validate config, wire the components, export what admins paste."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pulumi

from components.app_identity import ExchangeAppIdentity, ExchangeAppIdentityArgs
from components.automation import ExchangeAutomation, ExchangeAutomationArgs
from components.certificate_vault import CertificateVault, CertificateVaultArgs, VaultedCertificate
from components.exchange_rbac import ExchangeRbacPrincipal
from components.monitoring import CertificateWatch
from components.provider_version_aliases import without_provider_version_aliases
from components.tenant import Tenant, lookup_tenant
from exo import clock
from exo.evaluation_gc import tune_collector_for_evaluation
from settings.stack import StackSettings, read_settings

PROJECT_DIR = Path(__file__).resolve().parent


def app_identities(settings: StackSettings, tenant: Tenant) -> dict[str, ExchangeAppIdentity]:
    owners = pulumi.Output.all(tenant.deployer_object_id, *settings.additional_owners).apply(lambda ids: sorted(set(ids), key=ids.index))
    return {
        identity.name: ExchangeAppIdentity(
            identity.name,
            ExchangeAppIdentityArgs(
                display_name=identity.display_name,
                owners=owners,
                roles=identity.roles,
                exchange=tenant.exchange,
                tenant_id=tenant.tenant_id,
                organization=tenant.organization,
                cloud=settings.cloud,
                certificate=identity.generated_certificate,
                host_certificates=identity.host_certificate_pems,
            ),
        )
        for identity in settings.identities
    }


def rbac_principals(settings: StackSettings, identities: dict[str, ExchangeAppIdentity]) -> list[ExchangeRbacPrincipal]:
    """The app identities that declare Exchange RBAC, as the reconciler's desired state names them."""
    return [
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


def certificate_vault(settings: StackSettings, tenant: Tenant, identities: dict[str, ExchangeAppIdentity]) -> dict[str, object] | None:
    key_vault = settings.key_vault
    if key_vault is None:
        return None
    vault = CertificateVault(
        "certificate-vault",
        CertificateVaultArgs(
            spec=key_vault,
            tenant_id=tenant.tenant_id,
            certificates={
                # A host fetches the certificate only once Entra holds it as a key credential. Host certificates have no key here.
                name: VaultedCertificate(identity.certificate_pem, identity.private_key_pem, ready=[identity.credential_key_id])
                for name, identity in identities.items()
                if identity.private_key_pem is not None
            },
        ),
    )
    return vault.summary()


def main() -> None:
    # The one clock reading of the program: host certificates are judged at it, new Schedules start after it, and it picks the
    # runbook links' renewal period.
    now = clock.now()
    settings = read_settings(PROJECT_DIR, now)
    pulumi.runtime.register_stack_transformation(without_provider_version_aliases)
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
        certificates = [CertificateWatch(name, i.thumbprint, i.certificate_not_after) for name, i in identities.items()]
        automation = ExchangeAutomation(
            ExchangeAutomationArgs(
                settings.automation, tenant, settings.cloud, rbac_principals(settings, identities), now, certificates=certificates
            )
        )
        pulumi.export("automation", automation.summary())
    pulumi.export("effectivePermissions", settings.effective_permissions())
    vault = certificate_vault(settings, tenant, identities)
    if vault is not None:
        pulumi.export("keyVault", vault)


async def evaluate() -> None:
    main()
    # Lets every registration Pulumi has queued start before the SDK waits for them. A program that returns first leaves the SDK's
    # wait_for_rpcs no RPC to await, and it falls through to polling every unresolved Output after each completion (pulumi 3.272;
    # benchmarks/sdk_bugs/wait_for_rpcs_polls_outputs.md): ~45 rounds over all of them, a quarter of a 100-runbook evaluation.
    await asyncio.sleep(0)


tune_collector_for_evaluation()
# Pulumi's documented async entry point: the language host awaits it inside the stack, before waiting for the registrations.
pulumi.run(evaluate)

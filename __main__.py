"""exo-automation: read and validate config, wire the components, export what admins paste."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import cast

import pulumi

from components.app_identity import ExchangeAppIdentity, ExchangeAppIdentityArgs
from components.automation import ExchangeAutomation, ExchangeAutomationArgs, HybridCertificateIdentity
from components.certificate_vault import CertificateVault, CertificateVaultArgs, VaultedCertificate
from components.exchange_rbac import ExchangeRbacPrincipal
from components.monitoring import CertificateWatch
from components.private_endpoints import (
    AUTOMATION_GROUP_IDS,
    KEY_VAULT_GROUP_ID,
    EndpointTarget,
    PrivateEndpoints,
    PrivateEndpointsArgs,
)
from components.provider_version_aliases import without_provider_version_aliases
from components.tenant import Tenant, lookup_tenant
from exo import clock, scubagear
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


def hybrid_identity(identity: ExchangeAppIdentity) -> HybridCertificateIdentity:
    """What a hybrid runbook signing in as `identity` gets: its client id and its certificates' thumbprints, current first."""
    previous = identity.previous_thumbprint
    thumbprints = (
        pulumi.Output.all(identity.thumbprint, previous).apply(lambda pair: ",".join(t for t in pair if t))
        if previous is not None
        else pulumi.Output.from_input(identity.thumbprint)
    )
    return HybridCertificateIdentity(client_id=identity.client_id, thumbprints=thumbprints)


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


def scubagear_config(
    settings: StackSettings, identities: dict[str, ExchangeAppIdentity], automation: ExchangeAutomation | None
) -> pulumi.Output[dict[str, object]]:
    """The `scubaGearConfig` output: every principal given a ScubaGear highly privileged role, and the config fragment naming them."""
    held: list[tuple[str, pulumi.Output[str], tuple[str, ...]]] = [
        (scubagear.identity_label(identity.name), identities[identity.name].service_principal_object_id, privileged)
        for identity in settings.identities
        if (privileged := scubagear.privileged_roles(identity.role_names))
    ]
    if automation is not None and settings.automation is not None:
        privileged = scubagear.privileged_roles(settings.automation.role_names)
        if privileged:
            held.append((scubagear.MANAGED_IDENTITY_LABEL, automation.account.principal_id, privileged))
    return pulumi.Output.all(*(object_id for _, object_id, _ in held)).apply(
        lambda object_ids: scubagear.scubagear_output(
            [scubagear.PrivilegedPrincipal(label, object_id, roles) for (label, _, roles), object_id in zip(held, object_ids, strict=True)]
        )
    )


def private_endpoints(settings: StackSettings, automation: ExchangeAutomation | None, vault: dict[str, object] | None) -> None:
    """Corp with privateEndpoints: one endpoint per sub-resource of the Automation account and of the vault, in the given subnet."""
    zone = settings.landing_zone
    if zone is None or zone.private_endpoints is None:
        return
    targets: list[EndpointTarget] = []
    location = zone.private_endpoints.location
    tags: dict[str, str] = {}
    if automation is not None and settings.automation is not None:
        account = automation.account
        targets += [
            EndpointTarget(settings.automation.account_name, account.resource_group_name, account.account_id, group)
            for group in AUTOMATION_GROUP_IDS
        ]
        location = location or settings.automation.location
        tags = dict(settings.automation.tags)
    if vault is not None and settings.key_vault is not None:
        vault_id = cast("pulumi.Output[str]", vault["vaultId"])
        targets.append(EndpointTarget(settings.key_vault.name, settings.key_vault.resource_group_name, vault_id, KEY_VAULT_GROUP_ID))
        location = location or settings.key_vault.location
        tags = tags or dict(settings.key_vault.tags)
    if location is None:  # settings refuse this stack first (landingZone.privateEndpoints.location)
        raise pulumi.RunError("private endpoints need the region of their virtual network")
    endpoints = PrivateEndpoints(
        "private-endpoints", PrivateEndpointsArgs(subnet_id=zone.private_endpoints.subnet_id, location=location, targets=targets, tags=tags)
    )
    pulumi.export("privateEndpoints", endpoints.endpoint_ids)


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
    automation = None
    if settings.automation is not None:
        certificates = [CertificateWatch(name, i.thumbprint, i.certificate_not_after) for name, i in identities.items()]
        automation = ExchangeAutomation(
            ExchangeAutomationArgs(
                settings.automation,
                tenant,
                settings.cloud,
                rbac_principals(settings, identities),
                now,
                certificates=certificates,
                hybrid_identities={name: hybrid_identity(identity) for name, identity in identities.items()},
            )
        )
        pulumi.export("automation", automation.summary())
    pulumi.export("effectivePermissions", settings.effective_permissions())
    pulumi.export("scubaGearConfig", scubagear_config(settings, identities, automation))
    vault = certificate_vault(settings, tenant, identities)
    if vault is not None:
        pulumi.export("keyVault", vault)
    private_endpoints(settings, automation, vault)


async def evaluate() -> None:
    main()
    # Lets every registration Pulumi has queued start before the SDK waits for them. A program that returns first leaves the SDK's
    # wait_for_rpcs no RPC to await, and it falls through to polling every unresolved Output after each completion (pulumi 3.272;
    # benchmarks/sdk_bugs/wait_for_rpcs_polls_outputs.md): ~45 rounds over all of them, a quarter of a 100-runbook evaluation.
    await asyncio.sleep(0)


tune_collector_for_evaluation()
# Pulumi's documented async entry point: the language host awaits it inside the stack, before waiting for the registrations.
pulumi.run(evaluate)

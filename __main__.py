"""exo-automation: read and validate config, wire the components, export what admins paste."""

from __future__ import annotations

from pathlib import Path

import pulumi

from components.app_identity import app_identities
from components.automation import ExchangeAutomation, ExchangeAutomationArgs, HybridCertificateIdentity
from components.certificate_vault import certificate_vault_for
from components.exchange_rbac import application_principals
from components.monitoring import CertificateWatch
from components.private_endpoints import private_endpoints_for
from components.scubagear_config import scubagear_config
from components.tenant import lookup_tenant
from exo import clock
from exo.evaluation_gc import tune_collector_for_evaluation
from settings.stack import read_settings

PROJECT_DIR = Path(__file__).resolve().parent


def main() -> None:
    # The one clock reading of the program: host certificates and a kept previous certificate generation are judged at it, new
    # Schedules start after it, and it picks the runbook links' renewal period.
    now = clock.now()
    settings = read_settings(PROJECT_DIR, now)
    for warning in settings.warnings:
        pulumi.log.warn(warning)
    tenant = lookup_tenant(settings.cloud, settings.organization)
    identities = app_identities(settings.identities, tenant, settings.cloud, settings.additional_owners, now)

    pulumi.export("organization", tenant.organization)
    pulumi.export("tenantId", tenant.tenant_id)
    pulumi.export("identities", {name: identity.summary() for name, identity in identities.items()})
    # Only generated certificates have a key in the program; a stack of host certificates exports none at all.
    private_keys = {name: i.private_key_pem for name, i in identities.items() if i.private_key_pem is not None}
    if private_keys:
        pulumi.export("privateKeys", pulumi.Output.secret(private_keys))
    automation = None
    if settings.automation is not None:
        automation = ExchangeAutomation(
            ExchangeAutomationArgs(
                settings.automation,
                tenant,
                settings.cloud,
                application_principals(settings.exchange_rbac_identities, identities),
                now,
                certificates=[CertificateWatch(name, i.thumbprint, i.certificate_not_after) for name, i in identities.items()],
                hybrid_identities={name: HybridCertificateIdentity.signing_in_as(i) for name, i in identities.items()},
            )
        )
        pulumi.export("automation", automation.summary())
    pulumi.export("effectivePermissions", settings.effective_permissions())
    pulumi.export("scubaGearConfig", scubagear_config(settings.privileged_principals, identities, automation))
    vault = certificate_vault_for(settings.key_vault, tenant.tenant_id, identities)
    if vault is not None:
        pulumi.export("keyVault", vault.summary())
    zone = settings.landing_zone
    endpoints = private_endpoints_for(
        zone.private_endpoints if zone is not None else None,
        (settings.automation, automation) if settings.automation is not None and automation is not None else None,
        (settings.key_vault, vault) if settings.key_vault is not None and vault is not None else None,
    )
    if endpoints is not None:
        pulumi.export("privateEndpoints", endpoints.endpoint_ids)


# The one SDK workaround the real engine's figures keep (docs/benchmarks.md, "SDK workarounds under the real engine").
tune_collector_for_evaluation()
main()

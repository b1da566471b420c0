"""exo-automation: read and validate config, wire the components, export what admins paste."""

from __future__ import annotations

import os

import pulumi

from components.app_certificate import CertificateSpec
from components.app_identity import ExchangeAppIdentity, ExchangeAppIdentityArgs
from components.settings import CONFIG_KEYS, StackSettings, parse_settings
from components.tenant import lookup_tenant


def read_settings() -> StackSettings:
    config = pulumi.Config()
    raw = {key: config.get(key) for key in CONFIG_KEYS}
    # Follow the azuread provider's cloud: its `environment` setting, else the ARM_ENVIRONMENT variable it reads too.
    azuread_environment = pulumi.Config("azuread").get("environment") or os.environ.get("ARM_ENVIRONMENT")
    return parse_settings(raw, pulumi.get_stack(), azuread_environment)


def main() -> None:
    settings = read_settings()
    tenant = lookup_tenant(settings.cloud, settings.organization)
    owners = pulumi.Output.all(tenant.deployer_object_id, *settings.additional_owners).apply(lambda ids: sorted(set(ids), key=ids.index))

    identities = {
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

    pulumi.export("organization", tenant.organization)
    pulumi.export("tenantId", tenant.tenant_id)
    pulumi.export("identities", {name: identity.summary() for name, identity in identities.items()})
    pulumi.export("privateKeys", pulumi.Output.secret({name: i.private_key_pem for name, i in identities.items()}))


main()

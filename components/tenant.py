"""Look-ups of what the tenant already has. Nothing here is a resource: Microsoft's objects are read, never managed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_azuread as azuread

from exo import facts


class TenantError(pulumi.RunError):
    """The tenant lacks something the program needs; the message says what and how to fix it."""


@dataclass(frozen=True)
class ExchangeServicePrincipal:
    """The tenant's own service principal of Office 365 Exchange Online and the verified Exchange.ManageAsApp role on it."""

    object_id: pulumi.Output[str]
    manage_as_app_role_id: pulumi.Output[str]


@dataclass(frozen=True)
class Tenant:
    """Facts about the tenant the stack deploys into."""

    tenant_id: pulumi.Output[str]
    deployer_object_id: pulumi.Output[str]
    organization: pulumi.Output[str]
    exchange: ExchangeServicePrincipal


def _require_exchange_present(service_principals: Sequence[Any]) -> str:
    if not service_principals:
        raise TenantError(
            f"the tenant has no service principal for Office 365 Exchange Online (app id {facts.EXCHANGE_ONLINE_APP_ID}): "
            "it has no Exchange Online subscription, or the deploying identity cannot read service principals "
            "(it needs Application.Read.All or a directory role that can read applications)"
        )
    return facts.EXCHANGE_ONLINE_APP_ID


def _verified_manage_as_app_role(app_roles: Sequence[Any]) -> str:
    # Pin the well-known id and check its value: look-alike roles (Exchange.ManageAsAppV2, ...) exist on the same SP.
    for role in app_roles:
        if role.id == facts.MANAGE_AS_APP_ROLE_ID:
            if role.value != facts.MANAGE_AS_APP_ROLE_VALUE or "Application" not in (role.allowed_member_types or []):
                raise TenantError(
                    f"app role {facts.MANAGE_AS_APP_ROLE_ID} on Office 365 Exchange Online is {role.value!r} for "
                    f"{role.allowed_member_types}, not the application permission {facts.MANAGE_AS_APP_ROLE_VALUE}; refusing to grant it"
                )
            return role.id
    raise TenantError(
        f"Office 365 Exchange Online in this tenant has no app role {facts.MANAGE_AS_APP_ROLE_ID} "
        f"({facts.MANAGE_AS_APP_ROLE_VALUE}); app-only Exchange PowerShell is not available here"
    )


def lookup_exchange_service_principal(opts: pulumi.InvokeOutputOptions | None = None) -> ExchangeServicePrincipal:
    """Find the tenant's Exchange Online SP (object id differs per tenant) and the ManageAsApp role, with clear errors."""
    present = azuread.get_service_principals_output(
        client_ids=[facts.EXCHANGE_ONLINE_APP_ID], ignore_missing=True, opts=opts
    ).service_principals.apply(_require_exchange_present)
    exchange = azuread.get_service_principal_output(client_id=present, opts=opts)
    return ExchangeServicePrincipal(
        object_id=exchange.object_id,
        manage_as_app_role_id=exchange.app_roles.apply(_verified_manage_as_app_role),
    )


def _single_initial_domain(domains: Sequence[Any], cloud: facts.CloudEnvironment) -> str:
    names = [d.domain_name.lower() for d in domains if d.initial]
    if len(names) != 1:
        raise TenantError(
            f"expected exactly one initial domain in the tenant, found {names or 'none'}; set exo-automation:organization "
            f"to the tenant's <name>{cloud.initial_domain_suffixes[0]} domain"
        )
    return names[0]


def lookup_tenant(cloud: facts.CloudEnvironment, organization: str | None, opts: pulumi.InvokeOutputOptions | None = None) -> Tenant:
    """Read the deployer, the tenant id, the organization (initial domain unless given) and the Exchange SP."""
    client = azuread.get_client_config_output(opts=opts)
    resolved_organization = (
        pulumi.Output.from_input(organization)
        if organization is not None
        else azuread.get_domains_output(only_initial=True, opts=opts).domains.apply(lambda domains: _single_initial_domain(domains, cloud))
    )
    return Tenant(
        tenant_id=client.tenant_id,
        deployer_object_id=client.object_id,
        organization=resolved_organization,
        exchange=lookup_exchange_service_principal(opts),
    )

"""Private endpoints for the Automation account and the certificate vault in a Corp landing zone's subnet.

With public network access off, hybrid runbook workers reach the account (its job runtime data service) and hosts reach the vault
only through private endpoints (azure-docs articles/automation/how-to/private-link-security.md; target sub-resources Webhook and
DSCAndHybridWorker for Automation, vault for Key Vault). The private DNS records are not declared here: in a Corp landing zone ALZ's
Deploy-Private-DNS-Zones assignment adds each endpoint's DNS zone group (privatelink.azure-automation.net,
privatelink.vaultcore.azure.net) itself, and a zone group declared here as well would be the same record twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pulumi

from exo.specs import AutomationSpec, CertificateVaultSpec, PrivateEndpointSpec

if TYPE_CHECKING:
    from components.automation import ExchangeAutomation
    from components.certificate_vault import CertificateVault

# Target sub-resources (private-link-security.md: "Select Webhook or DSCAndHybridWorker"); Key Vault's is "vault".
AUTOMATION_GROUP_IDS = ("Webhook", "DSCAndHybridWorker")
KEY_VAULT_GROUP_ID = "vault"
# Short name parts: an endpoint's name is pe-<target>-<part>; with a 50-character account name it stays within 64 characters.
GROUP_NAME_PARTS = {"Webhook": "webhook", "DSCAndHybridWorker": "hybrid", "vault": "vault"}


@dataclass(frozen=True)
class EndpointTarget:
    """One resource and one of its sub-resources to reach privately."""

    target_name: str
    """The target resource's name (the endpoint is named after it)."""
    resource_group_name: pulumi.Input[str]
    """Where the endpoint is created: the target's resource group."""
    resource_id: pulumi.Input[str]
    group_id: str


def endpoint_name(target_name: str, group_id: str) -> str:
    return f"pe-{target_name}-{GROUP_NAME_PARTS[group_id]}"


@dataclass
class PrivateEndpointsArgs:
    subnet_id: str
    """The landing zone's subnet the endpoints take their addresses from."""
    location: str
    """The subnet's virtual network's region."""
    targets: Sequence[EndpointTarget]
    tags: Mapping[str, str] = field(default_factory=dict)


class PrivateEndpoints(pulumi.ComponentResource):
    """One private endpoint per target sub-resource, auto-approved (the deployer holds the targets)."""

    endpoint_ids: pulumi.Output[dict[str, str]]
    """Endpoint name -> ARM id."""

    def __init__(self, name: str, args: PrivateEndpointsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("exo-automation:index:PrivateEndpoints", name, None, opts)
        # Imported here: only a Corp stack with endpoints needs the network module.
        from pulumi_azure_native import network

        ids: dict[str, pulumi.Output[str]] = {}
        for target in args.targets:
            endpoint = endpoint_name(target.target_name, target.group_id)
            created = network.PrivateEndpoint(
                f"{name}-{endpoint}",
                private_endpoint_name=endpoint,
                resource_group_name=target.resource_group_name,
                location=args.location,
                # A plain reference: SubnetArgs would add its defaults for the subnet's network policies, which Azure does not
                # return for an endpoint's subnet, and every refresh would show a change (pulumi/pulumi-azure-native #1845).
                subnet={"id": args.subnet_id},
                private_link_service_connections=[
                    network.PrivateLinkServiceConnectionArgs(
                        name=endpoint, private_link_service_id=target.resource_id, group_ids=[target.group_id]
                    )
                ],
                tags=dict(args.tags),
                # Azure refuses to move an endpoint to another subnet (CannotChangeSubnetOnExistingPrivateEndpoint,
                # pulumi/pulumi-azure-native #3883): a new subnet is a new endpoint.
                opts=pulumi.ResourceOptions(parent=self, replace_on_changes=["subnet"], delete_before_replace=True),
            )
            ids[endpoint] = created.id
        self.endpoint_ids = pulumi.Output.all(**ids).apply(lambda found: dict(found))
        # Registering outputs marks the component complete, so a preview shows its children under it.
        self.register_outputs({"endpointIds": self.endpoint_ids})


def private_endpoints_for(
    spec: PrivateEndpointSpec | None,
    automation: tuple[AutomationSpec, ExchangeAutomation] | None,
    vault: tuple[CertificateVaultSpec, CertificateVault] | None,
) -> PrivateEndpoints | None:
    """Corp with privateEndpoints: one endpoint per sub-resource of the Automation account and of the vault, in the given subnet."""
    if spec is None:
        return None
    targets: list[EndpointTarget] = []
    location = spec.location
    tags: dict[str, str] = {}
    if automation is not None:
        automation_spec, account = automation[0], automation[1].account
        targets += [
            EndpointTarget(automation_spec.account_name, account.resource_group_name, account.account_id, group)
            for group in AUTOMATION_GROUP_IDS
        ]
        location = location or automation_spec.location
        tags = dict(automation_spec.tags)
    if vault is not None:
        vault_spec, certificate_vault = vault
        targets.append(EndpointTarget(vault_spec.name, vault_spec.resource_group_name, certificate_vault.vault_id, KEY_VAULT_GROUP_ID))
        location = location or vault_spec.location
        tags = tags or dict(vault_spec.tags)
    if location is None:  # settings refuse this stack first (landingZone.privateEndpoints.location)
        raise pulumi.RunError("private endpoints need the region of their virtual network")
    return PrivateEndpoints(
        "private-endpoints", PrivateEndpointsArgs(subnet_id=spec.subnet_id, location=location, targets=targets, tags=tags)
    )

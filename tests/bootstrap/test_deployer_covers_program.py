"""The deployer's custom role against what the main program registers: every Azure resource type the program can create needs an
action the role grants (bootstrap_permissions.PROGRAM_RESOURCE_ACTIONS), or a documented reason the pipeline's deployer does not
create it (NOT_GRANTED_TO_THE_DEPLOYER). A new resource type without a permission fails here, not at the tenant's first deploy."""

from __future__ import annotations

import asyncio
import re
from functools import cache

import pulumi
import pulumi_azure_native
import pytest
from bootstrap_permissions import (
    DEPLOYER_SUBNET_ACTIONS,
    DEPLOYER_WORKLOAD_ACTIONS,
    NOT_GRANTED_TO_THE_DEPLOYER,
    PROGRAM_RESOURCE_ACTIONS,
)
from bootstrap_settings import BootstrapConfigError, check_main_stack_subnet, parse_settings

from tests.fixtures import automation_stack, hybrid_worker_stack, key_vault_stack, monitoring_stack, runtime_stack
from tests.harness import REPO, evaluate
from tests.mock_tenant import MockTenant
from tests.program.test_landing_zone import CORP_WITH_ENDPOINTS, SUBNET, with_landing_zone
from tests.program.test_registered_urns import READER, configs


def grants(actions: object, action: str) -> bool:
    """Azure RBAC matching: case-insensitive, `*` matches any characters (Azure custom roles, "Actions")."""
    return any(re.fullmatch(re.escape(a).replace(r"\*", ".*"), action, re.IGNORECASE) for a in actions)  # type: ignore[union-attr]


@cache
def registered_types() -> frozenset[str]:
    """Azure resource types the whole program registers across the recorded stacks, with monitoring and a Corp landing zone."""
    stacks = {
        **configs(),
        "monitoring": monitoring_stack(),
        "runtime": runtime_stack("PowerShell-7.4"),
        "hybrid": hybrid_worker_stack(),
        "corp": with_landing_zone({**automation_stack(), **key_vault_stack()}, CORP_WITH_ENDPOINTS),
    }

    async def collect() -> set[str]:
        found: set[str] = set()
        for config in stacks.values():
            tenant = MockTenant(existing_resource_groups={"rg-exo-hosts": "westeurope"})
            tenant.add_principal(READER)
            deployment = await evaluate(tenant, preview=True, config=config)
            found |= {r.type for r in deployment.registrations if r.type.startswith("azure-native:")}
        return found

    return frozenset(asyncio.run(collect()))


def declared_types() -> set[str]:
    """Azure resource classes the components construct (`<module>.<Class>(`), found in the source: covers configs no test runs."""
    found: set[str] = set()
    for path in sorted((REPO / "components").glob("*.py")):
        for module, name in re.findall(r"\b(?:azure_native\.)?([a-z]+)\.([A-Z][A-Za-z]+)\(", path.read_text()):
            cls = getattr(getattr(pulumi_azure_native, module, None), name, None)
            if isinstance(cls, type) and issubclass(cls, pulumi.CustomResource):
                found.add(f"azure-native:{module}:{name}")
    return found


def test_every_registered_azure_type_is_granted_or_declined_with_a_reason() -> None:
    types = registered_types() | declared_types()
    assert {"azure-native:monitor:ScheduledQueryRule", "azure-native:network:PrivateEndpoint"} <= types, "the scan found the program"
    unknown = sorted(types - set(PROGRAM_RESOURCE_ACTIONS) - set(NOT_GRANTED_TO_THE_DEPLOYER))
    assert unknown == [], f"add each to bootstrap_permissions.PROGRAM_RESOURCE_ACTIONS (and the deployer's role): {unknown}"
    for typ in sorted(types & set(PROGRAM_RESOURCE_ACTIONS)):
        assert grants(DEPLOYER_WORKLOAD_ACTIONS, PROGRAM_RESOURCE_ACTIONS[typ]), f"{typ}: {PROGRAM_RESOURCE_ACTIONS[typ]} not granted"
    assert not set(PROGRAM_RESOURCE_ACTIONS) & set(NOT_GRANTED_TO_THE_DEPLOYER)


def test_nothing_declined_is_granted_by_accident() -> None:
    declined_actions = {
        "azure-native:resources:ResourceGroup": "Microsoft.Resources/subscriptions/resourceGroups/write",
        "azure-native:keyvault:Vault": "Microsoft.KeyVault/vaults/write",
        "azure-native:keyvault:Secret": "Microsoft.KeyVault/vaults/secrets/write",
        "azure-native:authorization:RoleAssignment": "Microsoft.Authorization/roleAssignments/write",
    }
    assert set(declined_actions) == set(NOT_GRANTED_TO_THE_DEPLOYER)
    for typ, action in declined_actions.items():
        assert not grants(DEPLOYER_WORKLOAD_ACTIONS, action), typ
    # The subnet join is granted at the landing zone subnet only, never on the workload group.
    assert not grants(DEPLOYER_WORKLOAD_ACTIONS, "Microsoft.Network/virtualNetworks/subnets/join/action")
    assert grants(DEPLOYER_SUBNET_ACTIONS, "Microsoft.Network/virtualNetworks/subnets/join/action")


VALID = {
    "githubRepository": "contoso-msp/exo-automation",
    "deployEnvironments": ["exo-contoso"],
    "location": "westeurope",
    "stateStorageAccount": "contosoexostate",
    "keyVault": "contoso-exo-pulumi",
}


def test_a_main_stack_with_private_endpoints_needs_the_bootstrap_to_know_its_subnet() -> None:
    main_stack = {"config": {"exo-automation:landingZone": CORP_WITH_ENDPOINTS}}
    without = parse_settings(VALID.get, "contoso")
    with pytest.raises(BootstrapConfigError) as error:
        check_main_stack_subnet(without, main_stack)
    assert error.value.key == "privateEndpointSubnetId" and "Pulumi.contoso.yaml declares private endpoints" in str(error.value)
    told = parse_settings({**VALID, "privateEndpointSubnetId": SUBNET}.get, "contoso")
    check_main_stack_subnet(told, main_stack)
    check_main_stack_subnet(without, {"config": {"exo-automation:landingZone": {"archetype": "corp"}}})
    check_main_stack_subnet(without, None)
    with pytest.raises(BootstrapConfigError, match="privateEndpointSubnetId is '/subscriptions/x'"):
        parse_settings({**VALID, "privateEndpointSubnetId": "/subscriptions/x"}.get, "contoso")

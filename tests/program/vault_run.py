"""Run the whole program (`__main__.py`, the same harness as every program test) with two identities and a Key Vault against a
MockTenant: the fixed inputs the vault tests share."""

from __future__ import annotations

from typing import Any

from tests.harness import Deployment, evaluate
from tests.mock_tenant import MockTenant

READERS = ["0d3f6a2e-5b1c-4c8e-9f7a-1b2c3d4e5f60", "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"]
IDENTITIES = ("reports", "provisioning")
IDENTITIES_CONFIG: dict[str, Any] = {
    "identities": [{"name": "reports", "roles": ["Global Reader"]}, {"name": "provisioning", "roles": ["Exchange Recipient Administrator"]}]
}
VAULT_CONFIG: dict[str, Any] = {
    "keyVault": {"enabled": True, "name": "kv-exo-contoso", "resourceGroupName": "rg-exo-automation", "readers": READERS}
}
VAULT_TYPES = ("azure-native:keyvault:Vault", "azure-native:keyvault:Secret", "azure-native:authorization:RoleAssignment")


def tenant_with_readers(*, groups: dict[str, str] | None = None) -> MockTenant:
    tenant = MockTenant(existing_resource_groups={"rg-exo-automation": "westeurope"} if groups is None else groups)
    for reader in READERS:
        tenant.add_principal(reader)
    return tenant


async def deploy(tenant: MockTenant, *, preview: bool = False, config: dict[str, Any] | None = None) -> Deployment:
    """The program with the two identities and `config` (default: the vault) on top."""
    return await evaluate(tenant, preview=preview, config={**IDENTITIES_CONFIG, **(VAULT_CONFIG if config is None else config)})

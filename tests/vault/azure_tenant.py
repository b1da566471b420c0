"""The mock tenant with an Azure subscription: it answers azure-native resource groups, vaults, secrets and role assignments the way
Azure Resource Manager would, and refuses what ARM would refuse.

Kept beside the vault tests (a subclass, not an edit of tests/mock_tenant.py). What it models, each from Microsoft's documentation:
- ids are ARM ids under this tenant's subscription; a vault's URI is https://<name>.vault.azure.net/;
- a secret's value is write-only on the management API (it never comes back in the outputs) and is at most 25k bytes;
- vault names are global: a second vault with the same name in another resource group is refused;
- purge protection, once on, cannot be turned off; soft delete cannot be turned off;
- a role assignment names a role definition of this subscription, a principal that exists, a scope that exists, and a GUID name
  that no other assignment in the tenant uses.
"""

from __future__ import annotations

import uuid
from typing import Any

from pulumi.runtime.mocks import MockResourceArgs

from tests.mock_tenant import MockTenant, TenantError

RESOURCE_GROUP = "azure-native:resources:ResourceGroup"
VAULT = "azure-native:keyvault:Vault"
SECRET = "azure-native:keyvault:Secret"
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"

SECRET_MAX_BYTES = 25 * 1024
KNOWN_ROLE_DEFINITION_IDS = {
    "4633458b-17de-408a-b874-0445c86b69e6",  # Key Vault Secrets User
    "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",  # Key Vault Secrets Officer
    "21090545-7ca7-4776-b22c-e363652d74d2",  # Key Vault Reader
    "00482a5a-887f-4fb3-b363-3b7fe8e74483",  # Key Vault Administrator
}


class AzureTenant(MockTenant):
    """A MockTenant with one Azure subscription and the resource groups that already exist in it."""

    def __init__(self, *, existing_resource_groups: dict[str, str] | None = None, seed: int | None = None) -> None:
        super().__init__(seed=seed)
        self.subscription_id = self._uuid()
        self.resource_groups: dict[str, str] = {name.lower(): location for name, location in (existing_resource_groups or {}).items()}
        self.vaults: dict[str, str] = {}  # vault name (lower) -> resource id
        self.resource_ids: set[str] = set()
        self.role_assignment_names: dict[str, str] = {}  # GUID -> scope
        self._type = ""

    def new_resource(self, args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
        # The base class keeps state and preview behaviour and sends unknown types to _generic; remember the type for it.
        self._type = args.typ
        return super().new_resource(args)

    def _generic(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        handler = {
            RESOURCE_GROUP: self._resource_group,
            VAULT: self._vault,
            SECRET: self._secret,
            ROLE_ASSIGNMENT: self._role_assignment,
        }.get(self._type)
        if handler is None:
            return super()._generic(name, inputs)
        resource_id, outputs = handler(inputs)
        self.resource_ids.add(resource_id.lower())
        return resource_id, outputs

    def _group_id(self, resource_group: str) -> str:
        return f"/subscriptions/{self.subscription_id}/resourceGroups/{resource_group}"

    def _resource_group(self, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        name, location = inputs.get("resourceGroupName"), inputs.get("location")
        if not name or not location:
            raise TenantError(f"ResourceGroup: name and location are required, got {inputs}")
        self.resource_groups[str(name).lower()] = str(location)
        return self._group_id(str(name)), {**inputs, "name": name, "type": "Microsoft.Resources/resourceGroups"}

    def _vault(self, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        group, name = str(inputs.get("resourceGroupName", "")), str(inputs.get("vaultName", ""))
        if group.lower() not in self.resource_groups:
            raise TenantError(f"Vault: resource group {group!r} could not be found")
        resource_id = f"{self._group_id(group)}/providers/Microsoft.KeyVault/vaults/{name}"
        taken = self.vaults.get(name.lower())
        if taken is not None and taken != resource_id:
            raise TenantError(f"Vault: VaultAlreadyExists: the vault name {name!r} is already in use")
        properties = dict(inputs.get("properties", {}))
        prior = next((s for (t, _), s in self.state.items() if t == VAULT and s.id == resource_id), None)
        if prior is not None:
            before = prior.inputs.get("properties", {})
            if before.get("enablePurgeProtection") and not properties.get("enablePurgeProtection"):
                raise TenantError("Vault: purge protection cannot be disabled once enabled")
            if before.get("enableSoftDelete", True) and properties.get("enableSoftDelete") is False:
                raise TenantError("Vault: soft delete cannot be disabled once enabled")
        self.vaults[name.lower()] = resource_id
        return resource_id, {
            **inputs,
            "name": name,
            "location": inputs.get("location") or self.resource_groups[group.lower()],
            "type": "Microsoft.KeyVault/vaults",
            "properties": {**properties, "vaultUri": f"https://{name.lower()}.vault.azure.net/", "provisioningState": "Succeeded"},
        }

    def _secret(self, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        group, vault, name = (str(inputs.get(k, "")) for k in ("resourceGroupName", "vaultName", "secretName"))
        vault_id = f"{self._group_id(group)}/providers/Microsoft.KeyVault/vaults/{vault}"
        if self.vaults.get(vault.lower()) != vault_id:
            raise TenantError(f"Secret: vault {vault!r} does not exist in resource group {group!r}")
        properties = dict(inputs.get("properties", {}))
        value = str(properties.get("value", ""))
        if len(value.encode("utf-8")) > SECRET_MAX_BYTES:
            raise TenantError(f"Secret: the value is {len(value.encode())} bytes; Key Vault takes at most {SECRET_MAX_BYTES}")
        version = uuid.UUID(int=self.random.getrandbits(128)).hex
        uri = f"https://{vault.lower()}.vault.azure.net/secrets/{name}"
        # The management API never returns the value: it is write-only there.
        shown = {k: v for k, v in properties.items() if k != "value"}
        return f"{vault_id}/secrets/{name}", {
            **{k: v for k, v in inputs.items() if k != "properties"},
            "name": name,
            "type": "Microsoft.KeyVault/vaults/secrets",
            "properties": {**shown, "secretUri": uri, "secretUriWithVersion": f"{uri}/{version}"},
        }

    def _role_assignment(self, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        scope, principal = str(inputs.get("scope", "")), str(inputs.get("principalId", ""))
        definition, name = str(inputs.get("roleDefinitionId", "")), str(inputs.get("roleAssignmentName", ""))
        if scope.lower() not in self.resource_ids:
            raise TenantError(f"RoleAssignment: scope {scope!r} is not a resource in this subscription")
        if principal not in self.service_principals:
            raise TenantError(f"RoleAssignment: PrincipalNotFound: principal {principal!r} does not exist in the directory")
        prefix = f"/subscriptions/{self.subscription_id}/providers/Microsoft.Authorization/roleDefinitions/"
        if not definition.startswith(prefix) or definition[len(prefix) :] not in KNOWN_ROLE_DEFINITION_IDS:
            raise TenantError(f"RoleAssignment: role definition {definition!r} does not exist in this subscription")
        try:
            uuid.UUID(name)
        except ValueError:
            raise TenantError(f"RoleAssignment: the name {name!r} is not a GUID") from None
        used = self.role_assignment_names.get(name)
        if used is not None and used != scope:
            raise TenantError(f"RoleAssignment: RoleAssignmentExists: the name {name} is already used at {used}")
        self.role_assignment_names[name] = scope
        return f"{scope}/providers/Microsoft.Authorization/roleAssignments/{name}", {
            **inputs,
            "name": name,
            "type": "Microsoft.Authorization/roleAssignments",
        }

"""The Key Vault option (`exo-automation:keyVault`), parsed and validated before any resource is registered.

Off by default: an absent key, or `enabled: false`, gives None. Every problem is one `ConfigError` naming the full key path, for
example `exo-automation:keyVault.readers[1]`.
"""

from __future__ import annotations

import uuid
from types import MappingProxyType
from typing import Any

from exo.specs import CertificateVaultSpec, VaultReader
from settings.values import (
    PROJECT,
    ConfigError,
    bounded_int,
    expect,
    optional,
    parse_azure_name,
    parse_location,
    parse_resource_group_name,
    parse_tags,
    reject_unknown_keys,
    with_program_tags,
)

CONFIG_KEY = "keyVault"
"""Bare config key (namespace exo-automation)."""

# Key Vault names: the rules in facts.AZURE_INPUT_RULES (3-24 letters, digits and hyphens, a letter first, a letter or digit last,
# no '--'). Names are global (they are DNS names): the config must choose one, there is no safe default.
_VAULT_NAME_USES = (("azure-native:keyvault:Vault", "vaultName"), ("azure-native:keyvault:Secret", "vaultName"))
# The same tags go on the vault and on its secrets: Key Vault secrets take at most 15 tags
# (MicrosoftDocs/azure-docs articles/key-vault/secrets/about-secrets.md, "Secret tags").
_TAG_LIMIT = 15

SOFT_DELETE_RETENTION_RANGE = (7, 90)
"""Days a deleted vault or secret stays recoverable; Key Vault accepts 7 to 90."""
DEFAULT_SOFT_DELETE_RETENTION_DAYS = 90

_FIELDS = (
    "enabled",
    "name",
    "resourceGroupName",
    "createResourceGroup",
    "location",
    "readers",
    "publicNetworkAccess",
    "softDeleteRetentionDays",
    "tags",
)


# Principal types a role assignment may state (PrincipalType enum of Microsoft.Authorization 2022-04-01, in facts.AZURE_INPUT_RULES).
PRINCIPAL_TYPES = ("User", "Group", "ServicePrincipal", "ForeignGroup")
_READER_FIELDS = ("objectId", "type")


_DEFAULT_TAG_NAMES = ("managed-by", "pulumi-stack")


def default_tags(stack: str) -> dict[str, str]:
    """Tags every vault resource carries, so that an owner finds the stack that manages it (they win over configured tags)."""
    return dict(zip(_DEFAULT_TAG_NAMES, (PROJECT, stack), strict=True))


def _parse_name(key: str, value: Any) -> str:
    return parse_azure_name(
        key,
        value,
        _VAULT_NAME_USES,
        "Key Vault name",
        "3 to 24 letters, digits and hyphens, starting with a letter, ending with a letter or digit, no '--'; "
        "it must also be unique across Azure",
    )


def _parse_reader(key: str, item: Any) -> VaultReader:
    if isinstance(item, dict):
        reject_unknown_keys(key, item, _READER_FIELDS)
        if "objectId" not in item:
            raise ConfigError(f"{key}.objectId", "is required (the principal's object id)")
        object_id = _parse_object_id(f"{key}.objectId", item["objectId"])
        if "type" not in item:
            raise ConfigError(f"{key}.type", f"is required in the object form: one of {', '.join(PRINCIPAL_TYPES)}")
        given = expect(f"{key}.type", item["type"], str, "a principal type")
        principal_type = next((t for t in PRINCIPAL_TYPES if t.lower() == given.lower()), None)
        if principal_type is None:
            raise ConfigError(f"{key}.type", f"{given!r} is not one of {', '.join(PRINCIPAL_TYPES)}")
        return VaultReader(object_id, principal_type)
    return VaultReader(_parse_object_id(key, item))


def _parse_object_id(key: str, value: Any) -> str:
    text = expect(key, value, str, "a principal object id (GUID), or {objectId, type}")
    try:
        object_id = str(uuid.UUID(text.strip()))
    except ValueError:
        raise ConfigError(key, f"{text!r} is not an object id (GUID)") from None
    if object_id == str(uuid.UUID(int=0)):
        raise ConfigError(key, "the all-zero GUID is not a principal")
    return object_id


def _parse_readers(key: str, value: Any) -> tuple[VaultReader, ...]:
    items = expect(key, value, list, "a list of principal object ids")
    if not items:
        raise ConfigError(
            key,
            "must list at least one principal object id (a hybrid worker's or Arc-enabled server's managed identity, a user or a "
            "group): nobody else is granted read access, so an empty list makes the vault useless",
        )
    readers: list[VaultReader] = []
    for index, item in enumerate(items):
        item_key = f"{key}[{index}]"
        reader = _parse_reader(item_key, item)
        listed = [r.object_id for r in readers]
        if reader.object_id in listed:
            raise ConfigError(item_key, f"{reader.object_id} is already listed at {key}[{listed.index(reader.object_id)}]")
        readers.append(reader)
    return tuple(readers)


def parse_key_vault(key: str, raw: object, *, stack: str) -> CertificateVaultSpec | None:
    """Validate the JSON-parsed value of `exo-automation:keyVault` (`key` is that full key); None when the option is off.

    Same shape as parse_automation and parse_exchange_rbac: the full config key first, then the value, then keyword context."""
    if raw is None:
        return None
    mapping = expect(key, raw, dict, "an object with at least enabled, name, resourceGroupName and readers")
    reject_unknown_keys(key, mapping, _FIELDS)
    if "enabled" not in mapping:
        raise ConfigError(f"{key}.enabled", "is required: true to declare the vault, false to keep the settings without it")
    if not expect(f"{key}.enabled", mapping["enabled"], bool, "true or false"):
        return None
    for required in ("name", "resourceGroupName", "readers"):
        if mapping.get(required) is None:
            raise ConfigError(f"{key}.{required}", "is required when the vault is enabled")

    create_resource_group = optional(
        mapping, "createResourceGroup", False, lambda v: expect(f"{key}.createResourceGroup", v, bool, "true or false")
    )
    location = optional(mapping, "location", None, lambda v: parse_location(f"{key}.location", v))
    if create_resource_group and location is None:
        raise ConfigError(f"{key}.location", "is required when createResourceGroup is true (the region of the new resource group)")
    tags = with_program_tags(
        optional(mapping, "tags", {}, lambda v: parse_tags(f"{key}.tags", v, _DEFAULT_TAG_NAMES, _TAG_LIMIT)), default_tags(stack)
    )
    return CertificateVaultSpec(
        name=_parse_name(f"{key}.name", mapping["name"]),
        resource_group_name=parse_resource_group_name(f"{key}.resourceGroupName", mapping["resourceGroupName"]),
        create_resource_group=create_resource_group,
        location=location,
        readers=_parse_readers(f"{key}.readers", mapping["readers"]),
        public_network_access=optional(
            mapping, "publicNetworkAccess", True, lambda v: expect(f"{key}.publicNetworkAccess", v, bool, "true or false")
        ),
        tags=MappingProxyType(tags),
        soft_delete_retention_days=optional(
            mapping,
            "softDeleteRetentionDays",
            DEFAULT_SOFT_DELETE_RETENTION_DAYS,
            lambda v: bounded_int(f"{key}.softDeleteRetentionDays", v, *SOFT_DELETE_RETENTION_RANGE),
        ),
    )

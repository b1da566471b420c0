"""The Key Vault option (`exo-automation:keyVault`), parsed and validated before any resource is registered.

Off by default: an absent key, or `enabled: false`, gives None. Every problem is one `ConfigError` naming the full key path, for
example `exo-automation:keyVault.readers[1]`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

# Private helpers of settings.py, imported rather than copied so that every config key reports problems the same way.
from components.settings import (
    PROJECT,
    ConfigError,
    _bounded_int,  # pyright: ignore[reportPrivateUsage]
    _expect,  # pyright: ignore[reportPrivateUsage]
    _optional,  # pyright: ignore[reportPrivateUsage]
    _parse_json,  # pyright: ignore[reportPrivateUsage]
    _reject_unknown_keys,  # pyright: ignore[reportPrivateUsage]
)

CONFIG_KEY = "keyVault"
"""Bare config key (namespace exo-automation)."""
CONFIG_KEY_DESCRIPTION = "Azure Key Vault that holds each identity's certificate and key for hosts with a managed identity (off by default)"

# Key Vault names: 3-24 characters, letters, digits and hyphens, no consecutive hyphens (MicrosoftDocs/azure-docs
# articles/key-vault/general/about-keys-secrets-certificates.md, "Object identifiers"); the resource naming rules add: start with a
# letter, end with a letter or digit. Names are global (they are DNS names): the config must choose one, there is no safe default.
_VAULT_NAME = re.compile(r"^[A-Za-z](?!.*--)[A-Za-z0-9-]{1,22}[A-Za-z0-9]$")
# Resource group names: 1-90 characters, letters, digits, underscores, hyphens, periods and parentheses, not ending in a period
# (Azure resource naming rules, Microsoft.Resources/resourcegroups; Unicode letters are allowed there but kept out here).
_RESOURCE_GROUP_NAME = re.compile(r"^[A-Za-z0-9_().-]{1,90}$")
# Region names as ARM spells them: westeurope, eastus2, usgovvirginia. "West Europe" is normalised to that form.
_LOCATION = re.compile(r"^[a-z][a-z0-9]{2,39}$")
# The same tags go on the vault and on its secrets. Key Vault secrets take at most 15 tags of 256-character names and values
# (MicrosoftDocs/azure-docs articles/key-vault/secrets/about-secrets.md, "Secret tags"); ARM tag names exclude < > % & \ ? /.
_TAG_LIMIT = 15
_TAG_NAME_MAX = 128
_TAG_VALUE_MAX = 256
_TAG_NAME_FORBIDDEN = set("<>%&\\?/")

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


@dataclass(frozen=True)
class KeyVaultSettings:
    """Where the certificate vault lives and who may read the certificates in it."""

    enabled: bool
    name: str
    """Vault name: globally unique, part of https://<name>.vault.azure.net."""
    resource_group_name: str
    create_resource_group: bool
    """Declare the resource group too; otherwise it must exist already."""
    location: str | None
    """Region; None places the vault in its (existing) resource group's region."""
    readers: tuple[str, ...]
    """Object ids of the principals (managed identities of hybrid workers, Arc-enabled servers) that may read the certificates."""
    public_network_access: bool
    """False blocks everything but private endpoints and trusted services: hosts then need a private endpoint."""
    tags: Mapping[str, str]
    """Tags for the vault and its secrets (the stack's defaults first, then the configured ones)."""
    soft_delete_retention_days: int = DEFAULT_SOFT_DELETE_RETENTION_DAYS
    """Days a deleted vault or secret stays recoverable (and, with purge protection, its name stays taken)."""


_DEFAULT_TAG_NAMES = ("managed-by", "pulumi-stack")


def default_tags(stack: str) -> dict[str, str]:
    """Tags every vault resource carries, so that an owner finds the stack that manages it (configured tags may override them)."""
    return dict(zip(_DEFAULT_TAG_NAMES, (PROJECT, stack), strict=True))


def _parse_name(key: str, value: Any) -> str:
    name = _expect(key, value, str, "a Key Vault name")
    if not _VAULT_NAME.fullmatch(name):
        raise ConfigError(
            key,
            f"{name!r} is not a valid Key Vault name: 3 to 24 letters, digits and hyphens, starting with a letter, ending with a "
            "letter or digit, no '--'; it must also be unique across Azure",
        )
    return name


def _parse_resource_group_name(key: str, value: Any) -> str:
    name = _expect(key, value, str, "a resource group name")
    if not _RESOURCE_GROUP_NAME.fullmatch(name) or name.endswith("."):
        raise ConfigError(
            key, f"{name!r} is not a valid resource group name: 1 to 90 letters, digits, '_', '-', '.', '(' or ')', not ending in '.'"
        )
    return name


def _parse_location(key: str, value: Any) -> str:
    text = _expect(key, value, str, "an Azure region such as westeurope")
    location = "".join(text.split()).lower()
    if not _LOCATION.fullmatch(location):
        raise ConfigError(key, f"{text!r} is not an Azure region name (for example westeurope, eastus2)")
    return location


def _parse_readers(key: str, value: Any) -> tuple[str, ...]:
    items = _expect(key, value, list, "a list of principal object ids")
    if not items:
        raise ConfigError(
            key,
            "must list at least one principal object id (a hybrid worker's or Arc-enabled server's managed identity): "
            "nobody else is granted read access, so an empty list makes the vault useless",
        )
    readers: list[str] = []
    for index, item in enumerate(items):
        item_key = f"{key}[{index}]"
        text = _expect(item_key, item, str, "a principal object id (GUID)")
        try:
            reader = str(uuid.UUID(text.strip()))
        except ValueError:
            raise ConfigError(item_key, f"{text!r} is not an object id (GUID)") from None
        if reader == str(uuid.UUID(int=0)):
            raise ConfigError(item_key, "the all-zero GUID is not a principal")
        if reader in readers:
            raise ConfigError(item_key, f"{reader} is already listed at {key}[{readers.index(reader)}]")
        readers.append(reader)
    return tuple(readers)


def _parse_tags(key: str, value: Any) -> dict[str, str]:
    mapping = _expect(key, value, dict, "an object of tag names to string values")
    added = [name for name in _DEFAULT_TAG_NAMES if name not in mapping]
    if len(mapping) + len(added) > _TAG_LIMIT:
        raise ConfigError(
            key, f"has {len(mapping)} tags; Key Vault secrets take at most {_TAG_LIMIT} and the program adds {', '.join(added)}"
        )
    tags: dict[str, str] = {}
    for name, raw in mapping.items():
        item_key = f"{key}.{name}"
        if not name or len(name) > _TAG_NAME_MAX or _TAG_NAME_FORBIDDEN & set(name):
            raise ConfigError(item_key, f"tag names are 1 to {_TAG_NAME_MAX} characters without < > % & \\ ? /")
        text = _expect(item_key, raw, str, "a string (quote numbers and booleans)")
        if len(text) > _TAG_VALUE_MAX:
            raise ConfigError(item_key, f"tag values are at most {_TAG_VALUE_MAX} characters, got {len(text)}")
        tags[name] = text
    return tags


def parse_key_vault_settings(raw: object, key: str, stack: str) -> KeyVaultSettings | None:
    """Validate the JSON-parsed value of `exo-automation:keyVault` (`key` is that full key); None when the option is off."""
    if raw is None:
        return None
    mapping = _expect(key, raw, dict, "an object with at least enabled, name, resourceGroupName and readers")
    _reject_unknown_keys(key, mapping, _FIELDS)
    if "enabled" not in mapping:
        raise ConfigError(f"{key}.enabled", "is required: true to declare the vault, false to keep the settings without it")
    if not _expect(f"{key}.enabled", mapping["enabled"], bool, "true or false"):
        return None
    for required in ("name", "resourceGroupName", "readers"):
        if mapping.get(required) is None:
            raise ConfigError(f"{key}.{required}", "is required when the vault is enabled")

    create_resource_group = _optional(
        mapping, "createResourceGroup", False, lambda v: _expect(f"{key}.createResourceGroup", v, bool, "true or false")
    )
    location = _optional(mapping, "location", None, lambda v: _parse_location(f"{key}.location", v))
    if create_resource_group and location is None:
        raise ConfigError(f"{key}.location", "is required when createResourceGroup is true (the region of the new resource group)")
    tags = {**default_tags(stack), **_optional(mapping, "tags", {}, lambda v: _parse_tags(f"{key}.tags", v))}
    return KeyVaultSettings(
        enabled=True,
        name=_parse_name(f"{key}.name", mapping["name"]),
        resource_group_name=_parse_resource_group_name(f"{key}.resourceGroupName", mapping["resourceGroupName"]),
        create_resource_group=create_resource_group,
        location=location,
        readers=_parse_readers(f"{key}.readers", mapping["readers"]),
        public_network_access=_optional(
            mapping, "publicNetworkAccess", True, lambda v: _expect(f"{key}.publicNetworkAccess", v, bool, "true or false")
        ),
        tags=MappingProxyType(tags),
        soft_delete_retention_days=_optional(
            mapping,
            "softDeleteRetentionDays",
            DEFAULT_SOFT_DELETE_RETENTION_DAYS,
            lambda v: _bounded_int(f"{key}.softDeleteRetentionDays", v, *SOFT_DELETE_RETENTION_RANGE),
        ),
    )


def key_vault_settings_from_config(text: str | None, stack: str) -> KeyVaultSettings | None:
    """`exo-automation:keyVault` as Pulumi hands it to the program (JSON text, or None when unset), validated."""
    key = f"{PROJECT}:{CONFIG_KEY}"
    return parse_key_vault_settings(None if text is None else _parse_json(key, text), key, stack)

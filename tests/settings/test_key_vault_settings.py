"""`exo-automation:keyVault`: every bad value gives one ConfigError that names the full key path, before any resource exists."""

from __future__ import annotations

import json
import unittest
from typing import Any

import pytest

from exo.specs import VaultReader
from settings.key_vault import (
    CertificateVaultSpec,
    default_tags,
    parse_key_vault,
)
from settings.stack import ConfigError, parse_settings
from tests.program.vault_run import READERS, deploy, tenant_with_readers

KEY = "exo-automation:keyVault"
GOOD: dict[str, Any] = {"enabled": True, "name": "kv-exo-contoso", "resourceGroupName": "rg-exo", "readers": READERS}


def parse(raw: object) -> CertificateVaultSpec | None:
    return parse_key_vault(KEY, raw, stack="prod")


def with_(**changes: Any) -> dict[str, Any]:
    return {**GOOD, **changes}


def test_absent_and_disabled_mean_no_vault() -> None:
    assert parse(None) is None
    assert parse({"enabled": False}) is None
    # Disabled keeps a half-written block without complaint, but still refuses typos.
    assert parse({"enabled": False, "name": "x"}) is None


def test_a_minimal_vault() -> None:
    settings = parse(GOOD)
    assert settings == CertificateVaultSpec(
        name="kv-exo-contoso",
        resource_group_name="rg-exo",
        create_resource_group=False,
        location=None,
        readers=tuple(VaultReader(reader) for reader in READERS),
        public_network_access=True,
        tags=default_tags("prod"),
        soft_delete_retention_days=90,
    )
    assert settings is not None
    assert dict(settings.tags) == {"managed-by": "exo-automation", "pulumi-stack": "prod"}


def test_every_field() -> None:
    settings = parse(
        with_(
            createResourceGroup=True,
            location="East US 2",
            readers=[READERS[0].upper()],
            publicNetworkAccess=False,
            softDeleteRetentionDays=7,
            tags={"owner": "messaging", "managed-by": "platform-team"},
        )
    )
    assert settings is not None
    assert settings.create_resource_group is True
    assert settings.location == "eastus2"
    assert settings.readers == (VaultReader(READERS[0]),)  # GUIDs normalised to lowercase, a service principal
    assert settings.public_network_access is False
    assert settings.soft_delete_retention_days == 7
    # One tag policy for the program: its own tags win over configured ones of the same name.
    assert dict(settings.tags) == {"managed-by": "exo-automation", "pulumi-stack": "prod", "owner": "messaging"}


BAD: list[tuple[object, str, str]] = [
    ("kv", KEY, "must be an object"),
    ([GOOD], KEY, "must be an object"),
    (with_(enable=True), KEY, "unknown setting(s) enable"),
    ({"name": "kv-exo"}, f"{KEY}.enabled", "is required"),
    (with_(enabled="yes"), f"{KEY}.enabled", "must be true or false"),
    ({"enabled": True, "resourceGroupName": "rg", "readers": READERS}, f"{KEY}.name", "is required"),
    (with_(name="kv"), f"{KEY}.name", "not a valid Key Vault name"),
    (with_(name="kv-exo-automation-contoso-prod"), f"{KEY}.name", "3 to 24"),
    (with_(name="1kv-exo"), f"{KEY}.name", "starting with a letter"),
    (with_(name="kv--exo"), f"{KEY}.name", "no '--'"),
    (with_(name="kv-exo-"), f"{KEY}.name", "ending with a letter or digit"),
    (with_(name="kv_exo"), f"{KEY}.name", "not a valid Key Vault name"),
    (with_(name=42), f"{KEY}.name", "must be a Key Vault name"),
    (with_(resourceGroupName=None), f"{KEY}.resourceGroupName", "is required"),
    (with_(resourceGroupName="rg exo"), f"{KEY}.resourceGroupName", "not a valid resource group name"),
    (with_(resourceGroupName="rg-exo."), f"{KEY}.resourceGroupName", "not ending in '.'"),
    (with_(createResourceGroup=True), f"{KEY}.location", "required when createResourceGroup"),
    (with_(createResourceGroup="true"), f"{KEY}.createResourceGroup", "must be true or false"),
    (with_(location="west-europe"), f"{KEY}.location", "not an Azure region name"),
    (with_(readers=[]), f"{KEY}.readers", "at least one principal"),
    (with_(readers=READERS[0]), f"{KEY}.readers", "must be a list"),
    (with_(readers=[READERS[0], "not-a-guid"]), f"{KEY}.readers[1]", "not an object id"),
    (with_(readers=[READERS[0], 7]), f"{KEY}.readers[1]", "must be a principal object id"),
    (with_(readers=[READERS[0], READERS[0].upper()]), f"{KEY}.readers[1]", "already listed at exo-automation:keyVault.readers[0]"),
    (with_(readers=["00000000-0000-0000-0000-000000000000"]), f"{KEY}.readers[0]", "all-zero GUID"),
    (with_(publicNetworkAccess="Disabled"), f"{KEY}.publicNetworkAccess", "must be true or false"),
    (with_(softDeleteRetentionDays=3), f"{KEY}.softDeleteRetentionDays", "must be from 7 to 90"),
    (with_(softDeleteRetentionDays=365), f"{KEY}.softDeleteRetentionDays", "must be from 7 to 90"),
    (with_(softDeleteRetentionDays=True), f"{KEY}.softDeleteRetentionDays", "a whole number"),
    (with_(tags=["owner"]), f"{KEY}.tags", "must be an object"),
    (with_(tags={"owner": 7}), f"{KEY}.tags.owner", "must be a string"),
    (with_(tags={"cost/center": "x"}), f"{KEY}.tags.cost/center", "tag names are"),
    (with_(tags={"owner": "x" * 257}), f"{KEY}.tags.owner", "at most 256"),
    (with_(tags={f"t{i}": "x" for i in range(14)}), f"{KEY}.tags", "at most 15"),
]


@pytest.mark.parametrize(("raw", "key", "reason"), BAD, ids=[f"{i}-{key.rsplit(':', 1)[1]}" for i, (_, key, _) in enumerate(BAD)])
def test_bad_value_names_the_key(raw: object, key: str, reason: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(raw)
    assert caught.value.key == key
    assert reason in caught.value.problem
    assert str(caught.value).startswith(f"config {key}: ")


def test_config_text_as_pulumi_hands_it_over() -> None:
    def vault(text: str | None) -> CertificateVaultSpec | None:
        return parse_settings({} if text is None else {"keyVault": text}, "prod", None).key_vault

    assert vault(None) is None
    assert vault('{"enabled": false}') is None
    settings = vault(json.dumps(GOOD))
    assert settings is not None and settings.name == "kv-exo-contoso"
    with pytest.raises(ConfigError) as caught:
        vault("{enabled: true")
    assert caught.value.key == KEY
    assert "not valid JSON" in caught.value.problem


class BadConfigStopsTheProgram(unittest.IsolatedAsyncioTestCase):
    async def test_a_bad_reader_stops_the_program_before_any_resource_is_registered(self) -> None:
        tenant = tenant_with_readers()
        with self.assertRaises(ConfigError) as caught:
            await deploy(tenant, config={"keyVault": with_(readers=[READERS[0], "contoso-worker-01"])})
        self.assertEqual(caught.exception.key, f"{KEY}.readers[1]")
        self.assertEqual(tenant.registrations, [])

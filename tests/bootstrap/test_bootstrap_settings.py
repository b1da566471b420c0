"""Bootstrap configuration: one clear error naming the key, before anything is registered."""

from __future__ import annotations

from typing import Any

import pytest
from bootstrap_settings import BootstrapConfigError, parse_settings

VALID: dict[str, Any] = {
    "githubRepository": "contoso-msp/exo-automation",
    "deployEnvironments": ["exo-contoso"],
    "location": "westeurope",
    "stateStorageAccount": "contosoexostate",
    "keyVault": "contoso-exo-pulumi",
}


def parse(**overrides: Any):
    values = {**VALID, **overrides}
    return parse_settings(values.get, "contoso")


def test_defaults_fill_the_optional_keys() -> None:
    settings = parse()
    assert settings.plan_branch == "main"
    assert settings.preview_environments == ("exo-contoso-preview",)
    assert settings.workload_resource_group == "exo-automation-rg"
    assert settings.pipeline_resource_group == "exo-automation-pipeline-rg"
    assert settings.state_container == "pulumi-state"
    assert settings.secrets_key == "pulumi-secrets"
    assert settings.main_stack == "contoso"


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("githubRepository", None, "exo-bootstrap:githubRepository is required"),
        (
            "githubRepository",
            "just-a-name",
            "exo-bootstrap:githubRepository is 'just-a-name'",
        ),
        (
            "deployEnvironments",
            [],
            "exo-bootstrap:deployEnvironments must be a non-empty list",
        ),
        (
            "deployEnvironments",
            ["ok", "bad name"],
            "invalid GitHub environment name 'bad name'",
        ),
        (
            "stateStorageAccount",
            "Has-Caps",
            "exo-bootstrap:stateStorageAccount is 'Has-Caps'",
        ),
        ("keyVault", "x", "exo-bootstrap:keyVault is 'x'"),
        # The program's Key Vault rules (exo/facts.py), consecutive hyphens included.
        ("keyVault", "kv--exo", "exo-bootstrap:keyVault is 'kv--exo'"),
        ("location", "West Europe", "exo-bootstrap:location is 'West Europe'"),
        ("planPullRequests", True, "exo-bootstrap:planPullRequests is no longer supported"),
        ("previewEnvironments", [], "exo-bootstrap:previewEnvironments must be a non-empty list"),
        ("previewEnvironments", ["bad name"], "invalid GitHub environment name 'bad name'"),
        ("previewEnvironments", ["exo-contoso"], "names 'exo-contoso', which is also a deploy environment"),
        ("previewEnvironments", [f"p{n}" for n in range(20)], "the planner takes at most 19 besides its branch"),
        ("deployEnvironments", [f"d{n}" for n in range(21)], "an Entra app takes at most 20"),
    ],
)
def test_bad_values_name_the_key(key: str, value: Any, expected: str) -> None:
    with pytest.raises(BootstrapConfigError) as error:
        parse(**{key: value})
    assert expected in str(error.value)
    assert error.value.key == key


def test_the_immutable_repository_form_is_accepted_and_its_ids_kept() -> None:
    # GitHub's immutable OIDC subjects name `owner@OWNER_ID/name@REPO_ID`; `@` cannot appear in GitHub names.
    settings = parse(githubRepository="contoso-msp@123456/exo-automation@456789")
    assert (settings.github_repository, settings.github_owner_id, settings.github_repository_id) == (
        "contoso-msp/exo-automation",
        123456,
        456789,
    )
    assert (parse().github_owner_id, parse().github_repository_id) == (None, None)


@pytest.mark.parametrize("value", ["contoso-msp@123456/exo-automation", "contoso-msp/exo-automation@0", "contoso@x/exo@1"])
def test_a_half_or_malformed_immutable_form_names_the_key(value: str) -> None:
    with pytest.raises(BootstrapConfigError, match="exo-bootstrap:githubRepository") as error:
        parse(githubRepository=value)
    assert "owner@OWNER_ID/name@REPO_ID" in str(error.value)


@pytest.mark.parametrize(
    "overrides",
    [
        {"workloadResourceGroup": "exo-shared-rg", "pipelineResourceGroup": "exo-shared-rg"},
        {"workloadResourceGroup": "EXO-Shared-RG", "pipelineResourceGroup": "exo-shared-rg"},
        {"workloadResourceGroup": "exo-automation-pipeline-rg"},
    ],
)
def test_the_workload_group_may_not_be_the_pipeline_group(overrides: dict[str, str]) -> None:
    """The deployer's storageAccounts/* on the workload group would reach the state account (names ignore case in Azure)."""
    with pytest.raises(BootstrapConfigError) as error:
        parse(**overrides)
    assert error.value.key == "workloadResourceGroup"
    assert "same resource group as pipelineResourceGroup" in str(error.value)

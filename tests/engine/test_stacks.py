"""The Exchange RBAC stack, the Key Vault stack and a 100-runbook stack with the real engine: `up`, then nothing to do, then
`destroy` leaves nothing."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.engine import emulated_cloud
from tests.engine.conftest import new_project
from tests.engine.project import REPO

pytestmark = pytest.mark.engine

READER = "0d3f6a2e-5b1c-4c8e-9f7a-1b2c3d4e5f60"


def exchange_rbac_stack() -> dict[str, Any]:
    config = yaml.safe_load((REPO / "Pulumi.dev.yaml").read_text())["config"]
    config["exo-automation:identities"] = [
        {"name": "exo"},
        {
            "name": "sales-reports",
            "exchangeRbac": {"roles": ["View-Only Recipients"], "recipientScope": {"filter": "Department -eq 'Sales'"}},
        },
    ]
    return config


def hundred_runbooks_stack() -> dict[str, Any]:
    """The dev stack with 100 runbooks, the two shipped ones in turn, on the dev stack's two schedule definitions."""
    config = yaml.safe_load((REPO / "Pulumi.dev.yaml").read_text())["config"]
    shipped = config["exo-automation:automation"]["runbooks"]
    config["exo-automation:automation"]["runbooks"] = [
        {**shipped[index % 2], "name": f"{shipped[index % 2]['name']}{index:03d}"} for index in range(100)
    ]
    return config


def key_vault_stack() -> dict[str, Any]:
    return {
        "exo-automation:identities": [{"name": "reports", "roles": ["Global Reader"]}],
        "exo-automation:keyVault": {"enabled": True, "name": "kv-exo-contoso", "resourceGroupName": "rg-exo-hosts", "readers": [READER]},
    }


@pytest.mark.parametrize(
    ("config", "expected_type"),
    [
        (exchange_rbac_stack(), "azure-native:automation:Variable"),
        (key_vault_stack(), "azure-native:keyvault:Secret"),
        (hundred_runbooks_stack(), "azure-native:automation:JobSchedule"),
    ],
    ids=["exchange-rbac", "key-vault", "100-runbooks"],
)
def test_up_converges_and_destroy_leaves_nothing(config: dict[str, Any], expected_type: str) -> None:
    for project in new_project(existing_resource_groups={"rg-exo-hosts": "westeurope"}):
        with emulated_cloud.portal(project.cloud) as tenant:
            tenant.add_principal(READER)
        project.pulumi("stack", "select", "dev", "--create")
        path = project.project / "Pulumi.dev.yaml"
        document = yaml.safe_load(path.read_text())
        document["config"] = config
        path.write_text(yaml.safe_dump(document, sort_keys=False))
        project.pulumi("up", "--yes")
        assert any(kind == expected_type for kind, _name in project.tenant().state)
        project.pulumi("preview", "--expect-no-changes")
        project.pulumi("destroy", "--yes")
        assert sorted(project.tenant().state) == []

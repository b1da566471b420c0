"""The Exchange RBAC stack, the Key Vault stack and a 100-runbook stack with the real engine: `up`, then nothing to do, then
`destroy` leaves nothing; the same for a Corp landing-zone stack (private account and vault, private endpoints); and the Key Vault
stack's certificate renewal weeks later."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest
import yaml

from exo import facts, landing_zone
from tests.engine import emulated_cloud
from tests.engine.conftest import new_project
from tests.engine.project import EngineProject
from tests.fixtures import automation_stack, exchange_rbac_stack, monitoring_stack

pytestmark = pytest.mark.engine

READER = "0d3f6a2e-5b1c-4c8e-9f7a-1b2c3d4e5f60"


def hundred_runbooks_stack() -> dict[str, Any]:
    """The automation stack with 100 runbooks, the two shipped ones in turn, on its two schedule definitions."""
    config = automation_stack()
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


def configure_dev_stack(project: EngineProject, config: dict[str, Any]) -> None:
    """The reader principal in the emulated tenant, stack `dev` selected, and `config` as its whole config."""
    with emulated_cloud.portal(project.cloud) as tenant:
        tenant.add_principal(READER)
    project.pulumi("stack", "select", "dev", "--create")
    path = project.project / "Pulumi.dev.yaml"
    document = yaml.safe_load(path.read_text())
    document["config"] = config
    path.write_text(yaml.safe_dump(document, sort_keys=False))


@pytest.mark.parametrize(
    ("config", "expected_type"),
    [
        (exchange_rbac_stack(), "azure-native:automation:Variable"),
        (key_vault_stack(), "azure-native:keyvault:Secret"),
        (hundred_runbooks_stack(), "azure-native:automation:JobSchedule"),
        # Alerts on (issue 24): the workspace, diagnostic setting, action group, log alert rules, saved functions and workbook.
        (monitoring_stack(), "azure-native:monitor:ScheduledQueryRule"),
    ],
    ids=["exchange-rbac", "key-vault", "100-runbooks", "alerts"],
)
def test_up_converges_and_destroy_leaves_nothing(config: dict[str, Any], expected_type: str) -> None:
    for project in new_project(existing_resource_groups={"rg-exo-hosts": "westeurope"}):
        configure_dev_stack(project, config)
        project.pulumi("up", "--yes")
        assert any(kind == expected_type for kind, _name in project.tenant().state)
        project.pulumi("preview", "--expect-no-changes")
        project.pulumi("destroy", "--yes")
        assert sorted(project.tenant().state) == []


def test_a_vaulted_certificate_renews_inside_its_window_and_its_new_secret_version_is_within_alz_limits() -> None:
    """The default with keyVault is an 89-day certificate renewed 44 days early (ALZ denies vault secrets valid over 90 days):
    nothing changes for 44 days, then tls reissues it, the key credential is replaced and the secret updated; the secret written
    that day carries the new certificate's end, within 90 days of it, and then nothing is left to do."""
    for project in new_project(existing_resource_groups={"rg-exo-hosts": "westeurope"}):
        configure_dev_stack(project, key_vault_stack())
        project.pulumi("up", "--yes")
        project.move_clock(44)
        project.pulumi("preview", "--expect-no-changes", "--diff")
        project.move_clock(2)
        renewal = project.preview_steps()
        changed = {(op, kind) for op, kind, _name in renewal}
        assert {
            ("replace", "tls:index/selfSignedCert:SelfSignedCert"),
            ("replace", "azuread:index/applicationCertificate:ApplicationCertificate"),
            ("update", "azure-native:keyvault:Secret"),
        } <= changed, renewal
        # The secret version's createdOn is no earlier than this.
        written = dt.datetime.fromtimestamp(time.time() + project.clock_offset, dt.UTC)
        project.pulumi("up", "--yes", "--diff")
        project.pulumi("preview", "--expect-no-changes", "--diff")
        state = project.tenant().state
        (secret,) = [(name, stored) for (kind, name), stored in state.items() if kind == "azure-native:keyvault:Secret"]
        (certificate,) = [stored for (kind, _name), stored in state.items() if kind == "tls:index/selfSignedCert:SelfSignedCert"]
        expires = secret[1].inputs["properties"]["attributes"]["expires"]
        end = dt.datetime.fromisoformat(certificate.outputs["validityEndTime"].replace("Z", "+00:00"))
        assert expires == int(end.timestamp()), "the secret carries the reissued certificate's end"
        assert 0 < expires - written.timestamp() <= facts.ALZ_SECRET_MAXIMUM_VALIDITY_DAYS * 86400
        requests = landing_zone.requests_for("azure-native:keyvault:Secret", secret[0], secret[1].inputs, written)
        rules = facts.load_alz_rules()
        for archetype in ("online", "corp"):
            denied = {f.rule.label for f in landing_zone.check(requests, archetype, True, rules) if f.kind == "deny"}
            assert "Enforce-GR-KeyVault/Deny-KV-Secrets-ValidityDays" not in denied, denied


SUBNET = (
    "/subscriptions/6f1e7a52-3c1d-4b9e-9a0f-2d8c5e7b4a10/resourceGroups/rg-corp-network/providers/Microsoft.Network/"
    "virtualNetworks/vnet-corp/subnets/snet-private-endpoints"
)


def test_the_corp_switch_converges_private_and_destroy_leaves_nothing() -> None:
    """`landingZone: {archetype: corp, privateEndpoints}` with the Automation account and the vault: both private, one private
    endpoint per sub-resource, nothing to do after `up`, and `destroy` removes the endpoints with the rest."""
    config = {
        **automation_stack(),
        "exo-automation:identities": [{"name": "exo"}],
        "exo-automation:keyVault": key_vault_stack()["exo-automation:keyVault"],
        "exo-automation:landingZone": {"archetype": "corp", "privateEndpoints": {"subnetId": SUBNET}},
    }
    for project in new_project(existing_resource_groups={"rg-exo-hosts": "westeurope"}):
        configure_dev_stack(project, config)
        project.pulumi("up", "--yes")
        state = project.tenant().state
        (account,) = [v for (kind, _n), v in state.items() if kind == "azure-native:automation:AutomationAccount"]
        (vault,) = [v for (kind, _n), v in state.items() if kind == "azure-native:keyvault:Vault"]
        assert account.inputs["publicNetworkAccess"] is False
        assert vault.inputs["properties"]["publicNetworkAccess"] == "Disabled"
        endpoints = sorted(name for (kind, name) in state if kind == "azure-native:network:PrivateEndpoint")
        assert len(endpoints) == 3, endpoints
        project.pulumi("preview", "--expect-no-changes")
        project.pulumi("destroy", "--yes")
        assert sorted(project.tenant().state) == []

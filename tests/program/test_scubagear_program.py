"""Issue 20 over the whole program: the Entra state an unprivileged and a privileged stack leave, the preview warnings, and
the scubaGearConfig output."""

from __future__ import annotations

import unittest
from typing import Any

import yaml

from exo import facts
from tests.fixtures import AUTOMATION, IDENTITIES, automation_stack
from tests.harness import Deployment, evaluate, preview_logged
from tests.mock_tenant import MockTenant

ACCOUNT = "azure-native:automation:AutomationAccount"
SERVICE_PRINCIPAL = "azuread:index/servicePrincipal:ServicePrincipal"
DIRECTORY_ROLE_ASSIGNMENT = "azuread:index/directoryRoleAssignment:DirectoryRoleAssignment"
PRIVILEGED_TEMPLATE_IDS = set(facts.SCUBAGEAR_PRIVILEGED_ROLES.values())


def privileged_config() -> dict[str, Any]:
    """The roles the example stack had before issue 20: Exchange Administrator on both principals."""
    config = automation_stack()
    config[IDENTITIES][0]["roles"] = ["Exchange Administrator"]
    config[AUTOMATION]["roles"] = ["Exchange Administrator"]
    return config


async def preview_with_warnings(config: dict[str, Any]) -> tuple[Deployment, list[str]]:
    """A preview, and the warnings it printed."""
    deployment, records = await preview_logged(MockTenant(), config)
    return deployment, [record.getMessage() for record in records]


class UnprivilegedStack(unittest.IsolatedAsyncioTestCase):
    async def test_no_assignment_is_on_the_privileged_list_and_the_output_has_nothing_to_exclude(self) -> None:
        deployment = await evaluate(MockTenant(), preview=False, config=automation_stack())
        assigned = {a.plain_inputs["roleId"] for a in deployment.of_type(DIRECTORY_ROLE_ASSIGNMENT)}
        self.assertEqual(assigned, {facts.ROLES[name].template_id for name in ("Global Reader", "Exchange Recipient Administrator")})
        self.assertEqual(assigned & PRIVILEGED_TEMPLATE_IDS, set())
        output = deployment.output("scubaGearConfig")
        self.assertEqual((output["privilegedAssignments"], output["fragment"]), ([], {}))

    async def test_the_preview_warns_about_nothing(self) -> None:
        _, warnings = await preview_with_warnings(automation_stack())
        self.assertEqual(warnings, [])


class PrivilegedStack(unittest.IsolatedAsyncioTestCase):
    async def test_preview_warns_once_per_principal(self) -> None:
        _, warnings = await preview_with_warnings(privileged_config())
        self.assertEqual(len(warnings), 2, warnings)
        self.assertTrue(warnings[0].startswith("identity exo (exo-automation:identities[0].roles) is assigned Exchange Administrator"))
        self.assertTrue(warnings[1].startswith("automation managed identity (exo-automation:automation.roles) is assigned"))
        for warning in warnings:
            self.assertIn("MS.AAD.7.4v1", warning)
            self.assertIn("MS.AAD.7.5v1", warning)

    async def test_the_output_excludes_the_service_principal_and_the_managed_identity(self) -> None:
        deployment = await evaluate(MockTenant(), preview=False, config=privileged_config())
        (service_principal,) = deployment.of_type(SERVICE_PRINCIPAL)
        (account,) = deployment.of_type(ACCOUNT)
        sp_id = service_principal.outputs["objectId"]
        mi_id = account.outputs["identity"]["principalId"]
        # The ids are the ones the assignments ScubaGear will read are made to.
        holders = {a.plain_inputs["principalObjectId"] for a in deployment.of_type(DIRECTORY_ROLE_ASSIGNMENT)}
        self.assertEqual(holders, {sp_id, mi_id})
        output = deployment.output("scubaGearConfig")
        self.assertEqual(output["fragment"]["Aad"], {"MS.AAD.7.4v1": {"RoleExclusions": {"Users": [sp_id, mi_id]}}})
        self.assertIn("MS.AAD.7.5v1", output["fragment"]["AnnotatePolicy"])
        self.assertEqual(yaml.safe_load(output["yaml"]), output["fragment"])
        self.assertEqual(
            output["privilegedAssignments"],
            [
                {"principal": "identity exo", "objectId": sp_id, "roles": ["Exchange Administrator"]},
                {"principal": "automation managed identity", "objectId": mi_id, "roles": ["Exchange Administrator"]},
            ],
        )
        self.assertEqual(output["controls"], ["MS.AAD.7.4v1", "MS.AAD.7.5v1"])
        self.assertIn("can only be annotated", output["note"])

    async def test_a_first_preview_knows_the_output_only_once_the_ids_exist(self) -> None:
        deployment = await evaluate(MockTenant(), preview=True, config=privileged_config())
        self.assertFalse(deployment.outputs["scubaGearConfig"].known)
        quiet = await evaluate(MockTenant(), preview=True, config=automation_stack())
        self.assertTrue(quiet.outputs["scubaGearConfig"].known, "nothing privileged: no id to wait for")

"""Exchange RBAC under the mock tenant: the desired state the program publishes, its one-off run, and the effective permissions."""

from __future__ import annotations

import datetime as dt
import json
import unittest
from typing import Any

from components.exchange_rbac import APPLIED_VARIABLE_NAME
from exo.exchange_rbac_state import VARIABLE_NAME, owner_prefix, state_sha256
from tests.fixtures import IDENTITIES, exchange_rbac_stack
from tests.harness import Deployment, evaluate
from tests.mock_tenant import MockTenant
from tests.program.test_runbook_lifecycle import changes
from tests.schema_check import check_registration

VARIABLE = "azure-native:automation:Variable"
SCHEDULE = "azure-native:automation:Schedule"
JOB_SCHEDULE = "azure-native:automation:JobSchedule"
RUNBOOK = "azure-native:automation:Runbook"
DIRECTORY_ROLE_ASSIGNMENT = "azuread:index/directoryRoleAssignment:DirectoryRoleAssignment"
SALES_FILTER = "Department -eq 'Sales'"


def rbac_config(**identity_overrides: Any) -> dict[str, Any]:
    config = exchange_rbac_stack()
    config[IDENTITIES][1].update(identity_overrides)
    return config


def published(deployment: Deployment) -> tuple[str, dict[str, Any]]:
    (variable,) = [v for v in deployment.of_type(VARIABLE) if v.plain_inputs["variableName"] == VARIABLE_NAME]
    text = json.loads(variable.plain_inputs["value"])  # the REST value is a JSON-serialised string
    return text, json.loads(text)


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


class PublishedDesiredState(unittest.IsolatedAsyncioTestCase):
    async def test_state_names_the_app_its_role_group_assignment_and_scope(self) -> None:
        tenant = MockTenant(clock=Clock())
        deployment = await evaluate(tenant, preview=False, config=rbac_config())
        text, state = published(deployment)
        (variable,) = [v for v in deployment.of_type(VARIABLE) if v.plain_inputs["variableName"] == VARIABLE_NAME]
        self.assertEqual(variable.plain_inputs["variableName"], VARIABLE_NAME)
        self.assertFalse(variable.plain_inputs["isEncrypted"])
        self.assertEqual(check_registration(VARIABLE, variable.name, variable.plain_inputs), [])
        prefix = owner_prefix("dev", "aa-exo-automation-dev")
        self.assertEqual(state["owner"], prefix)
        (principal,) = state["principals"]
        identity = deployment.output("identities")["sales-reports"]
        self.assertEqual(principal["appId"], identity["clientId"])
        self.assertEqual(principal["objectId"], identity["servicePrincipalObjectId"])
        self.assertEqual(principal["displayName"], f"{prefix}sales-reports")
        group = principal["roleGroup"]
        self.assertTrue(group["name"].startswith(f"{prefix}sales-reports-"))
        self.assertEqual(group["roles"], ["View-Only Recipients"])
        self.assertEqual(group["scope"], {"kind": "filter", "filter": SALES_FILTER, "name": group["name"]})
        self.assertEqual([a["role"] for a in group["assignments"]], ["View-Only Recipients"])
        self.assertTrue(all(a["name"].startswith(prefix) and len(a["name"]) <= 64 for a in group["assignments"]))
        self.assertEqual(text, json.dumps(state, sort_keys=True, separators=(",", ":")))

    async def test_rbac_only_identity_gets_manage_as_app_but_no_directory_role(self) -> None:
        deployment = await evaluate(MockTenant(), preview=False, config=rbac_config())
        roles = [r.name for r in deployment.of_type(DIRECTORY_ROLE_ASSIGNMENT)]
        self.assertFalse([name for name in roles if name.startswith("sales-reports-")], roles)
        self.assertIn("sales-reports-grant-manage-as-app", [r.name for r in deployment.custom()])
        permissions = deployment.output("effectivePermissions")["identities"]["sales-reports"]
        self.assertEqual(permissions["entraRoles"], [])
        self.assertEqual(permissions["exchangeRoles"], ["View-Only Recipients"])
        self.assertEqual(permissions["exchangeScope"], f"recipients where {SALES_FILTER}")
        self.assertEqual(deployment.output("effectivePermissions")["identities"]["exo"]["entraRoles"], ["Global Reader"])
        self.assertEqual(deployment.output("effectivePermissions")["automation"]["entraRoles"], ["Exchange Administrator"])

    async def test_reconciler_runs_hourly_on_a_shared_schedule_and_records_what_it_applied(self) -> None:
        tenant = MockTenant(clock=Clock())
        deployment = await evaluate(tenant, preview=False, config=rbac_config())
        self.assertIn("Sync-ExchangeRbac", [r.plain_inputs["runbookName"] for r in deployment.of_type(RUNBOOK)])
        # No one-off schedule: a OneTime schedule re-created after a failed up, a manual delete or a republish would start in the past.
        self.assertEqual([s for s in deployment.of_type(SCHEDULE) if s.plain_inputs["frequency"] == "OneTime"], [])
        (job,) = [j for j in deployment.of_type(JOB_SCHEDULE) if j.plain_inputs["runbook"]["name"] == "Sync-ExchangeRbac"]
        (schedule,) = [s for s in deployment.of_type(SCHEDULE) if s.plain_inputs["scheduleName"] == job.plain_inputs["schedule"]["name"]]
        self.assertEqual((schedule.plain_inputs["frequency"], schedule.plain_inputs["interval"]), ("Hour", 1))
        self.assertEqual(job.plain_inputs["parameters"]["DryRun"], "false")
        self.assertEqual(job.plain_inputs["parameters"]["Organization"], tenant.initial_domain)
        self.assertNotIn("ExpectedStateSha256", job.plain_inputs["parameters"])
        # The record the runbook writes after a full run: created empty, its value never sent again (ignore_changes).
        (applied,) = [v for v in deployment.of_type(VARIABLE) if v.plain_inputs["variableName"] == APPLIED_VARIABLE_NAME]
        self.assertEqual(json.loads(applied.plain_inputs["value"]), "{}")
        self.assertIn("value", applied.ignore_changes)
        for registration in (schedule, job, applied):
            self.assertEqual(check_registration(registration.type, registration.name, registration.plain_inputs), [])

    async def test_unchanged_stack_publishes_the_same_text_and_keeps_its_schedule(self) -> None:
        clock = Clock()
        tenant = MockTenant(clock=clock)
        first = await evaluate(tenant, preview=False, config=rbac_config())
        clock.now += dt.timedelta(days=3)
        preview = await evaluate(tenant, preview=True, config=rbac_config())
        second = await evaluate(tenant, preview=False, config=rbac_config())
        self.assertEqual(published(first)[0], published(second)[0])
        self.assertEqual(published(first)[0], published(preview)[0])
        self.assertEqual(changes(first, preview), set())
        self.assertEqual(changes(first, second), set())

    async def test_changed_declaration_gets_a_new_role_group_name_and_a_new_document(self) -> None:
        clock = Clock()
        tenant = MockTenant(clock=clock)
        first = await evaluate(tenant, preview=False, config=rbac_config())
        clock.now += dt.timedelta(days=1)
        changed = rbac_config(exchangeRbac={"roles": ["View-Only Recipients"], "recipientScope": {"filter": "Department -eq 'Finance'"}})
        second = await evaluate(tenant, preview=False, config=changed)
        old = published(first)[1]["principals"][0]["roleGroup"]["name"]
        new = published(second)[1]["principals"][0]["roleGroup"]["name"]
        self.assertNotEqual(old, new)
        self.assertEqual(old.rsplit("-", 1)[0], new.rsplit("-", 1)[0])
        # The next hourly run finds a document other than the one it recorded, and applies it.
        self.assertNotEqual(state_sha256(published(first)[0]), state_sha256(published(second)[0]))

    async def test_preview_of_a_new_stack_registers_the_state_with_unknown_ids(self) -> None:
        deployment = await evaluate(MockTenant(), preview=True, config=rbac_config())
        self.assertEqual(
            sorted(v.plain_inputs["variableName"] for v in deployment.of_type(VARIABLE)), sorted([VARIABLE_NAME, APPLIED_VARIABLE_NAME])
        )

    async def test_managed_identity_rbac_is_published_with_its_client_id(self) -> None:
        tenant = MockTenant()
        config = rbac_config()
        config["exo-automation:automation"]["exchangeRbac"] = {"roles": ["View-Only Configuration"]}
        deployment = await evaluate(tenant, preview=False, config=config)
        _, state = published(deployment)
        automation = next(p for p in state["principals"] if p["name"] == "automation")
        principal = deployment.output("automation")["principalId"]
        self.assertEqual(automation["objectId"], principal)
        self.assertEqual(automation["appId"], tenant.service_principals[principal])
        self.assertEqual(automation["kind"], "managedIdentity")
        self.assertIsNone(automation["roleGroup"]["scope"])
        self.assertEqual([p["name"] for p in state["principals"]], ["automation", "sales-reports"])

    async def test_no_exchange_rbac_means_no_reconciler(self) -> None:
        config = rbac_config()
        config["exo-automation:identities"] = [{"name": "exo"}]
        deployment = await evaluate(MockTenant(), preview=False, config=config)
        self.assertEqual(deployment.of_type(VARIABLE), [])
        self.assertNotIn("Sync-ExchangeRbac", [r.plain_inputs["runbookName"] for r in deployment.of_type(RUNBOOK)])

    async def test_sync_settings_alone_keep_the_reconciler_with_an_empty_state_to_remove_owned_objects(self) -> None:
        config = rbac_config()
        config["exo-automation:identities"] = [{"name": "exo"}]
        config["exo-automation:automation"]["exchangeRbacSync"] = {}
        deployment = await evaluate(MockTenant(), preview=False, config=config)
        _, state = published(deployment)
        self.assertEqual(state["principals"], [])
        self.assertIn("Sync-ExchangeRbac", [r.plain_inputs["runbookName"] for r in deployment.of_type(RUNBOOK)])

    async def test_former_owner_prefixes_reach_the_published_state(self) -> None:
        # A stack or account renamed: the old prefix's objects are handed over or removed by the reconciler (docs/exchange-rbac.md).
        former = owner_prefix("old-stack", "aa-exo-automation-old")
        config = rbac_config()
        config["exo-automation:automation"]["exchangeRbacSync"] = {"formerOwners": [former.upper()]}
        _, state = published(await evaluate(MockTenant(), preview=False, config=config))
        self.assertEqual(state["formerOwners"], [former])
        self.assertNotIn("formerOwners", published(await evaluate(MockTenant(), preview=False, config=rbac_config()))[1])

    async def test_national_cloud_reaches_the_one_off_run(self) -> None:
        config = {**rbac_config(), "azuread:environment": "usgovernmentl4"}
        deployment = await evaluate(MockTenant(initial_domain_suffix=".onmicrosoft.us"), preview=False, config=config)
        (job,) = [j for j in deployment.of_type(JOB_SCHEDULE) if j.plain_inputs["runbook"]["name"] == "Sync-ExchangeRbac"]
        self.assertEqual(job.plain_inputs["parameters"]["ExchangeEnvironmentName"], "O365USGovGCCHigh")

"""Every azure-native resource the program registers, held to the REST spec's and Microsoft's naming rules (facts.AZURE_INPUT_RULES).

Mocks accept anything; azure-native's Check and Azure do not. Each stack below is evaluated as `pulumi up` and as `pulumi preview`,
and every path name and every body property with a rule is checked against every rule for it, each rule with its source.
"""

from __future__ import annotations

import unittest
from typing import Any

from pulumi.runtime.mocks import MockResourceArgs

from exo import azure_names, facts
from settings.values import ConfigError
from tests.fixtures import (
    KEY_VAULT,
    VAULT_READER_GROUP,
    VAULT_READER_SP,
    VAULT_READER_USER,
    automation_stack,
    exchange_rbac_stack,
    hybrid_worker_stack,
    key_vault_stack,
    monitoring_stack,
    runtime_stack,
    tenant_with_vault_readers,
)
from tests.harness import Deployment, evaluate
from tests.mock_tenant import MockTenant, TenantError, is_unknown
from tests.schema_check import check_registration

AZURE = "azure-native:"
CORP_WITH_PRIVATE_ENDPOINTS: dict[str, Any] = {
    "archetype": "corp",
    "privateEndpoints": {
        "subnetId": "/subscriptions/6f1e7a52-3c1d-4b9e-9a0f-2d8c5e7b4a10/resourceGroups/rg-net/providers/Microsoft.Network/"
        "virtualNetworks/vnet-corp/subnets/snet-endpoints"
    },
}
# Stack names Pulumi accepts but Azure names do not: underscores and dots in account names, a dot at the end of a resource group,
# upper case, 100 characters.
AWKWARD_STACKS = ("my_stack", "team.prod", "Prod.EU.", "UPPER_case.Stack", "s" * 100, "a", "x-" * 50)


def stacks() -> dict[str, tuple[str, dict[str, Any]]]:
    """label -> (stack name, config)."""
    everything = {**monitoring_stack(), **key_vault_stack()}
    return {
        "default config": ("dev", {}),
        "Automation stack": ("dev", automation_stack()),
        "Key Vault stack": ("prod", key_vault_stack()),
        "PowerShell 7.2": ("dev", runtime_stack("PowerShell-7.2")),
        "PowerShell 7.4": ("dev", runtime_stack("PowerShell-7.4")),
        "PowerShell 7.6": ("dev", runtime_stack("PowerShell-7.6")),
        "Windows PowerShell 5.1": ("dev", runtime_stack("WindowsPowerShell-5.1")),
        "hybrid worker stack": ("dev", hybrid_worker_stack()),
        "Exchange RBAC stack": ("dev", exchange_rbac_stack()),
        "Corp stack with private endpoints": ("dev", {**everything, "exo-automation:landingZone": CORP_WITH_PRIVATE_ENDPOINTS}),
        "monitoring stack": ("dev", monitoring_stack()),
        **{f"stack {name!r}": (name, everything) for name in AWKWARD_STACKS},
    }


def value_at(inputs: dict[str, Any], path: str) -> Any:
    value: Any = inputs
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def violations(deployment: Deployment) -> list[str]:
    """Every rule an azure-native input breaks; in a preview, unknown values are left to the run that knows them. Enumerations and
    required inputs the SDK carries from the spec are checked by schema_check; names, lengths and the spec rules azure-native
    applies in its Check by facts.AZURE_INPUT_RULES."""
    found: list[str] = []
    for registration in deployment.custom():
        if not registration.type.startswith(AZURE):
            continue
        found += check_registration(registration.type, registration.name, registration.inputs)
        inputs = registration.plain_inputs
        path_inputs = facts.AZURE_PATH_INPUTS.get(registration.type)
        if path_inputs is None:
            found.append(f"{registration.type} has no entry in facts.AZURE_PATH_INPUTS: its rules were never looked up")
            continue
        for name in path_inputs:
            value = inputs.get(name)
            if value is None or (is_unknown(value) and not deployment.preview):
                found.append(f"{registration.type} {registration.name}: path input {name} is {value!r}")
        for (type_token, path), rules in facts.AZURE_INPUT_RULES.items():
            if type_token != registration.type:
                continue
            value = value_at(inputs, path)
            if is_unknown(value):
                continue
            for rule in rules:
                found += [
                    f"{registration.type} {registration.name}: {path} = {value!r} {p} ({rule.source})"
                    for p in facts.rule_problems(rule, value)
                ]
    return found


class EveryInputMeetsTheRules(unittest.IsolatedAsyncioTestCase):
    async def test_each_stack_registers_only_inputs_the_rules_accept_in_up_and_in_preview(self) -> None:
        for label, (stack, config) in stacks().items():
            for preview in (False, True):
                with self.subTest(label, preview=preview):
                    deployment = await evaluate(tenant_with_vault_readers(), preview=preview, config=config, stack=stack)
                    self.assertEqual(violations(deployment), [])

    async def test_the_stacks_cover_every_azure_native_type_the_program_registers(self) -> None:
        registered: set[str] = set()
        for stack, config in stacks().values():
            deployment = await evaluate(tenant_with_vault_readers(), preview=False, config=config, stack=stack)
            registered |= {r.type for r in deployment.custom() if r.type.startswith(AZURE)}
        self.assertEqual(registered, set(facts.AZURE_PATH_INPUTS), "a type without stacks here, or rules for a type never registered")
        self.assertTrue({t for t, _ in facts.AZURE_INPUT_RULES} <= registered, "every rule applies to a type the program registers")

    def test_every_rule_names_its_source(self) -> None:
        for (type_token, path), rules in facts.AZURE_INPUT_RULES.items():
            for rule in rules:
                self.assertTrue(
                    rule.source.startswith(("Azure/azure-rest-api-specs specification/", "https://learn.microsoft.com/", "pulumi/")),
                    f"{type_token} {path}: {rule.source}",
                )
                if rule.source.startswith("Azure/azure-rest-api-specs"):
                    self.assertRegex(rule.source, r"@[0-9a-f]{40}$", "spec rules name the commit they were read at")


class NamesFromTheStackName(unittest.IsolatedAsyncioTestCase):
    """Defect 2: defaults built from the stack name are valid, stable, kept as they were where valid, distinct per stack."""

    async def test_awkward_stack_names_give_valid_names_that_stay_the_same_across_runs(self) -> None:
        for stack in AWKWARD_STACKS:
            with self.subTest(stack):
                mock = tenant_with_vault_readers()
                first = await evaluate(mock, preview=False, config=automation_stack(), stack=stack)
                again = await evaluate(mock, preview=True, config=automation_stack(), stack=stack)
                (account,) = [r for r in first.custom() if r.type == azure_names.ACCOUNT]
                (planned,) = [r for r in again.custom() if r.type == azure_names.ACCOUNT]
                self.assertEqual(account.plain_inputs, planned.plain_inputs, "a second run plans no change")
                self.assertEqual(azure_names.problems(account.plain_inputs["automationAccountName"], azure_names.ACCOUNT_USES), [])

    def test_names_that_were_valid_are_kept_as_they_were(self) -> None:
        # An existing stack must not see its account or group replaced by this change.
        self.assertEqual(azure_names.default_account_name("dev"), "aa-exo-automation-dev")
        self.assertEqual(azure_names.default_resource_group_name("dev"), "rg-exo-automation-dev")
        self.assertEqual(azure_names.default_resource_group_name("team_a.prod"), "rg-exo-automation-team_a.prod")

    def test_stacks_that_normalise_alike_get_different_names(self) -> None:
        names = {azure_names.default_account_name(stack) for stack in ("team_a", "team.a", "team-a", "Team_A")}
        self.assertEqual(len(names), 4)
        long_names = {azure_names.default_resource_group_name("r" * 90 + suffix) for suffix in ("1", "2")}
        self.assertEqual(len(long_names), 2, "shortening keeps the hash of the whole stack name")

    def test_the_runtime_environment_name_has_no_dot(self) -> None:
        # Defect 1: RuntimeEnvironmentNameParameter is ^[a-zA-Z][a-zA-Z-_0-9]*$ (common/v5/definitions.json).
        self.assertEqual(azure_names.runtime_environment_name((7, 4)), "PowerShell-7-4-Exchange")
        self.assertEqual(azure_names.problems("PowerShell-7.4-Exchange", azure_names.RUNTIME_ENVIRONMENT_USES)[0][:14], "does not match")


class RuntimeEnvironmentName(unittest.IsolatedAsyncioTestCase):
    async def test_the_74_and_76_stacks_preview_and_the_package_passes_the_same_valid_name(self) -> None:
        for runtime, name in (("PowerShell-7.4", "PowerShell-7-4-Exchange"), ("PowerShell-7.6", "PowerShell-7-6-Exchange")):
            for preview in (True, False):
                with self.subTest(runtime, preview=preview):
                    deployment = await evaluate(tenant_with_vault_readers(), preview=preview, config=runtime_stack(runtime))
                    (environment,) = deployment.of_type("azure-native:automation:RuntimeEnvironment")
                    self.assertEqual(environment.plain_inputs["runtimeEnvironmentName"], name)
                    (package,) = deployment.of_type("azure-native:automation:Package")
                    if not preview:
                        self.assertEqual(package.plain_inputs["runtimeEnvironmentName"], name)


# (label, config change, key the error names, phrase) for names a user sets that Azure would refuse.
BAD_NAMES: list[tuple[str, dict[str, Any], str, str]] = [
    ("account with underscore", {"accountName": "aa_exo_prod"}, "accountName", "Automation account name"),
    ("account ending in a hyphen", {"accountName": "aa-exo-prod-"}, "accountName", "a letter or digit last"),
    ("account starting with a digit", {"accountName": "1aa-exo-prod"}, "accountName", "must start with"),
    ("account too long", {"accountName": "a" * 51}, "accountName", "does not match"),
    ("group with parentheses (Automation refuses them)", {"resourceGroupName": "rg(exo)"}, "resourceGroupName", "does not match"),
    ("group ending in a dot", {"resourceGroupName": "rg-exo."}, "resourceGroupName", "must end with"),
    ("group too long", {"resourceGroupName": "r" * 91}, "resourceGroupName", "is longer than 90"),
    ("storage account with capitals", {"storageAccountName": "StExo01"}, "storageAccountName", "storage account name"),
    ("storage account too short", {"storageAccountName": "st"}, "storageAccountName", "is shorter than 3"),
]  # fmt: skip


class BadNamesAreRefusedBeforeAnyResource(unittest.IsolatedAsyncioTestCase):
    async def check(self, config: dict[str, Any], key: str, phrase: str) -> None:
        mock = tenant_with_vault_readers()
        with self.assertRaises(ConfigError) as caught:
            await evaluate(mock, preview=True, config=config)
        self.assertEqual(caught.exception.key, key)
        self.assertIn(phrase, caught.exception.problem)
        self.assertEqual(mock.registrations, [], "no resource may be registered")

    async def test_each_bad_automation_name_names_its_key(self) -> None:
        for label, change, field, phrase in BAD_NAMES:
            with self.subTest(label):
                await self.check(automation_stack(**change), f"exo-automation:automation.{field}", phrase)

    async def test_runbook_names_azure_refuses(self) -> None:
        for label, name, phrase in (("dot", "Report.Daily", "does not match"), ("64 characters", "R" * 64, "is longer than 63")):
            with self.subTest(label):
                config = automation_stack()
                config["exo-automation:automation"]["runbooks"][0]["name"] = name
                await self.check(config, "exo-automation:automation.runbooks[0].name", phrase)

    async def test_key_vault_names_azure_refuses(self) -> None:
        for label, change, field, phrase in (
            ("vault with underscore", {"name": "kv_exo"}, "name", "does not match"),
            ("vault group with a trailing dot", {"resourceGroupName": "rg-hosts."}, "resourceGroupName", "must end with"),
        ):
            with self.subTest(label):
                await self.check({"exo-automation:keyVault": {**KEY_VAULT, **change}}, f"exo-automation:keyVault.{field}", phrase)


class KeyVaultReaders(unittest.IsolatedAsyncioTestCase):
    """Defect 7: users, groups and service principals can read the certificates."""

    async def test_users_groups_and_service_principals_each_get_their_own_type(self) -> None:
        deployment = await evaluate(tenant_with_vault_readers(), preview=False, config={"exo-automation:keyVault": KEY_VAULT})
        types = {a.plain_inputs["principalId"]: a.plain_inputs["principalType"] for a in deployment.of_type(ROLE_ASSIGNMENT)}
        self.assertEqual(types, {VAULT_READER_SP: "ServicePrincipal", VAULT_READER_USER: "User", VAULT_READER_GROUP: "Group"})

    async def test_a_user_given_as_a_plain_object_id_fails_as_azure_fails_it(self) -> None:
        # A plain object id means a service principal; Azure answers UnmatchedPrincipalType for a user, and so does the mock.
        config = {"exo-automation:keyVault": {**KEY_VAULT, "readers": [VAULT_READER_USER]}}
        with self.assertRaisesRegex(TenantError, "UnmatchedPrincipalType"):
            await evaluate(tenant_with_vault_readers(), preview=False, config=config)

    async def test_a_reader_of_unknown_type_is_refused_naming_the_key(self) -> None:
        for reader, key, phrase in (
            ({"objectId": VAULT_READER_USER, "type": "Person"}, "exo-automation:keyVault.readers[0].type", "is not one of User"),
            ({"objectId": VAULT_READER_USER}, "exo-automation:keyVault.readers[0].type", "is required"),
            ({"type": "User"}, "exo-automation:keyVault.readers[0].objectId", "is required"),
            ({"objectId": "alice", "type": "User"}, "exo-automation:keyVault.readers[0].objectId", "not an object id"),
            ({"objectId": VAULT_READER_USER, "type": "User", "kind": "x"}, "exo-automation:keyVault.readers[0]", "unknown setting"),
        ):
            with self.subTest(phrase):
                mock = tenant_with_vault_readers()
                with self.assertRaises(ConfigError) as caught:
                    await evaluate(mock, preview=True, config={"exo-automation:keyVault": {**KEY_VAULT, "readers": [reader]}})
                self.assertEqual(caught.exception.key, key)
                self.assertIn(phrase, caught.exception.problem)
                self.assertEqual(mock.registrations, [])


class MockTenantRefusesBadNames(unittest.TestCase):
    """The mock behaves like azure-native's Check (spec rules, in preview too) and like Azure (all rules, when deploying)."""

    def register(self, mock: MockTenant, type_token: str, inputs: dict[str, Any]) -> None:
        mock.new_resource(MockResourceArgs(typ=type_token, name="probe", inputs=inputs, provider="", custom=True))

    def test_a_runtime_environment_with_a_dot_is_refused_in_preview_and_in_up(self) -> None:
        for preview in (True, False):
            mock = MockTenant(existing_resource_groups={"rg-exo": "westeurope"})
            mock.begin(preview=preview)
            inputs = {
                "resourceGroupName": "rg-exo",
                "automationAccountName": "aa-exo-dev",
                "runtimeEnvironmentName": "PowerShell-7.4-Exchange",
            }
            with self.assertRaisesRegex(TenantError, "runtimeEnvironmentName.*does not match"):
                self.register(mock, "azure-native:automation:RuntimeEnvironment", inputs)

    def test_monitoring_names_azure_refuses_are_refused(self) -> None:
        mock = MockTenant(existing_resource_groups={"rg-exo": "westeurope"})
        mock.begin(preview=True)
        for type_token, inputs, phrase in (
            ("azure-native:monitor:ScheduledQueryRule", {"ruleName": "exo/job-ended"}, "ruleName.*does not match"),
            ("azure-native:operationalinsights:Workspace", {"workspaceName": "log_exo"}, "workspaceName.*does not match"),
            ("azure-native:applicationinsights:Workbook", {"resourceName": "exo-workbook"}, "resourceName.*is not a GUID"),
        ):
            with self.subTest(type_token), self.assertRaisesRegex(TenantError, phrase):
                self.register(mock, type_token, {"resourceGroupName": "rg-exo", **inputs})

    def test_a_naming_rule_outside_the_spec_is_refused_when_deploying(self) -> None:
        # The spec lets an account start with a digit; Azure's naming rules do not.
        inputs = {"resourceGroupName": "rg-exo", "automationAccountName": "1aa-exo-dev", "location": "westeurope"}
        mock = MockTenant(existing_resource_groups={"rg-exo": "westeurope"})
        mock.begin(preview=True)
        self.register(mock, azure_names.ACCOUNT, inputs)
        mock.begin(preview=False)
        with self.assertRaisesRegex(TenantError, "automationAccountName.*must start with"):
            self.register(mock, azure_names.ACCOUNT, inputs)


ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"

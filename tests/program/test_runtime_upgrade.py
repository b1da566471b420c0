"""Runtime changes on a tenant that behaves like Azure: a stack deployed on PowerShell 7.4 moves to the new default or to 7.6 with a
plan that touches only the runtime (environment or modules) and the runbooks linked to it, never leaving a runbook or a job
schedule pointing at a runtime environment that is gone; and previews warn, on the program's one clock, about a runtime past its end.

One clock per test: derived from the facts (a runtime's last day, the day the default moved), moved between runs.
"""

from __future__ import annotations

import datetime as dt
import logging
import unittest
from typing import Any

from pulumi.runtime.mocks import MockResourceArgs

from exo import facts
from tests.fixtures import automation_stack
from tests.harness import Deployment, evaluate, preview_logged
from tests.mock_tenant import JOB_SCHEDULE, RUNBOOK, RUNTIME_ENVIRONMENT, MockTenant, TenantError
from tests.program.test_runbook_lifecycle import Clock, assert_every_scheduled_runbook_is_linked, changes

KEY = "exo-automation:automation"
MOVED = facts.DEFAULT_RUNTIME_CHANGES[-1]
MODULE = "azure-native:automation:Module"
ACCOUNT = {"resourceGroupName": "rg-exo", "automationAccountName": "aa-exo-dev"}


def noon(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)


def on_runtime(runtime: str | None) -> dict[str, Any]:
    """The dev stack on `runtime` with that runtime's default module; None: neither key set, as a stack that never set them."""
    config = automation_stack()
    for key in ("runtime", "exchangeModuleVersion"):
        del config[KEY][key]
    if runtime is not None:
        config[KEY]["runtime"] = runtime
    return config


async def preview_with_warnings(tenant: MockTenant, config: dict[str, Any]) -> tuple[Deployment, list[str]]:
    """A preview, and the warnings it printed."""
    deployment, records = await preview_logged(tenant, config)
    return deployment, [r.getMessage() for r in records if r.levelno == logging.WARNING]


def removed(before: Deployment, after: Deployment) -> set[str]:
    """Resources the second evaluation no longer registers: the engine deletes them after the update."""
    return {r.name for r in before.registrations} - {r.name for r in after.registrations}


class UpgradeFromPowerShell74(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self) -> None:
        # A day after the default moved: the stack was deployed on 7.4 before, and its owner now upgrades the program.
        self.clock = Clock(noon(MOVED.changed_on + dt.timedelta(days=1)))
        self.tenant = MockTenant(clock=self.clock)
        self.before = await evaluate(self.tenant, preview=False, config=on_runtime("PowerShell-7.4"))
        self.assertEqual(len(self.tenant.runtime_environments), 1)
        self.clock.advance(days=3)

    def runbooks_and_links(self, deployment: Deployment) -> set[str]:
        return {r.name for r in deployment.of_type(RUNBOOK)} | {r.name for r in deployment.of_type(JOB_SCHEDULE)}

    async def test_a_stack_that_never_set_runtime_previews_only_the_runtime_swap_and_one_line_naming_the_key(self) -> None:
        config = on_runtime(None)
        plan, warnings = await preview_with_warnings(self.tenant, config)
        self.assertEqual(
            [w for w in warnings if f"{KEY}.runtime" in w],
            [w for w in warnings if f"set {KEY}.runtime to {MOVED.previous}" in w],
            "every runtime line is the one that names the key keeping the old runtime",
        )
        self.assertEqual(len([w for w in warnings if f"{KEY}.runtime" in w]), 1)
        modules = {r.name for r in plan.of_type(MODULE)}
        self.assertEqual(modules, {"automation-exchange-module", "automation-powershellget-module", "automation-packagemanagement-module"})
        self.assertEqual(changes(self.before, plan), modules | self.runbooks_and_links(plan), "nothing else is updated or replaced")
        self.assertEqual(removed(self.before, plan), {"automation-runtime", "automation-exchange-package"})

        after = await evaluate(self.tenant, preview=False, config=config)
        self.assertEqual(self.tenant.runtime_environments, {}, "the 7.4 environment is deleted")
        self.assertEqual(self.tenant.dangling_links(), [])
        for runbook in after.of_type(RUNBOOK):
            self.assertNotIn("runtimeEnvironment", runbook.plain_inputs)
        assert_every_scheduled_runbook_is_linked(self, self.tenant, config)
        self.assertEqual(after.output("automation")["runtime"], MOVED.current)

    async def test_pinning_the_old_runtime_as_the_line_says_changes_nothing(self) -> None:
        plan, _ = await preview_with_warnings(self.tenant, {**on_runtime(MOVED.previous)})
        self.assertEqual(changes(self.before, plan), set())
        self.assertEqual(removed(self.before, plan), set())

    async def test_moving_to_76_replaces_the_environment_and_its_package_and_re_links_the_runbooks(self) -> None:
        config = on_runtime("PowerShell-7.6")
        plan, _ = await preview_with_warnings(self.tenant, config)
        self.assertEqual(changes(self.before, plan), {"automation-runtime", "automation-exchange-package"} | self.runbooks_and_links(plan))
        self.assertEqual(removed(self.before, plan), set())
        await evaluate(self.tenant, preview=False, config=config)
        (environment,) = self.tenant.runtime_environments.values()
        self.assertEqual((environment["name"], environment["version"]), ("PowerShell-7-6-Exchange", "7.6"))
        self.assertEqual(self.tenant.dangling_links(), [])
        assert_every_scheduled_runbook_is_linked(self, self.tenant, config)


class MockTenantKeepsLinksWhole(unittest.TestCase):
    """The rule the upgrade tests rely on: a runbook cannot link a runtime environment that does not exist, and one still linked
    is not deleted."""

    def register(self, mock: MockTenant, type_token: str, name: str, inputs: dict[str, Any]) -> None:
        mock.new_resource(MockResourceArgs(typ=type_token, name=name, inputs=inputs, provider="", custom=True))

    def test_a_runbook_naming_a_missing_environment_and_a_package_without_one_are_refused(self) -> None:
        mock = MockTenant(existing_resource_groups={"rg-exo": "westeurope"})
        mock.begin(preview=False)
        with self.assertRaisesRegex(TenantError, "runtime environment 'PowerShell-7-6-Exchange' does not exist"):
            self.register(mock, RUNBOOK, "probe", {**ACCOUNT, "runbookName": "Probe", "runtimeEnvironment": "PowerShell-7-6-Exchange"})
        with self.assertRaisesRegex(TenantError, "does not exist"):
            self.register(
                mock,
                "azure-native:automation:Package",
                "probe-package",
                {**ACCOUNT, "packageName": "ExchangeOnlineManagement", "runtimeEnvironmentName": "PowerShell-7-6-Exchange"},
            )


class LinkedEnvironmentIsKept(unittest.IsolatedAsyncioTestCase):
    async def test_deleting_an_environment_runbooks_still_link_is_refused(self) -> None:
        tenant = MockTenant(clock=Clock())
        await evaluate(tenant, preview=False, config=on_runtime("PowerShell-7.4"))
        with self.assertRaisesRegex(TenantError, "still link this runtime environment"):
            tenant.delete_outside_pulumi(RUNTIME_ENVIRONMENT, "automation-runtime")


class SupportWarningInPreview(unittest.IsolatedAsyncioTestCase):
    async def test_a_clock_past_a_runtimes_last_day_makes_the_preview_name_the_key_and_the_value(self) -> None:
        runtime = facts.AUTOMATION_RUNTIMES["PowerShell-7.4"]
        assert runtime.support_ends is not None
        clock = Clock(noon(runtime.support_ends - dt.timedelta(days=facts.RUNTIME_WARNING_DAYS + 1)))
        tenant = MockTenant(clock=clock)
        config = on_runtime(runtime.name)
        _, quiet = await preview_with_warnings(tenant, config)
        self.assertEqual([w for w in quiet if f"{KEY}.runtime" in w], [])
        clock.advance(days=facts.RUNTIME_WARNING_DAYS + 2)  # the day after the last day
        deployment, warnings = await preview_with_warnings(tenant, config)
        (warning,) = [w for w in warnings if f"{KEY}.runtime" in w]
        self.assertIn(f"{runtime.name} has been out of support", warning)
        self.assertIn(f"change {KEY}.runtime to {facts.DEFAULT_AUTOMATION_RUNTIME}", warning)
        self.assertEqual(deployment.output("automation")["runtime"], runtime.name, "a warning, not a refusal")

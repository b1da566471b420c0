"""The program under Pulumi's documented unit-test recipe: `pulumi.runtime.set_mocks(mocks)`, then run the program inside a
`@pulumi.runtime.test` function. Users who fork the program test it this way; nothing of the SDK's internals is needed.

Run in a new Python process, as a user's own test run would be: Pulumi's runtime settings are process-global, and the other program
tests (tests/harness.py) run the program as the language host does instead."""

from __future__ import annotations

import json
import subprocess
import sys
import unittest

from tests.harness import REPO

RECIPE = """
import json, runpy, sys
import pulumi
from tests.fixtures import automation_stack
from tests.harness import MAIN, PROJECT, config_for
from tests.mock_tenant import MockTenant

tenant = MockTenant()
tenant.begin(preview=False)
pulumi.runtime.set_all_config(config_for(automation_stack()))
pulumi.runtime.set_mocks(tenant, project=PROJECT, stack="dev", preview=False)


@pulumi.runtime.test
def program():
    runpy.run_path(str(MAIN), run_name="__main__")


program()
# What the mocks created (tenant.finish() is the harness's: it deletes what its own monitor did not record).
json.dump(sorted({kind for kind, _name in tenant.state}), sys.stdout)
"""


class DocumentedMocksRecipe(unittest.TestCase):
    def test_set_mocks_then_the_program_deploys_the_automation_stack(self) -> None:
        done = subprocess.run([sys.executable, "-c", RECIPE], cwd=REPO, capture_output=True, text=True, check=False)
        self.assertEqual(done.returncode, 0, done.stderr[-4000:])
        created = set(json.loads(done.stdout))
        for kind in (
            "azuread:index/application:Application",
            "azure-native:automation:AutomationAccount",
            "azure-native:automation:Runbook",
            "azure-native:automation:JobSchedule",
        ):
            self.assertIn(kind, created)

"""Pulumi.yaml, the example stack (Pulumi.dev.yaml) and requirements.txt stay true to the program."""

from __future__ import annotations

import importlib.metadata
import json
import re
import unittest
from pathlib import Path
from typing import Any

import yaml
from packaging.requirements import Requirement

from exo import facts
from settings.stack import CONFIG_KEYS, parse_settings
from tests.harness import REPO, config_for, evaluate, preview_logged
from tests.mock_tenant import MockTenant
from tests.program.test_azure_conformance import violations
from tests.schema_check import check_registration


def load(name: str) -> dict[str, Any]:
    return yaml.safe_load((REPO / name).read_text())


class ProjectFile(unittest.TestCase):
    def test_project_is_python_with_local_state_needing_no_pulumi_account(self) -> None:
        project = load("Pulumi.yaml")
        self.assertEqual(project["name"], "exo-automation")
        self.assertEqual(project["runtime"]["name"], "python")
        self.assertEqual(project["runtime"]["options"], {"toolchain": "pip", "virtualenv": ".venv"})
        self.assertEqual(project["backend"]["url"], "file://~")

    def test_every_config_key_is_declared_with_type_description_and_default(self) -> None:
        declared = load("Pulumi.yaml")["config"]
        self.assertEqual(set(declared), set(CONFIG_KEYS))
        for key, spec in declared.items():
            with self.subTest(key):
                self.assertIn(spec["type"], ("string", "boolean", "integer", "array", "object"))
                self.assertTrue(spec["description"].strip())
                self.assertIn("default", spec, "a typed key without a default is required by Pulumi")
                if spec["type"] == "array":
                    self.assertIn("items", spec)

    def test_the_declared_defaults_are_the_seed_setup(self) -> None:
        declared = load("Pulumi.yaml")["config"]
        raw = {k: v for k, v in config_for({key: spec["default"] for key, spec in declared.items()}).items()}
        settings = parse_settings({key.split(":", 1)[1]: value for key, value in raw.items()}, "dev", None)
        self.assertEqual(settings, parse_settings({}, "dev", None))


class ExampleStack(unittest.IsolatedAsyncioTestCase):
    """The one test of Pulumi.dev.yaml, the stack users start from (every other test runs on tests/fixtures.py)."""

    async def test_pulumi_dev_yaml_deploys_cleanly_unprivileged_on_a_supported_runtime_and_holds_no_secret(self) -> None:
        text = (REPO / "Pulumi.dev.yaml").read_text()
        self.assertNotIn("secure:", text)
        stack_config = yaml.safe_load(text)["config"]
        for key in stack_config:
            namespace, bare = key.split(":", 1)
            if namespace == "exo-automation":
                self.assertIn(bare, CONFIG_KEYS)
        # docs/scubagear.md: the example sets the default roles explicitly.
        settings = parse_settings({k.split(":", 1)[1]: v for k, v in config_for(stack_config).items()}, "dev", None, REPO)
        for identity in settings.identities:
            self.assertEqual(identity.role_names, (facts.DEFAULT_ROLE,), identity.name)
        if settings.automation is not None:
            self.assertEqual(settings.automation.role_names, facts.DEFAULT_MANAGED_IDENTITY_ROLES)
        planned, log = await preview_logged(MockTenant(), stack_config)
        self.assertEqual([record.getMessage() for record in log], [], "the preview warns about nothing")
        deployed = await evaluate(MockTenant(), preview=False, config=stack_config, stack="dev")
        for deployment in (planned, deployed):
            for registration in deployment.custom():
                self.assertEqual(check_registration(registration.type, registration.name, registration.inputs), [])
            self.assertEqual(violations(deployment), [], "Azure's naming and input rules")
            self.assertTrue(deployment.output("identities"))
        assigned = {a.plain_inputs["roleId"] for a in deployed.of_type("azuread:index/directoryRoleAssignment:DirectoryRoleAssignment")}
        self.assertEqual(assigned & set(facts.SCUBAGEAR_PRIVILEGED_ROLES.values()), set(), "no role ScubaGear calls privileged")
        self.assertEqual(deployed.output("scubaGearConfig")["privilegedAssignments"], [])
        if "automation" in deployed.outputs:
            runtime = facts.AUTOMATION_RUNTIMES[deployed.output("automation")["runtime"]]
            today = deployed.tenant.clock().date()
            self.assertTrue(facts.supported_on(runtime, today), f"{runtime.name} on {today}")


class Requirements(unittest.TestCase):
    def test_runtime_ranges_admit_the_sdk_versions_the_tests_ran_with(self) -> None:
        lines = [line.strip() for line in Path(REPO / "requirements.txt").read_text().splitlines()]
        requirements = [Requirement(line) for line in lines if line and not line.startswith("#")]
        names = {r.name for r in requirements}
        self.assertTrue({"pulumi", "pulumi-azuread", "pulumi-azure-native", "pulumi-tls"} <= names)
        for requirement in requirements:
            if requirement.marker is not None and not requirement.marker.evaluate():
                continue  # for another platform (tzdata on Windows)
            with self.subTest(requirement.name):
                self.assertIn(importlib.metadata.version(requirement.name), requirement.specifier)


# The provider plugins the engine downloads, named as the Python language host names them: pulumi-plugin.json's name and server,
# and its version, or else the package's own version (pulumi/pulumi sdk/python/cmd/pulumi-language-python/main.go,
# packageDependencyFromPluginJSON). pulumiverse-time's file has no version: its plugin follows the locked package.
PROVIDER_SDKS = {
    "pulumi-azure-native": ("azure-native", ""),
    "pulumi-azuread": ("azuread", ""),
    "pulumi-tls": ("tls", ""),
    "pulumiverse-time": ("time", "github://api.github.com/pulumiverse/pulumi-time"),
}


class ProviderPlugins(unittest.TestCase):
    def test_every_provider_plugin_version_is_pinned_by_the_hash_locked_sdk(self) -> None:
        lock = (REPO / "requirements.lock").read_text()
        for package, (plugin, server) in PROVIDER_SDKS.items():
            with self.subTest(package):
                version = importlib.metadata.version(package)
                self.assertRegex(lock, rf"(?m)^{re.escape(package)}=={re.escape(version)} \\\n    --hash=sha256:[0-9a-f]{{64}}")
                files = importlib.metadata.files(package) or []
                (manifest,) = [f for f in files if f.name == "pulumi-plugin.json"]
                declared = json.loads(manifest.read_text())
                self.assertTrue(declared["resource"])
                self.assertEqual((declared["name"], declared.get("server", "")), (plugin, server))
                # The plugin the engine fetches is this version: declared, or the package's (all four are plain X.Y.Z).
                self.assertEqual(declared.get("version", version), version)

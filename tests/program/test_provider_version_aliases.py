"""The program registers without azure-native's API-version aliases, and keeps every other alias and every URN."""

from __future__ import annotations

import inspect
import unittest
from pathlib import Path

import pulumi
from pulumi_azure_native import automation

from components.provider_version_aliases import is_provider_version_alias, without_provider_version_aliases
from tests.fixtures import automation_stack
from tests.harness import evaluate
from tests.mock_tenant import MockTenant

RUNBOOK = "azure-native:automation:Runbook"


class WhichAliases(unittest.TestCase):
    def test_only_another_api_version_of_the_same_type_is_dropped(self) -> None:
        self.assertTrue(is_provider_version_alias(pulumi.Alias(type_="azure-native:automation/v20151031:Runbook"), RUNBOOK))
        self.assertTrue(is_provider_version_alias(pulumi.Alias(type_="azure-native:automation/v20230515preview:Runbook"), RUNBOOK))
        kept = {
            "another resource's version": pulumi.Alias(type_="azure-native:automation/v20151031:Schedule"),
            "another module's version": pulumi.Alias(type_="azure-native:web/v20151031:Runbook"),
            "a rename of the type": pulumi.Alias(type_="azure-native:automation:RunBook"),
            "a version and a new name": pulumi.Alias(type_="azure-native:automation/v20151031:Runbook", name="old-name"),
            "a version under another parent": pulumi.Alias(
                type_="azure-native:automation/v20151031:Runbook", parent="urn:pulumi:a::b::c::d"
            ),
            "a version in another stack": pulumi.Alias(type_="azure-native:automation/v20151031:Runbook", stack="prod"),
            "a version in another project": pulumi.Alias(type_="azure-native:automation/v20151031:Runbook", project="old"),
            "a name only": pulumi.Alias(name="runbook-old"),
            "a URN": "urn:pulumi:dev::exo-automation::azure-native:automation/v20151031:Runbook::runbook",
        }
        for why, alias in kept.items():
            with self.subTest(why):
                self.assertFalse(is_provider_version_alias(alias, RUNBOOK))

    def test_the_transformation_leaves_a_registration_without_aliases_alone(self) -> None:
        args = pulumi.ResourceTransformationArgs(None, RUNBOOK, "runbook", {}, pulumi.ResourceOptions())  # type: ignore[arg-type]
        self.assertIsNone(without_provider_version_aliases(args))
        own = pulumi.ResourceOptions(aliases=[pulumi.Alias(name="runbook-old")])
        args = pulumi.ResourceTransformationArgs(None, RUNBOOK, "runbook", {}, own)  # type: ignore[arg-type]
        self.assertIsNone(without_provider_version_aliases(args), "nothing of the SDK's: the options are used as given")

    def test_the_transformation_keeps_the_rest_of_the_options(self) -> None:
        own = pulumi.Alias(name="runbook-old")
        versioned = pulumi.Alias(type_="azure-native:automation/v20241023:Runbook")
        opts = pulumi.ResourceOptions(aliases=[versioned, own], ignore_changes=["tags"], delete_before_replace=True)
        args = pulumi.ResourceTransformationArgs(None, RUNBOOK, "runbook", {"k": "v"}, opts)  # type: ignore[arg-type]
        result = without_provider_version_aliases(args)
        assert result is not None
        self.assertEqual(result.opts.aliases, [own])
        self.assertEqual(result.opts.ignore_changes, ["tags"])
        self.assertTrue(result.opts.delete_before_replace)
        self.assertEqual(result.props, {"k": "v"})
        self.assertEqual(opts.aliases, [versioned, own], "the caller's options are not changed")

    def test_the_sdk_still_adds_the_aliases_this_program_drops(self) -> None:
        """If azure-native stopped adding them, the transformation would be dead code: this says so."""
        text = Path(inspect.getfile(automation.Runbook)).read_text(encoding="utf-8")
        self.assertIn('pulumi.Alias(type_="azure-native:automation/v20151031:Runbook")', text)


class RegisteredAliases(unittest.IsolatedAsyncioTestCase):
    async def test_no_registration_of_an_automation_stack_carries_an_api_version_alias(self) -> None:
        for preview in (True, False):
            with self.subTest(preview=preview):
                deployment = await evaluate(MockTenant(), preview=preview, config=automation_stack())
                runbooks = deployment.of_type(RUNBOOK)
                self.assertEqual(len(runbooks), 2)
                self.assertEqual({alias for r in deployment.registrations for alias in r.aliases}, set())

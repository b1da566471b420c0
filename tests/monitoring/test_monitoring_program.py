"""The whole program with `automation.monitoring`: what it registers, what the alerts find in recorded rows, an existing (landing
zone) workspace, the config errors, and the update a month later."""

from __future__ import annotations

import copy
import datetime as dt
import json
import unittest
from typing import Any

from components import monitoring as component
from exo import facts
from tests import kql
from tests.fixtures import automation_stack
from tests.harness import Deployment, assert_refused_before_registration, evaluate
from tests.mock_tenant import (
    ACTION_GROUP,
    ALERT_RULE,
    DIAGNOSTIC_SETTING,
    SAVED_SEARCH,
    WORKBOOK,
    WORKSPACE,
    MockTenant,
    TenantError,
    comparable,
)
from tests.mock_tenant import MONITORING_TYPES as MOCK_MONITORING_TYPES
from tests.monitoring import recorded_rows as rec
from tests.monitoring.test_workbook import SCHEMA, schema_problems

MONITORING_TYPES = set(MOCK_MONITORING_TYPES)
KEY = "exo-automation:automation.monitoring"
MONITORING: dict[str, Any] = {"emails": ["exchange-admins@contoso.com", "oncall@contoso.com"], "webhookUrl": "https://hooks.example/exo"}


def monitoring_config(**overrides: Any) -> dict[str, Any]:
    return automation_stack(monitoring={**copy.deepcopy(MONITORING), **overrides})


def rules(deployment: Deployment) -> dict[str, dict[str, Any]]:
    return {r.plain_inputs["ruleName"]: r.plain_inputs for r in deployment.of_type(ALERT_RULE)}


def iso_minutes(duration: str) -> int:
    days = int(duration[1:].split("D")[0]) if "D" in duration else 0
    time = duration.split("T")[1] if "T" in duration else ""
    hours = int(time.split("H")[0]) if "H" in time else 0
    minutes = int(time.split("H")[-1].rstrip("M") or 0) if "M" in time else 0
    return days * 1440 + hours * 60 + minutes


class WithMonitoring(unittest.IsolatedAsyncioTestCase):
    async def test_off_unless_given(self) -> None:
        deployment = await evaluate(MockTenant(), preview=False, config=automation_stack())
        self.assertEqual({r.type for r in deployment.custom()} & MONITORING_TYPES, set())
        self.assertNotIn("monitoring", deployment.output("automation"))

    async def test_up_registers_logs_alerts_functions_and_workbook_and_exports_where_they_are(self) -> None:
        tenant = MockTenant()
        preview = await evaluate(tenant, preview=True, config=monitoring_config())
        self.assertEqual({r.type for r in preview.custom()} & MONITORING_TYPES, MONITORING_TYPES)
        deployment = await evaluate(tenant, preview=False, config=monitoring_config())
        workspace = deployment.one(WORKSPACE, "monitoring-workspace")
        self.assertEqual(workspace.plain_inputs["retentionInDays"], 30)
        self.assertEqual(deployment.of_type("pulumi:providers:azure-native"), [], "the stack's own workspace: the default provider")
        setting = deployment.one(DIAGNOSTIC_SETTING, "monitoring-job-logs").plain_inputs
        self.assertEqual([log["category"] for log in setting["logs"]], ["JobLogs", "JobStreams"])
        self.assertNotIn("logAnalyticsDestinationType", setting, "AzureDiagnostics, where Microsoft documents the job logs")
        self.assertEqual(setting["workspaceId"], workspace.outputs["id"])
        group = deployment.one(ACTION_GROUP, "monitoring-action-group").plain_inputs
        self.assertEqual([r["emailAddress"] for r in group["emailReceivers"]], MONITORING["emails"])
        self.assertEqual([r["serviceUri"] for r in group["webhookReceivers"]], [MONITORING["webhookUrl"]])
        self.assertEqual(
            sorted(s.plain_inputs["functionAlias"] for s in deployment.of_type(SAVED_SEARCH)),
            ["ExoForwardingFindings", "ExoMailboxPermissions", "ExoRbacReconcileSteps", "ExoReadFailures", "ExoRunSummaries"],
        )
        found = rules(deployment)
        summary = deployment.output("automation")["monitoring"]
        self.assertEqual(sorted(summary["alertRuleNames"]), sorted(found))
        self.assertEqual(summary["workspaceId"], workspace.outputs["id"])
        workbook = deployment.one(WORKBOOK, "monitoring-workbook")
        self.assertTrue(summary["workbookUrl"].startswith("https://portal.azure.com/#resource/subscriptions/"))
        self.assertTrue(summary["workbookUrl"].endswith(f"/workbooks/{workbook.plain_inputs['resourceName']}/workbook"))
        self.assertEqual(schema_problems(json.loads(workbook.plain_inputs["serializedData"]), SCHEMA, SCHEMA), [])
        self.assertEqual(workbook.plain_inputs["sourceId"], workspace.outputs["id"].lower())

        job_ended = found["exo-job-ended-aa-exo-automation-dev"]
        self.assertEqual((job_ended["severity"], job_ended["evaluationFrequency"], job_ended["windowSize"]), (2, "PT15M", "PT1H"))
        self.assertEqual([d["name"] for d in job_ended["criteria"]["allOf"][0]["dimensions"]], ["RunbookName", "JobId"])
        self.assertEqual(job_ended["actions"]["actionGroups"], [deployment.one(ACTION_GROUP, "monitoring-action-group").outputs["id"]])
        missing = {name: rule for name, rule in found.items() if "-missing-run-" in name}
        self.assertEqual(len(missing), 2, "the weekly report and the daily audit: one rule per schedule")
        for rule in missing.values():
            self.assertEqual(rule["severity"], 2)
            self.assertLessEqual(iso_minutes(rule["windowSize"]), 2 * 1440)
        self.assertIn("exo-certificate-expiry-aa-exo-automation-dev", found)

    async def test_the_registered_job_alert_fires_on_a_recorded_failure_and_not_on_a_completed_job(self) -> None:
        deployment = await evaluate(MockTenant(), preview=False, config=monitoring_config())
        query = rules(deployment)["exo-job-ended-aa-exo-automation-dev"]["criteria"]["allOf"][0]["query"]
        now = dt.datetime.now(dt.UTC)
        failed = rec.job_log(now - dt.timedelta(minutes=5), "ForwardingAudit", rec.job_id("f"), "Failed")
        completed = rec.job_log(now - dt.timedelta(minutes=5), "ForwardingAudit", rec.job_id("c"), "Completed")
        found = kql.run(query, {"AzureDiagnostics": [failed, completed]}, now)
        self.assertEqual([(r["RunbookName"], r["JobId"]) for r in found], [("ForwardingAudit", rec.job_id("f"))])
        self.assertEqual(kql.run(query, {"AzureDiagnostics": [completed]}, now), [])

    async def test_the_reconciler_gets_a_drift_rule_and_an_hourly_fitting_grace(self) -> None:
        config = monitoring_config()
        config["exo-automation:identities"] = [
            {"name": "exo"},
            {"name": "sales", "exchangeRbac": {"roles": ["View-Only Recipients"], "recipientScope": {"filter": "Department -eq 'Sales'"}}},
        ]
        # The reconciler runs as the managed identity and needs Exchange Administrator (not in its default roles).
        config["exo-automation:automation"]["roles"] = ["Exchange Administrator"]
        deployment = await evaluate(MockTenant(), preview=False, config=config)
        found = rules(deployment)
        self.assertEqual(found["exo-rbac-drift-aa-exo-automation-dev"]["severity"], 3)
        hourly = [rule for name, rule in found.items() if "-missing-run-hour-" in name]
        self.assertEqual(len(hourly), 1)
        self.assertIn("now() - 45m", hourly[0]["criteria"]["allOf"][0]["query"])

    async def test_a_month_later_nothing_changes_and_a_rule_deleted_by_hand_comes_back(self) -> None:
        moment = [dt.datetime.now(dt.UTC)]
        tenant = MockTenant(clock=lambda: moment[0])
        first = await evaluate(tenant, preview=False, config=monitoring_config())
        moment[0] += dt.timedelta(days=31)
        later = await evaluate(tenant, preview=False, config=monitoring_config())
        before = {(r.type, r.name): comparable(r.inputs) for r in first.custom() if r.type in MONITORING_TYPES}
        after = {(r.type, r.name): comparable(r.inputs) for r in later.custom() if r.type in MONITORING_TYPES}
        self.assertEqual(before, after)
        tenant.delete_outside_pulumi(ALERT_RULE, "monitoring-job-ended")
        again = await evaluate(tenant, preview=False, config=monitoring_config())
        self.assertEqual(len(again.of_type(ALERT_RULE)), len(later.of_type(ALERT_RULE)))


class LandingZoneWorkspace(unittest.IsolatedAsyncioTestCase):
    """Deploy-Diagnostics-AA already sends the account's logs to the platform workspace."""

    async def test_pointing_at_the_platform_workspace_without_a_second_setting(self) -> None:
        tenant = MockTenant()
        platform = tenant.add_workspace("rg-platform-logs", "law-platform")
        config = monitoring_config(workspaceId=platform, diagnosticSetting=False)
        first = await evaluate(tenant, preview=False, config=config)
        account_id = first.output("automation")["accountId"]
        # The policy's DeployIfNotExists adds its own setting once the account exists.
        tenant.add_diagnostic_setting(account_id, facts.ALZ_DIAGNOSTICS_PROFILE_NAME, platform, facts.ALZ_AUTOMATION_LOG_CATEGORIES)
        deployment = await evaluate(tenant, preview=False, config=config)
        self.assertEqual(deployment.of_type(WORKSPACE) + deployment.of_type(DIAGNOSTIC_SETTING), [])
        self.assertEqual({s.plain_inputs["workspaceName"] for s in deployment.of_type(SAVED_SEARCH)}, {"law-platform"})
        self.assertEqual({s.plain_inputs["resourceGroupName"] for s in deployment.of_type(SAVED_SEARCH)}, {"rg-platform-logs"})
        self.assertEqual({tuple(r["scopes"]) for r in rules(deployment).values()}, {(platform,)})
        self.assertEqual(deployment.output("automation")["monitoring"]["workspaceId"], platform)
        # Saved searches are children of the workspace: they go through a provider of the workspace's own subscription (a landing
        # zone keeps it in the Management subscription), in the stack's cloud; nothing else uses that provider.
        (provider,) = deployment.of_type("pulumi:providers:azure-native")
        self.assertEqual(provider.plain_inputs["subscriptionId"], platform.split("/")[2])
        self.assertEqual(provider.plain_inputs["environment"], "public")
        through = {r.type for r in deployment.registrations if r.provider.startswith(f"{provider.urn}::")}
        self.assertEqual(through, {SAVED_SEARCH})
        self.assertEqual(len(deployment.of_type(SAVED_SEARCH)), len([r for r in deployment.of_type(SAVED_SEARCH) if r.provider]))

    async def test_a_second_setting_to_the_same_workspace_collides(self) -> None:
        tenant = MockTenant()
        platform = tenant.add_workspace("rg-platform-logs", "law-platform")
        first = await evaluate(tenant, preview=False, config=monitoring_config(workspaceId=platform, diagnosticSetting=False))
        account_id = first.output("automation")["accountId"]
        tenant.add_diagnostic_setting(account_id, facts.ALZ_DIAGNOSTICS_PROFILE_NAME, platform, facts.ALZ_AUTOMATION_LOG_CATEGORIES)
        with self.assertRaisesRegex(TenantError, "already used in diagnostic setting 'setbypolicy'"):
            await evaluate(tenant, preview=False, config=monitoring_config(workspaceId=platform))


class ConfigErrors(unittest.IsolatedAsyncioTestCase):
    async def refused(self, overrides: dict[str, Any], key: str, phrase: str, config: dict[str, Any] | None = None) -> None:
        await assert_refused_before_registration(self, MockTenant(), config or monitoring_config(**overrides), key, phrase)

    async def test_a_bad_email(self) -> None:
        await self.refused({"emails": ["ops@contoso.com", "ops at contoso"]}, f"{KEY}.emails[1]", "is not an email address")
        await self.refused({"emails": []}, f"{KEY}.emails", "at least one address")
        await self.refused({"emails": ["a@contoso.com", "A@contoso.com"]}, f"{KEY}.emails[1]", "already listed")

    async def test_a_workspace_id_of_the_wrong_type(self) -> None:
        storage = f"/subscriptions/{rec.SUBSCRIPTION}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/stlogs"
        await self.refused({"workspaceId": storage}, f"{KEY}.workspaceId", "names a Microsoft.Storage/storageAccounts resource")
        await self.refused({"workspaceId": "8f3c1c1e-0c1d-4a8e-9a64-5c7b2b1d0e9f"}, f"{KEY}.workspaceId", "is not a resource id")

    async def test_a_grace_period_not_shorter_than_a_schedule_interval(self) -> None:
        # The dev stack's daily audit runs every 24 hours (23 across a daylight saving change).
        await self.refused(
            {"missingRunGraceMinutes": 1400},
            f"{KEY}.missingRunGraceMinutes",
            "is not shorter than the interval of runbook 'ForwardingAudit' (exo-automation:automation.runbooks[1].schedule",
        )
        config = monitoring_config(missingRunGraceMinutes=90)
        config["exo-automation:identities"] = [
            {"name": "exo"},
            {"name": "sales", "exchangeRbac": {"roles": ["View-Only Recipients"], "recipientScope": {"filter": "Department -eq 'Sales'"}}},
        ]
        # The reconciler runs as the managed identity and needs Exchange Administrator (not in its default roles).
        config["exo-automation:automation"]["roles"] = ["Exchange Administrator"]
        await self.refused({}, f"{KEY}.missingRunGraceMinutes", "exchangeRbacSync.schedule", config=config)

    async def test_other_mistakes(self) -> None:
        await self.refused({"diagnosticSetting": False}, f"{KEY}.diagnosticSetting", "set workspaceId to that workspace")
        platform = f"/subscriptions/{rec.SUBSCRIPTION}/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/law"
        await self.refused({"workspaceId": platform, "retentionDays": 90}, f"{KEY}.retentionDays", "existing one")
        await self.refused({"retentionDays": 7}, f"{KEY}.retentionDays", "must be from 30 to 730")
        await self.refused({"webhookUrl": "http://hooks.example"}, f"{KEY}.webhookUrl", "https://")
        await self.refused({"emial": ["x@contoso.com"]}, KEY, "unknown setting(s) emial")
        await self.refused({"workspaceName": "log_exo"}, f"{KEY}.workspaceName", "is not a valid workspace name")


class Warnings(unittest.TestCase):
    def test_a_report_without_json_lines_is_named_at_preview(self) -> None:
        from settings.stack import parse_settings

        def warnings(config: dict[str, Any]) -> tuple[str, ...]:
            raw = {key.split(":", 1)[1]: value if isinstance(value, str) else json.dumps(value) for key, value in config.items()}
            return parse_settings(raw, "dev", None, now=dt.datetime.now(dt.UTC)).warnings

        self.assertEqual(warnings(monitoring_config()), ())
        config = monitoring_config()
        del config["exo-automation:automation"]["runbooks"][1]["parameters"]["OutputFormat"]
        (warning,) = warnings(config)
        self.assertIn("runbooks[1] (ForwardingAudit) writes its default output", warning)
        self.assertEqual(warnings(automation_stack()), (), "no monitoring, no warning")


class Constants(unittest.TestCase):
    def test_severities_follow_the_issue(self) -> None:
        self.assertEqual((component.JOB_ENDED_SEVERITY, component.MISSING_RUN_SEVERITY, component.DRIFT_SEVERITY), (2, 2, 3))
        self.assertEqual((component.JOB_ENDED_EVERY_MINUTES, component.JOB_ENDED_WINDOW_MINUTES), (15, 60))

"""The runbook lifecycle on an API that behaves like Azure's: deploy, let time pass, edit, fail, retry, delete by hand, deploy again.

The mock tenant refuses what Automation refuses (a content link that is expired, not yet valid or signed with another key, at
the moment of any Runbook PUT; a schedule starting less than 5 minutes ahead), drops a runbook's job schedules when it is
re-published, and imports modules asynchronously. One clock per test, moved between runs.
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
import unittest
from collections.abc import Callable
from typing import Any

from components.module_import import failure_message
from exo import facts
from tests.fixtures import automation_stack
from tests.harness import REPO, Deployment, evaluate, preview_logged
from tests.mock_tenant import JOB_SCHEDULE, RUNBOOK, SCHEDULE, MockTenant, TenantError, is_unknown

START = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)
BLOB = "azure-native:storage:Blob"
SAS = "azure-native:storage:listStorageAccountServiceSAS"


class Clock:
    """The one clock of a test: the tenant and the program read it; the test moves it."""

    def __init__(self, start: dt.datetime = START) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


def runbooks(config: dict[str, Any]) -> list[dict[str, Any]]:
    return config["exo-automation:automation"]["runbooks"]


def changes(before: Deployment, after: Deployment) -> set[str]:
    """Resources whose inputs the engine would diff as changed (or that are new) between two evaluations."""
    old = {(r.type, r.name): r.diffable() for r in before.registrations}
    return {r.name for r in after.registrations if old.get((r.type, r.name)) != r.diffable()}


def assert_every_scheduled_runbook_is_linked(case: unittest.TestCase, tenant: MockTenant, config: dict[str, Any]) -> None:
    for runbook in runbooks(config):
        if "schedule" in runbook:
            jobs = tenant.job_schedules_of(runbook["name"])
            case.assertEqual(len(jobs), 1, f"{runbook['name']} has {len(jobs)} job schedules in Azure")
            case.assertEqual(jobs[0]["parameters"]["Organization"], tenant.initial_domain, "parameters intact")
            for key, value in runbook.get("parameters", {}).items():
                case.assertEqual(str(jobs[0]["parameters"][key]).lower(), str(value).lower())


class LinksUnderUpdates(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self) -> None:
        self.clock = Clock()
        self.tenant = MockTenant(clock=self.clock)
        self.config = automation_stack()
        await evaluate(self.tenant, preview=False, config=self.config)

    async def test_a_description_edited_weeks_later_publishes_with_a_valid_link(self) -> None:
        self.clock.advance(days=40)
        runbooks(self.config)[0]["description"] = "Re-described weeks after the first deployment"
        await evaluate(self.tenant, preview=False, config=self.config)
        assert_every_scheduled_runbook_is_linked(self, self.tenant, self.config)

    async def test_tags_changed_months_later_across_a_renewal_publish_with_a_valid_link(self) -> None:
        for months in range(1, 13):
            with self.subTest(months=months):
                self.clock.advance(days=31)
                self.config["exo-automation:automation"]["tags"] = {"environment": "dev", "month": str(months)}
                await evaluate(self.tenant, preview=False, config=self.config)
                assert_every_scheduled_runbook_is_linked(self, self.tenant, self.config)

    async def test_a_rotated_storage_key_and_a_later_edit_still_publish(self) -> None:
        before = await evaluate(self.tenant, preview=True, config=self.config)
        self.clock.advance(days=10)
        self.tenant.rotate_storage_key()
        preview = await evaluate(self.tenant, preview=True, config=self.config)
        re_signed = {r.name for r in preview.of_type(RUNBOOK)}
        self.assertEqual(changes(before, preview) & re_signed, re_signed, "the links are signed with the new key")
        await evaluate(self.tenant, preview=False, config=self.config)
        self.clock.advance(days=20)
        runbooks(self.config)[1]["description"] = "Edited after a key rotation"
        await evaluate(self.tenant, preview=False, config=self.config)
        assert_every_scheduled_runbook_is_linked(self, self.tenant, self.config)

    async def test_an_unchanged_stack_previews_without_a_diff_weeks_later(self) -> None:
        deployed = await evaluate(self.tenant, preview=True, config=self.config)
        for days in (1, 30, 80):
            with self.subTest(days=days):
                self.clock.now = START + dt.timedelta(days=days)
                preview = await evaluate(self.tenant, preview=True, config=self.config)
                self.assertEqual(changes(deployed, preview), set())

    async def test_at_a_renewal_only_the_links_change_and_the_update_goes_through(self) -> None:
        before = await evaluate(self.tenant, preview=True, config=self.config)
        self.clock.advance(days=180)
        renewal = await evaluate(self.tenant, preview=True, config=self.config)
        self.assertEqual(
            changes(before, renewal),
            {f"runbook-{name}-{part}" for name in ("mailboxpermissionreport", "forwardingaudit") for part in ("runbook", "job-schedule")},
        )
        await evaluate(self.tenant, preview=False, config=self.config)
        assert_every_scheduled_runbook_is_linked(self, self.tenant, self.config)


class RetriesAndManualDeletes(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self) -> None:
        self.clock = Clock()
        self.tenant = MockTenant(clock=self.clock)
        self.config = automation_stack()

    async def retry_after_failure(self, failing_type: str, days_later: float) -> Deployment:
        self.tenant.fail_next(failing_type, "InternalServerError (transient)")
        with self.assertRaisesRegex(Exception, "transient"):
            await evaluate(self.tenant, preview=False, config=self.config)
        self.clock.advance(days=days_later)
        return await evaluate(self.tenant, preview=False, config=self.config)

    async def test_a_retry_days_after_a_failed_first_up_creates_schedules_in_the_future(self) -> None:
        deployment = await self.retry_after_failure(SCHEDULE, days_later=3)
        self.assertEqual(len(self.tenant.schedules), len(deployment.of_type(SCHEDULE)))
        created_in_retry = [s for s in self.tenant.schedules.values() if s["created"] == self.clock.now]
        self.assertGreaterEqual(len(created_in_retry), 1)
        for schedule in created_in_retry:
            self.assertGreaterEqual(dt.datetime.fromisoformat(schedule["startTime"]), self.clock.now + dt.timedelta(minutes=5))
        assert_every_scheduled_runbook_is_linked(self, self.tenant, self.config)

    async def test_a_retry_days_after_a_failed_runbook_publishes_with_a_valid_link(self) -> None:
        await self.retry_after_failure(RUNBOOK, days_later=3)
        assert_every_scheduled_runbook_is_linked(self, self.tenant, self.config)

    async def test_a_schedule_deleted_by_hand_is_restored_in_the_future_with_its_job_schedules(self) -> None:
        first = await evaluate(self.tenant, preview=False, config=self.config)
        self.clock.advance(days=12)
        for schedule in first.of_type(SCHEDULE):
            self.tenant.delete_outside_pulumi(SCHEDULE, schedule.name)
        self.assertEqual(self.tenant.job_schedules, {}, "Azure deletes a schedule's job schedules with it")
        restored = await evaluate(self.tenant, preview=False, config=self.config)
        for schedule in restored.of_type(SCHEDULE):
            self.assertGreaterEqual(dt.datetime.fromisoformat(schedule.outputs["startTime"]), self.clock.now + dt.timedelta(minutes=5))
        assert_every_scheduled_runbook_is_linked(self, self.tenant, self.config)

    async def test_a_runbook_or_blob_deleted_by_hand_is_restored_weeks_later(self) -> None:
        first = await evaluate(self.tenant, preview=False, config=self.config)
        self.clock.advance(days=25)
        self.tenant.delete_outside_pulumi(RUNBOOK, "runbook-forwardingaudit-runbook")
        self.tenant.delete_outside_pulumi(BLOB, "runbook-mailboxpermissionreport-content")
        await evaluate(self.tenant, preview=False, config=self.config)
        self.assertEqual(len(self.tenant.runbooks), len(first.of_type(RUNBOOK)))
        self.clock.advance(days=3)
        runbooks(self.config)[0]["description"] = "Edited after its blob was restored"
        await evaluate(self.tenant, preview=False, config=self.config)
        assert_every_scheduled_runbook_is_linked(self, self.tenant, self.config)


class JobSchedulesSurviveRepublishing(unittest.IsolatedAsyncioTestCase):
    async def test_a_content_edit_republishes_that_runbook_and_re_creates_its_job_schedule(self) -> None:
        clock = Clock()
        tenant = MockTenant(clock=clock)
        config = automation_stack()
        first = await evaluate(tenant, preview=False, config=config)
        clock.advance(days=2)
        original = REPO / "runbooks" / "Invoke-ForwardingAudit.ps1"
        edited = REPO / "runbooks" / "Invoke-ForwardingAudit.lifecycle-test.ps1"
        try:
            edited.write_bytes(original.read_bytes() + b"\n# an edit\n")
            runbooks(config)[1]["file"] = f"runbooks/{edited.name}"
            second = await evaluate(tenant, preview=False, config=config)
            changed = changes(first, second)
        finally:
            edited.unlink()
        self.assertEqual(
            changed, {"runbook-forwardingaudit-content", "runbook-forwardingaudit-runbook", "runbook-forwardingaudit-job-schedule"}
        )
        job = second.one(JOB_SCHEDULE, "runbook-forwardingaudit-job-schedule")
        self.assertTrue(job.delete_before_replace)
        assert_every_scheduled_runbook_is_linked(self, tenant, config)

    async def test_a_schedule_edit_touches_only_its_schedule_and_the_links_to_it(self) -> None:
        tenant = MockTenant(clock=Clock())
        config = automation_stack()
        first = await evaluate(tenant, preview=False, config=config)
        runbooks(config)[0]["schedule"]["time"] = "07:00"
        second = await evaluate(tenant, preview=False, config=config)
        changed = changes(first, second)
        self.assertEqual(changed & {r.name for r in second.of_type(RUNBOOK)}, set(), "no runbook is republished")
        schedules = {r.name for r in second.of_type(SCHEDULE)}
        # The schedules' one anchor is renewed with their set, so that the new Schedule's start is open in the plan.
        self.assertEqual(changed - schedules, {"schedule-created", "runbook-mailboxpermissionreport-job-schedule"})
        kept = schedules & {r.name for r in first.of_type(SCHEDULE)}
        self.assertEqual(len(kept), 1, "the other runbook's Schedule is still there")
        self.assertEqual(changed & kept, set(), "and unchanged: the renewed anchor moves no start that exists")
        assert_every_scheduled_runbook_is_linked(self, tenant, config)


class ApprovedPlans(unittest.IsolatedAsyncioTestCase):
    """The deploy workflow applies the plan a preview saved (`preview --save-plan`, approved, then `up --plan`, minutes or hours
    later): a value the preview computed from its own clock would differ at deploy time and break the plan ("violates plan")."""

    async def test_a_new_schedule_leaves_its_start_open_in_the_plan(self) -> None:
        clock = Clock()
        tenant = MockTenant(clock=clock)
        config = automation_stack()
        preview = await evaluate(tenant, preview=True, config=config)
        self.assertTrue(preview.of_type(SCHEDULE))
        self.assertTrue(all(is_unknown(s.inputs["startTime"]) for s in preview.of_type(SCHEDULE)))
        deployed = await evaluate(tenant, preview=False, config=config)
        # A schedule edit on the deployed stack: the new Schedule's start is again left open; the unchanged ones keep theirs.
        clock.advance(days=3)
        runbooks(config)[0]["schedule"]["time"] = "07:00"
        edited = await evaluate(tenant, preview=True, config=config)
        stored = {key[1] for key in tenant.state if key[0] == SCHEDULE}
        new = [s for s in edited.of_type(SCHEDULE) if s.name not in stored]
        self.assertEqual(len(new), 1)
        self.assertTrue(is_unknown(new[0].inputs["startTime"]))
        # The Schedule that stays ignores its start, now unknown too (the anchor is renewed): the plan shows no change to it.
        unchanged = [s for s in edited.of_type(SCHEDULE) if s.name in stored]
        self.assertEqual(len(unchanged), 1)
        self.assertEqual(unchanged[0].ignore_changes, ["startTime"])
        self.assertNotIn(unchanged[0].name, changes(deployed, edited))

    async def test_a_moved_account_leaves_its_new_schedules_start_open_in_the_plan(self) -> None:
        """The account's scope is part of a Schedule's logical name (a move makes new Schedules): it renews the anchor too."""
        clock = Clock()
        tenant = MockTenant(clock=clock)
        config = automation_stack()
        await evaluate(tenant, preview=False, config=config)
        clock.advance(days=3)
        config["exo-automation:automation"]["location"] = "northeurope"
        moved = await evaluate(tenant, preview=True, config=config)
        stored = {key[1] for key in tenant.state if key[0] == SCHEDULE}
        new = [s for s in moved.of_type(SCHEDULE) if s.name not in stored]
        self.assertEqual(len(new), len(moved.of_type(SCHEDULE)), "every Schedule of the moved account is new")
        self.assertTrue(new)
        self.assertTrue(all(is_unknown(s.inputs["startTime"]) for s in new), [s.inputs["startTime"] for s in new])

    async def test_the_deploy_hours_after_the_plan_still_starts_the_schedule_in_the_future(self) -> None:
        clock = Clock()
        tenant = MockTenant(clock=clock)
        config = automation_stack()
        await evaluate(tenant, preview=True, config=config)
        clock.advance(hours=5)  # the approval took a while
        deployed = await evaluate(tenant, preview=False, config=config)
        for schedule in deployed.of_type(SCHEDULE):
            start = dt.datetime.fromisoformat(schedule.plain_inputs["startTime"])
            self.assertGreaterEqual(start, clock() + dt.timedelta(minutes=5))


class FailedModuleImports(unittest.IsolatedAsyncioTestCase):
    async def preview_logs(self, tenant: MockTenant, config: dict[str, Any]) -> tuple[Deployment, list[str]]:
        """A preview, and the errors the program logged."""
        deployment, records = await preview_logged(tenant, config, logging.ERROR)
        return deployment, [r.getMessage() for r in records]

    async def test_a_failed_package_import_is_reported_by_the_next_preview_naming_it(self) -> None:
        for runtime, label in (("PowerShell-7.4", "package"), ("WindowsPowerShell-5.1", "module"), ("PowerShell-7.2", "module")):
            with self.subTest(runtime):
                tenant = MockTenant(clock=Clock())
                config = automation_stack(runtime=runtime)
                del config["exo-automation:automation"]["exchangeModuleVersion"]
                await evaluate(tenant, preview=False, config=config)
                tenant.finish_imports(failed={"ExchangeOnlineManagement": "Module import failed: could not load the assembly"})
                deployment, errors = await self.preview_logs(tenant, config)
                self.assertEqual(len(errors), 1, errors)
                self.assertIn(f"import of {label} ExchangeOnlineManagement", errors[0])
                self.assertIn("could not load the assembly", errors[0])
                self.assertEqual(deployment.output("automation")["exchangeModuleImport"], "Failed")

    async def test_after_a_refresh_the_stored_state_reports_it_without_a_call(self) -> None:
        tenant = MockTenant(clock=Clock())
        config = automation_stack()
        await evaluate(tenant, preview=False, config=config)
        tenant.finish_imports(failed={"ExchangeOnlineManagement": "gallery unreachable"})
        tenant.refresh()
        _deployment, errors = await self.preview_logs(tenant, config)
        self.assertEqual(len(errors), 1, errors)
        self.assertFalse(any(token.endswith(":getPackage") for token, _ in tenant.calls))

    async def test_a_preview_that_changes_the_version_re_imports_instead_of_failing(self) -> None:
        tenant = MockTenant(clock=Clock())
        config = automation_stack()
        await evaluate(tenant, preview=False, config=config)
        tenant.finish_imports(failed={"ExchangeOnlineManagement": "could not load the assembly"})
        config["exo-automation:automation"]["exchangeModuleVersion"] = "3.7.2"
        _deployment, errors = await self.preview_logs(tenant, config)
        self.assertEqual(errors, [], "the update imports the module again; its old state is not this preview's concern")

    def test_the_message_names_the_module_the_account_the_error_and_the_fix(self) -> None:
        message = failure_message("package", "ExchangeOnlineManagement", "aa-exo", "Cancelled", {"code": "Timeout"}, "urn:x")
        assert message is not None
        for part in ("package ExchangeOnlineManagement", "aa-exo", "Cancelled: Timeout", "pulumi up --replace 'urn:x'"):
            self.assertIn(part, message)
        self.assertIsNone(failure_message("module", "ExchangeOnlineManagement", "aa-exo", "Succeeded", {}, "urn:x"))
        self.assertIsNone(failure_message("module", "ExchangeOnlineManagement", "aa-exo", "ContentDownloaded", None, "urn:x"))

    async def test_a_successful_import_reports_nothing(self) -> None:
        tenant = MockTenant(clock=Clock())
        config = automation_stack()
        await evaluate(tenant, preview=False, config=config)
        tenant.finish_imports()
        deployment, errors = await self.preview_logs(tenant, config)
        self.assertEqual(errors, [])
        self.assertEqual(deployment.output("automation")["exchangeModuleImport"], "Succeeded")


def many_runbooks(count: int) -> dict[str, Any]:
    config = automation_stack()
    shipped = runbooks(config)
    entries = []
    for index in range(count):
        entry = copy.deepcopy(shipped[index % len(shipped)])
        entry["name"] = f"{entry['name']}{index:03d}"
        if index % 3 == 0:
            entry["schedule"]["time"] = f"{index % 24:02d}:15"
        entries.append(entry)
    config["exo-automation:automation"]["runbooks"] = entries
    return config


class InvokesPerPreview(unittest.IsolatedAsyncioTestCase):
    async def invokes(self, config: dict[str, Any], after: Callable[[MockTenant], None]) -> int:
        tenant = MockTenant(clock=Clock())
        await evaluate(tenant, preview=False, config=config)
        after(tenant)
        await evaluate(tenant, preview=True, config=config)
        return len(tenant.calls)

    async def test_at_most_five_invokes_per_preview_at_100_runbooks(self) -> None:
        def refreshed(tenant: MockTenant) -> None:
            tenant.finish_imports()
            tenant.refresh()

        two = await self.invokes(automation_stack(), refreshed)
        hundred = await self.invokes(many_runbooks(100), refreshed)
        self.assertLessEqual(hundred, 5)
        self.assertEqual(two, hundred, "flat in the number of runbooks")

    async def test_one_extra_call_per_module_whose_stored_import_state_is_not_final(self) -> None:
        # The dev stack's Windows PowerShell 5.1 imports ExchangeOnlineManagement and its two companions (PowerShellGet,
        # PackageManagement): each asks Azure once until a refresh stores a final state.
        imports = 1 + len(facts.EXCHANGE_MODULE_COMPANIONS)
        self.assertEqual(await self.invokes(many_runbooks(100), lambda _tenant: None), 5 + imports)


class MockTenantRefusals(unittest.IsolatedAsyncioTestCase):
    """The mock holds the program to the API: it must refuse what Automation refuses."""

    async def test_an_expired_or_foreign_link_and_a_past_start_are_refused(self) -> None:
        clock = Clock()
        tenant = MockTenant(clock=clock)
        config = automation_stack()
        await evaluate(tenant, preview=False, config=config)
        (runbook,) = [s for (t, n), s in tenant.state.items() if t == RUNBOOK and n == "runbook-forwardingaudit-runbook"]
        link = dict(runbook.inputs["publishContentLink"])
        clock.advance(days=400)
        with self.assertRaisesRegex(TenantError, "content link.*AuthenticationFailed"):
            tenant._check_link("ForwardingAudit", link)  # pyright: ignore[reportPrivateUsage]
        clock.now = START
        tenant.rotate_storage_key()
        with self.assertRaisesRegex(TenantError, "signature"):
            tenant._check_link("ForwardingAudit", link)  # pyright: ignore[reportPrivateUsage]
        (schedule,) = [s for (t, _n), s in tenant.state.items() if t == SCHEDULE][:1]
        tenant.schedules.clear()
        with self.assertRaisesRegex(TenantError, "at least 5 minutes"):
            tenant._schedule("s", {**schedule.inputs, "startTime": (START + dt.timedelta(minutes=4)).isoformat()})  # pyright: ignore[reportPrivateUsage]

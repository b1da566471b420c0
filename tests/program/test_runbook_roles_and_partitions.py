"""Least privilege per runbook and partitioned runs, as the program enforces them at preview and schedules them.

Each runbook names the Entra roles that can run it (`# exo-automation:roles` line); the program refuses a runbook on an account whose
identity lacks them, with one error naming the runbook and the missing role, before any resource is registered. `partitions: N` on a
runbook gives N schedules and N job schedules, job i passing -PartitionCount N -PartitionIndex i.
"""

from __future__ import annotations

import datetime as dt
import re
import unittest
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from exo import facts, partition_model
from exo.powershell_script import RoleDeclaration, read_role_declaration
from exo.schedule_time import Schedule
from settings.automation import (
    PARTITION_COUNT_PARAMETER,
    PARTITION_INDEX_PARAMETER,
    PARTITIONS_RANGE,
    missing_roles,
    parse_automation,
)
from settings.values import ConfigError
from tests.fixtures import AUDIT_INDEX, automation_settings, automation_stack
from tests.harness import REPO, evaluate
from tests.mock_tenant import MockTenant
from tests.powershell import parse_file

KEY = "exo-automation:automation"
SCHEDULE = "azure-native:automation:Schedule"
JOB_SCHEDULE = "azure-native:automation:JobSchedule"


def parse(value: dict[str, Any]) -> Any:
    return parse_automation(KEY, value, stack="dev", project_dir=REPO, allow_global_administrator=True)


@contextmanager
def scratch_runbook(text: str) -> Iterator[str]:
    """A runbook file that exists only for one test (the program reads runbooks from the repo's runbooks/ folder)."""
    path = REPO / "runbooks" / "Scratch.test-only.ps1"
    path.write_text(text, encoding="utf-8")
    try:
        yield f"runbooks/{path.name}"
    finally:
        path.unlink()


READER_HEADER = '# exo-automation:roles {"anyOf": [["Global Reader"]], "reason": "reads only"}\n'
PLAIN_PARAMS = "param([Parameter(Mandatory)][string] $Organization)\n'x'\n"


class RoleDeclarations(unittest.TestCase):
    def test_every_shipped_runbook_declares_supported_roles_with_a_reason(self) -> None:
        from tests.runbooks.conftest import MAILBOX_RUNBOOK_FILES

        # The runbooks that walk every mailbox take partitions; the Exchange RBAC reconciler reads only what its stack owns.
        for path in MAILBOX_RUNBOOK_FILES:
            with self.subTest(path.name):
                declaration = read_role_declaration(path.read_text(encoding="utf-8"))
                assert declaration is not None, f"{path.name} has no exo-automation:roles line"
                self.assertTrue(declaration.reason.strip())
                for group in declaration.any_of:
                    self.assertTrue(set(group) <= set(facts.ROLES), f"{group} names a role outside exo/facts.py")

    def test_global_reader_alone_cannot_run_the_forwarding_audit(self) -> None:
        # Get-InboxRule "doesn't work for ... the Global Reader role" (office-docs-powershell Get-InboxRule.md).
        declaration = read_role_declaration((REPO / "runbooks" / "Invoke-ForwardingAudit.ps1").read_text(encoding="utf-8"))
        assert declaration is not None
        self.assertTrue(missing_roles(declaration, {"Global Reader"}))
        self.assertIn("Get-InboxRule", declaration.reason)
        self.assertEqual(missing_roles(declaration, {"Exchange Administrator"}), ())
        self.assertEqual(missing_roles(declaration, {"Exchange Recipient Administrator", "Global Reader"}), ())
        self.assertEqual(missing_roles(declaration, {"Global Administrator"}), ())

    def test_the_fewest_missing_roles_are_named(self) -> None:
        declaration = RoleDeclaration((("A", "B", "C"), ("Exchange Recipient Administrator", "Global Reader")), "r")
        self.assertEqual(missing_roles(declaration, {"Global Reader"}), ("Exchange Recipient Administrator",))

    def test_malformed_lines_are_refused(self) -> None:
        for text in (
            '# exo-automation:roles {"anyOf": [], "reason": "x"}',
            '# exo-automation:roles {"anyOf": [["Global Reader"]]}',
            "# exo-automation:roles Global Reader",
            READER_HEADER * 2,
        ):
            with self.subTest(text), self.assertRaises(ValueError):
                read_role_declaration(text)


class RoleEnforcement(unittest.IsolatedAsyncioTestCase):
    async def test_an_identity_that_cannot_run_a_runbook_is_refused_at_preview_naming_runbook_and_role(self) -> None:
        tenant = MockTenant()
        with self.assertRaises(ConfigError) as caught:
            await evaluate(tenant, preview=True, config={KEY: {**automation_settings(), "roles": ["Global Reader"]}})
        self.assertEqual(caught.exception.key, f"{KEY}.roles")
        self.assertIn("'ForwardingAudit'", caught.exception.problem)
        self.assertRegex(caught.exception.problem, r"missing (Exchange Administrator|Exchange Recipient Administrator)")
        self.assertIn("Get-InboxRule", caught.exception.problem)
        self.assertEqual((tenant.registrations, tenant.calls), ([], []))

    async def test_least_privileged_pair_runs_both_shipped_runbooks(self) -> None:
        tenant = MockTenant()
        config = {KEY: {**automation_settings(), "roles": ["Exchange Recipient Administrator", "Global Reader"]}}
        deployment = await evaluate(tenant, preview=True, config=config)
        self.assertEqual(len(deployment.of_type(JOB_SCHEDULE)), 2)

    def test_a_runbook_without_a_roles_line_or_with_an_unknown_role_names_its_file_key(self) -> None:
        for text, phrase in (
            (PLAIN_PARAMS, "declares no Entra roles"),
            ('# exo-automation:roles {"anyOf": [["Mailbox Wizard"]], "reason": "x"}\n' + PLAIN_PARAMS, "'Mailbox Wizard'"),
            ('# exo-automation:roles {"anyOf": "Global Reader"}\n' + PLAIN_PARAMS, "anyOf"),
        ):
            with self.subTest(phrase), scratch_runbook(text) as file:
                value = automation_settings()
                value["runbooks"][0]["file"] = file
                value["runbooks"][0]["parameters"] = {}
                with self.assertRaises(ConfigError) as caught:
                    parse(value)
                self.assertEqual(caught.exception.key, f"{KEY}.runbooks[0].file")
                self.assertIn(phrase, caught.exception.problem)


class PartitionConfig(unittest.TestCase):
    def test_bad_partitions_name_the_key(self) -> None:
        low, high = PARTITIONS_RANGE
        cases: list[tuple[dict[str, Any], str, str]] = [
            ({"partitions": low - 1}, "partitions", f"from {low} to {high}"),
            ({"partitions": high + 1}, "partitions", f"from {low} to {high}"),
            ({"partitions": "4"}, "partitions", "whole number"),
            ({"partitions": True}, "partitions", "whole number"),
            ({"partitions": 4, "schedule": None}, "partitions", "scheduled jobs"),
            ({"parameters": {"PartitionIndex": 1}}, "parameters.PartitionIndex", "partitions"),
            ({"parameters": {"partitioncount": 2}}, "parameters.partitioncount", "partitions"),
            ({"partitions": 2, "parameters": {"Identity": "ann@contoso.com"}}, "partitions", "Identity"),
        ]
        for change, suffix, phrase in cases:
            with self.subTest(change):
                value = automation_settings()
                value["runbooks"][AUDIT_INDEX].update(change)
                value["runbooks"][AUDIT_INDEX] = {k: v for k, v in value["runbooks"][AUDIT_INDEX].items() if v is not None}
                with self.assertRaises(ConfigError) as caught:
                    parse(value)
                self.assertEqual(caught.exception.key, f"{KEY}.runbooks[{AUDIT_INDEX}].{suffix}")
                self.assertIn(phrase, caught.exception.problem)

    def test_partitions_on_a_runbook_without_the_parameters_names_the_key_and_the_parameter(self) -> None:
        with scratch_runbook(READER_HEADER + PLAIN_PARAMS) as file:
            value = automation_settings()
            value["runbooks"][0]["file"] = file
            value["runbooks"][0]["parameters"] = {}
            value["runbooks"][0]["partitions"] = 4
            with self.assertRaises(ConfigError) as caught:
                parse(value)
        self.assertEqual(caught.exception.key, f"{KEY}.runbooks[0].partitions")
        self.assertIn("-PartitionCount", caught.exception.problem)

    def test_the_shipped_runbooks_accept_every_partition_count_the_program_allows(self) -> None:
        low, high = PARTITIONS_RANGE
        from tests.runbooks.conftest import MAILBOX_RUNBOOK_FILES

        # The runbooks that walk every mailbox take partitions; the Exchange RBAC reconciler reads only what its stack owns.
        for path in MAILBOX_RUNBOOK_FILES:
            source = path.read_text(encoding="utf-8")
            with self.subTest(path.name):
                count = re.search(r"\[ValidateRange\((\d+),\s*(\d+)\)\]\s*\[int\]\s*\$PartitionCount\b", source)
                index = re.search(r"\[ValidateRange\((\d+),\s*(\d+)\)\]\s*\[int\]\s*\$PartitionIndex\b", source)
                assert count and index, "PartitionCount/PartitionIndex must be [int] with a ValidateRange"
                self.assertEqual((int(count[1]), int(count[2])), (low, high))
                self.assertEqual((int(index[1]), int(index[2])), (0, high - 1))

    def test_recommended_partitions_for_the_design_throughput(self) -> None:
        # One call a second, two hours a job: 7,200 calls per job, of which every job pages through all mailboxes (1,000 a page).
        def recommended(mailboxes: int) -> int:
            return partition_model.recommended_partitions(partition_model.Workload(mailboxes, 1), PARTITIONS_RANGE[1])

        self.assertEqual(recommended(1_000), 1)
        self.assertEqual(recommended(7_190), 1)  # 7,190 + 8 pages
        self.assertEqual(recommended(7_200), 2)
        self.assertEqual(recommended(50_000), 7)
        self.assertLessEqual(recommended(50_000 * 8), PARTITIONS_RANGE[1])

    def test_docs_table_and_runbooks_share_the_job_budget(self) -> None:
        # docs/runbooks.md "Scale": its partitions table is the model's answer for one per-mailbox call; the mailbox runbooks'
        # summaries recommend a partition count from their own pace against the same two hours.
        from tests.runbooks.conftest import MAILBOX_RUNBOOK_FILES

        budget_seconds = partition_model.JOB_BUDGET_SECONDS
        module = (REPO / "scripts" / "windows" / "ExoCommon.psm1").read_text(encoding="utf-8")
        self.assertIn(f"[int] $BudgetSeconds = {budget_seconds})", module)
        for path in MAILBOX_RUNBOOK_FILES:
            (line,) = [line for line in path.read_text(encoding="utf-8").splitlines() if "recommendedPartitionCount =" in line]
            self.assertIn("Get-RecommendedPartitionCount", line, path.name)
            self.assertNotIn("-BudgetSeconds", line, path.name)
        table = re.search(
            r"\| mailboxes \|(.*)\|\n\|.*\|\n\| `partitions` \|(.*)\|", (REPO / "docs" / "runbooks.md").read_text(encoding="utf-8")
        )
        assert table, "docs/runbooks.md lost its partitions table"
        mailboxes = [int(cell.strip().replace(",", "")) for cell in table[1].split("|")]
        partitions = [int(cell.strip().strip("*")) for cell in table[2].split("|")]
        self.assertEqual(partitions, [partition_model.recommended_partitions(partition_model.Workload(m, 1)) for m in mailboxes])
        self.assertLessEqual(max(partitions), PARTITIONS_RANGE[1])

    def test_partition_zero_and_the_restreamed_recipients_count(self) -> None:
        # 50,000 mailboxes fit 7 jobs alone; partition 0's Send As look-ups and every partition's 200,000 mail contacts do not.
        plain = partition_model.Workload(50_000)
        self.assertEqual(partition_model.recommended_partitions(plain), 7)
        tenant_wide = partition_model.Workload(50_000, tenant_wide_calls=400)
        self.assertEqual(partition_model.partition_calls(tenant_wide, 7, 0) - partition_model.partition_calls(tenant_wide, 7, 1), 400)
        self.assertEqual(partition_model.recommended_partitions(tenant_wide), 8)
        restreamed = partition_model.Workload(50_000, restreamed_recipients=200_000)
        self.assertEqual(partition_model.partition_calls(restreamed, 7, 3) - partition_model.partition_calls(plain, 7, 3), 200)
        self.assertEqual(partition_model.recommended_partitions(restreamed), 8)

    def test_partition_starts_are_staggered_without_changing_the_day(self) -> None:
        evening = Schedule("Week", 1, "Europe/Berlin", (23, 50), ("Monday",), ())
        morning = Schedule("Day", 1, "UTC", (6, 0), (), ())
        hourly = Schedule("Hour", 1, "UTC", (0, 45), (), ())
        offsets = [partition_model.partition_offset(morning, i, 4) for i in range(4)]
        self.assertEqual(offsets, [dt.timedelta(minutes=m) for m in (0, 7, 15, 22)])
        # 23:50 + 30 minutes would run some partitions on Tuesday: the spread ends at 23:50 instead, partition 0 still first.
        late = [partition_model.partition_offset(evening, i, 4) for i in range(4)]
        self.assertEqual(late, [-dt.timedelta(minutes=m) for m in (22, 15, 7, 0)])
        self.assertEqual(partition_model.partition_offset(hourly, 3, 4), dt.timedelta(minutes=22))  # an hourly run may cross the hour
        self.assertEqual(partition_model.partition_offset(morning, 0, 1), dt.timedelta(0))
        many = {partition_model.partition_offset(morning, i, 64) for i in range(64)}
        self.assertLessEqual(max(many), partition_model.STAGGER_WINDOW)


PARTITION_SUFFIXES = ("-p0of3", "-p1of3", "-p2of3")


class PartitionSchedules(unittest.IsolatedAsyncioTestCase):
    async def _deploy(self, preview: bool, partitions: int) -> Any:
        value = automation_settings()
        value["runbooks"][AUDIT_INDEX]["partitions"] = partitions
        return await evaluate(MockTenant(), preview=preview, config={**automation_stack(), KEY: value})

    async def test_n_partitions_give_n_schedules_and_n_job_schedules_one_per_index(self) -> None:
        for preview in (True, False):
            with self.subTest(preview=preview):
                deployment = await self._deploy(preview, 3)
                audit_jobs = [j for j in deployment.of_type(JOB_SCHEDULE) if "forwardingaudit" in j.name]
                self.assertEqual(len(audit_jobs), 3)
                parameters = [j.plain_inputs["parameters"] for j in audit_jobs]
                self.assertEqual(sorted(p[PARTITION_INDEX_PARAMETER] for p in parameters), ["0", "1", "2"])
                self.assertEqual({p[PARTITION_COUNT_PARAMETER] for p in parameters}, {"3"})
                self.assertTrue(all(p["Remediate"] == "false" and p["OutputFormat"] == "JsonLines" for p in parameters))
                # Azure links a runbook to a schedule once: every partition has its own schedule, their starts staggered over
                # the window, partition 0 (the tenant-wide reads) first.
                schedule_names = {j.plain_inputs["schedule"]["name"] for j in audit_jobs}
                self.assertEqual(len(schedule_names), 3)
                schedules = [s for s in deployment.of_type(SCHEDULE) if s.plain_inputs["scheduleName"].endswith(PARTITION_SUFFIXES)]
                self.assertEqual(len(schedules), 3)
                if not preview:
                    by_suffix = {
                        suffix: dt.datetime.fromisoformat(s.plain_inputs["startTime"])
                        for s in schedules
                        for suffix in PARTITION_SUFFIXES
                        if s.plain_inputs["scheduleName"].endswith(suffix)
                    }
                    starts = [by_suffix[suffix] for suffix in PARTITION_SUFFIXES]
                    self.assertEqual([start - starts[0] for start in starts], [dt.timedelta(minutes=m) for m in (0, 10, 20)])
                    self.assertEqual(len({j.plain_inputs["jobScheduleId"] for j in audit_jobs}), 3)
                # The runbook that is not partitioned keeps its single job schedule without partition parameters.
                report_jobs = [j for j in deployment.of_type(JOB_SCHEDULE) if "mailboxpermissionreport" in j.name]
                self.assertEqual(len(report_jobs), 1)
                self.assertNotIn(PARTITION_COUNT_PARAMETER, report_jobs[0].plain_inputs["parameters"])

    async def test_the_partition_parameters_are_ones_the_runbook_declares(self) -> None:
        script = parse_file(REPO / "runbooks" / "Invoke-ForwardingAudit.ps1")
        deployment = await self._deploy(False, 2)
        audit_jobs = [j for j in deployment.of_type(JOB_SCHEDULE) if "forwardingaudit" in j.name]
        self.assertEqual(len(audit_jobs), 2)
        for job in audit_jobs:
            for name in job.plain_inputs["parameters"]:
                self.assertIsNotNone(script.parameter(name), f"job schedule passes -{name}, which the runbook does not declare")


class PartitionChanges(unittest.IsolatedAsyncioTestCase):
    async def test_changing_the_partition_count_later_replaces_schedules_without_a_duplicate_link(self) -> None:
        tenant = MockTenant()
        config = automation_stack()
        for partitions in (1, 3, 2, 1):
            value = automation_settings()
            value["runbooks"][AUDIT_INDEX]["partitions"] = partitions
            deployment = await evaluate(tenant, preview=False, config={**config, KEY: value})
            audit_jobs = [j for j in deployment.of_type(JOB_SCHEDULE) if "forwardingaudit" in j.name]
            with self.subTest(partitions=partitions):
                self.assertEqual(len(audit_jobs), partitions)
                self.assertEqual(len({j.plain_inputs["schedule"]["name"] for j in audit_jobs}), partitions)
                if partitions == 1:
                    self.assertNotIn(PARTITION_COUNT_PARAMETER, audit_jobs[0].plain_inputs["parameters"])


class MockTenantRefusesADuplicateLink(unittest.TestCase):
    def test_a_second_job_schedule_for_the_same_runbook_and_schedule_is_refused(self) -> None:
        # Azure/azure-resource-manager-schemas #313: "A job schedule for the specified runbook and schedule already exists",
        # whatever the job schedule id; the partition schedules above rely on the mock refusing what Azure refuses.
        from pulumi.runtime import MockResourceArgs

        from tests.mock_tenant import TenantError

        tenant = MockTenant(existing_resource_groups={"rg": "westeurope"})
        tenant.begin(preview=False)
        # What Azure holds already: the runbook and both partition schedules (a job schedule needs them to exist).
        tenant.runbooks["runbook-id"] = {"name": "ForwardingAudit", "published": "2026-01-01T00:00:00Z"}
        for schedule in ("daily-p0of2", "daily-p1of2"):
            tenant.schedules[f"{schedule}-id"] = {"name": schedule, "startTime": "2026-01-02T06:00:00Z", "created": tenant.clock()}

        def job(name: str, job_id: str, schedule: str) -> MockResourceArgs:
            inputs = {
                "jobScheduleId": job_id,
                "resourceGroupName": "rg",
                "automationAccountName": "aa-exo",
                "runbook": {"name": "ForwardingAudit"},
                "schedule": {"name": schedule},
                "parameters": {"PartitionIndex": name[-1]},
            }
            return MockResourceArgs(JOB_SCHEDULE, name, inputs, "", None, True)

        tenant.new_resource(job("job-0", "00000000-0000-0000-0000-000000000000", "daily-p0of2"))
        tenant.new_resource(job("job-1", "11111111-1111-1111-1111-111111111111", "daily-p1of2"))
        with self.assertRaises(TenantError) as caught:
            tenant.new_resource(job("job-2", "22222222-2222-2222-2222-222222222222", "daily-p0of2"))
        self.assertIn("already exists", str(caught.exception))

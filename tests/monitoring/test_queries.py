"""Every alert query and saved function, run against recorded JobLogs/JobStreams rows: once firing (returning rows) and once not.

The rows are what the Automation account's diagnostic setting writes (tests/monitoring/recorded_rows.py); the queries are the texts
the program registers (exo/monitoring.py), run by a small KQL evaluator (tests/kql.py). Azure applies a log alert's window to the
rows before its query runs; `in_window` does the same here. The clock is read once per test and the rows are placed around it.
"""

from __future__ import annotations

import datetime as dt
import unittest
import zoneinfo
from typing import Any

from exo import monitoring
from exo.schedule_time import WEEK_DAYS, Schedule
from tests import kql
from tests.monitoring import recorded_rows as rec

PORTAL = "https://portal.azure.com"
TABLE = "AzureDiagnostics"
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")


def in_window(rows: list[dict[str, Any]], now: dt.datetime, window: dt.timedelta) -> dict[str, list[dict[str, Any]]]:
    """The table as a log alert's query sees it: rows of the last `window` (TimeGenerated is UTC without a zone)."""
    start = (now - window).astimezone(dt.UTC).replace(tzinfo=None)
    return {TABLE: [row for row in rows if row["TimeGenerated"] >= start]}


def run(query: str, rows: list[dict[str, Any]], now: dt.datetime, window: dt.timedelta = dt.timedelta(days=30)) -> list[dict[str, Any]]:
    functions = {f.alias: f.query for f in monitoring.saved_functions(rec.ACCOUNT, rec.GROUP)}
    return kql.run(query, in_window(rows, now, window), now, functions)


def reference_monday(weeks_back: int) -> dt.datetime:
    """06:00 Berlin time on a Monday `weeks_back` weeks before this week's (the clock read once)."""
    today = dt.datetime.now(BERLIN).date()
    monday = today - dt.timedelta(days=today.weekday(), weeks=weeks_back)
    return dt.datetime(monday.year, monday.month, monday.day, 6, 0, tzinfo=BERLIN)


class JobEnded(unittest.TestCase):
    query = monitoring.job_ended_query(rec.ACCOUNT, rec.GROUP, PORTAL)
    window = dt.timedelta(minutes=60)

    def test_a_failed_stopped_or_suspended_job_fires_once_per_job_naming_runbook_job_and_where_to_look(self) -> None:
        now = dt.datetime.now(dt.UTC)
        rows = []
        for index, status in enumerate(monitoring.JOB_END_STATES):
            job = rec.job_id(status)
            rows += [
                rec.job_log(now - dt.timedelta(minutes=50 - index), "ForwardingAudit", job, "Started"),
                rec.job_log(now - dt.timedelta(minutes=20 - index), "ForwardingAudit", job, status),
            ]
        found = run(self.query, rows, now, self.window)
        self.assertEqual([(r["RunbookName"], r["JobId"], r["Status"]) for r in found], [
            ("ForwardingAudit", rec.job_id(status), status) for status in monitoring.JOB_END_STATES
        ])  # fmt: skip
        for row in found:
            self.assertEqual(row["WhereToLook"], f"{PORTAL}/#resource{rec.ACCOUNT_ID.lower()}/jobs/{row['JobId']}")

    def test_completed_jobs_other_accounts_and_older_failures_do_not_fire(self) -> None:
        now = dt.datetime.now(dt.UTC)
        rows = [
            rec.job_log(now - dt.timedelta(minutes=10), "ForwardingAudit", rec.job_id("ok"), "Completed"),
            rec.job_log(now - dt.timedelta(minutes=10), "ForwardingAudit", rec.job_id("other"), "Failed", account="aa-someone-else"),
            rec.job_log(now - dt.timedelta(minutes=90), "ForwardingAudit", rec.job_id("old"), "Failed"),
        ]
        self.assertEqual(run(self.query, rows, now, self.window), [])


class MissingRun(unittest.TestCase):
    grace = 240

    def query(self, schedule: Schedule, anchor: dt.datetime, *runs: monitoring.ExpectedRun) -> str:
        return monitoring.missing_run_query(
            rec.ACCOUNT, rec.GROUP, "jobs-page", schedule, anchor.astimezone(dt.UTC).isoformat(), runs, self.grace, 60
        )

    def check(self, query: str, rows: list[dict[str, Any]], now: dt.datetime) -> list[dict[str, Any]]:
        return run(query, rows, now, dt.timedelta(minutes=self.grace + 120))

    def test_a_weekly_report_without_a_completed_job_fires_after_the_grace_period_and_not_on_tuesday(self) -> None:
        schedule = Schedule("Week", 1, "Europe/Berlin", (6, 0), ("Monday",))
        anchor, due = reference_monday(5), reference_monday(1)
        query = self.query(schedule, anchor, monitoring.ExpectedRun("MailboxPermissionReport", 1))
        started = [rec.job_log(due + dt.timedelta(minutes=1), "MailboxPermissionReport", rec.job_id("w"), "Started")]
        fired = self.check(query, started, due + dt.timedelta(minutes=self.grace + 30))
        self.assertEqual([(r["RunbookName"], r["Completed"], r["Jobs"]) for r in fired], [("MailboxPermissionReport", 0, 1)])
        self.assertEqual(fired[0]["DueUtc"], due.astimezone(dt.UTC).replace(tzinfo=None))
        # Tuesday, Wednesday ...: the report is not due, so nothing is missing.
        for days in range(1, 7):
            self.assertEqual(self.check(query, [], due + dt.timedelta(days=days, hours=3)), [], f"{days} days after Monday")
        # Before the grace period ends the job may still be running.
        self.assertEqual(self.check(query, started, due + dt.timedelta(minutes=self.grace - 30)), [])

    def test_a_completed_weekly_run_does_not_fire(self) -> None:
        schedule = Schedule("Week", 1, "Europe/Berlin", (6, 0), ("Monday",))
        anchor, due = reference_monday(5), reference_monday(1)
        query = self.query(schedule, anchor, monitoring.ExpectedRun("MailboxPermissionReport", 1))
        rows = [rec.job_log(due + dt.timedelta(minutes=40), "MailboxPermissionReport", rec.job_id("w"), "Completed")]
        self.assertEqual(self.check(query, rows, due + dt.timedelta(minutes=self.grace + 30)), [])

    def test_a_partitioned_run_needs_every_partition_completed(self) -> None:
        schedule = Schedule("Day", 1, "Europe/Berlin", (5, 30))
        due = reference_monday(1).replace(hour=5, minute=30) + dt.timedelta(days=2)
        query = self.query(schedule, due - dt.timedelta(days=20), monitoring.ExpectedRun("ForwardingAudit", 2))
        one = [rec.job_log(due + dt.timedelta(minutes=30), "ForwardingAudit", rec.job_id("p0"), "Completed")]
        both = [*one, rec.job_log(due + dt.timedelta(minutes=35), "ForwardingAudit", rec.job_id("p1"), "Completed")]
        now = due + dt.timedelta(minutes=self.grace + 10)
        self.assertEqual([(r["Completed"], r["Jobs"]) for r in self.check(query, one, now)], [(1, 2)])
        self.assertEqual(self.check(query, both, now), [])

    def test_a_daily_schedule_keeps_its_local_time_across_a_daylight_saving_change(self) -> None:
        schedule = Schedule("Day", 1, "Europe/Berlin", (5, 30))
        year = dt.datetime.now(BERLIN).year - 1
        # The last Sunday of October: Berlin goes from UTC+2 to UTC+1; the day after, 05:30 local is 04:30 UTC.
        sunday = max(dt.date(year, 10, day) for day in range(25, 32) if dt.date(year, 10, day).weekday() == 6)
        monday = sunday + dt.timedelta(days=1)
        due = dt.datetime(monday.year, monday.month, monday.day, 5, 30, tzinfo=BERLIN)
        query = self.query(schedule, due - dt.timedelta(days=30), monitoring.ExpectedRun("ForwardingAudit", 1))
        fired = self.check(query, [], due + dt.timedelta(minutes=self.grace + 5))
        self.assertEqual([r["DueUtc"] for r in fired], [dt.datetime(due.year, due.month, due.day, 4, 30)])
        late = [rec.job_log(due + dt.timedelta(minutes=20), "ForwardingAudit", rec.job_id("d"), "Completed")]
        self.assertEqual(self.check(query, late, due + dt.timedelta(minutes=self.grace + 5)), [])

    def test_an_hourly_reconciler_and_a_two_day_interval_count_from_the_schedule_start(self) -> None:
        self.grace = 45
        hourly = Schedule("Hour", 1, "UTC", (0, 15))
        anchor = dt.datetime.now(dt.UTC).replace(minute=15, second=0, microsecond=0) - dt.timedelta(days=3)
        query = self.query(hourly, anchor, monitoring.ExpectedRun("Sync-ExchangeRbac", 1))
        due = anchor + dt.timedelta(days=2, hours=5)
        ran = [rec.job_log(due + dt.timedelta(minutes=3), "Sync-ExchangeRbac", rec.job_id("h"), "Completed")]
        self.assertEqual(self.check(query, ran, due + dt.timedelta(minutes=50)), [])
        self.assertEqual(len(self.check(query, [], due + dt.timedelta(minutes=50))), 1)

        every_other_day = Schedule("Day", 2, "UTC", (7, 0))
        start = dt.datetime.now(dt.UTC).replace(hour=7, minute=0, second=0, microsecond=0) - dt.timedelta(days=20)
        query = self.query(every_other_day, start, monitoring.ExpectedRun("ForwardingAudit", 1))
        self.assertEqual(len(self.check(query, [], start + dt.timedelta(days=10, minutes=60))), 1, "day 10 is a run day")
        self.assertEqual(self.check(query, [], start + dt.timedelta(days=11, minutes=60)), [], "day 11 is not")

    def test_a_monthly_run_and_the_time_before_the_first_run(self) -> None:
        schedule = Schedule("Month", 1, "UTC", (6, 0), (), (1,))
        today = dt.datetime.now(dt.UTC)
        first = dt.datetime(today.year - 1, 3, 1, 6, 0, tzinfo=dt.UTC)
        query = self.query(schedule, first, monitoring.ExpectedRun("MailboxPermissionReport", 1))
        june = dt.datetime(today.year - 1, 6, 1, 6, 0, tzinfo=dt.UTC)
        self.assertEqual(len(self.check(query, [], june + dt.timedelta(minutes=self.grace + 5))), 1)
        self.assertEqual(self.check(query, [], june + dt.timedelta(days=3)), [], "not due on the 4th")
        self.assertEqual(self.check(query, [], first - dt.timedelta(days=3)), [], "nothing is missing before the first run")


class WeekDayNumbers(unittest.TestCase):
    def test_kql_day_numbers_count_from_sunday(self) -> None:
        self.assertEqual([monitoring._KQL_DAY_NUMBER[d] for d in WEEK_DAYS], [1, 2, 3, 4, 5, 6, 0])


class Drift(unittest.TestCase):
    query = monitoring.drift_query(rec.ACCOUNT, rec.GROUP, PORTAL, "Sync-ExchangeRbac")

    def test_drift_a_run_did_not_repair_fires_per_job(self) -> None:
        now = dt.datetime.now(dt.UTC)
        failed, dry = rec.job_id("failed"), rec.job_id("dry")
        rows = [
            rec.record(now - dt.timedelta(minutes=5), "Sync-ExchangeRbac", failed,
                       rec.rbac_step("Remove-RoleGroupMember", "exo-dev-sales", "drift", "Failed", "Access denied")),
            rec.record(now - dt.timedelta(minutes=6), "Sync-ExchangeRbac", dry,
                       rec.rbac_step("Set-ManagementScope", "exo-dev-scope", "drift", "Planned")),
            rec.record(now - dt.timedelta(minutes=6), "Sync-ExchangeRbac", dry,
                       rec.rbac_step("Add-ManagementRoleEntry", "exo-dev-role", "drift", "Planned")),
        ]  # fmt: skip
        found = {row["JobId"]: row for row in run(self.query, rows, now, dt.timedelta(hours=1))}
        self.assertEqual(set(found), {failed, dry})
        self.assertEqual(found[dry]["Steps"], 2)
        self.assertEqual(found[failed]["Targets"], ["exo-dev-sales"])
        self.assertTrue(found[failed]["WhereToLook"].endswith(f"/jobs/{failed}"))

    def test_repaired_drift_missing_objects_and_other_output_do_not_fire(self) -> None:
        now = dt.datetime.now(dt.UTC)
        job = rec.job_id("applied")
        rows = [
            rec.record(
                now - dt.timedelta(minutes=5), "Sync-ExchangeRbac", job, rec.rbac_step("Set-ManagementScope", "s", "drift", "Applied")
            ),
            rec.record(now - dt.timedelta(minutes=5), "Sync-ExchangeRbac", job, rec.rbac_step("New-RoleGroup", "g", "missing", "Failed")),
            rec.stream(now - dt.timedelta(minutes=5), "Sync-ExchangeRbac", job, "drift", kind="Warning"),
            rec.record(now - dt.timedelta(minutes=5), "ForwardingAudit", job, rec.rbac_step("x", "y", "drift", "Failed")),
        ]
        self.assertEqual(run(self.query, rows, now, dt.timedelta(hours=1)), [])


class CertificateExpiry(unittest.TestCase):
    def test_fires_inside_the_warning_period_and_not_before(self) -> None:
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        ends = now + dt.timedelta(days=20)
        certificate = monitoring.WatchedCertificate("exo", "AB12", ends.isoformat().replace("+00:00", "Z"))
        query = monitoring.certificate_expiry_query([certificate], 30, "run pulumi up")
        found = kql.run(query, {}, now)
        self.assertEqual([(r["Identity"], r["Thumbprint"]) for r in found], [("exo", "AB12")])
        self.assertEqual(kql.run(query, {}, now - dt.timedelta(days=15)), [])
        self.assertEqual(kql.run(monitoring.certificate_expiry_query([], 30, "x"), {}, now), [], "no certificate, no alert")


class SavedFunctions(unittest.TestCase):
    def test_each_report_becomes_typed_rows_and_nothing_else_does(self) -> None:
        now = dt.datetime.now(dt.UTC)
        at = now - dt.timedelta(hours=2)
        audit, report, sync = rec.job_id("audit"), rec.job_id("report"), rec.job_id("sync")
        rows = [
            rec.record(at, "ForwardingAudit", audit, rec.finding("ann@contoso.com", "ForwardingSmtpAddress", "ann@gmail.com")),
            rec.record(at, "MailboxPermissionReport", report, rec.permission("shared@contoso.com", "S-1-5-21-1", deny=True)),
            rec.record(at, "MailboxPermissionReport", report, rec.summary("MailboxPermissionReport", "1/2", "Succeeded", at)),
            rec.record(
                at, "MailboxPermissionReport", report, {"RecordType": "Failure", "Mailbox": "x@contoso.com", "Step": "s", "Error": "e"}
            ),
            rec.record(at, "Sync-ExchangeRbac", sync, rec.rbac_step("New-RoleGroup", "g", "missing", "Applied")),
            rec.stream(at, "ForwardingAudit", audit, "Connected to Exchange Online"),
            rec.record(at, "ForwardingAudit", audit, rec.finding("bob@contoso.com", "ForwardingAddress", "x@y.com"), account="aa-other"),
        ]
        tables = {TABLE: rows}
        functions = {f.alias: f.query for f in monitoring.saved_functions(rec.ACCOUNT, rec.GROUP)}
        results = {alias: kql.run(alias, tables, now, functions) for alias in functions}
        self.assertEqual({alias: len(found) for alias, found in results.items()}, dict.fromkeys(functions, 1))
        self.assertEqual(results["ExoForwardingFindings"][0]["TargetDomain"], "gmail.com")
        permission = results["ExoMailboxPermissions"][0]
        self.assertIs(permission["Deny"], True)
        self.assertIs(permission["TrusteeIsOrphanedSid"], True)
        run_summary = results["ExoRunSummaries"][0]
        self.assertIsInstance(run_summary["StartedAt"], dt.datetime)
        self.assertEqual((run_summary["Partition"], run_summary["MailboxesSeen"], run_summary["JobId"]), ("1/2", 1200, report))
        self.assertEqual(results["ExoRbacReconcileSteps"][0]["Reason"], "missing")
        self.assertEqual(results["ExoReadFailures"][0]["Mailbox"], "x@contoso.com")
        # No records at all: every function still runs and returns nothing.
        for alias in functions:
            self.assertEqual(kql.run(alias, {TABLE: []}, now, functions), [])


class Evaluator(unittest.TestCase):
    def test_a_typo_fails_instead_of_returning_nothing(self) -> None:
        now = dt.datetime.now(dt.UTC)
        row = rec.job_log(now, "R", rec.job_id("t"), "Failed")
        for query in ("AzureDiagnostics | where ResultTyp == 'Failed'", "AzureDiagnostic", "AzureDiagnostics | where tostrin(1) == 1"):
            with self.subTest(query), self.assertRaises(kql.KqlError):
                kql.run(query, {TABLE: [row]}, now)

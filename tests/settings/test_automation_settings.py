"""Automation config: the module/runtime matrix, bad values refused before any resource, and the pure time functions."""

from __future__ import annotations

import datetime as dt
import itertools
import unittest
from typing import Any

from components.runbook_store import LINK_MARGIN, LINK_RENEWAL_PERIOD, link_window
from components.scheduled_runbook import job_schedule_id
from exo import facts
from exo.schedule_time import Schedule, first_run
from settings.automation import parse_automation
from settings.values import ConfigError
from tests.fixtures import automation_settings
from tests.harness import REPO, evaluate
from tests.mock_tenant import MockTenant

KEY = "exo-automation:automation"


def parse(value: dict[str, Any]) -> Any:
    return parse_automation(KEY, value, stack="dev", project_dir=REPO, allow_global_administrator=False)


class ModuleRuntimeMatrix(unittest.TestCase):
    """Every runtime against every module version the matrix names, and a few beyond it.

    The table is written from the release notes in office-docs-powershell exchange-online-powershell-v2.md (93336da2): 3.0.0 needs
    -ManagedIdentity's 3.0.0; 3.5.1 "is upgraded to run on .NET 8, replacing the previous version based on .NET 6" (so 3.5.0 still
    runs on 7.2); 3.10.0 raises "the minimum required version of PowerShell 7" to 7.6; "Windows PowerShell 5.1 isn't affected".
    """

    VERSIONS = ("2.0.5", "3.0.0", "3.4.0", "3.5.0", "3.5.1", "3.6.0", "3.9.2", "3.10.0", "3.10.1", "3.11.0")
    EVERY_V3 = {"3.0.0", "3.4.0", "3.5.0", "3.5.1", "3.6.0", "3.9.2", "3.10.0", "3.10.1", "3.11.0"}
    WORKS = {
        "PowerShell-7.2": {"3.0.0", "3.4.0", "3.5.0"},
        "PowerShell-7.4": {"3.0.0", "3.4.0", "3.5.0", "3.5.1", "3.6.0", "3.9.2"},
        "PowerShell-7.6": EVERY_V3,
        "WindowsPowerShell-5.1": EVERY_V3,
    }

    def test_the_table_covers_every_runtime_the_program_accepts(self) -> None:
        self.assertEqual(set(self.WORKS), set(facts.AUTOMATION_RUNTIMES))

    def test_every_supported_pair_is_accepted_and_every_other_refused_with_the_reason(self) -> None:
        for runtime, version in itertools.product(facts.AUTOMATION_RUNTIMES, self.VERSIONS):
            with self.subTest(runtime=runtime, version=version):
                value = {**automation_settings(), "runtime": runtime, "exchangeModuleVersion": version}
                if version in self.WORKS[runtime]:
                    settings = parse(value)
                    self.assertEqual((settings.runtime.name, settings.exchange_module_version), (runtime, version))
                    continue
                with self.assertRaises(ConfigError) as caught:
                    parse(value)
                self.assertEqual(caught.exception.key, f"{KEY}.exchangeModuleVersion")
                if version == "2.0.5":
                    self.assertIn("-ManagedIdentity", caught.exception.problem)
                else:
                    parts = tuple(map(int, version.split(".")))
                    needed = "7.6" if parts >= (3, 10, 0) else "7.4" if parts >= (3, 5, 1) else "7.2"
                    self.assertIn(f"needs PowerShell {needed} or later", caught.exception.problem)
                    self.assertIn("versions that run there: 3.0.0 to", caught.exception.problem)

    def test_each_runtimes_default_module_runs_on_it(self) -> None:
        for runtime in facts.AUTOMATION_RUNTIMES.values():
            version = tuple(int(p) for p in runtime.default_module_version.split("."))
            self.assertTrue(facts.module_runs_on(version, runtime), runtime.name)  # type: ignore[arg-type]


BAD: list[tuple[str, dict[str, Any], str, str]] = [
    ("unknown runtime", {"runtime": "PowerShell-7.5"}, f"{KEY}.runtime", "is not one of WindowsPowerShell-5.1, PowerShell-7.6"),
    ("module too new for 7.4", {"runtime": "PowerShell-7.4"}, f"{KEY}.exchangeModuleVersion", "needs PowerShell 7.6"),
    ("module too new for 7.2", {"runtime": "PowerShell-7.2", "exchangeModuleVersion": "3.5.1"}, f"{KEY}.exchangeModuleVersion", "needs PowerShell 7.4"),
    ("module not a version", {"exchangeModuleVersion": "latest"}, f"{KEY}.exchangeModuleVersion", "not a version"),
    ("no location", {"location": None}, f"{KEY}.location", "is required"),
    ("location of another cloud", {"location": "europe-west1"}, f"{KEY}.location", "not an Azure region name"),
    ("account name too short", {"accountName": "aa"}, f"{KEY}.accountName", "6-50"),
    ("storage name with capitals", {"storageAccountName": "StExo"}, f"{KEY}.storageAccountName", "lowercase"),
    ("typo in a field", {"runbook": []}, KEY, "unknown setting(s) runbook"),
    ("hybrid workers with 7.4", {"runtime": "PowerShell-7.4", "exchangeModuleVersion": "3.9.2", "hybridWorkerGroup": "exo-hybrid"}, f"{KEY}.hybridWorkerGroup", "cannot run on hybrid workers"),
    ("hybrid workers with 7.6", {"runtime": "PowerShell-7.6", "hybridWorkerGroup": "exo-hybrid"}, f"{KEY}.hybridWorkerGroup", "cannot run on hybrid workers"),
    ("Global Administrator for the identity", {"roles": ["Global Administrator"]}, f"{KEY}.roles[0]", "allowGlobalAdministrator"),
    ("tags not strings", {"tags": {"cost": 12}}, f"{KEY}.tags.cost", "must be a string"),
]  # fmt: skip

BAD_RUNBOOKS: list[tuple[str, dict[str, Any], str, str]] = [
    ("missing file", {"file": "runbooks/Nope.ps1"}, "file", "does not exist"),
    ("file outside runbooks/", {"file": "scripts/windows/Install-ExoCertificate.ps1"}, "file", "inside the repo's runbooks/ folder"),
    ("path escaping the repo", {"file": "runbooks/../__main__.py"}, "file", "inside the repo's runbooks/ folder"),
    ("undeclared parameter", {"parameters": {"Remediat": True}}, "parameters.Remediat", "declares no parameter 'Remediat'"),
    ("Organization in config", {"parameters": {"Organization": "x.onmicrosoft.com"}}, "parameters.Organization", "set by the program"),
    ("parameter as a list", {"parameters": {"AllowedExternalDomains": ["a.com"]}}, "parameters.AllowedExternalDomains", "passes job parameters as strings"),
    ("bad frequency", {"schedule": {"frequency": "Fortnight", "time": "06:00", "timeZone": "UTC"}}, "schedule.frequency", "Hour, Day, Week, Month"),
    ("bad time zone", {"schedule": {"frequency": "Day", "time": "06:00", "timeZone": "Mars/Olympus"}}, "schedule.timeZone", "IANA time zone"),
    ("bad time", {"schedule": {"frequency": "Day", "time": "25:00", "timeZone": "UTC"}}, "schedule.time", "24-hour time"),
    ("start time given as a date", {"schedule": {"frequency": "Day", "time": "2026-12-01T06:00:00Z", "timeZone": "UTC"}}, "schedule.time", "24-hour time"),
    ("week without days", {"schedule": {"frequency": "Week", "time": "06:00", "timeZone": "UTC"}}, "schedule.weekDays", "required for frequency Week"),
    ("weekday typo", {"schedule": {"frequency": "Week", "weekDays": ["Munday"], "time": "06:00", "timeZone": "UTC"}}, "schedule.weekDays[0]", "not one of Monday"),
    ("interval zero", {"schedule": {"frequency": "Day", "interval": 0, "time": "06:00", "timeZone": "UTC"}}, "schedule.interval", "from 1 to 100"),
    ("hybrid without a group", {"hybridWorker": True}, "hybridWorker", "hybridWorkerGroup"),
    ("bad runbook name", {"name": "1st report"}, "name", "a letter, then"),
]  # fmt: skip


HYBRID = {"runtime": "WindowsPowerShell-5.1", "exchangeModuleVersion": "3.6.0", "hybridWorkerGroup": "exo-hybrid"}
BAD_HYBRID_RUNBOOKS: list[tuple[str, dict[str, Any], str, str]] = [
    ("hybrid without an identity", {"hybridWorker": True}, "hybridIdentity", "is required with hybridWorker"),
    ("hybrid identity unknown", {"hybridWorker": True, "hybridIdentity": "nobody"}, "hybridIdentity", "not an identity of"),
    ("identity without hybrid", {"hybridIdentity": "exo"}, "hybridIdentity", "applies to a runbook with hybridWorker"),
    ("thumbprint in config", {"hybridWorker": True, "hybridIdentity": "exo", "parameters": {"CertificateThumbprint": "AB" * 20}}, "parameters.CertificateThumbprint", "set by the program"),
]  # fmt: skip


class BadHybridRunbookConfig(unittest.IsolatedAsyncioTestCase):
    async def test_a_hybrid_runbook_names_a_certificate_identity_that_holds_its_roles(self) -> None:
        for label, change, suffix, phrase in BAD_HYBRID_RUNBOOKS:
            with self.subTest(label):
                automation = {**automation_settings(), **HYBRID}
                automation["runbooks"][1].update(change)
                tenant = MockTenant()
                with self.assertRaises(ConfigError) as caught:
                    await evaluate(tenant, preview=True, config={KEY: automation})
                self.assertEqual(caught.exception.key, f"{KEY}.runbooks[1].{suffix}")
                self.assertIn(phrase, caught.exception.problem)
                self.assertEqual((tenant.registrations, tenant.calls), ([], []))

    async def test_the_hybrid_identity_must_hold_the_roles_the_runbook_declares(self) -> None:
        # Checked at preview as for the managed identity: the forwarding audit needs Exchange Administrator (or Exchange Recipient
        # Administrator + Global Reader); an identity holding Global Reader alone cannot read inbox rules.
        automation = {**automation_settings(), **HYBRID}
        automation["runbooks"][1].update(hybridWorker=True, hybridIdentity="reader")
        tenant = MockTenant()
        identities = [{"name": "exo"}, {"name": "reader", "roles": ["Global Reader"]}]
        with self.assertRaises(ConfigError) as caught:
            await evaluate(tenant, preview=True, config={KEY: automation, "exo-automation:identities": identities})
        self.assertEqual(caught.exception.key, f"{KEY}.runbooks[1].hybridIdentity")
        self.assertIn("identity 'reader', which holds Global Reader", caught.exception.problem)
        self.assertIn("missing Exchange Administrator", caught.exception.problem)
        self.assertEqual((tenant.registrations, tenant.calls), ([], []))
        # The same runbook with an identity that holds the roles is accepted (the managed identity's roles do not matter for it).
        identities[1]["roles"] = ["Exchange Recipient Administrator", "Global Reader"]
        automation["roles"] = ["Global Reader"]
        automation["runbooks"][0]["file"] = "runbooks/Get-MailboxPermissionReport.ps1"
        deployment = await evaluate(MockTenant(), preview=True, config={KEY: automation, "exo-automation:identities": identities})
        self.assertTrue(deployment.of_type("azure-native:automation:JobSchedule"))


class BadAutomationConfig(unittest.IsolatedAsyncioTestCase):
    async def test_each_bad_value_names_its_key_and_registers_nothing(self) -> None:
        cases = list(BAD)
        for label, change, suffix, phrase in BAD_RUNBOOKS:
            value = automation_settings()
            value["runbooks"][1].update(change)
            cases.append((label, value, f"{KEY}.runbooks[1].{suffix}", phrase))
        cases.append(
            ("duplicate runbook names", {"runbooks": [automation_settings()["runbooks"][0]] * 2}, f"{KEY}.runbooks[1].name", "already used")
        )
        self.assertGreaterEqual(len(cases), 25)
        for label, change, key, phrase in cases:
            with self.subTest(label):
                automation = {**automation_settings(), **change}
                automation = {k: v for k, v in automation.items() if v is not None}
                tenant = MockTenant()
                with self.assertRaises(ConfigError) as caught:
                    await evaluate(tenant, preview=True, config={KEY: automation})
                self.assertEqual(caught.exception.key, key)
                self.assertIn(phrase, caught.exception.problem)
                self.assertEqual((tenant.registrations, tenant.calls), ([], []))

    def test_a_runbook_that_needs_a_parameter_nobody_gives_is_refused(self) -> None:
        broken = REPO / "runbooks" / "Needs-Mailbox.test-only.ps1"
        broken.write_text("param([Parameter(Mandatory)][string] $Organization, [Parameter(Mandatory)][string] $Mailbox)\n'x'\n")
        try:
            value = automation_settings()
            value["runbooks"] = [{"name": "NeedsMailbox", "file": f"runbooks/{broken.name}"}]
            with self.assertRaises(ConfigError) as caught:
                parse(value)
            self.assertEqual(caught.exception.key, f"{KEY}.runbooks[0].parameters")
            self.assertIn("needs Mailbox", caught.exception.problem)
            broken.write_text("param([string] $Organization)\n'x'\n")
            with self.assertRaises(ConfigError) as caught:
                parse(value)
            self.assertIn("mandatory -Organization", caught.exception.problem)
            broken.write_text("param([Parameter(Mandatory)][string] $Organization)\nif ($true) {\n")
            with self.assertRaises(ConfigError) as caught:
                parse(value)
            self.assertIn("does not parse as PowerShell", caught.exception.problem)
            # Automation does not support #Requires and it can fail the job (automation-runbook-types.md): refused, with the line.
            broken.write_text("#Requires -Version 5.1\nparam([Parameter(Mandatory)][string] $Organization)\n'x'\n")
            with self.assertRaises(ConfigError) as caught:
                parse(value)
            self.assertEqual(caught.exception.key, f"{KEY}.runbooks[0].file")
            self.assertIn("#Requires statement (line 1)", caught.exception.problem)
        finally:
            broken.unlink()


class ScheduleTimes(unittest.TestCase):
    def schedule(self, **values: Any) -> Schedule:
        base: dict[str, Any] = {"frequency": "Day", "interval": 1, "time_zone": "Europe/Berlin", "time_of_day": (6, 0)}
        return Schedule(**{**base, **values})

    def test_first_run_is_the_next_matching_slot_at_least_15_minutes_ahead(self) -> None:
        anchor = dt.datetime(2026, 11, 28, 4, 50, tzinfo=dt.UTC)  # 05:50 in Berlin: 06:00 is only 10 minutes away
        self.assertEqual(first_run(anchor, self.schedule()).isoformat(), "2026-11-29T06:00:00+01:00")
        self.assertEqual(first_run(anchor - dt.timedelta(minutes=30), self.schedule()).isoformat(), "2026-11-28T06:00:00+01:00")

    def test_week_month_and_hour(self) -> None:
        anchor = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)  # Saturday
        weekly = self.schedule(frequency="Week", week_days=("Wednesday", "Friday"))
        self.assertEqual(first_run(anchor, weekly).isoformat(), "2026-12-02T06:00:00+01:00")
        monthly = self.schedule(frequency="Month", month_days=(31,))
        self.assertEqual(first_run(anchor, monthly).isoformat(), "2026-12-31T06:00:00+01:00")
        hourly = self.schedule(frequency="Hour", time_of_day=(0, 5), time_zone="UTC")
        self.assertEqual(first_run(anchor, hourly).isoformat(), "2026-11-28T13:05:00+00:00")

    def test_daylight_saving_changes(self) -> None:
        # Europe/Berlin springs forward on 2027-03-28 (02:00 -> 03:00) and falls back on 2027-10-31 (03:00 -> 02:00).
        spring = first_run(dt.datetime(2027, 3, 27, 23, 0, tzinfo=dt.UTC), self.schedule(time_of_day=(2, 30)))
        self.assertEqual(spring.isoformat(), "2027-03-28T03:30:00+02:00")
        autumn = first_run(dt.datetime(2027, 10, 30, 23, 0, tzinfo=dt.UTC), self.schedule(time_of_day=(2, 30)))
        self.assertEqual(autumn.isoformat(), "2027-10-31T02:30:00+02:00")
        summer = first_run(dt.datetime(2027, 7, 1, 0, 0, tzinfo=dt.UTC), self.schedule())
        self.assertEqual(summer.isoformat(), "2027-07-01T06:00:00+02:00")


class LinksAndIds(unittest.TestCase):
    def test_the_link_window_is_the_same_all_period_and_valid_for_the_margin_after_it(self) -> None:
        now = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)
        start, expiry = (dt.datetime.fromisoformat(t) for t in link_window(now))
        self.assertLess(start, now)
        self.assertEqual(expiry - start, LINK_RENEWAL_PERIOD + LINK_MARGIN + dt.timedelta(minutes=15))
        last_of_period = start + dt.timedelta(minutes=15) + LINK_RENEWAL_PERIOD - dt.timedelta(seconds=1)
        self.assertEqual(link_window(last_of_period), link_window(now), "no diff within a period")
        self.assertEqual(link_window(start + dt.timedelta(minutes=15)), link_window(now))
        renewed = link_window(last_of_period + dt.timedelta(seconds=1))
        self.assertNotEqual(renewed, link_window(now))
        self.assertGreaterEqual(expiry - last_of_period, LINK_MARGIN, "a link evaluated at the last moment lasts the margin")
        self.assertLess(dt.datetime.fromisoformat(renewed[0]), last_of_period + dt.timedelta(seconds=1))

    def test_job_schedule_ids_are_stable_and_differ_with_any_input(self) -> None:
        base = job_schedule_id("aa", "Report", "Report-day-1", {"Organization": "x.onmicrosoft.com"})
        self.assertEqual(base, job_schedule_id("AA", "report", "Report-day-1", {"Organization": "x.onmicrosoft.com"}))
        self.assertNotEqual(base, job_schedule_id("aa", "Report", "Report-day-2", {"Organization": "x.onmicrosoft.com"}))
        self.assertNotEqual(base, job_schedule_id("aa", "Report", "Report-day-1", {"Organization": "y.onmicrosoft.com"}))
        republished = job_schedule_id("aa", "Report", "Report-day-1", {"Organization": "x.onmicrosoft.com"}, publication="1f")
        self.assertNotEqual(base, republished, "a republished runbook gets a new job schedule")


def test_the_programs_tags_win_over_configured_ones_as_on_the_key_vault() -> None:
    automation = parse({**automation_settings(), "tags": {"managed-by": "platform-team", "owner": "messaging"}})
    assert dict(automation.tags) == {"managed-by": "exo-automation", "owner": "messaging"}

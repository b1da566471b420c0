"""Runtimes as dated facts: a new stack gets one in support on the suite's day (the example stack's own runtime is checked in
test_project_files.py), previews warn from 90 days before a runtime's last day and say after it which value to set, and a stack
that never set `runtime` is told once when the default moves.

Every day here comes from the facts (a runtime's last day, the day the default moved) or from the suite's one clock, which CI moves
(--clock=+400d, --clock=2028-02-29T12:00:00Z): no literal date meets the real clock.
"""

from __future__ import annotations

import datetime as dt
import unittest
from typing import Any

from exo import clock, facts
from settings.automation import parse_automation, replacement_runtime, runtime_warnings
from tests.fixtures import automation_settings
from tests.harness import REPO

KEY = "exo-automation:automation"
RUNTIME_KEY = f"{KEY}.runtime"
DATED = [runtime for runtime in facts.AUTOMATION_RUNTIMES.values() if runtime.support_ends is not None]


def at(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)


def parse(value: dict[str, Any], day: dt.date) -> Any:
    return parse_automation(KEY, value, stack="dev", project_dir=REPO, allow_global_administrator=False, now=at(day))


class NewStack(unittest.TestCase):
    def test_a_new_stack_defaults_to_a_supported_runtime_with_a_module_that_runs_on_it(self) -> None:
        today = clock.now().date()
        value = {k: v for k, v in automation_settings().items() if k not in ("runtime", "exchangeModuleVersion")}
        settings = parse(value, today)
        self.assertEqual(settings.runtime.name, facts.DEFAULT_AUTOMATION_RUNTIME)
        self.assertTrue(facts.supported_on(settings.runtime, today))
        self.assertEqual(settings.exchange_module_version, settings.runtime.default_module_version)

    def test_every_dated_runtime_names_its_source(self) -> None:
        self.assertGreaterEqual(len(DATED), 3)
        for runtime in facts.AUTOMATION_RUNTIMES.values():
            with self.subTest(runtime.name):
                self.assertIn("PowerShell-Docs", runtime.support_source)
                self.assertRegex(runtime.offered_source, r"azure-docs|azure-rest-api-specs|Azure update")


class SupportEndWarnings(unittest.TestCase):
    def explicit(self, runtime: facts.AutomationRuntime) -> dict[str, Any]:
        return {**automation_settings(), "runtime": runtime.name, "exchangeModuleVersion": runtime.default_module_version}

    def test_quiet_until_ninety_days_before_the_last_day(self) -> None:
        for runtime in DATED:
            assert runtime.support_ends is not None
            with self.subTest(runtime.name):
                day = runtime.support_ends - dt.timedelta(days=facts.RUNTIME_WARNING_DAYS + 1)
                self.assertEqual(parse(self.explicit(runtime), day).runtime_warnings, ())

    def test_from_ninety_days_before_one_line_names_the_key_the_day_and_the_value_to_set(self) -> None:
        for runtime in DATED:
            assert runtime.support_ends is not None
            for days_left in (facts.RUNTIME_WARNING_DAYS, 1, 0):
                with self.subTest(runtime.name, days_left=days_left):
                    (warning,) = parse(self.explicit(runtime), runtime.support_ends - dt.timedelta(days=days_left)).runtime_warnings
                    self.assertIn(f"supported until {runtime.support_ends}", warning)
                    self.assertIn(f"({days_left} day", warning)
                    self.assertIn(f"change {RUNTIME_KEY} to {facts.DEFAULT_AUTOMATION_RUNTIME}", warning)
                    self.assertNotIn("\n", warning)

    def test_after_the_last_day_one_line_says_what_to_change(self) -> None:
        for runtime in DATED:
            assert runtime.support_ends is not None
            for days_after in (1, 400):
                with self.subTest(runtime.name, days_after=days_after):
                    (warning,) = parse(self.explicit(runtime), runtime.support_ends + dt.timedelta(days=days_after)).runtime_warnings
                    self.assertTrue(warning.startswith(f"{RUNTIME_KEY}: {runtime.name} has been out of support"), warning)
                    self.assertIn(f"change {RUNTIME_KEY} to {facts.DEFAULT_AUTOMATION_RUNTIME}", warning)
                    self.assertNotIn("\n", warning)

    def test_the_value_to_change_to_is_supported_past_the_warning_window(self) -> None:
        for runtime in DATED:
            assert runtime.support_ends is not None
            day = runtime.support_ends + dt.timedelta(days=1)
            successor = replacement_runtime(runtime, day)
            assert successor is not None
            self.assertTrue(facts.supported_on(successor, day + dt.timedelta(days=facts.RUNTIME_WARNING_DAYS)))
            self.assertNotEqual(successor, runtime)

    def test_the_warning_is_settings_only_never_a_resource_input(self) -> None:
        runtime = facts.AUTOMATION_RUNTIMES["PowerShell-7.4"]
        assert runtime.support_ends is not None
        early = parse(self.explicit(runtime), runtime.support_ends - dt.timedelta(days=200))
        late = parse(self.explicit(runtime), runtime.support_ends + dt.timedelta(days=200))
        self.assertNotEqual(early.runtime_warnings, late.runtime_warnings)
        self.assertEqual(
            {k: v for k, v in vars(early).items() if k != "runtime_warnings"},
            {k: v for k, v in vars(late).items() if k != "runtime_warnings"},
        )


class DefaultMoved(unittest.TestCase):
    MOVED = facts.DEFAULT_RUNTIME_CHANGES[-1]

    def unset(self) -> dict[str, Any]:
        return {k: v for k, v in automation_settings().items() if k not in ("runtime", "exchangeModuleVersion")}

    def test_the_record_names_runtimes_the_program_accepts_and_the_current_default(self) -> None:
        self.assertIn(self.MOVED.previous, facts.AUTOMATION_RUNTIMES)
        self.assertEqual(self.MOVED.current, facts.DEFAULT_AUTOMATION_RUNTIME)

    def test_a_stack_without_runtime_gets_one_line_naming_the_key_that_keeps_the_old_one(self) -> None:
        for days_after in (0, 1, facts.DEFAULT_CHANGE_NOTICE_DAYS - 1):
            with self.subTest(days_after=days_after):
                (warning,) = parse(self.unset(), self.MOVED.changed_on + dt.timedelta(days=days_after)).runtime_warnings
                self.assertIn(f"set {RUNTIME_KEY} to {self.MOVED.previous}", warning)
                self.assertIn(f"the default runtime is {self.MOVED.current}", warning)
                self.assertNotIn("\n", warning)

    def test_a_stack_that_sets_runtime_or_comes_after_the_notice_period_hears_nothing(self) -> None:
        day = self.MOVED.changed_on + dt.timedelta(days=1)
        self.assertEqual(parse({**self.unset(), "runtime": self.MOVED.current}, day).runtime_warnings, ())
        late = self.MOVED.changed_on + dt.timedelta(days=facts.DEFAULT_CHANGE_NOTICE_DAYS)
        self.assertEqual(parse(self.unset(), late).runtime_warnings, ())

    def test_the_pure_function_takes_only_what_it_is_given(self) -> None:
        default = facts.AUTOMATION_RUNTIMES[facts.DEFAULT_AUTOMATION_RUNTIME]
        self.assertEqual(runtime_warnings(RUNTIME_KEY, default, True, self.MOVED.changed_on), ())
        self.assertEqual(len(runtime_warnings(RUNTIME_KEY, default, False, self.MOVED.changed_on)), 1)

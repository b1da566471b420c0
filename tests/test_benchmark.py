"""The benchmark (benchmarks/bench_program.py) runs and reports: its language-host path, its counts and its critical-path model.

No time is asserted: the figures belong in the README, not in a test.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import unittest
from types import ModuleType
from typing import Any
from unittest import mock

from tests.fixtures import automation_stack
from tests.harness import REPO


def load_benchmark() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_program", REPO / "benchmarks" / "bench_program.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench = load_benchmark()


def on_automation_stack() -> Any:
    """The benchmark's counts on tests/fixtures.py's automation_stack() (Windows PowerShell 5.1, two schedule definitions)
    instead of the example stack it measures."""
    return mock.patch.object(bench, "dev_stack_config", automation_stack)


def node(urn: str, type_: str, dependencies: list[str], parent: str = "", custom: bool = True) -> dict[str, Any]:
    return {"urn": urn, "type": type_, "custom": custom, "dependencies": dependencies, "parent": parent}


DURATIONS = {"default": {"seconds": 1}, "types": {"slow": {"seconds": 10}, "fast": {"seconds": 2}}}


class CriticalPathModel(unittest.TestCase):
    def test_the_longest_chain_of_dependencies_wins(self) -> None:
        graph = [
            node("a", "fast", []),
            node("b", "slow", ["a"]),
            node("c", "fast", ["a"]),
            node("d", "fast", ["b", "c"]),
        ]
        self.assertEqual(bench.critical_path(graph, DURATIONS), (14.0, ["a", "b", "d"]))

    def test_a_component_dependency_waits_for_its_children_and_takes_no_time(self) -> None:
        graph = [
            node("component", "my:Component", [], custom=False),
            node("child", "slow", [], parent="component"),
            node("after", "fast", ["component"]),
        ]
        self.assertEqual(bench.critical_path(graph, DURATIONS), (12.0, ["child", "after"]))

    def test_an_unknown_type_takes_the_default(self) -> None:
        self.assertEqual(bench.critical_path([node("x", "other", [])], DURATIONS), (1.0, ["x"]))

    def test_every_duration_names_its_source(self) -> None:
        durations = json.loads(bench.DURATIONS.read_text(encoding="utf-8"))
        for type_token, entry in {"default": durations["default"], **durations["types"]}.items():
            with self.subTest(type_token):
                self.assertGreater(entry["seconds"], 0)
                self.assertTrue(entry["source"].strip())


class LanguageHostPath(unittest.TestCase):
    def test_the_program_runs_as_the_language_host_runs_it_and_registers_what_the_harness_counts(self) -> None:
        run = subprocess.run(
            [sys.executable, str(REPO / "benchmarks" / "bench_program.py"), "--child", "program", "--identities", "1", "--runbooks", "0"],
            capture_output=True,
            text=True,
            cwd=REPO,
            check=False,
        )
        self.assertEqual(run.returncode, 0, run.stderr)
        timed = json.loads(run.stdout.strip().splitlines()[-1])
        counted = bench.child_counts(1, 0)
        self.assertEqual(timed["registrations"], counted["registrations"])
        self.assertIn("pulumi_azure_native.automation.runbook:Runbook", timed["classes"])
        self.assertFalse([spec for spec in timed["classes"] if spec.startswith(("components", "__main__"))])
        # The engine's answers are timed apart (a share of the process's CPU time) and left out of the language host's figures.
        self.assertGreater(timed["engine"], 0)
        self.assertLess(timed["engine"], timed["process_cpu"] / 2)
        self.assertLess(timed["wall"], timed["process_wall"])
        self.assertGreater(timed["rss"], 0)
        self.assertGreaterEqual(counted["invokes"], 1)
        seconds, chain = bench.critical_path(counted["graph"], json.loads(bench.DURATIONS.read_text(encoding="utf-8")))
        self.assertGreater(seconds, 0)
        types = {node["urn"]: node["type"] for node in counted["graph"]}
        self.assertEqual(types[chain[-1]], "azure-native:automation:JobSchedule", chain)
        self.assertGreater(bench.child_imports(timed["classes"])["rss"], 0)

    def test_schedules_are_shared_or_one_per_runbook_as_asked(self) -> None:
        schedule = "azure-native:automation:Schedule"
        for schedules, expected in (("own", 6), ("shared", 2)):  # automation_stack() has two schedule definitions
            with self.subTest(schedules=schedules), on_automation_stack():
                counted = bench.child_counts(1, 6, own_schedules=schedules == "own")
                self.assertEqual(sum(1 for node in counted["graph"] if node["type"] == schedule), expected)

    def test_the_counted_preview_is_the_pipelines_refreshed_one(self) -> None:
        with on_automation_stack():
            counted = bench.child_counts(1, 0)
        # Windows PowerShell 5.1 imports modules (a runtime environment would import a package: getPackage).
        self.assertNotIn("azure-native:automation:getModule", counted["invoke_tokens"], "the refresh stored the final import")
        self.assertIn("azure-native:automation:getModule", counted["invoke_tokens_right_after_up"], "still importing")

"""The collector tuning (exo/evaluation_gc.py): what it sets, that the program applies it, and that it is pinned to the SDKs it was
measured on. tests/conftest.py restores Python's settings after each test."""

from __future__ import annotations

import gc
import importlib.metadata
import sys
import unittest

from exo.evaluation_gc import FULL_COLLECTION_THRESHOLD, MEASURED_ON, tune_collector_for_evaluation
from tests.fixtures import automation_stack
from tests.harness import evaluate
from tests.mock_tenant import MockTenant


class Tuning(unittest.TestCase):
    def test_what_exists_is_frozen_and_full_collections_are_rare(self) -> None:
        young, middle, _ = gc.get_threshold()
        tune_collector_for_evaluation()
        self.assertGreater(gc.get_freeze_count(), 0)
        self.assertEqual(gc.get_threshold(), (young, middle, FULL_COLLECTION_THRESHOLD), "young collections stay as Python sets them")

    def test_pinned_to_the_versions_it_was_measured_on(self) -> None:
        installed = {
            "python": f"{sys.version_info.major}.{sys.version_info.minor}",
            "pulumi": importlib.metadata.version("pulumi"),
            "pulumi-azure-native": importlib.metadata.version("pulumi-azure-native"),
        }
        self.assertEqual(
            installed,
            MEASURED_ON,
            "the SDKs moved: re-run benchmarks/bench_workarounds.py (docs/benchmarks.md, 'SDK workarounds under the real engine'), "
            "then keep the tuning with the new MEASURED_ON or delete it",
        )


class ProgramApplies(unittest.IsolatedAsyncioTestCase):
    async def test_an_evaluation_runs_with_the_tuned_collector(self) -> None:
        gc.unfreeze()
        await evaluate(MockTenant(), preview=True, config=automation_stack())
        self.assertEqual(gc.get_threshold()[2], FULL_COLLECTION_THRESHOLD)
        self.assertGreater(gc.get_freeze_count(), 0)

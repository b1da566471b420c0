"""The program runs through Pulumi's async entry point, so the SDK awaits its registrations instead of polling every Output."""

from __future__ import annotations

import asyncio
import unittest
from typing import Any
from unittest import mock

from tests.fixtures import AUTOMATION, automation_stack
from tests.harness import evaluate
from tests.mock_tenant import MockTenant


def with_runbooks(count: int) -> dict[str, Any]:
    config = automation_stack()
    shipped = config[AUTOMATION]["runbooks"]
    config[AUTOMATION]["runbooks"] = [
        {**shipped[index % len(shipped)], "name": f"{shipped[index % len(shipped)]['name']}{index:02d}"} for index in range(count)
    ]
    return config


class RegistrationsAreAwaited(unittest.IsolatedAsyncioTestCase):
    async def test_the_sdk_never_polls_the_pending_outputs(self) -> None:
        """pulumi 3.272's wait_for_rpcs awaits each registration while it has any; a program that returns before its registrations
        start leaves it none, and it polls every pending Output once per completion instead (asyncio.wait FIRST_COMPLETED over
        thousands of them, ~45 rounds at 100 runbooks). `__main__.py` yields once from `pulumi.run` so that it never gets there."""
        for count in (2, 20):
            with self.subTest(runbooks=count):
                with mock.patch.object(asyncio, "wait", wraps=asyncio.wait) as polled:
                    deployment = await evaluate(MockTenant(), preview=True, config=with_runbooks(count))
                self.assertEqual(len(deployment.of_type("azure-native:automation:Runbook")), count)
                self.assertEqual(polled.call_count, 0)

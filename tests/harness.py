"""Run the whole program (`__main__.py`) under Pulumi's mocks against a MockTenant, and collect what it registered and exported."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import runpy
import unittest
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.mocks import MockEngine, MockSettings
from pulumi.runtime.stack import run_in_stack

from exo import clock
from settings.values import ConfigError
from tests.mock_tenant import MockTenant, Registration, TenantError, TenantMonitor, reveal

REPO = Path(__file__).resolve().parent.parent
MAIN = REPO / "__main__.py"
PROJECT = "exo-automation"


@dataclass
class StackOutput:
    value: Any
    known: bool
    secret: bool


@dataclass
class Deployment:
    """What one evaluation of the program did."""

    tenant: MockTenant
    preview: bool
    registrations: list[Registration]
    outputs: dict[str, StackOutput] = field(default_factory=dict)

    def of_type(self, type_token: str) -> list[Registration]:
        return [r for r in self.registrations if r.type == type_token]

    def one(self, type_token: str, name: str) -> Registration:
        matches = [r for r in self.registrations if r.type == type_token and r.name == name]
        assert len(matches) == 1, f"expected one {type_token} named {name}, found {len(matches)}"
        return matches[0]

    def by_id(self, resource_id: str) -> Registration:
        matches = [r for r in self.registrations if r.custom and r.id == resource_id]
        assert len(matches) == 1, f"no single resource with id {resource_id}"
        return matches[0]

    def custom(self) -> Iterator[Registration]:
        return (r for r in self.registrations if r.custom)

    def output(self, name: str) -> Any:
        return self.outputs[name].value


def config_for(values: Mapping[str, Any]) -> dict[str, str]:
    """Config as Pulumi hands it to a program: namespaced keys, strings, structured values as JSON."""
    result: dict[str, str] = {}
    for key, value in values.items():
        full = key if ":" in key else f"{PROJECT}:{key}"
        if isinstance(value, str):
            result[full] = value
        elif isinstance(value, bool):
            result[full] = "true" if value else "false"
        else:
            result[full] = json.dumps(value)
    return result


async def _settle(output: Any) -> StackOutput:
    if isinstance(output, pulumi.Output):
        value = await output.future(with_unknowns=True)
        return StackOutput(reveal(value), await output.is_known(), await output.is_secret())
    if isinstance(output, dict):
        parts = {k: await _settle(v) for k, v in output.items()}
        return StackOutput(
            {k: p.value for k, p in parts.items()}, all(p.known for p in parts.values()), any(p.secret for p in parts.values())
        )
    return StackOutput(output, True, False)


def _pending_outputs() -> set[asyncio.Task[Any]]:
    return getattr(runtime_settings.SETTINGS, "outputs")  # noqa: B009 - a property pyright mistypes


def _quiet_expected_failures(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """A failed deployment leaves Pulumi futures holding the same error; the test asserts on it once, so don't log every copy."""
    if isinstance(context.get("exception"), TenantError | pulumi.RunError):
        return
    loop.default_exception_handler(context)


def _forget_other_loops() -> None:
    """Drop tasks an earlier test's event loop left in Pulumi's shared settings: they can never finish on this loop."""
    loop = asyncio.get_running_loop()
    stale = {task for task in _pending_outputs() if task.get_loop() is not loop}
    _pending_outputs().difference_update(stale)


async def _drain() -> None:
    """After a failed run, let every outstanding RPC and output finish, so that nothing outlives this test's event loop."""
    manager = runtime_settings._get_rpc_manager()  # pyright: ignore[reportPrivateUsage]
    outputs = _pending_outputs()
    for _ in range(1000):
        pending = [*manager.rpcs, *outputs]
        if not pending:
            return
        manager.rpcs.clear()
        outputs.clear()
        await asyncio.gather(*pending, return_exceptions=True)


def _configure_language_host(monitor: TenantMonitor, *, stack: str, preview: bool) -> None:
    """What the language host sets up before it runs a program: set_mocks's settings, but no Stack yet (run_in_stack makes the one
    that registers the exports, which tests/program/test_keyless_state.py reads; tests/program/test_documented_mocks_recipe.py runs
    the program under set_mocks itself)."""
    runtime_settings.configure(
        MockSettings(
            monitor=monitor,
            monitor_features=set(monitor.GetDeploymentInfo(None).supportedFeatures),
            engine=MockEngine(None),
            project=PROJECT,
            stack=stack,
            dry_run=preview,
            organization=None,
            callbacks=None,
        )
    )
    # Each evaluation is a new process for Pulumi: no Stack of an earlier evaluation in this context.
    runtime_settings.ROOT.set(None)


async def evaluate(
    tenant: MockTenant, *, preview: bool, config: Mapping[str, Any] | None = None, stack: str = "dev", program: Path = MAIN
) -> Deployment:
    """One `pulumi preview` (preview=True) or `pulumi up` of the program against the tenant. Call from a test's own event loop."""
    # IsolatedAsyncioTestCase runs its loop in debug mode, which records a traceback for every task Pulumi creates: three times
    # slower, and nothing a program test needs.
    loop = asyncio.get_running_loop()
    loop.set_debug(False)
    loop.set_exception_handler(_quiet_expected_failures)
    _forget_other_loops()
    tenant.begin(preview=preview)
    # One clock: the program reads the tenant's, so a test that moves it moves both.
    clock.use(tenant.clock)
    pulumi.runtime.set_all_config(config_for(config or {}))
    _configure_language_host(TenantMonitor(tenant), stack=stack, preview=preview)
    # Pulumi runs a program in its project directory; relative asset paths resolve there.
    previous_directory = Path.cwd()
    os.chdir(REPO)
    try:
        # As pulumi-language-python-exec runs it: inside a new Stack, which then awaits every registration and Output.
        def run_program() -> None:
            runpy.run_path(str(program), run_name="__main__")

        await run_in_stack(run_program)
    except BaseException:
        await _drain()
        raise
    finally:
        os.chdir(previous_directory)
    tenant.finish()
    deployment = Deployment(tenant=tenant, preview=preview, registrations=list(tenant.registrations))
    root = runtime_settings.get_root_resource()
    exported: dict[str, Any] = getattr(root, "outputs", {})
    for name, value in exported.items():
        deployment.outputs[name] = await _settle(value)
    return deployment


async def assert_refused_before_registration(
    case: unittest.TestCase, tenant: MockTenant, config: Mapping[str, Any], key: str, phrase: str
) -> None:
    """A bad config stops the preview with one ConfigError that names `key` (and says `phrase`), before any resource or look-up."""
    with case.assertRaises(ConfigError) as caught:
        await evaluate(tenant, preview=True, config=config)
    case.assertEqual(caught.exception.key, key)
    case.assertIn(phrase, str(caught.exception))
    case.assertTrue(str(caught.exception).startswith(f"config {key}: "))
    case.assertEqual(tenant.registrations, [], "no resource may be registered")
    case.assertEqual(tenant.calls, [], "not even a look-up runs")


async def preview_logged(
    tenant: MockTenant, config: Mapping[str, Any], level: int = logging.WARNING
) -> tuple[Deployment, list[logging.LogRecord]]:
    """A preview, and the program's log records at `level` or above: under mocks Pulumi's engine log (pulumi.warn, pulumi.error)
    goes to the root logger; records of named loggers (asyncio's slow-task notes) are left out."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler(level=level)
    handler.emit = records.append  # type: ignore[method-assign]
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        deployment = await evaluate(tenant, preview=True, config=config)
    finally:
        root.removeHandler(handler)
    return deployment, [record for record in records if record.name == "root"]

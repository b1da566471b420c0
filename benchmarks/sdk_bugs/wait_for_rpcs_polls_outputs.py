"""pulumi's wait_for_rpcs polls every pending Output once per completion when a program returns before its registrations start.

Standalone: run with any Python that has the pulumi SDK installed (`python wait_for_rpcs_polls_outputs.py`). Each run is what
pulumi-language-python-exec does: configure the runtime (here with Pulumi's own MockMonitor), then
`run_in_stack(program)` on a new event loop. The program registers N resources with 20 output properties each, either synchronously
(as almost every Pulumi Python program does) or from `pulumi.run(entry)` whose coroutine yields once after registering. It prints
the wall time and how often `asyncio.wait` was called over how many pending tasks. See wait_for_rpcs_polls_outputs.md.
"""

from __future__ import annotations

import asyncio
import sys
import time
from importlib.metadata import version
from typing import Any

import pulumi
from pulumi.runtime import settings
from pulumi.runtime.mocks import MockEngine, MockMonitor, MockSettings
from pulumi.runtime.stack import run_in_stack

OUTPUTS = [f"out{index}" for index in range(20)]


class Echo(pulumi.runtime.Mocks):
    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        return f"{args.name}-id", {**args.inputs, **dict.fromkeys(OUTPUTS, "x")}

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        return {}, []


class Thing(pulumi.CustomResource):
    def __init__(self, name: str, source: pulumi.Input[str] | None = None) -> None:
        super().__init__("repro:index:Thing", name, {"source": source, **dict.fromkeys(OUTPUTS)})


def declare(count: int) -> None:
    previous: Thing | None = None
    for index in range(count):
        previous = Thing(f"thing-{index}", previous.id if previous is not None and index % 3 else None)  # short chains


def run(count: int, entry: bool) -> tuple[float, int, int]:
    monitor = MockMonitor(Echo())
    settings.configure(
        MockSettings(
            monitor=monitor,
            monitor_features=set(monitor.GetDeploymentInfo(None).supportedFeatures),
            engine=MockEngine(None),
            project="repro",
            stack="dev",
            dry_run=True,
            organization=None,
            callbacks=None,
        )
    )
    settings.ROOT.set(None)
    polled = {"calls": 0, "tasks": 0}
    wait = asyncio.wait

    async def counting_wait(tasks: Any, **kwargs: Any) -> Any:
        polled["calls"] += 1
        polled["tasks"] += len(tasks)
        return await wait(tasks, **kwargs)

    async def entry_point() -> None:
        declare(count)
        await asyncio.sleep(0)  # lets the queued registrations start before the SDK waits for them

    def program() -> None:
        if entry:
            pulumi.run(entry_point)
        else:
            declare(count)

    asyncio.wait = counting_wait  # type: ignore[assignment]
    loop = asyncio.new_event_loop()
    started = time.perf_counter()
    try:
        loop.run_until_complete(run_in_stack(program))
    finally:
        asyncio.wait = wait
        loop.close()
    return time.perf_counter() - started, polled["calls"], polled["tasks"]


def main() -> None:
    print(f"pulumi {version('pulumi')}, Python {sys.version.split()[0]}")
    for count in (100, 400, 1000):
        for entry in (False, True):
            seconds, calls, tasks = run(count, entry)
            how = "pulumi.run + one yield" if entry else "synchronous program   "
            print(f"{count:5d} resources, {how}: {seconds:6.2f} s, asyncio.wait called {calls:3d} times over {tasks:8d} tasks")


if __name__ == "__main__":
    main()

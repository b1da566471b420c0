"""pulumi's resource_cycle_breaker walks the whole dependency chain, recursively, for every dependency it declares.

Standalone: run with any Python that has the pulumi SDK installed (`python cycle_breaker_quadratic_depth.py`). Part 1 calls the
SDK's `declare_dependency` directly, the way `rpc._add_dependency` does for every dependency of every resource, on a chain of
growing depth, and prints the cost of the last declaration and of building the whole chain. Part 2 registers a chain of resources
under `pulumi.runtime.set_mocks`, each depending on the one before, and shows the RecursionError a program gets. See
cycle_breaker_quadratic_depth.md.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import time
from importlib.metadata import version
from typing import Any

import pulumi
from pulumi.runtime import resource_cycle_breaker
from pulumi.runtime.stack import wait_for_rpcs


class Node:
    """Stands in for a Resource: the cycle breaker only stores a set attribute on it and hashes it."""


def chain_cost(depth: int) -> tuple[float, float]:
    """Seconds to declare a chain of `depth` dependencies (each node on the one before) and for the last declaration alone."""
    nodes: list[Any] = [Node() for _ in range(depth + 1)]
    started = last = time.perf_counter()
    for previous, node in itertools.pairwise(nodes):
        last = time.perf_counter()
        assert resource_cycle_breaker.declare_dependency(node, previous)
    finished = time.perf_counter()
    return finished - started, finished - last


class Echo(pulumi.runtime.Mocks):
    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        return {}, []


class Link(pulumi.CustomResource):
    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("repro:index:Link", name, {}, opts)


def register_chain(length: int) -> str:
    """A program whose resources each depend on the previous one (depends_on), run under mocks."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    pulumi.runtime.set_mocks(Echo(), preview=False)
    started = time.perf_counter()
    previous = Link("link-0")
    for index in range(1, length):
        previous = Link(f"link-{index}", pulumi.ResourceOptions(depends_on=[previous]))
    try:
        loop.run_until_complete(wait_for_rpcs())
    except RecursionError as error:
        return f"RecursionError after {time.perf_counter() - started:.1f} s: {error}"
    finally:
        loop.close()
    return f"registered in {time.perf_counter() - started:.1f} s"


def main() -> None:
    print(f"pulumi {version('pulumi')}, Python {sys.version.split()[0]}, recursion limit {sys.getrecursionlimit()}")
    print("part 1: declare_dependency along a chain")
    for depth in (100, 200, 400, 800, 1000):
        try:
            total, last = chain_cost(depth)
        except RecursionError:
            print(f"  depth {depth:4d}: RecursionError in _with_transitive_deps")
            continue
        print(f"  depth {depth:4d}: whole chain {total * 1000:8.1f} ms, last declaration {last * 1000:6.2f} ms")
    print("part 2: a program registering a chain of resources under mocks")
    for length in (100, 400, 1000):
        print(f"  {length:4d} resources, each depends_on the previous: {register_chain(length)}")


if __name__ == "__main__":
    main()

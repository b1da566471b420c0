"""pulumi.dynamic.serialize_provider wraps pickle's _batch_setitems once more on every call and never unwraps it.

Standalone: run with any Python that has the pulumi SDK installed (`python serialize_provider_rewraps_pickle.py`). It serialises a
trivial dynamic provider again and again, as `pulumi.dynamic.Resource.__init__` does for every dynamic resource, and prints how deep
the wrapping of `pickle._Pickler._batch_setitems` is after each call, how long a call takes, and the call that fails. See
serialize_provider_rewraps_pickle.md.
"""

from __future__ import annotations

import pickle
import sys
import time
from importlib.metadata import version
from typing import Any

import pulumi.dynamic
from pulumi.dynamic.dynamic import serialize_provider


class TrivialProvider(pulumi.dynamic.ResourceProvider):
    def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
        return pulumi.dynamic.CreateResult(id_="id", outs=props)


def wrapping_depth() -> int:
    """How many of serialize_provider's sorting wrappers sit around pickle's own _batch_setitems."""
    function = pickle._Pickler._batch_setitems  # type: ignore[attr-defined]
    depth = 0
    while function.__name__.startswith("batch_set_items_sorted"):
        (cell,) = function.__closure__
        function = cell.cell_contents
        depth += 1
    return depth


def main() -> None:
    print(f"pulumi {version('pulumi')}, dill {version('dill')}, Python {sys.version.split()[0]}, recursion limit {sys.getrecursionlimit()}")
    print(f"before any call: wrapping depth {wrapping_depth()}")
    calls = 0
    while calls < 5000:
        calls += 1
        started = time.perf_counter()
        try:
            serialize_provider(TrivialProvider())
        except RecursionError as error:
            print(f"call {calls}: RecursionError ({error}) - the wrappers are now deeper than the stack allows")
            break
        elapsed = (time.perf_counter() - started) * 1000
        if calls in (1, 2, 3, 10, 100, 200, 400, 600, 800) or calls % 100 == 0:
            print(f"after call {calls:4d}: wrapping depth {wrapping_depth():4d}, this call took {elapsed:6.1f} ms")
    else:
        print(f"no failure after {calls} calls: the SDK no longer re-wraps pickle (depth {wrapping_depth()})")


if __name__ == "__main__":
    main()

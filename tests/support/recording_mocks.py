"""Pulumi mocks that record every resource registration as an `exo_policies.ResourceRecord`.

Use it to run the policy rules over what a whole program registers:

    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(mocks, preview=False)
    ...build the program inside a @pulumi.runtime.test function...
    assert exo_policies.evaluate(mocks.records, now=...) == []
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pulumi
from exo_policies import ResourceRecord

ComputedOutputs = Callable[[str, str, Mapping[str, Any]], Mapping[str, Any]]


def _no_computed_outputs(_typ: str, _name: str, _inputs: Mapping[str, Any]) -> Mapping[str, Any]:
    return {}


class RecordingMocks(pulumi.runtime.Mocks):
    def __init__(
        self,
        computed_outputs: ComputedOutputs = _no_computed_outputs,
        call_results: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self.records: list[ResourceRecord] = []
        self._computed_outputs = computed_outputs
        self._call_results = call_results or {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[Any, Any]]:
        self.records.append(ResourceRecord(args.typ, args.name, dict(args.inputs)))
        outputs = {
            **args.inputs,
            **self._computed_outputs(args.typ, args.name, args.inputs),
        }
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[Any, Any], list[tuple[str, str]] | None]:
        # An empty failure list, not None: the mock monitor iterates it.
        return dict(self._call_results.get(args.token, {})), []

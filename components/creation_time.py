"""The moment a resource was first deployed, kept in state: the anchor for time windows that must not move on every preview.

A clock read in the program would change on every `pulumi preview` (a perpetual diff); a fixed date goes stale and fails once it is in
the past. `CreationTime` reads the clock once, at creation, and keeps it until its `triggers` change. The program uses one as the
anchor of an account's schedules (components/runbook_schedules.py), renewed whenever the set of schedules changes: unknown to the
preview that plans a new schedule, known in the previews after the `up` that made it."""

from __future__ import annotations

import functools
import pickle
from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi.dynamic


def _stored_by_value(cls: type[pulumi.dynamic.ResourceProvider]) -> type[pulumi.dynamic.ResourceProvider]:
    """Pulumi pickles a dynamic provider with dill, which stores classes and functions of an importable module by reference, and the
    provider process may not be able to import this repo's `components`. Claiming `__main__` makes dill store the code itself."""
    cls.__module__ = "__main__"
    for method in vars(cls).values():
        if callable(method):
            method.__module__ = "__main__"
    return cls


@_stored_by_value
class CreationTimeProvider(pulumi.dynamic.ResourceProvider):
    """Self-contained (imports inside methods): Pulumi serialises a dynamic provider and runs it in its own process."""

    def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
        import datetime
        import hashlib
        import json

        # The one clock read of the program: at creation, then kept in state.
        created = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)  # noqa: UP017 - runs in the provider process
        stamp = created.strftime("%Y-%m-%dT%H:%M:%SZ")
        digest = hashlib.sha256(json.dumps(props.get("triggers", {}), sort_keys=True).encode()).hexdigest()[:16]
        return pulumi.dynamic.CreateResult(id_=f"{stamp}-{digest}", outs={"triggers": props.get("triggers", {}), "created": stamp})

    def diff(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> pulumi.dynamic.DiffResult:
        changed = _olds.get("triggers") != _news.get("triggers")
        return pulumi.dynamic.DiffResult(changes=changed, replaces=["triggers"] if changed else [], delete_before_replace=False)


@functools.cache
def serialized_provider() -> str:
    """The provider as pulumi.dynamic stores it in every CreationTime's `__provider` input, serialised once per process.

    The provider is stateless and captures no Output, so every resource would get the same blob: dill with `recurse=True` costs
    milliseconds per resource, and the SDK's serialize_provider wraps pickle's _batch_setitems on every call and never unwraps it
    (benchmarks/sdk_bugs/serialize_provider_rewraps_pickle.py). Undo that wrapping after the one call, so pickle stays as it was.
    """
    batch_setitems = pickle._Pickler._batch_setitems  # type: ignore[attr-defined]
    try:
        return pulumi.dynamic.dynamic.serialize_provider(CreationTimeProvider())
    finally:
        pickle._Pickler._batch_setitems = batch_setitems  # type: ignore[attr-defined]


class CreationTime(pulumi.dynamic.Resource):
    """`created` (RFC 3339, UTC) is when this resource was created; a change of `triggers` replaces it with a new moment."""

    created: pulumi.Output[str]
    triggers: pulumi.Output[dict[str, str]]

    def __init__(self, name: str, triggers: pulumi.Input[Mapping[str, pulumi.Input[str]]], opts: pulumi.ResourceOptions | None = None):
        # What pulumi.dynamic.Resource.__init__ registers (pulumi 3.272 dynamic/dynamic.py lines 339-377), with the provider blob
        # serialised once instead of per resource: the same type token, and `__provider` a secret as the SDK makes it for a provider
        # that captures no secret (serialize_as_secret_always defaults to True).
        props = {"triggers": triggers, "created": None, pulumi.dynamic.dynamic.PROVIDER_KEY: pulumi.Output.secret(serialized_provider())}
        pulumi.CustomResource.__init__(self, f"pulumi-python:{self._resource_type_name}", name, props, opts)

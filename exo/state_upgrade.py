"""Take the pickled code out of a stack's state without running it: the upgrade step for the schedules' old `CreationTime` anchors.

Before issue 18 the schedules' anchor was a Python dynamic-provider resource (type `pulumi-python:dynamic:Resource`), whose state
holds its provider's pickled code in `__provider`. Pulumi runs that code (the SDK's dynamic provider host unpickles it with dill)
whenever it reads, diffs, updates or deletes such a resource: every `--refresh`, and the `up` that deletes the old anchor once the
program no longer declares it. Whoever can write the state could put any code there. Every engine path that removes the resource
goes through its provider, and an alias cannot move it onto the new `time:index/static:Static` either (the engine replaces a
resource whose provider changes, and deletes the old one with the old provider). `pulumi state delete` does not run the
provider, but refuses a resource other resources depend on, and every Schedule depends on its anchor (pulumi/pulumi
pkg/resource/edit/operations.go, DeleteResource).

So the upgrade edits the exported state as data: `pulumi stack export` -> this module -> `pulumi stack import`. It removes every
dynamic resource and the `pulumi:providers:pulumi-python` provider resources they used, and drops the removed URNs from the other
resources' `dependencies`, `propertyDependencies`, `deletedWith` and `replaceWith`. Nothing else changes: the Schedules keep their
inputs and outputs (their start included), so the next `up` creates the new anchor and leaves every Schedule and JobSchedule as
it is (they ignore `startTime`; docs/schedules-anchor.md). Secrets stay encrypted as exported; nothing here imports pickle or dill.

    python -m exo.state_upgrade exported.json > upgraded.json
    pulumi stack export | python -m exo.state_upgrade --check -     # exit 1 if any code is in the state
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# What the Python SDK's dynamic resources register: a resource of type `pulumi-python:dynamic[/<module>]:<name>` (pulumi/pulumi
# 1b5949891b3c sdk/python/lib/pulumi/dynamic/dynamic.py), served by the `pulumi-python` provider plugin
# (`pulumi:providers:pulumi-python` resources in state).
DYNAMIC_TYPE_PREFIX = "pulumi-python:dynamic"
DYNAMIC_PROVIDER_TYPE = "pulumi:providers:pulumi-python"


class StateUpgradeError(Exception):
    """The export cannot be upgraded as it is; the message says what to do first."""


@dataclass(frozen=True)
class Upgrade:
    deployment: dict[str, Any]
    """The `pulumi stack export` document with the dynamic resources taken out."""
    removed: tuple[str, ...]
    """What was taken out: the dynamic resources' URNs, their providers', then the pending operations on them."""


def _provider_urn(reference: str) -> str:
    """A resource's `provider` is `<provider URN>::<provider id>`; the URN itself contains `::`."""
    return reference.rsplit("::", 1)[0] if reference else ""


def upgrade(exported: Mapping[str, Any]) -> Upgrade:
    """The export without dynamic resources (nor pending operations on them). Refuses (StateUpgradeError) an export it does not
    understand, and a resource that is a child or a view of a dynamic one: removing that would need a decision, not an edit."""
    if exported.get("version") != 3 or not isinstance(exported.get("deployment"), dict):
        raise StateUpgradeError("not a `pulumi stack export` document of version 3 (export the stack with a current Pulumi CLI)")
    document = json.loads(json.dumps(exported))  # a deep copy of plain JSON
    deployment = document["deployment"]
    resources: list[dict[str, Any]] = list(deployment.get("resources") or [])
    dynamic = {r["urn"] for r in resources if str(r.get("type", "")).startswith(DYNAMIC_TYPE_PREFIX)}
    # An interrupted create, update or delete of one: this program's dynamic resources were state-only (nothing in Azure), so
    # the operation has nothing to finish outside Pulumi either.
    operations = deployment.get("pending_operations") or []
    pending = [
        op
        for op in operations
        if (op.get("resource") or {}).get("urn") in dynamic
        or str((op.get("resource") or {}).get("type", "")).startswith(DYNAMIC_TYPE_PREFIX)
    ]
    if pending:
        deployment["pending_operations"] = [op for op in operations if op not in pending]
    kept = [r for r in resources if r["urn"] not in dynamic]
    # The providers only dynamic resources used go too (state only: a provider resource is nothing outside Pulumi).
    used = {_provider_urn(str(r.get("provider", ""))) for r in kept}
    providers = {r["urn"] for r in kept if r.get("type") == DYNAMIC_PROVIDER_TYPE and r["urn"] not in used}
    condemned = dynamic | providers
    kept = [r for r in kept if r["urn"] not in condemned]
    for resource in kept:
        for field in ("parent", "viewOf"):
            if resource.get(field) in condemned:
                raise StateUpgradeError(
                    f"{resource['urn']} is a {'child' if field == 'parent' else 'view'} of {resource[field]}: not something this "
                    "program registers; remove it deliberately (pulumi state delete) first"
                )
        if "dependencies" in resource:
            resource["dependencies"] = [urn for urn in resource["dependencies"] or [] if urn not in condemned]
        if "propertyDependencies" in resource:
            resource["propertyDependencies"] = {
                key: [urn for urn in urns or [] if urn not in condemned] for key, urns in (resource["propertyDependencies"] or {}).items()
            }
        if resource.get("deletedWith") in condemned:
            del resource["deletedWith"]
        if "replaceWith" in resource:
            resource["replaceWith"] = [urn for urn in resource["replaceWith"] or [] if urn not in condemned]
    deployment["resources"] = kept
    removed = tuple(r["urn"] for r in resources if r["urn"] in dynamic) + tuple(r["urn"] for r in resources if r["urn"] in providers)
    removed += tuple(f"{op.get('type', 'pending')} operation on {op['resource']['urn']}" for op in pending)
    return Upgrade(document, removed)


def code_in_state(exported: Mapping[str, Any]) -> list[str]:
    """URNs of the resources (and pending operations) in an export whose provider Pulumi would load from the state itself."""
    deployment = exported.get("deployment") or {}
    resources = [*(deployment.get("resources") or []), *((op.get("resource") or {}) for op in deployment.get("pending_operations") or [])]
    return sorted({str(r.get("urn")) for r in resources if str(r.get("type", "")).startswith(DYNAMIC_TYPE_PREFIX)})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m exo.state_upgrade",
        description="Remove dynamic-provider resources (pickled code) from a `pulumi stack export` file without running them; "
        "write the result to stdout for `pulumi stack import --file`.",
    )
    parser.add_argument("export", help="the file `pulumi stack export --file` wrote, or - for standard input")
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if the state holds any dynamic resource (run it before any refresh: this program declares "
        "none, so one there is an old anchor to upgrade, or code someone put in the state)",
    )
    args = parser.parse_args(argv)
    try:
        text = sys.stdin.read() if args.export == "-" else Path(args.export).read_text(encoding="utf-8")
        exported = json.loads(text)
        if args.check:
            found = code_in_state(exported)
            for urn in found:
                print(f"code in state: {urn}", file=sys.stderr)
            if found:
                print("refusing: Pulumi would run these resources' pickled code; see docs/schedules-anchor.md", file=sys.stderr)
            return 1 if found else 0
        result = upgrade(exported)
    except (StateUpgradeError, json.JSONDecodeError, KeyError, OSError) as error:
        print(f"state upgrade refused: {error}", file=sys.stderr)
        return 2
    json.dump(result.deployment, sys.stdout, indent=4)
    sys.stdout.write("\n")
    for urn in result.removed:
        print(f"removed {urn}", file=sys.stderr)
    if not result.removed:
        print("nothing to remove: the state holds no dynamic resource", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

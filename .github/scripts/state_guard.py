"""Refuse a stack whose state could make Pulumi run code the repository did not pin: the check before every credentialed command.

A state writer (Blob Data Contributor on the state container, an administrator, someone told to clear a stale lock) can put
resources into the state. Two kinds would run code as the job's identity on the next refresh, read, diff or delete:
  - a dynamic resource (`pulumi-python:dynamic…`, `pulumi-nodejs:dynamic…`): its provider is the pickled or serialized code
    in its own `__provider` property, which the SDK's dynamic provider host (shipped inside the Pulumi CLI archive, so always
    installed) loads and runs (pulumi/pulumi sdk/python/lib/pulumi/dynamic/__main__.py);
  - a provider resource (`pulumi:providers:<package>`) of any package but the pinned ones: the engine loads the plugin each
    provider in the snapshot names (pkg/engine/plugins.go, gatherPackagesFromSnapshot).
`pulumi stack export` reads the checkpoint and prints it without loading any plugin, and decrypts nothing unless given
--show-secrets (pkg/cmd/pulumi/stack/stack_export.go): secrets stay ciphertext, and this module prints URNs only.

Allowed: custom resources of the packages pinned in .github/pulumi-downloads.json (served by their `pulumi:providers:<name>`
resources, default or explicit), and component resources (no provider: they are bookkeeping, never sent to a plugin).
The fix for an old stack's schedule anchors is `python -m exo.state_upgrade` (docs/schedules-anchor.md); anything else is not
something this program registers, and a person should look at who put it there before removing it.

    pulumi stack export --stack S | python3 .github/scripts/state_guard.py -
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

PINS = Path(__file__).resolve().parents[1] / "pulumi-downloads.json"
PROVIDER_TYPE_PREFIX = "pulumi:providers:"
# The packages of the types the Python and Node.js SDKs register for dynamic resources: `pulumi-python:dynamic[/<module>]:<name>`
# and `pulumi-nodejs:dynamic[/<module>]:<name>` (pulumi/pulumi 1b5949891b3c sdk/python/lib/pulumi/dynamic/dynamic.py,
# sdk/nodejs/dynamic/index.ts).
DYNAMIC_PACKAGES = ("pulumi-python", "pulumi-nodejs")
FIX = (
    "Nothing ran against the tenant. An old stack's schedule anchors (dynamic resources from before issue 18) are removed "
    "without running them by `pulumi stack export | python -m exo.state_upgrade - > upgraded.json` then `pulumi stack import "
    "--file upgraded.json` (docs/schedules-anchor.md). Anything else was not put there by this program: find out who wrote "
    "the state before removing it (`pulumi state delete` runs no provider)."
)


def pinned_packages(pins: Mapping[str, Any] | None = None) -> frozenset[str]:
    """The resource plugins the pipelines install (and only those: automatic plugin downloads are off)."""
    pins = pins if pins is not None else json.loads(PINS.read_text(encoding="utf-8"))
    return frozenset(str(p["name"]) for p in pins.get("plugins", []) if p.get("kind") == "resource")


def _type_of_urn(urn: str) -> str:
    """urn:pulumi:<stack>::<project>::<parent types$>type::<name> -> type."""
    parts = urn.split("::")
    return parts[2].rsplit("$", 1)[-1] if len(parts) >= 4 else ""


def refusals(exported: Mapping[str, Any], allowed: frozenset[str]) -> list[str]:
    """One line per resource (or pending operation) that could make the engine run code the pins do not name; empty when none."""
    deployment = exported.get("deployment")
    if exported.get("version") != 3 or not isinstance(deployment, dict):
        return ["the state is not a `pulumi stack export` document of version 3: it cannot be checked, so it is not used"]
    resources = list(deployment.get("resources") or [])
    resources += [op.get("resource") or {} for op in deployment.get("pending_operations") or []]
    found: list[str] = []
    for resource in resources:
        urn, kind = str(resource.get("urn", "")), str(resource.get("type", ""))
        package = kind.removeprefix(PROVIDER_TYPE_PREFIX) if kind.startswith(PROVIDER_TYPE_PREFIX) else None
        provider = str(resource.get("provider") or "")
        provider_type = _type_of_urn(provider.rsplit("::", 1)[0]) if provider else ""
        served_by_pin = provider_type.startswith(PROVIDER_TYPE_PREFIX) and provider_type.removeprefix(PROVIDER_TYPE_PREFIX) in allowed
        if kind.split(":", 1)[0] in DYNAMIC_PACKAGES:
            found.append(f"{urn}: a dynamic resource; Pulumi would load its provider from the code stored in the state")
        elif package is not None and package not in allowed:
            found.append(f"{urn}: a provider of package '{package}', which is not pinned ({', '.join(sorted(allowed))})")
        elif package is None and resource.get("custom", True) and kind.split(":", 1)[0] not in allowed:
            found.append(f"{urn}: a {kind} resource, which no pinned provider serves")
        elif provider and not served_by_pin:
            found.append(f"{urn}: served by the provider {provider}, which is not of a pinned package")
    return sorted(set(found))


def check(text: str, allowed: frozenset[str] | None = None) -> list[str]:
    """refusals() of an export's text; a text that is not JSON is refused too (fail closed)."""
    try:
        exported = json.loads(text)
    except json.JSONDecodeError as error:
        return [f"`pulumi stack export` did not print JSON ({error}): the state cannot be checked, so it is not used"]
    if not isinstance(exported, dict):
        return ["`pulumi stack export` did not print a JSON object: the state cannot be checked, so it is not used"]
    return refusals(exported, pinned_packages() if allowed is None else allowed)


def message(stack: str, found: list[str]) -> str:
    lines = [f"Refusing to run Pulumi on stack {stack}: its state holds what could run code that is not pinned:"]
    lines += [f"  - {line}" for line in found]
    return "\n".join([*lines, FIX])


def main(argv: list[str]) -> int:
    if argv != ["-"]:
        print("usage: pulumi stack export --stack S | state_guard.py -", file=sys.stderr)
        return 2
    found = check(sys.stdin.read())
    if found:
        print(message("(standard input)", found), file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

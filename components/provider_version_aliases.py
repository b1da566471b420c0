"""Registrations without the aliases azure-native adds for every API version of a resource type.

Every azure-native resource class merges into its options one alias per versioned type token of the same resource, such as
`Alias(type_="azure-native:automation/v20151031:Runbook")` (7 on a Runbook, 30 on a StorageAccount). They let a stack written with a
versioned class move to the default one without a replacement. This program has only ever registered the default tokens
(`azure-native:automation:Runbook`), so for its resources the engine never finds state under those names: the aliases change nothing
in a deployment. They cost on every evaluation, though: the Python SDK turns each alias into a URN of Outputs when the resource is
constructed (pulumi/resource.py, `collapse_alias_to_urn`), whether or not the engine then takes alias specs. With 100 runbooks that was
~30,000 of ~50,000 Outputs and a third of the evaluation (benchmarks/bench_program.py).

Only a legacy resource transformation can drop them: it runs in the resource's constructor before the aliases are collapsed. A
`transforms` entry runs in the engine, after the SDK has paid for them. Every other alias (a rename, a new parent, any alias a future
change of this program adds) is kept as given.
"""

from __future__ import annotations

import copy
import re

import pulumi

# `azure-native:<module>/<version>:<Resource>`: the versioned token the SDK aliases for `azure-native:<module>:<Resource>`.
_VERSIONED_TYPE = re.compile(r"^azure-native:(?P<module>[A-Za-z0-9]+)/v[0-9]{8}[a-z0-9]*:(?P<resource>[A-Za-z0-9]+)$")
_UNSET = ...  # pulumi.Alias's default for a field that is not given


def is_provider_version_alias(alias: object, resource_type: str) -> bool:
    """True for an alias that names only another API version of this very resource type (what azure-native adds by itself)."""
    if not isinstance(alias, pulumi.Alias) or not isinstance(alias.type_, str):
        return False
    if any(field is not _UNSET for field in (alias.name, alias.parent, alias.stack, alias.project)):
        return False
    versioned = _VERSIONED_TYPE.match(alias.type_)
    return versioned is not None and resource_type == f"azure-native:{versioned['module']}:{versioned['resource']}"


def without_provider_version_aliases(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
    """A stack transformation: the same registration, less the SDK's API-version aliases of its own type."""
    aliases = args.opts.aliases
    if not aliases:
        return None
    kept = [alias for alias in aliases if not is_provider_version_alias(alias, args.type_)]
    if len(kept) == len(aliases):
        return None
    opts = copy.copy(args.opts)
    opts.aliases = kept or None
    return pulumi.ResourceTransformationResult(args.props, opts)
